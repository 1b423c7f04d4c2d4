//! `lockstep predict`: scores a CSV with a compiled model, to a file or standard output.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::predict;

/// Scores the rows of `input` with the model in `model_path`, writing to `output` (standard
/// output if `None`); `bits` prints each value as its f32 bit pattern.
pub fn run(model_path: &Path, input: &Path, output: Option<&Path>, bits: bool) -> Result<()> {
    let bytes = read_file("predict", model_path)?;
    let model = load_model("predict", model_path, &bytes)?;
    let reader =
        BufReader::new(File::open(input).with_context(|| {
            format!("predict: cannot open '{}'; check the path", input.display())
        })?);
    let options = predict::PredictOptions { bits };
    let step = || format!("predict: scoring '{}'", input.display());
    match output {
        Some(path) => {
            let file = File::create(path).with_context(|| {
                format!(
                    "predict: cannot create '{}'; check the directory exists",
                    path.display()
                )
            })?;
            let report = predict::predict_csv(&model, reader, BufWriter::new(file), options)
                .with_context(step)?;
            eprintln!("scored {} rows -> '{}'", report.rows, path.display());
        }
        None => {
            let stdout = io::stdout();
            predict::predict_csv(&model, reader, stdout.lock(), options).with_context(step)?;
            io::stdout()
                .flush()
                .context("predict: writing standard output")?;
        }
    }
    Ok(())
}

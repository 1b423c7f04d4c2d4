//! `lockstep predict`: scores a CSV with a compiled model, to a file (written atomically: an
//! existing output is replaced only when every row was scored) or standard output.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::output::{self, OutputSet};
use crate::predict;
use crate::text::shown_path;

/// Scores the rows of `input` with the model in `model_path`, writing to `output` (standard
/// output if `None`); `bits` prints each value as its f32 bit pattern; `allow_infinite` reads
/// infinite cells as infinities instead of refusing them.
pub fn run(
    model_path: &Path,
    input: &Path,
    output: Option<&Path>,
    bits: bool,
    allow_infinite: bool,
) -> Result<()> {
    if let Some(path) = output {
        output::refuse_overwriting_inputs(
            &[("the model", model_path), ("the input", input)],
            &[("-o", path)],
        )
        .context("predict")?;
    }
    let bytes = read_file("predict", model_path)?;
    let model = load_model("predict", model_path, &bytes)?;
    let reader = BufReader::new(
        File::open(input)
            .map_err(|e| anyhow::anyhow!("predict: {}", output::read_error(input, &e)))?,
    );
    let options = predict::PredictOptions {
        bits,
        allow_infinite,
    };
    let step = || format!("predict: scoring '{}'", shown_path(input));
    match output {
        Some(path) => {
            // Scores stream into a temporary file next to `path`; it replaces `path` only
            // after the last row, and is removed on any failure.
            let mut set = OutputSet::new();
            let writer = set.file(path).context("predict")?;
            let report = match predict::predict_csv(&model, reader, &mut *writer, options) {
                Ok(report) => report,
                Err(predict::PredictError::Io(cause)) => {
                    return Err(OutputSet::write_error(path, cause)).context("predict")
                }
                Err(other) => return Err(other).with_context(step),
            };
            set.commit().context("predict")?;
            eprintln!("scored {} rows -> '{}'", report.rows, shown_path(path));
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

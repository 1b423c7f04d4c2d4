//! The `lockstep` command: parses arguments, calls the library, and turns failures into one
//! line naming the file, the step and what to do.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lockstep_engine::Model;
use lockstep_host::{compile, inspect, predict};

/// Lockstep: compile tree-ensemble models into an exact, verifiable format for embedded devices,
/// and score data with the same engine the device runs.
#[derive(Parser)]
#[command(name = "lockstep", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile an XGBoost (JSON or UBJSON save_model output) or LightGBM (text) model into a
    /// Lockstep model (.lsm) that reproduces its raw scores bit for bit.
    ///
    /// The format is detected from the file's contents. Anything that cannot be reproduced
    /// exactly (an unsupported objective, linear trees, ...) is refused with the reason.
    Compile {
        /// The source model file.
        model: PathBuf,
        /// Where to write the compiled model.
        #[arg(short, long, value_name = "OUT.lsm")]
        output: PathBuf,
        /// Replace the model's label (by default the source objective).
        #[arg(long)]
        label: Option<String>,
    },
    /// Score the rows of a CSV file with a compiled model.
    ///
    /// The CSV needs a header; feature columns are matched to the model's feature names
    /// (extra columns are ignored). An empty cell or NaN is a missing value. The output has one
    /// row per input row with columns margin and prob (value for regression), or margin_k and
    /// prob_k for models with several outputs.
    Predict {
        /// The compiled model.
        #[arg(short, long, value_name = "MODEL.lsm")]
        model: PathBuf,
        /// The rows to score.
        #[arg(short, long, value_name = "ROWS.csv")]
        input: PathBuf,
        /// Where to write the scores (standard output if omitted).
        #[arg(short, long, value_name = "OUT.csv")]
        output: Option<PathBuf>,
        /// Print each value as the 8 hex digits of its f32 bit pattern (e.g. 3f1b25ae).
        #[arg(long)]
        bits: bool,
    },
    /// Describe a compiled model: identity (SHA-256), source, objective, trees, nodes, depth,
    /// bytes per node and features.
    Inspect {
        /// The compiled model.
        model: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile {
            model,
            output,
            label,
        } => run_compile(&model, &output, label),
        Command::Predict {
            model,
            input,
            output,
            bits,
        } => run_predict(&model, &input, output.as_deref(), bits),
        Command::Inspect { model, json } => run_inspect(&model, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_file(step: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("{step}: cannot read '{}'; check the path", path.display()))
}

fn load_model<'a>(step: &str, path: &Path, bytes: &'a [u8]) -> Result<Model<'a>> {
    Model::from_bytes(bytes).with_context(|| {
        format!(
            "{step}: '{}' is not a valid lockstep model; compile it with `lockstep compile`",
            path.display()
        )
    })
}

fn run_compile(model: &Path, output: &Path, label: Option<String>) -> Result<()> {
    let source = read_file("compile", model)?;
    let mut compiled = compile::compile(&source)
        .with_context(|| format!("compile: cannot compile '{}'", model.display()))?;
    if let Some(label) = label {
        compiled.spec.label = label;
        compiled.bytes = compiled
            .spec
            .to_bytes()
            .context("compile: re-encoding with the new label")?;
    }
    std::fs::write(output, &compiled.bytes).with_context(|| {
        format!(
            "compile: cannot write '{}'; check the directory exists",
            output.display()
        )
    })?;
    let loaded = load_model("compile", output, &compiled.bytes)?;
    let summary = inspect::summarize(&loaded, compiled.bytes.len());
    eprintln!(
        "compiled {} '{}' -> '{}': {} trees, {} nodes, {} features, {} outputs, {} bytes, sha256 {}",
        compiled.format.name(),
        model.display(),
        output.display(),
        summary.n_trees,
        summary.n_nodes,
        summary.n_features,
        summary.n_outputs,
        summary.file_bytes,
        summary.sha256
    );
    Ok(())
}

fn run_predict(model_path: &Path, input: &Path, output: Option<&Path>, bits: bool) -> Result<()> {
    let bytes = read_file("predict", model_path)?;
    let model = load_model("predict", model_path, &bytes)?;
    let reader =
        BufReader::new(File::open(input).with_context(|| {
            format!("predict: cannot open '{}'; check the path", input.display())
        })?);
    let options = predict::PredictOptions { bits };
    let step = || format!("predict: scoring '{}'", input.display());
    let report = match output {
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
            report
        }
        None => {
            let stdout = io::stdout();
            let report =
                predict::predict_csv(&model, reader, stdout.lock(), options).with_context(step)?;
            io::stdout()
                .flush()
                .context("predict: writing standard output")?;
            report
        }
    };
    let _ = report;
    Ok(())
}

fn run_inspect(model_path: &Path, json: bool) -> Result<()> {
    let bytes = read_file("inspect", model_path)?;
    let model = load_model("inspect", model_path, &bytes)?;
    let summary = inspect::summarize(&model, bytes.len());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).context("inspect: encoding JSON")?
        );
    } else {
        print!("{}", inspect::render_text(&summary));
    }
    Ok(())
}

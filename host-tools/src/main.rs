//! The `lockstep` command: parses arguments, calls the library, and turns failures into one
//! line naming the file, the step and what to do.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lockstep_engine::Model;
use lockstep_host::{compile, inspect, parity, predict, synth, training};

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
    /// Prove that Cortex-M devices compute the same bits as the host for a model: builds (or
    /// reuses) the firmware for each target, runs it in QEMU on the model and a set of input
    /// vectors, runs the host engine on the same vectors, and compares every output by its bits.
    ///
    /// Without --vectors, vectors are generated from the model: every split threshold and the
    /// f32 on either side, category members, NaN, infinities, signed zeros, subnormals, and
    /// seeded random rows inside the features' ranges. Exits with status 3 on any mismatch.
    Parity {
        /// The compiled model.
        #[arg(short, long, value_name = "MODEL.lsm")]
        model: PathBuf,
        /// Input rows (CSV with a header naming the features) instead of generated vectors.
        #[arg(long, value_name = "V.csv")]
        vectors: Option<PathBuf>,
        /// Target to run on (repeatable): cortex-m0, cortex-m4f, cortex-m33.
        #[arg(short, long = "target", value_name = "T", required = true)]
        targets: Vec<String>,
        /// Write the machine-readable parity record (JSON) here.
        #[arg(long, value_name = "OUT.json")]
        record: Option<PathBuf>,
        /// Print device cost: instructions per inference, peak stack, flash bytes.
        #[arg(long)]
        cost: bool,
        /// Random rows added to the generated vectors.
        #[arg(long, default_value_t = 1000)]
        random_rows: usize,
        /// Seed of the random rows.
        #[arg(long, default_value_t = 0x10c57e9)]
        seed: u64,
        /// Directory for per-target work files (default: a fresh temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// The firmware-demo directory (default: the one in this source tree).
        #[arg(long, value_name = "DIR")]
        firmware_dir: Option<PathBuf>,
        /// Test-only: make the device flip one output bit, to show the check bites.
        #[arg(long, hide = true)]
        corrupt_device_output: bool,
    },
    /// Train a deterministic model (gradient-boosted trees, random forest or penalised logistic
    /// regression) on a CSV described by a schema, compile it, and write a training record
    /// (MODEL.training.json) next to it.
    ///
    /// The same data, settings and seed give the same model bytes on any run and thread count.
    /// With --train-where (e.g. "surgery_year <= 2015") the other rows are a held-out test set,
    /// scored through the compiled model; for gbdt a seeded fraction of the training rows
    /// (valid_fraction, default 0.2) drives early stopping. The config's `kind` ("gbdt",
    /// "forest", "logistic") picks the model, with settings in [gbdt], [forest], [logistic].
    Train {
        /// The data (CSV with a header).
        #[arg(long, value_name = "D.csv")]
        data: PathBuf,
        /// The schema (TOML) naming targets, features, types, units and limits.
        #[arg(long, value_name = "S.toml")]
        schema: PathBuf,
        /// Settings (TOML): kind, target, train_where, valid_fraction, and [gbdt], [forest] or
        /// [logistic] options.
        #[arg(long, value_name = "C.toml")]
        config: Option<PathBuf>,
        /// The outcome column to predict (overrides the config).
        #[arg(long)]
        target: Option<String>,
        /// Rows that train, e.g. "surgery_year <= 2015" (overrides the config).
        #[arg(long, value_name = "EXPR")]
        train_where: Option<String>,
        /// Where to write the compiled model.
        #[arg(short, long, value_name = "MODEL.lsm")]
        output: PathBuf,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Generate a seeded synthetic cohort (real patient data can never ship with the tool).
    ///
    /// `arthroplasty`: hip and knee replacement patients 2008-2018 with demographics, labs and
    /// comorbidities, a few percent missing lab values, and the outcomes infection within 1
    /// year, revision within 2 years and death within 2 years at realistic low rates, driven by
    /// non-linear risk with interactions. Writes the CSV and its schema (OUT.schema.toml).
    Synth {
        /// Which cohort to generate.
        #[arg(value_enum)]
        cohort: SynthCohortKind,
        /// Number of patients.
        #[arg(long, default_value_t = 45_000)]
        rows: usize,
        /// Seed; the same rows and seed give byte-identical files.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Where to write the CSV; the schema goes next to it as <stem>.schema.toml.
        #[arg(short, long, value_name = "COHORT.csv")]
        output: PathBuf,
    },
    /// Validate a compiled model on held-out data and write report.json and a self-contained
    /// report.html: AUC (DeLong CI), ROC, calibration (O/E, intercept, slope, lowess curve, ICI),
    /// Brier, decision curve, operating points, subgroups, and a paired comparison with the
    /// accepted model.
    ///
    /// Every prediction is computed by the engine from the model bytes, whose SHA-256 the report
    /// names. Acceptance criteria come only from the plan file (--plan); exit code 0 means
    /// accepted (or no criteria declared), 4 means rejected, 1 an error. The same inputs give
    /// byte-identical reports.
    Validate {
        /// The candidate model (.lsm).
        #[arg(short, long, value_name = "M.lsm")]
        model: PathBuf,
        /// The test data (CSV with a header).
        #[arg(long, value_name = "TEST.csv")]
        data: PathBuf,
        /// The data's schema (default: <data stem>.schema.toml next to the data).
        #[arg(long, value_name = "S.toml")]
        schema: Option<PathBuf>,
        /// The previously accepted model, scored on the same rows for a paired comparison.
        #[arg(long, value_name = "ACCEPTED.lsm")]
        baseline: Option<PathBuf>,
        /// The validation plan (TOML): target, rows, metric settings, subgroups, acceptance.
        #[arg(long, value_name = "PLAN.toml")]
        plan: Option<PathBuf>,
        /// The candidate's training record, to compare training and test distributions.
        #[arg(long, value_name = "M.training.json")]
        training_record: Option<PathBuf>,
        /// Where to write report.json and report.html (created if missing).
        #[arg(short, long, value_name = "REPORT_DIR")]
        output: PathBuf,
        /// Bootstrap threads (0: one per core); the report does not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// No progress messages.
        #[arg(long)]
        quiet: bool,
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

/// Synthetic cohorts `lockstep synth` can generate.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SynthCohortKind {
    /// Hip and knee replacement patients.
    Arthroplasty,
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
        Command::Train {
            data,
            schema,
            config,
            target,
            train_where,
            output,
            quiet,
        } => run_train(
            &data,
            &schema,
            config.as_deref(),
            target,
            train_where,
            &output,
            quiet,
        ),
        Command::Synth {
            cohort: SynthCohortKind::Arthroplasty,
            rows,
            seed,
            output,
        } => run_synth(rows, seed, &output),
        Command::Validate {
            model,
            data,
            schema,
            baseline,
            plan,
            training_record,
            output,
            threads,
            quiet,
        } => {
            let schema = schema.unwrap_or_else(|| data.with_extension("schema.toml"));
            let inputs = lockstep_host::validate::ValidateInputs {
                model,
                data,
                schema,
                baseline,
                plan,
                training_record,
                threads,
            };
            match run_validate(&inputs, &output, quiet) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(lockstep_host::validate::EXIT_REJECTED as u8),
                Err(error) => Err(error),
            }
        }
        Command::Parity {
            model,
            vectors,
            targets,
            record,
            cost,
            random_rows,
            seed,
            work_dir,
            firmware_dir,
            corrupt_device_output,
        } => {
            let options = ParityArgs {
                vectors,
                record,
                cost,
                random_rows,
                seed,
                work_dir,
                firmware_dir,
                corrupt_device_output,
            };
            match run_parity(&model, &targets, options) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(3),
                Err(error) => Err(error),
            }
        }
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

struct ParityArgs {
    vectors: Option<PathBuf>,
    record: Option<PathBuf>,
    cost: bool,
    random_rows: usize,
    seed: u64,
    work_dir: Option<PathBuf>,
    firmware_dir: Option<PathBuf>,
    corrupt_device_output: bool,
}

/// Runs the parity suite; `Ok(false)` when some output differs.
fn run_parity(model_path: &Path, target_names: &[String], args: ParityArgs) -> Result<bool> {
    let bytes = read_file("parity", model_path)?;
    let model = load_model("parity", model_path, &bytes)?;
    let mut targets = Vec::new();
    for name in target_names {
        let names: Vec<&str> = parity::TARGETS.iter().map(|t| t.name).collect();
        let target = parity::target(name).with_context(|| {
            format!(
                "parity: unknown target '{name}'; choose from {}",
                names.join(", ")
            )
        })?;
        targets.push(target);
    }
    let vectors = match &args.vectors {
        Some(path) => parity::vectors::read_csv(&model, path)
            .with_context(|| format!("parity: reading vectors '{}'", path.display()))?,
        None => parity::vectors::generate(
            &model,
            parity::vectors::GenerateOptions {
                random_rows: args.random_rows,
                seed: args.seed,
            },
        ),
    };
    let created_temp = args.work_dir.is_none();
    let work_dir = args.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("lockstep-parity-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work_dir).with_context(|| {
        format!(
            "parity: cannot create work directory '{}'",
            work_dir.display()
        )
    })?;
    let options = parity::ParityOptions {
        firmware_dir: args
            .firmware_dir
            .unwrap_or_else(parity::default_firmware_dir),
        work_dir: work_dir.clone(),
        corrupt_device_output: args.corrupt_device_output,
        keep_mismatches: 5,
    };
    eprintln!(
        "parity: {} vectors, model sha256 {}",
        vectors.n_rows(),
        inspect::hex(&model.checksum())
    );
    let record = parity::run(&bytes, &vectors, &targets, &options, |message| {
        eprintln!("parity: {message}")
    })
    .with_context(|| format!("parity: '{}'", model_path.display()))?;
    for result in &record.targets {
        println!(
            "{}: {}/{} bit-exact",
            result.target, result.rows_bit_exact, result.rows
        );
        for m in &result.first_mismatches {
            println!(
                "  row {} {}: host {} device {} (inputs {})",
                m.row,
                m.value,
                m.host,
                m.device,
                m.inputs.join(",")
            );
        }
    }
    if args.cost {
        println!(
            "{:<12} {:>14} {:>12} {:>12} {:>15}",
            "target", "instr/infer", "stack peak", "model flash", "firmware flash"
        );
        for result in &record.targets {
            let c = &result.cost;
            println!(
                "{:<12} {:>14} {:>12} {:>12} {:>15}",
                result.target,
                c.instructions_per_inference
                    .map_or("n/a".into(), |v| format!("{v:.0}")),
                c.stack_peak_bytes
                    .map_or("n/a".into(), |v| format!("{v} B")),
                format!("{} B", c.model_flash_bytes),
                c.firmware_flash_bytes
                    .map_or("n/a".into(), |v| format!("{v} B")),
            );
        }
    }
    if let Some(path) = &args.record {
        let json = serde_json::to_string_pretty(&record).context("parity: encoding the record")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("parity: cannot write record '{}'", path.display()))?;
    }
    let exact = record.all_exact();
    if created_temp && exact {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else if !exact {
        eprintln!("parity: work files kept in '{}'", work_dir.display());
    }
    Ok(exact)
}

fn run_synth(rows: usize, seed: u64, output: &Path) -> Result<()> {
    let cohort = synth::arthroplasty(rows, seed);
    let file = File::create(output).with_context(|| {
        format!(
            "synth: cannot create '{}'; check the directory exists",
            output.display()
        )
    })?;
    let mut writer = BufWriter::new(file);
    synth::write_csv(&cohort, &mut writer)
        .and_then(|()| writer.flush())
        .with_context(|| format!("synth: writing '{}'", output.display()))?;
    let schema = output.with_extension("schema.toml");
    std::fs::write(&schema, synth::schema_toml())
        .with_context(|| format!("synth: cannot write '{}'", schema.display()))?;
    let rates = cohort.event_rates();
    eprintln!(
        "wrote {rows} patients (seed {seed}) to '{}' and its schema to '{}'; event rates: {}",
        output.display(),
        schema.display(),
        synth::OUTCOMES
            .iter()
            .zip(rates)
            .map(|(name, rate)| format!("{name} {:.2}%", 100.0 * rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Runs validation and writes the report; returns whether the candidate is accepted (true
/// when the plan declares no criteria).
fn run_validate(
    inputs: &lockstep_host::validate::ValidateInputs,
    output: &Path,
    quiet: bool,
) -> Result<bool> {
    let run = lockstep_host::validate::validate(inputs, |step| {
        if !quiet {
            eprintln!("validate: {step}");
        }
    })
    .with_context(|| {
        format!(
            "validate: model '{}' on '{}'",
            inputs.model.display(),
            inputs.data.display()
        )
    })?;
    std::fs::create_dir_all(output).with_context(|| {
        format!(
            "validate: cannot create the report directory '{}'",
            output.display()
        )
    })?;
    for (name, text) in [("report.json", &run.json), ("report.html", &run.html)] {
        let path = output.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("validate: cannot write '{}'", path.display()))?;
    }
    let r = &run.report;
    let auc = &r.candidate.metrics.auc;
    eprintln!(
        "validated {} on {} rows ({} events): AUC {:.4}{}, report in '{}'",
        r.target,
        r.counts.rows,
        r.counts.events,
        auc.auc,
        auc.ci.map_or(String::new(), |ci| format!(
            " ({:.4} to {:.4})",
            ci.lower, ci.upper
        )),
        output.display()
    );
    if let Some(c) = &r.comparison {
        eprintln!(
            "versus baseline: delta AUC {:+.4}{}",
            c.auc.difference,
            c.auc.ci.map_or(String::new(), |ci| format!(
                " ({:+.4} to {:+.4})",
                ci.lower, ci.upper
            ))
        );
    }
    Ok(match &r.verdict {
        Some(v) => {
            for c in &v.criteria {
                eprintln!(
                    "  {} {} (value {:.4})",
                    if c.passed { "pass" } else { "FAIL" },
                    c.rule,
                    c.value
                );
            }
            eprintln!(
                "verdict: {}",
                if v.accepted {
                    "ACCEPTED"
                } else {
                    "REJECTED (exit code 4)"
                }
            );
            v.accepted
        }
        None => {
            eprintln!("verdict: none (the plan declares no acceptance criteria)");
            true
        }
    })
}

fn run_train(
    data: &Path,
    schema: &Path,
    config_path: Option<&Path>,
    target: Option<String>,
    train_where: Option<String>,
    output: &Path,
    quiet: bool,
) -> Result<()> {
    let mut config = match config_path {
        Some(path) => training::load_config(path).context("train: reading the config")?,
        None => training::TrainConfig::default(),
    };
    if target.is_some() {
        config.target = target;
    }
    if train_where.is_some() {
        config.train_where = train_where;
    }
    let kind = config.kind;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else if kind == training::ModelKind::Gbdt {
        indicatif::ProgressBar::new(config.gbdt.n_trees as u64)
    } else {
        // Forests and the logistic path report no rounds: a spinner shows the work is alive.
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner.set_message(format!("training a {kind:?} model").to_lowercase());
        spinner
    };
    if kind == training::ModelKind::Gbdt {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "train {bar:30} {pos}/{len} rounds {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }
    let outcome = training::train_model(data, schema, config, |round| {
        bar.set_position(round.round as u64 + 1);
        if let Some(auc) = round.valid_auc {
            bar.set_message(format!("valid AUC {auc:.4}"));
        }
    })
    .with_context(|| {
        format!(
            "train: '{}' with schema '{}'",
            data.display(),
            schema.display()
        )
    })?;
    bar.finish_and_clear();
    std::fs::write(output, &outcome.model).with_context(|| {
        format!(
            "train: cannot write '{}'; check the directory exists",
            output.display()
        )
    })?;
    let record_path = output.with_extension("training.json");
    let json =
        serde_json::to_string_pretty(&outcome.record).context("train: encoding the record")?;
    std::fs::write(&record_path, json + "\n")
        .with_context(|| format!("train: cannot write '{}'", record_path.display()))?;
    let r = &outcome.record;
    let shape = match (&r.logistic, r.best_round) {
        (Some(path), _) => format!(
            "elastic-net path of {} lambdas, {} of {} variables selected",
            path.lambdas.len(),
            r.selected_variables.len(),
            path.coefficients.len()
        ),
        (None, Some(best)) => format!("{} trees (best round {best})", r.n_trees),
        (None, None) => format!("{} trees", r.n_trees),
    };
    eprintln!(
        "trained {} in {:.3} s on {} rows ({} events), {shape}, test AUC {} on {} rows -> '{}', record '{}'",
        r.target,
        outcome.train_seconds,
        r.train.rows,
        r.train.events,
        r.test_auc.map_or("n/a".into(), |a| format!("{a:.4}")),
        r.test.rows,
        output.display(),
        record_path.display()
    );
    Ok(())
}

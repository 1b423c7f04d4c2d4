//! The `lockstep` command: parses arguments, calls one command of the library
//! (`lockstep_host::commands`), and turns its result into an exit code; a failure is printed as
//! one line naming the file, the step and what to do.

// The doc comments below are clap's help text, printed as written: `[gbdt]` there is a TOML
// table name, not a link, and `<stem>` a placeholder, not HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lockstep_host::commands::{self, data::CheckArgs, parity::ParityArgs, train::TrainArgs};
use lockstep_host::pipeline::{Ending, ResolveAction};
use lockstep_host::text;
use lockstep_host::validate::ValidateInputs;

/// The exit codes: part of the interface (scripts and CI branch on them), listed here and
/// nowhere else. clap itself exits with 2 when the command line cannot be parsed.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Exit {
    /// Done; for `validate`, accepted (or no criteria declared); for `pipeline run`, every
    /// candidate accepted.
    Success = 0,
    /// An error: unreadable or invalid input, a refused model, a failed write.
    Error = 1,
    /// `parity`: some device output differs from the host's.
    ParityMismatch = 3,
    /// `validate`: the plan's acceptance criteria reject the candidate; `pipeline run`: some
    /// candidate was rejected (all packaged, nothing promoted).
    Rejected = 4,
    /// `data check`: the data has anomalies (or a flagged distribution change); `pipeline run`:
    /// halted by the data check before training. Stop for manual resolution.
    Anomalies = 5,
    /// `bundle reproduce`: the re-trained model's bytes differ from the bundle's.
    NotReproduced = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

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
        /// The model format version to write: 1 (8-byte nodes, the fastest walk) or 2 (4-byte
        /// nodes and a per-feature table of split values: about 0.6x the bytes, a slower walk;
        /// at most 256 features, 256 split values per feature and 256 leaves per tree; the
        /// firmware reads it only when built with the engine feature `format-v2`).
        #[arg(long, value_name = "1|2", default_value_t = 1,
              value_parser = clap::value_parser!(u16).range(1..=2))]
        format_version: u16,
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
        /// Read `inf`, `-inf` and decimals beyond the f32 range (`1e999`) as infinities, as the
        /// frameworks' own predict does (for conformance vectors). Without it such a cell is
        /// refused, as `train` and `validate` refuse it: it is not a measurement.
        #[arg(long)]
        allow_infinite: bool,
    },
    /// Prove that Cortex-M devices compute the same bits as the host for a model: builds (or
    /// reuses) the firmware for each target, runs it in QEMU on the model and a set of input
    /// vectors, runs the host engine on the same vectors, and compares every output by its bits.
    ///
    /// Without --vectors, vectors are generated from the model: every split threshold and the
    /// f32 on either side, category members, NaN, infinities, signed zeros, subnormals, and
    /// seeded random rows inside the features' ranges. Exits with status 3 on any mismatch.
    Parity {
        /// The compiled model (.lsm), or a sealed model (.lss) with --pubkey.
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
        /// The public key (K.pub) of a sealed model (.lss). The host opens the seal, scores the
        /// model inside, builds the firmware with this key compiled in, and hands the device the
        /// sealed bytes, which it verifies before the first score. Required for a sealed model.
        #[arg(long, value_name = "K.pub")]
        pubkey: Option<PathBuf>,
        /// With --pubkey: the oldest model version the firmware accepts (anti-rollback;
        /// default 0). A sealed model older than this is refused on the host and the device.
        #[arg(long, value_name = "N", requires = "pubkey")]
        min_version: Option<u32>,
        /// A Rust module from `lockstep codegen` (repeatable; one must be generated from
        /// --model): the devices run that generated code instead of the engine on the model
        /// bytes (the `parity-codegen` firmware, every module compiled in, no model region),
        /// and --cost measures it. Not with --pubkey.
        #[arg(long, value_name = "MODEL.rs")]
        codegen: Vec<PathBuf>,
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
        /// The schema (TOML): each column's role (feature, split, id, outcome), type, unit and
        /// limits.
        #[arg(long, value_name = "S.toml")]
        schema: PathBuf,
        /// Settings (TOML): kind, target, train_where, valid_fraction, and [gbdt], [forest] or
        /// [logistic] options. [gbdt] also takes XGBoost's names (n_estimators, eta,
        /// reg_lambda, reg_alpha, min_split_loss, random_state, monotone_constraints, and
        /// max_bin counting value bins: max_bins = max_bin + 1), [forest] scikit-learn's
        /// (n_estimators, random_state, max_features = "sqrt"); valid_fraction = 0 or
        /// early_stopping_rounds = 0 trains without early stopping.
        #[arg(long, value_name = "C.toml")]
        config: Option<PathBuf>,
        /// The outcome column to predict (overrides the config).
        #[arg(long)]
        target: Option<String>,
        /// Rows that train: COLUMN OP VALUE on any column the schema declares (feature, split,
        /// id or outcome), e.g. "surgery_year <= 2015" (overrides the config). Only [[feature]]
        /// columns are model inputs.
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
    /// Data work before training: `data check`.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// The continuous-training pipeline: data check, split, train, compile, validate against
    /// the accepted model, parity in QEMU, signed bundles, promotion.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// Make a new Ed25519 signing key pair: NAME.key (the secret, readable by its owner only)
    /// and NAME.pub; prints the key id.
    ///
    /// Refuses to replace an existing key file unless --force: a lost signing key cannot be
    /// recovered. A real signing key lives off the machine that trains; only its public half
    /// goes to devices and receivers.
    Keygen {
        /// Where to write the pair, without extension: DIR/NAME gives DIR/NAME.key and
        /// DIR/NAME.pub.
        #[arg(short, long, value_name = "DIR/NAME")]
        output: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Seal a compiled model with a version under a secret key: the model bytes unchanged,
    /// with a header (version, key id) and an Ed25519 signature over both (.lss).
    ///
    /// The model is loaded through the engine first; a device refuses a sealed model whose
    /// signature does not verify or whose version is below its minimum (anti-rollback).
    // `--version` is the model's version here, not the tool's (`lockstep --version` says that).
    #[command(disable_version_flag = true)]
    Sign {
        /// The compiled model.
        model: PathBuf,
        /// The secret key (from `lockstep keygen`).
        #[arg(long, value_name = "K.key")]
        key: PathBuf,
        /// The model version: a number that only grows for an outcome (anti-rollback).
        #[arg(long, value_name = "N")]
        version: u32,
        /// Where to write the sealed model.
        #[arg(short, long, value_name = "MODEL.lss")]
        output: PathBuf,
    },
    /// Check or reproduce a locked, signed bundle (a folder with manifest.json).
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Generate a Rust module that computes exactly the engine's outputs for one model, for
    /// firmware that wants the last instruction (the model becomes code; the .lsm data path
    /// stays the default: replaceable and signed).
    ///
    /// The module is no_std, allocates nothing, has no unsafe and cannot panic; it exports
    /// N_FEATURES, N_OUTPUTS, MODEL_SHA256, `predict(&[f32; N_FEATURES], &mut margins,
    /// &mut outputs)` and `predict_batch(&[[f32; N_FEATURES]], &mut [margins], &mut
    /// [outputs])` (the same bits per row; rows in blocks, each group of trees over a whole
    /// block), and calls lockstep-engine (`compiled`) only for the output transform,
    /// the f32 order keys and the category rule. Prove it on the devices with `lockstep
    /// parity --model M.lsm --codegen model.rs --cost`. Models with linear or per-level terms
    /// are refused (they have no trees to compile), and so are sealed models (.lss).
    Codegen {
        /// The compiled model (.lsm).
        model: PathBuf,
        /// Where to write the Rust module.
        #[arg(short, long, value_name = "OUT.rs")]
        output: PathBuf,
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
    /// Make a verified bundle the accepted model for its outcome: appends who accepted it and
    /// why to the registry's hash-chained log and keeps a copy of the bundle there.
    ///
    /// Refuses a bundle that does not verify, whose plan did not accept it, whose parity found
    /// a mismatch, or whose version is not above the accepted one (anti-rollback). The first
    /// promotion into a registry sets its trusted key (--pubkey); later ones use it.
    Promote {
        /// The bundle folder.
        bundle: PathBuf,
        /// The registry folder (created by the first promotion).
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        /// The signer's public key; required for a new registry, checked against its trusted
        /// key after.
        #[arg(long, value_name = "K.pub")]
        pubkey: Option<PathBuf>,
        /// Who accepts the model (recorded).
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Why (recorded).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Show which model was accepted for each outcome, now or at a past date, from a
    /// registry of promotions; the registry's hash chain is checked first and a changed,
    /// removed or reordered entry is reported instead of an answer.
    History {
        /// The registry folder.
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        /// The date (YYYY-MM-DD: the end of that day) or time (YYYY-MM-DDTHH:MM:SSZ), UTC.
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
        /// List every promotion in the log too.
        #[arg(long)]
        log: bool,
        /// Only check the hash chain and print its head.
        #[arg(long, conflicts_with_all = ["at", "log"])]
        verify: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The `lockstep data` subcommands.
#[derive(Subcommand)]
enum PipelineCommand {
    /// Run the pipeline a pipeline file declares (examples/arthroplasty/pipeline.toml documents
    /// every key): data check -> split -> train -> compile -> validate against the outcome's
    /// accepted model -> parity -> package (a signed bundle per outcome) -> promote (only when
    /// every candidate is accepted). Writes OUT/runs/<run-id>/run.json with every stage's input
    /// and output hashes.
    ///
    /// The run id derives from the inputs: a halted run continues after `pipeline resolve`; a
    /// finished run is re-done in a temporary folder and its bundles checked byte for byte.
    /// Exit 0: every candidate accepted; 4: some rejected (all packaged, nothing promoted); 5:
    /// halted by the data check (the registry untouched).
    Run {
        /// The pipeline file.
        #[arg(value_name = "PIPELINE.toml")]
        pipeline: PathBuf,
        /// The output folder (runs, keys, registry), instead of the file's `output`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the run record (JSON) on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Record who resolved a halted run and how: a corrected data file (re-checked when the run
    /// continues, and it must be clean), or the acceptance of the listed anomalies (refused for
    /// row-level anomalies the trainer cannot use; only distribution changes may be accepted).
    /// Then run `lockstep pipeline run PIPELINE.toml` again to continue the run.
    Resolve {
        /// The halted run's folder (OUT/runs/<run-id>).
        #[arg(value_name = "RUN_DIR")]
        run: PathBuf,
        /// Who resolves.
        #[arg(long)]
        by: String,
        /// What was resolved and why.
        #[arg(long)]
        note: String,
        /// The corrected data file (copied into the run folder).
        #[arg(
            long,
            value_name = "CORRECTED.csv",
            required_unless_present = "accept_anomalies",
            conflicts_with = "accept_anomalies"
        )]
        data: Option<PathBuf>,
        /// Accept the listed anomalies (distribution changes only).
        #[arg(long)]
        accept_anomalies: bool,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Check a data file against its schema and list every anomaly: types, required columns,
    /// limits, levels, missing values where not allowed, duplicate ids, outcomes that are not
    /// 0/1, non-finite numbers; each as column, rule, count, first lines and an example.
    ///
    /// With --reference (a training record MODEL.training.json, or a summary written by
    /// --summary-out), also each feature's distribution change, PSI and KS, flagged above the
    /// schema's [drift] thresholds (default PSI 0.25, KS 0.1). Exits with status 5 on any
    /// anomaly or flagged change (stop for manual resolution), 0 when clean, 1 on an error of
    /// use (unreadable file, invalid schema), when nothing is written.
    Check {
        /// The data (CSV with a header).
        #[arg(value_name = "DATA.csv")]
        data: PathBuf,
        /// The schema (TOML), with an optional [drift] table of thresholds.
        #[arg(long, value_name = "S.toml")]
        schema: PathBuf,
        /// The reference distribution: a training record or a summary from --summary-out.
        #[arg(long, value_name = "SUMMARY.json")]
        reference: Option<PathBuf>,
        /// Write the report as JSON here (hashes, counts, anomalies, drift).
        #[arg(long, value_name = "OUT.json")]
        json: Option<PathBuf>,
        /// Write the checked data's feature summary here, for use as a later --reference; only
        /// written when the check is clean.
        #[arg(long, value_name = "SUMMARY.json")]
        summary_out: Option<PathBuf>,
    },
}

/// What `lockstep bundle` does.
#[derive(Subcommand)]
enum BundleCommand {
    /// Check a bundle: every file listed with its SHA-256 and size and nothing else present,
    /// manifest.sig an Ed25519 signature of manifest.json by the key, model.lss sealed by the
    /// key around exactly model.lsm with the manifest's version, the model loading in the
    /// engine, the records agreeing with the manifest, and no row-level patient data.
    ///
    /// Exit code 0 when every check holds; 1 with one line per broken rule (file: rule:
    /// detail) otherwise.
    Verify {
        /// The bundle folder.
        bundle: PathBuf,
        /// The signer's public key (from `lockstep keygen`).
        #[arg(long, value_name = "K.pub")]
        pubkey: PathBuf,
    },
    /// Re-train a bundle's model from its manifest (the bundled schema, the split rule,
    /// outcome and settings in effect) on the data, and check the model's SHA-256 is the
    /// bundle's.
    ///
    /// The data must be the exact file the bundle was trained on (its SHA-256 is checked
    /// first). Exit code 0 when the bytes are the same, 6 when they differ, 1 on an error.
    Reproduce {
        /// The bundle folder.
        bundle: PathBuf,
        /// The data the bundle was trained on.
        #[arg(long, value_name = "DATA.csv")]
        data: PathBuf,
        /// Verify the bundle with this public key first.
        #[arg(long, value_name = "K.pub")]
        pubkey: Option<PathBuf>,
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
    let succeeded = |()| Exit::Success;
    let result = match cli.command {
        Command::Compile {
            model,
            output,
            label,
            format_version,
        } => commands::compile::run(&model, &output, label, format_version).map(succeeded),
        Command::Predict {
            model,
            input,
            output,
            bits,
            allow_infinite,
        } => commands::predict::run(&model, &input, output.as_deref(), bits, allow_infinite)
            .map(succeeded),
        Command::Pipeline {
            command:
                PipelineCommand::Run {
                    pipeline,
                    out,
                    json,
                },
        } => commands::pipeline::run(&pipeline, out.as_deref(), json).map(|ending| match ending {
            Ending::Completed => Exit::Success,
            Ending::Rejected => Exit::Rejected,
            Ending::Halted => Exit::Anomalies,
        }),
        Command::Pipeline {
            command:
                PipelineCommand::Resolve {
                    run,
                    by,
                    note,
                    data,
                    accept_anomalies: _,
                },
        } => {
            let action = match data {
                Some(path) => ResolveAction::CorrectedData(path),
                None => ResolveAction::AcceptAnomalies,
            };
            commands::pipeline::resolve(&run, &by, &note, &action).map(succeeded)
        }
        Command::Data {
            command:
                DataCommand::Check {
                    data,
                    schema,
                    reference,
                    json,
                    summary_out,
                },
        } => commands::data::check(&CheckArgs {
            data,
            schema,
            reference,
            json,
            summary_out,
        })
        .map(|clean| match clean {
            true => Exit::Success,
            false => Exit::Anomalies,
        }),
        Command::Keygen { output, force } => commands::keygen::run(&output, force).map(succeeded),
        Command::Sign {
            model,
            key,
            version,
            output,
        } => commands::sign::run(&model, &key, version, &output).map(succeeded),
        Command::Bundle {
            command: BundleCommand::Verify { bundle, pubkey },
        } => commands::bundle::verify(&bundle, &pubkey).map(|ok| match ok {
            true => Exit::Success,
            false => Exit::Error,
        }),
        Command::Bundle {
            command:
                BundleCommand::Reproduce {
                    bundle,
                    data,
                    pubkey,
                },
        } => {
            commands::bundle::reproduce(&bundle, &data, pubkey.as_deref()).map(|same| match same {
                true => Exit::Success,
                false => Exit::NotReproduced,
            })
        }
        Command::Codegen { model, output } => {
            commands::codegen::run(&model, &output).map(succeeded)
        }
        Command::Inspect { model, json } => commands::inspect::run(&model, json).map(succeeded),
        Command::Promote {
            bundle,
            registry,
            pubkey,
            by,
            reason,
        } => commands::promote::run(&bundle, &registry, pubkey.as_deref(), &by, &reason)
            .map(succeeded),
        Command::History {
            registry,
            at,
            log,
            verify,
            json,
        } => commands::history::run(&registry, at.as_deref(), log, verify, json).map(succeeded),
        Command::Train {
            data,
            schema,
            config,
            target,
            train_where,
            output,
            quiet,
        } => commands::train::run(TrainArgs {
            data,
            schema,
            config,
            target,
            train_where,
            output,
            quiet,
        })
        .map(succeeded),
        Command::Synth {
            cohort: SynthCohortKind::Arthroplasty,
            rows,
            seed,
            output,
        } => commands::synth::run(rows, seed, &output).map(succeeded),
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
            let inputs = ValidateInputs {
                model,
                data,
                schema,
                baseline,
                plan,
                training_record,
                threads,
            };
            commands::validate::run(&inputs, &output, quiet).map(|accepted| match accepted {
                true => Exit::Success,
                false => Exit::Rejected,
            })
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
            pubkey,
            min_version,
            codegen,
        } => commands::parity::run(ParityArgs {
            model,
            targets,
            vectors,
            record,
            cost,
            random_rows,
            seed,
            work_dir,
            firmware_dir,
            corrupt_device_output,
            pubkey,
            min_version,
            codegen,
        })
        .map(|exact| match exact {
            true => Exit::Success,
            false => Exit::ParityMismatch,
        }),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            // Each cause once, control characters escaped (see `text::chain`).
            eprintln!("error: {}", text::chain(error.as_ref()));
            Exit::Error.into()
        }
    }
}

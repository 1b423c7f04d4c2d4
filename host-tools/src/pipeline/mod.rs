//! `lockstep pipeline run`: the continuous-training pipeline of one pipeline file
//! ([`mod@file`]): data check -> split -> train -> compile -> validate against the accepted model
//! -> parity -> package -> promote, with every stage's inputs and outputs hashed into a run
//! record (`OUT/runs/<run-id>/run.json`, [`RunRecord`]).
//!
//! # Runs
//!
//! The run id is derived from the inputs: the pipeline file, the data, the schema, each
//! training config and validation plan, the signing key's id and the registry's head. The same
//! inputs are the same run:
//!
//! - a run the data check **halted** (exit 5) stays halted until `lockstep pipeline resolve`
//!   records who resolved it and how (a corrected data file, copied into the run folder, or
//!   the acceptance of drift-only anomalies); the next `pipeline run` continues it;
//! - a **completed** or **rejected** run is re-done in a temporary folder and every bundle
//!   compared byte for byte with the recorded ones ("reproduced"); nothing is promoted then.
//!
//! A promotion changes the registry's head, so a re-run after one is a new run: its candidates
//! equal the accepted models, which are then left as they are ("unchanged").
//!
//! # Verdicts
//!
//! A candidate is accepted when its validation plan accepts it (or declares no criteria) and,
//! with parity targets, every device verified the sealed model (version = the accepted
//! version + 1, or 1; the firmware built with the signing key and that version as its minimum)
//! and gave the host's bits. The run is `completed` (exit 0) when every candidate is accepted,
//! else `rejected` (exit 4): every candidate is still packaged, nothing is promoted. On a first
//! run (no accepted model) the plan's comparison criteria (`min_delta_auc_lower`,
//! `max_delta_brier_upper`) are dropped from the effective plan (`work/<outcome>/plan.toml`,
//! whose hash the report names), and the run says so.
//!
//! # What is written
//!
//! ```text
//! OUT/keys/            demo key pair and KEYS-README.txt (first run, signing.demo_key = true)
//! OUT/registry/        the registry of accepted models (crate::registry) unless declared
//! OUT/runs/<run-id>/   run.json, check.json, resolution.json and corrected.csv (if resolved),
//!                      work/<outcome>/ (model, training record, effective plan, report,
//!                      parity record), bundles/<outcome>-v<version>/ (signed bundles)
//! ```
//!
//! Every file goes through `crate::output` (atomic); bundles are new folders; the registry is
//! written only by a promotion, which happens only when every candidate is accepted. The run
//! record holds no path outside the run folder and no time.

pub mod file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::bundle::{self, PackageInputs};
use crate::check::{self, CheckError};
use crate::data::{self, DataError};
use crate::keys::{self, KeyError, PublicKey, SecretKey};
use crate::output::{self, OutputError, OutputSet};
use crate::registry::{self, BundleFacts, Entry, Registry, RegistryError};
use crate::text::{shown, shown_path};
use crate::train::config::TrainConfig;
use crate::train::pipeline::{self as train_pipeline, TrainingError};
use crate::validate::{self, plan, ValidateError, ValidateInputs};
use crate::{parity, parity::ParityError};
pub use file::{Pipeline, PipelineFileError};

/// The run record's format name.
pub const RUN_FORMAT: &str = "lockstep-pipeline-run/1";
/// The run record's file name in a run folder.
pub const RUN_FILE: &str = "run.json";
/// The data check's report in a run folder.
pub const CHECK_FILE: &str = "check.json";
/// The resolutions of a halted run.
pub const RESOLUTION_FILE: &str = "resolution.json";
/// A corrected data file given to `pipeline resolve --data`, copied into the run folder.
pub const CORRECTED_DATA: &str = "corrected.csv";
/// The seed of the random rows of the parity vectors.
pub const PARITY_SEED: u64 = 0x10c57e9;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// The data check found anomalies; waiting for `pipeline resolve`.
    Halted,
    /// Resolved and continuing (a run record in this state was interrupted).
    Resolved,
    /// Packaged, but some candidate was rejected: nothing promoted.
    Rejected,
    /// Every candidate accepted and packaged (and promoted unless declared otherwise).
    Completed,
}

/// One stage of the run, with the SHA-256 of what it read and wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// `data check`, `split`, `train`, `compile`, `validate`, `parity`, `package`, `promote`.
    pub stage: String,
    /// The outcome, for per-outcome stages.
    pub outcome: Option<String>,
    /// Inputs by role: SHA-256.
    pub inputs: BTreeMap<String, String>,
    /// Outputs by role: SHA-256.
    pub outputs: BTreeMap<String, String>,
    /// The stage's verdict, if it has one.
    pub verdict: Option<String>,
    /// What the stage did, in words.
    pub note: String,
}

/// One anomaly as the run record lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyLine {
    /// The column.
    pub column: String,
    /// The rule (`limit`, `level`, `missing_column`, ..., or `drift` for a flagged change).
    pub rule: String,
    /// How many cells or rows.
    pub count: usize,
    /// The first line numbers (header line 1).
    pub lines: Vec<u64>,
    /// Whether training cannot use the rows (every rule but `drift`).
    pub row_level: bool,
    /// The first offending value, if any.
    pub example: Option<String>,
    /// What the rule requires (for `drift`: the statistics and thresholds).
    pub detail: String,
}

/// The data check as the run record lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// No anomaly and no flagged change.
    pub clean: bool,
    /// SHA-256 of `check.json`.
    pub report_sha256: String,
    /// Every anomaly, then every flagged distribution change.
    pub anomalies: Vec<AnomalyLine>,
}

/// How a halted run was resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// Who.
    pub by: String,
    /// Why, in their words.
    pub note: String,
    /// `corrected_data` or `accepted_anomalies`.
    pub action: String,
    /// SHA-256 of the corrected data file (for `corrected_data`).
    pub data_sha256: Option<String>,
    /// SHA-256 of the check report the resolution answers.
    pub check_sha256: String,
}

/// What happened to one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The outcome.
    pub outcome: String,
    /// SHA-256 of the candidate model bytes.
    pub candidate_model_sha256: String,
    /// The accepted model it was compared with (`None` on a first run).
    pub accepted_before: Option<AcceptedModel>,
    /// `accepted`, `rejected` or `no criteria`.
    pub validation: String,
    /// `exact`, `mismatch` or `not run`.
    pub parity: String,
    /// Whether the candidate passed (validation and parity).
    pub accepted: bool,
    /// The bundle's version.
    pub version: u32,
    /// The bundle's folder, relative to the run folder.
    pub bundle: String,
    /// SHA-256 of the bundle's manifest.json.
    pub manifest_sha256: String,
    /// `promoted`, `unchanged` or `not promoted: <why>`.
    pub promotion: String,
}

/// An accepted model from the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedModel {
    /// Its version.
    pub version: u32,
    /// SHA-256 of its model bytes.
    pub model_sha256: String,
    /// Its folder in the registry.
    pub bundle: String,
}

/// The run record (`run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`RUN_FORMAT`].
    pub format: String,
    /// The run id.
    pub run_id: String,
    /// Where the run stands.
    pub state: RunState,
    /// The inputs the run id derives from, by role: SHA-256 (the key by its id, the registry
    /// by its head).
    pub inputs: BTreeMap<String, String>,
    /// The registry's head (`<seq> <sha256>`) when the run started.
    pub registry_head_before: String,
    /// The registry's head after the promotions (`None` if nothing was promoted).
    pub registry_head_after: Option<String>,
    /// The data check.
    pub check: Option<CheckSummary>,
    /// Every resolution of this run, oldest first.
    pub resolutions: Vec<Resolution>,
    /// The stages, in order.
    pub stages: Vec<StageRecord>,
    /// Each outcome's result.
    pub outcomes: Vec<OutcomeRecord>,
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file.
    #[error(transparent)]
    File(#[from] PipelineFileError),
    /// A file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file, as shown.
        path: String,
        /// The cause.
        cause: String,
    },
    /// The schema or data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The data check could not run.
    #[error("data check: {0}")]
    Check(#[from] CheckError),
    /// The split rule cannot be used on this data.
    #[error("split: {0}")]
    Split(String),
    /// Training an outcome failed.
    #[error("train {outcome}: {source}")]
    Train {
        /// The outcome.
        outcome: String,
        /// Why.
        source: Box<TrainingError>,
    },
    /// Validating an outcome failed.
    #[error("validate {outcome}: {source}")]
    Validate {
        /// The outcome.
        outcome: String,
        /// Why.
        source: Box<ValidateError>,
    },
    /// A validation plan cannot be used.
    #[error("validate {outcome}: {source}")]
    Plan {
        /// The outcome.
        outcome: String,
        /// Why.
        source: Box<plan::PlanError>,
    },
    /// Parity could not run.
    #[error("parity {outcome}: {source}")]
    Parity {
        /// The outcome.
        outcome: String,
        /// Why.
        source: Box<ParityError>,
    },
    /// Packaging failed.
    #[error("package {outcome}: {source}")]
    Bundle {
        /// The outcome.
        outcome: String,
        /// Why.
        source: Box<bundle::BundleError>,
    },
    /// A freshly packaged bundle did not verify.
    #[error("promote {outcome}: the bundle does not verify: {detail}")]
    Verify {
        /// The outcome.
        outcome: String,
        /// Why.
        detail: String,
    },
    /// The registry.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// A key file.
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    /// Writing an output.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A run record or resolution in the run folder cannot be used.
    #[error("run folder {path}: {detail}")]
    RunFolder {
        /// The folder, as shown.
        path: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// `pipeline resolve` refused.
    #[error("{0}")]
    Resolve(String),
    /// A re-run of a finished run did not give the same bytes.
    #[error("run {run_id} did not reproduce: {detail}")]
    NotReproduced {
        /// The run.
        run_id: String,
        /// The first difference.
        detail: String,
    },
    /// Encoding JSON or TOML failed.
    #[error("encoding {what}: {detail}")]
    Encode {
        /// What.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// One progress line: the stage, the outcome (if any), what was done, the seconds it took.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// The stage.
    pub stage: &'a str,
    /// The outcome.
    pub outcome: Option<&'a str>,
    /// What was done.
    pub what: &'a str,
    /// Seconds.
    pub seconds: f64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every candidate accepted (exit 0).
    Completed,
    /// Some candidate rejected (exit 4).
    Rejected,
    /// Halted by the data check, now or still (exit 5).
    Halted,
}

/// The result of `pipeline run`.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The run record.
    pub record: RunRecord,
    /// The run folder.
    pub run_dir: PathBuf,
    /// How it ended.
    pub ending: Ending,
    /// For a re-run of a finished run: how many bundles were found byte-identical.
    pub reproduced: Option<usize>,
    /// The folder of the demo key pair this run generated, if it did.
    pub generated_demo_key: Option<PathBuf>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    bundle::sha256_hex(bytes)
}

fn read(path: &Path) -> Result<Vec<u8>, PipelineError> {
    std::fs::read(path).map_err(|e| PipelineError::Read {
        path: shown_path(path),
        cause: output::describe_read(&e),
    })
}

fn to_json<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, PipelineError> {
    serde_json::to_string_pretty(value)
        .map(|s| (s + "\n").into_bytes())
        .map_err(|e| PipelineError::Encode {
            what,
            detail: e.to_string(),
        })
}

/// What the demo key note says.
pub const KEYS_README: &str = "\
These keys were generated by `lockstep pipeline run` because the pipeline file sets
signing.demo_key = true and no signing key existed. They are for a demonstration only.

Real signing keys live off the machine that trains: generate them with `lockstep keygen` on a
machine (or hardware token) that the release approver controls, keep the secret key there,
name it in the pipeline file's signing.key, and compile only the public key into the device
firmware. Anyone who can read signing.key here can sign a model the devices will accept.
";

/// The signing key: read, or (demo) generated into `OUT/keys/`.
fn signing_key(p: &Pipeline) -> Result<(SecretKey, PublicKey, Option<PathBuf>), PipelineError> {
    let mut generated = None;
    if !p.key.exists() {
        if !p.demo_key {
            return Err(PipelineError::Key(KeyError::Read {
                path: shown_path(&p.key),
                cause: "no such file; create a key pair with `lockstep keygen`".into(),
            }));
        }
        let secret = keys::generate()?;
        let dir = p.key.parent().unwrap_or(Path::new("."));
        output::create_directory(dir)?;
        keys::write_pair(&secret, &p.key, &p.key.with_extension("pub"))?;
        output::write_atomically(&dir.join("KEYS-README.txt"), KEYS_README.as_bytes())?;
        generated = Some(dir.to_path_buf());
    }
    let secret = keys::read_secret(&p.key)?;
    Ok((secret, keys::public_of(&secret), generated))
}

/// Everything the stages share.
struct Context<'a> {
    pipeline: &'a Pipeline,
    schema: data::Schema,
    schema_bytes: Vec<u8>,
    schema_sha256: String,
    secret: SecretKey,
    public: PublicKey,
    registry: Registry,
    accepted: BTreeMap<String, Entry>,
    stages: Vec<StageRecord>,
}

fn stage(
    name: &str,
    outcome: Option<&str>,
    inputs: &[(&str, &str)],
    outputs: &[(&str, &str)],
    verdict: Option<&str>,
    note: String,
) -> StageRecord {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    };
    StageRecord {
        stage: name.into(),
        outcome: outcome.map(str::to_string),
        inputs: map(inputs),
        outputs: map(outputs),
        verdict: verdict.map(str::to_string),
        note,
    }
}

/// Runs (or continues, or reproduces) the pipeline of `file`; `out` replaces its output folder.
pub fn run(
    file: &Path,
    out: Option<&Path>,
    mut progress: impl FnMut(&Progress<'_>),
) -> Result<RunResult, PipelineError> {
    let started = Instant::now();
    let pipeline = file::load(file, out)?;
    let schema_bytes = read(&pipeline.schema)?;
    let schema_sha256 = sha256_hex(&schema_bytes);
    let mut schema = data::parse_schema(
        std::str::from_utf8(&schema_bytes).map_err(|_| PipelineError::Read {
            path: shown_path(&pipeline.schema),
            cause: "the schema is not UTF-8 text".into(),
        })?,
        &pipeline.schema,
    )?;
    pipeline.check_against(&schema)?;
    if let Some(drift) = pipeline.drift {
        if let Some(psi) = drift.psi {
            schema.drift.psi = psi;
        }
        if let Some(ks) = drift.ks {
            schema.drift.ks = ks;
        }
    }
    output::create_directory(&pipeline.output)?;
    let (secret, public, generated_demo_key) = signing_key(&pipeline)?;
    let registry = Registry::new(&pipeline.registry);
    let log = registry.load()?;
    let (head_seq, head_hash) = log.head();
    let head = format!("{head_seq} {head_hash}");

    // The run id: every input's identity.
    let mut inputs: BTreeMap<String, String> = BTreeMap::new();
    inputs.insert("pipeline".into(), sha256_hex(&pipeline.bytes));
    inputs.insert("data".into(), sha256_hex(&read(&pipeline.data)?));
    inputs.insert("schema".into(), schema_sha256.clone());
    for o in &pipeline.outcomes {
        if let Some(config) = &o.config {
            inputs.insert(format!("config {}", o.name), sha256_hex(&read(config)?));
        }
        inputs.insert(format!("plan {}", o.name), sha256_hex(&read(&o.plan)?));
    }
    inputs.insert("signing key id".into(), keys::key_id_hex(&public));
    inputs.insert("registry head".into(), head.clone());
    let id_text: String = inputs.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    let run_id = sha256_hex(id_text.as_bytes())[..16].to_string();
    let runs = pipeline.output.join("runs");
    let run_dir = runs.join(&run_id);

    let mut context = Context {
        pipeline: &pipeline,
        schema,
        schema_bytes,
        schema_sha256,
        secret,
        public,
        registry,
        accepted: log.accepted_at(None),
        stages: Vec::new(),
    };
    let mut record = RunRecord {
        format: RUN_FORMAT.into(),
        run_id: run_id.clone(),
        state: RunState::Resolved,
        inputs,
        registry_head_before: head,
        registry_head_after: None,
        check: None,
        resolutions: Vec::new(),
        stages: Vec::new(),
        outcomes: Vec::new(),
    };

    let existing = read_record(&run_dir)?;
    let mut resolution: Option<Resolution> = None;
    if let Some(previous) = &existing {
        match previous.state {
            RunState::Completed | RunState::Rejected => {
                return reproduce(&mut context, previous, &run_dir, started, &mut progress).map(
                    |count| RunResult {
                        record: previous.clone(),
                        run_dir: run_dir.clone(),
                        ending: if previous.state == RunState::Completed {
                            Ending::Completed
                        } else {
                            Ending::Rejected
                        },
                        reproduced: Some(count),
                        generated_demo_key,
                    },
                );
            }
            RunState::Halted | RunState::Resolved => {
                let all = read_resolutions(&run_dir)?;
                if all.len() <= previous.resolutions.len() && previous.state == RunState::Halted {
                    progress(&Progress {
                        stage: "data check",
                        outcome: None,
                        what: &format!(
                            "run {run_id} is halted: resolve it with `lockstep pipeline resolve {} --by NAME --note TEXT (--data CORRECTED.csv | --accept-anomalies)`",
                            shown_path(&run_dir)
                        ),
                        seconds: 0.0,
                    });
                    return Ok(RunResult {
                        record: previous.clone(),
                        run_dir,
                        ending: Ending::Halted,
                        reproduced: None,
                        generated_demo_key,
                    });
                }
                resolution = all.last().cloned();
                record.resolutions = all;
            }
        }
    }
    let data_path = match &resolution {
        Some(r) if r.action == "corrected_data" => run_dir.join(CORRECTED_DATA),
        _ => pipeline.data.clone(),
    };
    let finished = execute(
        &mut context,
        &mut record,
        &run_dir,
        &data_path,
        resolution.as_ref(),
        true,
        &mut progress,
    )?;
    let ending = match finished {
        None => Ending::Halted,
        Some(true) => Ending::Completed,
        Some(false) => Ending::Rejected,
    };
    progress(&Progress {
        stage: "run",
        outcome: None,
        what: &format!(
            "run {run_id} {}",
            match ending {
                Ending::Completed => "completed",
                Ending::Rejected => "rejected (exit 4)",
                Ending::Halted => "halted by the data check (exit 5)",
            }
        ),
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(RunResult {
        record,
        run_dir,
        ending,
        reproduced: None,
        generated_demo_key,
    })
}

fn read_record(run_dir: &Path) -> Result<Option<RunRecord>, PipelineError> {
    let path = run_dir.join(RUN_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read(&path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PipelineError::RunFolder {
            path: shown_path(run_dir),
            detail: format!("{RUN_FILE} is not a run record ({e}); it was changed by hand: restore it, or remove the run folder to start the run again"),
        })
}

fn read_resolutions(run_dir: &Path) -> Result<Vec<Resolution>, PipelineError> {
    let path = run_dir.join(RESOLUTION_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&read(&path)?).map_err(|e| PipelineError::RunFolder {
        path: shown_path(run_dir),
        detail: format!("{RESOLUTION_FILE} is not a list of resolutions ({e})"),
    })
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed().as_secs_f64())
}

/// The stages from the data check on. Returns `None` when halted, else whether every candidate
/// was accepted. `promote`: false when reproducing (the registry is never touched then).
fn execute(
    cx: &mut Context<'_>,
    record: &mut RunRecord,
    run_dir: &Path,
    data_path: &Path,
    resolution: Option<&Resolution>,
    promote: bool,
    progress: &mut impl FnMut(&Progress<'_>),
) -> Result<Option<bool>, PipelineError> {
    let p = cx.pipeline;
    output::create_directory(run_dir)?;

    // 1. Data check, against the accepted training data's summary if there is one.
    let (check_result, seconds) = timed(|| -> Result<_, PipelineError> {
        let bytes = read(data_path)?;
        let reference_entry = p.outcomes.iter().find_map(|o| cx.accepted.get(&o.name));
        let reference = match reference_entry {
            Some(entry) => {
                let path = cx.registry.bundle_dir(entry).join(bundle::TRAINING);
                Some(check::parse_reference(&read(&path)?, &path)?)
            }
            None => None,
        };
        let run = check::check(
            &bytes,
            data_path,
            &cx.schema,
            &cx.schema_sha256,
            reference.as_ref(),
        )?;
        Ok((run, sha256_hex(&bytes), reference.map(|r| r.sha256)))
    });
    let (check_run, data_sha256, reference_sha256) = check_result?;
    let report = &check_run.report;
    let check_json = to_json("the data check report", report)?;
    let check_sha256 = sha256_hex(&check_json);
    let mut anomalies: Vec<AnomalyLine> = report
        .anomalies
        .iter()
        .map(|a| AnomalyLine {
            column: a.column.clone(),
            rule: a.rule.name().into(),
            count: a.count,
            lines: a.lines.clone(),
            row_level: true,
            example: a.example.clone(),
            detail: a.detail.clone(),
        })
        .collect();
    anomalies.extend(
        report
            .drift
            .iter()
            .filter(|d| d.flagged)
            .map(|d| AnomalyLine {
                column: d.feature.clone(),
                rule: "drift".into(),
                count: 1,
                lines: Vec::new(),
                row_level: false,
                example: None,
                detail: format!(
                    "distribution changed against the accepted model's training data: PSI {} (threshold {}), KS {} (threshold {})",
                    d.psi.map_or("n/a".into(), |v| format!("{v:.3}")),
                    d.psi_threshold,
                    d.ks.map_or("n/a".into(), |v| format!("{v:.3}")),
                    d.ks_threshold
                ),
            }),
    );
    let accepted_drift = resolution
        .is_some_and(|r| r.action == "accepted_anomalies" && r.check_sha256 == check_sha256)
        && report.anomalies.is_empty();
    record.check = Some(CheckSummary {
        clean: report.clean,
        report_sha256: check_sha256.clone(),
        anomalies: anomalies.clone(),
    });
    let mut check_inputs = vec![
        ("data", data_sha256.as_str()),
        ("schema", cx.schema_sha256.as_str()),
    ];
    if let Some(r) = &reference_sha256 {
        check_inputs.push(("reference (accepted training record)", r.as_str()));
    }
    let halted = !report.clean && !accepted_drift;
    let verdict = if report.clean {
        "clean"
    } else if accepted_drift {
        "anomalies accepted"
    } else {
        "halted"
    };
    let what = if report.clean {
        format!(
            "{} rows clean{}",
            report.rows,
            if reference_sha256.is_some() {
                ", distribution change within thresholds"
            } else {
                " (no accepted model yet: no reference for distribution change)"
            }
        )
    } else {
        format!(
            "{} rows: {} anomalies, {} features changed{}",
            report.rows,
            report.anomalies.len(),
            report.n_flagged(),
            if accepted_drift {
                " (accepted by the resolution)"
            } else {
                "; the run halts"
            }
        )
    };
    cx.stages.push(stage(
        "data check",
        None,
        &check_inputs,
        &[("check.json", &check_sha256)],
        Some(verdict),
        what.clone(),
    ));
    progress(&Progress {
        stage: "data check",
        outcome: None,
        what: &what,
        seconds,
    });
    if halted {
        for a in &anomalies {
            progress(&Progress {
                stage: "data check",
                outcome: None,
                what: &format!(
                    "  {} {}: {} ({}{}{})",
                    a.column,
                    a.rule,
                    a.count,
                    a.detail,
                    a.example
                        .as_ref()
                        .map_or(String::new(), |e| format!("; first value {e}")),
                    if a.lines.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; lines {}",
                            a.lines
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
                seconds: 0.0,
            });
        }
        record.state = RunState::Halted;
        record.stages = std::mem::take(&mut cx.stages);
        let mut set = OutputSet::new();
        set.bytes(&run_dir.join(CHECK_FILE), &check_json)?;
        set.bytes(&run_dir.join(RUN_FILE), &to_json("the run record", record)?)?;
        set.commit()?;
        return Ok(None);
    }
    output::write_atomically(&run_dir.join(CHECK_FILE), &check_json)?;

    // 2. Split.
    let (split, seconds) = timed(|| -> Result<_, PipelineError> {
        let dataset = data::load_csv(data_path, &cx.schema)?;
        let in_train = dataset.rows_where(&p.train_rule)?;
        let in_test = dataset.rows_where(&p.test_rule)?;
        let both: Vec<usize> = (0..dataset.n_rows)
            .filter(|&r| in_train[r] && in_test[r])
            .collect();
        if let Some(&first) = both.first() {
            let id = dataset
                .ids
                .as_ref()
                .map_or(format!("row {}", first + 1), |ids| {
                    format!("id {}", shown(&ids.values[first]))
                });
            return Err(PipelineError::Split(format!(
                "{} rows ({id} first) satisfy both split.train ({}) and split.test ({}): no patient may be on both sides; make the rules exclusive",
                both.len(),
                shown(&p.train_rule),
                shown(&p.test_rule)
            )));
        }
        let neither = (0..dataset.n_rows)
            .filter(|&r| !in_train[r] && !in_test[r])
            .count();
        let date_column = data::parse_split(&p.train_rule)
            .ok()
            .map(|s| s.column)
            .filter(|c| cx.schema.splits.iter().any(|s| &s.name == c));
        let rule = format!("train: {}; test: {}", p.train_rule, p.test_rule);
        let summary = bundle::split_summary(&dataset, &rule, &in_train, date_column.as_deref())?;
        let n_train = in_train.iter().filter(|&&t| t).count();
        let n_test = in_test.iter().filter(|&&t| t).count();
        Ok((summary, n_train, n_test, neither))
    });
    let (split, n_train, n_test, neither) = split?;
    let what = format!(
        "{n_train} training rows, {n_test} test rows{}, no id on both sides",
        if neither > 0 {
            format!(", {neither} rows on neither side (unused)")
        } else {
            String::new()
        }
    );
    cx.stages.push(stage(
        "split",
        None,
        &[("data", &data_sha256)],
        &[
            ("train rows", &split.train_rows_sha256),
            ("test rows", &split.test_rows_sha256),
        ],
        None,
        what.clone(),
    ));
    progress(&Progress {
        stage: "split",
        outcome: None,
        what: &what,
        seconds,
    });

    // 3-7. Per outcome: train, compile, validate, parity, package.
    let mut outcomes = Vec::new();
    for o in &p.outcomes {
        outcomes.push(candidate(
            cx,
            o,
            run_dir,
            data_path,
            &data_sha256,
            &split,
            progress,
        )?);
    }
    let all_accepted = outcomes.iter().all(|o| o.accepted);

    // 8. Promote.
    let start = Instant::now();
    let rejected: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.accepted)
        .map(|o| o.outcome.clone())
        .collect();
    let mut promoted = 0;
    for o in &mut outcomes {
        let unchanged = o
            .accepted_before
            .as_ref()
            .is_some_and(|a| a.model_sha256 == o.candidate_model_sha256);
        o.promotion = if !promote {
            "not promoted: reproducing a finished run".into()
        } else if !all_accepted {
            format!(
                "not promoted: rejected candidate(s): {}",
                rejected.join(", ")
            )
        } else if unchanged {
            "unchanged".into()
        } else if !p.promote_automatically {
            "not promoted: promotion.automatic = false; promote with `lockstep promote`".into()
        } else {
            let dir = run_dir.join(&o.bundle);
            let verified = bundle::verify(&dir, &cx.public).map_err(|e| PipelineError::Verify {
                outcome: o.outcome.clone(),
                detail: crate::text::chain(&e),
            })?;
            let facts = BundleFacts {
                outcome: o.outcome.clone(),
                version: o.version,
                manifest_sha256: sha256_hex(&verified.manifest_bytes),
                model_sha256: verified.manifest.model.sha256.clone(),
                key_id: verified.manifest.model.key_id.clone(),
            };
            let entry = cx.registry.promote(
                &dir,
                &facts,
                &cx.public,
                &p.promote_by,
                &p.promote_reason,
                &registry::now(),
            )?;
            promoted += 1;
            format!("promoted: registry entry {}", entry.seq)
        };
    }
    if promoted > 0 {
        let (seq, hash) = cx.registry.load()?.head();
        record.registry_head_after = Some(format!("{seq} {hash}"));
    }
    let what = if !promote {
        "skipped (reproducing)".to_string()
    } else if !all_accepted {
        format!("nothing promoted: rejected: {}", rejected.join(", "))
    } else {
        let unchanged = outcomes
            .iter()
            .filter(|o| o.promotion == "unchanged")
            .count();
        format!("{promoted} promoted, {unchanged} unchanged (candidate equals the accepted model)")
    };
    let mut promote_outputs = Vec::new();
    if let Some(head) = &record.registry_head_after {
        promote_outputs.push(("registry head", head.as_str()));
    }
    cx.stages.push(stage(
        "promote",
        None,
        &[("registry head", &record.registry_head_before)],
        &promote_outputs,
        None,
        what.clone(),
    ));
    progress(&Progress {
        stage: "promote",
        outcome: None,
        what: &what,
        seconds: start.elapsed().as_secs_f64(),
    });
    record.state = if all_accepted {
        RunState::Completed
    } else {
        RunState::Rejected
    };
    record.outcomes = outcomes;
    record.stages = std::mem::take(&mut cx.stages);
    output::write_atomically(&run_dir.join(RUN_FILE), &to_json("the run record", record)?)?;
    Ok(Some(all_accepted))
}

/// Train, compile, validate, parity and package one outcome.
fn candidate(
    cx: &mut Context<'_>,
    o: &file::Outcome,
    run_dir: &Path,
    data_path: &Path,
    data_sha256: &str,
    split: &bundle::SplitSummary,
    progress: &mut impl FnMut(&Progress<'_>),
) -> Result<OutcomeRecord, PipelineError> {
    let p = cx.pipeline;
    let name = o.name.as_str();
    let work = run_dir.join("work").join(name);
    output::create_directory(&work)?;
    let say = |progress: &mut dyn FnMut(&Progress<'_>), stage: &str, what: &str, seconds: f64| {
        progress(&Progress {
            stage,
            outcome: Some(name),
            what,
            seconds,
        })
    };

    // Train.
    let (config, config_sha256) = match &o.config {
        Some(path) => (
            train_pipeline::load_config(path).map_err(|source| PipelineError::Train {
                outcome: name.into(),
                source: Box::new(source),
            })?,
            Some(sha256_hex(&read(path)?)),
        ),
        None => (TrainConfig::default(), None),
    };
    let mut config = config;
    config.target = Some(name.into());
    config.train_where = Some(p.train_rule.clone());
    let (trained, seconds) =
        timed(|| train_pipeline::train_model(data_path, &p.schema, config, |_| {}));
    let trained = trained.map_err(|source| PipelineError::Train {
        outcome: name.into(),
        source: Box::new(source),
    })?;
    let record_bytes = to_json("the training record", &trained.record)?;
    let model_path = work.join("model.lsm");
    let record_path = work.join("training.json");
    let mut set = OutputSet::new();
    set.bytes(&model_path, &trained.model)?;
    set.bytes(&record_path, &record_bytes)?;
    set.commit()?;
    let model_sha256 = sha256_hex(&trained.model);
    let record_sha256 = sha256_hex(&record_bytes);
    let r = &trained.record;
    let what = format!(
        "{} trees on {} rows ({} events), test AUC {}",
        r.n_trees,
        r.train.rows,
        r.train.events,
        r.test_auc.map_or("n/a".into(), |a| format!("{a:.4}"))
    );
    let mut train_inputs = vec![("data", data_sha256), ("schema", cx.schema_sha256.as_str())];
    if let Some(c) = &config_sha256 {
        train_inputs.push(("config", c.as_str()));
    }
    cx.stages.push(stage(
        "train",
        Some(name),
        &train_inputs,
        &[
            ("model", &model_sha256),
            ("training record", &record_sha256),
        ],
        None,
        what.clone(),
    ));
    say(progress, "train", &what, seconds);

    // Compile: the trainer wrote engine bytes; load them as a device would.
    let (loaded, seconds) = timed(|| {
        lockstep_engine::Model::from_bytes(&trained.model).map(|m| (m.n_trees(), m.n_features()))
    });
    let (n_trees, n_features) = loaded.map_err(|e| PipelineError::Bundle {
        outcome: name.into(),
        source: Box::new(bundle::BundleError::Model(e)),
    })?;
    let what = format!(
        "{} bytes, {n_trees} trees, {n_features} features, sha256 {}",
        trained.model.len(),
        &model_sha256[..16]
    );
    cx.stages.push(stage(
        "compile",
        Some(name),
        &[("training record", &record_sha256)],
        &[("model", &model_sha256)],
        None,
        what.clone(),
    ));
    say(progress, "compile", &what, seconds);

    // Validate against the accepted model.
    let accepted = cx.accepted.get(name).cloned();
    let (mut plan, plan_bytes) =
        plan::load_plan(&o.plan).map_err(|source| PipelineError::Plan {
            outcome: name.into(),
            source: Box::new(source),
        })?;
    plan.target = Some(name.into());
    plan.rows = Some(p.test_rule.clone());
    let mut notes = Vec::new();
    if accepted.is_none() {
        if let Some(acceptance) = &mut plan.acceptance {
            if acceptance.needs_baseline() {
                acceptance.min_delta_auc_lower = None;
                acceptance.max_delta_brier_upper = None;
                notes.push("no accepted model yet: validated without a baseline (the plan's comparison criteria do not apply)".to_string());
            }
        }
        if notes.is_empty() {
            notes.push("no accepted model yet: validated without a baseline".into());
        }
    }
    let effective_plan = toml::to_string(&plan).map_err(|e| PipelineError::Encode {
        what: "the effective validation plan",
        detail: e.to_string(),
    })?;
    let plan_path = work.join("plan.toml");
    output::write_atomically(&plan_path, effective_plan.as_bytes())?;
    let baseline = accepted
        .as_ref()
        .map(|e| cx.registry.bundle_dir(e).join(bundle::MODEL));
    let inputs = ValidateInputs {
        model: model_path.clone(),
        data: data_path.to_path_buf(),
        schema: p.schema.clone(),
        baseline: baseline.clone(),
        plan: Some(plan_path.clone()),
        training_record: Some(record_path.clone()),
        threads: 0,
    };
    let (validated, seconds) = timed(|| validate::validate(&inputs, |_| {}));
    let validated = validated.map_err(|source| PipelineError::Validate {
        outcome: name.into(),
        source: Box::new(source),
    })?;
    let report_json = validated.json.into_bytes();
    let report_html = validated.html.into_bytes();
    let mut set = OutputSet::new();
    set.bytes(&work.join("report.json"), &report_json)?;
    set.bytes(&work.join("report.html"), &report_html)?;
    set.commit()?;
    let rep = &validated.report;
    let validation = match &rep.verdict {
        Some(v) if v.accepted => "accepted",
        Some(_) => "rejected",
        None => "no criteria",
    };
    let failed: Vec<String> = rep
        .verdict
        .iter()
        .flat_map(|v| {
            v.criteria
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.rule.clone())
        })
        .collect();
    let mut what = format!(
        "AUC {:.4} on {} test rows ({} events)",
        rep.candidate.metrics.auc.auc, rep.counts.rows, rep.counts.events
    );
    match (&accepted, &rep.comparison) {
        (Some(a), Some(c)) => what.push_str(&format!(
            ", versus accepted v{}: delta AUC {:+.4}",
            a.version, c.auc.difference
        )),
        (Some(a), None) => what.push_str(&format!(", versus accepted v{}", a.version)),
        (None, _) => what.push_str(", no accepted model yet (first run): no baseline"),
    }
    what.push_str(&format!(": {validation}"));
    if !failed.is_empty() {
        what.push_str(&format!(" (failed: {})", failed.join("; ")));
    }
    let plan_sha256 = sha256_hex(&plan_bytes);
    let effective_sha256 = sha256_hex(effective_plan.as_bytes());
    let mut validate_inputs = vec![
        ("model", model_sha256.as_str()),
        ("data", data_sha256),
        ("plan", plan_sha256.as_str()),
        ("effective plan", effective_sha256.as_str()),
    ];
    if let Some(a) = &accepted {
        validate_inputs.push(("accepted model", a.model_sha256.as_str()));
    }
    let report_sha256 = sha256_hex(&report_json);
    let html_sha256 = sha256_hex(&report_html);
    notes.insert(0, what.clone());
    cx.stages.push(stage(
        "validate",
        Some(name),
        &validate_inputs,
        &[
            ("report.json", &report_sha256),
            ("report.html", &html_sha256),
        ],
        Some(validation),
        notes.join("; "),
    ));
    say(progress, "validate", &what, seconds);

    // The bundle's version: one more than the accepted one (anti-rollback).
    let version = accepted.as_ref().map_or(1, |e| e.version.saturating_add(1));

    // Parity in QEMU, on the sealed model.
    let (parity_record, parity_verdict) = if p.parity_targets.is_empty() {
        let what = "no parity targets declared: skipped";
        cx.stages.push(stage(
            "parity",
            Some(name),
            &[("model", &model_sha256)],
            &[],
            Some("not run"),
            what.into(),
        ));
        say(progress, "parity", what, 0.0);
        (None, "not run".to_string())
    } else {
        let (result, seconds) = timed(|| -> Result<_, ParityError> {
            let model = lockstep_engine::Model::from_bytes(&trained.model).map_err(|e| {
                ParityError::Run {
                    target: "host".into(),
                    detail: format!("model refused: {e}"),
                }
            })?;
            let vectors = parity::vectors::generate(
                &model,
                parity::vectors::GenerateOptions {
                    random_rows: p.parity_random_rows,
                    seed: PARITY_SEED,
                },
            );
            let targets: Vec<_> = p
                .parity_targets
                .iter()
                .filter_map(|t| parity::target(t))
                .collect();
            let sealed = bundle::seal(&trained.model, version, &cx.secret).map_err(|e| {
                ParityError::Run {
                    target: "host".into(),
                    detail: format!("sealing the model: {e}"),
                }
            })?;
            let options = parity::ParityOptions {
                firmware_dir: parity::default_firmware_dir(),
                work_dir: work.join("parity"),
                corrupt_device_output: false,
                keep_mismatches: 5,
                // The devices get the sealed model and verify it under the signing key before
                // the first score; the firmware accepts this version and later ones.
                seal: Some(parity::SealedInput {
                    sealed,
                    key: parity::qemu::FirmwareKey {
                        public_key: cx.public,
                        min_version: version,
                    },
                }),
                codegen: Vec::new(),
            };
            parity::run(&trained.model, &vectors, &targets, &options, |_| {})
        });
        let rec = result.map_err(|source| PipelineError::Parity {
            outcome: name.into(),
            source: Box::new(source),
        })?;
        let bytes = to_json("the parity record", &rec)?;
        output::write_atomically(&work.join("parity.json"), &bytes)?;
        let exact = rec.all_exact() && rec.seal.as_ref().is_some_and(|s| s.verified_on_device);
        let verdict = if exact { "exact" } else { "mismatch" };
        let what = format!(
            "{} vectors on {}: {}, sealed model v{version} {}",
            rec.n_vectors,
            p.parity_targets.join(", "),
            if exact { "bit-exact" } else { "MISMATCH" },
            if rec.seal.as_ref().is_some_and(|s| s.verified_on_device) {
                "verified on every device before scoring"
            } else {
                "NOT verified on the device"
            }
        );
        cx.stages.push(stage(
            "parity",
            Some(name),
            &[
                ("model", &model_sha256),
                ("vectors", &rec.vector_set_sha256),
            ],
            &[("parity.json", &sha256_hex(&bytes))],
            Some(verdict),
            what.clone(),
        ));
        say(progress, "parity", &what, seconds);
        (Some(bytes), verdict.to_string())
    };

    // Package.
    let bundle_name = format!("{name}-v{version}");
    let bundle_dir = run_dir.join("bundles").join(&bundle_name);
    let package_inputs = PackageInputs {
        model: trained.model.clone(),
        version,
        training_record: record_bytes,
        report_json,
        report_html,
        parity_record,
        schema: cx.schema_bytes.clone(),
        schema_file_name: p.schema.file_name().map_or_else(
            || "schema.toml".into(),
            |n| n.to_string_lossy().into_owned(),
        ),
        split: split.clone(),
    };
    let (packaged, seconds) = timed(|| -> Result<_, PipelineError> {
        let bundle_error = |source| PipelineError::Bundle {
            outcome: name.into(),
            source: Box::new(source),
        };
        if bundle_dir.exists() {
            // An interrupted attempt of this same run packaged it: keep it if identical.
            let (manifest, files) =
                bundle::build(&package_inputs, &cx.secret).map_err(bundle_error)?;
            compare_bundle(&bundle_dir, &files).map_err(|detail| PipelineError::RunFolder {
                path: shown_path(&bundle_dir),
                detail: format!("an earlier attempt left a different bundle ({detail}); move it away and run again"),
            })?;
            Ok(manifest)
        } else {
            output::create_directory(&run_dir.join("bundles"))?;
            bundle::package(&package_inputs, &bundle_dir, &cx.secret, false).map_err(bundle_error)
        }
    });
    let manifest = packaged?;
    let manifest_sha256 = sha256_hex(&read(&bundle_dir.join(bundle::MANIFEST))?);
    let what = format!(
        "bundle bundles/{bundle_name} (version {version}, signed by key {}), validation {validation}, parity {parity_verdict}",
        manifest.model.key_id
    );
    cx.stages.push(stage(
        "package",
        Some(name),
        &[
            ("model", &model_sha256),
            ("report.json", &report_sha256),
            ("training record", &record_sha256),
        ],
        &[
            ("manifest.json", &manifest_sha256),
            ("model.lss", &manifest.model.sealed_sha256),
        ],
        None,
        what.clone(),
    ));
    say(progress, "package", &what, seconds);
    Ok(OutcomeRecord {
        outcome: name.into(),
        candidate_model_sha256: model_sha256,
        accepted_before: accepted.map(|e| AcceptedModel {
            version: e.version,
            model_sha256: e.model_sha256,
            bundle: e.bundle,
        }),
        accepted: validation != "rejected" && parity_verdict != "mismatch",
        validation: validation.into(),
        parity: parity_verdict,
        version,
        bundle: format!("bundles/{bundle_name}"),
        manifest_sha256,
        promotion: String::new(),
    })
}

/// Whether the folder `dir` holds exactly `files`, byte for byte; else the first difference.
fn compare_bundle(dir: &Path, files: &[bundle::BundleFile]) -> Result<(), String> {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| output::describe_read(&e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = files.iter().map(|(n, _)| (*n).to_string()).collect();
    expected.sort();
    if on_disk != expected {
        return Err(format!(
            "it holds {} where {} were expected",
            on_disk.join(", "),
            expected.join(", ")
        ));
    }
    for (name, bytes) in files {
        let disk = std::fs::read(dir.join(name)).map_err(|e| output::describe_read(&e))?;
        if &disk != bytes {
            return Err(format!("{name} differs"));
        }
    }
    Ok(())
}

/// Re-does a finished run in a temporary folder (nothing promoted) and checks that every
/// bundle is byte-identical; returns how many bundles were compared.
fn reproduce(
    cx: &mut Context<'_>,
    previous: &RunRecord,
    run_dir: &Path,
    started: Instant,
    progress: &mut impl FnMut(&Progress<'_>),
) -> Result<usize, PipelineError> {
    progress(&Progress {
        stage: "run",
        outcome: None,
        what: &format!(
            "run {} already {}: re-doing it in a temporary folder to check it reproduces",
            previous.run_id,
            if previous.state == RunState::Completed {
                "completed"
            } else {
                "rejected"
            }
        ),
        seconds: 0.0,
    });
    let temp = run_dir.with_file_name(format!(
        ".{}.reproduce-{}.lockstep-tmp",
        previous.run_id,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&temp);
    let mut record = previous.clone();
    record.stages.clear();
    record.outcomes.clear();
    record.registry_head_after = None;
    let data_path = match previous.resolutions.last() {
        Some(r) if r.action == "corrected_data" => run_dir.join(CORRECTED_DATA),
        _ => cx.pipeline.data.clone(),
    };
    let result = (|| -> Result<usize, PipelineError> {
        execute(
            cx,
            &mut record,
            &temp,
            &data_path,
            previous.resolutions.last(),
            false,
            progress,
        )?;
        let mut compared = 0;
        for (old, new) in previous.outcomes.iter().zip(&record.outcomes) {
            let (a, b) = (run_dir.join(&old.bundle), temp.join(&new.bundle));
            let mut files: Vec<(String, Vec<u8>)> = Vec::new();
            for entry in std::fs::read_dir(&b).map_err(|e| PipelineError::Read {
                path: shown_path(&b),
                cause: output::describe_read(&e),
            })? {
                let entry = entry.map_err(|e| PipelineError::Read {
                    path: shown_path(&b),
                    cause: output::describe_read(&e),
                })?;
                files.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    read(&entry.path())?,
                ));
            }
            let mut on_disk: Vec<String> = std::fs::read_dir(&a)
                .map_err(|e| PipelineError::Read {
                    path: shown_path(&a),
                    cause: output::describe_read(&e),
                })?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            on_disk.sort();
            files.sort();
            let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
            let differs = if on_disk != names || old.bundle != new.bundle {
                Some(format!("{}: the files differ", old.bundle))
            } else {
                files.iter().find_map(|(n, bytes)| {
                    (std::fs::read(a.join(n)).ok().as_ref() != Some(bytes))
                        .then(|| format!("{}/{n} differs", old.bundle))
                })
            };
            if let Some(detail) = differs {
                return Err(PipelineError::NotReproduced {
                    run_id: previous.run_id.clone(),
                    detail,
                });
            }
            compared += 1;
        }
        if compared != previous.outcomes.len() {
            return Err(PipelineError::NotReproduced {
                run_id: previous.run_id.clone(),
                detail: "the outcomes differ".into(),
            });
        }
        Ok(compared)
    })();
    let _ = std::fs::remove_dir_all(&temp);
    let compared = result?;
    progress(&Progress {
        stage: "run",
        outcome: None,
        what: &format!(
            "run {} reproduced: {compared} bundles byte-identical",
            previous.run_id
        ),
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(compared)
}

/// How `pipeline resolve` resolves a halted run.
#[derive(Debug, Clone)]
pub enum ResolveAction {
    /// A corrected data file.
    CorrectedData(PathBuf),
    /// Accept the listed (drift-only) anomalies.
    AcceptAnomalies,
}

/// Records a resolution of the halted run in `run_dir`; the next `pipeline run` continues it.
pub fn resolve(
    run_dir: &Path,
    by: &str,
    note: &str,
    action: &ResolveAction,
) -> Result<Resolution, PipelineError> {
    if by.trim().is_empty() {
        return Err(PipelineError::Resolve(
            "--by must name who resolves the run".into(),
        ));
    }
    if note.trim().is_empty() {
        return Err(PipelineError::Resolve(
            "--note must say what was resolved and why".into(),
        ));
    }
    let record = read_record(run_dir)?.ok_or_else(|| PipelineError::RunFolder {
        path: shown_path(run_dir),
        detail: format!("there is no {RUN_FILE}: give the folder of a run (OUT/runs/<run-id>)"),
    })?;
    if record.state != RunState::Halted {
        return Err(PipelineError::Resolve(format!(
            "run {} is {}, not halted: only a run the data check halted is resolved",
            record.run_id,
            serde_json::to_value(record.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )));
    }
    let check = record
        .check
        .as_ref()
        .ok_or_else(|| PipelineError::RunFolder {
            path: shown_path(run_dir),
            detail: "the run record has no data check".into(),
        })?;
    let mut all = read_resolutions(run_dir)?;
    let mut set = OutputSet::new();
    let resolution = match action {
        ResolveAction::AcceptAnomalies => {
            let row_level: Vec<String> = check
                .anomalies
                .iter()
                .filter(|a| a.row_level)
                .map(|a| format!("{} {} ({} rows)", a.column, a.rule, a.count))
                .collect();
            if !row_level.is_empty() {
                return Err(PipelineError::Resolve(format!(
                    "--accept-anomalies refused: the run halted on row-level anomalies that training cannot use ({}); give a corrected file with --data CORRECTED.csv",
                    row_level.join("; ")
                )));
            }
            Resolution {
                by: by.into(),
                note: note.into(),
                action: "accepted_anomalies".into(),
                data_sha256: None,
                check_sha256: check.report_sha256.clone(),
            }
        }
        ResolveAction::CorrectedData(path) => {
            let bytes = read(path)?;
            set.bytes(&run_dir.join(CORRECTED_DATA), &bytes)?;
            Resolution {
                by: by.into(),
                note: note.into(),
                action: "corrected_data".into(),
                data_sha256: Some(sha256_hex(&bytes)),
                check_sha256: check.report_sha256.clone(),
            }
        }
    };
    all.push(resolution.clone());
    set.bytes(
        &run_dir.join(RESOLUTION_FILE),
        &to_json("the resolutions", &all)?,
    )?;
    set.commit()?;
    Ok(resolution)
}

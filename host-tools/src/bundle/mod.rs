//! Locked, signed bundles: one folder per accepted (or rejected) candidate that carries the
//! model, its seal, its provenance and its evidence out of the restricted environment, with
//! nothing that identifies a patient.
//!
//! A bundle holds exactly these files ([`FILE_NAMES`]): `model.lsm` (the compiled model),
//! `model.lss` (the same bytes sealed by `lockstep_seal` with an anti-rollback version),
//! `manifest.json` ([`Manifest`]), `manifest.sig` (the 64-byte Ed25519 signature over the exact
//! bytes of `manifest.json`), `training.json` (the training record), `report.json` and
//! `report.html` (validation), `parity.json` (optional: the parity record), `schema.toml` and
//! `sbom.cdx.json` (CycloneDX 1.5, [`sbom`]). The manifest lists every other file with its
//! SHA-256 and size, so the one signature covers every byte.
//!
//! [`package`] writes a bundle atomically (a temporary folder renamed into place, see
//! `output::write_directory`): a failed run leaves no folder and never touches an existing
//! one unless asked to replace it. It holds no time and no path, and Ed25519 signatures are
//! deterministic: the same inputs give the same bytes. [`verify()`] checks a bundle (see
//! the [`mod@verify`] module for the rules, including the one on row-level data).

pub mod manifest;
pub mod reproduce;
pub mod sbom;
pub mod verify;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::data::Dataset;
use crate::inspect::hex;
use crate::keys::{self, SecretKey};
use crate::output::{self, OutputError};
use crate::train::record::{PartCounts, SettingsInEffect};
pub use manifest::{Manifest, SplitSummary};
pub use reproduce::{reproduce, ReproduceError, Reproduction};
pub use verify::{verify, Failure, VerifiedBundle, VerifyError};

/// `model.lsm`.
pub const MODEL: &str = "model.lsm";
/// `model.lss`.
pub const SEALED: &str = "model.lss";
/// `manifest.json`.
pub const MANIFEST: &str = "manifest.json";
/// `manifest.sig`.
pub const SIGNATURE: &str = "manifest.sig";
/// `training.json`.
pub const TRAINING: &str = "training.json";
/// `report.json`.
pub const REPORT_JSON: &str = "report.json";
/// `report.html`.
pub const REPORT_HTML: &str = "report.html";
/// `parity.json` (optional).
pub const PARITY: &str = "parity.json";
/// `schema.toml`.
pub const SCHEMA: &str = "schema.toml";
/// `sbom.cdx.json`.
pub const SBOM: &str = "sbom.cdx.json";
/// Every name a bundle may hold.
pub const FILE_NAMES: [&str; 10] = [
    MODEL,
    SEALED,
    MANIFEST,
    SIGNATURE,
    TRAINING,
    REPORT_JSON,
    REPORT_HTML,
    PARITY,
    SCHEMA,
    SBOM,
];

/// The git commit this tool was built from (`unknown` without git), captured by `build.rs`.
pub const GIT_COMMIT: &str = env!("LOCKSTEP_GIT_COMMIT");

/// What a bundle is made of. The pipeline fills it from its stages: the train stage's model
/// and record, the split it used, the validate stage's report, the parity stage's record.
#[derive(Debug, Clone)]
pub struct PackageInputs {
    /// The compiled model bytes (`.lsm`), exactly as trained.
    pub model: Vec<u8>,
    /// The anti-rollback version to seal with (monotonic per outcome).
    pub version: u32,
    /// The training record's bytes (`MODEL.training.json`).
    pub training_record: Vec<u8>,
    /// `report.json` of the validation.
    pub report_json: Vec<u8>,
    /// `report.html` of the validation.
    pub report_html: Vec<u8>,
    /// The parity record (`lockstep parity --record`), if parity ran.
    pub parity_record: Option<Vec<u8>>,
    /// The schema file's bytes.
    pub schema: Vec<u8>,
    /// The schema file's name when the model was trained (part of the model's label).
    pub schema_file_name: String,
    /// The split (see [`split_summary`]).
    pub split: SplitSummary,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The model bytes do not load in the engine.
    #[error("the model does not load: {0}")]
    Model(lockstep_engine::Error),
    /// An input is not what it should be, or inputs disagree.
    #[error("{file}: {detail}")]
    Input {
        /// Which input (a bundle file name).
        file: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A file would carry row-level data (see the [`mod@verify`] module's rule 5): nothing is written.
    #[error("the bundle would carry row-level data, nothing written:\n{}", .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    RowLevelData(Vec<Failure>),
    /// Sealing failed.
    #[error("sealing the model: {0}")]
    Seal(lockstep_seal::SealError),
    /// The SBOM could not be made.
    #[error(transparent)]
    Sbom(#[from] sbom::SbomError),
    /// Writing the folder failed or was refused.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The fields of a training record a bundle reads.
#[derive(Deserialize)]
pub(crate) struct RecordFields {
    pub(crate) model_sha256: String,
    pub(crate) data_sha256: String,
    pub(crate) schema_sha256: String,
    pub(crate) target: String,
    pub(crate) config: SettingsInEffect,
    pub(crate) train: PartCounts,
    pub(crate) valid: PartCounts,
    pub(crate) test: PartCounts,
}

pub(crate) fn read_record(bytes: &[u8]) -> Result<RecordFields, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a training record: {e}"))
}

/// The validation verdict of a report: `accepted`, `rejected` or `no criteria`, and the model
/// checksum the report's candidate names.
pub(crate) fn report_facts(bytes: &[u8]) -> Result<(String, String), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a validation report: {e}"))?;
    let verdict = match &value["verdict"] {
        serde_json::Value::Null => "no criteria".to_string(),
        v => match v["accepted"].as_bool() {
            Some(true) => "accepted".into(),
            Some(false) => "rejected".into(),
            None => return Err("the verdict has no `accepted`".into()),
        },
    };
    let model = value["candidate"]["model"]["sha256"]
        .as_str()
        .ok_or("no candidate.model.sha256: not a validation report")?
        .to_string();
    Ok((verdict, model))
}

/// The parity verdict (`exact` or `mismatch`) and the model checksum the record names.
pub(crate) fn parity_facts(bytes: &[u8]) -> Result<(String, String), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a parity record: {e}"))?;
    let targets = value["targets"]
        .as_array()
        .ok_or("no targets: not a parity record")?;
    let exact = !targets.is_empty()
        && targets.iter().all(|t| {
            t["mismatched_values"].as_u64() == Some(0) && t["rows"].as_u64().is_some_and(|r| r > 0)
        });
    let model = value["model_sha256"]
        .as_str()
        .ok_or("no model_sha256: not a parity record")?
        .to_string();
    Ok((if exact { "exact" } else { "mismatch" }.into(), model))
}

/// The sealed model (`model.lss`) of `model` at `version` under `secret`: the bytes a bundle
/// holds (Ed25519 is deterministic, so the pipeline's parity stage hands devices the same bytes
/// before packaging).
pub fn seal(model: &[u8], version: u32, secret: &SecretKey) -> Result<Vec<u8>, BundleError> {
    let mut sealed = vec![0u8; lockstep_seal::sealed_len(model.len()).unwrap_or(0)];
    let n =
        lockstep_seal::seal_into(model, version, secret, &mut sealed).map_err(BundleError::Seal)?;
    sealed.truncate(n);
    Ok(sealed)
}

/// One file of a bundle: its name and bytes.
pub type BundleFile = (&'static str, Vec<u8>);

/// Builds the manifest and every file of the bundle (name, bytes), `manifest.sig` included,
/// checking that the inputs agree with each other. Writes nothing.
pub fn build(
    inputs: &PackageInputs,
    secret: &SecretKey,
) -> Result<(Manifest, Vec<BundleFile>), BundleError> {
    let input = |file: &'static str, detail: String| BundleError::Input { file, detail };
    let model = lockstep_engine::Model::from_bytes(&inputs.model).map_err(BundleError::Model)?;
    let engine_checksum = hex(&model.checksum());
    let record = read_record(&inputs.training_record).map_err(|d| input(TRAINING, d))?;
    if record.model_sha256 != engine_checksum {
        return Err(input(
            TRAINING,
            format!(
                "the record is of model {}, not of this model ({engine_checksum})",
                record.model_sha256
            ),
        ));
    }
    let schema_sha256 = sha256_hex(&inputs.schema);
    if record.schema_sha256 != schema_sha256 {
        return Err(input(
            SCHEMA,
            "the schema is not the one the model was trained with".into(),
        ));
    }
    let (verdict, report_model) =
        report_facts(&inputs.report_json).map_err(|d| input(REPORT_JSON, d))?;
    if report_model != engine_checksum {
        return Err(input(
            REPORT_JSON,
            format!("the report validates model {report_model}, not this one"),
        ));
    }
    let parity = match &inputs.parity_record {
        Some(bytes) => {
            let (verdict, parity_model) = parity_facts(bytes).map_err(|d| input(PARITY, d))?;
            if parity_model != engine_checksum {
                return Err(input(
                    PARITY,
                    format!("the record is of model {parity_model}, not this one"),
                ));
            }
            manifest::ParityEntry {
                verdict,
                record_sha256: Some(sha256_hex(bytes)),
            }
        }
        None => manifest::ParityEntry {
            verdict: "not run".into(),
            record_sha256: None,
        },
    };
    if inputs.schema_file_name.contains(['/', '\\']) || inputs.schema_file_name.is_empty() {
        return Err(input(
            SCHEMA,
            "the schema's file name must be a plain name, without directories".into(),
        ));
    }
    let sealed = seal(&inputs.model, inputs.version, secret)?;
    let sbom = sbom::cyclonedx()?;

    let mut files: Vec<(&'static str, Vec<u8>)> = vec![
        (MODEL, inputs.model.clone()),
        (SEALED, sealed.clone()),
        (TRAINING, inputs.training_record.clone()),
        (REPORT_JSON, inputs.report_json.clone()),
        (REPORT_HTML, inputs.report_html.clone()),
        (SCHEMA, inputs.schema.clone()),
        (SBOM, sbom.into_bytes()),
    ];
    if let Some(bytes) = &inputs.parity_record {
        files.push((PARITY, bytes.clone()));
    }
    let listed: BTreeMap<String, manifest::FileEntry> = files
        .iter()
        .map(|(name, bytes)| {
            (
                (*name).to_string(),
                manifest::FileEntry {
                    sha256: sha256_hex(bytes),
                    size: bytes.len() as u64,
                },
            )
        })
        .collect();
    let public = keys::public_of(secret);
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        outcome: record.target.clone(),
        model: manifest::ModelEntry {
            version: inputs.version,
            sha256: sha256_hex(&inputs.model),
            engine_checksum,
            sealed_sha256: sha256_hex(&sealed),
            key_id: keys::key_id_hex(&public),
        },
        data: manifest::DataEntry {
            sha256: record.data_sha256.clone(),
            split: inputs.split.clone(),
            parts: manifest::Parts {
                train: record.train.clone(),
                valid: record.valid.clone(),
                test: record.test.clone(),
            },
        },
        schema: manifest::SchemaEntry {
            sha256: schema_sha256,
            file_name: inputs.schema_file_name.clone(),
        },
        training: manifest::TrainingEntry {
            seed: record.config.seed(),
            settings: record.config,
            record_sha256: sha256_hex(&inputs.training_record),
        },
        lockstep: manifest::ToolEntry {
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: GIT_COMMIT.into(),
        },
        validation: manifest::ValidationEntry {
            verdict,
            report_json_sha256: sha256_hex(&inputs.report_json),
            report_html_sha256: sha256_hex(&inputs.report_html),
        },
        parity,
        files: listed,
    };
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| input(MANIFEST, e.to_string()))? + "\n";
    let signature = lockstep_seal::sign_detached(json.as_bytes(), secret);
    files.push((MANIFEST, json.into_bytes()));
    files.push((SIGNATURE, signature.to_vec()));
    files.sort_by_key(|(name, _)| *name);
    let leaks = verify::row_level_failures(&manifest, |name| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_slice())
    });
    if !leaks.is_empty() {
        return Err(BundleError::RowLevelData(leaks));
    }
    Ok((manifest, files))
}

/// Writes the bundle folder `out_dir` atomically and returns its manifest. An existing
/// `out_dir` is refused unless `replace`.
pub fn package(
    inputs: &PackageInputs,
    out_dir: &Path,
    secret: &SecretKey,
    replace: bool,
) -> Result<Manifest, BundleError> {
    let (manifest, files) = build(inputs, secret)?;
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    output::write_directory(out_dir, &borrowed, replace)?;
    Ok(manifest)
}

/// The split of `dataset` into the rows where `in_train` holds and the others under `rule`:
/// each side's row set hashed (the id column's values if the schema declares one, sorted
/// bytewise, each followed by a newline; else the 1-based row numbers) and each side's range
/// of `date_column` (a split or feature column; missing values skipped).
pub fn split_summary(
    dataset: &Dataset,
    rule: &str,
    in_train: &[bool],
    date_column: Option<&str>,
) -> Result<SplitSummary, crate::data::DataError> {
    let side = |train: bool| -> Vec<usize> {
        (0..dataset.n_rows)
            .filter(|&r| in_train.get(r).copied().unwrap_or(false) == train)
            .collect()
    };
    let hash_rows = |rows: &[usize]| -> String {
        let mut keys: Vec<String> = match &dataset.ids {
            Some(ids) => rows.iter().map(|&r| ids.values[r].clone()).collect(),
            None => rows.iter().map(|&r| (r + 1).to_string()).collect(),
        };
        keys.sort();
        let mut hasher = Sha256::new();
        for key in &keys {
            hasher.update(key.as_bytes());
            hasher.update(b"\n");
        }
        hex(&hasher.finalize())
    };
    let column = date_column.map(|c| dataset.require_column(c)).transpose()?;
    let range = |rows: &[usize]| -> Option<[f64; 2]> {
        let column = column?;
        let values = rows.iter().map(|&r| column[r]).filter(|v| !v.is_nan());
        values.fold(None, |acc: Option<[f64; 2]>, v| {
            let v = f64::from(v);
            Some(acc.map_or([v, v], |[lo, hi]| [lo.min(v), hi.max(v)]))
        })
    };
    let (train, test) = (side(true), side(false));
    Ok(SplitSummary {
        rule: rule.into(),
        basis: if dataset.ids.is_some() {
            "id"
        } else {
            "row-number"
        }
        .into(),
        train_rows_sha256: hash_rows(&train),
        test_rows_sha256: hash_rows(&test),
        date_column: date_column.map(str::to_string),
        train_range: range(&train),
        test_range: range(&test),
    })
}

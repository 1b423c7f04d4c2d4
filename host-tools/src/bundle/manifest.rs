//! `manifest.json`: what a bundle holds and where it came from. Field names are the JSON keys
//! (renaming one changes the format); maps are `BTreeMap`s and nothing holds a time or a path,
//! so the same inputs give the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::train::record::{PartCounts, SettingsInEffect};

/// The manifest's format tag.
pub const FORMAT: &str = "lockstep-bundle/1";

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The outcome the model predicts.
    pub outcome: String,
    /// The model.
    pub model: ModelEntry,
    /// The data it was trained and tested on.
    pub data: DataEntry,
    /// The schema (`schema.toml`).
    pub schema: SchemaEntry,
    /// The training settings in effect.
    pub training: TrainingEntry,
    /// The tool that built it.
    pub lockstep: ToolEntry,
    /// The validation report.
    pub validation: ValidationEntry,
    /// The parity record.
    pub parity: ParityEntry,
    /// Every other file of the bundle: name to hash and size.
    pub files: BTreeMap<String, FileEntry>,
}

/// The model's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The anti-rollback version sealed into `model.lss`.
    pub version: u32,
    /// SHA-256 of `model.lsm` (the file's bytes).
    pub sha256: String,
    /// The engine's checksum stored in the model (its identity in reports and records).
    pub engine_checksum: String,
    /// SHA-256 of `model.lss`.
    pub sealed_sha256: String,
    /// The signing key's id (16 hex digits).
    pub key_id: String,
}

/// The data's identity and its split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataEntry {
    /// SHA-256 of the data CSV.
    pub sha256: String,
    /// How the rows were split.
    pub split: SplitSummary,
    /// Rows and events per part (from the training record).
    pub parts: Parts,
}

/// Rows and events of each part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    /// Rows that trained.
    pub train: PartCounts,
    /// Rows held out of training for early stopping (gbdt).
    pub valid: PartCounts,
    /// Held-out test rows.
    pub test: PartCounts,
}

/// The split of the data: its rule, the identity of each side's row set, and each side's date
/// range. The caller (the pipeline) computes it; [`super::split_summary`] does it from a
/// loaded dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSummary {
    /// The rule, e.g. `surgery_year <= 2015` (rows that train; the others test).
    pub rule: String,
    /// What the row-set hashes cover: `"id"` (the id column's values) or `"row-number"`.
    pub basis: String,
    /// SHA-256 of the training side's row set (train and valid rows).
    pub train_rows_sha256: String,
    /// SHA-256 of the test side's row set.
    pub test_rows_sha256: String,
    /// The column the date ranges are of (the schema's split column), if any.
    pub date_column: Option<String>,
    /// `[min, max]` of the date column over the training side.
    pub train_range: Option<[f64; 2]>,
    /// `[min, max]` of the date column over the test side.
    pub test_range: Option<[f64; 2]>,
}

/// The schema's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaEntry {
    /// SHA-256 of `schema.toml`.
    pub sha256: String,
    /// The schema's file name when the model was trained: the trainer writes it into the
    /// model's label, so reproducing the bytes needs it.
    pub file_name: String,
}

/// The training settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingEntry {
    /// The settings in effect, as the training record holds them.
    pub settings: SettingsInEffect,
    /// The seed of the trained kind.
    pub seed: u64,
    /// SHA-256 of `training.json`.
    pub record_sha256: String,
}

impl PartialEq for TrainingEntry {
    fn eq(&self, other: &Self) -> bool {
        // SettingsInEffect has no PartialEq (its tables hold floats); its JSON decides.
        self.seed == other.seed
            && self.record_sha256 == other.record_sha256
            && serde_json::to_string(&self.settings).ok()
                == serde_json::to_string(&other.settings).ok()
    }
}

/// The tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolEntry {
    /// Lockstep's version.
    pub version: String,
    /// The git commit the tool was built from, or `unknown`.
    pub git_commit: String,
}

/// The validation report's verdict and identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationEntry {
    /// `accepted`, `rejected` or `no criteria`.
    pub verdict: String,
    /// SHA-256 of `report.json`.
    pub report_json_sha256: String,
    /// SHA-256 of `report.html`.
    pub report_html_sha256: String,
}

/// The parity record's verdict and identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParityEntry {
    /// `exact`, `mismatch` or `not run`.
    pub verdict: String,
    /// SHA-256 of `parity.json`, if parity ran.
    pub record_sha256: Option<String>,
}

/// A file's hash and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

//! `lockstep bundle verify`: everything a receiver checks before trusting a bundle.
//!
//! 1. **Files.** Only the names of [`super::FILE_NAMES`], each a regular file; every file but
//!    `manifest.json` and `manifest.sig` is listed in the manifest's `files` with its SHA-256 and
//!    size, and every listed file is there with that hash and size.
//! 2. **Signature.** `manifest.sig` is a strict Ed25519 signature over the exact bytes of
//!    `manifest.json` by the given public key.
//! 3. **Model.** `model.lss` opens with the key; its inner bytes are `model.lsm`, its version
//!    and key id are the manifest's; `model.lsm` loads in the engine with the manifest's checksum.
//! 4. **Agreement.** The training record, the validation report and the parity record name this
//!    model, the manifest's data, schema and outcome, and the manifest's verdicts are theirs.
//! 5. **No row-level patient data.** A bundle carries aggregates only. Beyond rule 1 (no CSV or
//!    any other file can be in it), every JSON file is walked: no object key is the schema's id
//!    column; no array is longer than [`MAX_AGGREGATE_ITEMS`], except a ROC curve (`roc`: at
//!    most one point per validated row plus one, each point only `threshold`, `fpr`, `tpr`, with
//!    `fpr` and `tpr` never decreasing, so it holds cumulative rates and no row) and the
//!    training record's `rounds` (at most [`crate::limits::MAX_TREES`]); and no array has as
//!    many items as a part of the data has rows (above 64), which is the shape of a per-row
//!    vector. `report.html` (rendered from `report.json`) has at most [`MAX_AGGREGATE_ITEMS`]
//!    table rows. The training record and the validation report are aggregates by construction
//!    (counts, summaries, curves, coefficients: `train/record.rs`, `validate/mod.rs`); the rule
//!    catches a file that is not.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::manifest::Manifest;
use super::{
    parity_facts, read_record, report_facts, sha256_hex, FILE_NAMES, MANIFEST, MODEL, PARITY,
    REPORT_HTML, REPORT_JSON, SBOM, SCHEMA, SEALED, SIGNATURE, TRAINING,
};
use crate::inspect::hex;
use crate::keys::{self, PublicKey};

/// The longest array an aggregate file may hold (a ROC curve and training rounds excepted): the
/// longest list a validation plan can ask for (its decision-curve thresholds).
pub const MAX_AGGREGATE_ITEMS: usize = crate::limits::MAX_DECISION_THRESHOLDS;

/// One rule a bundle breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The file (a bundle file name, or the folder).
    pub file: String,
    /// The rule: `files`, `hash`, `signature`, `model`, `agreement`, `row-level data`.
    pub rule: &'static str,
    /// What is wrong.
    pub detail: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.rule, self.detail)
    }
}

/// Why a bundle is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Every rule broken, one line each.
    #[error("the bundle fails {} check(s):\n{}", .0.len(), .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Failed(Vec<Failure>),
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The exact bytes of `manifest.json` (what the signature covers).
    pub manifest_bytes: Vec<u8>,
}

struct Checks {
    failures: Vec<Failure>,
}

impl Checks {
    fn fail(&mut self, file: &str, rule: &'static str, detail: impl Into<String>) {
        self.failures.push(Failure {
            file: file.into(),
            rule,
            detail: detail.into(),
        });
    }

    fn same(&mut self, file: &str, what: &str, found: &str, manifest: &str) {
        if found != manifest {
            self.fail(
                file,
                "agreement",
                format!("{what} is {found}, the manifest says {manifest}"),
            );
        }
    }
}

/// Checks the bundle in `dir` against `public_key`; every broken rule is listed.
pub fn verify(dir: &Path, public_key: &PublicKey) -> Result<VerifiedBundle, VerifyError> {
    let mut c = Checks {
        failures: Vec::new(),
    };
    let folder = crate::text::shown_path(dir);
    let read = |c: &mut Checks, name: &str| -> Option<Vec<u8>> {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                c.fail(name, "files", crate::output::describe_read(&e));
                None
            }
        }
    };

    // 1. Only known names, regular files.
    let mut present: Vec<String> = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let Ok(entry) = entry else {
                    c.fail(&folder, "files", "cannot list the folder");
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                let shown = crate::text::shown(&name).to_string();
                if !FILE_NAMES.contains(&name.as_str()) {
                    c.fail(&shown, "files", "not a bundle file (a bundle holds only its known files; no CSV or other data)");
                } else if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    c.fail(&shown, "files", "not a regular file");
                } else {
                    present.push(name);
                }
            }
        }
        Err(e) => {
            c.fail(&folder, "files", crate::output::describe_read(&e));
            return Err(VerifyError::Failed(c.failures));
        }
    }

    // 2. The signature over the exact manifest bytes.
    let Some(manifest_bytes) = read(&mut c, MANIFEST) else {
        return Err(VerifyError::Failed(c.failures));
    };
    if let Some(sig) = read(&mut c, SIGNATURE) {
        match <[u8; 64]>::try_from(sig.as_slice()) {
            Ok(sig) => {
                if let Err(e) = lockstep_seal::verify_detached(&manifest_bytes, &sig, public_key) {
                    c.fail(
                        SIGNATURE,
                        "signature",
                        format!("{e} (key {})", keys::key_id_hex(public_key)),
                    );
                }
            }
            Err(_) => c.fail(SIGNATURE, "signature", "not a 64-byte Ed25519 signature"),
        }
    }
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            c.fail(MANIFEST, "agreement", format!("not a bundle manifest: {e}"));
            return Err(VerifyError::Failed(c.failures));
        }
    };
    if manifest.format != super::manifest::FORMAT {
        c.fail(
            MANIFEST,
            "agreement",
            format!("unknown format {}", crate::text::shown(&manifest.format)),
        );
    }

    // 1 (continued). Listed files: present with their hash and size; present files listed.
    for name in &present {
        if name != MANIFEST && name != SIGNATURE && !manifest.files.contains_key(name) {
            c.fail(name, "files", "present but not listed in the manifest");
        }
    }
    let required = [
        MODEL,
        SEALED,
        TRAINING,
        REPORT_JSON,
        REPORT_HTML,
        SCHEMA,
        SBOM,
    ];
    for name in required {
        if !manifest.files.contains_key(name) {
            c.fail(name, "files", "a bundle must list it");
        }
    }
    let mut bytes_of = std::collections::BTreeMap::new();
    for (name, entry) in &manifest.files {
        let shown = crate::text::shown(name).to_string();
        if !FILE_NAMES.contains(&name.as_str()) || name == MANIFEST || name == SIGNATURE {
            c.fail(&shown, "files", "listed but not a bundle file");
            continue;
        }
        let Some(bytes) = read(&mut c, name) else {
            continue;
        };
        if bytes.len() as u64 != entry.size {
            c.fail(
                &shown,
                "hash",
                format!("{} bytes, the manifest says {}", bytes.len(), entry.size),
            );
        }
        let sha = sha256_hex(&bytes);
        if sha != entry.sha256 {
            c.fail(
                &shown,
                "hash",
                format!("SHA-256 {sha}, the manifest says {}", entry.sha256),
            );
        }
        bytes_of.insert(name.as_str(), bytes);
    }
    let get = |name: &str| bytes_of.get(name).map(Vec::as_slice);

    // 3. The model and its seal.
    let mut checksum = None;
    if let Some(model) = get(MODEL) {
        c.same(
            MODEL,
            "its SHA-256",
            &sha256_hex(model),
            &manifest.model.sha256,
        );
        match lockstep_engine::Model::from_bytes(model) {
            Ok(m) => {
                let sum = hex(&m.checksum());
                c.same(
                    MODEL,
                    "its engine checksum",
                    &sum,
                    &manifest.model.engine_checksum,
                );
                checksum = Some(sum);
            }
            Err(e) => c.fail(MODEL, "model", format!("does not load in the engine: {e}")),
        }
        if let Some(sealed) = get(SEALED) {
            c.same(
                SEALED,
                "its SHA-256",
                &sha256_hex(sealed),
                &manifest.model.sealed_sha256,
            );
            match lockstep_seal::open(sealed, public_key, 0) {
                Ok(opened) => {
                    if opened.model != model {
                        c.fail(SEALED, "model", "the sealed bytes are not model.lsm");
                    }
                    if opened.version != manifest.model.version {
                        c.fail(
                            SEALED,
                            "agreement",
                            format!(
                                "version {}, the manifest says {}",
                                opened.version, manifest.model.version
                            ),
                        );
                    }
                }
                Err(e) => c.fail(SEALED, "signature", e.to_string()),
            }
        }
    }
    c.same(
        MANIFEST,
        "the key id",
        &manifest.model.key_id,
        &keys::key_id_hex(public_key),
    );

    // 4. The records agree with the manifest.
    let schema_sha = get(SCHEMA).map(sha256_hex);
    if let Some(schema_sha) = &schema_sha {
        c.same(SCHEMA, "its SHA-256", schema_sha, &manifest.schema.sha256);
    }
    if let Some(record) = get(TRAINING) {
        c.same(
            TRAINING,
            "its SHA-256",
            &sha256_hex(record),
            &manifest.training.record_sha256,
        );
        match read_record(record) {
            Ok(r) => {
                if let Some(sum) = &checksum {
                    c.same(TRAINING, "the record's model", &r.model_sha256, sum);
                }
                c.same(
                    TRAINING,
                    "the record's data",
                    &r.data_sha256,
                    &manifest.data.sha256,
                );
                c.same(
                    TRAINING,
                    "the record's schema",
                    &r.schema_sha256,
                    &manifest.schema.sha256,
                );
                c.same(
                    TRAINING,
                    "the record's outcome",
                    &r.target,
                    &manifest.outcome,
                );
                let json = |s| serde_json::to_string(s).unwrap_or_default();
                c.same(
                    TRAINING,
                    "the settings",
                    &json(&r.config),
                    &json(&manifest.training.settings),
                );
                if (r.train, r.valid, r.test)
                    != (
                        manifest.data.parts.train.clone(),
                        manifest.data.parts.valid.clone(),
                        manifest.data.parts.test.clone(),
                    )
                {
                    c.fail(
                        TRAINING,
                        "agreement",
                        "the row and event counts differ from the manifest's",
                    );
                }
            }
            Err(e) => c.fail(TRAINING, "agreement", e),
        }
    }
    if let Some(report) = get(REPORT_JSON) {
        c.same(
            REPORT_JSON,
            "its SHA-256",
            &sha256_hex(report),
            &manifest.validation.report_json_sha256,
        );
        match report_facts(report) {
            Ok((verdict, model)) => {
                c.same(
                    REPORT_JSON,
                    "the verdict",
                    &verdict,
                    &manifest.validation.verdict,
                );
                if let Some(sum) = &checksum {
                    c.same(REPORT_JSON, "the validated model", &model, sum);
                }
            }
            Err(e) => c.fail(REPORT_JSON, "agreement", e),
        }
    }
    if let Some(html) = get(REPORT_HTML) {
        c.same(
            REPORT_HTML,
            "its SHA-256",
            &sha256_hex(html),
            &manifest.validation.report_html_sha256,
        );
    }
    match (get(PARITY), &manifest.parity.record_sha256) {
        (Some(parity), Some(sha)) => {
            c.same(PARITY, "its SHA-256", &sha256_hex(parity), sha);
            match parity_facts(parity) {
                Ok((verdict, model)) => {
                    c.same(PARITY, "the verdict", &verdict, &manifest.parity.verdict);
                    if let Some(sum) = &checksum {
                        c.same(PARITY, "the model", &model, sum);
                    }
                }
                Err(e) => c.fail(PARITY, "agreement", e),
            }
        }
        (None, None) => c.same(
            MANIFEST,
            "the parity verdict",
            &manifest.parity.verdict,
            "not run",
        ),
        _ => c.fail(
            PARITY,
            "agreement",
            "the parity record and the manifest's parity entry disagree",
        ),
    }

    // 5. No row-level patient data.
    let schema = get(SCHEMA).map(|bytes| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| crate::data::parse_schema(text, Path::new(SCHEMA)).ok())
    });
    if let Some(None) = schema {
        // A schema that does not parse cannot name the id column: refuse rather than guess.
        c.fail(SCHEMA, "row-level data", "not a readable schema");
    }
    let id_column = schema.flatten().and_then(|s| s.id).map(|id| id.name);
    let parts = &manifest.data.parts;
    let row_counts: Vec<usize> = [
        parts.train.rows,
        parts.valid.rows,
        parts.test.rows,
        parts.train.rows + parts.valid.rows,
    ]
    .into_iter()
    .filter(|&n| n > 64)
    .collect();
    let roc_cap = get(REPORT_JSON)
        .and_then(|r| serde_json::from_slice::<Value>(r).ok())
        .and_then(|v| v["counts"]["rows_in_file"].as_u64())
        .map_or(MAX_AGGREGATE_ITEMS, |n| n as usize + 1);
    let rules = RowRules {
        id_column: id_column.as_deref(),
        row_counts: &row_counts,
        roc_cap,
    };
    let mut json_files = vec![(MANIFEST, manifest_bytes.as_slice())];
    json_files.extend(
        [TRAINING, REPORT_JSON, PARITY, SBOM]
            .into_iter()
            .filter_map(|n| get(n).map(|b| (n, b))),
    );
    for (name, bytes) in json_files {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => {
                for problem in rules.check(&value) {
                    c.fail(name, "row-level data", problem);
                }
            }
            Err(e) => c.fail(name, "row-level data", format!("not JSON: {e}")),
        }
    }
    if let Some(html) = get(REPORT_HTML) {
        let rows = String::from_utf8_lossy(html).matches("<tr").count();
        if rows > MAX_AGGREGATE_ITEMS {
            c.fail(
                REPORT_HTML,
                "row-level data",
                format!(
                    "{rows} table rows, more than an aggregate report has ({MAX_AGGREGATE_ITEMS})"
                ),
            );
        }
    }

    if c.failures.is_empty() {
        Ok(VerifiedBundle {
            dir: dir.to_path_buf(),
            manifest,
            manifest_bytes,
        })
    } else {
        Err(VerifyError::Failed(c.failures))
    }
}

/// The row-level data rule for JSON files (see the module docs).
pub struct RowRules<'a> {
    /// The schema's id column, if it declares one.
    pub id_column: Option<&'a str>,
    /// Row counts of the data's parts (only those above 64).
    pub row_counts: &'a [usize],
    /// The longest ROC curve allowed (validated rows + 1).
    pub roc_cap: usize,
}

impl RowRules<'_> {
    /// Every breach in `value`, each with its JSON path.
    pub fn check(&self, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let mut stack: Vec<(String, &Value)> = vec![(String::new(), value)];
        while let Some((path, value)) = stack.pop() {
            match value {
                Value::Object(map) => {
                    for (key, child) in map {
                        if Some(key.as_str()) == self.id_column {
                            problems.push(format!("{path}.{key}: names the id column"));
                        }
                        stack.push((format!("{path}.{}", crate::text::shown(key)), child));
                    }
                }
                Value::Array(items) => {
                    let key = path.rsplit('.').next().unwrap_or_default();
                    let n = items.len();
                    if key == "roc" {
                        if let Some(problem) = roc_problem(items, self.roc_cap) {
                            problems.push(format!("{path}: {problem}"));
                        }
                        continue;
                    }
                    let cap = if key == "rounds" {
                        crate::limits::MAX_TREES
                    } else {
                        MAX_AGGREGATE_ITEMS
                    };
                    if n > cap {
                        problems.push(format!(
                            "{path}: {n} items, more than an aggregate holds ({cap})"
                        ));
                    } else if self.row_counts.contains(&n) {
                        problems.push(format!(
                            "{path}: {n} items, one per row of a part of the data"
                        ));
                    }
                    for (i, item) in items.iter().enumerate() {
                        stack.push((format!("{path}[{i}]"), item));
                    }
                }
                _ => {}
            }
        }
        problems.sort();
        problems
    }
}

/// Why `items` is not a ROC curve of cumulative rates, if it is not.
fn roc_problem(items: &[Value], cap: usize) -> Option<String> {
    if items.len() > cap {
        return Some(format!(
            "{} points, more than the validated rows + 1 ({cap})",
            items.len()
        ));
    }
    let mut last = (0.0f64, 0.0f64);
    for item in items {
        let point = item.as_object().filter(|map| {
            map.keys()
                .all(|k| ["threshold", "fpr", "tpr"].contains(&k.as_str()))
        });
        let rates =
            point.and_then(|map| Some((map.get("fpr")?.as_f64()?, map.get("tpr")?.as_f64()?)));
        let Some((fpr, tpr)) = rates else {
            return Some("a ROC point must be only threshold, fpr and tpr".into());
        };
        if fpr < last.0 || tpr < last.1 || fpr > 1.0 || tpr > 1.0 {
            return Some("not a cumulative curve (fpr and tpr must rise within [0, 1])".into());
        }
        last = (fpr, tpr);
    }
    None
}

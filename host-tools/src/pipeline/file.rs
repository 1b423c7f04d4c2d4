//! The pipeline file (`PIPELINE.toml`): what one `lockstep pipeline run` reads, trains,
//! validates, packages and promotes. `examples/arthroplasty/pipeline.toml` documents every key.
//!
//! Paths in the file resolve against the file's folder, except `registry.dir` and
//! `signing.key` when left out, which default to `OUTPUT/registry` and `OUTPUT/keys/signing.key`
//! (`--out DIR` replaces `output`). Every error names the file and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::Schema;
use crate::parity;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    data: PathBuf,
    schema: PathBuf,
    #[serde(default)]
    output: Option<PathBuf>,
    split: RawSplit,
    #[serde(default)]
    drift: Option<Drift>,
    #[serde(default)]
    parity: RawParity,
    #[serde(default)]
    signing: RawSigning,
    #[serde(default)]
    registry: RawRegistry,
    promotion: RawPromotion,
    #[serde(rename = "outcome", default)]
    outcomes: Vec<RawOutcome>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    train: String,
    test: String,
}

/// Drift thresholds (PSI, KS) above which the data check flags a feature; `None` keeps the
/// schema's or the data check's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// Population stability index threshold.
    pub psi: Option<f64>,
    /// Kolmogorov-Smirnov threshold.
    pub ks: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParity {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    random_rows: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    #[serde(default)]
    key: Option<PathBuf>,
    #[serde(default)]
    demo_key: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromotion {
    by: String,
    #[serde(default = "default_true")]
    automatic: bool,
    #[serde(default)]
    reason: Option<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    name: String,
    #[serde(default)]
    config: Option<PathBuf>,
    plan: PathBuf,
}

/// A pipeline file read and checked, with every path resolved.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file itself.
    pub file: PathBuf,
    /// Its bytes (hashed into the run id).
    pub bytes: Vec<u8>,
    /// The data (CSV).
    pub data: PathBuf,
    /// The schema (TOML).
    pub schema: PathBuf,
    /// The output folder: runs, keys (demo), registry (by default).
    pub output: PathBuf,
    /// Rows that train.
    pub train_rule: String,
    /// Rows that test.
    pub test_rule: String,
    /// Drift thresholds, if declared.
    pub drift: Option<Drift>,
    /// Parity targets (empty: no parity).
    pub parity_targets: Vec<String>,
    /// Random rows added to the generated parity vectors.
    pub parity_random_rows: usize,
    /// The signing key (secret).
    pub key: PathBuf,
    /// Whether a missing key may be generated as a demo pair.
    pub demo_key: bool,
    /// The registry folder.
    pub registry: PathBuf,
    /// Who promotes.
    pub promote_by: String,
    /// Whether to promote when every candidate is accepted.
    pub promote_automatically: bool,
    /// The promotion's reason.
    pub promote_reason: String,
    /// The outcomes, in file order.
    pub outcomes: Vec<Outcome>,
}

/// One outcome to train.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The outcome column.
    pub name: String,
    /// Training settings (TOML), if any.
    pub config: Option<PathBuf>,
    /// The validation plan.
    pub plan: PathBuf,
}

/// Why a pipeline file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PipelineFileError {
    /// The file could not be read.
    #[error("cannot read the pipeline file {file}: {cause}")]
    Read {
        /// The file, as shown.
        file: String,
        /// The cause.
        cause: String,
    },
    /// The TOML does not describe a pipeline (the parser's message names the key and line).
    #[error("pipeline file {file}: {detail}")]
    Parse {
        /// The file, as shown.
        file: String,
        /// The parser's message.
        detail: String,
    },
    /// A key's value is not usable.
    #[error("pipeline file {file}: `{key}` {detail}")]
    Key {
        /// The file, as shown.
        file: String,
        /// The key (dotted, e.g. `outcome[2].name`).
        key: String,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// Most random rows of parity vectors a pipeline file may ask for.
pub const MAX_PARITY_RANDOM_ROWS: usize = 100_000;

/// Reads a pipeline file; `out` replaces its output folder.
pub fn load(file: &Path, out: Option<&Path>) -> Result<Pipeline, PipelineFileError> {
    let shown = crate::text::shown_path(file);
    let bytes = std::fs::read(file).map_err(|e| PipelineFileError::Read {
        file: shown.clone(),
        cause: crate::output::describe_read(&e),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| PipelineFileError::Parse {
        file: shown.clone(),
        detail: "the file is not UTF-8 text".into(),
    })?;
    let raw: Raw = toml::from_str(text).map_err(|e| PipelineFileError::Parse {
        file: shown.clone(),
        detail: e.to_string().trim_end().replace('\n', " "),
    })?;
    let key_error = |key: &str, detail: String| PipelineFileError::Key {
        file: shown.clone(),
        key: key.into(),
        detail,
    };
    let base = file.parent().unwrap_or(Path::new(""));
    let resolve = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let output = match (out, &raw.output) {
        (Some(out), _) => out.to_path_buf(),
        (None, Some(o)) => resolve(o),
        (None, None) => {
            return Err(key_error(
                "output",
                "is missing: name the output folder (or pass --out DIR)".into(),
            ))
        }
    };
    for (key, rule) in [
        ("split.train", &raw.split.train),
        ("split.test", &raw.split.test),
    ] {
        crate::data::parse_split(rule)
            .map_err(|e| key_error(key, format!("is not a row condition: {e}")))?;
    }
    if let Some(drift) = &raw.drift {
        for (key, value) in [("drift.psi", drift.psi), ("drift.ks", drift.ks)] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return Err(key_error(key, "must be a positive number".into()));
            }
        }
    }
    for (i, target) in raw.parity.targets.iter().enumerate() {
        if parity::target(target).is_none() {
            let names: Vec<&str> = parity::TARGETS.iter().map(|t| t.name).collect();
            return Err(key_error(
                &format!("parity.targets[{i}]"),
                format!(
                    "names an unknown target {}; choose from {}",
                    crate::text::shown(target),
                    names.join(", ")
                ),
            ));
        }
    }
    let random_rows = raw.parity.random_rows.unwrap_or(1000);
    if random_rows > MAX_PARITY_RANDOM_ROWS {
        return Err(key_error(
            "parity.random_rows",
            format!("must be at most {MAX_PARITY_RANDOM_ROWS}"),
        ));
    }
    let key = match &raw.signing.key {
        Some(k) => resolve(k),
        None if raw.signing.demo_key => output.join("keys").join("signing.key"),
        None => {
            return Err(key_error(
                "signing.key",
                "is missing: name the secret key file (lockstep keygen), or set signing.demo_key = true for a demonstration".into(),
            ))
        }
    };
    if raw.promotion.by.trim().is_empty() {
        return Err(key_error(
            "promotion.by",
            "must name who accepts the models".into(),
        ));
    }
    if raw.outcomes.is_empty() {
        return Err(key_error(
            "outcome",
            "is missing: declare at least one [[outcome]] with a name and a plan".into(),
        ));
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, o) in raw.outcomes.iter().enumerate() {
        if outcomes.iter().any(|seen| seen.name == o.name) {
            return Err(key_error(
                &format!("outcome[{i}].name"),
                format!("repeats the outcome {}", crate::text::shown(&o.name)),
            ));
        }
        outcomes.push(Outcome {
            name: o.name.clone(),
            config: o.config.as_deref().map(resolve),
            plan: resolve(&o.plan),
        });
    }
    Ok(Pipeline {
        file: file.to_path_buf(),
        bytes: bytes.clone(),
        data: resolve(&raw.data),
        schema: resolve(&raw.schema),
        registry: raw
            .registry
            .dir
            .as_deref()
            .map_or_else(|| output.join("registry"), resolve),
        output,
        train_rule: raw.split.train,
        test_rule: raw.split.test,
        drift: raw.drift,
        parity_targets: raw.parity.targets,
        parity_random_rows: random_rows,
        key,
        demo_key: raw.signing.demo_key,
        promote_by: raw.promotion.by,
        promote_automatically: raw.promotion.automatic,
        promote_reason: raw.promotion.reason.unwrap_or_else(|| {
            "every candidate accepted by its validation plan in `lockstep pipeline run`".into()
        }),
        outcomes,
    })
}

impl Pipeline {
    /// Checks that the outcomes are targets of `schema` and the split rules name its columns.
    pub fn check_against(&self, schema: &Schema) -> Result<(), PipelineFileError> {
        let key_error = |key: String, detail: String| PipelineFileError::Key {
            file: crate::text::shown_path(&self.file),
            key,
            detail,
        };
        for (i, o) in self.outcomes.iter().enumerate() {
            if !schema.targets.contains(&o.name) {
                return Err(key_error(
                    format!("outcome[{i}].name"),
                    format!(
                        "{} is not an outcome of the schema (it declares: {})",
                        crate::text::shown(&o.name),
                        schema.targets.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

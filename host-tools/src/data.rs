//! Training data: a TOML schema that gives every column of interest a role, and a CSV loader
//! that checks every cell against it.
//!
//! Roles (one namespace: a name has exactly one role):
//! - feature (`[[feature]]`): a model input, with its type, unit, plausibility limits and
//!   whether it may be missing;
//! - split (`[[split]]`, a split or time column: a surgery year, an `is_test` flag, a site):
//!   declared and checked exactly like a feature, usable in row conditions (`--train-where`, a
//!   validation plan's `rows`, subgroups), but never a model input. A column that should be
//!   both is declared as a `[[feature]]`: every feature is usable in row conditions too;
//! - id (`[[id]]`, at most one): the row identifier, `type = "integer"` (optional `min`/`max`)
//!   or `"text"`; never missing, never a model input, and no two rows may share one;
//! - outcome (`[dataset] targets`): binary 0/1 columns a model may predict.
//!
//! `[[column]]` declares a column that is present but not loaded (documentation only). Schemas
//! written before roles existed (features, targets and `[[column]]` only) load unchanged.
//!
//! An optional `[drift]` table sets when `lockstep data check` flags a feature's distribution
//! as changed from the reference (see [`crate::metrics::drift`]; defaults PSI 0.25, KS 0.1):
//!
//! ```toml
//! [drift]
//! psi = 0.25            # flag a feature whose PSI is above this
//! ks = 0.1              # ... or whose KS is above this
//! [drift.feature.crp]   # one feature's own thresholds (either or both)
//! psi = 0.5
//! ```
//!
//! Invariant: a [`Dataset`] only exists if every cell of every schema column parsed, every
//! numeric value lies within its declared limits and every id is unique. Values outside the
//! limits are never clipped or dropped: the load stops and lists them all (up to
//! [`MAX_REPORTED_VIOLATIONS`]) for manual resolution, because in a regulated pipeline a human
//! decides what an implausible value means. CSV columns the schema does not name are ignored;
//! the loader never invents, imputes or reorders values.
//!
//! Encoding (column-major `f32`, features and split columns alike): numeric values are parsed
//! directly from the decimal text to `f32` (one rounding); booleans are 0/1; a categorical value
//! is the index of its level in the schema's `levels` list; a missing cell (see [`is_missing`]:
//! empty, `NA` or `NaN`) is `NaN`. Ids are kept as written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::inspect::hex;
use crate::text::shown;

/// How many limit violations a [`DataError::LimitViolations`] lists; the total is always
/// counted.
pub const MAX_REPORTED_VIOLATIONS: usize = 20;

/// Why a schema, a CSV file or a split expression was refused. Messages name the file, the
/// 1-based line (the header is line 1) and the column.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read. The cause is part of the message (not a `source`), so an
    /// error chain prints it once.
    #[error(
        "cannot read '{}': {}",
        crate::text::shown_path(file),
        crate::output::describe_read(cause)
    )]
    Io {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        cause: std::io::Error,
    },
    /// The schema is not valid TOML or does not have the expected keys.
    #[error("{}: not a valid schema: {message}", file.display())]
    SchemaSyntax {
        /// The schema file.
        file: PathBuf,
        /// The TOML parser's message (it names the line).
        message: String,
    },
    /// The schema parsed but contradicts itself (a repeated name, `min` above `max`, ...).
    #[error("{}: invalid schema: {reason}", file.display())]
    InvalidSchema {
        /// The schema file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The CSV is malformed (bad UTF-8, broken quoting).
    #[error("{}: line {line}: malformed CSV: {message}", file.display())]
    Csv {
        /// The CSV file.
        file: PathBuf,
        /// Line where the problem was found.
        line: u64,
        /// The CSV reader's message.
        message: String,
    },
    /// The CSV has no header line.
    #[error("{}: the file is empty; expected a header line naming the columns", file.display())]
    NoHeader {
        /// The CSV file.
        file: PathBuf,
    },
    /// The CSV has a header but no data rows.
    #[error("{}: the file has a header but no data rows", file.display())]
    NoRows {
        /// The CSV file.
        file: PathBuf,
    },
    /// A column the schema names (any role) is not in the header.
    #[error("{}: line 1: column '{column}' named in the schema is missing from the header", file.display())]
    MissingColumn {
        /// The CSV file.
        file: PathBuf,
        /// The missing column.
        column: String,
    },
    /// Two header cells carry the same name.
    #[error("{}: line 1: column '{column}' appears twice in the header (columns {first} and {second})", file.display())]
    DuplicateColumn {
        /// The CSV file.
        file: PathBuf,
        /// The repeated name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// A row has a different number of cells than the header.
    #[error("{}: line {line}: {found} cells, but the header has {expected}", file.display())]
    RaggedRow {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Header width.
        expected: usize,
        /// This row's width.
        found: usize,
    },
    /// A numeric cell is not a finite number.
    #[error("{}: line {line}, column '{column}': '{value}' is not a finite number (leave the cell empty or write NA for a missing value)", file.display())]
    NotANumber {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A categorical cell is not one of the declared levels.
    #[error("{}: line {line}, column '{column}': unknown level '{value}' (allowed: {})", file.display(), levels.join(", "))]
    UnknownLevel {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text.
        value: String,
        /// The levels the schema allows.
        levels: Vec<String>,
    },
    /// A boolean cell is not 0, 1, true or false.
    #[error("{}: line {line}, column '{column}': '{value}' is not a boolean (use 0, 1, true or false)", file.display())]
    NotBoolean {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A cell is empty (or NA/NaN) in a column the schema declares `missing = false`.
    #[error("{}: line {line}, column '{column}': missing value, but the schema does not allow missing values in this column", file.display())]
    MissingValue {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
    },
    /// An integer id cell is not an integer.
    #[error("{}: line {line}, column '{column}': id '{value}' is not an integer (the schema declares type = \"integer\"; declare type = \"text\" for other ids)", file.display())]
    NotAnInteger {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Id column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// Two rows carry the same id.
    #[error("{}: column '{column}': id '{value}' appears on line {first_line} and again on line {second_line}; each row needs its own id", file.display())]
    DuplicateId {
        /// The CSV file.
        file: PathBuf,
        /// Id column name.
        column: String,
        /// The repeated id (as written on `second_line`).
        value: String,
        /// 1-based line of the first row with this id.
        first_line: u64,
        /// 1-based line of the second row with this id.
        second_line: u64,
    },
    /// An outcome cell is not 0 or 1.
    #[error("{}: line {line}, column '{column}': outcome '{value}' is not 0 or 1", file.display())]
    TargetNotBinary {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// Target column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// Numeric values outside their declared `[min, max]`: the load stops for manual
    /// resolution and lists every violation found (up to [`MAX_REPORTED_VIOLATIONS`]).
    #[error("{}: {n_total} value(s) outside the schema's limits; resolve them manually before training:{}", file.display(), ViolationList { violations, n_total: *n_total })]
    LimitViolations {
        /// The CSV file.
        file: PathBuf,
        /// The first violations, in file order.
        violations: Vec<LimitViolation>,
        /// How many violations the file has in all.
        n_total: usize,
    },
    /// A split expression is not `COLUMN OP VALUE`.
    #[error("split '{expr}': {reason} (expected COLUMN OP VALUE with OP one of <=, <, >=, >, ==, e.g. 'surgery_year <= 2015')")]
    BadSplit {
        /// The expression.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// A row condition, subgroup or model names a column the schema does not declare.
    #[error("column '{column}' is not declared in the schema (declared: {available}); declare it as a [[feature]], [[split]], [[id]] or target")]
    UnknownColumn {
        /// The requested column.
        column: String,
        /// The columns the request could have named, comma-separated.
        available: String,
    },
    /// A row condition compares a text id with a number.
    #[error("row condition '{expr}': id column '{column}' holds text ids, which cannot be compared with a number (declare type = \"integer\" if the ids are integers)")]
    TextIdInCondition {
        /// The condition.
        expr: String,
        /// The id column.
        column: String,
    },
    /// A split column has missing values, so some rows belong to neither side.
    #[error("split column '{column}' has {n_missing} missing value(s); every row must have a value to be assigned to train or test")]
    MissingInSplitColumn {
        /// The split column.
        column: String,
        /// How many rows have no value.
        n_missing: usize,
    },
}

/// One value outside its declared limits.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitViolation {
    /// 1-based line.
    pub line: u64,
    /// Column name.
    pub column: String,
    /// The cell's text.
    pub value: String,
    /// The declared lower limit, if the value is below it.
    pub min: Option<f64>,
    /// The declared upper limit, if the value is above it.
    pub max: Option<f64>,
    /// The column's unit, if declared.
    pub unit: Option<String>,
}

impl fmt::Display for LimitViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self
            .unit
            .as_deref()
            .map(|unit| format!(" {unit}"))
            .unwrap_or_default();
        write!(
            f,
            "line {}, column '{}': {}",
            self.line, self.column, self.value
        )?;
        match (self.min, self.max) {
            (Some(min), _) => write!(f, " is below the minimum {min}{unit}"),
            (_, Some(max)) => write!(f, " is above the maximum {max}{unit}"),
            (None, None) => Ok(()),
        }
    }
}

/// Formats the violation lines of [`DataError::LimitViolations`].
struct ViolationList<'a> {
    violations: &'a [LimitViolation],
    n_total: usize,
}

impl fmt::Display for ViolationList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for violation in self.violations {
            write!(f, "\n  {violation}")?;
        }
        if self.n_total > self.violations.len() {
            write!(
                f,
                "\n  ... and {} more",
                self.n_total - self.violations.len()
            )?;
        }
        Ok(())
    }
}

/// A dataset description: the role of each column (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The dataset's name.
    pub name: String,
    /// Free text describing the dataset.
    pub description: Option<String>,
    /// Binary (0/1) outcome columns.
    pub targets: Vec<String>,
    /// Feature columns, in schema order (the order of [`Dataset::columns`]): the model inputs.
    pub features: Vec<FeatureSpec>,
    /// Split (or time) columns, in schema order: typed and checked like features, usable in
    /// row conditions, never model inputs.
    pub splits: Vec<FeatureSpec>,
    /// The row identifier column, if declared.
    pub id: Option<IdSpec>,
    /// Columns declared as present but not loaded. Undeclared extra columns are ignored too;
    /// declaring them documents the file.
    pub ignored_columns: Vec<String>,
    /// When `data check` flags a feature's distribution as changed (`[drift]`).
    pub drift: DriftThresholds,
}

/// Distribution-change thresholds (the schema's `[drift]` table): a feature is flagged when
/// its PSI or its KS against the reference is above its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftThresholds {
    /// PSI threshold of every feature without its own.
    pub psi: f64,
    /// KS threshold of every feature without its own.
    pub ks: f64,
    /// Features with their own thresholds (`[drift.feature.NAME]`), by name.
    pub features: BTreeMap<String, FeatureDrift>,
}

/// One feature's own thresholds; an absent one is the table's.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDrift {
    /// Its PSI threshold.
    pub psi: Option<f64>,
    /// Its KS threshold.
    pub ks: Option<f64>,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        DriftThresholds {
            psi: crate::metrics::drift::DEFAULT_PSI_THRESHOLD,
            ks: crate::metrics::drift::DEFAULT_KS_THRESHOLD,
            features: BTreeMap::new(),
        }
    }
}

impl DriftThresholds {
    /// The (PSI, KS) thresholds of `feature`.
    pub fn of(&self, feature: &str) -> (f64, f64) {
        let own = self.features.get(feature).copied().unwrap_or_default();
        (own.psi.unwrap_or(self.psi), own.ks.unwrap_or(self.ks))
    }
}

impl FeatureSpec {
    /// A categorical column's levels (none for other types).
    pub fn levels(&self) -> &[String] {
        match &self.kind {
            FeatureKind::Categorical { levels, .. } => levels,
            _ => &[],
        }
    }
}

impl Schema {
    /// The feature or split column `name`.
    pub fn column_spec(&self, name: &str) -> Option<&FeatureSpec> {
        self.features
            .iter()
            .chain(&self.splits)
            .find(|spec| spec.name == name)
    }
}

/// The row identifier column.
#[derive(Debug, Clone, PartialEq)]
pub struct IdSpec {
    /// Column name in the CSV header.
    pub name: String,
    /// Integer (with optional limits) or free text.
    pub kind: IdKind,
    /// Free text.
    pub description: Option<String>,
}

/// What an id looks like.
#[derive(Debug, Clone, PartialEq)]
pub enum IdKind {
    /// A whole number (`i64`); ids outside `[min, max]` stop the load like any limit violation.
    /// Two ids are the same when their numbers are (`007` repeats `7`).
    Integer {
        /// Lowest plausible id.
        min: Option<i64>,
        /// Highest plausible id.
        max: Option<i64>,
    },
    /// Any non-missing text; two ids are the same when their (trimmed) text is.
    Text,
}

/// One feature column.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// Column name in the CSV header.
    pub name: String,
    /// Type and limits.
    pub kind: FeatureKind,
    /// Unit of measurement, for messages and documentation.
    pub unit: Option<String>,
    /// Whether empty cells (or NA/NaN) are allowed.
    pub missing: bool,
    /// Free text.
    pub description: Option<String>,
}

/// A feature's type.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureKind {
    /// A number; values outside `[min, max]` stop the load. Limits are compared with the value
    /// as written (parsed to f64), so a value just beyond a limit is not rounded back inside
    /// it by the conversion to f32.
    Numeric {
        /// Lowest plausible value.
        min: Option<f64>,
        /// Highest plausible value.
        max: Option<f64>,
    },
    /// 0/1 (also `true`/`false`), stored as 0.0/1.0.
    Boolean,
    /// One of `levels`, stored as the level's index.
    Categorical {
        /// The allowed values, in index order.
        levels: Vec<String>,
        /// Index of the reference level (schema key `reference`, default the first level):
        /// the level a dummy-coded linear model compares the others with.
        reference: usize,
    },
}

/// The TOML file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    dataset: DatasetSection,
    #[serde(default)]
    feature: Vec<FeatureSection>,
    #[serde(default)]
    split: Vec<FeatureSection>,
    #[serde(default)]
    id: Vec<IdSection>,
    #[serde(default)]
    column: Vec<ColumnSection>,
    #[serde(default)]
    drift: Option<DriftSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftSection {
    #[serde(default)]
    psi: Option<f64>,
    #[serde(default)]
    ks: Option<f64>,
    #[serde(default)]
    feature: BTreeMap<String, FeatureDrift>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetSection {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    targets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureSection {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    levels: Option<Vec<String>>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdSection {
    name: String,
    #[serde(rename = "type", default = "text_id")]
    kind: String,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    description: Option<String>,
}

fn text_id() -> String {
    "text".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSection {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation only
    description: Option<String>,
}

/// Reads and validates a schema file.
pub fn load_schema(path: impl AsRef<Path>) -> Result<Schema, DataError> {
    load_schema_hashed(path).map(|(schema, _)| schema)
}

/// Like [`load_schema`], also returning the SHA-256 (hex) of exactly the bytes parsed, for
/// records and reports that name the schema.
pub fn load_schema_hashed(path: impl AsRef<Path>) -> Result<(Schema, String), DataError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|cause| DataError::Io {
        file: path.to_path_buf(),
        cause,
    })?;
    Ok((parse_schema(&text, path)?, hex(&Sha256::digest(&text))))
}

/// Parses and validates schema text; `file` is only used in error messages.
pub fn parse_schema(text: &str, file: &Path) -> Result<Schema, DataError> {
    let raw: SchemaFile = toml::from_str(text).map_err(|error| DataError::SchemaSyntax {
        file: file.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })?;
    let invalid = |reason: String| DataError::InvalidSchema {
        file: file.to_path_buf(),
        reason,
    };
    if raw.dataset.name.trim().is_empty() {
        return Err(invalid("[dataset] name is empty".into()));
    }
    let mut seen = HashSet::new();
    let all_names = raw
        .feature
        .iter()
        .chain(&raw.split)
        .map(|f| &f.name)
        .chain(raw.id.iter().map(|i| &i.name))
        .chain(&raw.dataset.targets)
        .chain(raw.column.iter().map(|c| &c.name));
    for name in all_names {
        if name.trim().is_empty() || name.trim() != name {
            return Err(invalid(format!(
                "column name '{name}' is empty or has surrounding spaces"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!(
                "'{name}' is declared more than once (features, split columns, the id, targets and ignored columns share one namespace; a column has one role)"
            )));
        }
    }
    let features = raw
        .feature
        .into_iter()
        .map(|section| typed_column(section, "feature"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let splits = raw
        .split
        .into_iter()
        .map(|section| typed_column(section, "split column"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    if features.is_empty() {
        return Err(invalid("no [[feature]] is declared".into()));
    }
    let mut ids = raw.id.into_iter();
    let id = ids.next().map(id_column).transpose().map_err(invalid)?;
    if let Some(extra) = ids.next() {
        return Err(invalid(format!(
            "'{}' is a second [[id]]; a schema declares at most one id column (declare other identifiers as [[column]])",
            extra.name
        )));
    }
    let drift = drift_thresholds(raw.drift, &features).map_err(invalid)?;
    Ok(Schema {
        drift,
        name: raw.dataset.name,
        description: raw.dataset.description,
        targets: raw.dataset.targets,
        features,
        splits,
        id,
        ignored_columns: raw.column.into_iter().map(|c| c.name).collect(),
    })
}

/// Checks the `[drift]` table: thresholds positive and finite, per-feature tables naming
/// declared features.
fn drift_thresholds(
    section: Option<DriftSection>,
    features: &[FeatureSpec],
) -> Result<DriftThresholds, String> {
    let defaults = DriftThresholds::default();
    let Some(section) = section else {
        return Ok(defaults);
    };
    let check = |what: String, value: Option<f64>| match value {
        Some(value) if !(value.is_finite() && value > 0.0) => {
            Err(format!("{what} = {value} must be a positive finite number"))
        }
        _ => Ok(()),
    };
    check("[drift] psi".into(), section.psi)?;
    check("[drift] ks".into(), section.ks)?;
    for (name, own) in &section.feature {
        if !features.iter().any(|f| &f.name == name) {
            return Err(format!(
                "[drift.feature.{name}] names no [[feature]] (drift is measured on features)"
            ));
        }
        check(format!("[drift.feature.{name}] psi"), own.psi)?;
        check(format!("[drift.feature.{name}] ks"), own.ks)?;
    }
    Ok(DriftThresholds {
        psi: section.psi.unwrap_or(defaults.psi),
        ks: section.ks.unwrap_or(defaults.ks),
        features: section.feature,
    })
}

/// Checks a `[[feature]]` or `[[split]]` table (`role` names it in messages).
fn typed_column(section: FeatureSection, role: &str) -> Result<FeatureSpec, String> {
    let name = section.name;
    if section.reference.is_some() && section.kind != "categorical" {
        return Err(format!(
            "{role} '{name}' has a reference level but is not categorical"
        ));
    }
    let kind = match section.kind.as_str() {
        "numeric" => {
            if section.levels.is_some() {
                return Err(format!("numeric {role} '{name}' has levels"));
            }
            for limit in [section.min, section.max].into_iter().flatten() {
                if !limit.is_finite() {
                    return Err(format!("{role} '{name}' has a non-finite limit"));
                }
            }
            ordered_limits(role, &name, section.min, section.max)?;
            FeatureKind::Numeric {
                min: section.min,
                max: section.max,
            }
        }
        "boolean" => {
            if section.levels.is_some() || section.min.is_some() || section.max.is_some() {
                return Err(format!(
                    "boolean {role} '{name}' cannot have levels or limits"
                ));
            }
            FeatureKind::Boolean
        }
        "categorical" => {
            if section.min.is_some() || section.max.is_some() {
                return Err(format!("categorical {role} '{name}' cannot have limits"));
            }
            let levels = section.levels.unwrap_or_default();
            if levels.is_empty() {
                return Err(format!(
                    "categorical {role} '{name}' needs a non-empty levels list"
                ));
            }
            let mut seen_levels = HashSet::new();
            for level in &levels {
                if level.trim().is_empty() || level.trim() != level || is_missing(level) {
                    return Err(format!(
                        "{role} '{name}': level '{level}' is empty, has surrounding spaces or reads as missing"
                    ));
                }
                if !seen_levels.insert(level.as_str()) {
                    return Err(format!("{role} '{name}': level '{level}' is listed twice"));
                }
            }
            let reference = match &section.reference {
                None => 0,
                Some(reference) => levels.iter().position(|l| l == reference).ok_or_else(|| {
                    format!(
                        "{role} '{name}': reference level '{reference}' is not one of its levels ({})",
                        levels.join(", ")
                    )
                })?,
            };
            FeatureKind::Categorical { levels, reference }
        }
        other => {
            return Err(format!(
                "{role} '{name}' has type '{other}' (expected numeric, boolean or categorical)"
            ))
        }
    };
    Ok(FeatureSpec {
        name,
        kind,
        unit: section.unit,
        missing: section.missing,
        description: section.description,
    })
}

/// Refuses `min` above `max`.
fn ordered_limits<T: PartialOrd + fmt::Display>(
    role: &str,
    name: &str,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), String> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => {
            Err(format!("{role} '{name}' has min {min} above max {max}"))
        }
        _ => Ok(()),
    }
}

/// Checks the `[[id]]` table.
fn id_column(section: IdSection) -> Result<IdSpec, String> {
    let name = section.name;
    let kind = match section.kind.as_str() {
        "integer" => {
            ordered_limits("id", &name, section.min, section.max)?;
            IdKind::Integer {
                min: section.min,
                max: section.max,
            }
        }
        "text" => {
            if section.min.is_some() || section.max.is_some() {
                return Err(format!(
                    "text id '{name}' cannot have limits (declare type = \"integer\")"
                ));
            }
            IdKind::Text
        }
        other => {
            return Err(format!(
                "id '{name}' has type '{other}' (expected integer or text)"
            ))
        }
    };
    Ok(IdSpec {
        name,
        kind,
        description: section.description,
    })
}

/// A loaded, checked dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Feature names, in schema order: the model inputs.
    pub feature_names: Vec<String>,
    /// One vector per feature (column-major), each `n_rows` long: NaN is missing, a
    /// categorical value is its level index, a boolean is 0/1.
    pub columns: Vec<Vec<f32>>,
    /// Split (or time) columns, in schema order, encoded like features; never model inputs.
    pub splits: Vec<(String, Vec<f32>)>,
    /// The id column, if the schema declares one.
    pub ids: Option<IdColumn>,
    /// Outcome columns, in schema order, each `n_rows` values of 0.0 or 1.0.
    pub targets: Vec<(String, Vec<f32>)>,
    /// Number of rows.
    pub n_rows: usize,
    /// SHA-256 of the CSV file's bytes, lowercase hex: the data's identity in reports.
    pub sha256: String,
}

/// The ids of a dataset's rows, unique, as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdColumn {
    /// Column name.
    pub name: String,
    /// Whether the schema declares integer ids (each then parses as an `i64`).
    pub integer: bool,
    /// One id per row, as written (trimmed).
    pub values: Vec<String>,
}

/// A column a row condition reads.
enum ConditionColumn<'a> {
    /// Encoded like a feature (features, split columns, outcomes).
    Encoded(&'a [f32]),
    /// The id column.
    Ids(&'a IdColumn),
}

impl Dataset {
    /// The outcome column `name`.
    pub fn target(&self, name: &str) -> Option<&[f32]> {
        self.targets
            .iter()
            .find(|(target, _)| target == name)
            .map(|(_, values)| values.as_slice())
    }

    /// The feature or split column `name` (encoded values).
    pub fn column(&self, name: &str) -> Option<&[f32]> {
        self.column_index(name)
            .map(|index| self.columns[index].as_slice())
            .or_else(|| {
                self.splits
                    .iter()
                    .find(|(split, _)| split == name)
                    .map(|(_, values)| values.as_slice())
            })
    }

    /// The feature or split column `name`, or the error naming the columns there are.
    pub fn require_column(&self, name: &str) -> Result<&[f32], DataError> {
        self.column(name).ok_or_else(|| DataError::UnknownColumn {
            column: name.to_string(),
            available: self.column_names().collect::<Vec<_>>().join(", "),
        })
    }

    /// The names of the feature and split columns (those [`Dataset::column`] finds), in schema
    /// order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.feature_names
            .iter()
            .map(String::as_str)
            .chain(self.splits.iter().map(|(name, _)| name.as_str()))
    }

    /// Every declared column a row condition can name: features, split columns, the id and
    /// the outcomes.
    fn declared_names(&self) -> String {
        self.column_names()
            .chain(self.ids.iter().map(|ids| ids.name.as_str()))
            .chain(self.targets.iter().map(|(name, _)| name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn condition_column(&self, name: &str) -> Result<ConditionColumn<'_>, DataError> {
        if let Some(values) = self.column(name).or_else(|| self.target(name)) {
            return Ok(ConditionColumn::Encoded(values));
        }
        match &self.ids {
            Some(ids) if ids.name == name => Ok(ConditionColumn::Ids(ids)),
            _ => Err(DataError::UnknownColumn {
                column: name.to_string(),
                available: self.declared_names(),
            }),
        }
    }

    /// Per row, whether `split` holds (`None`: the row's value is missing).
    fn evaluate(&self, split: &Split, expr: &str) -> Result<Vec<Option<bool>>, DataError> {
        match self.condition_column(&split.column)? {
            ConditionColumn::Encoded(values) => Ok(values
                .iter()
                .map(|&value| (!value.is_nan()).then(|| split.matches(value)))
                .collect()),
            ConditionColumn::Ids(ids) if ids.integer => Ok(ids
                .values
                .iter()
                // Integer ids were checked at load; compared exactly as i64 against the
                // literal as written (f64 holds every integer up to 2^53).
                .map(|id| id.parse::<i64>().ok().map(|id| split.matches_exact(id)))
                .collect()),
            ConditionColumn::Ids(ids) => Err(DataError::TextIdInCondition {
                expr: expr.to_string(),
                column: ids.name.clone(),
            }),
        }
    }

    /// The outcome names, comma-separated (for messages).
    pub fn target_names(&self) -> String {
        self.targets
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Per row, whether it satisfies the row condition `expr` (e.g. `surgery_year <= 2015`)
    /// on any declared column (feature, split, id or outcome); a missing value never does.
    pub fn rows_where(&self, expr: &str) -> Result<Vec<bool>, DataError> {
        let split = parse_split(expr)?;
        Ok(self
            .evaluate(&split, expr)?
            .into_iter()
            .map(|keep| keep == Some(true))
            .collect())
    }

    fn column_index(&self, name: &str) -> Option<usize> {
        self.feature_names
            .iter()
            .position(|feature| feature == name)
    }

    /// The rows whose value in the feature or split column `column` satisfies `keep` (the
    /// value may be NaN), in their original order. The result keeps this dataset's `sha256`:
    /// it names the source.
    pub fn filter_rows(
        &self,
        column: &str,
        keep: impl Fn(f32) -> bool,
    ) -> Result<Dataset, DataError> {
        let rows: Vec<usize> = self
            .require_column(column)?
            .iter()
            .enumerate()
            .filter(|&(_, &value)| keep(value))
            .map(|(row, _)| row)
            .collect();
        Ok(self.select_rows(&rows))
    }

    /// The rows at `rows` (in the given order).
    fn select_rows(&self, rows: &[usize]) -> Dataset {
        let pick = |values: &Vec<f32>| rows.iter().map(|&row| values[row]).collect::<Vec<f32>>();
        let pick_named = |named: &Vec<(String, Vec<f32>)>| {
            named
                .iter()
                .map(|(name, values)| (name.clone(), pick(values)))
                .collect()
        };
        Dataset {
            feature_names: self.feature_names.clone(),
            columns: self.columns.iter().map(pick).collect(),
            splits: pick_named(&self.splits),
            ids: self.ids.as_ref().map(|ids| IdColumn {
                name: ids.name.clone(),
                integer: ids.integer,
                values: rows.iter().map(|&row| ids.values[row].clone()).collect(),
            }),
            targets: pick_named(&self.targets),
            n_rows: rows.len(),
            sha256: self.sha256.clone(),
        }
    }
}

/// A comparison operator of a [`Split`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitOp {
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `==`
    Eq,
}

impl SplitOp {
    fn symbol(self) -> &'static str {
        match self {
            SplitOp::Le => "<=",
            SplitOp::Lt => "<",
            SplitOp::Ge => ">=",
            SplitOp::Gt => ">",
            SplitOp::Eq => "==",
        }
    }
}

/// A row condition `COLUMN OP VALUE` (e.g. `surgery_year <= 2015`) on any declared column:
/// in `--train-where` the rows that satisfy it are the training set, the others the test set.
/// `VALUE` is a number (for a categorical column, the level index; for a boolean, 0 or 1)
/// compared with the stored f32; an integer id is compared exactly with the literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Column name (feature, split, id or outcome).
    pub column: String,
    /// Comparison.
    pub op: SplitOp,
    /// Right-hand side, parsed to f32 like a cell.
    pub value: f32,
    /// Right-hand side parsed to f64, for integer ids.
    pub literal: f64,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.column, self.op.symbol(), self.value)
    }
}

impl Split {
    /// Whether a row with `value` in the split column satisfies the condition (NaN never does).
    pub fn matches(&self, value: f32) -> bool {
        match self.op {
            SplitOp::Le => value <= self.value,
            SplitOp::Lt => value < self.value,
            SplitOp::Ge => value >= self.value,
            SplitOp::Gt => value > self.value,
            SplitOp::Eq => value == self.value,
        }
    }

    /// Whether an integer id satisfies the condition (compared with the f64 literal).
    fn matches_exact(&self, id: i64) -> bool {
        let id = id as f64;
        match self.op {
            SplitOp::Le => id <= self.literal,
            SplitOp::Lt => id < self.literal,
            SplitOp::Ge => id >= self.literal,
            SplitOp::Gt => id > self.literal,
            SplitOp::Eq => id == self.literal,
        }
    }

    /// Splits `dataset` into (rows that match, the complement). Refused if the column is not
    /// declared or has missing values, so that no row is assigned to a side by accident.
    pub fn partition(&self, dataset: &Dataset) -> Result<(Dataset, Dataset), DataError> {
        let matches = dataset.evaluate(self, &self.to_string())?;
        let n_missing = matches.iter().filter(|m| m.is_none()).count();
        if n_missing > 0 {
            return Err(DataError::MissingInSplitColumn {
                column: self.column.clone(),
                n_missing,
            });
        }
        let (matching, rest): (Vec<usize>, Vec<usize>) =
            (0..dataset.n_rows).partition(|&row| matches[row] == Some(true));
        Ok((dataset.select_rows(&matching), dataset.select_rows(&rest)))
    }
}

/// Parses `COLUMN OP VALUE` with OP one of `<=`, `<`, `>=`, `>`, `==` (spaces optional).
pub fn parse_split(expr: &str) -> Result<Split, DataError> {
    let bad = |reason: &str| DataError::BadSplit {
        expr: expr.to_string(),
        reason: reason.to_string(),
    };
    let start = expr
        .find(['<', '>', '='])
        .ok_or_else(|| bad("no comparison operator"))?;
    let rest = &expr[start..];
    // Two-character operators first, so `<=` is not read as `<` followed by `=`.
    let (op, width) = if rest.starts_with("<=") {
        (SplitOp::Le, 2)
    } else if rest.starts_with(">=") {
        (SplitOp::Ge, 2)
    } else if rest.starts_with("==") {
        (SplitOp::Eq, 2)
    } else if rest.starts_with('<') {
        (SplitOp::Lt, 1)
    } else if rest.starts_with('>') {
        (SplitOp::Gt, 1)
    } else {
        return Err(bad("'=' is not an operator; use '=='"));
    };
    let column = expr[..start].trim();
    let value_text = rest[width..].trim();
    if column.is_empty() {
        return Err(bad("no column name before the operator"));
    }
    if column.contains(char::is_whitespace) {
        return Err(bad("the column name contains spaces"));
    }
    if value_text.contains(['<', '>', '=']) {
        return Err(bad("more than one operator"));
    }
    let value = value_text
        .parse::<f32>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| bad("the value is not a finite number"))?;
    let literal = value_text
        .parse::<f64>()
        .ok()
        .filter(|literal| literal.is_finite())
        .ok_or_else(|| bad("the value is not a finite number"))?;
    Ok(Split {
        column: column.to_string(),
        op,
        value,
        literal,
    })
}

/// The one missing-cell rule of every CSV reader in the host tools (`train` and `validate`
/// through [`parse_csv`], `predict` and `parity --vectors` through
/// [`crate::predict::parse_cell`]); it lives in `lockstep-protocol` because the bedside firmware
/// reads its UART rows by the same rule.
pub use lockstep_protocol::cells::is_missing;

/// Reads `path` and checks every row against `schema` (see the module documentation).
pub fn load_csv(path: impl AsRef<Path>, schema: &Schema) -> Result<Dataset, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io {
        file: path.to_path_buf(),
        cause,
    })?;
    parse_csv(&bytes, path, schema)
}

/// Like [`load_csv`], from bytes already in memory; `file` is only used in messages.
pub fn parse_csv(bytes: &[u8], file: &Path, schema: &Schema) -> Result<Dataset, DataError> {
    let file_buf = || file.to_path_buf();
    let (header, records) = open_csv(bytes, file)?;
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        if let Some(first) = positions.insert(name.as_str(), index) {
            return Err(DataError::DuplicateColumn {
                file: file_buf(),
                column: shown(name).to_string(),
                first: first + 1,
                second: index + 1,
            });
        }
    }
    let position_of = |name: &str| {
        positions
            .get(name)
            .copied()
            .ok_or_else(|| DataError::MissingColumn {
                file: file_buf(),
                column: name.to_string(),
            })
    };
    // Features, then split columns: both are typed and encoded the same way.
    let encoded: Vec<&FeatureSpec> = schema.features.iter().chain(&schema.splits).collect();
    let encoded_positions = encoded
        .iter()
        .map(|spec| position_of(&spec.name))
        .collect::<Result<Vec<_>, _>>()?;
    let target_positions = schema
        .targets
        .iter()
        .map(|target| position_of(target))
        .collect::<Result<Vec<_>, _>>()?;
    let id_position = schema
        .id
        .as_ref()
        .map(|id| position_of(&id.name))
        .transpose()?;

    let mut columns: Vec<Vec<f32>> = vec![Vec::new(); encoded.len()];
    let mut targets: Vec<Vec<f32>> = vec![Vec::new(); schema.targets.len()];
    let mut ids: Vec<String> = Vec::new();
    // Each id's first line, keyed by the id as compared (integer ids by their number).
    let mut first_lines: HashMap<IdKey, u64> = HashMap::new();
    let mut violations = Violations::default();
    let mut n_rows = 0usize;
    for record in records {
        let record = record.map_err(|error| csv_error(file, &error))?;
        let line = record_line(&record);
        if is_blank_line(&record, header.len()) {
            continue;
        }
        if record.len() != header.len() {
            return Err(DataError::RaggedRow {
                file: file_buf(),
                line,
                expected: header.len(),
                found: record.len(),
            });
        }
        for ((spec, &position), column) in encoded.iter().zip(&encoded_positions).zip(&mut columns)
        {
            let cell = Cell {
                file,
                line,
                column: &spec.name,
                text: &record[position],
            };
            let read = read_feature_cell(spec, cell.text)
                .map_err(|fault| cell.error(fault, spec.levels()))?;
            cell.check_limits(read.outside, spec.unit.as_ref(), &mut violations);
            column.push(read.value);
        }
        if let (Some(spec), Some(position)) = (&schema.id, id_position) {
            let cell = Cell {
                file,
                line,
                column: &spec.name,
                text: &record[position],
            };
            let read = read_id_cell(spec, cell.text).map_err(|fault| cell.error(fault, &[]))?;
            cell.check_limits(read.outside, None, &mut violations);
            if let Some(&first_line) = first_lines.get(&read.value) {
                return Err(DataError::DuplicateId {
                    file: file_buf(),
                    column: spec.name.clone(),
                    value: shown(cell.text).to_string(),
                    first_line,
                    second_line: line,
                });
            }
            first_lines.insert(read.value, line);
            ids.push(cell.text.to_string());
        }
        for ((name, &position), values) in schema
            .targets
            .iter()
            .zip(&target_positions)
            .zip(&mut targets)
        {
            let cell = Cell {
                file,
                line,
                column: name,
                text: &record[position],
            };
            values.push(read_outcome_cell(cell.text).map_err(|fault| cell.error(fault, &[]))?);
        }
        n_rows += 1;
    }
    if violations.total > 0 {
        return Err(DataError::LimitViolations {
            file: file_buf(),
            violations: violations.first,
            n_total: violations.total,
        });
    }
    if n_rows == 0 {
        return Err(DataError::NoRows { file: file_buf() });
    }
    let splits = columns.split_off(schema.features.len());
    Ok(Dataset {
        feature_names: schema.features.iter().map(|f| f.name.clone()).collect(),
        columns,
        splits: schema
            .splits
            .iter()
            .map(|spec| spec.name.clone())
            .zip(splits)
            .collect(),
        ids: schema.id.as_ref().map(|spec| IdColumn {
            name: spec.name.clone(),
            integer: matches!(spec.kind, IdKind::Integer { .. }),
            values: ids,
        }),
        targets: schema.targets.iter().cloned().zip(targets).collect(),
        n_rows,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

/// The records of a data CSV after its header, as [`open_csv`] reads them.
pub type CsvRecords<'a> = csv::StringRecordsIntoIter<&'a [u8]>;

/// The one way the host reads a data CSV (the loader here and `data check`): cells trimmed,
/// rows of any width (each reader says what a ragged row means), the header's names with a
/// UTF-8 byte order mark (spreadsheet exports) removed from the first. Returns the header and
/// the remaining records; skip blank lines with [`is_blank_line`].
pub fn open_csv<'a>(
    bytes: &'a [u8],
    file: &Path,
) -> Result<(Vec<String>, CsvRecords<'a>), DataError> {
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes)
        .into_records();
    let header = match records.next() {
        Some(record) => record.map_err(|error| csv_error(file, &error))?,
        None => {
            return Err(DataError::NoHeader {
                file: file.to_path_buf(),
            })
        }
    };
    let header = header
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let name = if index == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            name.to_string()
        })
        .collect();
    Ok((header, records))
}

/// The error of a record the CSV reader could not read (bad UTF-8, broken quoting).
pub fn csv_error(file: &Path, error: &csv::Error) -> DataError {
    DataError::Csv {
        file: file.to_path_buf(),
        line: error.position().map_or(0, |position| position.line()),
        message: error.to_string(),
    }
}

/// The 1-based physical line a record starts on (the header is line 1).
pub fn record_line(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, |position| position.line())
}

/// Whether `record` is a blank line: one empty cell where the header has several. A blank line
/// is not a row.
pub fn is_blank_line(record: &csv::StringRecord, header_len: usize) -> bool {
    record.len() == 1 && record[0].is_empty() && header_len > 1
}

/// The limit violations found so far: the first [`MAX_REPORTED_VIOLATIONS`] and the count.
#[derive(Default)]
struct Violations {
    first: Vec<LimitViolation>,
    total: usize,
}

impl Violations {
    fn push(&mut self, violation: LimitViolation) {
        self.total += 1;
        if self.first.len() < MAX_REPORTED_VIOLATIONS {
            self.first.push(violation);
        }
    }
}

/// An id as compared for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdKey {
    /// An integer id, by its number (`007` is `7`).
    Integer(i64),
    /// A text id, as written (trimmed).
    Text(String),
}

/// Why one cell does not read under its column's declaration: the cell rules shared by the
/// loader (which stops at the first) and `data check` (which counts them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CellFault {
    /// Missing (empty, `NA`, `NaN`) where the schema declares `missing = false`, or an id.
    Missing,
    /// A numeric cell that is not a number.
    NotANumber,
    /// A numeric cell that reads as infinite or beyond the f32 range (`inf`, `1e999`): not a
    /// measurement.
    NotFinite,
    /// A boolean cell that is not 0, 1, true or false.
    NotBoolean,
    /// A categorical cell that is not one of the levels.
    UnknownLevel,
    /// An integer id that is not an integer.
    NotAnInteger,
    /// An outcome cell that is not 0 or 1 (a missing outcome included).
    NotBinary,
}

/// A cell that reads: its value, and the declared limit it lies beyond, if any. Values beyond
/// a limit are kept as written (never clipped); the caller decides what the breach means.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCell<T> {
    /// The value.
    pub value: T,
    /// The limit breached, if any.
    pub outside: Option<Outside>,
}

/// A declared limit a value lies beyond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outside {
    /// Below this minimum.
    Below(f64),
    /// Above this maximum.
    Above(f64),
}

/// Reads the cell `text` of a feature or split column (see the module documentation for the
/// encoding): the one reading rule of feature cells.
pub fn read_feature_cell(spec: &FeatureSpec, text: &str) -> Result<ReadCell<f32>, CellFault> {
    if is_missing(text) {
        return match spec.missing {
            true => Ok(ReadCell {
                value: f32::NAN,
                outside: None,
            }),
            false => Err(CellFault::Missing),
        };
    }
    let value = match &spec.kind {
        FeatureKind::Numeric { min, max } => {
            // `str::parse::<f32>` rounds the decimal once, directly to f32. Infinities (and
            // decimals too large for f32) are refused: they are not measurements.
            let value = match text.parse::<f32>() {
                Ok(value) if value.is_finite() => value,
                Ok(_) => return Err(CellFault::NotFinite),
                Err(_) => return Err(CellFault::NotANumber),
            };
            // Compared as written (f64), not after rounding to f32.
            let exact: f64 = text.parse().unwrap_or(f64::from(value));
            return Ok(ReadCell {
                value,
                outside: outside(exact, *min, *max, |x| x),
            });
        }
        FeatureKind::Boolean => match text {
            "0" => 0.0,
            "1" => 1.0,
            text if text.eq_ignore_ascii_case("false") => 0.0,
            text if text.eq_ignore_ascii_case("true") => 1.0,
            _ => return Err(CellFault::NotBoolean),
        },
        // Level indices are small (far below 2^24), so the f32 is exact.
        FeatureKind::Categorical { levels, .. } => levels
            .iter()
            .position(|level| level == text)
            .map(|index| index as f32)
            .ok_or(CellFault::UnknownLevel)?,
    };
    Ok(ReadCell {
        value,
        outside: None,
    })
}

/// Reads the cell `text` of the id column, as compared for uniqueness.
pub fn read_id_cell(spec: &IdSpec, text: &str) -> Result<ReadCell<IdKey>, CellFault> {
    if is_missing(text) {
        return Err(CellFault::Missing);
    }
    match spec.kind {
        IdKind::Text => Ok(ReadCell {
            value: IdKey::Text(text.to_string()),
            outside: None,
        }),
        IdKind::Integer { min, max } => {
            let id = text.parse::<i64>().map_err(|_| CellFault::NotAnInteger)?;
            Ok(ReadCell {
                value: IdKey::Integer(id),
                outside: outside(id, min, max, |x| x as f64),
            })
        }
    }
}

/// Reads an outcome cell: 0 or 1 (also as a decimal, `1.0`), anything else (missing
/// included) is refused.
pub fn read_outcome_cell(text: &str) -> Result<f32, CellFault> {
    match text {
        "0" => Ok(0.0),
        "1" => Ok(1.0),
        _ => match text.parse::<f32>() {
            Ok(value) if value == 0.0 || value == 1.0 => Ok(value),
            _ => Err(CellFault::NotBinary),
        },
    }
}

/// The limit `value` lies beyond (compared in `T`; `as_f64` only for the report).
fn outside<T: PartialOrd + Copy>(
    value: T,
    min: Option<T>,
    max: Option<T>,
    as_f64: fn(T) -> f64,
) -> Option<Outside> {
    match (
        min.filter(|&min| value < min),
        max.filter(|&max| value > max),
    ) {
        (Some(min), _) => Some(Outside::Below(as_f64(min))),
        (_, Some(max)) => Some(Outside::Above(as_f64(max))),
        (None, None) => None,
    }
}

/// One cell being loaded, with what an error message needs.
struct Cell<'a> {
    file: &'a Path,
    line: u64,
    column: &'a str,
    text: &'a str,
}

impl Cell<'_> {
    /// The loader's error for `fault` (the levels only for an unknown level).
    fn error(&self, fault: CellFault, levels: &[String]) -> DataError {
        let file = self.file.to_path_buf();
        let (line, column) = (self.line, self.column.to_string());
        let value = shown(self.text).to_string();
        match fault {
            CellFault::Missing => DataError::MissingValue { file, line, column },
            CellFault::NotANumber | CellFault::NotFinite => DataError::NotANumber {
                file,
                line,
                column,
                value,
            },
            CellFault::NotBoolean => DataError::NotBoolean {
                file,
                line,
                column,
                value,
            },
            CellFault::UnknownLevel => DataError::UnknownLevel {
                file,
                line,
                column,
                value,
                levels: levels.to_vec(),
            },
            CellFault::NotAnInteger => DataError::NotAnInteger {
                file,
                line,
                column,
                value,
            },
            CellFault::NotBinary => DataError::TargetNotBinary {
                file,
                line,
                column,
                value,
            },
        }
    }

    /// Records a violation if the cell lies beyond a limit.
    fn check_limits(
        &self,
        outside: Option<Outside>,
        unit: Option<&String>,
        violations: &mut Violations,
    ) {
        if let Some(outside) = outside {
            violations.push(LimitViolation {
                line: self.line,
                column: self.column.to_string(),
                value: shown(self.text).to_string(),
                min: match outside {
                    Outside::Below(min) => Some(min),
                    Outside::Above(_) => None,
                },
                max: match outside {
                    Outside::Above(max) => Some(max),
                    Outside::Below(_) => None,
                },
                unit: unit.cloned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` is refused as an invalid schema with a message containing `expected`.
    fn assert_invalid_schema(text: &str, expected: &str) {
        let error = parse_schema(text, Path::new("s.toml")).unwrap_err();
        assert!(
            matches!(error, DataError::InvalidSchema { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(expected), "{error}");
    }

    const SCHEMA: &str = r#"
[dataset]
name = "tiny"
targets = ["event"]

[[feature]]
name = "age"
type = "numeric"
unit = "years"
min = 18
max = 105

[[feature]]
name = "procedure"
type = "categorical"
levels = ["hip", "knee"]

[[feature]]
name = "diabetes"
type = "boolean"

[[feature]]
name = "albumin"
type = "numeric"
unit = "g/L"
min = 10
max = 60
missing = true

[[column]]
name = "id"
"#;

    fn schema() -> Schema {
        parse_schema(SCHEMA, Path::new("tiny.schema.toml")).unwrap()
    }

    fn load(csv: &str) -> Result<Dataset, DataError> {
        parse_csv(csv.as_bytes(), Path::new("rows.csv"), &schema())
    }

    const HEADER: &str = "id,age,procedure,diabetes,albumin,event\n";

    #[test]
    fn loads_a_valid_file_column_major_in_schema_order() {
        let csv = "event,albumin,diabetes,procedure,age,id,extra\n\
                   0,41.5,0,hip,70,1,x\n\
                   1,,true,knee,18,2,y\n\
                   0,NA,FALSE,knee,105,3,z\n";
        let data = parse_csv(csv.as_bytes(), Path::new("rows.csv"), &schema()).unwrap();
        assert_eq!(data.n_rows, 3);
        assert_eq!(
            data.feature_names,
            ["age", "procedure", "diabetes", "albumin"]
        );
        assert_eq!(data.columns[0], [70.0, 18.0, 105.0]);
        assert_eq!(data.columns[1], [0.0, 1.0, 1.0]);
        assert_eq!(data.columns[2], [0.0, 1.0, 0.0]);
        assert_eq!(data.columns[3][0], 41.5);
        assert!(data.columns[3][1].is_nan() && data.columns[3][2].is_nan());
        assert_eq!(data.target("event"), Some(&[0.0, 1.0, 0.0][..]));
        assert_eq!(data.target("other"), None);
        assert_eq!(data.sha256, hex(&Sha256::digest(csv.as_bytes())));
        assert_eq!(data.sha256.len(), 64);
    }

    #[test]
    fn parses_numbers_directly_to_f32() {
        // Just above the midpoint between 1.0 and the next f32: rounding once gives the f32
        // above; rounding through f64 lands exactly on the midpoint and ties to 1.0.
        let text = "1.0000000596046448";
        assert_eq!((text.parse::<f64>().unwrap() as f32).to_bits(), 0x3f80_0000);
        let spec = FeatureSpec {
            name: "x".into(),
            kind: FeatureKind::Numeric {
                min: None,
                max: None,
            },
            unit: None,
            missing: false,
            description: None,
        };
        let read = read_feature_cell(&spec, text).unwrap();
        assert_eq!(read.value.to_bits(), 0x3f80_0001);
    }

    #[test]
    fn rejects_an_unparseable_number_naming_file_line_and_column() {
        let error = load(&format!("{HEADER}1,70,hip,0,40,0\n2,seventy,hip,0,40,0\n")).unwrap_err();
        assert!(
            matches!(error, DataError::NotANumber { line: 3, .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("rows.csv"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("'age'"), "{message}");
        assert!(message.contains("'seventy'"), "{message}");
    }

    #[test]
    fn rejects_infinite_numbers() {
        let error = load(&format!("{HEADER}1,inf,hip,0,40,0\n")).unwrap_err();
        assert!(matches!(error, DataError::NotANumber { .. }), "{error:?}");
        let error = load(&format!("{HEADER}1,1e39,hip,0,40,0\n")).unwrap_err();
        assert!(matches!(error, DataError::NotANumber { .. }), "{error:?}");
    }

    #[test]
    fn rejects_an_unknown_level_listing_the_allowed_levels() {
        let error = load(&format!("{HEADER}1,70,shoulder,0,40,0\n")).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, DataError::UnknownLevel { line: 2, .. }),
            "{error:?}"
        );
        assert!(message.contains("'procedure'"), "{message}");
        assert!(message.contains("'shoulder'"), "{message}");
        assert!(message.contains("hip, knee"), "{message}");
    }

    #[test]
    fn rejects_a_boolean_outside_0_1_true_false() {
        let error = load(&format!("{HEADER}1,70,hip,yes,40,0\n")).unwrap_err();
        assert!(
            matches!(error, DataError::NotBoolean { line: 2, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("'diabetes'"));
    }

    #[test]
    fn rejects_missing_values_where_the_schema_forbids_them() {
        for cell in ["", "NA", "nan"] {
            let error = load(&format!("{HEADER}1,{cell},hip,0,40,0\n")).unwrap_err();
            assert!(
                matches!(&error, DataError::MissingValue { line: 2, column, .. } if column == "age"),
                "{error:?}"
            );
        }
        // A categorical cell that is empty is missing too, not an unknown level.
        let error = load(&format!("{HEADER}1,70,,0,40,0\n")).unwrap_err();
        assert!(matches!(error, DataError::MissingValue { .. }), "{error:?}");
    }

    #[test]
    fn collects_every_limit_violation_up_to_the_cap() {
        let mut csv = HEADER.to_string();
        csv.push_str("1,17,hip,0,40,0\n"); // line 2: age below 18
        csv.push_str("2,70,hip,0,40,0\n");
        csv.push_str("3,106,hip,0,61,0\n"); // line 4: age and albumin above
        for id in 0..30 {
            csv.push_str(&format!("{id},200,knee,1,40,1\n"));
        }
        let error = load(&csv).unwrap_err();
        let DataError::LimitViolations {
            violations,
            n_total,
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(*n_total, 33);
        assert_eq!(violations.len(), MAX_REPORTED_VIOLATIONS);
        assert_eq!(violations[0].line, 2);
        assert_eq!(violations[0].min, Some(18.0));
        assert_eq!(violations[1].line, 4);
        assert_eq!(violations[2].column, "albumin");
        let message = error.to_string();
        assert!(message.contains("rows.csv: 33 value(s)"), "{message}");
        assert!(
            message.contains("line 2, column 'age': 17 is below the minimum 18 years"),
            "{message}"
        );
        assert!(
            message.contains("line 4, column 'albumin': 61 is above the maximum 60 g/L"),
            "{message}"
        );
        assert!(message.contains("... and 13 more"), "{message}");
    }

    #[test]
    fn checks_limits_on_the_value_as_written() {
        // 105.000001 rounds to 105.0 in f32 but is still above the limit.
        let error = load(&format!("{HEADER}1,105.000001,hip,0,40,0\n")).unwrap_err();
        assert!(
            matches!(error, DataError::LimitViolations { n_total: 1, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn rejects_a_missing_schema_column() {
        let error = load("id,age,procedure,diabetes,event\n1,70,hip,0,0\n").unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(&error, DataError::MissingColumn { column, .. } if column == "albumin"),
            "{error:?}"
        );
        assert!(message.contains("rows.csv: line 1"), "{message}");
        let error = load("id,age,procedure,diabetes,albumin\n1,70,hip,0,40\n").unwrap_err();
        assert!(
            matches!(&error, DataError::MissingColumn { column, .. } if column == "event"),
            "{error:?}"
        );
    }

    #[test]
    fn rejects_a_duplicate_header_column() {
        let error = load("id,age,procedure,age,diabetes,albumin,event\n").unwrap_err();
        assert!(
            matches!(
                &error,
                DataError::DuplicateColumn {
                    first: 2,
                    second: 4,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("'age'"));
    }

    #[test]
    fn rejects_a_target_that_is_not_0_or_1() {
        for cell in ["2", "", "yes", "0.5"] {
            let error = load(&format!("{HEADER}1,70,hip,0,40,{cell}\n")).unwrap_err();
            assert!(
                matches!(&error, DataError::TargetNotBinary { line: 2, column, .. } if column == "event"),
                "{cell}: {error:?}"
            );
        }
    }

    #[test]
    fn rejects_ragged_rows_empty_files_and_header_only_files() {
        let error = load(&format!("{HEADER}1,70,hip,0,40\n")).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::RaggedRow {
                    line: 2,
                    expected: 6,
                    found: 5,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(matches!(load("").unwrap_err(), DataError::NoHeader { .. }));
        assert!(matches!(
            load(HEADER).unwrap_err(),
            DataError::NoRows { .. }
        ));
    }

    #[test]
    fn reports_physical_lines_across_quoted_newlines() {
        let csv = format!("{HEADER}\"a\nb\",70,hip,0,40,0\n2,x,hip,0,40,0\n");
        let error = load(&csv).unwrap_err();
        assert!(
            matches!(error, DataError::NotANumber { line: 4, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_categoricals_reference_level_defaults_to_the_first_and_may_be_declared() {
        let kind = |text: &str| {
            let schema = parse_schema(text, Path::new("s.toml")).expect("schema");
            schema
                .features
                .into_iter()
                .find(|f| f.name == "procedure")
                .map(|f| f.kind)
        };
        let levels = vec!["hip".to_string(), "knee".to_string()];
        assert_eq!(
            kind(SCHEMA),
            Some(FeatureKind::Categorical {
                levels: levels.clone(),
                reference: 0
            })
        );
        let declared = SCHEMA.replace(
            "levels = [\"hip\", \"knee\"]",
            "levels = [\"hip\", \"knee\"]\nreference = \"knee\"",
        );
        assert_eq!(
            kind(&declared),
            Some(FeatureKind::Categorical {
                levels,
                reference: 1
            })
        );
    }

    #[test]
    fn rejects_inconsistent_schemas() {
        let bad = [
            (SCHEMA.replace("max = 105", "max = 10"), "above max"),
            (SCHEMA.replace("\"knee\"]", "\"hip\"]"), "listed twice"),
            (
                SCHEMA.replace("name = \"id\"", "name = \"age\""),
                "more than once",
            ),
            (
                SCHEMA.replace("type = \"boolean\"", "type = \"flag\""),
                "type 'flag'",
            ),
            (SCHEMA.replace("levels = [\"hip\", \"knee\"]", ""), "levels"),
            (
                SCHEMA.replace(
                    "levels = [\"hip\", \"knee\"]",
                    "levels = [\"hip\", \"knee\"]\nreference = \"shoulder\"",
                ),
                "reference level 'shoulder' is not one of its levels (hip, knee)",
            ),
            (
                SCHEMA.replace(
                    "type = \"boolean\"",
                    "type = \"boolean\"\nreference = \"1\"",
                ),
                "not categorical",
            ),
        ];
        for (text, expected) in bad {
            assert_invalid_schema(&text, expected);
        }
        let typo = SCHEMA.replace("missing = true", "mising = true");
        let error = parse_schema(&typo, Path::new("s.toml")).unwrap_err();
        assert!(matches!(error, DataError::SchemaSyntax { .. }), "{error:?}");
        assert!(error.to_string().contains("mising"), "{error}");
    }

    #[test]
    fn parses_split_expressions() {
        let split = parse_split("surgery_year <= 2015").unwrap();
        assert_eq!(split.column, "surgery_year");
        assert_eq!(split.op, SplitOp::Le);
        assert_eq!(split.value, 2015.0);
        for (expr, op) in [
            ("a<1", SplitOp::Lt),
            ("a >=1", SplitOp::Ge),
            ("a> 1.5", SplitOp::Gt),
            ("a == 0", SplitOp::Eq),
        ] {
            assert_eq!(parse_split(expr).unwrap().op, op, "{expr}");
        }
        for expr in [
            "surgery_year 2015",
            "<= 2015",
            "surgery_year <= soon",
            "surgery_year = 2015",
            "a <= 1 <= 2",
            "surgery year <= 2015",
            "a <= inf",
        ] {
            let error = parse_split(expr).unwrap_err();
            assert!(
                matches!(error, DataError::BadSplit { .. }),
                "{expr}: {error:?}"
            );
        }
    }

    #[test]
    fn partitions_rows_into_a_split_and_its_complement() {
        let data = load(&format!(
            "{HEADER}1,70,hip,0,40,0\n2,50,knee,1,,1\n3,80,knee,0,30,0\n4,65,hip,1,35,1\n"
        ))
        .unwrap();
        let (train, test) = parse_split("age <= 65").unwrap().partition(&data).unwrap();
        assert_eq!(train.n_rows, 2);
        assert_eq!(test.n_rows, 2);
        assert_eq!(train.columns[0], [50.0, 65.0]);
        assert_eq!(test.columns[0], [70.0, 80.0]);
        assert_eq!(train.target("event"), Some(&[1.0, 1.0][..]));
        assert_eq!(train.sha256, data.sha256);

        let knees = data.filter_rows("procedure", |v| v == 1.0).unwrap();
        assert_eq!(knees.n_rows, 2);
        assert!(matches!(
            data.filter_rows("height", |_| true),
            Err(DataError::UnknownColumn { .. })
        ));
        // Missing values in the split column would silently land in the test set.
        let error = parse_split("albumin < 36")
            .unwrap()
            .partition(&data)
            .unwrap_err();
        assert!(
            matches!(error, DataError::MissingInSplitColumn { n_missing: 1, .. }),
            "{error:?}"
        );
    }

    /// The tiny schema with roles: an integer id, a split column and the old features.
    fn roles_schema(id_type: &str) -> Schema {
        let text = SCHEMA.replace(
            "[[column]]\nname = \"id\"\n",
            &format!(
                "[[id]]\nname = \"id\"\ntype = \"{id_type}\"\n\n\
                 [[split]]\nname = \"year\"\ntype = \"numeric\"\nmin = 2000\nmax = 2030\n"
            ),
        );
        parse_schema(&text, Path::new("roles.schema.toml")).unwrap()
    }

    const ROLES_CSV: &str = "id,year,age,procedure,diabetes,albumin,event\n\
                             1,2014,70,hip,0,41,0\n\
                             2,2016,50,knee,1,,1\n\
                             30,2015,80,knee,0,30,0\n\
                             4,2017,65,hip,1,35,1\n";

    fn load_roles(csv: &str, id_type: &str) -> Result<Dataset, DataError> {
        parse_csv(
            csv.as_bytes(),
            Path::new("roles.csv"),
            &roles_schema(id_type),
        )
    }

    #[test]
    fn an_old_style_schema_loads_with_no_split_or_id_column() {
        let schema = schema();
        assert!(schema.splits.is_empty());
        assert_eq!(schema.id, None);
        assert_eq!(schema.ignored_columns, ["id"]);
        let data = load(&format!("{HEADER}1,70,hip,0,40,0\n1,71,hip,0,40,0\n")).unwrap();
        // An undeclared or `[[column]]` id is not checked for uniqueness.
        assert!(data.splits.is_empty() && data.ids.is_none());
    }

    #[test]
    fn split_and_id_columns_load_but_are_never_features() {
        let data = load_roles(ROLES_CSV, "integer").unwrap();
        assert_eq!(
            data.feature_names,
            ["age", "procedure", "diabetes", "albumin"]
        );
        assert_eq!(data.columns.len(), 4);
        assert_eq!(
            data.splits,
            [("year".to_string(), vec![2014.0, 2016.0, 2015.0, 2017.0])]
        );
        let ids = data.ids.as_ref().unwrap();
        assert_eq!((ids.name.as_str(), ids.integer), ("id", true));
        assert_eq!(ids.values, ["1", "2", "30", "4"]);
        assert_eq!(
            data.column("year"),
            Some(&[2014.0, 2016.0, 2015.0, 2017.0][..])
        );
        assert_eq!(data.column("id"), None);
    }

    #[test]
    fn row_conditions_work_on_every_declared_role() {
        let data = load_roles(ROLES_CSV, "integer").unwrap();
        let rows = |expr: &str| data.rows_where(expr).unwrap();
        assert_eq!(rows("year <= 2015"), [true, false, true, false]);
        assert_eq!(rows("age > 60"), [true, false, true, true]);
        assert_eq!(rows("id >= 4"), [false, false, true, true]);
        assert_eq!(rows("event == 1"), [false, true, false, true]);
        // Missing feature values never match.
        assert_eq!(rows("albumin < 100"), [true, false, true, true]);

        let (train, test) = parse_split("year <= 2015")
            .unwrap()
            .partition(&data)
            .unwrap();
        assert_eq!(train.ids.as_ref().unwrap().values, ["1", "30"]);
        assert_eq!(test.splits[0].1, [2016.0, 2017.0]);
        assert_eq!(test.columns[0], [50.0, 65.0]);

        let error = data.rows_where("height < 2").unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, DataError::UnknownColumn { .. }),
            "{error:?}"
        );
        for name in ["age", "year", "id", "event"] {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn integer_ids_compare_exactly_and_text_ids_refuse_comparisons() {
        // 16777217 has no f32; the exact comparison still tells it from 16777216.
        let csv = ROLES_CSV.replace("\n30,", "\n16777217,");
        let data = load_roles(&csv, "integer").unwrap();
        assert_eq!(
            data.rows_where("id == 16777217").unwrap(),
            [false, false, true, false]
        );
        assert_eq!(
            data.rows_where("id > 16777216").unwrap(),
            [false, false, true, false]
        );
        let data = load_roles(ROLES_CSV, "text").unwrap();
        assert!(!data.ids.as_ref().unwrap().integer);
        let error = data.rows_where("id > 1").unwrap_err();
        assert!(
            matches!(error, DataError::TextIdInCondition { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_a_duplicate_id_naming_both_lines() {
        let csv = format!("{ROLES_CSV}30,2018,60,hip,0,40,0\n");
        let error = load_roles(&csv, "text").unwrap_err();
        assert!(
            matches!(
                &error,
                DataError::DuplicateId { first_line: 4, second_line: 6, value, .. } if value == "30"
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("roles.csv"), "{message}");
        assert!(
            message.contains("line 4") && message.contains("line 6"),
            "{message}"
        );
        // Integer ids are compared as numbers: 030 repeats 30; as text they differ.
        let csv = format!("{ROLES_CSV}030,2018,60,hip,0,40,0\n");
        let error = load_roles(&csv, "integer").unwrap_err();
        assert!(
            matches!(
                error,
                DataError::DuplicateId {
                    first_line: 4,
                    second_line: 6,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(load_roles(&csv, "text").is_ok());
    }

    #[test]
    fn checks_id_and_split_cells_like_features() {
        let bad_id = ROLES_CSV.replace("\n30,", "\nP30,");
        let error = load_roles(&bad_id, "integer").unwrap_err();
        assert!(
            matches!(&error, DataError::NotAnInteger { line: 4, column, .. } if column == "id"),
            "{error:?}"
        );
        let no_id = ROLES_CSV.replace("\n30,", "\n,");
        let error = load_roles(&no_id, "text").unwrap_err();
        assert!(
            matches!(&error, DataError::MissingValue { line: 4, column, .. } if column == "id"),
            "{error:?}"
        );
        let late = ROLES_CSV.replace(",2017,", ",2031,");
        let error = load_roles(&late, "integer").unwrap_err();
        assert!(
            matches!(&error, DataError::LimitViolations { violations, .. } if violations[0].column == "year"),
            "{error:?}"
        );
        let missing_year = ROLES_CSV.replace(",2017,", ",,");
        let error = load_roles(&missing_year, "integer").unwrap_err();
        assert!(
            matches!(&error, DataError::MissingValue { line: 5, column, .. } if column == "year"),
            "{error:?}"
        );
        let schema = SCHEMA.replace(
            "[[column]]\nname = \"id\"\n",
            "[[id]]\nname = \"id\"\ntype = \"integer\"\nmin = 1\nmax = 10\n",
        );
        let schema = parse_schema(&schema, Path::new("s.toml")).unwrap();
        let error = parse_csv(
            format!("{HEADER}11,70,hip,0,40,0\n").as_bytes(),
            Path::new("rows.csv"),
            &schema,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("line 2, column 'id': 11 is above the maximum 10"),
            "{error}"
        );
    }

    #[test]
    fn rejects_inconsistent_roles() {
        let bad = [
            (
                SCHEMA.replace(
                    "[[column]]\nname = \"id\"\n",
                    "[[id]]\nname = \"id\"\n\n[[id]]\nname = \"key\"\n",
                ),
                "at most one id",
            ),
            (
                SCHEMA.replace(
                    "[[column]]",
                    "[[split]]\nname = \"age\"\ntype = \"numeric\"\n[[column]]",
                ),
                "more than once",
            ),
            (
                SCHEMA.replace(
                    "[[column]]\nname = \"id\"\n",
                    "[[id]]\nname = \"id\"\nmin = 3\n",
                ),
                "cannot have limits",
            ),
            (
                SCHEMA.replace(
                    "[[column]]\nname = \"id\"\n",
                    "[[id]]\nname = \"id\"\ntype = \"uuid\"\n",
                ),
                "type 'uuid'",
            ),
            (
                SCHEMA.replace(
                    "[[column]]",
                    "[[split]]\nname = \"site\"\ntype = \"categorical\"\n[[column]]",
                ),
                "split column 'site' needs a non-empty levels list",
            ),
        ];
        for (text, expected) in bad {
            assert_invalid_schema(&text, expected);
        }
    }
}

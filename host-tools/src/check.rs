//! `lockstep data check`: reads a whole data file against its schema and lists every anomaly,
//! where the loader ([`crate::data::parse_csv`]) stops at the first. Cells are read by the
//! loader's own functions ([`data::read_feature_cell`], [`data::read_id_cell`],
//! [`data::read_outcome_cell`]), so the check and the loader can never disagree on what a cell
//! means; the check only counts instead of stopping.
//!
//! An anomaly is a group: one column, one [`Rule`], how many cells (or rows) break it, the first
//! [`LINES_SHOWN_PER_ANOMALY`] line numbers (1-based physical lines, the header is line 1, as
//! in the loader's messages) and the first offending value (shown with [`shown`]). Groups are
//! keyed by (column, rule), so their number is bounded by columns times rules whatever the
//! file's size. Columns the schema does not name are a note, not an anomaly.
//!
//! Against a reference summary (a training record's `feature_summaries`, or a summary this check
//! wrote with `--summary-out`), every feature's distribution change is measured
//! ([`crate::metrics::drift`]: PSI and KS, always reported) and flagged above the schema's
//! `[drift]` thresholds. The report holds no path and no time: the same inputs give the same
//! bytes. Never writes files (the command does).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{self, CellFault, DataError, FeatureKind, FeatureSpec, IdKey, IdKind, Schema};
use crate::inspect::hex;
use crate::metrics::drift;
use crate::text::{shown, shown_path};
use crate::train::record::FeatureDistribution;

/// Line numbers kept per anomaly group (the count is always complete).
pub const LINES_SHOWN_PER_ANOMALY: usize = 5;

/// Why a check could not run (an error of use, not an anomaly of the data).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The data file cannot be read as CSV at all (unreadable, empty, malformed).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The reference summary cannot be used.
    #[error("reference '{}': {detail}", shown_path(file))]
    Reference {
        /// The reference file.
        file: PathBuf,
        /// What is wrong and what to give instead.
        detail: String,
    },
}

/// The rule an anomaly breaks, in the order the report lists them within a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A column the schema declares (any role) is not in the header.
    MissingColumn,
    /// A header name appears more than once.
    DuplicateColumn,
    /// A row has a different number of cells than the header.
    RowWidth,
    /// The file has a header but no data rows.
    NoRows,
    /// A cell is not of its column's type (a number, a boolean, an integer id).
    Type,
    /// A numeric cell is infinite or beyond the f32 range.
    NonFinite,
    /// A value lies outside its column's `min`/`max`.
    Limit,
    /// A categorical cell is not one of the levels.
    Level,
    /// A missing cell where the schema declares `missing = false` (or an id).
    Missing,
    /// An id already used by an earlier row.
    DuplicateId,
    /// An outcome cell that is not 0 or 1.
    Outcome,
}

impl Rule {
    /// The rule's name in the text listing and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rule::MissingColumn => "missing_column",
            Rule::DuplicateColumn => "duplicate_column",
            Rule::RowWidth => "row_width",
            Rule::NoRows => "no_rows",
            Rule::Type => "type",
            Rule::NonFinite => "non_finite",
            Rule::Limit => "limit",
            Rule::Level => "level",
            Rule::Missing => "missing",
            Rule::DuplicateId => "duplicate_id",
            Rule::Outcome => "outcome",
        }
    }
}

/// One anomaly group: every cell (or row) of one column breaking one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// The column (`(row)` for a row's width, `(file)` for an empty file), shown safely.
    pub column: String,
    /// The rule.
    pub rule: Rule,
    /// How many cells (or rows, or header cells) break it.
    pub count: usize,
    /// The first [`LINES_SHOWN_PER_ANOMALY`] lines (1-based, header line 1).
    pub lines: Vec<u64>,
    /// The first offending value, shown safely (none for a missing column or cell).
    pub example: Option<String>,
    /// What the rule requires here.
    pub detail: String,
}

/// One feature's distribution change against the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftEntry {
    /// The feature.
    pub feature: String,
    /// Population stability index (none when it cannot be computed; see `note`).
    pub psi: Option<f64>,
    /// Kolmogorov-Smirnov statistic at the reference's bin edges (none for a categorical with
    /// more than two levels).
    pub ks: Option<f64>,
    /// The PSI threshold in effect.
    pub psi_threshold: f64,
    /// The KS threshold in effect.
    pub ks_threshold: f64,
    /// Whether the change is an anomaly: a statistic above its threshold, or a feature whose
    /// type or levels differ from the reference's.
    pub flagged: bool,
    /// Why a statistic is missing, if it is.
    pub note: Option<String>,
}

/// The result of a check: the JSON written by `--json`, and what the text listing shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// SHA-256 of the data file's bytes.
    pub data_sha256: String,
    /// SHA-256 of the schema file's bytes.
    pub schema_sha256: String,
    /// SHA-256 of the reference file's bytes, if one was given.
    pub reference_sha256: Option<String>,
    /// Data rows (blank lines excluded).
    pub rows: usize,
    /// Header columns.
    pub columns: usize,
    /// No anomaly and no flagged distribution change.
    pub clean: bool,
    /// The anomaly groups, by column (schema order: id, features, split columns, outcomes;
    /// then the rest) and rule.
    pub anomalies: Vec<Anomaly>,
    /// Each feature's change against the reference (empty without one), in schema order.
    pub drift: Vec<DriftEntry>,
    /// Observations that are not anomalies (columns the schema does not name, reference
    /// features the schema does not declare).
    pub notes: Vec<String>,
}

impl CheckReport {
    /// How many features are flagged as changed.
    pub fn n_flagged(&self) -> usize {
        self.drift.iter().filter(|d| d.flagged).count()
    }
}

/// A check's report, and the summary of the checked data (what `--summary-out` writes).
#[derive(Debug, Clone)]
pub struct CheckRun {
    /// The report.
    pub report: CheckReport,
    /// The summary of the checked data's features.
    pub summary: Summary,
}

/// A reference summary: what `--summary-out` writes and `--reference` reads (a training
/// record has the same `feature_summaries` key, and is read the same way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// SHA-256 of the summarised data file.
    #[serde(default)]
    pub data_sha256: String,
    /// SHA-256 of its schema.
    #[serde(default)]
    pub schema_sha256: String,
    /// Data rows.
    #[serde(default)]
    pub rows: usize,
    /// Each feature's distribution (with bins), in schema order.
    pub feature_summaries: Vec<FeatureDistribution>,
}

/// A reference read from a file.
#[derive(Debug, Clone)]
pub struct Reference {
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Its feature summaries, each with bins.
    pub summaries: Vec<FeatureDistribution>,
}

/// Reads a reference: a training record (MODEL.training.json) or a summary written by `data
/// check --summary-out`; `file` is only used in messages.
pub fn parse_reference(bytes: &[u8], file: &Path) -> Result<Reference, CheckError> {
    #[derive(Deserialize)]
    struct ReferenceFile {
        feature_summaries: Option<Vec<FeatureDistribution>>,
    }
    let refused = |detail: String| CheckError::Reference {
        file: file.to_path_buf(),
        detail,
    };
    let parsed: ReferenceFile = serde_json::from_slice(bytes).map_err(|e| {
        refused(format!(
            "not a training record or data summary ({e}); give MODEL.training.json or a summary written by `lockstep data check --summary-out`"
        ))
    })?;
    let summaries = parsed.feature_summaries.ok_or_else(|| {
        refused("it has no feature_summaries; give MODEL.training.json or a summary written by `lockstep data check --summary-out`".into())
    })?;
    if let Some(old) = summaries.iter().find(|s| s.bins.is_none()) {
        return Err(refused(format!(
            "feature '{}' has no bins (a record from an older lockstep); re-train, or write a summary of the training data with `lockstep data check --summary-out`",
            shown(&old.name)
        )));
    }
    Ok(Reference {
        sha256: hex(&Sha256::digest(bytes)),
        summaries,
    })
}

/// Where a group sorts: columns in schema order, then the row and file groups, then
/// undeclared header names.
type GroupKey = (usize, Rule, String);

/// The anomaly groups being collected.
#[derive(Default)]
struct Groups {
    groups: HashMap<GroupKey, Anomaly>,
}

impl Groups {
    /// Counts one occurrence of `rule` in `column` (sorting at `order`) on `line`; the first
    /// occurrence sets the example and `detail`.
    fn add(
        &mut self,
        (order, column): (usize, &str),
        rule: Rule,
        line: u64,
        example: Option<&str>,
        detail: impl FnOnce() -> String,
    ) {
        let group = self
            .groups
            .entry((order, rule, column.to_string()))
            .or_insert_with(|| Anomaly {
                column: shown(column).to_string(),
                rule,
                count: 0,
                lines: Vec::new(),
                example: example.map(|text| shown(text).to_string()),
                detail: detail(),
            });
        group.count += 1;
        if group.lines.len() < LINES_SHOWN_PER_ANOMALY {
            group.lines.push(line);
        }
    }

    fn into_sorted(self) -> Vec<Anomaly> {
        let mut groups: Vec<(GroupKey, Anomaly)> = self.groups.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups.into_iter().map(|(_, anomaly)| anomaly).collect()
    }
}

/// What `rule` requires of a cell of a column declared as `spec`.
fn feature_detail(rule: Rule, spec: &FeatureSpec) -> String {
    let unit = spec
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match (rule, &spec.kind) {
        (Rule::Limit, FeatureKind::Numeric { min, max }) => limits_detail(*min, *max, &unit),
        (Rule::Level, _) => format!(
            "not one of the levels: {}",
            shown(&spec.levels().join(", "))
        ),
        (Rule::Type, FeatureKind::Boolean) => "not a boolean (0, 1, true or false)".into(),
        (rule, _) => fault_detail(rule),
    }
}

/// The limits as the detail of a limit anomaly.
fn limits_detail(min: Option<f64>, max: Option<f64>, unit: &str) -> String {
    let bounds: Vec<String> = [("min", min), ("max", max)]
        .into_iter()
        .filter_map(|(name, bound)| bound.map(|b| format!("{name} {b}")))
        .collect();
    format!("outside the schema's limits ({}){unit}", bounds.join(", "))
}

/// What a rule requires, where the column adds nothing.
fn fault_detail(rule: Rule) -> String {
    match rule {
        Rule::Type => "not a number",
        Rule::NonFinite => "infinite or beyond the f32 range: not a measurement",
        Rule::Missing => "missing, but the schema does not allow missing values here",
        Rule::Outcome => "an outcome must be 0 or 1",
        Rule::DuplicateId => "repeats an earlier row's id; each row needs its own id",
        Rule::MissingColumn => "declared in the schema but absent from the header",
        Rule::DuplicateColumn => "appears more than once in the header; the first is read",
        Rule::NoRows => "the file has a header but no data rows",
        Rule::RowWidth | Rule::Limit | Rule::Level => "",
    }
    .into()
}

/// The rule a cell fault breaks.
fn rule_of(fault: CellFault) -> Rule {
    match fault {
        CellFault::Missing => Rule::Missing,
        CellFault::NotANumber | CellFault::NotBoolean | CellFault::NotAnInteger => Rule::Type,
        CellFault::NotFinite => Rule::NonFinite,
        CellFault::UnknownLevel => Rule::Level,
        CellFault::NotBinary => Rule::Outcome,
    }
}

/// Checks the CSV `bytes` against `schema` (whose file hashes to `schema_sha256`) and, if
/// given, `reference`; `file` is only used in messages. Errors only when the file cannot be
/// read as CSV at all; everything else is an anomaly in the report.
pub fn check(
    bytes: &[u8],
    file: &Path,
    schema: &Schema,
    schema_sha256: &str,
    reference: Option<&Reference>,
) -> Result<CheckRun, CheckError> {
    let (header, records) = data::open_csv(bytes, file)?;
    let mut groups = Groups::default();
    let mut notes = Vec::new();

    // Declared columns in schema order: the id, features, split columns, outcomes.
    let encoded: Vec<&FeatureSpec> = schema.features.iter().chain(&schema.splits).collect();
    let id_order = 0;
    let encoded_order = |index: usize| 1 + index;
    let target_order = |index: usize| 1 + encoded.len() + index;
    let row_order = 1 + encoded.len() + schema.targets.len();
    let header_order = row_order + 1;

    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        if positions.contains_key(name.as_str()) {
            groups.add((header_order, name), Rule::DuplicateColumn, 1, None, || {
                fault_detail(Rule::DuplicateColumn)
            });
        } else {
            positions.insert(name.as_str(), index);
        }
    }
    let mut locate = |order: usize, name: &str| {
        let position = positions.get(name).copied();
        if position.is_none() {
            groups.add((order, name), Rule::MissingColumn, 1, None, || {
                fault_detail(Rule::MissingColumn)
            });
        }
        position
    };
    let id_position = schema.id.as_ref().and_then(|id| locate(id_order, &id.name));
    let encoded_positions: Vec<Option<usize>> = encoded
        .iter()
        .enumerate()
        .map(|(index, spec)| locate(encoded_order(index), &spec.name))
        .collect();
    let target_positions: Vec<Option<usize>> = schema
        .targets
        .iter()
        .enumerate()
        .map(|(index, name)| locate(target_order(index), name))
        .collect();
    let declared = |name: &str| {
        schema.id.as_ref().is_some_and(|id| id.name == name)
            || encoded.iter().any(|spec| spec.name == name)
            || schema.targets.iter().any(|target| target == name)
            || schema.ignored_columns.iter().any(|column| column == name)
    };
    let unknown: Vec<String> = header
        .iter()
        .filter(|name| !declared(name))
        .map(|name| format!("'{}'", shown(name)))
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "{} column(s) not in the schema, not checked: {}",
            unknown.len(),
            unknown.join(", ")
        ));
    }

    let mut values: Vec<Vec<f32>> = vec![Vec::new(); encoded.len()];
    let mut first_lines: HashMap<IdKey, u64> = HashMap::new();
    let mut n_rows = 0usize;
    for record in records {
        let record = record.map_err(|error| data::csv_error(file, &error))?;
        let line = data::record_line(&record);
        if data::is_blank_line(&record, header.len()) {
            continue;
        }
        n_rows += 1;
        if record.len() != header.len() {
            let found = format!("{} cells", record.len());
            groups.add(
                (row_order, "(row)"),
                Rule::RowWidth,
                line,
                Some(&found),
                || {
                    format!(
                        "the header has {} cells; the row is not checked",
                        header.len()
                    )
                },
            );
            continue;
        }
        if let (Some(spec), Some(position)) = (&schema.id, id_position) {
            let text = &record[position];
            let at = (id_order, spec.name.as_str());
            match data::read_id_cell(spec, text) {
                Err(fault) => {
                    groups.add(
                        at,
                        rule_of(fault),
                        line,
                        example(fault, text),
                        || match fault {
                            CellFault::NotAnInteger => {
                                "not an integer (the schema declares type = \"integer\")".into()
                            }
                            fault => fault_detail(rule_of(fault)),
                        },
                    )
                }
                Ok(read) => {
                    if read.outside.is_some() {
                        groups.add(at, Rule::Limit, line, Some(text), || match spec.kind {
                            IdKind::Integer { min, max } => {
                                limits_detail(min.map(|m| m as f64), max.map(|m| m as f64), "")
                            }
                            IdKind::Text => String::new(),
                        });
                    }
                    if let Some(&first) = first_lines.get(&read.value) {
                        groups.add(at, Rule::DuplicateId, line, Some(text), || {
                            format!(
                                "repeats an earlier row's id (the example's first row is on line {first}); each row needs its own id"
                            )
                        });
                    } else {
                        first_lines.insert(read.value, line);
                    }
                }
            }
        }
        for (index, (spec, position)) in encoded.iter().zip(&encoded_positions).enumerate() {
            let Some(position) = *position else { continue };
            let text = &record[position];
            let at = (encoded_order(index), spec.name.as_str());
            match data::read_feature_cell(spec, text) {
                Err(fault) => groups.add(at, rule_of(fault), line, example(fault, text), || {
                    feature_detail(rule_of(fault), spec)
                }),
                Ok(read) => {
                    if read.outside.is_some() {
                        groups.add(at, Rule::Limit, line, Some(text), || {
                            feature_detail(Rule::Limit, spec)
                        });
                    }
                    values[index].push(read.value);
                }
            }
        }
        for (index, (name, position)) in schema.targets.iter().zip(&target_positions).enumerate() {
            let Some(position) = *position else { continue };
            let text = &record[position];
            if let Err(fault) = data::read_outcome_cell(text) {
                let at = (target_order(index), name.as_str());
                groups.add(at, rule_of(fault), line, example(fault, text), || {
                    fault_detail(Rule::Outcome)
                });
            }
        }
    }
    if n_rows == 0 {
        groups.add((row_order, "(file)"), Rule::NoRows, 1, None, || {
            fault_detail(Rule::NoRows)
        });
    }

    // Features only: split columns differ between train and test by design.
    let feature_summaries: Vec<FeatureDistribution> = schema
        .features
        .iter()
        .zip(&values)
        .map(|(spec, values)| FeatureDistribution::of_column(spec, values))
        .collect();
    let drift = match reference {
        Some(reference) => drift_entries(schema, &values, reference, &mut notes),
        None => Vec::new(),
    };
    let anomalies = groups.into_sorted();
    let data_sha256 = hex(&Sha256::digest(bytes));
    let report = CheckReport {
        data_sha256: data_sha256.clone(),
        schema_sha256: schema_sha256.to_string(),
        reference_sha256: reference.map(|r| r.sha256.clone()),
        rows: n_rows,
        columns: header.len(),
        clean: anomalies.is_empty() && !drift.iter().any(|d| d.flagged),
        anomalies,
        drift,
        notes,
    };
    Ok(CheckRun {
        report,
        summary: Summary {
            data_sha256,
            schema_sha256: schema_sha256.to_string(),
            rows: n_rows,
            feature_summaries,
        },
    })
}

/// The example a fault shows: none for a missing cell (its text is empty or `NA`).
fn example(fault: CellFault, text: &str) -> Option<&str> {
    (fault != CellFault::Missing || !text.is_empty()).then_some(text)
}

/// Each feature's change against `reference` (`values`: the features' cells that read, in
/// schema order, split columns after them).
fn drift_entries(
    schema: &Schema,
    values: &[Vec<f32>],
    reference: &Reference,
    notes: &mut Vec<String>,
) -> Vec<DriftEntry> {
    for summary in &reference.summaries {
        if !schema.features.iter().any(|spec| spec.name == summary.name) {
            notes.push(format!(
                "reference feature '{}' is not a [[feature]] of the schema; not compared",
                shown(&summary.name)
            ));
        }
    }
    schema
        .features
        .iter()
        .zip(values)
        .map(|(spec, values)| {
            let (psi_threshold, ks_threshold) = schema.drift.of(&spec.name);
            let mut entry = DriftEntry {
                feature: shown(&spec.name).to_string(),
                psi: None,
                ks: None,
                psi_threshold,
                ks_threshold,
                flagged: false,
                note: None,
            };
            let Some(summary) = reference.summaries.iter().find(|s| s.name == spec.name) else {
                entry.note = Some("not in the reference".into());
                return entry;
            };
            let Some(bins) = &summary.bins else {
                entry.note = Some("the reference has no bins".into());
                return entry;
            };
            match drift::change(bins, summary.missing, spec, values) {
                Ok(change) => {
                    entry.psi = change.psi;
                    entry.ks = change.ks;
                    entry.flagged = change.psi.is_some_and(|psi| psi > psi_threshold)
                        || change.ks.is_some_and(|ks| ks > ks_threshold);
                    if change.ks.is_none() && change.psi.is_some() {
                        entry.note = Some("no KS: more than two unordered levels".into());
                    }
                }
                Err(incomparable) => {
                    entry.flagged = true;
                    entry.note = Some(incomparable.to_string());
                }
            }
            entry
        })
        .collect()
}

/// The text listing: one line per anomaly group, then the distribution-change table, the
/// notes and the verdict.
pub fn render_text(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "data check: {} rows, {} columns, data sha256 {}",
        report.rows, report.columns, report.data_sha256
    );
    if report.anomalies.is_empty() {
        let _ = writeln!(out, "anomalies: none");
    } else {
        let _ = writeln!(out, "anomalies ({} group(s)):", report.anomalies.len());
        let width = report
            .anomalies
            .iter()
            .map(|a| a.column.chars().count())
            .max()
            .unwrap_or(0);
        for anomaly in &report.anomalies {
            let lines: Vec<String> = anomaly.lines.iter().map(u64::to_string).collect();
            let more = if anomaly.count > anomaly.lines.len() {
                ", ..."
            } else {
                ""
            };
            let example = anomaly
                .example
                .as_ref()
                .map(|e| format!("  e.g. '{e}'"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<width$}  {:<16}  count {:<6}  line{} {}{more}{example}  {}",
                anomaly.column,
                anomaly.rule.name(),
                anomaly.count,
                if anomaly.lines.len() > 1 { "s" } else { "" },
                lines.join(", "),
                anomaly.detail
            );
        }
    }
    if !report.drift.is_empty() {
        let _ = writeln!(
            out,
            "distribution change against the reference (flagged above the threshold):"
        );
        let width = report
            .drift
            .iter()
            .map(|d| d.feature.chars().count())
            .max()
            .unwrap_or(0)
            .max(7);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>8}  {:>6}  {:>8}  {:>6}",
            "feature", "PSI", "(max)", "KS", "(max)"
        );
        let number = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.4}"));
        for entry in &report.drift {
            let _ = writeln!(
                out,
                "  {:<width$}  {:>8}  {:>6}  {:>8}  {:>6}{}{}",
                entry.feature,
                number(entry.psi),
                entry.psi_threshold,
                number(entry.ks),
                entry.ks_threshold,
                if entry.flagged { "  FLAGGED" } else { "" },
                entry
                    .note
                    .as_ref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if report.clean {
        let _ = writeln!(out, "clean");
    } else {
        let _ = writeln!(
            out,
            "halt: {} anomaly group(s), {} feature(s) with a flagged distribution change; resolve them manually",
            report.anomalies.len(),
            report.n_flagged()
        );
    }
    out
}

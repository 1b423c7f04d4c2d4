//! `lockstep validate`: scores a test set through the compiled model bytes (the engine, never a
//! training-side model), computes the clinical validation metrics, compares with the accepted
//! baseline, reaches a verdict under the plan's acceptance criteria, and renders `report.json`
//! and a self-contained `report.html`.
//!
//! Invariants: the report names the SHA-256 of every input (model, baseline, data, schema,
//! plan) and holds no time, path or machine detail, so the same inputs give the same bytes; a
//! metric that cannot be computed fails the run or appears as an explicit status, never as a
//! silent gap; a verdict exists only if the plan declares criteria.

pub mod html;
pub mod plan;
pub mod svg;

use std::path::{Path, PathBuf};

use lockstep_engine::format::{Aggregation, Numerics, Objective};
use lockstep_engine::Model;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::data::{self, Dataset, FeatureKind, Schema};
use crate::inspect::hex;
use crate::metrics::bootstrap::{bootstrap_replicates, BootstrapOptions};
use crate::metrics::lowess::{lowess, LowessOptions};
use crate::metrics::report::{
    compare_models, model_report, ComparisonReport, ModelReport, ValidationOptions,
};
use crate::metrics::subgroup::{subgroup_summary, SubgroupOptions, SubgroupReport};
use crate::metrics::{calibration::SlopeFit, MetricsError, Sample};
use crate::train::record::FeatureDistribution;
use plan::{Acceptance, Plan};

/// Points of the calibration band's grid.
const BAND_POINTS: usize = 41;

/// What `validate` reads.
#[derive(Debug, Clone)]
pub struct ValidateInputs {
    /// The candidate model (`.lsm`).
    pub model: PathBuf,
    /// The test data (CSV).
    pub data: PathBuf,
    /// The data's schema.
    pub schema: PathBuf,
    /// The accepted model to compare with.
    pub baseline: Option<PathBuf>,
    /// The plan file; `None` uses the default plan (no acceptance criteria).
    pub plan: Option<PathBuf>,
    /// The candidate's training record, for train-versus-test feature distributions.
    pub training_record: Option<PathBuf>,
    /// Bootstrap worker threads (0: one per core); results do not depend on it.
    pub threads: usize,
}

/// Why validation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// Reading a file failed. The cause is part of the message (not a `source`), so an error
    /// chain prints it once.
    #[error(
        "cannot read {what} '{}': {}",
        crate::text::shown_path(file),
        crate::output::describe_read(cause)
    )]
    Io {
        /// Which input.
        what: &'static str,
        /// The file.
        file: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A model file is not a valid Lockstep model.
    #[error("{what} '{file}' is not a valid lockstep model: {error}")]
    Model {
        /// Which input.
        what: &'static str,
        /// The file.
        file: PathBuf,
        /// The engine's reason.
        error: lockstep_engine::Error,
    },
    /// The model is not a single-output risk model.
    #[error("{what} '{file}' is not a binary risk model ({detail}); validate needs one probability per patient")]
    NotBinary {
        /// Which input.
        what: &'static str,
        /// The file.
        file: PathBuf,
        /// What it is.
        detail: String,
    },
    /// The data lacks a column the model needs.
    #[error("{what} '{file}' needs feature '{feature}', which the data does not have (it has: {available})")]
    MissingFeature {
        /// Which input.
        what: &'static str,
        /// The model file.
        file: PathBuf,
        /// The feature.
        feature: String,
        /// Data columns.
        available: String,
    },
    /// Data or schema problem.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Plan problem.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The target is not an outcome of the schema.
    #[error("target '{target}' is not an outcome column (the schema declares: {available}); set `target` in the plan")]
    UnknownTarget {
        /// Requested target.
        target: String,
        /// Declared targets.
        available: String,
    },
    /// The acceptance criteria compare with a baseline that was not given.
    #[error(
        "the plan's acceptance criteria compare with a baseline; pass --baseline ACCEPTED.lsm"
    )]
    BaselineRequired,
    /// A model (the baseline, or the candidate under a plan's `target`) was trained for
    /// another outcome than the one validated.
    #[error(
        "{what} '{}' predicts '{}' (its label is '{}') but this validation is of '{}'; \
         compare models of the same outcome",
        crate::text::shown_path(file),
        crate::text::shown(model_target),
        crate::text::shown(label),
        crate::text::shown(target)
    )]
    OutcomeMismatch {
        /// Which input.
        what: &'static str,
        /// The model file.
        file: PathBuf,
        /// The outcome the model's label names.
        model_target: String,
        /// The model's label.
        label: String,
        /// The outcome validated.
        target: String,
    },
    /// The training record belongs to another model than the candidate.
    #[error(
        "training record '{}' is for the model with SHA-256 {record_sha256}, but the model \
         '{}' has SHA-256 {model_sha256}; pass the record written next to this model",
        crate::text::shown_path(file),
        crate::text::shown_path(model)
    )]
    RecordMismatch {
        /// The record file.
        file: PathBuf,
        /// The model SHA-256 the record names (empty if none).
        record_sha256: String,
        /// The candidate model file.
        model: PathBuf,
        /// The candidate's SHA-256.
        model_sha256: String,
    },
    /// A count-like option above its cap.
    #[error(transparent)]
    Limit(#[from] crate::limits::OverCap),
    /// The training record could not be read.
    #[error("training record '{file}': {detail}")]
    TrainingRecord {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A metric could not be computed.
    #[error("computing {what}: {error}")]
    Metric {
        /// Which metric or model.
        what: String,
        /// Why.
        error: MetricsError,
    },
    /// The report could not be encoded as JSON.
    #[error("encoding report.json: {0}")]
    Encode(serde_json::Error),
}

fn metric(what: &str) -> impl FnOnce(MetricsError) -> ValidateError + '_ {
    move |error| ValidateError::Metric {
        what: what.to_string(),
        error,
    }
}

/// One input file's identity as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct FileIdentity {
    /// File name (no directories: the report must not depend on where files sit).
    pub name: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// A model's identity: its file and what the engine reads from it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelIdentity {
    /// File name.
    pub name: String,
    /// The model's SHA-256 (the checksum the engine verifies on every load, on host and
    /// device: the identity of the bytes that ship).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: usize,
    /// The model's label.
    pub label: String,
    /// Source framework and version.
    pub source: String,
    /// Trees (0 for a linear model).
    pub n_trees: usize,
}

/// Counts of the validated rows.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Rows in the data file.
    pub rows_in_file: usize,
    /// Rows validated (after the plan's row filter).
    pub rows: usize,
    /// Events among them.
    pub events: usize,
    /// `events / rows`.
    pub prevalence: f64,
    /// Missing values per model feature in the validated rows.
    pub missing: Vec<MissingCount>,
}

/// Missing values of one feature.
#[derive(Debug, Clone, Serialize)]
pub struct MissingCount {
    /// Feature.
    pub feature: String,
    /// Rows with no value.
    pub missing: usize,
}

/// A feature's distribution in training and in the validated rows.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureShift {
    /// Feature.
    pub feature: String,
    /// Training rows' summary (from the training record).
    pub train: FeatureDistribution,
    /// Validated rows' summary.
    pub test: FeatureDistribution,
    /// `(mean_test - mean_train) / sqrt((sd_train^2 + sd_test^2) / 2)`, if both sds are not 0.
    pub standardized_difference: Option<f64>,
}

/// One subgroup of a subgroup definition.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupEntry {
    /// e.g. `sex = female`, `age 65 to < 80`, `age missing`.
    pub label: String,
    /// Counts and estimates (or why none).
    pub report: SubgroupReport,
}

/// The subgroups of one definition in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupBlock {
    /// Definition name.
    pub name: String,
    /// Column.
    pub column: String,
    /// Groups in order.
    pub groups: Vec<SubgroupEntry>,
}

/// The calibration curve's pointwise bootstrap band.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationBand {
    /// Grid of predicted probabilities (inside the central 98% of predictions).
    pub predicted: Vec<f64>,
    /// 2.5th percentile of the resampled smoothed curves at each grid point.
    pub lower: Vec<f64>,
    /// 97.5th percentile.
    pub upper: Vec<f64>,
    /// Resamples used.
    pub n_resamples: usize,
}

/// One model's section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSection {
    /// Which model.
    pub model: ModelIdentity,
    /// How its logit was obtained.
    pub logit_source: String,
    /// Every metric.
    pub metrics: ModelReport,
    /// The smoothed calibration curve's band.
    pub calibration_band: CalibrationBand,
    /// Histogram of predicted probabilities among events and non-events.
    pub histogram: ScoreHistogram,
}

/// Predicted probability histograms by outcome (shares of each class per bin).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreHistogram {
    /// Bin edges (`bins + 1` values).
    pub edges: Vec<f64>,
    /// Share of events per bin.
    pub events: Vec<f64>,
    /// Share of non-events per bin.
    pub non_events: Vec<f64>,
}

/// One acceptance rule's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    /// The rule as declared, e.g. `delta AUC lower bound >= -0.01`.
    pub rule: String,
    /// The value it was judged on (NaN, `null` in JSON, when the model leaves it undefined).
    pub value: f64,
    /// Whether it holds.
    pub passed: bool,
    /// Why the criterion cannot be met, when the model leaves its value undefined (constant
    /// scores, no interval, no estimable slope); absent for a criterion judged on a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Criterion {
    fn judged(rule: String, value: f64, passed: bool) -> Self {
        if value.is_nan() {
            return Criterion::cannot_be_met(rule, "its value is undefined for these scores");
        }
        Criterion {
            rule,
            value,
            passed,
            reason: None,
        }
    }

    /// A criterion the model cannot meet because it leaves the value undefined: with events
    /// and non-events in the data (checked before), an undefined AUC interval, slope or
    /// expected count comes from the scores (e.g. every patient scored the same), so the
    /// model is rejected on it rather than the run failing.
    fn cannot_be_met(rule: String, reason: &str) -> Self {
        Criterion {
            rule,
            value: f64::NAN,
            passed: false,
            reason: Some(format!("cannot be met: {reason}")),
        }
    }
}

/// The verdict under the plan's criteria.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Whether every criterion holds.
    pub accepted: bool,
    /// Each criterion.
    pub criteria: Vec<Criterion>,
}

/// Everything `report.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    /// Tool and version.
    pub tool: String,
    /// The outcome validated.
    pub target: String,
    /// The row filter applied (from the plan).
    pub rows_filter: Option<String>,
    /// Test data file.
    pub data: FileIdentity,
    /// Schema file.
    pub schema: FileIdentity,
    /// Plan file (`None`: the default plan).
    pub plan_file: Option<FileIdentity>,
    /// The plan as applied (defaults filled in).
    pub plan: Plan,
    /// The candidate's training record, if given.
    pub training_record: Option<FileIdentity>,
    /// Counts.
    pub counts: Counts,
    /// Train-versus-test feature distributions (with a training record).
    pub feature_shift: Vec<FeatureShift>,
    /// The candidate.
    pub candidate: ModelSection,
    /// The accepted baseline.
    pub baseline: Option<ModelSection>,
    /// Paired comparison with the baseline.
    pub comparison: Option<ComparisonReport>,
    /// Subgroups of the candidate.
    pub subgroups: Vec<SubgroupBlock>,
    /// The verdict, if the plan declares criteria.
    pub verdict: Option<Verdict>,
}

/// The finished run: the report and both renderings.
pub struct ValidationRun {
    /// The report.
    pub report: ValidationReport,
    /// `report.json` bytes.
    pub json: String,
    /// `report.html` bytes.
    pub html: String,
}

fn read(what: &'static str, file: &Path) -> Result<Vec<u8>, ValidateError> {
    std::fs::read(file).map_err(|cause| ValidateError::Io {
        what,
        file: file.into(),
        cause,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

fn identity(path: &Path, bytes: &[u8]) -> FileIdentity {
    FileIdentity {
        name: file_name(path),
        sha256: hex(&Sha256::digest(bytes)),
    }
}

/// Scores the rows through the engine: (probabilities, logits, how the logit was obtained).
fn score(
    what: &'static str,
    file: &Path,
    model: &Model<'_>,
    dataset: &Dataset,
    rows: &[usize],
) -> Result<(Vec<f64>, Vec<f64>, String), ValidateError> {
    let binary = model.n_outputs() == 1
        && matches!(
            model.objective(),
            Objective::BinaryLogistic | Objective::BinaryProbability | Objective::Regression
        );
    if !binary {
        return Err(ValidateError::NotBinary {
            what,
            file: file.into(),
            detail: format!("{:?} with {} outputs", model.objective(), model.n_outputs()),
        });
    }
    let columns: Vec<&[f32]> = model
        .feature_names()
        .map(|name| {
            dataset
                .column(name)
                .ok_or_else(|| ValidateError::MissingFeature {
                    what,
                    file: file.into(),
                    feature: crate::text::shown(name).to_string(),
                    available: dataset.column_names().collect::<Vec<_>>().join(", "),
                })
        })
        .collect::<Result<_, _>>()?;
    // A logistic model's margin is its logit (scaled by LightGBM's sigmoid parameter); a
    // forest's output is a mean probability, whose logit is computed from it, bounded so that
    // a probability of exactly 0 or 1 stays finite.
    let scale = match (model.objective(), model.aggregation(), model.numerics()) {
        (Objective::BinaryLogistic, Aggregation::Sum, Numerics::Lightgbm { sigmoid }) => {
            Some(sigmoid)
        }
        (Objective::BinaryLogistic, Aggregation::Sum, _) => Some(1.0),
        _ => None,
    };
    let logit_source = match scale {
        Some(1.0) => "the model's margin".to_string(),
        Some(s) => format!("{s} x the model's margin (LightGBM sigmoid parameter)"),
        None => "ln(p / (1 - p)) of the output, p clamped to [1e-9, 1 - 1e-9]".to_string(),
    };
    let mut probs = Vec::with_capacity(rows.len());
    let mut logits = Vec::with_capacity(rows.len());
    let mut features = vec![0.0f32; columns.len()];
    for &row in rows {
        for (slot, column) in features.iter_mut().zip(&columns) {
            *slot = column[row];
        }
        let scores = model
            .score(&features)
            .map_err(|error| ValidateError::Model {
                what,
                file: file.into(),
                error,
            })?;
        // f32 models' values are exact f32 values; round f64 ones to what the device reports.
        let p = f64::from(scores.outputs()[0] as f32);
        let z = match scale {
            Some(s) => s * scores.margins()[0],
            None => {
                let q = p.clamp(1e-9, 1.0 - 1e-9);
                (q / (1.0 - q)).ln()
            }
        };
        probs.push(p);
        logits.push(z);
    }
    Ok((probs, logits, logit_source))
}

fn model_identity(path: &Path, bytes: &[u8], model: &Model<'_>) -> ModelIdentity {
    let source = model.source();
    ModelIdentity {
        name: file_name(path),
        sha256: hex(&model.checksum()),
        bytes: bytes.len(),
        label: model.label().into(),
        source: format!("{:?} {}", source.framework, source.version)
            .trim()
            .to_lowercase(),
        n_trees: model.n_trees(),
    }
}

fn histogram(sample: &Sample) -> ScoreHistogram {
    // Bins up to the largest prediction, so that every patient is in a bin.
    let top = sample
        .probs()
        .iter()
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let n_bins = 40;
    let edges: Vec<f64> = (0..=n_bins)
        .map(|k| top * k as f64 / n_bins as f64)
        .collect();
    let mut events = vec![0.0; n_bins];
    let mut non_events = vec![0.0; n_bins];
    for (&p, &y) in sample.probs().iter().zip(sample.labels()) {
        let bin = ((p / top * n_bins as f64) as usize).min(n_bins - 1);
        if y {
            events[bin] += 1.0;
        } else {
            non_events[bin] += 1.0;
        }
    }
    let (n_events, n_non_events) = (sample.n_events() as f64, sample.n_non_events() as f64);
    events.iter_mut().for_each(|v| *v /= n_events.max(1.0));
    non_events
        .iter_mut()
        .for_each(|v| *v /= n_non_events.max(1.0));
    ScoreHistogram {
        edges,
        events,
        non_events,
    }
}

/// Linear interpolation of the lowess anchors at `x`.
fn interpolate(anchors: &[(f64, f64)], x: f64) -> f64 {
    match anchors.iter().position(|&(ax, _)| ax >= x) {
        None => anchors.last().map_or(f64::NAN, |a| a.1),
        Some(0) => anchors[0].1,
        Some(i) => {
            let ((x0, y0), (x1, y1)) = (anchors[i - 1], anchors[i]);
            if x1 == x0 {
                y1
            } else {
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            }
        }
    }
}

fn calibration_band(
    sample: &Sample,
    lowess_options: &LowessOptions,
    bootstrap: &BootstrapOptions,
) -> Result<CalibrationBand, ValidateError> {
    let mut sorted = sample.probs().to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    let (low, high) = (at(0.01), at(0.99));
    let grid: Vec<f64> = (0..BAND_POINTS)
        .map(|k| low + (high - low) * k as f64 / (BAND_POINTS - 1) as f64)
        .collect();
    let curves = bootstrap_replicates(sample, bootstrap, |s| {
        let fit = lowess(s.probs(), s.labels(), lowess_options).ok()?;
        let anchors: Vec<(f64, f64)> = fit
            .anchors
            .iter()
            .map(|a| (a.predicted, a.smoothed))
            .collect();
        Some(
            grid.iter()
                .map(|&x| interpolate(&anchors, x))
                .collect::<Vec<f64>>(),
        )
    })
    .map_err(metric("the calibration band"))?;
    let curves: Vec<Vec<f64>> = curves.into_iter().flatten().collect();
    let mut lower = Vec::with_capacity(grid.len());
    let mut upper = Vec::with_capacity(grid.len());
    for k in 0..grid.len() {
        let mut values: Vec<f64> = curves
            .iter()
            .map(|c| c[k])
            .filter(|v| v.is_finite())
            .collect();
        values.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            values
                .get(((values.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        lower.push(pick(0.025).clamp(0.0, 1.0));
        upper.push(pick(0.975).clamp(0.0, 1.0));
    }
    Ok(CalibrationBand {
        predicted: grid,
        lower,
        upper,
        n_resamples: curves.len(),
    })
}

/// Whether a column value belongs to a subgroup.
type Membership = Box<dyn Fn(f32) -> bool>;

fn subgroup_blocks(
    plan: &Plan,
    schema: &Schema,
    dataset: &Dataset,
    rows: &[usize],
    sample: &Sample,
) -> Result<Vec<SubgroupBlock>, ValidateError> {
    let options = SubgroupOptions {
        min_events: plan.metrics.subgroup_min_events,
        min_non_events: plan.metrics.subgroup_min_events,
    };
    let mut blocks = Vec::new();
    for spec in &plan.subgroups {
        let column = dataset.require_column(&spec.column)?;
        let values: Vec<f32> = rows.iter().map(|&r| column[r]).collect();
        let kind = schema.column_spec(&spec.column).map(|f| f.kind.clone());
        // (label, membership test) per group, in display order.
        let mut groups: Vec<(String, Membership)> = Vec::new();
        if !spec.cuts.is_empty() {
            let cuts = spec.cuts.clone();
            let first = cuts[0];
            groups.push((
                format!("{} < {first}", spec.column),
                Box::new(move |v: f32| f64::from(v) < first),
            ));
            for w in cuts.windows(2) {
                let (a, b) = (w[0], w[1]);
                groups.push((
                    format!("{} {a} to < {b}", spec.column),
                    Box::new(move |v: f32| (a..b).contains(&f64::from(v))),
                ));
            }
            let last = cuts[cuts.len() - 1];
            groups.push((
                format!("{} >= {last}", spec.column),
                Box::new(move |v: f32| f64::from(v) >= last),
            ));
        } else {
            let mut distinct: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            distinct.sort_by(f32::total_cmp);
            distinct.dedup();
            for value in distinct {
                let name = match &kind {
                    Some(FeatureKind::Categorical { levels, .. }) => levels
                        .get(value as usize)
                        .cloned()
                        .unwrap_or_else(|| value.to_string()),
                    Some(FeatureKind::Boolean) => {
                        (if value == 1.0 { "yes" } else { "no" }).to_string()
                    }
                    _ => value.to_string(),
                };
                groups.push((
                    format!("{} = {name}", spec.column),
                    Box::new(move |v: f32| v == value),
                ));
            }
        }
        if values.iter().any(|v| v.is_nan()) {
            groups.push((
                format!("{} missing", spec.column),
                Box::new(|v: f32| v.is_nan()),
            ));
        }
        let mut entries = Vec::new();
        for (label, member) in groups {
            let mask: Vec<bool> = values.iter().map(|&v| member(v)).collect();
            let report = subgroup_summary(sample, &mask, &options).map_err(metric(&label))?;
            entries.push(SubgroupEntry { label, report });
        }
        blocks.push(SubgroupBlock {
            name: spec.name.clone(),
            column: spec.column.clone(),
            groups: entries,
        });
    }
    Ok(blocks)
}

fn judge(
    acceptance: &Acceptance,
    candidate: &ModelReport,
    comparison: Option<&ComparisonReport>,
) -> Verdict {
    let mut criteria = Vec::new();
    if let Some(min) = acceptance.min_auc_lower {
        let rule = format!("AUC lower 95% bound >= {min}");
        let value = candidate.auc.ci.map(|ci| ci.lower);
        criteria.push(match value {
            Some(value) => Criterion::judged(rule, value, value >= min),
            None => Criterion::cannot_be_met(rule, "the AUC has no interval: the scores do not separate patients (e.g. every patient has the same score)"),
        });
    }
    if let Some(min) = acceptance.min_delta_auc_lower {
        let rule = format!("delta AUC (candidate - baseline) lower 95% bound >= {min}");
        let value = comparison.and_then(|c| c.auc.ci).map(|ci| ci.lower);
        criteria.push(match value {
            Some(value) => Criterion::judged(rule, value, value >= min),
            None => Criterion::cannot_be_met(rule, "the paired AUC difference has no interval: the candidate's and the baseline's scores do not differ in ranking, or do not separate patients"),
        });
    }
    if let Some(max) = acceptance.max_delta_brier_upper {
        let rule = format!("delta Brier (candidate - baseline) upper 95% bound <= {max}");
        let value = comparison
            .and_then(|c| c.bootstrap.as_ref())
            .and_then(|b| b.brier_difference.ci)
            .map(|ci| ci.upper);
        criteria.push(match value {
            Some(value) => Criterion::judged(rule, value, value <= max),
            None => Criterion::cannot_be_met(rule, "the paired Brier difference has no interval: the candidate's and the baseline's scores do not differ"),
        });
    }
    if let Some((low, high)) = acceptance.calibration_slope_within {
        let rule = format!("calibration slope within [{low}, {high}]");
        criteria.push(match &candidate.calibration_slope {
            SlopeFit::Estimated { slope, .. } => {
                let value = slope.estimate;
                Criterion::judged(rule, value, (low..=high).contains(&value))
            }
            other => Criterion::cannot_be_met(
                rule,
                &format!("the calibration slope is not estimable ({other:?}): the scores do not vary (e.g. every patient has the same score)"),
            ),
        });
    }
    if let Some((low, high)) = acceptance.observed_expected_within {
        let rule = format!("observed/expected within [{low}, {high}]");
        let value = candidate.observed_expected.ratio;
        criteria.push(match value {
            Some(value) => Criterion::judged(rule, value, (low..=high).contains(&value)),
            None => Criterion::cannot_be_met(
                rule,
                "the expected event count is 0: the model gives every patient probability 0",
            ),
        });
    }
    if let Some(max) = acceptance.max_ici {
        let rule = format!("integrated calibration index <= {max}");
        let value = candidate.smoothed_calibration.ici;
        criteria.push(Criterion::judged(rule, value, value <= max));
    }
    Verdict {
        accepted: criteria.iter().all(|c| c.passed),
        criteria,
    }
}

/// The outcome a model's label names, if it names one of the data's outcomes: `lockstep
/// train` labels its models `TARGET (kind, schema)`; compiled models carry the framework's
/// objective, which names none.
fn labelled_target<'a>(model: &'a Model<'_>, dataset: &Dataset) -> Option<&'a str> {
    let first = model.label().split_whitespace().next()?;
    dataset
        .targets
        .iter()
        .any(|(name, _)| name == first)
        .then_some(first)
}

/// Refuses a model whose label names another of the data's outcomes than `target`.
fn check_outcome(
    what: &'static str,
    file: &Path,
    model: &Model<'_>,
    dataset: &Dataset,
    target: &str,
) -> Result<(), ValidateError> {
    match labelled_target(model, dataset) {
        Some(model_target) if model_target != target => Err(ValidateError::OutcomeMismatch {
            what,
            file: file.into(),
            model_target: model_target.into(),
            label: model.label().into(),
            target: target.into(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a training record that names another model than `model` (by its SHA-256).
fn check_record_model(
    file: &Path,
    bytes: &[u8],
    model_file: &Path,
    model: &Model<'_>,
) -> Result<(), ValidateError> {
    #[derive(serde::Deserialize)]
    struct RecordModel {
        #[serde(default)]
        model_sha256: String,
    }
    let record: RecordModel =
        serde_json::from_slice(bytes).map_err(|e| ValidateError::TrainingRecord {
            file: file.into(),
            detail: e.to_string(),
        })?;
    let model_sha256 = hex(&model.checksum());
    if record.model_sha256.eq_ignore_ascii_case(&model_sha256) {
        Ok(())
    } else {
        Err(ValidateError::RecordMismatch {
            file: file.into(),
            record_sha256: crate::text::shown(&record.model_sha256).to_string(),
            model: model_file.into(),
            model_sha256,
        })
    }
}

fn feature_shift(
    file: &Path,
    bytes: &[u8],
    dataset: &Dataset,
    rows: &[usize],
) -> Result<Vec<FeatureShift>, ValidateError> {
    #[derive(serde::Deserialize)]
    struct RecordFeatures {
        #[serde(default)]
        feature_summaries: Vec<FeatureDistribution>,
    }
    let record: RecordFeatures =
        serde_json::from_slice(bytes).map_err(|e| ValidateError::TrainingRecord {
            file: file.into(),
            detail: e.to_string(),
        })?;
    if record.feature_summaries.is_empty() {
        return Err(ValidateError::TrainingRecord {
            file: file.into(),
            detail: "it holds no feature_summaries; re-train with this lockstep version".into(),
        });
    }
    let mut shifts = Vec::new();
    for mut train in record.feature_summaries {
        // The report shows moments and quantiles; the bins are `data check`'s.
        train.bins = None;
        let Some(column) = dataset.column(&train.name) else {
            continue;
        };
        let values: Vec<f32> = rows.iter().map(|&r| column[r]).collect();
        let test = FeatureDistribution::of(&train.name, &values);
        let pooled = ((train.sd * train.sd + test.sd * test.sd) / 2.0).sqrt();
        shifts.push(FeatureShift {
            feature: train.name.clone(),
            standardized_difference: (pooled > 0.0).then(|| (test.mean - train.mean) / pooled),
            train,
            test,
        });
    }
    Ok(shifts)
}

/// Runs the whole validation; `progress` hears each step's name.
pub fn validate(
    inputs: &ValidateInputs,
    mut progress: impl FnMut(&str),
) -> Result<ValidationRun, ValidateError> {
    crate::limits::check("--threads", inputs.threads, crate::limits::MAX_THREADS)?;
    let (plan, plan_file) = match &inputs.plan {
        Some(path) => {
            let (plan, bytes) = plan::load_plan(path)?;
            (plan, Some(identity(path, &bytes)))
        }
        None => (Plan::default(), None),
    };
    if plan
        .acceptance
        .as_ref()
        .is_some_and(Acceptance::needs_baseline)
        && inputs.baseline.is_none()
    {
        return Err(ValidateError::BaselineRequired);
    }
    progress("loading the data");
    let (schema, schema_sha256) = data::load_schema_hashed(&inputs.schema)?;
    let data_bytes = read("data", &inputs.data)?;
    let dataset = data::parse_csv(&data_bytes, &inputs.data, &schema)?;
    let model_bytes = read("model", &inputs.model)?;
    let model = Model::from_bytes(&model_bytes).map_err(|error| ValidateError::Model {
        what: "model",
        file: inputs.model.clone(),
        error,
    })?;

    let target = match &plan.target {
        Some(t) => t.clone(),
        None => dataset
            .targets
            .iter()
            .map(|(n, _)| n.clone())
            .find(|n| model.label().split_whitespace().next() == Some(n.as_str()))
            .or_else(|| dataset.targets.first().map(|(n, _)| n.clone()))
            .unwrap_or_default(),
    };
    let labels_column = dataset
        .target(&target)
        .ok_or_else(|| ValidateError::UnknownTarget {
            target: target.clone(),
            available: dataset.target_names(),
        })?;
    check_outcome("model", &inputs.model, &model, &dataset, &target)?;
    // The baseline and the training record are checked before any scoring.
    let baseline_input = match &inputs.baseline {
        Some(path) => {
            let bytes = read("baseline", path)?;
            let baseline_model =
                Model::from_bytes(&bytes).map_err(|error| ValidateError::Model {
                    what: "baseline",
                    file: path.clone(),
                    error,
                })?;
            check_outcome("baseline", path, &baseline_model, &dataset, &target)?;
            Some((path, bytes))
        }
        None => None,
    };
    let record_input = match &inputs.training_record {
        Some(path) => {
            let bytes = read("training record", path)?;
            check_record_model(path, &bytes, &inputs.model, &model)?;
            Some((path, bytes))
        }
        None => None,
    };
    let rows: Vec<usize> = match &plan.rows {
        Some(expr) => {
            let keep = dataset.rows_where(expr)?;
            (0..dataset.n_rows).filter(|&r| keep[r]).collect()
        }
        None => (0..dataset.n_rows).collect(),
    };
    let labels: Vec<bool> = rows.iter().map(|&r| labels_column[r] == 1.0).collect();

    progress("scoring through the engine");
    let (probs, logits, logit_source) = score("model", &inputs.model, &model, &dataset, &rows)?;
    let sample =
        Sample::new(probs, logits, labels.clone()).map_err(metric("the candidate's scores"))?;
    let bootstrap = BootstrapOptions {
        seed: plan.metrics.bootstrap_seed,
        n_resamples: plan.metrics.bootstrap_resamples,
        n_threads: crate::threads::resolve(inputs.threads),
    };
    let options = ValidationOptions {
        lowess: LowessOptions {
            frac: plan.metrics.lowess_frac,
            ..LowessOptions::default()
        },
        n_groups: plan.metrics.calibration_groups,
        decision_thresholds: plan.decision_thresholds(),
        operating_thresholds: plan.metrics.operating_points.clone(),
        bootstrap: Some(bootstrap),
    };
    let section = |what: &'static str,
                   path: &Path,
                   bytes: &[u8],
                   model: &Model<'_>,
                   sample: &Sample,
                   logit_source: String,
                   progress: &mut dyn FnMut(&str)|
     -> Result<ModelSection, ValidateError> {
        progress(&format!(
            "{what}: metrics and {} bootstrap resamples",
            bootstrap.n_resamples
        ));
        let metrics = model_report(sample, &options).map_err(metric(what))?;
        progress(&format!("{what}: calibration band"));
        let calibration_band = calibration_band(sample, &options.lowess, &bootstrap)?;
        Ok(ModelSection {
            model: model_identity(path, bytes, model),
            logit_source,
            metrics,
            calibration_band,
            histogram: histogram(sample),
        })
    };
    let candidate = section(
        "candidate",
        &inputs.model,
        &model_bytes,
        &model,
        &sample,
        logit_source,
        &mut progress,
    )?;

    let (baseline, comparison) = match &baseline_input {
        Some((path, bytes)) => {
            let baseline_model =
                Model::from_bytes(bytes).map_err(|error| ValidateError::Model {
                    what: "baseline",
                    file: path.to_path_buf(),
                    error,
                })?;
            progress("scoring the baseline through the engine");
            let (p, z, source) = score("baseline", path, &baseline_model, &dataset, &rows)?;
            let baseline_sample =
                Sample::new(p, z, labels.clone()).map_err(metric("the baseline's scores"))?;
            let section = section(
                "baseline",
                path,
                bytes,
                &baseline_model,
                &baseline_sample,
                source,
                &mut progress,
            )?;
            progress("paired comparison");
            let comparison = compare_models(&sample, &baseline_sample, Some(&bootstrap))
                .map_err(metric("the paired comparison"))?;
            (Some(section), Some(comparison))
        }
        None => (None, None),
    };

    progress("subgroups");
    let subgroups = subgroup_blocks(&plan, &schema, &dataset, &rows, &sample)?;
    let verdict = plan
        .acceptance
        .as_ref()
        .map(|a| judge(a, &candidate.metrics, comparison.as_ref()));

    let (training_record, feature_shift) = match &record_input {
        Some((path, bytes)) => {
            let shift = feature_shift(path, bytes, &dataset, &rows)?;
            (Some(identity(path, bytes)), shift)
        }
        None => (None, Vec::new()),
    };
    let missing = model
        .feature_names()
        .map(|name| MissingCount {
            feature: name.into(),
            missing: dataset
                .column(name)
                .map_or(0, |c| rows.iter().filter(|&&r| c[r].is_nan()).count()),
        })
        .collect();
    let report = ValidationReport {
        tool: format!("lockstep {}", env!("CARGO_PKG_VERSION")),
        target,
        rows_filter: plan.rows.clone(),
        data: identity(&inputs.data, &data_bytes),
        schema: FileIdentity {
            name: file_name(&inputs.schema),
            sha256: schema_sha256,
        },
        plan_file,
        plan,
        training_record,
        counts: Counts {
            rows_in_file: dataset.n_rows,
            rows: sample.len(),
            events: sample.n_events(),
            prevalence: sample.prevalence().unwrap_or(0.0),
            missing,
        },
        feature_shift,
        candidate,
        baseline,
        comparison,
        subgroups,
        verdict,
    };
    progress("rendering");
    let json = serde_json::to_string_pretty(&report).map_err(ValidateError::Encode)? + "\n";
    let html = html::render(&report);
    Ok(ValidationRun { report, json, html })
}

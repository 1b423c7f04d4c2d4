//! Everything `lockstep validate` reports about one model, and about a candidate against a
//! baseline on the same rows, assembled from the other metric modules.
//!
//! Owns only the assembly and the options that travel with a report (so a report records the
//! settings it was computed with). Needs both classes; every other undefined value is an
//! `Option` or a status inside the report. Never: reads data or formats text.

use serde::Serialize;

use super::auc::{
    auc_delong, coarse_roc, paired_auc_delong, roc_rows_per_point, AucReport, PairedAucReport,
    RocPoint,
};
use super::bootstrap::{
    bootstrap_paired_summary, bootstrap_summary, BootstrapOptions, BootstrapSummary,
    PairedBootstrapSummary,
};
use super::calibration::{
    brier, calibration_in_the_large, calibration_slope, grouped_calibration, observed_expected,
    BrierReport, CalibrationGroup, LogisticEstimate, ObservedExpected, SlopeFit,
};
use super::decision::{
    decision_curve, default_thresholds, threshold_metrics, NetBenefitPoint, ThresholdReport,
};
use super::lowess::{smoothed_calibration, LowessOptions, SmoothedCalibration};
use super::{MetricsError, Sample};

/// Settings of a model report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationOptions {
    /// Smoother of the calibration curve (and of ICI in the bootstrap).
    pub lowess: LowessOptions,
    /// Groups of the grouped calibration plot (10: deciles).
    pub n_groups: usize,
    /// Thresholds of the decision curve (default 0.01 to 0.99 by 0.01).
    pub decision_thresholds: Vec<f64>,
    /// Operating points: confusion matrix, and net benefit in the bootstrap. Each in (0, 1).
    /// Empty by default: they are clinical choices.
    pub operating_thresholds: Vec<f64>,
    /// Bootstrap settings; `None` skips the bootstrap.
    pub bootstrap: Option<BootstrapOptions>,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            lowess: LowessOptions::default(),
            n_groups: 10,
            decision_thresholds: default_thresholds(),
            operating_thresholds: Vec::new(),
            bootstrap: Some(BootstrapOptions::default()),
        }
    }
}

/// One model's validation statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// Rows.
    pub n: usize,
    /// Events.
    pub n_events: usize,
    /// `n_events / n`.
    pub prevalence: f64,
    /// AUC with DeLong interval.
    pub auc: AucReport,
    /// ROC curve: vertices of the exact curve at least `roc_rows_per_point` rows apart (see
    /// `auc::coarse_roc`; no point resolves single patients).
    pub roc: Vec<RocPoint>,
    /// The fewest rows between two points of `roc` (except its last step).
    pub roc_rows_per_point: usize,
    /// Brier and scaled Brier.
    pub brier: BrierReport,
    /// O/E ratio.
    pub observed_expected: ObservedExpected,
    /// Calibration-in-the-large (intercept with the logit as offset).
    pub calibration_in_the_large: LogisticEstimate,
    /// Calibration slope, or why there is none.
    pub calibration_slope: SlopeFit,
    /// Lowess calibration curve with ICI, E50, E90, Emax.
    pub smoothed_calibration: SmoothedCalibration,
    /// Grouped calibration points.
    pub groups: Vec<CalibrationGroup>,
    /// Decision curve.
    pub decision_curve: Vec<NetBenefitPoint>,
    /// Confusion matrices at the operating thresholds.
    pub operating_points: Vec<ThresholdReport>,
    /// Bootstrap intervals, if requested.
    pub bootstrap: Option<BootstrapSummary>,
    /// The settings used.
    pub options: ValidationOptions,
}

/// A candidate model against a baseline on the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ComparisonReport {
    /// Paired DeLong test of the AUC difference.
    pub auc: PairedAucReport,
    /// Paired bootstrap of the Brier and calibration-slope differences, if requested.
    pub bootstrap: Option<PairedBootstrapSummary>,
}

/// All statistics of one model.
pub fn model_report(
    sample: &Sample,
    options: &ValidationOptions,
) -> Result<ModelReport, MetricsError> {
    sample.require_both_classes()?;
    for &t in &options.operating_thresholds {
        if !(t > 0.0 && t < 1.0) {
            return Err(MetricsError::InvalidThreshold {
                value: t,
                range: "(0, 1)",
            });
        }
    }
    Ok(ModelReport {
        n: sample.len(),
        n_events: sample.n_events(),
        prevalence: sample.prevalence().unwrap_or(0.0),
        auc: auc_delong(sample.probs(), sample.labels())?,
        roc: coarse_roc(sample.probs(), sample.labels())?,
        roc_rows_per_point: roc_rows_per_point(sample.len()),
        brier: brier(sample)?,
        observed_expected: observed_expected(sample)?,
        calibration_in_the_large: calibration_in_the_large(sample)?,
        calibration_slope: calibration_slope(sample)?,
        smoothed_calibration: smoothed_calibration(sample, &options.lowess)?,
        groups: grouped_calibration(sample, options.n_groups)?,
        decision_curve: decision_curve(sample, &options.decision_thresholds)?,
        operating_points: options
            .operating_thresholds
            .iter()
            .map(|&t| threshold_metrics(sample, t))
            .collect::<Result<_, _>>()?,
        bootstrap: options
            .bootstrap
            .as_ref()
            .map(|b| bootstrap_summary(sample, b, &options.lowess, &options.operating_thresholds))
            .transpose()?,
        options: options.clone(),
    })
}

/// Paired comparison of `candidate` with `baseline` (same rows, same labels).
pub fn compare_models(
    candidate: &Sample,
    baseline: &Sample,
    bootstrap: Option<&BootstrapOptions>,
) -> Result<ComparisonReport, MetricsError> {
    Ok(ComparisonReport {
        auc: paired_auc_delong(candidate.probs(), baseline.probs(), candidate.labels())?,
        bootstrap: bootstrap
            .map(|options| bootstrap_paired_summary(candidate, baseline, options))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn report_serialises_to_json_without_nan() {
        let mut rng = SplitMix64(3);
        let probs: Vec<f64> = (0..500)
            .map(|_| f64::from(rng.unit_f32()) * 0.8 + 0.1)
            .collect();
        let labels: Vec<bool> = probs
            .iter()
            .map(|&p| f64::from(rng.unit_f32()) < p)
            .collect();
        let logits = probs.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        let sample = Sample::new(probs, logits, labels).unwrap();
        let options = ValidationOptions {
            operating_thresholds: vec![0.2, 0.5],
            bootstrap: Some(BootstrapOptions {
                seed: 1,
                n_resamples: 20,
                n_threads: 2,
            }),
            ..ValidationOptions::default()
        };
        let report = model_report(&sample, &options).unwrap();
        // serde_json writes a NaN or an infinity as null: the only null allowed is the ROC curve's
        // first threshold (above every score), which is None by design.
        let value = serde_json::to_value(&report).unwrap();
        let mut nulls = Vec::new();
        collect_nulls(&value, String::new(), &mut nulls);
        assert_eq!(nulls, vec![".roc[0].threshold".to_string()]);
        assert_eq!(value["calibration_slope"]["status"], "estimated");
        assert_eq!(report.operating_points.len(), 2);
        assert_eq!(
            report.bootstrap.as_ref().map(|b| b.net_benefit.len()),
            Some(2)
        );
        let comparison = compare_models(&sample, &sample, options.bootstrap.as_ref()).unwrap();
        assert_eq!(comparison.auc.difference, 0.0);
        assert!(serde_json::to_string(&comparison).is_ok());
    }

    fn collect_nulls(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Null => out.push(path),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    collect_nulls(item, format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    collect_nulls(item, format!("{path}.{key}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn rejects_operating_thresholds_outside_the_open_interval() {
        let sample = Sample::new(vec![0.2, 0.7], vec![-1.0, 1.0], vec![false, true]).unwrap();
        let options = ValidationOptions {
            operating_thresholds: vec![1.0],
            bootstrap: None,
            ..ValidationOptions::default()
        };
        assert!(matches!(
            model_report(&sample, &options),
            Err(MetricsError::InvalidThreshold { .. })
        ));
    }
}

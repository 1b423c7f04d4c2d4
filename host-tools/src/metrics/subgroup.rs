//! Subgroup summaries: discrimination and calibration within the rows a mask selects, or a
//! status saying why they are not estimated.
//!
//! A subgroup with fewer events or non-events than the configured minimum is reported with its
//! counts and [`SubgroupResult::TooFewEvents`]: it is never dropped from a report and never
//! shown with numbers too unstable to read. Never: pools, reweights or merges small subgroups.

use serde::Serialize;

use super::auc::{auc_delong, AucReport};
use super::calibration::{calibration_slope, observed_expected, ObservedExpected, SlopeFit};
use super::{MetricsError, Sample};

/// When a subgroup is too small to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubgroupOptions {
    /// Fewest events for estimates (10 by default).
    pub min_events: usize,
    /// Fewest non-events for estimates (10 by default).
    pub min_non_events: usize,
}

impl Default for SubgroupOptions {
    fn default() -> Self {
        Self {
            min_events: 10,
            min_non_events: 10,
        }
    }
}

/// One subgroup's counts and result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SubgroupReport {
    /// Rows in the subgroup.
    pub n: usize,
    /// Events in the subgroup.
    pub n_events: usize,
    /// Non-events in the subgroup.
    pub n_non_events: usize,
    /// Estimates, or why there are none.
    pub result: SubgroupResult,
}

/// Estimates for a subgroup, or why there are none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SubgroupResult {
    /// Enough events and non-events.
    Estimated {
        /// AUC with DeLong interval.
        auc: AucReport,
        /// Observed/expected ratio with interval.
        observed_expected: ObservedExpected,
        /// Calibration slope (itself a status: separation is possible in small subgroups).
        calibration_slope: SlopeFit,
    },
    /// Fewer events or non-events than required; no estimates.
    TooFewEvents {
        /// The minimum events that was required.
        min_events: usize,
        /// The minimum non-events that was required.
        min_non_events: usize,
    },
}

/// Summary of the rows where `mask` is true.
pub fn subgroup_summary(
    sample: &Sample,
    mask: &[bool],
    options: &SubgroupOptions,
) -> Result<SubgroupReport, MetricsError> {
    let sub = sample.subset(mask)?;
    let (n_events, n_non_events) = (sub.n_events(), sub.n_non_events());
    // A minimum of 0 still needs one row of each class for an AUC.
    let result =
        if n_events < options.min_events.max(1) || n_non_events < options.min_non_events.max(1) {
            SubgroupResult::TooFewEvents {
                min_events: options.min_events,
                min_non_events: options.min_non_events,
            }
        } else {
            SubgroupResult::Estimated {
                auc: auc_delong(sub.probs(), sub.labels())?,
                observed_expected: observed_expected(&sub)?,
                calibration_slope: calibration_slope(&sub)?,
            }
        };
    Ok(SubgroupReport {
        n: sub.len(),
        n_events,
        n_non_events,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        let probs: Vec<f64> = (0..60).map(|i| 0.05 + 0.9 * f64::from(i) / 59.0).collect();
        // Events mostly at high probability, with overlap.
        let labels: Vec<bool> = (0..60).map(|i| (i * 7 % 10) < i / 6).collect();
        let logits = probs.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        Sample::new(probs, logits, labels).unwrap()
    }

    #[test]
    fn too_few_events_is_a_status_with_counts() {
        let s = sample();
        let mask: Vec<bool> = (0..60).map(|i| i < 15).collect();
        let report = subgroup_summary(&s, &mask, &SubgroupOptions::default()).unwrap();
        assert_eq!(report.n, 15);
        assert_eq!(report.n_events + report.n_non_events, 15);
        assert_eq!(
            report.result,
            SubgroupResult::TooFewEvents {
                min_events: 10,
                min_non_events: 10
            }
        );
        let empty = subgroup_summary(&s, &[false; 60], &SubgroupOptions::default()).unwrap();
        assert_eq!((empty.n, empty.n_events), (0, 0));
        assert!(matches!(empty.result, SubgroupResult::TooFewEvents { .. }));
    }

    #[test]
    fn estimates_match_the_subset_computed_directly() {
        let s = sample();
        let mask = vec![true; 60];
        let report = subgroup_summary(&s, &mask, &SubgroupOptions::default()).unwrap();
        let SubgroupResult::Estimated {
            auc,
            calibration_slope: slope,
            ..
        } = report.result
        else {
            panic!("expected estimates, got {:?}", report.result);
        };
        assert_eq!(auc, auc_delong(s.probs(), s.labels()).unwrap());
        assert_eq!(slope, calibration_slope(&s).unwrap());
        assert!(subgroup_summary(&s, &[true; 3], &SubgroupOptions::default()).is_err());
    }
}

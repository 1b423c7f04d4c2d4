//! Clinical usefulness: decision curves (net benefit, Vickers and Elkin 2006) and the confusion
//! matrix at an operating point with Wilson intervals.
//!
//! Convention everywhere: a row is treated (called positive) when its probability is
//! `>= threshold`, so a threshold equal to a predicted probability treats that row. Net benefit
//! at threshold t is `TP/n - FP/n * t/(1 - t)`; treating everyone gives
//! `prevalence - (1 - prevalence) * t/(1 - t)` and treating no one gives 0. Counts come from one
//! sort of the probabilities and a binary search per threshold. Never: interpolates between
//! thresholds or smooths the curve.

use serde::Serialize;

use super::{canonical_zero, wilson, MetricsError, Proportion, Sample};

/// One threshold of a decision curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NetBenefitPoint {
    /// Risk threshold t in (0, 1).
    pub threshold: f64,
    /// Events with `p >= t`.
    pub true_positives: usize,
    /// Non-events with `p >= t`.
    pub false_positives: usize,
    /// Net benefit of treating by the model.
    pub net_benefit: f64,
    /// Net benefit of treating everyone.
    pub treat_all: f64,
    /// Net benefit of treating no one (always 0; kept so the curve is self-describing).
    pub treat_none: f64,
}

/// The confusion matrix at one operating point, with Wilson intervals.
///
/// A rate whose denominator is zero (no events, no predicted positives, ...) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdReport {
    /// Rows with `p >= threshold` are called positive.
    pub threshold: f64,
    /// Events called positive.
    pub true_positives: u64,
    /// Non-events called positive.
    pub false_positives: u64,
    /// Non-events called negative.
    pub true_negatives: u64,
    /// Events called negative.
    pub false_negatives: u64,
    /// `TP / (TP + FN)`.
    pub sensitivity: Option<Proportion>,
    /// `TN / (TN + FP)`.
    pub specificity: Option<Proportion>,
    /// Positive predictive value `TP / (TP + FP)`.
    pub ppv: Option<Proportion>,
    /// Negative predictive value `TN / (TN + FN)`.
    pub npv: Option<Proportion>,
}

/// Thresholds 0.01, 0.02, ..., 0.99 (each `i / 100`, so exactly the f64 nearest to it).
pub fn default_thresholds() -> Vec<f64> {
    (1..100).map(|i| f64::from(i) / 100.0).collect()
}

/// Net benefit of the model, treat-all and treat-none at each threshold (each in (0, 1)).
pub fn decision_curve(
    sample: &Sample,
    thresholds: &[f64],
) -> Result<Vec<NetBenefitPoint>, MetricsError> {
    if sample.is_empty() {
        return Err(MetricsError::Empty);
    }
    for &t in thresholds {
        if !(t > 0.0 && t < 1.0) {
            return Err(MetricsError::InvalidThreshold {
                value: t,
                range: "(0, 1)",
            });
        }
    }
    let counts = SortedCounts::new(sample);
    let n = sample.len() as f64;
    let prevalence = sample.n_events() as f64 / n;
    Ok(thresholds
        .iter()
        .map(|&t| {
            let (tp, fp) = counts.treated(t);
            let odds = t / (1.0 - t);
            NetBenefitPoint {
                threshold: t,
                true_positives: tp,
                false_positives: fp,
                net_benefit: tp as f64 / n - fp as f64 / n * odds,
                treat_all: prevalence - (1.0 - prevalence) * odds,
                treat_none: 0.0,
            }
        })
        .collect())
}

/// The confusion matrix at `threshold` (in [0, 1]) with sensitivity, specificity, PPV and NPV.
pub fn threshold_metrics(sample: &Sample, threshold: f64) -> Result<ThresholdReport, MetricsError> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(MetricsError::InvalidThreshold {
            value: threshold,
            range: "[0, 1]",
        });
    }
    if sample.is_empty() {
        return Err(MetricsError::Empty);
    }
    let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
    for (&p, &y) in sample.probs().iter().zip(sample.labels()) {
        match (p >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    Ok(ThresholdReport {
        threshold,
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
        sensitivity: wilson(tp, tp + fn_),
        specificity: wilson(tn, tn + fp),
        ppv: wilson(tp, tp + fp),
        npv: wilson(tn, tn + fn_),
    })
}

/// Probabilities in ascending order with the running count of events, for counting the rows at
/// or above any threshold by binary search.
struct SortedCounts {
    probs: Vec<f64>,
    /// `events_before[i]`: events among the `i` smallest probabilities (length n + 1).
    events_before: Vec<usize>,
}

impl SortedCounts {
    fn new(sample: &Sample) -> Self {
        let mut order: Vec<usize> = (0..sample.len()).collect();
        let probs = sample.probs();
        order.sort_by(|&a, &b| canonical_zero(probs[a]).total_cmp(&canonical_zero(probs[b])));
        let mut events_before = Vec::with_capacity(order.len() + 1);
        events_before.push(0);
        let mut events = 0;
        for &row in &order {
            events += usize::from(sample.labels()[row]);
            events_before.push(events);
        }
        Self {
            probs: order.iter().map(|&row| probs[row]).collect(),
            events_before,
        }
    }

    /// (events, non-events) with probability `>= t`.
    fn treated(&self, t: f64) -> (usize, usize) {
        let first = self.probs.partition_point(|&p| p < t);
        let n = self.probs.len();
        let total_events = self.events_before[n];
        let tp = total_events - self.events_before[first];
        (tp, n - first - tp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand_sample() -> Sample {
        // The hand-worked case of tests/fixtures/validation/gen_metrics.py.
        let probs = vec![0.05, 0.10, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.80, 0.90];
        let labels = [0, 0, 1, 0, 0, 1, 0, 1, 1, 1]
            .iter()
            .map(|&y| y == 1)
            .collect();
        Sample::new(probs, vec![0.0; 10], labels).unwrap()
    }

    #[test]
    fn matches_the_hand_worked_net_benefit() {
        let curve = decision_curve(&hand_sample(), &[0.10, 0.25, 0.50, 0.75]).unwrap();
        let expected = [
            (5, 4, 41.0 / 90.0, 4.0 / 9.0),
            (4, 2, 1.0 / 3.0, 1.0 / 3.0),
            (3, 1, 0.2, 0.0),
            (2, 0, 0.2, -1.0),
        ];
        for (point, (tp, fp, nb, all)) in curve.iter().zip(expected) {
            assert_eq!((point.true_positives, point.false_positives), (tp, fp));
            assert!((point.net_benefit - nb).abs() < 1e-15);
            assert!((point.treat_all - all).abs() < 1e-15);
            assert_eq!(point.treat_none, 0.0);
        }
    }

    #[test]
    fn a_probability_equal_to_the_threshold_is_treated() {
        let report = threshold_metrics(&hand_sample(), 0.10).unwrap();
        assert_eq!((report.true_positives, report.false_positives), (5, 4));
        assert_eq!((report.true_negatives, report.false_negatives), (1, 0));
    }

    #[test]
    fn zero_denominators_are_none() {
        let report = threshold_metrics(&hand_sample(), 0.95).unwrap();
        assert_eq!(report.true_positives + report.false_positives, 0);
        assert!(report.ppv.is_none());
        assert_eq!(report.sensitivity.unwrap().estimate, 0.0);
        let no_events = Sample::new(vec![0.2, 0.7], vec![0.0; 2], vec![false, false]).unwrap();
        let report = threshold_metrics(&no_events, 0.5).unwrap();
        assert!(report.sensitivity.is_none());
        assert!(report.specificity.is_some());
    }

    #[test]
    fn rejects_thresholds_outside_the_open_interval() {
        for t in [0.0, 1.0, f64::NAN, -0.5] {
            assert!(matches!(
                decision_curve(&hand_sample(), &[t]),
                Err(MetricsError::InvalidThreshold { .. })
            ));
        }
        assert!(threshold_metrics(&hand_sample(), 1.5).is_err());
        assert_eq!(default_thresholds().len(), 99);
        assert_eq!(default_thresholds()[9], 0.1);
    }
}

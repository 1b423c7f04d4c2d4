//! Discrimination: the AUC (Mann-Whitney, ties count one half), its DeLong standard error and
//! 95% interval, the paired DeLong comparison of two models on the same rows, and the ROC curve.
//!
//! Owns the placement counts behind all of these. DeLong's placement value of an event is the
//! fraction of non-events it outranks (ties one half), and of a non-event the fraction of events
//! that outrank it. They are computed in O(n log n) from one sort (the midrank idea of Sun and
//! Xu, 2014: an event's placement is its midrank among all rows minus its midrank among the
//! events), kept as integers `2 * count` so they are exact, and the variances are computed from
//! integer sums of those counts in u128/i128 before a single conversion to f64. So the AUC is
//! the correctly rounded value of the exact fraction `2U / (2 n1 n0)` and the DeLong variance
//! does not depend on row order or summation order. Exactness holds while `2 n1 n0 < 2^53`
//! (about 1.3e8 rows at 50% prevalence). Never: interpolates or smooths the ROC curve.

use serde::Serialize;

use super::{
    canonical_zero, check_len, normal_sf, require_both_classes, Interval, MetricsError, Z_95,
};

/// The AUC with its DeLong standard error.
///
/// The interval is the plain Wald interval `auc ± Z_95 * se`, clipped to [0, 1]: simple,
/// what most validation reports quote, and adequate away from 0 and 1 at the sample sizes of a
/// validation cohort (a logit-transformed interval would be better near 1 but is not used).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AucReport {
    /// Area under the ROC curve (the probability that a random event outranks a random
    /// non-event, ties counting one half).
    pub auc: f64,
    /// DeLong standard error; `None` with a single event or a single non-event (the placement
    /// variance of a class with one row is undefined).
    pub se: Option<f64>,
    /// 95% Wald interval, clipped to [0, 1]; `None` when `se` is.
    pub ci: Option<Interval>,
    /// Events (positive labels).
    pub n_events: usize,
    /// Non-events.
    pub n_non_events: usize,
}

/// Two models compared on the same rows with DeLong's paired test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedAucReport {
    /// AUC of the candidate model.
    pub auc_candidate: f64,
    /// AUC of the baseline model.
    pub auc_baseline: f64,
    /// `auc_candidate - auc_baseline`.
    pub difference: f64,
    /// DeLong standard error of the difference (accounts for the correlation between the two
    /// models' placements); `None` with a single event or non-event.
    pub se: Option<f64>,
    /// 95% Wald interval of the difference, clipped to [-1, 1].
    pub ci: Option<Interval>,
    /// `difference / se`; `None` when `se` is `None` or zero (identical rankings).
    pub z: Option<f64>,
    /// Two-sided p-value of `z` under the standard normal; `None` when `z` is.
    pub p_value: Option<f64>,
}

/// One point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// Rows with a score `>= threshold` are called positive. `None` for the first point (0, 0),
    /// whose threshold is above every score (scikit-learn writes `inf` there, which JSON cannot
    /// hold).
    pub threshold: Option<f64>,
    /// False positive rate, `FP / n_non_events`.
    pub fpr: f64,
    /// True positive rate, `TP / n_events`.
    pub tpr: f64,
}

/// The AUC of `scores` (exact fraction, correctly rounded).
pub fn auc(scores: &[f64], labels: &[bool]) -> Result<f64, MetricsError> {
    Ok(Placements::new(scores, labels)?.auc())
}

/// The AUC with DeLong's standard error and 95% interval.
pub fn auc_delong(scores: &[f64], labels: &[bool]) -> Result<AucReport, MetricsError> {
    let placements = Placements::new(scores, labels)?;
    let auc = placements.auc();
    let se = placements.covariance(&placements, labels).map(f64::sqrt);
    Ok(AucReport {
        auc,
        se,
        ci: se.map(|se| Interval {
            lower: (auc - Z_95 * se).max(0.0),
            upper: (auc + Z_95 * se).min(1.0),
        }),
        n_events: placements.n_events,
        n_non_events: placements.n_non_events,
    })
}

/// DeLong's test of `AUC(candidate) - AUC(baseline)` on the same rows and labels.
pub fn paired_auc_delong(
    candidate: &[f64],
    baseline: &[f64],
    labels: &[bool],
) -> Result<PairedAucReport, MetricsError> {
    check_len("baseline scores", candidate.len(), baseline.len())?;
    let a = Placements::new(candidate, labels)?;
    let b = Placements::new(baseline, labels)?;
    let (auc_candidate, auc_baseline) = (a.auc(), b.auc());
    let difference = auc_candidate - auc_baseline;
    let variance = match (
        a.covariance(&a, labels),
        b.covariance(&b, labels),
        a.covariance(&b, labels),
    ) {
        // Var(A - B) = Var A + Var B - 2 Cov(A, B); clamped at zero against rounding when the two
        // models rank (almost) identically.
        (Some(va), Some(vb), Some(cov)) => Some((va + vb - 2.0 * cov).max(0.0)),
        _ => None,
    };
    let se = variance.map(f64::sqrt);
    let z = se.filter(|&se| se > 0.0).map(|se| difference / se);
    Ok(PairedAucReport {
        auc_candidate,
        auc_baseline,
        difference,
        se,
        ci: se.map(|se| Interval {
            lower: (difference - Z_95 * se).max(-1.0),
            upper: (difference + Z_95 * se).min(1.0),
        }),
        z,
        p_value: z.map(|z| (2.0 * normal_sf(z.abs())).min(1.0)),
    })
}

/// The ROC curve with one point per distinct score, from the highest score down, preceded by
/// (0, 0): what scikit-learn's `roc_curve(drop_intermediate=False)` returns. Rates are exact
/// counts divided once, so they are bit-identical to scikit-learn's.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<Vec<RocPoint>, MetricsError> {
    let order = sorted_order(scores, labels)?;
    let n_events = labels.iter().filter(|&&y| y).count();
    let n_non_events = labels.len() - n_events;
    require_both_classes(n_events, n_non_events)?;
    let mut points = vec![RocPoint {
        threshold: None,
        fpr: 0.0,
        tpr: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    // Walk tie groups from the highest score down; each group adds one point.
    let mut end = order.len();
    while end > 0 {
        let value = canonical_zero(scores[order[end - 1]]);
        let mut start = end - 1;
        while start > 0 && scores[order[start - 1]] == value {
            start -= 1;
        }
        for &row in &order[start..end] {
            if labels[row] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        points.push(RocPoint {
            threshold: Some(value),
            fpr: fp as f64 / n_non_events as f64,
            tpr: tp as f64 / n_events as f64,
        });
        end = start;
    }
    Ok(points)
}

/// The fewest rows between two kept points of a reported ROC curve ([`coarse_roc`]).
pub const ROC_MIN_ROWS_PER_POINT: usize = 20;
/// The most points a reported ROC curve has between its two ends.
pub const ROC_MAX_POINTS: usize = 500;

/// The rows each step of a reported ROC curve covers at least: 20, or more so that the curve
/// has at most [`ROC_MAX_POINTS`] inner points.
pub fn roc_rows_per_point(n_rows: usize) -> usize {
    ROC_MIN_ROWS_PER_POINT.max(n_rows.div_ceil(ROC_MAX_POINTS))
}

/// The ROC curve as a report shows it: a subset of [`roc_curve`]'s points (each kept point is
/// exactly one of its vertices), keeping the first and last and a point only once at least
/// [`roc_rows_per_point`] rows have been passed since the last kept one. The full curve has a
/// point per distinct score, which lists every patient's risk and outcome in order; the coarse
/// one never resolves fewer than 20 patients, so a report or bundle holds no row-level data.
/// The AUC is always computed from every row, not from this curve.
pub fn coarse_roc(scores: &[f64], labels: &[bool]) -> Result<Vec<RocPoint>, MetricsError> {
    let full = roc_curve(scores, labels)?;
    let n_events = labels.iter().filter(|&&y| y).count() as f64;
    let n_non_events = labels.len() as f64 - n_events;
    // Rows passed up to a point, recovered exactly from its rates (both are count / total).
    let rows = |p: &RocPoint| (p.tpr * n_events).round() + (p.fpr * n_non_events).round();
    let step = roc_rows_per_point(labels.len()) as f64;
    let mut kept: Vec<RocPoint> = Vec::new();
    let last = full.len() - 1;
    for (i, point) in full.iter().enumerate() {
        let since_kept = kept.last().map_or(f64::INFINITY, |k| rows(point) - rows(k));
        if i == last {
            // The end (1, 1) is always kept; the point before it goes if the last step would
            // be shorter than the others.
            if kept.len() > 1 && since_kept < step {
                kept.pop();
            }
            kept.push(*point);
        } else if i == 0 || since_kept >= step {
            kept.push(*point);
        }
    }
    Ok(kept)
}

/// Row indices sorted by ascending score (ties in row order), after checking the inputs.
fn sorted_order(scores: &[f64], labels: &[bool]) -> Result<Vec<usize>, MetricsError> {
    check_len("labels", scores.len(), labels.len())?;
    if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        return Err(MetricsError::NonFiniteScore { row });
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| canonical_zero(scores[a]).total_cmp(&canonical_zero(scores[b])));
    Ok(order)
}

/// DeLong placement counts of one model, indexed by row.
///
/// `twice[row]` is, for an event, `2 * (non-events scored below it) + (non-events tied with
/// it)`, i.e. `2 * n_non_events * V10`; for a non-event, `2 * (events scored above it) +
/// (events tied with it)`, i.e. `2 * n_events * V01`.
struct Placements {
    twice: Vec<u64>,
    n_events: usize,
    n_non_events: usize,
    /// `2U`: the sum of the events' counts.
    twice_u: u128,
}

impl Placements {
    fn new(scores: &[f64], labels: &[bool]) -> Result<Self, MetricsError> {
        let order = sorted_order(scores, labels)?;
        let n_events = labels.iter().filter(|&&y| y).count();
        let n_non_events = labels.len() - n_events;
        require_both_classes(n_events, n_non_events)?;
        let mut twice = vec![0u64; labels.len()];
        let (mut events_below, mut non_events_below) = (0u64, 0u64);
        let mut start = 0;
        while start < order.len() {
            let value = canonical_zero(scores[order[start]]);
            let mut end = start + 1;
            while end < order.len() && scores[order[end]] == value {
                end += 1;
            }
            let group = &order[start..end];
            let tied_events = group.iter().filter(|&&row| labels[row]).count() as u64;
            let tied_non_events = group.len() as u64 - tied_events;
            let events_above = n_events as u64 - events_below - tied_events;
            for &row in group {
                twice[row] = if labels[row] {
                    2 * non_events_below + tied_non_events
                } else {
                    2 * events_above + tied_events
                };
            }
            events_below += tied_events;
            non_events_below += tied_non_events;
            start = end;
        }
        let twice_u = (0..labels.len())
            .filter(|&row| labels[row])
            .map(|row| u128::from(twice[row]))
            .sum();
        Ok(Self {
            twice,
            n_events,
            n_non_events,
            twice_u,
        })
    }

    fn auc(&self) -> f64 {
        // Both integers are exact in f64 below 2^53, so this is one correctly rounded division.
        self.twice_u as f64 / (2 * self.n_events as u128 * self.n_non_events as u128) as f64
    }

    /// DeLong's covariance of the two models' AUCs, `S10(a, b) / n1 + S01(a, b) / n0`, where S10
    /// and S01 are the sample covariances (n - 1 denominator) of the placement values over the
    /// events and the non-events. `None` when a class has a single row.
    fn covariance(&self, other: &Self, labels: &[bool]) -> Option<f64> {
        let s10 = class_covariance(&self.twice, &other.twice, labels, true, self.n_non_events)?;
        let s01 = class_covariance(&self.twice, &other.twice, labels, false, self.n_events)?;
        Some(s10 / self.n_events as f64 + s01 / self.n_non_events as f64)
    }
}

/// Sample covariance over the rows of one class of the placement values `a / (2 m)` and
/// `b / (2 m)`, where `m` is the size of the other class. Computed as
/// `(k * sum(ab) - sum(a) * sum(b)) / (k (k - 1))` in exact integers, then scaled.
fn class_covariance(a: &[u64], b: &[u64], labels: &[bool], class: bool, m: usize) -> Option<f64> {
    let (mut k, mut sum_a, mut sum_b, mut sum_ab) = (0i128, 0i128, 0i128, 0i128);
    for row in (0..labels.len()).filter(|&row| labels[row] == class) {
        let (x, y) = (i128::from(a[row]), i128::from(b[row]));
        k += 1;
        sum_a += x;
        sum_b += y;
        sum_ab += x * y;
    }
    if k < 2 {
        return None;
    }
    let numerator = k * sum_ab - sum_a * sum_b;
    let scale = (k * (k - 1)) as f64 * (4.0 * m as f64 * m as f64);
    Some(numerator as f64 / scale)
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_reported_roc_is_a_coarse_subset_that_resolves_no_small_group() {
        let mut state = 7u64;
        for n in [2usize, 25, 60, 1_000, 30_000] {
            let mut scores = Vec::with_capacity(n);
            let mut labels = Vec::with_capacity(n);
            for i in 0..n {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let s = (state >> 11) as f64 / (1u64 << 53) as f64;
                scores.push(s);
                labels.push(i % 2 == 0 || s > 0.8);
            }
            let full = roc_curve(&scores, &labels).unwrap();
            let coarse = coarse_roc(&scores, &labels).unwrap();
            assert_eq!(coarse.first(), full.first());
            assert_eq!(coarse.last(), full.last());
            assert!(
                coarse.iter().all(|p| full.contains(p)),
                "n {n}: a point not on the curve"
            );
            assert!(
                coarse.len() <= ROC_MAX_POINTS + 2,
                "n {n}: {} points",
                coarse.len()
            );
            let events = labels.iter().filter(|&&y| y).count() as f64;
            let rows =
                |p: &RocPoint| (p.tpr * events).round() + (p.fpr * (n as f64 - events)).round();
            if n >= roc_rows_per_point(n) {
                for pair in coarse.windows(2) {
                    let step = rows(&pair[1]) - rows(&pair[0]);
                    assert!(
                        step >= roc_rows_per_point(n) as f64,
                        "n {n}: a step of {step} rows"
                    );
                }
            }
        }
    }

    use super::*;

    #[test]
    fn counts_ties_one_half() {
        assert_eq!(
            auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Ok(1.0)
        );
        assert_eq!(
            auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Ok(0.0)
        );
        assert_eq!(auc(&[0.5; 4], &[false, true, false, true]), Ok(0.5));
        // One event tied with one of two non-events, above the other: (1 + 0.5) / 2.
        assert_eq!(auc(&[0.3, 0.5, 0.5], &[false, false, true]), Ok(0.75));
    }

    #[test]
    fn treats_negative_zero_as_a_tie_with_zero() {
        assert_eq!(auc(&[-0.0, 0.0], &[true, false]), Ok(0.5));
        let roc = roc_curve(&[-0.0, 0.0], &[true, false]).unwrap();
        assert_eq!(roc.len(), 2);
    }

    #[test]
    fn all_ties_give_half_with_a_positive_se() {
        let labels = [true, false, true, false, false];
        let report = auc_delong(&[0.3; 5], &labels).unwrap();
        assert_eq!(report.auc, 0.5);
        // Every placement is 1/2, so the placement variance is zero.
        assert_eq!(report.se, Some(0.0));
        let roc = roc_curve(&[0.3; 5], &labels).unwrap();
        assert_eq!(roc.len(), 2);
        assert_eq!((roc[1].fpr, roc[1].tpr), (1.0, 1.0));
    }

    #[test]
    fn perfect_separation_has_zero_variance() {
        let report = auc_delong(
            &[0.1, 0.2, 0.3, 0.7, 0.8],
            &[false, false, false, true, true],
        )
        .unwrap();
        assert_eq!(report.auc, 1.0);
        assert_eq!(report.se, Some(0.0));
        assert_eq!(
            report.ci,
            Some(Interval {
                lower: 1.0,
                upper: 1.0
            })
        );
    }

    #[test]
    fn single_class_is_an_error_and_single_row_class_has_no_se() {
        assert_eq!(
            auc_delong(&[0.1, 0.2], &[false, false]),
            Err(MetricsError::NoEvents)
        );
        assert_eq!(
            auc_delong(&[0.1, 0.2], &[true, true]),
            Err(MetricsError::NoNonEvents)
        );
        assert_eq!(auc_delong(&[], &[]), Err(MetricsError::NoEvents));
        let report = auc_delong(&[0.1, 0.2, 0.9], &[false, false, true]).unwrap();
        assert_eq!((report.auc, report.se, report.ci), (1.0, None, None));
        assert_eq!(
            auc(&[f64::NAN, 0.2], &[true, false]),
            Err(MetricsError::NonFiniteScore { row: 0 })
        );
    }

    #[test]
    fn delong_variance_matches_the_pairwise_definition() {
        // Small case with ties, compared with DeLong's definition evaluated pair by pair.
        let scores = [0.1, 0.4, 0.4, 0.35, 0.8, 0.4, 0.2, 0.8, 0.65];
        let labels = [false, false, true, true, true, false, false, true, false];
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let pos: Vec<f64> = (0..9).filter(|&i| labels[i]).map(|i| scores[i]).collect();
        let neg: Vec<f64> = (0..9).filter(|&i| !labels[i]).map(|i| scores[i]).collect();
        let v10: Vec<f64> = pos
            .iter()
            .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / neg.len() as f64)
            .collect();
        let v01: Vec<f64> = neg
            .iter()
            .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / pos.len() as f64)
            .collect();
        let var = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64
        };
        let expected_auc = v10.iter().sum::<f64>() / v10.len() as f64;
        let expected_var = var(&v10) / pos.len() as f64 + var(&v01) / neg.len() as f64;
        let report = auc_delong(&scores, &labels).unwrap();
        assert!((report.auc - expected_auc).abs() < 1e-15);
        assert!((report.se.unwrap().powi(2) - expected_var).abs() < 1e-15);
    }

    #[test]
    fn paired_test_of_a_model_with_itself_has_no_p_value() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.2, 0.65];
        let labels = [false, true, false, true, false, true];
        let report = paired_auc_delong(&scores, &scores, &labels).unwrap();
        assert_eq!(report.difference, 0.0);
        assert_eq!(report.se, Some(0.0));
        assert_eq!((report.z, report.p_value), (None, None));
        assert!(paired_auc_delong(&scores, &scores[..5], &labels).is_err());
    }

    #[test]
    fn auc_does_not_depend_on_row_order() {
        let scores = [0.3, 0.1, 0.3, 0.9, 0.5, 0.5, 0.2];
        let labels = [true, false, false, true, false, true, false];
        let a = auc_delong(&scores, &labels).unwrap();
        let mut rows: Vec<usize> = (0..7).collect();
        rows.reverse();
        let s: Vec<f64> = rows.iter().map(|&i| scores[i]).collect();
        let l: Vec<bool> = rows.iter().map(|&i| labels[i]).collect();
        assert_eq!(auc_delong(&s, &l).unwrap(), a);
    }
}

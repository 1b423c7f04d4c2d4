//! Statistics behind `lockstep validate`: discrimination, calibration, clinical usefulness and
//! their uncertainty for a binary risk model, in the spirit of TRIPOD+AI.
//!
//! Owns: the validated input ([`Sample`]: probability, logit and label per row), the shared
//! result types ([`Interval`], [`Proportion`]), the one error type ([`MetricsError`]) and the
//! normal-distribution helpers every confidence interval uses. The submodules hold one family of
//! statistics each: [`auc`] (AUC, DeLong, ROC), [`calibration`] (O/E, calibration-in-the-large,
//! slope, grouped points, Brier), [`lowess`] (smoothed calibration curve, ICI), [`decision`]
//! (net benefit, operating points), [`bootstrap`] (stratified percentile intervals),
//! [`subgroup`] (per-subgroup summaries), [`report`] (everything for one model), and [`drift`]
//! (a feature's distribution change, PSI and KS, for `data check`).
//!
//! Invariants: everything is computed in f64 with a fixed summation order (row order, or sorted
//! order where a method sorts), so identical inputs give bit-identical reports on every machine
//! and thread count. Outputs never contain NaN or infinities: a value that is undefined for the
//! data at hand (a ratio with a zero denominator, a slope under separation) is an `Option` or a
//! status enum, so every report serialises to plain JSON. Invalid inputs (length mismatch,
//! probabilities outside [0, 1], non-finite logits, a class missing where both are needed) are a
//! [`MetricsError`], never a silently dropped row. Never: reads files, loads models or prints.

pub mod auc;
pub mod bootstrap;
pub mod calibration;
pub mod decision;
pub mod drift;
pub mod lowess;
pub mod report;
pub mod subgroup;

use serde::Serialize;
use thiserror::Error;

/// The 97.5% quantile of the standard normal distribution: every 95% interval here is
/// `estimate ± Z_95 * se` (the value `scipy.stats.norm.ppf(0.975)` gives, which statsmodels
/// uses for its Wald and Wilson intervals).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Invalid input to a statistic.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Two inputs that describe the same rows have different lengths.
    #[error("{what} has {found} rows, expected {expected}")]
    LengthMismatch {
        /// Which input is the wrong length.
        what: &'static str,
        /// The row count of the first input.
        expected: usize,
        /// The row count of this input.
        found: usize,
    },
    /// A probability is NaN, infinite or outside [0, 1].
    #[error("row {row}: probability is not a number in [0, 1]")]
    InvalidProbability {
        /// Zero-based row index.
        row: usize,
    },
    /// A logit (margin) is NaN or infinite.
    #[error("row {row}: logit is not finite")]
    NonFiniteLogit {
        /// Zero-based row index.
        row: usize,
    },
    /// A score to rank or smooth is NaN or infinite.
    #[error("row {row}: score is not finite")]
    NonFiniteScore {
        /// Zero-based row index.
        row: usize,
    },
    /// The statistic needs at least one row.
    #[error("no rows")]
    Empty,
    /// The statistic needs at least one event (positive label).
    #[error("no events: every label is negative")]
    NoEvents,
    /// The statistic needs at least one non-event (negative label).
    #[error("no non-events: every label is positive")]
    NoNonEvents,
    /// A decision threshold is not a finite number in the range the statistic accepts.
    #[error("threshold {value} is outside {range}")]
    InvalidThreshold {
        /// The offending threshold.
        value: f64,
        /// The accepted range, e.g. "(0, 1)".
        range: &'static str,
    },
    /// An option is out of range.
    #[error("option {name}: {reason}")]
    InvalidOption {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two models compared on the same rows disagree on a label, so they are not the same rows.
    #[error(
        "row {row}: the two samples have different labels; paired statistics need the same rows"
    )]
    LabelsDiffer {
        /// Zero-based row index.
        row: usize,
    },
    /// An iterative fit did not converge (it always does when the MLE exists, so this points to
    /// extreme inputs, e.g. logits of magnitude beyond 1e6).
    #[error("{what} did not converge in {iterations} iterations")]
    NoConvergence {
        /// Which fit.
        what: &'static str,
        /// Iterations run.
        iterations: usize,
    },
}

/// A two-sided 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// A proportion `numerator / denominator` with its 95% Wilson score interval.
///
/// Wilson rather than the exact (Clopper-Pearson) interval: it has close to nominal coverage
/// without being conservative, stays inside [0, 1], behaves at 0 and n successes, and needs no
/// beta quantiles. Identical to statsmodels' `proportion_confint(method="wilson")` (including its
/// clipping to [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    /// Successes.
    pub numerator: u64,
    /// Trials (never zero: a proportion with no trials is `None` wherever it appears).
    pub denominator: u64,
    /// `numerator / denominator`.
    pub estimate: f64,
    /// Wilson score interval.
    pub ci: Interval,
}

/// The Wilson score interval for `successes` out of `trials`; `None` when `trials` is zero.
pub fn wilson(successes: u64, trials: u64) -> Option<Proportion> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Proportion {
        numerator: successes,
        denominator: trials,
        estimate: p,
        ci: Interval {
            lower: (center - half).clamp(0.0, 1.0),
            upper: (center + half).clamp(0.0, 1.0),
        },
    })
}

/// One model's predictions on a set of rows, with the labels: the input of every statistic.
///
/// Invariant (checked by the constructors): the three columns have the same length, every
/// probability is a finite number in [0, 1] and every logit is finite. Probabilities are what
/// the model reports (the engine's f32 output widened to f64); logits are the model's margins,
/// used as the linear predictor in calibration-in-the-large and the calibration slope, since
/// recomputing them from probabilities rounded to f32 loses precision near 0 and 1. Ranking
/// statistics (AUC, ROC) rank the probabilities. An empty sample or one with a single class is
/// valid here; statistics that need both classes say so with [`MetricsError::NoEvents`] or
/// [`MetricsError::NoNonEvents`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    probs: Vec<f64>,
    logits: Vec<f64>,
    labels: Vec<bool>,
    n_events: usize,
}

impl Sample {
    /// Checks and takes ownership of the three columns.
    pub fn new(probs: Vec<f64>, logits: Vec<f64>, labels: Vec<bool>) -> Result<Self, MetricsError> {
        check_len("logits", probs.len(), logits.len())?;
        check_len("labels", probs.len(), labels.len())?;
        if let Some(row) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(MetricsError::InvalidProbability { row });
        }
        if let Some(row) = logits.iter().position(|z| !z.is_finite()) {
            return Err(MetricsError::NonFiniteLogit { row });
        }
        let n_events = labels.iter().filter(|&&y| y).count();
        Ok(Self {
            probs,
            logits,
            labels,
            n_events,
        })
    }

    /// The rows where `mask` is true, in row order.
    pub fn subset(&self, mask: &[bool]) -> Result<Self, MetricsError> {
        check_len("mask", self.len(), mask.len())?;
        let rows: Vec<usize> = (0..self.len()).filter(|&row| mask[row]).collect();
        let mut out = Self::default();
        self.gather_into(&rows, &mut out);
        Ok(out)
    }

    /// Overwrites `out` with the given rows of `self` (repeats allowed), reusing its buffers.
    pub(crate) fn gather_into(&self, rows: &[usize], out: &mut Self) {
        out.probs.clear();
        out.logits.clear();
        out.labels.clear();
        out.probs.extend(rows.iter().map(|&row| self.probs[row]));
        out.logits.extend(rows.iter().map(|&row| self.logits[row]));
        out.labels.extend(rows.iter().map(|&row| self.labels[row]));
        out.n_events = out.labels.iter().filter(|&&y| y).count();
    }

    /// Predicted probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// Logits (margins).
    pub fn logits(&self) -> &[f64] {
        &self.logits
    }

    /// Labels: true for an event.
    pub fn labels(&self) -> &[bool] {
        &self.labels
    }

    /// Row count.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rows with a positive label.
    pub fn n_events(&self) -> usize {
        self.n_events
    }

    /// Rows with a negative label.
    pub fn n_non_events(&self) -> usize {
        self.len() - self.n_events
    }

    /// Fraction of rows that are events; `None` for an empty sample.
    pub fn prevalence(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.n_events as f64 / self.len() as f64)
    }

    /// `Ok` when the sample has at least one event and one non-event.
    pub fn require_both_classes(&self) -> Result<(), MetricsError> {
        require_both_classes(self.n_events, self.n_non_events())
    }
}

pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), MetricsError> {
    if expected == found {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

pub(crate) fn require_both_classes(
    n_events: usize,
    n_non_events: usize,
) -> Result<(), MetricsError> {
    if n_events == 0 {
        Err(MetricsError::NoEvents)
    } else if n_non_events == 0 {
        Err(MetricsError::NoNonEvents)
    } else {
        Ok(())
    }
}

/// `-0.0` becomes `+0.0` (IEEE addition of `+0.0` does exactly that and leaves every other finite
/// value unchanged), so that sorting with `total_cmp` puts the two zeros in one tie group, as `==`
/// already does.
pub(crate) fn canonical_zero(x: f64) -> f64 {
    x + 0.0
}

/// The `q`-quantile of ascending `sorted` values with linear interpolation between order
/// statistics (Hyndman and Fan's type 7, numpy's default): position `q * (n - 1)`.
/// `None` for an empty slice.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q * last as f64;
    let lower = (position.floor() as usize).min(last);
    let upper = (lower + 1).min(last);
    let fraction = position - lower as f64;
    Some(sorted[lower] + (sorted[upper] - sorted[lower]) * fraction)
}

/// Upper tail of the standard normal distribution, `P(Z > z)`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function, accurate to about 1e-15 absolute (and relative for x >= 3).
///
/// Below 3 it sums the series `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum 2^k x^(2k+1) / (2k+1)!!`,
/// whose terms are all positive (no cancellation); from 3 up it evaluates Laplace's continued
/// fraction `erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))` from a
/// fixed depth, where it converges fast. std's `erfc` is not stable yet.
pub(crate) fn erfc(x: f64) -> f64 {
    const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
    if x.is_nan() {
        return x;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 3.0 {
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0;
        // Terms grow while 2x^2 > 2k+1, then shrink geometrically; 200 is never reached.
        for _ in 0..200 {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        1.0 - 2.0 * FRAC_1_SQRT_PI * (-x2).exp() * sum
    } else {
        // Depth 80 is converged to f64 precision for x >= 3.
        let mut tail = x;
        for k in (1..=80).rev() {
            tail = x + (f64::from(k) * 0.5) / tail;
        }
        FRAC_1_SQRT_PI * (-x * x).exp() / tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_mismatched_lengths_and_invalid_values() {
        assert_eq!(
            Sample::new(vec![0.5; 3], vec![0.0; 2], vec![true; 3]),
            Err(MetricsError::LengthMismatch {
                what: "logits",
                expected: 3,
                found: 2
            })
        );
        assert_eq!(
            Sample::new(vec![0.5, 1.5], vec![0.0; 2], vec![true; 2]),
            Err(MetricsError::InvalidProbability { row: 1 })
        );
        assert_eq!(
            Sample::new(vec![0.5, f64::NAN], vec![0.0; 2], vec![true; 2]),
            Err(MetricsError::InvalidProbability { row: 1 })
        );
        assert_eq!(
            Sample::new(vec![0.5, 0.5], vec![f64::INFINITY, 0.0], vec![true; 2]),
            Err(MetricsError::NonFiniteLogit { row: 0 })
        );
    }

    #[test]
    fn subset_keeps_masked_rows_in_order() {
        let sample = Sample::new(
            vec![0.1, 0.2, 0.3],
            vec![-2.0, -1.0, 0.0],
            vec![false, true, true],
        )
        .unwrap();
        let sub = sample.subset(&[true, false, true]).unwrap();
        assert_eq!(sub.probs(), &[0.1, 0.3]);
        assert_eq!(sub.logits(), &[-2.0, 0.0]);
        assert_eq!(sub.labels(), &[false, true]);
        assert_eq!((sub.n_events(), sub.n_non_events()), (1, 1));
        assert!(sample.subset(&[true]).is_err());
    }

    #[test]
    fn wilson_matches_known_values() {
        // statsmodels proportion_confint(3, 10, method="wilson")
        let p = wilson(3, 10).unwrap();
        assert!((p.ci.lower - 0.107_791_267_406_301_04).abs() < 1e-15);
        assert!((p.ci.upper - 0.603_221_852_538_854_6).abs() < 1e-15);
        let zero = wilson(0, 5).unwrap();
        assert_eq!(zero.ci.lower, 0.0);
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn normal_tail_matches_known_values() {
        assert!((2.0 * normal_sf(Z_95) - 0.05).abs() < 1e-15);
        assert_eq!(normal_sf(0.0), 0.5);
        // scipy.stats.norm.sf(1.0), norm.sf(5.0), norm.sf(-2.5)
        assert!((normal_sf(1.0) - 0.158_655_253_931_457_05).abs() < 1e-16);
        assert!((normal_sf(5.0) / 2.866_515_718_791_933e-7 - 1.0).abs() < 1e-13);
        assert!((normal_sf(-2.5) - 0.993_790_334_674_223_8).abs() < 1e-15);
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&v, 0.5), Some(3.0));
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&v, 1.0), Some(8.0));
        assert!((quantile_sorted(&v, 0.9).unwrap() - 6.8).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }
}

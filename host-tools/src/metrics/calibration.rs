//! Calibration: observed/expected ratio, calibration-in-the-large, calibration slope, grouped
//! calibration points and the Brier score.
//!
//! Owns the two small logistic fits of the calibration literature (Cox 1958; Van Calster et al.
//! 2016), both on the model's logit (margin) as the linear predictor `lp`:
//! - calibration-in-the-large (CITL): `logit P(y) = a + lp`, the intercept `a` with `lp` as an
//!   offset (0 when the average predicted risk is right);
//! - calibration slope: `logit P(y) = a + b * lp`, the slope `b` (1 when predictions are neither
//!   too extreme nor too modest).
//!
//! Both are maximum likelihood by Newton-Raphson (with step halving, which never triggers when
//! the log-likelihood is well behaved), from zero, until no parameter moves by more than
//! `1e-12 * max(1, |parameter|)`; standard errors come from the inverse Fisher information at the
//! estimate, and intervals are Wald `estimate ± Z_95 * se`, as statsmodels' `GLM(..., offset=)`
//! and `Logit` report them. Sums run in row order. Never: recomputes logits from probabilities.

use serde::Serialize;

use super::{canonical_zero, wilson, Interval, MetricsError, Proportion, Sample, Z_95};

/// Newton iterations before a fit gives up (a converging fit needs fewer than 15).
const MAX_NEWTON_ITERATIONS: usize = 100;
/// Convergence: no parameter moved by more than this, relative to `max(1, |parameter|)`.
const NEWTON_TOLERANCE: f64 = 1e-12;
/// Step halvings tried before an iteration counts as stuck.
const MAX_HALVINGS: usize = 60;

/// Observed events over expected events (the sum of predicted probabilities).
///
/// The interval is `exp(ln(O/E) ± Z_95 / sqrt(O))`: the observed count treated as Poisson
/// with the expected count fixed (Debray et al. 2017), cheap and standard; it is `None` with no
/// events, where the log is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObservedExpected {
    /// Observed events.
    pub observed: f64,
    /// Expected events: the sum of the predicted probabilities.
    pub expected: f64,
    /// `observed / expected`; `None` when every probability is 0.
    pub ratio: Option<f64>,
    /// 95% interval of the ratio; `None` with no events or no ratio.
    pub ci: Option<Interval>,
}

/// One coefficient of a logistic fit with its Wald interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogisticEstimate {
    /// Maximum likelihood estimate.
    pub estimate: f64,
    /// Standard error from the inverse Fisher information.
    pub se: f64,
    /// `estimate ± Z_95 * se`.
    pub ci: Interval,
}

/// The calibration slope fit, or why it has no estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SlopeFit {
    /// The fit converged.
    Estimated {
        /// Intercept `a` of `logit P(y) = a + b * lp`.
        intercept: LogisticEstimate,
        /// Slope `b`.
        slope: LogisticEstimate,
        /// Newton iterations used.
        iterations: usize,
    },
    /// The logit separates events from non-events (every event's logit is at or above every
    /// non-event's, or at or below): the likelihood keeps rising as the slope grows, so there is
    /// no maximum likelihood estimate (the slope is infinite). Checked exactly before fitting.
    Separated,
    /// Every logit is the same, so the slope is not identifiable.
    ConstantLogit,
    /// Newton's method did not converge (only with extreme logits; see
    /// [`MetricsError::NoConvergence`]).
    NotConverged {
        /// Iterations run.
        iterations: usize,
    },
}

impl SlopeFit {
    /// The slope estimate, if there is one.
    pub fn slope(&self) -> Option<f64> {
        match self {
            Self::Estimated { slope, .. } => Some(slope.estimate),
            _ => None,
        }
    }
}

/// Brier score and its scaled version.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BrierReport {
    /// Mean squared difference between probability and outcome.
    pub brier: f64,
    /// `1 - brier / (prevalence * (1 - prevalence))`: 1 is perfect, 0 is no better than
    /// predicting the prevalence for everyone. `None` with a single class.
    pub scaled: Option<f64>,
}

/// One group of the grouped calibration plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationGroup {
    /// Rows in the group.
    pub n: usize,
    /// Mean predicted probability.
    pub mean_predicted: f64,
    /// Smallest predicted probability in the group.
    pub min_predicted: f64,
    /// Largest predicted probability in the group.
    pub max_predicted: f64,
    /// Observed event rate with its Wilson interval.
    pub observed: Proportion,
}

/// O/E with its interval. Errors only on an empty sample.
pub fn observed_expected(sample: &Sample) -> Result<ObservedExpected, MetricsError> {
    if sample.is_empty() {
        return Err(MetricsError::Empty);
    }
    let observed = sample.n_events() as f64;
    let expected: f64 = sample.probs().iter().sum();
    let ratio = (expected > 0.0).then(|| observed / expected);
    let ci = ratio.filter(|_| observed > 0.0).map(|ratio| {
        let half = Z_95 * (1.0 / observed).sqrt();
        Interval {
            lower: ratio * (-half).exp(),
            upper: ratio * half.exp(),
        }
    });
    Ok(ObservedExpected {
        observed,
        expected,
        ratio,
        ci,
    })
}

/// Brier score; errors on an empty sample.
pub fn brier(sample: &Sample) -> Result<BrierReport, MetricsError> {
    let brier = brier_score(sample).ok_or(MetricsError::Empty)?;
    Ok(BrierReport {
        brier,
        scaled: scaled_brier(sample),
    })
}

/// The Brier score, `None` for an empty sample (the bootstrap's statistic).
pub fn brier_score(sample: &Sample) -> Option<f64> {
    if sample.is_empty() {
        return None;
    }
    let sum: f64 = sample
        .probs()
        .iter()
        .zip(sample.labels())
        .map(|(&p, &y)| {
            let r = p - if y { 1.0 } else { 0.0 };
            r * r
        })
        .sum();
    Some(sum / sample.len() as f64)
}

/// The scaled Brier score, `None` for an empty or single-class sample.
pub fn scaled_brier(sample: &Sample) -> Option<f64> {
    let prevalence = sample.prevalence()?;
    let reference = prevalence * (1.0 - prevalence);
    let brier = brier_score(sample)?;
    (reference > 0.0).then(|| 1.0 - brier / reference)
}

/// Calibration-in-the-large: the intercept with the logit as offset. Needs both classes (with
/// one class the estimate is infinite).
pub fn calibration_in_the_large(sample: &Sample) -> Result<LogisticEstimate, MetricsError> {
    sample.require_both_classes()?;
    let design = Design::InterceptWithOffset(sample.logits());
    match newton(sample.labels(), design) {
        Newton::Converged { beta, cov, .. } => Ok(wald(beta[0], cov[0][0])),
        Newton::Failed { iterations } => Err(MetricsError::NoConvergence {
            what: "calibration-in-the-large",
            iterations,
        }),
    }
}

/// The calibration slope. Needs both classes; separation or constant logits are a status, not
/// an error.
pub fn calibration_slope(sample: &Sample) -> Result<SlopeFit, MetricsError> {
    sample.require_both_classes()?;
    let logits = sample.logits();
    let labels = sample.labels();
    let mut range = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
    for (&z, &y) in logits.iter().zip(labels) {
        let r = &mut range[usize::from(y)];
        r[0] = r[0].min(z);
        r[1] = r[1].max(z);
    }
    let ([min_non_event, max_non_event], [min_event, max_event]) = (range[0], range[1]);
    if min_non_event == max_non_event && min_event == max_event && min_event == min_non_event {
        return Ok(SlopeFit::ConstantLogit);
    }
    // With an intercept and one covariate the MLE exists exactly when the classes overlap on
    // both sides: some event below some non-event and some non-event below some event.
    // Otherwise (complete or quasi-complete separation) the likelihood has no maximum.
    if !(min_event < max_non_event && min_non_event < max_event) {
        return Ok(SlopeFit::Separated);
    }
    Ok(match newton(labels, Design::InterceptAndSlope(logits)) {
        Newton::Converged {
            beta,
            cov,
            iterations,
        } => SlopeFit::Estimated {
            intercept: wald(beta[0], cov[0][0]),
            slope: wald(beta[1], cov[1][1]),
            iterations,
        },
        Newton::Failed { iterations } => SlopeFit::NotConverged { iterations },
    })
}

/// Grouped calibration points: rows sorted by probability and cut into `n_groups` groups of
/// (nearly) equal size, boundaries at ranks `floor(g * n / n_groups)`; a boundary that would split
/// rows with equal probabilities moves up past them, so equal probabilities always share a group
/// (a group can then be larger, and an emptied group is left out: every row is in exactly one
/// group). Each group's observed rate has a Wilson interval.
pub fn grouped_calibration(
    sample: &Sample,
    n_groups: usize,
) -> Result<Vec<CalibrationGroup>, MetricsError> {
    if n_groups == 0 {
        return Err(MetricsError::InvalidOption {
            name: "n_groups",
            reason: "must be at least 1",
        });
    }
    if sample.is_empty() {
        return Err(MetricsError::Empty);
    }
    let probs = sample.probs();
    let labels = sample.labels();
    let n = sample.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| canonical_zero(probs[a]).total_cmp(&canonical_zero(probs[b])));
    let mut bounds = vec![0usize];
    for g in 1..n_groups {
        let mut b = (g * n / n_groups).max(bounds[bounds.len() - 1]);
        while b > 0 && b < n && probs[order[b]] == probs[order[b - 1]] {
            b += 1;
        }
        bounds.push(b);
    }
    bounds.push(n);
    let mut groups = Vec::with_capacity(n_groups);
    for window in bounds.windows(2) {
        let rows = &order[window[0]..window[1]];
        if rows.is_empty() {
            continue;
        }
        let events = rows.iter().filter(|&&row| labels[row]).count() as u64;
        let sum: f64 = rows.iter().map(|&row| probs[row]).sum();
        let observed = wilson(events, rows.len() as u64).ok_or(MetricsError::Empty)?;
        groups.push(CalibrationGroup {
            n: rows.len(),
            mean_predicted: sum / rows.len() as f64,
            min_predicted: probs[rows[0]],
            max_predicted: probs[rows[rows.len() - 1]],
            observed,
        });
    }
    Ok(groups)
}

fn wald(estimate: f64, variance: f64) -> LogisticEstimate {
    let se = variance.sqrt();
    LogisticEstimate {
        estimate,
        se,
        ci: Interval {
            lower: estimate - Z_95 * se,
            upper: estimate + Z_95 * se,
        },
    }
}

/// The linear predictor of a calibration fit.
#[derive(Clone, Copy)]
enum Design<'a> {
    /// `eta_i = beta[0] + offset_i` (one parameter).
    InterceptWithOffset(&'a [f64]),
    /// `eta_i = beta[0] + beta[1] * x_i` (two parameters).
    InterceptAndSlope(&'a [f64]),
}

impl Design<'_> {
    fn n_params(self) -> usize {
        match self {
            Self::InterceptWithOffset(_) => 1,
            Self::InterceptAndSlope(_) => 2,
        }
    }

    fn eta(self, beta: [f64; 2], row: usize) -> f64 {
        match self {
            Self::InterceptWithOffset(offset) => beta[0] + offset[row],
            Self::InterceptAndSlope(x) => beta[0] + beta[1] * x[row],
        }
    }

    /// The design row `(1, x_i)`; the second entry is unused with one parameter.
    fn row(self, row: usize) -> [f64; 2] {
        match self {
            Self::InterceptWithOffset(_) => [1.0, 0.0],
            Self::InterceptAndSlope(x) => [1.0, x[row]],
        }
    }
}

enum Newton {
    Converged {
        beta: [f64; 2],
        /// Inverse Fisher information at `beta`.
        cov: [[f64; 2]; 2],
        iterations: usize,
    },
    Failed {
        iterations: usize,
    },
}

/// Log-likelihood, score vector and Fisher information at one parameter value.
struct Evaluation {
    log_likelihood: f64,
    score: [f64; 2],
    information: [[f64; 2]; 2],
}

/// One pass over the rows at `beta`, with one `exp` and one `ln_1p` per row: with
/// `e = exp(-|eta|)`, `ln(1 + exp(eta)) = max(eta, 0) + ln(1 + e)`, `p` is `1 / (1 + e)` or
/// `e / (1 + e)` by the sign of eta, and `p (1 - p) = e / (1 + e)^2`; none of these overflow.
fn evaluate(labels: &[bool], design: Design<'_>, beta: [f64; 2]) -> Evaluation {
    let mut out = Evaluation {
        log_likelihood: 0.0,
        score: [0.0; 2],
        information: [[0.0; 2]; 2],
    };
    for (row, &y) in labels.iter().enumerate() {
        let eta = design.eta(beta, row);
        let e = (-eta.abs()).exp();
        let softplus = eta.max(0.0) + e.ln_1p();
        let p = if eta >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        let w = e / ((1.0 + e) * (1.0 + e));
        let (ll, residual) = if y {
            (eta - softplus, 1.0 - p)
        } else {
            (-softplus, -p)
        };
        out.log_likelihood += ll;
        let x = design.row(row);
        for j in 0..2 {
            out.score[j] += residual * x[j];
            for k in 0..2 {
                out.information[j][k] += w * x[j] * x[k];
            }
        }
    }
    out
}

/// Inverse of the information matrix (1x1 or 2x2); `None` when singular.
fn invert(info: [[f64; 2]; 2], n_params: usize) -> Option<[[f64; 2]; 2]> {
    if n_params == 1 {
        let h = info[0][0];
        return (h > 0.0 && h.is_finite()).then(|| [[1.0 / h, 0.0], [0.0, 0.0]]);
    }
    let det = info[0][0] * info[1][1] - info[0][1] * info[1][0];
    (det > 0.0 && det.is_finite()).then(|| {
        [
            [info[1][1] / det, -info[0][1] / det],
            [-info[1][0] / det, info[0][0] / det],
        ]
    })
}

/// Maximises the Bernoulli log-likelihood of `labels` under `design` by Newton-Raphson.
fn newton(labels: &[bool], design: Design<'_>) -> Newton {
    let n_params = design.n_params();
    let mut beta = [0.0; 2];
    let mut current = evaluate(labels, design, beta);
    for iteration in 1..=MAX_NEWTON_ITERATIONS {
        let Some(inverse) = invert(current.information, n_params) else {
            return Newton::Failed {
                iterations: iteration,
            };
        };
        let score = current.score;
        let step = [
            inverse[0][0] * score[0] + inverse[0][1] * score[1],
            inverse[1][0] * score[0] + inverse[1][1] * score[1],
        ];
        // Accept the full step unless the log-likelihood falls by more than rounding noise; then
        // halve it. The log-likelihood is concave, so a small enough step always rises.
        let ll = current.log_likelihood;
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let candidate = [beta[0] + scale * step[0], beta[1] + scale * step[1]];
            let evaluation = evaluate(labels, design, candidate);
            if evaluation.log_likelihood.is_finite()
                && evaluation.log_likelihood >= ll - 1e-12 * (1.0 + ll.abs())
            {
                accepted = Some((candidate, evaluation));
                break;
            }
            scale *= 0.5;
        }
        let Some((next, evaluation)) = accepted else {
            return Newton::Failed {
                iterations: iteration,
            };
        };
        let converged = (0..n_params)
            .all(|j| (next[j] - beta[j]).abs() <= NEWTON_TOLERANCE * next[j].abs().max(1.0));
        beta = next;
        current = evaluation;
        if converged {
            // The information at the estimate was computed with its log-likelihood.
            return match invert(current.information, n_params) {
                Some(cov) => Newton::Converged {
                    beta,
                    cov,
                    iterations: iteration,
                },
                None => Newton::Failed {
                    iterations: iteration,
                },
            };
        }
    }
    Newton::Failed {
        iterations: MAX_NEWTON_ITERATIONS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(probs: &[f64], labels: &[bool]) -> Sample {
        let logits = probs.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        Sample::new(probs.to_vec(), logits, labels.to_vec()).unwrap()
    }

    #[test]
    fn perfectly_separating_logits_have_no_slope() {
        let s = sample(
            &[0.1, 0.2, 0.3, 0.7, 0.8],
            &[false, false, false, true, true],
        );
        assert_eq!(calibration_slope(&s), Ok(SlopeFit::Separated));
        // Quasi-complete: an event and a non-event share the boundary value.
        let s = sample(&[0.1, 0.3, 0.3, 0.8], &[false, false, true, true]);
        assert_eq!(calibration_slope(&s), Ok(SlopeFit::Separated));
        // Reversed separation is separation too.
        let s = sample(&[0.1, 0.2, 0.7, 0.8], &[true, true, false, false]);
        assert_eq!(calibration_slope(&s), Ok(SlopeFit::Separated));
        // CITL still exists: only the intercept is fitted.
        assert!(calibration_in_the_large(&s).is_ok());
    }

    #[test]
    fn constant_logits_have_no_slope() {
        let s = sample(&[0.3; 4], &[false, true, false, true]);
        assert_eq!(calibration_slope(&s), Ok(SlopeFit::ConstantLogit));
    }

    #[test]
    fn single_class_is_an_error() {
        let s = sample(&[0.1, 0.2], &[false, false]);
        assert_eq!(calibration_slope(&s), Err(MetricsError::NoEvents));
        assert_eq!(calibration_in_the_large(&s), Err(MetricsError::NoEvents));
        assert_eq!(brier(&s).unwrap().scaled, None);
        let oe = observed_expected(&s).unwrap();
        assert_eq!((oe.ratio, oe.ci), (Some(0.0), None));
    }

    #[test]
    fn citl_solves_the_score_equation() {
        let probs = [0.1, 0.2, 0.2, 0.4, 0.5, 0.6, 0.7, 0.9];
        let labels = [false, true, false, false, true, true, false, true];
        let s = sample(&probs, &labels);
        let fit = calibration_in_the_large(&s).unwrap();
        // At the MLE the fitted probabilities sum to the observed events.
        let fitted: f64 = s
            .logits()
            .iter()
            .map(|z| 1.0 / (1.0 + (-(z + fit.estimate)).exp()))
            .sum();
        assert!((fitted - 4.0).abs() < 1e-12);
    }

    #[test]
    fn slope_of_a_calibrated_transform_recovers_its_inverse() {
        // Labels fixed; logits scaled by 2 must halve the slope and keep the intercept.
        let probs = [0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.7, 0.9, 0.3, 0.65];
        let labels = [
            false, true, false, false, true, true, false, true, false, true,
        ];
        let s = sample(&probs, &labels);
        let doubled = Sample::new(
            probs.to_vec(),
            s.logits().iter().map(|z| 2.0 * z).collect(),
            labels.to_vec(),
        )
        .unwrap();
        let (
            SlopeFit::Estimated {
                slope: a,
                intercept: ia,
                ..
            },
            SlopeFit::Estimated {
                slope: b,
                intercept: ib,
                ..
            },
        ) = (
            calibration_slope(&s).unwrap(),
            calibration_slope(&doubled).unwrap(),
        )
        else {
            panic!("both fits should converge");
        };
        assert!((a.estimate - 2.0 * b.estimate).abs() < 1e-10);
        assert!((ia.estimate - ib.estimate).abs() < 1e-10);
        assert!((a.se - 2.0 * b.se).abs() < 1e-10);
    }

    #[test]
    fn groups_keep_tied_probabilities_together() {
        let probs = [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5];
        let labels = [false, true, false, false, true, false, true, true];
        let groups = grouped_calibration(&sample(&probs, &labels), 4).unwrap();
        // Boundaries 2, 4, 6 -> 2 moves past the ties to 5, 4 becomes 5 (empty group dropped).
        let sizes: Vec<usize> = groups.iter().map(|g| g.n).collect();
        assert_eq!(sizes, vec![5, 1, 2]);
        assert_eq!(groups.iter().map(|g| g.n).sum::<usize>(), 8);
        assert_eq!(groups[0].observed.numerator, 2);
        assert_eq!(
            (groups[0].min_predicted, groups[0].max_predicted),
            (0.1, 0.2)
        );
        // All ties: one group.
        assert_eq!(
            grouped_calibration(&sample(&[0.3; 6], &labels[..6]), 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn brier_of_perfect_predictions_is_zero() {
        let s = Sample::new(vec![0.0, 1.0], vec![-30.0, 30.0], vec![false, true]).unwrap();
        assert_eq!(
            brier(&s),
            Ok(BrierReport {
                brier: 0.0,
                scaled: Some(1.0)
            })
        );
        assert_eq!(brier(&Sample::default()), Err(MetricsError::Empty));
    }
}

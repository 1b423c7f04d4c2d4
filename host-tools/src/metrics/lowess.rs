//! The smoothed calibration curve: lowess of the outcome on the predicted probability, and the
//! integrated calibration index (ICI, Austin and Steyerberg 2019) with E50, E90 and Emax.
//!
//! The smoother follows Cleveland's (1979) lowess as statsmodels implements it
//! (`statsmodels.nonparametric.smoothers_lowess.lowess(y, x, frac, it=0, delta)`): for each
//! fitted point, the `k = floor(frac * n + 1e-10)` (at least 2) nearest points by x form a
//! contiguous window of the sorted data, slid right while the point is nearer the window's right
//! end; tricube weights `(1 - (d / radius)^3)^3` with `radius` the larger distance to the
//! window's ends; a weighted local linear fit (when fewer than two weights exceed 1e-12 the point
//! keeps its own y, as statsmodels does). Points within `delta` of the last fitted point are not
//! fitted but linearly interpolated, and points tied with it copy its value.
//!
//! Choices:
//! - No robustness iterations (`it = 0`): bisquare reweighting of 0/1 residuals would
//!   down-weight exactly the events the curve must see.
//! - Tied x: a window boundary can fall inside a run of tied x, so which of the tied rows are in
//!   the window matters, and statsmodels takes whatever order its unstable sort leaves. Here the
//!   events of a run are spread evenly through it (slot `r` of a run of `g` rows with `e` events
//!   holds an event when `floor((r + 1) e / g) > floor(r e / g)`), so any part of the run a
//!   window takes has about the run's event rate: the result depends only on the (x, y) pairs,
//!   not on row order, and a boundary never systematically favours events or non-events. Tied x
//!   always get the same fitted value. The fixtures give statsmodels the same order.
//! - One deliberate difference: when every point in a window has the fitted point's x (radius
//!   0), statsmodels divides 0 by 0 and returns the fitted row's own 0/1 label; here every point
//!   in the window gets weight 1, giving the window's mean.
//! - Defaults `frac = 2/3` and `delta = 0.01 * range(p)`, the defaults of R's `lowess` (and
//!   statsmodels' `frac`). With `delta` there are about 100 local fits plus one per gap in p
//!   wider than `delta`, so 15,000 rows smooth in about 5 ms and the bootstrap uses the same
//!   smoother for ICI.
//!
//! Never: robustness iterations, extrapolation, or NaN outputs.

use serde::Serialize;

use super::{canonical_zero, check_len, quantile_sorted, MetricsError, Sample};

/// Inputs of the smoother.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LowessOptions {
    /// Fraction of the rows in each local fit, in (0, 1].
    pub frac: f64,
    /// Interpolation distance as a fraction of the range of x, in [0, 1]; 0 fits at every
    /// distinct x.
    pub delta_fraction: f64,
}

impl Default for LowessOptions {
    fn default() -> Self {
        Self {
            frac: 2.0 / 3.0,
            delta_fraction: 0.01,
        }
    }
}

/// A point on the smoothed curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Predicted probability.
    pub predicted: f64,
    /// Smoothed observed rate at that probability.
    pub smoothed: f64,
}

/// The smoother's output.
#[derive(Debug, Clone, PartialEq)]
pub struct LowessFit {
    /// Smoothed value at each input row, in input order.
    pub fitted: Vec<f64>,
    /// The points where a local regression ran, by ascending x. The whole curve is the
    /// piecewise-linear path through them (points in between are interpolated, ties copied),
    /// so this is what a plot needs.
    pub anchors: Vec<CurvePoint>,
    /// The absolute `delta` used.
    pub delta: f64,
}

/// Smoothed calibration summary of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmoothedCalibration {
    /// Smoother settings.
    pub options: LowessOptions,
    /// The absolute interpolation distance used.
    pub delta: f64,
    /// Integrated calibration index: mean over rows of `|smoothed(p_i) - p_i|`.
    pub ici: f64,
    /// Median of `|smoothed(p_i) - p_i|`.
    pub e50: f64,
    /// 90th percentile (linear interpolation between order statistics, numpy's default).
    pub e90: f64,
    /// Maximum.
    pub emax: f64,
    /// The curve, as [`LowessFit::anchors`].
    pub curve: Vec<CurvePoint>,
}

/// Lowess of the 0/1 outcome `y` on `x` (see the module docs).
pub fn lowess(x: &[f64], y: &[bool], options: &LowessOptions) -> Result<LowessFit, MetricsError> {
    check_len("y", x.len(), y.len())?;
    check_options(options)?;
    if let Some(row) = x.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFiniteScore { row });
    }
    let n = x.len();
    if n == 0 {
        return Err(MetricsError::Empty);
    }
    let order = interleaved_order(x, y);
    let xs: Vec<f64> = order.iter().map(|&row| x[row]).collect();
    let ys: Vec<f64> = order
        .iter()
        .map(|&row| if y[row] { 1.0 } else { 0.0 })
        .collect();
    let delta = options.delta_fraction * (xs[n - 1] - xs[0]);
    let (sorted_fit, anchor_indices) = lowess_sorted(&xs, &ys, options.frac, delta);
    let mut fitted = vec![0.0; n];
    for (position, &row) in order.iter().enumerate() {
        fitted[row] = sorted_fit[position];
    }
    let anchors = anchor_indices
        .iter()
        .map(|&i| CurvePoint {
            predicted: xs[i],
            smoothed: sorted_fit[i],
        })
        .collect();
    Ok(LowessFit {
        fitted,
        anchors,
        delta,
    })
}

/// Rows sorted by x, each run of tied x with its events spread evenly through it (see the module
/// docs); within a class, tied rows keep row order.
fn interleaved_order(x: &[f64], y: &[bool]) -> Vec<usize> {
    // Sorting (key, row) pairs, all distinct, gives the stable order by x without a comparison
    // closure; the key orders f64 like `total_cmp` (sign bit flipped for non-negative values,
    // every bit for negative ones).
    let mut keyed: Vec<(u64, usize)> = x
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            let bits = canonical_zero(v).to_bits();
            (
                if bits >> 63 == 1 {
                    !bits
                } else {
                    bits | 1 << 63
                },
                row,
            )
        })
        .collect();
    keyed.sort_unstable();
    let mut order: Vec<usize> = keyed.into_iter().map(|(_, row)| row).collect();
    let mut start = 0;
    let (mut events, mut non_events) = (Vec::new(), Vec::new());
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        events.clear();
        non_events.clear();
        for &row in &order[start..end] {
            if y[row] {
                events.push(row);
            } else {
                non_events.push(row);
            }
        }
        let (g, e) = (end - start, events.len());
        let (mut next_event, mut next_non_event) = (0, 0);
        for r in 0..g {
            order[start + r] = if (r + 1) * e / g > r * e / g {
                next_event += 1;
                events[next_event - 1]
            } else {
                next_non_event += 1;
                non_events[next_non_event - 1]
            };
        }
        start = end;
    }
    order
}

/// The smoothed calibration curve of a sample with ICI, E50, E90 and Emax.
pub fn smoothed_calibration(
    sample: &Sample,
    options: &LowessOptions,
) -> Result<SmoothedCalibration, MetricsError> {
    let fit = lowess(sample.probs(), sample.labels(), options)?;
    let mut errors = absolute_errors(&fit, sample);
    let ici = errors.iter().sum::<f64>() / errors.len() as f64;
    errors.sort_by(f64::total_cmp);
    Ok(SmoothedCalibration {
        options: *options,
        delta: fit.delta,
        ici,
        e50: quantile_sorted(&errors, 0.5).unwrap_or(0.0),
        e90: quantile_sorted(&errors, 0.9).unwrap_or(0.0),
        emax: errors[errors.len() - 1],
        curve: fit.anchors,
    })
}

/// ICI alone, `None` for an empty sample (the bootstrap's statistic).
pub fn ici(sample: &Sample, options: &LowessOptions) -> Option<f64> {
    // Only the mean: the quantiles and the curve of `smoothed_calibration` would be thrown
    // away on every resample.
    let fit = lowess(sample.probs(), sample.labels(), options).ok()?;
    let errors = absolute_errors(&fit, sample);
    Some(errors.iter().sum::<f64>() / errors.len() as f64)
}

/// `|smoothed - predicted|` per row, in row order.
fn absolute_errors(fit: &LowessFit, sample: &Sample) -> Vec<f64> {
    fit.fitted
        .iter()
        .zip(sample.probs())
        .map(|(s, p)| (s - p).abs())
        .collect()
}

fn check_options(options: &LowessOptions) -> Result<(), MetricsError> {
    if !(options.frac > 0.0 && options.frac <= 1.0) {
        return Err(MetricsError::InvalidOption {
            name: "frac",
            reason: "must be in (0, 1]",
        });
    }
    if !(0.0..=1.0).contains(&options.delta_fraction) {
        return Err(MetricsError::InvalidOption {
            name: "delta_fraction",
            reason: "must be in [0, 1]",
        });
    }
    Ok(())
}

/// Lowess on data sorted by x; returns the fitted values (sorted order) and the indices where a
/// local regression ran.
fn lowess_sorted(xs: &[f64], ys: &[f64], frac: f64, delta: f64) -> (Vec<f64>, Vec<usize>) {
    let n = xs.len();
    // statsmodels: k = int(frac * n + 1e-10), then at least 2 and at most n.
    let k = ((frac * n as f64 + 1e-10) as usize).max(2).min(n);
    let mut fitted = vec![0.0; n];
    let mut anchors = Vec::new();
    let mut weights = vec![0.0; k];
    let (mut left, mut right) = (0usize, k);
    let mut i = 0usize;
    // `last_fit` is statsmodels' last_fit_i; None before the first fit.
    let mut last_fit: Option<usize> = None;
    loop {
        let xval = xs[i];
        // Slide the window [left, right) right while xval is nearer its right neighbour.
        while right < n && xval > (xs[left] + xs[right]) / 2.0 {
            left += 1;
            right += 1;
        }
        let radius = (xval - xs[left]).max(xs[right - 1] - xval);
        fitted[i] = local_fit(
            &xs[left..right],
            &ys[left..right],
            xval,
            radius,
            ys[i],
            &mut weights,
        );
        anchors.push(i);
        if let Some(last) = last_fit {
            if last + 1 < i {
                let denom = xs[i] - xs[last];
                for j in last + 1..i {
                    let a = (xs[j] - xs[last]) / denom;
                    fitted[j] = a * fitted[i] + (1.0 - a) * fitted[last];
                }
            }
        }
        // Choose the next point to fit: copy ties of the current point, skip points within
        // delta, then fit the last point within delta (or the first beyond it).
        let mut last = i;
        let cutpoint = xs[i] + delta;
        let mut k_index = i;
        for j in i + 1..n {
            k_index = j;
            if xs[j] > cutpoint {
                break;
            }
            if xs[j] == xs[last] {
                fitted[j] = fitted[last];
                last = j;
            }
        }
        last_fit = Some(last);
        if last + 1 >= n {
            break;
        }
        i = k_index.saturating_sub(1).max(last + 1);
    }
    (fitted, anchors)
}

/// The weighted local linear fit at `xval` over one window (`weights` is scratch of the
/// window's length).
///
/// Algebraically statsmodels' computation, arranged into two passes: with unnormalised weights
/// `w`, `W = sum w`, `m = sum w x / W` and `V = sum w (x - m)^2`, the fit
/// `sum (w / W) (1 + (xval - m)(x - m) / max(V / W, 1e-12)) y` is
/// `(A + (xval - m) (B - m A) / max(V / W, 1e-12)) / W` with `A = sum w y`, `B = sum w x y`. The
/// rounding differs from statsmodels' only in the last bits (agreement is about 1e-14).
fn local_fit(x: &[f64], y: &[f64], xval: f64, radius: f64, own_y: f64, weights: &mut [f64]) -> f64 {
    let weights = &mut weights[..x.len()];
    let (mut sum_w, mut sum_wx, mut sum_wy, mut sum_wxy) = (0.0, 0.0, 0.0, 0.0);
    let mut n_positive = 0usize;
    for ((w, &xj), &yj) in weights.iter_mut().zip(x).zip(y) {
        *w = if radius > 0.0 {
            let d = (xj - xval).abs() / radius;
            let t = 1.0 - d * d * d;
            t * t * t
        } else {
            // Every point sits on xval (see the module docs).
            1.0
        };
        n_positive += usize::from(*w > 1e-12);
        sum_w += *w;
        sum_wx += *w * xj;
        sum_wy += *w * yj;
        sum_wxy += *w * xj * yj;
    }
    if n_positive < 2 {
        return own_y;
    }
    let mean_x = sum_wx / sum_w;
    let spread: f64 = weights
        .iter()
        .zip(x)
        .map(|(w, xj)| w * (xj - mean_x) * (xj - mean_x))
        .sum();
    let spread = (spread / sum_w).max(1e-12);
    (sum_wy + (xval - mean_x) * (sum_wxy - mean_x * sum_wy) / spread) / sum_w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_a_straight_line() {
        let x: Vec<f64> = (0..50).map(|i| f64::from(i) / 49.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 0.2 + 0.5 * v).collect();
        for delta in [0.0, 0.05] {
            let (fitted, _) = lowess_sorted(&x, &y, 0.3, delta);
            for (f, t) in fitted.iter().zip(&y) {
                assert!((f - t).abs() < 1e-12, "{f} vs {t}");
            }
        }
    }

    #[test]
    fn all_ties_give_the_mean_outcome() {
        let x = [0.3; 6];
        let y = [false, true, false, false, true, false];
        let fit = lowess(
            &x,
            &y,
            &LowessOptions {
                frac: 1.0,
                delta_fraction: 0.01,
            },
        )
        .unwrap();
        assert!(fit.fitted.iter().all(|&f| (f - 1.0 / 3.0).abs() < 1e-15));
        assert_eq!(fit.anchors.len(), 1);
        // A window smaller than the tie group still sees the group's event rate.
        let fit = lowess(
            &x,
            &y,
            &LowessOptions {
                frac: 0.5,
                delta_fraction: 0.01,
            },
        )
        .unwrap();
        assert!(fit.fitted.iter().all(|&f| (f - 1.0 / 3.0).abs() < 1e-15));
    }

    #[test]
    fn spreads_events_evenly_through_tie_groups() {
        let x = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1];
        let y = [true, true, false, false, false, false, true];
        let order = interleaved_order(&x, &y);
        let labels: Vec<bool> = order.iter().map(|&row| y[row]).collect();
        assert_eq!(labels, [true, false, false, true, false, false, true]);
        assert_eq!(order, [6, 2, 3, 0, 4, 5, 1]);
    }

    #[test]
    fn result_does_not_depend_on_row_order() {
        let x = [0.1, 0.2, 0.2, 0.2, 0.3, 0.5, 0.5, 0.7, 0.9, 0.9];
        let y = [
            false, true, false, false, true, false, true, true, false, true,
        ];
        let options = LowessOptions {
            frac: 0.4,
            delta_fraction: 0.0,
        };
        let a = lowess(&x, &y, &options).unwrap();
        let rev_x: Vec<f64> = x.iter().rev().copied().collect();
        let rev_y: Vec<bool> = y.iter().rev().copied().collect();
        let b = lowess(&rev_x, &rev_y, &options).unwrap();
        let b_fitted: Vec<f64> = b.fitted.iter().rev().copied().collect();
        assert_eq!(a.fitted, b_fitted);
        // Tied x share one fitted value.
        assert_eq!(a.fitted[1], a.fitted[3]);
    }

    #[test]
    fn rejects_bad_options_and_inputs() {
        let bad = LowessOptions {
            frac: 0.0,
            delta_fraction: 0.01,
        };
        assert!(matches!(
            lowess(&[0.1, 0.2], &[false, true], &bad),
            Err(MetricsError::InvalidOption { .. })
        ));
        assert!(lowess(&[0.1], &[false, true], &LowessOptions::default()).is_err());
        assert_eq!(
            lowess(&[], &[], &LowessOptions::default()),
            Err(MetricsError::Empty)
        );
        assert_eq!(
            lowess(&[0.1, f64::NAN], &[false, true], &LowessOptions::default()),
            Err(MetricsError::NonFiniteScore { row: 1 })
        );
    }

    #[test]
    fn ici_of_a_constant_prediction_is_its_distance_from_the_rate() {
        let s = Sample::new(
            vec![0.2; 10],
            vec![-1.386; 10],
            (0..10).map(|i| i < 5).collect(),
        )
        .unwrap();
        let summary = smoothed_calibration(&s, &LowessOptions::default()).unwrap();
        assert!((summary.ici - 0.3).abs() < 1e-15, "{summary:?}");
        let error = summary.emax;
        assert!((error - 0.3).abs() < 1e-15);
        assert_eq!((summary.e50, summary.e90), (error, error));
    }
}

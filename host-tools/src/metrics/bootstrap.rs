//! Stratified bootstrap percentile intervals, for one model and for the difference between two
//! models on the same rows.
//!
//! Each resample draws, with replacement, as many events from the events and as many non-events
//! from the non-events as the sample has (stratified: every resample has the original
//! prevalence and both classes, so statistics that need both are always defined). The rows of
//! a resample are its drawn events in draw order, then its drawn non-events.
//!
//! Invariant: results are bit-identical for a given seed whatever the thread count. Resample `r`
//! draws from its own SplitMix64 stream, whose state starts at
//! `SplitMix64(seed).next() XOR SplitMix64(r).next()` (distinct for distinct `r`, and scattered
//! over the generator's 2^64 cycle so streams do not overlap in practice); a uniform index below
//! `m` is `(next_u64 * m) >> 64` (multiply-shift; its bias, at most m / 2^64, is far below
//! anything a resample can show). Threads take contiguous ranges of resample indices and results
//! are stored by index. The interval is the percentile interval: the 2.5% and 97.5% quantiles of
//! the replicates with linear interpolation between order statistics (numpy's default
//! `quantile`). A resample on which the statistic is undefined (`None` or non-finite) is counted
//! in `n_undefined`, never silently dropped; the interval uses the defined replicates. Never:
//! bias-corrected (BCa) intervals, or resampling that ignores the strata.

use std::thread;

use serde::Serialize;

use super::calibration::{brier_score, calibration_slope, scaled_brier};
use super::decision::decision_curve;
use super::lowess::{ici, LowessOptions};
use super::{check_len, quantile_sorted, Interval, MetricsError, Sample};
use crate::rng::{self, SplitMix64};

/// Inputs of the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapOptions {
    /// Seed of every resample's random stream.
    pub seed: u64,
    /// Number of resamples (at least 1; 1,000 or more for reported intervals).
    pub n_resamples: usize,
    /// Worker threads (at least 1). Does not change any result, so it is not serialised: a
    /// report must not depend on the machine it was computed on.
    #[serde(skip)]
    pub n_threads: usize,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            seed: 0x5eed_1e55_0c0f_fee5,
            n_resamples: 1000,
            n_threads: crate::threads::available(),
        }
    }
}

/// A bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapInterval {
    /// The statistic on the original sample (`None` if undefined there).
    pub estimate: Option<f64>,
    /// 2.5% and 97.5% percentiles of the defined replicates; `None` with fewer than two.
    pub ci: Option<Interval>,
    /// The seed used.
    pub seed: u64,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Resamples on which the statistic was undefined.
    pub n_undefined: usize,
}

/// Bootstrap intervals of a model's Brier score, scaled Brier, ICI and net benefit, all from the
/// same resamples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapSummary {
    /// The seed used.
    pub seed: u64,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Brier score.
    pub brier: BootstrapInterval,
    /// Scaled Brier score.
    pub scaled_brier: BootstrapInterval,
    /// Integrated calibration index (same smoother settings as the point estimate).
    pub ici: BootstrapInterval,
    /// Net benefit at each requested threshold.
    pub net_benefit: Vec<ThresholdInterval>,
}

/// A bootstrap interval at one decision threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdInterval {
    /// Risk threshold.
    pub threshold: f64,
    /// The interval.
    pub interval: BootstrapInterval,
}

/// Paired bootstrap intervals of candidate minus baseline on the same resampled rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedBootstrapSummary {
    /// The seed used.
    pub seed: u64,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// `Brier(candidate) - Brier(baseline)` (negative favours the candidate).
    pub brier_difference: BootstrapInterval,
    /// `slope(candidate) - slope(baseline)`; undefined on resamples where either slope is.
    pub slope_difference: BootstrapInterval,
}

/// The statistic on each of `options.n_resamples` stratified resamples, by resample index.
pub fn bootstrap_replicates<T, F>(
    sample: &Sample,
    options: &BootstrapOptions,
    statistic: F,
) -> Result<Vec<T>, MetricsError>
where
    T: Send,
    F: Fn(&Sample) -> T + Sync,
{
    check_options(options)?;
    let strata = Strata::new(sample)?;
    Ok(run_indexed(
        options.n_resamples,
        options.n_threads,
        |index, scratch: &mut Scratch| {
            strata.draw(options.seed, index, &mut scratch.rows);
            sample.gather_into(&scratch.rows, &mut scratch.first);
            statistic(&scratch.first)
        },
    ))
}

/// The statistic on each resample of two models' predictions on the same rows, both resampled
/// with the same row indices.
pub fn bootstrap_paired_replicates<T, F>(
    candidate: &Sample,
    baseline: &Sample,
    options: &BootstrapOptions,
    statistic: F,
) -> Result<Vec<T>, MetricsError>
where
    T: Send,
    F: Fn(&Sample, &Sample) -> T + Sync,
{
    check_options(options)?;
    check_same_rows(candidate, baseline)?;
    let strata = Strata::new(candidate)?;
    Ok(run_indexed(
        options.n_resamples,
        options.n_threads,
        |index, scratch: &mut Scratch| {
            strata.draw(options.seed, index, &mut scratch.rows);
            candidate.gather_into(&scratch.rows, &mut scratch.first);
            baseline.gather_into(&scratch.rows, &mut scratch.second);
            statistic(&scratch.first, &scratch.second)
        },
    ))
}

/// Stratified bootstrap percentile interval of `statistic`.
pub fn bootstrap_ci<F>(
    sample: &Sample,
    options: &BootstrapOptions,
    statistic: F,
) -> Result<BootstrapInterval, MetricsError>
where
    F: Fn(&Sample) -> Option<f64> + Sync,
{
    let replicates = bootstrap_replicates(sample, options, &statistic)?;
    Ok(percentile_interval(statistic(sample), &replicates, options))
}

/// Paired stratified bootstrap percentile interval of `statistic(candidate, baseline)`.
pub fn bootstrap_paired_ci<F>(
    candidate: &Sample,
    baseline: &Sample,
    options: &BootstrapOptions,
    statistic: F,
) -> Result<BootstrapInterval, MetricsError>
where
    F: Fn(&Sample, &Sample) -> Option<f64> + Sync,
{
    let replicates = bootstrap_paired_replicates(candidate, baseline, options, &statistic)?;
    Ok(percentile_interval(
        statistic(candidate, baseline),
        &replicates,
        options,
    ))
}

/// Brier, scaled Brier, ICI (smoothed with `lowess`) and net benefit at `thresholds`, each with a
/// percentile interval from one set of resamples.
pub fn bootstrap_summary(
    sample: &Sample,
    options: &BootstrapOptions,
    lowess: &LowessOptions,
    thresholds: &[f64],
) -> Result<BootstrapSummary, MetricsError> {
    // Validates the thresholds (and the sample) once, so resamples cannot fail on them.
    decision_curve(sample, thresholds)?;
    let statistics = |s: &Sample| -> Vec<Option<f64>> {
        let mut values = vec![brier_score(s), scaled_brier(s), ici(s, lowess)];
        match decision_curve(s, thresholds) {
            Ok(curve) => values.extend(curve.iter().map(|p| Some(p.net_benefit))),
            Err(_) => values.extend(thresholds.iter().map(|_| None)),
        }
        values
    };
    let replicates = bootstrap_replicates(sample, options, statistics)?;
    let estimates = statistics(sample);
    let column = |k: usize| {
        let values: Vec<Option<f64>> = replicates.iter().map(|r| r[k]).collect();
        percentile_interval(estimates[k], &values, options)
    };
    Ok(BootstrapSummary {
        seed: options.seed,
        n_resamples: options.n_resamples,
        brier: column(0),
        scaled_brier: column(1),
        ici: column(2),
        net_benefit: thresholds
            .iter()
            .enumerate()
            .map(|(k, &threshold)| ThresholdInterval {
                threshold,
                interval: column(3 + k),
            })
            .collect(),
    })
}

/// Candidate minus baseline Brier score and calibration slope on the same resampled rows.
pub fn bootstrap_paired_summary(
    candidate: &Sample,
    baseline: &Sample,
    options: &BootstrapOptions,
) -> Result<PairedBootstrapSummary, MetricsError> {
    let statistics = |a: &Sample, b: &Sample| -> [Option<f64>; 2] {
        let slope = |s: &Sample| calibration_slope(s).ok().and_then(|fit| fit.slope());
        [
            brier_score(a).zip(brier_score(b)).map(|(x, y)| x - y),
            slope(a).zip(slope(b)).map(|(x, y)| x - y),
        ]
    };
    let replicates = bootstrap_paired_replicates(candidate, baseline, options, statistics)?;
    let estimates = statistics(candidate, baseline);
    let column = |k: usize| {
        let values: Vec<Option<f64>> = replicates.iter().map(|r| r[k]).collect();
        percentile_interval(estimates[k], &values, options)
    };
    Ok(PairedBootstrapSummary {
        seed: options.seed,
        n_resamples: options.n_resamples,
        brier_difference: column(0),
        slope_difference: column(1),
    })
}

/// The percentile interval of the defined replicates.
pub fn percentile_interval(
    estimate: Option<f64>,
    replicates: &[Option<f64>],
    options: &BootstrapOptions,
) -> BootstrapInterval {
    let mut defined: Vec<f64> = replicates
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    defined.sort_by(f64::total_cmp);
    let ci = match (
        quantile_sorted(&defined, 0.025),
        quantile_sorted(&defined, 0.975),
    ) {
        (Some(lower), Some(upper)) if defined.len() >= 2 => Some(Interval { lower, upper }),
        _ => None,
    };
    BootstrapInterval {
        estimate: estimate.filter(|v| v.is_finite()),
        ci,
        seed: options.seed,
        n_resamples: replicates.len(),
        n_undefined: replicates.len() - defined.len(),
    }
}

fn check_options(options: &BootstrapOptions) -> Result<(), MetricsError> {
    if options.n_resamples == 0 {
        return Err(MetricsError::InvalidOption {
            name: "n_resamples",
            reason: "must be at least 1",
        });
    }
    if options.n_threads == 0 {
        return Err(MetricsError::InvalidOption {
            name: "n_threads",
            reason: "must be at least 1",
        });
    }
    Ok(())
}

fn check_same_rows(candidate: &Sample, baseline: &Sample) -> Result<(), MetricsError> {
    check_len("baseline sample", candidate.len(), baseline.len())?;
    match candidate
        .labels()
        .iter()
        .zip(baseline.labels())
        .position(|(a, b)| a != b)
    {
        Some(row) => Err(MetricsError::LabelsDiffer { row }),
        None => Ok(()),
    }
}

/// The row indices of each class, the pools resamples draw from.
struct Strata {
    events: Vec<usize>,
    non_events: Vec<usize>,
}

impl Strata {
    fn new(sample: &Sample) -> Result<Self, MetricsError> {
        sample.require_both_classes()?;
        let labels = sample.labels();
        Ok(Self {
            events: (0..labels.len()).filter(|&row| labels[row]).collect(),
            non_events: (0..labels.len()).filter(|&row| !labels[row]).collect(),
        })
    }

    /// Resample `index`'s rows: events drawn from the events, then non-events from the
    /// non-events.
    fn draw(&self, seed: u64, index: usize, rows: &mut Vec<usize>) {
        let mut rng = SplitMix64(rng::mix(seed) ^ rng::mix(index as u64));
        rows.clear();
        for pool in [&self.events, &self.non_events] {
            for _ in 0..pool.len() {
                rows.push(pool[rng.below(pool.len())]);
            }
        }
    }
}

/// Per-thread buffers reused across resamples.
#[derive(Default)]
struct Scratch {
    rows: Vec<usize>,
    first: Sample,
    second: Sample,
}

/// `work(index, scratch)` for every index in `0..n`, on up to `n_threads` threads, each taking a
/// contiguous range; results in index order.
fn run_indexed<T, F>(n: usize, n_threads: usize, work: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, &mut Scratch) -> T + Sync,
{
    let n_threads = n_threads.clamp(1, n.max(1));
    if n_threads == 1 {
        let mut scratch = Scratch::default();
        return (0..n).map(|index| work(index, &mut scratch)).collect();
    }
    let work = &work;
    thread::scope(|scope| {
        let handles: Vec<_> = (0..n_threads)
            .map(|t| {
                let (start, end) = (t * n / n_threads, (t + 1) * n / n_threads);
                scope.spawn(move || {
                    let mut scratch = Scratch::default();
                    (start..end)
                        .map(|index| work(index, &mut scratch))
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        let mut results = Vec::with_capacity(n);
        for handle in handles {
            // A panicking statistic is a bug in the caller's closure: pass the panic on.
            results.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Sample {
        let mut rng = SplitMix64(7);
        let probs: Vec<f64> = (0..n)
            .map(|_| f64::from(rng.unit_f32()) * 0.9 + 0.05)
            .collect();
        let labels: Vec<bool> = probs
            .iter()
            .map(|&p| f64::from(rng.unit_f32()) < p)
            .collect();
        let logits = probs.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        Sample::new(probs, logits, labels).unwrap()
    }

    fn options(n_threads: usize) -> BootstrapOptions {
        BootstrapOptions {
            seed: 42,
            n_resamples: 64,
            n_threads,
        }
    }

    #[test]
    fn replicates_are_identical_across_thread_counts_and_runs() {
        let s = sample(300);
        let stat = |r: &Sample| (brier_score(r), ici(r, &LowessOptions::default()));
        let one = bootstrap_replicates(&s, &options(1), stat).unwrap();
        for threads in [1, 2, 3, 7, 64, 100] {
            let other = bootstrap_replicates(&s, &options(threads), stat).unwrap();
            assert_eq!(one.len(), other.len());
            for (a, b) in one.iter().zip(&other) {
                assert_eq!(a.0.map(f64::to_bits), b.0.map(f64::to_bits));
                assert_eq!(a.1.map(f64::to_bits), b.1.map(f64::to_bits));
            }
        }
        let summary = |threads| {
            bootstrap_summary(
                &s,
                &options(threads),
                &LowessOptions::default(),
                &[0.1, 0.3],
            )
            .unwrap()
        };
        assert_eq!(summary(1), summary(2));
    }

    #[test]
    fn resamples_keep_the_class_counts_and_differ_by_seed() {
        let s = sample(200);
        let counts = bootstrap_replicates(&s, &options(2), |r| (r.len(), r.n_events())).unwrap();
        assert!(counts.iter().all(|&c| c == (s.len(), s.n_events())));
        let a = bootstrap_replicates(&s, &options(1), brier_score).unwrap();
        let b = bootstrap_replicates(
            &s,
            &BootstrapOptions {
                seed: 43,
                ..options(1)
            },
            brier_score,
        )
        .unwrap();
        assert_ne!(a, b);
        // Different resamples differ from each other.
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn interval_brackets_the_estimate_and_counts_undefined() {
        let s = sample(400);
        let ci = bootstrap_ci(&s, &options(2), brier_score).unwrap();
        let (estimate, interval) = (ci.estimate.unwrap(), ci.ci.unwrap());
        assert!(interval.lower < estimate && estimate < interval.upper);
        assert_eq!((ci.n_resamples, ci.n_undefined, ci.seed), (64, 0, 42));
        let never = bootstrap_ci(&s, &options(2), |_| None).unwrap();
        assert_eq!((never.ci, never.n_undefined), (None, 64));
    }

    #[test]
    fn paired_difference_of_a_model_with_itself_is_zero() {
        let s = sample(300);
        let summary = bootstrap_paired_summary(&s, &s, &options(2)).unwrap();
        assert_eq!(
            summary.brier_difference.ci,
            Some(Interval {
                lower: 0.0,
                upper: 0.0
            })
        );
        assert_eq!(summary.slope_difference.estimate, Some(0.0));
    }

    #[test]
    fn rejects_bad_inputs() {
        let s = sample(50);
        let mut flipped = s.labels().to_vec();
        flipped[3] = !flipped[3];
        let other = Sample::new(s.probs().to_vec(), s.logits().to_vec(), flipped).unwrap();
        assert_eq!(
            bootstrap_paired_ci(&s, &other, &options(1), |_, _| Some(0.0)),
            Err(MetricsError::LabelsDiffer { row: 3 })
        );
        let zero = BootstrapOptions {
            n_resamples: 0,
            ..options(1)
        };
        assert!(bootstrap_ci(&s, &zero, brier_score).is_err());
        let single = Sample::new(vec![0.1, 0.2], vec![0.0; 2], vec![false, false]).unwrap();
        assert_eq!(
            bootstrap_ci(&single, &options(1), brier_score),
            Err(MetricsError::NoEvents)
        );
    }
}

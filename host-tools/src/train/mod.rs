//! Training: a deterministic histogram gradient-boosted-tree trainer whose compiled model
//! reproduces the trainer's own predictions bit for bit.
//!
//! The pipeline, one file per step: [`binning`] turns f32 columns into u8 bin codes and f32
//! thresholds, [`histogram`] sums quantised gradients per bin, [`grow`] grows one tree from
//! histograms, and [`gbdt`] runs the boosting rounds and compiles the result into an engine
//! [`ModelSpec`](lockstep_engine::builder::ModelSpec).
//!
//! Invariants kept throughout: identical data, options and seed give identical model bytes
//! (histogram sums are integers, exact however the work is split; randomness is counter-based;
//! ties break by feature then bin; floating-point per-row work is cut into fixed blocks of rows
//! and merged in a fixed order); and every running margin is computed with the engine's own f32 arithmetic, so the
//! trainer's predictions are the compiled model's outputs. Gradients use the trainer's own f64
//! sigmoid ([`gbdt`]), made of IEEE basic operations only, so they too are the same on every
//! machine.
//! Never: training types in engine signatures, floating-point reductions whose order depends on
//! threads.

pub mod binning;
pub mod config;
pub mod forest;
pub mod gbdt;
pub mod grow;
pub mod histogram;
pub mod linear;
pub mod linear_spec;
pub mod pipeline;
pub mod record;

pub use gbdt::{train, GbdtObjective, GbdtOptions, RoundReport, TrainError, TrainedGbdt};

/// The threads a `threads` option means: 0 is one per available core.
pub(crate) fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A rayon pool of `threads` workers (0: one per core) for one training run.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, TrainError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(resolve_threads(threads))
        .thread_name(|i| format!("lockstep-train-{i}"))
        .build()
        .map_err(|e| TrainError::Threads(e.to_string()))
}

/// A training or validation set, column-major.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// One name per feature.
    pub feature_names: &'a [String],
    /// One column per feature, each with one value per row; NaN is a missing value.
    pub columns: &'a [Vec<f32>],
    /// One label per row: 0 or 1 for binary classification, the class index for multiclass,
    /// the target value for regression.
    pub labels: &'a [f32],
}

impl TrainData<'_> {
    /// Number of rows (the label count).
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Number of features (the column count).
    pub fn n_features(&self) -> usize {
        self.columns.len()
    }
}

/// Area under the ROC curve of `scores` for binary `labels` (a label of at least 0.5 is a
/// positive), with tied scores counted half (the Mann-Whitney statistic). Returns NaN when
/// either class is absent. Scores must not be NaN; `-0.0` and `0.0` tie.
pub fn auc<S: Copy + Into<f64>>(scores: &[S], labels: &[f32]) -> f64 {
    let n = scores.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].into().total_cmp(&scores[b].into()));
    let mut n_pos = 0u64;
    // Twice the rank sum of the positives (ranks 1-based, tied groups share their mean rank),
    // kept as an integer so the result does not depend on summation order.
    let mut twice_rank_sum = 0u128;
    let mut start = 0;
    while start < n {
        let value = scores[order[start]].into();
        let mut end = start + 1;
        while end < n && scores[order[end]].into() == value {
            end += 1;
        }
        let positives = order[start..end]
            .iter()
            .filter(|&&row| labels[row] >= 0.5)
            .count() as u64;
        // The mean rank of positions start+1..=end is (start + 1 + end) / 2.
        twice_rank_sum += u128::from(positives) * (start + 1 + end) as u128;
        n_pos += positives;
        start = end;
    }
    let n_neg = n as u64 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let twice_min = u128::from(n_pos) * u128::from(n_pos + 1);
    (twice_rank_sum - twice_min) as f64 / (2.0 * n_pos as f64 * n_neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_one_for_perfect_ranking_and_half_for_ties() {
        assert_eq!(auc(&[0.1f32, 0.2, 0.8, 0.9], &[0.0, 0.0, 1.0, 1.0]), 1.0);
        assert_eq!(auc(&[0.9f32, 0.8, 0.2, 0.1], &[0.0, 0.0, 1.0, 1.0]), 0.0);
        assert_eq!(auc(&[0.5f32; 4], &[0.0, 1.0, 0.0, 1.0]), 0.5);
        // One of four pairs inverted, one tied: (2 + 0.5) / 4.
        let scores = [0.1f64, 0.5, 0.5, 0.3];
        assert_eq!(auc(&scores, &[0.0, 1.0, 0.0, 1.0]), 0.625);
    }

    #[test]
    fn auc_is_nan_without_both_classes() {
        assert!(auc(&[0.1f32, 0.2], &[1.0, 1.0]).is_nan());
        assert!(auc::<f32>(&[], &[]).is_nan());
    }
}

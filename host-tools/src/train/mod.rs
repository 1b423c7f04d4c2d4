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
//! trainer's predictions are the compiled model's outputs. Gradients use the portable f64
//! sigmoid of [`crate::math`], made of IEEE basic operations only, so they too are the same on
//! every machine.
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

/// A rayon pool of `threads` workers (0: one per core) for one training run.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, TrainError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(crate::threads::resolve(threads))
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

/// [`crate::metrics::auc::auc`] (Mann-Whitney, ties counted half, the exact fraction correctly
/// rounded) for training's types: f32 or f64 `scores`, and f32 `labels` of which at least 0.5
/// is a positive. Returns NaN where that AUC is undefined: a class absent, or a score that is
/// not finite (the trainers' probabilities always are). Reads the first
/// `min(scores.len(), labels.len())` rows.
pub fn auc<S: Copy + Into<f64>>(scores: &[S], labels: &[f32]) -> f64 {
    let n = scores.len().min(labels.len());
    let scores: Vec<f64> = scores[..n].iter().map(|&s| s.into()).collect();
    let labels: Vec<bool> = labels[..n].iter().map(|&y| y >= 0.5).collect();
    crate::metrics::auc::auc(&scores, &labels).unwrap_or(f64::NAN)
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
        assert!(auc(&[0.1f32, f32::NAN], &[1.0, 0.0]).is_nan());
    }
}

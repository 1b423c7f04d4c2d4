//! Boosting: rounds of gradients, one tree per output per round, early stopping, and the
//! compiled [`ModelSpec`].
//!
//! Invariant: `margins[row * n_outputs + output]` is always exactly what the compiled model
//! computes for that training row. It starts at the f32 base margin and each tree's f32 leaf is
//! added in tree order, as `Numerics::Xgboost` with `BaseOrder::First` evaluates; the leaf a row
//! reaches is found through its bin codes (by the partitioning that grew the tree, or by a walk
//! for rows left out by sampling), which decide exactly as the engine's `x < t` on the
//! thresholds the trees are compiled with. Validation probabilities come from the engine's own
//! transform (`transform_xgboost`), so the validation loss and AUC that drive early stopping
//! are what ships. Gradients and the training loss use the trainer's f64 sigmoid and softmax
//! (on [`crate::math::exp`]: IEEE basic operations only, no FMA, a fixed order, so the same
//! bits on every machine), which is several times cheaper than the engine's exact `expf` and
//! at least as accurate; the model bytes depend on it only through the gradients.
//!
//! Randomness is counter-based (SplitMix64 of seed, stream, round and row or feature), so no
//! state depends on threads or on what was drawn before. Losses are summed in fixed blocks of
//! rows, in a fixed order, with the portable `ln_1_to_2` (see `sum_of_logs`); early
//! stopping reads only the validation loss, computed from the engine's outputs, so it decides
//! the same on every machine and thread count.

use lockstep_engine::builder::{ModelSpec, TreeSpec};
use lockstep_engine::format::{self, limits, Aggregation, BaseOrder, Framework, Numerics};
use lockstep_engine::math;
use rayon::prelude::*;

use super::binning::Binning;
use super::grow::{grow, GrowData, GrowOptions};
use super::histogram::{magnitude_fold, Quantised};
use super::{auc, TrainData};
use crate::math::{exp, ln_1_to_2, sigmoid};
use crate::rng;

/// XGBoost's floor on hessians (`kEps` in its objectives), which keeps saturated rows from
/// giving zero curvature.
const MIN_HESSIAN: f64 = 1e-16;
/// Probability floor in log losses (XGBoost's `kEps` in its metrics).
const MIN_PROBABILITY: f32 = 1e-16;
/// Most levels a tree may have: a full tree of depth 15 has 65535 nodes, the format's limit.
pub const MAX_DEPTH: usize = 15;

/// What the model learns (XGBoost's `objective`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GbdtObjective {
    /// `binary:logistic`: labels 0 or 1, one output, probability by XGBoost's sigmoid.
    BinaryLogistic,
    /// `multi:softprob`: labels are class indices, one output per class, probabilities by
    /// XGBoost's softmax. Each round grows one tree per class.
    Softmax {
        /// Number of classes (2..=32).
        n_classes: usize,
    },
    /// `reg:squarederror`: real labels, one output, the margin is the prediction.
    SquaredError,
}

impl GbdtObjective {
    /// Outputs (and trees per round).
    pub fn n_outputs(&self) -> usize {
        match self {
            GbdtObjective::Softmax { n_classes } => *n_classes,
            _ => 1,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            GbdtObjective::BinaryLogistic => "binary:logistic",
            GbdtObjective::Softmax { .. } => "multi:softprob",
            GbdtObjective::SquaredError => "reg:squarederror",
        }
    }

    fn model_objective(&self) -> format::Objective {
        match self {
            GbdtObjective::BinaryLogistic => format::Objective::BinaryLogistic,
            GbdtObjective::Softmax { .. } => format::Objective::MulticlassSoftmax,
            GbdtObjective::SquaredError => format::Objective::Regression,
        }
    }
}

/// Training options, with XGBoost's names and meanings where XGBoost has them.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtOptions {
    /// Boosting rounds (`n_estimators`); softmax grows one tree per class per round.
    pub n_trees: usize,
    /// Shrinkage of every leaf (`eta`), in (0, 1].
    pub learning_rate: f64,
    /// Most splits from root to leaf, 1..=15.
    pub max_depth: usize,
    /// Least hessian sum in a child.
    pub min_child_weight: f64,
    /// L2 regularisation of leaf weights (`reg_lambda`).
    pub lambda: f64,
    /// L1 regularisation of leaf weights (`reg_alpha`).
    pub alpha: f64,
    /// Least loss reduction for a split to be kept (`min_split_loss`), applied by pruning
    /// bottom up as XGBoost does.
    pub gamma: f64,
    /// Fraction of rows sampled for each round, in (0, 1].
    pub subsample: f64,
    /// Fraction of features sampled for each tree, in (0, 1].
    pub colsample_bytree: f64,
    /// Weight of positive rows in binary classification (gradients, hessians and the base
    /// margin); reported losses are unweighted.
    pub scale_pos_weight: f64,
    /// Empty, or one entry per feature: 1 increasing, -1 decreasing, 0 unconstrained.
    pub monotone_constraints: Vec<i8>,
    /// Most bins per feature, counting the missing bin (2..=256): XGBoost's `max_bin` + 1, with
    /// cut values chosen by XGBoost's rule ([`super::binning`]).
    pub max_bins: usize,
    /// Seed of the row and feature sampling.
    pub seed: u64,
    /// What to learn.
    pub objective: GbdtObjective,
    /// Stop when the validation loss has not improved for this many rounds, and keep the
    /// trees up to the best round. Needs a validation set.
    pub early_stopping_rounds: Option<usize>,
    /// Threads of the training pool (binning, gradients, split search, partitions, histograms
    /// and the per-row passes); 0 means one per available core. The model does not depend on
    /// it.
    pub threads: usize,
}

impl Default for GbdtOptions {
    /// What `lockstep train` uses (its `[gbdt]` settings default to these): 300 rounds, `eta`
    /// 0.05, depth 4, `lambda` 1, rows and features subsampled at 0.8, 255 value bins plus the
    /// missing bin (XGBoost's `max_bin` 255), seed 2024, early stopping after 30 rounds
    /// without improvement (set `None` to train without a validation set), one thread per
    /// core.
    fn default() -> Self {
        GbdtOptions {
            n_trees: 300,
            learning_rate: 0.05,
            max_depth: 4,
            min_child_weight: 1.0,
            lambda: 1.0,
            alpha: 0.0,
            gamma: 0.0,
            subsample: 0.8,
            colsample_bytree: 0.8,
            scale_pos_weight: 1.0,
            monotone_constraints: Vec::new(),
            max_bins: 256,
            seed: 2024,
            objective: GbdtObjective::BinaryLogistic,
            early_stopping_rounds: Some(30),
            threads: 0,
        }
    }
}

/// What one round achieved (also the training record's per-round entry).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RoundReport {
    /// Round index, from 0.
    pub round: usize,
    /// Mean training loss after this round: log loss for classification, RMSE for regression.
    pub train_loss: f64,
    /// The same on the validation set, when there is one.
    pub valid_loss: Option<f64>,
    /// Validation AUC of the probabilities, as the compiled model reports them (binary
    /// classification with a validation set).
    pub valid_auc: Option<f64>,
}

/// A trained model and how training went.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedGbdt {
    /// The model (`Numerics::Xgboost`, `BaseOrder::First`, `Aggregation::Sum`), ready for
    /// `to_bytes`.
    pub spec: ModelSpec,
    /// One report per round trained (including rounds after the best one).
    pub rounds: Vec<RoundReport>,
    /// The last round the model keeps: its trees are those of rounds `0..=best_round`. The
    /// round with the lowest validation loss under early stopping, else the last round.
    pub best_round: usize,
    /// The model's margins on the training rows, row-major (`n_outputs` per row), exactly as
    /// the compiled model computes them.
    pub train_predictions: Vec<f32>,
}

impl TrainedGbdt {
    /// The model's outputs (probabilities, or the regression value) on the training rows,
    /// row-major, exactly as the compiled model computes them.
    pub fn train_outputs(&self) -> Vec<f32> {
        let objective = self.spec.objective;
        let n_outputs = self.spec.n_outputs;
        let mut outputs = vec![0.0; self.train_predictions.len()];
        for (margins, out) in self
            .train_predictions
            .chunks_exact(n_outputs)
            .zip(outputs.chunks_exact_mut(n_outputs))
        {
            transform(objective, margins, out);
        }
        outputs
    }
}

/// Why training could not run.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The training set has no rows.
    #[error("the training data has no rows")]
    NoRows,
    /// Feature names, columns or labels disagree in count.
    #[error(
        "the {set} data has {names} feature names and {columns} columns; give one name per column"
    )]
    NamesColumnsMismatch {
        /// "training" or "validation".
        set: &'static str,
        /// Feature names given.
        names: usize,
        /// Columns given.
        columns: usize,
    },
    /// A column's length differs from the label count.
    #[error(
        "column {feature} of the {set} data has {found} values but there are {expected} labels"
    )]
    ColumnLength {
        /// "training" or "validation".
        set: &'static str,
        /// Feature index.
        feature: usize,
        /// Labels.
        expected: usize,
        /// Values in the column.
        found: usize,
    },
    /// A label is not valid for the objective.
    #[error("label {value} in row {row} of the {set} data is not valid for {objective}")]
    BadLabel {
        /// "training" or "validation".
        set: &'static str,
        /// Row index.
        row: usize,
        /// The label.
        value: f32,
        /// The objective's XGBoost name.
        objective: &'static str,
    },
    /// Binary training labels hold only one class.
    #[error("the training labels hold only one class; binary classification needs both")]
    SingleClass,
    /// The validation set's features are not the training set's.
    #[error("the validation data's features differ from the training data's (names and order must match)")]
    ValidationFeatures,
    /// An option is out of range.
    #[error("option {option} {reason}")]
    BadOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `early_stopping_rounds` was given without a validation set.
    #[error("early stopping needs a validation set")]
    EarlyStoppingWithoutValidation,
    /// The training threads could not be started.
    #[error("could not start the training threads: {0}")]
    Threads(String),
    /// A base margin or leaf came out infinite or NaN.
    #[error("a base margin or leaf value is not finite; lower learning_rate or raise lambda")]
    NotFinite,
}

/// Trains a model on `data`, reporting each round to `progress`; `valid`, if given, drives the
/// validation metrics and early stopping. Identical inputs give identical model bytes,
/// whatever `options.threads` is.
pub fn train(
    data: &TrainData,
    valid: Option<&TrainData>,
    options: &GbdtOptions,
    mut progress: impl FnMut(RoundReport),
) -> Result<TrainedGbdt, TrainError> {
    check_data(data, options.objective, "training")?;
    if data.n_rows() == 0 {
        return Err(TrainError::NoRows);
    }
    check_options(options, data.n_features())?;
    if let Some(valid) = valid {
        check_data(valid, options.objective, "validation")?;
        if valid.feature_names != data.feature_names {
            return Err(TrainError::ValidationFeatures);
        }
    }
    if options.early_stopping_rounds.is_some() && valid.is_none() {
        return Err(TrainError::EarlyStoppingWithoutValidation);
    }
    let objective = options.objective;
    let n_rows = data.n_rows();
    let n_outputs = objective.n_outputs();
    // One pool for the whole run: spawning threads per level costs more than small levels'
    // work. Nothing computed depends on how the pool schedules its tasks.
    let pool = super::thread_pool(options.threads)?;
    let (binning, binned) = pool.install(|| Binning::fit_apply(data, options.max_bins));
    let offsets = binning.slot_offsets();
    let missing_codes = binning.missing_codes();
    let top_cuts = binning.top_cuts();
    // A feature with one value bin and no missing training value can never split: it is left
    // out of histograms and split searches (after sampling, so the draws do not change).
    let splittable: Vec<bool> = pool.install(|| {
        (0..data.n_features())
            .into_par_iter()
            .map(|f| {
                !binning.features[f].thresholds.is_empty()
                    || binned.column(f).contains(&missing_codes[f])
            })
            .collect()
    });
    let grow_data = GrowData {
        columns: &binned,
        offsets: &offsets,
        missing_codes: &missing_codes,
        top_cuts: &top_cuts,
    };
    // Per training row, the leaf value of the tree just grown (for the rows it was grown on).
    let mut leaf_values = vec![0.0f32; n_rows];
    let base_margins = base_margins(data, options)?;
    let mut margins: Vec<f32> = base_margins
        .iter()
        .copied()
        .cycle()
        .take(n_rows * n_outputs)
        .collect();
    let mut valid_margins: Vec<f32> = base_margins
        .iter()
        .copied()
        .cycle()
        .take(valid.map_or(0, |v| v.n_rows()) * n_outputs)
        .collect();
    let grow_options = GrowOptions {
        max_depth: options.max_depth,
        min_child_weight: options.min_child_weight,
        lambda: options.lambda,
        alpha: options.alpha,
        gamma: options.gamma,
        learning_rate: options.learning_rate,
        monotone: &options.monotone_constraints,
    };
    let mut trees: Vec<TreeSpec> = Vec::new();
    let mut rounds: Vec<RoundReport> = Vec::new();
    // (round, loss) of the best validation loss so far, and the training margins then.
    let mut best: Option<(usize, f64)> = None;
    let mut best_margins: Vec<f32> = Vec::new();
    // Gradients and hessians, output-major: [output * n_rows + row].
    let mut grads = vec![0.0f64; n_rows * n_outputs];
    let mut hessians = vec![0.0f64; n_rows * n_outputs];
    // The trainer's probabilities (or values) of the training rows, row-major, kept in step
    // with `margins`: the gradients of a round and the training loss reported for the round
    // before come from the same values. The validation rows' outputs are the engine's.
    let mut train_outputs = vec![0.0f64; margins.len()];
    let mut valid_outputs = vec![0.0f32; valid_margins.len()];
    pool.install(|| probabilities(objective, &margins, &mut train_outputs));
    // Per training row, whether the current round samples it (only with subsampling).
    let mut sampled = vec![false; if options.subsample < 1.0 { n_rows } else { 0 }];
    for round in 0..options.n_trees {
        // Everything but the progress report runs inside the pool. No result depends on the
        // scheduling: float work is split into fixed blocks of rows, histogram sums are
        // integers, and split searches merge in feature order.
        let report = pool.install(|| {
            let magnitudes = gradients(
                objective,
                options.scale_pos_weight,
                &train_outputs,
                data.labels,
                &mut grads,
                &mut hessians,
            );
            let rows = sample_rows(options.seed, round, n_rows, options.subsample);
            if !sampled.is_empty() {
                sampled.fill(false);
                for &row in &rows {
                    sampled[row as usize] = true;
                }
            }
            let mut train_loss = 0.0;
            for (output, &(max_grad, max_hess)) in magnitudes.iter().enumerate() {
                let span = output * n_rows..(output + 1) * n_rows;
                let quantised = Quantised::with_magnitudes(
                    &grads[span.clone()],
                    &hessians[span],
                    max_grad,
                    max_hess,
                );
                let mut features = sample_features(
                    options.seed,
                    round * n_outputs + output,
                    data.n_features(),
                    options.colsample_bytree,
                );
                features.retain(|&feature| splittable[feature]);
                let tree = grow(
                    grow_data,
                    rows.clone(),
                    &features,
                    &quantised,
                    &grow_options,
                    &mut leaf_values,
                );
                // Rows the tree was grown on have their leaf from the growing; rows left out
                // by sampling walk the tree. Either way each row adds the same f32 leaf once.
                let leaf_of = |row: usize| {
                    if sampled.is_empty() || sampled[row] {
                        leaf_values[row]
                    } else {
                        tree.leaf_value(&binned, &missing_codes, row)
                    }
                };
                if output + 1 < n_outputs {
                    add_leaves(&mut margins, n_outputs, output, leaf_of);
                } else {
                    // The round's last tree: its leaves, the trainer's outputs and the
                    // training loss in one pass.
                    train_loss = add_last_leaves(
                        objective,
                        &mut margins,
                        leaf_of,
                        &mut train_outputs,
                        data.labels,
                    );
                }
                if let Some(valid) = valid {
                    // Compared with the thresholds, as the engine does: a validation value may
                    // lie beyond the training range, where bin codes cannot tell the sides.
                    add_leaves(&mut valid_margins, n_outputs, output, |row| {
                        tree.leaf_value_of(&binning, valid.columns, row)
                    });
                }
                trees.push(tree.to_spec(&binning, output));
            }
            outputs(objective, &valid_margins, &mut valid_outputs);
            RoundReport {
                round,
                train_loss,
                valid_loss: valid.map(|v| loss(objective, &valid_outputs, v.labels)),
                valid_auc: match (valid, objective) {
                    (Some(v), GbdtObjective::BinaryLogistic) => Some(auc(&valid_outputs, v.labels)),
                    _ => None,
                },
            }
        });
        rounds.push(report);
        progress(report);
        if let Some(valid_loss) = report.valid_loss {
            // A NaN loss never counts as an improvement.
            if best.is_none_or(|(_, best_loss)| valid_loss < best_loss) {
                best = Some((round, valid_loss));
                if options.early_stopping_rounds.is_some() {
                    best_margins.clone_from(&margins);
                }
            }
        }
        if let (Some(patience), Some((best_round, _))) = (options.early_stopping_rounds, best) {
            if round - best_round >= patience {
                break;
            }
        }
    }
    let (best_round, train_predictions) = match (options.early_stopping_rounds, best) {
        (Some(_), Some((best_round, _))) => {
            trees.truncate((best_round + 1) * n_outputs);
            (best_round, best_margins)
        }
        _ => (rounds.len().saturating_sub(1), margins),
    };
    let spec = ModelSpec {
        n_outputs,
        objective: objective.model_objective(),
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: base_margins.iter().map(|&m| f64::from(m)).collect(),
        feature_names: data.feature_names.to_vec(),
        feature_ranges: None,
        trees,
        source_framework: Framework::Lockstep,
        source_version: format!("lockstep-host {}", env!("CARGO_PKG_VERSION")),
        label: String::new(),
        sections: Vec::new(),
    };
    let leaves_finite = spec
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .all(|node| match node {
            lockstep_engine::builder::NodeSpec::Leaf { value } => value.is_finite(),
            _ => true,
        });
    if !leaves_finite {
        return Err(TrainError::NotFinite);
    }
    Ok(TrainedGbdt {
        spec,
        rounds,
        best_round,
        train_predictions,
    })
}

fn check_data(
    data: &TrainData,
    objective: GbdtObjective,
    set: &'static str,
) -> Result<(), TrainError> {
    if data.feature_names.len() != data.columns.len() {
        return Err(TrainError::NamesColumnsMismatch {
            set,
            names: data.feature_names.len(),
            columns: data.columns.len(),
        });
    }
    for (feature, column) in data.columns.iter().enumerate() {
        if column.len() != data.labels.len() {
            return Err(TrainError::ColumnLength {
                set,
                feature,
                expected: data.labels.len(),
                found: column.len(),
            });
        }
    }
    for (row, &value) in data.labels.iter().enumerate() {
        let valid = match objective {
            GbdtObjective::BinaryLogistic => value == 0.0 || value == 1.0,
            GbdtObjective::Softmax { n_classes } => {
                value >= 0.0 && value < n_classes as f32 && value.fract() == 0.0
            }
            GbdtObjective::SquaredError => value.is_finite(),
        };
        if !valid {
            return Err(TrainError::BadLabel {
                set,
                row,
                value,
                objective: objective.name(),
            });
        }
    }
    Ok(())
}

fn check_options(options: &GbdtOptions, n_features: usize) -> Result<(), TrainError> {
    let bad = |option: &'static str, reason: &str| {
        Err(TrainError::BadOption {
            option,
            reason: reason.to_string(),
        })
    };
    let unit = |x: f64| x > 0.0 && x <= 1.0;
    let non_negative = |x: f64| x >= 0.0 && x.is_finite();
    if n_features == 0 || n_features > limits::MAX_FEATURES {
        return bad(
            "features",
            &format!("must number 1..={}, not {n_features}", limits::MAX_FEATURES),
        );
    }
    if options.n_trees == 0 {
        return bad("n_trees", "must be at least 1");
    }
    if !unit(options.learning_rate) {
        return bad("learning_rate", "must be in (0, 1]");
    }
    if !(1..=MAX_DEPTH).contains(&options.max_depth) {
        return bad("max_depth", &format!("must be in 1..={MAX_DEPTH}"));
    }
    for (name, value) in [
        ("min_child_weight", options.min_child_weight),
        ("lambda", options.lambda),
        ("alpha", options.alpha),
        ("gamma", options.gamma),
    ] {
        if !non_negative(value) {
            return bad(name, "must be finite and at least 0");
        }
    }
    if !unit(options.subsample) {
        return bad("subsample", "must be in (0, 1]");
    }
    if !unit(options.colsample_bytree) {
        return bad("colsample_bytree", "must be in (0, 1]");
    }
    if !(options.scale_pos_weight > 0.0 && options.scale_pos_weight.is_finite()) {
        return bad("scale_pos_weight", "must be finite and above 0");
    }
    let constraints = &options.monotone_constraints;
    if !constraints.is_empty() && constraints.len() != n_features {
        return bad(
            "monotone_constraints",
            &format!("must be empty or have one entry per feature ({n_features})"),
        );
    }
    if constraints.iter().any(|c| !(-1..=1).contains(c)) {
        return bad("monotone_constraints", "entries must be -1, 0 or 1");
    }
    if !(2..=256).contains(&options.max_bins) {
        return bad("max_bins", "must be in 2..=256");
    }
    if let GbdtObjective::Softmax { n_classes } = options.objective {
        if !(2..=limits::MAX_OUTPUTS).contains(&n_classes) {
            return bad(
                "n_classes",
                &format!("must be in 2..={}", limits::MAX_OUTPUTS),
            );
        }
    }
    if options.early_stopping_rounds == Some(0) {
        return bad("early_stopping_rounds", "must be at least 1");
    }
    Ok(())
}

/// The f32 base margin of each output.
fn base_margins(data: &TrainData, options: &GbdtOptions) -> Result<Vec<f32>, TrainError> {
    let margins = match options.objective {
        GbdtObjective::BinaryLogistic => {
            let n_pos = data.labels.iter().filter(|&&y| y == 1.0).count();
            let n_neg = data.labels.len() - n_pos;
            if n_pos == 0 || n_neg == 0 {
                return Err(TrainError::SingleClass);
            }
            let weighted_pos = options.scale_pos_weight * n_pos as f64;
            let p = (weighted_pos / (weighted_pos + n_neg as f64)) as f32;
            vec![-math::logf(1.0 / p - 1.0)]
        }
        GbdtObjective::Softmax { n_classes } => vec![0.0; n_classes],
        GbdtObjective::SquaredError => {
            let sum: f64 = data.labels.iter().map(|&y| f64::from(y)).sum();
            vec![(sum / data.labels.len() as f64) as f32]
        }
    };
    if margins.iter().all(|m| m.is_finite()) {
        Ok(margins)
    } else {
        Err(TrainError::NotFinite)
    }
}

/// The engine's output transform for `Numerics::Xgboost` (`Aggregation::Sum`).
pub fn transform(objective: format::Objective, margins: &[f32], outputs: &mut [f32]) {
    lockstep_engine::transform_xgboost(objective, false, margins, outputs);
}

/// Rows per parallel task in the per-row passes. Fixed, so that the blocks the training loss
/// is summed in are the same whatever the thread count; a multiple of [`sum_of_logs`]' group.
const ROWS_PER_TASK: usize = 1 << 12;

/// Adds `leaf_of(row)` to output `output` of every row's margins (row-major, `n_outputs` per
/// row), in parallel on the current pool.
fn add_leaves(
    margins: &mut [f32],
    n_outputs: usize,
    output: usize,
    leaf_of: impl Fn(usize) -> f32 + Sync,
) {
    margins
        .par_chunks_mut(ROWS_PER_TASK * n_outputs)
        .enumerate()
        .for_each(|(block, chunk)| {
            for (i, row_margins) in chunk.chunks_exact_mut(n_outputs).enumerate() {
                row_margins[output] += leaf_of(block * ROWS_PER_TASK + i);
            }
        });
}

/// [`add_leaves`] for the last output of a round, then [`probabilities`] and the mean
/// [`loss`] of every row, in one pass over the rows in parallel on the current pool (each row's
/// outputs depend on its margins only, and the loss is summed in the blocks of [`loss`]).
fn add_last_leaves(
    objective: GbdtObjective,
    margins: &mut [f32],
    leaf_of: impl Fn(usize) -> f32 + Sync,
    outputs: &mut [f64],
    labels: &[f32],
) -> f64 {
    let n_outputs = objective.n_outputs();
    let block = ROWS_PER_TASK * n_outputs;
    let block_losses: Vec<f64> = margins
        .par_chunks_mut(block)
        .zip(outputs.par_chunks_mut(block))
        .zip(labels.par_chunks(ROWS_PER_TASK))
        .enumerate()
        .map(|(index, ((margins, outputs), labels))| {
            for (i, row_margins) in margins.chunks_exact_mut(n_outputs).enumerate() {
                row_margins[n_outputs - 1] += leaf_of(index * ROWS_PER_TASK + i);
            }
            probabilities_of_block(objective, margins, outputs);
            block_loss(objective, outputs, labels)
        })
        .collect();
    mean_loss(objective, &block_losses, labels.len())
}

/// The engine's outputs (probabilities or values) of every row, row-major, from the margins,
/// in parallel on the current pool (each row's outputs depend on its margins only).
fn outputs(objective: GbdtObjective, margins: &[f32], outputs: &mut [f32]) {
    let n_outputs = objective.n_outputs();
    let block = ROWS_PER_TASK * n_outputs;
    let objective = objective.model_objective();
    margins
        .par_chunks(block)
        .zip(outputs.par_chunks_mut(block))
        .for_each(|(margins, outputs)| {
            for (row_margins, row_outputs) in margins
                .chunks_exact(n_outputs)
                .zip(outputs.chunks_exact_mut(n_outputs))
            {
                transform(objective, row_margins, row_outputs);
            }
        });
}

/// The trainer's outputs of every row, row-major, from the margins: probabilities by an f64
/// sigmoid or softmax on the portable [`crate::math::exp`] (its argument clamped by
/// [`clamp_exponent`]), or the margin itself for regression.
fn probabilities(objective: GbdtObjective, margins: &[f32], outputs: &mut [f64]) {
    let block = ROWS_PER_TASK * objective.n_outputs();
    margins
        .par_chunks(block)
        .zip(outputs.par_chunks_mut(block))
        .for_each(|(margins, outputs)| probabilities_of_block(objective, margins, outputs));
}

/// [`probabilities`] of some whole rows, on the calling thread.
fn probabilities_of_block(objective: GbdtObjective, margins: &[f32], outputs: &mut [f64]) {
    match objective {
        GbdtObjective::BinaryLogistic => {
            for (out, &m) in outputs.iter_mut().zip(margins) {
                // The exponent `-m` is what is clamped, so a NaN margin gives 1.
                *out = sigmoid(-clamp_exponent(-f64::from(m)));
            }
        }
        GbdtObjective::Softmax { n_classes } => {
            for (row_margins, row_outputs) in margins
                .chunks_exact(n_classes)
                .zip(outputs.chunks_exact_mut(n_classes))
            {
                let max = row_margins.iter().fold(f32::MIN, |max, &m| max.max(m));
                let mut sum = 0.0f64;
                for (out, &m) in row_outputs.iter_mut().zip(row_margins) {
                    *out = exp(clamp_exponent(f64::from(m) - f64::from(max)));
                    sum += *out;
                }
                for out in row_outputs.iter_mut() {
                    *out /= sum;
                }
            }
        }
        GbdtObjective::SquaredError => {
            for (out, &m) in outputs.iter_mut().zip(margins) {
                *out = f64::from(m);
            }
        }
    }
}

/// `z` clamped to [-700, 700], NaN to -700, before [`crate::math::exp`]: the trainer's
/// probabilities stay finite and positive whatever the margins (a margin that large already
/// makes a probability 0 or 1 to within 1e-304).
fn clamp_exponent(z: f64) -> f64 {
    // Not `clamp`, which keeps NaN.
    #[allow(clippy::manual_clamp)]
    z.max(-700.0).min(700.0)
}

/// Gradients and hessians of every row for every output (output-major), from the outputs
/// (row-major), in parallel on the current pool. Returns, per output, the largest magnitudes
/// of its gradients and hessians (see [`Quantised::with_magnitudes`]).
fn gradients(
    objective: GbdtObjective,
    scale_pos_weight: f64,
    outputs: &[f64],
    labels: &[f32],
    grads: &mut [f64],
    hessians: &mut [f64],
) -> Vec<(f64, f64)> {
    let n_rows = labels.len();
    let n_outputs = objective.n_outputs();
    let mut magnitudes = Vec::with_capacity(n_outputs);
    for output in 0..n_outputs {
        let span = output * n_rows..(output + 1) * n_rows;
        let block_magnitudes: Vec<(f64, f64)> = grads[span.clone()]
            .par_chunks_mut(ROWS_PER_TASK)
            .zip(hessians[span].par_chunks_mut(ROWS_PER_TASK))
            .enumerate()
            .map(|(block, (grads, hessians))| {
                let first = block * ROWS_PER_TASK;
                for (i, (g, h)) in grads.iter_mut().zip(hessians.iter_mut()).enumerate() {
                    let row = first + i;
                    let y = labels[row];
                    let p = outputs[row * n_outputs + output];
                    (*g, *h) = match objective {
                        GbdtObjective::BinaryLogistic => {
                            let weight = if y == 1.0 { scale_pos_weight } else { 1.0 };
                            (
                                (p - f64::from(y)) * weight,
                                (p * (1.0 - p)).max(MIN_HESSIAN) * weight,
                            )
                        }
                        GbdtObjective::Softmax { .. } => {
                            let target = if y as usize == output { 1.0 } else { 0.0 };
                            (p - target, (2.0 * p * (1.0 - p)).max(MIN_HESSIAN))
                        }
                        GbdtObjective::SquaredError => (p - f64::from(y), 1.0),
                    };
                }
                (magnitude_fold(0.0, grads), magnitude_fold(0.0, hessians))
            })
            .collect();
        magnitudes.push(
            block_magnitudes
                .iter()
                .fold((0.0f64, 0.0f64), |(g, h), b| (g.max(b.0), h.max(b.1))),
        );
    }
    magnitudes
}

/// Mean loss from the outputs (row-major): log loss for classification, RMSE for regression.
/// Summed per block of [`ROWS_PER_TASK`] rows in parallel on the current pool, then over the
/// blocks in order.
fn loss<S: Copy + Into<f64> + Sync>(
    objective: GbdtObjective,
    outputs: &[S],
    labels: &[f32],
) -> f64 {
    let n_outputs = objective.n_outputs();
    let block_sums: Vec<f64> = outputs
        .par_chunks(ROWS_PER_TASK * n_outputs)
        .zip(labels.par_chunks(ROWS_PER_TASK))
        .map(|(outputs, labels)| block_loss(objective, outputs, labels))
        .collect();
    mean_loss(objective, &block_sums, labels.len())
}

/// The summed loss of one block of [`loss`].
fn block_loss<S: Copy + Into<f64>>(objective: GbdtObjective, outputs: &[S], labels: &[f32]) -> f64 {
    match objective {
        GbdtObjective::BinaryLogistic => {
            let label_probabilities =
                outputs.iter().zip(labels).map(
                    |(&p, &y)| {
                        if y == 1.0 {
                            p.into()
                        } else {
                            1.0 - p.into()
                        }
                    },
                );
            -sum_of_logs(label_probabilities)
        }
        GbdtObjective::Softmax { n_classes } => {
            let label_probabilities = outputs
                .chunks_exact(n_classes)
                .zip(labels)
                .map(|(p, &y)| p[y as usize].into());
            -sum_of_logs(label_probabilities)
        }
        GbdtObjective::SquaredError => {
            let mut sum = 0.0f64;
            for (&m, &y) in outputs.iter().zip(labels) {
                let error = m.into() - f64::from(y);
                sum += error * error;
            }
            sum
        }
    }
}

/// The mean loss of `n_rows` rows from [`loss`]'s block sums, added in order.
fn mean_loss(objective: GbdtObjective, block_sums: &[f64], n_rows: usize) -> f64 {
    let n = n_rows.max(1) as f64;
    let total: f64 = block_sums.iter().sum();
    match objective {
        GbdtObjective::SquaredError => (total / n).sqrt(),
        _ => total / n,
    }
}

/// `sum(ln(max(p, MIN_PROBABILITY)))` over probabilities, the same on every machine: groups of
/// 16 are multiplied in f64 (no underflow: each factor is at least 1e-16), and each product
/// `m * 2^e` (m in [1, 2)) contributes `ln(m) + e ln 2` with [`crate::math::ln_1_to_2`] (whose
/// bits the recorded losses depend on). One log per 16 rows keeps this cheap.
fn sum_of_logs(probabilities: impl Iterator<Item = f64>) -> f64 {
    const GROUP: usize = 16;
    let mut sum = 0.0f64;
    let mut product = 1.0f64;
    let mut in_group = 0;
    let flush = |product: f64, sum: &mut f64| {
        let bits = product.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
        *sum += ln_1_to_2(mantissa) + exponent as f64 * core::f64::consts::LN_2;
    };
    for p in probabilities {
        product *= p.max(f64::from(MIN_PROBABILITY));
        in_group += 1;
        if in_group == GROUP {
            flush(product, &mut sum);
            product = 1.0;
            in_group = 0;
        }
    }
    if in_group > 0 {
        flush(product, &mut sum);
    }
    sum
}

/// Streams of the counter-based generator.
const ROW_STREAM: u64 = 1;
const FEATURE_STREAM: u64 = 2;

/// A random u64 that depends only on its arguments.
fn random(seed: u64, stream: u64, round: u64, index: u64) -> u64 {
    rng::keyed(seed, &[stream, round, index])
}

/// The rows used in round `round` (ascending): each row independently with probability
/// `subsample`.
fn sample_rows(seed: u64, round: usize, n_rows: usize, subsample: f64) -> Vec<u32> {
    if subsample >= 1.0 {
        return (0..n_rows as u32).into_par_iter().collect();
    }
    // In parallel on the current pool; `collect` keeps the order.
    (0..n_rows as u32)
        .into_par_iter()
        .with_min_len(1 << 12)
        .filter(|&row| {
            rng::unit_f64(random(seed, ROW_STREAM, round as u64, u64::from(row))) < subsample
        })
        .collect()
}

/// The features tree `tree` may split on (ascending): `round(colsample * n)` of them, at
/// least one, chosen by sorting features on a random key.
fn sample_features(seed: u64, tree: usize, n_features: usize, colsample: f64) -> Vec<usize> {
    if colsample >= 1.0 {
        return (0..n_features).collect();
    }
    let n_chosen = ((colsample * n_features as f64).round() as usize).clamp(1, n_features);
    let mut keyed: Vec<(u64, usize)> = (0..n_features)
        .map(|f| (random(seed, FEATURE_STREAM, tree as u64, f as u64), f))
        .collect();
    keyed.sort_unstable();
    let mut chosen: Vec<usize> = keyed[..n_chosen].iter().map(|&(_, f)| f).collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_depends_only_on_seed_round_and_index() {
        let a = sample_rows(7, 3, 1000, 0.5);
        assert_eq!(a, sample_rows(7, 3, 1000, 0.5));
        assert_ne!(a, sample_rows(7, 4, 1000, 0.5));
        assert_ne!(a, sample_rows(8, 3, 1000, 0.5));
        assert!((400..600).contains(&a.len()), "{}", a.len());
        let f = sample_features(7, 3, 20, 0.5);
        assert_eq!(f.len(), 10);
        assert!(f.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(f, sample_features(7, 3, 20, 0.5));
        assert_eq!(sample_features(7, 3, 20, 0.01).len(), 1);
    }

    #[test]
    fn probabilities_stay_finite_for_any_margin() {
        assert_eq!(clamp_exponent(1e6), 700.0);
        assert_eq!(clamp_exponent(f64::NEG_INFINITY), -700.0);
        assert_eq!(clamp_exponent(f64::NAN), -700.0);
        let margins = [f32::MAX, f32::MIN, f32::NAN, 0.0];
        let mut ours = [0.0f64; 4];
        probabilities(GbdtObjective::BinaryLogistic, &margins, &mut ours);
        // Huge margins saturate, the lowest stays above 0, and a NaN margin counts as huge.
        assert_eq!([ours[0], ours[2], ours[3]], [1.0, 1.0, 0.5]);
        assert!(ours[1] > 0.0 && ours[1] < 1e-300, "{ours:?}");
        let mut softmax = [0.0f64; 3];
        probabilities(
            GbdtObjective::Softmax { n_classes: 3 },
            &[f32::MAX, f32::MIN, 0.0],
            &mut softmax,
        );
        assert!(
            softmax.iter().all(|p| p.is_finite() && *p > 0.0),
            "{softmax:?}"
        );
    }

    #[test]
    fn sum_of_logs_matches_std_above_the_probability_floor() {
        let probabilities = [0.5, 0.25, 1e-20, 0.9, 1.0];
        let floor = f64::from(MIN_PROBABILITY);
        let expected: f64 = probabilities.iter().map(|&p: &f64| p.max(floor).ln()).sum();
        let ours = sum_of_logs(probabilities.iter().copied());
        assert!(
            (ours - expected).abs() < 1e-12 * expected.abs(),
            "{ours} {expected}"
        );
    }

    #[test]
    fn trainer_sigmoid_is_within_an_f32_rounding_of_the_engine() {
        let margins: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).collect();
        let mut ours = vec![0.0f64; margins.len()];
        probabilities(GbdtObjective::BinaryLogistic, &margins, &mut ours);
        for (&m, &p) in margins.iter().zip(&ours) {
            let engine = f64::from(math::sigmoid_xgboost(m));
            assert!((p - engine).abs() <= engine * 2e-7, "{m}: {p} vs {engine}");
        }
    }

    #[test]
    fn binary_base_margin_is_the_logit_of_the_weighted_label_mean() {
        let names = vec!["x".to_string()];
        let columns = vec![vec![0.0f32; 4]];
        let labels = [1.0, 0.0, 0.0, 0.0];
        let data = TrainData {
            feature_names: &names,
            columns: &columns,
            labels: &labels,
        };
        let options = GbdtOptions::default();
        assert_eq!(
            base_margins(&data, &options).unwrap(),
            vec![-math::logf(1.0 / 0.25f32 - 1.0)]
        );
        let weighted = GbdtOptions {
            scale_pos_weight: 3.0,
            ..GbdtOptions::default()
        };
        // 3 / (3 + 3) = 0.5: margin 0.
        assert_eq!(base_margins(&data, &weighted).unwrap(), vec![0.0]);
    }
}

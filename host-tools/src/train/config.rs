//! The settings of `lockstep train` (the `--config` TOML file): the model kind, the target and
//! the split, and each kind's options under XGBoost's, scikit-learn's or glmnet's names.
//!
//! Every default comes from the trainer's own options (`GbdtOptions`, `ForestOptions`,
//! `ElasticNetOptions`), so the library and the command agree. The settings as used are
//! written into the training record.

use serde::{Deserialize, Serialize};

use super::forest::{ForestOptions, MaxFeatures};
use super::linear::ElasticNetOptions;
use super::GbdtOptions;

/// Which model `lockstep train` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Gradient-boosted trees (settings in `[gbdt]`).
    #[default]
    Gbdt,
    /// Random forest (settings in `[forest]`).
    Forest,
    /// Penalised logistic regression path (settings in `[logistic]`).
    Logistic,
}

/// Settings read from the `--config` TOML file; every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Which model to fit.
    pub kind: ModelKind,
    /// Which outcome column to predict (default: the schema's first target).
    pub target: Option<String>,
    /// Rows matching this expression train the model; the rest are the test set
    /// (e.g. `surgery_year <= 2015`). Without it every row trains and there is no test set.
    pub train_where: Option<String>,
    /// Fraction of training rows held out for early stopping (0 disables it).
    pub valid_fraction: Option<f64>,
    /// Gradient-boosting settings.
    pub gbdt: GbdtConfig,
    /// Random-forest settings.
    pub forest: ForestConfig,
    /// Penalised logistic regression settings.
    pub logistic: LogisticConfig,
}

/// Random-forest settings with scikit-learn's meanings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestConfig {
    /// Trees (`n_estimators`).
    pub n_trees: usize,
    /// Maximum depth (1..=15).
    pub max_depth: usize,
    /// Least draws in each child of a split.
    pub min_samples_leaf: usize,
    /// Features tried per split (default: the square root of the feature count).
    pub max_features: Option<usize>,
    /// Bootstrap rows for each tree.
    pub bootstrap: bool,
    /// Histogram bins per feature (at most 256).
    pub max_bins: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Threads (0: one per core). The model does not depend on it.
    pub threads: usize,
}

impl Default for ForestConfig {
    /// [`ForestOptions::default`]'s values (`max_features` `None` is its square root).
    fn default() -> Self {
        let defaults = ForestOptions::default();
        ForestConfig {
            n_trees: defaults.n_trees,
            max_depth: defaults.max_depth,
            min_samples_leaf: defaults.min_samples_leaf,
            max_features: match defaults.max_features {
                MaxFeatures::Count(n) => Some(n),
                MaxFeatures::Sqrt | MaxFeatures::All => None,
            },
            bootstrap: defaults.bootstrap,
            max_bins: defaults.max_bins,
            seed: defaults.seed,
            threads: defaults.threads,
        }
    }
}

impl ForestConfig {
    /// The trainer's options these settings mean.
    pub fn options(&self) -> ForestOptions {
        ForestOptions {
            n_trees: self.n_trees,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            max_features: self
                .max_features
                .map_or(MaxFeatures::Sqrt, MaxFeatures::Count),
            bootstrap: self.bootstrap,
            max_bins: self.max_bins,
            seed: self.seed,
            threads: self.threads,
        }
    }
}

/// Penalised logistic regression settings (glmnet's meanings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogisticConfig {
    /// Penalty mix: 1 lasso, 0 ridge, in between elastic net.
    pub alpha: f64,
    /// Lambdas on the path.
    pub n_lambdas: usize,
    /// Smallest lambda as a fraction of the largest.
    pub lambda_min_ratio: f64,
    /// Cross-validation folds.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Pick the largest lambda within one standard error of the best CV deviance.
    pub one_se_rule: bool,
    /// Convergence threshold.
    pub tolerance: f64,
    /// Iteration cap per lambda.
    pub max_iterations: usize,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        let defaults = ElasticNetOptions::default();
        LogisticConfig {
            alpha: defaults.alpha,
            n_lambdas: defaults.n_lambdas,
            lambda_min_ratio: defaults.lambda_min_ratio,
            folds: defaults.folds,
            seed: defaults.seed,
            one_se_rule: defaults.one_se_rule,
            tolerance: defaults.tolerance,
            max_iterations: defaults.max_iterations,
        }
    }
}

/// Gradient-boosting settings with XGBoost's names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtConfig {
    /// Boosting rounds.
    pub n_trees: usize,
    /// Shrinkage (`eta`).
    pub learning_rate: f64,
    /// Maximum depth.
    pub max_depth: usize,
    /// Minimum hessian sum in a child.
    pub min_child_weight: f64,
    /// L2 regularisation.
    pub lambda: f64,
    /// L1 regularisation.
    pub alpha: f64,
    /// Minimum split gain.
    pub gamma: f64,
    /// Row subsampling per tree.
    pub subsample: f64,
    /// Column subsampling per tree.
    pub colsample_bytree: f64,
    /// Weight of positive rows.
    pub scale_pos_weight: f64,
    /// Per-feature monotone constraints (-1, 0, 1) by feature name.
    pub monotone: Vec<(String, i8)>,
    /// Histogram bins per feature counting the missing bin (at most 256; XGBoost's `max_bin` + 1).
    pub max_bins: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Stop when validation loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Threads (0: one per core). The model does not depend on it.
    pub threads: usize,
}

impl Default for GbdtConfig {
    /// [`GbdtOptions::default`]'s values, with no monotone constraints.
    fn default() -> Self {
        let defaults = GbdtOptions::default();
        GbdtConfig {
            n_trees: defaults.n_trees,
            learning_rate: defaults.learning_rate,
            max_depth: defaults.max_depth,
            min_child_weight: defaults.min_child_weight,
            lambda: defaults.lambda,
            alpha: defaults.alpha,
            gamma: defaults.gamma,
            subsample: defaults.subsample,
            colsample_bytree: defaults.colsample_bytree,
            scale_pos_weight: defaults.scale_pos_weight,
            monotone: Vec::new(),
            max_bins: defaults.max_bins,
            seed: defaults.seed,
            early_stopping_rounds: defaults.early_stopping_rounds,
            threads: defaults.threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forest_settings_default_to_the_trainers_options() {
        assert_eq!(ForestConfig::default().options(), ForestOptions::default());
    }

    #[test]
    fn default_settings_are_what_lockstep_train_has_always_used() {
        // The pinned trained models were trained with these; changing one changes them.
        let gbdt = GbdtConfig::default();
        assert_eq!(
            (gbdt.n_trees, gbdt.learning_rate, gbdt.max_depth),
            (300, 0.05, 4)
        );
        assert_eq!(
            (gbdt.min_child_weight, gbdt.lambda, gbdt.alpha, gbdt.gamma),
            (1.0, 1.0, 0.0, 0.0)
        );
        assert_eq!(
            (gbdt.subsample, gbdt.colsample_bytree, gbdt.scale_pos_weight),
            (0.8, 0.8, 1.0)
        );
        assert_eq!((gbdt.max_bins, gbdt.seed, gbdt.threads), (256, 2024, 0));
        assert_eq!(gbdt.early_stopping_rounds, Some(30));
        assert!(gbdt.monotone.is_empty());
        let forest = ForestConfig::default();
        assert_eq!(
            (forest.n_trees, forest.max_depth, forest.min_samples_leaf),
            (200, 8, 20)
        );
        assert_eq!((forest.max_features, forest.bootstrap), (None, true));
        assert_eq!(
            (forest.max_bins, forest.seed, forest.threads),
            (256, 2024, 0)
        );
        let logistic = LogisticConfig::default();
        assert_eq!(
            (
                logistic.alpha,
                logistic.n_lambdas,
                logistic.lambda_min_ratio
            ),
            (1.0, 100, 1e-4)
        );
        assert_eq!(
            (logistic.folds, logistic.seed, logistic.one_se_rule),
            (5, 2024, false)
        );
        assert_eq!((logistic.tolerance, logistic.max_iterations), (1e-7, 1000));
    }
}

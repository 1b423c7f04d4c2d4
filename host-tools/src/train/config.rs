//! The settings of `lockstep train` (the `--config` TOML file): the model kind, the target and
//! the split, and each kind's options under XGBoost's, scikit-learn's or glmnet's names.
//!
//! Every default comes from the trainer's own options (`GbdtOptions`, `ForestOptions`,
//! `ElasticNetOptions`), so the library and the command agree. The settings in effect (defaults
//! resolved, only the trained kind's table, no thread count) are written into the training
//! record ([`super::record::SettingsInEffect`]).
//!
//! # Names
//!
//! `[gbdt]` accepts XGBoost's names next to Lockstep's: `n_estimators` and `num_boost_round`
//! for `n_trees`, `eta` for `learning_rate`, `reg_lambda` for `lambda`, `reg_alpha` for
//! `alpha`, `min_split_loss` for `gamma`, `random_state` for `seed`, `monotone_constraints`
//! for `monotone`, and `max_bin` with XGBoost's meaning (value bins, not counting the bin of
//! missing values: `max_bin = 255` is `max_bins = 256`). `[forest]` accepts scikit-learn's
//! `n_estimators` for `n_trees` and `random_state` for `seed`, and `max_features = "sqrt"`.
//! Two names of one setting in the same table are refused ([`ConfigError::SameSetting`]).
//!
//! # Defaults next to XGBoost's
//!
//! `lockstep train` keeps its own defaults (the pinned models are trained with them); to train
//! as XGBoost does, give XGBoost's values:
//!
//! | setting | Lockstep default | XGBoost 3.2 default | why different |
//! | --- | --- | --- | --- |
//! | `n_trees` (`n_estimators`) | 300 | 100 (`XGBClassifier`; 10 in `xgb.train`) | more rounds at a lower `eta`, cut by early stopping |
//! | `learning_rate` (`eta`) | 0.05 | 0.3 | small steps generalise better on cohort-sized data |
//! | `max_depth` | 4 | 6 | shallow trees are easier to read and to audit on a device |
//! | `min_child_weight` | 1 | 1 | |
//! | `lambda` (`reg_lambda`) | 1 | 1 | |
//! | `alpha` (`reg_alpha`) | 0 | 0 | |
//! | `gamma` (`min_split_loss`) | 0 | 0 | |
//! | `subsample` | 0.8 | 1 | row sampling regularises; set 1 to match XGBoost |
//! | `colsample_bytree` | 0.8 | 1 | feature sampling regularises; set 1 to match XGBoost |
//! | `scale_pos_weight` | 1 | 1 | |
//! | `max_bin` (value bins) | 255 (`max_bins` = 256 with the missing bin) | 256 | bin codes are one byte, missing values included |
//! | `seed` (`random_state`) | 2024 | 0 | |
//! | `valid_fraction` (top level) | 0.2 of the training rows held out | none (no validation set unless given) | early stopping needs held-out rows; set 0 to train on every row; must be in [0, 1) (anything else is refused) |
//! | `early_stopping_rounds` | 30 (when there is a validation set) | none | stops before overfitting; 0 or `valid_fraction = 0` turns it off |
//! | base margin | logit of the mean training label (positives weighted by `scale_pos_weight`) | the same: `base_score` = mean training label | |
//! | `threads` | 0: one per core | all cores | the model does not depend on it |
//!
//! `[forest]` next to scikit-learn's `RandomForestClassifier`:
//!
//! | setting | Lockstep default | scikit-learn default | why different |
//! | --- | --- | --- | --- |
//! | `n_trees` (`n_estimators`) | 200 | 100 | |
//! | `max_depth` | 8 | none (unlimited) | the format holds trees up to depth 15 |
//! | `min_samples_leaf` | 20 | 1 | leaves of one row overfit cohort data |
//! | `max_features` | square root of the feature count | `"sqrt"` | |
//! | `bootstrap` | true | true | |
//! | `max_bins` | 256 (histogram splits) | none (exact splits) | histogram training |
//! | `seed` (`random_state`) | 2024 | none (random) | every run reproducible |

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::forest::{ForestOptions, MaxFeatures};
use super::linear::ElasticNetOptions;
use super::{GbdtObjective, GbdtOptions};

/// Fraction of the training rows a gbdt holds out for early stopping when `valid_fraction` is
/// not given.
pub const DEFAULT_VALID_FRACTION: f64 = 0.2;

/// The names of each `[gbdt]` setting that has several (Lockstep's first).
pub const GBDT_SYNONYMS: &[&[&str]] = &[
    &["n_trees", "n_estimators", "num_boost_round"],
    &["learning_rate", "eta"],
    &["lambda", "reg_lambda"],
    &["alpha", "reg_alpha"],
    &["gamma", "min_split_loss"],
    &["max_bins", "max_bin"],
    &["seed", "random_state"],
    &["monotone", "monotone_constraints"],
];

/// The names of each `[forest]` setting that has several (Lockstep's first).
pub const FOREST_SYNONYMS: &[&[&str]] = &[&["n_trees", "n_estimators"], &["seed", "random_state"]];

/// Why a config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// One setting given under two of its names.
    #[error(
        "[{table}] gives both `{first}` and `{second}`, which set the same option{note}; keep one"
    )]
    SameSetting {
        /// The table (`gbdt` or `forest`).
        table: &'static str,
        /// The first name given.
        first: String,
        /// The second.
        second: String,
        /// What differs between them, if anything.
        note: &'static str,
    },
    /// `max_bin` (XGBoost's meaning) out of range.
    #[error(
        "[gbdt] max_bin = {0}: must be in 1..=255 (value bins; Lockstep adds one bin for missing \
         values and holds at most 256, so XGBoost's default 256 is not available)"
    )]
    MaxBin(usize),
    /// `valid_fraction` outside `[0, 1)` (a negative or NaN value would silently turn early
    /// stopping off; 1 or more would hold out every row).
    #[error(
        "valid_fraction = {0}: must be at least 0 and below 1 (0 trains on every row without \
         early stopping)"
    )]
    ValidFraction(f64),
    /// A count-like setting above its cap (see [`crate::limits`]).
    #[error(transparent)]
    Limit(#[from] crate::limits::OverCap),
}

impl TrainConfig {
    /// Reads a config from TOML text: Lockstep's, XGBoost's and scikit-learn's names (refusing
    /// one setting given twice), every missing setting at its default.
    pub fn from_toml(text: &str) -> Result<TrainConfig, ConfigError> {
        // Serde's derive refuses two names of one field too, but names only one of them; say
        // which two were given. The text is parsed again below for messages with positions.
        if let Ok(table) = text.parse::<toml::Table>() {
            for (name, synonyms) in [("gbdt", GBDT_SYNONYMS), ("forest", FOREST_SYNONYMS)] {
                let Some(toml::Value::Table(given)) = table.get(name) else {
                    continue;
                };
                for group in synonyms {
                    let mut present = group.iter().filter(|n| given.contains_key(**n));
                    if let (Some(first), Some(second)) = (present.next(), present.next()) {
                        return Err(ConfigError::SameSetting {
                            table: name,
                            first: (*first).into(),
                            second: (*second).into(),
                            note: if group[0] == "max_bins" {
                                " (max_bin counts value bins, max_bins also the missing bin)"
                            } else {
                                ""
                            },
                        });
                    }
                }
            }
        }
        let config: TrainConfig = toml::from_str(text)?;
        if let Some(bins) = config.gbdt.max_bin {
            if !(1..=255).contains(&bins) {
                return Err(ConfigError::MaxBin(bins));
            }
        }
        {
            use crate::limits::{check, MAX_FOLDS, MAX_LAMBDAS, MAX_THREADS, MAX_TREES};
            check("[gbdt] n_trees", config.gbdt.n_trees, MAX_TREES)?;
            check("[gbdt] threads", config.gbdt.threads, MAX_THREADS)?;
            check("[forest] n_trees", config.forest.n_trees, MAX_TREES)?;
            check("[forest] threads", config.forest.threads, MAX_THREADS)?;
            check(
                "[logistic] n_lambdas",
                config.logistic.n_lambdas,
                MAX_LAMBDAS,
            )?;
            check("[logistic] folds", config.logistic.folds, MAX_FOLDS)?;
        }
        if let Some(fraction) = config.valid_fraction {
            // NaN fails the range test too.
            if !(0.0..1.0).contains(&fraction) {
                return Err(ConfigError::ValidFraction(fraction));
            }
        }
        Ok(config)
    }
}

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
    /// Fraction of training rows a gbdt holds out for early stopping (default
    /// [`DEFAULT_VALID_FRACTION`]; 0 trains on every row, without early stopping).
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
    /// Trees (also read as scikit-learn's `n_estimators`).
    #[serde(alias = "n_estimators")]
    pub n_trees: usize,
    /// Maximum depth (1..=15).
    pub max_depth: usize,
    /// Least draws in each child of a split.
    pub min_samples_leaf: usize,
    /// Features tried per split (default, or `"sqrt"` as in scikit-learn: the square root of
    /// the feature count).
    #[serde(deserialize_with = "max_features_count_or_sqrt")]
    pub max_features: Option<usize>,
    /// Bootstrap rows for each tree.
    pub bootstrap: bool,
    /// Histogram bins per feature (at most 256).
    pub max_bins: usize,
    /// Seed of every random choice (also read as scikit-learn's `random_state`).
    #[serde(alias = "random_state")]
    pub seed: u64,
    /// Threads (0: one per core). The model does not depend on it, so the training record
    /// leaves it out (records are the same bytes on any thread count).
    #[serde(skip_serializing)]
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

/// Gradient-boosting settings, under Lockstep's names or XGBoost's (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtConfig {
    /// Boosting rounds (`n_estimators`, `num_boost_round`).
    #[serde(alias = "n_estimators", alias = "num_boost_round")]
    pub n_trees: usize,
    /// Shrinkage (`eta`).
    #[serde(alias = "eta")]
    pub learning_rate: f64,
    /// Maximum depth.
    pub max_depth: usize,
    /// Minimum hessian sum in a child.
    pub min_child_weight: f64,
    /// L2 regularisation (`reg_lambda`).
    #[serde(alias = "reg_lambda")]
    pub lambda: f64,
    /// L1 regularisation (`reg_alpha`).
    #[serde(alias = "reg_alpha")]
    pub alpha: f64,
    /// Minimum split gain (`min_split_loss`).
    #[serde(alias = "min_split_loss")]
    pub gamma: f64,
    /// Row subsampling per tree.
    pub subsample: f64,
    /// Column subsampling per tree.
    pub colsample_bytree: f64,
    /// Weight of positive rows.
    pub scale_pos_weight: f64,
    /// Per-feature monotone constraints (-1, 0, 1) by feature name (`monotone_constraints`):
    /// pairs `[["age", 1]]` or, as XGBoost's dictionary, a table `{ age = 1 }`.
    #[serde(
        alias = "monotone_constraints",
        deserialize_with = "monotone_pairs_or_table"
    )]
    pub monotone: Vec<(String, i8)>,
    /// Histogram bins per feature counting the missing bin (2..=256). XGBoost's `max_bin`
    /// counts value bins only: `max_bins` = `max_bin` + 1. When `max_bin` is given it decides.
    pub max_bins: usize,
    /// XGBoost's `max_bin` (1..=255): value bins per feature, not counting the missing bin.
    /// The training record lists both, resolved.
    pub max_bin: Option<usize>,
    /// Seed of every random choice (`random_state`).
    #[serde(alias = "random_state")]
    pub seed: u64,
    /// Stop when validation loss has not improved for this many rounds; 0 turns early
    /// stopping off. Only in effect with a validation set (`valid_fraction` above 0).
    pub early_stopping_rounds: Option<usize>,
    /// Threads (0: one per core). The model does not depend on it, so the training record
    /// leaves it out (records are the same bytes on any thread count).
    #[serde(skip_serializing)]
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
            max_bin: None,
            seed: defaults.seed,
            early_stopping_rounds: defaults.early_stopping_rounds,
            threads: defaults.threads,
        }
    }
}

impl GbdtConfig {
    /// Bins per feature counting the missing bin, as the trainer takes them: `max_bin` + 1 when
    /// XGBoost's `max_bin` is given, else `max_bins`.
    pub fn bins_with_missing(&self) -> usize {
        self.max_bin.map_or(self.max_bins, |b| b.saturating_add(1))
    }

    /// Whether early stopping runs, given whether there are validation rows.
    pub fn early_stopping_in_effect(&self, has_valid: bool) -> Option<usize> {
        self.early_stopping_rounds.filter(|&n| has_valid && n > 0)
    }

    /// The trainer's options these settings mean for binary classification, with monotone
    /// constraints already resolved to one entry per feature.
    pub fn options(&self, monotone_constraints: Vec<i8>, has_valid: bool) -> GbdtOptions {
        GbdtOptions {
            n_trees: self.n_trees,
            learning_rate: self.learning_rate,
            max_depth: self.max_depth,
            min_child_weight: self.min_child_weight,
            lambda: self.lambda,
            alpha: self.alpha,
            gamma: self.gamma,
            subsample: self.subsample,
            colsample_bytree: self.colsample_bytree,
            scale_pos_weight: self.scale_pos_weight,
            monotone_constraints,
            max_bins: self.bins_with_missing(),
            seed: self.seed,
            objective: GbdtObjective::BinaryLogistic,
            early_stopping_rounds: self.early_stopping_in_effect(has_valid),
            threads: self.threads,
        }
    }

    /// These settings as they took effect: both bin counts resolved, and no early-stopping
    /// rounds when nothing was held out or early stopping was turned off.
    pub fn in_effect(&self, has_valid: bool) -> GbdtConfig {
        let bins = self.bins_with_missing();
        GbdtConfig {
            max_bins: bins,
            max_bin: Some(bins.saturating_sub(1)),
            early_stopping_rounds: self.early_stopping_in_effect(has_valid),
            ..self.clone()
        }
    }
}

/// `monotone` as pairs `[["age", 1]]` or as a table `{ age = 1 }` (XGBoost's dictionary form).
fn monotone_pairs_or_table<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, i8)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(
        untagged,
        expecting = "pairs [[\"feature\", 1], ...] or a table { feature = 1 }"
    )]
    enum Given {
        Pairs(Vec<(String, i8)>),
        Table(BTreeMap<String, i8>),
    }
    Ok(match Given::deserialize(deserializer)? {
        Given::Pairs(pairs) => pairs,
        Given::Table(table) => table.into_iter().collect(),
    })
}

/// `max_features` as a count or scikit-learn's `"sqrt"` (the default, `None`).
fn max_features_count_or_sqrt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a number of features or \"sqrt\"")]
    enum Given {
        Count(usize),
        Name(String),
        // JSON null: how a training record writes the default (TOML has no null).
        Default(()),
    }
    match Given::deserialize(deserializer)? {
        Given::Count(n) => Ok(Some(n)),
        Given::Default(()) => Ok(None),
        Given::Name(name) if name == "sqrt" => Ok(None),
        Given::Name(name) => Err(serde::de::Error::custom(format!(
            "max_features = \"{name}\": give a number of features or \"sqrt\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why `text` was refused.
    fn refusal(text: &str) -> String {
        TrainConfig::from_toml(text).unwrap_err().to_string()
    }

    /// A value of the right type for each setting with several names, not its default.
    fn value_for(name: &str) -> &'static str {
        match name {
            "n_trees" | "n_estimators" | "num_boost_round" => "17",
            "learning_rate" | "eta" => "0.125",
            "lambda" | "reg_lambda" => "2.5",
            "alpha" | "reg_alpha" => "0.25",
            "gamma" | "min_split_loss" => "0.5",
            "seed" | "random_state" => "99",
            "monotone" | "monotone_constraints" => "[[\"age\", 1]]",
            "max_bins" => "64",
            "max_bin" => "63",
            other => panic!("no test value for {other}"),
        }
    }

    #[test]
    fn every_synonym_means_the_same_setting_as_lockstep_s_name() {
        for (table, groups) in [("gbdt", GBDT_SYNONYMS), ("forest", FOREST_SYNONYMS)] {
            for group in groups {
                let canonical = format!("[{table}]\n{} = {}\n", group[0], value_for(group[0]));
                let expected = TrainConfig::from_toml(&canonical).unwrap();
                for name in &group[1..] {
                    let text = format!("[{table}]\n{name} = {}\n", value_for(name));
                    let got =
                        TrainConfig::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    assert_eq!(
                        got.gbdt.options(Vec::new(), true),
                        expected.gbdt.options(Vec::new(), true),
                        "{text}"
                    );
                    assert_eq!(got.forest.options(), expected.forest.options(), "{text}");
                    assert_eq!(got.gbdt.monotone, expected.gbdt.monotone, "{text}");
                    // And it is not the default, so the name was read.
                    assert!(
                        got.gbdt.options(Vec::new(), true)
                            != GbdtConfig::default().options(Vec::new(), true)
                            || got.forest.options() != ForestOptions::default()
                            || !got.gbdt.monotone.is_empty(),
                        "{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn two_names_of_one_setting_are_refused_naming_both() {
        for (table, groups) in [("gbdt", GBDT_SYNONYMS), ("forest", FOREST_SYNONYMS)] {
            for group in groups {
                for (i, first) in group.iter().enumerate() {
                    for second in &group[i + 1..] {
                        let text = format!(
                            "[{table}]\n{first} = {}\n{second} = {}\n",
                            value_for(first),
                            value_for(second)
                        );
                        let message = refusal(&text);
                        assert!(
                            message.contains(&format!("[{table}]"))
                                && message.contains(&format!("`{first}`"))
                                && message.contains(&format!("`{second}`")),
                            "{text}: {message}"
                        );
                    }
                }
            }
        }
        let message = refusal("[gbdt]\nmax_bins = 256\nmax_bin = 255\n");
        assert!(message.contains("missing bin"), "{message}");
    }

    #[test]
    fn valid_fraction_outside_zero_to_one_is_refused() {
        for bad in ["-0.5", "nan", "1.0", "1.5", "inf", "-inf"] {
            let message = refusal(&format!("valid_fraction = {bad}\n"));
            assert!(
                message.starts_with("valid_fraction = ") && message.contains("below 1"),
                "{bad}: {message}"
            );
        }
        for good in ["0.0", "0.2", "0.99"] {
            let config = TrainConfig::from_toml(&format!("valid_fraction = {good}\n"));
            assert!(config.is_ok(), "{good}");
        }
    }

    #[test]
    fn count_settings_above_their_caps_are_refused_naming_the_setting() {
        for (text, option) in [
            ("[gbdt]\nn_trees = 100001\n", "[gbdt] n_trees"),
            ("[gbdt]\nthreads = 100000\n", "[gbdt] threads"),
            ("[forest]\nn_estimators = 1000000000\n", "[forest] n_trees"),
            ("[forest]\nthreads = 5000\n", "[forest] threads"),
            ("[logistic]\nn_lambdas = 10000001\n", "[logistic] n_lambdas"),
            ("[logistic]\nfolds = 100000\n", "[logistic] folds"),
        ] {
            let message = refusal(text);
            assert!(
                message.starts_with(&format!("{option} = ")) && message.contains("cap of"),
                "{text}: {message}"
            );
        }
        assert!(TrainConfig::from_toml("[gbdt]\nn_trees = 100000\n").is_ok());
    }

    #[test]
    fn max_bin_counts_value_bins_as_in_xgboost() {
        let xgb = TrainConfig::from_toml("[gbdt]\nmax_bin = 31\n").unwrap();
        let own = TrainConfig::from_toml("[gbdt]\nmax_bins = 32\n").unwrap();
        assert_eq!(xgb.gbdt.options(Vec::new(), false).max_bins, 32);
        assert_eq!(
            xgb.gbdt.options(Vec::new(), false),
            own.gbdt.options(Vec::new(), false)
        );
        for config in [&xgb, &own] {
            let in_effect = config.gbdt.in_effect(false);
            assert_eq!((in_effect.max_bins, in_effect.max_bin), (32, Some(31)));
        }
        for bad in ["0", "256", "1000"] {
            let message = refusal(&format!("[gbdt]\nmax_bin = {bad}\n"));
            assert!(
                message.contains(&format!("max_bin = {bad}")) && message.contains("1..=255"),
                "{message}"
            );
        }
    }

    #[test]
    fn monotone_constraints_read_as_pairs_or_as_a_table() {
        let pairs =
            TrainConfig::from_toml("[gbdt]\nmonotone = [[\"age\", 1], [\"bmi\", -1]]\n").unwrap();
        let table =
            TrainConfig::from_toml("[gbdt]\nmonotone_constraints = { bmi = -1, age = 1 }\n")
                .unwrap();
        assert_eq!(pairs.gbdt.monotone, table.gbdt.monotone);
        let message = refusal("[gbdt]\nmonotone_constraints = \"(1,-1)\"\n");
        assert!(message.contains("table { feature = 1 }"), "{message}");
    }

    #[test]
    fn max_features_reads_scikit_learn_s_sqrt() {
        let sqrt = TrainConfig::from_toml("[forest]\nmax_features = \"sqrt\"\n").unwrap();
        assert_eq!(sqrt.forest.options(), ForestOptions::default());
        let count = TrainConfig::from_toml("[forest]\nmax_features = 3\n").unwrap();
        assert_eq!(count.forest.max_features, Some(3));
        let message = refusal("[forest]\nmax_features = \"log2\"\n");
        assert!(message.contains("\"sqrt\""), "{message}");
    }

    #[test]
    fn a_config_with_lockstep_s_names_loads_as_before() {
        // Every name a config could use before XGBoost's were accepted.
        let text = "kind = \"gbdt\"\ntarget = \"y\"\ntrain_where = \"x <= 1\"\n\
            valid_fraction = 0.25\n[gbdt]\nn_trees = 40\nlearning_rate = 0.2\nmax_depth = 3\n\
            min_child_weight = 2.0\nlambda = 3.0\nalpha = 0.1\ngamma = 0.2\nsubsample = 0.9\n\
            colsample_bytree = 0.7\nscale_pos_weight = 1.5\nmonotone = [[\"x\", -1]]\n\
            max_bins = 128\nseed = 5\nearly_stopping_rounds = 7\nthreads = 2\n\
            [forest]\nn_trees = 9\nmax_depth = 5\nmin_samples_leaf = 3\nmax_features = 2\n\
            bootstrap = false\nmax_bins = 64\nseed = 6\nthreads = 1\n\
            [logistic]\nalpha = 0.5\nn_lambdas = 20\nlambda_min_ratio = 0.01\nfolds = 3\n\
            seed = 8\none_se_rule = true\ntolerance = 1e-6\nmax_iterations = 50\n";
        let config = TrainConfig::from_toml(text).unwrap();
        assert_eq!(config.valid_fraction, Some(0.25));
        assert_eq!(
            config.gbdt.options(vec![-1], true),
            GbdtOptions {
                n_trees: 40,
                learning_rate: 0.2,
                max_depth: 3,
                min_child_weight: 2.0,
                lambda: 3.0,
                alpha: 0.1,
                gamma: 0.2,
                subsample: 0.9,
                colsample_bytree: 0.7,
                scale_pos_weight: 1.5,
                monotone_constraints: vec![-1],
                max_bins: 128,
                seed: 5,
                objective: GbdtObjective::BinaryLogistic,
                early_stopping_rounds: Some(7),
                threads: 2,
            }
        );
        assert_eq!(config.gbdt.monotone, [("x".to_string(), -1)]);
        assert_eq!(
            config.forest.options(),
            ForestOptions {
                n_trees: 9,
                max_depth: 5,
                min_samples_leaf: 3,
                max_features: MaxFeatures::Count(2),
                bootstrap: false,
                max_bins: 64,
                seed: 6,
                threads: 1,
            }
        );
        assert_eq!(
            (
                config.logistic.alpha,
                config.logistic.n_lambdas,
                config.logistic.folds
            ),
            (0.5, 20, 3)
        );
        assert!(config.logistic.one_se_rule);
    }

    #[test]
    fn early_stopping_is_in_effect_only_with_validation_rows_and_rounds() {
        let defaults = GbdtConfig::default();
        assert_eq!(defaults.in_effect(true).early_stopping_rounds, Some(30));
        assert_eq!(defaults.in_effect(false).early_stopping_rounds, None);
        assert_eq!(
            defaults.options(Vec::new(), false).early_stopping_rounds,
            None
        );
        let off = TrainConfig::from_toml("[gbdt]\nearly_stopping_rounds = 0\n").unwrap();
        assert_eq!(off.gbdt.in_effect(true).early_stopping_rounds, None);
        assert_eq!(
            off.gbdt.options(Vec::new(), true).early_stopping_rounds,
            None
        );
    }

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

//! The training record `lockstep train` writes next to each model (MODEL.training.json): where
//! the model came from (hashes of model, data and schema), the settings used, the row counts,
//! the rounds or the regularisation path, and each feature's training distribution, which
//! `validate` compares later data with.
//!
//! Record types are only written (and `FeatureDistribution` read back by `validate` and `data
//! check`); field names are the JSON keys, so renaming a field changes the file format.

use serde::{Deserialize, Serialize};

use super::config::{
    ForestConfig, GbdtConfig, LogisticConfig, ModelKind, TrainConfig, DEFAULT_VALID_FRACTION,
};
use super::RoundReport;
use crate::data::FeatureSpec;
use crate::metrics::drift::Bins;

/// Row and event counts of one part of the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartCounts {
    /// Rows.
    pub rows: usize,
    /// Rows with the outcome.
    pub events: usize,
}

/// The training record written next to the model.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingRecord {
    /// Tool version.
    pub lockstep_version: String,
    /// SHA-256 of the compiled model.
    pub model_sha256: String,
    /// SHA-256 of the data CSV.
    pub data_sha256: String,
    /// SHA-256 of the schema file.
    pub schema_sha256: String,
    /// The outcome predicted.
    pub target: String,
    /// The model kind.
    pub kind: ModelKind,
    /// The settings in effect (after defaults and command-line overrides).
    pub config: SettingsInEffect,
    /// Training rows (after removing the validation subset).
    pub train: PartCounts,
    /// Validation rows used for early stopping (gbdt only).
    pub valid: PartCounts,
    /// Held-out test rows.
    pub test: PartCounts,
    /// Per-round losses and validation AUC (gbdt only).
    pub rounds: Vec<RoundReport>,
    /// The last round kept (gbdt only).
    pub best_round: Option<usize>,
    /// Trees in the compiled model.
    pub n_trees: usize,
    /// Test-set AUC of the compiled model (through the engine), if there is a test set.
    pub test_auc: Option<f64>,
    /// Features the model uses (in at least one split, or with a nonzero coefficient), in
    /// schema order.
    pub selected_variables: Vec<String>,
    /// The regularisation path and its cross-validation (logistic only).
    pub logistic: Option<LogisticRecord>,
    /// Each feature's distribution over the training rows (training and validation subsets
    /// together), for comparing later test or field data with.
    pub feature_summaries: Vec<FeatureDistribution>,
}

/// The settings a model was trained with, as they took effect: every default resolved, only
/// the trained kind's table, and nothing the model does not depend on (the thread count), so
/// the record is the same bytes on any machine. Read back (a bundle's manifest holds them),
/// [`SettingsInEffect::to_train_config`] gives the settings that train the same model again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInEffect {
    /// The model kind.
    pub kind: ModelKind,
    /// The outcome predicted.
    pub target: String,
    /// Which rows trained (the rest were the test set); `None`: every row.
    pub train_where: Option<String>,
    /// Fraction of the training rows held out for early stopping (gbdt only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_fraction: Option<f64>,
    /// Gradient-boosting settings (gbdt only); `early_stopping_rounds` is null when there was
    /// no early stopping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbdt: Option<GbdtConfig>,
    /// Random-forest settings (forest only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forest: Option<ForestConfig>,
    /// Penalised logistic regression settings (logistic only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistic: Option<LogisticConfig>,
}

impl SettingsInEffect {
    /// What `config` meant for a model of `target` trained with `valid_rows` validation rows.
    pub fn new(config: &TrainConfig, target: &str, valid_rows: usize) -> Self {
        let gbdt = config.kind == ModelKind::Gbdt;
        SettingsInEffect {
            kind: config.kind,
            target: target.into(),
            train_where: config.train_where.clone(),
            valid_fraction: gbdt.then(|| config.valid_fraction.unwrap_or(DEFAULT_VALID_FRACTION)),
            gbdt: gbdt.then(|| config.gbdt.in_effect(valid_rows > 0)),
            forest: (config.kind == ModelKind::Forest).then(|| config.forest.clone()),
            logistic: (config.kind == ModelKind::Logistic).then(|| config.logistic.clone()),
        }
    }

    /// Settings that train the same model again (`lockstep bundle reproduce`): the kind, target,
    /// split and the trained kind's table as they took effect; the other kinds' tables at their
    /// defaults (unused) and the thread count at 0 (the model does not depend on it).
    pub fn to_train_config(&self) -> TrainConfig {
        TrainConfig {
            kind: self.kind,
            target: Some(self.target.clone()),
            train_where: self.train_where.clone(),
            valid_fraction: self.valid_fraction,
            gbdt: self.gbdt.clone().unwrap_or_default(),
            forest: self.forest.clone().unwrap_or_default(),
            logistic: self.logistic.clone().unwrap_or_default(),
        }
    }

    /// The seed of the trained kind's random choices.
    pub fn seed(&self) -> u64 {
        match self.kind {
            ModelKind::Gbdt => self.gbdt.as_ref().map_or(0, |g| g.seed),
            ModelKind::Forest => self.forest.as_ref().map_or(0, |f| f.seed),
            ModelKind::Logistic => self.logistic.as_ref().map_or(0, |l| l.seed),
        }
    }
}

/// One feature's distribution: counts, mean, sd and quantiles of the present values, and the
/// bins `data check` measures distribution change against (PSI, KS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDistribution {
    /// The feature.
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Rows without a value.
    pub missing: usize,
    /// Mean of the present values (0 if none).
    pub mean: f64,
    /// Population sd of the present values (0 if none).
    pub sd: f64,
    /// 5th, 50th and 95th percentiles (nearest rank; 0 if no values).
    pub p5: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Decile bins (numbers) or level fractions (booleans, categoricals) of the present
    /// values; absent in records written before `data check` existed, and in the validation
    /// report, which shows the moments only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<Bins>,
}

impl FeatureDistribution {
    /// Summarises `values` (encoded as the loader encodes them; NaN is missing) of a column
    /// declared as `spec`, bins included.
    pub fn of_column(spec: &FeatureSpec, values: &[f32]) -> Self {
        FeatureDistribution {
            bins: Some(Bins::of(spec, values)),
            ..Self::of(&spec.name, values)
        }
    }

    /// Summarises `values` (NaN is missing) without bins; sums run in row order.
    pub fn of(name: &str, values: &[f32]) -> Self {
        let mut present: Vec<f64> = values
            .iter()
            .filter(|v| !v.is_nan())
            .map(|&v| f64::from(v))
            .collect();
        let n = present.len();
        let mean = if n == 0 {
            0.0
        } else {
            present.iter().sum::<f64>() / n as f64
        };
        let sd = if n == 0 {
            0.0
        } else {
            (present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt()
        };
        present.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            if n == 0 {
                0.0
            } else {
                present[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
            }
        };
        FeatureDistribution {
            name: name.into(),
            rows: values.len(),
            missing: values.len() - n,
            mean,
            sd,
            p5: rank(0.05),
            p50: rank(0.5),
            p95: rank(0.95),
            bins: None,
        }
    }
}

/// The logistic path as recorded: enough to see why the variables were selected.
#[derive(Debug, Clone, Serialize)]
pub struct LogisticRecord {
    /// Features left out of the fit, with the reason.
    pub excluded_variables: Vec<ExcludedVariable>,
    /// The lambdas, decreasing.
    pub lambdas: Vec<f64>,
    /// Nonzero coefficients at each lambda (a dummy-coded categorical counts one per level).
    pub n_nonzero: Vec<usize>,
    /// Mean held-out binomial deviance over the folds, per lambda.
    pub cv_deviance_mean: Vec<f64>,
    /// Its sd over the folds, per lambda.
    pub cv_deviance_sd: Vec<f64>,
    /// Index of the chosen lambda.
    pub chosen_index: usize,
    /// The chosen lambda.
    pub chosen_lambda: f64,
    /// Intercept at the chosen lambda (original units).
    pub intercept: f64,
    /// Coefficients at the chosen lambda (original units), one entry per fitted feature: a
    /// value feature's coefficient with the value a missing input is replaced by, or a
    /// dummy-coded categorical's coefficient per level (the reference level's is 0) with the
    /// term a missing or unknown value adds.
    pub coefficients: Vec<CoefficientRecord>,
    /// Whether every fit on the full training data converged.
    pub all_converged: bool,
}

/// A feature the logistic fit did not use, and why.
#[derive(Debug, Clone, Serialize)]
pub struct ExcludedVariable {
    /// The feature.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// One feature's coefficients in the chosen model.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CoefficientRecord {
    /// A feature taken as its value (numbers, booleans, two-level categories coded 0/1).
    Value {
        /// The feature.
        name: String,
        /// Its coefficient (per unit of the feature).
        coefficient: f64,
        /// The training mean, used for a missing value.
        fill: f64,
    },
    /// A dummy-coded categorical.
    Levels {
        /// The feature.
        name: String,
        /// The reference level (coefficient 0).
        reference: String,
        /// Every level with its coefficient (log-odds relative to the reference), in schema
        /// order.
        levels: Vec<LevelCoefficient>,
        /// What a missing (or unknown) value adds to the log-odds: the indicators'
        /// coefficients times their training means.
        missing_term: f64,
    },
}

/// One level's coefficient.
#[derive(Debug, Clone, Serialize)]
pub struct LevelCoefficient {
    /// The level.
    pub level: String,
    /// Its coefficient.
    pub coefficient: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config of `kind` with every setting of its table away from the default.
    fn config_of(kind: ModelKind) -> TrainConfig {
        let mut config = TrainConfig {
            kind,
            target: Some("death_2y".into()),
            train_where: Some("surgery_year <= 2015".into()),
            ..TrainConfig::default()
        };
        match kind {
            ModelKind::Gbdt => {
                config.valid_fraction = Some(0.25);
                let g = &mut config.gbdt;
                (g.n_trees, g.learning_rate, g.max_depth, g.min_child_weight) = (17, 0.125, 3, 2.0);
                (g.lambda, g.alpha, g.gamma, g.subsample) = (2.5, 0.25, 0.5, 0.7);
                (g.colsample_bytree, g.scale_pos_weight, g.seed) = (0.6, 1.5, 99);
                g.monotone = vec![("age".into(), 1), ("bmi".into(), -1)];
                (g.max_bin, g.early_stopping_rounds, g.threads) = (Some(63), Some(7), 3);
            }
            ModelKind::Forest => {
                let f = &mut config.forest;
                (f.n_trees, f.max_depth, f.min_samples_leaf) = (13, 5, 7);
                (f.max_features, f.bootstrap, f.max_bins, f.seed) = (Some(3), false, 64, 5);
            }
            ModelKind::Logistic => {
                let l = &mut config.logistic;
                (l.alpha, l.n_lambdas, l.lambda_min_ratio, l.folds) = (0.5, 20, 0.01, 4);
                (l.seed, l.one_se_rule, l.tolerance, l.max_iterations) = (8, true, 1e-6, 500);
            }
        }
        config
    }

    #[test]
    fn settings_in_effect_round_trip_to_a_config_for_every_kind() {
        for kind in [ModelKind::Gbdt, ModelKind::Forest, ModelKind::Logistic] {
            for valid_rows in [0, 100] {
                let mut configs = vec![config_of(kind)];
                // The forest's default max_features (the square root) is written as null.
                if kind == ModelKind::Forest {
                    configs.push(TrainConfig {
                        kind,
                        ..TrainConfig::default()
                    });
                }
                for config in configs {
                    let target = config.target.clone().unwrap_or_else(|| "y".into());
                    let settings = SettingsInEffect::new(&config, &target, valid_rows);
                    let json = serde_json::to_string(&settings).unwrap();
                    let read: SettingsInEffect = serde_json::from_str(&json).unwrap();
                    let again = read.to_train_config();
                    // The config read back means the same training: the trainer's options
                    // are equal, and it records the same settings in effect.
                    assert_eq!(
                        serde_json::to_string(&SettingsInEffect::new(&again, &target, valid_rows))
                            .unwrap(),
                        json,
                        "{kind:?}"
                    );
                    let monotone = vec![0i8; 2];
                    let has_valid = valid_rows > 0;
                    match kind {
                        ModelKind::Gbdt => {
                            let mut expected = config.gbdt.options(monotone.clone(), has_valid);
                            expected.threads = 0;
                            assert_eq!(again.gbdt.options(monotone, has_valid), expected);
                            assert_eq!(again.gbdt.monotone, config.gbdt.monotone);
                            assert_eq!(again.valid_fraction, config.valid_fraction);
                        }
                        ModelKind::Forest => {
                            assert_eq!(again.forest.options(), config.forest.options())
                        }
                        ModelKind::Logistic => assert_eq!(
                            format!("{:?}", again.logistic),
                            format!("{:?}", config.logistic)
                        ),
                    }
                    assert_eq!(again.kind, kind);
                    assert_eq!(again.train_where, config.train_where);
                    assert_eq!(read.seed(), settings.seed());
                }
            }
        }
    }
}

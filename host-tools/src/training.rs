//! The `lockstep train` pipeline: load a CSV through its schema, split it (temporal or by any
//! column), train one of three model kinds, compile, and score the held-out test rows through
//! the compiled bytes (the engine, never the trainer), then write a training record next to
//! the model.
//!
//! Kinds: `gbdt` (gradient boosting; a deterministic validation subset of the training rows
//! drives early stopping), `forest` (random forest on every training row) and `logistic`
//! (penalised logistic regression path, lambda chosen by k-fold cross-validation on every
//! training row; categorical features with more than two levels are left out, because a
//! coefficient on a level's index means nothing).

use std::path::{Path, PathBuf};

use lockstep_engine::Model;
use serde::{Deserialize, Serialize};

use crate::data::{self, Dataset, FeatureKind};
use crate::inspect::hex;
use crate::rng;
use crate::train::forest::{self, ForestOptions, MaxFeatures};
use crate::train::linear::{self, ElasticNetOptions};
use crate::train::linear_spec::logistic_spec;
use crate::train::{self, GbdtOptions, Objective, RoundReport, TrainData};

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
    fn default() -> Self {
        ForestConfig {
            n_trees: 200,
            max_depth: 8,
            min_samples_leaf: 20,
            max_features: None,
            bootstrap: true,
            max_bins: 256,
            seed: 2024,
            threads: 0,
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
            seed: 2024,
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
    fn default() -> Self {
        GbdtConfig {
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
            monotone: Vec::new(),
            max_bins: 256,
            seed: 2024,
            early_stopping_rounds: Some(30),
            threads: 0,
        }
    }
}

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// Data or schema problem.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Reading the config failed.
    #[error("config '{file}': {detail}")]
    Config {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The requested target is not an outcome column of the schema.
    #[error("target '{target}' is not an outcome column (the schema declares: {available})")]
    UnknownTarget {
        /// Requested target.
        target: String,
        /// Declared targets.
        available: String,
    },
    /// A monotone constraint names an unknown feature.
    #[error("monotone constraint on unknown feature '{0}'")]
    UnknownFeature(String),
    /// The trainer refused.
    #[error("training: {0}")]
    Train(#[from] train::TrainError),
    /// The logistic path could not be fitted.
    #[error("logistic regression: {0}")]
    Linear(#[from] linear::LinearError),
    /// The trained model could not be compiled.
    #[error("compiling the trained model: {0}")]
    Build(#[from] lockstep_engine::builder::BuildError),
}

/// Row and event counts of one part of the data.
#[derive(Debug, Clone, Serialize)]
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
    /// The settings used (after defaults and command-line overrides).
    pub config: TrainConfig,
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
    pub feature_summaries: Vec<FeatureSummary>,
}

/// One feature's distribution: counts, mean, sd and quantiles of the present values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSummary {
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
}

impl FeatureSummary {
    /// Summarises `values` (NaN is missing); sums run in row order.
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
        FeatureSummary {
            name: name.into(),
            rows: values.len(),
            missing: values.len() - n,
            mean,
            sd,
            p5: rank(0.05),
            p50: rank(0.5),
            p95: rank(0.95),
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
    /// Nonzero coefficients at each lambda.
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
    /// Coefficient per fitted feature at the chosen lambda (original units), with the value a
    /// missing input is replaced by.
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

/// One coefficient of the chosen model.
#[derive(Debug, Clone, Serialize)]
pub struct CoefficientRecord {
    /// The feature.
    pub name: String,
    /// Its coefficient (per unit of the feature).
    pub coefficient: f64,
    /// The training mean, used for a missing value.
    pub fill: f64,
}

/// Reads a config file.
pub fn load_config(path: &Path) -> Result<TrainConfig, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::Config {
        file: path.into(),
        detail: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| TrainingError::Config {
        file: path.into(),
        detail: e.to_string(),
    })
}

/// What `train_model` produced.
pub struct TrainingOutcome {
    /// The compiled model bytes.
    pub model: Vec<u8>,
    /// The record.
    pub record: TrainingRecord,
    /// Wall-clock seconds spent in the trainer itself (not loading or scoring); kept out of the
    /// record so that records are reproducible.
    pub train_seconds: f64,
}

fn counts(labels: &[f32]) -> PartCounts {
    PartCounts {
        rows: labels.len(),
        events: labels.iter().filter(|&&y| y == 1.0).count(),
    }
}

/// Splits rows into (train, valid) by a seeded hash of the row index.
fn validation_mask(n: usize, fraction: f64, seed: u64) -> Vec<bool> {
    (0..n)
        .map(|row| {
            let bits = rng::finalize(seed ^ (row as u64).wrapping_mul(rng::GAMMA));
            rng::unit_f64(bits) < fraction
        })
        .collect()
}

fn subset(dataset: &Dataset, keep: &[bool], target: usize) -> (Vec<Vec<f32>>, Vec<f32>) {
    let columns = dataset
        .columns
        .iter()
        .map(|c| {
            c.iter()
                .zip(keep)
                .filter(|(_, &k)| k)
                .map(|(&v, _)| v)
                .collect()
        })
        .collect();
    let labels = dataset.targets[target]
        .1
        .iter()
        .zip(keep)
        .filter(|(_, &k)| k)
        .map(|(&v, _)| v)
        .collect();
    (columns, labels)
}

/// Trains a gradient-boosted model on `data_path` (described by `schema_path`).
pub fn train_model(
    data_path: &Path,
    schema_path: &Path,
    config: TrainConfig,
    progress: impl FnMut(&RoundReport),
) -> Result<TrainingOutcome, TrainingError> {
    let mut progress = progress;
    let (schema, schema_sha256) = data::load_schema_hashed(schema_path)?;
    let dataset = data::load_csv(data_path, &schema)?;
    let target_name = config.target.clone().unwrap_or_else(|| {
        dataset
            .targets
            .first()
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    });
    let target = dataset
        .targets
        .iter()
        .position(|(n, _)| *n == target_name)
        .ok_or_else(|| TrainingError::UnknownTarget {
            target: target_name.clone(),
            available: dataset.target_names(),
        })?;
    let in_train = match &config.train_where {
        Some(expr) => dataset.rows_where(expr)?,
        None => vec![true; dataset.n_rows],
    };
    let test_mask: Vec<bool> = in_train.iter().map(|&t| !t).collect();
    let (test_columns, test_labels) = subset(&dataset, &test_mask, target);
    let fitted = match config.kind {
        ModelKind::Gbdt => fit_gbdt(&dataset, &in_train, target, &config, &mut progress)?,
        ModelKind::Forest => fit_forest(&dataset, &in_train, target, &config.forest)?,
        ModelKind::Logistic => {
            fit_logistic(&dataset, &schema, &in_train, target, &config.logistic)?
        }
    };
    let mut spec = fitted.spec;
    spec.label = format!(
        "{target_name} ({}, {})",
        match config.kind {
            ModelKind::Gbdt => "gbdt",
            ModelKind::Forest => "forest",
            ModelKind::Logistic => "logistic",
        },
        schema_path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into())
    );
    let model_bytes = spec.to_bytes()?;

    // Everything below reads the compiled bytes through the engine.
    let model =
        Model::from_bytes(&model_bytes).map_err(lockstep_engine::builder::BuildError::Invalid)?;
    let test_auc = (!test_labels.is_empty()).then(|| {
        let mut row = vec![0.0f32; model.n_features()];
        let (mut margin, mut prob) = ([0.0f32], [0.0f32]);
        let scores: Vec<f32> = (0..test_labels.len())
            .map(|r| {
                for (slot, column) in row.iter_mut().zip(&test_columns) {
                    *slot = column[r];
                }
                model
                    .predict(&row, &mut margin, &mut prob)
                    .map(|()| prob[0])
                    .unwrap_or(f32::NAN)
            })
            .collect();
        train::auc(&scores, &test_labels)
    });
    let mut used: Vec<bool> = (0..model.n_features())
        .map(|j| model.linear_term(j).is_some_and(|(c, _)| c != 0.0))
        .collect();
    for tree in model.trees() {
        for node in tree.nodes() {
            if let lockstep_engine::view::NodeView::Split { feature, .. } = node {
                used[feature] = true;
            }
        }
    }
    let record = TrainingRecord {
        lockstep_version: env!("CARGO_PKG_VERSION").into(),
        model_sha256: hex(&model.checksum()),
        data_sha256: dataset.sha256.clone(),
        schema_sha256,
        target: target_name,
        kind: config.kind,
        config,
        train: fitted.train,
        valid: fitted.valid,
        test: counts(&test_labels),
        rounds: fitted.rounds,
        best_round: fitted.best_round,
        n_trees: model.n_trees(),
        test_auc,
        selected_variables: dataset
            .feature_names
            .iter()
            .zip(&used)
            .filter(|(_, &u)| u)
            .map(|(n, _)| n.clone())
            .collect(),
        logistic: fitted.logistic,
        feature_summaries: dataset
            .feature_names
            .iter()
            .zip(&dataset.columns)
            .map(|(name, column)| {
                let values: Vec<f32> = column
                    .iter()
                    .zip(&in_train)
                    .filter(|(_, &t)| t)
                    .map(|(&v, _)| v)
                    .collect();
                FeatureSummary::of(name, &values)
            })
            .collect(),
    };
    Ok(TrainingOutcome {
        model: model_bytes,
        record,
        train_seconds: fitted.seconds,
    })
}

/// What one kind's fit hands back to the pipeline.
struct Fitted {
    spec: lockstep_engine::builder::ModelSpec,
    train: PartCounts,
    valid: PartCounts,
    rounds: Vec<RoundReport>,
    best_round: Option<usize>,
    logistic: Option<LogisticRecord>,
    /// Seconds in the trainer itself.
    seconds: f64,
}

fn fit_gbdt(
    dataset: &Dataset,
    in_train: &[bool],
    target: usize,
    config: &TrainConfig,
    progress: &mut impl FnMut(&RoundReport),
) -> Result<Fitted, TrainingError> {
    let gbdt = &config.gbdt;
    let valid_fraction = config.valid_fraction.unwrap_or(0.2);
    let held = validation_mask(dataset.n_rows, valid_fraction, gbdt.seed);
    let train_mask: Vec<bool> = in_train.iter().zip(&held).map(|(&t, &h)| t && !h).collect();
    let valid_mask: Vec<bool> = in_train.iter().zip(&held).map(|(&t, &h)| t && h).collect();
    let (train_columns, train_labels) = subset(dataset, &train_mask, target);
    let (valid_columns, valid_labels) = subset(dataset, &valid_mask, target);

    let mut monotone = vec![0i8; dataset.feature_names.len()];
    for (name, sign) in &gbdt.monotone {
        let index = dataset
            .feature_names
            .iter()
            .position(|f| f == name)
            .ok_or_else(|| TrainingError::UnknownFeature(name.clone()))?;
        monotone[index] = *sign;
    }
    let has_valid = !valid_labels.is_empty();
    let options = GbdtOptions {
        n_trees: gbdt.n_trees,
        learning_rate: gbdt.learning_rate,
        max_depth: gbdt.max_depth,
        min_child_weight: gbdt.min_child_weight,
        lambda: gbdt.lambda,
        alpha: gbdt.alpha,
        gamma: gbdt.gamma,
        subsample: gbdt.subsample,
        colsample_bytree: gbdt.colsample_bytree,
        scale_pos_weight: gbdt.scale_pos_weight,
        monotone_constraints: monotone,
        max_bins: gbdt.max_bins,
        seed: gbdt.seed,
        objective: Objective::BinaryLogistic,
        early_stopping_rounds: if has_valid {
            gbdt.early_stopping_rounds
        } else {
            None
        },
        threads: gbdt.threads,
    };
    let train_data = TrainData {
        feature_names: &dataset.feature_names,
        columns: &train_columns,
        labels: &train_labels,
    };
    let valid_data = TrainData {
        feature_names: &dataset.feature_names,
        columns: &valid_columns,
        labels: &valid_labels,
    };
    let started = std::time::Instant::now();
    let trained = train::train(
        &train_data,
        has_valid.then_some(&valid_data),
        &options,
        |r| progress(&r),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Fitted {
        spec: trained.spec,
        train: counts(&train_labels),
        valid: counts(&valid_labels),
        rounds: trained.rounds,
        best_round: Some(trained.best_round),
        logistic: None,
        seconds,
    })
}

fn fit_forest(
    dataset: &Dataset,
    in_train: &[bool],
    target: usize,
    config: &ForestConfig,
) -> Result<Fitted, TrainingError> {
    let (columns, labels) = subset(dataset, in_train, target);
    let options = ForestOptions {
        n_trees: config.n_trees,
        max_depth: config.max_depth,
        min_samples_leaf: config.min_samples_leaf,
        max_features: config
            .max_features
            .map_or(MaxFeatures::Sqrt, MaxFeatures::Count),
        bootstrap: config.bootstrap,
        max_bins: config.max_bins,
        seed: config.seed,
        threads: config.threads,
    };
    let data = TrainData {
        feature_names: &dataset.feature_names,
        columns: &columns,
        labels: &labels,
    };
    let started = std::time::Instant::now();
    let trained = forest::train_forest(&data, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Fitted {
        spec: trained.spec,
        train: counts(&labels),
        valid: counts(&[]),
        rounds: Vec::new(),
        best_round: None,
        logistic: None,
        seconds,
    })
}

fn fit_logistic(
    dataset: &Dataset,
    schema: &data::Schema,
    in_train: &[bool],
    target: usize,
    config: &LogisticConfig,
) -> Result<Fitted, TrainingError> {
    let (columns, labels) = subset(dataset, in_train, target);
    // Which features a linear predictor can use: numbers, booleans and two-level categories
    // (their index is a 0/1 indicator).
    let mut fitted_features = Vec::new();
    let mut excluded_variables = Vec::new();
    for (index, name) in dataset.feature_names.iter().enumerate() {
        let kind = schema
            .features
            .iter()
            .find(|f| f.name == *name)
            .map(|f| &f.kind);
        match kind {
            Some(FeatureKind::Categorical { levels }) if levels.len() > 2 => {
                excluded_variables.push(ExcludedVariable {
                    name: name.clone(),
                    reason: format!(
                        "categorical with {} levels; a linear term on a level's index has no meaning",
                        levels.len()
                    ),
                });
            }
            _ => fitted_features.push(index),
        }
    }
    let fitted_names: Vec<String> = fitted_features
        .iter()
        .map(|&j| dataset.feature_names[j].clone())
        .collect();
    let fitted_columns: Vec<Vec<f32>> = fitted_features
        .iter()
        .map(|&j| columns[j].clone())
        .collect();
    let options = ElasticNetOptions {
        alpha: config.alpha,
        n_lambdas: config.n_lambdas,
        lambda_min_ratio: config.lambda_min_ratio,
        folds: config.folds,
        seed: config.seed,
        tolerance: config.tolerance,
        max_iterations: config.max_iterations,
        one_se_rule: config.one_se_rule,
    };
    let data = TrainData {
        feature_names: &fitted_names,
        columns: &fitted_columns,
        labels: &labels,
    };
    let started = std::time::Instant::now();
    let path = linear::fit_path(&data, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    let chosen = path.chosen_index;
    // Widen the fitted model to every feature: excluded ones get a zero coefficient, which the
    // engine skips, so its sum is the path's own sum term for term.
    let mut full = path.clone();
    full.feature_names = dataset.feature_names.clone();
    full.imputation_values = vec![0.0; dataset.feature_names.len()];
    full.scales = vec![1.0; dataset.feature_names.len()];
    full.coefficients = path
        .coefficients
        .iter()
        .map(|fitted| {
            let mut wide = vec![0.0; dataset.feature_names.len()];
            for (&j, &b) in fitted_features.iter().zip(fitted) {
                wide[j] = b;
            }
            wide
        })
        .collect();
    for (&j, &fill) in fitted_features.iter().zip(&path.imputation_values) {
        full.imputation_values[j] = fill;
    }
    let record = LogisticRecord {
        excluded_variables,
        lambdas: path.lambdas.clone(),
        n_nonzero: path.n_nonzero(),
        cv_deviance_mean: path.cv_deviance_mean.clone(),
        cv_deviance_sd: path.cv_deviance_sd.clone(),
        chosen_index: chosen,
        chosen_lambda: path.chosen_lambda(),
        intercept: path.intercepts[chosen],
        coefficients: fitted_names
            .iter()
            .zip(&path.coefficients[chosen])
            .zip(&path.imputation_values)
            .map(|((name, &coefficient), &fill)| CoefficientRecord {
                name: name.clone(),
                coefficient,
                fill,
            })
            .collect(),
        all_converged: path.converged.iter().all(|&c| c),
    };
    Ok(Fitted {
        spec: logistic_spec(&full, chosen),
        train: counts(&labels),
        valid: counts(&[]),
        rounds: Vec::new(),
        best_round: None,
        logistic: Some(record),
        seconds,
    })
}

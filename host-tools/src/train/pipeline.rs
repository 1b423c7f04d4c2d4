//! The `lockstep train` pipeline: load a CSV through its schema, split it (temporal or by any
//! column), train one of three model kinds, compile, and score the held-out test rows through
//! the compiled bytes (the engine, never the trainer), then write a training record next to
//! the model.
//!
//! Kinds: `gbdt` (gradient boosting; a deterministic validation subset of the training rows
//! drives early stopping), `forest` (random forest on every training row) and `logistic`
//! (penalised logistic regression path, lambda chosen by k-fold cross-validation on every
//! training row; a categorical with more than two levels, or with a reference level other
//! than its first, is dummy coded: one indicator per level except the reference, compiled as
//! one coefficient per level).
//!
//! The settings are in [`super::config`] and the record written in [`super::record`]; writing
//! the files and the progress bar are the command's (`crate::commands::train`).

use std::path::{Path, PathBuf};

use lockstep_engine::Model;

use super::config::{ForestConfig, LogisticConfig, ModelKind, TrainConfig};
use super::forest;
use super::linear::{self, ElasticNetOptions, FeatureCoding, FeatureTerm};
use super::linear_spec::linear_terms_spec;
use super::record::{
    CoefficientRecord, FeatureDistribution, LevelCoefficient, LogisticRecord, PartCounts,
    SettingsInEffect, TrainingRecord,
};
use super::{RoundReport, TrainData};
use crate::data::{self, Dataset, FeatureKind};
use crate::inspect::hex;
use crate::rng;
use crate::train;

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

/// Reads a config file.
pub fn load_config(path: &Path) -> Result<TrainConfig, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::Config {
        file: path.into(),
        detail: e.to_string(),
    })?;
    TrainConfig::from_toml(&text).map_err(|e| TrainingError::Config {
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

/// Trains the model `config.kind` names on `data_path` (described by `schema_path`), compiles
/// it and scores the test rows through the compiled bytes.
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
        .map(|j| {
            // A dummy-coded categorical counts when any level's coefficient is nonzero.
            model.linear_term(j).is_some_and(|(c, _)| c != 0.0)
                || model
                    .level_terms(j)
                    .is_some_and(|terms| terms.levels().any(|(_, b)| b != 0.0))
        })
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
        kind: config.kind,
        config: SettingsInEffect::new(&config, &target_name, fitted.valid.rows),
        target: target_name,
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
                match schema.column_spec(name) {
                    Some(spec) => FeatureDistribution::of_column(spec, &values),
                    None => FeatureDistribution::of(name, &values),
                }
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
    let valid_fraction = config
        .valid_fraction
        .unwrap_or(super::config::DEFAULT_VALID_FRACTION);
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
    let options = gbdt.options(monotone, has_valid);
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
    let options = config.options();
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
    // How each feature enters the linear predictor: numbers and booleans as their value; a
    // categorical dummy coded against its reference level, unless it has two levels with the
    // first as reference, whose 0/1 code already is that indicator.
    let codings: Vec<FeatureCoding> = dataset
        .feature_names
        .iter()
        .map(|name| {
            let kind = schema
                .features
                .iter()
                .find(|f| f.name == *name)
                .map(|f| &f.kind);
            match kind {
                Some(FeatureKind::Categorical { levels, reference })
                    if levels.len() > 2 || *reference != 0 =>
                {
                    FeatureCoding::Dummy {
                        levels: levels.clone(),
                        reference: *reference,
                    }
                }
                _ => FeatureCoding::Value,
            }
        })
        .collect();
    let (fitted_names, fitted_columns) =
        linear::dummy_design(&dataset.feature_names, &columns, &codings);
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
    let model = path.terms_at(chosen, &codings);
    let coefficients = dataset
        .feature_names
        .iter()
        .zip(&codings)
        .zip(&model.terms)
        .map(|((name, coding), term)| match term {
            FeatureTerm::Value { coefficient, fill } => CoefficientRecord::Value {
                name: name.clone(),
                coefficient: *coefficient,
                fill: *fill,
            },
            FeatureTerm::Levels { coefficients, fill } => {
                // Levels terms come from dummy codings, which name their levels.
                let (names, reference) = match coding {
                    FeatureCoding::Dummy { levels, reference } => (levels.clone(), *reference),
                    FeatureCoding::Value => (Vec::new(), 0),
                };
                let level_name =
                    |code: usize| names.get(code).cloned().unwrap_or_else(|| code.to_string());
                CoefficientRecord::Levels {
                    name: name.clone(),
                    reference: level_name(reference),
                    levels: coefficients
                        .iter()
                        .enumerate()
                        .map(|(code, &coefficient)| LevelCoefficient {
                            level: level_name(code),
                            coefficient,
                        })
                        .collect(),
                    missing_term: *fill,
                }
            }
        })
        .collect();
    let record = LogisticRecord {
        excluded_variables: Vec::new(),
        lambdas: path.lambdas.clone(),
        n_nonzero: path.n_nonzero(),
        cv_deviance_mean: path.cv_deviance_mean.clone(),
        cv_deviance_sd: path.cv_deviance_sd.clone(),
        chosen_index: chosen,
        chosen_lambda: path.chosen_lambda(),
        intercept: path.intercepts[chosen],
        coefficients,
        all_converged: path.converged.iter().all(|&c| c),
    };
    Ok(Fitted {
        spec: linear_terms_spec(&model, dataset.feature_names.clone()),
        train: counts(&labels),
        valid: counts(&[]),
        rounds: Vec::new(),
        best_round: None,
        logistic: Some(record),
        seconds,
    })
}

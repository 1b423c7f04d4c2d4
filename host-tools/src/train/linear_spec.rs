//! Compiles a fitted logistic path into the engine's exact linear form: no trees, the intercept
//! as the base margin, and one `(coefficient, fill)` linear term per feature (the engine's
//! `SECTION_LINEAR`), evaluated in f64 with the shared `exp`.
//!
//! Invariant: for every row, the compiled model's margin and probability have the same bits as
//! [`LogisticPath::margin_at`] and [`LogisticPath::predict_proba_at`]: both add
//! `coefficient * value` (the fill when the value is missing) to the intercept in feature order,
//! skipping zero coefficients, then apply `1 / (1 + exp(-margin))` from `lockstep_engine::math`.

use lockstep_engine::builder::{linear_section, ModelSpec};
use lockstep_engine::format::{Aggregation, BaseOrder, Framework, Numerics, Objective};

use super::linear::LogisticPath;

/// The model label compiled logistic models carry.
pub const LOGISTIC_LABEL: &str = "penalised logistic regression";

/// The engine model of `path` at the lambda with index `lambda_index` (usually
/// `path.chosen_index`), ready for `to_bytes`.
///
/// # Panics
/// If `lambda_index` is past the end of the path.
pub fn logistic_spec(path: &LogisticPath, lambda_index: usize) -> ModelSpec {
    let terms: Vec<(f64, f64)> = path.coefficients[lambda_index]
        .iter()
        .zip(&path.imputation_values)
        // A feature that never has a value has no finite mean; it never gets a coefficient
        // either, so its fill is never read.
        .map(|(&coefficient, &fill)| (coefficient, if fill.is_finite() { fill } else { 0.0 }))
        .collect();
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![path.intercepts[lambda_index]],
        feature_names: path.feature_names.clone(),
        feature_ranges: None,
        trees: Vec::new(),
        source_framework: Framework::Lockstep,
        source_version: format!("lockstep-host {}", env!("CARGO_PKG_VERSION")),
        label: LOGISTIC_LABEL.into(),
        sections: vec![linear_section(&terms)],
    }
}

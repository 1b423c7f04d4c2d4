//! Compiles a fitted logistic model into the engine's exact linear form: no trees, the
//! intercept as the base margin, one `(coefficient, fill)` linear term per feature (the engine's
//! `SECTION_LINEAR`; zero for a dummy-coded feature) and, when some categorical is dummy coded,
//! one per-level term per such feature (`SECTION_LEVEL_TERMS`: every level's code with its
//! coefficient, the reference level's 0, and the fill of a missing or unknown value), evaluated
//! in f64 with the shared `exp`.
//!
//! Invariant: for every row, the compiled model's margin and probability have the same bits as
//! [`LinearTerms::margin`] and [`LinearTerms::predict_proba`] (and so, for a path without dummy
//! coding, as [`LogisticPath::margin_at`] and [`LogisticPath::predict_proba_at`]): both add
//! to the intercept, feature by feature in index order, `coefficient * value` (the fill when
//! the value is missing) or the input level's coefficient (the fill when it is missing or no
//! level), skipping zeros, then apply `1 / (1 + exp(-margin))` from `lockstep_engine::math`.

use lockstep_engine::builder::{level_terms_section, linear_section, LevelTermSpec, ModelSpec};
use lockstep_engine::format::{Aggregation, BaseOrder, Framework, Numerics, Objective};

use super::linear::{FeatureCoding, FeatureTerm, LinearTerms, LogisticPath};

/// The model label compiled logistic models carry.
pub const LOGISTIC_LABEL: &str = "penalised logistic regression";

/// The engine model of `path` at the lambda with index `lambda_index` (usually
/// `path.chosen_index`), every feature taken as its value, ready for `to_bytes`.
///
/// # Panics
/// If `lambda_index` is past the end of the path.
pub fn logistic_spec(path: &LogisticPath, lambda_index: usize) -> ModelSpec {
    let codings = vec![FeatureCoding::Value; path.feature_names.len()];
    linear_terms_spec(
        &path.terms_at(lambda_index, &codings),
        path.feature_names.clone(),
    )
}

/// The engine model of `model` over the raw features `feature_names` (one per term), ready for
/// `to_bytes`. The level-terms section is written only if some feature is dummy coded, so a
/// model without one has the bytes it always had.
pub fn linear_terms_spec(model: &LinearTerms, feature_names: Vec<String>) -> ModelSpec {
    let mut linear = Vec::with_capacity(model.terms.len());
    let mut levels = Vec::new();
    for (feature, term) in model.terms.iter().enumerate() {
        match term {
            FeatureTerm::Value { coefficient, fill } => linear.push((*coefficient, *fill)),
            FeatureTerm::Levels { coefficients, fill } => {
                linear.push((0.0, 0.0));
                levels.push(LevelTermSpec {
                    feature,
                    fill: *fill,
                    // Level codes are small indices, exact as f32.
                    levels: coefficients
                        .iter()
                        .enumerate()
                        .map(|(code, &b)| (code as f32, b))
                        .collect(),
                });
            }
        }
    }
    let mut sections = vec![linear_section(&linear)];
    if !levels.is_empty() {
        sections.push(level_terms_section(&levels));
    }
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![model.intercept],
        feature_names,
        feature_ranges: None,
        trees: Vec::new(),
        source_framework: Framework::Lockstep,
        source_version: format!("lockstep-host {}", env!("CARGO_PKG_VERSION")),
        label: LOGISTIC_LABEL.into(),
        sections,
    }
}

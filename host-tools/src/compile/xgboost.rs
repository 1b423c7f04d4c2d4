//! XGBoost importer: turns a `save_model` file (JSON text or UBJSON) into a [`ModelSpec`] that
//! evaluates to the same bits as XGBoost's own `predict` for the version that saved the file.
//!
//! Invariant: every number reaches the spec with XGBoost's own rounding. Thresholds, leaves and
//! intercepts are f32 in XGBoost; they are read straight to f32 (UBJSON `d` bits as they are,
//! JSON text rounded once from its decimal text, never through f64). Behaviour that changed
//! between XGBoost releases is chosen from the file's `version` field (see [`Semantics`]).
//! Anything this module cannot reproduce exactly is refused with the feature's name; it never
//! approximates.
//!
//! # What the file holds (the parts read here)
//!
//! ```text
//! version                      [major, minor, patch]
//! learner/objective/name       e.g. "binary:logistic"
//! learner/learner_model_param  base_score (string), num_feature, num_class, num_target
//! learner/feature_names        optional list of names
//! learner/gradient_booster     {name: "gbtree", model} or {name: "dart", gbtree: {model},
//!                              weight_drop}
//! …/model/tree_info            output (class or target) of each tree, in tree order
//! …/model/trees[i]             per-node arrays of one tree (index = node id):
//!     left_children, right_children   child ids, -1 for leaves
//!     split_indices                   feature of a split
//!     split_conditions                f32 threshold of a split; the value of a leaf
//!     default_left                    where NaN goes (bool or 0/1)
//!     split_type                      0 numeric, 1 categorical (absent before 1.3)
//!     categories_nodes/_segments/_sizes, categories
//!                                     node categories_nodes[k] has the category set
//!                                     categories[segments[k] .. segments[k] + sizes[k]]
//! ```
//!
//! A numeric split sends NaN to its default side and `x < threshold` left. A categorical split
//! sends NaN to its default side, members of its set right and everything else left (including
//! values that are no category at all); that is the engine's XGBoost convention.

use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec};
use lockstep_engine::format::{
    limits, Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective,
};
use lockstep_engine::math;

use super::json;
use super::ubjson::{self, ElementError, Value};
use super::CompileError;

const JSON_FORMAT: &str = "XGBoost JSON";
const UBJ_FORMAT: &str = "XGBoost UBJSON";

/// Imports an XGBoost `save_model` JSON file.
pub fn import_json(bytes: &[u8]) -> Result<ModelSpec, CompileError> {
    let root = json::parse(bytes).map_err(|error| CompileError::Malformed {
        format: JSON_FORMAT,
        detail: error.to_string(),
    })?;
    import(&root, JSON_FORMAT)
}

/// Imports an XGBoost `save_model` UBJSON file (`.ubj`).
pub fn import_ubj(bytes: &[u8]) -> Result<ModelSpec, CompileError> {
    let root = ubjson::decode(bytes).map_err(|error| CompileError::Malformed {
        format: UBJ_FORMAT,
        detail: error.to_string(),
    })?;
    import(&root, UBJ_FORMAT)
}

// ---------------------------------------------------------------------------------------------
// Version-dependent behaviour.

/// An XGBoost release, as a model's `version` field records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major release.
    pub major: u32,
    /// Minor release.
    pub minor: u32,
    /// Patch release.
    pub patch: u32,
}

impl Version {
    const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }
}

/// Where XGBoost releases differ in what a loaded model predicts. Each field names the release
/// that changed it and the source it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Semantics {
    /// Before 1.3 the CPU predictor summed a row's trees from zero and added the sum to the
    /// base margin (`PredValue`); from 1.3 every tree is added to a buffer that starts at the
    /// base margin (`PredictByAllTrees`).
    pub base_order: BaseOrder,
    /// Before 1.6 `common::Sigmoid` was `1/(1+expf(-x))`; 1.6.0 clamped the exponent at 88.7 and
    /// added 1e-16 to the denominator (src/common/math.h). Softmax never changed.
    pub numerics: Numerics,
    /// Before 1.2 `base_score` was written with `std::to_string` and read back with dmlc-core's
    /// `stof`, which is not correctly rounded; from 1.2 it is written and read with XGBoost's
    /// Ryu-based `to_chars`/`from_chars` (shortest round trip).
    pub dmlc_base_score: bool,
    /// From 3.2 the logistic link clamps the intercept to `[1e-6, 1 - 1e-6]` before the logit
    /// and accepts 0 and 1; before, it demands `0 < base_score < 1`.
    pub clamped_logit: bool,
    /// Before 1.3.1 (#6517) `binary:logitraw` inherited the logistic `ProbToMargin`, so its
    /// intercept went through the logit although its outputs are raw margins.
    pub logitraw_logit_intercept: bool,
    /// From 1.7.3 (#8591) a categorical split sends every non-member left, invalid categories
    /// included. 1.6.0 to 1.7.2 sent invalid categories (negative, ≥ 2^24 or past the set's
    /// bitset) to the default side, and 1.3 to 1.5 cast to int first; those are refused.
    pub exact_categorical: bool,
}

impl Semantics {
    /// The behaviour of release `version`.
    pub fn of(version: Version) -> Self {
        Semantics {
            base_order: if version < Version::new(1, 3, 0) {
                BaseOrder::Last
            } else {
                BaseOrder::First
            },
            numerics: if version < Version::new(1, 6, 0) {
                Numerics::XgboostLegacy
            } else {
                Numerics::Xgboost
            },
            dmlc_base_score: version < Version::new(1, 2, 0),
            clamped_logit: version >= Version::new(3, 2, 0),
            logitraw_logit_intercept: version < Version::new(1, 3, 1),
            exact_categorical: version >= Version::new(1, 7, 3),
        }
    }
}

/// Oldest release whose JSON models are read (JSON `save_model` arrived in 1.0).
const OLDEST: Version = Version::new(1, 0, 0);
/// Newest major release whose semantics were checked against the source.
const NEWEST_MAJOR: u32 = 3;
/// XGBoost's `kRtEps`, the logistic intercept clamp from 3.2.
const RT_EPS: f32 = 1e-6;

/// How an objective maps margins to outputs (what XGBoost's `PredTransform` does). The
/// intercept (`ProbToMargin`) follows the same link, except for `binary:logitraw` before 1.3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Outputs are margins; the intercept is a margin.
    Identity,
    /// Outputs are sigmoids of margins; the intercept is a probability.
    Logistic,
    /// Outputs are the softmax of the margins; the intercepts are margins.
    Softmax,
}

fn link_of(objective: &str) -> Option<Link> {
    Some(match objective {
        "binary:logistic" | "reg:logistic" => Link::Logistic,
        "multi:softprob" | "multi:softmax" => Link::Softmax,
        "reg:squarederror"
        | "reg:linear"
        | "reg:squaredlogerror"
        | "reg:pseudohubererror"
        | "reg:absoluteerror"
        | "reg:quantileerror"
        | "binary:logitraw" => Link::Identity,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The importer.

/// Reads values out of the tree, naming the JSON path of anything wrong.
struct Reader {
    format: &'static str,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

impl Reader {
    fn malformed(&self, detail: impl Into<String>) -> CompileError {
        CompileError::Malformed {
            format: self.format,
            detail: detail.into(),
        }
    }

    fn optional<'v>(
        &self,
        parent: &'v Value,
        path: &str,
        key: &str,
    ) -> Result<Option<&'v Value>, CompileError> {
        match parent {
            Value::Object(_) => Ok(parent.get(key)),
            other => Err(self.malformed(format!(
                "{} is {}, expected an object",
                path_or_root(path),
                article(other)
            ))),
        }
    }

    fn field<'v>(
        &self,
        parent: &'v Value,
        path: &str,
        key: &str,
    ) -> Result<&'v Value, CompileError> {
        self.optional(parent, path, key)?
            .ok_or_else(|| self.malformed(format!("{} is missing", join(path, key))))
    }

    fn string<'v>(&self, value: &'v Value, path: &str) -> Result<&'v str, CompileError> {
        value.as_str().ok_or_else(|| {
            self.malformed(format!("{path} is {}, expected a string", article(value)))
        })
    }

    /// An integer parameter: XGBoost writes them as decimal strings ("4"); plain integers are
    /// accepted too.
    fn int_param(&self, value: &Value, path: &str) -> Result<i64, CompileError> {
        match value {
            Value::Int(i) => Ok(*i),
            Value::Str(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| self.malformed(format!("{path} is \"{text}\", expected an integer"))),
            other => Err(self.malformed(format!(
                "{path} is {}, expected an integer string",
                article(other)
            ))),
        }
    }

    fn count_param(
        &self,
        parent: &Value,
        path: &str,
        key: &str,
        default: Option<usize>,
    ) -> Result<usize, CompileError> {
        let path_key = join(path, key);
        let value = match (self.optional(parent, path, key)?, default) {
            (Some(value), _) => value,
            (None, Some(default)) => return Ok(default),
            (None, None) => return Err(self.malformed(format!("{path_key} is missing"))),
        };
        let n = self.int_param(value, &path_key)?;
        usize::try_from(n)
            .map_err(|_| self.malformed(format!("{path_key} is {n}, expected a count")))
    }

    fn element_error(
        &self,
        error: ElementError,
        value: &Value,
        path: &str,
        expected: &str,
    ) -> CompileError {
        match error {
            ElementError::NotArray => {
                self.malformed(format!("{path} is {}, expected an array", article(value)))
            }
            ElementError::Element(index) => {
                // Typed arrays (UBJSON's, and JSON's arrays of numbers only) hold one kind.
                let found = match value {
                    Value::IntArray(_) => "an integer",
                    _ => value
                        .as_array()
                        .and_then(|items| items.get(index))
                        .map_or("a number", article),
                };
                self.malformed(format!("{path}[{index}] is {found}, expected {expected}"))
            }
        }
    }

    fn f32s(&self, value: &Value, path: &str) -> Result<Vec<f32>, CompileError> {
        value
            .to_f32_vec()
            .map_err(|e| self.element_error(e, value, path, "a number"))
    }

    fn ints(&self, value: &Value, path: &str) -> Result<Vec<i64>, CompileError> {
        value
            .to_i64_vec()
            .map_err(|e| self.element_error(e, value, path, "an integer"))
    }

    fn bools(&self, value: &Value, path: &str) -> Result<Vec<bool>, CompileError> {
        value
            .to_bool_vec()
            .map_err(|e| self.element_error(e, value, path, "a boolean or 0/1"))
    }
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() {
        "the document"
    } else {
        path
    }
}

fn article(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::F32(_) | Value::F64(_) | Value::Number(_) => "a number",
        Value::Str(_) => "a string",
        Value::Object(_) => "an object",
        _ => "an array",
    }
}

fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}

fn import(root: &Value, format: &'static str) -> Result<ModelSpec, CompileError> {
    let r = Reader { format };
    let version = read_version(&r, root)?;
    if version < OLDEST {
        return Err(unsupported(format!(
            "XGBoost {}.{}.{} model (JSON models start at 1.0)",
            version.major, version.minor, version.patch
        )));
    }
    if version.major > NEWEST_MAJOR {
        return Err(unsupported(format!(
            "XGBoost {}.{}.{} model (this importer knows XGBoost 1.0 to {NEWEST_MAJOR}.x; its \
             prediction semantics for later releases are unverified)",
            version.major, version.minor, version.patch
        )));
    }
    let semantics = Semantics::of(version);
    let learner = r.field(root, "", "learner")?;
    let param_path = "learner/learner_model_param";
    let param = r.field(learner, "learner", "learner_model_param")?;
    let n_features = r.count_param(param, param_path, "num_feature", None)?;
    if n_features > limits::MAX_FEATURES {
        return Err(unsupported(format!(
            "{n_features} features (the engine reads at most {})",
            limits::MAX_FEATURES
        )));
    }
    let outputs = read_outputs(&r, learner, param, param_path, semantics)?;
    let base_margins = read_base_margins(&r, param, param_path, semantics, &outputs)?;
    let booster = read_booster(&r, learner)?;
    let trees = read_trees(
        &r,
        booster.model,
        &booster.model_path,
        semantics,
        n_features,
        outputs.n_outputs,
    )?;
    if let Some(n_weights) = booster.n_dart_weights {
        if n_weights != trees.len() {
            return Err(r.malformed(format!(
                "learner/gradient_booster/weight_drop has {n_weights} entries for {} trees",
                trees.len()
            )));
        }
    }
    Ok(ModelSpec {
        n_outputs: outputs.n_outputs,
        objective: outputs.objective,
        numerics: semantics.numerics,
        base_order: semantics.base_order,
        aggregation: Aggregation::Sum,
        base_margins,
        feature_names: read_feature_names(&r, learner, n_features)?,
        feature_ranges: None,
        trees,
        source_framework: Framework::Xgboost,
        source_version: format!("{}.{}.{}", version.major, version.minor, version.patch),
        label: outputs.objective_name,
        sections: vec![],
    })
}

/// What a model's outputs are, from its objective and output counts.
struct Outputs {
    /// XGBoost's objective name, e.g. "binary:logistic".
    objective_name: String,
    objective: Objective,
    n_outputs: usize,
    /// Whether `base_score` goes through the logit to become a margin (XGBoost's
    /// `ProbToMargin`); otherwise it is a margin already.
    logit_intercept: bool,
}

fn read_outputs(
    r: &Reader,
    learner: &Value,
    param: &Value,
    param_path: &str,
    semantics: Semantics,
) -> Result<Outputs, CompileError> {
    let objective = r.field(learner, "learner", "objective")?;
    let name_path = "learner/objective/name";
    let name = r.string(r.field(objective, "learner/objective", "name")?, name_path)?;
    let link = link_of(name).ok_or_else(|| unsupported(format!("objective '{name}'")))?;
    let num_class = r.count_param(param, param_path, "num_class", Some(0))?;
    let num_target = r.count_param(param, param_path, "num_target", Some(1))?;
    let mismatch = |key: &str, n: usize| {
        r.malformed(format!("{param_path}/{key} is {n} for objective '{name}'"))
    };
    let n_outputs = match link {
        Link::Softmax if num_class == 0 => return Err(mismatch("num_class", num_class)),
        Link::Softmax if num_target > 1 => return Err(mismatch("num_target", num_target)),
        Link::Softmax => num_class,
        _ if num_class > 1 => return Err(mismatch("num_class", num_class)),
        _ => num_target.max(1),
    };
    if n_outputs > limits::MAX_OUTPUTS {
        return Err(unsupported(format!(
            "{n_outputs} outputs (the engine has at most {})",
            limits::MAX_OUTPUTS
        )));
    }
    let objective = match link {
        Link::Identity => Objective::Regression,
        Link::Logistic if n_outputs == 1 => Objective::BinaryLogistic,
        // Multi-label logistic: one sigmoid per output.
        Link::Logistic => Objective::MulticlassOneVsRest,
        Link::Softmax => Objective::MulticlassSoftmax,
    };
    let logit_intercept =
        link == Link::Logistic || (name == "binary:logitraw" && semantics.logitraw_logit_intercept);
    Ok(Outputs {
        objective_name: name.to_string(),
        objective,
        n_outputs,
        logit_intercept,
    })
}

/// Where a booster's trees are.
struct Booster<'v> {
    model: &'v Value,
    model_path: String,
    /// For DART, how many tree weights it declares (all checked to be 1.0).
    n_dart_weights: Option<usize>,
}

fn read_booster<'v>(r: &Reader, learner: &'v Value) -> Result<Booster<'v>, CompileError> {
    let path = "learner/gradient_booster";
    let booster = r.field(learner, "learner", "gradient_booster")?;
    let name = r.string(r.field(booster, path, "name")?, &join(path, "name"))?;
    match name {
        "gbtree" => Ok(Booster {
            model: r.field(booster, path, "model")?,
            model_path: join(path, "model"),
            n_dart_weights: None,
        }),
        "dart" => {
            let gbtree_path = join(path, "gbtree");
            let gbtree = r.field(booster, path, "gbtree")?;
            let weights_path = join(path, "weight_drop");
            let weights = r.f32s(r.field(booster, path, "weight_drop")?, &weights_path)?;
            // DART multiplies each tree's output by its weight when predicting. With every weight
            // 1.0 the product is the leaf itself and the sum is gbtree's.
            if let Some((tree, weight)) = weights.iter().enumerate().find(|(_, &w)| w != 1.0) {
                return Err(unsupported(format!(
                    "dart with weight_drop other than 1.0 (tree {tree} has weight {weight:e})"
                )));
            }
            Ok(Booster {
                model: r.field(gbtree, &gbtree_path, "model")?,
                model_path: join(&gbtree_path, "model"),
                n_dart_weights: Some(weights.len()),
            })
        }
        "gblinear" => Err(unsupported("gblinear booster")),
        other => Err(unsupported(format!("booster '{other}'"))),
    }
}

fn read_version(r: &Reader, root: &Value) -> Result<Version, CompileError> {
    let value = r.field(root, "", "version")?;
    let parts = r.ints(value, "version")?;
    let part = |i: usize| parts.get(i).and_then(|&p| u32::try_from(p).ok());
    match (parts.len(), part(0), part(1), part(2)) {
        (3, Some(major), Some(minor), Some(patch)) => Ok(Version::new(major, minor, patch)),
        _ => Err(r.malformed(format!(
            "version is {parts:?}, expected [major, minor, patch]"
        ))),
    }
}

/// The base margin of each output: `base_score` read as the saving release reads it, then put
/// through the objective's `ProbToMargin` in f32 as XGBoost computes it.
fn read_base_margins(
    r: &Reader,
    param: &Value,
    param_path: &str,
    semantics: Semantics,
    outputs: &Outputs,
) -> Result<Vec<f64>, CompileError> {
    let n_outputs = outputs.n_outputs;
    let path = join(param_path, "base_score");
    let text = r.string(r.field(param, param_path, "base_score")?, &path)?;
    let scores = if semantics.dmlc_base_score {
        dmlc_stof(text).map(|score| vec![score])
    } else {
        parse_base_score(text)
    }
    .ok_or_else(|| {
        r.malformed(format!(
            "{path} is \"{text}\", expected a number or a list of numbers"
        ))
    })?;
    // 3.1 and later store one intercept per output; older files one, used for every output.
    let scores = match scores.len() {
        1 => vec![scores[0]; n_outputs],
        n if n == n_outputs => scores,
        n => return Err(r.malformed(format!("{path} has {n} values for {n_outputs} outputs"))),
    };
    let mut margins = Vec::with_capacity(n_outputs);
    for score in scores {
        if !score.is_finite() {
            return Err(r.malformed(format!("{path} is \"{text}\", which is not finite")));
        }
        let margin = if outputs.logit_intercept {
            logistic_margin(score, semantics.clamped_logit).ok_or_else(|| {
                r.malformed(format!(
                    "{path} is \"{text}\"; the logistic objective needs it in (0, 1)"
                ))
            })?
        } else {
            score
        };
        if !margin.is_finite() {
            return Err(unsupported(format!(
                "base_score \"{text}\" whose margin is not finite"
            )));
        }
        margins.push(f64::from(margin));
    }
    Ok(margins)
}

/// XGBoost's logistic `ProbToMargin`, `-logf(1.0f / p - 1.0f)` in f32; from 3.2 `p` is first
/// clamped to `[kRtEps, 1 - kRtEps]` (and 0 and 1 are accepted), before it must lie in (0, 1).
fn logistic_margin(probability: f32, clamped: bool) -> Option<f32> {
    let p = if clamped {
        if !(0.0..=1.0).contains(&probability) {
            return None;
        }
        probability.clamp(RT_EPS, 1.0 - RT_EPS)
    } else {
        if !(probability > 0.0 && probability < 1.0) {
            return None;
        }
        probability
    };
    Some(-math::logf(1.0f32 / p - 1.0f32))
}

/// `base_score` as 1.2 and later write it: one number ("5E-1") or, from 3.1, a bracketed list
/// ("[5E-1]", "[1E0,2E0]"). Each number is rounded once to f32, as XGBoost's `from_chars` does.
fn parse_base_score(text: &str) -> Option<Vec<f32>> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']')?,
        None => trimmed,
    };
    inner
        .split(',')
        .map(|item| ubjson::parse_f32_text(item.trim()))
        .collect()
}

/// dmlc-core's `stof` (`strtonum.h`, `ParseFloat<float, true>`), with which XGBoost 1.0 and
/// 1.1 read `base_score`. It is not correctly rounded, so it is reproduced step by step: the
/// integer digits as a u64 converted to f32; at most 19 fraction digits as an integer divided
/// by a power of ten in f64, rounded to f32 and added in f32; an exponent applied as an f32
/// scale built from 1e8 and 10 factors. `None` where dmlc-core throws (no digits, trailing
/// characters, out of range) and for infinities and NaN, which XGBoost then refuses anyway.
fn dmlc_stof(text: &str) -> Option<f32> {
    const MAX_FRACTION_DIGITS: u32 = 19;
    const MAX_EXPONENT: u32 = 38;
    let bytes = text.as_bytes();
    let mut pos = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))?;
    let mut positive = true;
    match bytes.get(pos) {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    let digit = |pos: usize| {
        bytes
            .get(pos)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u64::from(b - b'0'))
    };
    let mut any_digit = false;
    let mut integer: u64 = 0;
    while let Some(d) = digit(pos) {
        integer = integer.wrapping_mul(10).wrapping_add(d);
        pos += 1;
        any_digit = true;
    }
    let mut value = integer as f32;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let (mut fraction, mut scale, mut n_digits) = (0u64, 1u64, 0u32);
        while let Some(d) = digit(pos) {
            if n_digits < MAX_FRACTION_DIGITS {
                fraction = fraction * 10 + d;
                scale *= 10;
            }
            n_digits += 1;
            pos += 1;
            any_digit = true;
        }
        value += (fraction as f64 / scale as f64) as f32;
    }
    if !any_digit {
        return None;
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let mut negative_exponent = false;
        match bytes.get(pos) {
            Some(b'-') => {
                negative_exponent = true;
                pos += 1;
            }
            Some(b'+') => pos += 1,
            _ => {}
        }
        let mut exponent: u32 = 0;
        while let Some(d) = digit(pos) {
            exponent = exponent.wrapping_mul(10).wrapping_add(d as u32);
            pos += 1;
        }
        let max_significand = 3.402_823_466_f64 as f32;
        let min_significand = 1.175_494_351_f64 as f32;
        if exponent > MAX_EXPONENT
            || (exponent == MAX_EXPONENT
                && ((!negative_exponent && value > max_significand)
                    || (negative_exponent && value < min_significand)))
        {
            return None;
        }
        let mut scale = 1.0f32;
        while exponent >= 8 {
            scale *= 1e8f32;
            exponent -= 8;
        }
        while exponent > 0 {
            scale *= 10.0f32;
            exponent -= 1;
        }
        value = if negative_exponent {
            value / scale
        } else {
            value * scale
        };
    }
    if matches!(bytes.get(pos), Some(b'f' | b'F')) {
        pos += 1;
    }
    if pos != bytes.len() || !value.is_finite() {
        return None;
    }
    Some(if positive { value } else { -value })
}

fn read_feature_names(
    r: &Reader,
    learner: &Value,
    n_features: usize,
) -> Result<Vec<String>, CompileError> {
    let names = match r.optional(learner, "learner", "feature_names")? {
        None => &[][..],
        Some(value) => value
            .as_array()
            .or_else(|| (value.array_len() == Some(0)).then_some(&[][..]))
            .ok_or_else(|| {
                r.malformed(format!(
                    "learner/feature_names is {}, expected an array of strings",
                    article(value)
                ))
            })?,
    };
    if names.is_empty() {
        return Ok((0..n_features).map(|i| format!("f{i}")).collect());
    }
    if names.len() != n_features {
        return Err(r.malformed(format!(
            "learner/feature_names has {} names but learner/learner_model_param/num_feature is {n_features}",
            names.len()
        )));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            r.string(name, &format!("learner/feature_names[{i}]"))
                .map(str::to_string)
        })
        .collect()
}

fn read_trees(
    r: &Reader,
    model: &Value,
    model_path: &str,
    semantics: Semantics,
    n_features: usize,
    n_outputs: usize,
) -> Result<Vec<TreeSpec>, CompileError> {
    let trees_path = join(model_path, "trees");
    let trees_value = r.field(model, model_path, "trees")?;
    let trees = trees_value
        .as_array()
        .or_else(|| (trees_value.array_len() == Some(0)).then_some(&[][..]))
        .ok_or_else(|| {
            r.malformed(format!(
                "{trees_path} is {}, expected an array",
                article(trees_value)
            ))
        })?;
    let info_path = join(model_path, "tree_info");
    let tree_info = r.ints(r.field(model, model_path, "tree_info")?, &info_path)?;
    if tree_info.len() != trees.len() {
        return Err(r.malformed(format!(
            "{info_path} has {} entries for {} trees",
            tree_info.len(),
            trees.len()
        )));
    }
    let param_path = join(model_path, "gbtree_model_param");
    if let Some(param) = r.optional(model, model_path, "gbtree_model_param")? {
        let n_declared = r.count_param(param, &param_path, "num_trees", Some(trees.len()))?;
        if n_declared != trees.len() {
            return Err(r.malformed(format!(
                "{param_path}/num_trees is {n_declared} but {trees_path} has {} trees",
                trees.len()
            )));
        }
    }
    let mut specs = Vec::with_capacity(trees.len());
    for (index, (tree, &output)) in trees.iter().zip(&tree_info).enumerate() {
        let path = format!("{trees_path}[{index}]");
        if let Some(id) = r.optional(tree, &path, "id")? {
            // 1.x placed trees by position and 2.0 onwards by `id`; XGBoost always writes them
            // equal, so a file where they differ would predict differently across releases.
            if id.as_i64() != Some(index as i64) {
                let found = id
                    .as_i64()
                    .map_or_else(|| article(id).to_string(), |i| i.to_string());
                return Err(r.malformed(format!(
                    "{path}/id is {found}, expected {index} (its position)"
                )));
            }
        }
        let output = usize::try_from(output)
            .ok()
            .filter(|&o| o < n_outputs)
            .ok_or_else(|| {
                r.malformed(format!(
                    "{info_path}[{index}] is {output} but the model has {n_outputs} outputs"
                ))
            })?;
        let nodes = read_tree(r, tree, &path, semantics, n_features)?;
        specs.push(TreeSpec { output, nodes });
    }
    Ok(specs)
}

/// The per-node arrays of one tree, checked for length.
struct RawTree {
    left: Vec<i64>,
    right: Vec<i64>,
    feature: Vec<i64>,
    condition: Vec<f32>,
    default_left: Vec<bool>,
    /// Category set of each categorical node (`None` for numeric nodes).
    categories: Vec<Option<Vec<u32>>>,
}

fn read_tree(
    r: &Reader,
    tree: &Value,
    path: &str,
    semantics: Semantics,
    n_features: usize,
) -> Result<Vec<NodeSpec>, CompileError> {
    let raw = read_raw_tree(r, tree, path)?;
    // Only nodes reachable from the root are part of the tree: XGBoost's pruner leaves deleted
    // nodes in the arrays. They are renumbered breadth-first as they are reached.
    let n = raw.left.len();
    let mut spec_index = vec![usize::MAX; n];
    let mut order = vec![0usize];
    spec_index[0] = 0;
    let mut nodes = Vec::new();
    let mut next = 0;
    while let Some(&node) = order.get(next) {
        next += 1;
        let at = format!("{path} node {node}");
        let (left, right) = (raw.left[node], raw.right[node]);
        if left == -1 {
            if right != -1 {
                return Err(r.malformed(format!(
                    "{at}: left child is -1 (a leaf) but right child is {right}"
                )));
            }
            let value = raw.condition[node];
            if !value.is_finite() {
                return Err(r.malformed(format!("{at}: leaf value {value} is not finite")));
            }
            nodes.push(NodeSpec::Leaf {
                value: f64::from(value),
            });
            continue;
        }
        let child = |c: i64| usize::try_from(c).ok().filter(|&c| c < n);
        let (Some(l), Some(rt)) = (child(left), child(right)) else {
            return Err(r.malformed(format!(
                "{at}: children {left} and {right} are not nodes of a {n}-node tree"
            )));
        };
        // XGBoost's predictors take the right child as left + 1 for non-missing values while
        // missing values read `right_children`; XGBoost's trees always satisfy it.
        if rt != l + 1 {
            return Err(unsupported(format!(
                "{at} has children {l} and {rt}; XGBoost's predictor assumes the right child is left + 1"
            )));
        }
        for c in [l, rt] {
            if spec_index[c] != usize::MAX {
                return Err(r.malformed(format!(
                    "{at}: child {c} is reached twice (the nodes do not form a tree)"
                )));
            }
            spec_index[c] = order.len();
            order.push(c);
        }
        let feature = raw.feature[node];
        let feature = usize::try_from(feature)
            .ok()
            .filter(|&f| f < n_features)
            .ok_or_else(|| {
                r.malformed(format!(
                    "{at}: split on feature {feature} but num_feature is {n_features}"
                ))
            })?;
        let condition = match &raw.categories[node] {
            Some(set) => {
                if !semantics.exact_categorical {
                    return Err(unsupported(format!(
                        "categorical splits saved by XGBoost before 1.7.3 ({at}; those releases \
                         send invalid categories to the default side); re-save the model with \
                         1.7.3 or later"
                    )));
                }
                Condition::Categories(set.clone())
            }
            None => {
                let threshold = raw.condition[node];
                if threshold.is_nan() {
                    return Err(unsupported(format!("{at}: NaN split threshold")));
                }
                Condition::Less(threshold)
            }
        };
        nodes.push(NodeSpec::Split {
            feature,
            condition,
            missing: MissingMode::NanDefault,
            default_left: raw.default_left[node],
            left: spec_index[l],
            right: spec_index[rt],
        });
    }
    Ok(nodes)
}

fn read_raw_tree(r: &Reader, tree: &Value, path: &str) -> Result<RawTree, CompileError> {
    let param_path = join(path, "tree_param");
    let param = r.field(tree, path, "tree_param")?;
    let leaf_size = r.count_param(param, &param_path, "size_leaf_vector", Some(1))?;
    if leaf_size > 1 {
        return Err(unsupported(format!(
            "multi_strategy multi_output_tree (vector-leaf trees, {param_path}/size_leaf_vector is {leaf_size})"
        )));
    }
    let n = r.count_param(param, &param_path, "num_nodes", None)?;
    if n == 0 {
        return Err(r.malformed(format!("{param_path}/num_nodes is 0")));
    }
    let checked_len = |name: &str, len: usize| -> Result<(), CompileError> {
        if len == n {
            Ok(())
        } else {
            Err(r.malformed(format!(
                "{path}/{name} has {len} entries but {param_path}/num_nodes is {n}"
            )))
        }
    };
    let ints = |name: &str| -> Result<Vec<i64>, CompileError> {
        let values = r.ints(r.field(tree, path, name)?, &join(path, name))?;
        checked_len(name, values.len())?;
        Ok(values)
    };
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let feature = ints("split_indices")?;
    let condition = r.f32s(
        r.field(tree, path, "split_conditions")?,
        &join(path, "split_conditions"),
    )?;
    checked_len("split_conditions", condition.len())?;
    let default_left = r.bools(
        r.field(tree, path, "default_left")?,
        &join(path, "default_left"),
    )?;
    checked_len("default_left", default_left.len())?;
    let mut categories = vec![None; n];
    if r.optional(tree, path, "split_type")?.is_some() {
        let split_type = ints("split_type")?;
        if let Some((node, t)) = split_type
            .iter()
            .enumerate()
            .find(|(_, &t)| t != 0 && t != 1)
        {
            return Err(r.malformed(format!("{path}/split_type[{node}] is {t}, expected 0 or 1")));
        }
        if split_type.contains(&1) {
            read_category_sets(r, tree, path, &split_type, &left, &mut categories)?;
        }
    }
    Ok(RawTree {
        left,
        right,
        feature,
        condition,
        default_left,
        categories,
    })
}

/// Fills `categories[node]` for every categorical split from the tree's four category arrays.
fn read_category_sets(
    r: &Reader,
    tree: &Value,
    path: &str,
    split_type: &[i64],
    left: &[i64],
    categories: &mut [Option<Vec<u32>>],
) -> Result<(), CompileError> {
    let array = |name: &str| -> Result<Vec<i64>, CompileError> {
        let value = r.optional(tree, path, name)?.ok_or_else(|| {
            r.malformed(format!(
                "{path}/{name} is missing but {path}/split_type marks categorical splits"
            ))
        })?;
        r.ints(value, &join(path, name))
    };
    let set_nodes = array("categories_nodes")?;
    let segments = array("categories_segments")?;
    let sizes = array("categories_sizes")?;
    let all = array("categories")?;
    for (name, len) in [
        ("categories_segments", segments.len()),
        ("categories_sizes", sizes.len()),
    ] {
        if len != set_nodes.len() {
            return Err(r.malformed(format!(
                "{path}/{name} has {len} entries but {path}/categories_nodes has {}",
                set_nodes.len()
            )));
        }
    }
    let mut previous = -1;
    for (k, &node) in set_nodes.iter().enumerate() {
        let at = format!("{path}/categories_nodes[{k}]");
        // XGBoost's loader walks the nodes in order and matches them one by one.
        if node <= previous {
            return Err(r.malformed(format!(
                "{at} is {node}, not after the previous node {previous}"
            )));
        }
        previous = node;
        let index = usize::try_from(node).ok().filter(|&i| i < split_type.len());
        let Some(index) = index.filter(|&i| split_type[i] == 1) else {
            return Err(r.malformed(format!("{at} is {node}, which is not a categorical split")));
        };
        let (start, size) = (segments[k], sizes[k]);
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(s, z)| Some(s..s.checked_add(z)?))
            .filter(|range| range.end <= all.len() && !range.is_empty())
            .ok_or_else(|| {
                r.malformed(format!(
                    "{path}: node {node} has category segment {start} of size {size}, outside the {} categories \
                     (or empty)",
                    all.len()
                ))
            })?;
        let set = all[range]
            .iter()
            .map(|&c| {
                u32::try_from(c).map_err(|_| {
                    r.malformed(format!(
                        "{path}/categories: node {node} has negative category {c}"
                    ))
                })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        categories[index] = Some(set);
    }
    for (node, (&t, &l)) in split_type.iter().zip(left).enumerate() {
        if t == 1 && l != -1 && categories[node].is_none() {
            return Err(r.malformed(format!(
                "{path} node {node}: categorical split without a category set"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole model document around a `gradient_booster` object.
    fn document(
        version: &str,
        objective: &str,
        base_score: &str,
        extra_param: &str,
        booster: &str,
    ) -> String {
        format!(
            r#"{{"learner": {{
                "attributes": {{}},
                "feature_names": [],
                "feature_types": [],
                "gradient_booster": {booster},
                "learner_model_param": {{"base_score": "{base_score}", "num_class": "0",
                    "num_feature": "3"{extra_param}}},
                "objective": {{"name": "{objective}", "reg_loss_param": {{"scale_pos_weight": "1"}}}}
              }},
              "version": {version}}}"#
        )
    }

    /// A gbtree booster object holding `trees`.
    fn gbtree(trees: &[&str], tree_info: &str) -> String {
        format!(
            r#"{{"name": "gbtree", "model": {{
                "gbtree_model_param": {{"num_parallel_tree": "1", "num_trees": "{n}"}},
                "tree_info": {tree_info},
                "trees": [{trees}]}}}}"#,
            n = trees.len(),
            trees = trees.join(","),
        )
    }

    fn model_json(
        version: &str,
        objective: &str,
        base_score: &str,
        extra_param: &str,
        trees: &[&str],
        tree_info: &str,
    ) -> String {
        document(
            version,
            objective,
            base_score,
            extra_param,
            &gbtree(trees, tree_info),
        )
    }

    /// A stump on feature 1 at 0.5 (NaN left) with leaves -0.25 and 0.75.
    const STUMP: &str = r#"{"base_weights": [0, -0.25, 0.75], "categories": [], "categories_nodes": [],
        "categories_segments": [], "categories_sizes": [], "default_left": [1, 0, 0],
        "left_children": [1, -1, -1], "loss_changes": [1, 0, 0], "parents": [2147483647, 0, 0],
        "right_children": [2, -1, -1], "split_conditions": [5E-1, -2.5E-1, 7.5E-1],
        "split_indices": [1, 0, 0], "split_type": [0, 0, 0], "sum_hessian": [2, 1, 1],
        "tree_param": {"num_deleted": "0", "num_feature": "3", "num_nodes": "3", "size_leaf_vector": "1"}}"#;

    /// Depth 2: root on f0 < 1 (NaN right); left child on f2 < -1 (NaN left); right is a leaf.
    /// Node 2 is a leaf listed before node 1's children, as XGBoost numbers them.
    const DEPTH2: &str = r#"{"id": 1, "left_children": [1, 3, -1, -1, -1], "right_children": [2, 4, -1, -1, -1],
        "split_indices": [0, 2, 0, 0, 0], "split_conditions": [1E0, -1E0, 3E-1, 1E-1, 2E-1],
        "default_left": [0, 1, 0, 0, 0],
        "tree_param": {"num_feature": "3", "num_nodes": "5", "size_leaf_vector": "1"}}"#;

    fn json(version: &str, objective: &str, base_score: &str) -> String {
        model_json(version, objective, base_score, "", &[STUMP], "[0]")
    }

    fn import_str(text: &str) -> Result<ModelSpec, CompileError> {
        import_json(text.as_bytes())
    }

    fn detail(result: Result<ModelSpec, CompileError>) -> String {
        match result {
            Err(CompileError::Malformed { detail, .. }) => detail,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn unsupported_text(result: Result<ModelSpec, CompileError>) -> String {
        match result {
            Err(CompileError::Unsupported(what)) => what,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    fn split(
        feature: usize,
        condition: Condition,
        default_left: bool,
        left: usize,
        right: usize,
    ) -> NodeSpec {
        NodeSpec::Split {
            feature,
            condition,
            missing: MissingMode::NanDefault,
            default_left,
            left,
            right,
        }
    }

    fn leaf(value: f32) -> NodeSpec {
        NodeSpec::Leaf {
            value: f64::from(value),
        }
    }

    #[test]
    fn imports_a_stump() {
        let spec = import_str(&json("[2, 1, 4]", "reg:squarederror", "5E-1")).unwrap();
        assert_eq!(spec.n_outputs, 1);
        assert_eq!(spec.objective, Objective::Regression);
        assert_eq!(spec.base_margins, vec![0.5]);
        assert_eq!(spec.feature_names, vec!["f0", "f1", "f2"]);
        assert_eq!(spec.source_framework, Framework::Xgboost);
        assert_eq!(spec.source_version, "2.1.4");
        assert_eq!(spec.label, "reg:squarederror");
        assert_eq!(spec.aggregation, Aggregation::Sum);
        assert_eq!(spec.feature_ranges, None);
        assert_eq!(spec.trees.len(), 1);
        assert_eq!(spec.trees[0].output, 0);
        assert_eq!(
            spec.trees[0].nodes,
            vec![
                split(1, Condition::Less(0.5), true, 1, 2),
                leaf(-0.25),
                leaf(0.75)
            ]
        );
        spec.to_bytes().unwrap();
    }

    #[test]
    fn imports_a_depth_two_tree_in_breadth_first_order() {
        let text = model_json(
            "[2, 0, 0]",
            "reg:squarederror",
            "0E0",
            "",
            &[STUMP, DEPTH2],
            "[0, 0]",
        );
        let spec = import_str(&text).unwrap();
        assert_eq!(
            spec.trees[1].nodes,
            vec![
                split(0, Condition::Less(1.0), false, 1, 2),
                split(2, Condition::Less(-1.0), true, 3, 4),
                leaf(0.3),
                leaf(0.1),
                leaf(0.2),
            ]
        );
    }

    #[test]
    fn reads_thresholds_and_leaves_straight_to_f32() {
        // 1 + 2^-24 + 1e-35 rounds up to the next f32, but to 1.0 through f64.
        let text = json("[2, 0, 0]", "reg:squarederror", "0E0").replace(
            "5E-1, -2.5E-1",
            "1.00000005960464477539062500000000001, -2.5E-1",
        );
        let spec = import_str(&text).unwrap();
        let NodeSpec::Split {
            condition: Condition::Less(t),
            ..
        } = &spec.trees[0].nodes[0]
        else {
            panic!()
        };
        assert_eq!(t.to_bits(), 0x3f80_0001);
        // -0.0 leaves keep their sign.
        let text = json("[2, 0, 0]", "reg:squarederror", "0E0")
            .replace("-2.5E-1, 7.5E-1]", "-0E0, 7.5E-1]");
        let spec = import_str(&text).unwrap();
        assert_eq!(spec.trees[0].nodes[1], NodeSpec::Leaf { value: -0.0 });
        let NodeSpec::Leaf { value } = spec.trees[0].nodes[1] else {
            panic!()
        };
        assert!(value.is_sign_negative());
    }

    #[test]
    fn skips_deleted_nodes_left_by_the_pruner() {
        // Nodes 3 and 4 were pruned: node 1 became a leaf and they are unreachable.
        let tree = r#"{"left_children": [1, -1, -1, -1, -1], "right_children": [2, -1, -1, -1, -1],
            "split_indices": [0, 0, 0, 2147483647, 2147483647],
            "split_conditions": [1E0, 2E0, 3E0, 0E0, 0E0], "default_left": [0, 0, 0, 0, 0],
            "tree_param": {"num_deleted": "2", "num_feature": "3", "num_nodes": "5"}}"#;
        let spec = import_str(&model_json(
            "[1, 7, 6]",
            "reg:squarederror",
            "0E0",
            "",
            &[tree],
            "[0]",
        ))
        .unwrap();
        assert_eq!(
            spec.trees[0].nodes,
            vec![
                split(0, Condition::Less(1.0), false, 1, 2),
                leaf(2.0),
                leaf(3.0)
            ]
        );
    }

    #[test]
    fn imports_categorical_sets_per_node() {
        let tree = r#"{"left_children": [1, 3, -1, -1, -1], "right_children": [2, 4, -1, -1, -1],
            "split_indices": [2, 0, 0, 0, 0], "split_conditions": [1E-45, 4E0, 1E0, 2E0, 3E0],
            "default_left": [1, 0, 0, 0, 0], "split_type": [1, 1, 0, 0, 0],
            "categories_nodes": [0, 1], "categories_segments": [0, 3], "categories_sizes": [3, 1],
            "categories": [1, 4, 40, 0],
            "tree_param": {"num_feature": "3", "num_nodes": "5", "size_leaf_vector": "1"}}"#;
        let text = model_json("[3, 2, 0]", "binary:logistic", "[5E-1]", "", &[tree], "[0]");
        let spec = import_str(&text).unwrap();
        assert_eq!(
            spec.trees[0].nodes,
            vec![
                split(2, Condition::Categories(vec![1, 4, 40]), true, 1, 2),
                split(0, Condition::Categories(vec![0]), false, 3, 4),
                leaf(1.0),
                leaf(2.0),
                leaf(3.0),
            ]
        );
        spec.to_bytes().unwrap();
    }

    #[test]
    fn refuses_categorical_nodes_without_their_set() {
        let tree = r#"{"left_children": [1, -1, -1], "right_children": [2, -1, -1],
            "split_indices": [2, 0, 0], "split_conditions": [0E0, 1E0, 2E0], "default_left": [0, 0, 0],
            "split_type": [1, 0, 0], "categories_nodes": [], "categories_segments": [],
            "categories_sizes": [], "categories": [],
            "tree_param": {"num_feature": "3", "num_nodes": "3"}}"#;
        let text = model_json("[3, 2, 0]", "reg:squarederror", "0E0", "", &[tree], "[0]");
        assert!(
            detail(import_str(&text)).contains("node 0: categorical split without a category set")
        );
        let no_arrays = text.replace(r#""categories_nodes": [], "#, "");
        assert!(detail(import_str(&no_arrays)).contains("categories_nodes is missing"));
        let empty_set = text
            .replace(r#""categories_nodes": []"#, r#""categories_nodes": [0]"#)
            .replace(
                r#""categories_segments": []"#,
                r#""categories_segments": [0]"#,
            )
            .replace(r#""categories_sizes": []"#, r#""categories_sizes": [0]"#);
        assert!(detail(import_str(&empty_set)).contains("or empty"));
        let negative = empty_set
            .replace(r#""categories_sizes": [0]"#, r#""categories_sizes": [1]"#)
            .replace(r#""categories": []"#, r#""categories": [-3]"#);
        assert!(detail(import_str(&negative)).contains("negative category -3"));
    }

    #[test]
    fn refuses_categorical_splits_from_releases_with_other_rules() {
        let tree = r#"{"left_children": [1, -1, -1], "right_children": [2, -1, -1],
            "split_indices": [2, 0, 0], "split_conditions": [0E0, 1E0, 2E0], "default_left": [0, 0, 0],
            "split_type": [1, 0, 0], "categories_nodes": [0], "categories_segments": [0],
            "categories_sizes": [1], "categories": [3],
            "tree_param": {"num_feature": "3", "num_nodes": "3"}}"#;
        for version in ["[1, 6, 2]", "[1, 7, 2]", "[1, 5, 0]"] {
            let text = model_json(version, "reg:squarederror", "0E0", "", &[tree], "[0]");
            assert!(
                unsupported_text(import_str(&text)).contains("before 1.7.3"),
                "{version}"
            );
        }
        let text = model_json("[1, 7, 3]", "reg:squarederror", "0E0", "", &[tree], "[0]");
        assert!(import_str(&text).is_ok());
    }

    #[test]
    fn reads_each_base_score_encoding() {
        // 1.0/1.1 write six decimals; 1.2-3.0 the shortest round trip; 3.1+ a bracketed list.
        for (version, text) in [
            ("[1, 0, 2]", "0.500000"),
            ("[1, 2, 1]", "5E-1"),
            ("[3, 1, 0]", "[5E-1]"),
        ] {
            let spec = import_str(&json(version, "reg:squarederror", text)).unwrap();
            assert_eq!(spec.base_margins, vec![0.5], "{text}");
        }
        let spec = import_str(&json("[3, 2, 0]", "reg:squarederror", "[1.5E0]")).unwrap();
        assert_eq!(spec.base_margins, vec![1.5]);
    }

    #[test]
    fn reads_old_base_scores_with_dmlc_rounding() {
        // dmlc's stof adds the fraction rounded to f32 to the integer part in f32.
        assert_eq!(dmlc_stof("0.500000"), Some(0.5));
        assert_eq!(dmlc_stof("-2.250000"), Some(-2.25));
        assert_eq!(dmlc_stof("1e2"), Some(100.0));
        assert_eq!(dmlc_stof("123.456000"), Some(123.0f32 + (0.456f64 as f32)));
        // Where that differs from one correct rounding, the importer follows dmlc.
        let text = "1.841235";
        assert_eq!(dmlc_stof(text), Some(1.0f32 + (0.841235f64 as f32)));
        assert_ne!(dmlc_stof(text), text.parse::<f32>().ok());
        for bad in ["", "abc", "1.5x", "inf", "1e39", "."] {
            assert_eq!(dmlc_stof(bad), None, "{bad}");
        }
        let spec = import_str(&json("[1, 1, 1]", "reg:squarederror", text)).unwrap();
        assert_eq!(
            spec.base_margins,
            vec![f64::from(1.0f32 + (0.841235f64 as f32))]
        );
    }

    #[test]
    fn maps_logistic_base_scores_to_margins_in_f32() {
        let spec = import_str(&json("[2, 0, 0]", "binary:logistic", "3E-1")).unwrap();
        assert_eq!(spec.objective, Objective::BinaryLogistic);
        assert_eq!(
            spec.base_margins,
            vec![f64::from(-math::logf(1.0f32 / 0.3f32 - 1.0f32))]
        );
        let spec = import_str(&json("[2, 0, 0]", "reg:logistic", "5E-1")).unwrap();
        assert_eq!(spec.base_margins, vec![0.0]);
        // logitraw's intercept is a margin from 1.3.1; before, it went through the logit.
        let spec = import_str(&json("[1, 3, 1]", "binary:logitraw", "3E-1")).unwrap();
        assert_eq!(spec.base_margins, vec![f64::from(0.3f32)]);
        assert_eq!(spec.objective, Objective::Regression);
        let spec = import_str(&json("[1, 3, 0]", "binary:logitraw", "3E-1")).unwrap();
        let logit = -math::logf(1.0f32 / 0.3f32 - 1.0f32);
        assert_eq!(spec.base_margins, vec![f64::from(logit)]);
        assert_eq!(spec.objective, Objective::Regression);
    }

    #[test]
    fn clamps_logistic_base_scores_only_from_3_2() {
        let spec = import_str(&json("[3, 2, 0]", "binary:logistic", "[0E0]")).unwrap();
        let clamped = -math::logf(1.0f32 / RT_EPS - 1.0f32);
        assert_eq!(spec.base_margins, vec![f64::from(clamped)]);
        let spec = import_str(&json("[3, 2, 0]", "binary:logistic", "[1E-7]")).unwrap();
        assert_eq!(spec.base_margins, vec![f64::from(clamped)]);
        let spec = import_str(&json("[3, 1, 1]", "binary:logistic", "[1E-7]")).unwrap();
        assert_eq!(
            spec.base_margins,
            vec![f64::from(-math::logf(1.0f32 / 1e-7f32 - 1.0f32))]
        );
        for version in ["[3, 1, 0]", "[2, 1, 4]", "[1, 7, 6]"] {
            assert!(
                detail(import_str(&json(version, "binary:logistic", "[0E0]")))
                    .contains("needs it in (0, 1)")
            );
        }
        assert!(
            detail(import_str(&json("[3, 2, 0]", "binary:logistic", "[1.5E0]"))).contains("(0, 1)")
        );
    }

    #[test]
    fn switches_base_order_and_numerics_by_version() {
        let cases = [
            ("[1, 0, 2]", BaseOrder::Last, Numerics::XgboostLegacy),
            ("[1, 2, 1]", BaseOrder::Last, Numerics::XgboostLegacy),
            ("[1, 3, 0]", BaseOrder::First, Numerics::XgboostLegacy),
            ("[1, 5, 2]", BaseOrder::First, Numerics::XgboostLegacy),
            ("[1, 6, 0]", BaseOrder::First, Numerics::Xgboost),
            ("[1, 7, 6]", BaseOrder::First, Numerics::Xgboost),
            ("[3, 2, 0]", BaseOrder::First, Numerics::Xgboost),
        ];
        for (version, order, numerics) in cases {
            let spec = import_str(&json(version, "binary:logistic", "0.500000")).unwrap();
            assert_eq!(
                (spec.base_order, spec.numerics),
                (order, numerics),
                "{version}"
            );
        }
    }

    #[test]
    fn imports_multiclass_with_tree_groups_and_per_class_intercepts() {
        let text = model_json(
            "[3, 2, 0]",
            "multi:softprob",
            "[1E-1,2E-1,3E-1]",
            "",
            &[STUMP, STUMP, STUMP, STUMP],
            "[0, 1, 2, 0]",
        )
        .replace(r#""num_class": "0""#, r#""num_class": "3""#);
        let spec = import_str(&text).unwrap();
        assert_eq!(spec.n_outputs, 3);
        assert_eq!(spec.objective, Objective::MulticlassSoftmax);
        assert_eq!(
            spec.base_margins,
            vec![f64::from(0.1f32), f64::from(0.2f32), f64::from(0.3f32)]
        );
        assert_eq!(
            spec.trees.iter().map(|t| t.output).collect::<Vec<_>>(),
            vec![0, 1, 2, 0]
        );
        // Before 3.1 one intercept serves every class.
        let old = text
            .replace("[1E-1,2E-1,3E-1]", "5E-1")
            .replace("[3, 2, 0]", "[2, 1, 4]");
        assert_eq!(import_str(&old).unwrap().base_margins, vec![0.5; 3]);
        let softmax = text.replace("multi:softprob", "multi:softmax");
        assert_eq!(
            import_str(&softmax).unwrap().objective,
            Objective::MulticlassSoftmax
        );
        let wrong_count = text.replace("[1E-1,2E-1,3E-1]", "[1E-1,2E-1]");
        assert!(detail(import_str(&wrong_count)).contains("has 2 values for 3 outputs"));
        let bad_group = text.replace("[0, 1, 2, 0]", "[0, 1, 3, 0]");
        assert!(detail(import_str(&bad_group))
            .contains("tree_info[2] is 3 but the model has 3 outputs"));
    }

    #[test]
    fn imports_multi_target_logistic_as_one_sigmoid_per_output() {
        let text = model_json(
            "[2, 1, 4]",
            "binary:logistic",
            "5E-1",
            r#", "num_target": "2""#,
            &[STUMP, STUMP],
            "[0, 1]",
        );
        let spec = import_str(&text).unwrap();
        assert_eq!(spec.n_outputs, 2);
        assert_eq!(spec.objective, Objective::MulticlassOneVsRest);
        assert_eq!(spec.base_margins, vec![0.0, 0.0]);
    }

    #[test]
    fn refuses_two_features_with_one_name() {
        let text = json("[2, 0, 0]", "reg:squarederror", "0E0").replace(
            r#""feature_names": []"#,
            r#""feature_names": ["age", "w", "age"]"#,
        );
        let message = match crate::compile::compile(text.as_bytes()) {
            Err(error) => error.to_string(),
            Ok(_) => String::from("compiled"),
        };
        assert!(
            message.contains("\"age\" is used by features 0 and 2"),
            "{message}"
        );
    }

    #[test]
    fn uses_feature_names_when_present() {
        let text = json("[2, 0, 0]", "reg:squarederror", "0E0").replace(
            r#""feature_names": []"#,
            r#""feature_names": ["age", "h\u00e9ight", "w"]"#,
        );
        assert_eq!(
            import_str(&text).unwrap().feature_names,
            vec!["age", "héight", "w"]
        );
        let short = text.replace(r#", "w"]"#, "]");
        assert!(detail(import_str(&short)).contains("feature_names has 2 names but"));
        // 1.0 wrote no feature_names at all.
        let absent = json("[1, 0, 2]", "reg:squarederror", "0.500000")
            .replace(r#""feature_names": [],"#, "");
        assert_eq!(
            import_str(&absent).unwrap().feature_names,
            vec!["f0", "f1", "f2"]
        );
    }

    #[test]
    fn reads_boolean_default_left_of_1_0() {
        let text = json("[1, 0, 2]", "reg:squarederror", "0.500000").replace(
            r#""default_left": [1, 0, 0]"#,
            r#""default_left": [true, false, false]"#,
        );
        let spec = import_str(&text).unwrap();
        assert_eq!(spec.base_order, BaseOrder::Last);
        assert_eq!(
            spec.trees[0].nodes[0],
            split(1, Condition::Less(0.5), true, 1, 2)
        );
    }

    #[test]
    fn accepts_dart_only_with_unit_weights() {
        let dart = |weights: &str| {
            let booster = format!(
                r#"{{"name": "dart", "gbtree": {}, "weight_drop": {weights}}}"#,
                gbtree(&[STUMP], "[0]")
            );
            document("[2, 1, 4]", "reg:squarederror", "0E0", "", &booster)
        };
        let spec = import_str(&dart("[1E0]")).unwrap();
        assert_eq!(
            spec.trees,
            import_str(&json("[2, 1, 4]", "reg:squarederror", "0E0"))
                .unwrap()
                .trees
        );
        assert!(unsupported_text(import_str(&dart("[5E-1]")))
            .contains("dart with weight_drop other than 1.0 (tree 0"));
        assert!(detail(import_str(&dart("[1E0, 1E0]")))
            .contains("weight_drop has 2 entries for 1 trees"));
    }

    #[test]
    fn imports_ubjson_with_typed_arrays() {
        let spec = import_ubj(&stump_ubj(0x3f80_0001)).unwrap();
        let NodeSpec::Split {
            condition: Condition::Less(t),
            ..
        } = &spec.trees[0].nodes[0]
        else {
            panic!()
        };
        assert_eq!(t.to_bits(), 0x3f80_0001);
        assert_eq!(spec.trees[0].nodes[1], leaf(f32::from_bits(0x8000_0001)));
        assert_eq!(spec.base_margins, vec![0.0]);
        assert_eq!(spec.objective, Objective::BinaryLogistic);
        spec.to_bytes().unwrap();
    }

    /// A UBJSON stump as XGBoost 3.x writes one: typed arrays, `L` lengths, string params.
    fn stump_ubj(threshold_bits: u32) -> Vec<u8> {
        fn key(out: &mut Vec<u8>, name: &str) {
            out.push(b'L');
            out.extend_from_slice(&(name.len() as i64).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
        }
        fn string(out: &mut Vec<u8>, name: &str, value: &str) {
            key(out, name);
            out.push(b'S');
            key(out, value);
        }
        fn typed(out: &mut Vec<u8>, name: &str, marker: u8, items: &[&[u8]]) {
            key(out, name);
            out.extend_from_slice(&[b'[', b'$', marker, b'#', b'L']);
            out.extend_from_slice(&(items.len() as i64).to_be_bytes());
            for item in items {
                out.extend_from_slice(item);
            }
        }
        let mut b = vec![b'{'];
        key(&mut b, "learner");
        b.push(b'{');
        key(&mut b, "gradient_booster");
        b.push(b'{');
        key(&mut b, "model");
        b.push(b'{');
        typed(&mut b, "tree_info", b'l', &[&0i32.to_be_bytes()]);
        key(&mut b, "trees");
        b.extend_from_slice(b"[#L");
        b.extend_from_slice(&1i64.to_be_bytes());
        b.push(b'{');
        typed(&mut b, "default_left", b'U', &[&[1], &[0], &[0]]);
        key(&mut b, "id");
        b.extend_from_slice(&[b'i', 0]);
        typed(
            &mut b,
            "left_children",
            b'l',
            &[
                &1i32.to_be_bytes(),
                &(-1i32).to_be_bytes(),
                &(-1i32).to_be_bytes(),
            ],
        );
        typed(
            &mut b,
            "right_children",
            b'l',
            &[
                &2i32.to_be_bytes(),
                &(-1i32).to_be_bytes(),
                &(-1i32).to_be_bytes(),
            ],
        );
        typed(
            &mut b,
            "split_conditions",
            b'd',
            &[
                &threshold_bits.to_be_bytes(),
                &0x8000_0001u32.to_be_bytes(),
                &1.0f32.to_be_bytes(),
            ],
        );
        typed(
            &mut b,
            "split_indices",
            b'l',
            &[
                &0i32.to_be_bytes(),
                &0i32.to_be_bytes(),
                &0i32.to_be_bytes(),
            ],
        );
        typed(&mut b, "split_type", b'U', &[&[0], &[0], &[0]]);
        typed(&mut b, "categories", b'l', &[]);
        typed(&mut b, "categories_nodes", b'l', &[]);
        typed(&mut b, "categories_segments", b'L', &[]);
        typed(&mut b, "categories_sizes", b'L', &[]);
        key(&mut b, "tree_param");
        b.push(b'{');
        string(&mut b, "num_nodes", "3");
        string(&mut b, "size_leaf_vector", "1");
        b.extend_from_slice(b"}}"); // tree_param, tree
        b.extend_from_slice(b"}"); // model
        string(&mut b, "name", "gbtree");
        b.push(b'}'); // gradient_booster
        key(&mut b, "learner_model_param");
        b.push(b'{');
        string(&mut b, "base_score", "[5E-1]");
        string(&mut b, "num_class", "0");
        string(&mut b, "num_feature", "2");
        b.push(b'}');
        key(&mut b, "objective");
        b.push(b'{');
        string(&mut b, "name", "binary:logistic");
        b.extend_from_slice(b"}}"); // objective, learner
        key(&mut b, "version");
        b.extend_from_slice(&[b'[', b'$', b'i', b'#', b'i', 3, 3, 2, 0]);
        b.push(b'}');
        b
    }

    #[test]
    fn refuses_unsupported_objectives_and_boosters() {
        for objective in [
            "rank:pairwise",
            "count:poisson",
            "reg:gamma",
            "reg:tweedie",
            "survival:cox",
            "binary:hinge",
        ] {
            let what = unsupported_text(import_str(&json("[2, 1, 4]", objective, "5E-1")));
            assert_eq!(what, format!("objective '{objective}'"));
        }
        let linear = json("[2, 1, 4]", "reg:squarederror", "0E0").replace(
            r#""name": "gbtree", "model""#,
            r#""name": "gblinear", "model""#,
        );
        assert_eq!(unsupported_text(import_str(&linear)), "gblinear booster");
    }

    #[test]
    fn refuses_vector_leaf_trees() {
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0")
            .replace(r#""size_leaf_vector": "1""#, r#""size_leaf_vector": "2""#);
        assert!(unsupported_text(import_str(&text)).starts_with("multi_strategy multi_output_tree"));
    }

    #[test]
    fn refuses_releases_outside_the_known_range() {
        assert!(
            unsupported_text(import_str(&json("[0, 90, 0]", "reg:squarederror", "0.5")))
                .contains("0.90.0")
        );
        assert!(
            unsupported_text(import_str(&json("[4, 0, 0]", "reg:squarederror", "[0E0]")))
                .contains("4.0.0")
        );
        assert!(
            detail(import_str(&json("[2, 1]", "reg:squarederror", "0E0")))
                .contains("version is [2, 1]")
        );
    }

    #[test]
    fn refuses_nan_thresholds_and_non_finite_leaves() {
        let text =
            json("[2, 1, 4]", "reg:squarederror", "0E0").replace("[5E-1, -2.5E-1", "[NaN, -2.5E-1");
        assert!(unsupported_text(import_str(&text)).contains("node 0: NaN split threshold"));
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0").replace("7.5E-1]", "-Infinity]");
        assert!(detail(import_str(&text)).contains("node 2: leaf value -inf is not finite"));
    }

    #[test]
    fn refuses_feature_indices_beyond_num_feature() {
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0").replace(
            r#""split_indices": [1, 0, 0]"#,
            r#""split_indices": [3, 0, 0]"#,
        );
        let message = detail(import_str(&text));
        assert!(
            message.contains("trees[0] node 0: split on feature 3 but num_feature is 3"),
            "{message}"
        );
    }

    #[test]
    fn refuses_per_node_arrays_of_the_wrong_length() {
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0").replace(
            r#""right_children": [2, -1, -1]"#,
            r#""right_children": [2, -1]"#,
        );
        assert_eq!(
            detail(import_str(&text)),
            "learner/gradient_booster/model/trees[0]/right_children has 2 entries but \
             learner/gradient_booster/model/trees[0]/tree_param/num_nodes is 3"
        );
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0")
            .replace("[5E-1, -2.5E-1", "[\"x\", -2.5E-1");
        assert_eq!(
            detail(import_str(&text)),
            "learner/gradient_booster/model/trees[0]/split_conditions[0] is a string, expected a number"
        );
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0").replace(
            r#""default_left": [1, 0, 0]"#,
            r#""default_left": [2, 0, 0]"#,
        );
        assert!(detail(import_str(&text))
            .ends_with("trees[0]/default_left[0] is an integer, expected a boolean or 0/1"));
    }

    #[test]
    fn refuses_broken_tree_structure() {
        let base = json("[2, 1, 4]", "reg:squarederror", "0E0");
        let cycle = base
            .replace(
                r#""left_children": [1, -1, -1]"#,
                r#""left_children": [0, -1, -1]"#,
            )
            .replace(
                r#""right_children": [2, -1, -1]"#,
                r#""right_children": [1, -1, -1]"#,
            );
        assert!(detail(import_str(&cycle)).contains("reached twice"));
        let apart = base
            .replace(
                r#""left_children": [1, -1, -1]"#,
                r#""left_children": [2, -1, -1]"#,
            )
            .replace(
                r#""right_children": [2, -1, -1]"#,
                r#""right_children": [1, -1, -1]"#,
            );
        assert!(unsupported_text(import_str(&apart)).contains("right child is left + 1"));
        let dangling = base
            .replace(
                r#""right_children": [2, -1, -1]"#,
                r#""right_children": [7, -1, -1]"#,
            )
            .replace(
                r#""left_children": [1, -1, -1]"#,
                r#""left_children": [6, -1, -1]"#,
            );
        assert!(detail(import_str(&dangling)).contains("are not nodes of a 3-node tree"));
        let half_leaf = base.replace(
            r#""right_children": [2, -1, -1]"#,
            r#""right_children": [2, 1, -1]"#,
        );
        assert!(detail(import_str(&half_leaf))
            .contains("left child is -1 (a leaf) but right child is 1"));
        let bad_id = base.replace(
            r#""default_left": [1, 0, 0]"#,
            r#""default_left": [1, 0, 0], "id": 4"#,
        );
        assert!(detail(import_str(&bad_id)).contains("trees[0]/id is 4, expected 0"));
        let bad_count = base.replace(r#""num_trees": "1""#, r#""num_trees": "2""#);
        assert!(detail(import_str(&bad_count)).contains("num_trees is 2 but"));
        let short_info = base.replace(r#""tree_info": [0]"#, r#""tree_info": []"#);
        assert!(detail(import_str(&short_info)).contains("tree_info has 0 entries for 1 trees"));
    }

    #[test]
    fn names_missing_fields_by_path() {
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0")
            .replace(r#""num_feature": "3""#, r#""num_featur": "3""#);
        assert_eq!(
            detail(import_str(&text)),
            "learner/learner_model_param/num_feature is missing"
        );
        let text = json("[2, 1, 4]", "reg:squarederror", "0E0")
            .replace(r#""split_indices""#, r#""split_indexes""#);
        assert_eq!(
            detail(import_str(&text)),
            "learner/gradient_booster/model/trees[0]/split_indices is missing"
        );
        assert!(
            detail(import_str("[1, 2]")).contains("the document is an array, expected an object")
        );
    }

    #[test]
    fn refuses_bad_base_scores() {
        assert!(
            detail(import_str(&json("[2, 1, 4]", "reg:squarederror", "abc")))
                .contains("base_score is \"abc\"")
        );
        assert!(
            detail(import_str(&json("[3, 1, 0]", "reg:squarederror", "[NaN]")))
                .contains("not finite")
        );
    }

    #[test]
    fn never_panics_on_damaged_models() {
        // A fixed-seed xorshift; each round damages a valid model a little and imports it.
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut below = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        let tokens = [
            "-1",
            "0",
            "1",
            "3",
            "7",
            "2147483648",
            "NaN",
            "-0E0",
            "1e40",
            "\"x\"",
            "[]",
            "{}",
            "null",
            "true",
        ];
        let json = model_json(
            "[3, 2, 0]",
            "multi:softprob",
            "[1E-1,2E-1]",
            "",
            &[STUMP, DEPTH2],
            "[0, 1]",
        )
        .replace(r#""num_class": "0""#, r#""num_class": "2""#)
        .into_bytes();
        let ubj = stump_ubj(0x3f00_0000);
        assert!(import_json(&json).is_ok() && import_ubj(&ubj).is_ok());
        for _ in 0..5_000 {
            // JSON: replace one value token by another.
            let starts: Vec<usize> = (1..json.len())
                .filter(|&i| {
                    matches!(json[i - 1], b'[' | b' ' | b':')
                        && (json[i].is_ascii_digit() || json[i] == b'-' || json[i] == b'"')
                })
                .collect();
            let start = starts[below(starts.len())];
            let end = start
                + json[start..]
                    .iter()
                    .skip(1)
                    .position(|b| matches!(b, b',' | b']' | b'}'))
                    .map_or(1, |p| p + 1);
            let damaged = [
                &json[..start],
                tokens[below(tokens.len())].as_bytes(),
                &json[end..],
            ]
            .concat();
            if let Ok(spec) = import_json(&damaged) {
                let _ = spec.to_bytes();
            }
            // UBJSON: overwrite, cut or drop bytes.
            let mut damaged = ubj.clone();
            let at = below(damaged.len());
            match below(3) {
                0 => damaged[at] = below(256) as u8,
                1 => damaged.truncate(at),
                _ => {
                    damaged.drain(at..(at + below(9)).min(ubj.len()));
                }
            }
            if let Ok(spec) = import_ubj(&damaged) {
                let _ = spec.to_bytes();
            }
        }
    }
}

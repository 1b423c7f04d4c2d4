//! LightGBM text models (`Booster.save_model`, format versions `v3` and `v4`, i.e. LightGBM 3.x
//! and 4.x) to a [`ModelSpec`] evaluated with [`Numerics::Lightgbm`].
//!
//! Invariant: a model is accepted only if the engine reproduces LightGBM's `Booster.predict` on
//! it bit for bit for every f32 input row. Whatever the engine cannot reproduce (linear trees,
//! objectives whose output transform it lacks) is refused with the reason, and a garbled file
//! (including anything LightGBM itself would reject or misread) is refused as malformed, naming
//! the tree and the key. This module never guesses a default LightGBM would not use.
//!
//! # The file
//!
//! ```text
//! tree                                   model type, always "tree"
//! version=v4                             text format version (v3: LightGBM 3.x)
//! num_class=K
//! num_tree_per_iteration=K               trees per boosting round; tree i adds to output i % K
//! max_feature_idx=F-1
//! objective=binary sigmoid:1             absent for custom objectives (raw output)
//! average_output                         only for boosting=rf: divide the sums by the rounds
//! feature_names=a b c
//! feature_infos=[min:max] ... / cat:cat:... / none
//! tree_sizes=...                         byte length of each Tree block
//!
//! Tree=0                                 blocks of key=value lines, ended by a blank line
//! num_leaves=L  num_cat=C
//! split_feature, split_gain, threshold, decision_type, left_child, right_child   L-1 values
//! leaf_value (and leaf_weight, leaf_count)                                        L values
//! cat_boundaries (C+1 values), cat_threshold (u32 bitset words)                  when C > 0
//! is_linear=0  shrinkage=...
//!
//! end of trees
//! feature_importances:, parameters: ... end of parameters, pandas_categorical:  (ignored)
//! ```
//!
//! Internal nodes are numbered `0..L-1` with node 0 the root; a child `c < 0` is leaf `!c`.
//! The spec lists the internal nodes first, then the leaves: leaf `j` becomes node `L-1+j`.
//! Leaves and thresholds are `%.17g` decimals, which LightGBM reads back correctly rounded
//! (`fast_double_parser` with a `strtod` fallback; `std::stod` before 3.3), exactly as
//! `str::parse::<f64>` does. Shrinkage is already folded into the leaf values, and so is the
//! initial score (LightGBM adds it to the first round's leaves), so base margins are zero.
//!
//! # `decision_type` bits
//!
//! ```text
//! bit 0     categorical split
//! bit 1     default left (missing values go left)
//! bits 2-3  missing type: 0 None, 1 Zero, 2 NaN (3 is invalid)
//! ```
//!
//! # Semantics reproduced
//!
//! - Every LightGBM predict entry point (each C API row reader) drops inputs with
//!   `|x| <= kZeroThreshold` (`1e-35f`) before the trees see them, so they read as `0.0`.
//! - Numeric split (`NumericalDecision`): left when `x <= threshold` in f64. Missing type None
//!   turns NaN into `0.0` ([`MissingMode::NanAsZero`]); Zero sends NaN and `|x| <= 1e-35` to
//!   the default side ([`MissingMode::ZeroOrNanDefault`]); NaN sends NaN there
//!   ([`MissingMode::NanDefault`]). The f64 test becomes the engine's `x < t` through
//!   [`numeric_threshold`], which also accounts for the dropped tiny inputs. A `+inf`
//!   threshold (LightGBM's split of missing values from all others) becomes `x < -inf` with
//!   the children and the default side swapped.
//! - Categorical split (`CategoricalDecision`): NaN goes right; otherwise `(int)x` is looked up
//!   in the bitset and members go left; negative or out-of-`int` values are not members. That
//!   is the engine's LightGBM categorical convention with [`MissingMode::NanDefault`] and
//!   default right. (LightGBM 3.0 to 3.2 cast NaN to `int` first, undefined behaviour that
//!   also sends NaN right on x86-64; 3.3 made that explicit.)
//! - Outputs: trees are summed from 0.0 in file order; `average_output` divides by the number
//!   of rounds ([`Aggregation::Mean`]) before the objective's `ConvertOutput`. LightGBM's
//!   `raw_score=True` skips that division, the engine's margins do not.

use std::collections::BTreeMap;

use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec, MAX_CATEGORY};
use lockstep_engine::format::{
    limits, lt_threshold_for_le_f64, next_f32_down, Aggregation, BaseOrder, Framework, MissingMode,
    Numerics, Objective, ZERO_MISSING_BOUND,
};

use super::CompileError;

/// The format name in [`CompileError::Malformed`].
const FORMAT: &str = "LightGBM text";

/// `decision_type` bit 0: the split is categorical.
const DECISION_CATEGORICAL: u8 = 1;
/// `decision_type` bit 1: missing values go left.
const DECISION_DEFAULT_LEFT: u8 = 1 << 1;
/// `decision_type` bits 2-3: the missing type.
const DECISION_MISSING_SHIFT: u8 = 2;
/// Every bit LightGBM defines in `decision_type`.
const DECISION_KNOWN_BITS: u8 = 0b1111;

/// LightGBM reads at most this many `key=value` lines of a tree block and ignores the rest.
const MAX_TREE_LINES: usize = 22;

/// Header keys whose values may themselves contain `=` (LightGBM takes the rest of the line).
const FREE_TEXT_KEYS: [&str; 2] = ["feature_names", "monotone_constraints"];

/// Reads a LightGBM text model into a spec the engine reproduces exactly, or says why not.
pub fn import_text(bytes: &[u8]) -> Result<ModelSpec, CompileError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        malformed(format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })?;
    let file = split_file(text)?;
    let header = Header::read(&file.header)?;

    let n_features = header.n_features;
    if n_features > limits::MAX_FEATURES {
        return Err(CompileError::Unsupported(format!(
            "the model has {n_features} features; the engine reads at most {}",
            limits::MAX_FEATURES
        )));
    }
    if header.n_outputs > limits::MAX_OUTPUTS {
        return Err(CompileError::Unsupported(format!(
            "the model has {} outputs; the engine holds at most {}",
            header.n_outputs,
            limits::MAX_OUTPUTS
        )));
    }
    if file.trees.is_empty() {
        return Err(CompileError::Unsupported("the model has no trees".into()));
    }
    if file.trees.len() % header.n_outputs != 0 {
        // LightGBM would silently ignore the trees of an incomplete last round.
        return Err(malformed(format!(
            "{} trees is not a whole number of rounds of num_tree_per_iteration={}",
            file.trees.len(),
            header.n_outputs
        )));
    }
    if let Some(sizes) = &header.tree_sizes {
        check_tree_sizes(sizes, &file.tree_bytes)?;
    }

    let mut trees = Vec::with_capacity(file.trees.len());
    for (index, lines) in file.trees.iter().enumerate() {
        let block = TreeBlock::read(index, lines)?;
        trees.push(block.convert(n_features, index % header.n_outputs)?);
    }

    Ok(ModelSpec {
        n_outputs: header.n_outputs,
        objective: header.objective.objective,
        numerics: Numerics::Lightgbm {
            sigmoid: header.objective.sigmoid,
        },
        base_order: BaseOrder::First,
        aggregation: if header.average_output {
            Aggregation::Mean
        } else {
            Aggregation::Sum
        },
        base_margins: vec![0.0; header.n_outputs],
        feature_names: header.feature_names,
        feature_ranges: None,
        trees,
        source_framework: Framework::Lightgbm,
        source_version: header.version,
        label: header.objective.label,
        sections: vec![],
    })
}

/// The f32 `t` for which the engine's `x < t` decides LightGBM's `x <= threshold` for every
/// f32 `x` as LightGBM's predict sees it, or `None` for NaN and `+inf` thresholds.
///
/// LightGBM's predict reads every input with `|x| <= kZeroThreshold` (`1e-35f`) as `0.0`, so a
/// threshold in `[0, 1e-35)` sends all of `[-1e-35, 1e-35]` left (as if it were `1e-35`), and
/// one in `[-1e-35, 0)` sends all of it right (as if it were just below `-1e-35`). Elsewhere
/// the tiny inputs fall on the side their sign already puts them, and the plain conversion
/// [`lt_threshold_for_le_f64`] holds.
pub fn numeric_threshold(threshold: f64) -> Option<f32> {
    let bound = f64::from(ZERO_MISSING_BOUND);
    let effective = if (0.0..bound).contains(&threshold) {
        bound
    } else if threshold < 0.0 && threshold >= -bound {
        f64::from(next_f32_down(-ZERO_MISSING_BOUND))
    } else {
        threshold
    };
    lt_threshold_for_le_f64(effective)
}

fn malformed(detail: impl Into<String>) -> CompileError {
    CompileError::Malformed {
        format: FORMAT,
        detail: detail.into(),
    }
}

/// The file cut into its header lines and each tree's lines (without the `Tree=` line).
struct FileParts<'a> {
    header: Vec<&'a str>,
    trees: Vec<Vec<&'a str>>,
    /// Byte length of each tree's block, from its `Tree=` line to the next one (or to
    /// `end of trees`): what `tree_sizes` records.
    tree_bytes: Vec<usize>,
}

/// Splits the file at `Tree=` lines and `end of trees`; what follows that line is ignored.
fn split_file(text: &str) -> Result<FileParts<'_>, CompileError> {
    // Lines with their byte offsets; `\r\n` endings are accepted like `\n`.
    let mut lines = text.split_inclusive('\n').scan(0usize, |offset, raw| {
        let start = *offset;
        *offset += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        Some((start, line.strip_suffix('\r').unwrap_or(line)))
    });
    let first = lines
        .by_ref()
        .map(|(_, line)| line.trim_end())
        .find(|line| !line.is_empty());
    if first != Some("tree") {
        return Err(malformed(
            "the file does not start with the model type line `tree`",
        ));
    }
    let mut header = Vec::new();
    let mut trees: Vec<Vec<&str>> = Vec::new();
    let mut tree_starts = Vec::new();
    // Whether the current tree's block has ended (LightGBM stops reading a tree at a blank line).
    let mut block_open = false;
    for (offset, line) in lines.by_ref() {
        if line == "end of trees" {
            tree_starts.push(offset);
            let tree_bytes = tree_starts
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .collect();
            return Ok(FileParts {
                header,
                trees,
                tree_bytes,
            });
        }
        if let Some(index) = line.strip_prefix("Tree=") {
            if index != trees.len().to_string() {
                return Err(malformed(format!(
                    "expected `Tree={}`, found `Tree={index}`",
                    trees.len()
                )));
            }
            trees.push(Vec::new());
            tree_starts.push(offset);
            block_open = true;
        } else if line.is_empty() {
            block_open = false;
        } else if let Some(tree) = trees.last_mut() {
            if !block_open {
                return Err(malformed(format!(
                    "tree {}: unexpected line `{}` after the end of its block",
                    trees.len() - 1,
                    shorten(line)
                )));
            }
            tree.push(line);
        } else {
            header.push(line);
        }
    }
    Err(malformed(
        "the file ends before `end of trees` (truncated?)",
    ))
}

/// At most 80 characters of `line`, for messages.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// LightGBM finds tree `i` at the byte offset `tree_sizes` implies, so sizes that disagree
/// with the blocks (an edited file, changed line endings) make it read something else.
fn check_tree_sizes(value: &str, tree_bytes: &[usize]) -> Result<(), CompileError> {
    let sizes: Vec<usize> = parse_list("header", "tree_sizes", value, tree_bytes.len())?;
    for (index, (&size, &actual)) in sizes.iter().zip(tree_bytes).enumerate() {
        if size != actual {
            return Err(malformed(format!(
                "tree {index}: tree_sizes says {size} bytes but the block has {actual} \
                 (edited, or line endings changed?); LightGBM would misread the file"
            )));
        }
    }
    Ok(())
}

/// `key=value` lines into a map; a line without `=` is a flag with an empty value.
fn key_values<'a>(
    lines: &[&'a str],
    free_text: &[&str],
    context: &str,
) -> Result<BTreeMap<&'a str, &'a str>, CompileError> {
    let mut map = BTreeMap::new();
    for line in lines {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if value.contains('=') && !free_text.contains(&key) {
            return Err(malformed(format!(
                "{context}: line `{}` has more than one `=`",
                shorten(line)
            )));
        }
        if map.insert(key, value).is_some() {
            return Err(malformed(format!("{context}: key `{key}` appears twice")));
        }
    }
    Ok(map)
}

/// Parses a whole integer field.
fn parse_int(context: &str, key: &str, value: &str) -> Result<i64, CompileError> {
    value.trim().parse::<i64>().map_err(|_| {
        malformed(format!(
            "{context}: `{key}` is `{}`, not an integer",
            shorten(value)
        ))
    })
}

/// Parses a space-separated list of exactly `expected` values.
fn parse_list<T: std::str::FromStr>(
    context: &str,
    key: &str,
    value: &str,
    expected: usize,
) -> Result<Vec<T>, CompileError> {
    let mut out = Vec::new();
    for token in value.split(' ').filter(|token| !token.is_empty()) {
        let parsed = token.parse::<T>().map_err(|_| {
            malformed(format!(
                "{context}: `{key}` holds `{}`, not a number",
                shorten(token)
            ))
        })?;
        out.push(parsed);
    }
    if out.len() != expected {
        return Err(malformed(format!(
            "{context}: `{key}` has {} values, expected {expected}",
            out.len()
        )));
    }
    Ok(out)
}

/// What the objective line means for the engine.
#[derive(Debug, PartialEq)]
struct ObjectiveInfo {
    objective: Objective,
    sigmoid: f64,
    label: String,
}

/// The header fields the engine needs.
struct Header {
    version: String,
    n_outputs: usize,
    n_features: usize,
    feature_names: Vec<String>,
    objective: ObjectiveInfo,
    average_output: bool,
    tree_sizes: Option<String>,
}

impl Header {
    fn read(lines: &[&str]) -> Result<Self, CompileError> {
        let keys = key_values(lines, &FREE_TEXT_KEYS, "header")?;
        let get = |key: &str| {
            keys.get(key)
                .copied()
                .ok_or_else(|| malformed(format!("header: missing `{key}`")))
        };

        let version = get("version")?;
        if version != "v3" && version != "v4" {
            return Err(CompileError::Unsupported(format!(
                "LightGBM text format version `{}`; only v3 (LightGBM 3.x) and v4 (4.x) are read",
                shorten(version)
            )));
        }
        let num_class = parse_int("header", "num_class", get("num_class")?)?;
        if num_class < 1 {
            return Err(malformed(format!("header: num_class={num_class}")));
        }
        let per_iteration = match keys.get("num_tree_per_iteration") {
            Some(value) => parse_int("header", "num_tree_per_iteration", value)?,
            None => num_class,
        };
        if per_iteration != num_class {
            return Err(CompileError::Unsupported(format!(
                "num_tree_per_iteration={per_iteration} differs from num_class={num_class}"
            )));
        }
        let n_outputs =
            usize::try_from(num_class).map_err(|_| malformed("header: num_class out of range"))?;
        let max_feature_index = parse_int("header", "max_feature_idx", get("max_feature_idx")?)?;
        let n_features = usize::try_from(max_feature_index)
            .ok()
            .and_then(|index| index.checked_add(1))
            .ok_or_else(|| malformed(format!("header: max_feature_idx={max_feature_index}")))?;
        let feature_names: Vec<String> = get("feature_names")?
            .split(' ')
            .filter(|name| !name.is_empty())
            .map(String::from)
            .collect();
        if feature_names.len() != n_features {
            return Err(malformed(format!(
                "header: feature_names lists {} names but max_feature_idx={max_feature_index}",
                feature_names.len()
            )));
        }
        let objective = match keys.get("objective") {
            Some(line) => read_objective(line, n_outputs)?,
            // No objective line: a custom objective, whose predictions are the raw sums.
            None => ObjectiveInfo {
                objective: Objective::Regression,
                sigmoid: 1.0,
                label: String::new(),
            },
        };
        let tree_sizes = keys.get("tree_sizes").map(|sizes| sizes.to_string());
        Ok(Header {
            version: version.to_string(),
            n_outputs,
            n_features,
            feature_names,
            objective,
            average_output: keys.contains_key("average_output"),
            tree_sizes,
        })
    }
}

/// Maps the `objective=` line onto the engine's objectives, checking each objective's
/// `ConvertOutput`: only identity, the sigmoid `1/(1+exp(-s*m))` and the softmax are exact.
fn read_objective(line: &str, n_outputs: usize) -> Result<ObjectiveInfo, CompileError> {
    let mut tokens = line.split(' ').filter(|token| !token.is_empty());
    let name = tokens
        .next()
        .ok_or_else(|| malformed("header: `objective` is empty"))?;
    let mut sigmoid = None;
    let mut num_class = None;
    let mut sqrt = false;
    for token in tokens {
        match token.split_once(':') {
            Some(("sigmoid", value)) => {
                let parsed = lightgbm_atof(value).ok_or_else(|| {
                    malformed(format!(
                        "header: objective sigmoid `{value}` is not a number"
                    ))
                })?;
                sigmoid = Some(parsed);
            }
            Some(("num_class", value)) => {
                num_class = Some(parse_int("header", "objective num_class", value)?)
            }
            _ if token == "sqrt" => sqrt = true,
            _ => {}
        }
    }
    let label = line.to_string();
    // Binary and one-vs-rest objectives need a positive sigmoid (LightGBM refuses to load
    // without one).
    let need_sigmoid = |sigmoid: Option<f64>| match sigmoid {
        Some(value) if value > 0.0 && value.is_finite() => Ok(value),
        Some(value) => Err(malformed(format!(
            "header: objective `{line}` has sigmoid {value}, not positive"
        ))),
        None => Err(malformed(format!(
            "header: objective `{line}` lacks `sigmoid:`"
        ))),
    };
    let need_classes = |num_class: Option<i64>| match num_class {
        Some(k) if usize::try_from(k) == Ok(n_outputs) && n_outputs >= 2 => Ok(()),
        Some(k) => Err(malformed(format!(
            "header: objective `{line}` says num_class:{k}, the header {n_outputs}"
        ))),
        None => Err(malformed(format!(
            "header: objective `{line}` lacks `num_class:`"
        ))),
    };
    let need_single = || {
        if n_outputs == 1 {
            Ok(())
        } else {
            Err(malformed(format!(
                "header: objective `{line}` with num_class={n_outputs}"
            )))
        }
    };
    let info = |objective: Objective, sigmoid: f64| -> Result<ObjectiveInfo, CompileError> {
        Ok(ObjectiveInfo {
            objective,
            sigmoid,
            label: label.clone(),
        })
    };
    match canonical_objective(name) {
        "binary" => {
            need_single()?;
            info(Objective::BinaryLogistic, need_sigmoid(sigmoid)?)
        }
        // `1/(1+exp(-m))`: the binary sigmoid with scale 1 (`-1.0 * m` is exactly `-m`).
        "cross_entropy" => {
            need_single()?;
            info(Objective::BinaryLogistic, 1.0)
        }
        "multiclass" => {
            need_classes(num_class)?;
            info(Objective::MulticlassSoftmax, 1.0)
        }
        "multiclassova" => {
            need_classes(num_class)?;
            info(Objective::MulticlassOneVsRest, need_sigmoid(sigmoid)?)
        }
        "regression" | "regression_l1" | "huber" | "fair" | "quantile" | "mape" => {
            if sqrt {
                return Err(CompileError::Unsupported(format!(
                    "objective `{line}` squares its output back (reg_sqrt); \
                     the engine has no such transform"
                )));
            }
            info(Objective::Regression, 1.0)
        }
        // Ranking scores and custom objectives are reported raw (`ConvertOutput` is identity).
        "lambdarank" | "rank_xendcg" | "custom" => info(Objective::Regression, 1.0),
        "poisson" | "gamma" | "tweedie" => Err(CompileError::Unsupported(format!(
            "objective `{line}` reports exp(margin); the engine has no exp output transform"
        ))),
        "cross_entropy_lambda" => Err(CompileError::Unsupported(format!(
            "objective `{line}` reports log1p(exp(margin)); the engine has no such transform"
        ))),
        _ => Err(CompileError::Unsupported(format!(
            "unknown LightGBM objective `{}`",
            shorten(line)
        ))),
    }
}

/// LightGBM's objective aliases (`ParseObjectiveAlias`) to the canonical names it saves.
fn canonical_objective(name: &str) -> &str {
    match name {
        "regression"
        | "regression_l2"
        | "mean_squared_error"
        | "mse"
        | "l2"
        | "l2_root"
        | "root_mean_squared_error"
        | "rmse" => "regression",
        "regression_l1" | "mean_absolute_error" | "l1" | "mae" => "regression_l1",
        "multiclass" | "softmax" => "multiclass",
        "multiclassova" | "multiclass_ova" | "ova" | "ovr" => "multiclassova",
        "cross_entropy" | "xentropy" => "cross_entropy",
        "cross_entropy_lambda" | "xentlambda" => "cross_entropy_lambda",
        "mape" | "mean_absolute_percentage_error" => "mape",
        "rank_xendcg" | "xendcg" | "xe_ndcg" | "xe_ndcg_mart" | "xendcg_mart" => "rank_xendcg",
        "custom" | "none" | "null" | "na" => "custom",
        other => other,
    }
}

/// LightGBM's `Common::Atof`, with which it reads the objective's `sigmoid:` value: digits
/// accumulated in f64, the fraction divided by a power of ten, then scaled by the exponent.
/// It is not correctly rounded, so `str::parse` could differ in the last bit. `None` unless
/// the whole of `text` is a number with at least one digit.
fn lightgbm_atof(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| f64::from(b - b'0'))
    };
    let mut i = 0;
    let sign = match bytes.first() {
        Some(b'-') => {
            i = 1;
            -1.0
        }
        Some(b'+') => {
            i = 1;
            1.0
        }
        _ => 1.0,
    };
    let mut n_digits = 0;
    let mut value = 0.0f64;
    while let Some(d) = digit(i) {
        value = value * 10.0 + d;
        i += 1;
        n_digits += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let mut right = 0.0f64;
        let mut n_fraction: i32 = 0;
        while let Some(d) = digit(i) {
            right = d + right * 10.0;
            n_fraction = n_fraction.saturating_add(1);
            i += 1;
            n_digits += 1;
        }
        value += right / lightgbm_pow(10.0, n_fraction);
    }
    let mut scale = 1.0f64;
    let mut negative_exponent = false;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        match bytes.get(i) {
            Some(b'-') => {
                negative_exponent = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let mut exponent: u32 = 0;
        while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            exponent = exponent.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
            i += 1;
        }
        exponent = exponent.min(308);
        while exponent >= 50 {
            scale *= 1e50;
            exponent -= 50;
        }
        while exponent >= 8 {
            scale *= 1e8;
            exponent -= 8;
        }
        while exponent > 0 {
            scale *= 10.0;
            exponent -= 1;
        }
    }
    if i != bytes.len() || n_digits == 0 {
        return None;
    }
    Some(
        sign * if negative_exponent {
            value / scale
        } else {
            value * scale
        },
    )
}

/// LightGBM's `Common::Pow`, with its order of multiplications.
fn lightgbm_pow(base: f64, power: i32) -> f64 {
    if power < 0 {
        1.0 / lightgbm_pow(base, power.saturating_neg())
    } else if power == 0 {
        1.0
    } else if power % 2 == 0 {
        lightgbm_pow(base * base, power / 2)
    } else if power % 3 == 0 {
        lightgbm_pow(base * base * base, power / 3)
    } else {
        base * lightgbm_pow(base, power - 1)
    }
}

/// One `Tree=` block's fields.
struct TreeBlock<'a> {
    context: String,
    keys: BTreeMap<&'a str, &'a str>,
}

impl<'a> TreeBlock<'a> {
    fn read(index: usize, lines: &[&'a str]) -> Result<Self, CompileError> {
        let context = format!("tree {index}");
        if lines.len() > MAX_TREE_LINES {
            return Err(malformed(format!(
                "{context}: the block has {} lines; LightGBM reads only the first {MAX_TREE_LINES}",
                lines.len()
            )));
        }
        let keys = key_values(lines, &[], &context)?;
        Ok(TreeBlock { context, keys })
    }

    fn get(&self, key: &str) -> Result<&'a str, CompileError> {
        self.keys
            .get(key)
            .copied()
            .ok_or_else(|| malformed(format!("{}: missing `{key}`", self.context)))
    }

    fn count(&self, key: &str) -> Result<usize, CompileError> {
        let value = parse_int(&self.context, key, self.get(key)?)?;
        usize::try_from(value)
            .map_err(|_| malformed(format!("{}: `{key}` is {value}", self.context)))
    }

    fn list<T: std::str::FromStr>(
        &self,
        key: &str,
        expected: usize,
    ) -> Result<Vec<T>, CompileError> {
        parse_list(&self.context, key, self.get(key)?, expected)
    }

    fn convert(&self, n_features: usize, output: usize) -> Result<TreeSpec, CompileError> {
        let context = &self.context;
        let n_leaves = self.count("num_leaves")?;
        let n_categorical = self.count("num_cat")?;
        if let Some(linear) = self.keys.get("is_linear") {
            if parse_int(context, "is_linear", linear)? != 0 {
                return Err(CompileError::Unsupported(format!(
                    "{context} is a linear tree (linear_tree=true); \
                     the engine evaluates constant leaves only"
                )));
            }
        }
        if n_leaves == 0 {
            return Err(malformed(format!("{context}: num_leaves=0")));
        }
        let leaf_values: Vec<f64> = self.list("leaf_value", n_leaves)?;
        if let Some(value) = leaf_values.iter().find(|value| !value.is_finite()) {
            return Err(CompileError::Unsupported(format!(
                "{context} has leaf value {value}; the engine holds finite leaves only"
            )));
        }
        let leaves = leaf_values.iter().map(|&value| NodeSpec::Leaf { value });
        if n_leaves == 1 {
            // LightGBM predicts `leaf_value[0]` without reading any split field.
            return Ok(TreeSpec {
                output,
                nodes: leaves.collect(),
            });
        }

        let n_splits = n_leaves - 1;
        let features: Vec<usize> = self.list("split_feature", n_splits)?;
        let thresholds: Vec<f64> = self.list("threshold", n_splits)?;
        let lefts: Vec<i64> = self.list("left_child", n_splits)?;
        let rights: Vec<i64> = self.list("right_child", n_splits)?;
        let decisions: Vec<u8> = match self.keys.get("decision_type") {
            Some(value) => parse_list(context, "decision_type", value, n_splits)?,
            None => vec![0; n_splits],
        };
        let category_sets = if n_categorical > 0 {
            self.category_sets(n_categorical)?
        } else {
            Vec::new()
        };

        // Internal node i keeps index i; leaf j becomes n_splits + j.
        let child = |key: &str, node: usize, value: i64| -> Result<usize, CompileError> {
            let index = if value >= 0 {
                usize::try_from(value).ok().filter(|&i| i < n_splits)
            } else {
                usize::try_from(!value)
                    .ok()
                    .filter(|&j| j < n_leaves)
                    .map(|j| n_splits + j)
            };
            index.ok_or_else(|| {
                malformed(format!(
                    "{context}: `{key}` of node {node} is {value}, out of range"
                ))
            })
        };
        let mut nodes = Vec::with_capacity(2 * n_leaves - 1);
        for node in 0..n_splits {
            let feature = features[node];
            if feature >= n_features {
                return Err(malformed(format!(
                    "{context}: `split_feature` of node {node} is {feature}, \
                     but the model has {n_features} features"
                )));
            }
            let decision = decisions[node];
            if decision & !DECISION_KNOWN_BITS != 0 {
                return Err(malformed(format!(
                    "{context}: `decision_type` of node {node} is {decision}"
                )));
            }
            let left = child("left_child", node, lefts[node])?;
            let right = child("right_child", node, rights[node])?;
            let default_left = decision & DECISION_DEFAULT_LEFT != 0;
            let threshold = thresholds[node];
            let split = if decision & DECISION_CATEGORICAL != 0 {
                // With num_cat=0 LightGBM's GetLeaf would test this node numerically.
                let set = categorical_index(threshold)
                    .and_then(|set| category_sets.get(set))
                    .ok_or_else(|| {
                        malformed(format!(
                            "{context}: categorical node {node} names category set {threshold}, \
                             but num_cat={n_categorical}"
                        ))
                    })?;
                NodeSpec::Split {
                    feature,
                    condition: Condition::Categories(set.clone()),
                    // NaN always goes right; zeros are category 0 whatever the missing type.
                    missing: MissingMode::NanDefault,
                    default_left: false,
                    left,
                    right,
                }
            } else {
                let missing = match decision >> DECISION_MISSING_SHIFT {
                    0 => MissingMode::NanAsZero,
                    1 => MissingMode::ZeroOrNanDefault,
                    2 => MissingMode::NanDefault,
                    _ => {
                        return Err(malformed(format!(
                        "{context}: `decision_type` of node {node} is {decision} (missing type 3)"
                    )))
                    }
                };
                if threshold.is_nan() {
                    return Err(malformed(format!(
                        "{context}: `threshold` of node {node} is NaN"
                    )));
                }
                match numeric_threshold(threshold) {
                    Some(t) => NodeSpec::Split {
                        feature,
                        condition: Condition::Less(t),
                        missing,
                        default_left,
                        left,
                        right,
                    },
                    // `x <= +inf` holds for every value that reaches the comparison, +inf
                    // included, and no `x < t` does; its negation `x < -inf` holds for none.
                    // So test that with the children and the default side swapped. LightGBM
                    // writes such splits to separate missing values from all others.
                    None => NodeSpec::Split {
                        feature,
                        condition: Condition::Less(f32::NEG_INFINITY),
                        missing,
                        default_left: !default_left,
                        left: right,
                        right: left,
                    },
                }
            };
            nodes.push(split);
        }
        nodes.extend(leaves);
        check_tree_shape(&nodes).map_err(|index| {
            let what = match index.checked_sub(n_splits) {
                Some(leaf) => format!("leaf {leaf}"),
                None => format!("node {index}"),
            };
            malformed(format!(
                "{context}: `left_child`/`right_child` do not form one tree rooted at node 0 \
                 ({what} is reached twice or never)"
            ))
        })?;
        Ok(TreeSpec { output, nodes })
    }

    /// Decodes every category set: set `k` is the bitset words
    /// `cat_threshold[cat_boundaries[k]..cat_boundaries[k+1]]`, bit `c % 32` of word `c / 32`
    /// standing for category `c`.
    fn category_sets(&self, n_categorical: usize) -> Result<Vec<Vec<u32>>, CompileError> {
        let context = &self.context;
        let boundaries: Vec<usize> = self.list("cat_boundaries", n_categorical + 1)?;
        let n_words = boundaries.last().copied().unwrap_or(0);
        if boundaries.windows(2).any(|pair| pair[0] > pair[1]) {
            return Err(malformed(format!(
                "{context}: `cat_boundaries` is not non-decreasing"
            )));
        }
        let words: Vec<u32> = self.list("cat_threshold", n_words)?;
        let mut sets = Vec::with_capacity(n_categorical);
        for pair in boundaries.windows(2) {
            let mut members = Vec::new();
            for (word_index, &word) in words[pair[0]..pair[1]].iter().enumerate() {
                for bit in 0..32u32 {
                    if word >> bit & 1 == 1 {
                        let category = u32::try_from(word_index)
                            .ok()
                            .and_then(|w| w.checked_mul(32))
                            .and_then(|base| base.checked_add(bit))
                            .filter(|&category| category < MAX_CATEGORY)
                            .ok_or_else(|| {
                                CompileError::Unsupported(format!(
                                    "{context} has a category at or above {MAX_CATEGORY}, \
                                     more than a category set holds"
                                ))
                            })?;
                        members.push(category);
                    }
                }
            }
            sets.push(members);
        }
        Ok(sets)
    }
}

/// The category set index a categorical node's `threshold` holds, if it is a whole number.
fn categorical_index(threshold: f64) -> Option<usize> {
    if threshold >= 0.0 && threshold.fract() == 0.0 && threshold < 1e9 {
        Some(threshold as usize)
    } else {
        None
    }
}

/// Checks that every node is reached exactly once from node 0; `Err` names the first node
/// that is not (or an index past the end).
fn check_tree_shape(nodes: &[NodeSpec]) -> Result<(), usize> {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![0usize];
    while let Some(index) = stack.pop() {
        match seen.get_mut(index) {
            Some(flag) if !*flag => *flag = true,
            _ => return Err(index),
        }
        if let Some(NodeSpec::Split { left, right, .. }) = nodes.get(index) {
            stack.push(*right);
            stack.push(*left);
        }
    }
    match seen.iter().position(|&flag| !flag) {
        Some(index) => Err(index),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_engine::format::next_f32_up;
    use lockstep_engine::Model;

    /// A minimal v4 file around the given tree blocks.
    fn model_text(
        header_extra: &str,
        objective: &str,
        n_features: usize,
        trees: &[&str],
    ) -> String {
        let names: Vec<String> = (0..n_features).map(|i| format!("f{i}")).collect();
        let mut text = format!(
            "tree\nversion=v4\n{header_extra}max_feature_idx={}\n{objective}feature_names={}\n\
             feature_infos={}\ntree_sizes={}\n\n",
            n_features - 1,
            names.join(" "),
            vec!["none"; n_features].join(" "),
            // Each block below is `Tree={index}\n`, the tree, and three newlines.
            trees
                .iter()
                .enumerate()
                .map(|(index, tree)| (format!("Tree={index}\n").len() + tree.len() + 3).to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        for (index, tree) in trees.iter().enumerate() {
            text.push_str(&format!("Tree={index}\n{tree}\n\n\n"));
        }
        text.push_str("end of trees\n\nfeature_importances:\n\n");
        text.push_str("parameters:\n[boosting: gbdt]\nend of parameters\n");
        text
    }

    fn binary(trees: &[&str], n_features: usize) -> String {
        model_text(
            "num_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n",
            "objective=binary sigmoid:1\n",
            n_features,
            trees,
        )
    }

    fn regression(trees: &[&str], n_features: usize) -> String {
        model_text(
            "num_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n",
            "objective=regression\n",
            n_features,
            trees,
        )
    }

    /// `x <= threshold` on feature 0, leaves -1 (left) and 2 (right).
    fn stump(threshold: &str, decision_type: u8) -> String {
        format!(
            "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold={threshold}\n\
             decision_type={decision_type}\n\
             left_child=-1\nright_child=-2\nleaf_value=-1 2\nleaf_weight=1 1\nleaf_count=1 1\n\
             internal_value=0\ninternal_weight=0\ninternal_count=2\nis_linear=0\nshrinkage=1"
        )
    }

    fn import(text: &str) -> ModelSpec {
        match import_text(text.as_bytes()) {
            Ok(spec) => spec,
            Err(error) => panic!("import failed: {error}\n{text}"),
        }
    }

    fn margin(bytes: &[u8], row: &[f32]) -> f64 {
        let model = Model::from_bytes(bytes).expect("compiled model loads");
        model.score(row).expect("row scores").margins()[0]
    }

    fn refusal(text: &str) -> CompileError {
        match import_text(text.as_bytes()) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error,
        }
    }

    fn assert_malformed(text: &str, needles: &[&str]) {
        match refusal(text) {
            CompileError::Malformed { format, detail } => {
                assert_eq!(format, "LightGBM text");
                for needle in needles {
                    assert!(detail.contains(needle), "`{detail}` lacks `{needle}`");
                }
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn assert_unsupported(text: &str, needle: &str) {
        match refusal(text) {
            CompileError::Unsupported(reason) => {
                assert!(reason.contains(needle), "`{reason}` lacks `{needle}`")
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_binary_stump_into_a_lightgbm_spec() {
        let spec = import(&binary(&[&stump("0.5", 2)], 2));
        assert_eq!(spec.n_outputs, 1);
        assert_eq!(spec.objective, Objective::BinaryLogistic);
        assert_eq!(spec.numerics, Numerics::Lightgbm { sigmoid: 1.0 });
        assert_eq!(spec.base_order, BaseOrder::First);
        assert_eq!(spec.aggregation, Aggregation::Sum);
        assert_eq!(spec.base_margins, vec![0.0]);
        assert_eq!(spec.feature_names, vec!["f0".to_string(), "f1".to_string()]);
        assert_eq!(spec.feature_ranges, None);
        assert_eq!(spec.source_framework, Framework::Lightgbm);
        assert_eq!(spec.source_version, "v4");
        assert_eq!(spec.label, "binary sigmoid:1");
        assert!(spec.sections.is_empty());
        assert_eq!(
            spec.trees,
            vec![TreeSpec {
                output: 0,
                nodes: vec![
                    NodeSpec::Split {
                        feature: 0,
                        condition: Condition::Less(lt_threshold_for_le_f64(0.5).unwrap()),
                        missing: MissingMode::NanAsZero,
                        default_left: true,
                        left: 1,
                        right: 2,
                    },
                    NodeSpec::Leaf { value: -1.0 },
                    NodeSpec::Leaf { value: 2.0 },
                ],
            }]
        );
        let bytes = spec.to_bytes().unwrap();
        assert_eq!(margin(&bytes, &[0.5, 0.0]), -1.0);
        assert_eq!(margin(&bytes, &[next_f32_up(0.5), 0.0]), 2.0);
        // Missing type None: NaN reads as 0.0, which is <= 0.5.
        assert_eq!(margin(&bytes, &[f32::NAN, 0.0]), -1.0);
    }

    #[test]
    fn renumbers_a_depth_two_tree_with_leaves_after_splits() {
        // Root splits f1; its left child is internal node 1 (on f0), its right child leaf 2.
        let tree = "num_leaves=3\nnum_cat=0\nsplit_feature=1 0\nthreshold=1.5 -2.5\n\
                    decision_type=0 0\nleft_child=1 -1\nright_child=-3 -2\n\
                    leaf_value=10 20 30\nis_linear=0\nshrinkage=1";
        let spec = import(&regression(&[tree], 2));
        let nodes = &spec.trees[0].nodes;
        assert_eq!(nodes.len(), 5);
        assert!(matches!(
            nodes[0],
            NodeSpec::Split {
                feature: 1,
                left: 1,
                right: 4,
                ..
            }
        ));
        assert!(matches!(
            nodes[1],
            NodeSpec::Split {
                feature: 0,
                left: 2,
                right: 3,
                ..
            }
        ));
        assert_eq!(
            nodes[2..],
            [
                NodeSpec::Leaf { value: 10.0 },
                NodeSpec::Leaf { value: 20.0 },
                NodeSpec::Leaf { value: 30.0 }
            ]
        );
        let bytes = spec.to_bytes().unwrap();
        assert_eq!(margin(&bytes, &[-3.0, 0.0]), 10.0);
        assert_eq!(margin(&bytes, &[-2.5, 1.5]), 10.0);
        assert_eq!(margin(&bytes, &[-2.0, 1.5]), 20.0);
        assert_eq!(margin(&bytes, &[-3.0, 1.6]), 30.0);
    }

    #[test]
    fn converts_a_non_f32_threshold_to_the_strict_f32_bound() {
        // 0.1 is not an f32: `x <= 0.1` holds for the largest f32 below 0.1, not for 0.1f32
        // (which is above 0.1), so the strict bound is 0.1f32 itself.
        let threshold = 0.1f64;
        let spec = import(&regression(&[&stump("0.10000000000000001", 0)], 1));
        let t = match &spec.trees[0].nodes[0] {
            NodeSpec::Split {
                condition: Condition::Less(t),
                ..
            } => *t,
            other => panic!("not a numeric split: {other:?}"),
        };
        assert_eq!(t, 0.1f32);
        assert!(f64::from(0.1f32) > threshold);
        let bytes = spec.to_bytes().unwrap();
        let below = next_f32_down(0.1f32);
        assert!(f64::from(below) <= threshold);
        assert_eq!(margin(&bytes, &[below]), -1.0);
        assert_eq!(margin(&bytes, &[0.1f32]), 2.0);
        // A threshold that is exactly an f32 keeps that value on the left.
        let spec = import(&regression(&[&stump("0.25", 0)], 1));
        let bytes = spec.to_bytes().unwrap();
        assert_eq!(margin(&bytes, &[0.25]), -1.0);
        assert_eq!(margin(&bytes, &[next_f32_up(0.25)]), 2.0);
    }

    #[test]
    fn treats_tiny_inputs_as_zero_like_lightgbm_predict() {
        let bound = ZERO_MISSING_BOUND;
        // LightGBM's model of an input: |x| <= 1e-35f reads as 0.0.
        let lightgbm_left = |x: f32, threshold: f64| {
            let seen = if f64::from(x).abs() <= f64::from(bound) {
                0.0
            } else {
                f64::from(x)
            };
            seen <= threshold
        };
        let b = f64::from(bound);
        let thresholds = [
            0.0,
            -0.0,
            b,
            -b,
            b / 2.0,
            -b / 2.0,
            1e-40,
            -1e-40,
            b * 1.5,
            -b * 1.5,
            1e-30,
            -1e-30,
            1.0,
        ];
        for &threshold in &thresholds {
            let t = numeric_threshold(threshold).unwrap();
            // Walk every f32 step around +-1e-35 and around 0 and the threshold itself.
            let mut centers = vec![bound, -bound, 0.0, threshold as f32];
            centers.push(f32::from_bits(1));
            for center in centers {
                let mut x = center;
                for _ in 0..40 {
                    x = next_f32_down(x);
                }
                for _ in 0..80 {
                    assert_eq!(
                        x < t,
                        lightgbm_left(x, threshold),
                        "threshold {threshold:e} x {x:e}"
                    );
                    x = next_f32_up(x);
                }
            }
        }
        assert_eq!(numeric_threshold(f64::INFINITY), None);
        assert_eq!(numeric_threshold(f64::NAN), None);
    }

    #[test]
    fn maps_each_missing_type() {
        // decision_type: 0 None, 2 None+default-left, 4 Zero, 6 Zero+left, 8 NaN, 10 NaN+left.
        let expected = [
            (0, MissingMode::NanAsZero, false),
            (2, MissingMode::NanAsZero, true),
            (4, MissingMode::ZeroOrNanDefault, false),
            (6, MissingMode::ZeroOrNanDefault, true),
            (8, MissingMode::NanDefault, false),
            (10, MissingMode::NanDefault, true),
        ];
        for (decision, mode, left) in expected {
            // Threshold 5 so that 0.0 goes left by comparison alone.
            let spec = import(&regression(&[&stump("5", decision)], 1));
            match &spec.trees[0].nodes[0] {
                NodeSpec::Split {
                    missing,
                    default_left,
                    ..
                } => {
                    assert_eq!(
                        (*missing, *default_left),
                        (mode, left),
                        "decision_type {decision}"
                    );
                }
                other => panic!("not a split: {other:?}"),
            }
            let bytes = spec.to_bytes().unwrap();
            let side = |x: f32| {
                if margin(&bytes, &[x]) == -1.0 {
                    "left"
                } else {
                    "right"
                }
            };
            let default = if left { "left" } else { "right" };
            let (nan, zero, tiny) = match mode {
                MissingMode::NanAsZero => ("left", "left", "left"),
                MissingMode::ZeroOrNanDefault => (default, default, default),
                MissingMode::NanDefault => (default, "left", "left"),
            };
            assert_eq!(side(f32::NAN), nan, "NaN, decision_type {decision}");
            assert_eq!(side(0.0), zero, "0.0, decision_type {decision}");
            assert_eq!(side(-0.0), zero, "-0.0, decision_type {decision}");
            assert_eq!(side(1e-36), tiny, "1e-36, decision_type {decision}");
            assert_eq!(side(6.0), "right", "6.0, decision_type {decision}");
            assert_eq!(
                side(f32::NEG_INFINITY),
                "left",
                "-inf, decision_type {decision}"
            );
        }
    }

    #[test]
    fn decodes_categorical_sets_members_left_nan_right() {
        // Set 0 = words [0b1010, 1] = categories {1, 3, 32}; set 1 = {0}. Node 0 uses set 1,
        // node 1 uses set 0.
        let tree = "num_leaves=3\nnum_cat=2\nsplit_feature=0 1\nthreshold=1 0\ndecision_type=1 9\n\
                    left_child=-1 -2\nright_child=1 -3\nleaf_value=1 2 3\n\
                    cat_boundaries=0 2 3\ncat_threshold=10 1 1\nis_linear=0\nshrinkage=1";
        let spec = import(&regression(&[tree], 2));
        let nodes = &spec.trees[0].nodes;
        assert_eq!(
            nodes[0],
            NodeSpec::Split {
                feature: 0,
                condition: Condition::Categories(vec![0]),
                missing: MissingMode::NanDefault,
                default_left: false,
                left: 2,
                right: 1,
            }
        );
        match &nodes[1] {
            NodeSpec::Split {
                feature: 1,
                condition: Condition::Categories(set),
                ..
            } => {
                assert_eq!(*set, vec![1, 3, 32]);
            }
            other => panic!("node 1 is {other:?}"),
        }
        let bytes = spec.to_bytes().unwrap();
        assert_eq!(margin(&bytes, &[0.0, 0.0]), 1.0);
        assert_eq!(
            margin(&bytes, &[-0.5, 0.0]),
            1.0,
            "-0.5 truncates to category 0"
        );
        assert_eq!(margin(&bytes, &[0.99, 0.0]), 1.0);
        assert_eq!(
            margin(&bytes, &[-1.0, 1.0]),
            2.0,
            "-1 is no category: right, then 1 is a member"
        );
        assert_eq!(margin(&bytes, &[f32::NAN, 32.5]), 2.0);
        assert_eq!(margin(&bytes, &[1.0, 2.0]), 3.0);
        assert_eq!(
            margin(&bytes, &[1.0, f32::NAN]),
            3.0,
            "NaN goes right even with missing type NaN"
        );
        assert_eq!(margin(&bytes, &[1.0, 3e9]), 3.0, "beyond int: right");
        assert_eq!(margin(&bytes, &[1.0, f32::INFINITY]), 3.0);
    }

    #[test]
    fn assigns_multiclass_trees_round_robin() {
        let header = "num_class=3\nnum_tree_per_iteration=3\nlabel_index=0\n";
        let leaf = |v: &str| {
            format!(
                "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n\
                 decision_type=\nleft_child=\nright_child=\nleaf_value={v}\n\
                 is_linear=0\nshrinkage=1"
            )
        };
        let trees: Vec<String> = ["1", "2", "3", "4", "5", "6"]
            .iter()
            .map(|v| leaf(v))
            .collect();
        let trees: Vec<&str> = trees.iter().map(String::as_str).collect();
        let spec = import(&model_text(
            header,
            "objective=multiclass num_class:3\n",
            1,
            &trees,
        ));
        assert_eq!(spec.objective, Objective::MulticlassSoftmax);
        assert_eq!(spec.n_outputs, 3);
        assert_eq!(
            spec.trees.iter().map(|t| t.output).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2]
        );
        let bytes = spec.to_bytes().unwrap();
        let model = Model::from_bytes(&bytes).unwrap();
        assert_eq!(model.score(&[0.0]).unwrap().margins(), [5.0, 7.0, 9.0]);

        let ova = import(&model_text(
            header,
            "objective=multiclassova num_class:3 sigmoid:2\n",
            1,
            &trees,
        ));
        assert_eq!(ova.objective, Objective::MulticlassOneVsRest);
        assert_eq!(ova.numerics, Numerics::Lightgbm { sigmoid: 2.0 });
    }

    #[test]
    fn averages_random_forest_rounds() {
        let leaf =
            |v: &str| format!("num_leaves=1\nnum_cat=0\nleaf_value={v}\nis_linear=0\nshrinkage=1");
        let (a, b) = (leaf("1"), leaf("2"));
        let text = model_text(
            "num_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n",
            "objective=regression\naverage_output\n",
            1,
            &[&a, &b],
        );
        let spec = import(&text);
        assert_eq!(spec.aggregation, Aggregation::Mean);
        let bytes = spec.to_bytes().unwrap();
        // The margin is LightGBM's raw score (the sum); the output is the average.
        assert_eq!(margin(&bytes, &[0.0]), 3.0);
        let model = lockstep_engine::Model::from_bytes(&bytes).unwrap();
        assert_eq!(model.score(&[0.0]).unwrap().outputs()[0], 1.5);
    }

    #[test]
    fn keeps_a_single_leaf_tree_as_one_leaf() {
        let tree = "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n\
                    decision_type=\nleft_child=\nright_child=\nleaf_value=-0.30000000000000004\n\
                    leaf_weight=0\nleaf_count=0\ninternal_value=\ninternal_weight=\n\
                    internal_count=\nis_linear=0\nshrinkage=1";
        let spec = import(&binary(&[tree, &stump("0", 0)], 1));
        assert_eq!(
            spec.trees[0].nodes,
            vec![NodeSpec::Leaf {
                value: -0.30000000000000004
            }]
        );
        let bytes = spec.to_bytes().unwrap();
        assert_eq!(
            margin(&bytes, &[1.0]).to_bits(),
            (-0.30000000000000004f64 + 2.0).to_bits()
        );
    }

    #[test]
    fn reads_v3_files_and_crlf_lines_without_tree_sizes() {
        let v3_tree = stump("0.5", 0).replace("\nis_linear=0", "");
        let text = binary(&[&v3_tree], 1).replace("version=v4", "version=v3");
        assert_eq!(import(&text).source_version, "v3");
        // LightGBM reads `\r\n` lines, but with tree_sizes it seeks to byte offsets that the
        // extra `\r`s have moved.
        let crlf = binary(&[&stump("0.5", 0)], 1).replace('\n', "\r\n");
        assert_malformed(
            &crlf,
            &["tree 0", "tree_sizes says 243 bytes but the block has 262"],
        );
        let start = crlf.find("tree_sizes=").unwrap();
        let end = start + crlf[start..].find("\r\n").unwrap() + 2;
        let without_sizes = format!("{}{}", &crlf[..start], &crlf[end..]);
        assert_eq!(import(&without_sizes).trees.len(), 1);
    }

    #[test]
    fn maps_objectives_by_their_output_transform() {
        let objective = |line: &str, n: usize| read_objective(line, n);
        let exact = |line: &str, n: usize| objective(line, n).unwrap();
        assert_eq!(
            exact("binary sigmoid:1.5", 1).objective,
            Objective::BinaryLogistic
        );
        assert_eq!(exact("binary sigmoid:1.5", 1).sigmoid, 1.5);
        assert_eq!(
            exact("cross_entropy", 1),
            ObjectiveInfo {
                objective: Objective::BinaryLogistic,
                sigmoid: 1.0,
                label: "cross_entropy".into()
            }
        );
        for line in [
            "regression",
            "regression_l2",
            "l2",
            "regression_l1",
            "huber",
            "fair",
            "quantile",
            "mape",
            "lambdarank",
            "rank_xendcg",
            "custom",
        ] {
            assert_eq!(exact(line, 1).objective, Objective::Regression, "{line}");
        }
        assert_eq!(
            exact("softmax num_class:4", 4).objective,
            Objective::MulticlassSoftmax
        );
        assert_eq!(
            exact("ova num_class:4 sigmoid:1", 4).objective,
            Objective::MulticlassOneVsRest
        );
        for line in [
            "poisson",
            "gamma",
            "tweedie",
            "cross_entropy_lambda",
            "regression sqrt",
            "frobnicate",
        ] {
            assert!(
                matches!(objective(line, 1), Err(CompileError::Unsupported(_))),
                "{line}"
            );
        }
        for (line, n) in [
            ("binary", 1),
            ("binary sigmoid:0", 1),
            ("binary sigmoid:x", 1),
            ("binary sigmoid:1", 2),
            ("multiclass", 3),
            ("multiclass num_class:2", 3),
            ("multiclassova num_class:3", 3),
        ] {
            assert!(
                matches!(objective(line, n), Err(CompileError::Malformed { .. })),
                "{line}"
            );
        }
    }

    #[test]
    fn reads_sigmoid_with_lightgbms_own_atof() {
        assert_eq!(lightgbm_atof("1"), Some(1.0));
        assert_eq!(lightgbm_atof("0.5"), Some(0.5));
        assert_eq!(lightgbm_atof("-2.5e1"), Some(-25.0));
        assert_eq!(lightgbm_atof("1.23457"), Some(1.0 + 23457.0 / 100000.0));
        // Integer and fraction parts are read separately and added, which is not correctly
        // rounded: "1.14" reads as 1 + 14/100, one ulp away from the double nearest 1.14.
        assert_eq!(lightgbm_atof("1.14"), Some(1.0 + 14.0 / 100.0));
        assert_ne!(lightgbm_atof("1.14"), Some(1.14));
        assert_eq!(lightgbm_atof(""), None);
        assert_eq!(lightgbm_atof("1x"), None);
        assert_eq!(lightgbm_atof("."), None);
    }

    #[test]
    fn refuses_linear_trees() {
        let tree = stump("0.5", 0).replace("is_linear=0", "is_linear=1");
        assert_unsupported(&binary(&[&tree], 1), "linear tree");
    }

    #[test]
    fn refuses_unsupported_objectives() {
        let header = "num_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n";
        for objective in ["poisson", "gamma", "tweedie", "cross_entropy_lambda"] {
            let text = model_text(
                header,
                &format!("objective={objective}\n"),
                1,
                &[&stump("0", 0)],
            );
            assert_unsupported(&text, objective);
        }
        let text = model_text(header, "objective=regression sqrt\n", 1, &[&stump("0", 0)]);
        assert_unsupported(&text, "sqrt");
    }

    #[test]
    fn sends_all_compared_values_left_at_an_infinite_threshold() {
        // LightGBM writes `threshold=inf` to split missing values from everything else.
        for (decision, nan, zero) in [
            (0, "left", "left"),
            (8, "right", "left"),
            (10, "left", "left"),
            (4, "right", "right"),
            (6, "left", "left"),
        ] {
            let spec = import(&regression(&[&stump("inf", decision)], 1));
            let bytes = spec.to_bytes().unwrap();
            let side = |x: f32| {
                if margin(&bytes, &[x]) == -1.0 {
                    "left"
                } else {
                    "right"
                }
            };
            assert_eq!(side(f32::NAN), nan, "NaN, decision_type {decision}");
            assert_eq!(side(0.0), zero, "0.0, decision_type {decision}");
            assert_eq!(side(1e-36), zero, "1e-36, decision_type {decision}");
            for x in [
                f32::INFINITY,
                f32::MAX,
                1.0,
                -1.0,
                f32::MIN,
                f32::NEG_INFINITY,
            ] {
                assert_eq!(side(x), "left", "{x:e}, decision_type {decision}");
            }
        }
    }

    #[test]
    fn refuses_nan_thresholds() {
        assert_malformed(&regression(&[&stump("nan", 0)], 1), &["tree 0", "NaN"]);
    }

    #[test]
    fn refuses_other_format_versions_and_models_without_trees() {
        let text = binary(&[&stump("0", 0)], 1).replace("version=v4", "version=v2");
        assert_unsupported(&text, "version `v2`");
        assert_unsupported(&binary(&[], 1), "no trees");
    }

    #[test]
    fn refuses_non_finite_leaves() {
        let tree = stump("0", 0).replace("leaf_value=-1 2", "leaf_value=-1 inf");
        assert_unsupported(&regression(&[&tree], 1), "leaf value inf");
    }

    #[test]
    fn refuses_missing_and_garbled_tree_fields_naming_tree_and_key() {
        let good = stump("0.5", 0);
        let second = |tree: &str| regression(&[&good, tree], 1);
        assert_malformed(
            &second(&good.replace("leaf_value=-1 2\n", "")),
            &["tree 1", "leaf_value"],
        );
        assert_malformed(
            &second(&good.replace("leaf_value=-1 2", "leaf_value=-1")),
            &["tree 1", "leaf_value", "expected 2"],
        );
        assert_malformed(
            &second(&good.replace("threshold=0.5", "threshold=abc")),
            &["tree 1", "threshold"],
        );
        assert_malformed(
            &second(&good.replace("num_leaves=2", "num_leaves=two")),
            &["tree 1", "num_leaves"],
        );
        assert_malformed(
            &second(&good.replace("num_cat=0\n", "")),
            &["tree 1", "num_cat"],
        );
        assert_malformed(
            &second(&good.replace("split_feature=0", "split_feature=1")),
            &["tree 1", "split_feature"],
        );
        assert_malformed(
            &second(&good.replace("left_child=-1", "left_child=-3")),
            &["tree 1", "left_child"],
        );
        assert_malformed(
            &second(&good.replace("right_child=-2", "right_child=-1")),
            &["tree 1", "do not form one tree"],
        );
        assert_malformed(
            &second(&good.replace("decision_type=0", "decision_type=12")),
            &["tree 1", "decision_type"],
        );
        assert_malformed(
            &second(&good.replace("decision_type=0", "decision_type=16")),
            &["tree 1", "decision_type"],
        );
        let padded = format!("{good}{}", "\nextra=0".repeat(7));
        assert_malformed(&second(&padded), &["tree 1", "23 lines", "first 22"]);
        assert_malformed(
            &second(&good.replace("shrinkage=1", "shrinkage=1\nshrinkage=1")),
            &["tree 1", "twice"],
        );
        // A categorical node needs a category set.
        assert_malformed(
            &second(&good.replace("decision_type=0", "decision_type=1")),
            &["tree 1", "category set"],
        );
        let categorical =
            "num_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\n\
                           left_child=-1\nright_child=-2\nleaf_value=1 2\ncat_boundaries=0 1\n\
                           cat_threshold=1\nis_linear=0";
        assert!(import_text(second(categorical).as_bytes()).is_ok());
        assert_malformed(
            &second(&categorical.replace("cat_threshold=1", "cat_threshold=1 2")),
            &["tree 1", "cat_threshold"],
        );
        assert_malformed(
            &second(&categorical.replace("cat_boundaries=0 1\n", "")),
            &["tree 1", "cat_boundaries"],
        );
        assert_malformed(
            &second(&categorical.replace("threshold=0\n", "threshold=1\n")),
            &["tree 1", "category set"],
        );
        assert_malformed(
            &second(&categorical.replace("threshold=0\n", "threshold=0.5\n")),
            &["tree 1", "category set"],
        );
    }

    #[test]
    fn refuses_two_features_with_one_name() {
        let text =
            binary(&[&stump("0.5", 0)], 2).replace("feature_names=f0 f1", "feature_names=x x");
        let message = match crate::compile::compile(text.as_bytes()) {
            Err(error) => error.to_string(),
            Ok(_) => String::from("compiled"),
        };
        assert!(
            message.contains("\"x\" is used by features 0 and 1"),
            "{message}"
        );
    }

    #[test]
    fn refuses_garbled_headers_and_structure() {
        let good = binary(&[&stump("0.5", 0)], 2);
        assert_malformed(
            &good.replace("max_feature_idx=1\n", ""),
            &["header", "max_feature_idx"],
        );
        assert_malformed(&good.replace("num_class=1\n", ""), &["header", "num_class"]);
        assert_malformed(&good.replace("version=v4\n", ""), &["header", "version"]);
        assert_malformed(
            &good.replace("feature_names=f0 f1", "feature_names=f0"),
            &["feature_names"],
        );
        assert_malformed(
            &good.replace("end of trees", "end of tree"),
            &["end of tree"],
        );
        let truncated = &good[..good.find("end of trees").unwrap()];
        assert_malformed(truncated, &["ends before `end of trees`"]);
        assert_malformed(&good.replace("Tree=0", "Tree=1"), &["Tree=0"]);
        assert_malformed(
            &good.replace("tree_sizes=", "tree_sizes=5 "),
            &["header", "`tree_sizes` has 2 values, expected 1"],
        );
        assert_malformed(&good.replacen("tree\n", "model\n", 1), &["tree"]);
        assert_malformed(
            &good.replace("label_index=0", "label_index=0=1"),
            &["header", "more than one"],
        );
        let stray = good.replace("end of trees", "stray line\nend of trees");
        assert_malformed(&stray, &["tree 0", "stray line"]);
        match import_text(b"tree\n\xff\n") {
            Err(CompileError::Malformed { detail, .. }) => assert!(detail.contains("UTF-8")),
            other => panic!("{other:?}"),
        }
        // Three trees of a 3-class model per round: 4 trees are not whole rounds.
        let leaf = "num_leaves=1\nnum_cat=0\nleaf_value=0\nis_linear=0";
        let text = model_text(
            "num_class=3\nnum_tree_per_iteration=3\nlabel_index=0\n",
            "objective=multiclass num_class:3\n",
            1,
            &[leaf, leaf, leaf, leaf],
        );
        assert_malformed(&text, &["whole number of rounds"]);
    }

    #[test]
    fn never_panics_on_truncated_or_mutated_files() {
        let categorical = "num_leaves=3\nnum_cat=1\nsplit_feature=0 1\nthreshold=0 -2.5\n\
                           decision_type=1 10\nleft_child=-1 -2\nright_child=1 -3\n\
                           leaf_value=1 2 3\ncat_boundaries=0 2\ncat_threshold=10 1\nis_linear=0";
        let text = regression(&[&stump("0.5", 4), categorical], 2);
        let bytes = text.as_bytes();
        let mut accepted = 0;
        let mut check = |candidate: &[u8]| {
            if let Ok(spec) = import_text(candidate) {
                accepted += 1;
                let _ = spec.to_bytes();
            }
        };
        for end in 0..bytes.len() {
            check(&bytes[..end]);
        }
        for position in 0..bytes.len() {
            for replacement in [b'0', b'9', b'-', b' ', b'\n', b'=', b'x', 0xff] {
                let mut mutated = bytes.to_vec();
                mutated[position] = replacement;
                check(&mutated);
            }
        }
        // Some mutations (a leaf digit, a feature name) leave a valid model.
        assert!(accepted > 0);
    }

    #[test]
    fn accepts_feature_names_containing_equals_and_a_missing_objective() {
        let text = model_text(
            "num_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n",
            "",
            1,
            &[&stump("0", 0)],
        )
        .replace("feature_names=f0", "feature_names=a=b");
        let spec = import(&text);
        assert_eq!(spec.feature_names, vec!["a=b".to_string()]);
        assert_eq!(spec.objective, Objective::Regression);
        assert_eq!(spec.label, "");
    }
}

//! Evaluation: walks every tree of a validated [`Model`] for one row, sums leaves in tree order
//! in the model's precision, and applies the output transform. No allocation, no recursion, no
//! std float functions; the exponentials come from [`crate::math`], the same code on every
//! target.

use crate::format::{
    f64_at, le_f64, limits::MAX_OUTPUTS, record, Aggregation, BaseOrder, CategorySetRecord,
    MissingMode, Node, Numerics, Objective, TreeRecord, LINEAR_TERM_BYTES, NODE_BYTES, TREE_BYTES,
    ZERO_MISSING_BOUND,
};
use crate::math;
use crate::model::Model;
use crate::Error;

/// XGBoost treats a category as valid when `0 <= x < 2^24` (its `InvalidCat`).
const XGBOOST_CATEGORY_END: f32 = 16_777_216.0;
/// LightGBM truncates to `int`; values at or beyond 2^31 or at or below -1 are not categories.
const LIGHTGBM_CATEGORY_END: f32 = 2_147_483_648.0;

/// The NaN every NaN result is reported as (positive, quiet, no payload). Spelled as bits:
/// Rust does not promise which NaN `f64::NAN` is.
pub const CANONICAL_NAN_F64: f64 = f64::from_bits(0x7ff8_0000_0000_0000);
/// [`CANONICAL_NAN_F64`] narrowed: the f32 every NaN output is reported as.
pub const CANONICAL_NAN_F32: f32 = f32::from_bits(0x7fc0_0000);

/// The margins and transformed outputs of one row, at the model's working precision widened
/// to f64 (an f32 model's values are exact f32 values).
#[derive(Debug, Clone, Copy)]
pub struct Scores {
    n_outputs: usize,
    margins: [f64; MAX_OUTPUTS],
    outputs: [f64; MAX_OUTPUTS],
}

impl Scores {
    /// Raw margins (sum of trees and base margin), one per output.
    pub fn margins(&self) -> &[f64] {
        self.margins.get(..self.n_outputs).unwrap_or(&[])
    }

    /// Transformed outputs (probabilities, or the regression value), one per output.
    pub fn outputs(&self) -> &[f64] {
        self.outputs.get(..self.n_outputs).unwrap_or(&[])
    }
}

impl Model<'_> {
    /// Scores one row. `features` must hold exactly [`Model::n_features`] values; NaN means
    /// missing.
    ///
    /// ```
    /// use lockstep_engine::{math, Error, Model};
    ///
    /// static MODEL: &[u8] =
    ///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
    /// let model = Model::from_bytes(MODEL)?;
    ///
    /// // age missing (NaN goes left at the first split), asa 4: -0.5 - 0.125 - 0.375.
    /// let scores = model.score(&[f32::NAN, 4.0])?;
    /// assert_eq!(scores.margins(), [-1.0]);
    /// assert_eq!(scores.outputs(), [f64::from(math::sigmoid_xgboost(-1.0))]);
    ///
    /// assert_eq!(
    ///     model.score(&[70.0]).err(),
    ///     Some(Error::FeatureCountMismatch { expected: 2, found: 1 })
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn score(&self, features: &[f32]) -> Result<Scores, Error> {
        if features.len() != self.n_features() {
            return Err(Error::FeatureCountMismatch {
                expected: self.n_features() as u32,
                found: features.len() as u32,
            });
        }
        let mut scores = Scores {
            n_outputs: self.n_outputs(),
            margins: [0.0; MAX_OUTPUTS],
            outputs: [0.0; MAX_OUTPUTS],
        };
        if self.body.numerics.is_f64() {
            self.margins_f64(features, &mut scores.margins);
            self.transform_f64(&mut scores);
        } else {
            let mut margins = [0.0f32; MAX_OUTPUTS];
            self.margins_f32(features, &mut margins);
            let mut outputs = [0.0f32; MAX_OUTPUTS];
            self.transform_f32(&margins, &mut outputs);
            for (wide, narrow) in scores.margins.iter_mut().zip(margins) {
                *wide = f64::from(narrow);
            }
            for (wide, narrow) in scores.outputs.iter_mut().zip(outputs) {
                *wide = f64::from(narrow);
            }
        }
        // The sign of a NaN made by arithmetic (inf - inf, 0 * inf) is not portable: x86 sets
        // it, Arm does not. Report every NaN as the one canonical quiet NaN so that the bits
        // agree on every target.
        let n = scores.n_outputs;
        for value in scores
            .margins
            .iter_mut()
            .take(n)
            .chain(scores.outputs.iter_mut().take(n))
        {
            if value.is_nan() {
                *value = CANONICAL_NAN_F64;
            }
        }
        Ok(scores)
    }

    /// Scores one row into f32 slices of length [`Model::n_outputs`]: raw margins and
    /// transformed outputs. f64 models round their results to the nearest f32.
    ///
    /// ```
    /// use lockstep_engine::{math, Error, Model};
    ///
    /// static MODEL: &[u8] =
    ///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
    /// let model = Model::from_bytes(MODEL)?;
    ///
    /// // age 40, asa missing: -0.5 (base) - 0.125 + 0.0625, summed in f32.
    /// let (mut margins, mut probs) = ([0.0f32; 1], [0.0f32; 1]);
    /// model.predict(&[40.0, f32::NAN], &mut margins, &mut probs)?;
    /// assert_eq!(margins, [-0.5625]);
    /// assert_eq!(probs[0].to_bits(), math::sigmoid_xgboost(-0.5625).to_bits());
    ///
    /// let mut too_long = [0.0f32; 2];
    /// assert!(matches!(
    ///     model.predict(&[40.0, 1.0], &mut too_long, &mut probs),
    ///     Err(Error::OutputLengthMismatch { expected: 1, found: 2 })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn predict(
        &self,
        features: &[f32],
        margins: &mut [f32],
        outputs: &mut [f32],
    ) -> Result<(), Error> {
        for slice in [&*margins, &*outputs] {
            if slice.len() != self.n_outputs() {
                return Err(Error::OutputLengthMismatch {
                    expected: self.n_outputs() as u32,
                    found: slice.len() as u32,
                });
            }
        }
        let scores = self.score(features)?;
        // `score` already canonicalised NaN; narrowing keeps it canonical by construction
        // rather than by trusting each target's conversion instruction.
        let narrow = |x: f64| {
            if x.is_nan() {
                CANONICAL_NAN_F32
            } else {
                x as f32
            }
        };
        for (dst, &src) in margins.iter_mut().zip(scores.margins()) {
            *dst = narrow(src);
        }
        for (dst, &src) in outputs.iter_mut().zip(scores.outputs()) {
            *dst = narrow(src);
        }
        Ok(())
    }

    /// Scores `rows` (row-major, `n_features` values per row) into `margins` and `outputs`
    /// (row-major, `n_outputs` values per row).
    pub fn predict_batch(
        &self,
        rows: &[f32],
        margins: &mut [f32],
        outputs: &mut [f32],
    ) -> Result<(), Error> {
        let n_features = self.n_features();
        let n_outputs = self.n_outputs();
        let n_rows = rows.len() / n_features;
        if !rows.len().is_multiple_of(n_features) {
            return Err(Error::FeatureCountMismatch {
                expected: n_features as u32,
                found: rows.len() as u32,
            });
        }
        for slice in [&*margins, &*outputs] {
            if slice.len() != n_rows * n_outputs {
                return Err(Error::OutputLengthMismatch {
                    expected: (n_rows * n_outputs) as u32,
                    found: slice.len() as u32,
                });
            }
        }
        let rows = rows.chunks_exact(n_features);
        let outs = margins
            .chunks_exact_mut(n_outputs)
            .zip(outputs.chunks_exact_mut(n_outputs));
        for (row, (row_margins, row_outputs)) in rows.zip(outs) {
            self.predict(row, row_margins, row_outputs)?;
        }
        Ok(())
    }

    /// The index of the class with the largest output (first on ties), as XGBoost's
    /// `multi:softmax` reports it.
    pub fn argmax(values: &[f32]) -> usize {
        let mut best = 0;
        for (index, &value) in values.iter().enumerate() {
            if value > values.get(best).copied().unwrap_or(f32::NAN) {
                best = index;
            }
        }
        best
    }

    fn margins_f32(&self, features: &[f32], margins: &mut [f32; MAX_OUTPUTS]) {
        let base_first = self.body.base_order == BaseOrder::First;
        for (output, margin) in margins.iter_mut().enumerate().take(self.n_outputs()) {
            *margin = if base_first {
                self.base_margin(output) as f32
            } else {
                0.0
            };
        }
        for record in self.body.trees.as_chunks::<TREE_BYTES>().0 {
            let record = TreeRecord::decode(record);
            let leaf = f32::from_bits(self.leaf_of(self.tree_nodes(record), features));
            if let Some(margin) = margins.get_mut(usize::from(record.output)) {
                *margin += leaf;
            }
        }
        if !base_first {
            for (output, margin) in margins.iter_mut().enumerate().take(self.n_outputs()) {
                *margin += self.base_margin(output) as f32;
            }
        }
    }

    fn margins_f64(&self, features: &[f32], margins: &mut [f64; MAX_OUTPUTS]) {
        let base_first = self.body.base_order == BaseOrder::First;
        for (output, margin) in margins.iter_mut().enumerate().take(self.n_outputs()) {
            *margin = if base_first {
                self.base_margin(output)
            } else {
                0.0
            };
        }
        for record in self.body.trees.as_chunks::<TREE_BYTES>().0 {
            let record = TreeRecord::decode(record);
            let leaf_index = self.leaf_of(self.tree_nodes(record), features) as usize;
            let leaf = f64_at(self.body.leaf_values, leaf_index).unwrap_or(f64::NAN);
            if let Some(margin) = margins.get_mut(usize::from(record.output)) {
                *margin += leaf;
            }
        }
        if !base_first {
            for (output, margin) in margins.iter_mut().enumerate().take(self.n_outputs()) {
                *margin += self.base_margin(output);
            }
        }
        // Linear terms last, in feature order: feature j's linear term, then its level term.
        // The loader guarantees one linear record per feature, level records in increasing
        // feature order, and a single output. Zero coefficients and zero level terms are
        // skipped (so an infinite input there cannot turn the sum into NaN).
        if self.linear.is_empty() && self.levels.is_empty() {
            return;
        }
        let mut terms = self.linear.chunks_exact(LINEAR_TERM_BYTES);
        let mut levels = self.level_records().peekable();
        if let Some(margin) = margins.first_mut() {
            for (feature, &x) in features.iter().enumerate() {
                if let Some(term) = terms.next() {
                    let coefficient = le_f64(term, 0);
                    if coefficient != 0.0 {
                        let value = if x.is_nan() {
                            le_f64(term, 8)
                        } else {
                            f64::from(x)
                        };
                        *margin += coefficient * value;
                    }
                }
                if let Some(level_terms) = levels.next_if(|terms| terms.feature() == feature) {
                    let term = level_terms.term(x);
                    if term != 0.0 {
                        *margin += term;
                    }
                }
            }
        }
    }

    /// Walks the tree of `nodes` for `features` and returns the reached leaf's value field.
    ///
    /// The loader guarantees children lie after their parent inside the tree, so the walk ends
    /// at a leaf; the bound on the loop only keeps this function total without that guarantee.
    #[inline]
    fn leaf_of(&self, nodes: &[[u8; NODE_BYTES]], features: &[f32]) -> u32 {
        let mut index = 0usize;
        for _ in 0..=nodes.len() {
            let Some(record) = nodes.get(index) else {
                break;
            };
            let node = Node::decode(record);
            if node.is_leaf() {
                return node.value;
            }
            let x = features.get(node.feature()).copied().unwrap_or(f32::NAN);
            let go_left = if node.is_plain_numeric() {
                // The common split: numeric, NaN takes the default side.
                if x.is_nan() {
                    node.default_left()
                } else {
                    x < f32::from_bits(node.value)
                }
            } else {
                self.other_split_goes_left(node, x)
            };
            index = node.left() + usize::from(!go_left);
        }
        0
    }

    /// The side `x` takes at a categorical split or one with a LightGBM missing mode.
    fn other_split_goes_left(&self, node: Node, mut x: f32) -> bool {
        let mode = node.missing_mode();
        let missing = (x.is_nan() && mode != Some(MissingMode::NanAsZero))
            || (mode == Some(MissingMode::ZeroOrNanDefault)
                && (-ZERO_MISSING_BOUND..=ZERO_MISSING_BOUND).contains(&x));
        if missing {
            return node.default_left();
        }
        if x.is_nan() {
            x = 0.0;
        }
        if node.is_categorical() {
            self.category_goes_left(node.value, x)
        } else {
            x < f32::from_bits(node.value)
        }
    }

    /// The side a (non-missing) value takes at a categorical split on set `set`.
    #[inline]
    fn category_goes_left(&self, set: u32, x: f32) -> bool {
        let lightgbm = self.body.numerics.is_f64();
        // Which values are categories at all, as each framework casts them.
        let valid = if lightgbm {
            x > -1.0 && x < LIGHTGBM_CATEGORY_END
        } else {
            !(x < 0.0) && x < XGBOOST_CATEGORY_END
        };
        let member = valid && {
            let category = x as u32; // truncation toward zero, as both frameworks cast
            let set = record(self.body.category_sets, set as usize)
                .map(CategorySetRecord::decode)
                .unwrap_or_default();
            let word = category / 32;
            word < set.n_words
                && (set.word_start as usize)
                    .checked_add(word as usize)
                    .and_then(|index| record::<4>(self.body.category_words, index))
                    .is_some_and(|bits| (u32::from_le_bytes(*bits) >> (category % 32)) & 1 == 1)
        };
        // LightGBM sends members left; XGBoost sends members right (and everything else left).
        member == lightgbm
    }

    fn transform_f32(&self, raw: &[f32; MAX_OUTPUTS], outputs: &mut [f32; MAX_OUTPUTS]) {
        let n = self.n_outputs();
        // Forests report the raw sum as their margin; the transform sees the average.
        let mut averaged = *raw;
        if self.body.aggregation == Aggregation::Mean {
            let divisor = self.trees_per_output as f32;
            for margin in averaged.iter_mut().take(n) {
                *margin /= divisor;
            }
        }
        let legacy = self.body.numerics == Numerics::XgboostLegacy;
        if let (Some(margins), Some(outputs)) = (averaged.get(..n), outputs.get_mut(..n)) {
            transform_xgboost(self.body.objective, legacy, margins, outputs);
        }
    }

    fn transform_f64(&self, scores: &mut Scores) {
        let n = scores.n_outputs;
        // Forests report the raw sum as their margin (LightGBM's raw score); the transform sees
        // the average, as LightGBM divides by the number of iterations before converting.
        let mut margins = scores.margins;
        if self.body.aggregation == Aggregation::Mean {
            let divisor = f64::from(self.trees_per_output);
            for margin in margins.iter_mut().take(n) {
                *margin /= divisor;
            }
        }
        let scale = match self.body.numerics {
            Numerics::Lightgbm { sigmoid } => sigmoid,
            _ => 1.0,
        };
        match self.body.objective {
            Objective::Regression | Objective::BinaryProbability => scores.outputs = margins,
            Objective::BinaryLogistic | Objective::MulticlassOneVsRest => {
                for (out, &m) in scores.outputs.iter_mut().zip(&margins).take(n) {
                    *out = math::sigmoid_lightgbm(m, scale);
                }
            }
            Objective::MulticlassSoftmax => {
                // LightGBM's softmax, all in f64: max via `a < b ? b : a`, exponentials summed
                // in order, each divided by the sum.
                let mut max = margins[0];
                for &m in margins.iter().take(n).skip(1) {
                    if !(m < max) {
                        max = m;
                    }
                }
                let mut sum = 0.0f64;
                for (out, &m) in scores.outputs.iter_mut().zip(&margins).take(n) {
                    *out = math::exp(m - max);
                    sum += *out;
                }
                for out in scores.outputs.iter_mut().take(n) {
                    *out /= sum;
                }
            }
        }
    }
}

/// C's `fmaxf`: the larger operand, ignoring a NaN one.
/// XGBoost's output transform from `margins` to `outputs` (one per output): the identity for
/// regression and probability outputs, its sigmoid (the legacy `1 / (1 + expf(-m))` when `legacy`) per output, or its
/// softmax (f32 max as `fmaxf`, f32 exponentials summed in f64, each divided by the sum
/// rounded to f32). The trainer calls this too, so its running probabilities are the compiled
/// model's.
pub fn transform_xgboost(objective: Objective, legacy: bool, margins: &[f32], outputs: &mut [f32]) {
    match objective {
        Objective::Regression | Objective::BinaryProbability => {
            for (out, &m) in outputs.iter_mut().zip(margins) {
                *out = m;
            }
        }
        Objective::BinaryLogistic | Objective::MulticlassOneVsRest => {
            for (out, &m) in outputs.iter_mut().zip(margins) {
                *out = if legacy {
                    math::sigmoid_xgboost_legacy(m)
                } else {
                    math::sigmoid_xgboost(m)
                };
            }
        }
        Objective::MulticlassSoftmax => {
            let mut max = margins.first().copied().unwrap_or(0.0);
            for &m in margins.iter().skip(1) {
                max = fmaxf(m, max);
            }
            let mut sum = 0.0f64;
            for (out, &m) in outputs.iter_mut().zip(margins) {
                *out = math::expf(m - max);
                sum += f64::from(*out);
            }
            let sum = sum as f32;
            for out in outputs.iter_mut() {
                *out /= sum;
            }
        }
    }
}

fn fmaxf(a: f32, b: f32) -> f32 {
    if a.is_nan() || a < b {
        b
    } else {
        a
    }
}

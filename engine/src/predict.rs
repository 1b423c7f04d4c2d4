//! Evaluation: walks every tree of a validated [`Model`], sums leaves in tree order in the
//! model's precision, and applies the output transform. No allocation, no recursion, no std
//! float functions; the exponentials come from [`crate::math`], the same code on every target.
//!
//! Two walks, one rule. A single row walks each tree from the root to its leaf. A batch walks
//! each tree for a block of [`BLOCK_ROWS`] rows at once: every row takes one step per pass
//! (a row at a leaf stays there), so the rows' node loads are independent and overlap; each
//! row's sum still adds the trees in tree order, so both walks give the same bits. Which split
//! test the walks compile to is chosen once at load ([`Walk`]): models whose splits are all
//! plain numeric skip the categorical and missing-mode checks. On Cortex-M, where a row walks
//! one tree at a time, such a model's rows without NaN (checked once per row) take one
//! comparison per split, `x < t` ([`NanFreeTree`]).
//!
//! On hosts a version 1 model of at most [`PADDED_FEATURES`] features is walked on rows
//! copied into fixed arrays ([`PaddedTree`]): no bounds check on a feature read, a lane holds
//! its node's record, and the NaN-free test applies to a row, or a block, without NaN. A batch
//! of such a plain-numeric model gathers rows with and without NaN into separate blocks, and a
//! perfect tree (every leaf `depth_max` deep) takes its block through `depth_max` steps with
//! no leaf test.

use crate::compiled::OutputTransform;
use crate::format::{
    f64_at, le_f64, le_u32, limits::MAX_OUTPUTS, record, Aggregation, BaseOrder, CategorySetRecord,
    CompactTreeRecord, MissingMode, Node, Numerics, Objective, Split, TreeRecord,
    COMPACT_MAX_FEATURES, COMPACT_TREE_BYTES, LINEAR_TERM_BYTES, NODE_BYTES, SPLIT_BYTES,
    TREE_BYTES, ZERO_MISSING_BOUND,
};
use crate::math;
use crate::model::{node_records, value_run, Model, Walk};
use crate::Error;

/// Rows the batch path walks through each tree together. Eight rows' node loads in flight hide
/// most of a load's latency on a host core; more rows spill the walk's registers.
pub const BLOCK_ROWS: usize = 8;

/// Trees one row walks together on hosts (see [`INTERLEAVE_TREES`]).
const TREE_LANES: usize = 8;

/// Whether a single row walks [`TREE_LANES`] trees at once, their leaves then added in tree
/// order: on a host core their node loads overlap. Cortex-M cores do not overlap loads, and
/// the one-tree walk needs less stack there. Every non-Arm target counts as a host here (and
/// takes the padded walks, [`PADDED_WALK`]); a microcontroller of another architecture would
/// want the Cortex-M choice, measured first.
const INTERLEAVE_TREES: bool = !cfg!(target_arch = "arm");

/// Features a row may have for the host walks to read it from a fixed array ([`PaddedRow`]).
const PADDED_FEATURES: usize = 64;

/// A row of at most [`PADDED_FEATURES`] features copied into a fixed array. A split's feature
/// index, taken modulo the array's length (the loader keeps it below the model's feature
/// count, so that changes nothing), reads it without a bounds check, and a block's rows sit
/// at fixed offsets in the frame: no row pointer or length is held across the walk.
type PaddedRow = [f32; PADDED_FEATURES];

/// Whether hosts walk version 1 models of at most [`PADDED_FEATURES`] features on padded rows
/// ([`PaddedTree`]). Cortex-M keeps its one-tree walk on the row itself.
const PADDED_WALK: bool = INTERLEAVE_TREES;

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
        self.check_features(features)?;
        let n = self.n_outputs();
        let mut scores = Scores {
            n_outputs: n,
            margins: [0.0; MAX_OUTPUTS],
            outputs: [0.0; MAX_OUTPUTS],
        };
        let Scores {
            margins: wide_margins,
            outputs: wide_outputs,
            ..
        } = &mut scores;
        if self.body.numerics.is_f64() {
            let margins = wide_margins.get_mut(..n).unwrap_or(&mut []);
            let outputs = wide_outputs.get_mut(..n).unwrap_or(&mut []);
            self.margins_f64(features, margins);
            for (out, &m) in outputs.iter_mut().zip(margins.iter()) {
                *out = m;
            }
            self.transform_f64(outputs);
        } else {
            let (mut margins, mut outputs) = ([0.0f32; MAX_OUTPUTS], [0.0f32; MAX_OUTPUTS]);
            let margins = margins.get_mut(..n).unwrap_or(&mut []);
            let outputs = outputs.get_mut(..n).unwrap_or(&mut []);
            self.margins_f32(features, margins);
            for (out, &m) in outputs.iter_mut().zip(margins.iter()) {
                *out = m;
            }
            self.transform_f32(outputs);
            for (wide, &narrow) in wide_margins.iter_mut().zip(margins.iter()) {
                *wide = f64::from(narrow);
            }
            for (wide, &narrow) in wide_outputs.iter_mut().zip(outputs.iter()) {
                *wide = f64::from(narrow);
            }
        }
        // The sign of a NaN made by arithmetic (inf - inf, 0 * inf) is not portable: x86 sets
        // it, Arm does not. Report every NaN as the one canonical quiet NaN so that the bits
        // agree on every target.
        for value in wide_margins
            .iter_mut()
            .take(n)
            .chain(wide_outputs.iter_mut().take(n))
        {
            if value.is_nan() {
                *value = CANONICAL_NAN_F64;
            }
        }
        Ok(scores)
    }

    /// Scores one row into f32 slices of length [`Model::n_outputs`]: raw margins and
    /// transformed outputs. f64 models round their results to the nearest f32. The bits are
    /// [`Model::score`]'s narrowed (NaN as [`CANONICAL_NAN_F32`]); the work is done in the
    /// caller's slices, so the stack holds no per-output buffer beyond f64 models' sums.
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
        let expected = self.n_outputs();
        let wrong = [margins.len(), outputs.len()]
            .into_iter()
            .find(|&n| n != expected);
        if let Some(found) = wrong {
            return Err(Error::OutputLengthMismatch {
                expected: expected as u32,
                found: found as u32,
            });
        }
        self.check_features(features)?;
        self.predict_row(features, margins, outputs);
        Ok(())
    }

    /// Scores `rows` (row-major, `n_features` values per row) into `margins` and `outputs`
    /// (row-major, `n_outputs` values per row), with the bits [`Model::predict`] gives each row.
    ///
    /// Rows go through the trees in blocks of [`BLOCK_ROWS`] (f64 models with several outputs
    /// row by row): several times the throughput of a loop of `predict` calls on a host. On a
    /// host a version 1 model of at most 64 features gathers rows with and without NaN into
    /// blocks of their own (the leftovers of each kind, fewer than a block, are scored one at a
    /// time), which takes about 8 KB of stack; elsewhere the rows go in order, and the only
    /// stack beyond `predict`'s is one block's sums.
    ///
    /// ```
    /// use lockstep_engine::{Error, Model};
    ///
    /// static MODEL: &[u8] =
    ///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
    /// let model = Model::from_bytes(MODEL)?;
    ///
    /// let rows = [40.0, f32::NAN, 70.0, 2.0, f32::NAN, 4.0];
    /// let (mut margins, mut probs) = ([0.0f32; 3], [0.0f32; 3]);
    /// model.predict_batch(&rows, &mut margins, &mut probs)?;
    /// assert_eq!(margins, [-0.5625, 0.0625, -1.0]);
    /// # Ok::<(), Error>(())
    /// ```
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
        // f64 models with several outputs would need a block of MAX_OUTPUTS f64 sums per row.
        let blocks_walk = !(self.body.numerics.is_f64() && n_outputs > 1);
        if PADDED_WALK
            && blocks_walk
            && self.walk == Walk::Numeric
            && !self.is_compact()
            && n_features <= PADDED_FEATURES
        {
            self.predict_batch_gathered(rows, margins, outputs);
            return Ok(());
        }
        let blocked_rows = if blocks_walk {
            n_rows - n_rows % BLOCK_ROWS
        } else {
            0
        };
        // `min` keeps the splits in range (they are, by the length checks above).
        let (block_rows, rest_rows) = rows.split_at((blocked_rows * n_features).min(rows.len()));
        let (block_margins, rest_margins) =
            margins.split_at_mut((blocked_rows * n_outputs).min(margins.len()));
        let (block_outputs, rest_outputs) =
            outputs.split_at_mut((blocked_rows * n_outputs).min(outputs.len()));
        let blocks = block_rows.chunks_exact(BLOCK_ROWS * n_features).zip(
            block_margins
                .chunks_exact_mut(BLOCK_ROWS * n_outputs)
                .zip(block_outputs.chunks_exact_mut(BLOCK_ROWS * n_outputs)),
        );
        for (block, (block_margins, block_outputs)) in blocks {
            self.predict_block(block, block_margins, block_outputs);
        }
        let rest = rest_rows.chunks_exact(n_features).zip(
            rest_margins
                .chunks_exact_mut(n_outputs)
                .zip(rest_outputs.chunks_exact_mut(n_outputs)),
        );
        for (row, (row_margins, row_outputs)) in rest {
            self.predict_row(row, row_margins, row_outputs);
        }
        Ok(())
    }

    /// [`Model::predict_batch`] on hosts for a plain-numeric version 1 model of at most
    /// [`PADDED_FEATURES`] features (f32, or f64 with one output), on checked lengths. Rows
    /// without a NaN and rows with one wait in separate blocks, so that a block of rows
    /// without NaN takes the one-comparison split test whichever rows around them hold a NaN;
    /// the rows left over at the end are scored one at a time. A row's sums never meet
    /// another row's, so the order in which rows are scored changes no bit.
    fn predict_batch_gathered(&self, rows: &[f32], margins: &mut [f32], outputs: &mut [f32]) {
        let n_features = self.n_features();
        let n_outputs = self.n_outputs();
        // Index 0: rows without NaN, 1: rows with one. The rows waiting for a block (packed,
        // `n_features` values each), their indices, and how many wait.
        let mut waiting = [[0.0f32; BLOCK_ROWS * PADDED_FEATURES]; 2];
        let mut indices = [[0usize; BLOCK_ROWS]; 2];
        let mut counts = [0usize; 2];
        // One block's margins and outputs, before they go to their rows' places.
        let mut block_margins = [0.0f32; BLOCK_ROWS * MAX_OUTPUTS];
        let mut block_outputs = [0.0f32; BLOCK_ROWS * MAX_OUTPUTS];
        let block_len = BLOCK_ROWS * n_outputs;
        for (index, row) in rows.chunks_exact(n_features).enumerate() {
            let kind = usize::from(row.iter().any(|x| x.is_nan()));
            let (Some(block), Some(slots), Some(count)) = (
                waiting.get_mut(kind),
                indices.get_mut(kind),
                counts.get_mut(kind),
            ) else {
                continue;
            };
            let start = *count * n_features;
            let place = block.get_mut(start..start + n_features).unwrap_or(&mut []);
            for (slot, &x) in place.iter_mut().zip(row) {
                *slot = x;
            }
            if let Some(slot) = slots.get_mut(*count) {
                *slot = index;
            }
            *count += 1;
            if *count < BLOCK_ROWS {
                continue;
            }
            *count = 0;
            let (Some(block), Some(block_margins), Some(block_outputs)) = (
                block.get(..BLOCK_ROWS * n_features),
                block_margins.get_mut(..block_len),
                block_outputs.get_mut(..block_len),
            ) else {
                continue;
            };
            self.predict_block(block, block_margins, block_outputs);
            let results = block_margins
                .chunks_exact(n_outputs)
                .zip(block_outputs.chunks_exact(n_outputs));
            for (&index, (row_margins, row_outputs)) in slots.iter().zip(results) {
                let place = index * n_outputs..(index + 1) * n_outputs;
                let to_margins = margins.get_mut(place.clone()).unwrap_or(&mut []);
                for (to, &from) in to_margins.iter_mut().zip(row_margins) {
                    *to = from;
                }
                let to_outputs = outputs.get_mut(place).unwrap_or(&mut []);
                for (to, &from) in to_outputs.iter_mut().zip(row_outputs) {
                    *to = from;
                }
            }
        }
        for (slots, &count) in indices.iter().zip(&counts) {
            for &index in slots.iter().take(count) {
                let features = index * n_features..(index + 1) * n_features;
                let place = index * n_outputs..(index + 1) * n_outputs;
                if let (Some(row), Some(row_margins), Some(row_outputs)) = (
                    rows.get(features),
                    margins.get_mut(place.clone()),
                    outputs.get_mut(place),
                ) {
                    self.predict_row(row, row_margins, row_outputs);
                }
            }
        }
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

    /// `Err(FeatureCountMismatch)` unless `features` holds one value per feature.
    fn check_features(&self, features: &[f32]) -> Result<(), Error> {
        if features.len() == self.n_features() {
            Ok(())
        } else {
            Err(Error::FeatureCountMismatch {
                expected: self.n_features() as u32,
                found: features.len() as u32,
            })
        }
    }

    /// [`Model::predict`] on checked lengths. The f32 path keeps nothing on the stack but
    /// locals; the f64 paths sit in their own frames, so their sums occupy the stack only
    /// when a model needs them.
    #[inline(always)]
    fn predict_row(&self, features: &[f32], margins: &mut [f32], outputs: &mut [f32]) {
        if !self.body.numerics.is_f64() {
            // On Cortex-M each step has its own frame, so the deepest stack is the larger of
            // the walk's and the transform's, not their sum.
            self.margins_f32(features, margins);
            self.finish_f32(margins, outputs);
        } else if self.n_outputs() == 1 {
            self.predict_row_f64_single(features, margins, outputs);
        } else {
            self.predict_row_f64_multi(features, margins, outputs);
        }
    }

    /// [`Model::predict_row`] for an f64 model with one output: the sum in a local.
    #[inline(never)]
    fn predict_row_f64_single(&self, features: &[f32], margins: &mut [f32], outputs: &mut [f32]) {
        let mut sum = 0.0f64;
        self.margins_f64(features, core::slice::from_mut(&mut sum));
        self.finish_f64(core::slice::from_mut(&mut sum), margins, outputs);
    }

    /// [`Model::predict_row`] for an f64 model with several outputs: one f64 sum per output.
    #[inline(never)]
    fn predict_row_f64_multi(&self, features: &[f32], margins: &mut [f32], outputs: &mut [f32]) {
        let mut sums = [0.0f64; MAX_OUTPUTS];
        let sums = sums.get_mut(..self.n_outputs()).unwrap_or(&mut []);
        self.margins_f64(features, sums);
        self.finish_f64(sums, margins, outputs);
    }

    /// Scores one block of [`BLOCK_ROWS`] rows (f32 models, or f64 models with one output).
    fn predict_block(&self, block: &[f32], margins: &mut [f32], outputs: &mut [f32]) {
        let n_outputs = self.n_outputs();
        let base_first = self.body.base_order == BaseOrder::First;
        if self.body.numerics.is_f64() {
            let base = self.base_margin(0);
            let mut sums = [if base_first { base } else { 0.0 }; BLOCK_ROWS];
            self.block_leaves(block, |_, leaves| {
                for (sum, &leaf) in sums.iter_mut().zip(leaves) {
                    *sum += f64_at(self.body.leaf_values, leaf as usize).unwrap_or(f64::NAN);
                }
            });
            let rows = block.chunks_exact(self.n_features());
            let outs = margins.chunks_exact_mut(1).zip(outputs.chunks_exact_mut(1));
            for ((sum, row), (row_margin, row_output)) in sums.iter_mut().zip(rows).zip(outs) {
                if !base_first {
                    *sum += base;
                }
                self.add_linear_terms(row, sum);
                self.finish_f64(core::slice::from_mut(sum), row_margin, row_output);
            }
        } else if n_outputs == 1 {
            let base = self.base_margin(0) as f32;
            let mut sums = [if base_first { base } else { 0.0 }; BLOCK_ROWS];
            self.block_leaves(block, |_, leaves| {
                for (sum, &leaf) in sums.iter_mut().zip(leaves) {
                    *sum += f32::from_bits(leaf);
                }
            });
            let outs = margins.chunks_exact_mut(1).zip(outputs.chunks_exact_mut(1));
            for (&sum, (row_margin, row_output)) in sums.iter().zip(outs) {
                for margin in row_margin.iter_mut() {
                    *margin = if base_first { sum } else { sum + base };
                }
                self.finish_f32(row_margin, row_output);
            }
        } else {
            // Several outputs: each row's sums live in its slice of `margins`.
            for row_margins in margins.chunks_exact_mut(n_outputs) {
                for (output, margin) in row_margins.iter_mut().enumerate() {
                    *margin = if base_first {
                        self.base_margin(output) as f32
                    } else {
                        0.0
                    };
                }
            }
            self.block_leaves(block, |output, leaves| {
                let sums = margins.iter_mut().skip(output).step_by(n_outputs);
                for (sum, &leaf) in sums.zip(leaves) {
                    *sum += f32::from_bits(leaf);
                }
            });
            let outs = margins
                .chunks_exact_mut(n_outputs)
                .zip(outputs.chunks_exact_mut(n_outputs));
            for (row_margins, row_outputs) in outs {
                if !base_first {
                    for (output, margin) in row_margins.iter_mut().enumerate() {
                        *margin += self.base_margin(output) as f32;
                    }
                }
                self.finish_f32(row_margins, row_outputs);
            }
        }
    }

    /// Raw f32 margins of one row (sum of trees and base margin) into `margins`
    /// (`n_outputs` long).
    #[cfg_attr(target_arch = "arm", inline(never))]
    fn margins_f32(&self, features: &[f32], margins: &mut [f32]) {
        let base_first = self.body.base_order == BaseOrder::First;
        for (output, margin) in margins.iter_mut().enumerate() {
            *margin = if base_first {
                self.base_margin(output) as f32
            } else {
                0.0
            };
        }
        if let [single] = margins {
            *single = self.single_sum_f32(features, *single);
        } else {
            self.row_leaves(features, |output, leaf| {
                if let Some(margin) = margins.get_mut(output) {
                    *margin += f32::from_bits(leaf);
                }
            });
        }
        if !base_first {
            for (output, margin) in margins.iter_mut().enumerate() {
                *margin += self.base_margin(output) as f32;
            }
        }
    }

    /// `sum` plus the leaves of one row of a single-output f32 model, in tree order (the sum
    /// stays in a register). On Cortex-M4F/M33 a frame of its own: the walk gets the
    /// registers the caller's slices would otherwise hold (the row is no longer reloaded from
    /// the stack at every node visit: 2 instructions each, for 28 bytes more stack). Elsewhere
    /// (Cortex-M0 saves nothing by it) the compiler inlines it.
    #[cfg_attr(all(target_arch = "arm", target_abi = "eabihf"), inline(never))]
    fn single_sum_f32(&self, features: &[f32], mut sum: f32) -> f32 {
        self.row_leaves(features, |_, leaf| sum += f32::from_bits(leaf));
        sum
    }

    /// Raw f64 margins of one row (sum of trees, base margin, linear and level terms) into
    /// `margins` (`n_outputs` long).
    #[cfg_attr(target_arch = "arm", inline(never))]
    fn margins_f64(&self, features: &[f32], margins: &mut [f64]) {
        let base_first = self.body.base_order == BaseOrder::First;
        for (output, margin) in margins.iter_mut().enumerate() {
            *margin = if base_first {
                self.base_margin(output)
            } else {
                0.0
            };
        }
        let leaf_values = self.body.leaf_values;
        let leaf = |index: u32| f64_at(leaf_values, index as usize).unwrap_or(f64::NAN);
        if let [single] = margins {
            let mut sum = *single;
            self.row_leaves(features, |_, index| sum += leaf(index));
            *single = sum;
        } else {
            self.row_leaves(features, |output, index| {
                if let Some(margin) = margins.get_mut(output) {
                    *margin += leaf(index);
                }
            });
        }
        if !base_first {
            for (output, margin) in margins.iter_mut().enumerate() {
                *margin += self.base_margin(output);
            }
        }
        if let Some(margin) = margins.first_mut() {
            self.add_linear_terms(features, margin);
        }
    }

    /// Adds the linear and level terms of one row to its (single) f64 margin, in feature
    /// order: feature j's linear term, then its level term. The loader guarantees one linear
    /// record per feature, level records in increasing feature order, and a single output.
    /// Zero coefficients and zero level terms are skipped (so an infinite input there cannot
    /// turn the sum into NaN).
    #[inline(always)]
    fn add_linear_terms(&self, features: &[f32], margin: &mut f64) {
        if !(self.linear.is_empty() && self.levels.is_empty()) {
            self.add_linear_terms_present(features, margin);
        }
    }

    /// [`Model::add_linear_terms`] for a model that has some, in its own frame.
    #[inline(never)]
    fn add_linear_terms_present(&self, features: &[f32], margin: &mut f64) {
        let mut terms = self.linear.chunks_exact(LINEAR_TERM_BYTES);
        let mut levels = self.level_records().peekable();
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

    /// Calls `add(output, leaf)` for every tree in order with the value field of the leaf
    /// `features` reaches, through the walk chosen at load. The value field is what a version
    /// 1 leaf node holds: f32 bits in f32 models, an index into the f64 leaf table in f64
    /// models.
    #[inline(always)]
    fn row_leaves(&self, features: &[f32], add: impl FnMut(usize, u32)) {
        if PADDED_WALK && !self.is_compact() && features.len() <= PADDED_FEATURES {
            let mut padded = [0.0f32; PADDED_FEATURES];
            let nan = pad_row(&mut padded, features);
            let trees = self.node_trees();
            match (self.walk, nan) {
                (Walk::Numeric, false) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<true>(tree)));
                    self.row_leaves_with::<true, _>(trees, &padded, add)
                }
                (Walk::Numeric, true) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<false>(tree)));
                    self.row_leaves_with::<true, _>(trees, &padded, add)
                }
                (Walk::General, _) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<false>(tree)));
                    self.row_leaves_with::<false, _>(trees, &padded, add)
                }
            }
            return;
        }
        match (self.is_compact(), self.walk) {
            (false, Walk::Numeric) if !INTERLEAVE_TREES && !features.iter().any(|x| x.is_nan()) => {
                let trees = self.node_trees().map(|(o, tree)| (o, NanFreeTree(tree)));
                self.row_leaves_with::<true, _>(trees, features, add)
            }
            (false, Walk::Numeric) => {
                self.row_leaves_with::<true, _>(self.node_trees(), features, add)
            }
            (false, Walk::General) => {
                self.row_leaves_with::<false, _>(self.node_trees(), features, add)
            }
            (true, Walk::Numeric) if CODED_WALK && self.sorted_values => {
                let codes = self.row_codes(features);
                let trees = self.compact_trees().map(|(o, tree)| (o, CodedTree(tree)));
                self.row_leaves_with::<true, _>(trees, &codes, add)
            }
            (true, Walk::Numeric) => {
                self.row_leaves_with::<true, _>(self.compact_trees(), features, add)
            }
            (true, Walk::General) => {
                self.row_leaves_with::<false, _>(self.compact_trees(), features, add)
            }
        }
    }

    #[inline(always)]
    fn row_leaves_with<const NUMERIC: bool, T: TreeWalk>(
        &self,
        mut trees: impl Iterator<Item = (usize, T)>,
        row: &T::Row,
        mut add: impl FnMut(usize, u32),
    ) {
        if !INTERLEAVE_TREES {
            for (output, tree) in trees {
                add(output, tree.leaf_of::<NUMERIC>(self, row));
            }
            return;
        }
        // TREE_LANES trees walked together, their leaves then added in tree order.
        loop {
            let mut group: [(usize, T); TREE_LANES] = [(0, T::default()); TREE_LANES];
            let mut filled = 0;
            // `zip` asks `group` first, so no tree is taken that finds no slot.
            for (slot, tree) in group.iter_mut().zip(&mut trees) {
                *slot = tree;
                filled += 1;
            }
            let mut lanes = [T::Lane::default(); TREE_LANES];
            for (lane, (_, tree)) in lanes.iter_mut().zip(group.iter()) {
                *lane = tree.root();
            }
            for _ in 0..usize::from(self.cost.depth_max) + 1 {
                let mut all_leaves = true;
                for (lane, (_, tree)) in lanes.iter_mut().zip(group.iter()) {
                    all_leaves &= tree.step::<NUMERIC>(self, row, lane);
                }
                if all_leaves {
                    break;
                }
            }
            for ((output, tree), lane) in group.iter().zip(lanes.iter()).take(filled) {
                add(*output, tree.value(self, *lane));
            }
            if filled < TREE_LANES {
                break;
            }
        }
    }

    /// Calls `add(output, leaves)` for every tree in order with the value fields of the leaves
    /// the [`BLOCK_ROWS`] rows of `block` reach, through the walk chosen at load.
    #[inline(always)]
    fn block_leaves(&self, block: &[f32], add: impl FnMut(usize, &[u32; BLOCK_ROWS])) {
        let n_features = self.n_features();
        if PADDED_WALK && !self.is_compact() && n_features <= PADDED_FEATURES {
            let mut padded = [[0.0f32; PADDED_FEATURES]; BLOCK_ROWS];
            let mut nan = false;
            for (copy, row) in padded.iter_mut().zip(block.chunks_exact(n_features)) {
                nan |= pad_row(copy, row);
            }
            let rows = padded.each_ref();
            let trees = self.node_trees();
            match (self.walk, nan) {
                (Walk::Numeric, false) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<true>(tree)));
                    self.block_leaves_with::<true, _>(trees, &rows, add)
                }
                (Walk::Numeric, true) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<false>(tree)));
                    self.block_leaves_with::<true, _>(trees, &rows, add)
                }
                (Walk::General, _) => {
                    let trees = trees.map(|(o, tree)| (o, PaddedTree::<false>(tree)));
                    self.block_leaves_with::<false, _>(trees, &rows, add)
                }
            }
            return;
        }
        let mut rows: [&[f32]; BLOCK_ROWS] = [&[]; BLOCK_ROWS];
        for (slot, row) in rows.iter_mut().zip(block.chunks_exact(n_features)) {
            *slot = row;
        }
        match (self.is_compact(), self.walk) {
            (false, Walk::Numeric) => {
                self.block_leaves_with::<true, _>(self.node_trees(), &rows, add)
            }
            (false, Walk::General) => {
                self.block_leaves_with::<false, _>(self.node_trees(), &rows, add)
            }
            (true, Walk::Numeric) if CODED_WALK && self.sorted_values => {
                let mut codes = [[0u16; COMPACT_MAX_FEATURES]; BLOCK_ROWS];
                for (codes, row) in codes.iter_mut().zip(rows) {
                    *codes = self.row_codes(row);
                }
                let mut coded: [&Codes; BLOCK_ROWS] = [&[0; COMPACT_MAX_FEATURES]; BLOCK_ROWS];
                for (slot, codes) in coded.iter_mut().zip(codes.iter()) {
                    *slot = codes;
                }
                let trees = self.compact_trees().map(|(o, tree)| (o, CodedTree(tree)));
                self.block_leaves_with::<true, _>(trees, &coded, add)
            }
            (true, Walk::Numeric) => {
                self.block_leaves_with::<true, _>(self.compact_trees(), &rows, add)
            }
            (true, Walk::General) => {
                self.block_leaves_with::<false, _>(self.compact_trees(), &rows, add)
            }
        }
    }

    #[inline(always)]
    fn block_leaves_with<const NUMERIC: bool, T: TreeWalk>(
        &self,
        trees: impl Iterator<Item = (usize, T)>,
        rows: &[&T::Row; BLOCK_ROWS],
        mut add: impl FnMut(usize, &[u32; BLOCK_ROWS]),
    ) {
        for (output, tree) in trees {
            add(output, &self.block_leaf_of::<NUMERIC, T>(tree, rows));
        }
    }

    /// Every version 1 tree's output and node records, in tree order. Trees tile the node
    /// table in order (checked at load), so each tree's nodes are the next `n_nodes` records.
    /// A tree past the table (never, after the loader's checks) is empty on hosts and ends the
    /// walk on Cortex-M, where that is a compare and a branch per tree instead of selects;
    /// each is the cheaper on its targets.
    #[inline(always)]
    fn node_trees(&self) -> impl Iterator<Item = (usize, &[[u8; NODE_BYTES]])> {
        let mut rest = node_records(self.body.nodes);
        let trees = self.body.trees.as_chunks::<TREE_BYTES>().0.iter();
        #[cfg(target_arch = "arm")]
        return trees.map_while(move |record| {
            let record = TreeRecord::decode(record);
            let (nodes, tail) = rest.split_at_checked(usize::from(record.n_nodes))?;
            rest = tail;
            Some((usize::from(record.output), nodes))
        });
        #[cfg(not(target_arch = "arm"))]
        return trees.map(move |record| {
            let record = TreeRecord::decode(record);
            let n_nodes = usize::from(record.n_nodes);
            let (nodes, tail) = rest.split_at_checked(n_nodes).unwrap_or((&[], &[]));
            rest = tail;
            (usize::from(record.output), nodes)
        });
    }

    /// Every version 2 tree's output and node records, in tree order. Trees tile the node
    /// table in order (checked at load), so each tree's nodes are the next `n_nodes` records.
    #[inline(always)]
    fn compact_trees(&self) -> impl Iterator<Item = (usize, CompactTree<'_>)> {
        let mut rest = self.compact.nodes.as_chunks::<SPLIT_BYTES>().0;
        self.compact
            .trees
            .as_chunks::<COMPACT_TREE_BYTES>()
            .0
            .iter()
            .map(move |record| {
                let record = CompactTreeRecord::decode(record);
                let (nodes, tail) = rest
                    .split_at_checked(usize::from(record.n_nodes))
                    .unwrap_or((&[], &[]));
                rest = tail;
                (usize::from(record.output), CompactTree { nodes })
            })
    }

    /// Walks `tree` for the [`BLOCK_ROWS`] `rows` together and returns the value fields of
    /// the leaves they reach. Each pass moves every row one step; a row at a leaf stays put,
    /// so after the tree's depth in passes every row is at its leaf, the one
    /// [`TreeWalk::leaf_of`] reaches. The passes stop once all rows stand on leaves. A
    /// perfect tree ([`TreeWalk::is_perfect`]) takes exactly `depth_max` passes, and no lane
    /// is tested for a leaf.
    #[inline(always)]
    fn block_leaf_of<const NUMERIC: bool, T: TreeWalk>(
        &self,
        tree: T,
        rows: &[&T::Row; BLOCK_ROWS],
    ) -> [u32; BLOCK_ROWS] {
        let mut lanes = [tree.root(); BLOCK_ROWS];
        if tree.is_perfect(self.cost.depth_max) {
            for _ in 0..self.cost.depth_max {
                for (lane, row) in lanes.iter_mut().zip(rows) {
                    tree.split_step::<NUMERIC>(self, row, lane);
                }
            }
            let mut values = [0u32; BLOCK_ROWS];
            for (value, lane) in values.iter_mut().zip(lanes) {
                *value = tree.value(self, lane);
            }
            return values;
        }
        for _ in 0..usize::from(self.cost.depth_max) + 1 {
            let mut all_leaves = true;
            for (lane, row) in lanes.iter_mut().zip(rows) {
                all_leaves &= tree.step::<NUMERIC>(self, row, lane);
            }
            if all_leaves {
                break;
            }
        }
        let mut values = [0u32; BLOCK_ROWS];
        for (value, lane) in values.iter_mut().zip(lanes) {
            *value = tree.value(self, lane);
        }
        values
    }

    /// The split codes of one row for the coded walk ([`CodedTree`]): for each feature, the
    /// number of its split values at or below `x` ([`Model::code_of`]).
    #[inline(always)]
    fn row_codes(&self, features: &[f32]) -> Codes {
        let mut codes = [0u16; COMPACT_MAX_FEATURES];
        for (feature, (code, &x)) in codes.iter_mut().zip(features).enumerate() {
            *code = self.code_of(feature, x);
        }
        codes
    }

    /// The code of `x` for `feature`: `u16::MAX` for NaN, else the number of the feature's
    /// split values `t` with `t <= x`. The loader checked that each feature's values are
    /// non-decreasing and not NaN (`Model::sorted_values`), so those values are a prefix of the
    /// run, and for the value `t` at index `j`, `x < t` exactly when `code <= j`: `t` lies
    /// past the prefix.
    #[inline(always)]
    fn code_of(&self, feature: usize, x: f32) -> u16 {
        if x.is_nan() {
            return u16::MAX;
        }
        let (start, mut length) = value_run(&self.compact, feature);
        let mut low = start;
        while length > 0 {
            let half = length / 2;
            let t = f32::from_bits(le_u32(self.compact.split_values, (low + half) * 4));
            if t <= x {
                low += half + 1;
                length -= half + 1;
            } else {
                length = half;
            }
        }
        (low - start) as u16
    }

    /// The value of split value `code` of `feature` in a version 2 model: threshold bits or a
    /// category set index (0 past the table; the loader rules that out).
    #[inline(always)]
    pub(crate) fn split_value(&self, feature: usize, code: u8) -> u32 {
        let start =
            record::<2>(self.compact.value_starts, feature).map_or(0, |b| u16::from_le_bytes(*b));
        record::<4>(
            self.compact.split_values,
            usize::from(start) + usize::from(code),
        )
        .map_or(0, |b| u32::from_le_bytes(*b))
    }

    /// The side `x` takes at split `node`. With `NUMERIC` (the model's [`Walk::Numeric`]: the
    /// plain test decides every split) the flags are not read: NaN fails `x < t`, so it goes
    /// left exactly when the default side is left.
    #[inline(always)]
    fn goes_left<const NUMERIC: bool>(&self, node: Node, x: f32) -> bool {
        if NUMERIC || node.is_plain_numeric() {
            numeric_goes_left(x, node.value, node.default_left())
        } else {
            self.other_split_goes_left(node, x)
        }
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
        // Which values are categories at all, and which, as each framework casts them.
        let member = crate::compiled::category(self.body.numerics, x).is_some_and(|category| {
            let set = record(self.body.category_sets, set as usize)
                .map(CategorySetRecord::decode)
                .unwrap_or_default();
            let word = category / 32;
            word < set.n_words
                && (set.word_start as usize)
                    .checked_add(word as usize)
                    .and_then(|index| record::<4>(self.body.category_words, index))
                    .is_some_and(|bits| (u32::from_le_bytes(*bits) >> (category % 32)) & 1 == 1)
        });
        // LightGBM sends members left; XGBoost sends members right (and everything else left).
        member == lightgbm
    }

    /// Outputs from raw f32 `margins` (already in `outputs`'s place for the caller to keep),
    /// then every NaN in both made canonical.
    #[cfg_attr(target_arch = "arm", inline(never))]
    fn finish_f32(&self, margins: &mut [f32], outputs: &mut [f32]) {
        finish_f32_with(self, margins, outputs);
    }

    /// f32 `margins` and `outputs` from raw f64 sums (`sums` is transformed in place).
    #[cfg_attr(target_arch = "arm", inline(never))]
    fn finish_f64(&self, sums: &mut [f64], margins: &mut [f32], outputs: &mut [f32]) {
        finish_f64_with(self, sums, margins, outputs);
    }

    /// Transforms raw f32 margins into outputs in place.
    fn transform_f32(&self, values: &mut [f32]) {
        transform_f32_with(self, values);
    }

    /// Transforms raw f64 margins into outputs in place.
    fn transform_f64(&self, values: &mut [f64]) {
        transform_f64_with(self, values);
    }
}

/// What the output transforms read: a model's fields, or a generated module's constants
/// ([`OutputTransform`]). The model passes itself rather than a copied record, which kept a
/// record on the Cortex-M0 stack (16 bytes more at the peak).
pub(crate) trait TransformSource {
    /// What the outputs mean.
    fn transform_objective(&self) -> Objective;
    /// The arithmetic.
    fn transform_numerics(&self) -> Numerics;
    /// Sum or mean.
    fn transform_aggregation(&self) -> Aggregation;
    /// The divisor of a mean.
    fn transform_trees_per_output(&self) -> u32;
}

impl TransformSource for Model<'_> {
    #[inline(always)]
    fn transform_objective(&self) -> Objective {
        self.body.objective
    }
    #[inline(always)]
    fn transform_numerics(&self) -> Numerics {
        self.body.numerics
    }
    #[inline(always)]
    fn transform_aggregation(&self) -> Aggregation {
        self.body.aggregation
    }
    #[inline(always)]
    fn transform_trees_per_output(&self) -> u32 {
        self.trees_per_output
    }
}

impl TransformSource for OutputTransform {
    #[inline(always)]
    fn transform_objective(&self) -> Objective {
        self.objective
    }
    #[inline(always)]
    fn transform_numerics(&self) -> Numerics {
        self.numerics
    }
    #[inline(always)]
    fn transform_aggregation(&self) -> Aggregation {
        self.aggregation
    }
    #[inline(always)]
    fn transform_trees_per_output(&self) -> u32 {
        self.trees_per_output
    }
}

/// [`Model::finish_f32`] for the transform `t`: outputs from raw f32 `margins`, then every NaN
/// in both made canonical.
#[inline(always)]
pub(crate) fn finish_f32_with(t: &impl TransformSource, margins: &mut [f32], outputs: &mut [f32]) {
    for (out, &m) in outputs.iter_mut().zip(margins.iter()) {
        *out = m;
    }
    transform_f32_with(t, outputs);
    for value in margins.iter_mut().chain(outputs.iter_mut()) {
        if value.is_nan() {
            *value = CANONICAL_NAN_F32;
        }
    }
}

/// [`Model::finish_f64`] for the transform `t`.
#[inline(always)]
pub(crate) fn finish_f64_with(
    t: &impl TransformSource,
    sums: &mut [f64],
    margins: &mut [f32],
    outputs: &mut [f32],
) {
    // NaN is narrowed to the canonical NaN explicitly rather than by trusting each
    // target's conversion instruction.
    let narrow = |x: f64| {
        if x.is_nan() {
            CANONICAL_NAN_F32
        } else {
            x as f32
        }
    };
    for (dst, &src) in margins.iter_mut().zip(sums.iter()) {
        *dst = narrow(src);
    }
    transform_f64_with(t, sums);
    for (dst, &src) in outputs.iter_mut().zip(sums.iter()) {
        *dst = narrow(src);
    }
}

/// [`Model::transform_f32`] for the transform `t`.
fn transform_f32_with(t: &impl TransformSource, values: &mut [f32]) {
    // Forests report the raw sum as their margin; the transform sees the average.
    if t.transform_aggregation() == Aggregation::Mean {
        let divisor = t.transform_trees_per_output() as f32;
        for value in values.iter_mut() {
            *value /= divisor;
        }
    }
    let legacy = t.transform_numerics() == Numerics::XgboostLegacy;
    transform_xgboost_in_place(t.transform_objective(), legacy, values);
}

/// [`Model::transform_f64`] for the transform `t`.
fn transform_f64_with(t: &impl TransformSource, values: &mut [f64]) {
    // Forests report the raw sum as their margin (LightGBM's raw score); the transform sees
    // the average, as LightGBM divides by the number of iterations before converting.
    if t.transform_aggregation() == Aggregation::Mean {
        let divisor = f64::from(t.transform_trees_per_output());
        for value in values.iter_mut() {
            *value /= divisor;
        }
    }
    let scale = match t.transform_numerics() {
        Numerics::Lightgbm { sigmoid } => sigmoid,
        _ => 1.0,
    };
    match t.transform_objective() {
        Objective::Regression | Objective::BinaryProbability => {}
        Objective::BinaryLogistic | Objective::MulticlassOneVsRest => {
            for value in values.iter_mut() {
                *value = math::sigmoid_lightgbm(*value, scale);
            }
        }
        Objective::MulticlassSoftmax => {
            // LightGBM's softmax, all in f64: max via `a < b ? b : a`, exponentials summed
            // in order, each divided by the sum.
            let mut max = values.first().copied().unwrap_or(0.0);
            for &m in values.iter().skip(1) {
                if !(m < max) {
                    max = m;
                }
            }
            let mut sum = 0.0f64;
            for value in values.iter_mut() {
                *value = math::exp(*value - max);
                sum += *value;
            }
            for value in values.iter_mut() {
                *value /= sum;
            }
        }
    }
}

/// A tree in one of the format's layouts, as the walks step through it. A *lane* is where one
/// walk stands; the lockstep walks (several trees for one row, or one tree for several rows)
/// step lanes side by side, and a lane at a leaf stays there.
trait TreeWalk: Copy + Default {
    /// What the walk reads of a row: its features, or their codes.
    type Row: ?Sized;
    /// Where one walk stands.
    type Lane: Copy + Default;
    /// A lane at the root.
    fn root(self) -> Self::Lane;
    /// Moves `lane` to the child `row` takes, or leaves it at its leaf; returns whether it was
    /// at a leaf already (or, for layouts that load the child, whether it is at one now).
    fn step<const NUMERIC: bool>(
        self,
        model: &Model<'_>,
        row: &Self::Row,
        lane: &mut Self::Lane,
    ) -> bool;
    /// The value field of the leaf a lane stands on.
    fn value(self, model: &Model<'_>, lane: Self::Lane) -> u32;
    /// Whether every leaf of the tree lies `depth` steps below its root (the model's
    /// `depth_max`, which no walk exceeds), so that `depth` steps of
    /// [`TreeWalk::split_step`] reach a leaf from the root. Layouts that cannot tell say no.
    #[inline(always)]
    fn is_perfect(self, _depth: u16) -> bool {
        false
    }
    /// [`TreeWalk::step`] for a lane known to stand on a split.
    #[inline(always)]
    fn split_step<const NUMERIC: bool>(
        self,
        model: &Model<'_>,
        row: &Self::Row,
        lane: &mut Self::Lane,
    ) {
        self.step::<NUMERIC>(model, row, lane);
    }
    /// Walks the tree for `row` alone and returns the reached leaf's value field. The
    /// loader's checks end every walk at a leaf within the measured depth; the loop bound
    /// only keeps this function total.
    #[inline(always)]
    fn leaf_of<const NUMERIC: bool>(self, model: &Model<'_>, row: &Self::Row) -> u32 {
        let mut lane = self.root();
        for _ in 0..usize::from(model.cost.depth_max) + 1 {
            if self.step::<NUMERIC>(model, row, &mut lane) {
                break;
            }
        }
        self.value(model, lane)
    }
}

/// A version 1 tree: its node records. A lane is a node index and the value field of the
/// node there.
impl TreeWalk for &[[u8; NODE_BYTES]] {
    type Row = [f32];
    type Lane = (usize, u32);

    #[inline(always)]
    fn root(self) -> (usize, u32) {
        (0, 0)
    }

    #[inline(always)]
    fn step<const NUMERIC: bool>(
        self,
        model: &Model<'_>,
        row: &[f32],
        (index, value): &mut (usize, u32),
    ) -> bool {
        let node = self
            .get(*index)
            .map_or(Node::decode(&[0; NODE_BYTES]), Node::decode);
        let x = row.get(node.feature()).copied().unwrap_or(f32::NAN);
        let next = node.left() + usize::from(!model.goes_left::<NUMERIC>(node, x));
        let leaf = node.is_leaf();
        *index = if leaf { *index } else { next };
        *value = node.value;
        leaf
    }

    #[inline(always)]
    fn value(self, _: &Model<'_>, (_, value): (usize, u32)) -> u32 {
        value
    }

    #[inline(always)]
    fn leaf_of<const NUMERIC: bool>(self, model: &Model<'_>, features: &[f32]) -> u32 {
        node_leaf(self, model.cost.depth_max, features, |node, x| {
            model.goes_left::<NUMERIC>(node, x)
        })
    }
}

/// A version 1 tree walked for a row without missing values (checked once per row, see
/// [`Model::row_leaves`]) of a model whose splits are all plain numeric: a non-NaN `x` goes
/// left exactly when `x < t` (thresholds are never NaN), whatever the default side, so the
/// split test is one comparison.
#[derive(Debug, Clone, Copy, Default)]
struct NanFreeTree<'a>(&'a [[u8; NODE_BYTES]]);

impl TreeWalk for NanFreeTree<'_> {
    type Row = [f32];
    type Lane = (usize, u32);

    #[inline(always)]
    fn root(self) -> (usize, u32) {
        self.0.root()
    }

    #[inline(always)]
    fn step<const NUMERIC: bool>(
        self,
        model: &Model<'_>,
        row: &[f32],
        lane: &mut (usize, u32),
    ) -> bool {
        self.0.step::<NUMERIC>(model, row, lane)
    }

    #[inline(always)]
    fn value(self, model: &Model<'_>, lane: (usize, u32)) -> u32 {
        self.0.value(model, lane)
    }

    #[inline(always)]
    fn leaf_of<const NUMERIC: bool>(self, model: &Model<'_>, features: &[f32]) -> u32 {
        node_leaf(self.0, model.cost.depth_max, features, |node, x| {
            numeric_less(x, node.value)
        })
    }
}

/// Copies `row` into the front of `padded` and returns whether it holds a NaN.
#[inline(always)]
fn pad_row(padded: &mut PaddedRow, row: &[f32]) -> bool {
    let mut nan = false;
    for (slot, &x) in padded.iter_mut().zip(row) {
        *slot = x;
        nan |= x.is_nan();
    }
    nan
}

/// A version 1 tree walked on a padded row ([`PaddedRow`]) on hosts. A lane is the node it
/// stands on, as its record's bits: a step loads the child and tells whether the lane now
/// stands on a leaf, so the lockstep loops end after as many passes as the deepest lane's
/// depth, and the leaf's value is the lane's. With `NAN_FREE` (a model whose splits are all
/// plain numeric, rows without NaN) a split is one comparison, `x < t`, as in
/// [`NanFreeTree`].
#[derive(Debug, Clone, Copy, Default)]
struct PaddedTree<'a, const NAN_FREE: bool>(&'a [[u8; NODE_BYTES]]);

impl<const NAN_FREE: bool> PaddedTree<'_, NAN_FREE> {
    /// The record bits of node `index` (0, a leaf of value 0, past the tree).
    #[inline(always)]
    fn node(self, index: usize) -> u64 {
        self.0
            .get(index)
            .map_or(0, |record| u64::from_le_bytes(*record))
    }

    /// Whether `row` goes left at split `node` (at a leaf, some side).
    #[inline(always)]
    fn goes_left<const NUMERIC: bool>(model: &Model<'_>, row: &PaddedRow, node: Node) -> bool {
        let x = row
            .get(node.feature() % PADDED_FEATURES)
            .copied()
            .unwrap_or(f32::NAN);
        if NAN_FREE {
            numeric_less(x, node.value)
        } else {
            model.goes_left::<NUMERIC>(node, x)
        }
    }
}

impl<const NAN_FREE: bool> TreeWalk for PaddedTree<'_, NAN_FREE> {
    type Row = PaddedRow;
    type Lane = u64;

    #[inline(always)]
    fn root(self) -> u64 {
        self.node(0)
    }

    #[inline(always)]
    fn step<const NUMERIC: bool>(self, model: &Model<'_>, row: &PaddedRow, lane: &mut u64) -> bool {
        let node = Node::decode(&lane.to_le_bytes());
        let left = Self::goes_left::<NUMERIC>(model, row, node);
        let child = self.node(node.left() + usize::from(!left));
        if !node.is_leaf() {
            *lane = child;
        }
        Node::decode(&lane.to_le_bytes()).is_leaf()
    }

    /// A tree with as many nodes as a perfect binary tree `depth` deep: no deeper (the
    /// loader measured `depth_max`), so perfect.
    #[inline(always)]
    fn is_perfect(self, depth: u16) -> bool {
        1usize
            .checked_shl(u32::from(depth) + 1)
            .is_some_and(|nodes| self.0.len() == nodes - 1)
    }

    #[inline(always)]
    fn split_step<const NUMERIC: bool>(self, model: &Model<'_>, row: &PaddedRow, lane: &mut u64) {
        let node = Node::decode(&lane.to_le_bytes());
        let left = Self::goes_left::<NUMERIC>(model, row, node);
        // Past the tree (never, after the loader's checks) the lane stays: no join to jump
        // over.
        if let Some(record) = self.0.get(node.left() + usize::from(!left)) {
            *lane = u64::from_le_bytes(*record);
        }
    }

    #[inline(always)]
    fn value(self, _: &Model<'_>, lane: u64) -> u32 {
        Node::decode(&lane.to_le_bytes()).value
    }
}

/// Walks version 1 tree `nodes` for `features` alone, `goes_left` deciding each split, and
/// returns the reached leaf's value field. The loader guarantees children lie after their
/// parent inside the tree, feature indices below the feature count and no walk deeper than
/// `depth_max` (the model's), so the walk ends at a leaf; the loop bound and the `else`
/// branches (which give 0) only keep this function total without that guarantee. Leaving
/// the loop on a feature out of range, rather than reading a default, keeps that check to a
/// compare and a branch.
#[inline(always)]
fn node_leaf(
    nodes: &[[u8; NODE_BYTES]],
    depth_max: u16,
    features: &[f32],
    goes_left: impl Fn(Node, f32) -> bool,
) -> u32 {
    let mut index = 0usize;
    for _ in 0..usize::from(depth_max) + 1 {
        let Some(record) = nodes.get(index) else {
            break;
        };
        let node = Node::decode(record);
        if node.is_leaf() {
            return node.value;
        }
        let Some(&x) = features.get(node.feature()) else {
            break;
        };
        index = node.left() + usize::from(!goes_left(node, x));
    }
    0
}

/// A version 2 tree: its node records.
#[derive(Debug, Clone, Copy, Default)]
struct CompactTree<'a> {
    nodes: &'a [[u8; SPLIT_BYTES]],
}

impl CompactTree<'_> {
    /// The split record at node `index` (all zero past the tree).
    #[inline(always)]
    fn split(self, index: usize) -> Split {
        self.nodes
            .get(index)
            .map_or(Split::decode(&[0; SPLIT_BYTES]), Split::decode)
    }
}

/// A lane is `(at_leaf, index)`: the node a walk stands on, and whether it is a leaf (which
/// the parent's flags said).
impl TreeWalk for CompactTree<'_> {
    type Row = [f32];
    type Lane = (bool, usize);

    #[inline(always)]
    fn root(self) -> (bool, usize) {
        (self.nodes.len() == 1, 0)
    }

    #[inline(always)]
    fn step<const NUMERIC: bool>(
        self,
        model: &Model<'_>,
        row: &[f32],
        (at_leaf, index): &mut (bool, usize),
    ) -> bool {
        let split = self.split(*index);
        let feature = usize::from(split.feature);
        let x = row.get(feature).copied().unwrap_or(f32::NAN);
        let node = split.as_node(model.split_value(feature, split.code));
        let (leaf, next) = split.child(*index, !model.goes_left::<NUMERIC>(node, x));
        let was_leaf = *at_leaf;
        *index = if was_leaf { *index } else { next };
        *at_leaf = was_leaf | leaf;
        was_leaf
    }

    #[inline(always)]
    fn value(self, _: &Model<'_>, (_, index): (bool, usize)) -> u32 {
        self.nodes
            .get(index)
            .map_or(0, |record| u32::from_le_bytes(*record))
    }

    /// One walk alone: no lane to hold at a leaf, so the loop ends when a child is one.
    #[inline(always)]
    fn leaf_of<const NUMERIC: bool>(self, model: &Model<'_>, row: &[f32]) -> u32 {
        let mut index = 0usize;
        if self.nodes.len() > 1 {
            for _ in 0..usize::from(model.cost.depth_max) + 1 {
                let split = self.split(index);
                let feature = usize::from(split.feature);
                let x = row.get(feature).copied().unwrap_or(f32::NAN);
                let node = split.as_node(model.split_value(feature, split.code));
                let (leaf, next) = split.child(index, !model.goes_left::<NUMERIC>(node, x));
                index = next;
                if leaf {
                    break;
                }
            }
        }
        self.value(model, (true, index))
    }
}

/// Split codes of one row: [`Model::code_of`] for each feature.
type Codes = [u16; COMPACT_MAX_FEATURES];

/// Whether hosts walk version 2 numeric models on split codes ([`CodedTree`]). Cortex-M cores
/// walk on the values themselves: the codes of a row would take up to 512 bytes of stack.
const CODED_WALK: bool = INTERLEAVE_TREES;

/// A version 2 tree of a model whose splits are all plain numeric and whose split values are
/// sorted, walked on a row's split codes: a split with code `j` and threshold `t` sends `x`
/// left when `x < t`, which for non-NaN `x` is `code(x) <= j` ([`Model::code_of`]); NaN has
/// code `u16::MAX` and must go to the default side. Adding the default-left bit `dl` to both
/// sides decides all of it in one integer comparison: `code + dl <= j + dl` (wrapping), since
/// `u16::MAX + 1` wraps to 0 (left) and `u16::MAX + 0` exceeds every `j` (right), and codes
/// are at most 256 so nothing else wraps.
#[derive(Debug, Clone, Copy, Default)]
struct CodedTree<'a>(CompactTree<'a>);

impl TreeWalk for CodedTree<'_> {
    type Row = Codes;
    type Lane = (bool, usize);

    #[inline(always)]
    fn root(self) -> (bool, usize) {
        self.0.root()
    }

    #[inline(always)]
    fn step<const NUMERIC: bool>(
        self,
        _: &Model<'_>,
        codes: &Codes,
        (at_leaf, index): &mut (bool, usize),
    ) -> bool {
        let split = self.0.split(*index);
        // A u8 index into 256 codes: no bounds check.
        let code = codes.get(usize::from(split.feature)).copied().unwrap_or(0);
        let dl = u16::from(split.default_left());
        let right = code.wrapping_add(dl) > u16::from(split.code) + dl;
        let (leaf, next) = split.child(*index, right);
        let was_leaf = *at_leaf;
        *index = if was_leaf { *index } else { next };
        *at_leaf = was_leaf | leaf;
        was_leaf
    }

    #[inline(always)]
    fn value(self, model: &Model<'_>, lane: (bool, usize)) -> u32 {
        self.0.value(model, lane)
    }
}

/// The side `x` takes at a plain numeric split with threshold bits `threshold` (not NaN):
/// left when `x < t`, NaN to the default side. NaN fails every comparison, so the missing
/// direction folds into which comparison is asked.
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
fn numeric_goes_left(x: f32, threshold: u32, default_left: bool) -> bool {
    let t = f32::from_bits(threshold);
    // One comparison decides both: `!(x >= t)` holds for NaN, `x < t` does not.
    if default_left {
        !(x >= t)
    } else {
        x < t
    }
}

/// [`numeric_goes_left`] on Cortex-M4F/M33 (rows with a NaN; and any other Arm target but
/// the FPU-less `eabi` ones): a branch on the comparison's flags sends `x < t` left at once,
/// and only the rest looks at the default side (on Cortex-M4F 6 instructions for a left
/// turn, 13 for a right, against 12 either way for the hosts' select).
#[cfg(all(target_arch = "arm", not(target_abi = "eabi")))]
#[inline(always)]
fn numeric_goes_left(x: f32, threshold: u32, default_left: bool) -> bool {
    let t = f32::from_bits(threshold);
    if x < t {
        true
    } else if x >= t {
        false
    } else {
        default_left
    }
}

/// [`numeric_goes_left`] for targets without a floating-point unit (Cortex-M0), where every
/// f32 comparison is a library call: the same decision in integer arithmetic
/// ([`numeric_less`]).
#[cfg(all(target_arch = "arm", target_abi = "eabi"))]
#[inline(always)]
fn numeric_goes_left(x: f32, threshold: u32, default_left: bool) -> bool {
    let nan = x.to_bits() & 0x7fff_ffff > 0x7f80_0000;
    (!nan & numeric_less(x, threshold)) | (nan & default_left)
}

/// `x < t` for a non-NaN `x` and the threshold bits `threshold` (not NaN).
#[cfg(not(all(target_arch = "arm", target_abi = "eabi")))]
#[inline(always)]
fn numeric_less(x: f32, threshold: u32) -> bool {
    x < f32::from_bits(threshold)
}

/// [`numeric_less`] without a floating-point unit: [`integer_less`].
#[cfg(all(target_arch = "arm", target_abi = "eabi"))]
#[inline(always)]
fn numeric_less(x: f32, threshold: u32) -> bool {
    integer_less(x.to_bits(), threshold)
}

/// `x < t` for f32 values given by their bits (neither NaN), in integer arithmetic: the order
/// of [`f32_order_key`]. For `x >= +0.0` that order is the bits' own as `i32` (a negative
/// threshold's bits are negative as `i32`, so `x < t` fails as it should), which spares
/// computing both keys at most node visits on Cortex-M0.
#[cfg_attr(not(all(target_arch = "arm", target_abi = "eabi")), allow(dead_code))]
#[inline(always)]
const fn integer_less(x: u32, t: u32) -> bool {
    let (x_key, t_key) = if (x as i32) >= 0 {
        (x as i32, t as i32)
    } else {
        (f32_order_key(x), f32_order_key(t))
    };
    x_key < t_key
}

/// An integer that orders f32 values (given by their bits, not NaN) as `<` does: the
/// magnitude bits, negated for negative values, so both zeros map to 0.
#[inline(always)]
pub(crate) const fn f32_order_key(bits: u32) -> i32 {
    let negative = (bits as i32) >> 31; // all ones for negative values
    let magnitude = (bits & 0x7fff_ffff) as i32;
    (magnitude ^ negative) - negative
}

/// XGBoost's output transform from `margins` to `outputs` (one per output): the identity for
/// regression and probability outputs, its sigmoid (the legacy `1 / (1 + expf(-m))` when `legacy`) per output, or its
/// softmax (f32 max as `fmaxf`, f32 exponentials summed in f64, each divided by the sum
/// rounded to f32). The trainer calls this too, so its running probabilities are the compiled
/// model's.
pub fn transform_xgboost(objective: Objective, legacy: bool, margins: &[f32], outputs: &mut [f32]) {
    let n = margins.len().min(outputs.len());
    let outputs = outputs.get_mut(..n).unwrap_or(&mut []);
    for (out, &m) in outputs.iter_mut().zip(margins) {
        *out = m;
    }
    transform_xgboost_in_place(objective, legacy, outputs);
}

/// [`transform_xgboost`] with the margins in `values`, replaced by the outputs.
fn transform_xgboost_in_place(objective: Objective, legacy: bool, values: &mut [f32]) {
    match objective {
        Objective::Regression | Objective::BinaryProbability => {}
        Objective::BinaryLogistic | Objective::MulticlassOneVsRest => {
            for value in values.iter_mut() {
                *value = if legacy {
                    math::sigmoid_xgboost_legacy(*value)
                } else {
                    math::sigmoid_xgboost(*value)
                };
            }
        }
        Objective::MulticlassSoftmax => {
            let mut max = values.first().copied().unwrap_or(0.0);
            for &m in values.iter().skip(1) {
                max = fmaxf(m, max);
            }
            let mut sum = 0.0f64;
            for value in values.iter_mut() {
                *value = math::expf(*value - max);
                sum += f64::from(*value);
            }
            let sum = sum as f32;
            for value in values.iter_mut() {
                *value /= sum;
            }
        }
    }
}

/// C's `fmaxf`: the larger operand, ignoring a NaN one.
fn fmaxf(a: f32, b: f32) -> f32 {
    if a.is_nan() || a < b {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A xorshift64 generator from `seed` (not 0): the tests' random bits.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// The integer orders of Cortex-M0's walk ([`f32_order_key`], [`integer_less`]) decide
    /// `x < t` exactly as f32 `<` does, on every pair of edge values and on a million random
    /// pairs of bit patterns.
    #[test]
    fn integer_order_key_agrees_with_f32_less_than() {
        let edges = [
            0.0f32,
            -0.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
            1.0,
            -1.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-35,
            -1e-35,
        ];
        let agree = |x: f32, t: f32| {
            let integer = f32_order_key(x.to_bits()) < f32_order_key(t.to_bits());
            assert_eq!(integer, x < t, "{x:e} < {t:e}");
            assert_eq!(
                integer_less(x.to_bits(), t.to_bits()),
                x < t,
                "{x:e} < {t:e}"
            );
        };
        for &x in &edges {
            for &t in &edges {
                agree(x, t);
            }
        }
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        // Under miri (an interpreter) a thousand pairs; natively a million.
        let pairs = if cfg!(miri) { 1_000 } else { 1_000_000 };
        for _ in 0..pairs {
            let bits = next();
            let (x, t) = (
                f32::from_bits(bits as u32),
                f32::from_bits((bits >> 32) as u32),
            );
            if !x.is_nan() && !t.is_nan() {
                agree(x, t);
                // Near pairs too: the neighbours of t.
                agree(f32::from_bits(t.to_bits().wrapping_add(1)), t);
            }
        }
    }

    /// The host walks on padded rows ([`PaddedTree`]: a block's lanes, with the NaN-free
    /// split test and without, perfect trees and pruned ones; a row's interleaved trees) reach
    /// the leaf the one-tree walk [`node_leaf`] reaches with the general numeric split test,
    /// on random trees up to 4 deep and rows with NaN, signed zeros, subnormals and
    /// infinities.
    #[test]
    fn padded_walks_reach_the_one_tree_walks_leaf() -> Result<(), Error> {
        const DEPTH: usize = 4;
        const FEATURES: usize = 5;
        let mut model = Model::from_bytes(include_bytes!("../tests/data/tiny.lsm"))?;
        model.cost.depth_max = DEPTH as u16;
        let mut next = xorshift(0x6a09_e667_f3bc_c908u64);
        let edges = [
            0.0f32,
            -0.0,
            f32::from_bits(1),
            1.0,
            -1.0,
            0.5,
            f32::INFINITY,
        ];
        let value = |bits: u64, nan: bool| {
            let pick = (bits >> 40) as usize % (edges.len() + 2);
            match edges.get(pick) {
                Some(&edge) => edge,
                None if nan && pick == edges.len() => f32::NAN,
                None => (bits as u32 % 1000) as f32 / 250.0 - 2.0,
            }
        };
        let tree_count = if cfg!(miri) { 12 } else { 300 };
        let mut trees = [[[0u8; NODE_BYTES]; (1 << (DEPTH + 1)) - 1]; 12];
        let mut sizes = [0usize; 12];
        let mut checked = 0;
        for round in 0..tree_count / 12 {
            // Breadth-first trees: every third group perfect, the others pruned at random.
            for (nodes, size) in trees.iter_mut().zip(sizes.iter_mut()) {
                let mut depths = [0usize; (1 << (DEPTH + 1)) - 1];
                let (mut at, mut end) = (0, 1);
                while at < end {
                    let bits = next();
                    let depth = depths.get(at).copied().unwrap_or(DEPTH);
                    let split = depth < DEPTH && (round % 3 == 0 || !bits.is_multiple_of(4));
                    let record = if split {
                        for child in [end, end + 1] {
                            if let Some(slot) = depths.get_mut(child) {
                                *slot = depth + 1;
                            }
                        }
                        let feature = (bits >> 50) as usize % FEATURES;
                        let node = Node::split(
                            value(bits, false).to_bits(),
                            feature,
                            MissingMode::NanDefault,
                            bits >> 63 == 1,
                            false,
                            end as u16,
                        );
                        end += 2;
                        node
                    } else {
                        Node::leaf(at as u32 + 1000)
                    };
                    if let Some(slot) = nodes.get_mut(at) {
                        *slot = record.encode();
                    }
                    at += 1;
                }
                *size = end;
            }
            let tree = |k: usize| trees.get(k).and_then(|t| t.get(..sizes.get(k).copied()?));
            for _ in 0..4 {
                let mut rows = [[0.0f32; FEATURES]; BLOCK_ROWS];
                let nan_free = next().is_multiple_of(2);
                for row in rows.iter_mut() {
                    for x in row.iter_mut() {
                        *x = value(next(), !nan_free);
                    }
                }
                let mut padded = [[0.0f32; PADDED_FEATURES]; BLOCK_ROWS];
                for (copy, row) in padded.iter_mut().zip(&rows) {
                    assert_eq!(pad_row(copy, row), row.iter().any(|x| x.is_nan()));
                }
                let padded_rows = padded.each_ref();
                for k in 0..trees.len() {
                    let nodes = tree(k).unwrap_or(&[]);
                    let mut expected = [0u32; BLOCK_ROWS];
                    for (leaf, row) in expected.iter_mut().zip(&rows) {
                        *leaf = node_leaf(nodes, DEPTH as u16, row, |node, x| {
                            numeric_goes_left(x, node.value, node.default_left())
                        });
                    }
                    let general =
                        model.block_leaf_of::<true, _>(PaddedTree::<false>(nodes), &padded_rows);
                    assert_eq!(general, expected);
                    if nan_free {
                        let fast =
                            model.block_leaf_of::<true, _>(PaddedTree::<true>(nodes), &padded_rows);
                        assert_eq!(fast, expected);
                    }
                    checked += 1;
                }
                // One row through all 12 trees, 8 at a time, leaves in tree order.
                for (row, copy) in rows.iter().zip(&padded) {
                    let mut leaves = [0u32; 12];
                    let mut count = 0;
                    let walked = (0..trees.len()).map(|k| (k, tree(k).unwrap_or(&[])));
                    model.row_leaves_with::<true, _>(
                        walked.map(|(k, nodes)| (k, PaddedTree::<false>(nodes))),
                        copy,
                        |k, leaf| {
                            assert_eq!(k, count);
                            if let Some(slot) = leaves.get_mut(k) {
                                *slot = leaf;
                            }
                            count += 1;
                        },
                    );
                    for (k, &leaf) in leaves.iter().enumerate() {
                        let nodes = tree(k).unwrap_or(&[]);
                        let expected = node_leaf(nodes, DEPTH as u16, row, |node, x| {
                            numeric_goes_left(x, node.value, node.default_left())
                        });
                        assert_eq!(leaf, expected);
                    }
                    assert_eq!(count, trees.len());
                }
            }
        }
        assert_eq!(checked, tree_count / 12 * 4 * 12);
        Ok(())
    }

    /// A row without NaN reaches the same leaf through the one-comparison split test
    /// ([`NanFreeTree`]'s, with [`numeric_less`] or [`integer_less`]) as through the general
    /// numeric test with its default sides, and the leaf a reference walk in f32 `<` reaches:
    /// random full trees with thresholds and values among signed zeros, subnormals,
    /// infinities and random bit patterns.
    #[test]
    fn nan_free_split_test_reaches_the_general_walks_leaf() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let edges = [
            0.0f32,
            -0.0,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
            1.0,
            -1.0,
            0.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        let value = |bits: u64| {
            let pick = (bits >> 40) as usize % (edges.len() + 1);
            let random = f32::from_bits(bits as u32);
            match edges.get(pick) {
                Some(&edge) => edge,
                None if random.is_nan() => 2.0,
                None => random,
            }
        };
        const DEPTH: usize = 4;
        const FEATURES: usize = 3;
        let trees = if cfg!(miri) { 4 } else { 400 };
        for _ in 0..trees {
            // A full tree breadth-first: the k-th node's children at 2k+1 and 2k+2.
            let splits = (1 << DEPTH) - 1;
            let mut nodes = [[0u8; NODE_BYTES]; (1 << (DEPTH + 1)) - 1];
            let mut thresholds = [0.0f32; (1 << DEPTH) - 1];
            for (k, record) in nodes.iter_mut().enumerate() {
                let bits = next();
                *record = if k < splits {
                    let threshold = value(bits);
                    if let Some(slot) = thresholds.get_mut(k) {
                        *slot = threshold;
                    }
                    let feature = (bits >> 50) as usize % FEATURES;
                    let default_left = bits >> 63 == 1;
                    let left = (2 * k + 1) as u16;
                    Node::split(
                        threshold.to_bits(),
                        feature,
                        MissingMode::NanDefault,
                        default_left,
                        false,
                        left,
                    )
                    .encode()
                } else {
                    Node::leaf(k as u32).encode()
                };
            }
            for _ in 0..20 {
                let row = [value(next()), value(next()), value(next())];
                let general = node_leaf(&nodes, DEPTH as u16, &row, |node, x| {
                    numeric_goes_left(x, node.value, node.default_left())
                });
                let nan_free = node_leaf(&nodes, DEPTH as u16, &row, |node, x| {
                    numeric_less(x, node.value)
                });
                let integer = node_leaf(&nodes, DEPTH as u16, &row, |node, x| {
                    integer_less(x.to_bits(), node.value)
                });
                // The reference: the k-th node's threshold and feature, f32 `<`.
                let mut k = 0;
                while let (Some(&t), Some(record)) = (thresholds.get(k), nodes.get(k)) {
                    let x = row.get(Node::decode(record).feature()).copied();
                    k = if x.is_some_and(|x| x < t) {
                        2 * k + 1
                    } else {
                        2 * k + 2
                    };
                }
                assert_eq!((general, nan_free, integer), (k as u32, k as u32, k as u32));
            }
        }
    }
}

//! Loading: turns a byte blob into a [`Model`] view after checking every invariant the evaluator
//! relies on. Nothing is copied; the view borrows the blob (which may sit in flash).

use crate::cost::{Budget, BudgetItem, Cost};
use crate::format::{
    f64_at, le_f64, le_u16, le_u32, limits, record, Aggregation, BaseOrder, CategorySetRecord,
    CompactTables, CompactTreeRecord, LeafMap, ModelBody, ModelBodyV2, Node, Numerics, Objective,
    Source, Split, TreeRecord, CATEGORY_SET_BYTES, CHECKSUM_LEN, COMPACT_MAX_VALUES_PER_FEATURE,
    COMPACT_TREE_BYTES, FEATURE_RANGE_BYTES, FORMAT_VERSION_1, FORMAT_VERSION_2, HEADER_LEN,
    LEVEL_BYTES, LEVEL_TERM_HEAD_BYTES, LINEAR_TERM_BYTES, MAGIC, NODE_BYTES, SECTION_LEVEL_TERMS,
    SECTION_LINEAR, SPLIT_BYTES, SPLIT_VALUE_BYTES, TREE_BYTES, VALUE_START_BYTES,
};
use crate::Error;
use sha2::{Digest, Sha256};

/// A validated, zero-copy view of a compiled model.
///
/// # Invariant
///
/// A `Model` exists only if [`Model::from_bytes`] accepted its blob, which guarantees for every
/// tree: its node range lies inside the node table (version 2: its split and leaf runs lie
/// inside the split and leaf tables); its nodes are in breadth-first order with the k-th
/// split's children at 2k+1 and 2k+2 (version 2: every rank and leaf flag agrees with that
/// order), so every walk from the root ends at a leaf in at most `max_depth` steps; every
/// split reads a feature below `n_features`, has no NaN threshold and names an existing
/// category set (version 2: through a code inside its feature's run of split values); every
/// leaf is finite (or indexes a finite entry of the f64 leaf table); every output index is
/// below `n_outputs` ≤
/// [`limits::MAX_OUTPUTS`]. A linear-terms section, if present, holds exactly one finite
/// coefficient and fill per feature; a level-terms section, if present, holds well-formed
/// records for strictly increasing features below `n_features`, each with at least one level,
/// strictly increasing finite codes and finite numbers. Prediction relies on this and cannot
/// fail on indices.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    pub(crate) body: ModelBody<'a>,
    pub(crate) checksum: &'a [u8],
    /// The linear-terms payload (empty when the model has none).
    pub(crate) linear: &'a [u8],
    /// The level-terms payload (empty when the model has none).
    pub(crate) levels: &'a [u8],
    /// Trees per output, for averaging (all outputs have the same count when averaging).
    pub(crate) trees_per_output: u32,
    /// The worst-case work of one score, counted while validating.
    pub(crate) cost: Cost,
    /// The tree walk this model's splits need, chosen at load.
    pub(crate) walk: Walk,
    /// The format version of the blob (1 or 2).
    pub(crate) version: u16,
    /// The version 2 tree tables (empty in a version 1 model, whose trees are in `body`).
    pub(crate) compact: CompactTables<'a>,
    /// Version 2: every feature's split values are non-decreasing f32 values, none NaN (the
    /// builder writes them so), which the coded walk needs.
    pub(crate) sorted_values: bool,
}

/// The tree walk a model needs, chosen once at load from its splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every split is decided by `x < t` with NaN to the default side
    /// ([`Node::walks_as_plain_numeric`]: plain numeric splits, and LightGBM NaN-as-zero splits
    /// whose default side is zero's): the walk folds the missing direction into the
    /// comparison and reads no other flag.
    Numeric,
    /// Some split is categorical or has a LightGBM missing mode: every split's flags are read.
    General,
}

impl<'a> Model<'a> {
    /// Checks `bytes` completely and returns a view of the model, or the first problem found.
    ///
    /// ```
    /// use lockstep_engine::{Error, Model};
    ///
    /// static MODEL: &[u8] =
    ///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
    ///
    /// let model = Model::from_bytes(MODEL)?;
    /// assert_eq!((model.n_features(), model.n_outputs(), model.n_trees()), (2, 1, 2));
    /// assert_eq!(model.feature_names().collect::<Vec<_>>(), ["age", "asa"]);
    ///
    /// // Any damage is refused with a typed error, never a panic.
    /// let mut damaged = MODEL.to_vec();
    /// damaged[20] ^= 0x01;
    /// assert_eq!(Model::from_bytes(&damaged).err(), Some(Error::ChecksumMismatch));
    /// assert_eq!(Model::from_bytes(&MODEL[..10]).err(), Some(Error::Truncated));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::from_bytes_with_budget(bytes, &Budget::UNLIMITED)
    }

    /// [`Model::from_bytes`], refusing with [`Error::OverBudget`] a model beyond `budget`:
    /// a blob longer than its byte limit (before hashing it), more trees or nodes than its
    /// limits (before walking them), or a worst-case score ([`Model::cost`]) of more work items.
    /// See [`Budget`] for an example.
    pub fn from_bytes_with_budget(bytes: &'a [u8], budget: &Budget) -> Result<Self, Error> {
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(Error::Truncated);
        }
        Budget::check(BudgetItem::Bytes, bytes.len() as u64, budget.max_bytes)?;
        if bytes.get(0..4) != Some(&MAGIC[..]) {
            return Err(Error::BadMagic);
        }
        let version = le_u16(bytes, 4);
        // Version 2 only with the `format-v2` feature: without it, its code is not compiled in.
        let v2_ok = cfg!(feature = "format-v2") && version == FORMAT_VERSION_2;
        if version != FORMAT_VERSION_1 && !v2_ok {
            return Err(Error::UnsupportedVersion { found: version });
        }
        if le_u16(bytes, 6) != 0 {
            return Err(Error::ReservedBitsSet);
        }
        let split = bytes.len() - CHECKSUM_LEN;
        let (covered, checksum) = bytes.split_at(split);
        let digest = Sha256::digest(covered);
        if digest.as_slice() != checksum {
            return Err(Error::ChecksumMismatch);
        }
        let body_bytes = covered.get(HEADER_LEN..).ok_or(Error::Truncated)?;
        let (body, compact, rest) = if version == FORMAT_VERSION_1 {
            let (body, rest) = postcard::take_from_bytes::<ModelBody<'a>>(body_bytes)
                .map_err(|_| Error::MalformedBody)?;
            (body, None, rest)
        } else {
            let (body, rest) = postcard::take_from_bytes::<ModelBodyV2<'a>>(body_bytes)
                .map_err(|_| Error::MalformedBody)?;
            let (body, tables) = body.split_off();
            (body, Some(tables), rest)
        };
        if !rest.is_empty() {
            return Err(Error::TrailingBytes);
        }
        let (n_trees, n_nodes) = match &compact {
            None => (body.trees.len() / TREE_BYTES, body.nodes.len() / NODE_BYTES),
            Some(tables) => (
                tables.trees.len() / COMPACT_TREE_BYTES,
                tables.nodes.len() / SPLIT_BYTES,
            ),
        };
        Budget::check(BudgetItem::Trees, n_trees as u64, budget.max_trees)?;
        Budget::check(BudgetItem::Nodes, n_nodes as u64, budget.max_nodes)?;
        let (trees_per_output, linear, levels, cost, walk) = validate(&body, compact.as_ref())?;
        Budget::check(
            BudgetItem::WorkItems,
            cost.work_items_max,
            budget.max_work_items,
        )?;
        Ok(Model {
            body,
            checksum,
            linear,
            levels,
            trees_per_output,
            cost,
            walk,
            version,
            sorted_values: compact.as_ref().is_some_and(values_sorted),
            compact: compact.unwrap_or_default(),
        })
    }

    /// The format version of the blob the model was loaded from: 1 or 2 (see
    /// [`crate::format`]).
    pub fn format_version(&self) -> u16 {
        self.version
    }

    /// Whether the model's trees are in the version 2 (compact) layout.
    #[inline(always)]
    pub(crate) fn is_compact(&self) -> bool {
        cfg!(feature = "format-v2") && self.version == FORMAT_VERSION_2
    }

    /// Bytes of the tables that hold the nodes: version 1 the node table; version 2 the node
    /// table and the split values with their per-feature starts. Tree records and f64 leaves
    /// ([`Model::leaf_table_bytes`]) are not counted.
    pub fn node_bytes(&self) -> usize {
        let c = &self.compact;
        self.body.nodes.len() + c.nodes.len() + c.value_starts.len() + c.split_values.len()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        usize::from(self.body.n_features)
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        usize::from(self.body.n_outputs)
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        if self.is_compact() {
            self.compact.trees.len() / COMPACT_TREE_BYTES
        } else {
            self.body.trees.len() / TREE_BYTES
        }
    }

    /// Number of nodes in all trees.
    pub fn n_nodes(&self) -> usize {
        if self.is_compact() {
            self.compact.nodes.len() / SPLIT_BYTES
        } else {
            self.body.nodes.len() / NODE_BYTES
        }
    }

    /// Number of leaves in all trees.
    pub fn n_leaves(&self) -> usize {
        if self.is_compact() {
            // Each tree has one more leaf than splits.
            (self.n_nodes() + self.n_trees()) / 2
        } else {
            node_records(self.body.nodes)
                .iter()
                .filter(|record| Node::decode(record).is_leaf())
                .count()
        }
    }

    /// The declared maximum depth.
    pub fn max_depth(&self) -> u16 {
        self.body.max_depth
    }

    /// The deepest tree's depth, measured.
    pub fn measured_depth(&self) -> u16 {
        self.cost.depth_max
    }

    /// The worst-case work of scoring one row (counted at load): node visits, linear and
    /// level terms, and the stack bound.
    ///
    /// ```
    /// use lockstep_engine::{Model, PREDICT_STACK_BYTES_CORTEX_M_COMMON};
    ///
    /// static MODEL: &[u8] =
    ///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
    /// let cost = Model::from_bytes(MODEL)?.cost();
    /// assert_eq!((cost.trees, cost.nodes, cost.depth_max), (2, 8, 2));
    /// // Trees of depth 2 and 1: a row visits at most 3 + 2 nodes.
    /// assert_eq!((cost.node_visits_max, cost.work_items_max), (5, 5));
    /// // An f32 model with one output: its kind's stack bound.
    /// assert_eq!(cost.stack_bytes_max, PREDICT_STACK_BYTES_CORTEX_M_COMMON);
    /// # Ok::<(), lockstep_engine::Error>(())
    /// ```
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// What the outputs mean.
    pub fn objective(&self) -> Objective {
        self.body.objective
    }

    /// The arithmetic the model is evaluated with.
    pub fn numerics(&self) -> Numerics {
        self.body.numerics
    }

    /// When the base margin joins the sum.
    pub fn base_order(&self) -> BaseOrder {
        self.body.base_order
    }

    /// How trees combine.
    pub fn aggregation(&self) -> Aggregation {
        self.body.aggregation
    }

    /// The base margin of `output` (0.0 past the end).
    pub fn base_margin(&self, output: usize) -> f64 {
        // The loader checked every base margin is finite.
        f64_at(self.body.base_margins, output).unwrap_or(0.0)
    }

    /// Where the model came from.
    pub fn source(&self) -> Source<'a> {
        self.body.source
    }

    /// The model's free-text label.
    pub fn label(&self) -> &'a str {
        self.body.label
    }

    /// The feature names in model order.
    pub fn feature_names(&self) -> FeatureNames<'a> {
        FeatureNames {
            rest: self.body.feature_names,
        }
    }

    /// The declared valid range `(low, high)` of `feature`, if the model declares ranges.
    pub fn feature_range(&self, feature: usize) -> Option<(f32, f32)> {
        record::<FEATURE_RANGE_BYTES>(self.body.feature_ranges, feature).map(decode_range)
    }

    /// Checks every non-NaN feature against its declared range; `Ok` when no ranges are declared.
    pub fn check_ranges(&self, features: &[f32]) -> Result<(), Error> {
        for (index, &x) in features.iter().enumerate() {
            if let Some((low, high)) = self.feature_range(index) {
                if !x.is_nan() && (x < low || x > high) {
                    return Err(Error::InputOutOfRange {
                        feature: index as u32,
                    });
                }
            }
        }
        Ok(())
    }

    /// The SHA-256 stored at the end of the blob (verified at load): the model's identity.
    pub fn checksum(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (dst, src) in out.iter_mut().zip(self.checksum) {
            *dst = *src;
        }
        out
    }

    /// Whether the model carries linear terms (see [`crate::format::SECTION_LINEAR`]).
    pub fn has_linear_terms(&self) -> bool {
        !self.linear.is_empty()
    }

    /// The linear term of `feature` as `(coefficient, fill)`, if the model has linear terms.
    pub fn linear_term(&self, feature: usize) -> Option<(f64, f64)> {
        record::<LINEAR_TERM_BYTES>(self.linear, feature)
            .map(|term| (le_f64(term, 0), le_f64(term, 8)))
    }

    /// Whether the model carries per-level linear terms (see
    /// [`crate::format::SECTION_LEVEL_TERMS`]).
    pub fn has_level_terms(&self) -> bool {
        !self.levels.is_empty()
    }

    /// The per-level linear term of `feature`, if the model has one.
    pub fn level_terms(&self, feature: usize) -> Option<LevelTerms<'a>> {
        self.level_records().find(|terms| terms.feature == feature)
    }

    /// Every per-level linear term, in feature order.
    pub(crate) fn level_records(&self) -> LevelRecords<'a> {
        LevelRecords { rest: self.levels }
    }

    /// The payload of the first optional section with `tag`, if present.
    pub fn section(&self, tag: u32) -> Option<&'a [u8]> {
        Sections {
            rest: self.body.sections,
        }
        .find(|&(t, _)| t == tag)
        .map(|(_, payload)| payload)
    }

    /// Bytes of the f64 leaf table (0 in f32 models, whose leaves sit in the nodes).
    pub fn leaf_table_bytes(&self) -> usize {
        self.body.leaf_values.len()
    }

    /// Bytes of the categorical splits' sets: set records plus bitset words.
    pub fn category_bytes(&self) -> usize {
        self.body.category_sets.len() + self.body.category_words.len()
    }

    /// The record of tree `tree` (all zero past the end).
    #[inline(always)]
    pub(crate) fn tree_record(&self, tree: usize) -> TreeRecord {
        record(self.body.trees, tree)
            .map(TreeRecord::decode)
            .unwrap_or_default()
    }

    /// Version 2 tree `index`: its output and node records; `None` in a version 1 model or
    /// past the end. Trees tile the node table, so this sums the trees before it.
    pub(crate) fn compact_tree(&self, index: usize) -> Option<(usize, &'a [[u8; SPLIT_BYTES]])> {
        if !self.is_compact() {
            return None;
        }
        let records = self.compact.trees.as_chunks::<COMPACT_TREE_BYTES>().0;
        let start: usize = records
            .get(..index)?
            .iter()
            .map(|record| usize::from(CompactTreeRecord::decode(record).n_nodes))
            .sum();
        let record = CompactTreeRecord::decode(records.get(index)?);
        let end = start + usize::from(record.n_nodes);
        let nodes = self
            .compact
            .nodes
            .as_chunks::<SPLIT_BYTES>()
            .0
            .get(start..end)?;
        Some((usize::from(record.output), nodes))
    }

    /// The node records of the tree `record` describes (empty if outside the node table).
    #[inline(always)]
    pub(crate) fn tree_nodes(&self, record: TreeRecord) -> &'a [[u8; NODE_BYTES]] {
        tree_nodes(self.body.nodes, record).unwrap_or(&[])
    }
}

/// The node table as records.
#[inline(always)]
pub(crate) fn node_records(nodes: &[u8]) -> &[[u8; NODE_BYTES]] {
    nodes.as_chunks::<NODE_BYTES>().0
}

/// The node records of the tree `record` describes, or `None` if they are not all inside the
/// node table.
#[inline(always)]
fn tree_nodes(nodes: &[u8], record: TreeRecord) -> Option<&[[u8; NODE_BYTES]]> {
    let start = record.node_start as usize;
    let end = start.checked_add(usize::from(record.n_nodes))?;
    node_records(nodes).get(start..end)
}

/// A feature range record as `(low, high)`.
fn decode_range(record: &[u8; FEATURE_RANGE_BYTES]) -> (f32, f32) {
    (
        f32::from_bits(le_u32(record, 0)),
        f32::from_bits(le_u32(record, 4)),
    )
}

/// Iterator over feature names; yields nothing more after a decoding error (impossible once the
/// model loaded).
#[derive(Debug, Clone)]
pub struct FeatureNames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for FeatureNames<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match postcard::take_from_bytes::<&'a str>(self.rest) {
            Ok((name, rest)) => {
                self.rest = rest;
                Some(name)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// One feature's per-level linear term (a record of [`crate::format::SECTION_LEVEL_TERMS`]):
/// a coefficient per level code, and the fill used for a missing or unlisted value.
#[derive(Debug, Clone, Copy)]
pub struct LevelTerms<'a> {
    feature: usize,
    fill: f64,
    /// `n_levels` records of `code f32, coefficient f64`.
    levels: &'a [u8],
}

impl<'a> LevelTerms<'a> {
    /// The feature the term reads.
    pub fn feature(&self) -> usize {
        self.feature
    }

    /// The term when the input is missing or equals no listed code.
    pub fn fill(&self) -> f64 {
        self.fill
    }

    /// The levels as `(code, coefficient)`, codes increasing.
    pub fn levels(&self) -> impl Iterator<Item = (f32, f64)> + 'a {
        self.levels
            .as_chunks::<LEVEL_BYTES>()
            .0
            .iter()
            .map(|level| (f32::from_bits(le_u32(level, 0)), le_f64(level, 4)))
    }

    /// The term for input `x`: the coefficient of the level whose code equals `x`, else (NaN,
    /// or a value no level has) the fill.
    #[inline]
    pub fn term(&self, x: f32) -> f64 {
        if !x.is_nan() {
            for (code, coefficient) in self.levels() {
                if code == x {
                    return coefficient;
                }
            }
        }
        self.fill
    }

    /// Splits the first record off `bytes`; `None` if it is truncated.
    fn split(bytes: &'a [u8]) -> Option<(LevelTerms<'a>, &'a [u8])> {
        let head = bytes.first_chunk::<LEVEL_TERM_HEAD_BYTES>()?;
        let n_levels = usize::from(le_u16(head, 2));
        let end = n_levels
            .checked_mul(LEVEL_BYTES)?
            .checked_add(LEVEL_TERM_HEAD_BYTES)?;
        let terms = LevelTerms {
            feature: usize::from(le_u16(head, 0)),
            fill: le_f64(head, 4),
            levels: bytes.get(LEVEL_TERM_HEAD_BYTES..end)?,
        };
        Some((terms, bytes.get(end..)?))
    }
}

/// Iterator over the level-terms records; stops at the first malformed one (impossible once
/// the model loaded).
#[derive(Debug, Clone)]
pub(crate) struct LevelRecords<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LevelRecords<'a> {
    type Item = LevelTerms<'a>;

    fn next(&mut self) -> Option<LevelTerms<'a>> {
        let (terms, rest) = LevelTerms::split(self.rest)?;
        self.rest = rest;
        Some(terms)
    }
}

/// Iterator over `(tag, payload)` section records; stops at the first malformed record.
struct Sections<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Sections<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match postcard::take_from_bytes::<(u32, &'a [u8])>(self.rest) {
            Ok((record, rest)) => {
                self.rest = rest;
                Some(record)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// What [`validate`] finds: trees per output, the linear-terms and level-terms payloads (empty
/// if none), the cost of one score, and the walk the splits need.
type Validated<'a> = (u32, &'a [u8], &'a [u8], Cost, Walk);

/// Checks every invariant documented on [`Model`]; returns the number of trees per output,
/// the linear-terms and level-terms payloads (empty if none), the worst-case cost and the walk
/// the splits need. `compact` holds a version 2 model's tree tables.
fn validate<'a>(
    body: &ModelBody<'a>,
    compact: Option<&CompactTables<'a>>,
) -> Result<Validated<'a>, Error> {
    let n_features = usize::from(body.n_features);
    let n_outputs = usize::from(body.n_outputs);
    let (linear, levels) = validate_sections(body.sections)?;
    let tree_table = compact.map_or(body.trees, |tables| tables.trees);
    if n_features == 0
        || n_outputs == 0
        || (tree_table.is_empty() && linear.is_none() && levels.is_none())
    {
        return Err(Error::Empty);
    }
    if n_features > limits::MAX_FEATURES
        || n_outputs > limits::MAX_OUTPUTS
        || body.max_depth > limits::MAX_DEPTH
    {
        return Err(Error::LimitExceeded);
    }
    let objective_outputs_ok = match body.objective {
        Objective::BinaryLogistic | Objective::BinaryProbability => n_outputs == 1,
        Objective::MulticlassSoftmax | Objective::MulticlassOneVsRest => n_outputs >= 2,
        Objective::Regression => true,
    };
    let trees_ok = match compact {
        None => {
            body.trees.len().is_multiple_of(TREE_BYTES)
                && body.nodes.len().is_multiple_of(NODE_BYTES)
        }
        Some(tables) => {
            tables.trees.len().is_multiple_of(COMPACT_TREE_BYTES)
                && tables.nodes.len().is_multiple_of(SPLIT_BYTES)
                && tables.value_starts.len() == n_features * VALUE_START_BYTES
                && tables.split_values.len().is_multiple_of(SPLIT_VALUE_BYTES)
        }
    };
    let sizes_ok = trees_ok
        && body.leaf_values.len().is_multiple_of(8)
        && body.category_sets.len().is_multiple_of(CATEGORY_SET_BYTES)
        && body.category_words.len().is_multiple_of(4)
        && body.base_margins.len() == n_outputs * 8
        && (body.feature_ranges.is_empty()
            || body.feature_ranges.len() == n_features * FEATURE_RANGE_BYTES);
    if !objective_outputs_ok || !sizes_ok {
        return Err(Error::TableSize);
    }
    if let Numerics::Lightgbm { sigmoid } = body.numerics {
        // NaN fails `> 0.0` too.
        if !(sigmoid.is_finite() && sigmoid > 0.0) {
            return Err(Error::BadSigmoid);
        }
    }
    validate_base_margins(body)?;
    validate_feature_names(body.feature_names, n_features)?;
    validate_feature_ranges(body.feature_ranges)?;
    validate_category_sets(body)?;
    let mut cost = Cost::default();
    if let Some(payload) = linear {
        validate_linear_terms(body, payload)?;
    }
    if let Some(payload) = levels {
        cost.level_codes = validate_level_terms(body, payload)?;
    }
    if linear.is_some() || levels.is_some() {
        cost.linear_terms = n_features as u64;
    }

    let mut per_output = [0u32; limits::MAX_OUTPUTS];
    let walk = match compact {
        None => validate_trees(body, &mut cost, &mut per_output)?,
        Some(tables) => validate_compact_trees(body, tables, &mut cost, &mut per_output)?,
    };
    let first = per_output.first().copied().unwrap_or(0);
    let even = per_output
        .iter()
        .take(n_outputs)
        .all(|&count| count == first);
    if body.aggregation == Aggregation::Mean && (!even || first == 0) {
        return Err(Error::UnevenForest);
    }
    Ok((
        first,
        linear.unwrap_or(&[]),
        levels.unwrap_or(&[]),
        cost.finish(body.numerics.is_f64() && n_outputs > 1),
        walk,
    ))
}

/// Counts a tree for `output` in `per_output`; `Err` if the model has no such output.
fn count_tree(
    per_output: &mut [u32; limits::MAX_OUTPUTS],
    output: u16,
    n_outputs: u16,
    tree: u32,
) -> Result<(), Error> {
    match per_output.get_mut(usize::from(output)) {
        Some(slot) if output < n_outputs => {
            *slot += 1;
            Ok(())
        }
        _ => Err(Error::TreeOutputOutOfRange { tree }),
    }
}

/// Checks a version 1 model's trees, counting them into `cost` and `per_output`; returns the
/// walk their splits need.
fn validate_trees(
    body: &ModelBody<'_>,
    cost: &mut Cost,
    per_output: &mut [u32; limits::MAX_OUTPUTS],
) -> Result<Walk, Error> {
    let n_nodes = body.nodes.len() / NODE_BYTES;
    let mut next_start: usize = 0;
    let mut walk = Walk::Numeric;
    for (tree, record) in body.trees.as_chunks::<TREE_BYTES>().0.iter().enumerate() {
        let record = TreeRecord::decode(record);
        let tree_id = tree as u32;
        let nodes = match tree_nodes(body.nodes, record) {
            Some(nodes) if record.node_start as usize == next_start && !nodes.is_empty() => nodes,
            _ => return Err(Error::TreeRange { tree: tree_id }),
        };
        next_start += nodes.len();
        count_tree(per_output, record.output, body.n_outputs, tree_id)?;
        if !validate_tree(body, nodes, tree_id)? {
            walk = Walk::General;
        }
        match tree_depth(nodes) {
            Some(depth) if depth <= body.max_depth => cost.add_tree(depth, nodes.len()),
            _ => return Err(Error::DepthExceeded { tree: tree_id }),
        }
    }
    if next_start != n_nodes {
        return Err(Error::TableSize);
    }
    Ok(walk)
}

/// Checks a version 2 model's trees and tables, counting the trees into `cost` and
/// `per_output`; returns the walk their splits need.
fn validate_compact_trees(
    body: &ModelBody<'_>,
    tables: &CompactTables<'_>,
    cost: &mut Cost,
    per_output: &mut [u32; limits::MAX_OUTPUTS],
) -> Result<Walk, Error> {
    validate_value_starts(tables)?;
    let mut rest = tables.nodes.as_chunks::<SPLIT_BYTES>().0;
    let mut walk = Walk::Numeric;
    for (tree, record) in tables
        .trees
        .as_chunks::<COMPACT_TREE_BYTES>()
        .0
        .iter()
        .enumerate()
    {
        let record = CompactTreeRecord::decode(record);
        let tree_id = tree as u32;
        let nodes = match rest.split_at_checked(usize::from(record.n_nodes)) {
            Some((nodes, tail)) if !nodes.is_empty() => {
                rest = tail;
                nodes
            }
            _ => return Err(Error::TreeRange { tree: tree_id }),
        };
        count_tree(per_output, record.output, body.n_outputs, tree_id)?;
        let (plain, depth) = validate_compact_tree(body, tables, nodes, tree_id)?;
        if !plain {
            walk = Walk::General;
        }
        if depth > body.max_depth {
            return Err(Error::DepthExceeded { tree: tree_id });
        }
        cost.add_tree(depth, nodes.len());
    }
    if !rest.is_empty() {
        return Err(Error::TableSize);
    }
    Ok(walk)
}

/// The split value table's runs: feature 0's starts at 0, each start at or after the previous
/// one, no run longer than [`COMPACT_MAX_VALUES_PER_FEATURE`], the last ending at the table's
/// end.
fn validate_value_starts(tables: &CompactTables<'_>) -> Result<(), Error> {
    let n_values = tables.split_values.len() / SPLIT_VALUE_BYTES;
    let mut previous = 0usize;
    for (feature, start) in tables
        .value_starts
        .as_chunks::<VALUE_START_BYTES>()
        .0
        .iter()
        .enumerate()
    {
        let start = usize::from(u16::from_le_bytes(*start));
        let ok = if feature == 0 {
            start == 0
        } else {
            start >= previous && start - previous <= COMPACT_MAX_VALUES_PER_FEATURE
        };
        if !ok {
            return Err(Error::TableSize);
        }
        previous = start;
    }
    if n_values < previous || n_values - previous > COMPACT_MAX_VALUES_PER_FEATURE {
        return Err(Error::TableSize);
    }
    Ok(())
}

/// Whether every feature's run of split values is non-decreasing as f32 values with no NaN.
fn values_sorted(tables: &CompactTables<'_>) -> bool {
    (0..tables.value_starts.len() / VALUE_START_BYTES).all(|feature| {
        let (start, length) = value_run(tables, feature);
        let value = |index: usize| f32::from_bits(le_u32(tables.split_values, index * 4));
        (start..start + length).all(|index| {
            // `<=` fails for NaN on either side.
            value(index) <= value(index) && (index == start || value(index - 1) <= value(index))
        })
    })
}

/// The run of split values of `feature`: `(start, length)` (empty past the table).
#[inline(always)]
pub(crate) fn value_run(tables: &CompactTables<'_>, feature: usize) -> (usize, usize) {
    let start = usize::from(le_u16(tables.value_starts, feature * VALUE_START_BYTES));
    let end = if (feature + 1) * VALUE_START_BYTES < tables.value_starts.len() {
        usize::from(le_u16(
            tables.value_starts,
            (feature + 1) * VALUE_START_BYTES,
        ))
    } else {
        tables.split_values.len() / SPLIT_VALUE_BYTES
    };
    (start, end.saturating_sub(start))
}

/// Checks one version 2 tree: the layout, then each node as in [`validate_tree`]. Node kinds
/// come from the parents' flags ([`LeafMap`]); scanning nodes in order, node `index` must
/// already be named by a parent (`index <= 2 * splits so far`), the k-th split's offset must
/// point at 2k+1 with 2k+2 inside the tree, and the tree must have one more leaf than splits
/// (so every node is named exactly once and children follow parents). Returns whether every
/// split is plain numeric, and the tree's depth.
fn validate_compact_tree(
    body: &ModelBody<'_>,
    tables: &CompactTables<'_>,
    nodes: &[[u8; SPLIT_BYTES]],
    tree: u32,
) -> Result<(bool, u16), Error> {
    let n_nodes = nodes.len();
    if n_nodes >= LeafMap::CAPACITY {
        return Err(Error::LimitExceeded);
    }
    let n_sets = body.category_sets.len() / CATEGORY_SET_BYTES;
    let f64_leaves = body.numerics.is_f64();
    let mut leaves = LeafMap::of(&[]);
    leaves.set(0, n_nodes == 1);
    // Depth by levels: nodes [level_start, level_end) form a level; the next one ends at
    // 2 * (splits up to this level's end) + 1.
    let mut level_end = 1usize;
    let mut depth: u16 = 0;
    let mut n_splits: usize = 0;
    let mut plain = true;
    for (index, record) in nodes.iter().enumerate() {
        let node = index as u32;
        if index >= level_end {
            level_end = 2 * n_splits + 1;
            depth = depth.saturating_add(1);
        }
        if index > 2 * n_splits {
            // No parent has named this node.
            return Err(Error::BadChildIndex { tree, node });
        }
        if leaves.is_leaf(index) {
            let value = u32::from_le_bytes(*record);
            let leaf_ok = if f64_leaves {
                f64_at(body.leaf_values, value as usize).is_some_and(f64::is_finite)
            } else {
                f32::from_bits(value).is_finite()
            };
            if !leaf_ok {
                return Err(Error::BadLeaf { tree, node });
            }
            continue;
        }
        let split = Split::decode(record);
        let left = 2 * n_splits + 1;
        if index + usize::from(split.offset) != left || left + 1 >= n_nodes {
            return Err(Error::BadChildIndex { tree, node });
        }
        leaves.set(left, split.child_is_leaf(false));
        leaves.set(left + 1, split.child_is_leaf(true));
        n_splits += 1;
        let feature = usize::from(split.feature);
        if feature >= usize::from(body.n_features) {
            return Err(Error::FeatureIndexOutOfRange { tree, node });
        }
        let (start, length) = value_run(tables, feature);
        let value = le_u32(tables.split_values, (start + usize::from(split.code)) * 4);
        let as_node = split.as_node(value);
        if split.has_reserved_bits() || as_node.missing_mode().is_none() {
            return Err(Error::BadNodeFlags { tree, node });
        }
        if usize::from(split.code) >= length {
            return Err(Error::SplitValueOutOfRange { tree, node });
        }
        plain &= as_node.walks_as_plain_numeric();
        if as_node.is_categorical() {
            if value as usize >= n_sets {
                return Err(Error::CategorySetOutOfRange { tree, node });
            }
        } else if f32::from_bits(value).is_nan() {
            return Err(Error::NanThreshold { tree, node });
        }
    }
    // A proper binary tree has one more leaf than splits.
    if n_nodes != 2 * n_splits + 1 {
        return Err(Error::BadChildIndex {
            tree,
            node: n_nodes as u32,
        });
    }
    Ok((plain, depth))
}

fn validate_base_margins(body: &ModelBody<'_>) -> Result<(), Error> {
    for chunk in body.base_margins.chunks_exact(8) {
        let value = le_f64(chunk, 0);
        let exact_f32 = f64::from(value as f32) == value;
        if !value.is_finite() || (!body.numerics.is_f64() && !exact_f32) {
            return Err(Error::BadBaseMargin);
        }
    }
    Ok(())
}

fn validate_feature_names(bytes: &[u8], n_features: usize) -> Result<(), Error> {
    let mut rest = bytes;
    for _ in 0..n_features {
        let (_, tail) =
            postcard::take_from_bytes::<&str>(rest).map_err(|_| Error::BadFeatureNames)?;
        rest = tail;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Error::BadFeatureNames)
    }
}

fn validate_feature_ranges(bytes: &[u8]) -> Result<(), Error> {
    for (feature, record) in bytes
        .as_chunks::<FEATURE_RANGE_BYTES>()
        .0
        .iter()
        .enumerate()
    {
        let (low, high) = decode_range(record);
        if !(low <= high) {
            return Err(Error::BadFeatureRange {
                feature: feature as u32,
            });
        }
    }
    Ok(())
}

fn validate_category_sets(body: &ModelBody<'_>) -> Result<(), Error> {
    let n_words = body.category_words.len() / 4;
    for record in body.category_sets.as_chunks::<CATEGORY_SET_BYTES>().0 {
        let set = CategorySetRecord::decode(record);
        match (set.word_start as usize).checked_add(set.n_words as usize) {
            Some(end) if end <= n_words => {}
            _ => return Err(Error::BadCategorySet),
        }
    }
    Ok(())
}

/// The linear-terms and level-terms payloads of a model, if present.
type TermSections<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Walks the section records; returns the linear-terms and level-terms payloads if there are
/// any. Unknown required sections are refused; a known one may appear only once.
fn validate_sections(bytes: &[u8]) -> Result<TermSections<'_>, Error> {
    let mut rest = bytes;
    let mut linear = None;
    let mut levels = None;
    while !rest.is_empty() {
        let ((tag, payload), tail) =
            postcard::take_from_bytes::<(u32, &[u8])>(rest).map_err(|_| Error::BadSection)?;
        if tag == SECTION_LINEAR {
            if linear.is_some() {
                return Err(Error::BadLinearTerms);
            }
            linear = Some(payload);
        } else if tag == SECTION_LEVEL_TERMS {
            if levels.is_some() {
                return Err(Error::BadLevelTerms);
            }
            levels = Some(payload);
        } else if tag & 1 == 1 {
            // A required section this engine does not know cannot be honoured.
            return Err(Error::UnsupportedSection { tag });
        }
        rest = tail;
    }
    Ok((linear, levels))
}

/// Whether the model can carry linear or level terms: f64 arithmetic and a single summed output
/// that a linear predictor can mean.
fn carries_linear_terms(body: &ModelBody<'_>) -> bool {
    body.numerics.is_f64()
        && body.n_outputs == 1
        && body.aggregation == Aggregation::Sum
        && matches!(
            body.objective,
            Objective::BinaryLogistic | Objective::Regression
        )
}

/// The level terms need well-formed records (see [`Model`]'s invariant) in a model that
/// can carry linear terms. Returns the number of level codes.
fn validate_level_terms(body: &ModelBody<'_>, payload: &[u8]) -> Result<u64, Error> {
    if !carries_linear_terms(body) || payload.is_empty() {
        return Err(Error::BadLevelTerms);
    }
    let mut rest = payload;
    let mut next_feature = 0usize;
    let mut n_codes: u64 = 0;
    while !rest.is_empty() {
        let (terms, tail) = LevelTerms::split(rest).ok_or(Error::BadLevelTerms)?;
        let well_formed = terms.feature >= next_feature
            && terms.feature < usize::from(body.n_features)
            && !terms.levels.is_empty()
            && terms.fill.is_finite();
        if !well_formed {
            return Err(Error::BadLevelTerms);
        }
        let mut previous = f32::NEG_INFINITY;
        for (index, (code, coefficient)) in terms.levels().enumerate() {
            let increasing = index == 0 || code > previous;
            if !code.is_finite() || !increasing || !coefficient.is_finite() {
                return Err(Error::BadLevelTerms);
            }
            previous = code;
            n_codes += 1;
        }
        next_feature = terms.feature + 1;
        rest = tail;
    }
    Ok(n_codes)
}

/// The linear terms need one finite `(coefficient, fill)` per feature, in a model that can
/// carry linear terms.
fn validate_linear_terms(body: &ModelBody<'_>, payload: &[u8]) -> Result<(), Error> {
    let fits_model = carries_linear_terms(body);
    let expected = usize::from(body.n_features).checked_mul(LINEAR_TERM_BYTES);
    if !fits_model || Some(payload.len()) != expected {
        return Err(Error::BadLinearTerms);
    }
    for record in payload.chunks_exact(8) {
        if !le_f64(record, 0).is_finite() {
            return Err(Error::BadLinearTerms);
        }
    }
    Ok(())
}

/// Checks one tree's nodes; returns whether the numeric walk decides every split
/// ([`Node::walks_as_plain_numeric`]).
fn validate_tree(
    body: &ModelBody<'_>,
    nodes: &[[u8; NODE_BYTES]],
    tree: u32,
) -> Result<bool, Error> {
    let n_nodes = nodes.len();
    let n_sets = body.category_sets.len() / CATEGORY_SET_BYTES;
    let f64_leaves = body.numerics.is_f64();
    let mut n_splits: usize = 0;
    let mut plain = true;
    for (index, record) in nodes.iter().enumerate() {
        let node_id = index as u32;
        let node = Node::decode(record);
        if node.is_leaf() {
            if node.meta != 0 {
                return Err(Error::BadNodeFlags {
                    tree,
                    node: node_id,
                });
            }
            let leaf_ok = if f64_leaves {
                f64_at(body.leaf_values, node.value as usize).is_some_and(f64::is_finite)
            } else {
                f32::from_bits(node.value).is_finite()
            };
            if !leaf_ok {
                return Err(Error::BadLeaf {
                    tree,
                    node: node_id,
                });
            }
            continue;
        }
        // Breadth-first layout: the k-th split's children sit at 2k+1 and 2k+2.
        let left = node.left();
        if left != 2 * n_splits + 1 || left + 1 >= n_nodes {
            return Err(Error::BadChildIndex {
                tree,
                node: node_id,
            });
        }
        n_splits += 1;
        plain &= node.walks_as_plain_numeric();
        if node.feature() >= usize::from(body.n_features) {
            return Err(Error::FeatureIndexOutOfRange {
                tree,
                node: node_id,
            });
        }
        if node.missing_mode().is_none() {
            return Err(Error::BadNodeFlags {
                tree,
                node: node_id,
            });
        }
        if node.is_categorical() {
            if node.value as usize >= n_sets {
                return Err(Error::CategorySetOutOfRange {
                    tree,
                    node: node_id,
                });
            }
        } else if f32::from_bits(node.value).is_nan() {
            return Err(Error::NanThreshold {
                tree,
                node: node_id,
            });
        }
    }
    // A proper binary tree has one more leaf than splits.
    if n_nodes != 2 * n_splits + 1 {
        return Err(Error::BadChildIndex {
            tree,
            node: n_nodes as u32,
        });
    }
    Ok(plain)
}

/// Depth of a breadth-first tree, level by level: the children of a level's splits form the
/// next level, a contiguous run. `None` if the layout is broken.
fn tree_depth(nodes: &[[u8; NODE_BYTES]]) -> Option<u16> {
    let n_nodes = nodes.len();
    let (mut level_start, mut level_end) = (0usize, 1usize);
    let mut depth: u16 = 0;
    loop {
        let level = nodes.get(level_start..level_end)?;
        let splits = level
            .iter()
            .filter(|record| !Node::decode(record).is_leaf())
            .count();
        if splits == 0 {
            return if level_end == n_nodes {
                Some(depth)
            } else {
                None
            };
        }
        level_start = level_end;
        level_end = level_end.checked_add(2 * splits)?;
        if level_end > n_nodes {
            return None;
        }
        depth = depth.checked_add(1)?;
    }
}

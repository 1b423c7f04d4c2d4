//! The Lockstep model format, versions 1 and 2. This module alone defines the bytes; every
//! other crate reads and writes models through it.
//!
//! Both versions share the framing, the checksum, the body's scalar fields, the category sets,
//! the feature names and ranges, the source, the label and the sections. They differ only in
//! how trees are stored: version 1 (below) keeps 8-byte nodes, each saying whether it is a
//! leaf and holding its threshold; version 2 (see [Version 2](#version-2-compact-trees)) keeps
//! 4-byte nodes whose parents say which children are leaves, with thresholds in a per-feature
//! table of split values. The loader reads both (version 2 with the engine's `format-v2`
//! feature, which `build` turns on; firmware that loads only version 1 models leaves it off
//! and saves the flash of its walks) and picks the walk at load. The builder writes
//! version 1 unless asked for version 2 (`ModelSpec::to_bytes_with_version`): version 2 takes
//! about 0.6x the bytes, but its walk, measured, is slower (see [Measured](#measured)).
//!
//! # File layout
//!
//! ```text
//! offset  size  field
//! 0       4     MAGIC  b"LSTP"
//! 4       2     format version, u16 little-endian (FORMAT_VERSION)
//! 6       2     header flags, u16 little-endian, must be 0 in versions 1 and 2
//! 8       n     body: postcard encoding of `ModelBody`
//! 8+n     32    SHA-256 of bytes [0, 8+n)
//! ```
//!
//! The body's variable-length tables are postcard byte strings read in place (zero-copy) from the
//! blob, which may live in flash. All multi-byte values inside them are little-endian and read a
//! byte at a time, so the blob needs no alignment.
//!
//! The body's fields, in order (postcard: integers as varints, f64 as 8 little-endian bytes,
//! enums as a varint variant index then their fields, `bytes` and `str` as a varint length then
//! the bytes):
//!
//! ```text
//! n_features      u16
//! n_outputs       u16
//! max_depth       u16    edges from root to deepest leaf, declared
//! objective       enum   Objective
//! numerics        enum   Numerics (Lightgbm carries its sigmoid f64)
//! base_order      enum   BaseOrder
//! aggregation     enum   Aggregation
//! base_margins    bytes  one f64 per output (exactly an f32 in f32 models)
//! trees           bytes  tree records
//! nodes           bytes  node records
//! leaf_values     bytes  f64 leaves referenced by f64 models' leaves; empty otherwise
//! category_sets   bytes  category set records
//! category_words  bytes  u32 bitset words; bit c % 32 of word c / 32 is category c
//! feature_names   bytes  n_features postcard strings, back to back
//! feature_ranges  bytes  empty, or one range record (low f32, high f32) per feature
//! source          enum   Framework, then str, the framework's version
//! label           str
//! sections        bytes  optional sections (below)
//! ```
//!
//! # Node layout (8 bytes, the `nodes` table)
//!
//! ```text
//! bytes 0..4  value  u32  split: f32 bits of the threshold t (numeric) or a category set index
//!                         leaf:  f32 bits of the leaf (f32 numerics) or an index into
//!                                `leaf_values` (f64 numerics)
//! bytes 4..6  meta   u16  bits 0..=11 feature index, bit 12 default-left,
//!                         bits 13..=14 missing mode (see `MissingMode`), bit 15 categorical;
//!                         0 for leaves
//! bytes 6..8  left   u16  index of the left child within the tree; the right child is left + 1.
//!                         0 marks a leaf (the root is node 0, so no child is ever at 0)
//! ```
//!
//! Nodes of a tree are stored in breadth-first order, which the loader checks exactly: the k-th
//! split node (counting splits in index order from 0) has its children at 2k+1 and 2k+2. That
//! one rule makes every tree a proper binary tree (each node but the root has exactly one parent,
//! children follow parents, so walks terminate), and lets the loader compute depths without memory.
//!
//! A numeric split sends `x` left when `x < t`. Frameworks that split on `x <= t64` with an f64
//! threshold are compiled to the f32 `t` for which `x < t` decides the same for every f32 `x`
//! ([`lt_threshold_for_le_f64`]). Missing values (NaN) follow the missing mode before the
//! comparison. A categorical split tests whether the truncated feature value is a member of its
//! set; which side members go to, and which values count as categories at all, depend on the
//! model's [`Numerics`] (see `Model` docs).
//!
//! # Tree table (8 bytes per tree)
//!
//! `node_start u32`, `n_nodes u16`, `output u16`. Trees tile the node table in order.
//!
//! # Category set table (8 bytes per set)
//!
//! `word_start u32`, `n_words u32`: the set's run of `category_words`.
//!
//! # Optional sections
//!
//! `sections` is a concatenation of postcard `(u32 tag, bytes payload)` records. A tag with bit 0
//! set is *required*: an engine that does not know it refuses the model. Tags with bit 0 clear are
//! skipped by engines that do not know them. Later features (signatures, explanations, monitoring
//! baselines) arrive as sections without changing the version.
//!
//! Known sections:
//!
//! - [`SECTION_LINEAR`] (tag 3, required): linear terms, the exact form of a logistic (or
//!   linear) regression. The payload is `n_features` records of 16 bytes, `coefficient f64`
//!   then `fill f64` (little-endian), both finite. It is allowed only in f64 models
//!   ([`Numerics::Lightgbm`]) with one output, objective `BinaryLogistic` or `Regression` and
//!   `Sum` aggregation, and it may stand alone (a model with no trees). After the base margin
//!   and the trees, each feature `j` with a nonzero coefficient, in index order, adds
//!   `coefficient * x` to the margin in f64, where `x` is the input widened to f64, or `fill`
//!   when the input is NaN (missing). The transform is then the usual one (for a binary model
//!   `1 / (1 + exp(-sigmoid * margin))`).
//! - [`SECTION_LEVEL_TERMS`] (tag 7, required): per-level linear terms, the exact form of a
//!   dummy (one-hot) coded categorical feature. The payload is a run of records, one per coded
//!   feature, in strictly increasing feature order:
//!
//!   ```text
//!   feature   u16  feature index, below n_features
//!   n_levels  u16  at least 1
//!   fill      f64  the term when the input is missing (NaN) or no listed level
//!   n_levels x { code f32, coefficient f64 }   codes finite and strictly increasing
//!   ```
//!
//!   (all little-endian, 12 + 12 * n_levels bytes). Every level is listed, the reference level
//!   with coefficient 0. The same models as [`SECTION_LINEAR`] may carry it, with or without
//!   that section and with or without trees. Evaluation, after the base margin and the trees:
//!   for each feature `j` in index order, first `j`'s [`SECTION_LINEAR`] term (as above), then
//!   `j`'s level term: the term is the coefficient of the level whose code equals the input
//!   (f32 `==`), or `fill` when the input is NaN or equals no listed code (a value the model
//!   never saw is scored as unknown, like a missing one, never as the reference level); a
//!   nonzero term is added to the margin in f64.
//!
//! # Version 2: compact trees
//!
//! Header and checksum as in version 1, with version 2 in the header. The body is the version 1
//! body with 4-byte node records, 4-byte tree records, and a per-feature table of split values
//! after the leaf values (postcard, in order):
//!
//! ```text
//! n_features      u16
//! n_outputs       u16
//! max_depth       u16
//! objective       enum   Objective
//! numerics        enum   Numerics
//! base_order      enum   BaseOrder
//! aggregation     enum   Aggregation
//! base_margins    bytes  as in version 1
//! trees           bytes  compact tree records (4 bytes each)
//! nodes           bytes  compact node records (4 bytes each)
//! leaf_values     bytes  as in version 1: f64 leaves of f64 models, empty otherwise
//! value_starts    bytes  one u16 per feature: where the feature's run of `split_values` starts
//! split_values    bytes  u32 per value: f32 bits of a threshold, or a category set index
//! category_sets   bytes  as in version 1
//! category_words  bytes  as in version 1
//! feature_names   bytes  as in version 1
//! feature_ranges  bytes  as in version 1
//! source          enum   as in version 1
//! label           str
//! sections        bytes  as in version 1
//! ```
//!
//! Nodes are numbered and ordered exactly as in version 1: breadth-first, the k-th split's
//! children at 2k+1 and 2k+2 of its tree. What changes is the record: a node no longer says
//! whether it is a leaf; its parent does (a flag per child), so a leaf is its bare value and a
//! split needs no leaf test of its own, and the walk learns that a child is a leaf in the same
//! step that chooses it.
//!
//! ## Node record (4 bytes, the `nodes` table)
//!
//! ```text
//! split:  byte 0  feature  u8  feature index
//!         byte 1  code     u8  index into the feature's run of `split_values`: the split's
//!                              threshold (f32 bits; numeric) or category set index
//!                              (categorical)
//!         byte 2  flags    u8  bit 0 default-left, bits 1..=2 missing mode (see
//!                              `MissingMode`), bit 3 categorical, bit 4 left child is a leaf,
//!                              bit 5 right child is a leaf, bits 6..=7 zero
//!         byte 3  offset   u8  left child index minus this node's index (at least 1); the
//!                              right child is the next node
//! leaf:   bytes 0..4  value u32  as version 1's leaf value: f32 bits of the leaf (f32
//!                              numerics) or an index into `leaf_values` (f64 numerics)
//! ```
//!
//! The root is a leaf exactly when the tree has one node. The flag layout in bits 0..=3 is
//! version 1's meta bits 12..=15, so both versions share one split test: a numeric split sends
//! `x` left when `x < t` after the missing mode, a categorical split tests membership of the
//! truncated value in its set.
//!
//! ## Compact tree record (4 bytes)
//!
//! `n_nodes u16`, `output u16`. Trees tile the node table in order: tree i's nodes follow tree
//! i-1's.
//!
//! ## Split values
//!
//! Feature f's values are `split_values[value_starts[f] .. value_starts[f + 1]]` (the last
//! feature's run ends at the table's end), at most 256 per feature, so a split's `code` is one
//! byte. The builder lists each feature's distinct values once, in increasing f32 order (a
//! category set index read as an f32 is a non-negative subnormal, so indices keep their
//! order). The loader accepts any order; when every run is non-decreasing and free of NaN
//! (what the builder writes) a host may walk numeric models on per-row codes: for a row's `x`
//! the number `c` of the feature's values `<= x` (NaN: a code above all), and `x < t_j` holds
//! exactly when `c <= j`, so a split compares two small integers.
//!
//! ## Limits
//!
//! A model fits version 2 when it reads at most 256 features, each with at most 256 distinct
//! split values, and each tree has at most 256 leaves (so every offset fits a byte); asked to
//! write a model beyond these, the builder refuses (`BuildError::ExceedsVersion`). The loader checks each split as in version 1 (feature
//! below `n_features`, a known missing mode, reserved bits clear, a code inside its feature's
//! run, a threshold that is not NaN or a set that exists), each tree's layout (positions'
//! kinds from their parents' flags, with a fixed 64-byte bitmap per tree, so no allocator; the
//! k-th split's offset pointing at 2k+1; one more leaf than splits) and its depth, the leaves
//! finite, and the tables' sizes exact.
//!
//! ## Measured
//!
//! The 300-tree, depth-6 XGBoost bench fixture (20 features, 19,110 nodes, 2,771 distinct
//! thresholds): 155,440 bytes in version 1, 89,003 in version 2 (0.57x); a 100x3 model
//! 12,028 and 8,359 (0.69x); the LightGBM 4.7.0 fixtures about 0.75x. The same model in both
//! versions, one run: on a loaded 2-core x86 VM version 2 takes 1.24x the time per row single
//! and 1.32x in batches for 300x6 (1.86x and 1.42x for 100x3, where a row's split codes are a
//! larger share); on Cortex-M4F 92,358 instructions per inference against 56,120 and on
//! Cortex-M0 226,962 against 145,548 (`lockstep parity --cost`; 100x3: 19,391 against 12,339
//! and 52,033 against 36,514), measured before the version 1 Cortex-M walk's later cuts
//! (`NanFreeTree`, about a quarter to a third fewer instructions), which widened the gap. What
//! stands in the way: a node visit reads its split value
//! through the feature's run start, two dependent loads where version 1 has the threshold
//! inline, and on hosts the codes that avoid them cost a search per feature per row. So
//! version 1 stays what the builder writes.

use serde::{Deserialize, Serialize};

/// The first four bytes of every model.
pub const MAGIC: [u8; 4] = *b"LSTP";
/// The format version the builder writes by default (`ModelSpec::to_bytes`). The engine also
/// reads [`FORMAT_VERSION_2`] (with the `format-v2` feature).
pub const FORMAT_VERSION: u16 = FORMAT_VERSION_1;
/// Version 1: 8-byte nodes (layout in the module docs); what the builder writes.
pub const FORMAT_VERSION_1: u16 = 1;
/// Version 2: compact trees (layout in the module docs).
pub const FORMAT_VERSION_2: u16 = 2;

/// Tag of the linear-terms section (required: bit 0 set). Layout in the module docs.
pub const SECTION_LINEAR: u32 = 3;
/// Tag of the per-level linear terms section (required: bit 0 set). Layout in the module docs.
pub const SECTION_LEVEL_TERMS: u32 = 7;
/// Bytes of a level-terms record's head: feature u16, n_levels u16, fill f64.
pub(crate) const LEVEL_TERM_HEAD_BYTES: usize = 12;
/// Bytes of one level in a level-terms record: code f32, coefficient f64.
pub(crate) const LEVEL_BYTES: usize = 12;
/// Bytes before the postcard body: magic, version, flags.
pub const HEADER_LEN: usize = 8;
/// Bytes of the trailing SHA-256 checksum.
pub const CHECKSUM_LEN: usize = 32;
/// Bytes of one node record (layout in the module docs).
pub const NODE_BYTES: usize = 8;
/// Bytes of one version 2 node record (layout in the module docs).
pub const SPLIT_BYTES: usize = 4;
/// Bytes of one version 2 tree record (`n_nodes u16`, `output u16`).
pub(crate) const COMPACT_TREE_BYTES: usize = 4;
/// Bytes of one split value (f32 bits or a category set index).
pub(crate) const SPLIT_VALUE_BYTES: usize = 4;
/// Bytes of one feature's start in the split value table.
pub(crate) const VALUE_START_BYTES: usize = 2;
/// Most distinct split values one feature may have in version 2 (a split's code is a byte).
pub const COMPACT_MAX_VALUES_PER_FEATURE: usize = 256;
/// Most features a version 2 model may read (a split's feature is a byte).
pub const COMPACT_MAX_FEATURES: usize = 256;
/// Most leaves one version 2 tree may have (a split's offset is a byte).
pub const COMPACT_MAX_TREE_LEAVES: usize = 256;
/// Bytes per feature in the linear-terms section: coefficient f64, fill f64.
pub(crate) const LINEAR_TERM_BYTES: usize = 16;
/// Bytes of one tree record.
pub(crate) const TREE_BYTES: usize = 8;
/// Bytes of one category set record (`word_start u32`, `n_words u32`).
pub(crate) const CATEGORY_SET_BYTES: usize = 8;
/// Bytes of one feature range record (`low f32`, `high f32`).
pub(crate) const FEATURE_RANGE_BYTES: usize = 8;

/// Fixed capacities of the engine. A model that exceeds one fails to load with
/// [`crate::Error::LimitExceeded`]; nothing is sized at run time.
pub mod limits {
    /// Most features a model may read (12 bits of the node's meta field).
    pub const MAX_FEATURES: usize = 4096;
    /// Most outputs (classes) a model may have; the evaluator keeps this many accumulators on
    /// the stack.
    pub const MAX_OUTPUTS: usize = 32;
    /// Most nodes in one tree (16-bit child indices).
    pub const MAX_TREE_NODES: usize = 65535;
    /// Largest depth a model may declare.
    pub const MAX_DEPTH: u16 = 256;
}

/// Magnitude at or below which LightGBM's `zero_as_missing` treats a value as zero:
/// `(double)1e-35f`, exactly an f32.
pub const ZERO_MISSING_BOUND: f32 = 1e-35;

/// How a split treats missing values (NaN), encoded in meta bits 13..=14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MissingMode {
    /// NaN goes to the default side; everything else is compared (XGBoost; LightGBM `NaN`).
    NanDefault = 0,
    /// NaN and values with magnitude at most [`ZERO_MISSING_BOUND`] go to the default side
    /// (LightGBM missing type `Zero`).
    ZeroOrNanDefault = 1,
    /// NaN is replaced by 0.0 and compared (LightGBM missing type `None`).
    NanAsZero = 2,
}

impl MissingMode {
    /// Decodes the two meta bits; `None` for the reserved value 3.
    const fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            0 => Some(MissingMode::NanDefault),
            1 => Some(MissingMode::ZeroOrNanDefault),
            2 => Some(MissingMode::NanAsZero),
            _ => None,
        }
    }

    /// The two meta bits of this mode.
    #[cfg(any(feature = "build", test))]
    const fn bits(self) -> u16 {
        self as u16
    }
}

/// What the model's outputs mean and how margins become the reported value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Objective {
    /// One or more real-valued outputs; the value is the margin.
    Regression,
    /// One output; the probability is the sigmoid of the margin.
    BinaryLogistic,
    /// K outputs; the probabilities are the softmax of the margins.
    MulticlassSoftmax,
    /// K outputs; each probability is the sigmoid of its own margin (LightGBM `multiclassova`).
    MulticlassOneVsRest,
    /// One output that already is a probability (a classification forest averaging its trees'
    /// class frequencies); the transform is the identity. Appended last, so that the variant
    /// indices of older models decode unchanged.
    BinaryProbability,
}

/// The arithmetic a model is evaluated with: precision of leaves and sums, the output
/// transform's exact formula, and the categorical convention. Each variant reproduces one
/// source framework bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Numerics {
    /// XGBoost before 2.0: f32 leaves and sums; sigmoid `1/(1+expf(-m))`; softmax with the
    /// exponentials summed in f64; category members go right.
    XgboostLegacy,
    /// XGBoost 2.0 and later: as `XgboostLegacy` but the sigmoid clamps its exponent at 88.7
    /// and adds 1e-16 to the denominator.
    Xgboost,
    /// LightGBM: f64 leaves and sums, f64 transforms (`sigmoid` scales the margin); category
    /// members go left.
    Lightgbm {
        /// LightGBM's `sigmoid` parameter for binary and one-vs-rest objectives.
        sigmoid: f64,
    },
}

impl Numerics {
    /// Whether leaves and sums are f64 (leaf nodes then index `leaf_values`).
    pub const fn is_f64(&self) -> bool {
        matches!(self, Numerics::Lightgbm { .. })
    }
}

/// When the base margin joins the sum of the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BaseOrder {
    /// The sum starts at the base margin and adds trees in order (XGBoost 1.3 and later).
    First,
    /// Trees are summed from zero and the base margin is added last (XGBoost 1.0 to 1.2).
    Last,
}

/// How tree outputs combine into a margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Aggregation {
    /// Tree outputs are added (boosting).
    Sum,
    /// Tree outputs are added; the transform is applied to that sum divided by the number of
    /// trees per output (forests). The reported margin is the undivided sum, as LightGBM's raw
    /// score is.
    Mean,
}

/// The framework a model was compiled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framework {
    /// Not recorded.
    Unknown,
    /// XGBoost.
    Xgboost,
    /// LightGBM.
    Lightgbm,
    /// Trained by Lockstep itself.
    Lockstep,
}

/// Where a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source<'a> {
    /// The source framework.
    pub framework: Framework,
    /// The framework's version string as recorded in the source model (may be empty).
    pub version: &'a str,
}

/// The postcard-encoded body of a version 1 model. Byte-string fields are tables read in place;
/// their record layouts are documented at the top of this module. Read through [`crate::Model`],
/// written through the builder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelBody<'a> {
    /// Number of input features.
    pub(crate) n_features: u16,
    /// Number of outputs (1 for binary and regression, K for K classes).
    pub(crate) n_outputs: u16,
    /// Declared maximum tree depth (edges from root to deepest leaf); checked at load.
    pub(crate) max_depth: u16,
    /// What the outputs mean.
    pub(crate) objective: Objective,
    /// Which arithmetic evaluates the model.
    pub(crate) numerics: Numerics,
    /// When the base margin is added.
    pub(crate) base_order: BaseOrder,
    /// How tree outputs combine.
    pub(crate) aggregation: Aggregation,
    /// One f64 per output (little-endian); exactly an f32 in f32 models.
    #[serde(borrow)]
    pub(crate) base_margins: &'a [u8],
    /// Tree records.
    #[serde(borrow)]
    pub(crate) trees: &'a [u8],
    /// Node records.
    #[serde(borrow)]
    pub(crate) nodes: &'a [u8],
    /// f64 leaf values (little-endian) referenced by leaves of f64 models; empty otherwise.
    #[serde(borrow)]
    pub(crate) leaf_values: &'a [u8],
    /// Category set records.
    #[serde(borrow)]
    pub(crate) category_sets: &'a [u8],
    /// u32 bitset words (little-endian); bit `c % 32` of word `c / 32` is category `c`.
    #[serde(borrow)]
    pub(crate) category_words: &'a [u8],
    /// `n_features` postcard strings, back to back.
    #[serde(borrow)]
    pub(crate) feature_names: &'a [u8],
    /// Empty, or one range record per feature.
    #[serde(borrow)]
    pub(crate) feature_ranges: &'a [u8],
    /// Where the model came from.
    #[serde(borrow)]
    pub(crate) source: Source<'a>,
    /// A free-text label (for example the outcome the model predicts).
    pub(crate) label: &'a str,
    /// Optional sections.
    #[serde(borrow)]
    pub(crate) sections: &'a [u8],
}

/// The postcard-encoded body of a version 2 model (layout in the module docs). Written by the
/// builder; the loader turns it into a [`ModelBody`] plus its [`CompactTables`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelBodyV2<'a> {
    pub(crate) n_features: u16,
    pub(crate) n_outputs: u16,
    pub(crate) max_depth: u16,
    pub(crate) objective: Objective,
    pub(crate) numerics: Numerics,
    pub(crate) base_order: BaseOrder,
    pub(crate) aggregation: Aggregation,
    #[serde(borrow)]
    pub(crate) base_margins: &'a [u8],
    /// Compact tree records.
    #[serde(borrow)]
    pub(crate) trees: &'a [u8],
    /// Compact node records.
    #[serde(borrow)]
    pub(crate) nodes: &'a [u8],
    /// f64 leaves of f64 models; empty otherwise.
    #[serde(borrow)]
    pub(crate) leaf_values: &'a [u8],
    /// One u16 per feature: the start of its run of split values.
    #[serde(borrow)]
    pub(crate) value_starts: &'a [u8],
    /// u32 split values.
    #[serde(borrow)]
    pub(crate) split_values: &'a [u8],
    #[serde(borrow)]
    pub(crate) category_sets: &'a [u8],
    #[serde(borrow)]
    pub(crate) category_words: &'a [u8],
    #[serde(borrow)]
    pub(crate) feature_names: &'a [u8],
    #[serde(borrow)]
    pub(crate) feature_ranges: &'a [u8],
    #[serde(borrow)]
    pub(crate) source: Source<'a>,
    pub(crate) label: &'a str,
    #[serde(borrow)]
    pub(crate) sections: &'a [u8],
}

/// The tree tables of a version 2 model (all empty in a version 1 model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CompactTables<'a> {
    /// Compact tree records.
    pub(crate) trees: &'a [u8],
    /// Compact node records.
    pub(crate) nodes: &'a [u8],
    /// One u16 per feature.
    pub(crate) value_starts: &'a [u8],
    /// u32 split values.
    pub(crate) split_values: &'a [u8],
}

impl<'a> ModelBodyV2<'a> {
    /// The shared fields as a [`ModelBody`] (its `trees` and `nodes` empty) and the compact
    /// tables.
    pub(crate) fn split_off(self) -> (ModelBody<'a>, CompactTables<'a>) {
        let body = ModelBody {
            n_features: self.n_features,
            n_outputs: self.n_outputs,
            max_depth: self.max_depth,
            objective: self.objective,
            numerics: self.numerics,
            base_order: self.base_order,
            aggregation: self.aggregation,
            base_margins: self.base_margins,
            trees: &[],
            nodes: &[],
            leaf_values: self.leaf_values,
            category_sets: self.category_sets,
            category_words: self.category_words,
            feature_names: self.feature_names,
            feature_ranges: self.feature_ranges,
            source: self.source,
            label: self.label,
            sections: self.sections,
        };
        let tables = CompactTables {
            trees: self.trees,
            nodes: self.nodes,
            value_starts: self.value_starts,
            split_values: self.split_values,
        };
        (body, tables)
    }
}

/// Split flags bit 0: missing values go left.
const SPLIT_DEFAULT_LEFT: u8 = 1;
/// Split flags bits 1..=2: missing mode.
const SPLIT_MISSING_SHIFT: u8 = 1;
/// Split flags bit 3: categorical.
const SPLIT_CATEGORICAL: u8 = 1 << 3;
/// Split flags bit 4: the left child is a leaf.
const SPLIT_LEFT_LEAF: u8 = 1 << 4;
/// Split flags bit 5: the right child is a leaf.
const SPLIT_RIGHT_LEAF: u8 = 1 << 5;
/// Split flags bits 6..=7: reserved, zero.
const SPLIT_RESERVED: u8 = 0b1100_0000;
/// The flag bits a split test reads (default-left, missing mode, categorical).
const SPLIT_TEST_BITS: u8 = 0b1111;
/// Shift from those flag bits to version 1's meta bits.
const SPLIT_TO_META: u16 = 12;
// The test bits sit where version 1's meta has them, shifted: one decoder serves both.
const _: () = assert!(
    (SPLIT_DEFAULT_LEFT as u16) << SPLIT_TO_META == META_DEFAULT_LEFT
        && (0b11u16 << SPLIT_MISSING_SHIFT) << SPLIT_TO_META == META_MISSING_MASK
        && (SPLIT_CATEGORICAL as u16) << SPLIT_TO_META == META_CATEGORICAL
        && SPLIT_DEFAULT_LEFT | SPLIT_CATEGORICAL | 0b11 << SPLIT_MISSING_SHIFT == SPLIT_TEST_BITS
);

/// One version 2 split record (4 bytes, layout in the module docs): the one encoder and
/// decoder of that layout. As with [`Node`], decoding never fails; the loader's checks make the
/// fields meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// Feature index.
    pub(crate) feature: u8,
    /// Index into the feature's run of split values.
    pub(crate) code: u8,
    /// Flag bits.
    pub(crate) flags: u8,
    /// Left child index minus this node's index.
    pub(crate) offset: u8,
}

impl Split {
    /// A split record from its parts.
    #[cfg(any(feature = "build", test))]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        feature: u8,
        code: u8,
        offset: u8,
        missing: MissingMode,
        default_left: bool,
        categorical: bool,
        left_leaf: bool,
        right_leaf: bool,
    ) -> Split {
        let mut flags = (missing.bits() as u8) << SPLIT_MISSING_SHIFT;
        for (set, bit) in [
            (default_left, SPLIT_DEFAULT_LEFT),
            (categorical, SPLIT_CATEGORICAL),
            (left_leaf, SPLIT_LEFT_LEAF),
            (right_leaf, SPLIT_RIGHT_LEAF),
        ] {
            if set {
                flags |= bit;
            }
        }
        Split {
            feature,
            code,
            flags,
            offset,
        }
    }

    /// Decodes a record.
    #[inline(always)]
    pub(crate) const fn decode(record: &[u8; SPLIT_BYTES]) -> Split {
        let [feature, code, flags, offset] = *record;
        Split {
            feature,
            code,
            flags,
            offset,
        }
    }

    /// Encodes the record.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn encode(self) -> [u8; SPLIT_BYTES] {
        [self.feature, self.code, self.flags, self.offset]
    }

    /// Whether the child on side `right` (false: left) is a leaf.
    #[inline(always)]
    pub(crate) const fn child_is_leaf(self, right: bool) -> bool {
        let bit = if right {
            SPLIT_RIGHT_LEAF
        } else {
            SPLIT_LEFT_LEAF
        };
        self.flags & bit != 0
    }

    /// Whether reserved flag bits are set.
    #[inline(always)]
    pub(crate) const fn has_reserved_bits(self) -> bool {
        self.flags & SPLIT_RESERVED != 0
    }

    /// Whether the split sends missing values left.
    #[inline(always)]
    pub(crate) const fn default_left(self) -> bool {
        self.flags & SPLIT_DEFAULT_LEFT != 0
    }

    /// The child on side `right` of this split, which sits at node `index`: `(is_leaf,
    /// child index)`.
    #[inline(always)]
    pub(crate) const fn child(self, index: usize, right: bool) -> (bool, usize) {
        (
            self.child_is_leaf(right),
            index + self.offset as usize + right as usize,
        )
    }

    /// The split as a version 1 [`Node`] carrying `value` (its threshold bits or set index):
    /// the one form the split tests read. Its child field is meaningless.
    #[inline(always)]
    pub(crate) const fn as_node(self, value: u32) -> Node {
        // default-left (bit 0) to meta bit 12, mode (bits 1..=2) to 13..=14, categorical
        // (bit 3) to 15: the four low flag bits keep their order, shifted by SPLIT_TO_META.
        let meta = self.feature as u16 | ((self.flags & SPLIT_TEST_BITS) as u16) << SPLIT_TO_META;
        Node {
            value,
            meta,
            left: 1,
        }
    }
}

/// One version 2 tree record (4 bytes): `n_nodes u16`, `output u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CompactTreeRecord {
    /// Number of nodes (odd: one more leaf than splits).
    pub(crate) n_nodes: u16,
    /// The output the tree adds to.
    pub(crate) output: u16,
}

impl CompactTreeRecord {
    /// Decodes a record.
    #[inline(always)]
    pub(crate) const fn decode(record: &[u8; COMPACT_TREE_BYTES]) -> CompactTreeRecord {
        let [a, b, c, d] = *record;
        CompactTreeRecord {
            n_nodes: u16::from_le_bytes([a, b]),
            output: u16::from_le_bytes([c, d]),
        }
    }

    /// Encodes the record.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn encode(self) -> [u8; COMPACT_TREE_BYTES] {
        let [a, b] = self.n_nodes.to_le_bytes();
        let [c, d] = self.output.to_le_bytes();
        [a, b, c, d]
    }
}

/// Which nodes of a version 2 tree are leaves, read off their parents' flags: a fixed bitmap
/// (64 bytes) over the at most 511 nodes of a tree with at most 256 leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeafMap([u64; 8]);

impl LeafMap {
    /// Most nodes the map covers.
    pub(crate) const CAPACITY: usize = 512;

    /// The kinds of `nodes`, assuming the layout the loader checks (each node's kind comes
    /// from its parent, the k-th split's children at 2k+1 and 2k+2); nodes past
    /// [`LeafMap::CAPACITY`] or never named by a parent count as splits.
    pub(crate) fn of(nodes: &[[u8; SPLIT_BYTES]]) -> LeafMap {
        let mut map = LeafMap([0; 8]);
        map.set(0, nodes.len() == 1);
        let mut n_splits = 0usize;
        for (index, record) in nodes.iter().enumerate().take(Self::CAPACITY) {
            if map.is_leaf(index) {
                continue;
            }
            let split = Split::decode(record);
            map.set(2 * n_splits + 1, split.child_is_leaf(false));
            map.set(2 * n_splits + 2, split.child_is_leaf(true));
            n_splits += 1;
        }
        map
    }

    /// Whether node `index` is a leaf.
    #[inline(always)]
    pub(crate) fn is_leaf(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|word| (word >> (index % 64)) & 1 == 1)
    }

    /// Marks node `index` a leaf or a split (ignored past the capacity).
    pub(crate) fn set(&mut self, index: usize, leaf: bool) {
        if let Some(word) = self.0.get_mut(index / 64) {
            let bit = 1u64 << (index % 64);
            if leaf {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }
}

/// Meta bits 0..=11: feature index.
const META_FEATURE_MASK: u16 = 0x0fff;
/// Meta bit 12: missing values go left (when the missing mode sends them to a default side).
const META_DEFAULT_LEFT: u16 = 1 << 12;
/// Meta bits 13..=14: missing mode ([`MissingMode`]), shifted by [`META_MISSING_SHIFT`].
const META_MISSING_MASK: u16 = 0b11 << META_MISSING_SHIFT;
/// Shift of the missing mode in the meta field.
const META_MISSING_SHIFT: u16 = 13;
/// Meta bit 15: the split is categorical.
const META_CATEGORICAL: u16 = 1 << 15;

/// One node record (8 bytes, layout in the module docs): the one encoder and decoder of the
/// node layout. Decoding never fails and gives raw fields; only the loader's checks make them
/// meaningful (a feature below `n_features`, children inside the tree, a known missing mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    /// Split: f32 bits of the threshold, or a category set index. Leaf: f32 bits of the leaf,
    /// or an index into the f64 leaf table.
    pub(crate) value: u32,
    /// Feature index, default-left, missing mode and categorical bits; 0 for leaves.
    pub(crate) meta: u16,
    /// Index of the left child within the tree (the right is `left + 1`); 0 for leaves.
    left: u16,
}

impl Node {
    /// A leaf with the given value field.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn leaf(value: u32) -> Node {
        Node {
            value,
            meta: 0,
            left: 0,
        }
    }

    /// A split node. A feature index too large for its 12 bits is stored as the largest one,
    /// so that the loader reports it rather than a wrapped index being read.
    #[cfg(any(feature = "build", test))]
    pub(crate) fn split(
        value: u32,
        feature: usize,
        missing: MissingMode,
        default_left: bool,
        categorical: bool,
        left: u16,
    ) -> Node {
        let feature = feature.min(usize::from(META_FEATURE_MASK)) as u16;
        let mut meta = feature | (missing.bits() << META_MISSING_SHIFT);
        if default_left {
            meta |= META_DEFAULT_LEFT;
        }
        if categorical {
            meta |= META_CATEGORICAL;
        }
        Node { value, meta, left }
    }

    /// Decodes a record.
    #[inline(always)]
    pub(crate) const fn decode(record: &[u8; NODE_BYTES]) -> Node {
        // One load per node: value in bits 0..32, meta in 32..48, left child in 48..64.
        let raw = u64::from_le_bytes(*record);
        Node {
            value: raw as u32,
            meta: (raw >> 32) as u16,
            left: (raw >> 48) as u16,
        }
    }

    /// Encodes the record.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn encode(self) -> [u8; NODE_BYTES] {
        let raw = self.value as u64 | (self.meta as u64) << 32 | (self.left as u64) << 48;
        raw.to_le_bytes()
    }

    /// Whether the node is a leaf.
    #[inline(always)]
    pub(crate) const fn is_leaf(self) -> bool {
        self.left == 0
    }

    /// Index of the left child within the tree (0 for a leaf).
    #[inline(always)]
    pub(crate) const fn left(self) -> usize {
        self.left as usize
    }

    /// The feature a split reads.
    #[inline(always)]
    pub(crate) const fn feature(self) -> usize {
        (self.meta & META_FEATURE_MASK) as usize
    }

    /// Whether missing values go left (for modes with a default side).
    #[inline(always)]
    pub(crate) const fn default_left(self) -> bool {
        self.meta & META_DEFAULT_LEFT != 0
    }

    /// Whether the split is categorical.
    #[inline(always)]
    pub(crate) const fn is_categorical(self) -> bool {
        self.meta & META_CATEGORICAL != 0
    }

    /// The split's missing mode; `None` for the reserved bits value.
    #[inline(always)]
    pub(crate) const fn missing_mode(self) -> Option<MissingMode> {
        MissingMode::from_bits((self.meta & META_MISSING_MASK) >> META_MISSING_SHIFT)
    }

    /// Whether the split is the common kind: numeric, NaN to the default side.
    #[inline(always)]
    pub(crate) const fn is_plain_numeric(self) -> bool {
        self.meta & (META_CATEGORICAL | META_MISSING_MASK) == 0
    }

    /// Whether the plain numeric test (`x < t`, NaN to the default side) decides this split
    /// exactly: a plain numeric split, or a numeric LightGBM NaN-as-zero split whose default
    /// side is the one zero takes (NaN becomes 0, which goes left exactly when `0 < t`).
    /// LightGBM writes that side for splits on non-negative thresholds, so most models of
    /// clinical features take the numeric walk.
    #[inline]
    pub(crate) fn walks_as_plain_numeric(self) -> bool {
        self.is_plain_numeric()
            || (!self.is_categorical()
                && matches!(self.missing_mode(), Some(MissingMode::NanAsZero))
                && self.default_left() == (0.0 < f32::from_bits(self.value)))
    }
}

/// One tree record (8 bytes): `node_start u32`, `n_nodes u16`, `output u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TreeRecord {
    /// Index of the tree's first node in the node table.
    pub(crate) node_start: u32,
    /// Number of nodes.
    pub(crate) n_nodes: u16,
    /// The output the tree adds to.
    pub(crate) output: u16,
}

impl TreeRecord {
    /// Decodes a record.
    #[inline(always)]
    pub(crate) const fn decode(record: &[u8; TREE_BYTES]) -> TreeRecord {
        let [a, b, c, d, e, f, g, h] = *record;
        TreeRecord {
            node_start: u32::from_le_bytes([a, b, c, d]),
            n_nodes: u16::from_le_bytes([e, f]),
            output: u16::from_le_bytes([g, h]),
        }
    }

    /// Encodes the record.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn encode(self) -> [u8; TREE_BYTES] {
        let [a, b, c, d] = self.node_start.to_le_bytes();
        let [e, f] = self.n_nodes.to_le_bytes();
        let [g, h] = self.output.to_le_bytes();
        [a, b, c, d, e, f, g, h]
    }
}

/// One category set record (8 bytes): `word_start u32`, `n_words u32`, a run of the word
/// table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CategorySetRecord {
    /// Index of the set's first word in the word table.
    pub(crate) word_start: u32,
    /// Number of words.
    pub(crate) n_words: u32,
}

impl CategorySetRecord {
    /// Decodes a record.
    #[inline(always)]
    pub(crate) const fn decode(record: &[u8; CATEGORY_SET_BYTES]) -> CategorySetRecord {
        let [a, b, c, d, e, f, g, h] = *record;
        CategorySetRecord {
            word_start: u32::from_le_bytes([a, b, c, d]),
            n_words: u32::from_le_bytes([e, f, g, h]),
        }
    }

    /// Encodes the record.
    #[cfg(any(feature = "build", test))]
    pub(crate) const fn encode(self) -> [u8; CATEGORY_SET_BYTES] {
        let [a, b, c, d] = self.word_start.to_le_bytes();
        let [e, f, g, h] = self.n_words.to_le_bytes();
        [a, b, c, d, e, f, g, h]
    }
}

/// The `index`-th `N`-byte record of `table`, or `None` past the end (or if the offset would
/// overflow).
#[inline(always)]
pub(crate) fn record<const N: usize>(table: &[u8], index: usize) -> Option<&[u8; N]> {
    table.get(index.checked_mul(N)?..)?.first_chunk::<N>()
}

/// The `index`-th little-endian f64 of `table`, or `None` past the end.
#[inline(always)]
pub(crate) fn f64_at(table: &[u8], index: usize) -> Option<f64> {
    record::<8>(table, index).map(|bytes| f64::from_le_bytes(*bytes))
}

/// The f32 threshold `t` such that, for every f32 `x` that is not NaN,
/// `(x as f64) <= threshold` holds exactly when `x < t`.
///
/// `t` is the next f32 above the largest f32 not exceeding `threshold`. Returns `None` for NaN
/// and `+inf`, which no strict f32 comparison can express (`x <= inf` holds for `x = inf`).
pub fn lt_threshold_for_le_f64(threshold: f64) -> Option<f32> {
    if threshold.is_nan() || threshold == f64::INFINITY {
        return None;
    }
    // Round to nearest, then step down once if that went above: the largest f32 <= threshold.
    let mut below = threshold as f32;
    if f64::from(below) > threshold {
        below = next_f32_down(below);
    }
    Some(next_f32_up(below))
}

/// The least f32 greater than `x` (`x` not NaN, not `+inf`).
pub const fn next_f32_up(x: f32) -> f32 {
    let bits = x.to_bits();
    if bits & 0x7fff_ffff == 0 {
        // Both zeros step to the smallest positive subnormal.
        f32::from_bits(1)
    } else if bits & 0x8000_0000 == 0 {
        f32::from_bits(bits + 1)
    } else {
        f32::from_bits(bits - 1)
    }
}

/// The greatest f32 less than `x` (`x` not NaN, not `-inf`).
pub const fn next_f32_down(x: f32) -> f32 {
    let bits = x.to_bits();
    if bits & 0x7fff_ffff == 0 {
        f32::from_bits(0x8000_0001)
    } else if bits & 0x8000_0000 == 0 {
        f32::from_bits(bits - 1)
    } else {
        f32::from_bits(bits + 1)
    }
}

/// Reads a little-endian u32 at `offset` of `bytes`, or 0 past the end (callers validate first).
#[inline(always)]
pub(crate) fn le_u32(bytes: &[u8], offset: usize) -> u32 {
    match bytes.get(offset..offset.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Reads a little-endian u16 at `offset` of `bytes`, or 0 past the end.
#[inline(always)]
pub(crate) fn le_u16(bytes: &[u8], offset: usize) -> u16 {
    match bytes.get(offset..offset.wrapping_add(2)) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a little-endian f64 at `offset` of `bytes`, or NaN past the end.
#[inline(always)]
pub(crate) fn le_f64(bytes: &[u8], offset: usize) -> f64 {
    match bytes.get(offset..offset.wrapping_add(8)) {
        Some(&[a, b, c, d, e, f, g, h]) => f64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees_on(threshold: f64, x: f32) -> bool {
        let t = lt_threshold_for_le_f64(threshold).unwrap_or(f32::NAN);
        (f64::from(x) <= threshold) == (x < t)
    }

    #[test]
    fn strict_threshold_matches_near_f64_thresholds() {
        let thresholds = [
            0.0,
            -0.0,
            1.0,
            0.1,
            -0.1,
            1e-300,
            -1e-300,
            1e-40,
            3.4028234663852886e38,
            3.5e38,
            -3.5e38,
            1e300,
            -1e300,
            f64::NEG_INFINITY,
            0.30000000000000004,
            16777217.0,
        ];
        for &threshold in &thresholds {
            let center = threshold as f32;
            let mut x = center;
            for _ in 0..64 {
                if x == f32::NEG_INFINITY {
                    break;
                }
                x = next_f32_down(x);
            }
            for _ in 0..129 {
                assert!(agrees_on(threshold, x), "threshold {threshold:e} x {x:e}");
                if x == f32::INFINITY {
                    break;
                }
                x = next_f32_up(x);
            }
            for x in [
                f32::INFINITY,
                f32::NEG_INFINITY,
                0.0,
                -0.0,
                f32::MAX,
                f32::MIN,
            ] {
                assert!(agrees_on(threshold, x), "threshold {threshold:e} x {x:e}");
            }
        }
    }

    #[test]
    fn node_fields_sit_where_the_layout_says() {
        let node = Node::split(
            0.5f32.to_bits(),
            0x0abc,
            MissingMode::NanAsZero,
            true,
            true,
            7,
        );
        // value LE, then meta = feature | default-left (bit 12) | mode 2 (bits 13..=14) |
        // categorical (bit 15), then left LE.
        let meta: u16 = 0x0abc | 1 << 12 | 2 << 13 | 1 << 15;
        let [m0, m1] = meta.to_le_bytes();
        assert_eq!(node.encode(), [0x00, 0x00, 0x00, 0x3f, m0, m1, 7, 0]);
        let decoded = Node::decode(&node.encode());
        assert_eq!(decoded, node);
        assert_eq!(decoded.feature(), 0x0abc);
        assert!(decoded.default_left() && decoded.is_categorical() && !decoded.is_leaf());
        assert!(!decoded.is_plain_numeric());
        assert_eq!(decoded.missing_mode(), Some(MissingMode::NanAsZero));
        assert_eq!(decoded.left(), 7);
    }

    #[test]
    fn node_codec_round_trips_every_mode_and_flag() {
        for mode in [
            MissingMode::NanDefault,
            MissingMode::ZeroOrNanDefault,
            MissingMode::NanAsZero,
        ] {
            for (default_left, categorical) in [(false, false), (true, false), (false, true)] {
                let node = Node::split(u32::MAX, 4095, mode, default_left, categorical, 65535);
                let decoded = Node::decode(&node.encode());
                assert_eq!(decoded, node);
                assert_eq!(decoded.missing_mode(), Some(mode));
                assert_eq!(decoded.default_left(), default_left);
                assert_eq!(decoded.is_categorical(), categorical);
                assert_eq!(
                    decoded.is_plain_numeric(),
                    mode == MissingMode::NanDefault && !categorical
                );
            }
        }
        let leaf = Node::leaf(0xdead_beef);
        assert_eq!(leaf.encode(), [0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0]);
        assert!(Node::decode(&leaf.encode()).is_leaf());
    }

    #[test]
    fn oversized_feature_index_saturates_and_reserved_mode_decodes_as_none() {
        let node = Node::split(0, 70_000, MissingMode::NanDefault, false, false, 1);
        assert_eq!(node.feature(), 4095);
        let mut bytes = node.encode();
        bytes[5] |= 0b0110_0000; // missing mode 3
        assert_eq!(Node::decode(&bytes).missing_mode(), None);
    }

    #[test]
    fn tree_and_category_set_records_round_trip() {
        let tree = TreeRecord {
            node_start: 0x0102_0304,
            n_nodes: 0x0506,
            output: 0x0708,
        };
        assert_eq!(tree.encode(), [4, 3, 2, 1, 6, 5, 8, 7]);
        assert_eq!(TreeRecord::decode(&tree.encode()), tree);
        let set = CategorySetRecord {
            word_start: 9,
            n_words: 0x0a0b_0c0d,
        };
        assert_eq!(set.encode(), [9, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a]);
        assert_eq!(CategorySetRecord::decode(&set.encode()), set);
    }

    #[test]
    fn version_2_split_fields_sit_where_the_layout_says() {
        let split = Split::new(7, 3, 5, MissingMode::NanAsZero, true, true, false, true);
        // feature, code, flags = default-left | mode 2 << 1 | categorical | right leaf, offset.
        assert_eq!(split.encode(), [7, 3, 1 | 2 << 1 | 1 << 3 | 1 << 5, 5]);
        assert_eq!(Split::decode(&split.encode()), split);
        assert_eq!(
            (split.child(4, false), split.child(4, true)),
            ((false, 9), (true, 10))
        );
        // The test bits read as version 1's meta bits.
        let node = split.as_node(0x1234);
        let v1 = Node::split(0x1234, 7, MissingMode::NanAsZero, true, true, 1);
        assert_eq!((node.value, node.meta), (v1.value, v1.meta));
        assert!(!split.has_reserved_bits() && split.default_left());
        let tree = CompactTreeRecord {
            n_nodes: 0x0102,
            output: 3,
        };
        assert_eq!(tree.encode(), [2, 1, 3, 0]);
        assert_eq!(CompactTreeRecord::decode(&tree.encode()), tree);
    }

    #[test]
    fn leaf_map_reads_kinds_off_the_parents() {
        // Root splits into a split (node 1) and a leaf (node 2); node 1 into two leaves.
        let root = Split::new(0, 0, 1, MissingMode::NanDefault, false, false, false, true);
        let inner = Split::new(0, 0, 2, MissingMode::NanDefault, false, false, true, true);
        let leaf = [0u8; 4];
        let map = LeafMap::of(&[root.encode(), inner.encode(), leaf, leaf, leaf]);
        let kinds: Vec<bool> = (0..5).map(|i| map.is_leaf(i)).collect();
        assert_eq!(kinds, [false, false, true, true, true]);
        assert!(LeafMap::of(&[leaf]).is_leaf(0));
    }

    #[test]
    fn records_past_the_end_are_none() {
        let table = [0u8; 20];
        assert!(record::<8>(&table, 1).is_some());
        assert!(record::<8>(&table, 2).is_none());
        assert!(record::<8>(&table, usize::MAX).is_none());
        assert_eq!(f64_at(&table, usize::MAX), None);
    }

    #[test]
    fn refuses_nan_and_positive_infinity() {
        assert_eq!(lt_threshold_for_le_f64(f64::NAN), None);
        assert_eq!(lt_threshold_for_le_f64(f64::INFINITY), None);
    }

    #[test]
    fn steps_cross_zero_and_subnormals() {
        assert_eq!(next_f32_up(0.0).to_bits(), 1);
        assert_eq!(next_f32_up(-0.0).to_bits(), 1);
        assert_eq!(next_f32_down(0.0).to_bits(), 0x8000_0001);
        assert_eq!(
            next_f32_up(f32::from_bits(0x8000_0001)).to_bits(),
            0x8000_0000
        );
        assert_eq!(next_f32_up(f32::MAX), f32::INFINITY);
        assert_eq!(next_f32_down(f32::MIN), f32::NEG_INFINITY);
    }
}

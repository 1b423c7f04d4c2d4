//! The one writer of the format (feature `build`): turns an owned, framework-neutral
//! description of a model into validated bytes. Importers and the trainer describe trees with
//! arbitrary node numbering; this module lays them out breadth-first, packs the tables, and
//! proves the result by loading it back through [`Model::from_bytes`].

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::format::{
    limits, Aggregation, BaseOrder, CategorySetRecord, CompactTreeRecord, Framework, MissingMode,
    ModelBody, ModelBodyV2, Node, Numerics, Objective, Source, Split, TreeRecord,
    CATEGORY_SET_BYTES, COMPACT_MAX_FEATURES, COMPACT_MAX_TREE_LEAVES,
    COMPACT_MAX_VALUES_PER_FEATURE, FORMAT_VERSION, FORMAT_VERSION_1, FORMAT_VERSION_2,
    LINEAR_TERM_BYTES, MAGIC,
};
use crate::{Error, Model};

/// A split's test.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Go left when `x < threshold`.
    Less(f32),
    /// Go to the members' side (see [`Numerics`]) when the truncated value is in the set.
    Categories(Vec<u32>),
}

/// One node of a tree being built; children are indices into the same tree's node list.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeSpec {
    /// A terminal node.
    Leaf {
        /// The leaf's value (exactly an f32 in f32 models).
        value: f64,
    },
    /// An internal node.
    Split {
        /// Feature index.
        feature: usize,
        /// The test.
        condition: Condition,
        /// How missing values are treated.
        missing: MissingMode,
        /// Whether missing values go left (for modes with a default side).
        default_left: bool,
        /// Index of the left child.
        left: usize,
        /// Index of the right child.
        right: usize,
    },
}

/// One tree being built. `nodes[0]` is the root.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeSpec {
    /// The output (class) this tree adds to.
    pub output: usize,
    /// Nodes in any order, root first.
    pub nodes: Vec<NodeSpec>,
}

/// An owned, framework-neutral description of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Number of outputs.
    pub n_outputs: usize,
    /// What the outputs mean.
    pub objective: Objective,
    /// Which arithmetic evaluates the model.
    pub numerics: Numerics,
    /// When the base margin is added.
    pub base_order: BaseOrder,
    /// How tree outputs combine.
    pub aggregation: Aggregation,
    /// One base margin per output.
    pub base_margins: Vec<f64>,
    /// One name per feature; their count is the feature count.
    pub feature_names: Vec<String>,
    /// Optional valid range `(low, high)` per feature.
    pub feature_ranges: Option<Vec<(f32, f32)>>,
    /// Trees in evaluation order.
    pub trees: Vec<TreeSpec>,
    /// Source framework.
    pub source_framework: Framework,
    /// Source framework version.
    pub source_version: String,
    /// Free-text label.
    pub label: String,
    /// Optional sections `(tag, payload)`.
    pub sections: Vec<(u32, Vec<u8>)>,
}

/// Why a [`ModelSpec`] could not be written.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum BuildError {
    /// A tree's node graph is not a tree rooted at node 0 (cycle, shared child, dangling or
    /// unreachable node).
    NotATree {
        /// Index of the tree.
        tree: usize,
    },
    /// A tree has more nodes than the format's 16-bit indices allow.
    TreeTooLarge {
        /// Index of the tree.
        tree: usize,
    },
    /// A leaf value is not finite, or is not exactly an f32 in an f32 model.
    LeafNotRepresentable {
        /// Index of the tree.
        tree: usize,
        /// The value.
        value: f64,
    },
    /// A category is too large to hold in a bitset.
    CategoryTooLarge {
        /// The category.
        category: u32,
    },
    /// The assembled bytes were rejected by the loader (a limit or invariant).
    Invalid(Error),
    /// Two features carry the same name, so a caller matching columns by name would feed one
    /// column to both.
    DuplicateFeatureName {
        /// The repeated name.
        name: String,
        /// The first feature with that name.
        first: usize,
        /// The later feature with that name.
        second: usize,
    },
    /// postcard could not encode the body.
    Encode,
    /// The model does not fit the format version asked for (version 2's limits are in
    /// [`crate::format`]), or that version is not one this engine writes.
    ExceedsVersion,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NotATree { tree } => {
                write!(
                    f,
                    "tree {tree} is not a proper binary tree rooted at node 0"
                )
            }
            BuildError::TreeTooLarge { tree } => write!(
                f,
                "tree {tree} has more than {} nodes, the most the format indexes",
                limits::MAX_TREE_NODES
            ),
            BuildError::LeafNotRepresentable { tree, value } => {
                write!(f, "tree {tree} has leaf value {value:e} that this model's precision cannot hold exactly")
            }
            BuildError::CategoryTooLarge { category } => {
                write!(f, "category {category} is too large for a category bitset")
            }
            BuildError::Invalid(error) => write!(f, "the compiled model is invalid: {error}"),
            BuildError::DuplicateFeatureName {
                name,
                first,
                second,
            } => {
                f.write_str("feature name \"")?;
                for c in name.chars().take(80).flat_map(char::escape_debug) {
                    write!(f, "{c}")?;
                }
                if name.chars().count() > 80 {
                    f.write_str("...")?;
                }
                write!(
                    f,
                    "\" is used by features {first} and {second}; every feature needs its own name"
                )
            }
            BuildError::Encode => f.write_str("could not encode the model body"),
            BuildError::ExceedsVersion => {
                f.write_str("the model does not fit the requested format version")
            }
        }
    }
}

/// The linear-terms section `(tag, payload)` for one `(coefficient, fill)` pair per feature
/// (see [`crate::format::SECTION_LINEAR`]); push it onto [`ModelSpec::sections`].
pub fn linear_section(terms: &[(f64, f64)]) -> (u32, Vec<u8>) {
    let mut payload = Vec::with_capacity(terms.len() * LINEAR_TERM_BYTES);
    for (coefficient, fill) in terms {
        payload.extend_from_slice(&coefficient.to_le_bytes());
        payload.extend_from_slice(&fill.to_le_bytes());
    }
    (crate::format::SECTION_LINEAR, payload)
}

/// One feature's per-level linear term, for [`level_terms_section`].
#[derive(Debug, Clone, PartialEq)]
pub struct LevelTermSpec {
    /// The feature index.
    pub feature: usize,
    /// The term when the input is missing or equals no listed code.
    pub fill: f64,
    /// `(code, coefficient)` for every level, codes strictly increasing; the reference level
    /// is listed with coefficient 0.
    pub levels: Vec<(f32, f64)>,
}

/// The level-terms section `(tag, payload)` (see [`crate::format::SECTION_LEVEL_TERMS`]) for
/// `terms`, in increasing feature order; push it onto [`ModelSpec::sections`]. Out-of-range
/// features or counts are written saturated, and the loader then refuses the model.
pub fn level_terms_section(terms: &[LevelTermSpec]) -> (u32, Vec<u8>) {
    let mut payload = Vec::new();
    for term in terms {
        payload.extend_from_slice(&saturate_u16(term.feature).to_le_bytes());
        payload.extend_from_slice(&saturate_u16(term.levels.len()).to_le_bytes());
        payload.extend_from_slice(&term.fill.to_le_bytes());
        for (code, coefficient) in &term.levels {
            payload.extend_from_slice(&code.to_bits().to_le_bytes());
            payload.extend_from_slice(&coefficient.to_le_bytes());
        }
    }
    (crate::format::SECTION_LEVEL_TERMS, payload)
}

/// Largest category a bitset may hold (2^24, XGBoost's own bound).
pub const MAX_CATEGORY: u32 = 1 << 24;

/// One node of a tree laid out in breadth-first order: what both versions store.
enum Laid {
    /// A leaf and its value.
    Leaf(f64),
    /// A split: feature, value field (threshold bits or category set index), categorical,
    /// missing mode, default-left, and whether its left and right children are leaves.
    Split {
        feature: usize,
        value: u32,
        categorical: bool,
        missing: MissingMode,
        default_left: bool,
        left_leaf: bool,
        right_leaf: bool,
    },
}

/// The trees of a model laid out breadth-first, with the category set tables they name.
struct LaidOut {
    /// Per tree: its output and its nodes in breadth-first order.
    trees: Vec<(u16, Vec<Laid>)>,
    set_table: Vec<u8>,
    words: Vec<u8>,
    max_depth: u16,
}

impl ModelSpec {
    /// Writes the model's bytes in format version 1 and checks them by loading them back.
    /// Version 1 stays the default: measured, the version 2 walk is slower on hosts and on
    /// Cortex-M (see [`crate::format`]); [`ModelSpec::to_bytes_with_version`] writes version 2
    /// for a model that fits it, when model bytes matter more.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BuildError> {
        self.to_bytes_with_version(FORMAT_VERSION)
    }

    /// Writes the model in format `version` (1 or 2) and checks the bytes by loading them
    /// back. [`BuildError::ExceedsVersion`] when the model does not fit that version (or the
    /// version is not one this engine writes).
    pub fn to_bytes_with_version(&self, version: u16) -> Result<Vec<u8>, BuildError> {
        check_unique_names(&self.feature_names)?;
        let laid = self.lay_out()?;
        let base_margins: Vec<u8> = self
            .base_margins
            .iter()
            .flat_map(|m| m.to_le_bytes())
            .collect();
        let mut names = Vec::new();
        for name in &self.feature_names {
            names.extend(postcard::to_allocvec(name.as_str()).map_err(|_| BuildError::Encode)?);
        }
        let ranges: Vec<u8> = self
            .feature_ranges
            .iter()
            .flatten()
            .flat_map(|(low, high)| {
                low.to_bits()
                    .to_le_bytes()
                    .into_iter()
                    .chain(high.to_bits().to_le_bytes())
            })
            .collect();
        let mut sections = Vec::new();
        for (tag, payload) in &self.sections {
            sections.extend(
                postcard::to_allocvec(&(*tag, payload.as_slice()))
                    .map_err(|_| BuildError::Encode)?,
            );
        }
        let body = ModelBody {
            n_features: saturate_u16(self.feature_names.len()),
            n_outputs: saturate_u16(self.n_outputs),
            max_depth: laid.max_depth,
            objective: self.objective,
            numerics: self.numerics,
            base_order: self.base_order,
            aggregation: self.aggregation,
            base_margins: &base_margins,
            trees: &[],
            nodes: &[],
            leaf_values: &[],
            category_sets: &laid.set_table,
            category_words: &laid.words,
            feature_names: &names,
            feature_ranges: &ranges,
            source: Source {
                framework: self.source_framework,
                version: &self.source_version,
            },
            label: &self.label,
            sections: &sections,
        };
        let encoded = match version {
            FORMAT_VERSION_1 => {
                let (trees, nodes, leaf_values) = self.version_1_tables(&laid);
                let body = ModelBody {
                    trees: &trees,
                    nodes: &nodes,
                    leaf_values: &leaf_values,
                    ..body
                };
                postcard::to_allocvec(&body)
            }
            FORMAT_VERSION_2 => {
                let tables = self.version_2_tables(&laid)?;
                postcard::to_allocvec(&tables.body(&body))
            }
            _ => return Err(BuildError::ExceedsVersion),
        }
        .map_err(|_| BuildError::Encode)?;
        let mut bytes = Vec::with_capacity(encoded.len() + 64);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend(encoded);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        Model::from_bytes(&bytes).map_err(BuildError::Invalid)?;
        Ok(bytes)
    }

    /// Lays every tree out breadth-first, checking leaves and building the category sets (in
    /// breadth-first order of their splits, tree by tree).
    fn lay_out(&self) -> Result<LaidOut, BuildError> {
        let f64_leaves = self.numerics.is_f64();
        let mut laid = LaidOut {
            trees: Vec::with_capacity(self.trees.len()),
            set_table: Vec::new(),
            words: Vec::new(),
            max_depth: 0,
        };
        for (tree_index, tree) in self.trees.iter().enumerate() {
            let order = breadth_first(tree).ok_or(BuildError::NotATree { tree: tree_index })?;
            if order.len() > limits::MAX_TREE_NODES {
                return Err(BuildError::TreeTooLarge { tree: tree_index });
            }
            let is_leaf =
                |index: usize| matches!(tree.nodes.get(index), Some(NodeSpec::Leaf { .. }));
            let mut nodes = Vec::with_capacity(order.len());
            for &(spec_index, depth) in &order {
                laid.max_depth = laid.max_depth.max(depth);
                let node = tree
                    .nodes
                    .get(spec_index)
                    .ok_or(BuildError::NotATree { tree: tree_index })?;
                nodes.push(match node {
                    NodeSpec::Leaf { value } => {
                        let exact =
                            value.is_finite() && (f64_leaves || f64::from(*value as f32) == *value);
                        if !exact {
                            return Err(BuildError::LeafNotRepresentable {
                                tree: tree_index,
                                value: *value,
                            });
                        }
                        Laid::Leaf(*value)
                    }
                    NodeSpec::Split {
                        feature,
                        condition,
                        missing,
                        default_left,
                        left,
                        right,
                    } => {
                        let (value, categorical) = match condition {
                            Condition::Less(threshold) => (threshold.to_bits(), false),
                            Condition::Categories(categories) => {
                                let set_index = (laid.set_table.len() / CATEGORY_SET_BYTES) as u32;
                                let bitset = category_bitset(categories)?;
                                let set = CategorySetRecord {
                                    word_start: (laid.words.len() / 4) as u32,
                                    n_words: bitset.len() as u32,
                                };
                                laid.set_table.extend_from_slice(&set.encode());
                                for word in bitset {
                                    laid.words.extend_from_slice(&word.to_le_bytes());
                                }
                                (set_index, true)
                            }
                        };
                        Laid::Split {
                            feature: *feature,
                            value,
                            categorical,
                            missing: *missing,
                            default_left: *default_left,
                            left_leaf: is_leaf(*left),
                            right_leaf: is_leaf(*right),
                        }
                    }
                });
            }
            laid.trees.push((tree.output as u16, nodes));
        }
        Ok(laid)
    }

    /// Version 1's tree, node and f64 leaf tables.
    fn version_1_tables(&self, laid: &LaidOut) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let f64_leaves = self.numerics.is_f64();
        let (mut tree_table, mut node_table, mut leaf_values) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut node_start: u32 = 0;
        for (output, nodes) in &laid.trees {
            let mut n_splits: usize = 0;
            for node in nodes {
                let record = match *node {
                    Laid::Leaf(value) => {
                        let field = if f64_leaves {
                            leaf_values.extend_from_slice(&value.to_le_bytes());
                            (leaf_values.len() / 8 - 1) as u32
                        } else {
                            (value as f32).to_bits()
                        };
                        Node::leaf(field)
                    }
                    Laid::Split {
                        feature,
                        value,
                        categorical,
                        missing,
                        default_left,
                        ..
                    } => {
                        let left = (2 * n_splits + 1) as u16;
                        n_splits += 1;
                        Node::split(value, feature, missing, default_left, categorical, left)
                    }
                };
                node_table.extend_from_slice(&record.encode());
            }
            let record = TreeRecord {
                node_start,
                n_nodes: nodes.len() as u16,
                output: *output,
            };
            tree_table.extend_from_slice(&record.encode());
            node_start += nodes.len() as u32;
        }
        (tree_table, node_table, leaf_values)
    }

    /// Version 2's tables, or [`BuildError::ExceedsVersion`] if the model does not fit them.
    fn version_2_tables(&self, laid: &LaidOut) -> Result<CompactTableBytes, BuildError> {
        let n_features = self.feature_names.len();
        if n_features > COMPACT_MAX_FEATURES {
            return Err(BuildError::ExceedsVersion);
        }
        // Each feature's distinct split values, in increasing f32 order (category set
        // indices read as f32 are non-negative, so they keep their order).
        let mut runs: Vec<Vec<u32>> = vec![Vec::new(); n_features];
        for (_, nodes) in &laid.trees {
            for node in nodes {
                if let Laid::Split { feature, value, .. } = *node {
                    runs.get_mut(feature)
                        .ok_or(BuildError::ExceedsVersion)?
                        .push(value);
                }
            }
        }
        let mut values: Vec<BTreeMap<u32, u8>> = Vec::with_capacity(n_features);
        let mut out = CompactTableBytes::default();
        let mut start = 0usize;
        for run in &mut runs {
            run.sort_by(|a, b| f32::from_bits(*a).total_cmp(&f32::from_bits(*b)));
            run.dedup();
            if run.len() > COMPACT_MAX_VALUES_PER_FEATURE {
                return Err(BuildError::ExceedsVersion);
            }
            out.value_starts
                .extend_from_slice(&(start as u16).to_le_bytes());
            let mut codes = BTreeMap::new();
            for (code, value) in run.iter().enumerate() {
                codes.insert(*value, code as u8);
                out.split_values.extend_from_slice(&value.to_le_bytes());
            }
            values.push(codes);
            start += run.len();
        }
        let f64_leaves = self.numerics.is_f64();
        for (output, nodes) in &laid.trees {
            let n_splits = nodes
                .iter()
                .filter(|n| matches!(n, Laid::Split { .. }))
                .count();
            if n_splits + 1 > COMPACT_MAX_TREE_LEAVES {
                return Err(BuildError::ExceedsVersion);
            }
            let mut split_index: usize = 0;
            for (index, node) in nodes.iter().enumerate() {
                let record = match *node {
                    Laid::Leaf(value) => {
                        let field = if f64_leaves {
                            out.leaf_values.extend_from_slice(&value.to_le_bytes());
                            (out.leaf_values.len() / 8 - 1) as u32
                        } else {
                            (value as f32).to_bits()
                        };
                        field.to_le_bytes()
                    }
                    Laid::Split {
                        feature,
                        value,
                        categorical,
                        missing,
                        default_left,
                        left_leaf,
                        right_leaf,
                    } => {
                        let code = values
                            .get(feature)
                            .and_then(|run| run.get(&value))
                            .copied()
                            .ok_or(BuildError::ExceedsVersion)?;
                        // Breadth-first: the k-th split's left child is node 2k+1.
                        let offset = 2 * split_index + 1 - index;
                        split_index += 1;
                        Split::new(
                            feature as u8,
                            code,
                            u8::try_from(offset).map_err(|_| BuildError::ExceedsVersion)?,
                            missing,
                            default_left,
                            categorical,
                            left_leaf,
                            right_leaf,
                        )
                        .encode()
                    }
                };
                out.nodes.extend_from_slice(&record);
            }
            let record = CompactTreeRecord {
                n_nodes: nodes.len() as u16,
                output: *output,
            };
            out.trees.extend_from_slice(&record.encode());
        }
        Ok(out)
    }
}

/// Version 2's tree tables as bytes.
#[derive(Default)]
struct CompactTableBytes {
    trees: Vec<u8>,
    nodes: Vec<u8>,
    leaf_values: Vec<u8>,
    value_starts: Vec<u8>,
    split_values: Vec<u8>,
}

impl CompactTableBytes {
    /// The version 2 body: `shared`'s fields with these tables.
    fn body<'a>(&'a self, shared: &ModelBody<'a>) -> ModelBodyV2<'a> {
        ModelBodyV2 {
            n_features: shared.n_features,
            n_outputs: shared.n_outputs,
            max_depth: shared.max_depth,
            objective: shared.objective,
            numerics: shared.numerics,
            base_order: shared.base_order,
            aggregation: shared.aggregation,
            base_margins: shared.base_margins,
            trees: &self.trees,
            nodes: &self.nodes,
            leaf_values: &self.leaf_values,
            value_starts: &self.value_starts,
            split_values: &self.split_values,
            category_sets: shared.category_sets,
            category_words: shared.category_words,
            feature_names: shared.feature_names,
            feature_ranges: shared.feature_ranges,
            source: shared.source,
            label: shared.label,
            sections: shared.sections,
        }
    }
}

/// Refuses two features with one name (O(n log n)).
fn check_unique_names(names: &[String]) -> Result<(), BuildError> {
    let mut seen = BTreeMap::new();
    for (index, name) in names.iter().enumerate() {
        if let Some(&first) = seen.get(name.as_str()) {
            return Err(BuildError::DuplicateFeatureName {
                name: name.clone(),
                first,
                second: index,
            });
        }
        seen.insert(name.as_str(), index);
    }
    Ok(())
}

fn saturate_u16(value: usize) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

/// The tree's node indices in breadth-first order with their depths, or `None` if the graph is
/// not a binary tree rooted at 0 that uses every node exactly once.
fn breadth_first(tree: &TreeSpec) -> Option<Vec<(usize, u16)>> {
    let n = tree.nodes.len();
    if n == 0 {
        return None;
    }
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut queue = VecDeque::from([(0usize, 0u16)]);
    *seen.first_mut()? = true;
    while let Some((index, depth)) = queue.pop_front() {
        order.push((index, depth));
        if let Some(&NodeSpec::Split { left, right, .. }) = tree.nodes.get(index) {
            for child in [left, right] {
                let slot = seen.get_mut(child)?;
                if *slot {
                    return None;
                }
                *slot = true;
                queue.push_back((child, depth.checked_add(1)?));
            }
        }
    }
    (order.len() == n).then_some(order)
}

fn category_bitset(categories: &[u32]) -> Result<Vec<u32>, BuildError> {
    let max = categories.iter().copied().max().unwrap_or(0);
    if max >= MAX_CATEGORY {
        return Err(BuildError::CategoryTooLarge { category: max });
    }
    let mut words = vec![
        0u32;
        if categories.is_empty() {
            0
        } else {
            max as usize / 32 + 1
        }
    ];
    for &category in categories {
        if let Some(word) = words.get_mut(category as usize / 32) {
            *word |= 1 << (category % 32);
        }
    }
    Ok(words)
}

impl core::error::Error for BuildError {}

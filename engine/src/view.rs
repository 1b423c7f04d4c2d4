//! Read-only views of a loaded model's trees, for tools that describe or probe a model
//! (inspection, boundary-vector generation, explanations). Evaluation does not use them.

use crate::format::{
    f64_at, le_u32, record, CategorySetRecord, LeafMap, MissingMode, Node, Split, NODE_BYTES,
    SPLIT_BYTES,
};
use crate::model::Model;

/// One node of a tree, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NodeView<'a> {
    /// A terminal node with its value (f32 models: an exact f32 widened).
    Leaf {
        /// The leaf value.
        value: f64,
    },
    /// An internal node.
    Split {
        /// Feature index.
        feature: usize,
        /// The test.
        test: SplitTest<'a>,
        /// Missing-value handling.
        missing: MissingMode,
        /// Whether missing values go left.
        default_left: bool,
        /// Left child index within the tree (right is `left + 1`).
        left: usize,
    },
}

/// A split's test, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitTest<'a> {
    /// Left when `x < threshold`.
    Less(f32),
    /// Membership in a category bitset (u32 little-endian words).
    Categories(CategorySet<'a>),
}

/// A category bitset borrowed from the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategorySet<'a> {
    words: &'a [u8],
}

impl CategorySet<'_> {
    /// Whether category `c` is a member.
    pub fn contains(&self, c: u32) -> bool {
        let word = (c / 32) as usize;
        word < self.words.len() / 4 && (le_u32(self.words, word * 4) >> (c % 32)) & 1 == 1
    }

    /// The members in increasing order.
    pub fn members(&self) -> impl Iterator<Item = u32> + '_ {
        (0..(self.words.len() / 4 * 32) as u32).filter(move |&c| self.contains(c))
    }
}

/// A tree of a loaded model.
#[derive(Debug, Clone, Copy)]
pub struct TreeView<'a> {
    model: Model<'a>,
    nodes: TreeNodes<'a>,
    output: usize,
}

/// A tree's records in its model's layout.
#[derive(Debug, Clone, Copy)]
enum TreeNodes<'a> {
    /// Version 1: the node records.
    Nodes(&'a [[u8; NODE_BYTES]]),
    /// Version 2: the node records and which of them are leaves.
    Compact(&'a [[u8; SPLIT_BYTES]], LeafMap),
}

impl<'a> TreeView<'a> {
    /// The output this tree adds to.
    pub fn output(&self) -> usize {
        self.output
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        match self.nodes {
            TreeNodes::Nodes(nodes) => nodes.len(),
            TreeNodes::Compact(nodes, _) => nodes.len(),
        }
    }

    /// Node `index` (breadth-first order of splits and leaves together; the root is 0), or
    /// `None` past the end. Both format versions number nodes the same way.
    pub fn node(&self, index: usize) -> Option<NodeView<'a>> {
        match self.nodes {
            TreeNodes::Nodes(nodes) => {
                let node = Node::decode(nodes.get(index)?);
                if node.is_leaf() {
                    Some(self.leaf(node.value))
                } else {
                    Some(self.split(node, node.left()))
                }
            }
            TreeNodes::Compact(nodes, leaves) => {
                let record = nodes.get(index)?;
                if leaves.is_leaf(index) {
                    return Some(self.leaf(u32::from_le_bytes(*record)));
                }
                let split = Split::decode(record);
                let value = self
                    .model
                    .split_value(usize::from(split.feature), split.code);
                Some(self.split(split.as_node(value), index + usize::from(split.offset)))
            }
        }
    }

    /// A leaf with value field `value` (f32 bits, or an index into the f64 leaf table).
    fn leaf(&self, value: u32) -> NodeView<'a> {
        let body = &self.model.body;
        let value = if body.numerics.is_f64() {
            f64_at(body.leaf_values, value as usize).unwrap_or(f64::NAN)
        } else {
            f64::from(f32::from_bits(value))
        };
        NodeView::Leaf { value }
    }

    /// The split `node` with its left child at `left`.
    fn split(&self, node: Node, left: usize) -> NodeView<'a> {
        let body = &self.model.body;
        let test = if node.is_categorical() {
            let set = record(body.category_sets, node.value as usize)
                .map(CategorySetRecord::decode)
                .unwrap_or_default();
            let words = category_words(body.category_words, set).unwrap_or(&[]);
            SplitTest::Categories(CategorySet { words })
        } else {
            SplitTest::Less(f32::from_bits(node.value))
        };
        NodeView::Split {
            feature: node.feature(),
            test,
            missing: node.missing_mode().unwrap_or(MissingMode::NanDefault),
            default_left: node.default_left(),
            left,
        }
    }

    /// All nodes in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'a>> + '_ {
        (0..self.n_nodes()).filter_map(move |i| self.node(i))
    }
}

impl<'a> Model<'a> {
    /// Tree `index`, or `None` past the end.
    pub fn tree(&self, index: usize) -> Option<TreeView<'a>> {
        if index >= self.n_trees() {
            return None;
        }
        if let Some((output, nodes)) = self.compact_tree(index) {
            return Some(TreeView {
                model: *self,
                nodes: TreeNodes::Compact(nodes, LeafMap::of(nodes)),
                output,
            });
        }
        let record = self.tree_record(index);
        Some(TreeView {
            model: *self,
            nodes: TreeNodes::Nodes(self.tree_nodes(record)),
            output: usize::from(record.output),
        })
    }

    /// All trees in evaluation order.
    pub fn trees(&self) -> impl Iterator<Item = TreeView<'a>> + '_ {
        (0..self.n_trees()).filter_map(move |i| self.tree(i))
    }
}

/// The bitset words of category set `set`, or `None` if they lie outside the word table.
fn category_words(words: &[u8], set: CategorySetRecord) -> Option<&[u8]> {
    let start = (set.word_start as usize).checked_mul(4)?;
    let len = (set.n_words as usize).checked_mul(4)?;
    words.get(start..start.checked_add(len)?)
}

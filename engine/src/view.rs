//! Read-only views of a loaded model's trees, for tools that describe or probe a model
//! (inspection, boundary-vector generation, explanations). Evaluation does not use them.

use crate::format::{
    le_f64, le_u16, le_u32, MissingMode, CATEGORY_SET_BYTES, META_CATEGORICAL, META_DEFAULT_LEFT,
    META_FEATURE_MASK, META_MISSING_MASK, META_MISSING_SHIFT, NODE_BYTES,
};
use crate::model::{tree_record, Model};

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
    nodes: &'a [u8],
    output: usize,
}

impl<'a> TreeView<'a> {
    /// The output this tree adds to.
    pub fn output(&self) -> usize {
        self.output
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len() / NODE_BYTES
    }

    /// Node `index` (breadth-first order; the root is 0), or `None` past the end.
    pub fn node(&self, index: usize) -> Option<NodeView<'a>> {
        let offset = index.checked_mul(NODE_BYTES)?;
        let record = self.nodes.get(offset..offset + NODE_BYTES)?;
        let value = le_u32(record, 0);
        let meta = le_u16(record, 4);
        let left = usize::from(le_u16(record, 6));
        if left == 0 {
            let value = if self.model.body.numerics.is_f64() {
                le_f64(self.model.body.leaf_values, value as usize * 8)
            } else {
                f64::from(f32::from_bits(value))
            };
            return Some(NodeView::Leaf { value });
        }
        let test = if meta & META_CATEGORICAL != 0 {
            let record = value as usize * CATEGORY_SET_BYTES;
            let start = le_u32(self.model.body.category_sets, record) as usize * 4;
            let len = le_u32(self.model.body.category_sets, record + 4) as usize * 4;
            let words = self
                .model
                .body
                .category_words
                .get(start..start + len)
                .unwrap_or(&[]);
            SplitTest::Categories(CategorySet { words })
        } else {
            SplitTest::Less(f32::from_bits(value))
        };
        Some(NodeView::Split {
            feature: usize::from(meta & META_FEATURE_MASK),
            test,
            missing: MissingMode::from_bits((meta & META_MISSING_MASK) >> META_MISSING_SHIFT)
                .unwrap_or(MissingMode::NanDefault),
            default_left: meta & META_DEFAULT_LEFT != 0,
            left,
        })
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
        let record = tree_record(self.body.trees, index);
        Some(TreeView {
            model: *self,
            nodes: self.tree_nodes(index),
            output: usize::from(record.output),
        })
    }

    /// All trees in evaluation order.
    pub fn trees(&self) -> impl Iterator<Item = TreeView<'a>> + '_ {
        (0..self.n_trees()).filter_map(move |i| self.tree(i))
    }
}

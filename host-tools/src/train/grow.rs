//! Growing one tree, level by level, from quantised gradient histograms.
//!
//! Each level: every open node picks its best split (XGBoost's gain with L1/L2 regularisation,
//! its candidates, see below), its rows are partitioned stably, and the children's
//! histograms are made by building the smaller child's (all of a level's in one parallel pass)
//! and subtracting it from the parent's for the other. The last level's splits are not
//! partitioned: their children are leaves, and each row's leaf is decided from the split once
//! the tree is pruned. Then, as XGBoost's pruner does, splits whose children are both leaves
//! and whose loss reduction is below `gamma` are undone, bottom up.
//! A level hands work to the pool four times, each over all its nodes at once: split search
//! over (node, feature block) tasks; partition (large nodes in blocks of rows), buffer zeroing
//! and gathering; histograms over (child, feature group) tasks; subtraction.
//! Monotone constraints follow XGBoost: a split on a constrained feature must order its child
//! weights, and its children inherit bounds meeting at the midpoint of those weights, so every
//! leaf of the left subtree is on the right side of every leaf of the right subtree.
//!
//! Candidates, as XGBoost's `hist` evaluator enumerates them (`EnumerateSplit`), per feature:
//! a forward pass over the value bins in ascending order, "bins up to b left, missing right",
//! up to and including the last bin (every present value left, the missing values alone on
//! the right: the present-vs-missing split, compiled to XGBoost's cut above the maximum); then,
//! only when the node has missing values of that feature, a backward pass in descending order,
//! "bins from b up right, the lower bins and missing left", down to the first bin (the missing
//! values alone on the left). Without missing values at the node, missing values go right.
//!
//! Determinism and ties, as XGBoost's `SplitEntry::NeedReplace`: features in order, within a
//! feature the forward pass then the backward pass, and only a strictly larger gain replaces
//! the best, so ties go to the lowest feature, then to the first candidate visited (forward
//! before backward, the lower bin in the forward pass, the higher in the backward pass). An
//! empty bin repeats the candidate visited just before it and is skipped. All gains derive from
//! exact integer histogram sums.
//!
//! Never: a leaf that is not an f32 (leaves are made once, here, as XGBoost makes them: the
//! weight rounded to f32 times the f32 learning rate, and used as is everywhere).

use lockstep_engine::builder::{Condition, NodeSpec, TreeSpec};
use lockstep_engine::format::MissingMode;

use rayon::prelude::*;

use super::binning::{BinnedColumns, Binning};
use super::histogram::{self, Job, Quantised, Slot};

/// XGBoost's `kRtEps`: a split must reduce the loss by more than this.
const MIN_SPLIT_GAIN: f64 = 1e-6;

/// Tree-level hyperparameters (XGBoost names and meanings).
#[derive(Debug, Clone, Copy)]
pub struct GrowOptions<'a> {
    /// Most splits from the root to a leaf.
    pub max_depth: usize,
    /// Least hessian sum in a child.
    pub min_child_weight: f64,
    /// L2 regularisation of leaf weights.
    pub lambda: f64,
    /// L1 regularisation of leaf weights.
    pub alpha: f64,
    /// Least loss reduction for a split to survive pruning.
    pub gamma: f64,
    /// Shrinkage applied to leaf weights.
    pub learning_rate: f64,
    /// Per feature: +1 increasing, -1 decreasing, 0 free; empty for none.
    pub monotone: &'a [i8],
}

/// A node of a grown tree. A split sends a row left when its code is below `cut` (the value is
/// below [`FeatureBins::cut_threshold`](super::binning::FeatureBins::cut_threshold)`(cut)`),
/// or when its value is missing and `default_left`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GrownNode {
    /// A leaf with its final (shrunk) value.
    Leaf {
        /// The value added to the margin.
        value: f32,
    },
    /// A split.
    Split {
        /// Feature index.
        feature: usize,
        /// Present values with a code below this go left (`0..=n` for `n` value bins).
        cut: u8,
        /// Whether missing values go left.
        default_left: bool,
        /// Left child index.
        left: usize,
        /// Right child index.
        right: usize,
    },
}

/// A grown tree; `nodes[0]` is the root.
#[derive(Debug, Clone, PartialEq)]
pub struct GrownTree {
    /// The nodes, parents before children.
    pub nodes: Vec<GrownNode>,
}

impl GrownTree {
    /// The leaf value reached by row `row` of `binned`, whose missing codes are
    /// `missing_codes[feature]`.
    pub fn leaf_value(&self, binned: &BinnedColumns, missing_codes: &[u8], row: usize) -> f32 {
        self.walk(|feature, cut, default_left| {
            let code = binned.codes[feature * binned.n_rows + row];
            if code == missing_codes[feature] {
                default_left
            } else {
                code < cut
            }
        })
    }

    /// The leaf value row `row` of `columns` reaches, comparing its values with the thresholds
    /// the tree compiles to ([`GrownTree::to_spec`]), as the engine does. For training rows
    /// this is [`GrownTree::leaf_value`]; for other data it also decides values beyond the
    /// training range as the compiled model does.
    pub fn leaf_value_of(&self, binning: &Binning, columns: &[Vec<f32>], row: usize) -> f32 {
        self.walk(|feature, cut, default_left| {
            let x = columns[feature][row];
            if x.is_nan() {
                default_left
            } else {
                x < binning.features[feature].cut_threshold(cut)
            }
        })
    }

    /// The leaf reached from the root when each split goes left exactly when
    /// `go_left(feature, cut, default_left)`.
    fn walk(&self, go_left: impl Fn(usize, u8, bool) -> bool) -> f32 {
        let mut index = 0;
        loop {
            match self.nodes[index] {
                GrownNode::Leaf { value } => return value,
                GrownNode::Split {
                    feature,
                    cut,
                    default_left,
                    left,
                    right,
                } => {
                    index = if go_left(feature, cut, default_left) {
                        left
                    } else {
                        right
                    };
                }
            }
        }
    }

    /// The engine description of this tree, adding to output `output`.
    pub fn to_spec(&self, binning: &Binning, output: usize) -> TreeSpec {
        let nodes = self
            .nodes
            .iter()
            .map(|node| match *node {
                GrownNode::Leaf { value } => NodeSpec::Leaf {
                    value: f64::from(value),
                },
                GrownNode::Split {
                    feature,
                    cut,
                    default_left,
                    left,
                    right,
                } => NodeSpec::Split {
                    feature,
                    condition: Condition::Less(binning.features[feature].cut_threshold(cut)),
                    missing: MissingMode::NanDefault,
                    default_left,
                    left,
                    right,
                },
            })
            .collect();
        TreeSpec { output, nodes }
    }
}

/// The regularised objective pieces for one set of rows.
struct Regulariser {
    lambda: f64,
    alpha: f64,
}

impl Regulariser {
    /// XGBoost's `ThresholdL1`: the gradient sum shrunk towards zero by `alpha`.
    fn threshold_l1(&self, g: f64) -> f64 {
        if g > self.alpha {
            g - self.alpha
        } else if g < -self.alpha {
            g + self.alpha
        } else {
            0.0
        }
    }

    /// The optimal weight `-T(G)/(H+lambda)` clipped to `[lower, upper]`; 0 when `H+lambda`
    /// is not positive.
    fn weight(&self, g: f64, h: f64, lower: f64, upper: f64) -> f64 {
        let denominator = h + self.lambda;
        let w = if denominator > 0.0 {
            -self.threshold_l1(g) / denominator
        } else {
            0.0
        };
        w.max(lower).min(upper)
    }

    /// Twice the loss reduction of giving these rows weight `w` (XGBoost's gain scale):
    /// `T(G)^2/(H+lambda)` at the unconstrained optimum, `-(2Gw + (H+lambda)w^2 + 2 alpha|w|)`
    /// for a clipped weight.
    fn gain(&self, g: f64, h: f64, lower: f64, upper: f64) -> f64 {
        let denominator = h + self.lambda;
        if denominator.is_nan() || denominator <= 0.0 {
            return 0.0;
        }
        if lower == f64::NEG_INFINITY && upper == f64::INFINITY {
            let t = self.threshold_l1(g);
            t * t / denominator
        } else {
            let w = self.weight(g, h, lower, upper);
            -(2.0 * g * w + denominator * w * w + 2.0 * self.alpha * w.abs())
        }
    }
}

/// A node still growing.
struct OpenNode {
    /// Index in the tree's node list.
    index: usize,
    depth: usize,
    rows: Vec<u32>,
    histogram: Vec<Slot>,
    total: Slot,
    lower: f64,
    upper: f64,
}

/// A split whose children grow, partitioned: the children's rows, which is the smaller, and
/// the smaller one's gradient pairs (for its histogram).
struct Part {
    left_rows: Vec<u32>,
    right_rows: Vec<u32>,
    left_smaller: bool,
    small_pairs: Vec<Slot>,
}

/// What splitting a node whose children grow produced: their rows and histograms.
struct Children {
    left_rows: Vec<u32>,
    right_rows: Vec<u32>,
    /// Left, right.
    histograms: (Vec<Slot>, Vec<Slot>),
}

/// The best split of a node.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    feature: usize,
    cut: u8,
    default_left: bool,
    gain: f64,
    left: Slot,
    right: Slot,
    /// The children's weights, computed for monotone-constrained features only (0 otherwise).
    left_weight: f64,
    right_weight: f64,
}

/// The binned training data a tree grows on.
#[derive(Debug, Clone, Copy)]
pub struct GrowData<'a> {
    /// The bin codes.
    pub columns: &'a BinnedColumns,
    /// Histogram slot offsets, [`Binning::slot_offsets`].
    pub offsets: &'a [usize],
    /// Each feature's missing code, [`Binning::missing_codes`].
    pub missing_codes: &'a [u8],
    /// Each feature's highest usable cut, [`Binning::top_cuts`].
    pub top_cuts: &'a [u8],
}

/// Grows one tree on `rows` (ascending) using `features` (ascending), and writes the final
/// tree's leaf value for each of `rows` into `leaf_values[row]` (other entries are left as
/// they are). Those values are exactly what [`GrownTree::leaf_value`] gives for the rows.
pub fn grow(
    data: GrowData<'_>,
    rows: Vec<u32>,
    features: &[usize],
    quantised: &Quantised,
    options: &GrowOptions,
    leaf_values: &mut [f32],
) -> GrownTree {
    let GrowData {
        columns: binned,
        offsets,
        missing_codes,
        top_cuts,
    } = data;
    let regulariser = Regulariser {
        lambda: options.lambda,
        alpha: options.alpha,
    };
    let n_slots = offsets[offsets.len() - 1];
    let mut nodes = vec![GrownNode::Leaf { value: 0.0 }];
    // Per node, for splits: the loss reduction and the leaf the node would be if pruned.
    let mut split_gains: Vec<Option<(f64, GrownNode)>> = vec![None];
    // Per node, its parent (the root's is itself).
    let mut parents: Vec<usize> = vec![0];
    // The leaves before pruning and their rows.
    let mut leaf_rows: Vec<(usize, Vec<u32>)> = Vec::new();
    // The splits whose children are leaves, with their rows and left child's index.
    let mut last_splits: Vec<(Vec<u32>, Candidate, usize)> = Vec::new();
    let total = quantised.total(&rows);
    let mut root_histogram = vec![Slot::default(); n_slots];
    if options.max_depth > 0 {
        let pairs = histogram::gather(&rows, quantised);
        let jobs = vec![Job {
            rows: &rows,
            pairs: &pairs,
            histogram: &mut root_histogram,
        }];
        histogram::build(jobs, binned, offsets, features);
    }
    let mut level = vec![OpenNode {
        index: 0,
        depth: 0,
        rows,
        histogram: root_histogram,
        total,
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
    }];
    // Histograms of nodes that became leaves, reused (zeroed) for the next level's children
    // instead of allocating fresh ones.
    let mut spare_histograms: Vec<Vec<Slot>> = Vec::new();
    let leaf = |total: Slot, lower: f64, upper: f64| {
        let g = quantised.grad(total);
        let h = quantised.hess(total);
        let w = regulariser.weight(g, h, lower, upper);
        // As XGBoost: the weight rounded to f32, times the f32 learning rate in f32.
        GrownNode::Leaf {
            value: (w as f32) * (options.learning_rate as f32),
        }
    };
    while !level.is_empty() {
        let searches = best_splits(
            &level,
            offsets,
            top_cuts,
            features,
            quantised,
            &regulariser,
            options,
        );
        // Whether a node's children would still grow (else they are leaves, and their
        // rows are needed only for their values: those come from the split itself, row by
        // row, once the tree is pruned).
        let children_grow = |node: &OpenNode| node.depth + 1 < options.max_depth;
        // A histogram buffer for the smaller child of each split whose children grow.
        let mut buffers: Vec<Option<Vec<Slot>>> = level
            .iter()
            .zip(&searches)
            .map(|(node, best)| {
                (best.is_some() && children_grow(node)).then(|| {
                    spare_histograms
                        .pop()
                        .unwrap_or_else(|| vec![Slot::default(); n_slots])
                })
            })
            .collect();
        // Per such split, in one parallel pass (a large node's rows in blocks too): its rows
        // partitioned stably into the children's, its buffer zeroed and the smaller child's
        // gradient pairs gathered.
        let parts: Vec<Option<Part>> = level
            .par_iter()
            .zip(&searches)
            .zip(buffers.par_iter_mut())
            .map(|((node, best), buffer)| {
                let split = (*best)?;
                let buffer = buffer.as_mut()?;
                let (left_rows, right_rows) = partition(
                    &node.rows,
                    binned.column(split.feature),
                    missing_codes[split.feature],
                    split.cut,
                    split.default_left,
                );
                debug_assert_eq!(quantised.total(&left_rows), split.left);
                buffer.fill(Slot::default());
                let left_smaller = left_rows.len() <= right_rows.len();
                let small = if left_smaller {
                    &left_rows
                } else {
                    &right_rows
                };
                let small_pairs = histogram::gather(small, quantised).into_owned();
                Some(Part {
                    left_rows,
                    right_rows,
                    left_smaller,
                    small_pairs,
                })
            })
            .collect();
        // The smaller children's histograms, all of the level's in one parallel pass.
        let jobs: Vec<Job<'_>> = parts
            .iter()
            .zip(&mut buffers)
            .filter_map(|(part, buffer)| {
                let part = part.as_ref()?;
                Some(Job {
                    rows: if part.left_smaller {
                        &part.left_rows
                    } else {
                        &part.right_rows
                    },
                    pairs: &part.small_pairs,
                    histogram: buffer.as_mut()?,
                })
            })
            .collect();
        histogram::build(jobs, binned, offsets, features);
        // The larger children's, each its parent's minus its sibling's, in parallel.
        let children: Vec<Option<Children>> = level
            .par_iter_mut()
            .zip(parts)
            .zip(buffers)
            .map(|((node, part), buffer)| {
                let Part {
                    left_rows,
                    right_rows,
                    left_smaller,
                    ..
                } = part?;
                let small = buffer?;
                let mut large = std::mem::take(&mut node.histogram);
                histogram::subtract(&mut large, &small);
                let histograms = if left_smaller {
                    (small, large)
                } else {
                    (large, small)
                };
                Some(Children {
                    left_rows,
                    right_rows,
                    histograms,
                })
            })
            .collect();
        // The children of this level's splits: the next level.
        let mut next: Vec<OpenNode> = Vec::new();
        for ((node, best), children) in level.into_iter().zip(searches).zip(children) {
            if !node.histogram.is_empty() {
                // A leaf's, or a last split's whose children need none.
                spare_histograms.push(node.histogram);
            }
            let Some(split) = best else {
                nodes[node.index] = leaf(node.total, node.lower, node.upper);
                leaf_rows.push((node.index, node.rows));
                continue;
            };
            let left_index = nodes.len();
            nodes.push(GrownNode::Leaf { value: 0.0 });
            nodes.push(GrownNode::Leaf { value: 0.0 });
            split_gains[node.index] = Some((split.gain, leaf(node.total, node.lower, node.upper)));
            split_gains.extend([None, None]);
            parents.extend([node.index, node.index]);
            nodes[node.index] = GrownNode::Split {
                feature: split.feature,
                cut: split.cut,
                default_left: split.default_left,
                left: left_index,
                right: left_index + 1,
            };
            // Bounds for the children (XGBoost's monotone constraint propagation).
            let (mut left_bounds, mut right_bounds) =
                ((node.lower, node.upper), (node.lower, node.upper));
            let constraint = options.monotone.get(split.feature).copied().unwrap_or(0);
            let middle = (split.left_weight + split.right_weight) / 2.0;
            if constraint > 0 {
                left_bounds.1 = middle;
                right_bounds.0 = middle;
            } else if constraint < 0 {
                left_bounds.0 = middle;
                right_bounds.1 = middle;
            }
            let Some(children) = children else {
                // A last split: its children are leaves now.
                nodes[left_index] = leaf(split.left, left_bounds.0, left_bounds.1);
                nodes[left_index + 1] = leaf(split.right, right_bounds.0, right_bounds.1);
                last_splits.push((node.rows, split, left_index));
                continue;
            };
            let (left_histogram, right_histogram) = children.histograms;
            let sides = [
                (
                    left_index,
                    children.left_rows,
                    split.left,
                    left_bounds,
                    left_histogram,
                ),
                (
                    left_index + 1,
                    children.right_rows,
                    split.right,
                    right_bounds,
                    right_histogram,
                ),
            ];
            for (index, rows, total, (lower, upper), histogram) in sides {
                next.push(OpenNode {
                    index,
                    depth: node.depth + 1,
                    rows,
                    histogram,
                    total,
                    lower,
                    upper,
                });
            }
        }
        level = next;
    }
    let (tree, values) = prune(nodes, &split_gains, &parents, options.gamma);
    // Each row's final leaf: a leaf's rows take its value, a last split's rows the value of
    // the side they go to.
    let mut assignments: Vec<(Vec<u32>, [f32; 2], Option<Candidate>)> = leaf_rows
        .into_iter()
        .map(|(index, rows)| (rows, [values[index]; 2], None))
        .collect();
    assignments.extend(
        last_splits
            .into_iter()
            .map(|(rows, split, left)| (rows, [values[left + 1], values[left]], Some(split))),
    );
    let assign = |chunk: &mut [f32], first: usize| {
        let end = first + chunk.len();
        for (rows, sides, split) in &assignments {
            // Each list of rows is ascending: the chunk's part of it is found by bisection.
            let start = rows.partition_point(|&row| (row as usize) < first);
            let rows = &rows[start..];
            let rows = &rows[..rows.partition_point(|&row| (row as usize) < end)];
            match split {
                None => {
                    for &row in rows {
                        chunk[row as usize - first] = sides[0];
                    }
                }
                Some(split) => {
                    let goes_left = side(
                        binned.column(split.feature),
                        missing_codes[split.feature],
                        split.cut,
                        split.default_left,
                    );
                    // Indexed by whether the row goes left: a select, not a branch.
                    for &row in rows {
                        chunk[row as usize - first] = sides[usize::from(goes_left(row))];
                    }
                }
            }
        }
    };
    // In parallel over a few blocks of rows per thread.
    let threads = rayon::current_num_threads();
    if threads == 1 {
        assign(leaf_values, 0);
    } else {
        let block = leaf_values.len().div_ceil(4 * threads).max(1 << 12);
        leaf_values
            .par_chunks_mut(block)
            .enumerate()
            .for_each(|(index, chunk)| assign(chunk, index * block));
    }
    tree
}

/// Whether a row goes left at a split on `column` sending codes below `cut` left, and the
/// missing code left when `default_left`. Branch-free: a row's side is unpredictable.
fn side(column: &[u8], missing: u8, cut: u8, default_left: bool) -> impl Fn(u32) -> bool + '_ {
    move |row| {
        let code = column[row as usize];
        ((code == missing) & default_left) | ((code != missing) & (code < cut))
    }
}

/// Rows per parallel task of [`partition`].
const PARTITION_BLOCK: usize = 1 << 13;

/// `rows` split stably into those going left and right at a split on `column` (see [`side`]),
/// in blocks of [`PARTITION_BLOCK`] rows in parallel on the current rayon pool when there are
/// several, concatenated in order.
fn partition(
    rows: &[u32],
    column: &[u8],
    missing: u8,
    cut: u8,
    default_left: bool,
) -> (Vec<u32>, Vec<u32>) {
    let goes_left = side(column, missing, cut, default_left);
    if rows.len() < 2 * PARTITION_BLOCK || rayon::current_num_threads() == 1 {
        return partition_block(rows, &goes_left);
    }
    let blocks: Vec<(Vec<u32>, Vec<u32>)> = rows
        .par_chunks(PARTITION_BLOCK)
        .map(|block| partition_block(block, &goes_left))
        .collect();
    let n_left = blocks.iter().map(|(left, _)| left.len()).sum();
    let mut left = Vec::with_capacity(n_left);
    let mut right = Vec::with_capacity(rows.len() - n_left);
    for (l, r) in &blocks {
        left.extend_from_slice(l);
        right.extend_from_slice(r);
    }
    (left, right)
}

/// [`partition`] of one block, on the calling thread.
fn partition_block(rows: &[u32], goes_left: &impl Fn(u32) -> bool) -> (Vec<u32>, Vec<u32>) {
    // Without branches: each row is written to both sides and only its own side's length
    // grows.
    let mut left = vec![0u32; rows.len()];
    let mut right = vec![0u32; rows.len()];
    let (mut n_left, mut n_right) = (0, 0);
    for &row in rows {
        let go_left = goes_left(row);
        left[n_left] = row;
        right[n_right] = row;
        n_left += usize::from(go_left);
        n_right += usize::from(!go_left);
    }
    left.truncate(n_left);
    right.truncate(n_right);
    (left, right)
}

/// Undoes, bottom up, splits whose children are leaves and whose loss reduction is below
/// `gamma`, then drops the unreachable nodes (keeping parents before children). Also returns,
/// per node before pruning, the value of the final leaf its rows reach (meaningful for the
/// unpruned tree's leaves).
fn prune(
    mut nodes: Vec<GrownNode>,
    split_gains: &[Option<(f64, GrownNode)>],
    parents: &[usize],
    gamma: f64,
) -> (GrownTree, Vec<f32>) {
    // Children always have larger indices than their parent, so a reverse pass sees a node
    // only after its whole subtree has been pruned.
    for index in (0..nodes.len()).rev() {
        if let (GrownNode::Split { left, right, .. }, Some((gain, as_leaf))) =
            (nodes[index], split_gains[index])
        {
            let leaves = matches!(nodes[left], GrownNode::Leaf { .. })
                && matches!(nodes[right], GrownNode::Leaf { .. });
            if leaves && gain < gamma {
                nodes[index] = as_leaf;
            }
        }
    }
    // Keep the nodes reachable from the root, in their original order.
    let mut reached = vec![false; nodes.len()];
    reached[0] = true;
    let mut new_index = vec![0; nodes.len()];
    let mut kept = Vec::new();
    for index in 0..nodes.len() {
        if !reached[index] {
            continue;
        }
        if let GrownNode::Split { left, right, .. } = nodes[index] {
            reached[left] = true;
            reached[right] = true;
        }
        new_index[index] = kept.len();
        kept.push(index);
    }
    // A reached leaf keeps its value; an unreached node lies under a pruned split, which became
    // a reached leaf, so it takes its parent's (already set: parents come first).
    let mut values = vec![0.0f32; nodes.len()];
    for index in 0..nodes.len() {
        values[index] = match nodes[index] {
            GrownNode::Leaf { value } if reached[index] => value,
            _ if !reached[index] => values[parents[index]],
            _ => 0.0,
        };
    }
    let nodes = kept
        .iter()
        .map(|&index| match nodes[index] {
            GrownNode::Split {
                feature,
                cut,
                default_left,
                left,
                right,
            } => GrownNode::Split {
                feature,
                cut,
                default_left,
                left: new_index[left],
                right: new_index[right],
            },
            leaf => leaf,
        })
        .collect();
    (GrownTree { nodes }, values)
}

/// The best split of every node of a level that may still split, searched in parallel on the
/// current rayon pool over (node, block of features) tasks. Merging each node's block results
/// in feature order, where only a strictly larger gain replaces, gives exactly the sequential
/// search's choice.
fn best_splits(
    level: &[OpenNode],
    offsets: &[usize],
    top_cuts: &[u8],
    features: &[usize],
    quantised: &Quantised,
    regulariser: &Regulariser,
    options: &GrowOptions,
) -> Vec<Option<Candidate>> {
    /// Features per task.
    const FEATURES_PER_TASK: usize = 4;
    let searchable = |node: &OpenNode| node.depth < options.max_depth;
    let blocks: Vec<&[usize]> = features.chunks(FEATURES_PER_TASK).collect();
    let tasks: Vec<(usize, &[usize])> = level
        .iter()
        .enumerate()
        .filter(|(_, node)| searchable(node))
        .flat_map(|(index, _)| blocks.iter().map(move |&block| (index, block)))
        .collect();
    let results: Vec<(usize, Option<Candidate>)> = tasks
        .into_par_iter()
        .map(|(index, block)| {
            let best = best_split(
                &level[index],
                offsets,
                top_cuts,
                block,
                quantised,
                regulariser,
                options,
            );
            (index, best)
        })
        .collect();
    let mut merged: Vec<Option<Candidate>> = vec![None; level.len()];
    for (index, candidate) in results {
        if let Some(candidate) = candidate {
            if merged[index].is_none_or(|b| candidate.gain > b.gain) {
                merged[index] = Some(candidate);
            }
        }
    }
    merged
}

/// The best admissible split of `node`, if any reduces the loss at all (by [`MIN_SPLIT_GAIN`]),
/// among the candidates of the module notes, visited in their order.
fn best_split(
    node: &OpenNode,
    offsets: &[usize],
    top_cuts: &[u8],
    features: &[usize],
    quantised: &Quantised,
    regulariser: &Regulariser,
    options: &GrowOptions,
) -> Option<Candidate> {
    if node.rows.len() < 2 {
        return None;
    }
    let (lower, upper) = (node.lower, node.upper);
    let parent_gain = regulariser.gain(
        quantised.grad(node.total),
        quantised.hess(node.total),
        lower,
        upper,
    );
    let mut best: Option<Candidate> = None;
    for &feature in features {
        let slots = &node.histogram[offsets[feature]..offsets[feature + 1]];
        let (values, missing) = slots.split_at(slots.len() - 1);
        let constraint = options.monotone.get(feature).copied().unwrap_or(0);
        let mut consider = |cut: usize, default_left: bool, left: Slot| {
            let right = node.total - left;
            if left.is_empty() || right.is_empty() {
                return;
            }
            let (gl, hl) = (quantised.grad(left), quantised.hess(left));
            let (gr, hr) = (quantised.grad(right), quantised.hess(right));
            if hl < options.min_child_weight || hr < options.min_child_weight {
                return;
            }
            let (mut left_weight, mut right_weight) = (0.0, 0.0);
            if constraint != 0 {
                left_weight = regulariser.weight(gl, hl, lower, upper);
                right_weight = regulariser.weight(gr, hr, lower, upper);
                if (constraint > 0 && left_weight > right_weight)
                    || (constraint < 0 && left_weight < right_weight)
                {
                    return;
                }
            }
            let gain = regulariser.gain(gl, hl, lower, upper)
                + regulariser.gain(gr, hr, lower, upper)
                - parent_gain;
            if gain > MIN_SPLIT_GAIN && best.is_none_or(|b| gain > b.gain) {
                best = Some(Candidate {
                    feature,
                    cut: cut as u8,
                    default_left,
                    gain,
                    left,
                    right,
                    left_weight,
                    right_weight,
                });
            }
        };
        // Forward: bins 0..=b left, missing right (cut b + 1), up to the top cut (every
        // present value left, unless no threshold lies above the maximum).
        let top_cut = usize::from(top_cuts[feature]);
        let mut prefix = Slot::default();
        for (bin, &slot) in values.iter().enumerate().take(top_cut) {
            if slot.is_empty() {
                continue;
            }
            prefix += slot;
            consider(bin + 1, false, prefix);
        }
        // Backward, only with missing values here: bins b.. right, the rest and missing left
        // (cut b), down to cut 0 (the missing values alone on the left).
        if !missing[0].is_empty() {
            let mut suffix = Slot::default();
            for (bin, &slot) in values.iter().enumerate().rev() {
                if slot.is_empty() {
                    continue;
                }
                suffix += slot;
                consider(bin, true, node.total - suffix);
            }
        }
    }
    best
}

//! Random forests for binary outcomes: bootstrapped classification trees on binned features,
//! split by Gini impurity, whose leaves hold the fraction of positives they received, compiled
//! into an `Aggregation::Mean` model.
//!
//! Trees are grown on the bin codes of [`binning`](super::binning), so a split "bins 0..=b go
//! left" compiles to the engine's `x < t[b]` and decides identically for every f32. Each split
//! tries the node's missing bin on both sides (when the node has missing rows) and keeps the
//! better, so the missing direction is learned, and also "every present value left, missing
//! right" (compiled to the feature's ceiling, above every training value, as the GBDT's
//! present-vs-missing split; its mirror has the same Gini gain); without missing rows at the
//! node, missing values go to the child with more draws (left on a tie).
//!
//! Determinism: every random choice (bootstrap draws, the features a split tries) is a
//! counter-based SplitMix64 of seed, stream, tree and draw, node or feature, so a tree depends on
//! nothing but its index; threads grow disjoint blocks of trees, and results are joined in tree
//! order. Split statistics are integer counts; gains are f64 functions of those counts evaluated
//! in one fixed order, ties keeping the earlier candidate.
//!
//! Invariant: `train_probabilities[row]` is what the compiled model outputs for that row: the
//! f32 leaves summed in tree order from the base margin 0, then divided once by the number of
//! trees as an f32, exactly as the engine evaluates `Numerics::Xgboost` with
//! `Aggregation::Mean`.
//! Never: recursion over a tree, floating-point sums over rows, or state shared between trees.

use std::collections::VecDeque;

use lockstep_engine::builder::ModelSpec;
use lockstep_engine::format::{self, limits, Aggregation, BaseOrder, Framework, Numerics};

use super::binning::{BinnedColumns, Binning};
use super::gbdt::{TrainError, MAX_DEPTH};
use super::grow::{GrownNode, GrownTree};
use super::TrainData;
use crate::rng;

/// The label compiled models carry.
pub const FOREST_LABEL: &str = "random forest: mean leaf probability";

/// A split must lower the weighted Gini impurity (in units of draws) by more than this; it
/// absorbs f64 rounding in splits that change nothing.
const MIN_SPLIT_GAIN: f64 = 1e-9;

/// How many features each split tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFeatures {
    /// `round(sqrt(n_features))`, at least 1 (scikit-learn's classifier default).
    Sqrt,
    /// Every feature (bagged trees).
    All,
    /// This many (1..=n_features).
    Count(usize),
}

impl MaxFeatures {
    /// The number of features a split tries among `n_features`.
    pub fn resolve(self, n_features: usize) -> usize {
        match self {
            MaxFeatures::Sqrt => ((n_features as f64).sqrt().round() as usize).clamp(1, n_features),
            MaxFeatures::All => n_features,
            MaxFeatures::Count(n) => n.min(n_features),
        }
    }
}

/// Forest options, with scikit-learn's names and meanings where it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestOptions {
    /// Trees in the forest (`n_estimators`).
    pub n_trees: usize,
    /// Most splits from root to leaf, 1..=15.
    pub max_depth: usize,
    /// Least draws (bootstrap multiplicities counted) in each child of a split.
    pub min_samples_leaf: usize,
    /// Features tried per split. As in scikit-learn, features constant at a node do not count
    /// towards it, so a split keeps looking until it has tried this many that vary.
    pub max_features: MaxFeatures,
    /// Whether each tree sees `n_rows` draws with replacement; otherwise every row once.
    pub bootstrap: bool,
    /// Most bins per feature, counting the missing bin (2..=256).
    pub max_bins: usize,
    /// Seed of the bootstrap and feature sampling.
    pub seed: u64,
    /// Threads growing trees; 0 means one per available core. The model does not depend on it.
    pub threads: usize,
}

impl Default for ForestOptions {
    /// What `lockstep train` uses (its `[forest]` settings default to these): 200 trees of
    /// depth at most 8, leaves of at least 20 draws, sqrt features, bootstrap, 256 bins, seed
    /// 2024, one thread per core.
    fn default() -> Self {
        ForestOptions {
            n_trees: 200,
            max_depth: 8,
            min_samples_leaf: 20,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            max_bins: 256,
            seed: 2024,
            threads: 0,
        }
    }
}

/// A trained forest.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedForest {
    /// The model (`Objective::BinaryProbability`, `Numerics::Xgboost`, `Aggregation::Mean`, base
    /// margin 0), ready for `to_bytes`; its output is the mean leaf probability.
    pub spec: ModelSpec,
    /// The model's output on every training row, exactly as the compiled model computes it
    /// (in-bag rows included, so these are optimistic as estimates).
    pub train_probabilities: Vec<f32>,
}

/// Trains a forest on `data` (labels 0 or 1, both present). Identical inputs give identical
/// model bytes, whatever `options.threads` is.
pub fn train_forest(
    data: &TrainData,
    options: &ForestOptions,
) -> Result<TrainedForest, TrainError> {
    check_data(data)?;
    check_options(options, data.n_features())?;
    let n_rows = data.n_rows();
    let threads = crate::threads::resolve(options.threads);
    // Binning runs its features in parallel on a pool of `threads`.
    let (binning, binned) =
        super::thread_pool(threads)?.install(|| Binning::fit_apply(data, options.max_bins));
    let missing_codes = binning.missing_codes();
    let positive: Vec<bool> = data.labels.iter().map(|&y| y == 1.0).collect();
    let context = TreeContext {
        binned: &binned,
        binning: &binning,
        missing_codes: &missing_codes,
        positive: &positive,
        options,
        n_tried: options.max_features.resolve(data.n_features()),
    };
    let threads = threads.clamp(1, options.n_trees);
    let trees: Vec<GrownTree> = if threads == 1 {
        (0..options.n_trees).map(|t| context.grow(t)).collect()
    } else {
        // Contiguous blocks of tree indices, joined in block order: tree order.
        let per_thread = options.n_trees.div_ceil(threads);
        let context = &context;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..options.n_trees)
                .step_by(per_thread)
                .map(|start| {
                    let end = (start + per_thread).min(options.n_trees);
                    scope.spawn(move || (start..end).map(|t| context.grow(t)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    // The engine's arithmetic: start at the f32 base margin 0, add f32 leaves in tree order,
    // divide once by the tree count as an f32.
    let mut sums = vec![0.0f32; n_rows];
    for tree in &trees {
        for (row, sum) in sums.iter_mut().enumerate() {
            *sum += tree.leaf_value(&binned, &missing_codes, row);
        }
    }
    let divisor = options.n_trees as f32;
    let train_probabilities = sums.iter().map(|&sum| sum / divisor).collect();
    let spec = ModelSpec {
        n_outputs: 1,
        objective: format::Objective::BinaryProbability,
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Mean,
        base_margins: vec![0.0],
        feature_names: data.feature_names.to_vec(),
        feature_ranges: None,
        trees: trees.iter().map(|tree| tree.to_spec(&binning, 0)).collect(),
        source_framework: Framework::Lockstep,
        source_version: format!("lockstep-host {}", env!("CARGO_PKG_VERSION")),
        label: FOREST_LABEL.to_string(),
        sections: Vec::new(),
    };
    Ok(TrainedForest {
        spec,
        train_probabilities,
    })
}

fn check_data(data: &TrainData) -> Result<(), TrainError> {
    const SET: &str = "training";
    if data.feature_names.len() != data.columns.len() {
        return Err(TrainError::NamesColumnsMismatch {
            set: SET,
            names: data.feature_names.len(),
            columns: data.columns.len(),
        });
    }
    if data.n_rows() == 0 {
        return Err(TrainError::NoRows);
    }
    for (feature, column) in data.columns.iter().enumerate() {
        if column.len() != data.n_rows() {
            return Err(TrainError::ColumnLength {
                set: SET,
                feature,
                expected: data.n_rows(),
                found: column.len(),
            });
        }
    }
    if let Some((row, &value)) = data
        .labels
        .iter()
        .enumerate()
        .find(|(_, &y)| y != 0.0 && y != 1.0)
    {
        return Err(TrainError::BadLabel {
            set: SET,
            row,
            value,
            objective: "a binary random forest",
        });
    }
    let n_pos = data.labels.iter().filter(|&&y| y == 1.0).count();
    if n_pos == 0 || n_pos == data.n_rows() {
        return Err(TrainError::SingleClass);
    }
    Ok(())
}

fn check_options(options: &ForestOptions, n_features: usize) -> Result<(), TrainError> {
    let bad = |option: &'static str, reason: String| Err(TrainError::BadOption { option, reason });
    if n_features == 0 || n_features > limits::MAX_FEATURES {
        return bad(
            "features",
            format!("must number 1..={}, not {n_features}", limits::MAX_FEATURES),
        );
    }
    if options.n_trees == 0 {
        return bad("n_trees", "must be at least 1".into());
    }
    if !(1..=MAX_DEPTH).contains(&options.max_depth) {
        return bad("max_depth", format!("must be in 1..={MAX_DEPTH}"));
    }
    if options.min_samples_leaf == 0 {
        return bad("min_samples_leaf", "must be at least 1".into());
    }
    if options.max_features == MaxFeatures::Count(0) {
        return bad("max_features", "must be at least 1".into());
    }
    if !(2..=256).contains(&options.max_bins) {
        return bad("max_bins", "must be in 2..=256".into());
    }
    Ok(())
}

/// Streams of the counter-based generator.
const BOOTSTRAP_STREAM: u64 = 1;
const FEATURE_STREAM: u64 = 2;

/// How many times each row is drawn for tree `tree`: `n_rows` uniform draws with replacement
/// (draw `d` picks `floor(random * n_rows / 2^64)`), or 1 each without bootstrap.
fn bootstrap_counts(seed: u64, tree: usize, n_rows: usize, bootstrap: bool) -> Vec<u32> {
    if !bootstrap {
        return vec![1; n_rows];
    }
    let mut counts = vec![0u32; n_rows];
    for draw in 0..n_rows as u64 {
        let r = rng::keyed(seed, &[BOOTSTRAP_STREAM, tree as u64, draw]);
        let row = rng::below(r, n_rows);
        counts[row] += 1;
    }
    counts
}

/// Draws and positive draws of a set of rows (bootstrap multiplicities counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    n: u64,
    positive: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.n += other.n;
        self.positive += other.positive;
    }

    fn minus(self, other: Counts) -> Counts {
        Counts {
            n: self.n - other.n,
            positive: self.positive - other.positive,
        }
    }

    /// `n` times the Gini impurity: `2 p (n - p) / n`; 0 for no draws.
    fn weighted_gini(self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let (n, p) = (self.n as f64, self.positive as f64);
        2.0 * p * (n - p) / n
    }

    /// The fraction of positive draws, rounded to f32.
    fn leaf(self) -> GrownNode {
        GrownNode::Leaf {
            value: (self.positive as f64 / self.n as f64) as f32,
        }
    }
}

/// The best split found at a node.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    /// Present values with a code below this go left.
    cut: u8,
    default_left: bool,
    gain: f64,
}

/// A node waiting to be split or made a leaf.
struct OpenNode {
    index: usize,
    depth: usize,
    /// Distinct in-bag rows, ascending.
    rows: Vec<u32>,
    counts: Counts,
}

/// What every tree shares.
struct TreeContext<'a> {
    binned: &'a BinnedColumns,
    binning: &'a Binning,
    missing_codes: &'a [u8],
    positive: &'a [bool],
    options: &'a ForestOptions,
    /// Varying features each split tries.
    n_tried: usize,
}

impl TreeContext<'_> {
    /// Grows tree `tree`, breadth first (children always after their parent).
    fn grow(&self, tree: usize) -> GrownTree {
        let options = self.options;
        let n_rows = self.positive.len();
        let weights = bootstrap_counts(options.seed, tree, n_rows, options.bootstrap);
        let rows: Vec<u32> = (0..n_rows as u32)
            .filter(|&row| weights[row as usize] > 0)
            .collect();
        let counts = self.counts(&rows, &weights);
        let mut nodes = vec![counts.leaf()];
        let mut open = VecDeque::from([OpenNode {
            index: 0,
            depth: 0,
            rows,
            counts,
        }]);
        while let Some(node) = open.pop_front() {
            let Some(split) = self.best_split(tree, &node, &weights) else {
                continue;
            };
            let column = self.binned.column(split.feature);
            let missing = self.missing_codes[split.feature];
            let (left_rows, right_rows): (Vec<u32>, Vec<u32>) =
                node.rows.iter().partition(|&&row| {
                    let code = column[row as usize];
                    if code == missing {
                        split.default_left
                    } else {
                        code < split.cut
                    }
                });
            let left = nodes.len();
            nodes[node.index] = GrownNode::Split {
                feature: split.feature,
                cut: split.cut,
                default_left: split.default_left,
                left,
                right: left + 1,
            };
            for (offset, rows) in [(0, left_rows), (1, right_rows)] {
                let counts = self.counts(&rows, &weights);
                nodes.push(counts.leaf());
                open.push_back(OpenNode {
                    index: left + offset,
                    depth: node.depth + 1,
                    rows,
                    counts,
                });
            }
        }
        GrownTree { nodes }
    }

    fn counts(&self, rows: &[u32], weights: &[u32]) -> Counts {
        let mut counts = Counts::default();
        for &row in rows {
            let n = u64::from(weights[row as usize]);
            counts.add(Counts {
                n,
                positive: if self.positive[row as usize] { n } else { 0 },
            });
        }
        counts
    }

    /// The best Gini split of `node`, trying features in the order of their random keys
    /// (keyed by tree, node and feature) until `n_tried` features that vary at the node have
    /// been tried. Ties keep the earlier candidate (earlier feature in key order, lower bin,
    /// missing left; the present-vs-missing split last).
    fn best_split(&self, tree: usize, node: &OpenNode, weights: &[u32]) -> Option<Split> {
        let options = self.options;
        let min_leaf = options.min_samples_leaf as u64;
        let total = node.counts;
        if node.depth >= options.max_depth
            || total.n < 2 * min_leaf
            || total.positive == 0
            || total.positive == total.n
        {
            return None;
        }
        let parent_gini = total.weighted_gini();
        let n_features = self.binning.features.len();
        let mut order: Vec<(u64, usize)> = (0..n_features)
            .map(|f| {
                let key = [FEATURE_STREAM, tree as u64, node.index as u64, f as u64];
                (rng::keyed(options.seed, &key), f)
            })
            .collect();
        order.sort_unstable();
        let mut best: Option<Split> = None;
        let mut n_tried = 0;
        let mut histogram: Vec<Counts> = Vec::new();
        for (_, feature) in order {
            if n_tried == self.n_tried {
                break;
            }
            let n_slots = self.binning.features[feature].n_slots();
            histogram.clear();
            histogram.resize(n_slots, Counts::default());
            let column = self.binned.column(feature);
            for &row in &node.rows {
                let n = u64::from(weights[row as usize]);
                let slot = &mut histogram[usize::from(column[row as usize])];
                slot.n += n;
                if self.positive[row as usize] {
                    slot.positive += n;
                }
            }
            // A feature varies at the node when its rows occupy at least two slots.
            if histogram.iter().filter(|slot| slot.n > 0).count() < 2 {
                continue;
            }
            n_tried += 1;
            let (values, missing) = histogram.split_at(n_slots - 1);
            let missing = missing[0];
            let mut prefix = Counts::default();
            // Bins 0..=b left, the missing bin on either side; then, with missing rows and a
            // ceiling, every present value left and missing right (cut n).
            let top_cut = usize::from(self.binning.features[feature].top_cut());
            let last = if missing.n > 0 {
                top_cut
            } else {
                values.len() - 1
            };
            for (bin, &slot) in values.iter().enumerate().take(last) {
                // An empty bin repeats the previous candidate. (Bin 0 is kept: with missing
                // values left it is the "missing against the rest" split.)
                if slot.n == 0 && bin > 0 {
                    continue;
                }
                prefix.add(slot);
                let sides: &[bool] = if bin + 1 == values.len() {
                    &[false]
                } else if missing.n == 0 {
                    if prefix.n >= total.minus(prefix).n {
                        &[true]
                    } else {
                        &[false]
                    }
                } else {
                    &[true, false]
                };
                for &default_left in sides {
                    let mut left = prefix;
                    if default_left {
                        left.add(missing);
                    }
                    let right = total.minus(left);
                    if left.n < min_leaf || right.n < min_leaf {
                        continue;
                    }
                    let gain = parent_gini - left.weighted_gini() - right.weighted_gini();
                    if gain > MIN_SPLIT_GAIN && best.is_none_or(|b| gain > b.gain) {
                        best = Some(Split {
                            feature,
                            cut: bin as u8 + 1,
                            default_left,
                            gain,
                        });
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_engine::builder::{Condition, NodeSpec};

    #[test]
    fn bootstrap_depends_only_on_seed_and_tree() {
        let a = bootstrap_counts(3, 5, 1000, true);
        assert_eq!(a, bootstrap_counts(3, 5, 1000, true));
        assert_ne!(a, bootstrap_counts(3, 6, 1000, true));
        assert_ne!(a, bootstrap_counts(4, 5, 1000, true));
        assert_eq!(a.iter().map(|&c| u64::from(c)).sum::<u64>(), 1000);
        // About 1 - 1/e of the rows are in the bag.
        let in_bag = a.iter().filter(|&&c| c > 0).count();
        assert!((580..=680).contains(&in_bag), "{in_bag}");
        assert_eq!(bootstrap_counts(3, 5, 4, false), vec![1; 4]);
    }

    #[test]
    fn max_features_resolves_to_a_count_in_range() {
        assert_eq!(MaxFeatures::Sqrt.resolve(10), 3);
        assert_eq!(MaxFeatures::Sqrt.resolve(1), 1);
        assert_eq!(MaxFeatures::All.resolve(7), 7);
        assert_eq!(MaxFeatures::Count(9).resolve(4), 4);
    }

    /// Every feature tried, no bootstrap, leaves down to one row.
    fn exhaustive(n_trees: usize, max_depth: usize) -> ForestOptions {
        ForestOptions {
            n_trees,
            max_depth,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            bootstrap: false,
            max_bins: 256,
            seed: 0,
            threads: 1,
        }
    }

    #[test]
    fn missingness_alone_is_learned() {
        // One present value: the only split is present against missing, which is the label.
        let names = vec!["x".to_string()];
        let columns = vec![(0..40)
            .map(|i| if i % 3 == 0 { f32::NAN } else { 2.5 })
            .collect::<Vec<_>>()];
        let labels: Vec<f32> = (0..40)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let data = TrainData {
            feature_names: &names,
            columns: &columns,
            labels: &labels,
        };
        let forest = train_forest(&data, &exhaustive(2, 3)).unwrap();
        assert_eq!(forest.train_probabilities, labels);
        // Present values left below a threshold above them (so larger unseen values go with
        // the missing ones, as XGBoost sends them), missing right.
        let NodeSpec::Split {
            condition: Condition::Less(t),
            default_left,
            ..
        } = forest.spec.trees[0].nodes[0]
        else {
            panic!("no split at the root");
        };
        assert!(t > 2.5 && !default_left, "{t} {default_left}");
    }

    #[test]
    fn a_perfectly_separable_feature_gives_pure_leaves() {
        let names = vec!["x".to_string(), "noise".to_string()];
        let columns = vec![
            (0..40).map(|i| i as f32).collect::<Vec<_>>(),
            (0..40).map(|i| (i % 3) as f32).collect::<Vec<_>>(),
        ];
        let labels: Vec<f32> = (0..40).map(|i| if i >= 25 { 1.0 } else { 0.0 }).collect();
        let data = TrainData {
            feature_names: &names,
            columns: &columns,
            labels: &labels,
        };
        let forest = train_forest(&data, &exhaustive(3, 10)).unwrap();
        assert_eq!(forest.train_probabilities, labels);
    }
}

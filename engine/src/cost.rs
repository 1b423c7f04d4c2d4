//! What scoring one row of a model costs at most, and the budget a loader can hold a model to
//! (a device should refuse a model that would stall it rather than run it).
//!
//! The cost is counted while the loader checks the model's invariants, in the same pass.

use core::fmt;

/// Peak stack, in bytes, of [`crate::Model::predict`] and everything it calls, measured on
/// Cortex-M by the parity firmware (`lockstep parity --cost`: stack painting, exact to 4 bytes;
/// release profile, Debian's rustc 1.96): the largest figure over Cortex-M0, M4F and M33 and
/// every framework fixture (`tests/tests/device_parity.rs` checks each run against it).
///
/// The largest figure comes from f64 (LightGBM) models with several outputs, whose sums are
/// an array of [`crate::format::limits::MAX_OUTPUTS`] f64: 708 B on Cortex-M0, 648 B on M4F
/// and M33. Every other model needs less, and every single-output model at most 512 B (also
/// checked): measured, single-output f64 models 444 B on M0 and 392 B on M4F and M33, f32
/// (XGBoost) models of one or several outputs 256 B on M0 and 240 B on M4F and M33 (at
/// e09d43d). The deepest frames are the soft-float exponentials of
/// the output transform; `predict` works in the caller's slices, and on Cortex-M the walk and
/// the transform have frames of their own, so the peak is the larger of the two, not their
/// sum.
///
/// The walk is a loop, not a recursion, and its only buffers are fixed arrays, so its stack
/// depends on the model's kind (f32 or f64 sums, one or several outputs) but not on its trees,
/// depth or number of outputs. It does depend on the compiler and its settings: re-measure
/// when they change.
pub const PREDICT_STACK_BYTES_CORTEX_M: u32 = 708;

/// Peak stack, in bytes, of [`crate::Model::predict`] on Cortex-M for every model except f64
/// (LightGBM) models with several outputs: f32 (XGBoost) models of any number of outputs and
/// f64 models with one keep their sums in registers or the caller's slices. Measured as
/// [`PREDICT_STACK_BYTES_CORTEX_M`] is, and checked the same way; a model's own bound is
/// [`Cost::stack_bytes_max`].
pub const PREDICT_STACK_BYTES_CORTEX_M_COMMON: u32 = 512;

/// The worst-case work of scoring one row, counted at load ([`crate::Model::cost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cost {
    /// Trees.
    pub trees: u64,
    /// Nodes in all trees.
    pub nodes: u64,
    /// The deepest tree's depth (edges on its longest root-to-leaf path).
    pub depth_max: u16,
    /// Most nodes one row can visit: over all trees, the sum of depth + 1.
    pub node_visits_max: u64,
    /// Features the linear pass visits: all of them when the model has linear or level terms,
    /// else none.
    pub linear_terms: u64,
    /// Level codes in all level terms (a row compares against at most all of them).
    pub level_codes: u64,
    /// Work items of one score at most: `node_visits_max + linear_terms + level_codes`.
    pub work_items_max: u64,
    /// Stack of one score on Cortex-M, in bytes, for this model's kind:
    /// [`PREDICT_STACK_BYTES_CORTEX_M`] for an f64 model with several outputs,
    /// [`PREDICT_STACK_BYTES_CORTEX_M_COMMON`] for every other.
    pub stack_bytes_max: u32,
}

impl Cost {
    /// Adds one tree of depth `depth` and `nodes` nodes.
    pub(crate) fn add_tree(&mut self, depth: u16, nodes: usize) {
        self.trees = self.trees.saturating_add(1);
        self.nodes = self.nodes.saturating_add(nodes as u64);
        self.depth_max = self.depth_max.max(depth);
        self.node_visits_max = self.node_visits_max.saturating_add(u64::from(depth) + 1);
    }

    /// Fills in the totals once every tree and term is counted; `f64_sums_array` says the
    /// model keeps several f64 sums (an f64 model with more than one output).
    pub(crate) fn finish(mut self, f64_sums_array: bool) -> Cost {
        self.work_items_max = self
            .node_visits_max
            .saturating_add(self.linear_terms)
            .saturating_add(self.level_codes);
        self.stack_bytes_max = if f64_sums_array {
            PREDICT_STACK_BYTES_CORTEX_M
        } else {
            PREDICT_STACK_BYTES_CORTEX_M_COMMON
        };
        self
    }
}

/// Limits a loader holds a model to ([`crate::Model::from_bytes_with_budget`]). Start from
/// [`Budget::UNLIMITED`] and lower what matters:
///
/// ```
/// use lockstep_engine::{Budget, BudgetItem, Error, Model};
///
/// static MODEL: &[u8] =
///     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
///
/// let budget = Budget { max_work_items: 4, ..Budget::UNLIMITED };
/// // Trees of depth 2 and 1: a row visits at most 3 + 2 nodes.
/// assert_eq!(
///     Model::from_bytes_with_budget(MODEL, &budget).err(),
///     Some(Error::OverBudget { item: BudgetItem::WorkItems, found: 5, limit: 4 })
/// );
/// let model = Model::from_bytes_with_budget(MODEL, &Budget { max_work_items: 5, ..budget })?;
/// assert_eq!(model.cost().work_items_max, 5);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Budget {
    /// Most bytes of the blob (checked before its checksum is computed).
    pub max_bytes: u64,
    /// Most trees.
    pub max_trees: u64,
    /// Most nodes in all trees.
    pub max_nodes: u64,
    /// Most work items of one score ([`Cost::work_items_max`]).
    pub max_work_items: u64,
}

impl Budget {
    /// No limit beyond the format's own ([`crate::format::limits`]): what
    /// [`crate::Model::from_bytes`] applies.
    pub const UNLIMITED: Budget = Budget {
        max_bytes: u64::MAX,
        max_trees: u64::MAX,
        max_nodes: u64::MAX,
        max_work_items: u64::MAX,
    };

    /// `Err(OverBudget)` if `found` exceeds `limit`.
    pub(crate) fn check(item: BudgetItem, found: u64, limit: u64) -> Result<(), crate::Error> {
        if found > limit {
            Err(crate::Error::OverBudget { item, found, limit })
        } else {
            Ok(())
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::UNLIMITED
    }
}

/// Which limit of a [`Budget`] a model exceeds.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BudgetItem {
    /// [`Budget::max_bytes`].
    Bytes,
    /// [`Budget::max_trees`].
    Trees,
    /// [`Budget::max_nodes`].
    Nodes,
    /// [`Budget::max_work_items`].
    WorkItems,
}

impl fmt::Display for BudgetItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetItem::Bytes => "bytes",
            BudgetItem::Trees => "trees",
            BudgetItem::Nodes => "nodes",
            BudgetItem::WorkItems => "work items per score",
        })
    }
}

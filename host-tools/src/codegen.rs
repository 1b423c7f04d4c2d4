//! `lockstep codegen`: a compiled model as a self-contained Rust module that computes exactly
//! the engine's outputs for that model, for firmware that wants the last instruction.
//!
//! The emitted module is `no_std`-clean, allocates nothing, has no `unsafe`, cannot panic and
//! indexes nothing that can fail (it takes `&[f32; N_FEATURES]`). It walks each tree as nested
//! `if`/`else` with the leaves as constants, sums them in the engine's order in the model's
//! precision (tree order per output, the base margin first or last as [`BaseOrder`] says) in a
//! function of its own that returns them (so its frame is popped before the transform's is
//! pushed: the peak stack is the larger of the two), and `predict` hands the sums to
//! `lockstep_engine::compiled` for the output transform (the exact `expf`
//! and `exp` live there only), with the order keys and the category rule from the same module;
//! it depends on `lockstep-engine` for nothing else.
//!
//! `predict_batch(rows, margins, outputs)` scores many rows with the same bits per row. It takes
//! rows in blocks of `BLOCK` (on a host 256 rows, fewer when they would take more than 8 KB of
//! stack, but at least 8; 4 on a microcontroller): first each row's codes into a record (`Codes`, the codes in
//! their narrowest integer type), then each group of trees (about 1,024 nodes, emitted as a
//! function of its own) walks every row of the block, adding into that row's sums, which the next
//! group continues: each row's sums see the trees in tree order, so the bits are `predict`'s; then
//! the transform per row. A group's code stays in the instruction cache while it serves the whole
//! block, where `predict` streams every tree's code per row (the whole model's code for a large
//! one). The block lives on the stack: `BLOCK` records and sums (`BLOCK` x (record + 4 or 8 bytes
//! per output): 7.4 KB for the compare models on a host, about 120 bytes on a microcontroller).
//! Slices of unequal lengths: the rows all three have are scored, the rest left as they are. A
//! model of at most [`SMALL_MODEL_NODES`] nodes, whose code stays in the cache anyway, gets a loop
//! of `predict` instead (faster there). The single-row path is emitted as before (its code and
//! device figures do not change); the trees are emitted twice, so the module is about twice as
//! long.
//!
//! How a split is decided without a float comparison. Per feature, the distinct thresholds of
//! its numeric splits, sorted (t_0 < ... < t_{m-1}), define a code per row:
//! `code(x) = #{ i : t_i <= x }`, found once per row by a branch-light binary search over the
//! thresholds' integer order keys (`compiled::order_key`: `x < t` exactly when
//! `key(x) < key(t)`, the Cortex-M0 walk's own trick). Then `x < t_j` exactly when
//! `code(x) <= j`, an integer compared with a small constant. Missing values fold into the
//! code: a split whose missing values go left reads a code that is 0 for them, one whose go
//! right a code that is m; LightGBM's zero-as-missing also maps `|x| <= 1e-35` there, and its
//! NaN-as-zero uses `code(0.0)`. A feature with few splits per row is not binned: its splits
//! compare `order_key(x)` with the threshold's key, missing values folded the same way (the
//! key `i32::MIN` or `i32::MAX`). Categorical splits test the framework's category of `x`
//! against a bitset constant, after the same missing rules as the engine's general walk.
//!
//! Refused: models with linear or per-level terms (logistic regressions), which have no trees
//! to compile; score those through the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use lockstep_engine::compiled::order_key;
use lockstep_engine::format::{Aggregation, BaseOrder, MissingMode, Numerics, Objective};
use lockstep_engine::view::{NodeView, SplitTest, TreeView};
use lockstep_engine::Model;

use crate::inspect::hex;

/// Why a model cannot be compiled to code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The model carries linear terms (a logistic or linear regression).
    #[error(
        "the model has linear terms (a regression, not a tree ensemble); codegen compiles trees \
         only: score this model through the engine (the .lsm on the device, Model::predict)"
    )]
    LinearTerms,
    /// The model carries per-level linear terms.
    #[error(
        "the model has per-level (one-hot) linear terms; codegen compiles trees only: score this \
         model through the engine (the .lsm on the device, Model::predict)"
    )]
    LevelTerms,
    /// A tree's node could not be read (the model view ended early).
    #[error("tree {tree} has no node {node}; the model is damaged, recompile it")]
    MissingNode {
        /// Tree index.
        tree: usize,
        /// Node index within the tree.
        node: usize,
    },
}

/// What the header of the emitted module records besides the model, and how its
/// `predict_batch` walks.
#[derive(Debug, Clone, Default)]
pub struct CodegenOptions {
    /// The command that generated the module, as the header shows it.
    pub command: String,
    /// How `predict_batch` walks the trees.
    pub batch: BatchWalk,
}

/// How the emitted `predict_batch` walks the trees (the bits are the same either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchWalk {
    /// Blocks of rows for models of more than [`SMALL_MODEL_NODES`] nodes, rows one at a time
    /// for smaller ones (what `lockstep codegen` writes).
    #[default]
    Auto,
    /// Blocks of rows, each group of trees over a whole block, whatever the model's size.
    Blocks,
    /// Rows one at a time through `predict`.
    Rows,
}

/// How a numeric split treats a missing value, which picks the code variant it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    /// NaN goes left: NaN reads code 0.
    NanLeft,
    /// NaN goes right: NaN reads code m.
    NanRight,
    /// NaN and |x| <= 1e-35 go left (LightGBM zero-as-missing).
    ZeroLeft,
    /// NaN and |x| <= 1e-35 go right.
    ZeroRight,
    /// NaN is scored as 0.0 (LightGBM missing type None).
    NanAsZero,
}

impl Variant {
    fn of(missing: MissingMode, default_left: bool) -> Variant {
        match (missing, default_left) {
            (MissingMode::NanDefault, true) => Variant::NanLeft,
            (MissingMode::NanDefault, false) => Variant::NanRight,
            (MissingMode::ZeroOrNanDefault, true) => Variant::ZeroLeft,
            (MissingMode::ZeroOrNanDefault, false) => Variant::ZeroRight,
            (MissingMode::NanAsZero, _) => Variant::NanAsZero,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Variant::NanLeft => "l",
            Variant::NanRight => "r",
            Variant::ZeroLeft => "zl",
            Variant::ZeroRight => "zr",
            Variant::NanAsZero => "n0",
        }
    }
}

/// What one feature's splits need computed per row.
#[derive(Debug, Default)]
struct FeaturePlan {
    /// Distinct threshold keys of its numeric splits, sorted.
    keys: BTreeSet<i32>,
    /// Code variants its numeric splits read.
    variants: BTreeSet<Variant>,
    /// Whether a categorical split reads it.
    categorical: bool,
    /// Whether some split on it uses LightGBM's zero-as-missing.
    zero_missing: bool,
    /// Its numeric splits a row is expected to evaluate (each node weighted 2^-depth).
    visits: f64,
}

/// A feature is binned when a row is expected to evaluate more of its splits than this many
/// per step of its binary search; the others compare order keys with 32-bit constants. A step
/// costs about five instructions on Cortex-M and a binned split saves one or two (a small
/// immediate instead of a constant to materialise), but measured on the compare models
/// (XGBoost 100x3 and 300x6, `lockstep parity --cost`) binning nearly every feature wins on
/// the Cortex-M4F (1.0: 1,926 and 6,584 instructions; 5.0: 1,995 and 6,714), and the
/// Cortex-M0 barely moves (13,600 / 38,443 against 13,510 / 38,427).
const SEARCH_STEP_INSTRUCTIONS: f64 = 1.0;

/// Nodes per group of trees in the batch walk (`predict_batch`): a group is a function that
/// walks its trees over a whole block of rows. Measured on the compare models (host, one
/// thread; rows/s of `predict_batch` over a loop of `predict` in the same process): XGBoost
/// 300x6, 64-row blocks: 512 nodes 1.31x, 1024 1.28-1.34x, 2048 1.26x; 16-row blocks: 256
/// nodes 1.08x, 1024 1.16x, 4096 1.13x, every tree in one group 1.00x; XGBoost 1000x8, 64-row
/// blocks: 1024 nodes 1.55-1.61x, 4096 1.32x. (A loop over the block per tree instead of per
/// group, 300x6: 1.00x.)
const GROUP_NODES: usize = 1024;

/// Rows per block of the batch walk on a host, at most. Measured as [`GROUP_NODES`],
/// 1024-node groups: XGBoost 300x6 4 rows 0.98x, 16 1.16x, 32 1.37x, 64 1.28-1.34x, 128 1.38x,
/// 256 1.36x; XGBoost 1000x8 16 rows 1.16x, 32 1.36-1.38x, 64 1.55-1.61x, 128 1.72-1.76x, 256
/// 1.83-1.84x.
const BLOCK_ROWS: usize = 256;

/// Bytes of stack a host block (its records and sums) may take: the block has fewer rows
/// (down to [`BLOCK_ROWS_MIN`]) when its rows would take more. The compare models' rows take
/// 29 bytes (25 one-byte codes and an f32 sum): 256 rows, 7.4 KB.
const BLOCK_BYTES: usize = 8 * 1024;

/// Rows per block on a host, at least.
const BLOCK_ROWS_MIN: usize = 8;

/// Models of at most this many nodes get no batch walk: their `predict_batch` is a loop of
/// `predict`, which is faster while the whole model's code stays in the instruction cache.
/// Measured as `GROUP_NODES` (the batch walk over a loop of `predict`): XGBoost 100x3 (1,426
/// nodes) 0.73-0.75x, LightGBM 100 trees (6,100 nodes) 0.94-0.96x, XGBoost 300x6 (18,686
/// nodes) 1.28-1.38x, LightGBM 500 trees (30,500 nodes) 1.20x.
pub const SMALL_MODEL_NODES: usize = 8192;

/// Rows per block of the batch walk on a microcontroller (`target_os = "none"`): no
/// instruction cache to keep, so a block only has to keep the stack small.
const BLOCK_ROWS_DEVICE: usize = 4;

/// The emitted Rust module for `model`.
pub fn generate(model: &Model<'_>, options: &CodegenOptions) -> Result<String, CodegenError> {
    if model.has_linear_terms() {
        return Err(CodegenError::LinearTerms);
    }
    if model.has_level_terms() {
        return Err(CodegenError::LevelTerms);
    }
    let trees: Vec<TreeView<'_>> = model.trees().collect();
    let mut plans: BTreeMap<usize, FeaturePlan> = BTreeMap::new();
    for tree in &trees {
        // Depths follow from the breadth-first layout: children after parents.
        let mut depths = vec![0u32; tree.n_nodes()];
        for (index, node) in tree.nodes().enumerate() {
            let depth = depths.get(index).copied().unwrap_or(0);
            if let NodeView::Split { left, .. } = node {
                for child in [left, left + 1] {
                    if let Some(d) = depths.get_mut(child) {
                        *d = depth + 1;
                    }
                }
            }
            if let NodeView::Split {
                feature,
                test,
                missing,
                default_left,
                ..
            } = node
            {
                let plan = plans.entry(feature).or_default();
                plan.zero_missing |= missing == MissingMode::ZeroOrNanDefault;
                match test {
                    SplitTest::Less(t) => {
                        plan.visits += 0.5f64.powi(depth.min(1000) as i32);
                        plan.keys.insert(order_key(t));
                        plan.variants.insert(Variant::of(missing, default_left));
                    }
                    SplitTest::Categories(_) => plan.categorical = true,
                }
            }
        }
    }
    // Binned features: their sorted threshold keys. The others compare order keys directly.
    let sorted: BTreeMap<usize, Vec<i32>> = plans
        .iter()
        .filter(|(_, plan)| {
            let steps = (plan.keys.len() + 1).next_power_of_two().trailing_zeros();
            !plan.keys.is_empty() && plan.visits > SEARCH_STEP_INSTRUCTIONS * f64::from(steps)
        })
        .map(|(&f, plan)| (f, plan.keys.iter().copied().collect()))
        .collect();

    let f64_model = model.numerics().is_f64();
    let float = if f64_model { "f64" } else { "f32" };
    let n_outputs = model.n_outputs();
    let mut out = String::new();
    header(&mut out, model, &trees, options);

    // Tables: threshold keys per feature, category sets per categorical split.
    let mut tables = String::new();
    for (feature, keys) in &sorted {
        if keys.is_empty() {
            continue;
        }
        let slots = (keys.len() + 1).next_power_of_two();
        let _ = write!(
            tables,
            "/// Order keys of feature {feature}'s {} thresholds, sorted, padded with i32::MAX.\n\
             static K{feature}: [i32; {slots}] = [",
            keys.len()
        );
        for (i, key) in keys
            .iter()
            .copied()
            .chain(std::iter::repeat(i32::MAX))
            .take(slots)
            .enumerate()
        {
            let _ = write!(tables, "{}{key}", if i == 0 { "" } else { ", " });
        }
        tables.push_str("];\n");
    }

    // The walk: per-row codes, then every tree in order. `fields` collects the codes a split
    // reads (name, type), the batch walk's per-row record.
    let mut body = String::new();
    let mut fields: Vec<(String, &str)> = Vec::new();
    for (&feature, plan) in &plans {
        let keys = sorted.get(&feature).map_or(&[][..], Vec::as_slice);
        let _ = writeln!(body, "let x{feature} = features[{feature}];");
        let _ = writeln!(
            body,
            "let nan{feature} = x{feature}.to_bits() & 0x7fff_ffff > 0x7f80_0000;"
        );
        if plan.zero_missing {
            let _ = writeln!(
                body,
                "let small{feature} = nan{feature} | (x{feature}.to_bits() & 0x7fff_ffff <= \
                 lockstep_engine::format::ZERO_MISSING_BOUND.to_bits());"
            );
        }
        if !keys.is_empty() {
            let m = keys.len();
            // u32 whatever m: narrower codes cost a zero-extension per split on Arm.
            let code_type = "u32";
            let slots = (m + 1).next_power_of_two();
            let _ = writeln!(
                body,
                "let k{feature} = compiled::order_key(x{feature});\nlet mut b{feature} = 0usize;"
            );
            let mut step = slots / 2;
            while step > 0 {
                let _ = writeln!(
                    body,
                    "b{feature} = step(&K{feature}, b{feature}, {step}, k{feature});"
                );
                step /= 2;
            }
            let _ = writeln!(body, "let b{feature} = b{feature} as {code_type};");
            for variant in &plan.variants {
                let name = format!("c{feature}{}", variant.suffix());
                let value = match variant {
                    Variant::NanLeft => format!("if nan{feature} {{ 0 }} else {{ b{feature} }}"),
                    Variant::NanRight => {
                        format!("if nan{feature} {{ {m} }} else {{ b{feature} }}")
                    }
                    Variant::ZeroLeft => {
                        format!("if small{feature} {{ 0 }} else {{ b{feature} }}")
                    }
                    Variant::ZeroRight => {
                        format!("if small{feature} {{ {m} }} else {{ b{feature} }}")
                    }
                    Variant::NanAsZero => {
                        let zero = keys.partition_point(|&k| k <= order_key(0.0));
                        format!("if nan{feature} {{ {zero} }} else {{ b{feature} }}")
                    }
                };
                let _ = writeln!(body, "let {name}: {code_type} = {value};");
                // The batch record keeps codes in the narrowest type (loads zero-extend).
                let narrow = if m <= 0xff {
                    "u8"
                } else if m <= 0xffff {
                    "u16"
                } else {
                    "u32"
                };
                fields.push((name, narrow));
            }
        } else if !plan.keys.is_empty() {
            // Keys compared directly: a missing value's key is below (left) or above (right)
            // every threshold's, or 0.0's for NaN-as-zero.
            let _ = writeln!(body, "let k{feature} = compiled::order_key(x{feature});");
            for variant in &plan.variants {
                let value = match variant {
                    Variant::NanLeft => {
                        format!("if nan{feature} {{ i32::MIN }} else {{ k{feature} }}")
                    }
                    Variant::NanRight => {
                        format!("if nan{feature} {{ i32::MAX }} else {{ k{feature} }}")
                    }
                    Variant::ZeroLeft => {
                        format!("if small{feature} {{ i32::MIN }} else {{ k{feature} }}")
                    }
                    Variant::ZeroRight => {
                        format!("if small{feature} {{ i32::MAX }} else {{ k{feature} }}")
                    }
                    Variant::NanAsZero => format!(
                        "if nan{feature} {{ {} }} else {{ k{feature} }}",
                        order_key(0.0)
                    ),
                };
                let _ = writeln!(body, "let d{feature}{}: i32 = {value};", variant.suffix());
                fields.push((format!("d{feature}{}", variant.suffix()), "i32"));
            }
        }
        if plan.categorical {
            let _ = writeln!(
                body,
                "let cat{feature} = compiled::category(NUMERICS, x{feature});\n\
                 let catz{feature} = if nan{feature} {{ compiled::category(NUMERICS, 0.0) }} else {{ cat{feature} }};"
            );
            fields.push((format!("nan{feature}"), "bool"));
            if plan.zero_missing {
                fields.push((format!("small{feature}"), "bool"));
            }
            fields.push((format!("cat{feature}"), "Option<u32>"));
            fields.push((format!("catz{feature}"), "Option<u32>"));
        }
    }

    let codes_body = body.clone();

    let base = |output: usize| -> String {
        let value = model.base_margin(output);
        if f64_model {
            literal_f64(value)
        } else {
            literal_f32(value as f32)
        }
    };
    let base_first = model.base_order() == BaseOrder::First;
    let starts: Vec<String> = (0..n_outputs)
        .map(|output| {
            if base_first {
                base(output)
            } else if f64_model {
                "0.0_f64".into()
            } else {
                "0.0_f32".into()
            }
        })
        .collect();
    for (output, start) in starts.iter().enumerate() {
        let _ = writeln!(body, "let mut s{output}: {float} = {start};");
    }
    let single = Emit {
        sorted: &sorted,
        numerics: model.numerics(),
        codes: "",
    };
    let batch = Emit {
        codes: "c.",
        ..single
    };
    let sums: Vec<String> = (0..n_outputs).map(|o| format!("s{o}")).collect();
    let sums = sums.join(", ");
    let mut_sums: Vec<String> = (0..n_outputs).map(|o| format!("mut s{o}")).collect();
    let mut_sums = mut_sums.join(", ");
    let row_loop_open =
        format!("for (c, s) in codes.iter().zip(sums.iter_mut()) {{\nlet [{mut_sums}] = *s;\n");
    let row_loop_close = format!("*s = [{sums}];\n}}\n");
    let mut sets = Vec::new();
    let mut batch_sets = Vec::new();
    // The batch walk's trees in groups of about GROUP_NODES nodes: (first tree, last tree, code).
    let mut groups: Vec<(usize, usize, String)> = Vec::new();
    let mut group_size = 0usize;
    for (index, tree) in trees.iter().enumerate() {
        let _ = writeln!(body, "// tree {index}");
        emit_node(&mut body, &single, tree, index, 0, &mut sets)?;
        body.push('\n');

        if groups.is_empty() || group_size > 0 && group_size + tree.n_nodes() > GROUP_NODES {
            groups.push((index, index, String::new()));
            group_size = 0;
        }
        if let Some((_, last, code)) = groups.last_mut() {
            *last = index;
            group_size += tree.n_nodes();
            let _ = writeln!(code, "// tree {index}");
            emit_node(code, &batch, tree, index, 0, &mut batch_sets)?;
            code.push('\n');
        }
    }
    if !base_first {
        for output in 0..n_outputs {
            let _ = writeln!(body, "s{output} += {};", base(output));
        }
    }
    for (index, words) in sets.iter().enumerate() {
        let _ = write!(tables, "static S{index}: [u32; {}] = [", words.len());
        for (i, word) in words.iter().enumerate() {
            let _ = write!(tables, "{}0x{word:08x}", if i == 0 { "" } else { ", " });
        }
        tables.push_str("];\n");
    }

    out.push_str(&tables);
    out.push('\n');
    out.push_str(HELPERS);
    // The walk is a function of its own that returns the sums: its frame (the per-row codes
    // spilled on a Cortex-M0) is gone before the transform's is pushed, so the peak stack is
    // the larger of the two, not their sum.
    let _ = writeln!(
        out,
        "\n/// The margins before the transform: the trees' leaves added in the engine's order.\n\
         #[inline(never)]\n#[allow(unused_variables, clippy::all)]\nfn sums(features: &[f32; \
         N_FEATURES]) -> [{float}; N_OUTPUTS] {{"
    );
    out.push_str(&body);
    let _ = writeln!(out, "[{sums}]\n}}");
    let _ = writeln!(
        out,
        "\n/// Scores one row (NaN means missing): `margins` gets the raw sums, `outputs` the \
         transformed values,\n/// bit for bit what `lockstep_engine::Model::predict` writes for \
         this model.\npub fn predict(features: &[f32; N_FEATURES], margins: &mut [f32; \
         N_OUTPUTS], outputs: &mut [f32; N_OUTPUTS]) {{"
    );
    if f64_model {
        let _ = writeln!(
            out,
            "let mut sums = sums(features);\ncompiled::finish_f64(&TRANSFORM, &mut sums, margins, outputs);\n}}"
        );
    } else {
        let _ = writeln!(
            out,
            "*margins = sums(features);\ncompiled::finish_f32(&TRANSFORM, margins, outputs);\n}}"
        );
    }

    let n_nodes: usize = trees.iter().map(TreeView::n_nodes).sum();
    let rows = match options.batch {
        BatchWalk::Auto => n_nodes <= SMALL_MODEL_NODES,
        BatchWalk::Blocks => false,
        BatchWalk::Rows => true,
    };
    if rows {
        // The whole model's code stays in the instruction cache: one row at a time is faster.
        let _ = writeln!(
            out,
            "\n/// Scores rows (NaN means missing) as [`predict`] scores each, bit for bit: `margins[i]` \
             and\n/// `outputs[i]` get row `i`'s. The model is small, so rows are scored one at a \
             time. When the\n/// lengths differ, the rows all three have are scored and the rest \
             left as they are.\npub fn predict_batch(\n    rows: &[[f32; N_FEATURES]],\n    \
             margins: &mut [[f32; N_OUTPUTS]],\n    outputs: &mut [[f32; N_OUTPUTS]],\n) {{\n    \
             for ((row, m), o) in rows.iter().zip(margins.iter_mut()).zip(outputs.iter_mut()) {{\n        \
             predict(row, m, o);\n    }}\n}}"
        );
        return Ok(out);
    }
    // The batch walk: a record of each row's codes, trees in groups over a block of rows.
    let host_block = host_block_rows(row_bytes(&fields, n_outputs, f64_model));
    let _ = writeln!(
        out,
        "\n/// Rows per block of [`predict_batch`]: on a host, enough rows that each group of trees,\n\
         /// its code loaded into the instruction cache once per block, serves many (as many as\n\
         /// fit 8 KB of stack, at least 8 and at most 256); on a microcontroller (no instruction cache to keep)\n\
         /// a few, so the block's records stay small on the stack.\n#[cfg(not(target_os = \"none\"))]\nconst BLOCK: usize = \
         {host_block};\n#[cfg(target_os = \"none\")]\nconst BLOCK: usize = \
         {BLOCK_ROWS_DEVICE};\n\n\
         /// One row's split codes (what `sums` computes first): the batch walk's record of a row.\n\
         #[derive(Clone, Copy)]\nstruct Codes {{"
    );
    for (name, ty) in &fields {
        let _ = writeln!(out, "    {name}: {ty},");
    }
    let _ = writeln!(out, "}}\n\nconst NO_CODES: Codes = Codes {{");
    for (name, ty) in &fields {
        let zero = match *ty {
            "bool" => "false",
            "Option<u32>" => "None",
            _ => "0",
        };
        let _ = writeln!(out, "    {name}: {zero},");
    }
    let _ = writeln!(
        out,
        "}};\n\n/// A row's codes.\n#[inline(always)]\n#[allow(unused_variables, clippy::all)]\n\
         fn codes(features: &[f32; N_FEATURES]) -> Codes {{"
    );
    out.push_str(&codes_body);
    let values: Vec<String> = fields
        .iter()
        .map(|(name, ty)| match *ty {
            "u8" | "u16" => format!("{name}: {name} as {ty}"),
            _ => name.clone(),
        })
        .collect();
    let _ = writeln!(out, "Codes {{ {} }}\n}}", values.join(", "));
    for (g, (first, last, code)) in groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n/// Trees {first} to {last} for every row of a block, each row's sums in tree order.\n\
             #[inline(never)]\n#[allow(unused_mut, unused_variables, clippy::all)]\n\
             fn group{g}(codes: &[Codes], sums: &mut [[{float}; N_OUTPUTS]]) {{"
        );
        out.push_str(&row_loop_open);
        out.push_str(code);
        out.push_str(&row_loop_close);
        out.push_str("}\n");
    }
    let _ = writeln!(
        out,
        "\n/// Scores rows (NaN means missing) as [`predict`] scores each, bit for bit: `margins[i]` \
         and\n/// `outputs[i]` get row `i`'s. Rows are taken in blocks of [`BLOCK`]: each row's codes \
         once, then\n/// each group of trees for the whole block (so its code stays in cache). When \
         the lengths differ,\n/// the rows all three have are scored and the rest left as they \
         are.\npub fn predict_batch(\n    rows: &[[f32; N_FEATURES]],\n    margins: &mut [[f32; \
         N_OUTPUTS]],\n    outputs: &mut [[f32; N_OUTPUTS]],\n) {{\n    for ((rows, margins), \
         outputs) in rows\n        .chunks(BLOCK)\n        .zip(margins.chunks_mut(BLOCK))\n        \
         .zip(outputs.chunks_mut(BLOCK))\n    {{\n        let n = \
         rows.len().min(margins.len()).min(outputs.len());\n        let mut block = [NO_CODES; \
         BLOCK];\n        for (c, row) in block.iter_mut().zip(rows) {{\n            *c = \
         codes(row);\n        }}\n        let mut sums = [[{}]; BLOCK];\n        if let \
         (Some(codes), Some(sums)) = (block.get(..n), sums.get_mut(..n)) {{",
        starts.join(", ")
    );
    for g in 0..groups.len() {
        let _ = writeln!(out, "            group{g}(codes, sums);");
    }
    let _ = writeln!(
        out,
        "        }}\n        for ((s, m), o) in sums.iter().zip(margins.iter_mut()).zip(outputs.iter_mut()).take(n) {{\n            \
         let [{}] = *s;",
        if base_first { &sums } else { &mut_sums }
    );
    if !base_first {
        for output in 0..n_outputs {
            let _ = writeln!(out, "            s{output} += {};", base(output));
        }
    }
    if f64_model {
        let _ = writeln!(
            out,
            "            let mut s = [{sums}];\n            compiled::finish_f64(&TRANSFORM, &mut s, m, o);"
        );
    } else {
        let _ = writeln!(
            out,
            "            *m = [{sums}];\n            compiled::finish_f32(&TRANSFORM, m, o);"
        );
    }
    out.push_str("        }\n    }\n}\n");
    Ok(out)
}

/// Rows per block on a host for rows of `row_bytes` bytes: as many as [`BLOCK_BYTES`] holds,
/// from [`BLOCK_ROWS_MIN`] to [`BLOCK_ROWS`].
fn host_block_rows(row_bytes: usize) -> usize {
    (BLOCK_BYTES / row_bytes.max(1)).clamp(BLOCK_ROWS_MIN, BLOCK_ROWS)
}

/// Bytes of stack one row of a batch block takes: its record (`Codes`, laid out as rustc may:
/// the fields' sizes rounded up to the largest alignment) and its sums.
fn row_bytes(fields: &[(String, &str)], n_outputs: usize, f64_model: bool) -> usize {
    let (size, align) = fields
        .iter()
        .fold((0usize, 1usize), |(size, align), (_, ty)| {
            let (s, a) = match *ty {
                "u8" | "bool" => (1, 1),
                "u16" => (2, 2),
                "Option<u32>" => (8, 4),
                _ => (4, 4),
            };
            (size + s, usize::max(align, a))
        });
    size.div_ceil(align) * align + n_outputs * if f64_model { 8 } else { 4 }
}

/// The model SHA-256 (hex) a generated module declares (`MODEL_SHA256_HEX`), if `code` is one.
pub fn declared_model_sha256(code: &str) -> Option<String> {
    let rest = code.split("pub const MODEL_SHA256_HEX: &str = \"").nth(1)?;
    let hex = rest.get(..64)?;
    (hex.bytes().all(|b| b.is_ascii_hexdigit()) && rest.get(64..65) == Some("\""))
        .then(|| hex.to_string())
}

/// Small functions every emitted module carries.
const HELPERS: &str =
    "/// One step of the binary search over a feature's threshold keys: moves `i` up by `step`
/// when the key there is at most `key`. `P` is a power of two, so the index is always in range.
#[inline(always)]
fn step<const P: usize>(keys: &[i32; P], i: usize, step: usize, key: i32) -> usize {
    match keys.get((i + step - 1) & (P - 1)) {
        Some(&t) if t <= key => i + step,
        _ => i,
    }
}

/// Whether `category` is a member of the bitset `words` (bit c % 32 of word c / 32).
#[allow(dead_code)]
#[inline(always)]
fn member(words: &[u32], category: Option<u32>) -> bool {
    match category {
        Some(c) => words.get((c / 32) as usize).is_some_and(|w| (w >> (c % 32)) & 1 == 1),
        None => false,
    }
}
";

/// The module's header, constants and imports.
fn header(out: &mut String, model: &Model<'_>, trees: &[TreeView<'_>], options: &CodegenOptions) {
    let sha = hex(&model.checksum());
    let label: String = model.label().escape_debug().collect();
    let command: String = options.command.escape_debug().collect();
    let _ = writeln!(
        out,
        "//! Generated by `lockstep codegen`; do not edit. Regenerate from the model instead.\n\
         //!\n\
         //! model:   SHA-256 {sha}\n\
         //!          label \"{label}\", {} trees, {} features, {} outputs\n\
         //! engine:  lockstep-engine {} (the output transform is `lockstep_engine::compiled`)\n\
         //! command: {command}\n\
         //!\n\
         //! `predict` (one row) and `predict_batch` (rows in blocks) write exactly the bits\n\
         //! `lockstep_engine::Model::predict` writes for this model, without allocating or\n\
         //! panicking.\n\
         #![forbid(unsafe_code)]\n\
         #![allow(clippy::all, dead_code)]\n\
         \n\
         use lockstep_engine::compiled::{{self, OutputTransform}};\n\
         use lockstep_engine::format::{{Aggregation, Numerics, Objective}};\n",
        trees.len(),
        model.n_features(),
        model.n_outputs(),
        env!("CARGO_PKG_VERSION"),
    );
    let _ = writeln!(
        out,
        "/// Features per row.\npub const N_FEATURES: usize = {};\n\
         /// Outputs per row (margins, and as many transformed outputs).\npub const N_OUTPUTS: usize = {};\n\
         /// The SHA-256 of the model this module computes (its identity, as `lockstep inspect` shows it).\n\
         pub const MODEL_SHA256: [u8; 32] = {:?};\n\
         /// [`MODEL_SHA256`] in hex.\npub const MODEL_SHA256_HEX: &str = \"{sha}\";\n\
         /// The version of `lockstep codegen` (and its engine) that generated this module.\n\
         pub const GENERATOR_VERSION: &str = \"{}\";\n",
        model.n_features(),
        model.n_outputs(),
        model.checksum(),
        env!("CARGO_PKG_VERSION"),
    );
    let trees_per_output = trees.iter().filter(|t| t.output() == 0).count();
    let _ = writeln!(
        out,
        "const NUMERICS: Numerics = {};\n\
         const TRANSFORM: OutputTransform = OutputTransform {{\n    objective: Objective::{},\n    \
         numerics: NUMERICS,\n    aggregation: Aggregation::{},\n    trees_per_output: {trees_per_output},\n}};\n",
        numerics_expr(model.numerics()),
        objective_name(model.objective()),
        match model.aggregation() {
            Aggregation::Sum => "Sum",
            Aggregation::Mean => "Mean",
        },
    );
}

fn numerics_expr(numerics: Numerics) -> String {
    match numerics {
        Numerics::XgboostLegacy => "Numerics::XgboostLegacy".into(),
        Numerics::Xgboost => "Numerics::Xgboost".into(),
        Numerics::Lightgbm { sigmoid } => format!(
            "Numerics::Lightgbm {{ sigmoid: f64::from_bits(0x{:016x}) }}",
            sigmoid.to_bits()
        ),
    }
}

fn objective_name(objective: Objective) -> &'static str {
    match objective {
        Objective::Regression => "Regression",
        Objective::BinaryLogistic => "BinaryLogistic",
        Objective::MulticlassSoftmax => "MulticlassSoftmax",
        Objective::MulticlassOneVsRest => "MulticlassOneVsRest",
        Objective::BinaryProbability => "BinaryProbability",
    }
}

/// An exact f32 literal (Rust prints the shortest text that reads back to the same value).
fn literal_f32(value: f32) -> String {
    format!("{value:?}_f32")
}

/// An exact f64 literal.
fn literal_f64(value: f64) -> String {
    format!("{value:?}_f64")
}

/// What emitting a tree's code needs besides the tree.
struct Emit<'a> {
    /// Binned features' sorted threshold keys.
    sorted: &'a BTreeMap<usize, Vec<i32>>,
    /// The model's arithmetic.
    numerics: Numerics,
    /// What names a row's codes: `""` for the single-row walk's locals, `"c."` for the batch
    /// walk's record.
    codes: &'a str,
}

/// Emits node `index` of `tree` (tree number `tree_index`) as a statement: a leaf adds its
/// value to its output's sum, a split is `if <goes left> { left } else { right }`. A
/// categorical split's bitset is appended to `sets` (named by its position there).
fn emit_node(
    out: &mut String,
    emit: &Emit<'_>,
    tree: &TreeView<'_>,
    tree_index: usize,
    index: usize,
    sets: &mut Vec<Vec<u32>>,
) -> Result<(), CodegenError> {
    let node = tree.node(index).ok_or(CodegenError::MissingNode {
        tree: tree_index,
        node: index,
    })?;
    let c = emit.codes;
    match node {
        NodeView::Leaf { value } => {
            let value = if emit.numerics.is_f64() {
                literal_f64(value)
            } else {
                literal_f32(value as f32)
            };
            let _ = write!(out, "s{} += {value};", tree.output());
        }
        NodeView::Split {
            feature,
            test,
            missing,
            default_left,
            left,
        } => {
            match test {
                SplitTest::Less(t) => {
                    let variant = Variant::of(missing, default_left).suffix();
                    let key = order_key(t);
                    match emit.sorted.get(&feature) {
                        Some(keys) => {
                            let j = keys.partition_point(|&k| k < key);
                            let _ = writeln!(out, "if {c}c{feature}{variant} <= {j} {{");
                        }
                        None => {
                            let _ = writeln!(out, "if {c}d{feature}{variant} < {key} {{");
                        }
                    }
                }
                SplitTest::Categories(set) => {
                    let members: Vec<u32> = set.members().collect();
                    let n_words = members.last().map_or(0, |&c| c as usize / 32 + 1);
                    let mut words = vec![0u32; n_words];
                    for c in members {
                        words[c as usize / 32] |= 1 << (c % 32);
                    }
                    let set_index = sets.len();
                    sets.push(words);
                    let missing_expr = match missing {
                        MissingMode::NanDefault => format!("{c}nan{feature}"),
                        MissingMode::ZeroOrNanDefault => format!("{c}small{feature}"),
                        MissingMode::NanAsZero => "false".into(),
                    };
                    let category = match missing {
                        MissingMode::NanAsZero => format!("{c}catz{feature}"),
                        _ => format!("{c}cat{feature}"),
                    };
                    // LightGBM sends members left; XGBoost sends members right.
                    let member_side = if emit.numerics.is_f64() { "" } else { "!" };
                    let _ = writeln!(
                        out,
                        "if if {missing_expr} {{ {default_left} }} else {{ {member_side}member(&S{set_index}, {category}) }} {{"
                    );
                }
            }
            emit_node(out, emit, tree, tree_index, left, sets)?;
            out.push_str("\n} else {\n");
            emit_node(out, emit, tree, tree_index, left + 1, sets)?;
            out.push_str("\n}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LightGBM binary fixture (100 trees, under [`SMALL_MODEL_NODES`] nodes), compiled.
    fn small_model() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/cases/lgb-4.7.0-binary.txt"
        );
        let source = std::fs::read(path).expect("fixture");
        crate::compile::compile(&source).expect("compile").bytes
    }

    #[test]
    fn a_small_model_is_batched_a_row_at_a_time_unless_blocks_are_asked_for() {
        let bytes = small_model();
        let model = Model::from_bytes(&bytes).expect("load");
        let n_nodes: usize = model.trees().map(|t| t.n_nodes()).sum();
        assert!(n_nodes <= SMALL_MODEL_NODES, "{n_nodes} nodes");
        let with = |batch| {
            generate(
                &model,
                &CodegenOptions {
                    command: String::new(),
                    batch,
                },
            )
            .expect("generate")
        };
        for (batch, blocks) in [
            (BatchWalk::Auto, false),
            (BatchWalk::Rows, false),
            (BatchWalk::Blocks, true),
        ] {
            let code = with(batch);
            assert!(code.contains("pub fn predict_batch("), "{batch:?}");
            assert_eq!(code.contains("fn group0("), blocks, "{batch:?}");
            assert_eq!(code.contains("struct Codes"), blocks, "{batch:?}");
        }
    }

    #[test]
    fn a_batch_row_takes_its_record_rounded_to_its_alignment_and_its_sums() {
        let fields = |types: &[&'static str]| -> Vec<(String, &'static str)> {
            types.iter().map(|t| (String::new(), *t)).collect()
        };
        assert_eq!(row_bytes(&fields(&["u8"; 25]), 1, false), 29);
        assert_eq!(row_bytes(&fields(&["u8", "Option<u32>"]), 1, false), 16);
        assert_eq!(row_bytes(&fields(&["u16", "u8"]), 3, true), 28);
        assert_eq!(row_bytes(&[], 2, false), 8);
        // Wide rows get fewer rows per block, down to the minimum.
        let wide = fields(&["u16"; 2000]);
        assert_eq!(host_block_rows(row_bytes(&wide, 1, false)), BLOCK_ROWS_MIN);
        assert_eq!(host_block_rows(29), BLOCK_ROWS);
        assert_eq!(host_block_rows(100), 81);
    }
}

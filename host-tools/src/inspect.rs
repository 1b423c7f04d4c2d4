//! Describing a compiled model: what `lockstep inspect` prints, as text or JSON. Text from the
//! model file (label, feature names) is printed escaped: a model cannot send terminal codes.

use std::fmt::Write as _;

use lockstep_engine::format::{Numerics, FORMAT_VERSION_1, NODE_BYTES, SPLIT_BYTES};
use lockstep_engine::Model;
use serde::Serialize;

use crate::text::escaped;

/// Everything `inspect` reports about a model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// Format version of the file.
    pub format_version: u16,
    /// SHA-256 of the model (its identity), hex.
    pub sha256: String,
    /// Total bytes of the file.
    pub file_bytes: usize,
    /// Source framework.
    pub source_framework: String,
    /// Source framework version.
    pub source_version: String,
    /// Free-text label.
    pub label: String,
    /// Objective.
    pub objective: String,
    /// Arithmetic.
    pub numerics: String,
    /// When the base margin is added.
    pub base_order: String,
    /// How trees combine.
    pub aggregation: String,
    /// Base margins per output.
    pub base_margins: Vec<f64>,
    /// Number of features.
    pub n_features: usize,
    /// Number of outputs.
    pub n_outputs: usize,
    /// Number of trees.
    pub n_trees: usize,
    /// Number of nodes.
    pub n_nodes: usize,
    /// Number of leaves.
    pub n_leaves: usize,
    /// Declared maximum depth.
    pub max_depth: u16,
    /// Deepest tree, measured.
    pub measured_depth: u16,
    /// Bytes per node record (version 2: node tables per node, rounded up).
    pub bytes_per_node: usize,
    /// Bytes of the node table (version 2: splits, f32 leaves and split values).
    pub node_table_bytes: usize,
    /// Bytes of the f64 leaf table.
    pub leaf_table_bytes: usize,
    /// Bytes of category bitsets.
    pub category_bytes: usize,
    /// Worst-case work of scoring one row, counted at load.
    pub cost: CostSummary,
    /// Features in model order.
    pub features: Vec<FeatureSummary>,
}

/// The worst case of one score as `inspect` reports it (see [`lockstep_engine::Cost`]).
#[derive(Debug, Clone, Serialize)]
pub struct CostSummary {
    /// Most nodes one row visits: over all trees, the sum of depth + 1.
    pub node_visits_max: u64,
    /// Features the linear pass visits (all when the model has linear or level terms).
    pub linear_terms: u64,
    /// Level codes a row may be compared with.
    pub level_codes: u64,
    /// Node visits plus linear terms plus level codes.
    pub work_items_max: u64,
    /// Peak stack of one score on Cortex-M, measured: the bound for this model's kind
    /// (`Cost::stack_bytes_max`).
    pub stack_bytes_cortex_m: u32,
}

/// One feature as `inspect` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    /// Position in the input vector.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Declared valid range, if any.
    pub range: Option<(f32, f32)>,
    /// The linear term `(coefficient, fill for a missing value)`, if the model has linear
    /// terms.
    pub linear_term: Option<(f64, f64)>,
    /// The per-level linear term, if the feature is a dummy-coded categorical (absent from
    /// the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_terms: Option<LevelTermsSummary>,
}

/// A dummy-coded categorical's linear term as `inspect` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct LevelTermsSummary {
    /// `(level code, coefficient)` for every level; the reference level's coefficient is 0.
    pub levels: Vec<(f32, f64)>,
    /// The term of a missing or unknown value.
    pub fill: f64,
}

impl FeatureSummary {
    /// Whether the feature has a nonzero linear or level coefficient.
    fn has_nonzero_term(&self) -> bool {
        self.linear_term.is_some_and(|(c, _)| c != 0.0)
            || self
                .level_terms
                .as_ref()
                .is_some_and(|t| t.levels.iter().any(|&(_, b)| b != 0.0))
    }
}

/// Summarises a loaded model; `file_bytes` is the size of the blob it was loaded from.
pub fn summarize(model: &Model<'_>, file_bytes: usize) -> ModelSummary {
    let numerics = match model.numerics() {
        Numerics::XgboostLegacy => "xgboost-legacy (f32, sigmoid 1/(1+expf(-m)))".to_string(),
        Numerics::Xgboost => "xgboost (f32, clamped sigmoid)".to_string(),
        Numerics::Lightgbm { sigmoid } => format!("lightgbm (f64, sigmoid scale {sigmoid})"),
    };
    ModelSummary {
        format_version: model.format_version(),
        sha256: hex(&model.checksum()),
        file_bytes,
        source_framework: format!("{:?}", model.source().framework).to_lowercase(),
        source_version: model.source().version.to_string(),
        label: model.label().to_string(),
        objective: format!("{:?}", model.objective()),
        numerics,
        base_order: format!("{:?}", model.base_order()),
        aggregation: format!("{:?}", model.aggregation()),
        base_margins: (0..model.n_outputs())
            .map(|k| model.base_margin(k))
            .collect(),
        n_features: model.n_features(),
        n_outputs: model.n_outputs(),
        n_trees: model.n_trees(),
        n_nodes: model.n_nodes(),
        n_leaves: model.n_leaves(),
        max_depth: model.max_depth(),
        measured_depth: model.measured_depth(),
        bytes_per_node: bytes_per_node(model),
        node_table_bytes: model.node_bytes(),
        leaf_table_bytes: model.leaf_table_bytes(),
        category_bytes: model.category_bytes(),
        cost: {
            let cost = model.cost();
            CostSummary {
                node_visits_max: cost.node_visits_max,
                linear_terms: cost.linear_terms,
                level_codes: cost.level_codes,
                work_items_max: cost.work_items_max,
                stack_bytes_cortex_m: cost.stack_bytes_max,
            }
        },
        features: model
            .feature_names()
            .enumerate()
            .map(|(index, name)| FeatureSummary {
                index,
                name: name.to_string(),
                range: model.feature_range(index),
                linear_term: model.linear_term(index),
                level_terms: model.level_terms(index).map(|terms| LevelTermsSummary {
                    levels: terms.levels().collect(),
                    fill: terms.fill(),
                }),
            })
            .collect(),
    }
}

/// Bytes per node: version 1's node record; version 2's node tables per node, rounded up (a
/// split record where there are no nodes).
fn bytes_per_node(model: &Model<'_>) -> usize {
    match model.n_nodes() {
        _ if model.format_version() == FORMAT_VERSION_1 => NODE_BYTES,
        0 => SPLIT_BYTES,
        n => model.node_bytes().div_ceil(n),
    }
}

/// Renders a summary for people.
pub fn render_text(summary: &ModelSummary) -> String {
    let s = summary;
    let mut out = String::new();
    let _ = writeln!(out, "lockstep model (format v{})", s.format_version);
    let _ = writeln!(out, "  sha256        {}", s.sha256);
    let _ = writeln!(out, "  size          {} bytes", s.file_bytes);
    let _ = writeln!(
        out,
        "  source        {} {}",
        s.source_framework, s.source_version
    );
    let _ = writeln!(out, "  label         {}", escaped(&s.label));
    let _ = writeln!(
        out,
        "  objective     {} ({} output{})",
        s.objective,
        s.n_outputs,
        plural(s.n_outputs)
    );
    let _ = writeln!(out, "  numerics      {}", s.numerics);
    let _ = writeln!(
        out,
        "  combine       {} of trees, base margin {}",
        s.aggregation,
        s.base_order.to_lowercase()
    );
    let margins: Vec<String> = s.base_margins.iter().map(|m| format!("{m:?}")).collect();
    let _ = writeln!(out, "  base margins  {}", margins.join(", "));
    let _ = writeln!(out, "  trees         {}", s.n_trees);
    let _ = writeln!(
        out,
        "  nodes         {} ({} leaves), {} bytes per node, {} bytes of nodes",
        s.n_nodes, s.n_leaves, s.bytes_per_node, s.node_table_bytes
    );
    if s.leaf_table_bytes > 0 {
        let _ = writeln!(
            out,
            "  leaf table    {} bytes (f64 leaves)",
            s.leaf_table_bytes
        );
    }
    if s.category_bytes > 0 {
        let _ = writeln!(out, "  categories    {} bytes of sets", s.category_bytes);
    }
    let _ = writeln!(
        out,
        "  depth         {} (declared {})",
        s.measured_depth, s.max_depth
    );
    let c = &s.cost;
    let _ = writeln!(
        out,
        "  cost          at most {} work items per row ({} node visits, {} linear terms, {} level codes); stack {} bytes on Cortex-M",
        c.work_items_max, c.node_visits_max, c.linear_terms, c.level_codes, c.stack_bytes_cortex_m
    );
    let _ = writeln!(out, "  features      {}", s.n_features);
    let n_terms = s.features.iter().filter(|f| f.has_nonzero_term()).count();
    if s.features.iter().any(|f| f.linear_term.is_some()) {
        let _ = writeln!(
            out,
            "  linear terms  {n_terms} nonzero of {} (coefficient, fill if missing)",
            s.n_features
        );
    }
    for feature in &s.features {
        let mut line = format!("    {:>4}  {}", feature.index, escaped(&feature.name));
        if let Some((low, high)) = feature.range {
            let _ = write!(line, "  [{low:?}, {high:?}]");
        }
        match (&feature.level_terms, feature.linear_term) {
            (Some(terms), _) => {
                let levels: Vec<String> = terms
                    .levels
                    .iter()
                    .map(|(code, b)| format!("{code}: {b:+e}"))
                    .collect();
                let _ = write!(
                    line,
                    "  per level {{{}}} (missing or unknown {:+e})",
                    levels.join(", "),
                    terms.fill
                );
            }
            (None, Some((coefficient, fill))) => {
                let _ = write!(line, "  {coefficient:+e} (fill {fill:?})");
            }
            (None, None) => {}
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

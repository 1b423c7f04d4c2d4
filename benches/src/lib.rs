//! Bench inputs: the 300-tree, depth-6 XGBoost fixture compiled through the host tools, other
//! framework fixtures, and seeded random models of the shapes no fixture has.

use std::path::{Path, PathBuf};

/// Directory of the benchmark fixture.
pub fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench")
}

/// The compiled bytes of the 300-tree, depth-6 model and its input rows (row-major).
pub fn model_and_rows() -> (Vec<u8>, Vec<f32>, usize) {
    let (spec, rows, n_features) = spec_and_rows();
    (
        spec.to_bytes().expect("build bench model"),
        rows,
        n_features,
    )
}

/// The 300-tree, depth-6 model's description and its input rows (row-major).
pub fn spec_and_rows() -> (lockstep_engine::builder::ModelSpec, Vec<f32>, usize) {
    let dir = bench_dir();
    let source = std::fs::read(dir.join("xgb-300x6.json")).expect("bench fixture model");
    let compiled = lockstep_host::compile::compile(&source).expect("compile bench model");
    let text =
        std::fs::read_to_string(dir.join("xgb-300x6.inputs.csv")).expect("bench fixture rows");
    let (rows, n_features) = hex_rows(&text);
    (compiled.spec, rows, n_features)
}

/// A model of `n_trees` random trees of depth at most `depth` over the bench rows' features,
/// for shapes no fixture has (the 100x3 and 1000x8 XGBoost models, a 500-tree
/// LightGBM one). Each split reads a random feature at the value of a random bench row (so
/// rows spread over both sides, as in a trained tree); below depth 2 a node becomes a leaf
/// with probability 1/8, so trees are not all full. (A feature with no finite value in the
/// bench rows would hang it; every bench feature has some.) Missing values go to a random default
/// side. `numerics` picks the arithmetic (f32 XGBoost or f64 LightGBM sums); seeded, so the
/// same call gives the same bytes.
pub fn random_model(
    n_trees: usize,
    depth: usize,
    numerics: lockstep_engine::format::Numerics,
    seed: u64,
) -> Vec<u8> {
    random_spec(n_trees, depth, numerics, seed)
        .to_bytes()
        .expect("random bench model builds")
}

/// The description [`random_model`] writes.
pub fn random_spec(
    n_trees: usize,
    depth: usize,
    numerics: lockstep_engine::format::Numerics,
    seed: u64,
) -> lockstep_engine::builder::ModelSpec {
    use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec};
    use lockstep_engine::format::{Aggregation, BaseOrder, Framework, MissingMode, Objective};
    use lockstep_host::rng::SplitMix64;

    let (_, rows, n_features) = model_and_rows();
    let n_rows = rows.len() / n_features;
    let mut rng = SplitMix64(seed);
    let mut trees = Vec::with_capacity(n_trees);
    for _ in 0..n_trees {
        // (index, depth) of nodes still to fill, in order; children are appended.
        let mut nodes: Vec<NodeSpec> = vec![NodeSpec::Leaf { value: 0.0 }];
        let mut pending = std::collections::VecDeque::from([(0usize, 0usize)]);
        while let Some((index, level)) = pending.pop_front() {
            let leaf = level == depth || (level >= 2 && rng.below(8) == 0);
            nodes[index] = if leaf {
                // Small dyadic leaves, exact in f32 and f64.
                NodeSpec::Leaf {
                    value: (rng.below(4097) as f64 - 2048.0) / 65536.0,
                }
            } else {
                let feature = rng.below(n_features);
                let threshold = loop {
                    let x = rows[rng.below(n_rows) * n_features + feature];
                    if x.is_finite() {
                        break x;
                    }
                };
                let (left, right) = (nodes.len(), nodes.len() + 1);
                nodes.push(NodeSpec::Leaf { value: 0.0 });
                nodes.push(NodeSpec::Leaf { value: 0.0 });
                pending.push_back((left, level + 1));
                pending.push_back((right, level + 1));
                NodeSpec::Split {
                    feature,
                    condition: Condition::Less(threshold),
                    missing: MissingMode::NanDefault,
                    default_left: rng.below(2) == 0,
                    left,
                    right,
                }
            };
        }
        trees.push(TreeSpec { output: 0, nodes });
    }
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![-0.5],
        feature_names: (0..n_features).map(|i| format!("f{i}")).collect(),
        feature_ranges: None,
        trees,
        source_framework: Framework::Lockstep,
        source_version: "bench".into(),
        label: format!("random {n_trees}x{depth}"),
        sections: Vec::new(),
    }
}

/// A committed framework fixture (`tests/fixtures/cases/NAME.*`) compiled, with its input
/// rows (row-major) and feature count.
pub fn fixture_case(name: &str, model_file: &str) -> (Vec<u8>, Vec<f32>, usize) {
    let (spec, rows, n_features) = fixture_spec(name, model_file);
    (spec.to_bytes().expect("build fixture"), rows, n_features)
}

/// [`fixture_case`]'s model description, with its rows and feature count.
pub fn fixture_spec(
    name: &str,
    model_file: &str,
) -> (lockstep_engine::builder::ModelSpec, Vec<f32>, usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cases");
    let source = std::fs::read(dir.join(model_file)).expect("fixture model");
    let compiled = lockstep_host::compile::compile(&source).expect("compile fixture model");
    let text = std::fs::read_to_string(dir.join(format!("{name}.inputs.csv"))).expect("rows");
    let (rows, n_features) = hex_rows(&text);
    (compiled.spec, rows, n_features)
}

/// Rows of a CSV of hex f32 cells with a header: values (row-major) and the column count.
fn hex_rows(text: &str) -> (Vec<f32>, usize) {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let n_features = lines.next().expect("header").split(',').count();
    let rows = lines
        .flat_map(|line| {
            line.split(',')
                .map(|cell| f32::from_bits(u32::from_str_radix(cell.trim(), 16).expect("hex")))
        })
        .collect();
    (rows, n_features)
}

//! Lockstep's GBDT against XGBoost 3.2.0 `hist` on data with missing values (the cases of tests/fixtures/missing_split/gen_missing_split.py, rebuilt here value for value): the present-vs-missing split is found, compiled to XGBoost's cut and direction, and 100 rounds give XGBoost's margins on every row.

use std::path::PathBuf;

use lockstep_engine::builder::{Condition, NodeSpec, TreeSpec};
use lockstep_engine::Model;
use lockstep_host::train::{auc, train, GbdtObjective, GbdtOptions, TrainData, TrainedGbdt};
use serde_json::Value;

/// How far a Lockstep margin may be from XGBoost's. The trees are the same (same splits, same
/// thresholds); leaf values differ in the last bits because XGBoost sums f32 gradients in f64
/// row by row and Lockstep sums them in exact fixed point (train/histogram.rs), and 100 such
/// leaves add up.
const MARGIN_TOLERANCE: f32 = 1e-6;

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/missing_split/cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("cases.json parses")
}

fn int(value: &Value) -> i64 {
    value.as_i64().expect("an integer")
}

fn f32s_from_bits(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("an array of bits")
        .iter()
        .map(|b| f32::from_bits(int(b) as u32))
        .collect()
}

/// The generator's `u(i; a, b, c) = (a i^2 + b i + c) % modulus`.
fn u(i: i64, stream: &Value, modulus: i64) -> i64 {
    let s: Vec<i64> = stream.as_array().expect("stream").iter().map(int).collect();
    (s[0] * i * i + s[1] * i + s[2]) % modulus
}

/// A case's rows, rebuilt from its integer definition.
struct Case {
    names: Vec<String>,
    columns: Vec<Vec<f32>>,
    /// Per feature and row, the integer `k` the value was made from.
    ks: Vec<Vec<i64>>,
    labels: Vec<f32>,
}

impl Case {
    fn build(case: &Value, modulus: i64, label: impl Fn(&Case, usize) -> bool) -> Case {
        let n = int(&case["n"]);
        let features = case["features"].as_array().expect("features");
        let mut ks = Vec::new();
        let mut columns = Vec::new();
        for f in features {
            let (p, shift) = (int(&f["p"]), int(&f["shift"]));
            let scale = f["scale"].as_f64().expect("scale");
            let (rate, missing_stream) = (int(&f["missing_percent"]), &f["missing_stream"]);
            let k: Vec<i64> = (0..n).map(|i| u(i, &f["stream"], modulus) % p).collect();
            let column = (0..n)
                .map(|i| {
                    if u(i, missing_stream, modulus) % 100 < rate {
                        f32::NAN
                    } else {
                        ((k[i as usize] - shift) as f64 * scale) as f32
                    }
                })
                .collect();
            ks.push(k);
            columns.push(column);
        }
        let mut built = Case {
            names: (0..features.len()).map(|j| format!("f{j}")).collect(),
            columns,
            ks,
            labels: Vec::new(),
        };
        built.labels = (0..n as usize)
            .map(|row| if label(&built, row) { 1.0 } else { 0.0 })
            .collect();
        built
    }

    fn data(&self) -> TrainData<'_> {
        TrainData {
            feature_names: &self.names,
            columns: &self.columns,
            labels: &self.labels,
        }
    }

    fn missing(&self, feature: usize, row: usize) -> bool {
        self.columns[feature][row].is_nan()
    }
}

/// The generator's `present_vs_missing_labels`.
fn present_vs_missing_label(case: &Case, row: usize, modulus: i64) -> bool {
    let noise = u(row as i64, &serde_json::json!([7, 3, 11]), modulus) % 100;
    if case.missing(0, row) {
        noise < 85
    } else {
        noise < 15
    }
}

/// The generator's `boosting_labels`.
fn boosting_label(case: &Case, row: usize, modulus: i64) -> bool {
    let k = |j: usize| case.ks[j][row];
    let miss = |j: usize| case.missing(j, row);
    let mut score = if miss(0) { 90 } else { 3 * k(0) };
    score += if miss(1) { 0 } else { 2 * (40 - k(1)) };
    score += if miss(2) || miss(3) {
        25
    } else {
        (k(2) * k(3)) % 60
    };
    score += if miss(4) {
        40
    } else if k(4) > 5 {
        50
    } else {
        0
    };
    score += u(row as i64, &serde_json::json!([13, 17, 19]), modulus) % 120;
    score > 230
}

/// XGBoost's settings of the fixture: `rounds` rounds of depth `max_depth`, eta 0.1, lambda 1,
/// min_child_weight 1, max_bin 255, no subsampling, no early stopping.
fn options(rounds: usize, max_depth: usize) -> GbdtOptions {
    GbdtOptions {
        n_trees: rounds,
        learning_rate: 0.1,
        max_depth,
        min_child_weight: 1.0,
        lambda: 1.0,
        alpha: 0.0,
        gamma: 0.0,
        subsample: 1.0,
        colsample_bytree: 1.0,
        max_bins: 256,
        objective: GbdtObjective::BinaryLogistic,
        early_stopping_rounds: None,
        threads: 1,
        ..GbdtOptions::default()
    }
}

fn fit(case: &Case, options: &GbdtOptions) -> TrainedGbdt {
    train(&case.data(), None, options, |_| {}).expect("trains")
}

/// The largest `|ours - theirs|` and the row where it is.
fn max_difference(ours: &[f32], theirs: &[f32]) -> (f32, usize) {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0.0, 0), |(max, at), (row, d)| {
            if d > max || d.is_nan() {
                (d, row)
            } else {
                (max, at)
            }
        })
}

/// Asserts that Lockstep's tree `ours` is XGBoost's tree `theirs` (the fixture's node arrays
/// and leaf values): the same feature, threshold bits and missing direction at every split,
/// leaves within [`MARGIN_TOLERANCE`].
fn assert_same_tree(ours: &TreeSpec, theirs: &Value, tree: usize) {
    let left: Vec<i64> = theirs["left"].as_array().unwrap().iter().map(int).collect();
    let right: Vec<i64> = theirs["right"]
        .as_array()
        .unwrap()
        .iter()
        .map(int)
        .collect();
    let feature: Vec<i64> = theirs["feature"]
        .as_array()
        .unwrap()
        .iter()
        .map(int)
        .collect();
    let conditions = f32s_from_bits(&theirs["condition_bits"]);
    let default_left: Vec<bool> = theirs["default_left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_bool().unwrap())
        .collect();
    let mut stack = vec![(0usize, 0usize)];
    while let Some((mine, xgb)) = stack.pop() {
        let place = format!("tree {tree}, XGBoost node {xgb}");
        match &ours.nodes[mine] {
            NodeSpec::Leaf { value } => {
                assert_eq!(
                    left[xgb], -1,
                    "{place}: XGBoost splits, Lockstep has a leaf"
                );
                let d = (*value as f32 - conditions[xgb]).abs();
                assert!(
                    d <= MARGIN_TOLERANCE,
                    "{place}: leaf {value} vs {}",
                    conditions[xgb]
                );
            }
            NodeSpec::Split {
                feature: f,
                condition,
                default_left: dl,
                left: l,
                right: r,
                ..
            } => {
                assert_ne!(
                    left[xgb], -1,
                    "{place}: Lockstep splits, XGBoost has a leaf"
                );
                let Condition::Less(t) = condition else {
                    panic!("{place}: not a numeric split");
                };
                assert_eq!(*f as i64, feature[xgb], "{place}: feature");
                assert_eq!(
                    t.to_bits(),
                    conditions[xgb].to_bits(),
                    "{place}: threshold {t} vs {}",
                    conditions[xgb]
                );
                assert_eq!(*dl, default_left[xgb], "{place}: missing direction");
                stack.push((*l, left[xgb] as usize));
                stack.push((*r, right[xgb] as usize));
            }
        }
    }
}

fn engine_margins(model: &TrainedGbdt, rows: &[Vec<f32>]) -> Vec<f32> {
    let blob = model.spec.to_bytes().expect("compiles");
    let engine = Model::from_bytes(&blob).expect("loads");
    let (mut margin, mut probability) = ([0.0f32], [0.0f32]);
    rows.iter()
        .map(|row| {
            engine
                .predict(row, &mut margin, &mut probability)
                .expect("scores");
            margin[0]
        })
        .collect()
}

#[test]
fn present_vs_missing_split_is_found_and_compiled_as_xgboost_does() {
    let fixture = fixture();
    let modulus = int(&fixture["modulus"]);
    let case = &fixture["present_vs_missing"];
    let built = Case::build(case, modulus, |c, row| {
        present_vs_missing_label(c, row, modulus)
    });
    let rounds = int(&case["params"]["rounds"]) as usize;
    let depth = int(&case["params"]["max_depth"]) as usize;
    let model = fit(&built, &options(rounds, depth));

    // The first split: every present value of feature 0 left, missing right, at a threshold
    // above every training value of feature 0.
    let max = built.columns[0]
        .iter()
        .filter(|x| !x.is_nan())
        .fold(f32::MIN, |m, &x| m.max(x));
    let NodeSpec::Split {
        feature,
        condition: Condition::Less(threshold),
        default_left,
        ..
    } = model.spec.trees[0].nodes[0]
    else {
        panic!("the first tree's root is not a numeric split");
    };
    assert_eq!((feature, default_left), (0, false));
    assert!(threshold > max, "threshold {threshold}, maximum {max}");

    // XGBoost's trees, node for node.
    let theirs = case["trees"].as_array().unwrap();
    assert_eq!(model.spec.trees.len(), theirs.len());
    for (tree, (ours, theirs)) in model.spec.trees.iter().zip(theirs).enumerate() {
        assert_same_tree(ours, theirs, tree);
    }

    // Margins on the training rows and on probes beyond feature 0's range.
    let rows: Vec<Vec<f32>> = (0..built.labels.len())
        .map(|row| built.columns.iter().map(|c| c[row]).collect())
        .collect();
    let (d, row) = max_difference(
        &engine_margins(&model, &rows),
        &f32s_from_bits(&case["margin_bits"]),
    );
    assert!(
        d <= MARGIN_TOLERANCE,
        "training row {row}: margin off by {d}"
    );
    let probes: Vec<Vec<f32>> = case["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().map_or(f32::NAN, |v| v as f32))
                .collect()
        })
        .collect();
    let ours = engine_margins(&model, &probes);
    let theirs = f32s_from_bits(&case["probe_margin_bits"]);
    for ((probe, a), b) in probes.iter().zip(&ours).zip(&theirs) {
        assert!(
            (a - b).abs() <= MARGIN_TOLERANCE,
            "probe {probe:?}: Lockstep {a}, XGBoost {b}"
        );
    }
}

#[test]
fn boosting_with_missing_values_gives_xgboost_margins_for_100_rounds() {
    let fixture = fixture();
    let modulus = int(&fixture["modulus"]);
    let case = &fixture["boosting"];
    let built = Case::build(case, modulus, |c, row| boosting_label(c, row, modulus));
    assert_eq!(
        built.labels.iter().filter(|&&y| y == 1.0).count() as i64,
        int(&case["positive"]),
        "the rebuilt labels differ from the generator's"
    );
    let depth = int(&case["params"]["max_depth"]) as usize;
    let rows: Vec<Vec<f32>> = (0..built.labels.len())
        .map(|row| built.columns.iter().map(|c| c[row]).collect())
        .collect();
    for checkpoint in case["checkpoints"].as_array().unwrap() {
        let rounds = int(checkpoint) as usize;
        let model = fit(&built, &options(rounds, depth));
        let theirs = f32s_from_bits(&case["margin_bits"][rounds.to_string()]);
        let (d, row) = max_difference(&model.train_predictions, &theirs);
        eprintln!(
            "after {rounds} rounds: largest margin difference {d:e} (row {row}); training AUC \
             Lockstep {:.6}, XGBoost {:.6}",
            auc(&model.train_predictions, &built.labels),
            auc(&theirs, &built.labels)
        );
        assert!(
            d <= MARGIN_TOLERANCE,
            "after {rounds} rounds, row {row}: Lockstep {} vs XGBoost {} (off by {d})",
            model.train_predictions[row],
            theirs[row]
        );
        // What ships scores the same.
        assert_eq!(engine_margins(&model, &rows), model.train_predictions);
        if rounds == int(&case["params"]["rounds"]) as usize {
            assert_probes_score_as_xgboost(&model, &rows, case);
        }
    }
}

/// The generator's probe rows (training rows with cells set missing, also where the training
/// rows of a node had none, or multiplied by 10, beyond the training range) score as XGBoost
/// scores them.
fn assert_probes_score_as_xgboost(model: &TrainedGbdt, rows: &[Vec<f32>], case: &Value) {
    let probes: Vec<Vec<f32>> = rows[..300]
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(j, &x)| match (r + j) % 3 {
                    0 => f32::NAN,
                    1 => x * 10.0,
                    _ => x,
                })
                .collect()
        })
        .collect();
    let (d, row) = max_difference(
        &engine_margins(model, &probes),
        &f32s_from_bits(&case["probe_margin_bits"]),
    );
    eprintln!("probes: largest margin difference {d:e} (probe {row})");
    assert!(d <= MARGIN_TOLERANCE, "probe {row}: margin off by {d}");
}

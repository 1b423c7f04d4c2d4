//! Every CSV reader (`lockstep predict`, the data loader behind `train` and `validate`, and
//! `parity --vectors`) reads the same cells of the same file as missing, by one rule.

mod common;

use std::path::Path;

use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec};
use lockstep_engine::format::{
    Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective,
};
use lockstep_engine::Model;
use lockstep_host::{data, parity, predict};

use common::{lockstep, stderr, stdout};

const FEATURES: [&str; 3] = ["a", "b", "c"];

/// Cells that must read as missing: empty, whitespace, and `NA`/`NaN` in any case, padded.
const MISSING: [&str; 11] = [
    "",
    " ",
    "\t",
    " NaN",
    "nan ",
    "NAN",
    "NA",
    " na",
    "Na\t",
    "\u{a0}NaN",
    "\u{2003}",
];
/// Cells that must read as numbers (padded or not).
const PRESENT: [(&str, f32); 4] = [("1.5", 1.5), (" 2", 2.0), ("0 ", 0.0), ("-3.25", -3.25)];

const SCHEMA: &str = r#"
[dataset]
name = "missing-cells"
targets = ["event"]

[[feature]]
name = "a"
type = "numeric"
missing = true

[[feature]]
name = "b"
type = "numeric"
missing = true

[[feature]]
name = "c"
type = "numeric"
missing = true
"#;

/// A model whose margin is a bit mask of its missing inputs: tree `k` sends a NaN in feature
/// `k` to its default (left) leaf `2^k`, and every number (all far above the threshold) right,
/// to 0.
fn mask_model() -> Vec<u8> {
    let trees = (0..FEATURES.len())
        .map(|k| TreeSpec {
            output: 0,
            nodes: vec![
                NodeSpec::Split {
                    feature: k,
                    condition: Condition::Less(-1e30),
                    missing: MissingMode::NanDefault,
                    default_left: true,
                    left: 1,
                    right: 2,
                },
                NodeSpec::Leaf {
                    value: f64::from(1u32 << k),
                },
                NodeSpec::Leaf { value: 0.0 },
            ],
        })
        .collect();
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.0],
        feature_names: FEATURES.iter().map(|name| name.to_string()).collect(),
        feature_ranges: None,
        trees,
        source_framework: Framework::Lockstep,
        source_version: String::new(),
        label: String::new(),
        sections: vec![],
    }
    .to_bytes()
    .unwrap()
}

/// Rows covering every missing spelling in every column, between numbers; returns the CSV text
/// and, per row, the expected value of each feature (NaN for missing).
fn csv_with_missing_cells() -> (String, Vec<[f32; 3]>) {
    let mut text = String::from("id,a,b,c,event\n");
    let mut expected = Vec::new();
    let mut row = 0;
    for (i, missing) in MISSING.iter().enumerate() {
        for column in 0..FEATURES.len() {
            let (present_text, present_value) = PRESENT[(i + column) % PRESENT.len()];
            let mut cells = [present_text; 3];
            let mut values = [present_value; 3];
            cells[column] = missing;
            values[column] = f32::NAN;
            // The row after also leaves the next column missing, so masks with two bits occur.
            if i % 2 == 1 {
                let next = (column + 1) % FEATURES.len();
                cells[next] = MISSING[(i + 1) % MISSING.len()];
                values[next] = f32::NAN;
            }
            text.push_str(&format!(
                "{row},{},{},{},{}\n",
                cells[0],
                cells[1],
                cells[2],
                row % 2
            ));
            expected.push(values);
            row += 1;
        }
    }
    (text, expected)
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn predict_data_loading_and_parity_vectors_read_the_same_missing_cells() {
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = csv_with_missing_cells();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, &text).unwrap();
    let model_bytes = mask_model();
    let model_path = dir.path().join("mask.lsm");
    std::fs::write(&model_path, &model_bytes).unwrap();
    let model = Model::from_bytes(&model_bytes).unwrap();

    // The data loader (`train`, `validate`).
    let schema = data::parse_schema(SCHEMA, Path::new("missing.schema.toml")).unwrap();
    let dataset = data::load_csv(&csv, &schema).unwrap();
    assert_eq!(dataset.n_rows, expected.len());
    // The predict reader, through the library.
    let rows = predict::read_feature_rows(&model, std::fs::File::open(&csv).unwrap()).unwrap();
    assert_eq!(rows.len(), expected.len());
    // `parity --vectors`.
    let vectors = parity::vectors::read_csv(&model, &csv).unwrap();
    assert_eq!(vectors.n_rows(), expected.len());

    for (row, values) in expected.iter().enumerate() {
        for (k, &value) in values.iter().enumerate() {
            let loaded = dataset.columns[k][row];
            assert!(same(loaded, value), "data, row {row}, {}", FEATURES[k]);
            assert!(
                same(rows[row][k], value),
                "predict, row {row}, {}",
                FEATURES[k]
            );
            assert!(
                same(vectors.row(row)[k], value),
                "vectors, row {row}, {}",
                FEATURES[k]
            );
        }
    }

    // `lockstep predict` itself: the margin is the mask of the missing features.
    let output = lockstep(&[
        "predict",
        "-m",
        model_path.to_str().unwrap(),
        "-i",
        csv.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let margins: Vec<f32> = printed
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(margins.len(), expected.len());
    for (row, values) in expected.iter().enumerate() {
        let mask: u32 = (0..FEATURES.len())
            .filter(|&k| values[k].is_nan())
            .map(|k| 1 << k)
            .sum();
        assert_eq!(margins[row], mask as f32, "row {row}: {printed}");
    }
}

#[test]
fn the_rule_is_one_function() {
    for cell in MISSING {
        assert!(data::is_missing(cell), "{cell:?}");
        assert!(predict::parse_cell(cell).unwrap().is_nan(), "{cell:?}");
    }
    for (cell, value) in PRESENT {
        assert!(!data::is_missing(cell), "{cell:?}");
        assert_eq!(predict::parse_cell(cell), Some(value));
    }
    // Signed NaN and other words are not missing cells.
    for cell in ["-nan", "+NaN", "N/A", "null", "-", "NaNa", "nana"] {
        assert!(!data::is_missing(cell), "{cell:?}");
    }
}

/// Cells that are numbers to Rust's parser but not finite f32 values: every reader of
/// measurements refuses them.
const NON_FINITE: [&str; 6] = ["inf", "-inf", " Infinity", "+INF", "1e999", "-3.5e39"];

#[test]
fn every_reader_refuses_the_same_non_finite_cells() {
    let dir = tempfile::tempdir().unwrap();
    let model_bytes = mask_model();
    let model_path = dir.path().join("mask.lsm");
    std::fs::write(&model_path, &model_bytes).unwrap();
    let model = Model::from_bytes(&model_bytes).unwrap();
    let schema = data::parse_schema(SCHEMA, Path::new("missing.schema.toml")).unwrap();
    for cell in NON_FINITE {
        assert_eq!(predict::parse_cell(cell), None, "{cell:?}");
        let csv = dir.path().join("rows.csv");
        std::fs::write(&csv, format!("a,b,c,event\n1,2,3,0\n4,{cell},6,1\n")).unwrap();

        let loaded = data::load_csv(&csv, &schema).err().map(|e| e.to_string());
        assert!(
            loaded
                .as_deref()
                .is_some_and(|m| m.contains("not a finite number")),
            "data, {cell:?}: {loaded:?}"
        );
        let read = predict::read_feature_rows(&model, std::fs::File::open(&csv).unwrap());
        let message = read.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("line 3, column 'b'") && message.contains("not a finite number"),
            "predict, {cell:?}: {message}"
        );
        // Conformance vectors read infinities, as `predict --allow-infinite` does.
        let vectors = parity::vectors::read_csv(&model, &csv).unwrap();
        assert!(vectors.row(1)[1].is_infinite(), "vectors, {cell:?}");
        let allowed = predict::parse_cell_with(cell, true);
        assert!(allowed.is_some_and(f32::is_infinite), "{cell:?}");
        let allowed = lockstep(&[
            "predict",
            "-m",
            model_path.to_str().unwrap(),
            "-i",
            csv.to_str().unwrap(),
            "--allow-infinite",
        ]);
        assert!(allowed.status.success(), "{}", stderr(&allowed));
        let output = lockstep(&[
            "predict",
            "-m",
            model_path.to_str().unwrap(),
            "-i",
            csv.to_str().unwrap(),
        ]);
        assert!(!output.status.success(), "lockstep predict, {cell:?}");
        let printed = stderr(&output);
        assert!(
            printed.contains("line 3, column 'b'") && printed.contains("not a finite number"),
            "lockstep predict, {cell:?}: {printed}"
        );
    }
}

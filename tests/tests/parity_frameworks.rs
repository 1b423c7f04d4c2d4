//! Every committed XGBoost and LightGBM fixture, compiled by `lockstep compile` and evaluated by
//! the engine, reproduces the framework's own margins and probabilities bit for bit, row by row.

use std::collections::BTreeMap;

use lockstep_engine::Model;
use lockstep_tests::{f32_from_hex, f64_from_hex, fixtures_dir, HexTable};
use serde_json::Value;

/// Same bits, or both NaN (NaN payloads are not part of the contract).
fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

struct CaseResult {
    rows: usize,
    values: usize,
    mismatches: Vec<String>,
}

fn run_case(case: &Value) -> CaseResult {
    let dir = fixtures_dir();
    let field = |key: &str| {
        case[key]
            .as_str()
            .unwrap_or_else(|| panic!("manifest field {key}"))
            .to_string()
    };
    let name = field("name");
    let source = std::fs::read(dir.join(field("model_file"))).expect("model file");
    let compiled =
        lockstep_host::compile::compile(&source).unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    let model = Model::from_bytes(&compiled.bytes).expect("compiled model loads");
    let inputs = HexTable::read(&dir.join(field("inputs_file")));
    let expected = HexTable::read(&dir.join(field("expected_file")));
    assert_eq!(inputs.rows.len(), expected.rows.len(), "{name}: row counts");
    let names: Vec<&str> = model.feature_names().collect();
    assert_eq!(
        inputs.header, names,
        "{name}: the compiled model's feature names match the fixture header"
    );

    let k = model.n_outputs();
    let column = |stem: &str, i: usize| expected.column(&format!("{stem}_{i}"));
    let mut result = CaseResult {
        rows: inputs.rows.len(),
        values: 0,
        mismatches: Vec::new(),
    };
    for (row_index, (input, want)) in inputs.rows.iter().zip(&expected.rows).enumerate() {
        let features: Vec<f32> = input.iter().map(|cell| f32_from_hex(cell)).collect();
        let scores = model
            .score(&features)
            .unwrap_or_else(|e| panic!("{name}: row {row_index}: {e}"));
        let mut check = |what: String, ok: bool, got: String, want: &str| {
            result.values += 1;
            if !ok {
                result.mismatches.push(format!(
                    "{name} row {row_index} {what}: got {got}, want {want}; inputs {}",
                    input.join(",")
                ));
            }
        };
        for i in 0..k {
            let margin = scores.margins()[i];
            let output = scores.outputs()[i];
            if let Some(c) = column("margin", i) {
                let w = f32_from_hex(&want[c]);
                check(
                    format!("margin_{i}"),
                    same_f32(margin as f32, w),
                    format!("{:08x}", (margin as f32).to_bits()),
                    &want[c],
                );
            }
            if let Some(c) = column("prob", i) {
                let w = f32_from_hex(&want[c]);
                check(
                    format!("prob_{i}"),
                    same_f32(output as f32, w),
                    format!("{:08x}", (output as f32).to_bits()),
                    &want[c],
                );
            }
            if let Some(c) = column("margin64", i) {
                let w = f64_from_hex(&want[c]);
                check(
                    format!("margin64_{i}"),
                    same_f64(margin, w),
                    format!("{:016x}", margin.to_bits()),
                    &want[c],
                );
            }
            if let Some(c) = column("prob64", i) {
                let w = f64_from_hex(&want[c]);
                check(
                    format!("prob64_{i}"),
                    same_f64(output, w),
                    format!("{:016x}", output.to_bits()),
                    &want[c],
                );
            }
        }
        if let Some(c) = expected.column("class") {
            let margins: Vec<f32> = scores.margins().iter().map(|&m| m as f32).collect();
            let class = Model::argmax(&margins);
            check(
                "class".into(),
                want[c] == class.to_string(),
                class.to_string(),
                &want[c],
            );
        }
    }
    result
}

#[test]
fn compiled_fixtures_reproduce_framework_outputs_bit_for_bit() {
    let manifest_text =
        std::fs::read_to_string(fixtures_dir().join("manifest.json")).expect("manifest");
    let manifest: Vec<Value> = serde_json::from_str(&manifest_text).expect("manifest JSON");
    let mut coverage: BTreeMap<String, usize> = BTreeMap::new();
    let (mut total_rows, mut total_values) = (0, 0);
    let mut mismatches = Vec::new();
    for case in &manifest {
        let result = run_case(case);
        let key = format!(
            "{} {}",
            case["framework"].as_str().unwrap_or("?"),
            case["model_format"].as_str().unwrap_or("?")
        );
        *coverage.entry(key).or_default() += 1;
        println!(
            "{:<48} {:>4} rows {:>6} values {:>3} mismatches",
            case["name"].as_str().unwrap_or("?"),
            result.rows,
            result.values,
            result.mismatches.len()
        );
        total_rows += result.rows;
        total_values += result.values;
        mismatches.extend(result.mismatches);
    }
    println!(
        "{} cases, {total_rows} rows, {total_values} values compared, {} mismatches",
        manifest.len(),
        mismatches.len()
    );
    println!("coverage: {coverage:?}");
    for needed in ["xgboost json", "xgboost ubj", "lightgbm lightgbm_text"] {
        assert!(
            coverage.get(needed).copied().unwrap_or(0) > 0,
            "no fixture covers {needed}"
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {total_values} values differ; first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

//! Bench inputs: the 300-tree, depth-6 XGBoost fixture compiled through the host tools.

use std::path::{Path, PathBuf};

/// Directory of the benchmark fixture.
pub fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench")
}

/// The compiled bytes of the 300-tree, depth-6 model and its input rows (row-major).
pub fn model_and_rows() -> (Vec<u8>, Vec<f32>, usize) {
    let dir = bench_dir();
    let source = std::fs::read(dir.join("xgb-300x6.json")).expect("bench fixture model");
    let compiled = lockstep_host::compile::compile(&source).expect("compile bench model");
    let text =
        std::fs::read_to_string(dir.join("xgb-300x6.inputs.csv")).expect("bench fixture rows");
    let mut lines = text.lines();
    let n_features = lines.next().expect("header").split(',').count();
    let rows: Vec<f32> = lines
        .flat_map(|line| {
            line.split(',')
                .map(|cell| f32::from_bits(u32::from_str_radix(cell.trim(), 16).expect("hex")))
        })
        .collect();
    (compiled.bytes, rows, n_features)
}

//! `predict_batch` walks trees for blocks of rows at once; it must give every row exactly the
//! bits `predict` gives it alone. Checked on every committed framework fixture and on built
//! models that reach the other paths (linear and level terms, base margin last, averaged
//! forests), with rows from the fixtures mixed with NaN, infinities, signed zeros and
//! shuffled cells, for every batch size from 1 to 33 (full blocks and every remainder).

use lockstep_engine::builder::{level_terms_section, linear_section, LevelTermSpec, ModelSpec};
use lockstep_engine::format::{Aggregation, BaseOrder, Numerics, Objective};
use lockstep_engine::{Model, BLOCK_ROWS};
use lockstep_host::rng::SplitMix64 as Rng;
use lockstep_tests::{f32_from_hex, fixtures_dir, small_spec, HexTable};
use serde_json::Value;

/// `n_rows` rows drawn from `pool` (row-major), about one cell in six replaced by NaN and one
/// in forty by another edge value or another row's cell of the same column.
fn random_rows(rng: &mut Rng, pool: &[f32], n_features: usize, n_rows: usize) -> Vec<f32> {
    let n_pool = pool.len() / n_features;
    let edges = [
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e-36,
        -1e-36,
        f32::MIN_POSITIVE / 2.0,
        -1.0,
        16_777_216.0,
    ];
    let mut rows = Vec::with_capacity(n_rows * n_features);
    for _ in 0..n_rows {
        let source = rng.below(n_pool);
        for feature in 0..n_features {
            let mut x = pool[source * n_features + feature];
            match rng.below(240) {
                0..=39 => x = f32::NAN,
                40..=42 => x = edges[rng.below(edges.len())],
                43..=45 => x = pool[rng.below(n_pool) * n_features + feature],
                _ => {}
            }
            rows.push(x);
        }
    }
    rows
}

/// Compares `predict_batch` with `predict` on batches of 1..=33 rows; returns the rows checked.
fn check_model(name: &str, bytes: &[u8], pool: &[f32], seed: u64) -> usize {
    let model = Model::from_bytes(bytes).unwrap_or_else(|e| panic!("{name}: load: {e}"));
    let (n_features, n_outputs) = (model.n_features(), model.n_outputs());
    let mut rng = Rng(seed);
    let mut checked = 0;
    for n_rows in 1..=33 {
        let rows = random_rows(&mut rng, pool, n_features, n_rows);
        let mut margins = vec![0.0f32; n_rows * n_outputs];
        let mut outputs = vec![0.0f32; n_rows * n_outputs];
        model
            .predict_batch(&rows, &mut margins, &mut outputs)
            .unwrap_or_else(|e| panic!("{name}: batch of {n_rows}: {e}"));
        let (mut margin, mut output) = (vec![0.0f32; n_outputs], vec![0.0f32; n_outputs]);
        for (row_index, row) in rows.chunks_exact(n_features).enumerate() {
            model
                .predict(row, &mut margin, &mut output)
                .unwrap_or_else(|e| panic!("{name}: row: {e}"));
            let span = row_index * n_outputs..(row_index + 1) * n_outputs;
            let bits = |values: &[f32]| values.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                (bits(&margins[span.clone()]), bits(&outputs[span])),
                (bits(&margin), bits(&output)),
                "{name}: row {row_index} of a batch of {n_rows} ({}): {row:?}",
                if row_index < n_rows - n_rows % BLOCK_ROWS {
                    "in a block"
                } else {
                    "remainder"
                }
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn batches_match_single_rows_on_every_framework_fixture() {
    let dir = fixtures_dir();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    let cases = manifest.as_array().expect("a list of cases");
    let mut rows = 0;
    for (index, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().expect("name");
        let source = std::fs::read(dir.join(case["model_file"].as_str().expect("model"))).unwrap();
        let compiled = lockstep_host::compile::compile(&source)
            .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
        let inputs = HexTable::read(&dir.join(case["inputs_file"].as_str().expect("inputs")));
        let pool: Vec<f32> = inputs
            .rows
            .iter()
            .flatten()
            .map(|c| f32_from_hex(c))
            .collect();
        rows += check_model(name, &compiled.bytes, &pool, 0x5eed + index as u64);
    }
    assert!(cases.len() >= 40, "{} cases", cases.len());
    assert_eq!(rows, cases.len() * (1..=33).sum::<usize>());
}

/// Rows over [`small_spec`]'s three features (age, bmi, asa category).
fn small_pool() -> Vec<f32> {
    let mut pool = Vec::new();
    for i in 0..64 {
        let i = i as f32;
        pool.extend_from_slice(&[i * 1.7 - 20.0, i * 0.9 - 30.0, i % 45.0]);
    }
    pool
}

#[test]
fn batches_match_single_rows_on_the_other_paths() {
    let lightgbm = |spec: &ModelSpec| {
        let mut spec = spec.clone();
        spec.numerics = Numerics::Lightgbm { sigmoid: 0.75 };
        spec.base_margins = vec![-0.375];
        spec
    };
    let mut variants: Vec<(&str, ModelSpec)> = vec![("xgboost categorical", small_spec())];
    let mut last = small_spec();
    last.base_order = BaseOrder::Last;
    variants.push(("base margin last", last));
    let mut forest = small_spec();
    forest.aggregation = Aggregation::Mean;
    forest.objective = Objective::BinaryProbability;
    variants.push(("averaged forest", forest));
    variants.push(("lightgbm categorical", lightgbm(&small_spec())));
    let mut linear = lightgbm(&small_spec());
    linear.sections = vec![
        linear_section(&[(0.031, 65.5), (0.0, 27.0), (-0.7, 2.0)]),
        level_terms_section(&[LevelTermSpec {
            feature: 2,
            fill: 0.3125,
            levels: vec![(0.0, 0.0), (1.0, -1.25), (3.0, 0.8)],
        }]),
    ];
    variants.push(("lightgbm with linear and level terms", linear.clone()));
    let mut linear_last = linear;
    linear_last.base_order = BaseOrder::Last;
    variants.push(("linear terms, base last", linear_last));
    let pool = small_pool();
    for (index, (name, spec)) in variants.iter().enumerate() {
        let bytes = spec
            .to_bytes()
            .unwrap_or_else(|e| panic!("{name}: build: {e:?}"));
        check_model(name, &bytes, &pool, 0xb10c + index as u64);
    }
}

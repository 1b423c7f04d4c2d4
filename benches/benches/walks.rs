//! One row and a batch through each tree walk the engine chooses at load, on the model shapes
//! the performance work is measured on: XGBoost f32 models of 100 trees of depth 3, 300 of
//! depth 6 (the committed bench fixture) and 1000 of depth 8, and a 500-tree LightGBM f64
//! model (the numeric-only walk); XGBoost and LightGBM categorical fixtures (the general walk).
//! Single rows cycle through the rows, so no one path is measured alone. Each model is
//! measured in both format versions when it fits version 2: `NAME` is what the builder writes
//! (version 1, 8-byte nodes), `NAME_v2` the same model in version 2 (4-byte nodes, per-row
//! split codes on hosts).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lockstep_benches::{fixture_spec, random_spec, spec_and_rows};
use lockstep_engine::builder::ModelSpec;
use lockstep_engine::format::{Numerics, FORMAT_VERSION_1, FORMAT_VERSION_2};
use lockstep_engine::Model;

/// `spec` in version 1 named `name`, and in version 2 named `name_v2` when it fits version 2
/// (the random models' thresholds are raw row values, more than 256 per feature for the
/// larger shapes, which only version 1 holds).
fn both_versions(name: &str, spec: &ModelSpec) -> Vec<(String, Vec<u8>)> {
    let v1 = spec.to_bytes_with_version(FORMAT_VERSION_1).expect("v1");
    let mut models = vec![(name.to_string(), v1)];
    if let Ok(v2) = spec.to_bytes_with_version(FORMAT_VERSION_2) {
        models.push((format!("{name}_v2"), v2));
    }
    models
}

fn bench_model(c: &mut Criterion, group: &str, name: &str, bytes: &[u8], rows: &[f32]) {
    let model = Model::from_bytes(bytes).expect("load");
    let (n_features, n_outputs) = (model.n_features(), model.n_outputs());
    let n_rows = rows.len() / n_features;
    let mut group = c.benchmark_group(group);
    let (mut margin, mut output) = (vec![0.0f32; n_outputs], vec![0.0f32; n_outputs]);
    let mut next = rows.chunks_exact(n_features).cycle();
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("single_row", name), |b| {
        b.iter(|| {
            let row = next.next().expect("rows");
            model
                .predict(black_box(row), &mut margin, &mut output)
                .expect("predict")
        })
    });
    let mut margins = vec![0.0f32; n_rows * n_outputs];
    let mut outputs = vec![0.0f32; n_rows * n_outputs];
    group.throughput(Throughput::Elements(n_rows as u64));
    group.bench_function(BenchmarkId::new(format!("batch_{n_rows}"), name), |b| {
        b.iter(|| {
            model
                .predict_batch(black_box(rows), &mut margins, &mut outputs)
                .expect("predict")
        })
    });
    group.finish();
}

fn numeric(c: &mut Criterion) {
    let (spec_300x6, rows, _) = spec_and_rows();
    let lightgbm = Numerics::Lightgbm { sigmoid: 1.0 };
    let models = [
        ("xgb_100x3", random_spec(100, 3, Numerics::Xgboost, 1)),
        ("xgb_300x6", spec_300x6),
        ("xgb_1000x8", random_spec(1000, 8, Numerics::Xgboost, 2)),
        ("lgb_500x8", random_spec(500, 8, lightgbm, 3)),
    ];
    for (name, spec) in &models {
        for (name, bytes) in both_versions(name, spec) {
            bench_model(c, "walk_numeric", &name, &bytes, &rows);
        }
    }
}

fn general(c: &mut Criterion) {
    for (name, file) in [
        (
            "xgb-3.2.0-categorical-json",
            "xgb-3.2.0-categorical-json.json",
        ),
        ("lgb-4.7.0-categorical", "lgb-4.7.0-categorical.txt"),
    ] {
        let (spec, rows, _) = fixture_spec(name, file);
        for (name, bytes) in both_versions(name, &spec) {
            bench_model(c, "walk_general", &name, &bytes, &rows);
        }
    }
}

criterion_group!(benches, numeric, general);
criterion_main!(benches);

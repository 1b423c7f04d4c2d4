//! Load and predict on a 300-tree, depth-6 XGBoost model: the engine's hot paths.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lockstep_benches::model_and_rows;
use lockstep_engine::Model;

fn load(c: &mut Criterion) {
    let (bytes, _, _) = model_and_rows();
    let mut group = c.benchmark_group("load");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    // Full validation plus SHA-256 of the whole blob, as a device does at boot.
    group.bench_function("from_bytes_300x6", |b| {
        b.iter(|| Model::from_bytes(black_box(&bytes)).expect("load"))
    });
    group.finish();
}

fn predict(c: &mut Criterion) {
    let (bytes, rows, n_features) = model_and_rows();
    let model = Model::from_bytes(&bytes).expect("load");
    let n_rows = rows.len() / n_features;
    let mut group = c.benchmark_group("predict");
    let (mut margin, mut prob) = ([0.0f32], [0.0f32]);
    let first = &rows[..n_features];
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_row_300x6", |b| {
        b.iter(|| {
            model
                .predict(black_box(first), &mut margin, &mut prob)
                .expect("predict")
        })
    });
    let mut margins = vec![0.0f32; n_rows];
    let mut probs = vec![0.0f32; n_rows];
    group.throughput(Throughput::Elements(n_rows as u64));
    group.bench_function(format!("batch_{n_rows}_rows_300x6"), |b| {
        b.iter(|| {
            model
                .predict_batch(black_box(&rows), &mut margins, &mut probs)
                .expect("predict")
        })
    });
    group.finish();
}

criterion_group!(benches, load, predict);
criterion_main!(benches);

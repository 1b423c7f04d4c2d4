//! `expf` per call: the integer fast path with its fallback (`expf`) against the reference's
//! `f64` emulation alone (`expf_exact`), and the XGBoost sigmoid built on it, in one process.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lockstep_engine::math;

/// Arguments as a probability output sees them: margins spread over [-20, 20).
fn margins() -> Vec<f32> {
    (0..1024).map(|i| (i as f32 - 512.0) / 25.6).collect()
}

fn expf(c: &mut Criterion) {
    let xs = margins();
    let mut group = c.benchmark_group("expf");
    group.throughput(Throughput::Elements(xs.len() as u64));
    group.bench_function("fast_with_fallback", |b| {
        b.iter(|| {
            black_box(&xs)
                .iter()
                .fold(0u32, |acc, &x| acc ^ math::expf(x).to_bits())
        })
    });
    group.bench_function("exact_f64_emulation", |b| {
        b.iter(|| {
            black_box(&xs)
                .iter()
                .fold(0u32, |acc, &x| acc ^ math::expf_exact(x).to_bits())
        })
    });
    group.bench_function("sigmoid_xgboost", |b| {
        b.iter(|| {
            black_box(&xs)
                .iter()
                .fold(0u32, |acc, &x| acc ^ math::sigmoid_xgboost(x).to_bits())
        })
    });
    group.finish();
}

criterion_group!(benches, expf);
criterion_main!(benches);

//! Any bytes as `lockstep predict` input (`predict::predict_csv`) for a fixed compiled model:
//! never panics, and every row it reads is scored.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_engine::Model;
use lockstep_host::predict::{predict_csv, PredictOptions};
use std::sync::OnceLock;

/// A LightGBM fixture with missing values and several features, compiled once.
fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let source = include_bytes!("../../tests/fixtures/cases/lgb-4.7.0-binary.txt");
        lockstep_host::compile::compile(source)
            .expect("the fixture compiles")
            .bytes
    })
}

fuzz_target!(|data: &[u8]| {
    let model = Model::from_bytes(model_bytes()).expect("the fixture loads");
    for (bits, allow_infinite) in [(false, false), (true, true)] {
        let mut out = Vec::new();
        let options = PredictOptions {
            bits,
            allow_infinite,
        };
        let _ = predict_csv(&model, data, &mut out, options);
    }
});

//! `compare-timer`: times Lockstep's public predict API for the peer comparison
//! (`benches/compare/run.py`), one thread, release build.
//!
//! Usage: compare-timer MODEL.lsm ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs] (protocol.rs).
//! After one untimed `predict_batch` pass (warm-up), it times one `predict_batch` over every
//! row, then `predict` on each of the first SINGLE_ROWS rows, one call at a time, and prints
//! `batch_ns=<total> single_ns=<median of the per-call times>`, then with `--outputs` the
//! batch's outputs (probabilities for a binary model) as f32 bits.

mod protocol;

use std::process::ExitCode;
use std::time::Instant;

use lockstep_engine::Model;

fn main() -> ExitCode {
    protocol::exit("compare-timer", run())
}

fn run() -> Result<(), String> {
    let run = protocol::Run::from_args("compare-timer MODEL.lsm")?;
    let model_path = &run.model;
    let bytes = std::fs::read(model_path).map_err(|e| format!("{model_path}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{model_path}: {e}"))?;
    if run.n_features != model.n_features() {
        return Err(format!(
            "N_FEATURES {} is not the model's {} features",
            run.n_features,
            model.n_features()
        ));
    }
    let n_rows = run.rows.len() / run.n_features;
    let n_outputs = model.n_outputs();
    let mut margins = vec![0.0f32; n_rows * n_outputs];
    let mut outputs = vec![0.0f32; n_rows * n_outputs];
    let predict_err = |e| format!("{model_path}: {e}");

    model
        .predict_batch(&run.rows, &mut margins, &mut outputs)
        .map_err(predict_err)?;
    let start = Instant::now();
    model
        .predict_batch(std::hint::black_box(&run.rows), &mut margins, &mut outputs)
        .map_err(predict_err)?;
    let batch_ns = start.elapsed().as_nanos();

    let mut one_margin = vec![0.0f32; n_outputs];
    let mut one_output = vec![0.0f32; n_outputs];
    let single_ns = run.time_single_rows(|row| {
        model
            .predict(row, &mut one_margin, &mut one_output)
            .map_err(predict_err)?;
        std::hint::black_box(&one_output);
        Ok(())
    })?;
    run.report(batch_ns, single_ns, &outputs);
    Ok(())
}

//! The peer comparison's timer for Lockstep's code path (`benches/compare/run.py`): a module
//! from `lockstep codegen`, compiled into this program, timed with `compare-timer`'s protocol
//! (protocol.rs), one thread, release build.
//!
//! run.py copies this file to `target/compare/work/codegen-<model>/src/main.rs` with
//! protocol.rs next to it, writes the model's module there as `model.rs`, and builds the crate
//! (lockstep-engine by path) with the workspace's release profile; it is not a workspace member.
//!
//! Usage: TIMER - ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs] (the model is compiled in; the
//! `-` keeps the command line of the other timers). After one untimed pass over every row
//! (warm-up), it times one `predict_batch` call over every row (the module's batch entry point:
//! rows in blocks, groups of trees over each block), then `predict` on each of the first
//! SINGLE_ROWS rows, one call at a time, and prints `batch_ns=<total> single_ns=<median of the
//! per-call times>`, then with `--outputs` the timed pass's outputs as f32 bits.

mod model;
mod protocol;

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    protocol::exit("codegen-timer", run())
}

fn run() -> Result<(), String> {
    let run = protocol::Run::from_args("TIMER -")?;
    if run.model != "-" {
        return Err(format!(
            "the model is compiled in; give `-` instead of '{}'",
            run.model
        ));
    }
    if run.n_features != model::N_FEATURES {
        return Err(format!(
            "N_FEATURES {} is not the compiled model's {}",
            run.n_features,
            model::N_FEATURES
        ));
    }
    let rows: Vec<[f32; model::N_FEATURES]> = run
        .rows
        .chunks_exact(model::N_FEATURES)
        .filter_map(|row| <[f32; model::N_FEATURES]>::try_from(row).ok())
        .collect();
    let mut margins = vec![[0.0f32; model::N_OUTPUTS]; rows.len()];
    let mut outputs = vec![[0.0f32; model::N_OUTPUTS]; rows.len()];

    model::predict_batch(&rows, &mut margins, &mut outputs);
    let start = Instant::now();
    model::predict_batch(std::hint::black_box(&rows), &mut margins, &mut outputs);
    let batch_ns = start.elapsed().as_nanos();
    std::hint::black_box(&outputs);
    let outputs: Vec<f32> = outputs.iter().flatten().copied().collect();

    let mut one_margin = [0.0f32; model::N_OUTPUTS];
    let mut one_output = [0.0f32; model::N_OUTPUTS];
    let single_ns = run.time_single_rows(|row| {
        let row = <&[f32; model::N_FEATURES]>::try_from(row).map_err(|e| e.to_string())?;
        model::predict(row, &mut one_margin, &mut one_output);
        std::hint::black_box(&one_output);
        Ok(())
    })?;
    run.report(batch_ns, single_ns, &outputs);
    Ok(())
}

//! `compare-timer`: times Lockstep's public predict API for the peer comparison
//! (`benches/compare/run.py`), one thread, release build.
//!
//! Usage: compare-timer MODEL.lsm ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]
//! ROWS.f32 holds row-major little-endian f32 features (NaN = missing). After one untimed
//! `predict_batch` pass (warm-up), it times one `predict_batch` over every row, then
//! `predict` on each of the first SINGLE_ROWS rows, one call at a time, and prints
//! `batch_ns=<total> single_ns=<median of the per-call times>`. With `--outputs`, the batch's
//! outputs (probabilities for a binary model) follow, one line per value, as 8 hex digits of
//! the f32 bits.

use std::process::ExitCode;
use std::time::Instant;

use lockstep_engine::Model;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("compare-timer: {message}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model_path, rows_path, n_features, single_rows, print_outputs) = match args.as_slice() {
        [m, r, f, s] => (m, r, f, s, false),
        [m, r, f, s, o] if o == "--outputs" => (m, r, f, s, true),
        _ => {
            return Err(
                "usage: compare-timer MODEL.lsm ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]".into(),
            )
        }
    };
    let n_features: usize = n_features
        .parse()
        .map_err(|_| format!("N_FEATURES '{n_features}' is not a number"))?;
    let single_rows: usize = single_rows
        .parse()
        .map_err(|_| format!("SINGLE_ROWS '{single_rows}' is not a number"))?;
    let bytes = std::fs::read(model_path).map_err(|e| format!("{model_path}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{model_path}: {e}"))?;
    let raw = std::fs::read(rows_path).map_err(|e| format!("{rows_path}: {e}"))?;
    let rows: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if n_features == 0 || !rows.len().is_multiple_of(n_features) || n_features != model.n_features()
    {
        return Err(format!(
            "{rows_path}: {} values do not make rows of the model's {} features",
            rows.len(),
            model.n_features()
        ));
    }
    let n_rows = rows.len() / n_features;
    let n_outputs = model.n_outputs();
    let mut margins = vec![0.0f32; n_rows * n_outputs];
    let mut outputs = vec![0.0f32; n_rows * n_outputs];
    let predict_err = |e| format!("{model_path}: {e}");

    model
        .predict_batch(&rows, &mut margins, &mut outputs)
        .map_err(predict_err)?;
    let start = Instant::now();
    model
        .predict_batch(std::hint::black_box(&rows), &mut margins, &mut outputs)
        .map_err(predict_err)?;
    let batch_ns = start.elapsed().as_nanos();

    let mut one_margin = vec![0.0f32; n_outputs];
    let mut one_output = vec![0.0f32; n_outputs];
    let mut times = Vec::with_capacity(single_rows.min(n_rows));
    for row in rows.chunks_exact(n_features).take(single_rows) {
        let start = Instant::now();
        model
            .predict(std::hint::black_box(row), &mut one_margin, &mut one_output)
            .map_err(predict_err)?;
        std::hint::black_box(&one_output);
        times.push(start.elapsed().as_nanos());
    }
    times.sort_unstable();
    let single_ns = times.get(times.len() / 2).copied().unwrap_or(0);

    println!("batch_ns={batch_ns} single_ns={single_ns}");
    if print_outputs {
        let mut text = String::with_capacity(outputs.len() * 9);
        for value in &outputs {
            text.push_str(&format!("{:08x}\n", value.to_bits()));
        }
        print!("{text}");
    }
    Ok(())
}

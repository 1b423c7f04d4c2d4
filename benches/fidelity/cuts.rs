//! `fidelity-cuts`: prints the candidate cuts `lockstep train` would use, as JSON, so the
//! fidelity benchmark (`benches/fidelity/run.py`) can compare them with XGBoost's
//! `get_quantile_cut()`. It loads the CSV through the schema exactly as `lockstep train` does
//! and bins every row with [`Binning::fit`], the trainer's own binning.
//!
//! Usage: fidelity-cuts DATA.csv SCHEMA.toml MAX_BINS
//! (MAX_BINS counts the missing bin: XGBoost's `max_bin` + 1). Output: one JSON object,
//! `{"feature name": [threshold, ...], ...}`, thresholds as f32 printed in full precision.

use std::process::ExitCode;

use lockstep_host::data;
use lockstep_host::train::binning::Binning;
use lockstep_host::train::TrainData;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, schema, max_bins] = args.as_slice() else {
        eprintln!("usage: fidelity-cuts DATA.csv SCHEMA.toml MAX_BINS");
        return ExitCode::from(1);
    };
    let Ok(max_bins) = max_bins.parse::<usize>() else {
        eprintln!("fidelity-cuts: MAX_BINS '{max_bins}' is not a number");
        return ExitCode::from(1);
    };
    let loaded = data::load_schema(schema).and_then(|s| data::load_csv(csv, &s));
    let dataset = match loaded {
        Ok(dataset) => dataset,
        Err(e) => {
            eprintln!("fidelity-cuts: {e}");
            return ExitCode::from(1);
        }
    };
    let labels = vec![0.0f32; dataset.n_rows];
    let binning = Binning::fit(
        &TrainData {
            feature_names: &dataset.feature_names,
            columns: &dataset.columns,
            labels: &labels,
        },
        max_bins,
    );
    let cuts: serde_json::Map<String, serde_json::Value> = dataset
        .feature_names
        .iter()
        .zip(&binning.features)
        .map(|(name, bins)| {
            let values = bins
                .thresholds
                .iter()
                .map(|&t| serde_json::Value::from(f64::from(t)))
                .collect();
            (name.clone(), serde_json::Value::Array(values))
        })
        .collect();
    println!("{}", serde_json::Value::Object(cuts));
    ExitCode::SUCCESS
}

//! Lockstep's bins against XGBoost's: for the columns defined in
//! tests/fixtures/binning/gen_cuts.py (integers only, rebuilt here value for value), the
//! thresholds `Binning::fit` chooses with `max_bins = max_bin + 1` (Lockstep counts the missing
//! bin, XGBoost does not) must be the cut values XGBoost 3.2.0's `hist` method uses, bit for bit.

use std::path::PathBuf;

use lockstep_host::train::binning::Binning;
use lockstep_host::train::TrainData;

fn fixture() -> serde_json::Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/binning/cuts.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("cuts.json parses")
}

fn int(case: &serde_json::Value, key: &str) -> i64 {
    case[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is an integer"))
}

/// The column of gen_cuts.py's `column()`.
fn column(case: &serde_json::Value) -> Vec<f32> {
    let (n, a, p, q) = (
        int(case, "n"),
        int(case, "a"),
        int(case, "p"),
        int(case, "q"),
    );
    let (shift, missing_every) = (int(case, "shift"), int(case, "missing_every"));
    let scale = case["scale"].as_f64().expect("scale is a number");
    (0..n)
        .map(|i| {
            if missing_every > 0 && i % missing_every == 0 {
                return f32::NAN;
            }
            let k = (i * a) % p;
            (((k * k) / q - shift) as f64 * scale) as f32
        })
        .collect()
}

#[test]
fn thresholds_are_xgboost_hist_cut_values() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 15);
    let names = vec!["x".to_string()];
    for case in cases {
        let column = column(case);
        let labels = vec![0.0f32; column.len()];
        let columns = vec![column];
        let data = TrainData {
            feature_names: &names,
            columns: &columns,
            labels: &labels,
        };
        let max_bin = int(case, "max_bin") as usize;
        let binning = Binning::fit(&data, max_bin + 1);
        let ours: Vec<u32> = binning.features[0]
            .thresholds
            .iter()
            .map(|t| t.to_bits())
            .collect();
        let theirs: Vec<u32> = case["thresholds_bits"]
            .as_array()
            .expect("thresholds_bits")
            .iter()
            .map(|b| b.as_u64().expect("bits") as u32)
            .collect();
        let name = case["name"].as_str().unwrap_or("?");
        assert_eq!(
            ours, theirs,
            "{name}, max_bin {max_bin}: Lockstep's thresholds differ from XGBoost's"
        );
        // The fixture exercises both regimes: every value a bin, and pruning.
        let distinct = int(case, "distinct") as usize;
        assert_eq!(
            ours.len() + 1 == distinct,
            distinct <= max_bin,
            "{name} {max_bin}"
        );
    }
}

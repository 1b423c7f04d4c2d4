//! What the fuzz targets share: scoring a loaded model on rows made from fuzz input, and the
//! fixed schema, model and dataset the text-parser targets run against.
//!
//! Every target asserts only what must hold for *any* input: no panic, no abort, no hang (libFuzzer's
//! `-timeout`), no memory blow-up (`-rss_limit_mb`, `-malloc_limit_mb`), and that whatever an importer
//! accepts compiles to bytes the engine loads and scores.

use lockstep_engine::builder::ModelSpec;
use lockstep_engine::Model;
use lockstep_host::parity::vectors::SPECIAL_VALUES;
use std::sync::OnceLock;

/// Most rows scored per model (keeps each execution short on large models).
pub const MAX_ROWS: usize = 8;

/// Row values from `seed`: each 5-byte chunk is a selector byte (below 64: one of the special
/// values the parity vectors probe, or 1.0/-1.0; otherwise the next four bytes as raw f32 bits);
/// an empty seed gives zeros.
pub fn row_values(seed: &[u8], count: usize) -> Vec<f32> {
    if seed.is_empty() {
        return vec![0.0; count];
    }
    let chunks: Vec<f32> = seed
        .chunks(5)
        .map(|chunk| {
            let selector = chunk[0];
            if selector < 64 || chunk.len() < 5 {
                let i = usize::from(selector) % (SPECIAL_VALUES.len() + 2);
                SPECIAL_VALUES
                    .get(i)
                    .copied()
                    .unwrap_or(if i.is_multiple_of(2) { 1.0 } else { -1.0 })
            } else {
                f32::from_le_bytes([chunk[1], chunk[2], chunk[3], chunk[4]])
            }
        })
        .collect();
    (0..count).map(|i| chunks[i % chunks.len()]).collect()
}

/// Loads `bytes` and, when they load, scores rows made from `seed` through every entry point:
/// `score`, `predict`, `predict_batch` and `check_ranges`, plus the read-only accessors tools
/// use. A model that loads must score every row without panicking.
pub fn exercise_model(bytes: &[u8], seed: &[u8]) {
    let Ok(model) = Model::from_bytes(bytes) else {
        return;
    };
    exercise_loaded(&model, seed);
}

/// What every importer target checks: an accepted source compiles to bytes the engine loads
/// (the builder may still refuse a spec beyond a limit) and that model scores any row.
pub fn exercise_import<E>(imported: Result<ModelSpec, E>, seed: &[u8]) {
    let Ok(spec) = imported else {
        return;
    };
    if let Ok(bytes) = spec.to_bytes() {
        assert!(
            Model::from_bytes(&bytes).is_ok(),
            "the builder wrote bytes the engine refuses"
        );
        exercise_model(&bytes, seed);
    }
}

/// [`exercise_model`] for a model already loaded.
pub fn exercise_loaded(model: &Model<'_>, seed: &[u8]) {
    let n = model.n_features();
    let k = model.n_outputs();
    let rows = if seed.is_empty() {
        1
    } else {
        seed.len().div_ceil(5).clamp(1, MAX_ROWS)
    };
    let values = row_values(seed, n * rows);
    for row in values.chunks(n.max(1)).take(rows) {
        let row = &row[..n.min(row.len())];
        let _ = model.check_ranges(row);
        let _ = model.score(row);
        let (mut margins, mut outputs) = (vec![0.0f32; k], vec![0.0f32; k]);
        let _ = model.predict(row, &mut margins, &mut outputs);
    }
    let (mut margins, mut outputs) = (vec![0.0f32; k * rows], vec![0.0f32; k * rows]);
    let _ = model.predict_batch(&values, &mut margins, &mut outputs);
    // A wrong-length row is refused, never read past.
    let _ = model.score(&values[..values.len().saturating_sub(1)]);
    for feature in 0..n {
        let _ = model.feature_range(feature);
        let _ = model.linear_term(feature);
    }
    let _ = model.feature_names().count();
    let _ = (
        model.label(),
        model.source(),
        model.checksum(),
        model.measured_depth(),
    );
}

/// Splits a fuzz input into a row seed (its first byte says how long, up to 40 bytes) and the
/// rest.
pub fn split_seed(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((&len, rest)) = data.split_first() else {
        return (&[], &[]);
    };
    let len = usize::from(len % 41).min(rest.len());
    rest.split_at(len)
}

/// The bundled example schema (examples/arthroplasty/cohort.schema.toml), parsed once.
pub fn example_schema() -> &'static lockstep_host::data::Schema {
    static SCHEMA: OnceLock<lockstep_host::data::Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../../examples/arthroplasty/cohort.schema.toml");
        lockstep_host::data::parse_schema(text, "cohort.schema.toml".as_ref())
            .expect("the example schema parses")
    })
}

/// The first rows of the bundled example cohort, loaded once with [`example_schema`].
pub fn example_dataset() -> &'static lockstep_host::data::Dataset {
    static DATASET: OnceLock<lockstep_host::data::Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let csv = include_str!("../../examples/arthroplasty/cohort.csv");
        let head: String = csv.lines().take(200).flat_map(|l| [l, "\n"]).collect();
        lockstep_host::data::parse_csv(head.as_bytes(), "cohort.csv".as_ref(), example_schema())
            .expect("the example cohort loads")
    })
}

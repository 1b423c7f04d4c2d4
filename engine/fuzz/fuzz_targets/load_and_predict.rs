//! Any bytes: loading never panics, and a model that loads predicts any row without panicking.
//! The checksum is recomputed over the input first, so the fuzzer reaches the structural checks
//! instead of stopping at the SHA-256 comparison.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_engine::Model;

fuzz_target!(|data: &[u8]| {
    let mut bytes = b"LSTP\x01\x00\x00\x00".to_vec();
    bytes.extend_from_slice(data);
    let digest = sha256(&bytes);
    bytes.extend_from_slice(&digest);
    let Ok(model) = Model::from_bytes(&bytes) else { return };
    let n = model.n_features();
    let k = model.n_outputs();
    let (mut margins, mut outputs) = (vec![0.0f32; k], vec![0.0f32; k]);
    for fill in [0.0f32, f32::NAN, f32::INFINITY, -1.5, 1e-45] {
        let row = vec![fill; n];
        let _ = model.predict(&row, &mut margins, &mut outputs);
    }
});

/// The SHA-256 the engine verifies at load.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

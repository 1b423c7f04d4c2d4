//! Any bytes as a model: loading never panics, and a model that loads scores any row (special
//! values and raw bit patterns) through every entry point without panicking.
//!
//! Input: a row-seed length byte, the row seed, a mode byte, then the model bytes. Mode bit 0
//! set: the last 32 bytes are replaced by the SHA-256 of the rest, so the fuzzer reaches the
//! structural checks instead of stopping at the checksum; clear: the bytes are loaded as given
//! (header and checksum paths).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_engine::format::CHECKSUM_LEN;
use lockstep_fuzz::{exercise_model, split_seed};
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let (seed, rest) = split_seed(data);
    let Some((&mode, model)) = rest.split_first() else {
        return;
    };
    if mode & 1 == 1 && model.len() >= CHECKSUM_LEN {
        let mut bytes = model.to_vec();
        let body = bytes.len() - CHECKSUM_LEN;
        let digest: [u8; 32] = Sha256::digest(&bytes[..body]).into();
        bytes[body..].copy_from_slice(&digest);
        exercise_model(&bytes, seed);
    } else {
        exercise_model(model, seed);
    }
});

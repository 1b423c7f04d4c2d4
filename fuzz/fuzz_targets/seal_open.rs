//! Any bytes as a sealed model: `lockstep_seal::open` and `header` never panic, agree with each
//! other, and `open` returns exactly the model bytes the header describes; a model the fuzzer
//! seals itself opens to its exact bytes unless it is older than the minimum.
//!
//! Input: a mode byte, then the rest. Mode bit 0 clear: the rest is opened as given under the
//! public key of the fixed secret below (the seed corpus holds a model sealed with it) and
//! minimum version 3. Set: the rest is a u32 LE version then model bytes, which are sealed with
//! that secret and opened again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_seal::{header, open, public_key, seal_into, sealed_len, SealError, HEADER_LEN};

/// The fixture's signing seed (tests/fixtures/sealed/README.md): a test key, not a secret.
const SECRET: [u8; 32] = [0x5e; 32];
const MIN_VERSION: u32 = 3;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = public_key(&SECRET);
    if mode & 1 == 0 {
        let described = header(rest);
        match open(rest, &key, MIN_VERSION) {
            Ok(opened) => {
                let h = described.expect("open accepted what header refused");
                assert_eq!(h.version, opened.version);
                assert_eq!(h.key_id, opened.key_id);
                assert!(opened.version >= MIN_VERSION);
                assert_eq!(opened.model, &rest[HEADER_LEN..HEADER_LEN + h.model_len as usize]);
            }
            Err(SealError::BufferTooSmall | SealError::ModelTooLarge) => {
                panic!("open returned a sealing error")
            }
            Err(_) => {}
        }
        return;
    }
    let Some((version, model)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let version = u32::from_le_bytes(*version);
    let mut sealed = vec![0u8; sealed_len(model.len()).expect("small input")];
    let n = seal_into(model, version, &SECRET, &mut sealed).expect("buffer sized by sealed_len");
    assert_eq!(n, sealed.len());
    match open(&sealed, &key, MIN_VERSION) {
        Ok(opened) => {
            assert!(version >= MIN_VERSION);
            assert_eq!(opened.model, model);
            assert_eq!(opened.version, version);
        }
        Err(SealError::Rollback { version: v, minimum }) => {
            assert!(v == version && minimum == MIN_VERSION && version < MIN_VERSION);
        }
        Err(e) => panic!("a fresh seal was refused: {e}"),
    }
});

//! The seal check before the first score: with a public key compiled in (build.rs,
//! `LOCKSTEP_SEAL_PUBLIC_KEY` and `LOCKSTEP_SEAL_MIN_VERSION`), only a model that
//! `lockstep_seal::open` accepts under that key and minimum version reaches the engine; without
//! one, the bytes go to the engine unchanged (unsigned models, as before).

use lockstep_seal::{Opened, SealError};

include!(concat!(env!("OUT_DIR"), "/seal_key.rs"));

/// Whether this build requires sealed models.
pub const REQUIRED: bool = PUBLIC_KEY.is_some();

/// The model bytes to hand to the engine, and the seal they came in (if this build checks one).
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    /// The model bytes (`Model::from_bytes` checks them next).
    pub model: &'a [u8],
    /// The verified seal, when this build requires one.
    pub seal: Option<Opened<'a>>,
}

/// Checks `bytes` against the compiled-in key and minimum version (a no-op without a key).
pub fn check(bytes: &[u8]) -> Result<Checked<'_>, SealError> {
    match PUBLIC_KEY {
        None => Ok(Checked {
            model: bytes,
            seal: None,
        }),
        Some(key) => {
            let opened = lockstep_seal::open(bytes, &key, MIN_VERSION)?;
            Ok(Checked {
                model: opened.model,
                seal: Some(opened),
            })
        }
    }
}

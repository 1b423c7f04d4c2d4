//! `lockstep sign`: seals a compiled model with a version under a secret key (`.lss`), after
//! checking that the model loads in the engine.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{inspect, keys, output};

/// Seals `model` as `version` with the secret key in `key`, writing `out`.
pub fn run(model: &Path, key: &Path, version: u32, out: &Path) -> Result<()> {
    output::refuse_overwriting_inputs(&[("the model", model), ("--key", key)], &[("-o", out)])
        .context("sign")?;
    let bytes = read_file("sign", model)?;
    if lockstep_seal::is_sealed(&bytes) {
        bail!(
            "sign: '{}' is already a sealed model; give the compiled .lsm",
            shown_path(model)
        );
    }
    let loaded = load_model("sign", model, &bytes)?;
    let secret = keys::read_secret(key).context("sign")?;
    let mut sealed = vec![0u8; lockstep_seal::sealed_len(bytes.len()).unwrap_or(0)];
    let n = lockstep_seal::seal_into(&bytes, version, &secret, &mut sealed)
        .map_err(|e| anyhow::anyhow!("sign: '{}': {e}", shown_path(model)))?;
    sealed.truncate(n);
    output::write_atomically(out, &sealed).context("sign")?;
    eprintln!(
        "sealed '{}' (sha256 {}) as version {version} with key {} -> '{}' ({} bytes)",
        shown_path(model),
        inspect::hex(&loaded.checksum()),
        keys::key_id_hex(&keys::public_of(&secret)),
        shown_path(out),
        sealed.len()
    );
    Ok(())
}

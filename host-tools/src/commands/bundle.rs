//! `lockstep bundle verify` and `lockstep bundle reproduce`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::bundle;
use crate::keys;
use crate::text::{shown, shown_path};

/// Verifies the bundle in `dir` with the public key in `pubkey`: prints each broken rule on a
/// line of its own (file: rule: detail) and returns whether every check held.
pub fn verify(dir: &Path, pubkey: &Path) -> Result<bool> {
    let key = keys::read_public(pubkey).context("bundle verify")?;
    let started = std::time::Instant::now();
    match bundle::verify(dir, &key) {
        Ok(verified) => {
            let m = &verified.manifest;
            println!(
                "bundle '{}' verified: {} model version {}, sha256 {}, key {}, validation {}, parity {} ({} files, {:.3} s)",
                shown_path(dir),
                shown(&m.outcome),
                m.model.version,
                m.model.sha256,
                m.model.key_id,
                shown(&m.validation.verdict),
                shown(&m.parity.verdict),
                m.files.len() + 2,
                started.elapsed().as_secs_f64()
            );
            Ok(true)
        }
        Err(bundle::VerifyError::Failed(failures)) => {
            for failure in &failures {
                eprintln!("{}", failure);
            }
            eprintln!(
                "bundle '{}' REFUSED: {} check(s) failed",
                shown_path(dir),
                failures.len()
            );
            Ok(false)
        }
    }
}

/// Re-trains the bundle's model on `data` (after verifying the bundle with `pubkey` if
/// given) and returns whether the model bytes are the same.
pub fn reproduce(dir: &Path, data: &Path, pubkey: Option<&Path>) -> Result<bool> {
    if let Some(pubkey) = pubkey {
        if !verify(dir, pubkey)? {
            anyhow::bail!(
                "bundle reproduce: '{}' does not verify; nothing re-trained",
                shown_path(dir)
            );
        }
    }
    let result = bundle::reproduce(dir, data).with_context(|| {
        format!(
            "bundle reproduce: '{}' with data '{}'",
            shown_path(dir),
            shown_path(data)
        )
    })?;
    if result.same() {
        println!(
            "reproduced: the re-trained model has the bundle's SHA-256 {}",
            result.found_sha256
        );
    } else {
        println!(
            "DIFFERENT: the re-trained model's SHA-256 is {}, the bundle's is {}",
            result.found_sha256, result.expected_sha256
        );
    }
    Ok(result.same())
}

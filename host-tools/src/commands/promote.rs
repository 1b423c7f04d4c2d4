//! `lockstep promote`: makes a verified bundle the accepted model for its outcome, in the
//! registry's hash-chained log.

use std::path::Path;

use anyhow::{Context, Result};

use crate::bundle::{self, VerifyError};
use crate::keys;
use crate::registry::{self, BundleFacts, Registry};
use crate::text::{shown, shown_path};

/// Verifies `bundle_dir` (with `pubkey`, or the registry's trusted key), refuses one whose
/// validation or parity did not pass, and appends the promotion to the registry.
pub fn run(
    bundle_dir: &Path,
    registry_dir: &Path,
    pubkey: Option<&Path>,
    by: &str,
    reason: &str,
) -> Result<()> {
    let reg = Registry::new(registry_dir);
    let log = reg.load().context("promote")?;
    let key = match (pubkey, log.trusted) {
        (Some(path), _) => keys::read_public(path).context("promote")?,
        (None, Some(trusted)) => trusted,
        (None, None) => anyhow::bail!(
            "promote: the registry {} has no trusted key yet: pass --pubkey K.pub with the first promotion",
            shown_path(registry_dir)
        ),
    };
    let verified = match bundle::verify(bundle_dir, &key) {
        Ok(verified) => verified,
        Err(VerifyError::Failed(failures)) => {
            for failure in &failures {
                eprintln!("{failure}");
            }
            anyhow::bail!(
                "promote: the bundle {} does not verify ({} check(s) failed); nothing promoted",
                shown_path(bundle_dir),
                failures.len()
            );
        }
    };
    let m = &verified.manifest;
    if m.validation.verdict != "accepted" {
        anyhow::bail!(
            "promote: the bundle's validation verdict is '{}', not 'accepted': only a model its plan accepted can be promoted",
            shown(&m.validation.verdict)
        );
    }
    if m.parity.verdict == "mismatch" {
        anyhow::bail!(
            "promote: a device computed other bits than the host for this bundle's model (parity: mismatch); it cannot be promoted"
        );
    }
    let facts = BundleFacts {
        outcome: m.outcome.clone(),
        version: m.model.version,
        manifest_sha256: bundle::sha256_hex(&verified.manifest_bytes),
        model_sha256: m.model.sha256.clone(),
        key_id: m.model.key_id.clone(),
    };
    let entry = reg
        .promote(bundle_dir, &facts, &key, by, reason, &registry::now())
        .context("promote")?;
    println!(
        "promoted {} v{} (model {}) as entry {}; registry head {} {}",
        shown(&entry.outcome),
        entry.version,
        entry.model_sha256,
        entry.seq,
        entry.seq,
        entry.hash
    );
    if m.parity.verdict != "exact" {
        eprintln!(
            "note: parity was '{}' for this bundle: no device ran this model before promotion",
            shown(&m.parity.verdict)
        );
    }
    Ok(())
}

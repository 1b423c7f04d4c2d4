//! `lockstep keygen`: a new Ed25519 key pair, NAME.key (secret, owner-only) and NAME.pub.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::keys;
use crate::text::shown_path;

/// `base` with `.ext` appended (`keys/lockstep` -> `keys/lockstep.key`).
fn with_suffix(base: &Path, ext: &str) -> PathBuf {
    let mut name = OsString::from(base.as_os_str());
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Writes a new key pair at `base`.key and `base`.pub, refusing to replace existing key files
/// unless `force`; prints the key id.
pub fn run(base: &Path, force: bool) -> Result<()> {
    let (secret_path, public_path) = (with_suffix(base, "key"), with_suffix(base, "pub"));
    if !force {
        for path in [&secret_path, &public_path] {
            if std::fs::symlink_metadata(path).is_ok() {
                bail!(
                    "keygen: '{}' exists; a signing key that is overwritten cannot be recovered \
                     (bundles signed with it could no longer be re-signed): choose another name, \
                     or give --force to replace it",
                    shown_path(path)
                );
            }
        }
    }
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::output::create_directory(parent).context("keygen")?;
    }
    let secret = keys::generate().context("keygen")?;
    keys::write_pair(&secret, &secret_path, &public_path).context("keygen")?;
    let id = keys::key_id_hex(&keys::public_of(&secret));
    eprintln!(
        "wrote secret key '{}' (owner-only; keep it off the training machine) and public key '{}'",
        shown_path(&secret_path),
        shown_path(&public_path)
    );
    println!("key id {id}");
    Ok(())
}

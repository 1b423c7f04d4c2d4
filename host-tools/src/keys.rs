//! Ed25519 key files: the one reader and writer of them.
//!
//! A key file is one line of text, a label and 64 hexadecimal digits:
//!
//! ```text
//! lockstep-ed25519-public 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
//! lockstep-ed25519-secret 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//! ```
//!
//! The secret is the 32-byte Ed25519 seed (RFC 8032); the public key derives from it. The label
//! stops a public key from being read as a secret and the other way round. Secrets are written
//! readable by their owner only (mode 0600 on Unix); a real signing key lives off the machine
//! that trains, and only its public half is compiled into the firmware.

use std::path::Path;

use crate::output::{OutputError, OutputSet};

/// The label of a public key file.
pub const PUBLIC_LABEL: &str = "lockstep-ed25519-public";
/// The label of a secret key file.
pub const SECRET_LABEL: &str = "lockstep-ed25519-secret";

/// A public key (32 bytes).
pub type PublicKey = [u8; lockstep_seal::PUBLIC_KEY_LEN];
/// A secret key: the 32-byte Ed25519 seed.
pub type SecretKey = [u8; lockstep_seal::SECRET_KEY_LEN];

/// Why a key file could not be read or a key made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {cause}")]
    Read {
        /// The file, as shown.
        path: String,
        /// The cause, as text.
        cause: String,
    },
    /// The file is not a key of the expected kind.
    #[error("{path} is not a {expected} key file: {reason}")]
    Format {
        /// The file, as shown.
        path: String,
        /// `public` or `secret`.
        expected: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random source failed.
    #[error("cannot draw a random key from the operating system: {0}")]
    Random(String),
    /// A key file could not be written.
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// Which kind of key a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Public,
    Secret,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Public => PUBLIC_LABEL,
            Kind::Secret => SECRET_LABEL,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Public => "public",
            Kind::Secret => "secret",
        }
    }
}

/// The text of a key file holding `key`.
fn encode(kind: Kind, key: &[u8; 32]) -> String {
    format!("{} {}\n", kind.label(), crate::inspect::hex(key))
}

/// Reads a key of `kind` from `text`, or says what is wrong.
fn decode(kind: Kind, text: &str) -> Result<[u8; 32], &'static str> {
    let mut words = text.split_whitespace();
    let label = words.next().ok_or("the file is empty")?;
    if label != kind.label() {
        let other = match kind {
            Kind::Public => Kind::Secret,
            Kind::Secret => Kind::Public,
        };
        return Err(if label == other.label() {
            match kind {
                Kind::Public => "it holds a secret key; give the .pub file",
                Kind::Secret => "it holds a public key; give the secret .key file",
            }
        } else {
            "it does not start with a lockstep-ed25519 label (made by `lockstep keygen`?)"
        });
    }
    let hex = words.next().ok_or("the key digits are missing")?;
    if words.next().is_some() {
        return Err("there is text after the key");
    }
    if hex.len() != 64 {
        return Err("the key is not 64 hexadecimal digits");
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| "the key has a non-hex digit")?;
        *byte = u8::from_str_radix(digits, 16).map_err(|_| "the key has a non-hex digit")?;
    }
    Ok(key)
}

fn read(kind: Kind, path: &Path) -> Result<[u8; 32], KeyError> {
    let shown = crate::text::shown_path(path);
    let bytes = std::fs::read(path).map_err(|e| KeyError::Read {
        path: shown.clone(),
        cause: e.to_string(),
    })?;
    let format = |reason| KeyError::Format {
        path: shown.clone(),
        expected: kind.name(),
        reason,
    };
    if bytes.len() > 4096 {
        return Err(format("the file is far longer than a key file"));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| format("the file is not text"))?;
    decode(kind, text).map_err(format)
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<PublicKey, KeyError> {
    let key = read(Kind::Public, path)?;
    // A key that is not a valid curve point can verify nothing: refuse it when it is read.
    if lockstep_seal::is_valid_public_key(&key) {
        Ok(key)
    } else {
        Err(KeyError::Format {
            path: crate::text::shown_path(path),
            expected: "public",
            reason: "the digits are not a valid Ed25519 public key",
        })
    }
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SecretKey, KeyError> {
    read(Kind::Secret, path)
}

/// The text of a public key file.
pub fn public_text(key: &PublicKey) -> String {
    encode(Kind::Public, key)
}

/// The text of a secret key file.
pub fn secret_text(key: &SecretKey) -> String {
    encode(Kind::Secret, key)
}

/// The public key of a secret key.
pub fn public_of(secret: &SecretKey) -> PublicKey {
    lockstep_seal::public_key(secret)
}

/// The key id (first 8 bytes of the public key's SHA-256) as 16 hex digits.
pub fn key_id_hex(public: &PublicKey) -> String {
    crate::inspect::hex(&lockstep_seal::key_id(public))
}

/// A new secret key from the operating system's random source.
pub fn generate() -> Result<SecretKey, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(secret)
}

/// Writes a key pair as `secret_path` (owner-only) and `public_path`, together or not at all.
pub fn write_pair(
    secret: &SecretKey,
    secret_path: &Path,
    public_path: &Path,
) -> Result<(), KeyError> {
    use std::io::Write as _;
    let mut set = OutputSet::new();
    let file = set.file(secret_path)?;
    // Owner-only before the secret is written, so it is never readable by others.
    restrict_to_owner(file.get_ref())
        .and_then(|()| file.write_all(secret_text(secret).as_bytes()))
        .map_err(|e| OutputSet::write_error(secret_path, e))?;
    set.bytes(public_path, public_text(&public_of(secret)).as_bytes())?;
    set.commit()?;
    Ok(())
}

#[cfg(unix)]
fn restrict_to_owner(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text() {
        let secret = generate().unwrap();
        let public = public_of(&secret);
        assert_eq!(decode(Kind::Secret, &secret_text(&secret)), Ok(secret));
        assert_eq!(decode(Kind::Public, &public_text(&public)), Ok(public));
        assert_ne!(generate().unwrap(), secret, "two draws gave the same key");
    }

    #[test]
    fn the_wrong_kind_or_bad_digits_are_refused() {
        let secret = [5u8; 32];
        let public = public_of(&secret);
        assert!(decode(Kind::Public, &secret_text(&secret))
            .unwrap_err()
            .contains("secret key"));
        assert!(decode(Kind::Secret, &public_text(&public))
            .unwrap_err()
            .contains("public key"));
        let short = format!("{PUBLIC_LABEL} abcd\n");
        assert!(decode(Kind::Public, &short).is_err());
        let bad = format!("{PUBLIC_LABEL} {}\n", "zz".repeat(32));
        assert!(decode(Kind::Public, &bad).is_err());
        let extra = format!("{} extra", public_text(&public).trim_end());
        assert!(decode(Kind::Public, &extra).is_err());
        assert!(decode(Kind::Public, "").is_err());
    }

    #[test]
    fn a_written_pair_reads_back_and_the_secret_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let secret = generate().unwrap();
        write_pair(&secret, &sk, &pk).unwrap();
        assert_eq!(read_secret(&sk).unwrap(), secret);
        assert_eq!(read_public(&pk).unwrap(), public_of(&secret));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&sk).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(read_public(&sk).is_err());
    }
}

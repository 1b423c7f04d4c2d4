//! The seal on a locked model: an Ed25519 signature over the exact bytes of a Lockstep model
//! (`.lsm`) together with a monotonic version, checked on the device before the first score.
//!
//! A sealed model (`.lss`) is one contiguous blob, little-endian:
//!
//! ```text
//! offset  size  field
//!      0     4  magic "LSSM"
//!      4     2  seal format version (1)
//!      6     2  flags (0; any other value is refused)
//!      8     4  model version: monotonic, compared with the firmware's minimum (anti-rollback)
//!     12     8  key id: the first 8 bytes of SHA-256 of the signer's public key
//!     20     4  model length N
//!     24     N  the model bytes, exactly as `lockstep_engine::Model::from_bytes` reads them
//!   24+N    64  Ed25519 signature over bytes [0, 24+N): header and model together
//! ```
//!
//! The signature covers the header, so the version and key id cannot be changed without the
//! key. [`open`] checks, in order: the layout, the key id, the signature (strict RFC 8032
//! verification), then the version; only a model that passes all four is returned, as a slice of
//! the input (no copy, no allocator). The model's own checksum and invariants are then checked
//! by the engine's loader as for any model.
//!
//! `no_std`, no allocator, no `unsafe`, no panics on any input.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "sign")]
use ed25519_dalek::Signer as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The first bytes of a sealed model.
pub const MAGIC: [u8; 4] = *b"LSSM";
/// The seal layout this crate reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes before the model.
pub const HEADER_LEN: usize = 24;
/// Bytes of the signature after the model.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes of a secret key (the Ed25519 seed).
pub const SECRET_KEY_LEN: usize = 32;
/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 8;

/// Why a sealed model was refused. `Copy` and string-free, so a device can log and answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SealError {
    /// Shorter than a header and a signature: not a sealed model (an unsigned `.lsm`, say).
    TooShort,
    /// The first four bytes are not `LSSM`: not a sealed model.
    BadMagic,
    /// A seal format this build does not know.
    UnsupportedFormat(u16),
    /// Flags this build does not know.
    UnknownFlags(u16),
    /// The model length in the header does not match the blob's size.
    LengthMismatch,
    /// Signed with a different key than the one given (the key ids differ).
    WrongKey,
    /// The signature does not verify: some byte of the header or model was changed, or the
    /// signature was made by another key with a colliding key id.
    BadSignature,
    /// The public key given is not a valid Ed25519 point.
    BadPublicKey,
    /// Correctly signed, but older than the minimum version the device accepts.
    Rollback {
        /// The sealed model's version.
        version: u32,
        /// The minimum the device accepts.
        minimum: u32,
    },
    /// `seal_into`: the output buffer is too small (see [`sealed_len`]).
    BufferTooSmall,
    /// `seal_into`: the model is longer than a `u32` can describe.
    ModelTooLarge,
}

impl core::fmt::Display for SealError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SealError::TooShort => f.write_str("too short to be a sealed model (unsigned?)"),
            SealError::BadMagic => f.write_str("not a sealed model (no LSSM magic; unsigned?)"),
            SealError::UnsupportedFormat(v) => write!(f, "unsupported seal format {v}"),
            SealError::UnknownFlags(v) => write!(f, "unknown seal flags {v:#06x}"),
            SealError::LengthMismatch => {
                f.write_str("the model length in the seal does not match the file size")
            }
            SealError::WrongKey => f.write_str("sealed with a different key"),
            SealError::BadSignature => {
                f.write_str("the signature does not verify (the bytes were changed)")
            }
            SealError::BadPublicKey => f.write_str("the public key is not a valid Ed25519 key"),
            SealError::Rollback { version, minimum } => write!(
                f,
                "model version {version} is older than the minimum {minimum} (rollback refused)"
            ),
            SealError::BufferTooSmall => f.write_str("output buffer too small"),
            SealError::ModelTooLarge => f.write_str("model larger than 4 GiB"),
        }
    }
}

/// The header fields of a sealed model, read without checking the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The model version (anti-rollback).
    pub version: u32,
    /// The signer's key id.
    pub key_id: [u8; KEY_ID_LEN],
    /// The model's length in bytes.
    pub model_len: u32,
}

/// A sealed model whose signature and version were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The model version.
    pub version: u32,
    /// The signer's key id.
    pub key_id: [u8; KEY_ID_LEN],
    /// The model bytes, a slice of the sealed blob.
    pub model: &'a [u8],
}

/// The size of a sealed model holding `model_len` model bytes, or `None` on overflow.
pub const fn sealed_len(model_len: usize) -> Option<usize> {
    model_len.checked_add(HEADER_LEN + SIGNATURE_LEN)
}

/// The key id of a public key: the first 8 bytes of its SHA-256.
pub fn key_id(public_key: &[u8; PUBLIC_KEY_LEN]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::digest(public_key);
    let mut id = [0u8; KEY_ID_LEN];
    for (dst, src) in id.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    id
}

/// True when `bytes` starts with the sealed-model magic (cheap sniffing; proves nothing).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&MAGIC[..])
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// The parts of a structurally valid sealed blob: header, signed bytes, model, signature.
struct Parts<'a> {
    header: Header,
    signed: &'a [u8],
    model: &'a [u8],
    signature: [u8; SIGNATURE_LEN],
}

fn split(bytes: &[u8]) -> Result<Parts<'_>, SealError> {
    if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
        return Err(if is_sealed(bytes) || bytes.len() < MAGIC.len() {
            SealError::TooShort
        } else {
            SealError::BadMagic
        });
    }
    if !is_sealed(bytes) {
        return Err(SealError::BadMagic);
    }
    let format = u16_at(bytes, 4).ok_or(SealError::TooShort)?;
    if format != FORMAT_VERSION {
        return Err(SealError::UnsupportedFormat(format));
    }
    let flags = u16_at(bytes, 6).ok_or(SealError::TooShort)?;
    if flags != 0 {
        return Err(SealError::UnknownFlags(flags));
    }
    let version = u32_at(bytes, 8).ok_or(SealError::TooShort)?;
    let mut key_id = [0u8; KEY_ID_LEN];
    key_id.copy_from_slice(bytes.get(12..20).ok_or(SealError::TooShort)?);
    let model_len = u32_at(bytes, 20).ok_or(SealError::TooShort)?;
    let model_end = usize::try_from(model_len)
        .ok()
        .and_then(|n| n.checked_add(HEADER_LEN))
        .ok_or(SealError::LengthMismatch)?;
    if model_end.checked_add(SIGNATURE_LEN) != Some(bytes.len()) {
        return Err(SealError::LengthMismatch);
    }
    let signed = bytes.get(..model_end).ok_or(SealError::LengthMismatch)?;
    let model = bytes
        .get(HEADER_LEN..model_end)
        .ok_or(SealError::LengthMismatch)?;
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(bytes.get(model_end..).ok_or(SealError::LengthMismatch)?);
    Ok(Parts {
        header: Header {
            version,
            key_id,
            model_len,
        },
        signed,
        model,
        signature,
    })
}

/// Reads a sealed model's header without checking the signature (for tools that describe a
/// file; never for deciding to run it).
pub fn header(bytes: &[u8]) -> Result<Header, SealError> {
    split(bytes).map(|p| p.header)
}

/// Checks a sealed model against `public_key` and `minimum_version` and returns its model bytes.
///
/// Refuses, in this order: a wrong layout, another key's id, a signature that does not verify
/// strictly over the header and model, a version below `minimum_version`.
pub fn open<'a>(
    bytes: &'a [u8],
    public_key: &[u8; PUBLIC_KEY_LEN],
    minimum_version: u32,
) -> Result<Opened<'a>, SealError> {
    let parts = split(bytes)?;
    if parts.header.key_id != key_id(public_key) {
        return Err(SealError::WrongKey);
    }
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SealError::BadPublicKey)?;
    let signature = Signature::from_bytes(&parts.signature);
    key.verify_strict(parts.signed, &signature)
        .map_err(|_| SealError::BadSignature)?;
    if parts.header.version < minimum_version {
        return Err(SealError::Rollback {
            version: parts.header.version,
            minimum: minimum_version,
        });
    }
    Ok(Opened {
        version: parts.header.version,
        key_id: parts.header.key_id,
        model: parts.model,
    })
}

/// True when `public_key` is a valid Ed25519 point (a key that can verify anything).
pub fn is_valid_public_key(public_key: &[u8; PUBLIC_KEY_LEN]) -> bool {
    VerifyingKey::from_bytes(public_key).is_ok()
}

/// The public key of a secret key (the 32-byte Ed25519 seed).
pub fn public_key(secret_key: &[u8; SECRET_KEY_LEN]) -> [u8; PUBLIC_KEY_LEN] {
    SigningKey::from_bytes(secret_key)
        .verifying_key()
        .to_bytes()
}

/// Seals `model` with `version` under `secret_key` into `out`, returning the bytes written
/// ([`sealed_len`] of the model's length). The model bytes are copied unchanged.
#[cfg(feature = "sign")]
pub fn seal_into(
    model: &[u8],
    version: u32,
    secret_key: &[u8; SECRET_KEY_LEN],
    out: &mut [u8],
) -> Result<usize, SealError> {
    let model_len = u32::try_from(model.len()).map_err(|_| SealError::ModelTooLarge)?;
    let total = sealed_len(model.len()).ok_or(SealError::ModelTooLarge)?;
    let out = out.get_mut(..total).ok_or(SealError::BufferTooSmall)?;
    let key = SigningKey::from_bytes(secret_key);
    let model_end = HEADER_LEN + model.len();
    let (signed, signature) = out.split_at_mut(model_end);
    let (head, body) = signed.split_at_mut(HEADER_LEN);
    let (format, flags) = (FORMAT_VERSION.to_le_bytes(), 0u16.to_le_bytes());
    let (version, id) = (
        version.to_le_bytes(),
        key_id(&key.verifying_key().to_bytes()),
    );
    let length = model_len.to_le_bytes();
    let fields = MAGIC
        .iter()
        .chain(&format)
        .chain(&flags)
        .chain(&version)
        .chain(&id)
        .chain(&length);
    for (dst, src) in head.iter_mut().zip(fields) {
        *dst = *src;
    }
    body.copy_from_slice(model);
    signature.copy_from_slice(&key.sign(signed).to_bytes());
    Ok(total)
}

/// Signs `message` with `secret_key`: a detached Ed25519 signature (RFC 8032, deterministic),
/// for files that travel next to their signature (a bundle's `manifest.json`).
#[cfg(feature = "sign")]
pub fn sign_detached(message: &[u8], secret_key: &[u8; SECRET_KEY_LEN]) -> [u8; SIGNATURE_LEN] {
    SigningKey::from_bytes(secret_key).sign(message).to_bytes()
}

/// Checks a detached signature made by [`sign_detached`], strictly (RFC 8032, as [`open`]).
pub fn verify_detached(
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
    public_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<(), SealError> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SealError::BadPublicKey)?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| SealError::BadSignature)
}

#[cfg(all(test, feature = "sign"))]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const SECRET: [u8; 32] = [7; 32];
    const OTHER: [u8; 32] = [9; 32];

    fn sealed(model: &[u8], version: u32, secret: &[u8; 32]) -> Vec<u8> {
        let mut out = vec![0u8; sealed_len(model.len()).unwrap()];
        let n = seal_into(model, version, secret, &mut out).unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn a_sealed_model_opens_to_its_exact_bytes() {
        let model: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let blob = sealed(&model, 3, &SECRET);
        let opened = open(&blob, &public_key(&SECRET), 3).unwrap();
        assert_eq!(opened.model, &model[..]);
        assert_eq!(opened.version, 3);
        assert_eq!(opened.key_id, key_id(&public_key(&SECRET)));
        assert_eq!(header(&blob).unwrap().model_len, 1000);
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let model: Vec<u8> = (0..40u8).collect();
        let blob = sealed(&model, 1, &SECRET);
        let key = public_key(&SECRET);
        for byte in 0..blob.len() {
            for bit in 0..8 {
                let mut bad = blob.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    open(&bad, &key, 0).is_err(),
                    "byte {byte} bit {bit} accepted"
                );
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let model = [1u8, 2, 3];
        let blob = sealed(&model, 5, &SECRET);
        let key = public_key(&SECRET);
        assert_eq!(
            open(&blob, &key, 6),
            Err(SealError::Rollback {
                version: 5,
                minimum: 6
            })
        );
        assert_eq!(
            open(&blob, &public_key(&OTHER), 0),
            Err(SealError::WrongKey)
        );
        assert_eq!(open(&model, &key, 0), Err(SealError::TooShort));
        assert_eq!(open(&[0u8; 100], &key, 0), Err(SealError::BadMagic));
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(open(&longer, &key, 0), Err(SealError::LengthMismatch));
        assert_eq!(
            open(&blob[..blob.len() - 1], &key, 0),
            Err(SealError::LengthMismatch)
        );
        let mut signature_changed = blob.clone();
        let last = signature_changed.len() - 1;
        signature_changed[last] ^= 0x40;
        assert_eq!(
            open(&signature_changed, &key, 0),
            Err(SealError::BadSignature)
        );
        // A key id forged to match the verifier's still fails on the signature.
        let mut forged = sealed(&model, 5, &OTHER);
        forged[12..20].copy_from_slice(&key_id(&key));
        assert_eq!(open(&forged, &key, 0), Err(SealError::BadSignature));
    }

    #[test]
    fn a_detached_signature_verifies_only_its_bytes_and_key() {
        let message = b"{\"manifest\": 1}";
        let signature = sign_detached(message, &SECRET);
        assert_eq!(signature, sign_detached(message, &SECRET));
        let key = public_key(&SECRET);
        assert_eq!(verify_detached(message, &signature, &key), Ok(()));
        assert_eq!(
            verify_detached(message, &signature, &public_key(&OTHER)),
            Err(SealError::BadSignature)
        );
        for byte in 0..message.len() {
            let mut bad = *message;
            bad[byte] ^= 1;
            assert_eq!(
                verify_detached(&bad, &signature, &key),
                Err(SealError::BadSignature)
            );
        }
        let mut bad = signature;
        bad[10] ^= 1;
        assert!(verify_detached(message, &bad, &key).is_err());
    }

    #[test]
    fn sealing_is_deterministic() {
        // Ed25519 signatures are deterministic: the same key and bytes give the same seal, so
        // a re-run of the pipeline reproduces the sealed file byte for byte.
        assert_eq!(sealed(b"model", 2, &SECRET), sealed(b"model", 2, &SECRET));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let key = public_key(&SECRET);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..200 {
            let mut bytes = vec![0u8; len];
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            if len >= 4 {
                bytes[..4].copy_from_slice(&MAGIC);
            }
            let _ = open(&bytes, &key, 0);
            let _ = header(&bytes);
        }
    }
}

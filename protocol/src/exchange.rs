//! The files of a parity run, in the directory QEMU runs in (the firmware opens them through
//! semihosting), and the model blob QEMU's loader writes into the firmware's model region.
//!
//! ```text
//! vectors.bin   (host -> device)  "LSVC"  u32 n_features  u32 n_rows  then n_rows × n_features f32
//! outputs.bin   (device -> host)  "LSVO"  u32 n_outputs   u32 n_rows  then per row n_outputs
//!                                 margins and n_outputs outputs, f32, exactly as predict wrote them
//! model.blob    (host -> QEMU)    u32 N   then the N bytes of the compiled model (.lsm)
//! ```
//!
//! Every number is little-endian; an f32 travels as its bit pattern, so NaN payloads, signed
//! zeros and subnormals arrive unchanged. Decoding never panics: a short or foreign file is a
//! [`ProtocolError`].

use core::ffi::CStr;
use core::fmt;

/// Magic of the vector file the host writes.
pub const VECTORS_MAGIC: [u8; 4] = *b"LSVC";
/// Magic of the output file the firmware writes.
pub const OUTPUTS_MAGIC: [u8; 4] = *b"LSVO";
/// Bytes of either file's header: magic, row width, row count.
pub const HEADER_BYTES: usize = 12;
/// Bytes of one value (an f32 bit pattern) in either file's body.
pub const VALUE_BYTES: usize = 4;
/// Bytes of the model blob's length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// The vector file's name, as the host writes it.
pub const VECTORS_FILE: &str = "vectors.bin";
/// The vector file's name, as the firmware opens it (semihosting wants a C string).
pub const VECTORS_FILE_C: &CStr = c"vectors.bin";
/// The output file's name, as the host reads it.
pub const OUTPUTS_FILE: &str = "outputs.bin";
/// The output file's name, as the firmware creates it.
pub const OUTPUTS_FILE_C: &CStr = c"outputs.bin";
/// The model blob's name (only the host and QEMU's loader see it).
pub const MODEL_BLOB_FILE: &str = "model.blob";
/// The QEMU `-append` word that asks the firmware to flip the lowest bit of row 0's first
/// margin (test only: proves the host's comparison bites).
pub const CORRUPT_OUTPUT_ARG: &str = "corrupt-output";
/// The QEMU `-append` word that asks a firmware built with a sealing key to check a batch of
/// sealed blobs instead of scoring (test only): the model region then holds a [`batch`] of
/// blobs, and the firmware prints one `seal-verdict` line per blob (see `report`).
pub const SEAL_CHECK_ARG: &str = "seal-check";
/// The QEMU `-append` prefix that tells the `parity-codegen` firmware which of its compiled
/// models (modules from `lockstep codegen`) to score with: followed by the model's SHA-256 in
/// 64 lowercase hex digits. That firmware has no model region; the host loads no blob.
pub const CODEGEN_MODEL_ARG: &str = "codegen-model=";

/// Why bytes are not a well-formed exchange file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The file starts with another magic (or is too short to hold one).
    BadMagic,
    /// The file ends inside its header.
    Truncated,
    /// The body is not as long as the header's counts say.
    BodyLength,
    /// The header's counts describe more bytes than this machine can address.
    TooLarge,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolError::BadMagic => "wrong magic",
            ProtocolError::Truncated => "the header is cut short",
            ProtocolError::BodyLength => "the body length does not match the header",
            ProtocolError::TooLarge => "the header's counts are too large",
        })
    }
}

/// Which of the two files a header belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `vectors.bin`: each row holds the model's features.
    Vectors,
    /// `outputs.bin`: each row holds the model's margins, then its outputs.
    Outputs,
}

impl FileKind {
    /// The file's first four bytes.
    pub const fn magic(self) -> [u8; 4] {
        match self {
            FileKind::Vectors => VECTORS_MAGIC,
            FileKind::Outputs => OUTPUTS_MAGIC,
        }
    }
}

/// The header of either file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Which file.
    pub kind: FileKind,
    /// The model's feature count (vectors) or output count (outputs).
    pub width: u32,
    /// Rows that follow.
    pub n_rows: u32,
}

impl Header {
    /// The header of a vector file of `n_rows` rows of `n_features` values.
    pub const fn vectors(n_features: u32, n_rows: u32) -> Self {
        Header {
            kind: FileKind::Vectors,
            width: n_features,
            n_rows,
        }
    }

    /// The header of an output file of `n_rows` rows for a model with `n_outputs` outputs.
    pub const fn outputs(n_outputs: u32, n_rows: u32) -> Self {
        Header {
            kind: FileKind::Outputs,
            width: n_outputs,
            n_rows,
        }
    }

    /// The header's bytes: magic, width and row count (u32 LE).
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let [m0, m1, m2, m3] = self.kind.magic();
        let [w0, w1, w2, w3] = self.width.to_le_bytes();
        let [r0, r1, r2, r3] = self.n_rows.to_le_bytes();
        [m0, m1, m2, m3, w0, w1, w2, w3, r0, r1, r2, r3]
    }

    /// Reads the header of a `kind` file at the start of `bytes` (the body is not looked at).
    pub fn from_bytes(kind: FileKind, bytes: &[u8]) -> Result<Self, ProtocolError> {
        match bytes.first_chunk::<4>() {
            Some(found) if *found == kind.magic() => {}
            _ => return Err(ProtocolError::BadMagic),
        }
        let Some(&[_, _, _, _, w0, w1, w2, w3, r0, r1, r2, r3]) =
            bytes.first_chunk::<HEADER_BYTES>()
        else {
            return Err(ProtocolError::Truncated);
        };
        Ok(Header {
            kind,
            width: u32::from_le_bytes([w0, w1, w2, w3]),
            n_rows: u32::from_le_bytes([r0, r1, r2, r3]),
        })
    }

    /// Splits a whole `kind` file into its header and its body, which must hold exactly the
    /// values the header announces.
    pub fn split(kind: FileKind, bytes: &[u8]) -> Result<(Self, &[u8]), ProtocolError> {
        let header = Self::from_bytes(kind, bytes)?;
        let body = checked_body(bytes, header.n_values())?;
        Ok((header, body))
    }

    /// Values per row: the width for vectors, twice the width (margins, outputs) for outputs.
    pub fn values_per_row(&self) -> Option<usize> {
        let width = usize::try_from(self.width).ok()?;
        match self.kind {
            FileKind::Vectors => Some(width),
            FileKind::Outputs => width.checked_mul(2),
        }
    }

    /// Values in the body (`None` if that overflows `usize`).
    pub fn n_values(&self) -> Option<usize> {
        self.values_per_row()?
            .checked_mul(usize::try_from(self.n_rows).ok()?)
    }
}

/// The bytes after the header, which must hold exactly `n_values` values.
fn checked_body(bytes: &[u8], n_values: Option<usize>) -> Result<&[u8], ProtocolError> {
    let expected = n_values
        .and_then(|n| n.checked_mul(VALUE_BYTES))
        .ok_or(ProtocolError::TooLarge)?;
    match bytes.get(HEADER_BYTES..) {
        Some(body) if body.len() == expected => Ok(body),
        _ => Err(ProtocolError::BodyLength),
    }
}

/// One value's bytes.
pub fn encode_value(value: f32) -> [u8; VALUE_BYTES] {
    value.to_bits().to_le_bytes()
}

/// The values of a body, as f32 bit patterns (a trailing partial value is ignored; `split`
/// has already refused bodies of the wrong length).
pub fn decode_bits(body: &[u8]) -> impl Iterator<Item = u32> + '_ {
    body.chunks_exact(VALUE_BYTES)
        .filter_map(|raw| raw.first_chunk::<VALUE_BYTES>())
        .map(|raw| u32::from_le_bytes(*raw))
}

/// Writes `values` into the front of `out`; returns the bytes written (all of them when `out`
/// holds at least `values.len() * VALUE_BYTES`, else as many whole values as fit).
pub fn encode_values(values: &[f32], out: &mut [u8]) -> usize {
    let mut n_values = 0;
    for (value, raw) in values.iter().zip(out.chunks_exact_mut(VALUE_BYTES)) {
        raw.copy_from_slice(&encode_value(*value));
        n_values += 1;
    }
    n_values * VALUE_BYTES
}

/// Fills the front of `values` from `bytes`; returns how many values were read (all of them
/// when `bytes` holds at least `values.len() * VALUE_BYTES`).
pub fn decode_values(bytes: &[u8], values: &mut [f32]) -> usize {
    let mut read = 0;
    for (value, raw) in values.iter_mut().zip(bytes.chunks_exact(VALUE_BYTES)) {
        if let Some(&[b0, b1, b2, b3]) = raw.first_chunk::<VALUE_BYTES>() {
            *value = f32::from_bits(u32::from_le_bytes([b0, b1, b2, b3]));
            read += 1;
        }
    }
    read
}

/// The model blob's length prefix for a model of `n_model_bytes` bytes.
pub fn length_prefix(n_model_bytes: u32) -> [u8; LENGTH_PREFIX_BYTES] {
    n_model_bytes.to_le_bytes()
}

/// The model length a blob's prefix declares.
pub fn declared_length(prefix: [u8; LENGTH_PREFIX_BYTES]) -> u32 {
    u32::from_le_bytes(prefix)
}

/// A batch of blobs in the model region (seal-check mode): records of a u32 LE length and that
/// many bytes, back to back, filling the region's declared length exactly. Yields each record's
/// bytes, or `Err(index)` for the first record whose length runs past the end (then stops).
pub fn batch(bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], usize>> + '_ {
    let mut rest = Some(bytes);
    let mut index = 0;
    core::iter::from_fn(move || {
        let current = rest.take()?;
        if current.is_empty() {
            return None;
        }
        let record =
            current
                .split_first_chunk::<LENGTH_PREFIX_BYTES>()
                .and_then(|(prefix, body)| {
                    let n = usize::try_from(declared_length(*prefix)).ok()?;
                    (n <= body.len()).then(|| body.split_at(n))
                });
        index += 1;
        Some(match record {
            Some((blob, tail)) => {
                rest = Some(tail);
                Ok(blob)
            }
            None => Err(index - 1),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_yields_each_record_and_stops_at_a_short_one() {
        let mut bytes = length_prefix(2).to_vec();
        bytes.extend_from_slice(b"ab");
        bytes.extend_from_slice(&length_prefix(0));
        bytes.extend_from_slice(&length_prefix(3));
        bytes.extend_from_slice(b"xyz");
        let records: Vec<_> = batch(&bytes).collect();
        assert_eq!(records, [Ok(&b"ab"[..]), Ok(&b""[..]), Ok(&b"xyz"[..])]);
        bytes.extend_from_slice(&length_prefix(9));
        bytes.push(1);
        assert_eq!(batch(&bytes).last(), Some(Err(3)));
        assert_eq!(batch(&[]).count(), 0);
    }

    fn outputs_file(n_outputs: u32, n_rows: u32, bits: &[u32]) -> Vec<u8> {
        let mut bytes = Header::outputs(n_outputs, n_rows).to_bytes().to_vec();
        for b in bits {
            bytes.extend_from_slice(&b.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn vectors_header_has_these_exact_bytes() {
        let header = Header::vectors(6, 0x0102_0304);
        assert_eq!(
            header.to_bytes(),
            [b'L', b'S', b'V', b'C', 6, 0, 0, 0, 4, 3, 2, 1]
        );
        assert_eq!(
            Header::outputs(3, 2).to_bytes(),
            *b"LSVO\x03\x00\x00\x00\x02\x00\x00\x00"
        );
    }

    #[test]
    fn headers_round_trip() {
        for header in [Header::vectors(17, u32::MAX), Header::outputs(4, 9)] {
            assert_eq!(
                Header::from_bytes(header.kind, &header.to_bytes()),
                Ok(header)
            );
        }
    }

    #[test]
    fn values_round_trip_bit_for_bit() {
        let values = [
            f32::NAN,
            -0.0,
            1e-45,
            f32::NEG_INFINITY,
            0.1,
            f32::from_bits(0x7fc0_0001),
        ];
        let mut bytes = [0u8; 6 * VALUE_BYTES];
        assert_eq!(encode_values(&values, &mut bytes), bytes.len());
        let mut back = [0.0f32; 6];
        assert_eq!(decode_values(&bytes, &mut back), 6);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values));
        assert_eq!(decode_bits(&bytes).collect::<Vec<_>>(), bits(&values));
    }

    #[test]
    fn partial_buffers_move_whole_values_only() {
        let mut bytes = [0u8; 7];
        assert_eq!(encode_values(&[1.0, 2.0], &mut bytes), 4);
        let mut values = [0.0f32; 2];
        assert_eq!(decode_values(&bytes, &mut values), 1);
        assert_eq!(values, [1.0, 0.0]);
    }

    #[test]
    fn splits_a_whole_outputs_file() {
        let bytes = outputs_file(1, 2, &[1, 2, 3, 4]);
        let (header, body) = Header::split(FileKind::Outputs, &bytes).unwrap();
        assert_eq!(header.values_per_row(), Some(2));
        assert_eq!(decode_bits(body).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn rejects_bad_magic() {
        let bytes = outputs_file(1, 1, &[0, 0]);
        assert_eq!(
            Header::from_bytes(FileKind::Vectors, &bytes),
            Err(ProtocolError::BadMagic)
        );
        assert_eq!(
            Header::split(FileKind::Outputs, b"XXXX"),
            Err(ProtocolError::BadMagic)
        );
        assert_eq!(
            Header::split(FileKind::Outputs, b"LS"),
            Err(ProtocolError::BadMagic)
        );
    }

    #[test]
    fn rejects_short_headers_and_bodies_of_the_wrong_length() {
        let bytes = outputs_file(1, 2, &[1, 2, 3, 4]);
        assert_eq!(
            Header::from_bytes(FileKind::Outputs, &bytes[..HEADER_BYTES - 1]),
            Err(ProtocolError::Truncated)
        );
        assert_eq!(
            Header::split(FileKind::Outputs, &bytes[..bytes.len() - 1]),
            Err(ProtocolError::BodyLength)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Header::split(FileKind::Outputs, &long),
            Err(ProtocolError::BodyLength)
        );
        let vectors = Header::vectors(2, 1).to_bytes();
        assert_eq!(
            Header::split(FileKind::Vectors, &vectors),
            Err(ProtocolError::BodyLength)
        );
    }

    #[test]
    fn model_blob_prefix_is_the_little_endian_length() {
        assert_eq!(length_prefix(0x0001_0203), [3, 2, 1, 0]);
        assert_eq!(declared_length(length_prefix(155_000)), 155_000);
    }

    #[test]
    fn file_names_agree_between_host_and_device_forms() {
        assert_eq!(VECTORS_FILE_C.to_str(), Ok(VECTORS_FILE));
        assert_eq!(OUTPUTS_FILE_C.to_str(), Ok(OUTPUTS_FILE));
    }
}

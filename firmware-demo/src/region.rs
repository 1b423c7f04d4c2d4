//! The model region: a NOLOAD section in flash (see `memory/model-region.x`) that the host
//! fills before boot with QEMU's generic loader. Layout: a u32 little-endian length N, then the
//! N bytes of a compiled model. The firmware never writes it; it hands the bytes to
//! `Model::from_bytes`, which checks everything (including the SHA-256) before any scoring.

use core::fmt;

use lockstep_protocol::exchange;

extern "C" {
    // Defined by memory/model-region.x: first byte of the region and one past its last byte.
    static __lockstep_model_start: u8;
    static __lockstep_model_end: u8;
}

/// Bytes of the length prefix before the model (the blob's framing is lockstep-protocol's).
pub use lockstep_protocol::exchange::LENGTH_PREFIX_BYTES;

/// Why the region holds no usable blob (the engine reports everything about the blob itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// The length prefix is zero: nothing was loaded.
    Empty,
    /// The length prefix claims more bytes than the region can hold.
    TooLarge {
        /// The length the prefix declares.
        declared: u32,
        /// The most the region holds after the prefix.
        capacity: u32,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::Empty => f.write_str("the model region is empty (no model loaded)"),
            RegionError::TooLarge { declared, capacity } => write!(
                f,
                "the model region declares a {declared}-byte model but holds at most {capacity} \
                 bytes (model too large for this board, or no model loaded)"
            ),
        }
    }
}

/// The model region's first address and its size in bytes (prefix included).
pub fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken, never their values.
    let start = core::ptr::addr_of!(__lockstep_model_start) as usize;
    let end = core::ptr::addr_of!(__lockstep_model_end) as usize;
    (start, end.saturating_sub(start))
}

/// The model bytes the host placed in the region, after checking that their declared length
/// fits. Reads go through a volatile load and an opaque pointer, so the compiler assumes
/// nothing about the contents of a section it sees as never written.
pub fn model_bytes() -> Result<&'static [u8], RegionError> {
    let (start, size) = bounds();
    let capacity = size.saturating_sub(LENGTH_PREFIX_BYTES);
    // SAFETY: `start` is the 4-aligned first address of the model region (ALIGN(4) in the
    // linker script), which is mapped memory on every supported board (flash on the micro:bit,
    // SSRAM on the MPS2 boards) and at least 4 bytes long.
    let prefix = unsafe { core::ptr::read_volatile(start as *const [u8; LENGTH_PREFIX_BYTES]) };
    let declared = exchange::declared_length(prefix);
    if declared == 0 {
        return Err(RegionError::Empty);
    }
    if declared as usize > capacity {
        return Err(RegionError::TooLarge {
            declared,
            capacity: capacity as u32,
        });
    }
    let data = core::hint::black_box(start + LENGTH_PREFIX_BYTES) as *const u8;
    // SAFETY: [data, data + declared) lies inside the model region (checked just above). The
    // region is mapped memory that belongs to no Rust object (the linker reserves it and no
    // code is placed there), nothing writes it while the firmware runs (QEMU fills it before
    // reset), so it may be borrowed immutably for 'static; u8 needs no alignment.
    Ok(unsafe { core::slice::from_raw_parts(data, declared as usize) })
}

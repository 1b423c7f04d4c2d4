//! What differs between the boards, as constants chosen by `cfg(lockstep_board)` (set by
//! build.rs from the target triple): the name, how much RAM the parity runner may use for
//! buffers, and how deep it paints the stack.

/// The board this firmware was built for.
#[cfg(lockstep_board = "microbit")]
pub const NAME: &str = "microbit (nRF51822, cortex-m0)";
/// The board this firmware was built for.
#[cfg(lockstep_board = "mps2-an386")]
pub const NAME: &str = "mps2-an386 (cortex-m4f)";
/// The board this firmware was built for.
#[cfg(lockstep_board = "mps2-an505")]
pub const NAME: &str = "mps2-an505 (cortex-m33, secure)";

/// f32 slots for input rows held at once; also the widest row (in features) the parity runner
/// accepts. The micro:bit has 16 KiB of RAM in all.
#[cfg(lockstep_board = "microbit")]
pub const FEATURE_SLOTS: usize = 512;
/// f32 slots for input rows held at once; also the widest row (in features) the parity runner
/// accepts: the engine's own limit.
#[cfg(not(lockstep_board = "microbit"))]
pub const FEATURE_SLOTS: usize = lockstep_engine::format::limits::MAX_FEATURES;

/// f32 slots for the margins and outputs of the rows held at once (at least two full rows of
/// the engine's largest output count).
#[cfg(lockstep_board = "microbit")]
pub const OUTPUT_SLOTS: usize = 256;
/// f32 slots for the margins and outputs of the rows held at once.
#[cfg(not(lockstep_board = "microbit"))]
pub const OUTPUT_SLOTS: usize = 1024;

/// Bytes of stack painted below the scoring loop's stack pointer to measure the peak.
#[cfg(lockstep_board = "microbit")]
pub const STACK_PAINT_BYTES: usize = 4 * 1024;
/// Bytes of stack painted below the scoring loop's stack pointer to measure the peak.
#[cfg(not(lockstep_board = "microbit"))]
pub const STACK_PAINT_BYTES: usize = 16 * 1024;

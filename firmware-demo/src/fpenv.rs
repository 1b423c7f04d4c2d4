//! The floating-point environment check: bit-exact parity with the host needs IEEE binary32
//! arithmetic with round-to-nearest-even, subnormals kept (no flush-to-zero) and NaNs
//! propagated rather than replaced by the default NaN, as on x86_64 SSE.

use core::fmt;
use core::hint::black_box;

/// What is wrong with the floating-point environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FpProblem {
    /// FPSCR.FZ is set: subnormal inputs and results would become zero.
    FlushToZero {
        /// The FPSCR value read.
        fpscr: u32,
    },
    /// FPSCR.DN is set: NaN results would lose their payload and sign.
    DefaultNan {
        /// The FPSCR value read.
        fpscr: u32,
    },
    /// FPSCR.RMode is not round-to-nearest.
    RoundingMode {
        /// The FPSCR value read.
        fpscr: u32,
    },
    /// A subnormal product or quotient came out wrong (flushed, or misrounded).
    SubnormalLost {
        /// The bits computed for 2^-126 / 2 (expected 0x00400000).
        found: u32,
    },
}

impl fmt::Display for FpProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FpProblem::FlushToZero { fpscr } => {
                write!(f, "FPSCR.FZ (flush-to-zero) is set (FPSCR={fpscr:#010x})")
            }
            FpProblem::DefaultNan { fpscr } => {
                write!(f, "FPSCR.DN (default NaN) is set (FPSCR={fpscr:#010x})")
            }
            FpProblem::RoundingMode { fpscr } => {
                write!(
                    f,
                    "FPSCR.RMode is not round-to-nearest (FPSCR={fpscr:#010x})"
                )
            }
            FpProblem::SubnormalLost { found } => write!(
                f,
                "subnormal arithmetic is not IEEE: 2^-126/2 gave {found:#010x}, expected 0x00400000"
            ),
        }
    }
}

/// FPSCR bits (Armv7-M/Armv8-M ARM, B1.4.6 / D1.2.77).
const FPSCR_DN: u32 = 1 << 25;
const FPSCR_FZ: u32 = 1 << 24;
const FPSCR_RMODE: u32 = 0b11 << 22;

/// The FPSCR, on targets with an FPU.
#[cfg(target_abi = "eabihf")]
pub fn fpscr() -> Option<u32> {
    let value: u32;
    // SAFETY: reading FPSCR has no side effects; cortex-m-rt enabled the FPU before `main`.
    unsafe { core::arch::asm!("vmrs {}, fpscr", out(reg) value, options(nomem, nostack)) };
    Some(value)
}

/// The FPSCR, on targets with an FPU (none here: f32 arithmetic is compiler-builtins' soft
/// float, which is IEEE-exact with subnormals).
#[cfg(not(target_abi = "eabihf"))]
pub fn fpscr() -> Option<u32> {
    None
}

/// Checks the FPSCR (where there is one) and that subnormals survive arithmetic.
pub fn check() -> Result<(), FpProblem> {
    if let Some(fpscr) = fpscr() {
        if fpscr & FPSCR_FZ != 0 {
            return Err(FpProblem::FlushToZero { fpscr });
        }
        if fpscr & FPSCR_DN != 0 {
            return Err(FpProblem::DefaultNan { fpscr });
        }
        if fpscr & FPSCR_RMODE != 0 {
            return Err(FpProblem::RoundingMode { fpscr });
        }
    }
    // black_box keeps the compiler from folding these at build time on the host.
    let halved = black_box(f32::MIN_POSITIVE) / black_box(2.0f32);
    let product = black_box(1e-38f32) * black_box(1e-3f32);
    if halved.to_bits() != 0x0040_0000 || product == 0.0 {
        return Err(FpProblem::SubnormalLost {
            found: halved.to_bits(),
        });
    }
    Ok(())
}

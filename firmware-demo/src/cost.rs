//! Device cost: instruction counts through a timer, and peak stack through painting.
//!
//! Under `qemu-system-arm -icount shift=0` QEMU's virtual clock advances exactly 1 ns per
//! executed guest instruction, and every timer derives its count from that clock. A timer at
//! f Hz therefore advances one tick every 10^9/f instructions (40 for the MPS2 boards' 25 MHz
//! SysTick). The ratio is not assumed: [`calibrate`] measures it against a loop whose
//! instruction count is known exactly. Without `-icount` the numbers mean nothing.
//!
//! Stack: [`StackPaint`] fills the free RAM below a stack pointer with a pattern; after the
//! code under test ran, the lowest overwritten word gives the peak depth below that pointer.
//! No interrupt is enabled while it is in use, so only the code under test touches that RAM.

use cortex_m::peripheral::{syst::SystClkSource, SYST};

/// SysTick is a 24-bit down-counter.
const SYSTICK_MASK: u32 = 0x00ff_ffff;

/// A free-running up-counter read as a timestamp (SysTick on the processor clock).
pub struct Ticker {
    _syst: SYST,
}

impl Ticker {
    /// Starts SysTick on the processor clock, free-running over its full 24-bit range, with
    /// its interrupt disabled.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYSTICK_MASK);
        syst.clear_current();
        syst.enable_counter();
        Ticker { _syst: syst }
    }

    /// The current count (wraps every 2^24 ticks).
    #[inline(always)]
    pub fn now(&self) -> u32 {
        SYSTICK_MASK - SYST::get_current()
    }

    /// Ticks since `start` (an earlier [`Ticker::now`]); intervals must be under 2^24 ticks.
    #[inline(always)]
    pub fn since(&self, start: u32) -> u32 {
        self.now().wrapping_sub(start) & SYSTICK_MASK
    }
}

/// Instructions per timer tick, as a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Instructions in the calibration interval.
    pub instructions: u32,
    /// Ticks the timer counted over them.
    pub ticks: u32,
}

impl Rate {
    /// Converts a tick count to instructions, rounded to nearest.
    pub fn instructions(&self, ticks: u64) -> u64 {
        let ticks_per = u64::from(self.ticks.max(1));
        (ticks * u64::from(self.instructions) + ticks_per / 2) / ticks_per
    }

    /// Instructions per tick in hundredths, for printing.
    pub fn per_tick_hundredths(&self) -> u64 {
        self.instructions(100)
    }
}

/// Iterations of the short and long calibration loops; their difference is
/// `CALIBRATION_EXTRA` iterations of exactly two instructions each.
const CALIBRATION_SHORT: u32 = 100_000;
const CALIBRATION_EXTRA: u32 = 400_000;

/// Measures instructions per tick by timing two loops of known length and taking the
/// difference (which cancels the call and timer-read overhead). `None` if the timer does not
/// advance.
pub fn calibrate(ticker: &Ticker) -> Option<Rate> {
    let start = ticker.now();
    spin(CALIBRATION_SHORT);
    let short = ticker.since(start);
    let start = ticker.now();
    spin(CALIBRATION_SHORT + CALIBRATION_EXTRA);
    let long = ticker.since(start);
    let ticks = long.checked_sub(short).filter(|&t| t > 0)?;
    Some(Rate {
        instructions: 2 * CALIBRATION_EXTRA,
        ticks,
    })
}

/// Runs `iterations` (≥ 1) passes of a two-instruction loop: `subs` and a taken `bne`.
#[inline(never)]
fn spin(iterations: u32) {
    // SAFETY: the loop only decrements r0 and branches; it touches no memory and no stack,
    // and `inout` tells the compiler r0 is clobbered. Low register r0 keeps the encoding valid
    // on Thumb-1 (cortex-m0).
    unsafe {
        core::arch::asm!(
            "2:",
            "subs r0, #1",
            "bne 2b",
            inout("r0") iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copying SP to a register has no side effects.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// The word painted into free stack; an unlikely value for code to store.
const PAINT_WORD: u32 = 0x5eed_c0de;

/// Bytes left unpainted below the painting function's own stack pointer (its frame and any
/// call it makes stay clear of the pattern).
const PAINT_GUARD_BYTES: usize = 64;

extern "C" {
    // cortex-m-rt: the first address above static data in RAM, i.e. the lowest address the
    // stack may reach.
    static _stack_end: u32;
}

/// A painted stretch of free stack below `base`.
#[derive(Debug, Clone, Copy)]
pub struct StackPaint {
    base: usize,
    low: usize,
    high: usize,
}

/// How deep the stack went below the base, as far as the paint can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackPeak {
    /// Exactly this many bytes below the base were used.
    Exact(usize),
    /// The code used all the paint: at least this many bytes.
    AtLeast(usize),
    /// The code stayed above the paint: at most this many bytes.
    AtMost(usize),
}

impl StackPaint {
    /// Paints up to `depth` bytes below `base` (a stack pointer of the caller, which must stay
    /// live and unchanged until [`StackPaint::peak`]), never below the end of static data.
    #[inline(never)]
    pub fn paint(base: usize, depth: usize) -> Self {
        let floor = core::ptr::addr_of!(_stack_end) as usize;
        let low = (base.saturating_sub(depth).max(floor) + 3) & !3;
        let high = (stack_pointer() - PAINT_GUARD_BYTES) & !3;
        let mut addr = low;
        while addr < high {
            // SAFETY: [low, high) lies between the end of static data and this function's
            // stack pointer (less a guard): free stack that no live object occupies, and no
            // interrupt handler runs meanwhile. The address is 4-aligned.
            unsafe { core::ptr::write_volatile(addr as *mut u32, PAINT_WORD) };
            addr += 4;
        }
        StackPaint { base, low, high }
    }

    /// The deepest point reached below the base since painting.
    #[inline(never)]
    pub fn peak(&self) -> StackPeak {
        let mut addr = self.low;
        while addr < self.high {
            // SAFETY: the same aligned words of free stack that `paint` wrote (this function's
            // own small frame sits above them, inside the guard); reading RAM cannot fault.
            let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
            if word != PAINT_WORD {
                let used = self.base - addr;
                return if addr == self.low {
                    StackPeak::AtLeast(used)
                } else {
                    StackPeak::Exact(used)
                };
            }
            addr += 4;
        }
        StackPeak::AtMost(self.base - self.high)
    }
}

//! Board support shared by the firmware binaries: where the model blob lives, semihosting
//! files, the seal check, cost measurement, the floating-point environment check, the UART driver and input
//! parsing. Everything that scores lives in `lockstep-engine`; this crate only moves bytes to
//! and from it.
//!
//! `unsafe` is confined to the hardware edges (linker symbols, registers, semihosting traps,
//! raw stack memory); each block says why it is sound.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod board;
pub mod cost;
pub mod fpenv;
pub mod hex;
pub mod host;
pub mod line;
pub mod region;
pub mod seal;
pub mod uart;
pub mod vectors;

/// Ends the program with a failure status after the caller printed why; QEMU exits.
pub fn exit_failure() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    // Only reached if the debugger resumes us.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Ends the program with a success status; QEMU exits.
pub fn exit_success() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Nothing in the firmware is expected to panic (the engine never does); if something does,
    // say so on the host console rather than hang.
    if let Ok(mut out) = cortex_m_semihosting::hio::hstderr() {
        let _ = core::fmt::write(&mut out, format_args!("error: firmware panic: {info}\n"));
    }
    exit_failure()
}

//! Lockstep firmware demo (placeholder): proves the engine links into a Cortex-M image and that
//! the firmware refuses a model that fails to load, saying why. Parity and bedside modes follow.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use lockstep_engine::Model;

#[entry]
fn main() -> ! {
    // No model is embedded yet: loading must fail with a typed error, and the firmware must
    // say so instead of scoring.
    match Model::from_bytes(&[]) {
        Ok(_) => {
            hprintln!("unexpected: an empty blob loaded");
            debug::exit(debug::EXIT_FAILURE);
        }
        Err(error) => {
            hprintln!("lockstep firmware: refusing to score: {}", error);
            debug::exit(debug::EXIT_SUCCESS);
        }
    }
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

//! Parity runner for generated code: the same exchange as `parity` (vectors.bin in,
//! outputs.bin out, the same report lines), but it scores with modules `lockstep codegen`
//! generated and build.rs compiled in (`LOCKSTEP_CODEGEN`: their paths, `:`-separated), so
//! the host can prove their bits and measure their cost exactly as it does the engine's.
//!
//! There is no model in flash: the host names the model on the command line
//! (`-append codegen-model=<sha256>`), the firmware picks the module whose `MODEL_SHA256`
//! it is, prints `model-sha256` from that constant, and refuses a model it does not hold.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use lockstep_firmware_demo::vectors::{self, score_vectors};
use lockstep_firmware_demo::{board, exit_failure, hex::Hex, host};
use lockstep_protocol::exchange::{CODEGEN_MODEL_ARG, CORRUPT_OUTPUT_ARG};
use lockstep_protocol::report_key;

macro_rules! fail {
    ($($arg:tt)*) => {{
        hprintln!($($arg)*);
        exit_failure()
    }};
}

/// A model compiled into this firmware by `lockstep codegen`.
struct Compiled {
    sha256: [u8; 32],
    n_features: usize,
    n_outputs: usize,
    /// The module's `predict` behind slices; `false` when a length differs from the module's.
    score: fn(&[f32], &mut [f32], &mut [f32]) -> bool,
}

// `MODELS: &[Compiled]`, one per module of LOCKSTEP_CODEGEN (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/codegen_models.rs"));

/// A row or output slice whose length is not the compiled model's (the runner checks the
/// lengths first, so this is not expected).
struct LengthMismatch;

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row or output length differs from the compiled model's")
    }
}

#[entry]
fn main() -> ! {
    hprintln!(
        "lockstep parity firmware (generated code, {} models) on {}",
        MODELS.len(),
        board::NAME
    );
    let (ticker, rate) = vectors::start();
    let mut cmdline = [0u8; 512];
    let cmdline = host::command_line(&mut cmdline).unwrap_or("");
    let corrupt = cmdline.contains(CORRUPT_OUTPUT_ARG);
    let Some(wanted) = requested_model(cmdline) else {
        fail!(
            "error: no {}<64 hex digits> on the command line: name the model to score",
            CODEGEN_MODEL_ARG
        );
    };
    let Some(compiled) = MODELS.iter().find(|m| m.sha256 == wanted) else {
        fail!(
            "error: model refused: no generated module for model {} in this firmware ({} compiled in); rebuild it with LOCKSTEP_CODEGEN naming that model's generated .rs",
            Hex(&wanted),
            MODELS.len()
        );
    };
    if corrupt {
        hprintln!("warning: corrupt-output: flipping the lowest bit of row 0's first margin");
    }
    hprintln!(
        concat!(report_key!(model_sha256), " {}"),
        Hex(&compiled.sha256)
    );
    hprintln!(
        "generated code: {} features, {} outputs",
        compiled.n_features,
        compiled.n_outputs
    );
    score_vectors(
        &ticker,
        rate,
        compiled.n_features,
        compiled.n_outputs,
        corrupt,
        |row, margins, outputs| score(compiled, row, margins, outputs),
    )
}

/// One inference, behind a call whose stack use is measured from the caller's stack pointer.
#[inline(never)]
fn score(
    compiled: &Compiled,
    row: &[f32],
    margins: &mut [f32],
    outputs: &mut [f32],
) -> Result<(), LengthMismatch> {
    if (compiled.score)(row, margins, outputs) {
        Ok(())
    } else {
        Err(LengthMismatch)
    }
}

/// The SHA-256 after `codegen-model=` on the command line, if well formed.
fn requested_model(cmdline: &str) -> Option<[u8; 32]> {
    let start = cmdline.find(CODEGEN_MODEL_ARG)? + CODEGEN_MODEL_ARG.len();
    let digits = cmdline.get(start..start + 64)?.as_bytes();
    let mut sha = [0u8; 32];
    for (byte, pair) in sha.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |d: u8| (d as char).to_digit(16).map(|v| v as u8);
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(sha)
}

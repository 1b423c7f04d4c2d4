//! Parity runner: scores the vectors the host hands over and writes back the exact bits, so
//! the host can compare them with its own engine. Also reports what one inference costs here.
//!
//! The protocol is lockstep-protocol's, shared with the host (see firmware-demo/README.md):
//! - model: in the flash model region (u32 LE length + `.lsm` bytes), loaded by QEMU;
//! - `vectors.bin` (read) and `outputs.bin` (written) in QEMU's working directory, framed by
//!   `lockstep_protocol::exchange`: margins then outputs per row, exactly as `Model::predict`
//!   wrote them;
//! - stdout lines of `lockstep_protocol::report`: `model-sha256 <hex>`, `rows <n>`,
//!   `instructions-per-inference <n>`, `stack-peak-bytes <n>`, `done`; failures print
//!   `error: ...` and exit with failure.
//! - `-append corrupt-output` (test only) flips the lowest bit of row 0's first margin.
//! - built with a sealing key (build.rs: `LOCKSTEP_SEAL_PUBLIC_KEY`), the region must hold a
//!   sealed model that `lockstep_seal::open` accepts, checked before anything is scored; the
//!   firmware prints `seal-version`, `seal-key-id` and `seal-verify-instructions`, or
//!   `seal-refused <code>` and an error. `-append seal-check` (test only) checks a batch of
//!   sealed blobs instead and prints one `seal-verdict` line each.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use lockstep_engine::{Error, Model};
use lockstep_firmware_demo::host;
use lockstep_firmware_demo::vectors::{self, score_vectors};
use lockstep_firmware_demo::{board, exit_failure, exit_success, hex::Hex, region, seal};
use lockstep_protocol::exchange::{self, CORRUPT_OUTPUT_ARG, SEAL_CHECK_ARG};
use lockstep_protocol::{report, report_key};

macro_rules! fail {
    ($($arg:tt)*) => {{
        hprintln!($($arg)*);
        exit_failure()
    }};
}

#[entry]
fn main() -> ! {
    hprintln!("lockstep parity firmware on {}", board::NAME);
    let (ticker, rate) = vectors::start();
    let region_bytes = match region::model_bytes() {
        Err(problem) => fail!("error: model refused: {}", problem),
        Ok(bytes) => bytes,
    };
    // Semihosting gives the kernel path first, then the -append words.
    let mut cmdline = [0u8; 512];
    let cmdline = host::command_line(&mut cmdline).unwrap_or("");
    if cmdline.contains(SEAL_CHECK_ARG) {
        seal_check(region_bytes);
    }
    let corrupt = cmdline.contains(CORRUPT_OUTPUT_ARG);
    if corrupt {
        hprintln!("warning: corrupt-output: flipping the lowest bit of row 0's first margin");
    }

    // With a key compiled in, nothing reaches the engine before its seal is verified.
    let start = ticker.now();
    let checked = seal::check(region_bytes);
    let seal_ticks = ticker.since(start);
    let checked = match checked {
        Ok(checked) => checked,
        Err(error) => {
            hprintln!(
                concat!(report_key!(seal_refused), " {}"),
                report::seal_code(&error)
            );
            fail!("error: model refused: seal: {}", error)
        }
    };
    if let Some(opened) = checked.seal {
        hprintln!(concat!(report_key!(seal_version), " {}"), opened.version);
        hprintln!(
            concat!(report_key!(seal_key_id), " {}"),
            Hex(&opened.key_id)
        );
        // One interval between two timer reads: off by under one tick (a few instructions).
        hprintln!(
            concat!(report_key!(seal_verify_instructions), " {}"),
            rate.instructions(u64::from(seal_ticks))
        );
    }
    let model = match Model::from_bytes(checked.model) {
        Err(error) => fail!("error: model refused: {}", error),
        Ok(model) => model,
    };
    // from_bytes verified the SHA-256 stored at the end of the blob against its contents.
    hprintln!(
        concat!(report_key!(model_sha256), " {}"),
        Hex(&model.checksum())
    );
    hprintln!(
        "model {} trees, {} features, {} outputs, label {}",
        model.n_trees(),
        model.n_features(),
        model.n_outputs(),
        model.label()
    );

    score_vectors(
        &ticker,
        rate,
        model.n_features(),
        model.n_outputs(),
        corrupt,
        |row, margins, outputs| score(&model, row, margins, outputs),
    )
}

/// Seal-check mode (test only): the region holds a batch of sealed blobs; prints one verdict
/// per blob (`seal-verdict <i> accepted <version>` or `seal-verdict <i> refused <code>`), then
/// `done`. Scores nothing.
fn seal_check(batch: &[u8]) -> ! {
    if !seal::REQUIRED {
        fail!("error: seal-check needs a firmware built with LOCKSTEP_SEAL_PUBLIC_KEY");
    }
    for (i, record) in exchange::batch(batch).enumerate() {
        let Ok(blob) = record else {
            fail!(
                "error: seal-check: blob {} runs past the end of the batch",
                i
            );
        };
        match seal::check(blob) {
            Ok(checked) => hprintln!(
                concat!(report_key!(seal_verdict), " {} {} {}"),
                i,
                report::ACCEPTED,
                checked.seal.map_or(0, |s| s.version)
            ),
            Err(error) => hprintln!(
                concat!(report_key!(seal_verdict), " {} {} {}"),
                i,
                report::REFUSED,
                report::seal_code(&error)
            ),
        }
    }
    hprintln!(report_key!(done));
    exit_success()
}

/// One inference, behind a call whose stack use is measured from the caller's stack pointer.
#[inline(never)]
fn score(
    model: &Model<'_>,
    row: &[f32],
    margins: &mut [f32],
    outputs: &mut [f32],
) -> Result<(), Error> {
    model.predict(row, margins, outputs)
}

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
use lockstep_firmware_demo::cost::{self, StackPaint, StackPeak, Ticker};
use lockstep_firmware_demo::host::{self, HostFile, Mode};
use lockstep_firmware_demo::{board, exit_failure, exit_success, fpenv, hex::Hex, region, seal};
use lockstep_protocol::exchange::{
    self, FileKind, Header, CORRUPT_OUTPUT_ARG, HEADER_BYTES, OUTPUTS_FILE_C, SEAL_CHECK_ARG,
    VALUE_BYTES, VECTORS_FILE_C,
};
use lockstep_protocol::{report, report_key};

/// Most rows scored between two timer reads (fewer when rows are wide).
const MAX_CHUNK_ROWS: usize = 32;
/// Bytes moved per semihosting call.
const STAGING_BYTES: usize = 256;
/// Passes of the no-op loop that measures the overhead around each inference.
const OVERHEAD_PASSES: usize = 16;

/// Row buffers, outside the stack so the stack paint sees only the engine.
struct Buffers {
    features: [f32; board::FEATURE_SLOTS],
    scores: [f32; board::OUTPUT_SLOTS],
    staging: [u8; STAGING_BYTES],
}

static mut BUFFERS: Buffers = Buffers {
    features: [0.0; board::FEATURE_SLOTS],
    scores: [0.0; board::OUTPUT_SLOTS],
    staging: [0; STAGING_BYTES],
};

macro_rules! fail {
    ($($arg:tt)*) => {{
        hprintln!($($arg)*);
        exit_failure()
    }};
}

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail!("error: core peripherals already taken");
    };
    // SAFETY: `main` runs once and is the only code that names BUFFERS; no interrupt uses it.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    hprintln!("lockstep parity firmware on {}", board::NAME);

    if let Err(problem) = fpenv::check() {
        fail!(
            "error: floating point unfit for bit-exact parity: {}",
            problem
        );
    }
    let ticker = Ticker::start(peripherals.SYST);
    let Some(rate) = cost::calibrate(&ticker) else {
        fail!("error: SysTick does not advance; cannot measure cost");
    };
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

    let n_features = model.n_features();
    let n_outputs = model.n_outputs();
    if n_features > board::FEATURE_SLOTS {
        fail!(
            "error: the model has {} features; this firmware holds rows of at most {}",
            n_features,
            board::FEATURE_SLOTS
        );
    }
    let Ok(mut vectors) = HostFile::open(VECTORS_FILE_C, Mode::ReadBinary) else {
        fail!("error: cannot open vectors.bin on the host");
    };
    let mut header = [0u8; HEADER_BYTES];
    if let Err(e) = vectors.read_exact(&mut header) {
        fail!("error: vectors.bin header: {}", e);
    }
    // The header is whole (read_exact), so only its magic can be wrong.
    let Ok(header) = Header::from_bytes(FileKind::Vectors, &header) else {
        fail!("error: vectors.bin does not start with LSVC");
    };
    let (file_features, n_rows) = (header.width as usize, header.n_rows as usize);
    if file_features != n_features {
        fail!(
            "error: vectors.bin rows have {} features, the model needs {}",
            file_features,
            n_features
        );
    }
    let Ok(mut outputs_file) = HostFile::open(OUTPUTS_FILE_C, Mode::WriteBinary) else {
        fail!("error: cannot create outputs.bin on the host");
    };
    let out_header = Header::outputs(n_outputs as u32, n_rows as u32);
    if outputs_file.write_all(&out_header.to_bytes()).is_err() {
        fail!("error: writing outputs.bin failed");
    }

    let chunk_rows = MAX_CHUNK_ROWS
        .min(board::FEATURE_SLOTS / n_features)
        .min(board::OUTPUT_SLOTS / (2 * n_outputs))
        .max(1);
    let row_scores = 2 * n_outputs;

    let base = cost::stack_pointer();
    let mut total_ticks: u64 = 0;
    let mut n_chunks: u64 = 0;
    let mut peak = StackPeak::AtMost(0);
    let mut done = 0;
    let mut last_chunk_rows = 0;
    while done < n_rows {
        let rows = chunk_rows.min(n_rows - done);
        let features = &mut buffers.features[..rows * n_features];
        if let Err(e) = read_f32s(&mut vectors, &mut buffers.staging, features) {
            fail!("error: vectors.bin row {}: {}", done, e);
        }
        let scores = &mut buffers.scores[..rows * row_scores];

        let paint = StackPaint::paint(base, board::STACK_PAINT_BYTES);
        let start = ticker.now();
        let result = score_chunk(features, scores, n_features, n_outputs, |row, m, o| {
            score(&model, row, m, o)
        });
        total_ticks += u64::from(ticker.since(start));
        n_chunks += 1;
        peak = deeper(peak, paint.peak());
        if let Err(error) = result {
            fail!("error: scoring rows {}..{}: {}", done, done + rows, error);
        }
        last_chunk_rows = rows;

        if corrupt && done == 0 {
            scores[0] = f32::from_bits(scores[0].to_bits() ^ 1);
        }
        if let Err(e) = write_f32s(&mut outputs_file, &mut buffers.staging, scores) {
            fail!("error: outputs.bin: {}", e);
        }
        done += rows;
    }
    drop(outputs_file);

    // The same loop with a scorer that does nothing, over the last chunk again: what the
    // interval measured besides the engine (loop, slicing, call and return).
    let mut overhead_ticks: u64 = 0;
    for _ in 0..OVERHEAD_PASSES {
        let features = &buffers.features[..last_chunk_rows * n_features];
        let scores = &mut buffers.scores[..last_chunk_rows * row_scores];
        let start = ticker.now();
        let _ = score_chunk(features, scores, n_features, n_outputs, skip);
        overhead_ticks += u64::from(ticker.since(start));
    }
    let overhead_calls = OVERHEAD_PASSES as u64 * last_chunk_rows as u64;

    hprintln!(concat!(report_key!(rows), " {}"), n_rows);
    // Each timed interval may be off by under one tick, so the average is off by under
    // (intervals × instructions per tick) / rows, plus the same bound for the overhead estimate.
    let per_tick = rate.per_tick_hundredths();
    let bound = |intervals: u64, calls: u64| (intervals * per_tick).div_ceil(100 * calls.max(1));
    let error_bound =
        bound(n_chunks, n_rows as u64) + bound(OVERHEAD_PASSES as u64, overhead_calls);
    hprintln!(
        "timing: SysTick on the core clock at {}.{:02} instructions per tick (calibrated against a counted loop); {} rows in {} timed intervals; loop overhead of {} instructions per row subtracted; error under {} instructions per inference",
        per_tick / 100,
        per_tick % 100,
        n_rows,
        n_chunks,
        (rate.instructions(overhead_ticks) + overhead_calls / 2) / overhead_calls.max(1),
        error_bound,
    );
    if n_rows > 0 && overhead_calls > 0 {
        // (total - overhead_per_row × n_rows) / n_rows, in integers.
        let measured = rate.instructions(total_ticks) * overhead_calls;
        let overhead = rate.instructions(overhead_ticks) * n_rows as u64;
        let denominator = n_rows as u64 * overhead_calls;
        let per_inference = (measured.saturating_sub(overhead) + denominator / 2) / denominator;
        hprintln!(
            concat!(report_key!(instructions_per_inference), " {}"),
            per_inference
        );
    }
    match peak {
        _ if n_rows == 0 => {}
        StackPeak::Exact(bytes) => hprintln!(concat!(report_key!(stack_peak_bytes), " {}"), bytes),
        StackPeak::AtLeast(bytes) => {
            hprintln!(
                "warning: the stack paint was exhausted; the peak is at least {} bytes",
                bytes
            );
            hprintln!(concat!(report_key!(stack_peak_bytes), " {}"), bytes);
        }
        StackPeak::AtMost(bytes) => {
            hprintln!(
                "warning: scoring stayed above the stack paint; the peak is at most {} bytes",
                bytes
            );
            hprintln!(concat!(report_key!(stack_peak_bytes), " {}"), bytes);
        }
    }
    hprintln!(report_key!(done));
    exit_success()
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

/// Scores every row of a chunk with `scorer`; the first error, if any, after all rows.
#[inline(always)]
fn score_chunk(
    features: &[f32],
    scores: &mut [f32],
    n_features: usize,
    n_outputs: usize,
    scorer: impl Fn(&[f32], &mut [f32], &mut [f32]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut result = Ok(());
    for (row, out) in features
        .chunks_exact(n_features)
        .zip(scores.chunks_exact_mut(2 * n_outputs))
    {
        let (margins, outputs) = out.split_at_mut(n_outputs);
        result = result.and(scorer(row, margins, outputs));
    }
    result
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

/// Stands in for [`score`] to measure the loop around it: does nothing the compiler can see
/// through.
#[inline(never)]
fn skip(row: &[f32], margins: &mut [f32], outputs: &mut [f32]) -> Result<(), Error> {
    core::hint::black_box((row, margins, outputs));
    Ok(())
}

/// The deeper of two stack measurements (on a tie, the less certain bound wins).
fn deeper(a: StackPeak, b: StackPeak) -> StackPeak {
    let rank = |p: StackPeak| match p {
        StackPeak::AtMost(n) => (n, 0),
        StackPeak::Exact(n) => (n, 1),
        StackPeak::AtLeast(n) => (n, 2),
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Fills `values` with little-endian f32 read from `file` through `staging`.
fn read_f32s(
    file: &mut HostFile,
    staging: &mut [u8],
    values: &mut [f32],
) -> Result<(), host::HostError> {
    for group in values.chunks_mut(staging.len() / VALUE_BYTES) {
        let bytes = &mut staging[..group.len() * VALUE_BYTES];
        file.read_exact(bytes)?;
        exchange::decode_values(bytes, group);
    }
    Ok(())
}

/// Writes `values` as little-endian f32 bits to `file` through `staging`.
fn write_f32s(
    file: &mut HostFile,
    staging: &mut [u8],
    values: &[f32],
) -> Result<(), host::HostError> {
    for group in values.chunks(staging.len() / VALUE_BYTES) {
        let bytes = &mut staging[..group.len() * VALUE_BYTES];
        exchange::encode_values(group, bytes);
        file.write_all(bytes)?;
    }
    Ok(())
}

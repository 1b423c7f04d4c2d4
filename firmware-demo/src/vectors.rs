//! The parity runners' shared loop: reads the rows of `vectors.bin`, scores them with the
//! binary's scorer (the engine on the model in flash, or a module `lockstep codegen`
//! generated), writes `outputs.bin`, and prints the cost report lines. The files and lines
//! are lockstep-protocol's (see README.md, `parity`).

use core::fmt::Display;

use cortex_m_semihosting::hprintln;
use lockstep_protocol::exchange::{
    FileKind, Header, HEADER_BYTES, OUTPUTS_FILE_C, VALUE_BYTES, VECTORS_FILE_C,
};
use lockstep_protocol::{exchange, report_key};

use crate::board;
use crate::cost::{self, Rate, StackPaint, StackPeak, Ticker};
use crate::host::{self, HostFile, Mode};
use crate::{exit_failure, exit_success};

/// Most rows scored between two timer reads (fewer when rows are wide).
const MAX_CHUNK_ROWS: usize = 32;
/// Bytes moved per semihosting call.
const STAGING_BYTES: usize = 256;
/// Passes of the no-op loop that measures the overhead around each inference.
const OVERHEAD_PASSES: usize = 16;

/// The parity runners' start: takes the core peripherals, refuses a floating-point
/// environment unfit for bit-exact parity, and starts and calibrates the cycle timer. Prints
/// an `error:` line and exits with failure when any of these fails.
pub fn start() -> (Ticker, Rate) {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        hprintln!("error: core peripherals already taken");
        exit_failure()
    };
    if let Err(problem) = crate::fpenv::check() {
        hprintln!(
            "error: floating point unfit for bit-exact parity: {}",
            problem
        );
        exit_failure()
    }
    let ticker = Ticker::start(peripherals.SYST);
    let Some(rate) = cost::calibrate(&ticker) else {
        hprintln!("error: SysTick does not advance; cannot measure cost");
        exit_failure()
    };
    (ticker, rate)
}

/// Row buffers, outside the stack so the stack paint sees only the scorer.
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

/// Scores every row of `vectors.bin` (rows of `n_features`) with `scorer` (which writes
/// `n_outputs` margins and outputs), writes `outputs.bin`, prints `rows`,
/// `instructions-per-inference`, `stack-peak-bytes` and `done`, and ends the program. With
/// `corrupt`, flips the lowest bit of row 0's first margin (test only). `scorer` should be a
/// call to an `#[inline(never)]` function: the stack is measured below the caller's frame.
pub fn score_vectors<E: Display>(
    ticker: &Ticker,
    rate: Rate,
    n_features: usize,
    n_outputs: usize,
    corrupt: bool,
    scorer: impl Fn(&[f32], &mut [f32], &mut [f32]) -> Result<(), E>,
) -> ! {
    // SAFETY: called once per program (it never returns), and nothing else names BUFFERS; no
    // interrupt uses it.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
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
        let result = score_chunk(features, scores, n_features, n_outputs, &scorer);
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
        let _ = score_chunk(features, scores, n_features, n_outputs, skip::<E>);
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

/// Scores every row of a chunk with `scorer`; the first error, if any, after all rows.
#[inline(always)]
fn score_chunk<E>(
    features: &[f32],
    scores: &mut [f32],
    n_features: usize,
    n_outputs: usize,
    scorer: impl Fn(&[f32], &mut [f32], &mut [f32]) -> Result<(), E>,
) -> Result<(), E> {
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

/// Stands in for the scorer to measure the loop around it: does nothing the compiler can see
/// through.
#[inline(never)]
fn skip<E>(row: &[f32], margins: &mut [f32], outputs: &mut [f32]) -> Result<(), E> {
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

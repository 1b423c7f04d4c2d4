//! Bedside demo (MPS2 AN386, cortex-m4f): a model embedded at build time scores patients that
//! arrive as text lines on UART0, and answers on the same UART. Logs go out through defmt over
//! semihosting.
//!
//! Protocol: each line is the model's features in model order, comma-separated decimals
//! (empty or `nan` = missing). The answer is one line:
//! `risk=<f32 bits, 8 hex> prob=<decimal> model=<first 16 hex of the SHA-256> label=<label>`
//! (values comma-separated for a model with several outputs), or `error: <reason>`.
//! `quit` ends the program. If the embedded model does not load, the firmware says why on the
//! UART and in the log, and exits without scoring.
//!
//! Built with a sealing key (build.rs: `LOCKSTEP_SEAL_PUBLIC_KEY`, `LOCKSTEP_SEAL_MIN_VERSION`),
//! the embedded file must be a sealed model (`.lss`) that `lockstep_seal::open` accepts; it is
//! checked at boot before the first score. A refusal is logged and answered on the UART as
//! `seal-refused <code>` then `error: model refused: seal: <reason>`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use defmt_semihosting as _; // the defmt global logger: frames go out through semihosting
use embedded_io::Write;
use lockstep_engine::format::limits::MAX_OUTPUTS;
use lockstep_engine::Model;
use lockstep_firmware_demo::hex::Hex;
use lockstep_firmware_demo::line::{parse_features, LineReader};
use lockstep_firmware_demo::uart::{CmsdkUart, MPS2_BAUDDIV_115200, MPS2_UART0};
use lockstep_firmware_demo::{exit_failure, exit_success, fpenv, seal};
use lockstep_protocol::report::seal_code;
use lockstep_protocol::report_key;

/// The compiled model, chosen at build time (build.rs: LOCKSTEP_MODEL, by default
/// models/bedside.lsm). The engine reads it byte-wise, so no alignment is needed.
static MODEL: &[u8] = include_bytes!(env!("LOCKSTEP_MODEL"));

/// Longest input line in bytes.
const LINE_BYTES: usize = 1024;
/// Most features a line may carry (the engine's limit would not fit a line anyway).
const MAX_LINE_FEATURES: usize = 256;

/// Adapts the UART to `core::fmt::Write` for formatted answers.
struct Console<W: Write>(W);

impl<W: Write> core::fmt::Write for Console<W> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

#[entry]
fn main() -> ! {
    // SAFETY: UART0 of the MPS2 AN386 lives at this address and nothing else drives it.
    let uart = unsafe { CmsdkUart::new(MPS2_UART0, MPS2_BAUDDIV_115200) };
    let mut console = Console(uart);
    defmt::info!(
        "bedside: booting, embedded model {=usize} bytes",
        MODEL.len()
    );

    if let Err(problem) = fpenv::check() {
        defmt::error!(
            "floating point unfit for bit-exact scoring: {}",
            defmt::Display2Format(&problem)
        );
        let _ = writeln!(
            console,
            "error: floating point unfit for bit-exact scoring: {problem}"
        );
        exit_failure();
    }
    // With a key compiled in, only a model sealed by it (and not older than the minimum
    // version) reaches the engine.
    let checked = match seal::check(MODEL) {
        Ok(checked) => checked,
        Err(error) => {
            defmt::error!("model refused: seal: {} ({=str})", error, seal_code(&error));
            let _ = writeln!(
                console,
                concat!(report_key!(seal_refused), " {}"),
                seal_code(&error)
            );
            let _ = writeln!(console, "error: model refused: seal: {error}");
            exit_failure();
        }
    };
    if let Some(opened) = checked.seal {
        defmt::info!(
            "seal verified: model version {=u32} (minimum {=u32}), key id {=[u8]:02x}",
            opened.version,
            seal::MIN_VERSION,
            opened.key_id[..]
        );
    }
    let model = match Model::from_bytes(checked.model) {
        Ok(model) => model,
        Err(error) => {
            defmt::error!("model refused: {}", error);
            let _ = writeln!(console, "error: model refused: {error}");
            exit_failure();
        }
    };
    let checksum = model.checksum();
    let identity = Hex(&checksum[..8]);
    let n_features = model.n_features();
    let n_outputs = model.n_outputs();
    let mut identity_bytes = [0u8; 8];
    identity_bytes.copy_from_slice(&checksum[..8]);
    defmt::info!(
        "model {=u64:016x} verified (SHA-256 checked): {=usize} trees, {=usize} features, {=usize} outputs, label {=str}",
        u64::from_be_bytes(identity_bytes),
        model.n_trees(),
        n_features,
        n_outputs,
        model.label()
    );
    if n_features > MAX_LINE_FEATURES {
        defmt::error!(
            "model needs {=usize} features; lines carry at most {=usize}",
            n_features,
            MAX_LINE_FEATURES
        );
        let _ = writeln!(console, "error: model needs {n_features} features; this firmware reads at most {MAX_LINE_FEATURES} per line");
        exit_failure();
    }
    let _ = writeln!(
        console,
        "ready model={identity} features={n_features} label={}",
        model.label()
    );

    let mut reader = LineReader::default();
    let mut line_buf = [0u8; LINE_BYTES];
    let mut features = [0f32; MAX_LINE_FEATURES];
    let mut margins = [0f32; MAX_OUTPUTS];
    let mut outputs = [0f32; MAX_OUTPUTS];
    let features = &mut features[..n_features];
    let margins = &mut margins[..n_outputs];
    let outputs = &mut outputs[..n_outputs];
    let mut n_scored: u32 = 0;
    loop {
        let Ok(line) = reader.read_line(&mut console.0, &mut line_buf);
        let line = match line {
            Ok(line) => line.trim(),
            Err(problem) => {
                defmt::warn!("rejected input: {}", defmt::Display2Format(&problem));
                let _ = writeln!(console, "error: {problem}");
                continue;
            }
        };
        if line == "quit" {
            defmt::info!("quit after {=u32} patients", n_scored);
            let _ = writeln!(console, "bye");
            let _ = console.0.flush();
            exit_success();
        }
        if let Err(problem) = parse_features(line, features) {
            defmt::warn!("rejected line: {}", defmt::Display2Format(&problem));
            let _ = writeln!(console, "error: {problem}");
            continue;
        }
        if let Err(error) = model.predict(features, margins, outputs) {
            defmt::warn!("not scored: {}", error);
            let _ = writeln!(console, "error: {error}");
            continue;
        }
        n_scored += 1;
        defmt::info!(
            "patient {=u32}: margin {} prob {} (bits {=u32:08x})",
            n_scored,
            &*margins,
            &*outputs,
            outputs[0].to_bits()
        );
        let _ = console.write_str("risk=");
        for (k, p) in outputs.iter().enumerate() {
            let _ = write!(
                console,
                "{}{:08x}",
                if k > 0 { "," } else { "" },
                p.to_bits()
            );
        }
        let _ = console.write_str(" prob=");
        for (k, p) in outputs.iter().enumerate() {
            let _ = write!(console, "{}{}", if k > 0 { "," } else { "" }, p);
        }
        let _ = writeln!(console, " model={identity} label={}", model.label());
    }
}

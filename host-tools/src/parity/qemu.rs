//! Building the Cortex-M firmware and running it under QEMU. The build uses Debian's rustc
//! with `-Z build-std` (see ci/setup.sh); the run passes the model as a blob that QEMU's
//! generic loader writes into the firmware's flash model region, and exchanges vectors and
//! outputs as files through semihosting.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lockstep_protocol::exchange::{
    self, FileKind, Header, CODEGEN_MODEL_ARG, CORRUPT_OUTPUT_ARG, MODEL_BLOB_FILE, OUTPUTS_FILE,
    SEAL_CHECK_ARG,
};
use lockstep_protocol::report;
use lockstep_protocol::targets::QEMU_COMMON_ARGS;
use sha2::{Digest, Sha256};

use super::{ParityError, Target};

/// Longest a single QEMU run may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// What the firmware reported.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRun {
    /// The model SHA-256 the device verified.
    pub model_sha256: String,
    /// Margins then outputs per row, f32 bits.
    pub outputs: Vec<u32>,
    /// Average instructions per inference.
    pub instructions_per_inference: Option<f64>,
    /// Peak stack of one inference.
    pub stack_peak_bytes: Option<u64>,
    /// The seal the device verified (firmware built with a key).
    pub seal: Option<DeviceSeal>,
    /// Everything the firmware printed.
    pub log: String,
}

fn rust_lld_dir() -> Option<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.join("toolchains"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("lib/rustlib/x86_64-unknown-linux-gnu/bin"))
        .filter(|p| p.join("rust-lld").exists())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// The sealing key and minimum version compiled into a firmware build (firmware-demo's
/// build.rs reads them from `LOCKSTEP_SEAL_PUBLIC_KEY` and `LOCKSTEP_SEAL_MIN_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareKey {
    /// The public key a sealed model must verify under.
    pub public_key: [u8; lockstep_seal::PUBLIC_KEY_LEN],
    /// The oldest model version the firmware accepts.
    pub min_version: u32,
}

impl FirmwareKey {
    /// The name of the build's ELF directory: which key and minimum it was built with.
    fn tag(&self) -> String {
        format!(
            "sealed-{}-min{}",
            crate::inspect::hex(&lockstep_seal::key_id(&self.public_key)),
            self.min_version
        )
    }
}

/// Builds (or reuses) the parity firmware for `target`, with `key` compiled in (or none:
/// unsigned models), and returns the path of its ELF in a directory named after the key.
pub fn build_firmware(
    firmware_dir: &Path,
    target: &Target,
    key: Option<&FirmwareKey>,
) -> Result<PathBuf, ParityError> {
    let tag = key.map_or_else(|| "unsigned".to_string(), FirmwareKey::tag);
    let mut command = Command::new("/usr/bin/cargo");
    match key {
        Some(key) => command
            .env(
                "LOCKSTEP_SEAL_PUBLIC_KEY",
                crate::inspect::hex(&key.public_key),
            )
            .env("LOCKSTEP_SEAL_MIN_VERSION", key.min_version.to_string()),
        None => command
            .env_remove("LOCKSTEP_SEAL_PUBLIC_KEY")
            .env_remove("LOCKSTEP_SEAL_MIN_VERSION"),
    };
    command.env_remove("LOCKSTEP_CODEGEN");
    cargo_build(command, firmware_dir, target, "parity", &tag)
}

/// Builds (or reuses) the `parity-codegen` firmware for `target` with the Rust modules
/// `modules` (from `lockstep codegen`) compiled in, and returns the path of its ELF, in a
/// directory named after the modules' contents. No sealing key: generated code has no model
/// bytes to verify.
pub fn build_codegen_firmware(
    firmware_dir: &Path,
    target: &Target,
    modules: &[PathBuf],
) -> Result<PathBuf, ParityError> {
    let build_error = |detail: String| ParityError::Build {
        target: target.name.into(),
        detail,
    };
    let mut digest = Sha256::new();
    let mut absolute = Vec::new();
    for module in modules {
        let path = std::fs::canonicalize(module)
            .map_err(|e| build_error(format!("{}: {e}", crate::text::shown_path(module))))?;
        let code = std::fs::read(&path)
            .map_err(|e| build_error(format!("{}: {e}", crate::text::shown_path(module))))?;
        digest.update((code.len() as u64).to_le_bytes());
        digest.update(&code);
        absolute.push(path);
    }
    let list = std::env::join_paths(&absolute).map_err(|e| {
        build_error(format!(
            "a generated module's path cannot be passed to the build: {e}"
        ))
    })?;
    let tag = format!("codegen-{}", &crate::inspect::hex(&digest.finalize())[..16]);
    let mut command = Command::new("/usr/bin/cargo");
    command
        .env("LOCKSTEP_CODEGEN", list)
        .env_remove("LOCKSTEP_SEAL_PUBLIC_KEY")
        .env_remove("LOCKSTEP_SEAL_MIN_VERSION");
    cargo_build(command, firmware_dir, target, "parity-codegen", &tag)
}

/// Runs `command` (cargo, with the build's environment set) as a release build of `bin` for
/// `target` in `firmware_dir`, placing the ELF in a directory named `tag`.
///
/// Every build shares one cargo target directory; build.rs's rerun-if-env-changed makes cargo
/// rebuild when the environment differs from the last build. Cargo itself places the ELF in
/// the tag's own directory (`--artifact-dir`, under its build lock), so a concurrent build
/// with another key or other modules cannot swap the ELF under a run.
fn cargo_build(
    mut command: Command,
    firmware_dir: &Path,
    target: &Target,
    bin: &str,
    tag: &str,
) -> Result<PathBuf, ParityError> {
    let build_error = |detail: String| ParityError::Build {
        target: target.name.into(),
        detail,
    };
    if !Path::new("/usr/bin/rustc").exists() {
        return Err(build_error(
            "Debian's rustc is missing; run ci/setup.sh".into(),
        ));
    }
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(lld) = rust_lld_dir() {
        let mut joined = std::env::split_paths(&path).collect::<Vec<_>>();
        joined.push(lld);
        path = std::env::join_paths(joined).unwrap_or(path);
    }
    let artifacts = firmware_dir
        .join("target")
        .join(target.triple)
        .join("release")
        .join("lockstep-parity")
        .join(tag);
    let output = command
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            target.triple,
            "--bin",
            bin,
            "-Z",
            "unstable-options",
            "--artifact-dir",
        ])
        .arg(&artifacts)
        .current_dir(firmware_dir)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("PATH", path)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(|e| build_error(format!("cannot run /usr/bin/cargo: {e}")))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        return Err(build_error(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    Ok(artifacts.join(bin))
}

/// QEMU's version line.
pub fn version() -> String {
    Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// What a device said about the seal of the model it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeal {
    /// The version the device verified.
    pub version: u32,
    /// The key id it reported (16 hex digits).
    pub key_id: String,
    /// Instructions one `lockstep_seal::open` took.
    pub verify_instructions: Option<u64>,
}

/// Runs the firmware in `dir` (which holds `model.blob`) with `append` on its command line;
/// returns its exit status and everything it printed.
fn run_qemu(
    elf: &Path,
    dir: &Path,
    target: &Target,
    append: Option<&str>,
) -> Result<(std::process::ExitStatus, String), ParityError> {
    run_qemu_with(elf, dir, target, append, true)
}

/// [`run_qemu`], loading `model.blob` into the model region only when `load_model`.
fn run_qemu_with(
    elf: &Path,
    dir: &Path,
    target: &Target,
    append: Option<&str>,
    load_model: bool,
) -> Result<(std::process::ExitStatus, String), ParityError> {
    let run_error = |detail: String| ParityError::Run {
        target: target.name.into(),
        detail,
    };
    let mut command = Command::new("qemu-system-arm");
    command
        .args(target.qemu_machine_args())
        .args(QEMU_COMMON_ARGS)
        .args(["-monitor", "none", "-serial", "none", "-icount", "shift=0"])
        .arg("-kernel")
        .arg(elf);
    if load_model {
        command.arg("-device").arg(format!(
            "loader,file={MODEL_BLOB_FILE},addr=0x{:08x}",
            target.model_region
        ));
    }
    if let Some(append) = append {
        command.args(["-append", append]);
    }
    let mut child = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            run_error(format!(
                "cannot start qemu-system-arm ({e}); run ci/setup.sh"
            ))
        })?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            return Err(run_error(format!(
                "timed out after {} s",
                RUN_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output()?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((status, log))
}

/// The value of the first `key` line in `log`.
fn field(log: &str, key: &str) -> Option<String> {
    log.lines()
        .find_map(|line| report::value(line, key).map(str::to_string))
}

/// Runs the parity firmware in `dir` (which holds `model.blob` and `vectors.bin`).
pub fn run_parity(
    elf: &Path,
    dir: &Path,
    target: &Target,
    corrupt: bool,
) -> Result<DeviceRun, ParityError> {
    let _ = std::fs::remove_file(dir.join(OUTPUTS_FILE));
    let (status, log) = run_qemu(elf, dir, target, corrupt.then_some(CORRUPT_OUTPUT_ARG))?;
    device_run(dir, target, status, log)
}

/// Runs the `parity-codegen` firmware in `dir` (which holds `vectors.bin`) on the compiled
/// model whose SHA-256 is `model_sha256` (hex); no model blob is loaded.
pub fn run_codegen_parity(
    elf: &Path,
    dir: &Path,
    target: &Target,
    model_sha256: &str,
    corrupt: bool,
) -> Result<DeviceRun, ParityError> {
    let _ = std::fs::remove_file(dir.join(OUTPUTS_FILE));
    let mut append = format!("{CODEGEN_MODEL_ARG}{model_sha256}");
    if corrupt {
        append = format!("{append} {CORRUPT_OUTPUT_ARG}");
    }
    let (status, log) = run_qemu_with(elf, dir, target, Some(&append), false)?;
    device_run(dir, target, status, log)
}

/// What a parity run of the firmware reported (its log, exit status and `outputs.bin`).
fn device_run(
    dir: &Path,
    target: &Target,
    status: std::process::ExitStatus,
    log: String,
) -> Result<DeviceRun, ParityError> {
    let run_error = |detail: String| ParityError::Run {
        target: target.name.into(),
        detail,
    };
    if let Some(code) = field(&log, report::SEAL_REFUSED) {
        let reason = log
            .lines()
            .find_map(|l| l.trim().strip_prefix(report::ERROR_PREFIX))
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(ParityError::SealRefused {
            target: target.name.into(),
            code,
            reason,
        });
    }
    if !status.success() || !log.lines().any(report::is_done) {
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        return Err(run_error(format!(
            "firmware failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let model_sha256 = field(&log, report::MODEL_SHA256)
        .ok_or_else(|| run_error(format!("no {} line", report::MODEL_SHA256)))?;
    let bytes = std::fs::read(dir.join(OUTPUTS_FILE))
        .map_err(|e| run_error(format!("{OUTPUTS_FILE}: {e}")))?;
    let outputs =
        parse_outputs(&bytes).ok_or_else(|| run_error(format!("{OUTPUTS_FILE} is malformed")))?;
    let seal = match field(&log, report::SEAL_VERSION) {
        None => None,
        Some(version) => Some(DeviceSeal {
            version: version
                .parse()
                .map_err(|_| run_error(format!("bad {} line", report::SEAL_VERSION)))?,
            key_id: field(&log, report::SEAL_KEY_ID)
                .ok_or_else(|| run_error(format!("no {} line", report::SEAL_KEY_ID)))?,
            verify_instructions: field(&log, report::SEAL_VERIFY_INSTRUCTIONS)
                .and_then(|v| v.parse().ok()),
        }),
    };
    Ok(DeviceRun {
        model_sha256,
        outputs,
        instructions_per_inference: field(&log, report::INSTRUCTIONS_PER_INFERENCE)
            .and_then(|v| v.parse().ok()),
        stack_peak_bytes: field(&log, report::STACK_PEAK_BYTES).and_then(|v| v.parse().ok()),
        seal,
        log,
    })
}

/// A device's verdict on one sealed blob in seal-check mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Opened; the version.
    Accepted(u32),
    /// Refused; the seal code (`lockstep_protocol::report::SEAL_CODES`).
    Refused(String),
}

/// Runs the parity firmware in seal-check mode on `batch` (records as
/// `lockstep_protocol::exchange::batch` reads them) in `dir`, and returns one verdict per
/// blob, in order. The firmware must have been built with a key.
pub fn run_seal_check(
    elf: &Path,
    dir: &Path,
    target: &Target,
    batch: &[u8],
    n_blobs: usize,
) -> Result<Vec<Verdict>, ParityError> {
    let run_error = |detail: String| ParityError::Run {
        target: target.name.into(),
        detail,
    };
    let mut blob = exchange::length_prefix(batch.len() as u32).to_vec();
    blob.extend_from_slice(batch);
    crate::output::write_atomically(&dir.join(MODEL_BLOB_FILE), &blob)?;
    let (status, log) = run_qemu(elf, dir, target, Some(SEAL_CHECK_ARG))?;
    if !status.success() || !log.lines().any(report::is_done) {
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        return Err(run_error(format!(
            "seal check failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let mut verdicts = Vec::with_capacity(n_blobs);
    for (index, verdict) in log.lines().filter_map(report::seal_verdict) {
        if index != verdicts.len() {
            return Err(run_error(format!("verdict {index} out of order")));
        }
        verdicts.push(match verdict {
            report::SealVerdict::Accepted(version) => Verdict::Accepted(version),
            report::SealVerdict::Refused(code) => Verdict::Refused(code.into()),
        });
    }
    if verdicts.len() != n_blobs {
        return Err(run_error(format!(
            "{} verdicts for {n_blobs} blobs",
            verdicts.len()
        )));
    }
    Ok(verdicts)
}

/// The values of an output file (`LSVO`, see `lockstep_protocol::exchange`): margins then
/// outputs per row, as f32 bits; `None` if the file is malformed.
pub fn parse_outputs(bytes: &[u8]) -> Option<Vec<u32>> {
    let (_, body) = Header::split(FileKind::Outputs, bytes).ok()?;
    Some(exchange::decode_bits(body).collect())
}

/// Bytes an ELF32 image puts in flash: every allocated section with contents (code, read-only
/// data and the initial values of writable data); the NOLOAD model region has no contents.
pub fn flash_bytes(elf: &Path) -> std::io::Result<u64> {
    let bytes = std::fs::read(elf)?;
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a little-endian ELF32 file",
        )
    };
    if bytes.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
        return Err(bad());
    }
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(bad)
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(bad)
    };
    let (shoff, shentsize, shnum) = (u32_at(0x20)? as usize, u16_at(0x2e)?, u16_at(0x30)?);
    const SHT_PROGBITS: u32 = 1;
    const SHF_ALLOC: u32 = 2;
    let mut total = 0u64;
    for i in 0..shnum {
        let header = shoff + i * shentsize;
        let (kind, flags, size) = (
            u32_at(header + 4)?,
            u32_at(header + 8)?,
            u32_at(header + 20)?,
        );
        if kind == SHT_PROGBITS && flags & SHF_ALLOC != 0 {
            total += u64::from(size);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_output_files_and_refuses_short_ones() {
        let mut bytes = b"LSVO".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        for v in [1u32, 2, 3, 4] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(parse_outputs(&bytes), Some(vec![1, 2, 3, 4]));
        assert_eq!(parse_outputs(&bytes[..bytes.len() - 1]), None);
        assert_eq!(parse_outputs(b"XXXX"), None);
    }
}

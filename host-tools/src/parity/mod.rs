//! Device parity: runs the Cortex-M firmware in QEMU on a model and a set of input vectors,
//! runs the host engine on the same vectors, and compares every output by its bits. The same
//! `.lsm` bytes go to both sides; the device reports the model's SHA-256, which must match.

pub mod qemu;
pub mod vectors;

use std::path::{Path, PathBuf};

use lockstep_engine::Model;
use lockstep_protocol::exchange::{self, MODEL_BLOB_FILE, VECTORS_FILE};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::inspect::hex;
use vectors::VectorSet;

pub use lockstep_protocol::targets::{Target, TARGETS};

/// Looks a target up by name.
pub fn target(name: &str) -> Option<Target> {
    lockstep_protocol::targets::by_name(name)
}

/// Why a parity run could not be carried out (a mismatch is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    /// The model does not fit the target's model region.
    #[error("the model ({size} bytes with its length word) does not fit {target}'s {region}-byte model region")]
    ModelTooLarge {
        /// Target name.
        target: String,
        /// Blob size.
        size: usize,
        /// Region size.
        region: u32,
    },
    /// Building the firmware failed.
    #[error("building the {target} firmware failed: {detail}")]
    Build {
        /// Target name.
        target: String,
        /// Compiler output tail.
        detail: String,
    },
    /// QEMU could not be run or the firmware failed.
    #[error("{target} in QEMU: {detail}")]
    Run {
        /// Target name.
        target: String,
        /// What happened.
        detail: String,
    },
    /// The device reported a different model hash than the host's.
    #[error("{target} reports model sha256 {device}, but the host model is {host}")]
    HashMismatch {
        /// Target name.
        target: String,
        /// Device hash.
        device: String,
        /// Host hash.
        host: String,
    },
    /// The device refused the sealed model (seal code and its reason).
    #[error("{target} refused the sealed model ({code}): {reason}")]
    SealRefused {
        /// Target name.
        target: String,
        /// The seal code the device printed (`lockstep_protocol::report::SEAL_CODES`).
        code: String,
        /// The device's error line.
        reason: String,
    },
    /// The host could not open the sealed model it was asked to hand over.
    #[error("the sealed model does not open on the host: {0}")]
    Seal(lockstep_seal::SealError),
    /// The device ran the model but did not report the seal the host expected.
    #[error("{target} did not report verifying the seal ({detail})")]
    SealNotVerified {
        /// Target name.
        target: String,
        /// What was missing or different.
        detail: String,
    },
    /// I/O on the work directory.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A work file could not be written.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
}

/// One value that differs between host and device.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// Row index in the vector set.
    pub row: usize,
    /// Which value (`margin_k` or `output_k`).
    pub value: String,
    /// Host bits.
    pub host: String,
    /// Device bits.
    pub device: String,
    /// The row's inputs as f32 bit patterns.
    pub inputs: Vec<String>,
}

/// Device cost as measured in QEMU.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceCost {
    /// Average instructions per inference (`-icount shift=0`).
    pub instructions_per_inference: Option<f64>,
    /// Peak stack bytes of one inference (stack painting).
    pub stack_peak_bytes: Option<u64>,
    /// Bytes of the model in flash.
    pub model_flash_bytes: usize,
    /// Bytes of code and read-only data in the firmware image.
    pub firmware_flash_bytes: Option<u64>,
    /// Instructions of one seal verification (`lockstep_seal::open`), when the model was sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal_verify_instructions: Option<u64>,
}

/// The outcome on one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    /// Target name.
    pub target: String,
    /// Rows compared.
    pub rows: usize,
    /// Rows whose every value matched bit for bit.
    pub rows_bit_exact: usize,
    /// Values compared.
    pub values: usize,
    /// Values that differed.
    pub mismatched_values: usize,
    /// The first few mismatches.
    pub first_mismatches: Vec<Mismatch>,
    /// SHA-256 of the firmware ELF that ran.
    pub firmware_sha256: String,
    /// Model SHA-256 the device reported.
    pub device_model_sha256: String,
    /// Measured cost.
    pub cost: DeviceCost,
}

/// The machine-readable record of a parity run.
#[derive(Debug, Clone, Serialize)]
pub struct ParityRecord {
    /// Lockstep version.
    pub lockstep_version: String,
    /// SHA-256 of the model (its identity).
    pub model_sha256: String,
    /// SHA-256 of the binary vector set.
    pub vector_set_sha256: String,
    /// Rows in the vector set.
    pub n_vectors: usize,
    /// QEMU's version line.
    pub qemu_version: String,
    /// The seal, when a sealed model was run (absent for unsigned models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal: Option<SealRecord>,
    /// Per-target outcomes.
    pub targets: Vec<TargetResult>,
}

/// The seal of a sealed model in a parity record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SealRecord {
    /// The model version (anti-rollback).
    pub version: u32,
    /// The signer's key id (16 hex digits).
    pub key_id: String,
    /// The minimum version compiled into the firmware.
    pub min_version: u32,
    /// SHA-256 of the sealed file the devices were handed.
    pub sealed_sha256: String,
    /// Every target verified the seal before scoring (a device that refused it fails the run).
    pub verified_on_device: bool,
}

/// A sealed model to hand to the devices, with the key and minimum their firmware is built with.
#[derive(Debug, Clone)]
pub struct SealedInput {
    /// The sealed bytes (`.lss`), exactly as given.
    pub sealed: Vec<u8>,
    /// The key and minimum version compiled into the firmware.
    pub key: qemu::FirmwareKey,
}

impl ParityRecord {
    /// Whether every target matched on every value.
    pub fn all_exact(&self) -> bool {
        self.targets
            .iter()
            .all(|t| t.mismatched_values == 0 && t.rows > 0)
    }
}

/// What a parity run needs.
#[derive(Debug, Clone)]
pub struct ParityOptions {
    /// The `firmware-demo` directory.
    pub firmware_dir: PathBuf,
    /// Where to keep per-target work files.
    pub work_dir: PathBuf,
    /// Ask the firmware to flip one output bit (proves the comparison bites).
    pub corrupt_device_output: bool,
    /// How many mismatches to keep per target.
    pub keep_mismatches: usize,
    /// A sealed model: the devices get these bytes, verify them before scoring, and the
    /// firmware is built with its key (`None`: the model bytes go as they are, unsigned).
    pub seal: Option<SealedInput>,
    /// Generated code instead of the data path: Rust modules from `lockstep codegen` (one of
    /// them for this model) compiled into the `parity-codegen` firmware, which scores with
    /// them; no model bytes go to the device. Empty: the engine on the model bytes.
    pub codegen: Vec<PathBuf>,
}

/// The model blob QEMU loads into the region: u32 LE length, then the model bytes.
pub fn model_blob(model_bytes: &[u8]) -> Vec<u8> {
    let mut blob = exchange::length_prefix(model_bytes.len() as u32).to_vec();
    blob.extend_from_slice(model_bytes);
    blob
}

/// Runs `vectors` through `model_bytes` on the host and on each target, and compares. With
/// `options.seal`, `model_bytes` must be the sealed file's model; the devices get the sealed
/// file and must report verifying it.
pub fn run(
    model_bytes: &[u8],
    vectors: &VectorSet,
    targets: &[Target],
    options: &ParityOptions,
    mut progress: impl FnMut(&str),
) -> Result<ParityRecord, ParityError> {
    let model = Model::from_bytes(model_bytes).map_err(|e| ParityError::Run {
        target: "host".into(),
        detail: format!("model refused: {e}"),
    })?;
    let host = host_outputs(&model, vectors);
    let vector_bytes = vectors.to_bytes();
    let seal = match &options.seal {
        None => None,
        Some(input) => {
            let opened =
                lockstep_seal::open(&input.sealed, &input.key.public_key, input.key.min_version)
                    .map_err(ParityError::Seal)?;
            if opened.model != model_bytes {
                return Err(ParityError::Run {
                    target: "host".into(),
                    detail: "the sealed file holds another model than the one scored on the host"
                        .into(),
                });
            }
            Some(SealRecord {
                version: opened.version,
                key_id: hex(&opened.key_id),
                min_version: input.key.min_version,
                sealed_sha256: hex(&Sha256::digest(&input.sealed)),
                verified_on_device: false,
            })
        }
    };
    let blob = model_blob(
        options
            .seal
            .as_ref()
            .map_or(model_bytes, |s| s.sealed.as_slice()),
    );
    let host_hash = hex(&model.checksum());
    let codegen = !options.codegen.is_empty();
    if codegen && options.seal.is_some() {
        return Err(ParityError::Run {
            target: "host".into(),
            detail: "generated code carries no model bytes to seal; run a sealed model through \
                     the data path"
                .into(),
        });
    }
    let mut results = Vec::new();
    for target in targets {
        if !codegen && blob.len() > target.model_region_bytes as usize {
            return Err(ParityError::ModelTooLarge {
                target: target.name.into(),
                size: blob.len(),
                region: target.model_region_bytes,
            });
        }
        progress(&format!(
            "{}: building firmware ({})",
            target.name, target.triple
        ));
        let key = options.seal.as_ref().map(|s| &s.key);
        let elf = if codegen {
            qemu::build_codegen_firmware(&options.firmware_dir, target, &options.codegen)?
        } else {
            qemu::build_firmware(&options.firmware_dir, target, key)?
        };
        let dir = options.work_dir.join(target.name);
        std::fs::create_dir_all(&dir)?;
        if !codegen {
            crate::output::write_atomically(&dir.join(MODEL_BLOB_FILE), &blob)?;
        }
        crate::output::write_atomically(&dir.join(VECTORS_FILE), &vector_bytes)?;
        progress(&format!(
            "{}: running {} vectors in QEMU",
            target.name,
            vectors.n_rows()
        ));
        let run = if codegen {
            qemu::run_codegen_parity(
                &elf,
                &dir,
                target,
                &host_hash,
                options.corrupt_device_output,
            )?
        } else {
            qemu::run_parity(&elf, &dir, target, options.corrupt_device_output)?
        };
        if run.model_sha256 != host_hash {
            return Err(ParityError::HashMismatch {
                target: target.name.into(),
                device: run.model_sha256,
                host: host_hash,
            });
        }
        if let Some(expected) = &seal {
            let reported = run.seal.as_ref().map(|s| (s.version, s.key_id.as_str()));
            if reported != Some((expected.version, expected.key_id.as_str())) {
                return Err(ParityError::SealNotVerified {
                    target: target.name.into(),
                    detail: format!(
                        "expected version {} key id {}, got {reported:?}",
                        expected.version, expected.key_id
                    ),
                });
            }
        }
        let mut result = compare(
            target.name,
            &model,
            vectors,
            &host,
            &run.outputs,
            options.keep_mismatches,
        );
        result.firmware_sha256 = hex(&Sha256::digest(std::fs::read(&elf)?));
        result.device_model_sha256 = run.model_sha256;
        result.cost = DeviceCost {
            instructions_per_inference: run.instructions_per_inference,
            stack_peak_bytes: run.stack_peak_bytes,
            // Generated code holds the model in the firmware's code: no separate model bytes.
            model_flash_bytes: if codegen { 0 } else { model_bytes.len() },
            firmware_flash_bytes: qemu::flash_bytes(&elf).ok(),
            seal_verify_instructions: run.seal.as_ref().and_then(|s| s.verify_instructions),
        };
        results.push(result);
    }
    Ok(ParityRecord {
        lockstep_version: env!("CARGO_PKG_VERSION").into(),
        model_sha256: host_hash,
        vector_set_sha256: hex(&Sha256::digest(&vector_bytes)),
        n_vectors: vectors.n_rows(),
        qemu_version: qemu::version(),
        seal: seal.map(|s| SealRecord {
            verified_on_device: true,
            ..s
        }),
        targets: results,
    })
}

/// Hands `blobs` to `target`'s parity firmware built with `key`, in seal-check mode (as many
/// boots as the model region needs), and returns the device's verdict on each blob, in order.
/// A blob larger than the region on its own is an error.
pub fn seal_check(
    blobs: &[Vec<u8>],
    target: &Target,
    key: &qemu::FirmwareKey,
    firmware_dir: &Path,
    work_dir: &Path,
) -> Result<Vec<qemu::Verdict>, ParityError> {
    let elf = qemu::build_firmware(firmware_dir, target, Some(key))?;
    let dir = work_dir.join(target.name);
    std::fs::create_dir_all(&dir)?;
    // The region holds the batch's own length prefix, then one prefix and the bytes per blob.
    let capacity =
        (target.model_region_bytes as usize).saturating_sub(exchange::LENGTH_PREFIX_BYTES);
    let mut verdicts = Vec::with_capacity(blobs.len());
    let mut batch = Vec::new();
    let mut in_batch = 0;
    for (i, blob) in blobs.iter().enumerate() {
        let record = exchange::LENGTH_PREFIX_BYTES + blob.len();
        if record > capacity {
            return Err(ParityError::ModelTooLarge {
                target: target.name.into(),
                size: record,
                region: target.model_region_bytes,
            });
        }
        if batch.len() + record > capacity {
            verdicts.extend(qemu::run_seal_check(&elf, &dir, target, &batch, in_batch)?);
            batch.clear();
            in_batch = 0;
        }
        batch.extend_from_slice(&exchange::length_prefix(blob.len() as u32));
        batch.extend_from_slice(blob);
        in_batch += 1;
        if i + 1 == blobs.len() {
            verdicts.extend(qemu::run_seal_check(&elf, &dir, target, &batch, in_batch)?);
        }
    }
    Ok(verdicts)
}

/// Host outputs per row: margins then outputs, as f32 bits.
pub fn host_outputs(model: &Model<'_>, vectors: &VectorSet) -> Vec<u32> {
    let k = model.n_outputs();
    let mut out = Vec::with_capacity(vectors.n_rows() * 2 * k);
    let (mut margins, mut outputs) = (vec![0.0f32; k], vec![0.0f32; k]);
    for r in 0..vectors.n_rows() {
        // Vectors always have the model's feature count, so prediction cannot fail.
        if model
            .predict(vectors.row(r), &mut margins, &mut outputs)
            .is_err()
        {
            margins.fill(f32::NAN);
            outputs.fill(f32::NAN);
        }
        out.extend(margins.iter().chain(&outputs).map(|v| v.to_bits()));
    }
    out
}

/// Compares host and device values row by row.
pub fn compare(
    target: &str,
    model: &Model<'_>,
    vectors: &VectorSet,
    host: &[u32],
    device: &[u32],
    keep: usize,
) -> TargetResult {
    let k = model.n_outputs();
    let width = 2 * k;
    let rows = vectors.n_rows();
    let mut result = TargetResult {
        target: target.into(),
        rows,
        rows_bit_exact: 0,
        values: rows * width,
        mismatched_values: 0,
        first_mismatches: Vec::new(),
        firmware_sha256: String::new(),
        device_model_sha256: String::new(),
        cost: DeviceCost {
            instructions_per_inference: None,
            stack_peak_bytes: None,
            model_flash_bytes: 0,
            firmware_flash_bytes: None,
            seal_verify_instructions: None,
        },
    };
    for r in 0..rows {
        let mut row_ok = true;
        for i in 0..width {
            let h = host[r * width + i];
            let d = device.get(r * width + i).copied();
            if d != Some(h) {
                row_ok = false;
                result.mismatched_values += 1;
                if result.first_mismatches.len() < keep {
                    let name = if i < k {
                        format!("margin_{i}")
                    } else {
                        format!("output_{}", i - k)
                    };
                    result.first_mismatches.push(Mismatch {
                        row: r,
                        value: name,
                        host: format!("{h:08x}"),
                        device: d.map_or("missing".into(), |d| format!("{d:08x}")),
                        inputs: vectors
                            .row(r)
                            .iter()
                            .map(|v| format!("{:08x}", v.to_bits()))
                            .collect(),
                    });
                }
            }
        }
        if row_ok {
            result.rows_bit_exact += 1;
        }
    }
    result
}

/// The `firmware-demo` directory next to this crate, as built from the source tree.
pub fn default_firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-demo")
}

#[cfg(test)]
mod tests {
    //! The firmware files that cannot be generated from the target table agree with it.
    use super::*;

    fn firmware_file(path: &str) -> String {
        let path = default_firmware_dir().join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn cargo_runners_match_the_target_table() {
        let config: toml::Table = toml::from_str(&firmware_file(".cargo/config.toml")).unwrap();
        let runners = config["target"].as_table().unwrap();
        assert_eq!(runners.len(), TARGETS.len(), "one runner per target");
        for t in TARGETS {
            assert_eq!(
                runners[t.triple]["runner"].as_str(),
                Some(t.cargo_runner().to_string().as_str()),
                "{}",
                t.name
            );
        }
        let default = config["build"]["target"].as_str().unwrap();
        assert!(lockstep_protocol::targets::by_triple(default).is_some());
    }

    #[test]
    fn bedside_demo_script_starts_the_cortex_m4f_board() {
        let script = firmware_file("run-bedside-demo.sh");
        let t = target("cortex-m4f").unwrap();
        let machine: Vec<&str> = t.qemu_machine_args().collect();
        assert!(script.contains(&format!("target={}\n", t.triple)));
        assert!(script.contains(&format!("qemu-system-arm {} ", machine.join(" "))));
    }

    #[test]
    fn firmware_readme_table_matches_the_target_table() {
        let readme = firmware_file("README.md");
        let address = |a: u32| format!("0x{:04x}_{:04x}", a >> 16, a & 0xffff);
        let size = |n: u32| match n {
            n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
            n => format!("{} KiB", n >> 10),
        };
        for t in TARGETS {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| {} | `{}`", t.name, t.triple)))
                .unwrap_or_else(|| panic!("no README row for {}", t.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let machine: Vec<&str> = t.qemu_machine_args().collect();
            assert!(
                cells[3].starts_with(&format!("`{}`", machine.join(" "))),
                "{row}"
            );
            assert_eq!(
                cells[4..7],
                [
                    format!("{}, {}", address(t.flash_origin), size(t.flash_bytes)),
                    format!(
                        "{}, {}",
                        address(t.model_region),
                        size(t.model_region_bytes)
                    ),
                    format!("{}, {}", address(t.ram_origin), size(t.ram_bytes)),
                ],
                "{row}"
            );
        }
    }
}

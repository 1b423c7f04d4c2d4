//! `lockstep parity`: runs a model on the host and on emulated devices over the same vectors,
//! prints whether every output is bit-exact (and the device cost), and writes the record.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{inspect, output, parity};

/// What `lockstep parity` was asked to do.
pub struct ParityArgs {
    /// The compiled model (`.lsm`), or a sealed one (`.lss`, with `pubkey`).
    pub model: PathBuf,
    /// Target names (`parity::TARGETS`).
    pub targets: Vec<String>,
    /// Input rows (CSV) instead of generated vectors.
    pub vectors: Option<PathBuf>,
    /// Where to write the JSON record.
    pub record: Option<PathBuf>,
    /// Print the device cost table.
    pub cost: bool,
    /// Random rows added to the generated vectors.
    pub random_rows: usize,
    /// Seed of the random rows.
    pub seed: u64,
    /// Per-target work files (default: a fresh temporary directory, removed on success).
    pub work_dir: Option<PathBuf>,
    /// The firmware-demo directory (default: the one in this source tree).
    pub firmware_dir: Option<PathBuf>,
    /// Test-only: make the device flip one output bit.
    pub corrupt_device_output: bool,
    /// The public key of a sealed model (`.lss`); the firmware is built with it.
    pub pubkey: Option<PathBuf>,
    /// The oldest sealed version the firmware accepts (with `pubkey`; default 0).
    pub min_version: Option<u32>,
    /// Rust modules from `lockstep codegen` (one generated from this model): the devices run
    /// them instead of the engine on the model bytes.
    pub codegen: Vec<PathBuf>,
}

/// Runs the parity suite and prints its results; `Ok(false)` when some output differs.
pub fn run(args: ParityArgs) -> Result<bool> {
    let model_path = args.model.as_path();
    let target_names = &args.targets;
    if let Some(record) = &args.record {
        let mut given = vec![("--model", model_path)];
        if let Some(vectors) = &args.vectors {
            given.push(("--vectors", vectors.as_path()));
        }
        output::refuse_overwriting_inputs(&given, &[("--record", record.as_path())])
            .context("parity")?;
    }
    crate::limits::check(
        "--random-rows",
        args.random_rows,
        crate::limits::MAX_PARITY_RANDOM_ROWS,
    )
    .context("parity")?;
    let file_bytes = read_file("parity", model_path)?;
    let (bytes, seal) = open_seal(model_path, &file_bytes, &args)?;
    let model = load_model("parity", model_path, bytes)?;
    check_codegen_modules(model_path, &model, &args)?;
    let mut targets = Vec::new();
    for name in target_names {
        let names: Vec<&str> = parity::TARGETS.iter().map(|t| t.name).collect();
        let target = parity::target(name).with_context(|| {
            format!(
                "parity: unknown target '{name}'; choose from {}",
                names.join(", ")
            )
        })?;
        targets.push(target);
    }
    let vectors = match &args.vectors {
        Some(path) => parity::vectors::read_csv(&model, path)
            .with_context(|| format!("parity: reading vectors '{}'", shown_path(path)))?,
        None => parity::vectors::generate(
            &model,
            parity::vectors::GenerateOptions {
                random_rows: args.random_rows,
                seed: args.seed,
            },
        ),
    };
    let created_temp = args.work_dir.is_none();
    let work_dir = args.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("lockstep-parity-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work_dir).with_context(|| {
        format!(
            "parity: cannot create work directory '{}'",
            shown_path(&work_dir)
        )
    })?;
    let options = parity::ParityOptions {
        firmware_dir: args
            .firmware_dir
            .unwrap_or_else(parity::default_firmware_dir),
        work_dir: work_dir.clone(),
        corrupt_device_output: args.corrupt_device_output,
        keep_mismatches: 5,
        seal,
        codegen: args.codegen.clone(),
    };
    eprintln!(
        "parity: {} vectors, model sha256 {}",
        vectors.n_rows(),
        inspect::hex(&model.checksum())
    );
    if let Some(seal) = &options.seal {
        eprintln!(
            "parity: sealed model version {} (key id {}) opened on the host; the firmware is built \
             with that key and minimum version {}",
            lockstep_seal::header(&seal.sealed).map_or(0, |h| h.version),
            crate::keys::key_id_hex(&seal.key.public_key),
            seal.key.min_version
        );
    }
    let record = parity::run(bytes, &vectors, &targets, &options, |message| {
        eprintln!("parity: {message}")
    })
    .with_context(|| format!("parity: '{}'", shown_path(model_path)))?;
    for result in &record.targets {
        println!(
            "{}: {}/{} bit-exact",
            result.target, result.rows_bit_exact, result.rows
        );
        for m in &result.first_mismatches {
            println!(
                "  row {} {}: host {} device {} (inputs {})",
                m.row,
                m.value,
                m.host,
                m.device,
                m.inputs.join(",")
            );
        }
    }
    if args.cost {
        println!(
            "{:<12} {:>14} {:>12} {:>12} {:>15}",
            "target", "instr/infer", "stack peak", "model flash", "firmware flash"
        );
        for result in &record.targets {
            let c = &result.cost;
            println!(
                "{:<12} {:>14} {:>12} {:>12} {:>15}",
                result.target,
                c.instructions_per_inference
                    .map_or("n/a".into(), |v| format!("{v:.0}")),
                c.stack_peak_bytes
                    .map_or("n/a".into(), |v| format!("{v} B")),
                if args.codegen.is_empty() {
                    format!("{} B", c.model_flash_bytes)
                } else {
                    "in code".to_string()
                },
                c.firmware_flash_bytes
                    .map_or("n/a".into(), |v| format!("{v} B")),
            );
        }
    }
    if let Some(seal) = &record.seal {
        println!(
            "seal: version {} key id {} verified on every device before scoring",
            seal.version, seal.key_id
        );
        if args.cost {
            for result in &record.targets {
                if let Some(n) = result.cost.seal_verify_instructions {
                    println!(
                        "{}: seal verification {n} instructions ({} sealed bytes)",
                        result.target,
                        file_bytes.len()
                    );
                }
            }
        }
    }
    if let Some(path) = &args.record {
        let json = serde_json::to_string_pretty(&record).context("parity: encoding the record")?;
        output::write_atomically(path, (json + "\n").as_bytes()).context("parity")?;
    }
    let exact = record.all_exact();
    if created_temp && exact {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else if !exact {
        eprintln!("parity: work files kept in '{}'", shown_path(&work_dir));
    }
    Ok(exact)
}

/// With `--codegen`: refuses a sealed model, and a set of modules none of which was generated
/// from this model (the firmware would refuse it after a long build).
fn check_codegen_modules(
    model_path: &std::path::Path,
    model: &lockstep_engine::Model<'_>,
    args: &ParityArgs,
) -> Result<()> {
    if args.codegen.is_empty() {
        return Ok(());
    }
    if args.pubkey.is_some() {
        anyhow::bail!(
            "parity: --codegen and --pubkey do not go together: generated code has no model \
             bytes to verify; check the sealed model without --codegen"
        );
    }
    let sha = inspect::hex(&model.checksum());
    let mut found = false;
    for module in &args.codegen {
        let code = read_file("parity: --codegen", module)?;
        let declared = crate::codegen::declared_model_sha256(&String::from_utf8_lossy(&code));
        if declared.is_none() {
            anyhow::bail!(
                "parity: --codegen '{}' is not a module `lockstep codegen` wrote (no \
                 MODEL_SHA256_HEX); generate it with `lockstep codegen MODEL.lsm -o OUT.rs`",
                shown_path(module)
            );
        }
        found |= declared.as_deref() == Some(sha.as_str());
    }
    if !found {
        anyhow::bail!(
            "parity: no --codegen module was generated from '{}' (sha256 {sha}); regenerate one \
             with `lockstep codegen {} -o model.rs`",
            shown_path(model_path),
            shown_path(model_path)
        );
    }
    Ok(())
}

/// The model bytes to score and, for a sealed model, what the devices get: opens the seal on
/// the host with `--pubkey` and `--min-version` (refusing what the devices would refuse), or
/// passes an unsigned model through.
fn open_seal<'a>(
    model_path: &std::path::Path,
    bytes: &'a [u8],
    args: &ParityArgs,
) -> Result<(&'a [u8], Option<parity::SealedInput>)> {
    let sealed = lockstep_seal::is_sealed(bytes);
    let Some(pubkey) = &args.pubkey else {
        if sealed {
            anyhow::bail!(
                "parity: '{}' is a sealed model (.lss); pass --pubkey K.pub (the public key it \
                 was sealed with) so the firmware is built to verify it",
                shown_path(model_path)
            );
        }
        if args.min_version.is_some() {
            anyhow::bail!("parity: --min-version needs --pubkey (it applies to sealed models)");
        }
        return Ok((bytes, None));
    };
    if !sealed {
        anyhow::bail!(
            "parity: --pubkey was given but '{}' is not a sealed model (no LSSM header); \
             seal it first, or drop --pubkey to run an unsigned model",
            shown_path(model_path)
        );
    }
    let public_key = crate::keys::read_public(pubkey).context("parity: --pubkey")?;
    let min_version = args.min_version.unwrap_or(0);
    let opened = lockstep_seal::open(bytes, &public_key, min_version).map_err(|e| {
        anyhow::anyhow!(
            "parity: the sealed model '{}' does not open with --pubkey '{}' and minimum version \
             {min_version}: {e}",
            shown_path(model_path),
            shown_path(pubkey)
        )
    })?;
    let key = parity::qemu::FirmwareKey {
        public_key,
        min_version,
    };
    Ok((
        opened.model,
        Some(parity::SealedInput {
            sealed: bytes.to_vec(),
            key,
        }),
    ))
}

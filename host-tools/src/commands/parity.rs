//! `lockstep parity`: runs a model on the host and on emulated devices over the same vectors,
//! prints whether every output is bit-exact (and the device cost), and writes the record.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{inspect, output, parity};

/// What `lockstep parity` was asked to do.
pub struct ParityArgs {
    /// The compiled model.
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
    let bytes = read_file("parity", model_path)?;
    let model = load_model("parity", model_path, &bytes)?;
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
    };
    eprintln!(
        "parity: {} vectors, model sha256 {}",
        vectors.n_rows(),
        inspect::hex(&model.checksum())
    );
    let record = parity::run(&bytes, &vectors, &targets, &options, |message| {
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
                format!("{} B", c.model_flash_bytes),
                c.firmware_flash_bytes
                    .map_or("n/a".into(), |v| format!("{v} B")),
            );
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

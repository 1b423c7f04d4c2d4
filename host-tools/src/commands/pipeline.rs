//! `lockstep pipeline run` and `lockstep pipeline resolve`: drive [`crate::pipeline`], print a
//! progress line per stage and the summary (or the run record as JSON with `--json`).

use std::path::Path;

use anyhow::{Context, Result};

use crate::pipeline::{self, Ending, ResolveAction};
use crate::text::{shown, shown_path};

/// Runs (or continues, or reproduces) the pipeline of `file`; returns how it ended.
pub fn run(file: &Path, out: Option<&Path>, json: bool) -> Result<Ending> {
    let result = pipeline::run(file, out, |p| {
        let outcome = p.outcome.map(|o| format!(" {o}")).unwrap_or_default();
        if p.seconds > 0.0 {
            eprintln!("{}{outcome}: {} ({:.2} s)", p.stage, p.what, p.seconds);
        } else {
            eprintln!("{}{outcome}: {}", p.stage, p.what);
        }
    })
    .with_context(|| format!("pipeline run '{}'", shown_path(file)))?;
    if let Some(dir) = &result.generated_demo_key {
        eprintln!(
            "keys: generated a DEMO signing key pair in '{}' (see KEYS-README.txt: real keys live off this machine)",
            shown_path(dir)
        );
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result.record).context("pipeline: encoding JSON")?
        );
    } else {
        for o in &result.record.outcomes {
            println!(
                "{:<14} v{:<3} validation {:<11} parity {:<8} {}  {}",
                shown(&o.outcome).to_string(),
                o.version,
                o.validation,
                o.parity,
                o.bundle,
                o.promotion
            );
        }
        println!(
            "run {} in '{}': {}",
            result.record.run_id,
            shown_path(&result.run_dir),
            match (result.ending, result.reproduced) {
                (_, Some(n)) => format!("reproduced, {n} bundles byte-identical"),
                (Ending::Completed, None) => "completed".into(),
                (Ending::Rejected, None) =>
                    "rejected: some candidate failed its plan; nothing promoted (exit 4)".into(),
                (Ending::Halted, None) => format!(
                    "halted by the data check (exit 5): see check.json; resolve with `lockstep pipeline resolve '{}' --by NAME --note TEXT (--data CORRECTED.csv | --accept-anomalies)`",
                    shown_path(&result.run_dir)
                ),
            }
        );
    }
    Ok(result.ending)
}

/// Records how a halted run was resolved.
pub fn resolve(run_dir: &Path, by: &str, note: &str, action: &ResolveAction) -> Result<()> {
    let resolution = pipeline::resolve(run_dir, by, note, action)
        .with_context(|| format!("pipeline resolve '{}'", shown_path(run_dir)))?;
    eprintln!(
        "resolved by {} ({}): {}; run `lockstep pipeline run PIPELINE.toml` again to continue the run",
        shown(&resolution.by),
        resolution.action.replace('_', " "),
        shown(&resolution.note)
    );
    Ok(())
}

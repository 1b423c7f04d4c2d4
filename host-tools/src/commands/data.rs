//! `lockstep data check`: checks a data file against its schema (and a reference summary),
//! prints every anomaly and the distribution-change table, and writes the JSON report and the
//! data's summary (together, atomically) when asked.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::check;
use crate::data;
use crate::output::{self, OutputSet};
use crate::text::shown_path;

/// The files `data check` reads and writes.
pub struct CheckArgs {
    /// The data.
    pub data: PathBuf,
    /// Its schema.
    pub schema: PathBuf,
    /// A training record or a summary to measure distribution change against.
    pub reference: Option<PathBuf>,
    /// Where to write the JSON report.
    pub json: Option<PathBuf>,
    /// Where to write the checked data's summary (only when the check is clean).
    pub summary_out: Option<PathBuf>,
}

/// Runs the check; returns whether the data is clean (no anomaly, no flagged change).
pub fn check(args: &CheckArgs) -> Result<bool> {
    let mut inputs = vec![
        ("--schema", args.schema.as_path()),
        ("the data", args.data.as_path()),
    ];
    if let Some(reference) = &args.reference {
        inputs.push(("--reference", reference.as_path()));
    }
    let mut outputs = Vec::new();
    if let Some(json) = &args.json {
        outputs.push(("--json", json.as_path()));
    }
    if let Some(summary) = &args.summary_out {
        outputs.push(("--summary-out", summary.as_path()));
    }
    output::refuse_overwriting_inputs(&inputs, &outputs).context("data check")?;
    if let (Some(json), Some(summary)) = (&args.json, &args.summary_out) {
        output::refuse_overwriting_inputs(&[("--json", json)], &[("--summary-out", summary)])
            .context("data check")?;
    }
    let (schema, schema_sha256) = data::load_schema_hashed(&args.schema).context("data check")?;
    let bytes = super::read_file("data check", &args.data)?;
    let reference = match &args.reference {
        Some(path) => {
            let bytes = super::read_file("data check", path)?;
            Some(check::parse_reference(&bytes, path).context("data check")?)
        }
        None => None,
    };
    let run = check::check(
        &bytes,
        &args.data,
        &schema,
        &schema_sha256,
        reference.as_ref(),
    )
    .with_context(|| format!("data check: '{}'", shown_path(&args.data)))?;
    let report = &run.report;
    let mut set = OutputSet::new();
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(report).context("data check: report")? + "\n";
        set.bytes(json, text.as_bytes()).context("data check")?;
    }
    let summary_written = match &args.summary_out {
        Some(path) if report.clean => {
            let text =
                serde_json::to_string_pretty(&run.summary).context("data check: summary")? + "\n";
            set.bytes(path, text.as_bytes()).context("data check")?;
            true
        }
        _ => false,
    };
    set.commit().context("data check")?;
    print!("{}", check::render_text(report));
    if let Some(path) = &args.summary_out {
        match summary_written {
            true => eprintln!("summary written to '{}'", shown_path(path)),
            false => eprintln!(
                "summary not written to '{}': the data has anomalies (only clean data becomes a reference)",
                shown_path(path)
            ),
        }
    }
    Ok(report.clean)
}

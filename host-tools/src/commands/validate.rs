//! `lockstep validate`: validates a model on held-out data, writes report.json and
//! report.html (together, atomically), and prints the headline metrics and the plan's verdict.

use std::path::Path;

use anyhow::{Context, Result};

use crate::output::{self, OutputSet};
use crate::text::{shown, shown_path};
use crate::validate;

/// Runs validation and writes the report; returns whether the candidate is accepted (true
/// when the plan declares no criteria).
pub fn run(inputs: &validate::ValidateInputs, output: &Path, quiet: bool) -> Result<bool> {
    let json_path = output.join("report.json");
    let html_path = output.join("report.html");
    let mut given = vec![
        ("--model", inputs.model.as_path()),
        ("--data", inputs.data.as_path()),
        ("--schema", inputs.schema.as_path()),
    ];
    for (role, path) in [
        ("--baseline", &inputs.baseline),
        ("--plan", &inputs.plan),
        ("--training-record", &inputs.training_record),
    ] {
        if let Some(path) = path {
            given.push((role, path.as_path()));
        }
    }
    output::refuse_overwriting_inputs(
        &given,
        &[("report.json", &json_path), ("report.html", &html_path)],
    )
    .context("validate")?;
    let run = validate::validate(inputs, |step| {
        if !quiet {
            eprintln!("validate: {step}");
        }
    })
    .with_context(|| {
        format!(
            "validate: model '{}' on '{}'",
            shown_path(&inputs.model),
            shown_path(&inputs.data)
        )
    })?;
    output::create_directory(output).context("validate")?;
    // report.json and report.html appear together: never one run's JSON next to another's HTML.
    let mut set = OutputSet::new();
    set.bytes(&json_path, run.json.as_bytes())
        .context("validate")?;
    set.bytes(&html_path, run.html.as_bytes())
        .context("validate")?;
    set.commit().context("validate")?;
    let r = &run.report;
    let auc = &r.candidate.metrics.auc;
    eprintln!(
        "validated {} on {} rows ({} events): AUC {:.4}{}, report in '{}'",
        shown(&r.target),
        r.counts.rows,
        r.counts.events,
        auc.auc,
        auc.ci.map_or(String::new(), |ci| format!(
            " ({:.4} to {:.4})",
            ci.lower, ci.upper
        )),
        shown_path(output)
    );
    if let Some(c) = &r.comparison {
        eprintln!(
            "versus baseline: delta AUC {:+.4}{}",
            c.auc.difference,
            c.auc.ci.map_or(String::new(), |ci| format!(
                " ({:+.4} to {:+.4})",
                ci.lower, ci.upper
            ))
        );
    }
    Ok(match &r.verdict {
        Some(v) => {
            for c in &v.criteria {
                let value = match &c.reason {
                    Some(reason) => reason.clone(),
                    None => format!("value {:.4}", c.value),
                };
                eprintln!(
                    "  {} {} ({value})",
                    if c.passed { "pass" } else { "FAIL" },
                    c.rule,
                );
            }
            eprintln!(
                "verdict: {}",
                if v.accepted {
                    "ACCEPTED"
                } else {
                    "REJECTED (exit code 4)"
                }
            );
            v.accepted
        }
        None => {
            eprintln!("verdict: none (the plan declares no acceptance criteria)");
            true
        }
    })
}

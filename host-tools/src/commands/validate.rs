//! `lockstep validate`: validates a model on held-out data, writes report.json and
//! report.html, and prints the headline metrics and the plan's verdict.

use std::path::Path;

use anyhow::{Context, Result};

use crate::validate;

/// Runs validation and writes the report; returns whether the candidate is accepted (true
/// when the plan declares no criteria).
pub fn run(inputs: &validate::ValidateInputs, output: &Path, quiet: bool) -> Result<bool> {
    let run = validate::validate(inputs, |step| {
        if !quiet {
            eprintln!("validate: {step}");
        }
    })
    .with_context(|| {
        format!(
            "validate: model '{}' on '{}'",
            inputs.model.display(),
            inputs.data.display()
        )
    })?;
    std::fs::create_dir_all(output).with_context(|| {
        format!(
            "validate: cannot create the report directory '{}'",
            output.display()
        )
    })?;
    for (name, text) in [("report.json", &run.json), ("report.html", &run.html)] {
        let path = output.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("validate: cannot write '{}'", path.display()))?;
    }
    let r = &run.report;
    let auc = &r.candidate.metrics.auc;
    eprintln!(
        "validated {} on {} rows ({} events): AUC {:.4}{}, report in '{}'",
        r.target,
        r.counts.rows,
        r.counts.events,
        auc.auc,
        auc.ci.map_or(String::new(), |ci| format!(
            " ({:.4} to {:.4})",
            ci.lower, ci.upper
        )),
        output.display()
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
                eprintln!(
                    "  {} {} (value {:.4})",
                    if c.passed { "pass" } else { "FAIL" },
                    c.rule,
                    c.value
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

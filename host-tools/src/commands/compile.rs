//! `lockstep compile`: a source model file in, a Lockstep model file out, and a one-line
//! summary of what was written.

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::{compile, inspect};

/// Compiles `model` into `output`, replacing the model's label with `label` if given.
pub fn run(model: &Path, output: &Path, label: Option<String>) -> Result<()> {
    let source = read_file("compile", model)?;
    let mut compiled = compile::compile(&source)
        .with_context(|| format!("compile: cannot compile '{}'", model.display()))?;
    if let Some(label) = label {
        compiled.spec.label = label;
        compiled.bytes = compiled
            .spec
            .to_bytes()
            .context("compile: re-encoding with the new label")?;
    }
    std::fs::write(output, &compiled.bytes).with_context(|| {
        format!(
            "compile: cannot write '{}'; check the directory exists",
            output.display()
        )
    })?;
    let loaded = load_model("compile", output, &compiled.bytes)?;
    let summary = inspect::summarize(&loaded, compiled.bytes.len());
    eprintln!(
        "compiled {} '{}' -> '{}': {} trees, {} nodes, {} features, {} outputs, {} bytes, sha256 {}",
        compiled.format.name(),
        model.display(),
        output.display(),
        summary.n_trees,
        summary.n_nodes,
        summary.n_features,
        summary.n_outputs,
        summary.file_bytes,
        summary.sha256
    );
    Ok(())
}

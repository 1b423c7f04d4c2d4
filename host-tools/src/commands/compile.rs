//! `lockstep compile`: a source model file in, a Lockstep model file out (written atomically),
//! and a one-line summary of what was written.

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{compile, inspect, output};

/// Compiles `model` into `output`, replacing the model's label with `label` if given.
pub fn run(model: &Path, output: &Path, label: Option<String>) -> Result<()> {
    output::refuse_overwriting_inputs(&[("the source model", model)], &[("-o", output)])
        .context("compile")?;
    let source = read_file("compile", model)?;
    let mut compiled = compile::compile(&source)
        .with_context(|| format!("compile: cannot compile '{}'", shown_path(model)))?;
    if let Some(label) = label {
        compiled.spec.label = label;
        compiled.bytes = compiled
            .spec
            .to_bytes()
            .context("compile: re-encoding with the new label")?;
    }
    // Loaded back before anything is written: an existing output is replaced only by bytes
    // the engine accepts.
    let loaded = load_model("compile", output, &compiled.bytes)?;
    output::write_atomically(output, &compiled.bytes).context("compile")?;
    let summary = inspect::summarize(&loaded, compiled.bytes.len());
    eprintln!(
        "compiled {} '{}' -> '{}': {} trees, {} nodes, {} features, {} outputs, {} bytes, sha256 {}",
        compiled.format.name(),
        shown_path(model),
        shown_path(output),
        summary.n_trees,
        summary.n_nodes,
        summary.n_features,
        summary.n_outputs,
        summary.file_bytes,
        summary.sha256
    );
    Ok(())
}

//! `lockstep compile`: a source model file in, a Lockstep model file out (written atomically),
//! and a one-line summary of what was written.

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{compile, inspect, output};
use lockstep_engine::format;

/// Compiles `model` into `output` in format `version`, replacing the model's label with `label`
/// if given.
pub fn run(model: &Path, output: &Path, label: Option<String>, version: u16) -> Result<()> {
    output::refuse_overwriting_inputs(&[("the source model", model)], &[("-o", output)])
        .context("compile")?;
    let source = read_file("compile", model)?;
    let mut compiled = compile::compile(&source)
        .with_context(|| format!("compile: cannot compile '{}'", shown_path(model)))?;
    let relabelled = label.is_some();
    if let Some(label) = label {
        compiled.spec.label = label;
    }
    if relabelled || version != format::FORMAT_VERSION {
        compiled.bytes = compiled
            .spec
            .to_bytes_with_version(version)
            .with_context(|| {
                format!(
                    "compile: cannot write '{}' in format version {version}{}",
                    shown_path(model),
                    if version == 2 {
                        " (version 2 holds at most 256 features, 256 split values per feature \
                         and 256 leaves per tree; use --format-version 1)"
                    } else {
                        ""
                    }
                )
            })?;
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

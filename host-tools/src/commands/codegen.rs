//! `lockstep codegen`: a compiled model in, a Rust module that computes the same bits out
//! (written atomically), and a one-line summary.

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::text::shown_path;
use crate::{codegen, inspect, output};

/// Generates the Rust module for `model` into `output`.
pub fn run(model: &Path, output: &Path) -> Result<()> {
    output::refuse_overwriting_inputs(&[("the model", model)], &[("-o", output)])
        .context("codegen")?;
    let bytes = read_file("codegen", model)?;
    if lockstep_seal::is_sealed(&bytes) {
        anyhow::bail!(
            "codegen: '{}' is a sealed model (.lss); generate code from the unsigned .lsm it was \
             sealed from (generated code carries no signature: the firmware image is what ships)",
            shown_path(model)
        );
    }
    let loaded = load_model("codegen", model, &bytes)?;
    let name = |path: &Path| {
        path.file_name()
            .map_or_else(|| shown_path(path), |n| shown_path(Path::new(n)))
    };
    let options = codegen::CodegenOptions {
        command: format!("lockstep codegen {} -o {}", name(model), name(output)),
        ..codegen::CodegenOptions::default()
    };
    let code = codegen::generate(&loaded, &options).with_context(|| {
        format!(
            "codegen: cannot generate code for '{}' (sha256 {})",
            shown_path(model),
            inspect::hex(&loaded.checksum())
        )
    })?;
    output::write_atomically(output, code.as_bytes()).context("codegen")?;
    eprintln!(
        "generated '{}' from '{}': {} trees, {} features, {} outputs, {} bytes of Rust, model sha256 {}",
        shown_path(output),
        shown_path(model),
        loaded.n_trees(),
        loaded.n_features(),
        loaded.n_outputs(),
        code.len(),
        inspect::hex(&loaded.checksum())
    );
    Ok(())
}

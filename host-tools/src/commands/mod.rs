//! The work of each `lockstep` subcommand, one file per command: read the files it names, call
//! the library, write its outputs and print its summary. Every failure carries `anyhow` context
//! naming the step and the file, and what to do about it.
//!
//! `main.rs` only parses the arguments, calls one `run` here and turns its result into an exit
//! code. The algorithms live in the library modules these call (`compile`, `predict`,
//! `inspect`, `parity`, `synth`, `train`, `validate`, `check`); nothing here computes a model or a score.

use std::path::Path;

use anyhow::{Context, Result};
use lockstep_engine::Model;

use crate::output;
use crate::text::shown_path;

pub mod bundle;
pub mod codegen;
pub mod compile;
pub mod data;
pub mod history;
pub mod inspect;
pub mod keygen;
pub mod parity;
pub mod pipeline;
pub mod predict;
pub mod promote;
pub mod sign;
pub mod synth;
pub mod train;
pub mod validate;

/// Reads a whole input file; the error names the step, the operation and the path.
fn read_file(step: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{step}: {}", output::read_error(path, &e)))
}

/// Loads model bytes read from `path` through the engine, exactly as a device would.
fn load_model<'a>(step: &str, path: &Path, bytes: &'a [u8]) -> Result<Model<'a>> {
    Model::from_bytes(bytes).with_context(|| {
        format!(
            "{step}: '{}' is not a valid lockstep model; compile it with `lockstep compile`",
            shown_path(path)
        )
    })
}

//! `lockstep inspect`: prints a compiled model's summary as text or JSON.

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_model, read_file};
use crate::inspect;

/// Prints the summary of the model in `model_path` (JSON if `json`).
pub fn run(model_path: &Path, json: bool) -> Result<()> {
    let file = read_file("inspect", model_path)?;
    // A sealed model (.lss): its seal on standard error, then the model inside is described.
    let bytes = match lockstep_seal::header(&file) {
        Ok(seal) => {
            eprintln!(
                "sealed model: version {}, key id {} (signature not checked here)",
                seal.version,
                inspect::hex(&seal.key_id)
            );
            let end = lockstep_seal::HEADER_LEN + seal.model_len as usize;
            &file[lockstep_seal::HEADER_LEN..end]
        }
        Err(_) => &file[..],
    };
    let model = load_model("inspect", model_path, bytes)?;
    let summary = inspect::summarize(&model, bytes.len());
    if json {
        // serde_json escapes only C0 controls; feature names and the label may hold others.
        let json = serde_json::to_string_pretty(&summary).context("inspect: encoding JSON")?;
        println!("{}", crate::text::json_escaped(&json));
    } else {
        print!("{}", inspect::render_text(&summary));
    }
    Ok(())
}

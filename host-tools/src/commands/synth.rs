//! `lockstep synth`: writes a seeded synthetic cohort and its schema, and prints the event
//! rates.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::synth;

/// Writes the arthroplasty cohort of `rows` patients drawn with `seed` to `output`, and its
/// schema next to it.
pub fn run(rows: usize, seed: u64, output: &Path) -> Result<()> {
    let cohort = synth::arthroplasty(rows, seed);
    let file = File::create(output).with_context(|| {
        format!(
            "synth: cannot create '{}'; check the directory exists",
            output.display()
        )
    })?;
    let mut writer = BufWriter::new(file);
    synth::write_csv(&cohort, &mut writer)
        .and_then(|()| writer.flush())
        .with_context(|| format!("synth: writing '{}'", output.display()))?;
    let schema = output.with_extension("schema.toml");
    std::fs::write(&schema, synth::schema_toml())
        .with_context(|| format!("synth: cannot write '{}'", schema.display()))?;
    let rates = cohort.event_rates();
    eprintln!(
        "wrote {rows} patients (seed {seed}) to '{}' and its schema to '{}'; event rates: {}",
        output.display(),
        schema.display(),
        synth::OUTCOMES
            .iter()
            .zip(rates)
            .map(|(name, rate)| format!("{name} {:.2}%", 100.0 * rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

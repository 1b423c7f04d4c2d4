//! `lockstep synth`: writes a seeded synthetic cohort and its schema (together, atomically),
//! and prints the event rates.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::output::OutputSet;
use crate::synth;
use crate::text::shown_path;

/// Writes the arthroplasty cohort of `rows` patients drawn with `seed` to `output`, and its
/// schema next to it.
pub fn run(rows: usize, seed: u64, output: &Path) -> Result<()> {
    crate::limits::check("--rows", rows, crate::limits::MAX_SYNTH_ROWS).context("synth")?;
    let cohort = synth::arthroplasty(rows, seed);
    let schema = output.with_extension("schema.toml");
    let mut set = OutputSet::new();
    let writer = set.file(output).context("synth")?;
    synth::write_csv(&cohort, &mut *writer)
        .and_then(|()| writer.flush())
        .map_err(|e| OutputSet::write_error(output, e))
        .context("synth")?;
    set.bytes(&schema, synth::schema_toml().as_bytes())
        .context("synth")?;
    set.commit().context("synth")?;
    let rates = cohort.event_rates();
    eprintln!(
        "wrote {rows} patients (seed {seed}) to '{}' and its schema to '{}'; event rates: {}",
        shown_path(output),
        shown_path(&schema),
        synth::OUTCOMES
            .iter()
            .zip(rates)
            .map(|(name, rate)| format!("{name} {:.2}%", 100.0 * rate))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

//! `lockstep history`: which model was accepted for each outcome, now or at a past time, from a
//! registry whose hash chain is checked first (a broken chain answers nothing).

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::registry::{self, Entry, Registry};
use crate::text::{shown, shown_path};

/// What `history --json` prints.
#[derive(Serialize)]
struct HistoryJson<'a> {
    registry: String,
    entries: usize,
    head_seq: u64,
    head_sha256: String,
    chain_verified: bool,
    at: Option<&'a str>,
    accepted: Vec<&'a Entry>,
    log: Option<&'a [Entry]>,
}

/// Prints the accepted model per outcome at `at` (now if `None`); `log`: every entry too;
/// `verify_only`: just check the chain and print its head.
pub fn run(
    registry_dir: &Path,
    at: Option<&str>,
    log: bool,
    verify_only: bool,
    json: bool,
) -> Result<()> {
    let at = match at {
        Some(text) => Some(registry::parse_time(text).ok_or_else(|| {
            anyhow::anyhow!(
                "history: --at {}: give a date YYYY-MM-DD (the end of that day) or a time YYYY-MM-DDTHH:MM:SSZ, UTC",
                shown(text)
            )
        })?),
        None => None,
    };
    if !registry_dir.is_dir() {
        anyhow::bail!(
            "history: no registry at {}: check the path (a registry is made by the first `lockstep promote`)",
            shown_path(registry_dir)
        );
    }
    let reg = Registry::new(registry_dir);
    let state = reg.load().context("history")?;
    let (seq, head) = state.head();
    let accepted = state.accepted_at(at.as_deref());
    if json {
        let out = HistoryJson {
            registry: shown_path(registry_dir),
            entries: state.entries.len(),
            head_seq: seq,
            head_sha256: head,
            chain_verified: true,
            at: at.as_deref(),
            accepted: accepted.values().collect(),
            log: log.then_some(state.entries.as_slice()),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).context("history: encoding JSON")?
        );
        return Ok(());
    }
    println!(
        "registry {}: {} entries, hash chain verified, head {seq} {head}",
        shown_path(registry_dir),
        state.entries.len()
    );
    if verify_only {
        return Ok(());
    }
    if log {
        println!("log:");
        for entry in &state.entries {
            println!("  #{:<3} {entry}", entry.seq);
        }
    }
    match &at {
        Some(at) => println!("accepted at {at}:"),
        None => println!("accepted now:"),
    }
    if accepted.is_empty() {
        println!("  (no model was accepted for any outcome by then)");
    }
    for entry in accepted.values() {
        println!(
            "  {:<14} v{:<3} bundle {}  model {}  since {} by {}: {}",
            shown(&entry.outcome).to_string(),
            entry.version,
            shown(&entry.bundle),
            entry.model_sha256,
            entry.time,
            shown(&entry.by),
            shown(&entry.reason)
        );
    }
    Ok(())
}

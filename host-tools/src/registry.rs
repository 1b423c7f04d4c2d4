//! The registry of accepted models: which signed bundle is the accepted one for each outcome,
//! since when, who accepted it and why, in an append-only, hash-chained log.
//!
//! A registry is a folder:
//!
//! ```text
//! registry.log     one JSON object per line, one line per promotion, oldest first
//! registry.head    the last entry's sequence number and hash ("<seq> <sha256>")
//! trusted.pub      the public key every promoted bundle must verify with (set by the first
//!                  promotion)
//! bundles/NAME/    a verified copy of each promoted bundle (NAME = <outcome>-v<version>)
//! ```
//!
//! Each entry holds the SHA-256 of the entry before it (`prev`, 64 zeros for the first) and its
//! own hash over every other field, so a changed, removed, inserted or reordered entry breaks the
//! chain, and `registry.head` catches a removed last entry. (An editor who rewrites the log and
//! the head together from the changed entry on is caught only against a head recorded elsewhere:
//! every promotion prints the new head, and a pipeline run records it.) Entries are appended by
//! rewriting the log atomically after the existing chain has verified, so a failed promotion
//! leaves the registry exactly as it was.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::keys::{self, KeyError, PublicKey};
use crate::output::{self, OutputError, OutputSet};
use crate::text::{shown, shown_path};

/// The log file's name in a registry folder.
pub const LOG: &str = "registry.log";
/// The head file's name.
pub const HEAD: &str = "registry.head";
/// The trusted public key's file name.
pub const TRUSTED_KEY: &str = "trusted.pub";
/// The folder of promoted bundles.
pub const BUNDLES: &str = "bundles";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a promotion records about the bundle (read from its verified manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFacts {
    /// The outcome the model predicts.
    pub outcome: String,
    /// The model's anti-rollback version.
    pub version: u32,
    /// SHA-256 of the bundle's manifest.json.
    pub manifest_sha256: String,
    /// SHA-256 of the model bytes.
    pub model_sha256: String,
    /// The signing key's id.
    pub key_id: String,
}

/// One promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 1 for the first entry, then one more each.
    pub seq: u64,
    /// When, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// The outcome.
    pub outcome: String,
    /// The model version.
    pub version: u32,
    /// The bundle's folder under `bundles/`.
    pub bundle: String,
    /// SHA-256 of the bundle's manifest.json.
    pub manifest_sha256: String,
    /// SHA-256 of the model bytes.
    pub model_sha256: String,
    /// The signing key's id.
    pub key_id: String,
    /// Who accepted it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// The previous entry's hash (64 zeros for the first).
    pub prev: String,
    /// SHA-256 of this entry's other fields (see [`Entry::compute_hash`]).
    pub hash: String,
}

impl Entry {
    /// SHA-256 (hex) of the entry's JSON with `hash` left empty: fields in declaration order.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_string(&unhashed).unwrap_or_default();
        crate::bundle::sha256_hex(json.as_bytes())
    }
}

/// Why a registry operation failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A registry file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file, as shown.
        path: String,
        /// The cause in words.
        cause: String,
    },
    /// The log is not a valid chain: changed, removed, inserted or reordered entries.
    #[error("the registry log {path} is broken at line {line}: {reason}; it has been changed since it was written: restore it from a backup")]
    Broken {
        /// The log file, as shown.
        path: String,
        /// The first bad line (1-based; one past the end for a missing entry).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The bundle's version is not newer than the accepted one (anti-rollback).
    #[error("version {version} of {outcome} is not newer than the accepted version {accepted}; a promotion must raise the version")]
    NotNewer {
        /// The outcome.
        outcome: String,
        /// The bundle's version.
        version: u32,
        /// The accepted version.
        accepted: u32,
    },
    /// The first promotion needs the public key that the registry will trust.
    #[error("the registry {path} has no trusted key yet: pass --pubkey with the first promotion")]
    NoTrustedKey {
        /// The registry, as shown.
        path: String,
    },
    /// A key given does not match the registry's trusted key.
    #[error("the key given is not the registry's trusted key ({trusted}); bundles for this registry must be signed with that key")]
    KeyMismatch {
        /// The trusted key's id.
        trusted: String,
    },
    /// A bundle folder of the same name with other content is already in the registry.
    #[error("the registry already holds a different bundle {name}; it was promoted before or left by a failed promotion: inspect it")]
    BundleExists {
        /// The folder name.
        name: String,
    },
    /// `--by` or `--reason` is empty.
    #[error("--{0} must not be empty: a promotion records who accepted the model and why")]
    Empty(&'static str),
    /// A date could not be read.
    #[error("cannot read the date {0}: give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")]
    BadDate(String),
    /// Copying the bundle failed.
    #[error("cannot copy the bundle into the registry ({path}): {cause}")]
    Copy {
        /// The file being copied, as shown.
        path: String,
        /// The cause.
        cause: String,
    },
    /// A key file problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A registry file could not be written.
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// A registry folder.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

/// The state of a verified registry.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Every entry, oldest first.
    pub entries: Vec<Entry>,
    /// The registry's trusted key, if set.
    pub trusted: Option<PublicKey>,
}

impl Log {
    /// The entry accepted for each outcome at `at` (`None`: now), by outcome name.
    pub fn accepted_at(&self, at: Option<&str>) -> BTreeMap<String, Entry> {
        let mut accepted = BTreeMap::new();
        for entry in &self.entries {
            if at.is_none_or(|at| entry.time.as_str() <= at) {
                accepted.insert(entry.outcome.clone(), entry.clone());
            }
        }
        accepted
    }

    /// The hash of the last entry (64 zeros for an empty log).
    pub fn head(&self) -> (u64, String) {
        self.entries
            .last()
            .map_or((0, GENESIS.to_string()), |e| (e.seq, e.hash.clone()))
    }
}

impl Registry {
    /// The registry in `dir` (which need not exist yet).
    pub fn new(dir: &Path) -> Self {
        Registry {
            dir: dir.to_path_buf(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a promoted bundle is kept.
    pub fn bundle_dir(&self, entry: &Entry) -> PathBuf {
        self.dir.join(BUNDLES).join(&entry.bundle)
    }

    /// Reads the log and checks the chain, the head and the times. A missing registry is an
    /// empty one.
    pub fn load(&self) -> Result<Log, RegistryError> {
        let log_path = self.dir.join(LOG);
        let head_path = self.dir.join(HEAD);
        let trusted_path = self.dir.join(TRUSTED_KEY);
        let trusted = if trusted_path.exists() {
            Some(keys::read_public(&trusted_path)?)
        } else {
            None
        };
        let text = match fs::read(&log_path) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| RegistryError::Broken {
                path: shown_path(&log_path),
                line: 1,
                reason: "the log is not UTF-8 text".into(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if head_path.exists() {
                    return Err(RegistryError::Broken {
                        path: shown_path(&log_path),
                        line: 1,
                        reason: "the log is missing but its head file is there".into(),
                    });
                }
                return Ok(Log {
                    entries: Vec::new(),
                    trusted,
                });
            }
            Err(e) => {
                return Err(RegistryError::Read {
                    path: shown_path(&log_path),
                    cause: output::describe_read(&e),
                })
            }
        };
        let entries = parse_chain(&text).map_err(|(line, reason)| RegistryError::Broken {
            path: shown_path(&log_path),
            line,
            reason,
        })?;
        let head_text = fs::read_to_string(&head_path).map_err(|e| RegistryError::Read {
            path: shown_path(&head_path),
            cause: output::describe_read(&e),
        })?;
        let log = Log { entries, trusted };
        let (seq, hash) = log.head();
        if head_text.trim_end() != format!("{seq} {hash}") {
            return Err(RegistryError::Broken {
                path: shown_path(&log_path),
                line: log.entries.len() + 1,
                reason: format!(
                    "the head file records {}, the log ends at entry {seq} (an entry was removed or added)",
                    shown(head_text.trim_end())
                ),
            });
        }
        Ok(log)
    }

    /// Makes a verified bundle the accepted one for its outcome: checks the registry, the key,
    /// the version (newer than the accepted one), copies the bundle in and appends the entry.
    /// `pubkey`: the key the bundle was verified with; required for the first promotion (it
    /// becomes the trusted key), and must match the trusted key after.
    pub fn promote(
        &self,
        bundle: &Path,
        facts: &BundleFacts,
        pubkey: &PublicKey,
        by: &str,
        reason: &str,
        time: &str,
    ) -> Result<Entry, RegistryError> {
        if by.trim().is_empty() {
            return Err(RegistryError::Empty("by"));
        }
        if reason.trim().is_empty() {
            return Err(RegistryError::Empty("reason"));
        }
        let log = self.load()?;
        if let Some(trusted) = &log.trusted {
            if trusted != pubkey {
                return Err(RegistryError::KeyMismatch {
                    trusted: keys::key_id_hex(trusted),
                });
            }
        }
        if let Some(accepted) = log.accepted_at(None).get(&facts.outcome) {
            if facts.version <= accepted.version {
                return Err(RegistryError::NotNewer {
                    outcome: facts.outcome.clone(),
                    version: facts.version,
                    accepted: accepted.version,
                });
            }
        }
        // Versions only grow for an outcome, so the folder name is new unless a failed
        // promotion left it.
        let (seq, prev) = log.head();
        let mut entry = Entry {
            seq: seq + 1,
            time: time.to_string(),
            outcome: facts.outcome.clone(),
            version: facts.version,
            bundle: format!("{}-v{}", facts.outcome, facts.version),
            manifest_sha256: facts.manifest_sha256.clone(),
            model_sha256: facts.model_sha256.clone(),
            key_id: facts.key_id.clone(),
            by: by.to_string(),
            reason: reason.to_string(),
            prev,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        output::create_directory(&self.dir.join(BUNDLES))?;
        copy_bundle(bundle, &self.bundle_dir(&entry), &entry.bundle)?;

        let mut log_bytes = fs::read(self.dir.join(LOG)).unwrap_or_default();
        let line = serde_json::to_string(&entry).unwrap_or_default();
        log_bytes.extend_from_slice(line.as_bytes());
        log_bytes.push(b'\n');
        let mut set = OutputSet::new();
        set.bytes(&self.dir.join(LOG), &log_bytes)?;
        set.bytes(
            &self.dir.join(HEAD),
            format!("{} {}\n", entry.seq, entry.hash).as_bytes(),
        )?;
        if log.trusted.is_none() {
            set.bytes(
                &self.dir.join(TRUSTED_KEY),
                keys::public_text(pubkey).as_bytes(),
            )?;
        }
        set.commit()?;
        Ok(entry)
    }
}

/// Parses the log and checks every link; `Err((line, reason))` at the first bad line.
fn parse_chain(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut entries: Vec<Entry> = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err((text.lines().count(), "the last line is cut short".into()));
    }
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let entry: Entry =
            serde_json::from_str(line).map_err(|e| (n, format!("not a registry entry ({e})")))?;
        let expected_seq = entries.last().map_or(1, |e| e.seq + 1);
        if entry.seq != expected_seq {
            return Err((
                n,
                format!("entry number {} where {expected_seq} belongs", entry.seq),
            ));
        }
        let expected_prev = entries.last().map_or(GENESIS, |e| e.hash.as_str());
        if entry.prev != expected_prev {
            return Err((n, "it does not link to the entry before it".into()));
        }
        if entry.hash != entry.compute_hash() {
            return Err((n, "its content does not match its hash".into()));
        }
        if parse_time(&entry.time).as_deref() != Some(entry.time.as_str()) {
            return Err((
                n,
                format!("its time {} is not a UTC time", shown(&entry.time)),
            ));
        }
        if let Some(last) = entries.last() {
            if entry.time < last.time {
                return Err((n, "its time is earlier than the entry before it".into()));
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Copies the bundle folder `from` to `to` (a new folder), through a temporary folder renamed
/// into place. A folder already at `to` with the same files is kept (a promotion that failed
/// after copying); one with other content is refused.
fn copy_bundle(from: &Path, to: &Path, name: &str) -> Result<(), RegistryError> {
    let copy_error = |path: &Path, e: std::io::Error| RegistryError::Copy {
        path: shown_path(path),
        cause: e.to_string(),
    };
    let files = list_files(from).map_err(|e| copy_error(from, e))?;
    if to.exists() {
        let existing = list_files(to).map_err(|e| copy_error(to, e))?;
        let same = existing.len() == files.len()
            && files.iter().zip(&existing).all(|(a, b)| {
                a.file_name() == b.file_name()
                    && fs::read(a)
                        .ok()
                        .is_some_and(|x| fs::read(b).ok() == Some(x))
            });
        return if same {
            Ok(())
        } else {
            Err(RegistryError::BundleExists { name: name.into() })
        };
    }
    let temp = to.with_file_name(format!(".{name}.{}.lockstep-tmp", std::process::id()));
    let _ = fs::remove_dir_all(&temp);
    let result = (|| {
        fs::create_dir(&temp).map_err(|e| copy_error(&temp, e))?;
        let mut set = OutputSet::new();
        for file in &files {
            let bytes = fs::read(file).map_err(|e| copy_error(file, e))?;
            let target = temp.join(file.file_name().unwrap_or_default());
            set.bytes(&target, &bytes)?;
        }
        set.commit()?;
        fs::rename(&temp, to).map_err(|e| copy_error(to, e))?;
        output::sync_directory(to.parent().unwrap_or(Path::new("."))).map_err(|e| copy_error(to, e))
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result
}

/// The regular files directly in `dir`, sorted by name (bundles are flat folders).
fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        } else {
            return Err(std::io::Error::other(format!(
                "{} is not a plain file (a bundle holds files only)",
                shown_path(&entry.path())
            )));
        }
    }
    files.sort();
    Ok(files)
}

/// A UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let rest = unix_seconds % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The current time, UTC.
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_time(secs)
}

/// Reads `YYYY-MM-DD` (meaning the end of that day) or `YYYY-MM-DDTHH:MM:SSZ`, and returns it
/// in the log's form; `None` if it is neither or not a real date.
pub fn parse_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() != 10 && b.len() != 20 {
        return None;
    }
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let (hh, mm, ss) = if b.len() == 10 {
        (23, 59, 59)
    } else {
        if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        if b.get(19) != Some(&b'Z') {
            return None;
        }
        (digits(11..13)?, digits(14..16)?, digits(17..19)?)
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Year, month, day of the `days`-th day after 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to a calendar that starts on 1 March of year 0, so leap days fall at the end of a
    // year; 146,097 days make 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {} v{}  model {}  by {}: {}",
            self.time,
            shown(&self.outcome),
            self.version,
            self.model_sha256.get(..16).unwrap_or(&self.model_sha256),
            shown(&self.by),
            shown(&self.reason)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(outcome: &str, version: u32) -> BundleFacts {
        BundleFacts {
            outcome: outcome.into(),
            version,
            manifest_sha256: format!("{:064x}", version),
            model_sha256: format!("{:064x}", version + 100),
            key_id: "00112233445566aa".into(),
        }
    }

    fn bundle(dir: &Path, name: &str, content: &str) -> PathBuf {
        let b = dir.join(name);
        fs::create_dir_all(&b).unwrap();
        fs::write(b.join("manifest.json"), content).unwrap();
        fs::write(b.join("model.lsm"), content.repeat(3)).unwrap();
        b
    }

    #[test]
    fn times_are_formatted_and_read_back() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(1_796_515_200 + 3_723), "2026-12-06T01:02:03Z");
        // Every day for 200 years formats to a date that reads back as itself.
        for day in 0..73_000u64 {
            let t = format_time(day * 86_400 + 86_399);
            assert_eq!(parse_time(&t).as_deref(), Some(t.as_str()));
            assert_eq!(parse_time(&t[..10]).as_deref(), Some(t.as_str()));
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026-12-06 01:02:03",
            "x",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn promotions_chain_and_answer_for_past_times() {
        let tmp = tempfile::tempdir().unwrap();
        let reg = Registry::new(&tmp.path().join("reg"));
        let key = keys::public_of(&[3; 32]);
        let b1 = bundle(tmp.path(), "b1", "one");
        let b2 = bundle(tmp.path(), "b2", "two");
        let b3 = bundle(tmp.path(), "b3", "three");
        reg.promote(
            &b1,
            &facts("death_2y", 1),
            &key,
            "Dr A",
            "first",
            "2026-01-01T10:00:00Z",
        )
        .unwrap();
        reg.promote(
            &b2,
            &facts("infection_1y", 1),
            &key,
            "Dr A",
            "first",
            "2026-01-01T10:00:00Z",
        )
        .unwrap();
        reg.promote(
            &b3,
            &facts("death_2y", 2),
            &key,
            "Dr B",
            "retrained",
            "2026-06-01T09:00:00Z",
        )
        .unwrap();
        let log = reg.load().unwrap();
        assert_eq!(log.entries.len(), 3);
        let before = log.accepted_at(Some("2025-12-31T23:59:59Z"));
        assert!(before.is_empty());
        let jan = log.accepted_at(Some("2026-03-01T23:59:59Z"));
        assert_eq!(jan["death_2y"].version, 1);
        assert_eq!(jan["infection_1y"].version, 1);
        let now = log.accepted_at(None);
        assert_eq!(now["death_2y"].version, 2);
        assert_eq!(
            fs::read(reg.bundle_dir(&now["death_2y"]).join("manifest.json")).unwrap(),
            b"three"
        );
        // A rollback and a foreign key are refused and leave the registry as it was.
        let before_bytes = fs::read(reg.dir().join(LOG)).unwrap();
        let err = reg
            .promote(
                &b1,
                &facts("death_2y", 2),
                &key,
                "Dr C",
                "again",
                "2026-07-01T00:00:00Z",
            )
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::NotNewer { accepted: 2, .. }),
            "{err}"
        );
        let other = keys::public_of(&[4; 32]);
        let err = reg
            .promote(
                &b1,
                &facts("death_2y", 3),
                &other,
                "Dr C",
                "x",
                "2026-07-01T00:00:00Z",
            )
            .unwrap_err();
        assert!(matches!(err, RegistryError::KeyMismatch { .. }), "{err}");
        assert!(matches!(
            reg.promote(
                &b1,
                &facts("death_2y", 3),
                &key,
                " ",
                "x",
                "2026-07-01T00:00:00Z"
            ),
            Err(RegistryError::Empty("by"))
        ));
        assert_eq!(fs::read(reg.dir().join(LOG)).unwrap(), before_bytes);
    }

    #[test]
    fn any_changed_removed_or_reordered_entry_is_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let reg = Registry::new(&tmp.path().join("reg"));
        let key = keys::public_of(&[3; 32]);
        for v in 1..=3 {
            let b = bundle(tmp.path(), &format!("b{v}"), &format!("content {v}"));
            let time = format!("2026-0{v}-01T00:00:00Z");
            reg.promote(&b, &facts("death_2y", v), &key, "Dr A", "ok", &time)
                .unwrap();
        }
        let log_path = reg.dir().join(LOG);
        let good = fs::read_to_string(&log_path).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let broken = |text: String| {
            fs::write(&log_path, text).unwrap();
            let err = reg.load().unwrap_err();
            fs::write(&log_path, &good).unwrap();
            err
        };
        // Each byte of each line changed (printable substitutions) breaks the chain.
        for (i, byte) in good.bytes().enumerate() {
            if byte == b'\n' {
                continue;
            }
            let mut bad = good.clone().into_bytes();
            bad[i] = if byte == b'1' { b'2' } else { b'1' };
            let err = broken(String::from_utf8(bad).unwrap());
            assert!(
                matches!(err, RegistryError::Broken { .. }),
                "byte {i}: {err}"
            );
        }
        let drop_middle = format!("{}\n{}\n", lines[0], lines[2]);
        assert!(matches!(
            broken(drop_middle),
            RegistryError::Broken { line: 2, .. }
        ));
        let drop_last = format!("{}\n{}\n", lines[0], lines[1]);
        assert!(matches!(broken(drop_last), RegistryError::Broken { .. }));
        let swapped = format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]);
        assert!(matches!(
            broken(swapped),
            RegistryError::Broken { line: 1, .. }
        ));
        assert!(reg.load().is_ok());
    }
}

//! Every file Lockstep writes goes through here: written to a temporary file in the target's
//! directory, synced, and renamed over the target, so an existing output is either left exactly
//! as it was or replaced by a complete new one; never truncated or half written.
//!
//! Outputs that belong together (a model and its training record, report.json and report.html,
//! a cohort and its schema) are one [`OutputSet`]: every temporary file is fully written and
//! synced before the first rename, and a failure before the renames removes the temporary files
//! and leaves every existing output untouched. The renames themselves happen one after another;
//! a crash or a failing rename between two of them leaves the outputs renamed so far new and the
//! rest old (a rename needs no data space, so on common file systems a full disk does not
//! cause this; a crash, a concurrent change to the directory or an I/O error can). A failed
//! rename's error names the outputs already replaced; the others stay as they were.
//!
//! [`refuse_overwriting_inputs`] refuses, before any work, an output that names one of the
//! command's inputs (the same file by canonical path, or by device and inode on Unix).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::text::shown_path;

/// What was being done to a file when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Creating the temporary file next to the target.
    Create,
    /// Writing the temporary file.
    Write,
    /// Flushing the temporary file to the disk.
    Sync,
    /// Renaming the temporary file over the target.
    Rename,
    /// Syncing the directory after the renames.
    SyncDirectory,
    /// Creating the output directory.
    CreateDirectory,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Create => "create a temporary file for",
            Operation::Write => "write",
            Operation::Sync => "sync",
            Operation::Rename => "rename the finished temporary file over",
            Operation::SyncDirectory => "sync the directory of",
            Operation::CreateDirectory => "create the directory",
        })
    }
}

/// Why an output could not be written, or was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// A file operation failed. The cause is part of the message (not a `source`), so a chain
    /// of errors prints it once.
    #[error("cannot {operation} '{}': {}; {}", shown_path(path), describe(cause), self.consequence())]
    Io {
        /// The step that failed.
        operation: Operation,
        /// The output (not its temporary file).
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
        /// Outputs of the same set already renamed into place (only for a failed rename).
        replaced: Vec<PathBuf>,
    },
    /// An output names one of the command's inputs.
    #[error("the output '{}' ({output_role}) is the input '{}' ({input_role}); writing it would destroy the input: choose another output path", shown_path(output), shown_path(input))]
    OutputIsInput {
        /// What the output is.
        output_role: &'static str,
        /// The output path as given.
        output: PathBuf,
        /// What the input is.
        input_role: &'static str,
        /// The input path as given.
        input: PathBuf,
    },
    /// Two outputs of one set name the same file.
    #[error(
        "the outputs '{}' and '{}' are the same file; choose distinct output paths",
        shown_path(first),
        shown_path(second)
    )]
    DuplicateOutput {
        /// The first.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
}

impl OutputError {
    fn io(operation: Operation, path: &Path, cause: io::Error) -> Self {
        OutputError::Io {
            operation,
            path: path.to_path_buf(),
            cause,
            replaced: Vec::new(),
        }
    }

    fn consequence(&self) -> String {
        match self {
            OutputError::Io { replaced, .. } if !replaced.is_empty() => format!(
                "already replaced: {}; the other outputs were left as they were",
                replaced
                    .iter()
                    .map(|p| format!("'{}'", shown_path(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            OutputError::Io {
                operation: Operation::SyncDirectory,
                ..
            } => "the outputs are in place but may not survive a crash".into(),
            _ => "existing outputs were left as they were".into(),
        }
    }
}

/// The cause in words, with what to do for the common ones.
fn describe(cause: &io::Error) -> String {
    match cause.kind() {
        io::ErrorKind::StorageFull => {
            "no space left on device; free some space and run again".into()
        }
        io::ErrorKind::QuotaExceeded => "disk quota exceeded; free some space and run again".into(),
        io::ErrorKind::NotFound => "no such directory; check the directory exists".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied; check the directory is writable".into()
        }
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system".into(),
        _ => cause.to_string(),
    }
}

/// Refuses an output that is one of the inputs, before any work is done. Each entry is
/// `(role, path)`, e.g. `("the model", m.json)`; inputs that do not exist are skipped (reading
/// them will fail with its own message).
pub fn refuse_overwriting_inputs(
    inputs: &[(&'static str, &Path)],
    outputs: &[(&'static str, &Path)],
) -> Result<(), OutputError> {
    for &(output_role, output) in outputs {
        let Some(out) = identity(output) else {
            continue;
        };
        for &(input_role, input) in inputs {
            if identity(input).is_some_and(|i| i.same_as(&out)) {
                return Err(OutputError::OutputIsInput {
                    output_role,
                    output: output.to_path_buf(),
                    input_role,
                    input: input.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// What identifies a file: its canonical path (for an output that does not exist yet, the
/// canonical parent joined with its name) and, on Unix, its device and inode if it exists.
struct Identity {
    path: PathBuf,
    #[cfg(unix)]
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn same_as(&self, other: &Identity) -> bool {
        #[cfg(unix)]
        if let (Some(a), Some(b)) = (self.inode, other.inode) {
            return a == b;
        }
        self.path == other.path
    }
}

fn identity(path: &Path) -> Option<Identity> {
    let canonical = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => {
            let name = path.file_name()?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fs::canonicalize(parent).ok()?.join(name)
        }
    };
    Some(Identity {
        #[cfg(unix)]
        inode: fs::metadata(&canonical).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        }),
        path: canonical,
    })
}

/// One pending output: its target and the temporary file being written.
struct Pending {
    target: PathBuf,
    temp: PathBuf,
    writer: BufWriter<File>,
}

/// Outputs written together: create each with [`OutputSet::file`] or [`OutputSet::bytes`],
/// then [`OutputSet::commit`]. Dropping an uncommitted set removes its temporary files.
#[derive(Default)]
pub struct OutputSet {
    pending: Vec<Pending>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl OutputSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the output `target` and returns a writer to its temporary file (in the same
    /// directory, named `.<name>.<pid>-<n>.lockstep-tmp`).
    pub fn file(&mut self, target: &Path) -> Result<&mut BufWriter<File>, OutputError> {
        // A symbolic link stays a link: the file it points to is the one replaced.
        let resolved;
        let target = match fs::symlink_metadata(target) {
            Ok(m) if m.file_type().is_symlink() => {
                resolved = fs::canonicalize(target)
                    .map_err(|e| OutputError::io(Operation::Create, target, e))?;
                resolved.as_path()
            }
            _ => target,
        };
        let name = target.file_name().ok_or_else(|| {
            OutputError::io(
                Operation::Create,
                target,
                io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
            )
        })?;
        if let Some(first) = self.pending.iter().find(|p| p.target == target) {
            return Err(OutputError::DuplicateOutput {
                first: first.target.clone(),
                second: target.to_path_buf(),
            });
        }
        // A directory in the way would make the rename fail after earlier outputs of the set
        // were replaced: refuse it now, before anything is written.
        if fs::metadata(target).is_ok_and(|m| m.is_dir()) {
            return Err(OutputError::io(
                Operation::Create,
                target,
                io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "a directory is in the way; remove it or choose another output path",
                ),
            ));
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            ".{}.{}-{n}.lockstep-tmp",
            name.to_string_lossy(),
            std::process::id()
        );
        let temp = target.with_file_name(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| OutputError::io(Operation::Create, target, e))?;
        self.pending.push(Pending {
            target: target.to_path_buf(),
            temp,
            writer: BufWriter::new(file),
        });
        let last = self.pending.len() - 1;
        Ok(&mut self.pending[last].writer)
    }

    /// Starts the output `target` with `bytes` as its whole content.
    pub fn bytes(&mut self, target: &Path, bytes: &[u8]) -> Result<(), OutputError> {
        self.file(target)?
            .write_all(bytes)
            .map_err(|e| OutputError::io(Operation::Write, target, e))
    }

    /// The error to report for a write into the writer of `target` that failed with `cause`.
    pub fn write_error(target: &Path, cause: io::Error) -> OutputError {
        OutputError::io(Operation::Write, target, cause)
    }

    /// Flushes and syncs every temporary file, then renames each over its target and syncs
    /// the directories. Nothing is replaced unless every file was written and synced.
    pub fn commit(mut self) -> Result<(), OutputError> {
        for p in &mut self.pending {
            p.writer
                .flush()
                .map_err(|e| OutputError::io(Operation::Write, &p.target, e))?;
            p.writer
                .get_ref()
                .sync_all()
                .map_err(|e| OutputError::io(Operation::Sync, &p.target, e))?;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut replaced: Vec<PathBuf> = Vec::new();
        let mut failure = None;
        for p in &pending {
            if failure.is_some() {
                let _ = fs::remove_file(&p.temp);
                continue;
            }
            match fs::rename(&p.temp, &p.target) {
                Ok(()) => replaced.push(p.target.clone()),
                Err(cause) => {
                    let _ = fs::remove_file(&p.temp);
                    failure = Some(OutputError::Io {
                        operation: Operation::Rename,
                        path: p.target.clone(),
                        cause,
                        replaced: replaced.clone(),
                    });
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        let mut synced: Vec<PathBuf> = Vec::new();
        for target in &replaced {
            let dir = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if synced.contains(&dir) {
                continue;
            }
            sync_directory(&dir)
                .map_err(|e| OutputError::io(Operation::SyncDirectory, target, e))?;
            synced.push(dir);
        }
        Ok(())
    }
}

impl Drop for OutputSet {
    fn drop(&mut self) {
        for p in self.pending.drain(..) {
            drop(p.writer);
            let _ = fs::remove_file(&p.temp);
        }
    }
}

/// Makes a rename or creation inside `dir` durable (syncs the directory itself).
#[cfg(unix)]
pub fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes a rename or creation inside `dir` durable (nothing to do on this platform).
#[cfg(not(unix))]
pub fn sync_directory(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; its renames are durable once they return.
    Ok(())
}

/// Writes one output atomically (a set of one).
pub fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let mut set = OutputSet::new();
    set.bytes(target, bytes)?;
    set.commit()
}

/// Writes the directory `target` holding `files` (name, bytes) as one unit: the files are
/// written and synced in a temporary directory next to it (`.<name>.<pid>-<n>.lockstep-tmp`),
/// which is synced and renamed to `target`. An existing `target` is refused unless `replace`;
/// then it is first renamed aside and removed after the new one is in place (a crash between
/// the two renames leaves the old directory under its temporary name, never a mixed one). Any
/// failure before the rename removes the temporary directory: nothing half written remains.
/// Names must be plain file names (no separators).
pub fn write_directory(
    target: &Path,
    files: &[(&str, &[u8])],
    replace: bool,
) -> Result<(), OutputError> {
    let name = target.file_name().ok_or_else(|| {
        OutputError::io(
            Operation::CreateDirectory,
            target,
            io::Error::new(io::ErrorKind::InvalidInput, "the path names no directory"),
        )
    })?;
    let exists = fs::symlink_metadata(target).is_ok();
    if exists && !replace {
        return Err(OutputError::io(
            Operation::CreateDirectory,
            target,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it already exists; choose another path or remove it first",
            ),
        ));
    }
    let temp_name = |what: &str| {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!(
            ".{}.{what}{}-{n}.lockstep-tmp",
            name.to_string_lossy(),
            std::process::id()
        )
    };
    let temp = target.with_file_name(temp_name(""));
    fs::create_dir(&temp).map_err(|e| OutputError::io(Operation::CreateDirectory, target, e))?;
    // Removes the temporary directory unless disarmed after the rename.
    struct Cleanup<'a>(Option<&'a Path>);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            if let Some(dir) = self.0 {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
    let mut cleanup = Cleanup(Some(&temp));
    for (file_name, bytes) in files {
        let path = temp.join(file_name);
        let shown_target = target.join(file_name);
        if Path::new(file_name).file_name() != Some(std::ffi::OsStr::new(file_name)) {
            return Err(OutputError::io(
                Operation::Create,
                &shown_target,
                io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name"),
            ));
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| OutputError::io(Operation::Create, &shown_target, e))?;
        file.write_all(bytes)
            .map_err(|e| OutputError::io(Operation::Write, &shown_target, e))?;
        file.sync_all()
            .map_err(|e| OutputError::io(Operation::Sync, &shown_target, e))?;
    }
    sync_directory(&temp).map_err(|e| OutputError::io(Operation::SyncDirectory, target, e))?;
    let aside = target.with_file_name(temp_name("old."));
    if exists {
        fs::rename(target, &aside).map_err(|e| OutputError::io(Operation::Rename, target, e))?;
    }
    if let Err(cause) = fs::rename(&temp, target) {
        if exists {
            // Put the old directory back; the new one is removed by the cleanup.
            let _ = fs::rename(&aside, target);
        }
        return Err(OutputError::io(Operation::Rename, target, cause));
    }
    cleanup.0 = None;
    if exists {
        let _ = fs::remove_dir_all(&aside);
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_directory(parent).map_err(|e| OutputError::io(Operation::SyncDirectory, target, e))
}

/// Creates the output directory `dir` (and its parents) if missing.
pub fn create_directory(dir: &Path) -> Result<(), OutputError> {
    fs::create_dir_all(dir).map_err(|e| OutputError::io(Operation::CreateDirectory, dir, e))
}

/// The error for a failed read of the input `path` (for callers that report reads the same way).
pub fn read_error(path: &Path, cause: &io::Error) -> String {
    format!(
        "cannot read '{}': {}",
        shown_path(path),
        describe_read(cause)
    )
}

/// The cause of a failed read in words, with what to do for the common ones.
pub fn describe_read(cause: &io::Error) -> String {
    match cause.kind() {
        io::ErrorKind::NotFound => "no such file; check the path".into(),
        io::ErrorKind::PermissionDenied => "permission denied; check the file is readable".into(),
        _ => cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temps(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".lockstep-tmp"))
            .collect()
    }

    #[test]
    fn a_dropped_set_leaves_existing_outputs_and_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "old").unwrap();
        let mut set = OutputSet::new();
        set.bytes(&a, b"new").unwrap();
        set.bytes(&dir.path().join("b.txt"), b"new").unwrap();
        assert_eq!(temps(dir.path()).len(), 2);
        drop(set);
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert!(!dir.path().join("b.txt").exists());
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn a_committed_set_replaces_every_output() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "old").unwrap();
        let mut set = OutputSet::new();
        set.bytes(&a, b"new a").unwrap();
        set.bytes(&dir.path().join("b.txt"), b"new b").unwrap();
        set.commit().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(
            fs::read_to_string(dir.path().join("b.txt")).unwrap(),
            "new b"
        );
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn refuses_an_output_that_is_an_input_even_spelled_differently() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("m.json");
        fs::write(&input, "{}").unwrap();
        let spelled = dir.path().join(".").join("m.json");
        let error =
            refuse_overwriting_inputs(&[("the model", &input)], &[("the output", &spelled)])
                .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("m.json") && text.contains("the model"),
            "{text}"
        );
        let other = dir.path().join("m.lsm");
        refuse_overwriting_inputs(&[("the model", &input)], &[("the output", &other)]).unwrap();
    }

    #[test]
    fn a_missing_directory_names_the_output_and_the_operation() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing").join("m.lsm");
        let error = write_atomically(&target, b"x").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("cannot create a temporary file for"),
            "{text}"
        );
        assert!(text.contains("m.lsm"), "{text}");
        assert!(text.contains("check the directory exists"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_output_keeps_pointing_at_the_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn a_directory_appears_whole_and_is_replaced_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bundle");
        write_directory(&target, &[("a", b"1"), ("b", b"2")], false).unwrap();
        assert_eq!(fs::read(target.join("b")).unwrap(), b"2");
        let refused = write_directory(&target, &[("a", b"3")], false).unwrap_err();
        assert!(refused.to_string().contains("already exists"), "{refused}");
        assert_eq!(fs::read(target.join("a")).unwrap(), b"1");
        // A failure while writing (a name that is not a plain file name) leaves nothing.
        assert!(write_directory(&target, &[("a", b"3"), ("x/y", b"4")], true).is_err());
        assert_eq!(fs::read(target.join("a")).unwrap(), b"1");
        write_directory(&target, &[("c", b"5")], true).unwrap();
        assert!(!target.join("a").exists());
        assert_eq!(fs::read(target.join("c")).unwrap(), b"5");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary directories left behind");
    }

    #[test]
    fn two_outputs_of_one_set_must_differ() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let mut set = OutputSet::new();
        set.bytes(&a, b"1").unwrap();
        assert!(matches!(
            set.bytes(&a, b"2"),
            Err(OutputError::DuplicateOutput { .. })
        ));
    }
}

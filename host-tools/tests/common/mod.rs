//! Helpers shared by the test binaries that drive the `lockstep` command.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `lockstep` binary built for these tests.
pub fn lockstep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .output()
        .expect("run lockstep")
}

/// The command's standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The command's standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `lockstep synth arthroplasty` into `dir`; returns the CSV and its schema.
pub fn synth_cohort(dir: &Path, rows: &str, seed: &str) -> (PathBuf, PathBuf) {
    let cohort = dir.join("cohort.csv");
    let result = lockstep(&[
        "synth",
        "arthroplasty",
        "--rows",
        rows,
        "--seed",
        seed,
        "-o",
        cohort.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let schema = dir.join("cohort.schema.toml");
    assert!(schema.exists());
    (cohort, schema)
}

/// Runs `lockstep train` for death_2y on the 2008-2015 rows of `cohort` with `config`,
/// writing `out` (and its training record next to it).
pub fn train_death(cohort: &Path, schema: &Path, config: &Path, out: &Path) -> Output {
    lockstep(&[
        "train",
        "--data",
        cohort.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--target",
        "death_2y",
        "--train-where",
        "surgery_year <= 2015",
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ])
}

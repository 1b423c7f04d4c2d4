//! Helpers shared by the test binaries that drive the `lockstep` command.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
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
    train_where(cohort, schema, config, "surgery_year <= 2015", out)
}

/// Runs `lockstep train` for death_2y on the rows of `cohort` where `train_where` holds.
pub fn train_where(
    cohort: &Path,
    schema: &Path,
    config: &Path,
    train_where: &str,
    out: &Path,
) -> Output {
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
        train_where,
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ])
}

/// The feature names of a compiled model, from `lockstep inspect --json` (empty if the model
/// cannot be inspected).
pub fn model_features(model: &Path) -> Vec<String> {
    let result = lockstep(&["inspect", model.to_str().unwrap(), "--json"]);
    serde_json::from_slice::<serde_json::Value>(&result.stdout)
        .ok()
        .and_then(|json| {
            json["features"].as_array().map(|features| {
                features
                    .iter()
                    .filter_map(|f| f["name"].as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Every file under `dir` (recursively) with its bytes (empty if `dir` does not exist): equal
/// snapshots before and after a run mean nothing was changed, and no temporary file was left.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

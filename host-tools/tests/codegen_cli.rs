//! `lockstep codegen`: writes a module that names its model, its generator and its command,
//! the same bytes on every run; refuses what it cannot read or would overwrite; and `lockstep
//! parity --codegen` refuses, before building anything, a module generated from another model.

mod common;

use std::path::{Path, PathBuf};

use common::{lockstep, stderr};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cases")
        .join(name)
}

/// Compiles the fixture `name` into `dir` and returns the .lsm path.
fn compiled(dir: &Path, name: &str, out: &str) -> PathBuf {
    let out = dir.join(out);
    let result = lockstep(&[
        "compile",
        fixture(name).to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    out
}

#[test]
fn codegen_writes_a_module_that_names_its_model_and_is_reproducible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = compiled(dir.path(), "xgb-3.2.0-binary-json.json", "model.lsm");
    let out = dir.path().join("model.rs");
    let result = lockstep(&[
        "codegen",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let sha = {
        let inspect = common::stdout(&lockstep(&["inspect", model.to_str().unwrap(), "--json"]));
        let json: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        json["sha256"].as_str().unwrap().to_string()
    };
    assert!(stderr(&result).contains(&sha), "{}", stderr(&result));
    let code = std::fs::read_to_string(&out).unwrap();
    for needle in [
        format!("//! model:   SHA-256 {sha}"),
        format!("pub const MODEL_SHA256_HEX: &str = \"{sha}\";"),
        "//! command: lockstep codegen model.lsm -o model.rs".to_string(),
        "#![forbid(unsafe_code)]".to_string(),
        "pub fn predict(features: &[f32; N_FEATURES]".to_string(),
    ] {
        assert!(code.contains(&needle), "the module lacks {needle}");
    }
    // Again, over the existing file: the same bytes.
    assert!(lockstep(&[
        "codegen",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap()
    ])
    .status
    .success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), code);
}

#[test]
fn codegen_refuses_a_non_model_and_overwriting_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.lsm");
    std::fs::write(&junk, b"not a model").unwrap();
    let out = dir.path().join("out.rs");
    let result = lockstep(&[
        "codegen",
        junk.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("junk.lsm"), "{}", stderr(&result));
    assert!(!out.exists(), "nothing is written for a refused model");

    let model = compiled(dir.path(), "xgb-3.2.0-binary-json.json", "model.lsm");
    let before = std::fs::read(&model).unwrap();
    let result = lockstep(&[
        "codegen",
        model.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert_eq!(std::fs::read(&model).unwrap(), before);
}

#[test]
fn parity_refuses_a_module_of_another_model_before_building() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = compiled(dir.path(), "xgb-3.2.0-binary-json.json", "one.lsm");
    let other = compiled(
        dir.path(),
        "xgb-3.2.0-reg-squarederror-json.json",
        "other.lsm",
    );
    let module = dir.path().join("other.rs");
    assert!(lockstep(&[
        "codegen",
        other.to_str().unwrap(),
        "-o",
        module.to_str().unwrap()
    ])
    .status
    .success());
    let result = lockstep(&[
        "parity",
        "--model",
        one.to_str().unwrap(),
        "--codegen",
        module.to_str().unwrap(),
        "-t",
        "cortex-m4f",
        "--firmware-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let text = stderr(&result);
    assert!(
        text.contains("no --codegen module was generated from")
            && text.contains("lockstep codegen"),
        "{text}"
    );
}

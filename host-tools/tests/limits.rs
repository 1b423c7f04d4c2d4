//! Count-like command-line options above their caps are refused before anything is allocated,
//! naming the option and the cap.

mod common;

use common::{lockstep, stderr};

#[test]
fn synth_rows_and_validate_threads_above_their_caps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let result = lockstep(&[
        "synth",
        "arthroplasty",
        "--rows",
        "18446744073709551615",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("--rows = 18446744073709551615") && err.contains("cap of 10000000"),
        "{err}"
    );
    assert!(!out.exists());

    let missing = dir.path().join("none");
    let result = lockstep(&[
        "validate",
        "-m",
        missing.join("m.lsm").to_str().unwrap(),
        "--data",
        missing.join("d.csv").to_str().unwrap(),
        "--threads",
        "100000",
        "-o",
        dir.path().join("report").to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("--threads = 100000") && err.contains("cap of 1024"),
        "{err}"
    );
}

#[test]
fn parity_random_rows_above_its_cap_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    // The model does not exist: the cap is checked first, before reading or building anything.
    let model = dir.path().join("m.lsm");
    let result = lockstep(&[
        "parity",
        "--model",
        model.to_str().unwrap(),
        "-t",
        "cortex-m4f",
        "--random-rows",
        "1000001",
    ]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("--random-rows = 1000001") && err.contains("cap of 1000000"),
        "{err}"
    );
}

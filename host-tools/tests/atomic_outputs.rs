//! Pins that a failing or refused command leaves every existing output byte-identical with no
//! temporary file behind (outputs are written atomically, sets of outputs together), that an
//! output naming an input is refused, and that messages print each cause once, name the file
//! and the operation, and show echoed input escaped and truncated.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{lockstep, snapshot, stderr, stdout, synth_cohort};

/// A committed XGBoost JSON model with feature names.
fn fixture_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cases/xgb-3.2.0-binary-base03-json.json")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Asserts `result` failed with exit code 1 and `dir` is exactly as `before`.
fn assert_failed_and_untouched(result: &Output, dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>) {
    assert_eq!(result.status.code(), Some(1), "{}", stderr(result));
    let after = snapshot(dir);
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(added.is_empty(), "files left behind: {added:?}");
    for (path, bytes) in before {
        assert!(
            after.get(path) == Some(bytes),
            "'{}' changed or vanished",
            path.display()
        );
    }
}

/// A compiled model and a CSV of `rows` rows with its features, in `dir`.
fn model_and_rows(dir: &Path, rows: usize) -> (PathBuf, PathBuf, Vec<String>) {
    let model = dir.join("m.lsm");
    let result = lockstep(&["compile", s(&fixture_model()), "-o", s(&model)]);
    assert!(result.status.success(), "{}", stderr(&result));
    let features = common::model_features(&model);
    assert!(!features.is_empty());
    let mut csv = features.join(",") + "\n";
    for i in 0..rows {
        let row: Vec<String> = (0..features.len())
            .map(|j| format!("{}", (i * 7 + j) % 13))
            .collect();
        csv.push_str(&(row.join(",") + "\n"));
    }
    let input = dir.join("rows.csv");
    std::fs::write(&input, csv).unwrap();
    (model, input, features)
}

#[test]
fn compile_refuses_to_write_over_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("m.json");
    std::fs::copy(fixture_model(), &source).unwrap();
    let before = snapshot(dir.path());
    for output in [source.clone(), dir.path().join(".").join("m.json")] {
        let result = lockstep(&["compile", s(&source), "-o", s(&output)]);
        assert_failed_and_untouched(&result, dir.path(), &before);
        let err = stderr(&result);
        assert!(
            err.contains("m.json") && err.contains("the source model") && err.contains("-o"),
            "{err}"
        );
    }
}

#[test]
fn a_failed_compile_keeps_the_existing_model() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, _) = model_and_rows(dir.path(), 1);
    let garbage = dir.path().join("bad.json");
    std::fs::write(&garbage, "{\"learner\": 1}").unwrap();
    let before = snapshot(dir.path());
    let result = lockstep(&["compile", s(&garbage), "-o", s(&model)]);
    assert_failed_and_untouched(&result, dir.path(), &before);
}

#[test]
fn a_failed_predict_keeps_the_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let (model, rows, features) = model_and_rows(dir.path(), 2000);
    let out = dir.path().join("scores.csv");
    std::fs::write(&out, "previous scores\n").unwrap();
    let header = features.join(",");
    let cases = [
        ("wrong header", "a,b,c\n1,2,3\n".to_string()),
        ("empty input", String::new()),
        (
            // Far enough down that scores were already streamed when the cell is read.
            "bad cell on the last line",
            std::fs::read_to_string(&rows).unwrap()
                + &vec!["oops"; features.len()].join(",")
                + "\n",
        ),
        ("ragged row", format!("{header}\n1\n")),
    ];
    for (what, text) in cases {
        let input = dir.path().join("input.csv");
        std::fs::write(&input, text).unwrap();
        let before = snapshot(dir.path());
        let result = lockstep(&["predict", "-m", s(&model), "-i", s(&input), "-o", s(&out)]);
        assert_failed_and_untouched(&result, dir.path(), &before);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "previous scores\n",
            "{what}"
        );
    }
    // And a successful run replaces it.
    let result = lockstep(&["predict", "-m", s(&model), "-i", s(&rows), "-o", s(&out)]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2001);
}

#[test]
fn predict_refuses_an_output_that_is_its_input_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let (model, rows, _) = model_and_rows(dir.path(), 5);
    let before = snapshot(dir.path());
    for (output, role) in [(&rows, "the input"), (&model, "the model")] {
        let result = lockstep(&["predict", "-m", s(&model), "-i", s(&rows), "-o", s(output)]);
        assert_failed_and_untouched(&result, dir.path(), &before);
        let err = stderr(&result);
        assert!(err.contains(role) && err.contains(s(output)), "{err}");
    }
}

/// A small cohort, its schema and a gbdt config in `dir`.
fn cohort(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (cohort, schema) = synth_cohort(dir, "3000", "3");
    let config = dir.join("c.toml");
    std::fs::write(&config, "[gbdt]\nn_trees = 5\nmax_depth = 2\n").unwrap();
    (cohort, schema, config)
}

fn train(data: &Path, schema: &Path, config: &Path, out: &Path) -> Output {
    common::train_death(data, schema, config, out)
}

#[test]
fn a_failed_train_keeps_the_previous_model_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let (data, schema, config) = cohort(dir.path());
    let model = dir.path().join("m.lsm");
    let result = train(&data, &schema, &config, &model);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(dir.path().join("m.training.json").exists());

    // A bad cell in the data.
    let text = std::fs::read_to_string(&data).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let bad_line = lines[10].replacen(|c: char| c.is_ascii_digit(), "x", 1);
    lines[10] = &bad_line;
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let before = snapshot(dir.path());
    assert_failed_and_untouched(&train(&bad, &schema, &config, &model), dir.path(), &before);

    // The record's path is not writable (a directory is in the way): the model must not be
    // replaced either.
    let other = dir.path().join("n.lsm");
    std::fs::write(&other, "previous model").unwrap();
    std::fs::create_dir(dir.path().join("n.training.json")).unwrap();
    let before = snapshot(dir.path());
    let result = train(&data, &schema, &config, &other);
    assert_failed_and_untouched(&result, dir.path(), &before);
    assert!(
        stderr(&result).contains("n.training.json"),
        "{}",
        stderr(&result)
    );

    // The output is the data.
    let result = train(&data, &schema, &config, &data);
    assert_failed_and_untouched(&result, dir.path(), &before);
    assert!(stderr(&result).contains("--data"), "{}", stderr(&result));
}

const PLAN: &str = "target = \"death_2y\"\nrows = \"surgery_year > 2015\"\n[metrics]\nbootstrap_resamples = 100\n[acceptance]\nmin_auc_lower = 0.3\n";

fn validate(model: &Path, data: &Path, schema: &Path, plan: &Path, out: &Path) -> Output {
    lockstep(&[
        "validate",
        "-m",
        s(model),
        "--data",
        s(data),
        "--schema",
        s(schema),
        "--plan",
        s(plan),
        "--quiet",
        "-o",
        s(out),
    ])
}

#[test]
fn a_failed_validate_keeps_the_previous_report_pair() {
    let dir = tempfile::tempdir().unwrap();
    let (data, schema, config) = cohort(dir.path());
    let model = dir.path().join("m.lsm");
    assert!(train(&data, &schema, &config, &model).status.success());
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, PLAN).unwrap();
    let report = dir.path().join("report");
    let result = validate(&model, &data, &schema, &plan, &report);
    assert!(result.status.success(), "{}", stderr(&result));

    // A bad cell.
    let text = std::fs::read_to_string(&data).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, text.replacen("\n", "\nnot-a-row\n", 1)).unwrap();
    let before = snapshot(dir.path());
    let result = validate(&model, &bad, &schema, &plan, &report);
    assert_failed_and_untouched(&result, dir.path(), &before);

    // report.html cannot be written: report.json must stay the previous run's too.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("report.json"), "previous json").unwrap();
    std::fs::create_dir(other.join("report.html")).unwrap();
    let before = snapshot(dir.path());
    let result = validate(&model, &data, &schema, &plan, &other);
    assert_failed_and_untouched(&result, dir.path(), &before);
    assert!(
        stderr(&result).contains("report.html"),
        "{}",
        stderr(&result)
    );

    // An input inside the output directory under an output's name.
    let inside = report.join("report.json");
    std::fs::write(&inside, PLAN).unwrap();
    let before = snapshot(dir.path());
    let result = validate(&model, &data, &schema, &inside, &report);
    assert_failed_and_untouched(&result, dir.path(), &before);
    assert!(stderr(&result).contains("--plan"), "{}", stderr(&result));
}

#[test]
fn a_model_with_constant_scores_is_rejected_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (data, schema, _) = cohort(dir.path());
    let config = dir.path().join("constant.toml");
    // No split can hold this weight: every tree is one leaf, every patient the same score.
    std::fs::write(
        &config,
        "[gbdt]\nn_trees = 2\nmin_child_weight = 1e9\nearly_stopping_rounds = 0\n",
    )
    .unwrap();
    let model = dir.path().join("constant.lsm");
    let result = train(&data, &schema, &config, &model);
    assert!(result.status.success(), "{}", stderr(&result));
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        PLAN.to_string() + "calibration_slope_within = [0.5, 1.5]\n",
    )
    .unwrap();
    let report = dir.path().join("report");
    let result = validate(&model, &data, &schema, &plan, &report);
    assert_eq!(result.status.code(), Some(4), "{}", stderr(&result));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["verdict"]["accepted"], false);
    let slope = json["verdict"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"].as_str().unwrap().contains("slope"))
        .unwrap();
    assert!(slope["value"].is_null());
    assert!(
        slope["reason"].as_str().unwrap().contains("same score"),
        "{slope}"
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("cannot be met"));
}

#[test]
fn a_failed_synth_keeps_the_previous_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "previous cohort").unwrap();
    std::fs::create_dir(dir.path().join("c.schema.toml")).unwrap();
    let before = snapshot(dir.path());
    let result = lockstep(&["synth", "arthroplasty", "--rows", "200", "-o", s(&csv)]);
    assert_failed_and_untouched(&result, dir.path(), &before);
}

#[test]
fn parity_refuses_a_record_that_is_the_model_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, _) = model_and_rows(dir.path(), 1);
    let before = snapshot(dir.path());
    let result = lockstep(&[
        "parity",
        "-m",
        s(&model),
        "--target",
        "cortex-m4f",
        "--record",
        s(&model),
    ]);
    assert_failed_and_untouched(&result, dir.path(), &before);
    assert!(stderr(&result).contains("--record"), "{}", stderr(&result));
}

#[test]
fn a_missing_file_is_reported_once_with_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "a\n1\n").unwrap();
    let result = lockstep(&[
        "train",
        "--data",
        s(&data),
        "--schema",
        s(&missing),
        "-o",
        s(&dir.path().join("m.lsm")),
    ]);
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot read") && err.contains("missing.toml"),
        "{err}"
    );
    let lower = err.to_lowercase();
    assert!(
        lower.matches("no such file").count() == 1,
        "cause printed more than once: {err}"
    );
    assert!(!err.contains("os error 2): No such file"), "{err}");
}

#[test]
fn a_huge_bad_cell_is_truncated_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, features) = model_and_rows(dir.path(), 1);
    let mut cells = vec!["1".to_string(); features.len()];
    cells[0] = "9".repeat(50_000_000) + "x";
    let input = dir.path().join("huge.csv");
    std::fs::write(&input, features.join(",") + "\n" + &cells.join(",") + "\n").unwrap();
    let result = lockstep(&["predict", "-m", s(&model), "-i", s(&input)]);
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1));
    assert!(err.len() < 1000, "message of {} bytes", err.len());
    assert!(err.contains('…') && err.contains("50000001"), "{err}");
}

#[test]
fn text_from_a_model_file_is_escaped_in_inspect_and_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_model()).unwrap()).unwrap();
    json["learner"]["feature_names"][0] = "evil\u{1b}[31mred".into();
    let source = dir.path().join("evil.json");
    std::fs::write(&source, serde_json::to_vec(&json).unwrap()).unwrap();
    let model = dir.path().join("evil.lsm");
    let result = lockstep(&[
        "compile",
        s(&source),
        "-o",
        s(&model),
        "--label",
        "label\u{1b}[31m",
    ]);
    assert!(result.status.success(), "{}", stderr(&result));

    let result = lockstep(&["inspect", s(&model)]);
    let out = stdout(&result);
    assert!(!out.contains('\u{1b}'), "raw escape in: {out:?}");
    assert!(out.contains("label\\u{1b}[31m"), "{out}");
    assert!(out.contains("evil\\u{1b}[31mred"), "{out}");

    // An error that names the feature (the input lacks its column).
    let input = dir.path().join("rows.csv");
    std::fs::write(&input, "x\n1\n").unwrap();
    let result = lockstep(&["predict", "-m", s(&model), "-i", s(&input)]);
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1));
    assert!(!err.contains('\u{1b}'), "raw escape in: {err:?}");
    assert!(err.contains("evil\\u{1b}[31mred"), "{err}");
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_the_existing_model_intact_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().join("small");
    std::fs::create_dir(&mount_point).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs", s(&mount_point)])
        .output();
    let _mount = match mounted {
        Ok(out) if out.status.success() => Mount(mount_point.clone()),
        other => {
            let reason = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            // Not silent: CI that can mount sets LOCKSTEP_REQUIRE_TMPFS=1 to make this fail.
            assert!(
                std::env::var_os("LOCKSTEP_REQUIRE_TMPFS").is_none(),
                "cannot mount a tmpfs: {reason}"
            );
            eprintln!("SKIPPED a_full_disk_leaves_the_existing_model_intact_and_says_so: cannot mount a small tmpfs here ({reason}); run as root to check the full-disk case");
            return;
        }
    };
    let model = mount_point.join("m.lsm");
    let result = lockstep(&["compile", s(&fixture_model()), "-o", s(&model)]);
    assert!(result.status.success(), "{}", stderr(&result));
    // Fill the file system.
    let filler = mount_point.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = [0u8; 4096];
        while file.write_all(&block).and_then(|()| file.flush()).is_ok() {}
    }
    let before = snapshot(&mount_point);
    // A new model larger than the whole file system (a long label): writing over the old one
    // in place would truncate it and run out of space part-way.
    let label = "a".repeat(100_000);
    let result = lockstep(&[
        "compile",
        s(&fixture_model()),
        "-o",
        s(&model),
        "--label",
        &label,
    ]);
    assert_failed_and_untouched(&result, &mount_point, &before);
    let err = stderr(&result);
    assert!(err.contains("no space left on device"), "{err}");
    assert!(err.contains(s(&model)), "{err}");
    assert!(!err.contains("check the directory exists"), "{err}");
    // The model still loads.
    let result = lockstep(&["inspect", s(&model)]);
    assert!(result.status.success(), "{}", stderr(&result));
}

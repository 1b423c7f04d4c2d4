//! The `lockstep` command's contract: compile, inspect and predict work end to end, help
//! explains each subcommand, and bad input fails with one line naming the file, row or column.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{lockstep, model_features, stderr, stdout, synth_cohort, train_death, train_where};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The first committed XGBoost JSON binary:logistic fixture: (model path, name).
fn binary_fixture() -> (PathBuf, String) {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    let case = manifest
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["model_format"] == "json" && c["objective"] == "binary:logistic")
        .expect("an XGBoost JSON binary fixture");
    (
        fixtures().join(case["model_file"].as_str().expect("path")),
        case["name"].as_str().expect("name").to_string(),
    )
}

/// Writes the fixture's hex inputs as the decimal CSV a user would have.
fn decimal_rows(name: &str, dir: &Path) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(fixtures().join(format!("cases/{name}.inputs.csv")))
        .expect("inputs");
    let mut lines = text.lines();
    let mut out = String::from(lines.next().expect("header"));
    out.push('\n');
    let mut rows = 0;
    for line in lines {
        let cells: Vec<String> = line
            .split(',')
            .map(|c| {
                let v = f32::from_bits(u32::from_str_radix(c, 16).expect("hex"));
                if v.is_nan() {
                    String::new()
                } else {
                    format!("{v:?}")
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
        rows += 1;
    }
    let path = dir.join("rows.csv");
    std::fs::write(&path, out).expect("write rows");
    (path, rows)
}

fn compiled(dir: &Path) -> (PathBuf, String) {
    let (model, name) = binary_fixture();
    let out = dir.join("model.lsm");
    let result = lockstep(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "compile failed: {}",
        stderr(&result)
    );
    assert!(
        stderr(&result).contains("compiled XGBoost JSON"),
        "{}",
        stderr(&result)
    );
    (out, name)
}

#[test]
fn predict_bits_reproduce_xgboost_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, name) = compiled(dir.path());
    let (rows, n_rows) = decimal_rows(&name, dir.path());
    let scores = dir.path().join("scores.csv");
    let result = lockstep(&[
        "predict",
        "-m",
        model.to_str().unwrap(),
        "-i",
        rows.to_str().unwrap(),
        "-o",
        scores.to_str().unwrap(),
        "--bits",
        // The frameworks' vectors include infinities.
        "--allow-infinite",
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let got = std::fs::read_to_string(&scores).expect("scores");
    let want = std::fs::read_to_string(fixtures().join(format!("cases/{name}.expected.csv")))
        .expect("expected");
    let mut got_lines = got.lines();
    assert_eq!(got_lines.next(), Some("margin,prob"));
    let got_rows: Vec<&str> = got_lines.collect();
    let want_rows: Vec<String> = want
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(got_rows.len(), n_rows);
    assert_eq!(got_rows, want_rows);
}

#[test]
fn predict_writes_decimal_to_stdout_and_ignores_extra_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, _) = compiled(dir.path());
    let names: Vec<String> = {
        let result = lockstep(&["inspect", model.to_str().unwrap(), "--json"]);
        let json: serde_json::Value = serde_json::from_str(&stdout(&result)).expect("inspect JSON");
        json["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Columns in reverse order with an extra one; a missing cell and an explicit NaN.
    let mut header: Vec<String> = names.iter().rev().cloned().collect();
    header.push("patient_id".into());
    let row1: Vec<String> = (0..names.len())
        .map(|_| "0.5".to_string())
        .chain(["17".to_string()])
        .collect();
    let row2: Vec<String> = (0..names.len())
        .map(|i| if i == 0 { "NaN".into() } else { String::new() })
        .chain(["18".to_string()])
        .collect();
    let csv = format!(
        "{}\n{}\n{}\n",
        header.join(","),
        row1.join(","),
        row2.join(",")
    );
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, csv).unwrap();
    let result = lockstep(&[
        "predict",
        "-m",
        model.to_str().unwrap(),
        "-i",
        rows.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let out = stdout(&result);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "margin,prob");
    for line in &lines[1..] {
        let prob: f32 = line.split(',').nth(1).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&prob), "{line}");
    }
}

#[test]
fn inspect_reports_structure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, _) = compiled(dir.path());
    let text = stdout(&lockstep(&["inspect", model.to_str().unwrap()]));
    for needle in [
        "sha256",
        "trees",
        "8 bytes per node",
        "depth",
        "source        xgboost",
        "BinaryLogistic",
    ] {
        assert!(
            text.contains(needle),
            "inspect text lacks '{needle}':\n{text}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&lockstep(&[
        "inspect",
        model.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["bytes_per_node"], 8);
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
    assert!(json["n_trees"].as_u64().unwrap() > 0);

    // The worst-case cost: each tree's longest path, counted here from the tree views.
    fn path_nodes(tree: &lockstep_engine::view::TreeView<'_>, index: usize) -> u64 {
        match tree.node(index).expect("node") {
            lockstep_engine::view::NodeView::Leaf { .. } => 1,
            lockstep_engine::view::NodeView::Split { left, .. } => {
                1 + path_nodes(tree, left).max(path_nodes(tree, left + 1))
            }
        }
    }
    let bytes = std::fs::read(&model).expect("model");
    let loaded = lockstep_engine::Model::from_bytes(&bytes).expect("load");
    let visits: u64 = loaded.trees().map(|tree| path_nodes(&tree, 0)).sum();
    assert!(visits > json["n_trees"].as_u64().unwrap());
    let cost = &json["cost"];
    assert_eq!(cost["node_visits_max"], visits);
    assert_eq!(
        (cost["linear_terms"].as_u64(), cost["level_codes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(cost["work_items_max"], visits);
    assert_eq!(cost["stack_bytes_cortex_m"], loaded.cost().stack_bytes_max);
    let line = format!("cost          at most {visits} work items per row ({visits} node visits");
    assert!(text.contains(&line), "inspect text lacks '{line}':\n{text}");
}

fn assert_one_line_failure(result: &Output, needles: &[&str]) {
    assert!(!result.status.success(), "expected failure");
    let err = stderr(result);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "error lacks '{needle}': {err}");
    }
}

#[test]
fn compile_refuses_unknown_and_malformed_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unknown = dir.path().join("model.bin");
    std::fs::write(&unknown, b"PK\x03\x04 not a model").unwrap();
    let out = dir.path().join("out.lsm");
    let result = lockstep(&[
        "compile",
        unknown.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_one_line_failure(&result, &["model.bin", "unrecognised model file"]);
    let malformed = dir.path().join("broken.json");
    std::fs::write(&malformed, b"{\"learner\": {\"gradient_booster\": ").unwrap();
    let result = lockstep(&[
        "compile",
        malformed.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_one_line_failure(&result, &["broken.json", "malformed XGBoost JSON"]);
    let missing = dir.path().join("nope.json");
    let result = lockstep(&[
        "compile",
        missing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_one_line_failure(&result, &["nope.json", "cannot read"]);
    assert!(!out.exists(), "no output is written on failure");
}

#[test]
fn predict_names_missing_columns_and_bad_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, name) = compiled(dir.path());
    let (rows, _) = decimal_rows(&name, dir.path());
    let text = std::fs::read_to_string(&rows).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let first = header.split(',').next().unwrap().to_string();

    let renamed = dir.path().join("renamed.csv");
    std::fs::write(&renamed, text.replacen(&first, "something_else", 1)).unwrap();
    let result = lockstep(&[
        "predict",
        "-m",
        model.to_str().unwrap(),
        "-i",
        renamed.to_str().unwrap(),
    ]);
    assert_one_line_failure(
        &result,
        &["renamed.csv", &format!("missing feature column '{first}'")],
    );

    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(String::from).collect();
    cells[0] = "abc".into();
    lines[3] = cells.join(",");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let result = lockstep(&[
        "predict",
        "-m",
        model.to_str().unwrap(),
        "-i",
        bad.to_str().unwrap(),
    ]);
    assert_one_line_failure(
        &result,
        &[
            "bad.csv",
            "line 4",
            &format!("column '{first}'"),
            "'abc' is not a finite number",
        ],
    );

    let not_model = dir.path().join("fake.lsm");
    std::fs::write(
        &not_model,
        b"LSTP\x01\x00\x00\x00garbage garbage garbage garbage garbage",
    )
    .unwrap();
    let result = lockstep(&[
        "predict",
        "-m",
        not_model.to_str().unwrap(),
        "-i",
        rows.to_str().unwrap(),
    ]);
    assert_one_line_failure(
        &result,
        &["fake.lsm", "not a valid lockstep model", "checksum"],
    );
}

#[test]
fn help_explains_every_subcommand() {
    let top = stdout(&lockstep(&["--help"]));
    for sub in ["compile", "predict", "inspect"] {
        assert!(top.contains(sub), "top-level help lacks {sub}");
        let help = lockstep(&[sub, "--help"]);
        assert!(help.status.success());
        assert!(stdout(&help).len() > 200, "{sub} --help is too thin");
    }
    assert!(stdout(&lockstep(&["predict", "--help"])).contains("--bits"));
}

#[test]
fn parity_checks_a_users_model_and_vectors_on_a_device_and_writes_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, name) = compiled(dir.path());
    let (rows, n_rows) = decimal_rows(&name, dir.path());
    let record = dir.path().join("parity.json");
    let result = lockstep(&[
        "parity",
        "-m",
        model.to_str().unwrap(),
        "--vectors",
        rows.to_str().unwrap(),
        "-t",
        "cortex-m4f",
        "--record",
        record.to_str().unwrap(),
        "--cost",
    ]);
    assert!(
        result.status.success(),
        "{}{}",
        stdout(&result),
        stderr(&result)
    );
    assert!(
        stdout(&result).contains(&format!("cortex-m4f: {n_rows}/{n_rows} bit-exact")),
        "{}",
        stdout(&result)
    );
    assert!(stdout(&result).contains("instr/infer"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(json["n_vectors"], n_rows);
    assert_eq!(json["targets"][0]["mismatched_values"], 0);
    assert_eq!(
        json["targets"][0]["device_model_sha256"],
        json["model_sha256"]
    );
    assert!(
        json["targets"][0]["cost"]["instructions_per_inference"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let corrupt = lockstep(&[
        "parity",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "cortex-m4f",
        "--corrupt-device-output",
    ]);
    assert_eq!(
        corrupt.status.code(),
        Some(3),
        "a mismatch exits with status 3"
    );
    assert!(
        stdout(&corrupt).contains("row 0 margin_0: host"),
        "{}",
        stdout(&corrupt)
    );

    let unknown = lockstep(&["parity", "-m", model.to_str().unwrap(), "-t", "cortex-a53"]);
    assert_one_line_failure(
        &unknown,
        &[
            "unknown target 'cortex-a53'",
            "cortex-m0, cortex-m4f, cortex-m33",
        ],
    );
}

/// Writes a public key file for the seal of `secret` (the format `keys.rs` reads).
fn public_key_file(dir: &Path, name: &str, secret: [u8; 32]) -> PathBuf {
    let path = dir.join(name);
    let text = lockstep_host::keys::public_text(&lockstep_seal::public_key(&secret));
    std::fs::write(&path, text).expect("key file");
    path
}

#[test]
fn parity_runs_a_sealed_model_verified_on_the_device_and_refuses_it_without_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = fixtures().join("sealed/bedside-v5.lss");
    let pubkey = fixtures().join("sealed/signer.pub");
    let (sealed_arg, pubkey_arg) = (sealed.to_str().unwrap(), pubkey.to_str().unwrap());

    let without_key = lockstep(&["parity", "-m", sealed_arg, "-t", "cortex-m4f"]);
    assert_one_line_failure(
        &without_key,
        &["bedside-v5.lss", "is a sealed model", "--pubkey"],
    );

    let other = public_key_file(dir.path(), "other.pub", [0xa7; 32]);
    let wrong_key = lockstep(&[
        "parity",
        "-m",
        sealed_arg,
        "--pubkey",
        other.to_str().unwrap(),
        "-t",
        "cortex-m4f",
    ]);
    assert_one_line_failure(&wrong_key, &["other.pub", "sealed with a different key"]);

    let too_old = lockstep(&[
        "parity",
        "-m",
        sealed_arg,
        "--pubkey",
        pubkey_arg,
        "--min-version",
        "6",
        "-t",
        "cortex-m4f",
    ]);
    assert_one_line_failure(&too_old, &["model version 5 is older than the minimum 6"]);

    let unsigned = fixtures().join("../../firmware-demo/models/bedside.lsm");
    let not_sealed = lockstep(&[
        "parity",
        "-m",
        unsigned.to_str().unwrap(),
        "--pubkey",
        pubkey_arg,
        "-t",
        "cortex-m4f",
    ]);
    assert_one_line_failure(&not_sealed, &["is not a sealed model", "drop --pubkey"]);

    let record = dir.path().join("sealed.json");
    let result = lockstep(&[
        "parity",
        "-m",
        sealed_arg,
        "--pubkey",
        pubkey_arg,
        "--min-version",
        "5",
        "-t",
        "cortex-m4f",
        "--random-rows",
        "20",
        "--record",
        record.to_str().unwrap(),
        "--cost",
    ]);
    assert!(
        result.status.success(),
        "{}{}",
        stdout(&result),
        stderr(&result)
    );
    let out = stdout(&result);
    assert!(out.contains("seal: version 5 key id"), "{out}");
    assert!(out.contains("cortex-m4f: seal verification"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(json["seal"]["version"], 5);
    assert_eq!(json["seal"]["min_version"], 5);
    assert_eq!(json["seal"]["verified_on_device"], true);
    assert_eq!(
        json["seal"]["key_id"],
        lockstep_host::keys::key_id_hex(&lockstep_host::keys::read_public(&pubkey).unwrap())
    );
    assert_eq!(json["targets"][0]["mismatched_values"], 0);
    assert!(
        json["targets"][0]["cost"]["seal_verify_instructions"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn synth_then_train_gives_identical_models_and_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cohort, schema) = synth_cohort(dir.path(), "4000", "7");
    let train = |out: &Path, threads: &str| {
        let config = dir.path().join(format!("config-{threads}.toml"));
        std::fs::write(
            &config,
            format!("[gbdt]\nn_trees = 40\nmax_depth = 3\nthreads = {threads}\n"),
        )
        .unwrap();
        let result = train_death(&cohort, &schema, &config, out);
        assert!(result.status.success(), "{}", stderr(&result));
        std::fs::read(out).unwrap()
    };
    let a = train(&dir.path().join("a.lsm"), "1");
    let b = train(&dir.path().join("b.lsm"), "2");
    assert_eq!(
        a, b,
        "same data, settings and seed give the same bytes on 1 and 2 threads"
    );
    assert_eq!(
        std::fs::read(dir.path().join("a.training.json")).unwrap(),
        std::fs::read(dir.path().join("b.training.json")).unwrap(),
        "the training record does not depend on the thread count either"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a.training.json")).unwrap())
            .unwrap();
    assert_eq!(record["target"], "death_2y");
    assert_eq!(record["data_sha256"].as_str().unwrap().len(), 64);
    assert!(record["test"]["rows"].as_u64().unwrap() > 0);
    assert!(
        record["test_auc"].as_f64().unwrap() > 0.6,
        "{}",
        record["test_auc"]
    );
    assert!(!record["rounds"].as_array().unwrap().is_empty());
    let inspect = stdout(&lockstep(&[
        "inspect",
        dir.path().join("a.lsm").to_str().unwrap(),
    ]));
    assert!(inspect.contains("source        lockstep"), "{inspect}");

    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&cohort).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[5] = lines[5]
        .replacen(",female,", ",robot,", 1)
        .replacen(",male,", ",robot,", 1);
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let result = lockstep(&[
        "train",
        "--data",
        bad.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
        "-o",
        dir.path().join("c.lsm").to_str().unwrap(),
        "--quiet",
    ]);
    assert_one_line_failure(&result, &["bad.csv", "line 6", "sex", "robot"]);
}

#[test]
fn xgboost_names_train_the_same_model_and_the_record_lists_the_settings_in_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cohort, schema) = synth_cohort(dir.path(), "3000", "11");
    let train = |name: &str, config_text: &str| -> (Output, Vec<u8>, Vec<u8>) {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, config_text).unwrap();
        let out = dir.path().join(format!("{name}.lsm"));
        let result = train_death(&cohort, &schema, &config, &out);
        if !result.status.success() {
            return (result, Vec::new(), Vec::new());
        }
        let record = std::fs::read(out.with_extension("training.json")).unwrap();
        (result, std::fs::read(out).unwrap(), record)
    };
    let lockstep_names = "valid_fraction = 0.0\n[gbdt]\nn_trees = 25\nlearning_rate = 0.2\n\
        max_depth = 3\nmin_child_weight = 2.0\nlambda = 2.0\nalpha = 0.1\ngamma = 0.05\n\
        subsample = 0.9\ncolsample_bytree = 0.9\nmonotone = [[\"age\", 1]]\nmax_bins = 64\n\
        seed = 7\nthreads = 1\n";
    let xgboost_names = "valid_fraction = 0.0\n[gbdt]\nn_estimators = 25\neta = 0.2\n\
        max_depth = 3\nmin_child_weight = 2.0\nreg_lambda = 2.0\nreg_alpha = 0.1\n\
        min_split_loss = 0.05\nsubsample = 0.9\ncolsample_bytree = 0.9\n\
        monotone_constraints = { age = 1 }\nmax_bin = 63\nrandom_state = 7\nthreads = 2\n";
    let (result, own_model, own_record) = train("lockstep-names", lockstep_names);
    assert!(result.status.success(), "{}", stderr(&result));
    let (result, xgb_model, xgb_record) = train("xgboost-names", xgboost_names);
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(
        own_model, xgb_model,
        "XGBoost's names mean the same settings"
    );
    assert_eq!(
        own_record, xgb_record,
        "the record lists the settings in effect under one set of names"
    );
    let record: serde_json::Value = serde_json::from_slice(&own_record).unwrap();
    let settings = &record["config"];
    assert_eq!(settings["valid_fraction"], 0.0);
    assert_eq!(record["valid"]["rows"], 0);
    assert!(
        settings["gbdt"]["early_stopping_rounds"].is_null(),
        "no early stopping without validation rows: {settings}"
    );
    assert_eq!(settings["gbdt"]["max_bins"], 64);
    assert_eq!(settings["gbdt"]["max_bin"], 63);
    assert!(settings["gbdt"].get("threads").is_none(), "{settings}");
    assert!(settings.get("forest").is_none() && settings.get("logistic").is_none());
    assert_eq!(record["n_trees"], 25);

    // With the default validation set early stopping is in effect, and the record says so.
    let (result, _, record) = train("default", "[gbdt]\nn_trees = 5\n");
    assert!(result.status.success(), "{}", stderr(&result));
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["config"]["valid_fraction"], 0.2);
    assert_eq!(record["config"]["gbdt"]["early_stopping_rounds"], 30);
    assert!(record["valid"]["rows"].as_u64().unwrap() > 0);
    let (result, _, record) = train("off", "[gbdt]\nn_trees = 5\nearly_stopping_rounds = 0\n");
    assert!(result.status.success(), "{}", stderr(&result));
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert!(record["config"]["gbdt"]["early_stopping_rounds"].is_null());

    let (result, _, _) = train("both", "[gbdt]\nn_trees = 5\nn_estimators = 5\n");
    assert_one_line_failure(
        &result,
        &[
            "both.toml",
            "[gbdt]",
            "`n_trees`",
            "`n_estimators`",
            "keep one",
        ],
    );
    let (result, _, _) = train("bins", "[gbdt]\nmax_bin = 256\n");
    assert_one_line_failure(&result, &["bins.toml", "max_bin = 256", "1..=255"]);
}

#[test]
fn train_fits_forests_and_logistic_paths_and_records_the_selection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cohort, schema) = synth_cohort(dir.path(), "3000", "5");
    let train = |name: &str, config_text: &str| -> (Output, Vec<u8>, serde_json::Value) {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, config_text).unwrap();
        let out = dir.path().join(format!("{name}.lsm"));
        let result = train_death(&cohort, &schema, &config, &out);
        if !result.status.success() {
            return (result, Vec::new(), serde_json::Value::Null);
        }
        let record = serde_json::from_str(
            &std::fs::read_to_string(out.with_extension("training.json")).unwrap(),
        )
        .unwrap();
        (result, std::fs::read(out).unwrap(), record)
    };

    let forest = "kind = \"forest\"\n[forest]\nn_trees = 24\nmax_depth = 5\nthreads = ";
    let (_, one, record) = train("forest1", &format!("{forest}1\n"));
    let (_, two, _) = train("forest2", &format!("{forest}2\n"));
    assert!(!one.is_empty());
    assert_eq!(one, two, "forest bytes do not depend on the thread count");
    assert_eq!(record["kind"], "forest");
    assert_eq!(record["n_trees"], 24);
    assert!(record["best_round"].is_null());

    let logistic = "kind = \"logistic\"\n[logistic]\nn_lambdas = 30\nfolds = 4\n";
    let (result, a, record) = train("logistic-a", logistic);
    let (_, b, _) = train("logistic-b", logistic);
    assert!(!a.is_empty());
    assert_eq!(a, b, "the logistic path is reproducible");
    assert!(
        stderr(&result).contains("elastic-net path of 30 lambdas"),
        "{}",
        stderr(&result)
    );
    assert_eq!(record["kind"], "logistic");
    assert_eq!(record["n_trees"], 0);
    let path = &record["logistic"];
    assert_eq!(path["lambdas"].as_array().unwrap().len(), 30);
    let excluded: Vec<&str> = path["excluded_variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(excluded.is_empty(), "every feature is fitted: {excluded:?}");
    let coefficients = path["coefficients"].as_array().unwrap();
    // Multi-level categoricals are dummy coded against their first level, grouped per feature.
    let diagnosis = coefficients
        .iter()
        .find(|c| c["name"] == "diagnosis")
        .expect("diagnosis is fitted");
    assert_eq!(diagnosis["reference"], "osteoarthritis");
    let levels = diagnosis["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 5);
    assert_eq!(levels[0]["level"], "osteoarthritis");
    assert_eq!(levels[0]["coefficient"], 0.0);
    assert!(diagnosis["missing_term"].is_f64());
    let used = |c: &serde_json::Value| match c["levels"].as_array() {
        Some(levels) => levels
            .iter()
            .any(|l| l["coefficient"].as_f64().unwrap() != 0.0),
        None => c["coefficient"].as_f64().unwrap() != 0.0,
    };
    let nonzero: Vec<&str> = coefficients
        .iter()
        .filter(|c| used(c))
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let selected: Vec<&str> = record["selected_variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(selected, nonzero, "selected variables are the nonzero ones");
    assert!(
        selected.contains(&"age"),
        "age drives death in the cohort: {selected:?}"
    );
    assert!(record["test_auc"].as_f64().unwrap() > 0.6);
    let inspect = stdout(&lockstep(&[
        "inspect",
        dir.path().join("logistic-a.lsm").to_str().unwrap(),
    ]));
    assert!(inspect.contains("linear terms"), "{inspect}");

    let (result, _, _) = train("bad", "kind = \"svm\"\n");
    assert!(!result.status.success());
    let err = stderr(&result);
    for needle in ["bad.toml", "line 1", "svm", "gbdt", "forest", "logistic"] {
        assert!(err.contains(needle), "error lacks '{needle}': {err}");
    }
}

#[test]
fn train_where_reads_any_declared_column_and_only_features_become_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cohort, schema) = synth_cohort(dir.path(), "4000", "9");
    let config = dir.path().join("small.toml");
    std::fs::write(&config, "[gbdt]\nn_trees = 5\nmax_depth = 2\n").unwrap();
    let train = |schema: &Path, condition: &str, out: &str| {
        let out = dir.path().join(out);
        let result = train_where(&cohort, schema, &config, condition, &out);
        (result, model_features(&out))
    };

    // The id column splits the rows (ids 1 to 4000) and is never a model input; neither is
    // the split column.
    let (result, features) = train(&schema, "patient_id <= 3000", "by_id.lsm");
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(features.len(), 19, "{features:?}");
    for name in ["patient_id", "surgery_year"] {
        assert!(
            !features.iter().any(|f| f == name),
            "{name} in {features:?}"
        );
    }
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("by_id.training.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["test"]["rows"], 1000);
    let summaries = record["feature_summaries"].as_array().unwrap();
    assert!(summaries.iter().all(|s| s["name"] != "surgery_year"));

    // A schema written before roles (surgery year a feature, the id an ignored [[column]])
    // still loads, and then the year is an input because the schema says so.
    let text = std::fs::read_to_string(&schema).unwrap();
    let old_text = text
        .replace(
            "[[id]]\nname = \"patient_id\"\ntype = \"integer\"\nmin = 1\n",
            "[[column]]\nname = \"patient_id\"\n",
        )
        .replace("[[split]]", "[[feature]]");
    assert_ne!(old_text, text);
    let old_schema = dir.path().join("old.schema.toml");
    std::fs::write(&old_schema, old_text).unwrap();
    let (result, features) = train(&old_schema, "surgery_year <= 2015", "old.lsm");
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(features.len(), 20, "{features:?}");
    assert_eq!(features[0], "surgery_year");

    // An undeclared column is refused, naming the columns a condition can use.
    let (result, _) = train(&schema, "height > 2", "none.lsm");
    assert_one_line_failure(
        &result,
        &["'height'", "surgery_year", "patient_id", "death_2y"],
    );
}

#[test]
fn predict_names_a_classifiers_output_prob_and_a_regressions_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = |model: &Path, rows: &Path| -> String {
        let result = lockstep(&[
            "predict",
            "-m",
            model.to_str().unwrap(),
            "-i",
            rows.to_str().unwrap(),
            "--allow-infinite",
        ]);
        assert!(result.status.success(), "{}", stderr(&result));
        stdout(&result)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };

    // A forest classifier: its output is a probability.
    let (cohort, schema) = synth_cohort(dir.path(), "1500", "3");
    let config = dir.path().join("forest.toml");
    std::fs::write(&config, "kind = \"forest\"\n[forest]\nn_trees = 4\n").unwrap();
    let forest = dir.path().join("forest.lsm");
    let result = train_death(&cohort, &schema, &config, &forest);
    assert!(result.status.success(), "{}", stderr(&result));
    let names: Vec<String> = lockstep_host::data::load_schema(&schema)
        .expect("schema")
        .features
        .into_iter()
        .map(|f| f.name)
        .collect();
    let rows = dir.path().join("missing.csv");
    std::fs::write(
        &rows,
        format!("{}\n{}\n", names.join(","), ",".repeat(names.len() - 1)),
    )
    .unwrap();
    assert_eq!(header(&forest, &rows), "margin,prob");

    // A LightGBM regression: its output is a value.
    let regression = dir.path().join("regression.lsm");
    let result = lockstep(&[
        "compile",
        fixtures()
            .join("cases/lgb-4.7.0-regression.txt")
            .to_str()
            .unwrap(),
        "-o",
        regression.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let (rows, _) = decimal_rows("lgb-4.7.0-regression", dir.path());
    assert_eq!(header(&regression, &rows), "margin,value");
}

/// An error that wraps a cause names only its operation; the cause is its source, not repeated
/// in its own text (so a chain or `{:#}` prints it once).
fn assert_cause_not_repeated(error: &(dyn std::error::Error + 'static)) {
    let cause = error
        .source()
        .expect("the error keeps its cause as its source");
    let (own, cause) = (error.to_string(), cause.to_string());
    assert!(
        !own.contains(&cause),
        "'{own}' repeats its source '{cause}'"
    );
}

#[test]
fn wrapping_errors_name_their_operation_and_keep_the_cause_as_source() {
    use lockstep_host::predict::PredictError;
    use lockstep_host::train::config::TrainConfig;
    use lockstep_host::train::pipeline::TrainingError;
    let disk = || std::io::Error::other("disk on fire");
    let config = TrainConfig::from_toml("[gbdt]\nmax_bin = 0\n").unwrap_err();
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(PredictError::Io(disk())),
        Box::new(PredictError::Open(disk())),
        Box::new(PredictError::Csv(csv::Error::from(disk()))),
        Box::new(PredictError::Engine(lockstep_engine::Error::Empty)),
        Box::new(TrainingError::Train(
            lockstep_host::train::TrainError::NoRows,
        )),
        Box::new(TrainingError::Linear(
            lockstep_host::train::linear::LinearError::NoRows,
        )),
        Box::new(TrainingError::Build(
            lockstep_engine::builder::BuildError::Invalid(lockstep_engine::Error::Empty),
        )),
        Box::new(TrainingError::ConfigInvalid {
            file: "c.toml".into(),
            source: config,
        }),
    ];
    for error in &errors {
        assert_cause_not_repeated(error.as_ref());
    }
}

#[test]
fn the_command_line_prints_every_cause_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cohort, schema) = synth_cohort(d, "300", "1");
    let train = |config: &str| {
        let path = d.join("config.toml");
        std::fs::write(&path, config).unwrap();
        stderr(&train_death(&cohort, &schema, &path, &d.join("m.lsm")))
    };
    let (model, _) = compiled(d);
    let features = model_features(&model);
    let rows = d.join("rows.csv");
    let mut bad_utf8 = format!("{}\n", features.join(",")).into_bytes();
    bad_utf8.extend_from_slice(b"\xff\n");
    std::fs::write(&rows, bad_utf8).unwrap();
    let predict = stderr(&lockstep(&[
        "predict",
        "-m",
        model.to_str().unwrap(),
        "--input",
        rows.to_str().unwrap(),
    ]));
    let parity = stderr(&lockstep(&[
        "parity",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "cortex-m4f",
        "--vectors",
        d.join("none.csv").to_str().unwrap(),
    ]));
    for (err, operation, cause) in [
        (
            train("[gbdt]\nmax_bin = 0\n"),
            "config.toml'",
            "max_bin = 0: must be in 1..=255",
        ),
        (
            train("kind = \n"),
            "config.toml'",
            "string values must be quoted",
        ),
        (
            train("[gbdt]\nlearning_rate = 0\n"),
            "training:",
            "learning_rate must be in (0, 1]",
        ),
        (predict, "reading the CSV:", "invalid UTF-8"),
        (parity, "opening the input:", "No such file or directory"),
    ] {
        assert!(err.starts_with("error: "), "{err}");
        assert_eq!(err.matches(operation).count(), 1, "{err}");
        assert_eq!(err.matches(cause).count(), 1, "{err}");
    }
}

#[test]
fn inspect_json_escapes_del_c1_and_bidi_characters_from_the_model() {
    use lockstep_engine::builder::{ModelSpec, NodeSpec, TreeSpec};
    use lockstep_engine::format::{Aggregation, BaseOrder, Framework, Numerics, Objective};
    // DEL, NEL, CSI (the C1 form of ESC [) and a right-to-left override.
    let name = "age\u{7f}\u{85}\u{9b}31m\u{202e}x";
    let label = "label\u{9b}2J";
    let bytes = ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.0],
        feature_names: vec![name.into()],
        feature_ranges: None,
        trees: vec![TreeSpec {
            output: 0,
            nodes: vec![NodeSpec::Leaf { value: 0.5 }],
        }],
        source_framework: Framework::Lockstep,
        source_version: "test".into(),
        label: label.into(),
        sections: vec![],
    }
    .to_bytes()
    .expect("build");
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("m.lsm");
    std::fs::write(&model, bytes).unwrap();
    let result = lockstep(&["inspect", model.to_str().unwrap(), "--json"]);
    assert!(result.status.success(), "{}", stderr(&result));
    let json = stdout(&result);
    let raw: Vec<char> = json
        .chars()
        .filter(|&c| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{202e}')
        .collect();
    assert!(raw.is_empty(), "raw characters {raw:?} in:\n{json}");
    assert!(
        json.contains(r"age\u007f\u0085\u009b31m\u202ex") && json.contains(r"label\u009b2J"),
        "{json}"
    );
    // Still JSON, and it still means the model's exact text.
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["features"][0]["name"], name);
    assert_eq!(value["label"], label);
}

#[test]
fn compile_writes_format_version_2_on_request_with_the_same_predictions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (v1, name) = compiled(dir.path());
    let (source, _) = binary_fixture();
    let compile_version = |out: &Path, version: &str| {
        lockstep(&[
            "compile",
            source.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--format-version",
            version,
        ])
    };
    let v2 = dir.path().join("model-v2.lsm");
    let result = compile_version(&v2, "2");
    assert!(result.status.success(), "{}", stderr(&result));
    let (bytes_v1, bytes_v2) = (std::fs::read(&v1).unwrap(), std::fs::read(&v2).unwrap());
    assert_eq!(
        (&bytes_v1[4..6], &bytes_v2[4..6]),
        (&[1u8, 0][..], &[2u8, 0][..])
    );
    assert!(
        bytes_v2.len() < bytes_v1.len(),
        "{} vs {}",
        bytes_v2.len(),
        bytes_v1.len()
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&lockstep(&[
        "inspect",
        v2.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["format_version"], 2, "{json}");

    // Both files score every fixture row to the same bits.
    let (rows, _) = decimal_rows(&name, dir.path());
    let score = |model: &Path| {
        let result = lockstep(&[
            "predict",
            "-m",
            model.to_str().unwrap(),
            "-i",
            rows.to_str().unwrap(),
            "--bits",
            "--allow-infinite",
        ]);
        assert!(result.status.success(), "{}", stderr(&result));
        stdout(&result)
    };
    assert_eq!(score(&v1), score(&v2));

    // An unknown version is a command-line error (exit 2) and writes nothing.
    let v3 = dir.path().join("model-v3.lsm");
    let result = compile_version(&v3, "3");
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(!v3.exists());
}

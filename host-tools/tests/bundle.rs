//! Locked, signed bundles: `keygen`, `sign`, `bundle::package`, `bundle verify` (every changed
//! byte, added, removed or foreign file, swapped signature and other key refused; no row-level
//! data) and `bundle reproduce` (same bytes from the manifest; changed data refused).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{lockstep, stderr, stdout};
use lockstep_host::bundle::{self, PackageInputs};
use lockstep_host::{data, keys};

/// Everything the tests share: a small model trained on the bundled cohort, its validation
/// report, a key pair and one packaged bundle.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cohort: PathBuf,
    inputs: PackageInputs,
    secret: keys::SecretKey,
    pubkey: PathBuf,
    bundle: PathBuf,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/arthroplasty")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let cohort = examples().join("cohort.csv");
        let schema = examples().join("cohort.schema.toml");
        let config = root.join("small.toml");
        fs::write(
            &config,
            "kind = \"gbdt\"\n[gbdt]\nn_trees = 8\nmax_depth = 2\nearly_stopping_rounds = 0\n",
        )
        .unwrap();
        let model = root.join("model.lsm");
        let trained = common::train_death(&cohort, &schema, &config, &model);
        assert!(trained.status.success(), "{}", stderr(&trained));
        let plan = root.join("plan.toml");
        fs::write(
            &plan,
            "target = \"death_2y\"\nrows = \"surgery_year > 2015\"\n[metrics]\nbootstrap_resamples = 100\n\
             [acceptance]\nmin_auc_lower = 0.5\n",
        )
        .unwrap();
        let report = root.join("report");
        let validated = lockstep(&[
            "validate",
            "-m",
            model.to_str().unwrap(),
            "--data",
            cohort.to_str().unwrap(),
            "--schema",
            schema.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--training-record",
            root.join("model.training.json").to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(validated.status.success(), "{}", stderr(&validated));
        let keygen = lockstep(&["keygen", "-o", root.join("keys/signer").to_str().unwrap()]);
        assert!(keygen.status.success(), "{}", stderr(&keygen));
        let secret = keys::read_secret(&root.join("keys/signer.key")).unwrap();

        let parsed = data::load_schema(&schema).unwrap();
        let dataset = data::load_csv(&cohort, &parsed).unwrap();
        let rule = "surgery_year <= 2015";
        let in_train = dataset.rows_where(rule).unwrap();
        let split = bundle::split_summary(&dataset, rule, &in_train, Some("surgery_year")).unwrap();
        let inputs = PackageInputs {
            model: fs::read(&model).unwrap(),
            version: 3,
            training_record: fs::read(root.join("model.training.json")).unwrap(),
            report_json: fs::read(report.join("report.json")).unwrap(),
            report_html: fs::read(report.join("report.html")).unwrap(),
            parity_record: None,
            schema: fs::read(&schema).unwrap(),
            schema_file_name: "cohort.schema.toml".into(),
            split,
        };
        let bundle_dir = root.join("bundle");
        bundle::package(&inputs, &bundle_dir, &secret, false).unwrap();
        Fixture {
            _dir: dir,
            pubkey: root.join("keys/signer.pub"),
            root,
            cohort,
            inputs,
            secret,
            bundle: bundle_dir,
        }
    })
}

/// A copy of the fixture's bundle at a fresh path under the fixture's folder.
fn copy_of_bundle(name: &str) -> PathBuf {
    let f = fixture();
    let copy = f.root.join("copies").join(name);
    let _ = fs::remove_dir_all(&copy);
    fs::create_dir_all(&copy).unwrap();
    for entry in fs::read_dir(&f.bundle).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    copy
}

fn verify(dir: &Path, pubkey: &Path) -> std::process::Output {
    lockstep(&[
        "bundle",
        "verify",
        dir.to_str().unwrap(),
        "--pubkey",
        pubkey.to_str().unwrap(),
    ])
}

/// Asserts `verify` refuses `dir` with a line naming `file` and `rule`.
fn assert_refused(dir: &Path, pubkey: &Path, file: &str, rule: &str) {
    let result = verify(dir, pubkey);
    let text = stderr(&result);
    assert_eq!(
        result.status.code(),
        Some(1),
        "accepted: {}",
        stdout(&result)
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{file}: {rule}"))),
        "no '{file}: {rule}' line in:\n{text}"
    );
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_fresh_bundle_verifies_and_packaging_again_gives_the_same_bytes() {
    let f = fixture();
    let result = verify(&f.bundle, &f.pubkey);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(stdout(&result).contains("verified"), "{}", stdout(&result));
    assert_eq!(
        file_names(&f.bundle),
        [
            "manifest.json",
            "manifest.sig",
            "model.lsm",
            "model.lss",
            "report.html",
            "report.json",
            "sbom.cdx.json",
            "schema.toml",
            "training.json"
        ]
    );
    let again = f.root.join("again");
    bundle::package(&f.inputs, &again, &f.secret, false).unwrap();
    for name in file_names(&f.bundle) {
        assert_eq!(
            fs::read(f.bundle.join(&name)).unwrap(),
            fs::read(again.join(&name)).unwrap(),
            "{name} differs between two packagings"
        );
    }
    // The manifest holds no path of this machine.
    let manifest = fs::read_to_string(f.bundle.join("manifest.json")).unwrap();
    assert!(!manifest.contains(f.root.to_str().unwrap()));
    let parsed: bundle::Manifest = serde_json::from_str(&manifest).unwrap();
    assert_eq!(parsed.outcome, "death_2y");
    assert_eq!(parsed.model.version, 3);
    assert_eq!(parsed.parity.verdict, "not run");
    let commit = &parsed.lockstep.git_commit;
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert_eq!(parsed.validation.verdict, "accepted");
    assert_eq!(parsed.data.split.basis, "id");
    assert_eq!(parsed.data.split.train_range, Some([2008.0, 2015.0]));
    assert_eq!(parsed.data.split.test_range, Some([2016.0, 2018.0]));
    // An existing bundle is not replaced unless asked.
    let refused = bundle::package(&f.inputs, &again, &f.secret, false).unwrap_err();
    assert!(refused.to_string().contains("already exists"), "{refused}");
    bundle::package(&f.inputs, &again, &f.secret, true).unwrap();
}

#[test]
fn every_changed_byte_of_every_file_is_refused() {
    let f = fixture();
    let mut cases = 0;
    for name in file_names(&f.bundle) {
        let len = fs::metadata(f.bundle.join(&name)).unwrap().len() as usize;
        let mut positions = vec![0, len / 3, len / 2, len - 1];
        positions.dedup();
        for at in positions {
            let copy = copy_of_bundle("byte");
            let path = copy.join(&name);
            let mut bytes = fs::read(&path).unwrap();
            bytes[at] ^= 0x01;
            fs::write(&path, &bytes).unwrap();
            let result = verify(&copy, &f.pubkey);
            assert_eq!(
                result.status.code(),
                Some(1),
                "{name} byte {at} changed and still accepted"
            );
            assert!(
                stderr(&result).contains(&name),
                "{name}: {}",
                stderr(&result)
            );
            cases += 1;
        }
    }
    assert!(cases >= 30, "{cases}");
}

#[test]
fn added_removed_and_foreign_files_a_swapped_signature_and_another_key_are_refused() {
    let f = fixture();
    let added = copy_of_bundle("added");
    fs::write(added.join("notes.txt"), "hello").unwrap();
    assert_refused(&added, &f.pubkey, "notes.txt", "files");

    let cohort = copy_of_bundle("cohort");
    fs::copy(&f.cohort, cohort.join("cohort.csv")).unwrap();
    assert_refused(&cohort, &f.pubkey, "cohort.csv", "files");

    // Even under a bundle file's name, a listed file replaced by the cohort fails.
    let renamed = copy_of_bundle("renamed");
    fs::copy(&f.cohort, renamed.join("report.html")).unwrap();
    assert_refused(&renamed, &f.pubkey, "report.html", "hash");

    for name in ["model.lsm", "report.json", "manifest.sig", "schema.toml"] {
        let removed = copy_of_bundle("removed");
        fs::remove_file(removed.join(name)).unwrap();
        assert_refused(&removed, &f.pubkey, name, "files");
    }

    // The signature of another bundle (same key, another version) does not fit this manifest.
    let other = f.root.join("other-version");
    let inputs = PackageInputs {
        version: 4,
        ..f.inputs.clone()
    };
    bundle::package(&inputs, &other, &f.secret, true).unwrap();
    let swapped = copy_of_bundle("swapped");
    fs::copy(other.join("manifest.sig"), swapped.join("manifest.sig")).unwrap();
    assert_refused(&swapped, &f.pubkey, "manifest.sig", "signature");
    // Its own signature verifies: the refusal above is the swap.
    assert!(verify(&other, &f.pubkey).status.success());

    let another = lockstep(&["keygen", "-o", f.root.join("keys/other").to_str().unwrap()]);
    assert!(another.status.success());
    assert_refused(
        &f.bundle,
        &f.root.join("keys/other.pub"),
        "manifest.sig",
        "signature",
    );
    assert_refused(
        &f.bundle,
        &f.root.join("keys/other.pub"),
        "model.lss",
        "signature",
    );
}

#[test]
fn a_signed_bundle_with_row_level_data_is_refused() {
    let f = fixture();
    // A training record carrying one value per test row.
    let mut record: serde_json::Value = serde_json::from_slice(&f.inputs.training_record).unwrap();
    let test_rows = record["test"]["rows"].as_u64().unwrap() as usize;
    record["test_scores"] = serde_json::json!(vec![0.5; test_rows]);
    let leaky_record = serde_json::to_vec_pretty(&record).unwrap();
    // package refuses to write it.
    let inputs = PackageInputs {
        training_record: leaky_record.clone(),
        ..f.inputs.clone()
    };
    let refused = f.root.join("refused");
    let error = bundle::package(&inputs, &refused, &f.secret, false).unwrap_err();
    assert!(error.to_string().contains("row-level data"), "{error}");
    assert!(!refused.exists());

    // Made by hand, correctly hashed and signed: only the row-level rule can catch it.
    let leaky = copy_of_bundle("leaky");
    fs::write(leaky.join("training.json"), &leaky_record).unwrap();
    let mut manifest: bundle::Manifest =
        serde_json::from_slice(&fs::read(leaky.join("manifest.json")).unwrap()).unwrap();
    let sha = bundle::sha256_hex(&leaky_record);
    manifest.training.record_sha256 = sha.clone();
    let entry = manifest.files.get_mut("training.json").unwrap();
    (entry.sha256, entry.size) = (sha, leaky_record.len() as u64);
    let json = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
    fs::write(leaky.join("manifest.json"), &json).unwrap();
    let signature = lockstep_seal::sign_detached(json.as_bytes(), &f.secret);
    fs::write(leaky.join("manifest.sig"), signature).unwrap();
    let result = verify(&leaky, &f.pubkey);
    let text = stderr(&result);
    assert_eq!(result.status.code(), Some(1), "{}", stdout(&result));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("training.json: "))
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("training.json: row-level data: .test_scores"),
        "{text}"
    );

    let rules = bundle::verify::RowRules {
        id_column: Some("patient_id"),
        row_counts: &[500],
        roc_cap: 10,
    };
    let ids = serde_json::json!({ "rows": [{ "patient_id": 7 }] });
    assert!(rules.check(&ids)[0].contains("id column"));
    let long = serde_json::json!({ "values": vec![1; bundle::verify::MAX_AGGREGATE_ITEMS + 1] });
    assert!(rules.check(&long)[0].contains("more than an aggregate"));
    let roc =
        serde_json::json!({ "roc": [{ "fpr": 0.5, "tpr": 0.5 }, { "fpr": 0.2, "tpr": 0.6 }] });
    assert!(rules.check(&roc)[0].contains("cumulative"));
    let fine = serde_json::json!({ "roc": [{ "threshold": null, "fpr": 0.0, "tpr": 0.0 }], "lambdas": [1, 2, 3] });
    assert!(rules.check(&fine).is_empty());
}

#[test]
fn reproduce_gives_the_same_model_and_refuses_other_data() {
    let f = fixture();
    let result = lockstep(&[
        "bundle",
        "reproduce",
        f.bundle.to_str().unwrap(),
        "--data",
        f.cohort.to_str().unwrap(),
        "--pubkey",
        f.pubkey.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        stdout(&result).contains("reproduced"),
        "{}",
        stdout(&result)
    );

    let changed = f.root.join("changed.csv");
    let mut bytes = fs::read(&f.cohort).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
    fs::write(&changed, &bytes).unwrap();
    let result = lockstep(&[
        "bundle",
        "reproduce",
        f.bundle.to_str().unwrap(),
        "--data",
        changed.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("SHA-256"), "{}", stderr(&result));

    // A manifest naming other model bytes (unsigned here: reproduce without --pubkey reads
    // the manifest as it is) gives the distinct exit code.
    let forged = copy_of_bundle("forged");
    let manifest = fs::read_to_string(forged.join("manifest.json")).unwrap();
    let parsed: bundle::Manifest = serde_json::from_str(&manifest).unwrap();
    let other = "0".repeat(64);
    fs::write(
        forged.join("manifest.json"),
        manifest.replace(&parsed.model.sha256, &other),
    )
    .unwrap();
    let result = lockstep(&[
        "bundle",
        "reproduce",
        forged.to_str().unwrap(),
        "--data",
        f.cohort.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(6), "{}", stderr(&result));
    assert!(stdout(&result).contains("DIFFERENT"), "{}", stdout(&result));
}

#[test]
fn keygen_refuses_to_overwrite_and_sign_seals_a_loadable_model() {
    let f = fixture();
    let base = f.root.join("keys/signer");
    let before = fs::read(f.root.join("keys/signer.key")).unwrap();
    let result = lockstep(&["keygen", "-o", base.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("--force"), "{}", stderr(&result));
    assert_eq!(fs::read(f.root.join("keys/signer.key")).unwrap(), before);

    let fresh = f.root.join("keys/forced");
    assert!(lockstep(&["keygen", "-o", fresh.to_str().unwrap()])
        .status
        .success());
    let first = fs::read(f.root.join("keys/forced.key")).unwrap();
    let result = lockstep(&["keygen", "-o", fresh.to_str().unwrap(), "--force"]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(stdout(&result).starts_with("key id "));
    assert_ne!(fs::read(f.root.join("keys/forced.key")).unwrap(), first);

    let model = f.root.join("model.lsm");
    let sealed = f.root.join("model.lss");
    let result = lockstep(&[
        "sign",
        model.to_str().unwrap(),
        "--key",
        f.root.join("keys/signer.key").to_str().unwrap(),
        "--version",
        "7",
        "-o",
        sealed.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let bytes = fs::read(&sealed).unwrap();
    let public = keys::read_public(&f.pubkey).unwrap();
    let opened = lockstep_seal::open(&bytes, &public, 7).unwrap();
    assert_eq!(opened.model, fs::read(&model).unwrap().as_slice());
    // inspect describes the seal and the model inside.
    let inspected = lockstep(&["inspect", sealed.to_str().unwrap(), "--json"]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let id = keys::key_id_hex(&public);
    assert!(stderr(&inspected).contains(&format!("version 7, key id {id}")));
    let plain = lockstep(&["inspect", model.to_str().unwrap(), "--json"]);
    assert_eq!(inspected.stdout, plain.stdout);

    // A file that is not a model is refused before anything is sealed.
    let not_model = f.root.join("not-a-model.lsm");
    fs::write(&not_model, "hello").unwrap();
    let out = f.root.join("never.lss");
    let result = lockstep(&[
        "sign",
        not_model.to_str().unwrap(),
        "--key",
        f.root.join("keys/signer.key").to_str().unwrap(),
        "--version",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(!out.exists());
}

#[test]
fn a_parity_record_is_bound_to_the_model_and_its_verdict_recorded() {
    let f = fixture();
    let manifest: bundle::Manifest =
        serde_json::from_slice(&fs::read(f.bundle.join("manifest.json")).unwrap()).unwrap();
    let record = |model: &str, mismatched: u64| {
        serde_json::to_vec_pretty(&serde_json::json!({
            "lockstep_version": "0.1.0",
            "model_sha256": model,
            "vector_set_sha256": "00",
            "n_vectors": 10,
            "qemu_version": "QEMU emulator version 8",
            "targets": [{ "target": "cortex-m4f", "rows": 10, "rows_bit_exact": 10,
                          "values": 20, "mismatched_values": mismatched,
                          "first_mismatches": [] }],
        }))
        .unwrap()
    };
    for (mismatched, verdict) in [(0, "exact"), (2, "mismatch")] {
        let inputs = PackageInputs {
            parity_record: Some(record(&manifest.model.engine_checksum, mismatched)),
            ..f.inputs.clone()
        };
        let dir = f.root.join(format!("with-parity-{mismatched}"));
        let made = bundle::package(&inputs, &dir, &f.secret, true).unwrap();
        assert_eq!(made.parity.verdict, verdict);
        assert!(made.files.contains_key("parity.json"));
        let result = verify(&dir, &f.pubkey);
        assert!(result.status.success(), "{}", stderr(&result));
    }
    // A parity record of another model is refused when packaging.
    let inputs = PackageInputs {
        parity_record: Some(record(&"ab".repeat(32), 0)),
        ..f.inputs.clone()
    };
    let error =
        bundle::package(&inputs, &f.root.join("wrong-parity"), &f.secret, false).unwrap_err();
    assert!(error.to_string().contains("parity.json"), "{error}");
}

/// A bundle of the fixture's model packaged with another version, at a fresh path.
fn bundle_with_version(name: &str, version: u32) -> PathBuf {
    let f = fixture();
    let dir = f.root.join("versions").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let inputs = PackageInputs {
        version,
        ..f.inputs.clone()
    };
    bundle::package(&inputs, &dir, &f.secret, false).unwrap();
    dir
}

fn promote(
    bundle: &Path,
    registry: &Path,
    pubkey: Option<&Path>,
    by: &str,
) -> std::process::Output {
    let mut args = vec![
        "promote".to_string(),
        bundle.to_str().unwrap().into(),
        "--registry".into(),
        registry.to_str().unwrap().into(),
        "--by".into(),
        by.into(),
        "--reason".into(),
        "accepted by the plan".into(),
    ];
    if let Some(key) = pubkey {
        args.extend(["--pubkey".into(), key.to_str().unwrap().into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lockstep(&args)
}

fn history(registry: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["history", "--registry", registry.to_str().unwrap()];
    args.extend_from_slice(extra);
    lockstep(&args)
}

#[test]
fn promotion_is_verified_chained_and_answers_for_past_dates() {
    let f = fixture();
    let registry = f.root.join("registry-promote");
    let _ = fs::remove_dir_all(&registry);
    let v5 = bundle_with_version("v5", 5);
    let v6 = bundle_with_version("v6", 6);

    // The first promotion needs the key; it verifies the bundle and records who and why.
    let refused = promote(&v5, &registry, None, "Dr Ada");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--pubkey"),
        "{}",
        stderr(&refused)
    );
    let first = promote(&v5, &registry, Some(&f.pubkey), "Dr Ada");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("promoted death_2y v5"),
        "{}",
        stdout(&first)
    );

    // A tampered bundle and an older or equal version are refused, leaving the log as it was.
    let log = registry.join("registry.log");
    let before = fs::read(&log).unwrap();
    let tampered = copy_of_bundle("tampered-for-promote");
    let mut record = fs::read(tampered.join("training.json")).unwrap();
    record[10] ^= 1;
    fs::write(tampered.join("training.json"), record).unwrap();
    let refused = promote(&tampered, &registry, None, "Dr Ada");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not verify"),
        "{}",
        stderr(&refused)
    );
    let refused = promote(&v5, &registry, None, "Dr Ada");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not newer"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(fs::read(&log).unwrap(), before);

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = promote(&v6, &registry, None, "Dr Bo");
    assert!(second.status.success(), "{}", stderr(&second));

    // The registry keeps a copy of each promoted bundle, which still verifies.
    let copy = registry.join("bundles/death_2y-v6");
    assert!(verify(&copy, &f.pubkey).status.success());

    // Now v6; at the time of the first promotion v5; before it, nothing.
    let json = history(&registry, &["--json", "--log"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["entries"], 2);
    assert_eq!(parsed["accepted"][0]["version"], 6);
    let first_time = parsed["log"][0]["time"].as_str().unwrap().to_string();
    let then = history(&registry, &["--at", &first_time]);
    assert!(stdout(&then).contains("v5"), "{}", stdout(&then));
    assert!(!stdout(&then).contains("v6"), "{}", stdout(&then));
    let before_any = history(&registry, &["--at", "2000-01-01"]);
    assert!(
        stdout(&before_any).contains("no model was accepted"),
        "{}",
        stdout(&before_any)
    );
    assert!(history(&registry, &["--verify"]).status.success());

    // A changed entry is detected and no answer is given.
    let good = fs::read_to_string(&log).unwrap();
    fs::write(&log, good.replacen("Dr Ada", "Dr Eve", 1)).unwrap();
    for args in [&["--verify"][..], &[][..]] {
        let broken = history(&registry, args);
        assert!(!broken.status.success());
        assert!(
            stderr(&broken).contains("broken at line 1"),
            "{}",
            stderr(&broken)
        );
    }
    // So is a removed last entry.
    let first_line = good.lines().next().unwrap();
    fs::write(&log, format!("{first_line}\n")).unwrap();
    let broken = history(&registry, &["--verify"]);
    assert!(!broken.status.success());
    assert!(stderr(&broken).contains("removed"), "{}", stderr(&broken));
}

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
    // A training record carrying one value per test row, correctly hashed and signed: only
    // the row-level rule can catch it.
    let mut record: serde_json::Value = serde_json::from_slice(&f.inputs.training_record).unwrap();
    let test_rows = record["test"]["rows"].as_u64().unwrap() as usize;
    record["test_scores"] = serde_json::json!(vec![0.5; test_rows]);
    let inputs = PackageInputs {
        training_record: serde_json::to_vec_pretty(&record).unwrap(),
        ..f.inputs.clone()
    };
    let leaky = f.root.join("leaky");
    bundle::package(&inputs, &leaky, &f.secret, true).unwrap();
    assert_refused(&leaky, &f.pubkey, "training.json", "row-level data");

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

//! `lockstep pipeline run` and `resolve`, through the binary: a first run packages and promotes
//! every outcome; bad data halts with exit 5 and every anomaly listed, the registry untouched;
//! a resolution with a corrected file continues the run; drift-only acceptance is the only
//! acceptance; a worse candidate is rejected (exit 4), still packaged, not promoted; a re-run
//! with the same inputs reproduces the bundles byte for byte.
//!
//! Small on purpose: a 3000-row cohort, small training configs, 100 bootstrap resamples, no
//! parity targets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{lockstep, snapshot, stderr, stdout, synth_cohort};

const OUTCOMES: [&str; 3] = ["infection_1y", "revision_2y", "death_2y"];

/// A fresh folder with a small cohort, configs, plans and a pipeline file.
struct Setup {
    dir: PathBuf,
    pipeline: PathBuf,
    out: PathBuf,
    cohort: PathBuf,
}

fn setup(name: &str, death_config: &str, automatic: bool) -> Setup {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pipeline-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cohort, _schema) = synth_cohort(&dir, "3000", "11");
    std::fs::write(
        dir.join("small.toml"),
        "[gbdt]\nn_trees = 20\nmax_depth = 3\nlearning_rate = 0.2\n",
    )
    .unwrap();
    std::fs::write(dir.join("death.toml"), death_config).unwrap();
    for outcome in OUTCOMES {
        std::fs::write(
            dir.join(format!("{outcome}.plan.toml")),
            format!(
                "target = \"{outcome}\"\n[metrics]\nbootstrap_resamples = 100\n\
                 [acceptance]\nmin_auc_lower = 0.0\nmin_delta_auc_lower = -0.01\n"
            ),
        )
        .unwrap();
    }
    let mut text = String::from(
        "data = \"cohort.csv\"\nschema = \"cohort.schema.toml\"\noutput = \"out\"\n\
         [split]\ntrain = \"surgery_year <= 2015\"\ntest = \"surgery_year >= 2016\"\n\
         [parity]\ntargets = []\n[signing]\ndemo_key = true\n",
    );
    text.push_str(&format!(
        "[promotion]\nby = \"tester\"\nautomatic = {automatic}\n"
    ));
    for outcome in OUTCOMES {
        let config = if outcome == "death_2y" {
            "death.toml"
        } else {
            "small.toml"
        };
        text.push_str(&format!(
            "[[outcome]]\nname = \"{outcome}\"\nconfig = \"{config}\"\nplan = \"{outcome}.plan.toml\"\n"
        ));
    }
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, text).unwrap();
    Setup {
        out: dir.join("out"),
        dir,
        pipeline,
        cohort,
    }
}

const SMALL: &str = "[gbdt]\nn_trees = 20\nmax_depth = 3\nlearning_rate = 0.2\n";
const WEAK: &str =
    "[gbdt]\nn_trees = 2\nmax_depth = 1\nlearning_rate = 0.3\nearly_stopping_rounds = 1\n";

fn run(setup: &Setup) -> Output {
    lockstep(&[
        "pipeline",
        "run",
        setup.pipeline.to_str().unwrap(),
        "--json",
    ])
}

fn record(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(output), stderr(output)))
}

/// A setup whose first run completed and promoted every outcome, and its registry's bytes.
fn promoted(name: &str) -> (Setup, BTreeMap<PathBuf, Vec<u8>>) {
    let s = setup(name, SMALL, true);
    let first = run(&s);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let registry = snapshot(&s.out.join("registry"));
    (s, registry)
}

fn run_dir(setup: &Setup, record: &serde_json::Value) -> PathBuf {
    setup
        .out
        .join("runs")
        .join(record["run_id"].as_str().unwrap())
}

/// Rewrites the cohort with `edit` applied to each data line (index from 0).
fn edit_cohort(
    from: &Path,
    to: &Path,
    edit: impl Fn(usize, &[String], Vec<String>) -> Vec<String>,
) {
    let text = std::fs::read_to_string(from).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut out = header.join(",") + "\n";
    for (i, line) in lines.enumerate() {
        let cells: Vec<String> = line.split(',').map(str::to_string).collect();
        out.push_str(&edit(i, &header, cells).join(","));
        out.push('\n');
    }
    std::fs::write(to, out).unwrap();
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

#[test]
fn a_first_run_packages_and_promotes_every_outcome_and_a_rerun_changes_nothing() {
    let s = setup("first", SMALL, true);
    let first = run(&s);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let r = record(&first);
    assert_eq!(r["state"], "completed");
    let err = stderr(&first);
    for stage in [
        "data check",
        "split",
        "train",
        "compile",
        "validate",
        "parity",
        "package",
        "promote",
    ] {
        assert!(
            err.lines().any(|line| line.starts_with(stage)),
            "no {stage} line: {err}"
        );
    }
    assert!(err.contains("no accepted model yet"), "{err}");
    assert!(err.contains("no parity targets declared: skipped"), "{err}");
    assert!(s.out.join("keys/signing.key").exists() && s.out.join("keys/KEYS-README.txt").exists());
    let dir = run_dir(&s, &r);
    for o in r["outcomes"].as_array().unwrap() {
        assert_eq!(
            o["promotion"].as_str().unwrap().split(':').next(),
            Some("promoted")
        );
        let bundle = dir.join(o["bundle"].as_str().unwrap());
        assert!(
            bundle.join("manifest.json").exists(),
            "{}",
            bundle.display()
        );
        let verify = lockstep(&[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--pubkey",
            s.out.join("keys/signing.pub").to_str().unwrap(),
        ]);
        assert!(
            verify.status.success(),
            "{}{}",
            stdout(&verify),
            stderr(&verify)
        );
    }
    // The model re-trains to the same bytes from its manifest.
    let death = dir.join("bundles/death_2y-v1");
    let reproduce = lockstep(&[
        "bundle",
        "reproduce",
        death.to_str().unwrap(),
        "--data",
        s.cohort.to_str().unwrap(),
    ]);
    assert!(
        reproduce.status.success(),
        "{}{}",
        stdout(&reproduce),
        stderr(&reproduce)
    );
    // No stage or record names an absolute path or a time.
    let text = String::from_utf8(first.stdout.clone()).unwrap();
    assert!(
        !text.contains(s.dir.to_str().unwrap()),
        "a path in the run record"
    );
    let history = lockstep(&[
        "history",
        "--registry",
        s.out.join("registry").to_str().unwrap(),
    ]);
    assert!(history.status.success(), "{}", stderr(&history));
    for outcome in OUTCOMES {
        assert!(
            stdout(&history).contains(&format!("{outcome}-v1")),
            "{}",
            stdout(&history)
        );
    }

    // The promotion moved the registry's head: a re-run is a new run whose candidates equal
    // the accepted models, so nothing is promoted and the registry keeps its bytes.
    let registry = snapshot(&s.out.join("registry"));
    let again = run(&s);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let r2 = record(&again);
    assert_ne!(r2["run_id"], r["run_id"]);
    for o in r2["outcomes"].as_array().unwrap() {
        assert_eq!(o["promotion"], "unchanged", "{o}");
        assert_eq!(o["version"], 2);
    }
    assert_eq!(
        snapshot(&s.out.join("registry")),
        registry,
        "the registry changed"
    );
}

#[test]
fn a_rerun_of_a_finished_run_reproduces_its_bundles_byte_for_byte() {
    let s = setup("reproduce", SMALL, false);
    let first = run(&s);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let r = record(&first);
    let bundles = snapshot(&run_dir(&s, &r).join("bundles"));
    // Three bundles of at least nine files each (parity.json only with parity targets).
    assert!(bundles.len() >= 3 * 9, "{:?}", bundles.keys());
    let again = run(&s);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(record(&again)["run_id"], r["run_id"]);
    assert!(
        stderr(&again).contains("reproduced: 3 bundles byte-identical"),
        "{}",
        stderr(&again)
    );
    assert_eq!(snapshot(&run_dir(&s, &r).join("bundles")), bundles);
    assert!(
        !s.out.join("registry/registry.log").exists(),
        "promoted with automatic = false"
    );
}

#[test]
fn impossible_values_halt_with_every_anomaly_listed_and_a_corrected_file_continues() {
    // An accepted registry first, to prove the halted run leaves it byte for byte.
    let (s, registry) = promoted("halt");

    let good = s.dir.join("cohort-good.csv");
    std::fs::copy(&s.cohort, &good).unwrap();
    edit_cohort(&good, &s.cohort, |i, header, mut cells| {
        if i == 9 {
            cells[column(header, "age")] = "250".into();
        }
        if i == 20 {
            cells[column(header, "sex")] = "unknown".into();
        }
        cells
    });
    let halted = run(&s);
    assert_eq!(halted.status.code(), Some(5), "{}", stderr(&halted));
    let r = record(&halted);
    assert_eq!(r["state"], "halted");
    let anomalies = r["check"]["anomalies"].as_array().unwrap();
    let listed: Vec<(String, String, Vec<u64>)> = anomalies
        .iter()
        .map(|a| {
            (
                a["column"].as_str().unwrap().to_string(),
                a["rule"].as_str().unwrap().to_string(),
                a["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert!(
        listed.contains(&("age".into(), "limit".into(), vec![11])),
        "{listed:?}"
    );
    assert!(
        listed.contains(&("sex".into(), "level".into(), vec![22])),
        "{listed:?}"
    );
    let dir = run_dir(&s, &r);
    assert!(dir.join("check.json").exists() && dir.join("run.json").exists());
    assert!(
        !dir.join("bundles").exists(),
        "a halted run packaged something"
    );
    assert_eq!(
        snapshot(&s.out.join("registry")),
        registry,
        "the halted run changed the registry"
    );

    // Running again without a resolution stays halted.
    let still = run(&s);
    assert_eq!(still.status.code(), Some(5), "{}", stderr(&still));

    // Row-level anomalies cannot be accepted.
    let refused = lockstep(&[
        "pipeline",
        "resolve",
        dir.to_str().unwrap(),
        "--by",
        "data manager",
        "--note",
        "looks fine",
        "--accept-anomalies",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--data CORRECTED.csv"),
        "{}",
        stderr(&refused)
    );
    assert!(!dir.join("resolution.json").exists());

    // A corrected file continues the run, re-checked.
    let resolved = lockstep(&[
        "pipeline",
        "resolve",
        dir.to_str().unwrap(),
        "--by",
        "data manager",
        "--note",
        "age 250 was a typo for 25.0 of another field; sex re-entered from the chart",
        "--data",
        good.to_str().unwrap(),
    ]);
    assert!(resolved.status.success(), "{}", stderr(&resolved));
    let continued = run(&s);
    assert_eq!(continued.status.code(), Some(0), "{}", stderr(&continued));
    let r2 = record(&continued);
    assert_eq!(r2["run_id"], r["run_id"]);
    assert_eq!(r2["state"], "completed");
    assert_eq!(r2["resolutions"][0]["by"], "data manager");
    assert_eq!(r2["resolutions"][0]["action"], "corrected_data");
}

#[test]
fn a_missing_required_column_halts_the_run() {
    let s = setup("column", SMALL, true);
    edit_cohort(&s.cohort.clone(), &s.cohort, |_, header, cells| {
        let drop = column(header, "albumin");
        cells
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| i != drop)
            .map(|(_, c)| c)
            .collect()
    });
    // The header line keeps the column in `edit_cohort`; drop it there too.
    let text = std::fs::read_to_string(&s.cohort).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let header: Vec<&str> = header.split(',').filter(|h| *h != "albumin").collect();
    std::fs::write(&s.cohort, header.join(",") + "\n" + rest).unwrap();
    let halted = run(&s);
    assert_eq!(halted.status.code(), Some(5), "{}", stderr(&halted));
    let r = record(&halted);
    let anomalies = r["check"]["anomalies"].as_array().unwrap();
    assert!(
        anomalies
            .iter()
            .any(|a| a["column"] == "albumin" && a["rule"] == "missing_column"),
        "{anomalies:?}"
    );
    assert!(
        !s.out.join("registry").exists(),
        "a halted run made a registry"
    );
}

#[test]
fn a_worse_candidate_is_rejected_packaged_and_not_promoted() {
    let (s, registry) = promoted("worse");
    std::fs::write(s.dir.join("death.toml"), WEAK).unwrap();
    let worse = run(&s);
    assert_eq!(worse.status.code(), Some(4), "{}", stderr(&worse));
    let r = record(&worse);
    assert_eq!(r["state"], "rejected");
    let dir = run_dir(&s, &r);
    for o in r["outcomes"].as_array().unwrap() {
        assert!(
            o["promotion"].as_str().unwrap().starts_with("not promoted"),
            "{o}"
        );
        assert!(dir
            .join(o["bundle"].as_str().unwrap())
            .join("manifest.json")
            .exists());
        let expected = if o["outcome"] == "death_2y" {
            "rejected"
        } else {
            "accepted"
        };
        assert_eq!(o["validation"], expected, "{o}");
    }
    assert_eq!(
        snapshot(&s.out.join("registry")),
        registry,
        "a rejected run changed the registry"
    );
}

#[test]
fn a_bad_pipeline_file_names_the_key() {
    let s = setup("badfile", SMALL, true);
    let text = std::fs::read_to_string(&s.pipeline).unwrap();
    std::fs::write(
        &s.pipeline,
        text.replace("targets = []", "targets = [\"cortex-m7\"]"),
    )
    .unwrap();
    let bad = run(&s);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("parity.targets[0]"),
        "{}",
        stderr(&bad)
    );
    std::fs::write(
        &s.pipeline,
        text.replace("name = \"death_2y\"", "name = \"death_5y\""),
    )
    .unwrap();
    let bad = run(&s);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("outcome[2].name"), "{}", stderr(&bad));
}

#[test]
fn a_drift_only_halt_may_be_accepted_and_the_run_continues() {
    let (s, _registry) = promoted("drift");
    // Every patient 15 years older (within the limits): a distribution change, no bad row.
    edit_cohort(&s.cohort.clone(), &s.cohort, |_, header, mut cells| {
        let age = column(header, "age");
        let older = cells[age]
            .parse::<f64>()
            .map_or(cells[age].clone(), |a| format!("{}", (a + 15.0).min(105.0)));
        cells[age] = older;
        cells
    });
    let halted = run(&s);
    assert_eq!(halted.status.code(), Some(5), "{}", stderr(&halted));
    let r = record(&halted);
    let anomalies = r["check"]["anomalies"].as_array().unwrap();
    assert!(
        anomalies
            .iter()
            .any(|a| a["column"] == "age" && a["rule"] == "drift" && a["row_level"] == false),
        "{anomalies:?}"
    );
    let dir = run_dir(&s, &r);
    let accepted = lockstep(&[
        "pipeline",
        "resolve",
        dir.to_str().unwrap(),
        "--by",
        "clinical lead",
        "--note",
        "the referral pattern changed: older patients are now operated here",
        "--accept-anomalies",
    ]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let continued = run(&s);
    // Accepted or rejected by the plan, but no longer halted.
    assert!(
        matches!(continued.status.code(), Some(0) | Some(4)),
        "{}",
        stderr(&continued)
    );
    let r2 = record(&continued);
    assert_eq!(r2["run_id"], r["run_id"]);
    assert_eq!(r2["resolutions"][0]["action"], "accepted_anomalies");
    assert_eq!(r2["stages"][0]["verdict"], "anomalies accepted");
}

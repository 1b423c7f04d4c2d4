//! Pins `lockstep data check`: the bundled cohort is clean (exit 0); every anomaly of a file is
//! listed (column, rule, count, first lines, example) in text and JSON with exit 5; PSI and KS
//! against a reference (a training record or a summary the check wrote) are reported and
//! flagged above the schema's thresholds; errors of use exit 1 and write nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{lockstep, stderr, stdout};
use serde_json::Value;

fn bundled() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/arthroplasty");
    (dir.join("cohort.csv"), dir.join("cohort.schema.toml"))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The rows of cells of a CSV without quoted cells (header first).
fn read_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

/// The bundled cohort as rows of cells (header first).
fn cohort_rows() -> Vec<Vec<String>> {
    read_rows(&bundled().0)
}

/// Writes `rows` as CSV to `path`.
fn write_rows(path: &Path, rows: &[Vec<String>]) {
    let text: String = rows.iter().map(|row| row.join(",") + "\n").collect();
    std::fs::write(path, text).unwrap();
}

/// The column index of `name` in the header.
fn col(rows: &[Vec<String>], name: &str) -> usize {
    rows[0].iter().position(|n| n == name).unwrap()
}

/// Runs `data check` on `data` with the bundled schema (or `schema`) and `extra` arguments,
/// writing the JSON report to `json`; returns the run and the parsed report.
fn check(data: &Path, schema: Option<&Path>, json: &Path, extra: &[&str]) -> (Output, Value) {
    let bundled_schema = bundled().1;
    let schema = schema.unwrap_or(&bundled_schema);
    let mut args = vec![
        "data",
        "check",
        "--schema",
        s(schema),
        s(data),
        "--json",
        s(json),
    ];
    args.extend_from_slice(extra);
    let run = lockstep(&args);
    let report =
        serde_json::from_slice(&std::fs::read(json).unwrap_or_default()).unwrap_or(Value::Null);
    (run, report)
}

/// The anomaly of `column` and `rule` in the report.
fn anomaly<'a>(report: &'a Value, column: &str, rule: &str) -> &'a Value {
    report["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["column"] == column && a["rule"] == rule)
        .unwrap_or_else(|| panic!("no {column}/{rule} anomaly in {report:#}"))
}

#[test]
fn the_bundled_cohort_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = bundled();
    let (run, report) = check(&data, None, &dir.path().join("r.json"), &[]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        stdout(&run),
        stderr(&run)
    );
    assert_eq!(report["clean"], true);
    assert_eq!(report["rows"], 45000);
    assert_eq!(report["columns"], 24);
    assert_eq!(report["anomalies"].as_array().unwrap().len(), 0);
    assert!(stdout(&run).contains("anomalies: none"), "{}", stdout(&run));
    assert!(stdout(&run).trim_end().ends_with("clean"));
}

#[test]
fn an_impossible_age_in_one_row_halts_naming_column_rule_count_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = cohort_rows();
    let age = col(&rows, "age");
    rows[1234][age] = "250".into();
    let data = dir.path().join("age250.csv");
    write_rows(&data, &rows);
    let (run, report) = check(&data, None, &dir.path().join("r.json"), &[]);
    assert_eq!(run.status.code(), Some(5), "{}", stderr(&run));
    assert_eq!(report["clean"], false);
    assert_eq!(
        report["anomalies"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let limit = anomaly(&report, "age", "limit");
    assert_eq!(limit["count"], 1);
    // Row 1234 of the vector is line 1235 of the file (the header is line 1).
    assert_eq!(limit["lines"], serde_json::json!([1235]));
    assert_eq!(limit["example"], "250");
    assert!(limit["detail"].as_str().unwrap().contains("max 105"));
    let text = stdout(&run);
    let line = text.lines().find(|l| l.contains("limit")).unwrap();
    for part in ["age", "limit", "count 1", "line 1235", "'250'"] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(text.contains("halt:"), "{text}");
}

#[test]
fn a_missing_required_column_halts_and_extra_columns_are_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let rows = cohort_rows();
    let bmi = col(&rows, "bmi");
    let edited: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            row.remove(bmi);
            row.push(if i == 0 { "site".into() } else { "A".into() });
            row
        })
        .collect();
    let data = dir.path().join("no_bmi.csv");
    write_rows(&data, &edited);
    let (run, report) = check(&data, None, &dir.path().join("r.json"), &[]);
    assert_eq!(run.status.code(), Some(5), "{}", stderr(&run));
    let missing = anomaly(&report, "bmi", "missing_column");
    assert_eq!(missing["lines"], serde_json::json!([1]));
    assert_eq!(
        report["anomalies"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let notes = report["notes"].to_string();
    assert!(notes.contains("'site'"), "{notes}");
    assert!(stdout(&run).contains("missing_column"));
}

#[test]
fn several_anomalies_at_once_are_all_listed_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = cohort_rows();
    let c = |name| col(&rows, name);
    let (id, sex, death, bmi, crp, diabetes, age) = (
        c("patient_id"),
        c("sex"),
        c("death_2y"),
        c("bmi"),
        c("crp"),
        c("diabetes"),
        c("age"),
    );
    rows[10][id] = rows[3][id].clone(); // duplicate id (line 11 repeats line 4)
    rows[20][sex] = "unknown".into(); // bad level
    rows[30][death] = "2".into(); // outcome not 0/1
    rows[31][death] = "".into(); // a missing outcome
    rows[40][bmi] = "".into(); // missing where not allowed
    rows[50][crp] = "inf".into(); // non-finite
    rows[60][diabetes] = "yes".into(); // not a boolean
    for row in &mut rows[100..107] {
        row[age] = "300".into(); // seven limit violations: five lines kept
    }
    let data = dir.path().join("many.csv");
    write_rows(&data, &rows);
    let (run, report) = check(&data, None, &dir.path().join("r.json"), &[]);
    assert_eq!(run.status.code(), Some(5), "{}", stderr(&run));
    let expected = [
        ("patient_id", "duplicate_id", 1, vec![11]),
        ("age", "limit", 7, vec![101, 102, 103, 104, 105]),
        ("sex", "level", 1, vec![21]),
        ("bmi", "missing", 1, vec![41]),
        ("diabetes", "type", 1, vec![61]),
        ("crp", "non_finite", 1, vec![51]),
        ("death_2y", "outcome", 2, vec![31, 32]),
    ];
    let anomalies = report["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), expected.len(), "{report:#}");
    // Listed in schema order (id, features, outcomes), then rule.
    for ((column, rule, count, lines), got) in expected.iter().zip(anomalies) {
        assert_eq!(got["column"], *column);
        assert_eq!(got["rule"], *rule);
        assert_eq!(got["count"], *count);
        assert_eq!(got["lines"], serde_json::json!(lines));
    }
    assert!(anomaly(&report, "patient_id", "duplicate_id")["detail"]
        .as_str()
        .unwrap()
        .contains("line 4"));
    assert_eq!(anomaly(&report, "sex", "level")["example"], "unknown");
    // The text has one line per group, in the same order, with the same numbers.
    let text = stdout(&run);
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), anomalies.len(), "{text}");
    for (line, got) in listed.iter().zip(anomalies) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], got["column"].as_str().unwrap(), "{line}");
        assert_eq!(words[1], got["rule"].as_str().unwrap(), "{line}");
        assert_eq!(words[3], got["count"].to_string(), "{line}");
    }
}

/// The 2008-2015 and 2016-2018 rows of the bundled cohort, written to `dir`.
fn early_and_late(dir: &Path) -> (PathBuf, PathBuf) {
    let rows = cohort_rows();
    let year = col(&rows, "surgery_year");
    let (mut early, mut late) = (vec![rows[0].clone()], vec![rows[0].clone()]);
    for row in &rows[1..] {
        match row[year].parse::<u32>().unwrap() <= 2015 {
            true => early.push(row.clone()),
            false => late.push(row.clone()),
        }
    }
    let (early_path, late_path) = (dir.join("early.csv"), dir.join("late.csv"));
    write_rows(&early_path, &early);
    write_rows(&late_path, &late);
    (early_path, late_path)
}

/// The late rows, and the summary of the early rows (a clean check writes it).
fn early_reference(dir: &Path) -> (PathBuf, PathBuf) {
    let (early, late) = early_and_late(dir);
    let summary = dir.join("early.summary.json");
    let json = dir.join("early.json");
    let (run, _) = check(&early, None, &json, &["--summary-out", s(&summary)]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(summary.exists());
    (late, summary)
}

/// The drift entry of `feature`.
fn drift<'a>(report: &'a Value, feature: &str) -> &'a Value {
    report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["feature"] == feature)
        .unwrap()
}

#[test]
fn later_years_against_earlier_ones_report_psi_and_ks_and_a_shift_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let (late, summary) = early_reference(dir.path());
    let (run, report) = check(
        &late,
        None,
        &dir.path().join("late.json"),
        &["--reference", s(&summary)],
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        stdout(&run),
        stderr(&run)
    );
    let entries = report["drift"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        19,
        "every feature, none of the split columns"
    );
    for entry in entries {
        let psi = entry["psi"].as_f64().unwrap();
        assert!((0.0..0.25).contains(&psi), "{entry}");
        assert_eq!(entry["flagged"], false);
    }
    assert!(drift(&report, "age")["ks"].as_f64().unwrap() < 0.1);
    assert!(
        drift(&report, "diagnosis")["ks"].is_null(),
        "five unordered levels"
    );
    let text = stdout(&run);
    let age_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("age "))
        .unwrap();
    let psi = drift(&report, "age")["psi"].as_f64().unwrap();
    assert!(age_line.contains(&format!("{psi:.4}")), "{age_line}");

    // Age shifted by 15 years (capped at the limit): flagged, exit 5.
    let mut rows = read_rows(&late);
    let age = col(&rows, "age");
    for row in &mut rows[1..] {
        let shifted = (row[age].parse::<f64>().unwrap() + 15.0).min(105.0);
        row[age] = shifted.to_string();
    }
    let shifted = dir.path().join("shifted.csv");
    write_rows(&shifted, &rows);
    let (run, report) = check(
        &shifted,
        None,
        &dir.path().join("shifted.json"),
        &["--reference", s(&summary)],
    );
    assert_eq!(run.status.code(), Some(5), "{}", stdout(&run));
    let age = drift(&report, "age");
    assert_eq!(age["flagged"], true);
    assert!(age["psi"].as_f64().unwrap() > 0.25, "{age}");
    assert!(age["ks"].as_f64().unwrap() > 0.1, "{age}");
    assert_eq!(report["anomalies"].as_array().unwrap().len(), 0);
    assert_eq!(drift(&report, "bmi")["flagged"], false);
    assert!(stdout(&run).contains("FLAGGED"));
    // An anomalous check writes no summary: only clean data becomes a reference.
    let not_written = dir.path().join("shifted.summary.json");
    let (run, _) = check(
        &shifted,
        None,
        &dir.path().join("shifted2.json"),
        &["--reference", s(&summary), "--summary-out", s(&not_written)],
    );
    assert_eq!(run.status.code(), Some(5));
    assert!(!not_written.exists());
}

#[test]
fn a_training_record_is_a_reference_equal_to_the_summary_of_its_training_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (late, summary) = early_reference(dir.path());
    let (cohort, schema) = bundled();
    // A one-tree forest: quick, and no validation subset, so its training rows are exactly
    // the 2008-2015 rows.
    let config = dir.path().join("forest.toml");
    std::fs::write(&config, "kind = \"forest\"\n[forest]\nn_trees = 1\n").unwrap();
    let model = dir.path().join("m.lsm");
    let run = common::train_death(&cohort, &schema, &config, &model);
    assert!(run.status.success(), "{}", stderr(&run));
    let record = dir.path().join("m.training.json");
    let (_, from_record) = check(
        &late,
        None,
        &dir.path().join("a.json"),
        &["--reference", s(&record)],
    );
    let (_, from_summary) = check(
        &late,
        None,
        &dir.path().join("b.json"),
        &["--reference", s(&summary)],
    );
    assert_eq!(from_record["drift"], from_summary["drift"]);
    assert_ne!(
        from_record["reference_sha256"],
        from_summary["reference_sha256"]
    );
}

#[test]
fn drift_thresholds_come_from_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (late, summary) = early_reference(dir.path());
    let schema_text = std::fs::read_to_string(bundled().1).unwrap()
        + "\n[drift]\nks = 0.2\n[drift.feature.hba1c]\npsi = 0.01\n";
    let schema = dir.path().join("s.toml");
    std::fs::write(&schema, schema_text).unwrap();
    let (run, report) = check(
        &late,
        Some(&schema),
        &dir.path().join("r.json"),
        &["--reference", s(&summary)],
    );
    assert_eq!(run.status.code(), Some(5), "{}", stdout(&run));
    let hba1c = drift(&report, "hba1c");
    assert_eq!(hba1c["psi_threshold"], 0.01);
    assert_eq!(hba1c["ks_threshold"], 0.2);
    assert_eq!(hba1c["flagged"], true, "{hba1c}");
    let age = drift(&report, "age");
    assert_eq!(age["psi_threshold"], 0.25);
    assert_eq!(age["flagged"], false);

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(bundled().1).unwrap() + "\n[drift.feature.surgery_year]\npsi = 1\n",
    )
    .unwrap();
    let json = dir.path().join("bad.json");
    let (run, _) = check(&late, Some(&bad), &json, &[]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("[drift.feature.surgery_year]"),
        "{}",
        stderr(&run)
    );
    assert!(!json.exists());
}

#[test]
fn errors_of_use_exit_1_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = bundled();
    let json = dir.path().join("r.json");
    let summary = dir.path().join("s.json");
    let extra = ["--summary-out", s(&summary)];
    let bad_schema = dir.path().join("bad.toml");
    std::fs::write(&bad_schema, "[dataset]\nname = \"x\"\n").unwrap();
    let not_a_reference = dir.path().join("nothing.json");
    std::fs::write(&not_a_reference, "{\"rows\": 3}").unwrap();
    let missing = dir.path().join("absent.csv");
    for (run, what) in [
        (
            check(&data, Some(&bad_schema), &json, &extra).0,
            "no [[feature]]",
        ),
        (check(&missing, None, &json, &extra).0, "absent.csv"),
        (
            check(&data, None, &json, &["--reference", s(&not_a_reference)]).0,
            "feature_summaries",
        ),
        (
            check(&data, None, &json, &["--summary-out", s(&data)]).0,
            "--summary-out",
        ),
    ] {
        assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
        assert!(stderr(&run).contains(what), "{what}: {}", stderr(&run));
        assert!(stdout(&run).is_empty());
        assert!(!json.exists() && !summary.exists());
    }
}

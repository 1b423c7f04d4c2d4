//! The synthetic arthroplasty cohort is byte-reproducible, the bundled CSV is what it writes and
//! loads with realistic, non-linear outcomes, and bad data fails naming file, line and column.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lockstep_host::data::{self, DataError, Dataset, Schema};
use lockstep_host::synth;

/// The bundled cohort's size and seed (the README's main job trains on it).
const BUNDLED_ROWS: usize = 45_000;
const BUNDLED_SEED: u64 = 2024;

/// Event rates the generator is calibrated to (fraction of patients), per outcome.
const INFECTION_RANGE: (f64, f64) = (0.01, 0.02);
const REVISION_RANGE: (f64, f64) = (0.02, 0.04);
const DEATH_RANGE: (f64, f64) = (0.02, 0.03);

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/arthroplasty")
}

fn csv_bytes(rows: usize, seed: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    synth::write_csv(&synth::arthroplasty(rows, seed), &mut bytes).unwrap();
    bytes
}

fn shipped_schema() -> Schema {
    data::load_schema(example_dir().join("cohort.schema.toml")).unwrap()
}

/// The bundled cohort, loaded once for all tests of this file.
fn bundled() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let path = example_dir().join("cohort.csv");
        data::load_csv(&path, &shipped_schema())
            .unwrap_or_else(|error| panic!("bundled cohort does not load: {error}"))
    })
}

fn column<'a>(data: &'a Dataset, name: &str) -> &'a [f32] {
    data.column(name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Event rate of `target` among the rows where `select` holds (given the row index).
fn rate(data: &Dataset, target: &str, select: impl Fn(usize) -> bool) -> (f64, usize) {
    let outcome = data.target(target).unwrap();
    let rows: Vec<usize> = (0..data.n_rows).filter(|&row| select(row)).collect();
    let events = rows.iter().filter(|&&row| outcome[row] == 1.0).count();
    (events as f64 / rows.len() as f64, rows.len())
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let first = csv_bytes(2_000, 11);
    assert_eq!(first, csv_bytes(2_000, 11));
    assert_ne!(first, csv_bytes(2_000, 12));
    // The header and the first line are what the schema describes.
    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with(&format!("{}\n1,", synth::CSV_HEADER)));
    assert_eq!(text.lines().count(), 2_001);
}

#[test]
fn bundled_cohort_is_exactly_what_the_generator_writes() {
    let path = example_dir().join("cohort.csv");
    let generated = csv_bytes(BUNDLED_ROWS, BUNDLED_SEED);
    // LOCKSTEP_REGENERATE_COHORT=1 rewrites the bundled file after a deliberate generator change.
    if std::env::var_os("LOCKSTEP_REGENERATE_COHORT").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let bundled = std::fs::read(&path).unwrap();
    assert!(
        bundled == generated,
        "{} differs from synth::arthroplasty({BUNDLED_ROWS}, {BUNDLED_SEED}); regenerate it with \
         LOCKSTEP_REGENERATE_COHORT=1 if the generator changed on purpose",
        path.display()
    );
    assert!(bundled.len() < 5_000_000, "{} bytes", bundled.len());
    // The shipped schema file is the one the generator hands out.
    let schema_file = std::fs::read_to_string(example_dir().join("cohort.schema.toml")).unwrap();
    assert_eq!(schema_file, synth::schema_toml());
}

#[test]
fn bundled_cohort_loads_cleanly_with_the_shipped_schema() {
    let schema = shipped_schema();
    let data = bundled();
    assert_eq!(data.n_rows, BUNDLED_ROWS);
    assert_eq!(data.feature_names.len(), schema.features.len());
    // Every CSV column has a role: the id, the split year, 19 features and 3 outcomes.
    assert_eq!(data.feature_names.len(), 19);
    assert_eq!(
        synth::CSV_HEADER.split(',').count(),
        2 + data.feature_names.len() + synth::OUTCOMES.len()
    );
    // The surgery year splits the cohort in time; it is not a predictor of its own split.
    assert!(!data.feature_names.iter().any(|name| name == "surgery_year"));
    assert_eq!(
        data.splits
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        ["surgery_year"]
    );
    let ids = data.ids.as_ref().expect("patient_id is the id column");
    assert_eq!(ids.name, "patient_id");
    assert!(!data.feature_names.contains(&ids.name));
    assert_eq!(
        data.targets
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        synth::OUTCOMES
    );
    assert_eq!(data.sha256.len(), 64);
    for (name, values) in data.feature_names.iter().zip(&data.columns) {
        assert_eq!(values.len(), BUNDLED_ROWS, "{name}");
        let missing = values.iter().filter(|v| v.is_nan()).count() as f64 / BUNDLED_ROWS as f64;
        let lab = [
            "hba1c",
            "haemoglobin",
            "creatinine",
            "egfr",
            "albumin",
            "crp",
        ];
        if lab.contains(&name.as_str()) {
            assert!((0.02..0.08).contains(&missing), "{name}: {missing}");
        } else {
            assert_eq!(missing, 0.0, "{name}");
        }
    }
    // Missing laboratory values are more frequent in the early years.
    let year = column(data, "surgery_year");
    let hb = column(data, "haemoglobin");
    let missing_share = |years: std::ops::RangeInclusive<f32>| {
        let rows: Vec<usize> = (0..data.n_rows)
            .filter(|&r| years.contains(&year[r]))
            .collect();
        rows.iter().filter(|&&r| hb[r].is_nan()).count() as f64 / rows.len() as f64
    };
    assert!(missing_share(2008.0..=2010.0) > 2.0 * missing_share(2016.0..=2018.0));
}

#[test]
fn event_rates_are_within_the_declared_ranges() {
    let data = bundled();
    for (target, (low, high)) in
        synth::OUTCOMES
            .into_iter()
            .zip([INFECTION_RANGE, REVISION_RANGE, DEATH_RANGE])
    {
        let (rate, _) = rate(data, target, |_| true);
        assert!((low..=high).contains(&rate), "{target}: {rate}");
    }
}

#[test]
fn outcomes_carry_threshold_and_interaction_effects() {
    let data = bundled();
    let bmi = column(data, "bmi");
    let diabetes = column(data, "diabetes");
    let hba1c = column(data, "hba1c");
    let steroids = column(data, "steroids");
    let ra = column(data, "rheumatoid_arthritis");
    let age = column(data, "age");
    let year = column(data, "surgery_year");
    let procedure = column(data, "procedure");
    let knee = 1.0;

    let assert_ratio =
        |what: &str, (high, n_high): (f64, usize), (low, _): (f64, usize), at_least: f64| {
            assert!(
                high >= at_least * low,
                "{what}: {high:.4} (n {n_high}) vs {low:.4}, expected at least {at_least}x"
            );
        };
    // Infection: BMI threshold at 35.
    assert_ratio(
        "infection, BMI > 35 vs 25-30",
        rate(data, "infection_1y", |r| bmi[r] > 35.0),
        rate(data, "infection_1y", |r| (25.0..=30.0).contains(&bmi[r])),
        2.0,
    );
    // BMI 30-35 is barely different from 25-30: the effect is a threshold, not a slope.
    let (mid, _) = rate(data, "infection_1y", |r| bmi[r] > 30.0 && bmi[r] <= 35.0);
    let (normal, _) = rate(data, "infection_1y", |r| (25.0..=30.0).contains(&bmi[r]));
    assert!(mid < 1.6 * normal, "{mid} vs {normal}");
    // Infection: diabetes x poor glycaemic control.
    assert_ratio(
        "infection, diabetic with HbA1c > 64 vs diabetic with HbA1c <= 64",
        rate(data, "infection_1y", |r| {
            diabetes[r] == 1.0 && hba1c[r] > 64.0
        }),
        rate(data, "infection_1y", |r| {
            diabetes[r] == 1.0 && hba1c[r] <= 64.0
        }),
        1.8,
    );
    // Infection: steroids x rheumatoid arthritis.
    assert_ratio(
        "infection, steroids with RA vs RA without steroids",
        rate(data, "infection_1y", |r| steroids[r] == 1.0 && ra[r] == 1.0),
        rate(data, "infection_1y", |r| steroids[r] == 0.0 && ra[r] == 1.0),
        1.5,
    );
    // Infection: drifts down over the years (the temporal split sees it).
    assert_ratio(
        "infection, 2008-2010 vs 2016-2018",
        rate(data, "infection_1y", |r| year[r] <= 2010.0),
        rate(data, "infection_1y", |r| year[r] >= 2016.0),
        1.2,
    );
    // Death: steep beyond 80.
    assert_ratio(
        "death, age >= 85 vs 65-75",
        rate(data, "death_2y", |r| age[r] >= 85.0),
        rate(data, "death_2y", |r| (65.0..75.0).contains(&age[r])),
        5.0,
    );
    // Revision: U-shaped in age, young knees highest.
    assert_ratio(
        "revision, knees under 55 vs knees 65-75",
        rate(data, "revision_2y", |r| {
            procedure[r] == knee && age[r] < 55.0
        }),
        rate(data, "revision_2y", |r| {
            procedure[r] == knee && (65.0..75.0).contains(&age[r])
        }),
        1.5,
    );
    assert_ratio(
        "revision, hips over 85 vs hips 65-75",
        rate(data, "revision_2y", |r| {
            procedure[r] != knee && age[r] > 85.0
        }),
        rate(data, "revision_2y", |r| {
            procedure[r] != knee && (65.0..75.0).contains(&age[r])
        }),
        1.5,
    );
}

#[test]
fn temporal_split_partitions_the_bundled_cohort() {
    let data = bundled();
    let split = data::parse_split("surgery_year <= 2015").unwrap();
    let (train, test) = split.partition(data).unwrap();
    assert_eq!(train.n_rows + test.n_rows, data.n_rows);
    assert!(column(&train, "surgery_year").iter().all(|&y| y <= 2015.0));
    assert!(column(&test, "surgery_year").iter().all(|&y| y > 2015.0));
    // Volume grows over the years: the last three of eleven years hold over a quarter of rows.
    assert!(test.n_rows * 4 > data.n_rows, "{}", test.n_rows);
}

/// A small cohort CSV in a temporary directory with one cell per `(line, column, text)`
/// replaced; returns the directory (kept alive by the caller) and the file.
fn corrupted(edits: &[(usize, &str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let text = String::from_utf8(csv_bytes(30, 5)).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect();
    for &(line, column, value) in edits {
        let index = lines[0].iter().position(|name| name == column).unwrap();
        lines[line - 1][index] = value.to_string();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_cohort.csv");
    let body: String = lines.iter().map(|cells| cells.join(",") + "\n").collect();
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

fn load_error(path: &Path) -> DataError {
    data::load_csv(path, &shipped_schema()).expect_err("the file should be refused")
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "'{part}' not in: {message}");
    }
}

#[test]
fn an_uncorrupted_small_file_loads() {
    let (_dir, path) = corrupted(&[]);
    assert_eq!(data::load_csv(&path, &shipped_schema()).unwrap().n_rows, 30);
}

#[test]
fn an_unparseable_cell_names_file_line_and_column() {
    let (_dir, path) = corrupted(&[(7, "bmi", "31.2kg")]);
    let error = load_error(&path);
    assert!(
        matches!(error, DataError::NotANumber { line: 7, .. }),
        "{error:?}"
    );
    assert_names(
        &error.to_string(),
        &["bad_cohort.csv", "line 7", "'bmi'", "'31.2kg'"],
    );
}

#[test]
fn an_unknown_level_lists_the_allowed_levels() {
    let (_dir, path) = corrupted(&[(4, "procedure", "shoulder")]);
    let error = load_error(&path);
    assert!(
        matches!(error, DataError::UnknownLevel { line: 4, .. }),
        "{error:?}"
    );
    assert_names(
        &error.to_string(),
        &[
            "bad_cohort.csv",
            "line 4",
            "'procedure'",
            "'shoulder'",
            "hip, knee",
        ],
    );
}

#[test]
fn limit_violations_are_listed_together() {
    let (_dir, path) = corrupted(&[
        (3, "age", "150"),
        (9, "bmi", "95.0"),
        (12, "albumin", "4"),
        (20, "age", "12"),
    ]);
    let error = load_error(&path);
    let DataError::LimitViolations {
        violations,
        n_total,
        ..
    } = &error
    else {
        panic!("expected limit violations, got {error:?}")
    };
    assert_eq!(*n_total, 4);
    assert_eq!(
        violations
            .iter()
            .map(|v| (v.line, v.column.as_str()))
            .collect::<Vec<_>>(),
        [(3, "age"), (9, "bmi"), (12, "albumin"), (20, "age")]
    );
    assert_names(
        &error.to_string(),
        &[
            "bad_cohort.csv",
            "4 value(s) outside the schema's limits",
            "line 3, column 'age': 150 is above the maximum 105 years",
            "line 9, column 'bmi': 95.0 is above the maximum 80 kg/m²",
            "line 12, column 'albumin': 4 is below the minimum 10 g/L",
            "line 20, column 'age': 12 is below the minimum 18 years",
        ],
    );
}

#[test]
fn a_missing_required_column_is_named() {
    let text = String::from_utf8(csv_bytes(5, 5)).unwrap();
    let crp = synth::CSV_HEADER
        .split(',')
        .position(|name| name == "crp")
        .unwrap();
    let dropped: String = text
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells.remove(crp);
            cells.join(",") + "\n"
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_crp.csv");
    std::fs::write(&path, dropped).unwrap();
    let error = load_error(&path);
    assert!(
        matches!(&error, DataError::MissingColumn { column, .. } if column == "crp"),
        "{error:?}"
    );
    assert_names(&error.to_string(), &["no_crp.csv", "line 1", "'crp'"]);
}

#[test]
fn a_missing_value_in_a_required_column_is_named() {
    let (_dir, path) = corrupted(&[(5, "age", "")]);
    let error = load_error(&path);
    assert!(
        matches!(error, DataError::MissingValue { line: 5, .. }),
        "{error:?}"
    );
    assert_names(&error.to_string(), &["bad_cohort.csv", "line 5", "'age'"]);
}

#[test]
fn a_repeated_patient_id_names_both_lines() {
    // Line 9 holds patient 8; give line 21 the same id.
    let (_dir, path) = corrupted(&[(21, "patient_id", "8")]);
    let error = load_error(&path);
    assert!(
        matches!(
            error,
            DataError::DuplicateId {
                first_line: 9,
                second_line: 21,
                ..
            }
        ),
        "{error:?}"
    );
    assert_names(
        &error.to_string(),
        &["bad_cohort.csv", "'patient_id'", "'8'", "line 9", "line 21"],
    );
}

//! `lockstep validate`'s contract: a report tied to the exact model and data bytes, identical on every run and thread count, a verdict only from the plan with exit code 4 on rejection, clear refusals, and an HTML page that a real browser renders with every plot.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;
use common::{lockstep, model_features, stderr, synth_cohort, train_death};

use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small cohort with a good candidate, a logistic baseline and a deliberately weak model
/// (a single depth-1 tree), trained once for all tests of this file.
struct Fixture {
    dir: PathBuf,
    cohort: PathBuf,
    schema: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("validate-cli");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (cohort, schema) = synth_cohort(&dir, "8000", "3");
        for (name, config) in [
            ("good", "[gbdt]\nn_trees = 60\nmax_depth = 3\n"),
            ("linear", "kind = \"logistic\"\n[logistic]\nn_lambdas = 30\nfolds = 3\n"),
            (
                "weak",
                "[gbdt]\nn_trees = 1\nmax_depth = 1\nlearning_rate = 0.3\nearly_stopping_rounds = 1\n",
            ),
        ] {
            let config_path = dir.join(format!("{name}.toml"));
            std::fs::write(&config_path, config).unwrap();
            let out = dir.join(format!("{name}.lsm"));
            let result = train_death(&cohort, &schema, &config_path, &out);
            assert!(result.status.success(), "{name}: {}", stderr(&result));
        }
        Fixture {
            dir,
            cohort,
            schema,
        }
    })
}

const PLAN: &str = r#"
target = "death_2y"
rows = "surgery_year > 2015"
[metrics]
operating_points = [0.02, 0.05]
bootstrap_resamples = 200
[[subgroup]]
name = "sex"
column = "sex"
[[subgroup]]
name = "age band"
column = "age"
cuts = [65, 80]
[[subgroup]]
name = "ASA class"
column = "asa_class"
[acceptance]
min_auc_lower = 0.6
min_delta_auc_lower = -0.1
calibration_slope_within = [0.5, 1.5]
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn validate(model: &str, baseline: Option<&str>, plan: &Path, out: &str, threads: &str) -> Output {
    let f = fixture();
    let model = f.dir.join(model);
    let out = f.dir.join(out);
    let mut args = vec![
        "validate".to_string(),
        "-m".into(),
        model.to_str().unwrap().into(),
        "--data".into(),
        f.cohort.to_str().unwrap().into(),
        "--plan".into(),
        plan.to_str().unwrap().into(),
        "--threads".into(),
        threads.into(),
        "--quiet".into(),
        "-o".into(),
        out.to_str().unwrap().into(),
    ];
    if let Some(b) = baseline {
        args.push("--baseline".into());
        args.push(f.dir.join(b).to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lockstep(&args)
}

#[test]
fn report_names_the_exact_bytes_and_is_identical_on_every_run() {
    let f = fixture();
    let plan = write(&f.dir, "plan.toml", PLAN);
    let first = validate("good.lsm", Some("linear.lsm"), &plan, "report-a", "1");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stderr(&first).contains("ACCEPTED"), "{}", stderr(&first));
    let second = validate("good.lsm", Some("linear.lsm"), &plan, "report-b", "2");
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    for name in ["report.json", "report.html"] {
        let a = std::fs::read(f.dir.join("report-a").join(name)).unwrap();
        let b = std::fs::read(f.dir.join("report-b").join(name)).unwrap();
        assert!(a == b, "{name} differs between runs on 1 and 2 threads");
    }

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.join("report-a").join("report.json")).unwrap())
            .unwrap();
    let model_bytes = std::fs::read(f.dir.join("good.lsm")).unwrap();
    // The model's identity is the checksum stored in its last 32 bytes (what the device checks).
    assert_eq!(
        json["candidate"]["model"]["sha256"],
        hex(&model_bytes[model_bytes.len() - 32..])
    );
    assert_eq!(
        json["data"]["sha256"],
        hex(&Sha256::digest(std::fs::read(&f.cohort).unwrap()))
    );
    assert_eq!(
        json["schema"]["sha256"],
        hex(&Sha256::digest(std::fs::read(&f.schema).unwrap()))
    );
    assert_eq!(
        json["plan_file"]["sha256"],
        hex(&Sha256::digest(PLAN.as_bytes()))
    );
    let rows = json["counts"]["rows"].as_u64().unwrap();
    assert!(rows > 1000 && rows < 8000, "{rows}");
    assert_eq!(json["verdict"]["accepted"], true);
    assert_eq!(json["verdict"]["criteria"].as_array().unwrap().len(), 3);
    assert!(json["comparison"]["auc"]["ci"]["lower"].is_f64());
    // Every declared subgroup is listed, including those too small for estimates.
    let groups: Vec<&str> = json["subgroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["groups"].as_array().unwrap())
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    for label in [
        "sex = female",
        "sex = male",
        "age < 65",
        "age 65 to < 80",
        "age >= 80",
    ] {
        assert!(groups.contains(&label), "{label} missing from {groups:?}");
    }
    let asa_groups = json["subgroups"][2]["groups"].as_array().unwrap();
    assert_eq!(asa_groups.len(), 4, "ASA classes 1 to 4");
    let html = std::fs::read_to_string(f.dir.join("report-a").join("report.html")).unwrap();
    assert!(html.contains(json["candidate"]["model"]["sha256"].as_str().unwrap()));
    assert!(!html.contains("<script"), "the report carries no scripts");
    assert!(!html.contains("src=\"http"), "no external resources");
}

#[test]
fn split_and_id_columns_filter_and_group_rows_without_being_features() {
    let f = fixture();
    // The candidate trained on `surgery_year <= 2015` (a [[split]] column) without using it.
    let features = model_features(&f.dir.join("good.lsm"));
    assert!(features.iter().any(|name| name == "age"), "{features:?}");
    for name in ["surgery_year", "patient_id"] {
        assert!(
            !features.iter().any(|f| f == name),
            "{name} in {features:?}"
        );
    }
    let text = std::fs::read_to_string(&f.cohort).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (year, id) = (at("surgery_year"), at("patient_id"));
    let cells: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    let late = cells.iter().filter(|c| c[year] > "2015").count();
    let high_ids = cells
        .iter()
        .filter(|c| c[id].parse::<u64>().unwrap() > 4000)
        .count();
    for (name, rows, expected) in [
        ("split", "surgery_year > 2015", late),
        ("id", "patient_id > 4000", high_ids),
    ] {
        let plan = write(
            &f.dir,
            &format!("plan-{name}.toml"),
            &format!(
                "target = \"death_2y\"\nrows = \"{rows}\"\n[metrics]\nbootstrap_resamples = 100\n\
                 [[subgroup]]\nname = \"year\"\ncolumn = \"surgery_year\"\n"
            ),
        );
        let out = format!("report-{name}");
        let result = validate("good.lsm", None, &plan, &out, "0");
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(f.dir.join(&out).join("report.json")).unwrap())
                .unwrap();
        assert_eq!(
            json["counts"]["rows"].as_u64(),
            Some(expected as u64),
            "{rows}"
        );
        let groups: Vec<&str> = json["subgroups"][0]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["label"].as_str().unwrap())
            .collect();
        assert!(groups.contains(&"surgery_year = 2016"), "{groups:?}");
    }
}

#[test]
fn a_worse_candidate_is_rejected_with_exit_code_4() {
    let f = fixture();
    let plan = write(&f.dir, "plan-reject.toml", PLAN);
    let result = validate("weak.lsm", Some("good.lsm"), &plan, "report-weak", "0");
    assert_eq!(result.status.code(), Some(4), "{}", stderr(&result));
    let err = stderr(&result);
    assert!(err.contains("FAIL delta AUC"), "{err}");
    assert!(err.contains("REJECTED"), "{err}");
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.dir.join("report-weak").join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["verdict"]["accepted"], false);
    let html = std::fs::read_to_string(f.dir.join("report-weak").join("report.html")).unwrap();
    assert!(html.contains("REJECTED"));
}

#[test]
fn refuses_plans_it_cannot_honour_with_the_reason() {
    let f = fixture();
    let plan = write(&f.dir, "plan-needs-baseline.toml", PLAN);
    let result = validate("good.lsm", None, &plan, "report-x", "0");
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("--baseline"),
        "{}",
        stderr(&result)
    );

    let bad = write(
        &f.dir,
        "plan-typo.toml",
        "[acceptance]\nmin_auc_lowr = 0.7\n",
    );
    let result = validate("good.lsm", None, &bad, "report-y", "0");
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("plan-typo.toml") && err.contains("min_auc_lowr"),
        "{err}"
    );

    let unknown = write(&f.dir, "plan-target.toml", "target = \"stroke\"\n");
    let result = validate("good.lsm", None, &unknown, "report-z", "0");
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(err.contains("stroke") && err.contains("death_2y"), "{err}");
}

/// Finds a Chromium binary.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let output = Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()?;
            let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
            (!path.is_empty()).then(|| PathBuf::from(path))
        })
}

/// Checks, inside the browser, that every `<svg>` has a laid-out box and marks that drew
/// (paths, dots, bars with a non-empty box); the result lands on `<body data-check=...>`.
const CHECK_SCRIPT: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
window.addEventListener('load', () => {
  const svgs = Array.from(document.querySelectorAll('svg'));
  let drawn = 0, marks = 0;
  for (const svg of svgs) {
    const box = svg.getBoundingClientRect();
    const shapes = Array.from(svg.querySelectorAll('path.series, circle.point, rect.point, rect.bar'));
    const visible = shapes.filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; });
    if (box.width > 0 && box.height > 0 && visible.length > 0) drawn++;
    marks += visible.length;
  }
  document.body.setAttribute('data-check',
    'svgs=' + svgs.length + ' drawn=' + drawn + ' marks=' + marks + ' errors=' + window.__errors.length);
});
</script>"#;

#[test]
fn report_renders_every_plot_in_headless_chromium() {
    let Some(browser) = chromium() else {
        panic!("chromium is not installed; `ci/setup.sh` installs Debian's chromium package");
    };
    let f = fixture();
    let plan = write(&f.dir, "plan-browser.toml", PLAN);
    let result = validate("good.lsm", Some("linear.lsm"), &plan, "report-browser", "0");
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let html = std::fs::read_to_string(f.dir.join("report-browser").join("report.html")).unwrap();
    // The check runs on a copy: the report itself carries no script.
    let probe = f.dir.join("report-browser").join("probe.html");
    std::fs::write(
        &probe,
        html.replacen("<head>", &format!("<head>\n{CHECK_SCRIPT}"), 1),
    )
    .unwrap();
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
    ];
    let url = format!("file://{}", probe.display());
    let dom = Command::new(&browser)
        .args(flags)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(dom.status.success(), "chromium failed: {}", stderr(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let check = dom
        .split("data-check=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "the page did not finish loading: {}",
                &dom[..dom.len().min(400)]
            )
        });
    // ROC, 2 calibration plots, 2 histograms, decision curve, subgroup forest plot.
    let expected_svgs = html.matches("<svg").count();
    assert_eq!(expected_svgs, 7);
    let fields: Vec<usize> = check
        .split(' ')
        .map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(fields[0], expected_svgs, "{check}");
    assert_eq!(
        fields[1], expected_svgs,
        "every plot drew something: {check}"
    );
    assert!(fields[2] > 100, "{check}");
    assert_eq!(fields[3], 0, "no script errors: {check}");

    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("validation-report.png");
    let shot = Command::new(&browser)
        .args(flags)
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1200,3000")
        .arg(format!(
            "file://{}",
            f.dir.join("report-browser").join("report.html").display()
        ))
        .output()
        .expect("run chromium");
    assert!(shot.status.success(), "{}", stderr(&shot));
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    println!("screenshot: {}", screenshot.display());
}

/// Runs `lockstep validate` on `model` with extra arguments.
fn validate_with(model: &str, plan: &Path, out: &str, extra: &[&str]) -> Output {
    let f = fixture();
    let model = f.dir.join(model);
    let out = f.dir.join(out);
    let mut args = vec![
        "validate",
        "-m",
        model.to_str().unwrap(),
        "--data",
        f.cohort.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    lockstep(&args)
}

#[test]
fn refuses_a_baseline_for_another_outcome_and_a_record_of_another_model() {
    let f = fixture();
    // A baseline trained for another outcome of the same cohort.
    let config = write(
        &f.dir,
        "infection.toml",
        "[gbdt]\nn_trees = 2\nmax_depth = 1\n",
    );
    let infection = f.dir.join("infection.lsm");
    let trained = lockstep(&[
        "train",
        "--data",
        f.cohort.to_str().unwrap(),
        "--schema",
        f.schema.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--target",
        "infection_1y",
        "-o",
        infection.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let plan = write(
        &f.dir,
        "plan-small.toml",
        "target = \"death_2y\"\n[metrics]\nbootstrap_resamples = 100\n",
    );
    let baseline = infection.to_str().unwrap();
    let result = validate_with(
        "good.lsm",
        &plan,
        "report-outcome",
        &["--baseline", baseline],
    );
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("baseline")
            && err.contains("infection.lsm")
            && err.contains("'infection_1y'")
            && err.contains("'death_2y'"),
        "{err}"
    );
    assert!(!f.dir.join("report-outcome").exists());
    // The candidate itself, under a plan naming another outcome.
    let other = write(&f.dir, "plan-infection.toml", "target = \"infection_1y\"\n");
    let result = validate_with("good.lsm", &other, "report-outcome2", &[]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("'death_2y'") && err.contains("'infection_1y'"),
        "{err}"
    );

    // A training record written for another model.
    let weak_record = f.dir.join("weak.training.json");
    let record = weak_record.to_str().unwrap();
    let result = validate_with(
        "good.lsm",
        &plan,
        "report-record",
        &["--training-record", record],
    );
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        err.contains("weak.training.json") && err.contains("good.lsm") && err.contains("SHA-256"),
        "{err}"
    );
    // Its own record is accepted.
    let good_record = f.dir.join("good.training.json");
    let record = good_record.to_str().unwrap();
    let result = validate_with(
        "good.lsm",
        &plan,
        "report-own",
        &["--training-record", record],
    );
    assert!(result.status.success(), "{}", stderr(&result));
}

#[test]
fn a_subgroup_without_cuts_on_a_column_of_too_many_values_is_refused() {
    let f = fixture();
    // The cohort with a distinct BMI per patient (8000 values).
    let text = std::fs::read_to_string(&f.cohort).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let bmi = header.split(',').position(|c| c == "bmi").unwrap();
    let mut spread = format!("{header}\n");
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        cells[bmi] = format!("{}", 20.0 + i as f64 / 1000.0);
        spread.push_str(&cells.join(","));
        spread.push('\n');
    }
    let data = write(&f.dir, "cohort-spread-bmi.csv", &spread);
    std::fs::copy(&f.schema, f.dir.join("cohort-spread-bmi.schema.toml")).unwrap();
    let plan = write(
        &f.dir,
        "plan-levels.toml",
        "target = \"death_2y\"\n[metrics]\nbootstrap_resamples = 100\n\
         [[subgroup]]\nname = \"each bmi\"\ncolumn = \"bmi\"\n",
    );
    let out = f.dir.join("report-levels");
    let result = lockstep(&[
        "validate",
        "-m",
        f.dir.join("good.lsm").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    let err = stderr(&result);
    assert!(
        err.contains("subgroup 'each bmi' has 8000 distinct values of column 'bmi'")
            && err.contains("cap of 1000 groups")
            && err.contains("cuts"),
        "{err}"
    );
    assert!(!out.exists());
}

//! The validation statistics agree with scikit-learn, statsmodels and a plain O(n^2) DeLong on tests/fixtures/validation (AUC and ROC bit-exact, the rest within 1e-6), and the bootstrap is reproducible.

use std::path::PathBuf;

use serde::Deserialize;

use lockstep_host::metrics::auc::{auc, auc_delong, paired_auc_delong, roc_curve};
use lockstep_host::metrics::bootstrap::{
    bootstrap_paired_summary, bootstrap_summary, BootstrapOptions,
};
use lockstep_host::metrics::calibration::{
    brier, calibration_in_the_large, calibration_slope, grouped_calibration, observed_expected,
    LogisticEstimate, SlopeFit,
};
use lockstep_host::metrics::decision::{decision_curve, threshold_metrics};
use lockstep_host::metrics::lowess::{lowess, smoothed_calibration, LowessOptions};
use lockstep_host::metrics::report::{model_report, ValidationOptions};
use lockstep_host::metrics::subgroup::{subgroup_summary, SubgroupOptions, SubgroupResult};
use lockstep_host::metrics::{Interval, Proportion, Sample, Z_95};

/// Agreement required of every non-exact statistic, as the brief for `lockstep validate` sets
/// it. The differences that remain come from summation order (numpy sums pairwise, we sum in
/// row order) and from the reference fits' own convergence tolerances; they are around 1e-12.
const TOLERANCE: f64 = 1e-6;

/// scikit-learn's `roc_auc_score` integrates the ROC curve with the trapezoid rule in floating
/// point, so it can be an ulp or two away from the exact Mann-Whitney fraction that Lockstep
/// rounds once (and that the fixtures also hold, computed with Python's `fractions`).
const SKLEARN_TRAPEZOID_TOLERANCE: f64 = 1e-14;

const FIXTURES: [&str; 5] = [
    "hand_30",
    "net_benefit_10",
    "calibrated_2000",
    "miscalibrated_2000",
    "paired_2000",
];

/// An f64 read with Rust's correctly rounded parser from the number's text in the JSON file.
/// serde_json's own float parsing (without its `float_roundtrip` feature) can land one ulp away,
/// which would break the bit-exact comparisons and could even split or merge tied scores; the
/// workspace enables `arbitrary_precision`, so a `Number` keeps the text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Exact(f64);

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        number
            .to_string()
            .parse::<f64>()
            .map(Exact)
            .map_err(serde::de::Error::custom)
    }
}

/// A reference value: from a fixture, or written in the test.
struct Expected(f64);

impl From<Exact> for Expected {
    fn from(value: Exact) -> Self {
        Self(value.0)
    }
}

impl From<f64> for Expected {
    fn from(value: f64) -> Self {
        Self(value)
    }
}

fn values(v: &[Exact]) -> Vec<f64> {
    v.iter().map(|x| x.0).collect()
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    z95: Exact,
    labels: Vec<u8>,
    models: Vec<Model>,
    paired: Option<PairedRef>,
}

#[derive(Deserialize)]
struct Model {
    name: String,
    probs: Vec<Exact>,
    logits: Vec<Exact>,
    reference: Reference,
}

#[derive(Deserialize)]
struct Reference {
    n: usize,
    n_events: usize,
    auc_exact: Exact,
    auc_sklearn: Exact,
    delong: DelongRef,
    roc: RocRef,
    brier: Exact,
    scaled_brier: Exact,
    observed_expected: OeRef,
    citl: EstimateRef,
    slope: SlopeRef,
    lowess: Vec<LowessRef>,
    groups: Vec<GroupRef>,
    decision_curve: Vec<DecisionRef>,
    operating_points: Vec<OperatingRef>,
}

#[derive(Deserialize)]
struct DelongRef {
    auc_placements: Exact,
    se: Exact,
    ci: [Exact; 2],
}

#[derive(Deserialize)]
struct RocRef {
    fpr: Vec<Exact>,
    tpr: Vec<Exact>,
    thresholds: Vec<Option<Exact>>,
}

#[derive(Deserialize)]
struct OeRef {
    observed: Exact,
    expected: Exact,
    ratio: Exact,
    ci: [Exact; 2],
}

#[derive(Deserialize)]
struct EstimateRef {
    estimate: Exact,
    se: Exact,
    ci: [Exact; 2],
}

#[derive(Deserialize)]
struct SlopeRef {
    intercept: EstimateRef,
    slope: EstimateRef,
}

#[derive(Deserialize)]
struct LowessRef {
    frac: Exact,
    delta_fraction: Exact,
    delta: Exact,
    fitted: Vec<Exact>,
    ici: Exact,
    e50: Exact,
    e90: Exact,
    emax: Exact,
}

#[derive(Deserialize)]
struct GroupRef {
    n: usize,
    mean_predicted: Exact,
    min_predicted: Exact,
    max_predicted: Exact,
    observed: ProportionRef,
}

#[derive(Deserialize)]
struct ProportionRef {
    numerator: u64,
    denominator: u64,
    estimate: Exact,
    ci: [Exact; 2],
}

#[derive(Deserialize)]
struct DecisionRef {
    threshold: Exact,
    true_positives: usize,
    false_positives: usize,
    net_benefit: Exact,
    treat_all: Exact,
}

#[derive(Deserialize)]
struct OperatingRef {
    threshold: Exact,
    true_positives: u64,
    false_positives: u64,
    true_negatives: u64,
    false_negatives: u64,
    sensitivity: Option<ProportionRef>,
    specificity: Option<ProportionRef>,
    ppv: Option<ProportionRef>,
    npv: Option<ProportionRef>,
}

#[derive(Deserialize)]
struct PairedRef {
    difference: Exact,
    se: Exact,
    ci: [Exact; 2],
    z: Exact,
    p_value: Exact,
    auc_candidate: Exact,
    auc_baseline: Exact,
}

impl Model {
    fn sample(&self, labels: &[bool]) -> Sample {
        Sample::new(values(&self.probs), values(&self.logits), labels.to_vec()).unwrap()
    }
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/validation")
}

fn load(name: &str) -> Fixture {
    let path = fixture_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: Fixture =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(fixture.name, name);
    fixture
}

fn labels(fixture: &Fixture) -> Vec<bool> {
    fixture.labels.iter().map(|&y| y == 1).collect()
}

/// Every model of every fixture, with its sample and context for messages.
fn each_model(mut check: impl FnMut(&str, &Sample, &Reference)) {
    for name in FIXTURES {
        let fixture = load(name);
        assert_eq!(
            fixture.z95.0, Z_95,
            "{name}: the reference used another normal quantile"
        );
        let labels = labels(&fixture);
        for model in &fixture.models {
            let sample = model.sample(&labels);
            assert_eq!(
                (sample.len(), sample.n_events()),
                (model.reference.n, model.reference.n_events)
            );
            check(&format!("{name}/{}", model.name), &sample, &model.reference);
        }
    }
}

#[track_caller]
fn close(context: &str, what: &str, actual: f64, expected: impl Into<Expected>) {
    let expected = expected.into().0;
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{context}: {what} = {actual}, reference {expected} (difference {:e})",
        (actual - expected).abs()
    );
}

#[track_caller]
fn close_interval(context: &str, what: &str, actual: Interval, expected: [Exact; 2]) {
    close(context, &format!("{what} lower"), actual.lower, expected[0]);
    close(context, &format!("{what} upper"), actual.upper, expected[1]);
}

#[track_caller]
fn close_estimate(context: &str, what: &str, actual: &LogisticEstimate, expected: &EstimateRef) {
    close(context, what, actual.estimate, expected.estimate);
    close(context, &format!("{what} se"), actual.se, expected.se);
    close_interval(context, what, actual.ci, expected.ci);
}

#[track_caller]
fn same_proportion(
    context: &str,
    what: &str,
    actual: Option<Proportion>,
    expected: Option<&ProportionRef>,
) {
    match (actual, expected) {
        (None, None) => {}
        (Some(a), Some(e)) => {
            assert_eq!(
                (a.numerator, a.denominator),
                (e.numerator, e.denominator),
                "{context}: {what} counts"
            );
            close(context, what, a.estimate, e.estimate);
            close_interval(context, what, a.ci, e.ci);
        }
        (a, e) => panic!(
            "{context}: {what} is {a:?}, reference {}",
            if e.is_some() { "defined" } else { "undefined" }
        ),
    }
}

#[test]
fn fixture_numbers_are_read_exactly() {
    // serde_json's fast float parser reads this literal (a lowess delta from the fixtures) one
    // ulp high; the comparisons below rely on reading it as Rust's parser does.
    let text = "0.009801225905757747";
    let exact: Exact = serde_json::from_str(text).unwrap();
    assert_eq!(exact.0.to_bits(), text.parse::<f64>().unwrap().to_bits());
}

#[test]
fn auc_is_the_exact_mann_whitney_fraction() {
    each_model(|context, sample, reference| {
        let value = auc(sample.probs(), sample.labels()).unwrap();
        assert_eq!(
            value.to_bits(),
            reference.auc_exact.0.to_bits(),
            "{context}: {value} vs {}",
            reference.auc_exact.0
        );
        assert!(
            (value - reference.auc_sklearn.0).abs() <= SKLEARN_TRAPEZOID_TOLERANCE,
            "{context}: sklearn {}",
            reference.auc_sklearn.0
        );
    });
}

#[test]
fn delong_matches_the_pairwise_placements() {
    each_model(|context, sample, reference| {
        let report = auc_delong(sample.probs(), sample.labels()).unwrap();
        close(
            context,
            "auc (mean placement)",
            report.auc,
            reference.delong.auc_placements,
        );
        close(
            context,
            "DeLong se",
            report.se.unwrap(),
            reference.delong.se,
        );
        close_interval(context, "AUC CI", report.ci.unwrap(), reference.delong.ci);
    });
}

#[test]
fn paired_delong_matches_the_pairwise_placements() {
    let fixture = load("paired_2000");
    let expected = fixture.paired.as_ref().unwrap();
    let labels = labels(&fixture);
    let report = paired_auc_delong(
        &values(&fixture.models[0].probs),
        &values(&fixture.models[1].probs),
        &labels,
    )
    .unwrap();
    assert_eq!(report.auc_candidate, expected.auc_candidate.0);
    assert_eq!(report.auc_baseline, expected.auc_baseline.0);
    close(
        "paired",
        "difference",
        report.difference,
        expected.difference,
    );
    close("paired", "se", report.se.unwrap(), expected.se);
    close_interval("paired", "difference CI", report.ci.unwrap(), expected.ci);
    close("paired", "z", report.z.unwrap(), expected.z);
    close(
        "paired",
        "p-value",
        report.p_value.unwrap(),
        expected.p_value,
    );
    // The p-value is tiny here; it must also be right relative to its size.
    assert!((report.p_value.unwrap() / expected.p_value.0 - 1.0).abs() < 1e-9);
}

#[test]
fn roc_curve_is_bit_identical_to_scikit_learn() {
    each_model(|context, sample, reference| {
        let points = roc_curve(sample.probs(), sample.labels()).unwrap();
        assert_eq!(
            points.len(),
            reference.roc.fpr.len(),
            "{context}: point count"
        );
        for (k, point) in points.iter().enumerate() {
            assert_eq!(
                point.fpr.to_bits(),
                reference.roc.fpr[k].0.to_bits(),
                "{context}: fpr[{k}]"
            );
            assert_eq!(
                point.tpr.to_bits(),
                reference.roc.tpr[k].0.to_bits(),
                "{context}: tpr[{k}]"
            );
            assert_eq!(
                point.threshold,
                reference.roc.thresholds[k].map(|t| t.0),
                "{context}: threshold[{k}]"
            );
        }
    });
}

#[test]
fn brier_and_observed_expected_match() {
    each_model(|context, sample, reference| {
        let report = brier(sample).unwrap();
        close(context, "Brier", report.brier, reference.brier);
        close(
            context,
            "scaled Brier",
            report.scaled.unwrap(),
            reference.scaled_brier,
        );
        let oe = observed_expected(sample).unwrap();
        assert_eq!(oe.observed, reference.observed_expected.observed.0);
        close(
            context,
            "expected",
            oe.expected,
            reference.observed_expected.expected,
        );
        close(
            context,
            "O/E",
            oe.ratio.unwrap(),
            reference.observed_expected.ratio,
        );
        close_interval(
            context,
            "O/E CI",
            oe.ci.unwrap(),
            reference.observed_expected.ci,
        );
    });
}

#[test]
fn calibration_fits_match_statsmodels() {
    each_model(|context, sample, reference| {
        let citl = calibration_in_the_large(sample).unwrap();
        close_estimate(context, "CITL", &citl, &reference.citl);
        let SlopeFit::Estimated {
            intercept, slope, ..
        } = calibration_slope(sample).unwrap()
        else {
            panic!("{context}: the slope should be estimable");
        };
        close_estimate(
            context,
            "slope intercept",
            &intercept,
            &reference.slope.intercept,
        );
        close_estimate(context, "slope", &slope, &reference.slope.slope);
    });
}

#[test]
fn lowess_matches_statsmodels_row_by_row() {
    each_model(|context, sample, reference| {
        for config in &reference.lowess {
            let options = LowessOptions {
                frac: config.frac.0,
                delta_fraction: config.delta_fraction.0,
            };
            let context = format!(
                "{context} frac={} delta_fraction={}",
                config.frac.0, config.delta_fraction.0
            );
            let fit = lowess(sample.probs(), sample.labels(), &options).unwrap();
            assert_eq!(
                fit.delta.to_bits(),
                config.delta.0.to_bits(),
                "{context}: delta"
            );
            for (row, (&a, &e)) in fit.fitted.iter().zip(&config.fitted).enumerate() {
                close(&context, &format!("fitted[{row}]"), a, e);
            }
            let summary = smoothed_calibration(sample, &options).unwrap();
            close(&context, "ICI", summary.ici, config.ici);
            close(&context, "E50", summary.e50, config.e50);
            close(&context, "E90", summary.e90, config.e90);
            close(&context, "Emax", summary.emax, config.emax);
            // The curve's anchors are rows' (p, fitted) pairs in ascending p.
            assert!(summary
                .curve
                .windows(2)
                .all(|w| w[0].predicted < w[1].predicted));
        }
    });
}

#[test]
fn grouped_calibration_matches() {
    each_model(|context, sample, reference| {
        let groups = grouped_calibration(sample, 10).unwrap();
        assert_eq!(
            groups.len(),
            reference.groups.len(),
            "{context}: group count"
        );
        for (k, (g, e)) in groups.iter().zip(&reference.groups).enumerate() {
            let what = format!("group {k}");
            assert_eq!(g.n, e.n, "{context}: {what} size");
            assert_eq!(
                (g.min_predicted, g.max_predicted),
                (e.min_predicted.0, e.max_predicted.0),
                "{context}: {what} range"
            );
            close(
                context,
                &format!("{what} mean p"),
                g.mean_predicted,
                e.mean_predicted,
            );
            same_proportion(context, &what, Some(g.observed), Some(&e.observed));
        }
    });
}

#[test]
fn decision_curve_matches_the_formula() {
    each_model(|context, sample, reference| {
        let thresholds: Vec<f64> = reference
            .decision_curve
            .iter()
            .map(|d| d.threshold.0)
            .collect();
        let curve = decision_curve(sample, &thresholds).unwrap();
        for (point, e) in curve.iter().zip(&reference.decision_curve) {
            let what = format!("t={}", e.threshold.0);
            assert_eq!(
                (point.true_positives, point.false_positives),
                (e.true_positives, e.false_positives),
                "{context}: {what}"
            );
            close(
                context,
                &format!("net benefit {what}"),
                point.net_benefit,
                e.net_benefit,
            );
            close(
                context,
                &format!("treat all {what}"),
                point.treat_all,
                e.treat_all,
            );
        }
    });
}

#[test]
fn net_benefit_matches_the_hand_worked_case() {
    let fixture = load("net_benefit_10");
    let sample = fixture.models[0].sample(&labels(&fixture));
    // Worked out by hand in gen_metrics.py: (t, TP, FP, net benefit, treat all).
    let hand = [
        (0.10, 5, 4, 41.0 / 90.0, 4.0 / 9.0),
        (0.25, 4, 2, 1.0 / 3.0, 1.0 / 3.0),
        (0.50, 3, 1, 0.2, 0.0),
        (0.75, 2, 0, 0.2, -1.0),
    ];
    let curve = decision_curve(&sample, &hand.map(|h| h.0)).unwrap();
    for (point, (t, tp, fp, nb, all)) in curve.iter().zip(hand) {
        assert_eq!(
            (point.true_positives, point.false_positives),
            (tp, fp),
            "t={t}"
        );
        close("hand", "net benefit", point.net_benefit, nb);
        close("hand", "treat all", point.treat_all, all);
    }
}

#[test]
fn operating_points_match_statsmodels_wilson() {
    each_model(|context, sample, reference| {
        for e in &reference.operating_points {
            let report = threshold_metrics(sample, e.threshold.0).unwrap();
            let context = format!("{context} t={}", e.threshold.0);
            assert_eq!(
                (
                    report.true_positives,
                    report.false_positives,
                    report.true_negatives,
                    report.false_negatives
                ),
                (
                    e.true_positives,
                    e.false_positives,
                    e.true_negatives,
                    e.false_negatives
                ),
                "{context}: counts"
            );
            same_proportion(
                &context,
                "sensitivity",
                report.sensitivity,
                e.sensitivity.as_ref(),
            );
            same_proportion(
                &context,
                "specificity",
                report.specificity,
                e.specificity.as_ref(),
            );
            same_proportion(&context, "PPV", report.ppv, e.ppv.as_ref());
            same_proportion(&context, "NPV", report.npv, e.npv.as_ref());
        }
    });
}

fn calibrated_sample() -> Sample {
    let fixture = load("calibrated_2000");
    let model = &fixture.models[0];
    model.sample(&labels(&fixture))
}

#[test]
fn bootstrap_is_reproducible_across_runs_and_thread_counts() {
    let sample = calibrated_sample();
    let options = |n_threads| BootstrapOptions {
        seed: 20_240_611,
        n_resamples: 100,
        n_threads,
    };
    let lowess = LowessOptions::default();
    let one = bootstrap_summary(&sample, &options(1), &lowess, &[0.1, 0.2]).unwrap();
    let two = bootstrap_summary(&sample, &options(2), &lowess, &[0.1, 0.2]).unwrap();
    let again = bootstrap_summary(&sample, &options(2), &lowess, &[0.1, 0.2]).unwrap();
    // Compare through JSON text as well, which pins every digit of every interval.
    let text = serde_json::to_string(&one).unwrap();
    assert_eq!(text, serde_json::to_string(&two).unwrap());
    assert_eq!(text, serde_json::to_string(&again).unwrap());
    let brier = one.brier.ci.unwrap();
    assert!(brier.lower < one.brier.estimate.unwrap() && one.brier.estimate.unwrap() < brier.upper);
    assert_eq!(
        (one.seed, one.n_resamples, one.ici.n_undefined),
        (20_240_611, 100, 0)
    );

    let fixture = load("paired_2000");
    let labels = labels(&fixture);
    let model = |k: usize| fixture.models[k].sample(&labels);
    let (candidate, baseline) = (model(0), model(1));
    let paired_one = bootstrap_paired_summary(&candidate, &baseline, &options(1)).unwrap();
    let paired_two = bootstrap_paired_summary(&candidate, &baseline, &options(2)).unwrap();
    assert_eq!(paired_one, paired_two);
    // The candidate is the better model: lower Brier on (almost) every resample.
    assert!(paired_one.brier_difference.ci.unwrap().upper < 0.0);
}

#[test]
fn subgroups_report_estimates_or_a_status() {
    let sample = calibrated_sample();
    let even: Vec<bool> = (0..sample.len()).map(|row| row % 2 == 0).collect();
    let report = subgroup_summary(&sample, &even, &SubgroupOptions::default()).unwrap();
    let subset = sample.subset(&even).unwrap();
    let SubgroupResult::Estimated { auc, .. } = report.result else {
        panic!("half of 2,000 rows is enough: {:?}", report.result);
    };
    assert_eq!(auc, auc_delong(subset.probs(), subset.labels()).unwrap());
    let first_fifty: Vec<bool> = (0..sample.len()).map(|row| row < 50).collect();
    let small = subgroup_summary(&sample, &first_fifty, &SubgroupOptions::default()).unwrap();
    assert_eq!(small.n, 50);
    assert!(
        matches!(small.result, SubgroupResult::TooFewEvents { .. }),
        "{small:?}"
    );
}

#[test]
fn model_report_serialises_every_fixture() {
    each_model(|context, sample, reference| {
        let options = ValidationOptions {
            operating_thresholds: vec![0.1, 0.2],
            bootstrap: None,
            ..ValidationOptions::default()
        };
        let report = model_report(sample, &options).unwrap();
        assert_eq!(report.auc.auc, reference.auc_exact.0, "{context}");
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"smoothed_calibration\""), "{context}");
    });
}

//! Renders a [`ValidationReport`] as one self-contained HTML page: tables of every metric and
//! inline SVG plots (ROC, calibration, score histograms, decision curve, subgroup forest plot).
//!
//! Never: scripts, external links, fonts or images from elsewhere, timestamps. Numbers are
//! printed with fixed decimals, so the page is a pure function of the report.

use std::fmt::Write as _;

use super::svg::{escape, forest_plot, Axis, Chart, Dot, ForestRow, PALETTE};
use super::{ModelSection, ValidationReport};
use crate::metrics::calibration::SlopeFit;
use crate::metrics::subgroup::{SubgroupReport, SubgroupResult};
use crate::metrics::{Interval, Proportion};

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222}\
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}\
.verdict{padding:10px 14px;font-weight:bold;font-size:16px;border-radius:4px}\
.accepted{background:#dff0d8;color:#1d5a1d}.rejected{background:#f8d7da;color:#7a1b24}.none{background:#eee}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.note{color:#555;font-size:13px}";

fn num(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

fn with_ci(value: f64, ci: Option<Interval>, decimals: usize) -> String {
    match ci {
        Some(ci) => format!(
            "{} ({} to {})",
            num(value, decimals),
            num(ci.lower, decimals),
            num(ci.upper, decimals)
        ),
        None => format!("{} (no interval)", num(value, decimals)),
    }
}

fn proportion(p: &Option<Proportion>) -> String {
    match p {
        Some(p) => format!(
            "{} ({} to {}) [{}/{}]",
            num(p.estimate, 3),
            num(p.ci.lower, 3),
            num(p.ci.upper, 3),
            p.numerator,
            p.denominator
        ),
        None => "undefined (no cases)".into(),
    }
}

fn slope_text(fit: &SlopeFit) -> String {
    match fit {
        SlopeFit::Estimated { slope, .. } => with_ci(slope.estimate, Some(slope.ci), 3),
        SlopeFit::Separated => "not estimable: the outcome is separated by the score".into(),
        SlopeFit::ConstantLogit => "not estimable: every prediction is the same".into(),
        SlopeFit::NotConverged { iterations } => {
            format!("not estimable: no convergence in {iterations} iterations")
        }
    }
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for (i, cell) in cells.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "<th>{}</th>", escape(cell));
        } else {
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(cell));
        }
    }
    out.push_str("</tr>\n");
}

fn header(out: &mut String, cells: &[&str]) {
    out.push_str("<tr>");
    for cell in cells {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr>\n");
}

fn sections(report: &ValidationReport) -> Vec<(&'static str, &ModelSection)> {
    let mut models = vec![("candidate", &report.candidate)];
    if let Some(b) = &report.baseline {
        models.push(("baseline", b));
    }
    models
}

fn identity_table(out: &mut String, r: &ValidationReport) {
    out.push_str("<h2 id=\"identity\">What was validated</h2>\n<table>\n");
    for (what, s) in sections(r) {
        row(out, &[format!("{what} model"), s.model.name.clone()]);
        row(out, &[format!("{what} SHA-256"), s.model.sha256.clone()]);
        row(
            out,
            &[
                format!("{what} description"),
                format!(
                    "{} — {}, {} trees, {} bytes",
                    s.model.label, s.model.source, s.model.n_trees, s.model.bytes
                ),
            ],
        );
    }
    row(out, &["test data".into(), r.data.name.clone()]);
    row(out, &["test data SHA-256".into(), r.data.sha256.clone()]);
    row(
        out,
        &[
            "schema SHA-256".into(),
            format!("{} ({})", r.schema.sha256, r.schema.name),
        ],
    );
    row(
        out,
        &[
            "plan".into(),
            r.plan_file
                .as_ref()
                .map_or("default plan (no file)".into(), |p| {
                    format!("{} (SHA-256 {})", p.name, p.sha256)
                }),
        ],
    );
    if let Some(t) = &r.training_record {
        row(
            out,
            &[
                "training record".into(),
                format!("{} (SHA-256 {})", t.name, t.sha256),
            ],
        );
    }
    row(out, &["outcome".into(), r.target.clone()]);
    row(
        out,
        &[
            "rows".into(),
            r.rows_filter
                .clone()
                .map_or("all rows".into(), |f| format!("rows where {f}")),
        ],
    );
    row(out, &["tool".into(), r.tool.clone()]);
    out.push_str("</table>\n");
}

fn verdict_banner(out: &mut String, r: &ValidationReport) {
    match &r.verdict {
        Some(v) => {
            let (class, text) = if v.accepted {
                ("accepted", "ACCEPTED: every acceptance criterion of the plan holds")
            } else {
                ("rejected", "REJECTED: at least one acceptance criterion of the plan fails")
            };
            let _ = writeln!(out, "<p class=\"verdict {class}\" id=\"verdict\">{text}</p>");
            out.push_str("<table>\n");
            header(out, &["criterion", "value", "result"]);
            for c in &v.criteria {
                row(
                    out,
                    &[
                        c.rule.clone(),
                        match &c.reason {
                            Some(reason) => reason.clone(),
                            None => num(c.value, 4),
                        },
                        (if c.passed { "pass" } else { "FAIL" }).into(),
                    ],
                );
            }
            out.push_str("</table>\n");
        }
        None => out.push_str(
            "<p class=\"verdict none\" id=\"verdict\">No verdict: the plan declares no acceptance criteria.</p>\n",
        ),
    }
}

fn counts_table(out: &mut String, r: &ValidationReport) {
    let c = &r.counts;
    out.push_str("<h2 id=\"data\">Data</h2>\n<table>\n");
    row(out, &["rows in file".into(), c.rows_in_file.to_string()]);
    row(out, &["rows validated".into(), c.rows.to_string()]);
    row(out, &["events".into(), c.events.to_string()]);
    row(out, &["prevalence".into(), num(c.prevalence, 4)]);
    out.push_str("</table>\n<table>\n");
    header(out, &["feature", "missing values", "share"]);
    for m in &c.missing {
        row(
            out,
            &[
                m.feature.clone(),
                m.missing.to_string(),
                num(m.missing as f64 / c.rows.max(1) as f64, 4),
            ],
        );
    }
    out.push_str("</table>\n");
    if !r.feature_shift.is_empty() {
        out.push_str("<h2 id=\"shift\">Training versus validated rows</h2>\n<table>\n");
        header(
            out,
            &[
                "feature",
                "train mean (sd)",
                "test mean (sd)",
                "train p5 / p50 / p95",
                "test p5 / p50 / p95",
                "train missing",
                "test missing",
                "standardized difference",
            ],
        );
        for s in &r.feature_shift {
            row(
                out,
                &[
                    s.feature.clone(),
                    format!("{} ({})", num(s.train.mean, 3), num(s.train.sd, 3)),
                    format!("{} ({})", num(s.test.mean, 3), num(s.test.sd, 3)),
                    format!(
                        "{} / {} / {}",
                        num(s.train.p5, 2),
                        num(s.train.p50, 2),
                        num(s.train.p95, 2)
                    ),
                    format!(
                        "{} / {} / {}",
                        num(s.test.p5, 2),
                        num(s.test.p50, 2),
                        num(s.test.p95, 2)
                    ),
                    format!("{}/{}", s.train.missing, s.train.rows),
                    format!("{}/{}", s.test.missing, s.test.rows),
                    s.standardized_difference
                        .map_or("undefined (constant)".into(), |d| num(d, 3)),
                ],
            );
        }
        out.push_str("</table>\n");
    }
}

fn metrics_table(out: &mut String, r: &ValidationReport) {
    let models = sections(r);
    out.push_str("<h2 id=\"metrics\">Discrimination and calibration</h2>\n<table>\n");
    let mut head = vec!["metric (95% CI)"];
    head.extend(models.iter().map(|(what, _)| *what));
    header(out, &head);
    let line = |out: &mut String, name: &str, f: &dyn Fn(&ModelSection) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend(models.iter().map(|(_, s)| f(s)));
        row(out, &cells);
    };
    line(out, "AUC (DeLong)", &|s| {
        with_ci(s.metrics.auc.auc, s.metrics.auc.ci, 4)
    });
    line(out, "observed / expected", &|s| {
        let oe = &s.metrics.observed_expected;
        match oe.ratio {
            Some(ratio) => format!(
                "{} [{} observed, {} expected]",
                with_ci(ratio, oe.ci, 3),
                num(oe.observed, 0),
                num(oe.expected, 1)
            ),
            None => "undefined (expected count 0)".into(),
        }
    });
    line(out, "calibration-in-the-large (intercept)", &|s| {
        let c = &s.metrics.calibration_in_the_large;
        with_ci(c.estimate, Some(c.ci), 3)
    });
    line(out, "calibration slope", &|s| {
        slope_text(&s.metrics.calibration_slope)
    });
    line(out, "integrated calibration index", &|s| {
        let ici = s.metrics.smoothed_calibration.ici;
        let ci = s.metrics.bootstrap.as_ref().and_then(|b| b.ici.ci);
        with_ci(ici, ci, 4)
    });
    line(out, "E50 / E90 / Emax", &|s| {
        let c = &s.metrics.smoothed_calibration;
        format!("{} / {} / {}", num(c.e50, 4), num(c.e90, 4), num(c.emax, 4))
    });
    line(out, "Brier score", &|s| {
        let ci = s.metrics.bootstrap.as_ref().and_then(|b| b.brier.ci);
        with_ci(s.metrics.brier.brier, ci, 5)
    });
    line(
        out,
        "scaled Brier score",
        &|s| match s.metrics.brier.scaled {
            Some(v) => with_ci(
                v,
                s.metrics.bootstrap.as_ref().and_then(|b| b.scaled_brier.ci),
                4,
            ),
            None => "undefined".into(),
        },
    );
    line(out, "logit used for calibration", &|s| {
        s.logit_source.clone()
    });
    out.push_str("</table>\n");
}

/// The ROC curve's corner points: points in the middle of a straight run add nothing to the
/// drawing (the JSON keeps them all).
fn corners(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in points {
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            // Drop b if a, b, p are collinear (exact for the axis-parallel runs of an ROC).
            if (b.0 - a.0) * (p.1 - b.1) == (b.1 - a.1) * (p.0 - b.0) {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

fn roc_chart(r: &ValidationReport) -> String {
    let mut chart = Chart::new(
        "ROC curve",
        460.0,
        400.0,
        Axis::new("1 - specificity", 0.0, 1.0),
        Axis::new("sensitivity", 0.0, 1.0),
    );
    chart.legend_bottom_right();
    chart.line(&[(0.0, 0.0), (1.0, 1.0)], "#999", true, "");
    for (i, (what, s)) in sections(r).into_iter().enumerate() {
        let points = corners(s.metrics.roc.iter().map(|p| (p.fpr, p.tpr)));
        let name = format!("{what} (AUC {})", num(s.metrics.auc.auc, 3));
        chart.line(&points, PALETTE[i], false, &name);
    }
    chart.render()
}

fn calibration_chart(s: &ModelSection, what: &str) -> String {
    let groups = &s.metrics.groups;
    let band = &s.calibration_band;
    let top = groups
        .iter()
        .map(|g| g.mean_predicted.max(g.observed.ci.upper))
        .chain(band.predicted.iter().copied())
        .fold(0.0f64, f64::max);
    let top = (top * 1.1).clamp(0.01, 1.0);
    let mut chart = Chart::new(
        &format!("Calibration: {what}"),
        460.0,
        400.0,
        Axis::new("predicted risk", 0.0, top),
        Axis::new("observed risk", 0.0, top),
    );
    chart.legend_bottom_right();
    chart.line(&[(0.0, 0.0), (top, top)], "#999", true, "ideal");
    let lower: Vec<(f64, f64)> = band
        .predicted
        .iter()
        .copied()
        .zip(band.lower.iter().copied())
        .collect();
    let upper: Vec<(f64, f64)> = band
        .predicted
        .iter()
        .copied()
        .zip(band.upper.iter().copied())
        .collect();
    chart.band(&lower, &upper, PALETTE[0]);
    let curve: Vec<(f64, f64)> = s
        .metrics
        .smoothed_calibration
        .curve
        .iter()
        .map(|p| (p.predicted, p.smoothed))
        .filter(|&(x, _)| x <= top)
        .collect();
    chart.line(&curve, PALETTE[0], false, "lowess (95% band)");
    let points: Vec<Dot> = groups
        .iter()
        .map(|g| {
            (
                g.mean_predicted,
                g.observed.estimate,
                Some((g.observed.ci.lower, g.observed.ci.upper)),
            )
        })
        .collect();
    chart.points(&points, PALETTE[1], "risk groups (Wilson CI)");
    chart.render()
}

fn histogram_chart(s: &ModelSection, what: &str) -> String {
    let h = &s.histogram;
    let top = h
        .events
        .iter()
        .chain(&h.non_events)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-3);
    let mut chart = Chart::new(
        &format!("Predicted risk by outcome: {what}"),
        460.0,
        320.0,
        Axis::new("predicted risk", h.edges[0], h.edges[h.edges.len() - 1]),
        Axis::new("share of class", 0.0, top * 1.1),
    );
    let bins = |values: &[f64]| -> Vec<(f64, f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(k, &v)| (h.edges[k], h.edges[k + 1], v))
            .collect()
    };
    chart.bars(&bins(&h.non_events), PALETTE[0], "no event");
    chart.bars(&bins(&h.events), PALETTE[1], "event");
    chart.render()
}

fn decision_chart(r: &ValidationReport) -> String {
    let curve = &r.candidate.metrics.decision_curve;
    let prevalence = r.counts.prevalence;
    let x_max = curve.last().map_or(0.5, |p| p.threshold);
    let mut chart = Chart::new(
        "Decision curve",
        560.0,
        380.0,
        Axis::new("threshold probability", 0.0, x_max),
        Axis::new("net benefit", -0.25 * prevalence, prevalence * 1.05),
    );
    chart.line(&[(0.0, 0.0), (x_max, 0.0)], "#444", true, "treat none");
    let all: Vec<(f64, f64)> = curve.iter().map(|p| (p.threshold, p.treat_all)).collect();
    chart.line(&all, "#999", false, "treat all");
    for (i, (what, s)) in sections(r).into_iter().enumerate() {
        let points: Vec<(f64, f64)> = s
            .metrics
            .decision_curve
            .iter()
            .map(|p| (p.threshold, p.net_benefit))
            .collect();
        chart.line(&points, PALETTE[i], false, what);
    }
    chart.render()
}

fn operating_points(out: &mut String, r: &ValidationReport) {
    out.push_str("<h2 id=\"operating\">Operating points</h2>\n");
    for (what, s) in sections(r) {
        let _ = writeln!(out, "<p>{what}</p>\n<table>");
        header(
            out,
            &[
                "threshold",
                "TP / FP / TN / FN",
                "sensitivity",
                "specificity",
                "PPV",
                "NPV",
                "net benefit (95% CI)",
            ],
        );
        for (k, t) in s.metrics.operating_points.iter().enumerate() {
            let nb = s
                .metrics
                .bootstrap
                .as_ref()
                .and_then(|b| b.net_benefit.get(k))
                .map_or("undefined".into(), |i| {
                    i.interval
                        .estimate
                        .map_or("undefined".into(), |e| with_ci(e, i.interval.ci, 5))
                });
            row(
                out,
                &[
                    num(t.threshold, 3),
                    format!(
                        "{} / {} / {} / {}",
                        t.true_positives, t.false_positives, t.true_negatives, t.false_negatives
                    ),
                    proportion(&t.sensitivity),
                    proportion(&t.specificity),
                    proportion(&t.ppv),
                    proportion(&t.npv),
                    nb,
                ],
            );
        }
        out.push_str("</table>\n");
    }
}

fn comparison(out: &mut String, r: &ValidationReport) {
    let Some(c) = &r.comparison else {
        out.push_str("<h2 id=\"comparison\">Comparison with the accepted model</h2>\n<p class=\"note\">No baseline was given.</p>\n");
        return;
    };
    out.push_str("<h2 id=\"comparison\">Comparison with the accepted model</h2>\n<table>\n");
    header(
        out,
        &[
            "difference (candidate - baseline)",
            "estimate (95% CI)",
            "note",
        ],
    );
    row(
        out,
        &[
            "AUC (paired DeLong)".into(),
            with_ci(c.auc.difference, c.auc.ci, 4),
            c.auc
                .p_value
                .map_or("p undefined".into(), |p| format!("p = {}", num(p, 4))),
        ],
    );
    if let Some(b) = &c.bootstrap {
        for (name, interval) in [
            ("Brier score (paired bootstrap)", &b.brier_difference),
            ("calibration slope (paired bootstrap)", &b.slope_difference),
        ] {
            row(
                out,
                &[
                    name.into(),
                    interval
                        .estimate
                        .map_or("undefined".into(), |e| with_ci(e, interval.ci, 5)),
                    format!(
                        "{} resamples, seed {}, {} undefined",
                        interval.n_resamples, interval.seed, interval.n_undefined
                    ),
                ],
            );
        }
    }
    out.push_str("</table>\n");
}

/// A subgroup's AUC with its interval, for the forest plot; `None` when it has no estimate.
fn estimated(report: &SubgroupReport) -> Option<(f64, f64, f64)> {
    match &report.result {
        SubgroupResult::Estimated { auc, .. } => auc.ci.map(|ci| (auc.auc, ci.lower, ci.upper)),
        SubgroupResult::TooFewEvents { .. } => None,
    }
}

fn subgroups(out: &mut String, r: &ValidationReport) {
    out.push_str("<h2 id=\"subgroups\">Subgroups (candidate)</h2>\n");
    if r.subgroups.is_empty() {
        out.push_str("<p class=\"note\">The plan declares no subgroups.</p>\n");
        return;
    }
    let mut rows = Vec::new();
    let mut table = String::from("<table>\n");
    header(
        &mut table,
        &[
            "subgroup",
            "n",
            "events",
            "AUC (95% CI)",
            "O/E (95% CI)",
            "calibration slope",
        ],
    );
    for block in &r.subgroups {
        for g in &block.groups {
            let rep = &g.report;
            let (auc, oe, slope, note) = match &rep.result {
                SubgroupResult::Estimated {
                    auc,
                    observed_expected,
                    calibration_slope,
                } => (
                    with_ci(auc.auc, auc.ci, 3),
                    observed_expected
                        .ratio
                        .map_or("undefined".into(), |v| with_ci(v, observed_expected.ci, 3)),
                    slope_text(calibration_slope),
                    format!("n {}, {} events", rep.n, rep.n_events),
                ),
                SubgroupResult::TooFewEvents {
                    min_events,
                    min_non_events,
                } => {
                    let text = format!(
                        "too few events (needs {min_events} events and {min_non_events} non-events)"
                    );
                    (
                        text.clone(),
                        text.clone(),
                        text,
                        format!("n {}, {} events: too few", rep.n, rep.n_events),
                    )
                }
            };
            row(
                &mut table,
                &[
                    format!("{}: {}", block.name, g.label),
                    rep.n.to_string(),
                    rep.n_events.to_string(),
                    auc,
                    oe,
                    slope,
                ],
            );
            rows.push(ForestRow {
                label: g.label.clone(),
                estimate: estimated(rep),
                note,
            });
        }
    }
    table.push_str("</table>\n");
    let low = rows
        .iter()
        .filter_map(|r| r.estimate.map(|e| e.1))
        .fold(1.0f64, f64::min);
    let range = (((low - 0.05) * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let overall = Some(r.candidate.metrics.auc.auc);
    out.push_str("<div class=\"charts\">\n");
    out.push_str(&forest_plot(
        "AUC by subgroup",
        "AUC (95% CI); dashed: overall",
        &rows,
        (range, 1.0),
        overall,
    ));
    out.push_str("</div>\n");
    out.push_str(&table);
}

fn settings(out: &mut String, r: &ValidationReport) {
    let m = &r.plan.metrics;
    let c = &r.candidate.metrics;
    out.push_str("<h2 id=\"methods\">Methods and settings</h2>\n<ul class=\"note\">\n");
    let _ = writeln!(out, "<li>AUC: Mann-Whitney with ties counted half; 95% CI from DeLong's variance. Paired AUC difference: DeLong's paired variance.</li>");
    let _ = writeln!(out, "<li>Calibration-in-the-large: logistic regression of the outcome on an intercept with the logit as offset; calibration slope: logistic regression on the logit; Wald 95% CIs.</li>");
    let _ = writeln!(
        out,
        "<li>Smoothed calibration: lowess (local linear, tricube weights, no robustness iterations), frac {}, delta {}; ICI, E50, E90, Emax are the mean, median, 90th percentile and maximum of |smoothed - predicted|. Band: pointwise 2.5th-97.5th percentiles of {} resampled curves.</li>",
        num(c.smoothed_calibration.options.frac, 4),
        num(c.smoothed_calibration.delta, 6),
        r.candidate.calibration_band.n_resamples
    );
    let _ = writeln!(
        out,
        "<li>Bootstrap: stratified by outcome, {} resamples, seed {}, percentile intervals.</li>",
        m.bootstrap_resamples, m.bootstrap_seed
    );
    let _ = writeln!(out, "<li>Threshold metrics: a patient counts as positive when the predicted risk is at least the threshold; Wilson score 95% intervals.</li>");
    let _ = writeln!(
        out,
        "<li>Decision curve: net benefit = TP/n - FP/n x t/(1-t), thresholds {} to {} by {}.</li>",
        num(m.decision_step, 4),
        num(m.decision_max, 4),
        num(m.decision_step, 4)
    );
    let _ = writeln!(
        out,
        "<li>Grouped calibration: {} groups of equal size by predicted risk; subgroups need at least {} events and {} non-events for estimates.</li>",
        m.calibration_groups, m.subgroup_min_events, m.subgroup_min_events
    );
    out.push_str("<li>Every prediction was computed by the Lockstep engine from the model bytes named above.</li>\n</ul>\n");
}

/// The report page.
pub fn render(r: &ValidationReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Validation report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&r.target)
    );
    let _ = writeln!(
        out,
        "<h1>Validation report: {} ({} rows, {} events)</h1>",
        escape(&r.target),
        r.counts.rows,
        r.counts.events
    );
    verdict_banner(&mut out, r);
    identity_table(&mut out, r);
    counts_table(&mut out, r);
    metrics_table(&mut out, r);
    out.push_str("<div class=\"charts\">\n");
    out.push_str(&roc_chart(r));
    for (what, s) in sections(r) {
        out.push_str(&calibration_chart(s, what));
    }
    out.push_str("</div>\n<h2 id=\"usefulness\">Risk distribution and clinical usefulness</h2>\n<div class=\"charts\">\n");
    for (what, s) in sections(r) {
        out.push_str(&histogram_chart(s, what));
    }
    out.push_str(&decision_chart(r));
    out.push_str("</div>\n");
    operating_points(&mut out, r);
    comparison(&mut out, r);
    subgroups(&mut out, r);
    settings(&mut out, r);
    out.push_str("</body>\n</html>\n");
    out
}

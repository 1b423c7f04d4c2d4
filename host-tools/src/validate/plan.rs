//! The validation plan (`--plan PLAN.toml`): which outcome and rows are validated, the metric
//! settings, the subgroups, and the acceptance criteria a release approver signed off.
//!
//! Acceptance criteria live only here, never on the command line, so the plan's SHA-256 in the
//! report names exactly the rules a verdict was reached under. Every field has a documented
//! default except the criteria themselves: without an `[acceptance]` table there is no verdict.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::limits;

/// A validation plan as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plan {
    /// The outcome column (default: the target named in the model's label, else the schema's
    /// first target).
    pub target: Option<String>,
    /// Which rows of the data are validated, a row condition `COLUMN OP VALUE` on any column
    /// the schema declares (feature, split, id or outcome), e.g. `surgery_year > 2015`
    /// (default: all rows).
    pub rows: Option<String>,
    /// Metric settings.
    pub metrics: MetricSettings,
    /// Subgroups, each reported with its counts (and estimates when it has enough events).
    #[serde(rename = "subgroup")]
    pub subgroups: Vec<SubgroupSpec>,
    /// Acceptance criteria; `None` means the report carries no verdict.
    pub acceptance: Option<Acceptance>,
}

/// Metric settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricSettings {
    /// Operating points (probability thresholds) for sensitivity, specificity, PPV and NPV.
    pub operating_points: Vec<f64>,
    /// Highest threshold probability on the decision curve (the curve starts at `step`).
    pub decision_max: f64,
    /// Step of the decision curve's thresholds.
    pub decision_step: f64,
    /// Bootstrap resamples (stratified by outcome).
    pub bootstrap_resamples: usize,
    /// Bootstrap seed (recorded in the report).
    pub bootstrap_seed: u64,
    /// Groups of the grouped calibration plot.
    pub calibration_groups: usize,
    /// Fraction of rows in each local fit of the lowess calibration curve.
    pub lowess_frac: f64,
    /// Fewest events and fewest non-events a subgroup needs for estimates.
    pub subgroup_min_events: usize,
}

impl Default for MetricSettings {
    fn default() -> Self {
        MetricSettings {
            operating_points: vec![0.05, 0.1, 0.2],
            decision_max: 0.5,
            decision_step: 0.005,
            bootstrap_resamples: 1000,
            bootstrap_seed: 2024,
            calibration_groups: 10,
            lowess_frac: 2.0 / 3.0,
            subgroup_min_events: 10,
        }
    }
}

/// One subgroup definition: every level of a categorical or boolean column, or bands of a
/// numeric column cut at `cuts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgroupSpec {
    /// Display name (e.g. "age band").
    pub name: String,
    /// The data column: a feature or split column of the schema.
    pub column: String,
    /// Cut points of a numeric column (bands `< c1`, `c1 to < c2`, ..., `>= ck`); empty means
    /// one group per distinct value.
    #[serde(default)]
    pub cuts: Vec<f64>,
}

/// Acceptance criteria. Each present field is one rule; the candidate is accepted when every
/// rule holds. Rules about differences need `--baseline`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Acceptance {
    /// The lower 95% bound of the candidate's AUC must be at least this.
    pub min_auc_lower: Option<f64>,
    /// The lower 95% bound of AUC(candidate) - AUC(baseline) must be at least this (e.g.
    /// -0.01: not worse by more than 0.01).
    pub min_delta_auc_lower: Option<f64>,
    /// The upper 95% bound of Brier(candidate) - Brier(baseline) must be at most this.
    pub max_delta_brier_upper: Option<f64>,
    /// The calibration slope must lie in `[low, high]`.
    pub calibration_slope_within: Option<(f64, f64)>,
    /// The observed/expected ratio must lie in `[low, high]`.
    pub observed_expected_within: Option<(f64, f64)>,
    /// The integrated calibration index must be at most this.
    pub max_ici: Option<f64>,
}

impl Acceptance {
    /// Whether any rule compares with a baseline.
    pub fn needs_baseline(&self) -> bool {
        self.min_delta_auc_lower.is_some() || self.max_delta_brier_upper.is_some()
    }
}

/// Why a plan could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file could not be read.
    #[error("plan '{file}': {source}")]
    Io {
        /// The plan file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not describe a plan.
    #[error("plan '{file}': {detail}")]
    Parse {
        /// The plan file.
        file: PathBuf,
        /// What the parser said (with line and column).
        detail: String,
    },
    /// A setting is out of range.
    #[error("plan '{file}': {setting} must be {requirement}")]
    Invalid {
        /// The plan file.
        file: PathBuf,
        /// The setting.
        setting: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
}

/// Reads and checks a plan; returns it with its raw bytes (hashed into the report).
pub fn load_plan(path: &Path) -> Result<(Plan, Vec<u8>), PlanError> {
    let bytes = std::fs::read(path).map_err(|source| PlanError::Io {
        file: path.into(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let plan: Plan = toml::from_str(&text).map_err(|e| PlanError::Parse {
        file: path.into(),
        detail: e.to_string(),
    })?;
    check(&plan, path)?;
    Ok((plan, bytes))
}

// `!(a < b)` spells out that NaN (which TOML can write) fails every check.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn check(plan: &Plan, file: &Path) -> Result<(), PlanError> {
    let invalid = |setting, requirement| {
        Err(PlanError::Invalid {
            file: file.into(),
            setting,
            requirement,
        })
    };
    let m = &plan.metrics;
    if m.operating_points.iter().any(|&t| !(t > 0.0 && t < 1.0)) {
        return invalid(
            "metrics.operating_points",
            "probabilities strictly between 0 and 1",
        );
    }
    if !(m.decision_step > 0.0 && m.decision_step < 1.0) {
        return invalid("metrics.decision_step", "between 0 and 1");
    }
    if !(m.decision_max >= m.decision_step && m.decision_max < 1.0) {
        return invalid("metrics.decision_max", "at least decision_step and below 1");
    }
    if m.bootstrap_resamples < 100 {
        return invalid(
            "metrics.bootstrap_resamples",
            "at least 100 (1,000 or more for reported intervals)",
        );
    }
    if m.calibration_groups < 2 {
        return invalid("metrics.calibration_groups", "at least 2");
    }
    // Caps (crate::limits), checked before anything is allocated.
    if m.bootstrap_resamples > limits::MAX_BOOTSTRAP_RESAMPLES {
        return invalid("metrics.bootstrap_resamples", "at most 100000 (its cap)");
    }
    if m.calibration_groups > limits::MAX_CALIBRATION_GROUPS {
        return invalid("metrics.calibration_groups", "at most 1000 (its cap)");
    }
    if m.decision_max / m.decision_step > limits::MAX_DECISION_THRESHOLDS as f64 {
        return invalid(
            "metrics.decision_step",
            "at least decision_max / 10000 (the decision curve's cap of 10000 thresholds)",
        );
    }
    if !(m.lowess_frac > 0.0 && m.lowess_frac <= 1.0) {
        return invalid("metrics.lowess_frac", "in (0, 1]");
    }
    if plan.subgroups.len() > limits::MAX_SUBGROUPS {
        return invalid("[[subgroup]]", "at most 100 tables (its cap)");
    }
    for subgroup in &plan.subgroups {
        if subgroup.cuts.windows(2).any(|w| !(w[0] < w[1])) {
            return invalid("subgroup.cuts", "strictly increasing numbers");
        }
        if subgroup.cuts.len() > limits::MAX_SUBGROUP_CUTS {
            return invalid("subgroup.cuts", "at most 100 cut points (its cap)");
        }
    }
    if let Some(a) = &plan.acceptance {
        for range in [a.calibration_slope_within, a.observed_expected_within]
            .into_iter()
            .flatten()
        {
            if !(range.0 <= range.1) {
                return invalid("acceptance ranges", "[low, high] with low <= high");
            }
        }
    }
    Ok(())
}

impl Plan {
    /// Thresholds of the decision curve: `step, 2 step, ...` up to `decision_max`, each
    /// computed as `k * step` (not by accumulation) so the list is exact and reproducible.
    pub fn decision_thresholds(&self) -> Vec<f64> {
        let m = &self.metrics;
        let n = (m.decision_max / m.decision_step + 1e-9).floor() as usize;
        (1..=n).map(|k| k as f64 * m.decision_step).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan = toml::from_str(text).map_err(|e| PlanError::Parse {
            file: "p.toml".into(),
            detail: e.to_string(),
        })?;
        check(&plan, Path::new("p.toml"))?;
        Ok(plan)
    }

    #[test]
    fn count_settings_above_their_caps_are_refused() {
        for (text, setting, cap) in [
            (
                "bootstrap_resamples = 100001",
                "bootstrap_resamples",
                "100000",
            ),
            ("calibration_groups = 1001", "calibration_groups", "1000"),
            ("decision_step = 1e-9", "decision_step", "10000"),
        ] {
            let message = parse(&format!("[metrics]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(setting) && message.contains(cap),
                "{text}: {message}"
            );
        }
        assert!(parse("[metrics]\nbootstrap_resamples = 100000\n").is_ok());
        assert_eq!(crate::limits::MAX_BOOTSTRAP_RESAMPLES, 100_000);
        assert_eq!(crate::limits::MAX_CALIBRATION_GROUPS, 1_000);
        assert_eq!(crate::limits::MAX_DECISION_THRESHOLDS, 10_000);
        assert_eq!(crate::limits::MAX_SUBGROUPS, 100);
        assert_eq!(crate::limits::MAX_SUBGROUP_CUTS, 100);
        // Subgroups: 101 tables, or 101 cut points in one, are refused; the caps themselves pass.
        let table = |cuts: usize| {
            let cuts: Vec<String> = (0..cuts).map(|c| c.to_string()).collect();
            format!(
                "[[subgroup]]\nname = \"a\"\ncolumn = \"age\"\ncuts = [{}]\n",
                cuts.join(", ")
            )
        };
        for (text, setting) in [
            (table(1).repeat(101), "[[subgroup]]"),
            (table(101), "subgroup.cuts"),
        ] {
            let message = parse(&text).unwrap_err().to_string();
            assert!(
                message.contains(setting) && message.contains("at most 100"),
                "{message}"
            );
        }
        assert!(parse(&table(1).repeat(100)).is_ok());
        assert!(parse(&table(100)).is_ok());
    }

    #[test]
    fn reads_a_full_plan() {
        let plan = parse(
            r#"
target = "death_2y"
rows = "surgery_year > 2015"
[metrics]
operating_points = [0.03, 0.1]
bootstrap_resamples = 200
[[subgroup]]
name = "sex"
column = "sex"
[[subgroup]]
name = "age band"
column = "age"
cuts = [65, 80]
[acceptance]
min_delta_auc_lower = -0.01
calibration_slope_within = [0.8, 1.2]
"#,
        )
        .unwrap();
        assert_eq!(plan.subgroups.len(), 2);
        assert_eq!(plan.subgroups[1].cuts, [65.0, 80.0]);
        let acceptance = plan.acceptance.unwrap();
        assert!(acceptance.needs_baseline());
        assert_eq!(acceptance.calibration_slope_within, Some((0.8, 1.2)));
    }

    #[test]
    fn refuses_unknown_fields_and_bad_settings() {
        let error = parse("[acceptance]\nmin_auc = 0.7\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("min_auc"), "{error}");
        let error = parse("[metrics]\noperating_points = [0.0]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("operating_points"), "{error}");
        let error = parse("[[subgroup]]\nname = \"a\"\ncolumn = \"age\"\ncuts = [80, 65]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("increasing"), "{error}");
    }

    #[test]
    fn decision_thresholds_are_multiples_of_the_step() {
        let plan = Plan::default();
        let t = plan.decision_thresholds();
        assert_eq!(t.len(), 100);
        assert_eq!(t[0], 0.005);
        assert_eq!(t[99], 100.0 * 0.005);
    }
}

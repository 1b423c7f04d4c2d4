//! Caps on count-like options, checked before anything is allocated: a mistyped count (an extra
//! zero, a negative number read as a huge one) is refused naming the option and its cap,
//! instead of aborting with "memory allocation failed" or running for hours. Each cap is far
//! above any use of the option (listed in the README under "Refusals and limits").

/// Trees of a gradient-boosted model or a forest (`[gbdt] n_trees`, `[forest] n_trees`).
pub const MAX_TREES: usize = 100_000;
/// Lambdas on the penalised logistic regression path (`[logistic] n_lambdas`).
pub const MAX_LAMBDAS: usize = 10_000;
/// Cross-validation folds (`[logistic] folds`).
pub const MAX_FOLDS: usize = 1_000;
/// Worker threads (`--threads`, `[gbdt] threads`, `[forest] threads`).
pub const MAX_THREADS: usize = 1_024;
/// Bootstrap resamples of `validate` (`metrics.bootstrap_resamples`).
pub const MAX_BOOTSTRAP_RESAMPLES: usize = 100_000;
/// Groups of the grouped calibration plot (`metrics.calibration_groups`).
pub const MAX_CALIBRATION_GROUPS: usize = 1_000;
/// Thresholds on the decision curve (`metrics.decision_max / metrics.decision_step`).
pub const MAX_DECISION_THRESHOLDS: usize = 10_000;
/// Patients of `lockstep synth` (`--rows`).
pub const MAX_SYNTH_ROWS: usize = 10_000_000;
/// Random rows of `lockstep parity` (`--random-rows`); each row runs on every target in QEMU.
pub const MAX_PARITY_RANDOM_ROWS: usize = 1_000_000;
/// Coordinate-descent passes per lambda of the logistic path (`[logistic] max_iterations`).
pub const MAX_LOGISTIC_ITERATIONS: usize = 1_000_000;
/// Subgroup definitions of a validation plan (`[[subgroup]]` tables).
pub const MAX_SUBGROUPS: usize = 100;
/// Cut points of one subgroup (`[[subgroup]] cuts`).
pub const MAX_SUBGROUP_CUTS: usize = 100;
/// Groups of one subgroup without cuts: the distinct values of its column in the data (each
/// group scans every row, so a continuous column without cuts would take quadratic time).
pub const MAX_SUBGROUP_LEVELS: usize = 1_000;

/// A count-like option above its cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} = {value} is above its cap of {cap}; {advice}")]
pub struct OverCap {
    /// The option, as the user wrote it (`[gbdt] n_trees`, `--rows`).
    pub option: &'static str,
    /// The value given.
    pub value: usize,
    /// The cap.
    pub cap: usize,
    /// What to do.
    pub advice: &'static str,
}

/// Refuses `value` above `cap` for `option`.
pub fn check(option: &'static str, value: usize, cap: usize) -> Result<(), OverCap> {
    if value > cap {
        Err(OverCap {
            option,
            value,
            cap,
            advice: "use a smaller value (the caps are listed in the README)",
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_above_its_cap_is_refused_naming_the_option_and_the_cap() {
        assert_eq!(check("--rows", MAX_SYNTH_ROWS, MAX_SYNTH_ROWS), Ok(()));
        let message = check("--rows", MAX_SYNTH_ROWS + 1, MAX_SYNTH_ROWS)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("--rows = 10000001 is above its cap of 10000000"),
            "{message}"
        );
    }
}

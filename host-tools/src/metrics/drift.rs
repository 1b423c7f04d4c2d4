//! Distribution change of one feature between a reference (the accepted model's training rows)
//! and new data: the population stability index (PSI) and the Kolmogorov-Smirnov statistic
//! (KS), both computed against the reference's bins ([`Bins`]), which the training record and a
//! `data check` summary store, so the reference rows themselves are never needed.
//!
//! Bins: a numeric feature's are cut at the deciles of its present reference values (nearest
//! rank, repeated edges merged, so a feature with few distinct values has fewer bins); a
//! boolean's or a categorical's are its levels. A missing value is its own bin in the PSI.
//!
//! - PSI = sum over bins (missing included) of `(q - p) ln(q / p)`, `p` the reference's and `q`
//!   the new data's fraction of all rows in the bin, each floored at [`PSI_FRACTION_FLOOR`] so
//!   that an empty bin gives a large but finite term.
//! - KS = the largest gap between the two cumulative distributions of the present values,
//!   evaluated at the reference's bin edges: the exact two-sample statistic when the edges are
//!   every reference value, otherwise a lower bound of it (the gap can only be measured where
//!   the reference's cumulative distribution is known). Booleans and two-level categoricals have
//!   one edge, so their KS is the difference of the first level's fractions; a categorical with
//!   more levels has no order, so no KS (its change shows in the PSI).
//!
//! Invariants: the bins hold counts (integers, exact in JSON), a fraction is one division of a
//! count by the row count, cumulative counts are integers, logarithms are the host's portable [`crate::math::ln`]: the same data give the same
//! bits on every machine. Never reads files.

use serde::{Deserialize, Serialize};

use crate::data::{FeatureKind, FeatureSpec};
use crate::math::ln;

/// PSI above which a feature's distribution is flagged as changed, unless the schema's
/// `[drift]` table says otherwise. 0.25 is the usual boundary of a significant shift in
/// scorecard monitoring, where PSI comes from (below 0.1 stable, 0.1 to 0.25 worth watching,
/// above 0.25 the population has changed enough to re-examine the model; Siddiqi, *Credit Risk
/// Scorecards*, 2006): a halt should mean a change a reviewer must look at, not one to watch.
pub const DEFAULT_PSI_THRESHOLD: f64 = 0.25;

/// KS above which a feature's distribution is flagged as changed, unless the schema's `[drift]`
/// table says otherwise: the cumulative distributions differ by 10 percentage points somewhere.
/// A size of effect, not a significance test: with a registry's thousands of rows the test's
/// 5 % critical value (`1.36 sqrt((n + m) / (n m))`, about 0.03 for 4000 rows on each side)
/// flags differences too small to matter clinically, while a 10-point gap in, say, the share of
/// patients below an age is one a reviewer should see.
pub const DEFAULT_KS_THRESHOLD: f64 = 0.1;

/// The smallest fraction a bin counts with in the PSI (0.01 %): `ln(q / 0)` is infinite, and a
/// bin empty on one side is a real change that should show as a large, finite term.
pub const PSI_FRACTION_FLOOR: f64 = 1e-4;

/// Bins of a numeric feature at most: deciles.
pub const NUMERIC_BINS: usize = 10;

/// A feature's reference bins (the appended part of a training record's feature summary).
/// Externally tagged (`{"numeric": {...}}`): an internally tagged enum would be buffered by
/// serde, which cannot read numbers back under serde_json's `arbitrary_precision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bins {
    /// A number: bin `i` holds the values `v` with `edges[i - 1] < v <= edges[i]` (the first
    /// bin every value up to `edges[0]`, the last every value above the last edge), so
    /// `counts` has one entry more than `edges`.
    Numeric {
        /// Upper edges, strictly increasing: values of the column itself (f32, as the loader
        /// encodes numbers), so a value equal to an edge is in the edge's bin on every reading.
        edges: Vec<f32>,
        /// Present values in each bin (counts, not fractions: integers read back exactly).
        counts: Vec<usize>,
    },
    /// A boolean (levels `0`, `1`) or a categorical (the schema's levels, in order).
    Levels {
        /// The level names.
        levels: Vec<String>,
        /// Present values at each level.
        counts: Vec<usize>,
    },
}

impl Bins {
    /// The bins of `values` (encoded as the loader encodes them; NaN is missing) of a column
    /// declared as `spec`.
    pub fn of(spec: &FeatureSpec, values: &[f32]) -> Bins {
        let present = || values.iter().copied().filter(|v| !v.is_nan());
        match level_names(spec) {
            None => numeric_bins(present().collect()),
            Some(levels) => Bins::Levels {
                counts: level_counts(levels.len(), present()),
                levels,
            },
        }
    }

    /// The counts of the bins.
    fn counts(&self) -> &[usize] {
        match self {
            Bins::Numeric { counts, .. } | Bins::Levels { counts, .. } => counts,
        }
    }
}

/// The level names of a boolean (`0`, `1`) or a categorical; `None` for a number.
fn level_names(spec: &FeatureSpec) -> Option<Vec<String>> {
    match &spec.kind {
        FeatureKind::Numeric { .. } => None,
        FeatureKind::Boolean => Some(vec!["0".to_string(), "1".to_string()]),
        FeatureKind::Categorical { levels, .. } => Some(levels.clone()),
    }
}

/// Decile bins of the present values.
fn numeric_bins(mut present: Vec<f32>) -> Bins {
    present.sort_by(f32::total_cmp);
    let n = present.len();
    let mut edges: Vec<f32> = Vec::new();
    if n > 0 {
        for k in 1..NUMERIC_BINS {
            // Nearest rank of the k-th decile, in integers: ceil(k n / 10), at least 1.
            let rank = (k * n).div_ceil(NUMERIC_BINS).max(1);
            let edge = present[rank - 1];
            if edges.last().is_none_or(|&last| edge > last) {
                edges.push(edge);
            }
        }
    }
    Bins::Numeric {
        counts: bin_counts(&edges, present.into_iter()),
        edges,
    }
}

/// How many of `values` fall in each bin of `edges` (see [`Bins::Numeric`]).
fn bin_counts(edges: &[f32], values: impl Iterator<Item = f32>) -> Vec<usize> {
    let mut counts = vec![0usize; edges.len() + 1];
    for value in values {
        // The first edge at or above the value; past the end: the last bin.
        counts[edges.partition_point(|&edge| edge < value)] += 1;
    }
    counts
}

/// How many of the level codes `values` name each of `n_levels` levels.
fn level_counts(n_levels: usize, values: impl Iterator<Item = f32>) -> Vec<usize> {
    let mut counts = vec![0usize; n_levels];
    for value in values {
        // Level codes were checked by the loader: whole numbers below the level count.
        if let Some(count) = counts.get_mut(value as usize) {
            *count += 1;
        }
    }
    counts
}

/// PSI and KS of one feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Population stability index (`None` when either side has no rows).
    pub psi: Option<f64>,
    /// Kolmogorov-Smirnov statistic at the reference's edges (`None` when either side has no
    /// present value, or for a categorical with more than two levels).
    pub ks: Option<f64>,
}

/// Why two bin sets cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incomparable {
    /// The reference is numeric and the column is not, or the other way round.
    #[error("the reference summarises it as {reference} but the schema declares it {current}")]
    Kind {
        /// The reference's kind.
        reference: &'static str,
        /// The schema's kind.
        current: &'static str,
    },
    /// The levels differ.
    #[error("its levels differ from the reference's ({reference})")]
    Levels {
        /// The reference's levels, comma-separated.
        reference: String,
    },
}

/// The change from the reference (`reference` bins, and `reference_missing` rows without a
/// value) to `values` of a column declared as `spec` (NaN is missing).
pub fn change(
    reference: &Bins,
    reference_missing: usize,
    spec: &FeatureSpec,
    values: &[f32],
) -> Result<Change, Incomparable> {
    let present = || values.iter().copied().filter(|v| !v.is_nan());
    let (counts, ks_edges) = match (reference, level_names(spec)) {
        (Bins::Numeric { edges, .. }, None) => (bin_counts(edges, present()), edges.len()),
        (Bins::Levels { levels, .. }, Some(current)) => {
            if &current != levels {
                return Err(Incomparable::Levels {
                    reference: levels.join(", "),
                });
            }
            // Two levels have one edge, whichever comes first; more have no order.
            let ks_edges = usize::from(levels.len() == 2);
            (level_counts(levels.len(), present()), ks_edges)
        }
        (reference, _) => {
            let kind = |numeric: bool| if numeric { "numeric" } else { "levels" };
            return Err(Incomparable::Kind {
                reference: kind(matches!(reference, Bins::Numeric { .. })),
                current: kind(matches!(spec.kind, FeatureKind::Numeric { .. })),
            });
        }
    };
    let reference_counts = reference.counts();
    let reference_present: usize = reference_counts.iter().sum();
    let reference_rows = reference_present + reference_missing;
    let current_present: usize = counts.iter().sum();
    let current_rows = values.len();
    let psi = (current_rows > 0 && reference_rows > 0).then(|| {
        // Fractions of all rows, the missing rows as one more bin.
        let fraction = |count: usize, rows: usize| count as f64 / rows as f64;
        let mut psi = psi_term(
            fraction(current_rows - current_present, current_rows),
            fraction(reference_missing, reference_rows),
        );
        for (&q, &p) in counts.iter().zip(reference_counts) {
            psi += psi_term(fraction(q, current_rows), fraction(p, reference_rows));
        }
        psi
    });
    let ks = (current_present > 0 && reference_present > 0 && ks_edges > 0).then(|| {
        // Cumulative counts are exact integers; each CDF value is one division.
        let (mut reference_cumulative, mut current_cumulative, mut ks) = (0usize, 0usize, 0.0f64);
        for (&q, &p) in counts.iter().zip(reference_counts).take(ks_edges) {
            reference_cumulative += p;
            current_cumulative += q;
            let gap = current_cumulative as f64 / current_present as f64
                - reference_cumulative as f64 / reference_present as f64;
            ks = ks.max(gap.abs());
        }
        ks
    });
    Ok(Change { psi, ks })
}

/// One bin's PSI term, both fractions floored at [`PSI_FRACTION_FLOOR`].
fn psi_term(current: f64, reference: f64) -> f64 {
    let (q, p) = (
        current.max(PSI_FRACTION_FLOOR),
        reference.max(PSI_FRACTION_FLOOR),
    );
    (q - p) * ln(q / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric() -> FeatureSpec {
        FeatureSpec {
            name: "x".into(),
            kind: FeatureKind::Numeric {
                min: None,
                max: None,
            },
            unit: None,
            missing: true,
            description: None,
        }
    }

    fn categorical(levels: &[&str]) -> FeatureSpec {
        FeatureSpec {
            kind: FeatureKind::Categorical {
                levels: levels.iter().map(|l| l.to_string()).collect(),
                reference: 0,
            },
            ..numeric()
        }
    }

    #[test]
    fn numeric_bins_cut_at_the_deciles_and_merge_repeated_edges() {
        let values: Vec<f32> = (1..=20).map(|v| v as f32).collect();
        let Bins::Numeric { edges, counts } = Bins::of(&numeric(), &values) else {
            panic!()
        };
        // Nearest rank ceil(k 20 / 10): the 2nd, 4th, ... 18th values.
        assert_eq!(
            edges,
            vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]
        );
        assert_eq!(counts, vec![2; 10]);
        let few = [1.0f32, 1.0, 1.0, 2.0, 2.0, 3.0, f32::NAN];
        let Bins::Numeric { edges, counts } = Bins::of(&numeric(), &few) else {
            panic!()
        };
        assert_eq!(edges, vec![1.0, 2.0, 3.0]);
        assert_eq!(counts, vec![3, 2, 1, 0]);
    }

    /// PSI written out directly (std's `ln`), for the hand-checked cases.
    fn direct_psi(q: &[f64], p: &[f64]) -> f64 {
        q.iter()
            .zip(p)
            .map(|(&q, &p)| {
                let (q, p) = (q.max(1e-4), p.max(1e-4));
                (q - p) * (q / p).ln()
            })
            .sum()
    }

    #[test]
    fn psi_matches_the_formula_on_a_hand_checked_case() {
        // Reference: half at or below 1, half above; no missing.
        let reference = Bins::Numeric {
            edges: vec![1.0],
            counts: vec![2, 2],
        };
        // New data: a quarter at or below 1, three quarters above.
        let change = change(&reference, 0, &numeric(), &[0.0, 2.0, 3.0, 4.0]).unwrap();
        // (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 (ln 2 + ln 1.5) = 0.25 ln 3.
        let expected = 0.25 * 3f64.ln();
        assert!((expected - 0.274_653_072_167_027_1).abs() < 1e-15);
        assert!((change.psi.unwrap() - expected).abs() < 1e-12, "{change:?}");
        assert!((direct_psi(&[0.25, 0.75, 0.0], &[0.5, 0.5, 0.0]) - expected).abs() < 1e-12);
        // KS at the one edge: |0.25 - 0.5|.
        assert_eq!(change.ks, Some(0.25));
    }

    #[test]
    fn psi_counts_missing_values_as_a_bin_and_floors_empty_bins() {
        let reference = Bins::Numeric {
            edges: vec![1.0],
            counts: vec![4, 4],
        };
        // Reference 2 of 10 rows missing: bins hold 0.4, 0.4 of all rows. New: 2 of 4
        // missing, both present values above 1 (the first bin empty).
        let values = [f32::NAN, f32::NAN, 2.0, 3.0];
        let got = change(&reference, 2, &numeric(), &values).unwrap();
        let expected = direct_psi(&[0.5, 0.0, 0.5], &[0.2, 0.4, 0.4]);
        assert!(
            (got.psi.unwrap() - expected).abs() < 1e-12,
            "{got:?} {expected}"
        );
        // KS on present values only: reference CDF 0.5 at 1, new 0.
        assert_eq!(got.ks, Some(0.5));
        // The same data as the reference: no change.
        let same = change(&reference, 0, &numeric(), &[1.0, 2.0]).unwrap();
        assert_eq!(
            same,
            Change {
                psi: Some(0.0),
                ks: Some(0.0)
            }
        );
    }

    #[test]
    fn ks_at_every_reference_value_is_the_exact_two_sample_statistic() {
        // Reference 1..=10 (deciles: every value but the last is an edge). New data
        // [3.5, 4.5, 5.5, 6.5, 11]. scipy.stats.ks_2samp(range(1, 11), [3.5, 4.5, 5.5, 6.5,
        // 11]).statistic = 0.3 (max gap at x = 3: 0.3 - 0), checked with scipy 1.17.1.
        let reference: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        let bins = Bins::of(&numeric(), &reference);
        let new = [3.5f32, 4.5, 5.5, 6.5, 11.0];
        let got = change(&bins, 0, &numeric(), &new).unwrap();
        // Directly: sup over both samples' points of |F_ref(x) - F_new(x)|.
        let cdf = |sample: &[f32], x: f32| {
            sample.iter().filter(|&&v| v <= x).count() as f64 / sample.len() as f64
        };
        let exact = reference
            .iter()
            .chain(&new)
            .map(|&x| (cdf(&reference, x) - cdf(&new, x)).abs())
            .fold(0.0, f64::max);
        assert!((exact - 0.3).abs() < 1e-12, "{exact}");
        assert!((got.ks.unwrap() - exact).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn bins_read_back_from_their_json() {
        // f32 edges with long shortest forms; serde_json reads them back to the same bits.
        let values: Vec<f32> = (0..1000).map(|v| v as f32 * 0.37 + 1e-3).collect();
        for bins in [
            Bins::of(&numeric(), &values),
            Bins::of(&categorical(&["a", "b"]), &[0.0, 1.0, 1.0]),
        ] {
            let json = serde_json::to_string(&bins).unwrap();
            assert_eq!(serde_json::from_str::<Bins>(&json).unwrap(), bins, "{json}");
        }
    }

    #[test]
    fn levels_compare_by_level_and_refuse_changed_levels() {
        let spec = categorical(&["a", "b", "c"]);
        let reference = Bins::of(&spec, &[0.0, 0.0, 1.0, 2.0]);
        assert_eq!(
            reference,
            Bins::Levels {
                levels: vec!["a".into(), "b".into(), "c".into()],
                counts: vec![2, 1, 1]
            }
        );
        let got = change(&reference, 0, &spec, &[0.0, 1.0, 1.0, 2.0]).unwrap();
        let expected = direct_psi(&[0.25, 0.5, 0.25], &[0.5, 0.25, 0.25]);
        assert!((got.psi.unwrap() - expected).abs() < 1e-12);
        assert_eq!(got.ks, None, "three unordered levels have no KS");
        let two = categorical(&["a", "b"]);
        let reference = Bins::of(&two, &[0.0, 0.0, 0.0, 1.0]);
        let got = change(&reference, 0, &two, &[0.0, 1.0]).unwrap();
        assert_eq!(got.ks, Some(0.25));
        let renamed = categorical(&["a", "z"]);
        assert!(matches!(
            change(&reference, 0, &renamed, &[0.0]),
            Err(Incomparable::Levels { .. })
        ));
        assert!(matches!(
            change(&reference, 0, &numeric(), &[0.0]),
            Err(Incomparable::Kind { .. })
        ));
    }
}

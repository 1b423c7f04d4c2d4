//! Quantile binning: each feature's values become u8 bin codes, and each boundary between two
//! bins becomes an f32 threshold that the engine's `x < t` test reproduces exactly.
//!
//! Layout: a feature with `n` value bins has thresholds `t[0] < t[1] < ... < t[n-2]`, where
//! `t[b]` is the smallest training value of bin `b + 1`. A value `x` (not NaN) has code
//! `#{b : t[b] <= x}`, so "code <= b" holds exactly when `x < t[b]` — for every f32, not only
//! the training values — and a split "bins 0..=b go left" compiles to `Less(t[b])`. NaN gets
//! the feature's missing code `n`, after every value bin. `-0.0` and `0.0` compare equal and
//! always share a bin.
//!
//! Never: floating-point arithmetic on the values (cuts are chosen from integer row counts), or
//! a threshold that is not itself a training value.

use super::TrainData;

/// Bins of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// Strictly increasing thresholds, one fewer than the value bins (empty when the feature
    /// has at most one distinct value).
    pub thresholds: Vec<f32>,
}

impl FeatureBins {
    /// Number of value bins (at least 1, even when every training value was missing).
    pub fn n_value_bins(&self) -> usize {
        self.thresholds.len() + 1
    }

    /// The code of the missing bin, after every value bin.
    pub fn missing_code(&self) -> u8 {
        self.thresholds.len() as u8 + 1
    }

    /// Slots this feature takes in a histogram: value bins plus the missing bin.
    pub fn n_slots(&self) -> usize {
        self.thresholds.len() + 2
    }

    /// The bin code of `x`.
    pub fn code(&self, x: f32) -> u8 {
        if x.is_nan() {
            self.missing_code()
        } else {
            self.thresholds.partition_point(|&t| t <= x) as u8
        }
    }
}

/// Bin boundaries of every feature, learned from training data.
#[derive(Debug, Clone, PartialEq)]
pub struct Binning {
    /// One entry per feature.
    pub features: Vec<FeatureBins>,
}

/// A data set's bin codes, column-major: `codes[feature * n_rows + row]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedColumns {
    /// Number of rows.
    pub n_rows: usize,
    /// The codes.
    pub codes: Vec<u8>,
}

impl BinnedColumns {
    /// The codes of one feature.
    pub fn column(&self, feature: usize) -> &[u8] {
        &self.codes[feature * self.n_rows..(feature + 1) * self.n_rows]
    }
}

impl Binning {
    /// Learns at most `max_bins` bins per feature (value bins plus the missing bin, so at most
    /// `max_bins - 1` value bins; `max_bins` is clamped to 2..=256).
    pub fn fit(data: &TrainData, max_bins: usize) -> Binning {
        let max_value_bins = max_bins.clamp(2, 256) - 1;
        let features = data
            .columns
            .iter()
            .map(|column| fit_feature(column, max_value_bins))
            .collect();
        Binning { features }
    }

    /// The bin codes of `columns` (which may be a different data set than the one fitted).
    pub fn apply(&self, columns: &[Vec<f32>], n_rows: usize) -> BinnedColumns {
        let mut codes = Vec::with_capacity(n_rows * self.features.len());
        for (bins, column) in self.features.iter().zip(columns) {
            codes.extend(column.iter().take(n_rows).map(|&x| bins.code(x)));
        }
        BinnedColumns { n_rows, codes }
    }

    /// Histogram slot offsets: feature `f` owns slots `offsets[f]..offsets[f + 1]`.
    pub fn slot_offsets(&self) -> Vec<usize> {
        let mut offsets = Vec::with_capacity(self.features.len() + 1);
        let mut next = 0;
        offsets.push(0);
        for bins in &self.features {
            next += bins.n_slots();
            offsets.push(next);
        }
        offsets
    }
}

/// Cuts one column into at most `max_value_bins` bins of near-equal row counts.
fn fit_feature(column: &[f32], max_value_bins: usize) -> FeatureBins {
    // Distinct values (with -0.0 folded into 0.0, which `<` cannot tell apart) and their counts.
    let mut values: Vec<f32> = column
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| if x == 0.0 { 0.0 } else { x })
        .collect();
    values.sort_by(f32::total_cmp);
    let mut distinct: Vec<f32> = Vec::new();
    // rows_below[i]: rows with a value strictly below distinct[i]; one extra entry, the total.
    let mut rows_below: Vec<u64> = Vec::new();
    for (index, &x) in values.iter().enumerate() {
        if distinct.last() != Some(&x) {
            distinct.push(x);
            rows_below.push(index as u64);
        }
    }
    rows_below.push(values.len() as u64);
    if distinct.len() <= max_value_bins {
        return FeatureBins {
            thresholds: distinct.get(1..).unwrap_or(&[]).to_vec(),
        };
    }
    // Boundary k (1..max_value_bins) goes before the distinct value whose rows-below count is
    // nearest to k * n / max_value_bins (the lower one on a tie), skipping repeats, so heavy
    // ties give fewer, fuller bins. Integer arithmetic only.
    let n = values.len() as u128;
    let bins = max_value_bins as u128;
    let mut thresholds = Vec::with_capacity(max_value_bins - 1);
    let mut last_cut = 0usize;
    for k in 1..bins {
        // Compare |rows_below[i] - k n / bins| scaled by bins to stay in integers.
        let target = k * n;
        let distance = |i: usize| (u128::from(rows_below[i]) * bins).abs_diff(target);
        // Candidates are boundaries 1..distinct.len(); find the first with rows_below*bins >= target.
        let upper = rows_below[1..distinct.len()]
            .partition_point(|&below| u128::from(below) * bins < target)
            + 1;
        let mut cut = upper.min(distinct.len() - 1);
        if cut > 1 && distance(cut - 1) <= distance(cut) {
            cut -= 1;
        }
        if cut > last_cut {
            thresholds.push(distinct[cut]);
            last_cut = cut;
        }
    }
    FeatureBins { thresholds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data<'a>(names: &'a [String], columns: &'a [Vec<f32>], labels: &'a [f32]) -> TrainData<'a> {
        TrainData {
            feature_names: names,
            columns,
            labels,
        }
    }

    fn fit(column: Vec<f32>, max_bins: usize) -> (FeatureBins, Vec<f32>) {
        let names = vec!["x".to_string()];
        let labels = vec![0.0; column.len()];
        let columns = vec![column];
        let binning = Binning::fit(&data(&names, &columns, &labels), max_bins);
        (
            binning.features[0].clone(),
            columns.into_iter().next().unwrap(),
        )
    }

    /// Codes must agree with `x < t` for every threshold, which is what the engine evaluates.
    fn assert_codes_match_comparisons(bins: &FeatureBins, values: &[f32]) {
        for &x in values {
            let code = bins.code(x);
            if x.is_nan() {
                assert_eq!(code, bins.missing_code());
                continue;
            }
            for (b, &t) in bins.thresholds.iter().enumerate() {
                assert_eq!(
                    usize::from(code) <= b,
                    x < t,
                    "x {x} code {code} t[{b}] {t}"
                );
            }
        }
    }

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let (bins, column) = fit(vec![3.0, 1.0, 2.0, 1.0, f32::NAN, 3.0], 256);
        assert_eq!(bins.thresholds, vec![2.0, 3.0]);
        assert_eq!(bins.missing_code(), 3);
        assert_codes_match_comparisons(&bins, &column);
    }

    #[test]
    fn many_values_are_cut_into_at_most_max_bins_minus_one_value_bins() {
        let column: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f32 * 0.37)
            .collect();
        let (bins, column) = fit(column, 16);
        assert!(bins.n_value_bins() <= 15, "{}", bins.n_value_bins());
        assert!(bins.n_value_bins() >= 14, "{}", bins.n_value_bins());
        assert!(bins.thresholds.windows(2).all(|w| w[0] < w[1]));
        assert_codes_match_comparisons(&bins, &column);
        // Near-equal counts.
        let mut counts = vec![0usize; bins.n_value_bins()];
        for &x in &column {
            counts[usize::from(bins.code(x))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (600..=800).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn heavy_ties_and_signed_zeros_share_bins() {
        let mut column = vec![0.0f32; 500];
        column.extend(vec![-0.0f32; 500]);
        column.extend((0..100).map(|i| i as f32 + 1.0));
        column.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-45, -1e-45]);
        let (bins, column) = fit(column, 8);
        assert_eq!(bins.code(0.0), bins.code(-0.0));
        assert!(bins.thresholds.windows(2).all(|w| w[0] < w[1]));
        assert!(bins.n_value_bins() <= 7);
        assert_codes_match_comparisons(&bins, &column);
        // Unseen values too.
        let probes: Vec<f32> = (-50..150).map(|i| i as f32 * 0.75).collect();
        assert_codes_match_comparisons(&bins, &probes);
    }

    #[test]
    fn all_missing_or_constant_features_have_one_value_bin() {
        let (bins, _) = fit(vec![f32::NAN; 10], 256);
        assert!(bins.thresholds.is_empty());
        let (bins, _) = fit(vec![4.0; 10], 256);
        assert!(bins.thresholds.is_empty());
        assert_eq!(bins.code(4.0), 0);
        assert_eq!(bins.code(f32::NAN), 1);
    }
}

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
//! A split is named by its cut `c` in `0..=n`: present values with a code below `c` go left
//! ([`FeatureBins::cut_threshold`]). Cuts `1..n` are the thresholds above. The two ends are
//! XGBoost's own outer cut values: `c = n` ("every present value left", the split that sets
//! the missing values apart) compiles to the `ceiling`, above every training value, and
//! `c = 0` ("no present value left") to the `floor`, below every training value. Between
//! training values codes and comparisons agree; an unseen value beyond the ceiling or below
//! the floor is decided by the comparison, exactly where XGBoost sends it.
//!
//! Cut values are chosen from row ranks as XGBoost's `hist` method chooses them (see
//! `fit_feature`), so that on the same data both frameworks have the same candidate cuts
//! (exactly so when a feature's distinct values fit XGBoost's quantile sketch).
//!
//! Never: floating-point arithmetic on the values (only on ranks) except the floor and ceiling,
//! computed as XGBoost computes them, or a threshold between them that is not itself a training
//! value.

use rayon::prelude::*;

use super::TrainData;

/// Bins of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// Strictly increasing thresholds, one fewer than the value bins (empty when the feature
    /// has at most one distinct value).
    pub thresholds: Vec<f32>,
    /// XGBoost's minimum cut value, `min - |min| - 1e-5` (in f64, rounded once to f32): below
    /// every training value (`1e-5` when every value is missing).
    pub floor: f32,
    /// XGBoost's last cut value, `max + (|max| + 1e-5)` (in f64, rounded once to f32): above
    /// every training value unless the maximum is `+inf` (then `None`: no threshold puts
    /// every present value left).
    pub ceiling: Option<f32>,
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

    /// The highest cut a split may use: `n` (every present value left) when there is a
    /// ceiling, else `n - 1`.
    pub fn top_cut(&self) -> u8 {
        let n = self.thresholds.len() as u8 + 1;
        if self.ceiling.is_some() {
            n
        } else {
            n - 1
        }
    }

    /// The threshold of cut `cut` (at most [`FeatureBins::top_cut`]): for every training value
    /// `x`, `x < threshold` exactly when `code(x) < cut`.
    pub fn cut_threshold(&self, cut: u8) -> f32 {
        let cut = usize::from(cut);
        if cut == 0 {
            self.floor
        } else if cut <= self.thresholds.len() {
            self.thresholds[cut - 1]
        } else {
            self.ceiling
                .expect("a cut above every value bin is only chosen below a ceiling")
        }
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
    /// Features are fitted in parallel on the current rayon pool (each on its own).
    pub fn fit(data: &TrainData, max_bins: usize) -> Binning {
        let max_value_bins = max_bins.clamp(2, 256) - 1;
        let features = data
            .columns
            .par_iter()
            .map(|column| fit_feature(column, max_value_bins))
            .collect();
        Binning { features }
    }

    /// [`Binning::fit`] on `data`, and its codes ([`Binning::apply`]).
    pub fn fit_apply(data: &TrainData, max_bins: usize) -> (Binning, BinnedColumns) {
        let binning = Binning::fit(data, max_bins);
        let binned = binning.apply(data.columns, data.n_rows());
        (binning, binned)
    }

    /// The bin codes of `columns` (which may be a different data set than the one fitted),
    /// coded in parallel on the current rayon pool.
    pub fn apply(&self, columns: &[Vec<f32>], n_rows: usize) -> BinnedColumns {
        let mut codes = vec![0u8; n_rows * self.features.len()];
        if n_rows > 0 {
            codes
                .par_chunks_mut(n_rows)
                .zip(self.features.par_iter().zip(columns))
                .for_each(|(codes, (bins, column))| {
                    for (code, &x) in codes.iter_mut().zip(column) {
                        *code = bins.code(x);
                    }
                });
        }
        BinnedColumns { n_rows, codes }
    }

    /// Each feature's missing code ([`FeatureBins::missing_code`]).
    pub fn missing_codes(&self) -> Vec<u8> {
        self.features.iter().map(|f| f.missing_code()).collect()
    }

    /// Each feature's highest usable cut ([`FeatureBins::top_cut`]).
    pub fn top_cuts(&self) -> Vec<u8> {
        self.features.iter().map(|f| f.top_cut()).collect()
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

/// Cuts one column into at most `max_value_bins` bins, choosing the cut values as XGBoost's
/// `hist` method does with `max_bin = max_value_bins` (its `max_bin` does not count the missing
/// bin), so that both frameworks bin the same data the same way.
///
/// The column is summarised exactly: each distinct value with the rows below it (`rmin`), the
/// rows up to and including it (`rmax`) and its own rows (`w`). That summary is pruned twice,
/// to `min(n, 8 max_value_bins)` entries and then to `max_value_bins + 1`, by XGBoost's rule
/// (below, [`prune`]), and the cuts are the kept entries' values after the first, except the
/// last one, which only closes the top bin. With at most `max_value_bins` distinct values
/// nothing is pruned and every value but the smallest starts a bin.
///
/// XGBoost streams values through an approximate sketch before this step; its summary equals
/// this exact one whenever a feature has no more distinct values than the sketch keeps
/// (`limit`: 2,040 x L + 1 with 256 bins, L = 3 at 31k rows and 7 at 800k; fewer with fewer
/// bins), which clinical data with its recorded precision usually satisfies. Beyond that the
/// two may place cuts a few ranks apart.
/// Rank targets are computed in f32 as XGBoost computes them; XGBoost also adds ranks in f32,
/// which agrees with the exact integer sums used here up to 2^23 (8.4 million) rows.
fn fit_feature(column: &[f32], max_value_bins: usize) -> FeatureBins {
    // Distinct values (with -0.0 folded into 0.0, which `<` cannot tell apart) and their counts.
    let mut values: Vec<f32> = column
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| if x == 0.0 { 0.0 } else { x })
        .collect();
    values.sort_by(f32::total_cmp);
    let mut summary: Vec<Entry> = Vec::new();
    for (index, &x) in values.iter().enumerate() {
        match summary.last_mut() {
            Some(last) if last.value == x => {
                last.rmax += 1;
                last.weight += 1;
            }
            _ => summary.push(Entry {
                value: x,
                rmin: index as u64,
                rmax: index as u64 + 1,
                weight: 1,
            }),
        }
    }
    let n = values.len();
    let first_size = n.min(8 * max_value_bins);
    let most_bins = first_size.min(max_value_bins);
    let pruned = prune(&prune(&summary, first_size), most_bins + 1);
    let n_cuts = pruned.len().min(most_bins);
    let (floor, ceiling) = outer_cuts(values.first().copied(), values.last().copied());
    FeatureBins {
        thresholds: pruned
            .get(1..n_cuts)
            .unwrap_or(&[])
            .iter()
            .map(|e| e.value)
            .collect(),
        floor,
        ceiling,
    }
}

/// XGBoost's outer cut values of a feature whose smallest and largest present values are
/// `min` and `max` (`None` when every value is missing): the floor `min - |min| - 1e-5` and the
/// ceiling `max + (|max| + 1e-5)`, each evaluated in f64 from the f32 inputs (`1e-5` is the f32
/// constant) and rounded once to f32, as XGBoost's C++ evaluates them (checked against its
/// `get_quantile_cut()`). Every value missing: XGBoost takes `1e-5` as the minimum and the
/// ceiling from it. A ceiling that is not above `max` (an infinite maximum) is `None`.
fn outer_cuts(min: Option<f32>, max: Option<f32>) -> (f32, Option<f32>) {
    let eps = f64::from(1e-5f32);
    let floor = match min {
        Some(min) => {
            let min = f64::from(min);
            (min - min.abs() - eps) as f32
        }
        None => 1e-5f32,
    };
    let top = f64::from(max.unwrap_or(floor));
    let ceiling = (top + (top.abs() + eps)) as f32;
    (floor, (ceiling > top as f32).then_some(ceiling))
}

/// One entry of a quantile summary: a value and its rank bounds, in rows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    value: f32,
    /// Rows with a smaller value.
    rmin: u64,
    /// Rows with a value at most this one.
    rmax: u64,
    /// Rows with exactly this value.
    weight: u64,
}

/// XGBoost's summary pruning (`WQSummary::SetPrune`), restated: keeps the first and last
/// entries and, for each of the `size - 2` evenly spaced rank targets between them, the entry
/// whose rank bounds straddle the target most closely (each kept once). The targets are
/// computed in f32 exactly as XGBoost does, since rounding there decides ties between
/// neighbouring entries.
fn prune(summary: &[Entry], size: usize) -> Vec<Entry> {
    let n = summary.len();
    if n <= size {
        return summary.to_vec();
    }
    let (first, last) = (summary[0], summary[n - 1]);
    let begin = first.rmax as f32;
    let range = (last.rmin - first.rmax) as f32;
    let steps = (size - 1) as f32;
    let mut kept = vec![first];
    let mut last_kept = 0;
    let mut i = 1;
    for k in 1..size - 1 {
        // Twice the target rank, compared with rmin + rmax (twice an entry's mid rank).
        let target = f64::from(2.0f32 * ((k as f32 * range) / steps + begin));
        while i < n - 1 && target >= (summary[i + 1].rmin + summary[i + 1].rmax) as f64 {
            i += 1;
        }
        if i == n - 1 {
            break;
        }
        let (here, next) = (summary[i], summary[i + 1]);
        let split = (here.rmin + here.weight) + (next.rmax - next.weight);
        let pick = if target < split as f64 { i } else { i + 1 };
        if pick != last_kept {
            kept.push(summary[pick]);
            last_kept = pick;
        }
    }
    if last_kept != n - 1 {
        kept.push(last);
    }
    kept
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
        // Near-equal counts (10,000 / 15 = 667; the two-stage pruning may leave one bin
        // emptier).
        let mut counts = vec![0usize; bins.n_value_bins()];
        for &x in &column {
            counts[usize::from(bins.code(x))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (550..=800).contains(&c)),
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
    fn outer_cuts_are_xgboost_minimum_and_last_cut_values() {
        // (column, floor bits, ceiling bits) from XGBoost 3.2.0's `get_quantile_cut()`.
        let cases: [(&[f32], u32, u32); 5] = [
            (&[-5.0, 14.5], 0xc120000a, 0x41e80005),
            (&[-3.0, -2.5], 0xc0c00015, 0x3727c5ac),
            (&[0.0, 1e-6], 0xb727c5ac, 0x3749539b),
            (&[0.1, 123456.7], 0xb727c5ac, 0x4871205a),
            (&[f32::NAN, f32::NAN], 0x3727c5ac, 0x37fba882),
        ];
        for (column, floor, ceiling) in cases {
            let (bins, _) = fit(column.to_vec(), 256);
            assert_eq!(bins.floor.to_bits(), floor, "{column:?}");
            assert_eq!(bins.ceiling.map(f32::to_bits), Some(ceiling), "{column:?}");
        }
        // No f32 lies above +inf: the top cut is then the last value bin's.
        let (bins, _) = fit(vec![1.0, f32::INFINITY, 2.0], 256);
        assert_eq!(bins.ceiling, None);
        assert_eq!(bins.top_cut(), 2);
    }

    #[test]
    fn every_cut_decides_training_values_as_its_threshold() {
        let mut column: Vec<f32> = (0..300)
            .map(|i| ((i * 37) % 101) as f32 * 0.5 - 7.0)
            .collect();
        column.extend([f32::NAN, f32::NEG_INFINITY, -0.0]);
        let (bins, column) = fit(column, 16);
        assert_eq!(usize::from(bins.top_cut()), bins.n_value_bins());
        for cut in 0..=bins.top_cut() {
            let t = bins.cut_threshold(cut);
            for &x in column.iter().filter(|x| !x.is_nan()) {
                assert_eq!(bins.code(x) < cut, x < t, "x {x} cut {cut} threshold {t}");
            }
        }
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

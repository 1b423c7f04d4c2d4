//! Gradient histograms in integer fixed point.
//!
//! Each round's gradients and hessians are quantised to i32 with a power-of-two scale chosen
//! from their largest magnitude, and summed in i64 slots, so no sum of up to 2^32 rows can
//! overflow. Histogram slots then hold exact integer sums, which are the same whatever order
//! rows are added in and however the work is split between threads; a sibling's histogram is
//! its parent's minus the other child's, exactly.
//!
//! Layout: one histogram is a flat `[Slot]` over every feature's slots; feature `f` owns
//! `offsets[f]..offsets[f + 1]` (its value bins, then its missing bin), see
//! [`Binning::slot_offsets`](super::binning::Binning::slot_offsets). Slots of features not
//! sampled for the current tree stay zero.
//!
//! Never: a float accumulator, or a thread-count-dependent split of a sum.

use std::ops::{Add, AddAssign, Sub, SubAssign};

use std::array::from_fn;

use rayon::prelude::*;

use super::binning::BinnedColumns;

/// Sums over the rows of one bin: quantised gradients and quantised hessians. Every row's
/// quantised hessian is at least 1, so a slot holds rows exactly when `hess > 0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    /// Sum of quantised gradients.
    pub grad: i64,
    /// Sum of quantised hessians.
    pub hess: i64,
}

impl Slot {
    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.hess == 0
    }
}

impl Add for Slot {
    type Output = Slot;
    fn add(self, other: Slot) -> Slot {
        Slot {
            grad: self.grad + other.grad,
            hess: self.hess + other.hess,
        }
    }
}

impl Sub for Slot {
    type Output = Slot;
    fn sub(self, other: Slot) -> Slot {
        Slot {
            grad: self.grad - other.grad,
            hess: self.hess - other.hess,
        }
    }
}

impl AddAssign for Slot {
    fn add_assign(&mut self, other: Slot) {
        *self = *self + other;
    }
}

impl SubAssign for Slot {
    fn sub_assign(&mut self, other: Slot) {
        *self = *self - other;
    }
}

/// One round's gradients and hessians for one output, in fixed point.
#[derive(Debug, Clone)]
pub struct Quantised {
    /// Per row, the slot of that row alone: gradient and hessian as `trunc(value * scale)`
    /// (each fits an i32), the hessian raised to at least 1. Held as the slots they are added
    /// to, so a histogram update is one 16-byte add.
    pub pairs: Vec<Slot>,
    /// Gradient scale (a power of two).
    pub grad_scale: f64,
    /// Hessian scale (a power of two).
    pub hess_scale: f64,
}

impl Quantised {
    /// Quantises `grads` and `hessians` (equal lengths, finite, hessians not negative), in
    /// parallel on the current rayon pool.
    ///
    /// Each value becomes an i32 at a power-of-two scale that puts the largest magnitude just
    /// below 2^31, truncated towards zero (one instruction, the same on every machine); sums of
    /// up to 2^32 rows then fit an i64. The resolution, 2^-31 of the largest value, is finer
    /// than the f32 gradients XGBoost sums. A hessian is raised to at least one unit, so that
    /// every row weighs something and an empty slot is one with no rows.
    pub fn new(grads: &[f64], hessians: &[f64]) -> Quantised {
        Quantised::with_magnitudes(grads, hessians, magnitude(grads), magnitude(hessians))
    }

    /// [`Quantised::new`] when the largest magnitudes are known: `max_grad` and `max_hess` must
    /// be what [`magnitude`] gives for `grads` and `hessians` (the GBDT trainer finds them while
    /// computing the gradients, saving two passes).
    pub fn with_magnitudes(
        grads: &[f64],
        hessians: &[f64],
        max_grad: f64,
        max_hess: f64,
    ) -> Quantised {
        let grad_scale = i32_scale(max_grad);
        let hess_scale = i32_scale(max_hess);
        let mut pairs = vec![Slot::default(); grads.len()];
        pairs
            .par_iter_mut()
            .zip(grads.par_iter().zip(hessians))
            .with_min_len(1 << 12)
            .for_each(|(pair, (&g, &h))| {
                *pair = Slot {
                    grad: i64::from((g * grad_scale) as i32),
                    hess: i64::from(((h * hess_scale) as i32).max(1)),
                };
            });
        Quantised {
            pairs,
            grad_scale,
            hess_scale,
        }
    }

    /// The slot of one row.
    pub fn slot(&self, row: u32) -> Slot {
        self.pairs[row as usize]
    }

    /// The sum over `rows`.
    pub fn total(&self, rows: &[u32]) -> Slot {
        rows.iter()
            .fold(Slot::default(), |sum, &row| sum + self.slot(row))
    }

    /// A slot's gradient sum as a real number. (The scales are powers of two, so multiplying
    /// by the inverse is exactly dividing.)
    pub fn grad(&self, slot: Slot) -> f64 {
        slot.grad as f64 * (1.0 / self.grad_scale)
    }

    /// A slot's hessian sum as a real number.
    pub fn hess(&self, slot: Slot) -> f64 {
        slot.hess as f64 * (1.0 / self.hess_scale)
    }
}

/// The largest magnitude in `values` (NaN ignored; 0 for none), in parallel on the current
/// rayon pool: the maximum is the same in any order. One block's is [`magnitude_fold`].
pub fn magnitude(values: &[f64]) -> f64 {
    values
        .par_iter()
        .with_min_len(1 << 12)
        .map(|v| v.abs())
        .reduce(|| 0.0f64, f64::max)
}

/// `max` and the largest magnitude in `values`, NaN ignored: folded over blocks from 0, it
/// gives [`magnitude`] exactly.
pub fn magnitude_fold(max: f64, values: &[f64]) -> f64 {
    // `f64::max` for a `max` that is not NaN (a NaN value compares false), written as a
    // select so the loop vectorises.
    values
        .iter()
        .fold(max, |max, v| if v.abs() > max { v.abs() } else { max })
}

/// The largest power of two `s` with `max * s < 2^31`, so every `trunc(v * s)` of values up
/// to `max` in magnitude fits an i32; 1 when `max` is zero or not finite. Computed from the
/// exponent bits.
fn i32_scale(max: f64) -> f64 {
    if max == 0.0 || !max.is_finite() {
        return 1.0;
    }
    // 2^e <= max < 2^(e + 1), so max * 2^(30 - e) < 2^31. (Below 2^-993 the scale stops at
    // 2^1023 and the resolution coarsens; gradients that small carry nothing to learn.)
    let e = ((max.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let k = (30 - e).clamp(-1022, 1023);
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// What to build: the rows of one node, their gradient pairs and its (zeroed) histogram.
pub struct Job<'a> {
    /// The node's rows.
    pub rows: &'a [u32],
    /// The rows' gradient pairs, in the same order: [`gather`]`(rows, quantised)` (gathered by
    /// the caller, where it is already working on the rows in parallel).
    pub pairs: &'a [Slot],
    /// The histogram to fill, over all slots.
    pub histogram: &'a mut [Slot],
}

/// Bin updates below which the work runs on the calling thread: handing it to the pool costs
/// more than it saves.
const MIN_PARALLEL_WORK: usize = 1 << 15;

/// Most features whose columns one pass over the rows adds together, and the unit of parallel
/// work. Consecutive rows often hit the same slot of a feature, and each such add waits for
/// the previous one's store; interleaving several features gives the processor independent
/// adds to overlap.
const FEATURES_PER_PASS: usize = 4;

/// `features` in consecutive groups, one task each: the fewest groups that are a multiple of
/// `threads` and hold at most [`FEATURES_PER_PASS`] features, their sizes differing by at most
/// one, so the threads get even shares (19 features on 2 threads: 4, 3, 3, 3, 3, 3, not
/// 4, 4, 4, 4, 3, which leaves one thread 12 features and the other 7).
fn feature_groups(features: &[usize], threads: usize) -> Vec<&[usize]> {
    let threads = threads.max(1);
    let n = features.len();
    let n_groups = (n.div_ceil(FEATURES_PER_PASS * threads) * threads).min(n);
    let mut groups = Vec::with_capacity(n_groups);
    let mut rest = features;
    for group in 0..n_groups {
        let size = n / n_groups + usize::from(group < n % n_groups);
        let (head, tail) = rest.split_at(size);
        groups.push(head);
        rest = tail;
    }
    groups
}

/// Fills the histograms of `jobs` for the `features` (ascending), in parallel on the current
/// rayon pool: each task adds one job's rows for one group of features, so tasks write
/// disjoint slots, and the integer sums make the result independent of how tasks are
/// scheduled.
pub fn build(jobs: Vec<Job<'_>>, binned: &BinnedColumns, offsets: &[usize], features: &[usize]) {
    let work: usize = jobs.iter().map(|job| job.rows.len()).sum::<usize>() * features.len();
    if work < MIN_PARALLEL_WORK || rayon::current_num_threads() == 1 {
        for job in jobs {
            fill(
                job.rows,
                job.pairs,
                job.histogram,
                0,
                binned,
                offsets,
                features,
            );
        }
        return;
    }
    let groups = feature_groups(features, rayon::current_num_threads());
    // One task per (job, feature group), each with its own slice of the job's histogram.
    let mut tasks = Vec::with_capacity(jobs.len() * groups.len());
    for job in jobs {
        let mut rest: &mut [Slot] = job.histogram;
        let mut consumed = 0;
        for group in &groups {
            let start = offsets[group[0]];
            let end = offsets[group[group.len() - 1] + 1];
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - consumed);
            let (mine, tail) = tail.split_at_mut(end - start);
            rest = tail;
            consumed = end;
            tasks.push((job.rows, job.pairs, mine, start, *group));
        }
    }
    tasks
        .into_par_iter()
        .for_each(|(rows, pairs, histogram, base, group)| {
            fill(rows, pairs, histogram, base, binned, offsets, group);
        });
}

/// The gradient pairs of `rows`, in order: borrowed when `rows` is every row in order (the
/// root without sampling), else gathered into one contiguous run so fills read them
/// sequentially.
pub fn gather<'q>(rows: &[u32], quantised: &'q Quantised) -> std::borrow::Cow<'q, [Slot]> {
    if rows.len() == quantised.pairs.len() {
        std::borrow::Cow::Borrowed(&quantised.pairs)
    } else {
        std::borrow::Cow::Owned(
            rows.iter()
                .map(|&row| quantised.pairs[row as usize])
                .collect(),
        )
    }
}

/// Adds `rows` (whose gradient pairs are `pairs`) into `histogram`, whose first slot is global
/// slot `base`, for the features of `group`, [`FEATURES_PER_PASS`] of them per pass.
fn fill(
    rows: &[u32],
    pairs: &[Slot],
    histogram: &mut [Slot],
    base: usize,
    binned: &BinnedColumns,
    offsets: &[usize],
    group: &[usize],
) {
    // Rows are ascending and distinct, so as many rows as the data has means all of them.
    let all = rows.len() == binned.n_rows;
    for pass in group.chunks(FEATURES_PER_PASS) {
        let start = |k: usize| offsets[pass[k]] - base;
        let column = |k: usize| binned.column(pass[k]);
        let h = &mut *histogram;
        match pass.len() {
            4 => fill_n::<4>(rows, pairs, h, all, from_fn(start), from_fn(column)),
            3 => fill_n::<3>(rows, pairs, h, all, from_fn(start), from_fn(column)),
            2 => fill_n::<2>(rows, pairs, h, all, from_fn(start), from_fn(column)),
            _ => fill_n::<1>(rows, pairs, h, all, from_fn(start), from_fn(column)),
        }
    }
}

/// One pass of [`fill`] over `N` features, whose slots start at `starts` in `histogram` and
/// whose codes are `columns`. Columns are read in ascending row order; when `all` rows are
/// added (the root without sampling) they are read straight through, without indices.
fn fill_n<const N: usize>(
    rows: &[u32],
    pairs: &[Slot],
    histogram: &mut [Slot],
    all: bool,
    starts: [usize; N],
    columns: [&[u8]; N],
) {
    let mut add = |k: usize, code: u8, pair: Slot| {
        let slot = &mut histogram[starts[k] + usize::from(code)];
        slot.grad += pair.grad;
        slot.hess += pair.hess;
    };
    if all {
        for (row, &pair) in pairs.iter().enumerate() {
            for (k, column) in columns.iter().enumerate() {
                add(k, column[row], pair);
            }
        }
    } else {
        for (&row, &pair) in rows.iter().zip(pairs) {
            for (k, column) in columns.iter().enumerate() {
                add(k, column[row as usize], pair);
            }
        }
    }
}

/// `parent - child`, in place in `parent` (which becomes the sibling's histogram).
pub fn subtract(parent: &mut [Slot], child: &[Slot]) {
    for (p, &c) in parent.iter_mut().zip(child) {
        *p -= c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_fits_extreme_values_in_an_i32_without_needless_coarseness() {
        for max in [1.0e30, 1.0, 0.75, 1.0e-290] {
            let values = vec![-max, max / 3.0, max];
            let q = Quantised::new(&values, &[max, 0.0, 1e-300]);
            let worst = q.pairs.iter().map(|p| p.grad.unsigned_abs()).max().unwrap();
            assert!(worst >= 1 << 30, "{max}: scale is needlessly coarse");
            assert_eq!(
                q.pairs[0].grad, -q.pairs[2].grad,
                "{max}: truncation is symmetric"
            );
            // Every hessian weighs at least one unit, even a zero or a negligible one.
            assert!(q.pairs.iter().all(|p| p.hess >= 1), "{max}");
        }
        assert_eq!(Quantised::new(&[0.0], &[0.0]).grad_scale, 1.0);
        assert_eq!(
            Quantised::new(&[0.0], &[0.0]).pairs,
            vec![Slot { grad: 0, hess: 1 }]
        );
    }

    #[test]
    fn feature_groups_are_even_shares_of_at_most_four() {
        let sizes = |n: usize, threads: usize| {
            let features: Vec<usize> = (0..n).collect();
            let groups = feature_groups(&features, threads);
            assert_eq!(groups.concat(), features, "{n} on {threads}");
            groups.iter().map(|g| g.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(19, 2), [4, 3, 3, 3, 3, 3]);
        assert_eq!(sizes(18, 2), [3; 6]);
        assert_eq!(sizes(31, 2), [4, 4, 4, 4, 4, 4, 4, 3]);
        assert_eq!(sizes(8, 2), [4, 4]);
        assert_eq!(sizes(3, 2), [2, 1]);
        assert_eq!(sizes(1, 8), [1]);
        assert_eq!(sizes(20, 1), [4; 5]);
        assert!(sizes(0, 2).is_empty());
    }

    #[test]
    fn histograms_are_identical_for_any_thread_count_and_match_a_plain_sum() {
        // Nine features, eight of them sampled (groups of 4 + 4 features on 1 or 2 threads,
        // 3 + 3 + 2 on 3), enough rows for the parallel path.
        let n_rows = 20_000usize;
        let widths = [5usize, 4, 11, 2, 7, 3, 9, 6, 8];
        let mut offsets = vec![0];
        for w in widths {
            offsets.push(offsets.last().unwrap() + w);
        }
        let n_slots = *offsets.last().unwrap();
        let codes: Vec<u8> = (0..widths.len() * n_rows)
            .map(|i| {
                let width = widths[i / n_rows] as u64;
                ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as u8 % width as u8
            })
            .collect();
        let binned = BinnedColumns { n_rows, codes };
        let grads: Vec<f64> = (0..n_rows).map(|i| (i as f64 * 0.37).sin()).collect();
        let hess: Vec<f64> = (0..n_rows).map(|i| 0.1 + (i % 7) as f64 * 0.01).collect();
        let q = Quantised::new(&grads, &hess);
        let rows: Vec<u32> = (0..n_rows as u32).filter(|r| r % 3 != 0).collect();
        let all_rows: Vec<u32> = (0..n_rows as u32).collect();
        // Feature 4 not sampled: its slots stay zero.
        let features = [0, 1, 2, 3, 5, 6, 7, 8];
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut a = vec![Slot::default(); n_slots];
            let mut b = vec![Slot::default(); n_slots];
            let mut c = vec![Slot::default(); n_slots];
            let mut d = vec![Slot::default(); n_slots];
            let pairs = [
                gather(&rows, &q),
                gather(&rows[..100], &q),
                gather(&rows[7_000..], &q),
                // Every row: pairs borrowed, columns read straight through.
                gather(&all_rows, &q),
            ];
            let jobs = vec![
                Job {
                    rows: &rows,
                    pairs: &pairs[0],
                    histogram: &mut a,
                },
                Job {
                    rows: &rows[..100],
                    pairs: &pairs[1],
                    histogram: &mut b,
                },
                Job {
                    rows: &rows[7_000..],
                    pairs: &pairs[2],
                    histogram: &mut c,
                },
                Job {
                    rows: &all_rows,
                    pairs: &pairs[3],
                    histogram: &mut d,
                },
            ];
            pool.install(|| build(jobs, &binned, &offsets, &features));
            results.push((a, b, c, d));
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        let (a, _, c, d) = &results[0];
        for (histogram, rows) in [(a, &rows[..]), (c, &rows[7_000..]), (d, &all_rows[..])] {
            let mut expected = vec![Slot::default(); n_slots];
            for &f in &features {
                for &row in rows {
                    let code = binned.column(f)[row as usize];
                    expected[offsets[f] + usize::from(code)] += q.slot(row);
                }
            }
            assert_eq!(histogram, &expected);
        }
    }
}

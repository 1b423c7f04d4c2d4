//! Gradient histograms in integer fixed point.
//!
//! Each round's gradients and hessians are quantised to i64 with a power-of-two scale chosen
//! from their largest magnitude and the row count, so no sum of them can overflow. Histogram
//! slots then hold exact integer sums, which are the same whatever order rows are added in and
//! however the work is split between threads; a sibling's histogram is its parent's minus the
//! other child's, exactly.
//!
//! Layout: one histogram is a flat `[Slot]` over every feature's slots; feature `f` owns
//! `offsets[f]..offsets[f + 1]` (its value bins, then its missing bin), see
//! [`Binning::slot_offsets`](super::binning::Binning::slot_offsets). Slots of features not
//! sampled for the current tree stay zero.
//!
//! Never: a float accumulator, or a thread-count-dependent split of a sum.

use std::ops::{Add, AddAssign, Sub, SubAssign};

use super::binning::BinnedColumns;

/// Sums over the rows of one bin: quantised gradients, quantised hessians and the row count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    /// Sum of quantised gradients.
    pub grad: i64,
    /// Sum of quantised hessians.
    pub hess: i64,
    /// Number of rows.
    pub count: i64,
}

impl Add for Slot {
    type Output = Slot;
    fn add(self, other: Slot) -> Slot {
        Slot {
            grad: self.grad + other.grad,
            hess: self.hess + other.hess,
            count: self.count + other.count,
        }
    }
}

impl Sub for Slot {
    type Output = Slot;
    fn sub(self, other: Slot) -> Slot {
        Slot {
            grad: self.grad - other.grad,
            hess: self.hess - other.hess,
            count: self.count - other.count,
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
    /// `[grad, hess]` per row, each `round(value * scale)`.
    pub pairs: Vec<[i64; 2]>,
    /// Gradient scale (a power of two).
    pub grad_scale: f64,
    /// Hessian scale (a power of two).
    pub hess_scale: f64,
}

impl Quantised {
    /// Quantises `grads` and `hessians` (equal lengths, finite).
    pub fn new(grads: &[f64], hessians: &[f64]) -> Quantised {
        let n = grads.len().max(1);
        let grad_scale = sum_safe_scale(grads, n);
        let hess_scale = sum_safe_scale(hessians, n);
        let pairs = grads
            .iter()
            .zip(hessians)
            .map(|(&g, &h)| {
                [
                    (g * grad_scale).round() as i64,
                    (h * hess_scale).round() as i64,
                ]
            })
            .collect();
        Quantised {
            pairs,
            grad_scale,
            hess_scale,
        }
    }

    /// The slot of one row.
    pub fn slot(&self, row: u32) -> Slot {
        let [grad, hess] = self.pairs[row as usize];
        Slot {
            grad,
            hess,
            count: 1,
        }
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

/// The largest power of two `s` with `n * max|v| * s < 2^62`, so that any sum of `n` quantised
/// values fits an i64 with room to spare; 1 when every value is zero. Computed from the
/// exponent bits, without libm.
fn sum_safe_scale(values: &[f64], n: usize) -> f64 {
    let max = values.iter().fold(0.0f64, |max, v| max.max(v.abs()));
    let bound = max * n as f64;
    if bound == 0.0 || !bound.is_finite() {
        return 1.0;
    }
    // 2^e <= bound < 2^(e + 1) (for subnormal bounds e = -1023 and bound < 2^-1022 still holds).
    let e = ((bound.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let k = (62 - (e + 1)).clamp(-1000, 1000);
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// What to build: the rows of one node and its (zeroed) histogram.
pub struct Job<'a> {
    /// The node's rows.
    pub rows: &'a [u32],
    /// The histogram to fill, over all slots.
    pub histogram: &'a mut [Slot],
}

/// Fills the histograms of `jobs` for the `features` (ascending) using up to `threads` threads.
/// Threads take contiguous blocks of features, so each writes disjoint slots; the integer sums
/// make the result independent of the split.
pub fn build(
    jobs: Vec<Job<'_>>,
    binned: &BinnedColumns,
    offsets: &[usize],
    features: &[usize],
    quantised: &Quantised,
    threads: usize,
) {
    let work: usize = jobs.iter().map(|job| job.rows.len()).sum::<usize>() * features.len();
    // Below this many bin updates a thread costs more than it saves.
    const MIN_WORK_PER_THREAD: usize = 1 << 15;
    let threads = threads.min(work / MIN_WORK_PER_THREAD);
    build_in_blocks(jobs, binned, offsets, features, quantised, threads);
}

/// [`build`] with exactly `threads` feature blocks (fewer when there are fewer features).
fn build_in_blocks(
    jobs: Vec<Job<'_>>,
    binned: &BinnedColumns,
    offsets: &[usize],
    features: &[usize],
    quantised: &Quantised,
    threads: usize,
) {
    let threads = threads.min(features.len()).max(1);
    if threads == 1 {
        for job in jobs {
            fill(
                job.rows,
                job.histogram,
                0,
                binned,
                offsets,
                features,
                quantised,
            );
        }
        return;
    }
    // Feature blocks and, per block, every job's slice of slots for those features.
    let per_block = features.len().div_ceil(threads);
    let blocks: Vec<&[usize]> = features.chunks(per_block).collect();
    let mut block_jobs: Vec<Vec<(&[u32], &mut [Slot])>> =
        (0..blocks.len()).map(|_| Vec::new()).collect();
    for job in jobs {
        let mut rest: &mut [Slot] = job.histogram;
        let mut consumed = 0;
        for (block, slices) in blocks.iter().zip(block_jobs.iter_mut()) {
            let start = offsets[block[0]];
            let end = offsets[block[block.len() - 1] + 1];
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - consumed);
            let (mine, tail) = tail.split_at_mut(end - start);
            rest = tail;
            consumed = end;
            slices.push((job.rows, mine));
        }
    }
    std::thread::scope(|scope| {
        for (block, slices) in blocks.iter().zip(block_jobs) {
            let base = offsets[block[0]];
            scope.spawn(move || {
                for (rows, histogram) in slices {
                    fill(rows, histogram, base, binned, offsets, block, quantised);
                }
            });
        }
    });
}

/// Features whose columns one pass over the rows adds together. Consecutive rows often hit
/// the same slot of a feature, and each such add waits for the previous one's store;
/// interleaving several features gives the processor independent adds to overlap.
const FEATURES_PER_PASS: usize = 4;

/// Adds `rows` into `histogram`, whose first slot is global slot `base`. The rows' gradient
/// pairs are first gathered into one contiguous run, so each pass reads them sequentially, and
/// columns are read in ascending row order.
fn fill(
    rows: &[u32],
    histogram: &mut [Slot],
    base: usize,
    binned: &BinnedColumns,
    offsets: &[usize],
    features: &[usize],
    quantised: &Quantised,
) {
    let gathered: Vec<[i64; 2]>;
    // All rows in order (the root without sampling): the pairs are already contiguous.
    let pairs: &[[i64; 2]] = if rows.len() == quantised.pairs.len() {
        &quantised.pairs
    } else {
        gathered = rows
            .iter()
            .map(|&row| quantised.pairs[row as usize])
            .collect();
        &gathered
    };
    let mut groups = features.chunks_exact(FEATURES_PER_PASS);
    for group in &mut groups {
        let columns: [&[u8]; FEATURES_PER_PASS] = std::array::from_fn(|k| binned.column(group[k]));
        let starts: [usize; FEATURES_PER_PASS] = std::array::from_fn(|k| offsets[group[k]] - base);
        for (&row, &[grad, hess]) in rows.iter().zip(pairs) {
            for k in 0..FEATURES_PER_PASS {
                let slot = &mut histogram[starts[k] + usize::from(columns[k][row as usize])];
                slot.grad += grad;
                slot.hess += hess;
                slot.count += 1;
            }
        }
    }
    for &feature in groups.remainder() {
        let column = binned.column(feature);
        let slots = &mut histogram[offsets[feature] - base..offsets[feature + 1] - base];
        for (&row, &[grad, hess]) in rows.iter().zip(pairs) {
            let slot = &mut slots[usize::from(column[row as usize])];
            slot.grad += grad;
            slot.hess += hess;
            slot.count += 1;
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
    fn scale_keeps_sums_of_extreme_values_in_range() {
        let values = vec![-1.0e30, 3.0, 1.0e30];
        let q = Quantised::new(&values, &[1.0, 1.0, 1.0]);
        let worst = q.pairs.iter().map(|p| p[0].unsigned_abs()).max().unwrap();
        assert!(worst as u128 * 3 < 1u128 << 62);
        assert!(
            worst as u128 * 3 >= 1u128 << 60,
            "scale is not needlessly coarse"
        );
        assert_eq!(Quantised::new(&[0.0], &[0.0]).grad_scale, 1.0);
    }

    #[test]
    fn histograms_are_identical_for_any_thread_count() {
        let n_rows = 5000usize;
        let offsets = vec![0, 5, 9, 20];
        let codes: Vec<u8> = (0..3 * n_rows)
            .map(|i| {
                let width = [5, 4, 11][i / n_rows] as u64;
                ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 251) as u8 % width as u8
            })
            .collect();
        let binned = BinnedColumns { n_rows, codes };
        let grads: Vec<f64> = (0..n_rows).map(|i| (i as f64 * 0.37).sin()).collect();
        let hess: Vec<f64> = (0..n_rows).map(|i| 0.1 + (i % 7) as f64 * 0.01).collect();
        let q = Quantised::new(&grads, &hess);
        let rows: Vec<u32> = (0..n_rows as u32).filter(|r| r % 3 != 0).collect();
        let features = [0, 1, 2];
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let mut a = vec![Slot::default(); 20];
            let mut b = vec![Slot::default(); 20];
            let jobs = vec![
                Job {
                    rows: &rows,
                    histogram: &mut a,
                },
                Job {
                    rows: &rows[..100],
                    histogram: &mut b,
                },
            ];
            build_in_blocks(jobs, &binned, &offsets, &features, &q, threads);
            results.push((a, b));
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        let (a, _) = &results[0];
        for f in 0..3 {
            let total = a[offsets[f]..offsets[f + 1]]
                .iter()
                .fold(Slot::default(), |s, &x| s + x);
            assert_eq!(total, q.total(&rows));
        }
    }
}

//! Pins `lockstep_engine::math` to the host glibc bit for bit: `expf` (both its integer fast path and its exact fallback) and `logf` on all 2^32 inputs, `exp` on ~2^28 sampled and swept inputs, and the sigmoid transforms on hand-checked values.

// The reference is the host's libm through std (`f32::exp`, `f32::ln`, `f64::exp` call glibc's
// `expf`, `logf`, `exp` on x86_64 Linux), which on a CPU with FMA and AVX2 dispatches to the
// FMA-compiled variants that the engine reproduces. NaN results only have to be NaN on both sides.
#![cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]

use std::thread;
use std::time::Instant;

use lockstep_engine::math;
use lockstep_host::rng::{self, SplitMix64};

/// How many mismatching inputs each check prints before failing.
const N_REPORTED: usize = 8;

/// The engine matches glibc's FMA variants; without FMA and AVX2 glibc runs its SSE2 builds,
/// which round differently in rare cases, so the comparison would not mean anything.
fn require_fma_host() {
    assert!(
        is_x86_feature_detected!("fma") && is_x86_feature_detected!("avx2"),
        "this host lacks FMA/AVX2, so glibc uses its SSE2 variants; the engine pins the FMA ones"
    );
}

fn n_threads() -> u64 {
    thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Mismatches found by one worker: how many, and the first few as (input, ours, glibc) bits.
#[derive(Default)]
struct MismatchReport {
    n_checked: u64,
    n_mismatches: u64,
    first: Vec<(u64, u64, u64)>,
}

impl MismatchReport {
    fn record(&mut self, input: u64, ours: u64, reference: u64) {
        self.n_mismatches += 1;
        if self.first.len() < N_REPORTED {
            self.first.push((input, ours, reference));
        }
    }

    fn merge(mut self, other: MismatchReport) -> MismatchReport {
        self.n_checked += other.n_checked;
        self.n_mismatches += other.n_mismatches;
        self.first.extend(other.first);
        self.first.sort_unstable();
        self.first.truncate(N_REPORTED);
        self
    }

    fn finish(self, name: &str, started: Instant) {
        println!(
            "{name}: {} inputs checked, {} mismatches, {:.1?}",
            self.n_checked,
            self.n_mismatches,
            started.elapsed()
        );
        for (input, ours, reference) in &self.first {
            println!("  {name}(0x{input:X}) = 0x{ours:X}, glibc gives 0x{reference:X}");
        }
        assert_eq!(self.n_mismatches, 0, "{name} differs from glibc");
    }
}

/// Runs `work(worker_index, n_workers)` on every available core and merges the reports.
fn on_all_cores(work: impl Fn(u64, u64) -> MismatchReport + Sync) -> MismatchReport {
    let n_workers = n_threads();
    thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (0..n_workers)
            .map(|worker| scope.spawn(move || work(worker, n_workers)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .fold(MismatchReport::default(), MismatchReport::merge)
    })
}

/// Compares `ours` with `reference` on every one of the 2^32 f32 bit patterns.
fn check_all_f32(name: &str, ours: fn(f32) -> f32, reference: fn(f32) -> f32) {
    require_fma_host();
    let started = Instant::now();
    let report = on_all_cores(|worker, n_workers| {
        let total = 1_u64 << 32;
        let begin = total * worker / n_workers;
        let end = total * (worker + 1) / n_workers;
        let mut report = MismatchReport::default();
        for bits in begin..end {
            let x = f32::from_bits(bits as u32);
            let (got, want) = (ours(x), reference(x));
            if !same_f32(got, want) {
                report.record(bits, got.to_bits().into(), want.to_bits().into());
            }
        }
        report.n_checked = end - begin;
        report
    });
    report.finish(name, started);
}

/// What one worker saw of `expf`'s two paths: mismatches of `expf` and of `expf_exact` against
/// glibc, of the fast path's answers against `expf_exact`, and how often the fast path declined.
#[derive(Default)]
struct ExpfPaths {
    against_glibc: MismatchReport,
    exact_against_glibc: MismatchReport,
    fast_against_exact: MismatchReport,
    /// Inputs the fast path leaves to the exact one although they are ordinary (finite result
    /// computed by the polynomial): the ones near a rounding boundary or a reduction tie.
    n_undecided: u64,
    /// Inputs the fast path leaves to the exact one by design: NaN, infinities, overflow, and
    /// x below ln 2^-149 where the reference returns a constant.
    n_special: u64,
    first_undecided: Vec<u32>,
}

impl ExpfPaths {
    fn merge(self, other: ExpfPaths) -> ExpfPaths {
        let mut first_undecided = self.first_undecided;
        first_undecided.extend(other.first_undecided);
        first_undecided.sort_unstable();
        first_undecided.truncate(N_REPORTED);
        ExpfPaths {
            against_glibc: self.against_glibc.merge(other.against_glibc),
            exact_against_glibc: self.exact_against_glibc.merge(other.exact_against_glibc),
            fast_against_exact: self.fast_against_exact.merge(other.fast_against_exact),
            n_undecided: self.n_undecided + other.n_undecided,
            n_special: self.n_special + other.n_special,
            first_undecided,
        }
    }
}

/// Inputs where the reference does not run its polynomial (see `math::expf_exact`).
fn expf_is_special(x: f32) -> bool {
    !x.is_finite() || x > f32::from_bits(0x42B1_7217) || x <= f32::from_bits(0xC2CE_8ECF)
}

#[test]
fn expf_fast_path_exact_path_and_glibc_agree_on_every_f32() {
    require_fma_host();
    let started = Instant::now();
    let n_workers = n_threads();
    let paths = thread::scope(|scope| {
        let handles: Vec<_> = (0..n_workers)
            .map(|worker| {
                scope.spawn(move || {
                    let total = 1_u64 << 32;
                    let begin = total * worker / n_workers;
                    let end = total * (worker + 1) / n_workers;
                    let mut paths = ExpfPaths::default();
                    for bits in begin..end {
                        let x = f32::from_bits(bits as u32);
                        let want = x.exp();
                        let exact = math::expf_exact(x);
                        let got = math::expf(x);
                        if !same_f32(got, want) {
                            paths.against_glibc.record(
                                bits,
                                got.to_bits().into(),
                                want.to_bits().into(),
                            );
                        }
                        if !same_f32(exact, want) {
                            paths.exact_against_glibc.record(
                                bits,
                                exact.to_bits().into(),
                                want.to_bits().into(),
                            );
                        }
                        match math::expf_fast(x) {
                            Some(fast) => {
                                if !same_f32(fast, exact) {
                                    paths.fast_against_exact.record(
                                        bits,
                                        fast.to_bits().into(),
                                        exact.to_bits().into(),
                                    );
                                }
                            }
                            None if expf_is_special(x) => paths.n_special += 1,
                            None => {
                                paths.n_undecided += 1;
                                if paths.first_undecided.len() < N_REPORTED {
                                    paths.first_undecided.push(bits as u32);
                                }
                            }
                        }
                    }
                    for report in [
                        &mut paths.against_glibc,
                        &mut paths.exact_against_glibc,
                        &mut paths.fast_against_exact,
                    ] {
                        report.n_checked = end - begin;
                    }
                    paths
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .fold(ExpfPaths::default(), ExpfPaths::merge)
    });
    let n_total = (1_u64 << 32) as f64;
    println!(
        "expf fast path: declined {} ordinary inputs ({:.3e} of all 2^32) and {} special ones ({:.3e})",
        paths.n_undecided,
        paths.n_undecided as f64 / n_total,
        paths.n_special,
        paths.n_special as f64 / n_total,
    );
    for bits in &paths.first_undecided {
        println!("  undecided: 0x{bits:08X} ({})", f32::from_bits(*bits));
    }
    paths.exact_against_glibc.finish("expf_exact", started);
    paths
        .fast_against_exact
        .finish("expf_fast vs expf_exact", started);
    paths.against_glibc.finish("expf", started);
}

#[test]
fn logf_matches_glibc_on_every_f32() {
    check_all_f32("logf", math::logf, f32::ln);
}

/// The host tools' one generator, with a uniform draw on [lo, hi).
struct Rng(SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.unit_f64()
    }
}

/// Random samples per worker kind, split over the workers.
const N_EXP_RANDOM_BITS: u64 = 1 << 26;
const N_EXP_RANDOM_RANGE: u64 = 1 << 26;
const N_EXP_RANDOM_SUBNORMAL: u64 = 1 << 24;
const N_EXP_RANDOM_SMALL: u64 = 1 << 24;
/// Consecutive doubles checked on each side of every point in `EXP_EDGES`.
const N_EXP_EDGE_NEIGHBOURS: u64 = 1 << 16;
/// Where `exp` changes branch or result class: overflow, first subnormal, last nonzero, the
/// 512 special-case boundary, the 2^-54 shortcut, and a few ordinary points.
const EXP_EDGES: [f64; 16] = [
    709.782_712_893_384,
    -708.396_418_532_264_1,
    -745.133_219_101_941_1,
    -744.440_071_921_381_3,
    512.0,
    -512.0,
    1024.0,
    -1024.0,
    5.551_115_123_125_783e-17,
    -5.551_115_123_125_783e-17,
    0.0,
    1.0,
    -1.0,
    0.5,
    0.005_415_212_348_111_709,
    -0.005_415_212_348_111_709,
];

fn check_exp_one(report: &mut MismatchReport, x: f64) {
    let (got, want) = (math::exp(x), x.exp());
    report.n_checked += 1;
    if !same_f64(got, want) {
        report.record(x.to_bits(), got.to_bits(), want.to_bits());
    }
}

#[test]
fn exp_matches_glibc_on_sampled_and_swept_inputs() {
    require_fma_host();
    let started = Instant::now();
    let report = on_all_cores(|worker, n_workers| {
        let mut report = MismatchReport::default();
        let mut rng = Rng(SplitMix64(rng::keyed(0x9E37_79B9_7F4A_7C15, &[worker])));
        // Any bit pattern: mostly huge, tiny, infinite or NaN inputs.
        for _ in 0..N_EXP_RANDOM_BITS / n_workers {
            check_exp_one(&mut report, f64::from_bits(rng.next()));
        }
        // The whole finite-and-nonzero result range, densely.
        for _ in 0..N_EXP_RANDOM_RANGE / n_workers {
            check_exp_one(&mut report, rng.uniform(-750.0, 710.0));
        }
        // Subnormal results, where the double-rounding guard runs.
        for _ in 0..N_EXP_RANDOM_SUBNORMAL / n_workers {
            check_exp_one(&mut report, rng.uniform(-745.2, -708.3));
        }
        // Typical margins.
        for _ in 0..N_EXP_RANDOM_SMALL / n_workers {
            check_exp_one(&mut report, rng.uniform(-40.0, 40.0));
        }
        // Consecutive doubles around each edge (and its negation), this worker's share.
        for (edge_index, edge) in EXP_EDGES.iter().enumerate() {
            if edge_index as u64 % n_workers != worker {
                continue;
            }
            for centre in [*edge, -*edge] {
                let centre_bits = centre.to_bits();
                for offset in 0..N_EXP_EDGE_NEIGHBOURS {
                    check_exp_one(
                        &mut report,
                        f64::from_bits(centre_bits.wrapping_add(offset)),
                    );
                    check_exp_one(
                        &mut report,
                        f64::from_bits(centre_bits.wrapping_sub(offset)),
                    );
                }
            }
        }
        if worker == 0 {
            for x in [
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
                f64::MAX,
                f64::MIN,
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                f64::from_bits(1),
                f64::from_bits(0x8000_0000_0000_0001),
                f64::EPSILON,
                -f64::EPSILON,
            ] {
                check_exp_one(&mut report, x);
            }
        }
        report
    });
    report.finish("exp", started);
}

/// XGBoost >= 1.6 `common::Sigmoid(float)` written against glibc, as the C++ reads.
fn xgboost_sigmoid_glibc(x: f32) -> f32 {
    let k_eps = 1e-16_f64 as f32;
    let x = if 88.7_f32 < -x { 88.7_f32 } else { -x };
    let denom = x.exp() + 1.0 + k_eps;
    1.0 / denom
}

#[test]
fn sigmoid_xgboost_matches_hand_checked_values() {
    // (margin, current XGBoost, XGBoost <= 1.5), computed with g++ and glibc 2.36 on this host.
    let cases: [(f32, u32, u32); 20] = [
        (0.0, 0x3F00_0000, 0x3F00_0000),
        (1.0, 0x3F3B_26A8, 0x3F3B_26A8),
        (-1.0, 0x3E89_B2B1, 0x3E89_B2B1),
        (2.5, 0x3F6C_948F, 0x3F6C_948F),
        (-2.5, 0x3D9B_5B88, 0x3D9B_5B88),
        (5.0, 0x3F7E_4961, 0x3F7E_4961),
        (-5.0, 0x3BDB_4FB4, 0x3BDB_4FB4),
        (10.0, 0x3F7F_FD06, 0x3F7F_FD06),
        (-10.0, 0x383E_6998, 0x383E_6998),
        (20.0, 0x3F80_0000, 0x3F80_0000),
        (-20.0, 0x310D_A433, 0x310D_A433),
        (88.0, 0x3F80_0000, 0x3F80_0000),
        (-88.0, 0x0041_EDC4, 0x0041_EDC4),
        (-88.7, 0x0020_BD47, 0x0020_BD47),
        (-88.71, 0x0020_BD47, 0x0020_69DD),
        (-88.72, 0x0020_BD47, 0x0020_1748),
        (-88.73, 0x0020_BD47, 0x0000_0000),
        (-100.0, 0x0020_BD47, 0x0000_0000),
        (100.0, 0x3F80_0000, 0x3F80_0000),
        (-1000.0, 0x0020_BD47, 0x0000_0000),
    ];
    for (margin, current, legacy) in cases {
        assert_eq!(
            math::sigmoid_xgboost(margin).to_bits(),
            current,
            "sigmoid_xgboost({margin})"
        );
        assert_eq!(
            math::sigmoid_xgboost_legacy(margin).to_bits(),
            legacy,
            "sigmoid_xgboost_legacy({margin})"
        );
    }
    assert!(math::sigmoid_xgboost(f32::NAN).is_nan());
    assert!(math::sigmoid_xgboost_legacy(f32::NAN).is_nan());
    assert_eq!(
        math::sigmoid_xgboost(f32::INFINITY).to_bits(),
        1.0_f32.to_bits()
    );
    assert_eq!(
        math::sigmoid_xgboost(f32::NEG_INFINITY).to_bits(),
        0x0020_BD47
    );
    assert_eq!(math::sigmoid_xgboost_legacy(f32::NEG_INFINITY).to_bits(), 0);
}

#[test]
fn sigmoid_xgboost_matches_the_source_formula_on_a_sweep() {
    require_fma_host();
    // Every 64th f32 bit pattern: 2^26 margins over the whole range, NaN and inf included.
    let mut report = MismatchReport::default();
    let started = Instant::now();
    for high in 0..(1_u64 << 26) {
        let bits = (high << 6) | (high & 63);
        let margin = f32::from_bits(bits as u32);
        let (got, want) = (math::sigmoid_xgboost(margin), xgboost_sigmoid_glibc(margin));
        report.n_checked += 1;
        if !same_f32(got, want) {
            report.record(bits, got.to_bits().into(), want.to_bits().into());
        }
    }
    report.finish("sigmoid_xgboost", started);
}

#[test]
fn sigmoid_lightgbm_matches_hand_checked_values() {
    // (margin, sigmoid parameter, result), computed with g++ and glibc 2.36 on this host.
    let cases: [(f64, f64, u64); 12] = [
        (0.0, 1.0, 0x3FE0_0000_0000_0000),
        (1.0, 1.0, 0x3FE7_64D4_F5D5_A2BD),
        (-1.0, 1.0, 0x3FD1_3656_1454_BA86),
        (2.5, 1.0, 0x3FED_9291_DDB5_96F8),
        (-2.5, 0.5, 0x3FCC_8170_2A88_E0D5),
        (10.0, 2.0, 0x3FEF_FFFF_FEE4_B79A),
        (-40.0, 1.0, 0x3C53_9792_499B_1A24),
        (-745.0, 1.0, 0),
        (-800.0, 1.0, 0),
        (800.0, 1.0, 0x3FF0_0000_0000_0000),
        (36.0, 1.0, 0x3FEF_FFFF_FFFF_FFFE),
        (40.0, 1.0, 0x3FF0_0000_0000_0000),
    ];
    for (margin, sigmoid, want) in cases {
        assert_eq!(
            math::sigmoid_lightgbm(margin, sigmoid).to_bits(),
            want,
            "sigmoid_lightgbm({margin}, {sigmoid})"
        );
    }
    assert!(math::sigmoid_lightgbm(f64::NAN, 1.0).is_nan());
}

#[test]
fn sigmoid_lightgbm_matches_the_source_formula_on_samples() {
    require_fma_host();
    let mut report = MismatchReport::default();
    let started = Instant::now();
    let mut rng = Rng(SplitMix64(0x0123_4567_89AB_CDEF));
    for sigmoid in [1.0, 0.5, 2.0, 0.7, 1.3] {
        for _ in 0..(1_u64 << 21) {
            let margin = rng.uniform(-60.0, 60.0);
            let got = math::sigmoid_lightgbm(margin, sigmoid);
            let want = 1.0 / (1.0 + (-sigmoid * margin).exp());
            report.n_checked += 1;
            if !same_f64(got, want) {
                report.record(margin.to_bits(), got.to_bits(), want.to_bits());
            }
        }
    }
    report.finish("sigmoid_lightgbm", started);
}

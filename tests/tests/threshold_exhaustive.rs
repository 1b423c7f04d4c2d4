//! For every f32 input, the compiled strict threshold `x < t` decides exactly as LightGBM's
//! `(double)x <= threshold` does, for thresholds that are not f32 values.

use lockstep_engine::format::lt_threshold_for_le_f64;

/// Counts inputs in `[start, end)` (as bit patterns) where the two decisions differ.
fn disagreements(threshold: f64, t: f32, start: u64, end: u64) -> u64 {
    let mut count = 0;
    for bits in start..end {
        let x = f32::from_bits(bits as u32);
        if !x.is_nan() && ((f64::from(x) <= threshold) != (x < t)) {
            count += 1;
        }
    }
    count
}

#[test]
fn strict_f32_threshold_agrees_with_f64_less_equal_on_all_inputs() {
    // Between two f32s, just above and below one, subnormal-sized, and beyond f32's range.
    let thresholds = [0.1f64, 0.30000000000000004, -1e-300, 3.5e38];
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let span = (1u64 << 32) / workers;
    for threshold in thresholds {
        let t = lt_threshold_for_le_f64(threshold).expect("representable");
        let total: u64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let end = if w + 1 == workers {
                        1u64 << 32
                    } else {
                        (w + 1) * span
                    };
                    scope.spawn(move || disagreements(threshold, t, w * span, end))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("worker")).sum()
        });
        println!(
            "threshold {threshold:e} -> x < {t:e} ({:08x}): {total} disagreements",
            t.to_bits()
        );
        assert_eq!(total, 0, "threshold {threshold:e}");
    }
}

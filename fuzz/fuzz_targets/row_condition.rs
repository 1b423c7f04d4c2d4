//! Any text as a row condition or split expression (`data::parse_split`, `Dataset::rows_where`
//! on the bundled example cohort): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_fuzz::example_dataset;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    if lockstep_host::data::parse_split(expr).is_ok() {
        let _ = example_dataset().rows_where(expr);
    }
});

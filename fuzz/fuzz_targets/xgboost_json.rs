//! Any bytes through `compile::xgboost::import_json`: never panics; whatever it accepts compiles to
//! engine bytes that load and score rows made from the input (`lockstep_fuzz::exercise_import`).
//!
//! Input: a row-seed length byte, the row seed, then the source model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_fuzz::{exercise_import, split_seed};

fuzz_target!(|data: &[u8]| {
    let (seed, source) = split_seed(data);
    exercise_import(lockstep_host::compile::xgboost::import_json(source), seed);
});

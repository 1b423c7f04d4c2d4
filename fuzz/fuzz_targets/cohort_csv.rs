//! Any bytes as a cohort CSV under the bundled example schema (`data::parse_csv`): never panics;
//! a dataset that loads answers row conditions on every declared column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_fuzz::example_schema;

fuzz_target!(|data: &[u8]| {
    let Ok(dataset) = lockstep_host::data::parse_csv(data, "fuzz.csv".as_ref(), example_schema())
    else {
        return;
    };
    let _ = dataset.rows_where("age >= 65");
    let _ = dataset.rows_where("surgery_year > 2015");
});

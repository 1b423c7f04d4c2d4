//! Any text as a schema (`data::parse_schema`): never panics; a schema that parses reads the
//! bundled example cohort's header without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schema) = lockstep_host::data::parse_schema(text, "fuzz.schema.toml".as_ref()) else {
        return;
    };
    let csv = include_str!("../../examples/arthroplasty/cohort.csv");
    let head: String = csv.lines().take(20).flat_map(|l| [l, "\n"]).collect();
    let _ = lockstep_host::data::parse_csv(head.as_bytes(), "cohort.csv".as_ref(), &schema);
});

//! `data check` on any bytes (`check::check`, `check::parse_reference`): the first byte picks
//! what the rest is. Even: a data CSV under the bundled example schema, checked against a
//! reference summary of the example cohort's first rows. Odd: a reference file, and if it
//! parses, the example cohort's first rows are checked against it. Never panics, and the
//! report renders as text and JSON.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lockstep_fuzz::example_schema;
use lockstep_host::check;

/// The example cohort's first rows as CSV.
fn cohort_head() -> &'static str {
    static HEAD: OnceLock<String> = OnceLock::new();
    HEAD.get_or_init(|| {
        let csv = include_str!("../../examples/arthroplasty/cohort.csv");
        csv.lines().take(200).flat_map(|l| [l, "\n"]).collect()
    })
}

/// A reference: the summary of [`cohort_head`], read back from its JSON.
fn head_reference() -> &'static check::Reference {
    static REFERENCE: OnceLock<check::Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let run = check::check(cohort_head().as_bytes(), "head.csv".as_ref(), example_schema(), "", None)
            .expect("the example cohort reads");
        let json = serde_json::to_vec(&run.summary).expect("a summary serialises");
        check::parse_reference(&json, "head.summary.json".as_ref()).expect("a summary reads back")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let run = if mode % 2 == 0 {
        check::check(rest, "fuzz.csv".as_ref(), example_schema(), "", Some(head_reference()))
    } else {
        let Ok(reference) = check::parse_reference(rest, "fuzz.json".as_ref()) else {
            return;
        };
        check::check(cohort_head().as_bytes(), "head.csv".as_ref(), example_schema(), "", Some(&reference))
    };
    if let Ok(run) = run {
        let _ = check::render_text(&run.report);
        let _ = serde_json::to_string(&run.report).expect("a report serialises");
    }
});

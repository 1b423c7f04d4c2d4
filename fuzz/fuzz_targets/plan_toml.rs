//! Any bytes as a validation plan (`validate::plan::load_plan`, which reads a file): never
//! panics; an accepted plan lists its decision thresholds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch file per fuzzing process (libFuzzer runs inputs one at a time in a process).
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("lockstep-fuzz-plan-{}.toml", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("scratch file written");
    if let Ok((plan, _)) = lockstep_host::validate::plan::load_plan(path) {
        let _ = plan.acceptance.as_ref().map(|a| a.needs_baseline());
        let _ = plan.decision_thresholds();
    }
});

//! Any text as a training config (`train::config::TrainConfig::from_toml`): never panics, and an
//! accepted config yields its options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_host::train::config::TrainConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = TrainConfig::from_toml(text) else {
        return;
    };
    let _ = config.forest.options();
    let _ = config.gbdt.in_effect(true);
    let _ = config.gbdt.options(Vec::new(), false);
});

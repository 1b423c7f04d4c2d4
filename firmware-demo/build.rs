//! Generates the memory layout for the target being built, adds the linker scripts, and points
//! the bedside binary at the model it embeds.
//!
//! One firmware build per target (`--target`); the board follows from the triple through
//! lockstep-protocol's target table (thumbv6m-none-eabi → micro:bit, cortex-m0;
//! thumbv7em-none-eabihf → MPS2 AN386, cortex-m4f; thumbv8m.main-none-eabihf → MPS2 AN505,
//! cortex-m33), which also gives the addresses and sizes `memory.x` is generated from. The code
//! sees the board as `cfg(lockstep_board = "...")`.
use std::{env, fs, path::PathBuf};

use lockstep_protocol::targets::{self, TARGETS};

/// The model bedside embeds when LOCKSTEP_MODEL is not set (relative to this package).
const DEFAULT_MODEL: &str = "models/bedside.lsm";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let triple = env::var("TARGET").expect("cargo sets TARGET");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));

    let boards: Vec<String> = TARGETS.iter().map(|t| format!("{:?}", t.board)).collect();
    println!(
        "cargo:rustc-check-cfg=cfg(lockstep_board, values({}))",
        boards.join(", ")
    );
    let Some(target) = targets::by_triple(&triple) else {
        let known: Vec<&str> = TARGETS.iter().map(|t| t.triple).collect();
        panic!(
            "lockstep-firmware-demo has no board for target {triple}; build with --target one of: {}",
            known.join(", ")
        );
    };
    println!("cargo:rustc-cfg=lockstep_board=\"{}\"", target.board);

    // cortex-m-rt's link.x INCLUDEs memory.x; ours INCLUDEs model-region.x, which holds no
    // addresses (it places the region through ORIGIN(MODEL) and LENGTH(MODEL)).
    fs::write(out.join("memory.x"), target.memory_x().to_string()).expect("write memory.x");
    fs::copy("memory/model-region.x", out.join("model-region.x")).expect("copy model-region.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // Only bedside logs through defmt; its linker script would only add empty sections to parity.
    println!("cargo:rustc-link-arg-bin=bedside=-Tdefmt.x");

    // bedside: include_bytes!(env!("LOCKSTEP_MODEL")) needs an absolute path, since
    // include_bytes! resolves relative paths against the source file.
    println!("cargo:rerun-if-env-changed=LOCKSTEP_MODEL");
    let model = match env::var_os("LOCKSTEP_MODEL") {
        Some(path) if !path.is_empty() => manifest_dir.join(path),
        _ => manifest_dir.join(DEFAULT_MODEL),
    };
    let model = fs::canonicalize(&model).unwrap_or_else(|e| {
        panic!(
            "LOCKSTEP_MODEL: cannot read {} ({e}); set LOCKSTEP_MODEL to a compiled .lsm \
             (relative paths are relative to firmware-demo/)",
            model.display()
        )
    });
    println!("cargo:rerun-if-changed={}", model.display());
    println!("cargo:rustc-env=LOCKSTEP_MODEL={}", model.display());
}

//! Picks the memory layout for the target being built, adds the linker scripts, and points the
//! bedside binary at the model it embeds.
//!
//! One firmware build per target (`--target`); the board follows from the triple:
//! thumbv6m-none-eabi → micro:bit (cortex-m0), thumbv7em-none-eabihf → MPS2 AN386 (cortex-m4f),
//! thumbv8m.main-none-eabihf → MPS2 AN505 (cortex-m33). The code sees the board as
//! `cfg(lockstep_board = "...")`.
use std::{env, fs, path::PathBuf};

/// (triple, memory layout file, board name)
const BOARDS: [(&str, &str, &str); 3] = [
    ("thumbv6m-none-eabi", "cortex-m0.x", "microbit"),
    ("thumbv7em-none-eabihf", "cortex-m4f.x", "mps2-an386"),
    ("thumbv8m.main-none-eabihf", "cortex-m33.x", "mps2-an505"),
];

/// The model bedside embeds when LOCKSTEP_MODEL is not set (relative to this package).
const DEFAULT_MODEL: &str = "models/bedside.lsm";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));

    println!("cargo:rustc-check-cfg=cfg(lockstep_board, values(\"microbit\", \"mps2-an386\", \"mps2-an505\"))");
    let Some(&(_, layout, board)) = BOARDS.iter().find(|(triple, _, _)| *triple == target) else {
        let known: Vec<&str> = BOARDS.iter().map(|(triple, _, _)| *triple).collect();
        panic!(
            "lockstep-firmware-demo has no board for target {target}; build with --target one of: {}",
            known.join(", ")
        );
    };
    println!("cargo:rustc-cfg=lockstep_board=\"{board}\"");

    // cortex-m-rt's link.x INCLUDEs memory.x; ours INCLUDEs model-region.x.
    fs::copy(format!("memory/{layout}"), out.join("memory.x")).expect("copy the memory layout");
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

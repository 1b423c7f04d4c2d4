//! Generates the memory layout for the target being built, adds the linker scripts, and points
//! the bedside binary at the model it embeds.
//!
//! One firmware build per target (`--target`); the board follows from the triple through
//! lockstep-protocol's target table (thumbv6m-none-eabi → micro:bit, cortex-m0;
//! thumbv7em-none-eabihf → MPS2 AN386, cortex-m4f; thumbv8m.main-none-eabihf → MPS2 AN505,
//! cortex-m33), which also gives the addresses and sizes `memory.x` is generated from. The code
//! sees the board as `cfg(lockstep_board = "...")`.
//!
//! Sealed models: `LOCKSTEP_SEAL_PUBLIC_KEY` (64 hex digits, the key of a `.pub` file) and
//! `LOCKSTEP_SEAL_MIN_VERSION` (a u32, default 0) become constants in `seal_key.rs`; with a key
//! the firmware accepts only a model sealed by it, at that version or newer. A malformed value
//! fails the build. Changing either variable rebuilds (rerun-if-env-changed).
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

    let codegen = write_codegen_models(&out);
    // With generated code compiled in, the model region becomes code flash (the model is the
    // code; no blob is loaded), and MODEL is left empty at its end: the 300-tree models'
    // code does not fit the micro:bit's 80 KiB of code flash otherwise.
    let layout = if codegen && target.flash_origin + target.flash_bytes == target.model_region {
        targets::Target {
            flash_bytes: target.flash_bytes + target.model_region_bytes,
            model_region: target.model_region + target.model_region_bytes,
            model_region_bytes: 0,
            ..target
        }
    } else {
        target
    };
    // cortex-m-rt's link.x INCLUDEs memory.x; ours INCLUDEs model-region.x, which holds no
    // addresses (it places the region through ORIGIN(MODEL) and LENGTH(MODEL)).
    fs::write(out.join("memory.x"), layout.memory_x().to_string()).expect("write memory.x");
    fs::copy("memory/model-region.x", out.join("model-region.x")).expect("copy model-region.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // Only bedside logs through defmt; its linker script would only add empty sections to parity.
    println!("cargo:rustc-link-arg-bin=bedside=-Tdefmt.x");

    write_seal_key(&out);

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

/// Writes `codegen_models.rs` for the `parity-codegen` binary: one `#[path]` module per file
/// of `LOCKSTEP_CODEGEN` (Rust modules from `lockstep codegen`, `:`-separated, relative paths
/// relative to firmware-demo/), a slice-taking wrapper for each, and `MODELS`. Returns whether
/// any module was given.
fn write_codegen_models(out: &std::path::Path) -> bool {
    const VAR: &str = "LOCKSTEP_CODEGEN";
    println!("cargo:rerun-if-env-changed={VAR}");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let paths: Vec<PathBuf> = env::var_os(VAR)
        .map(|list| {
            env::split_paths(&list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut code = String::new();
    let mut models = String::new();
    for (index, path) in paths.iter().enumerate() {
        let path = fs::canonicalize(manifest_dir.join(path)).unwrap_or_else(|e| {
            panic!(
                "{VAR}: cannot read {} ({e}); name the .rs files `lockstep codegen` wrote",
                path.display()
            )
        });
        println!("cargo:rerun-if-changed={}", path.display());
        let m = format!("codegen_{index}");
        code.push_str(&format!(
            "#[path = {path:?}]\nmod {m};\n\
             fn score_{index}(row: &[f32], margins: &mut [f32], outputs: &mut [f32]) -> bool {{\n    \
             match (\n        <&[f32; {m}::N_FEATURES]>::try_from(row),\n        \
             <&mut [f32; {m}::N_OUTPUTS]>::try_from(margins),\n        \
             <&mut [f32; {m}::N_OUTPUTS]>::try_from(outputs),\n    ) {{\n        \
             (Ok(row), Ok(margins), Ok(outputs)) => {{\n            {m}::predict(row, margins, outputs);\n            true\n        }}\n        \
             _ => false,\n    }}\n}}\n",
            path = path.display().to_string()
        ));
        models.push_str(&format!(
            "    Compiled {{ sha256: {m}::MODEL_SHA256, n_features: {m}::N_FEATURES, n_outputs: {m}::N_OUTPUTS, score: score_{index} }},\n"
        ));
    }
    code.push_str(&format!(
        "/// The models compiled into this firmware.\nstatic MODELS: &[Compiled] = &[\n{models}];\n"
    ));
    fs::write(out.join("codegen_models.rs"), code).expect("write codegen_models.rs");
    !paths.is_empty()
}

/// Writes `seal_key.rs`: `PUBLIC_KEY: Option<[u8; 32]>` and `MIN_VERSION: u32`, from the
/// environment; panics (failing the build) on a malformed value.
fn write_seal_key(out: &std::path::Path) {
    const KEY_VAR: &str = "LOCKSTEP_SEAL_PUBLIC_KEY";
    const MIN_VAR: &str = "LOCKSTEP_SEAL_MIN_VERSION";
    println!("cargo:rerun-if-env-changed={KEY_VAR}");
    println!("cargo:rerun-if-env-changed={MIN_VAR}");
    let text = |name: &str| match env::var(name) {
        Ok(value) if value.trim().is_empty() => None,
        Ok(value) => Some(value.trim().to_string()),
        Err(env::VarError::NotPresent) => None,
        Err(env::VarError::NotUnicode(_)) => panic!("{name} is not valid text"),
    };
    let key = text(KEY_VAR).map(|hex| {
        let digits = hex.as_bytes();
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            panic!(
                "{KEY_VAR} must be exactly 64 hexadecimal digits (the key in a lockstep-ed25519-public \
                 file), got {} characters",
                digits.len()
            );
        }
        let mut key = [0u8; lockstep_seal::PUBLIC_KEY_LEN];
        for (byte, pair) in key.iter_mut().zip(digits.chunks(2)) {
            let pair = std::str::from_utf8(pair).expect("ASCII hex digits");
            *byte = u8::from_str_radix(pair, 16).expect("checked hex digits");
        }
        if !lockstep_seal::is_valid_public_key(&key) {
            panic!("{KEY_VAR} is not a valid Ed25519 public key");
        }
        key
    });
    let min_version = text(MIN_VAR).map(|v| {
        v.parse::<u32>().unwrap_or_else(|_| {
            panic!(
                "{MIN_VAR} must be a whole number from 0 to {}, got {v:?}",
                u32::MAX
            )
        })
    });
    if key.is_none() && min_version.is_some() {
        panic!("{MIN_VAR} is set but {KEY_VAR} is not: a minimum version needs a sealing key");
    }
    let key_code = match key {
        Some(key) => format!("Some({key:?})"),
        None => "None".to_string(),
    };
    let code = format!(
        "/// The public key a sealed model must be signed with (`None`: unsigned models, as before).\n\
         pub const PUBLIC_KEY: Option<[u8; 32]> = {key_code};\n\
         /// The oldest model version accepted (anti-rollback).\n\
         pub const MIN_VERSION: u32 = {};\n",
        min_version.unwrap_or(0)
    );
    fs::write(out.join("seal_key.rs"), code).expect("write seal_key.rs");
}

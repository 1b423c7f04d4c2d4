//! The code path's modules for benches/benches/codegen.rs: `lockstep codegen` (the host-tools
//! library's `codegen::generate`) of the bench fixture (XGBoost, 300 trees of depth 6) and of
//! the LightGBM 4.7.0 binary (also with the block walk forced) and categorical fixtures, written to OUT_DIR with
//! `codegen_modules.rs`, which declares one module per file (`#[path]`, as the firmware's
//! parity-codegen build does) for the bench to `include!`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lockstep_host::codegen::{BatchWalk, CodegenOptions};

/// (module name, model source under tests/fixtures, batch walk). `Auto` is what `lockstep
/// codegen` writes: blocks for the 300x6 model, a row at a time for the small LightGBM ones;
/// `lgb_binary_blocks` is the LightGBM binary model with the block walk all the same.
const MODELS: [(&str, &str, BatchWalk); 4] = [
    ("xgb_300x6", "bench/xgb-300x6.json", BatchWalk::Auto),
    ("lgb_binary", "cases/lgb-4.7.0-binary.txt", BatchWalk::Auto),
    (
        "lgb_binary_blocks",
        "cases/lgb-4.7.0-binary.txt",
        BatchWalk::Blocks,
    ),
    (
        "lgb_categorical",
        "cases/lgb-4.7.0-categorical.txt",
        BatchWalk::Auto,
    ),
];

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut modules = String::new();
    for (name, file, batch) in MODELS {
        let path = fixtures.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let source = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read the fixture {}: {e}", path.display()));
        let compiled = lockstep_host::compile::compile(&source)
            .unwrap_or_else(|e| panic!("cannot compile the fixture {}: {e}", path.display()));
        let model = lockstep_engine::Model::from_bytes(&compiled.bytes)
            .unwrap_or_else(|e| panic!("cannot load the compiled {}: {e:?}", path.display()));
        let options = CodegenOptions {
            command: format!("benches/build.rs: {file}"),
            batch,
        };
        let code = lockstep_host::codegen::generate(&model, &options)
            .unwrap_or_else(|e| panic!("codegen refused {}: {e}", path.display()));
        let module = out.join(format!("{name}.rs"));
        std::fs::write(&module, code)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", module.display()));
        let _ = writeln!(
            modules,
            "#[path = {:?}]\nmod {name};",
            module.display().to_string()
        );
    }
    let list = out.join("codegen_modules.rs");
    std::fs::write(&list, modules)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", list.display()));
}

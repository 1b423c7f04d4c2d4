//! `lockstep codegen` emits, for every fixture model, Rust that compiles on the host and gives
//! exactly `Model::predict`'s bits (margins and outputs) on the model's boundary vectors
//! (every threshold and its neighbours, category members, NaN, infinities, signed zeros,
//! subnormals) and random rows; and a model without trees is refused by name.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockstep_engine::Model;
use lockstep_host::codegen::{self, CodegenError, CodegenOptions};
use lockstep_host::parity::vectors;
use lockstep_tests::fixtures_dir;
use serde_json::Value;

/// Every fixture, compiled: (name, model bytes).
fn compiled_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir();
    let manifest: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let mut cases: Vec<(String, PathBuf)> = manifest
        .iter()
        .map(|case| {
            let name = case["name"].as_str().expect("name").to_string();
            (name, dir.join(case["model_file"].as_str().expect("file")))
        })
        .collect();
    cases.push(("bench-xgb-300x6".into(), dir.join("bench/xgb-300x6.json")));
    cases
        .into_iter()
        .map(|(name, path)| {
            let source = std::fs::read(&path).expect("model");
            let compiled = lockstep_host::compile::compile(&source).expect("compile");
            (name, compiled.bytes)
        })
        .collect()
}

/// A cargo package that includes `modules` (file name, code) and scores raw f32 rows read
/// from a file with the module whose MODEL_SHA256_HEX is given: `harness SHA IN OUT`.
fn write_harness(dir: &Path, modules: &[(String, String)]) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("harness dir");
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"codegen-harness\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\nlockstep-engine = {{ path = {:?} }}\n",
            engine.canonicalize().expect("engine dir")
        ),
    )
    .expect("Cargo.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .expect("Cargo.lock");
    let mut main = String::from(
        "#![forbid(unsafe_code)]\n\
         fn run<const F: usize, const O: usize>(\n    \
             predict: fn(&[f32; F], &mut [f32; O], &mut [f32; O]),\n    values: &[f32],\n) -> Vec<u8> {\n    \
             let mut out = Vec::new();\n    \
             for row in values.chunks_exact(F) {\n        \
                 let row: &[f32; F] = row.try_into().unwrap();\n        \
                 let (mut m, mut o) = ([0f32; O], [0f32; O]);\n        \
                 predict(row, &mut m, &mut o);\n        \
                 for v in m.iter().chain(o.iter()) {\n            out.extend_from_slice(&v.to_bits().to_le_bytes());\n        }\n    }\n    out\n}\n\n",
    );
    for (name, code) in modules {
        std::fs::write(src.join(format!("{name}.rs")), code).expect("module");
        main.push_str(&format!("mod {name};\n"));
    }
    main.push_str(
        "\nfn main() {\n    let args: Vec<String> = std::env::args().collect();\n    \
         let bytes = std::fs::read(&args[2]).unwrap();\n    \
         let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();\n    \
         let out = match args[1].as_str() {\n",
    );
    for (name, _) in modules {
        main.push_str(&format!(
            "        {name}::MODEL_SHA256_HEX => run({name}::predict, &values),\n"
        ));
    }
    main.push_str("        other => panic!(\"no module for {other}\"),\n    };\n    std::fs::write(&args[3], out).unwrap();\n}\n");
    std::fs::write(src.join("main.rs"), main).expect("main.rs");
}

#[test]
fn generated_code_gives_the_engines_bits_for_every_fixture() {
    let fixtures = compiled_fixtures();
    let mut modules = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, (name, bytes)) in fixtures.iter().enumerate() {
        let model = Model::from_bytes(bytes).expect("load");
        // JSON and UBJSON fixtures of one model compile to the same bytes: one module each.
        if !seen.insert(model.checksum()) {
            continue;
        }
        let options = CodegenOptions {
            command: format!("codegen_host test: {name}"),
        };
        let code = codegen::generate(&model, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            code.contains("\n#![forbid(unsafe_code)]\n"),
            "{name}: generated code does not forbid unsafe"
        );
        modules.push((format!("m{index}"), code));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("codegen-host");
    write_harness(&dir, &modules);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--release"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "the generated modules do not compile");
    let exe = dir.join("target/release/codegen-harness");

    let mut failures = Vec::new();
    let mut compared = 0usize;
    for (name, bytes) in &fixtures {
        let model = Model::from_bytes(bytes).expect("load");
        let set = vectors::generate(
            &model,
            vectors::GenerateOptions {
                random_rows: 300,
                seed: 11,
            },
        );
        let input: Vec<u8> = set.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let (input_path, output_path) = (dir.join("in.bin"), dir.join("out.bin"));
        std::fs::write(&input_path, input).expect("write rows");
        let sha = lockstep_host::inspect::hex(&model.checksum());
        let status = Command::new(&exe)
            .args([sha.as_str()])
            .arg(&input_path)
            .arg(&output_path)
            .status()
            .expect("run harness");
        assert!(status.success(), "{name}: the harness failed");
        let device = std::fs::read(&output_path).expect("outputs");
        let n_outputs = model.n_outputs();
        let mut expected = Vec::new();
        for row in 0..set.n_rows() {
            let (mut m, mut o) = (vec![0f32; n_outputs], vec![0f32; n_outputs]);
            model
                .predict(set.row(row), &mut m, &mut o)
                .expect("predict");
            for v in m.iter().chain(o.iter()) {
                expected.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        compared += set.n_rows();
        if device != expected {
            let first = device
                .chunks(4)
                .zip(expected.chunks(4))
                .position(|(a, b)| a != b)
                .unwrap_or(usize::MAX);
            let row = first / (2 * n_outputs);
            failures.push(format!(
                "{name}: row {row} value {} differs (inputs {:?})",
                first % (2 * n_outputs),
                set.row(row.min(set.n_rows().saturating_sub(1)))
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(compared > 10_000, "only {compared} rows compared");
}

#[test]
fn a_model_with_linear_terms_is_refused_by_name() {
    use lockstep_engine::builder::ModelSpec;
    use lockstep_engine::format::{Aggregation, BaseOrder, Framework, Numerics, Objective};
    // One feature, coefficient 0.5, fill 0.0 (the linear-terms section's layout).
    let mut payload = 0.5f64.to_le_bytes().to_vec();
    payload.extend_from_slice(&0.0f64.to_le_bytes());
    let spec = ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.0],
        feature_names: vec!["a".into()],
        feature_ranges: None,
        trees: vec![],
        source_framework: Framework::Lockstep,
        source_version: String::new(),
        label: "linear".into(),
        sections: vec![(lockstep_engine::format::SECTION_LINEAR, payload)],
    };
    let bytes = spec.to_bytes().expect("linear model");
    let model = Model::from_bytes(&bytes).expect("load");
    let refused = codegen::generate(&model, &CodegenOptions::default()).unwrap_err();
    assert_eq!(refused, CodegenError::LinearTerms);
    assert!(refused
        .to_string()
        .contains("score this model through the engine"));
}

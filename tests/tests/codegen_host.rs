//! `lockstep codegen` emits, for every fixture model, Rust that compiles on the host and gives
//! exactly `Model::predict`'s bits (margins and outputs) on the model's boundary vectors
//! (every threshold and its neighbours, category members, NaN, infinities, signed zeros,
//! subnormals) and random rows, through `predict` one row at a time and through `predict_batch`
//! with the block walk and with the row walk forced (every row, none, a prefix, slices of
//! unequal lengths within a block and across its end); and a model without trees is refused by
//! name.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockstep_engine::Model;
use lockstep_host::codegen::{self, BatchWalk, CodegenError, CodegenOptions};
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
    // `harness SHA IN OUT`: `predict` on every row; `harness SHA IN OUT N M`: `predict_batch`
    // on the first N rows with M rows of margins and outputs, preset to SENTINEL.
    let mut main = String::from(
        "#![forbid(unsafe_code)]\n\
         const SENTINEL: f32 = f32::from_bits(0x7fc0_1234);\n\
         fn run<const F: usize, const O: usize>(\n    \
             predict: fn(&[f32; F], &mut [f32; O], &mut [f32; O]),\n    \
             predict_batch: fn(&[[f32; F]], &mut [[f32; O]], &mut [[f32; O]]),\n    \
             values: &[f32],\n    batch: Option<(usize, usize)>,\n) -> Vec<u8> {\n    \
             let rows: Vec<[f32; F]> = values.chunks_exact(F).map(|r| r.try_into().unwrap()).collect();\n    \
             let (ms, os) = match batch {\n        \
                 None => rows.iter().map(|row| {\n            \
                     let (mut m, mut o) = ([0f32; O], [0f32; O]);\n            \
                     predict(row, &mut m, &mut o);\n            \
                     (m, o)\n        \
                 }).unzip(),\n        \
                 Some((n, m)) => {\n            \
                     let (mut ms, mut os) = (vec![[SENTINEL; O]; m], vec![[SENTINEL; O]; m]);\n            \
                     predict_batch(&rows[..n], &mut ms, &mut os);\n            \
                     (ms, os)\n        \
                 }\n    \
             };\n    \
             let mut out = Vec::new();\n    \
             for (m, o) in ms.iter().zip(&os) {\n        \
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
         let batch = (args.len() == 6).then(|| (args[4].parse().unwrap(), args[5].parse().unwrap()));\n    \
         let out = match args[1].as_str() {\n",
    );
    // Modules named `m…` answer to their model's SHA, `r…` (the same model with the row walk
    // forced) to `rows:SHA`.
    for (name, _) in modules {
        let pattern = if name.starts_with('r') {
            format!("a if a.strip_prefix(\"rows:\") == Some({name}::MODEL_SHA256_HEX)")
        } else {
            format!("{name}::MODEL_SHA256_HEX")
        };
        main.push_str(&format!(
            "        {pattern} => run({name}::predict, {name}::predict_batch, &values, batch),\n"
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
        // Blocks whatever the size (`lockstep codegen` scores small models a row at a time),
        // so the batch walk meets every model kind.
        // Each model twice: with the block walk forced, and with the row walk (a loop of
        // `predict`, what small models get by default) forced.
        for (prefix, batch) in [("m", BatchWalk::Blocks), ("r", BatchWalk::Rows)] {
            let options = CodegenOptions {
                command: format!("codegen_host test: {name}"),
                batch,
            };
            let code =
                codegen::generate(&model, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                code.contains("\n#![forbid(unsafe_code)]\n"),
                "{name}: generated code does not forbid unsafe"
            );
            modules.push((format!("{prefix}{index}"), code));
        }
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
        // The harness's output for `extra` (empty: `predict` on every row; N M: `predict_batch`).
        let harness = |key: &str, extra: &[usize]| -> Vec<u8> {
            let status = Command::new(&exe)
                .arg(key)
                .arg(&input_path)
                .arg(&output_path)
                .args(extra.iter().map(|n| n.to_string()))
                .status()
                .expect("run harness");
            assert!(
                status.success(),
                "{name}: the harness failed ({key} {extra:?})"
            );
            std::fs::read(&output_path).expect("outputs")
        };
        let n_outputs = model.n_outputs();
        let row_bytes = 2 * n_outputs * 4;
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
        let mut check = |what: String, got: &[u8], want: &[u8]| {
            if got != want {
                let first = got
                    .chunks(4)
                    .zip(want.chunks(4))
                    .position(|(a, b)| a != b)
                    .unwrap_or(usize::MAX);
                let row = first / (2 * n_outputs);
                failures.push(format!(
                    "{name}, {what}: row {row} value {} differs (of {} bytes, {} expected; inputs {:?})",
                    first % (2 * n_outputs),
                    got.len(),
                    want.len(),
                    set.row(row.min(set.n_rows().saturating_sub(1)))
                ));
            }
        };
        check("predict".into(), &harness(&sha, &[]), &expected);
        let rows_key = format!("rows:{sha}");
        // predict_batch: every row, none, one, part of a block (a block is up to 256 rows,
        // fewer for large records), and slices of unequal lengths within a block and across a
        // block's end (the rows all three have are scored, the rest of margins and outputs is
        // left as it was).
        let n = set.n_rows();
        assert!(n > 260, "{name}: only {n} rows");
        let sentinel = 0x7fc0_1234u32.to_le_bytes().repeat(2 * n_outputs);
        for (rows, slots) in [
            (n, n),
            (0, 0),
            (0, 3),
            (1, 1),
            (128, 128),
            (100, 100),
            (70, 130),
            (130, 70),
            (n, 260),
            (260, n),
        ] {
            let scored = rows.min(slots);
            let mut want = expected[..scored * row_bytes].to_vec();
            for _ in scored..slots {
                want.extend_from_slice(&sentinel);
            }
            for (walk, key) in [
                ("block walk", sha.as_str()),
                ("row walk", rows_key.as_str()),
            ] {
                check(
                    format!("predict_batch ({walk}) of {rows} rows into {slots}"),
                    &harness(key, &[rows, slots]),
                    &want,
                );
            }
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

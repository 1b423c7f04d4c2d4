//! Every fixture model, compiled, gives the same output bits on Cortex-M0, Cortex-M4F and
//! Cortex-M33 firmware in QEMU as on the host, over generated boundary vectors; and a device
//! that corrupts one output bit is caught.

use std::path::PathBuf;

use lockstep_engine::{Model, PREDICT_STACK_BYTES_CORTEX_M};
use lockstep_host::parity::{self, vectors, ParityOptions, TARGETS};
use lockstep_tests::fixtures_dir;
use serde_json::Value;

fn work_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("device-parity")
        .join(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

fn options(name: &str, corrupt: bool) -> ParityOptions {
    ParityOptions {
        firmware_dir: parity::default_firmware_dir(),
        work_dir: work_dir(name),
        corrupt_device_output: corrupt,
        keep_mismatches: 5,
        seal: None,
        codegen: Vec::new(),
    }
}

fn compiled_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir();
    let manifest: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    manifest
        .iter()
        .map(|case| {
            let name = case["name"].as_str().expect("name").to_string();
            let source =
                std::fs::read(dir.join(case["model_file"].as_str().expect("file"))).expect("model");
            let compiled = lockstep_host::compile::compile(&source).expect("compile");
            (name, compiled.bytes)
        })
        .collect()
}

#[test]
fn every_fixture_model_is_bit_exact_on_every_target() {
    let mut summary = Vec::new();
    let mut failures = Vec::new();
    let mut total_rows = 0;
    for (name, bytes) in compiled_fixtures() {
        let model = Model::from_bytes(&bytes).expect("load");
        let set = vectors::generate(
            &model,
            vectors::GenerateOptions {
                random_rows: 200,
                seed: 7,
            },
        );
        let record = parity::run(&bytes, &set, &TARGETS, &options(&name, false), |_| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for t in &record.targets {
            total_rows += t.rows;
            let stack = t.cost.stack_peak_bytes.unwrap_or(u64::MAX);
            summary.push(format!(
                "{name} {}: {}/{} bit-exact, stack {stack} B",
                t.target, t.rows_bit_exact, t.rows
            ));
            if t.mismatched_values != 0 || t.rows == 0 {
                failures.push(format!("{name} {}: {:?}", t.target, t.first_mismatches));
            }
            // The engine documents a stack bound for each model's kind (which its cost
            // reports), one for every model on every target, and a single-output model needs
            // at most 512 bytes.
            let single_output_limit = if model.n_outputs() == 1 {
                512
            } else {
                u64::MAX
            };
            let kind_limit = u64::from(model.cost().stack_bytes_max);
            if stack > u64::from(PREDICT_STACK_BYTES_CORTEX_M)
                || stack > kind_limit
                || stack > single_output_limit
            {
                failures.push(format!(
                    "{name} {}: stack {stack} B over its kind's bound {kind_limit} B, \
                     PREDICT_STACK_BYTES_CORTEX_M or 512 B",
                    t.target
                ));
            }
        }
    }
    println!("{}", summary.join("\n"));
    println!("{total_rows} device rows compared");
    assert!(
        summary.len() >= 3 * 50,
        "expected every fixture on three targets"
    );
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn a_device_that_flips_one_bit_is_caught() {
    let (name, bytes) = compiled_fixtures().into_iter().next().expect("a fixture");
    let model = Model::from_bytes(&bytes).expect("load");
    let set = vectors::generate(
        &model,
        vectors::GenerateOptions {
            random_rows: 20,
            seed: 1,
        },
    );
    let record = parity::run(
        &bytes,
        &set,
        &TARGETS[1..2],
        &options(&format!("{name}-corrupt"), true),
        |_| {},
    )
    .expect("run");
    let result = &record.targets[0];
    assert_eq!(
        result.mismatched_values, 1,
        "exactly the flipped value differs"
    );
    assert_eq!(result.rows_bit_exact, result.rows - 1);
    assert_eq!(
        (
            result.first_mismatches[0].row,
            result.first_mismatches[0].value.as_str()
        ),
        (0, "margin_0")
    );
    assert!(!record.all_exact());
}

#[test]
fn a_model_too_large_for_a_model_region_is_refused_before_running() {
    // QEMU crashes when a loader blob runs past a board's flash, so the host must refuse first.
    let (_, bytes) = compiled_fixtures().into_iter().next().expect("a fixture");
    let model = Model::from_bytes(&bytes).expect("load");
    let set = vectors::generate(
        &model,
        vectors::GenerateOptions {
            random_rows: 1,
            seed: 1,
        },
    );
    let tiny = parity::Target {
        model_region_bytes: 1024,
        ..TARGETS[0]
    };
    let result = parity::run(&bytes, &set, &[tiny], &options("too-large", false), |_| {});
    assert!(
        matches!(result, Err(parity::ParityError::ModelTooLarge { .. })),
        "{result:?}"
    );
}

/// Models Lockstep trains itself (boosted trees, a forest, and a logistic regression in the
/// engine's linear form, whose f64 sums meet infinities and NaN fills, with the cohort's
/// multi-level categoricals as level terms probed at every code) are bit-exact too.
#[test]
fn trained_models_of_every_kind_are_bit_exact_on_every_target() {
    use lockstep_host::synth;
    use lockstep_host::train::pipeline;
    let dir = work_dir("trained");
    let cohort = synth::arthroplasty(3000, 11);
    let csv = dir.join("cohort.csv");
    let schema = dir.join("cohort.schema.toml");
    synth::write_csv(&cohort, std::fs::File::create(&csv).expect("csv")).expect("write csv");
    std::fs::write(&schema, synth::schema_toml()).expect("schema");
    use lockstep_host::train::config::{
        ForestConfig, GbdtConfig, LogisticConfig, ModelKind, TrainConfig,
    };
    let base = TrainConfig {
        target: Some("infection_1y".into()),
        ..TrainConfig::default()
    };
    let configs = [
        TrainConfig {
            gbdt: GbdtConfig {
                n_trees: 30,
                max_depth: 3,
                ..GbdtConfig::default()
            },
            ..base.clone()
        },
        TrainConfig {
            kind: ModelKind::Forest,
            forest: ForestConfig {
                n_trees: 20,
                max_depth: 4,
                ..ForestConfig::default()
            },
            ..base.clone()
        },
        TrainConfig {
            kind: ModelKind::Logistic,
            logistic: LogisticConfig {
                n_lambdas: 20,
                folds: 3,
                ..LogisticConfig::default()
            },
            ..base.clone()
        },
    ];
    let mut failures = Vec::new();
    for config in configs {
        let kind = format!("{:?}", config.kind).to_lowercase();
        let outcome = pipeline::train_model(&csv, &schema, config, |_| {}).expect("train");
        let model = Model::from_bytes(&outcome.model).expect("load");
        if kind == "logistic" {
            assert!(
                model.has_level_terms(),
                "diagnosis and smoking are dummy coded"
            );
        }
        let set = vectors::generate(
            &model,
            vectors::GenerateOptions {
                random_rows: 300,
                seed: 3,
            },
        );
        let record = parity::run(
            &outcome.model,
            &set,
            &TARGETS,
            &options(&format!("trained-{kind}"), false),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        for t in &record.targets {
            println!(
                "{kind} {}: {}/{} bit-exact",
                t.target, t.rows_bit_exact, t.rows
            );
            if t.mismatched_values != 0 || t.rows < 300 {
                failures.push(format!("{kind} {}: {:?}", t.target, t.first_mismatches));
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

//! The trainer's contract: identical model bytes for identical data, options and seed (across runs, thread counts and CPU load), a compiled model that reproduces the trainer's own predictions bit for bit, and a model that actually learns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lockstep_engine::builder::NodeSpec;
use lockstep_engine::Model;
use lockstep_host::train::{
    auc, train, GbdtObjective, GbdtOptions, TrainData, TrainError, TrainedGbdt,
};

/// The test data generator (SplitMix64), so the data is the same everywhere.
use lockstep_host::rng::SplitMix64 as Rng;

/// Generated columns with three label kinds computed from the same rows.
struct Generated {
    names: Vec<String>,
    columns: Vec<Vec<f32>>,
    binary: Vec<f32>,
    classes: Vec<f32>,
    target: Vec<f32>,
}

impl Generated {
    fn data<'a>(&'a self, labels: &'a [f32]) -> TrainData<'a> {
        TrainData {
            feature_names: &self.names,
            columns: &self.columns,
            labels,
        }
    }

    fn row(&self, row: usize) -> Vec<f32> {
        self.columns.iter().map(|c| c[row]).collect()
    }
}

/// `n_rows` rows of `n_features` (at least 5) uniform features, a non-linear signal in the
/// first five (a sine, an interaction, a step, a slope), the rest noise, and `missing` of all
/// values replaced by NaN after the labels are drawn.
fn generate(n_rows: usize, n_features: usize, seed: u64, missing: f32) -> Generated {
    let mut rng = Rng(seed);
    let mut columns = vec![Vec::with_capacity(n_rows); n_features];
    let (mut binary, mut classes, mut target) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n_rows {
        let x: Vec<f32> = (0..n_features).map(|_| rng.unit_f32()).collect();
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let logit = 3.0 * (6.0 * x64[0]).sin()
            + 16.0 * (x64[1] - 0.5) * (x64[2] - 0.5)
            + if x64[3] > 0.6 { 2.0 } else { -1.0 }
            + 3.0 * (x64[4] - 0.5);
        let p = 1.0 / (1.0 + (-logit).exp());
        binary.push(if f64::from(rng.unit_f32()) < p {
            1.0
        } else {
            0.0
        });
        let class_scores = [
            2.0 * (6.0 * x64[0]).sin(),
            6.0 * (x64[1] - 0.5),
            4.0 * (x64[2] - x64[3]),
        ];
        let noisy: Vec<f64> = class_scores
            .iter()
            .map(|s| s + f64::from(rng.unit_f32()) * 1.5)
            .collect();
        let class = (0..3)
            .max_by(|&a, &b| noisy[a].total_cmp(&noisy[b]))
            .unwrap();
        classes.push(class as f32);
        target.push((logit + f64::from(rng.unit_f32()) - 0.5) as f32);
        for (column, value) in columns.iter_mut().zip(x) {
            column.push(if rng.unit_f32() < missing {
                f32::NAN
            } else {
                value
            });
        }
    }
    Generated {
        names: (0..n_features).map(|f| format!("x{f}")).collect(),
        columns,
        binary,
        classes,
        target,
    }
}

fn bytes(model: &TrainedGbdt) -> Vec<u8> {
    model.spec.to_bytes().expect("the trained model compiles")
}

/// Every training row's margins and outputs, scored by the compiled model, equal the trainer's
/// by their bits.
fn assert_engine_reproduces_training_predictions(model: &TrainedGbdt, data: &Generated) {
    let blob = bytes(model);
    let engine = Model::from_bytes(&blob).expect("compiled model loads");
    let n_outputs = model.spec.n_outputs;
    let outputs = model.train_outputs();
    let n_rows = data.columns[0].len();
    assert_eq!(model.train_predictions.len(), n_rows * n_outputs);
    let mut margins = vec![0.0f32; n_outputs];
    let mut probabilities = vec![0.0f32; n_outputs];
    for row in 0..n_rows {
        engine
            .predict(&data.row(row), &mut margins, &mut probabilities)
            .expect("row scores");
        let span = row * n_outputs..(row + 1) * n_outputs;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&margins),
            bits(&model.train_predictions[span.clone()]),
            "margin of row {row}"
        );
        assert_eq!(
            bits(&probabilities),
            bits(&outputs[span]),
            "output of row {row}"
        );
    }
}

fn engine_outputs(model: &TrainedGbdt, data: &Generated) -> Vec<f32> {
    let blob = bytes(model);
    let engine = Model::from_bytes(&blob).expect("compiled model loads");
    let n_outputs = model.spec.n_outputs;
    let mut margins = vec![0.0f32; n_outputs];
    let mut all = Vec::new();
    for row in 0..data.columns[0].len() {
        let mut outputs = vec![0.0f32; n_outputs];
        engine
            .predict(&data.row(row), &mut margins, &mut outputs)
            .expect("row scores");
        all.extend(outputs);
    }
    all
}

/// XGBoost's own defaults (100 rounds, `eta` 0.3, depth 6, no subsampling, seed 0, one
/// thread), spelled out: the tests below were written against them, and `GbdtOptions::default`
/// is what `lockstep train` uses.
fn xgboost_defaults() -> GbdtOptions {
    GbdtOptions {
        n_trees: 100,
        learning_rate: 0.3,
        max_depth: 6,
        min_child_weight: 1.0,
        lambda: 1.0,
        alpha: 0.0,
        gamma: 0.0,
        subsample: 1.0,
        colsample_bytree: 1.0,
        scale_pos_weight: 1.0,
        monotone_constraints: Vec::new(),
        max_bins: 256,
        seed: 0,
        objective: GbdtObjective::BinaryLogistic,
        early_stopping_rounds: None,
        threads: 1,
    }
}

fn binary_options() -> GbdtOptions {
    GbdtOptions {
        n_trees: 30,
        learning_rate: 0.2,
        max_depth: 5,
        subsample: 0.8,
        colsample_bytree: 0.8,
        seed: 42,
        ..xgboost_defaults()
    }
}

#[test]
fn model_bytes_are_identical_across_runs_threads_and_cpu_load() {
    // Large enough that histogram building, split search and the root's partition all split
    // across threads (into feature groups of 4 + 4 on two threads, 3 + 3 + 2 on three, and
    // blocks of rows).
    let data = generate(20_000, 8, 1, 0.05);
    let options = binary_options();
    let run = |threads: usize| {
        let options = GbdtOptions {
            threads,
            ..options.clone()
        };
        train(&data.data(&data.binary), None, &options, |_| {}).expect("trains")
    };
    let reference = run(1);
    let reference_bytes = bytes(&reference);
    assert_eq!(bytes(&run(1)), reference_bytes, "second run, one thread");
    for threads in [2, 3] {
        let other = run(threads);
        assert_eq!(bytes(&other), reference_bytes, "{threads} threads");
        assert_eq!(other.train_predictions, reference.train_predictions);
        assert_eq!(other.rounds, reference.rounds, "{threads} threads");
    }
    assert_eq!(bytes(&run(0)), reference_bytes, "one thread per core");
    let stop = AtomicBool::new(false);
    let loaded = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut spin = 0u64;
            while !stop.load(Ordering::Relaxed) {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
        });
        let model = run(2);
        stop.store(true, Ordering::Relaxed);
        model
    });
    assert_eq!(bytes(&loaded), reference_bytes, "two threads under load");
    // And the seed matters.
    let other_seed = GbdtOptions {
        seed: 43,
        ..options.clone()
    };
    let reseeded = train(&data.data(&data.binary), None, &other_seed, |_| {}).expect("trains");
    assert_ne!(bytes(&reseeded), reference_bytes);
}

#[test]
fn compiled_binary_model_reproduces_training_predictions_bit_for_bit() {
    let data = generate(3000, 8, 2, 0.05);
    let model = train(&data.data(&data.binary), None, &binary_options(), |_| {}).expect("trains");
    assert_eq!(model.spec.trees.len(), 30);
    assert_engine_reproduces_training_predictions(&model, &data);
}

#[test]
fn learns_the_signal_on_held_out_data() {
    let train_set = generate(4000, 8, 3, 0.05);
    let held_out = generate(2000, 8, 4, 0.05);
    let options = GbdtOptions {
        n_trees: 60,
        learning_rate: 0.1,
        max_depth: 4,
        ..binary_options()
    };
    let mut reports = Vec::new();
    let model = train(
        &train_set.data(&train_set.binary),
        Some(&held_out.data(&held_out.binary)),
        &options,
        |report| reports.push(report),
    )
    .expect("trains");
    assert_eq!(reports, model.rounds);
    let scores = engine_outputs(&model, &held_out);
    let held_out_auc = auc(&scores, &held_out.binary);
    // The generator's own logit, which sees every input, scores an AUC of 0.93 on these rows;
    // this model gets about 0.88.
    assert!(held_out_auc > 0.85, "held-out AUC {held_out_auc}");
    let last = model.rounds.last().unwrap();
    assert_eq!(
        last.valid_auc,
        Some(held_out_auc),
        "reported AUC is the engine's"
    );
    assert!(last.train_loss < model.rounds[0].train_loss);
    assert_engine_reproduces_training_predictions(&model, &train_set);
}

#[test]
fn early_stopping_stops_and_keeps_trees_up_to_the_best_round() {
    let train_set = generate(1500, 8, 5, 0.05);
    let held_out = generate(1500, 8, 6, 0.05);
    let options = GbdtOptions {
        n_trees: 300,
        learning_rate: 0.5,
        max_depth: 6,
        min_child_weight: 0.0,
        lambda: 0.0,
        early_stopping_rounds: Some(5),
        ..binary_options()
    };
    let model = train(
        &train_set.data(&train_set.binary),
        Some(&held_out.data(&held_out.binary)),
        &options,
        |_| {},
    )
    .expect("trains");
    assert!(
        model.rounds.len() < 300,
        "stopped after {}",
        model.rounds.len()
    );
    assert_eq!(model.rounds.len(), model.best_round + 1 + 5);
    assert_eq!(model.spec.trees.len(), model.best_round + 1);
    let best = model.rounds[model.best_round].valid_loss.unwrap();
    for report in &model.rounds {
        assert!(report.valid_loss.unwrap() >= best);
    }
    // The kept predictions are those of the truncated model.
    assert_engine_reproduces_training_predictions(&model, &train_set);
}

#[test]
fn early_stopping_decides_the_same_on_any_thread_count() {
    // Validation set larger than one block of rows, so its outputs and loss are computed in
    // several parallel tasks.
    let train_set = generate(12_000, 8, 15, 0.05);
    let held_out = generate(9_000, 8, 16, 0.05);
    let run = |threads: usize| {
        let options = GbdtOptions {
            n_trees: 200,
            learning_rate: 0.5,
            max_depth: 6,
            early_stopping_rounds: Some(4),
            threads,
            ..binary_options()
        };
        train(
            &train_set.data(&train_set.binary),
            Some(&held_out.data(&held_out.binary)),
            &options,
            |_| {},
        )
        .expect("trains")
    };
    let one = run(1);
    assert!(one.rounds.len() < 200, "stopped after {}", one.rounds.len());
    for threads in [2, 3] {
        let other = run(threads);
        assert_eq!(other.best_round, one.best_round, "{threads} threads");
        assert_eq!(
            other.rounds, one.rounds,
            "{threads} threads: every round's report"
        );
        assert_eq!(bytes(&other), bytes(&one), "{threads} threads");
    }
}

#[test]
fn monotone_constraint_makes_predictions_monotone_in_that_feature() {
    // The signal in x0 is a sine: clearly not monotone without the constraint.
    let data = generate(3000, 6, 7, 0.05);
    let options = GbdtOptions {
        n_trees: 40,
        max_depth: 4,
        ..binary_options()
    };
    let constrained_options = GbdtOptions {
        monotone_constraints: vec![1, 0, 0, 0, 0, -1],
        ..options.clone()
    };
    let free = train(&data.data(&data.binary), None, &options, |_| {}).expect("trains");
    let constrained =
        train(&data.data(&data.binary), None, &constrained_options, |_| {}).expect("trains");
    assert_engine_reproduces_training_predictions(&constrained, &data);
    // Counts, over sweeps of `feature` from 0 to 1 on 50 rows, the steps where the margin rises
    // and those where the margin or the probability falls.
    let sweep = |model: &TrainedGbdt, feature: usize| {
        let blob = bytes(model);
        let engine = Model::from_bytes(&blob).unwrap();
        let (mut rises, mut falls) = (0, 0);
        for base_row in 0..50 {
            let mut row = data.row(base_row);
            let mut previous: Option<(f32, f32)> = None;
            for step in 0..=200 {
                row[feature] = step as f32 / 200.0;
                let (mut margin, mut probability) = ([0.0f32], [0.0f32]);
                engine.predict(&row, &mut margin, &mut probability).unwrap();
                if let Some((m, p)) = previous {
                    if margin[0] > m || probability[0] > p {
                        rises += 1;
                    }
                    if margin[0] < m || probability[0] < p {
                        falls += 1;
                    }
                }
                previous = Some((margin[0], probability[0]));
            }
        }
        (rises, falls)
    };
    let (free_rises, free_falls) = sweep(&free, 0);
    assert!(
        free_rises > 0 && free_falls > 0,
        "unconstrained, x0 goes both ways"
    );
    let (rises, falls) = sweep(&constrained, 0);
    assert!(rises > 0, "x0 still matters");
    assert_eq!(falls, 0, "increasing in x0");
    let (rises_in_x5, _) = sweep(&constrained, 5);
    assert_eq!(rises_in_x5, 0, "decreasing in x5");
}

#[test]
fn missing_values_follow_the_learned_default_side() {
    // One feature: the label is x > 0.5; missing rows are all positive in one set, all
    // negative in the other.
    let mut rng = Rng(11);
    let n = 2000;
    let x: Vec<f32> = (0..n)
        .map(|i| if i % 5 == 0 { f32::NAN } else { rng.unit_f32() })
        .collect();
    let names = vec!["x".to_string()];
    let columns = vec![x.clone()];
    for missing_label in [1.0f32, 0.0] {
        let labels: Vec<f32> = x
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    missing_label
                } else if v > 0.5 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let data = TrainData {
            feature_names: &names,
            columns: &columns,
            labels: &labels,
        };
        let options = GbdtOptions {
            n_trees: 10,
            max_depth: 1,
            ..xgboost_defaults()
        };
        let model = train(&data, None, &options, |_| {}).expect("trains");
        let NodeSpec::Split { default_left, .. } = model.spec.trees[0].nodes[0] else {
            panic!("the first tree splits");
        };
        // Left is x < threshold (the negatives).
        assert_eq!(default_left, missing_label == 0.0);
        let blob = bytes(&model);
        let engine = Model::from_bytes(&blob).unwrap();
        let score = |v: f32| engine.score(&[v]).unwrap().outputs()[0];
        let expected_like = if missing_label == 1.0 { 0.9 } else { 0.1 };
        assert_eq!(score(f32::NAN), score(expected_like));
        assert_ne!(score(f32::NAN), score(1.0 - expected_like));
    }
}

#[test]
fn softmax_and_squared_error_train_and_compile() {
    let data = generate(3000, 6, 8, 0.05);
    let held_out = generate(1000, 6, 9, 0.05);
    let options = GbdtOptions {
        n_trees: 20,
        max_depth: 4,
        objective: GbdtObjective::Softmax { n_classes: 3 },
        ..binary_options()
    };
    let model = train(
        &data.data(&data.classes),
        Some(&held_out.data(&held_out.classes)),
        &options,
        |_| {},
    )
    .expect("softmax trains");
    assert_eq!(model.spec.n_outputs, 3);
    assert_eq!(model.spec.trees.len(), 60);
    assert_engine_reproduces_training_predictions(&model, &data);
    let probabilities = engine_outputs(&model, &held_out);
    let correct = probabilities
        .chunks_exact(3)
        .zip(&held_out.classes)
        .filter(|(p, &class)| Model::argmax(p) == class as usize)
        .count();
    let accuracy = correct as f64 / held_out.classes.len() as f64;
    assert!(
        accuracy > 0.6,
        "held-out accuracy {accuracy} (chance is about 0.33)"
    );
    let rounds = &model.rounds;
    assert!(rounds.last().unwrap().valid_loss < rounds[0].valid_loss);

    let options = GbdtOptions {
        n_trees: 40,
        max_depth: 4,
        objective: GbdtObjective::SquaredError,
        alpha: 0.5,
        ..binary_options()
    };
    let model = train(&data.data(&data.target), None, &options, |_| {}).expect("regression trains");
    assert_engine_reproduces_training_predictions(&model, &data);
    let mean = data.target.iter().map(|&y| f64::from(y)).sum::<f64>() / 3000.0;
    assert_eq!(model.spec.base_margins, vec![f64::from(mean as f32)]);
    let spread = (data
        .target
        .iter()
        .map(|&y| (f64::from(y) - mean).powi(2))
        .sum::<f64>()
        / 3000.0)
        .sqrt();
    let rmse = model.rounds.last().unwrap().train_loss;
    assert!(
        rmse < 0.5 * spread,
        "train RMSE {rmse} against spread {spread}"
    );
}

#[test]
fn gamma_prunes_splits_that_reduce_the_loss_too_little() {
    let data = generate(2000, 6, 13, 0.05);
    let n_nodes = |gamma: f64| {
        let options = GbdtOptions {
            n_trees: 10,
            gamma,
            ..binary_options()
        };
        let model = train(&data.data(&data.binary), None, &options, |_| {}).expect("trains");
        assert_engine_reproduces_training_predictions(&model, &data);
        model
            .spec
            .trees
            .iter()
            .map(|t| t.nodes.len())
            .sum::<usize>()
    };
    let (free, pruned, stumps) = (n_nodes(0.0), n_nodes(5.0), n_nodes(1e9));
    assert!(pruned < free, "{pruned} nodes with gamma 5, {free} without");
    assert!(pruned > 10, "gamma 5 keeps the strong splits");
    assert_eq!(stumps, 10, "a huge gamma leaves one leaf per tree");
}

#[test]
fn unsampled_rows_take_the_pruned_trees_leaves() {
    // Without row sampling the trainer takes each row's leaf from the growing itself rather
    // than walking the tree; pruning (gamma) must send the rows of an undone split to the leaf
    // it became.
    let data = generate(2000, 6, 17, 0.05);
    for gamma in [0.0, 5.0] {
        let options = GbdtOptions {
            n_trees: 10,
            gamma,
            subsample: 1.0,
            colsample_bytree: 1.0,
            ..binary_options()
        };
        let model = train(&data.data(&data.binary), None, &options, |_| {}).expect("trains");
        assert_engine_reproduces_training_predictions(&model, &data);
    }
}

#[test]
fn rejects_bad_labels_and_options() {
    let data = generate(100, 5, 10, 0.0);
    let binary = data.data(&data.binary);
    let with = |options: GbdtOptions| train(&binary, None, &options, |_| {}).err();
    assert!(matches!(
        train(&data.data(&data.target), None, &xgboost_defaults(), |_| {}),
        Err(TrainError::BadLabel { .. })
    ));
    assert!(matches!(
        with(GbdtOptions {
            max_depth: 16,
            ..xgboost_defaults()
        }),
        Some(TrainError::BadOption {
            option: "max_depth",
            ..
        })
    ));
    assert!(matches!(
        with(GbdtOptions {
            monotone_constraints: vec![1],
            ..xgboost_defaults()
        }),
        Some(TrainError::BadOption { .. })
    ));
    assert_eq!(
        with(GbdtOptions {
            early_stopping_rounds: Some(3),
            ..xgboost_defaults()
        }),
        Some(TrainError::EarlyStoppingWithoutValidation)
    );
    let ones = vec![1.0; 100];
    assert_eq!(
        train(&data.data(&ones), None, &xgboost_defaults(), |_| {}).err(),
        Some(TrainError::SingleClass)
    );
}

/// Training speed on 45,000 rows x 20 features, 100 trees of depth 6. Run with
/// `cargo test --release -p lockstep-host --test train_gbdt -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run in release"]
fn training_speed_45000_rows_20_features() {
    let data = generate(45_000, 20, 12, 0.05);
    for threads in [1, 2] {
        let options = GbdtOptions {
            n_trees: 100,
            max_depth: 6,
            threads,
            ..xgboost_defaults()
        };
        let start = Instant::now();
        let model = train(&data.data(&data.binary), None, &options, |_| {}).expect("trains");
        let elapsed = start.elapsed();
        let nodes: usize = model.spec.trees.iter().map(|t| t.nodes.len()).sum();
        println!(
            "threads {threads}: {elapsed:.2?} for 100 trees ({nodes} nodes), final train loss {:.4}",
            model.rounds.last().unwrap().train_loss
        );
    }
}

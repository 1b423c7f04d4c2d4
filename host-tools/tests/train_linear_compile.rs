//! A logistic path compiled into the engine's linear form reproduces the trainer's own margins and probabilities bit for bit, at every lambda, for training rows and for extreme inputs.

use lockstep_engine::Model;
use lockstep_host::rng::SplitMix64;
use lockstep_host::train::linear::{fit_path, ElasticNetOptions};
use lockstep_host::train::linear_spec::logistic_spec;
use lockstep_host::train::TrainData;

/// 3,000 rows, 6 features on different scales, 4% missing in two of them; the outcome depends
/// on features 0, 2 and 5.
fn generate() -> (Vec<String>, Vec<Vec<f32>>, Vec<f32>) {
    let mut rng = SplitMix64(99);
    let scales = [1.0f32, 50.0, 0.01, 3.0, 1000.0, 1.0];
    let n = 3000;
    let mut columns = vec![Vec::with_capacity(n); scales.len()];
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let raw: Vec<f32> = scales
            .iter()
            .map(|s| (rng.unit_f32() * 2.0 - 1.0) * s)
            .collect();
        let eta = 1.5 * raw[0] - 80.0 * raw[2] + 0.9 * raw[5] - 1.0;
        let p = 1.0 / (1.0 + (-f64::from(eta)).exp());
        labels.push(if f64::from(rng.unit_f32()) < p {
            1.0
        } else {
            0.0
        });
        for (j, column) in columns.iter_mut().enumerate() {
            let missing = (j == 1 || j == 5) && rng.unit_f32() < 0.04;
            column.push(if missing { f32::NAN } else { raw[j] });
        }
    }
    let names = (0..scales.len()).map(|j| format!("x{j}")).collect();
    (names, columns, labels)
}

fn same(a: f64, b: f64) -> bool {
    // The engine reports any NaN as its one canonical NaN; the trainer's NaN sign is whatever
    // the CPU made. Every other value must agree in every bit.
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn compiled_logistic_models_reproduce_the_trainers_predictions_bit_for_bit() {
    let (names, columns, labels) = generate();
    let data = TrainData {
        feature_names: &names,
        columns: &columns,
        labels: &labels,
    };
    let options = ElasticNetOptions {
        alpha: 0.5,
        n_lambdas: 40,
        folds: 3,
        ..ElasticNetOptions::default()
    };
    let path = fit_path(&data, &options).expect("fit");
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        1e30,
    ];
    let mut rows: Vec<Vec<f32>> = (0..labels.len())
        .map(|r| columns.iter().map(|c| c[r]).collect())
        .collect();
    for (k, &special) in specials.iter().enumerate() {
        rows.push(vec![special; names.len()]);
        let mut one = rows[k].clone();
        one[k % names.len()] = special;
        rows.push(one);
    }
    let mut compared = 0;
    for lambda_index in (0..path.lambdas.len()).step_by(3) {
        let bytes = logistic_spec(&path, lambda_index)
            .to_bytes()
            .expect("compile");
        let model = Model::from_bytes(&bytes).expect("load");
        assert_eq!(model.n_trees(), 0);
        for row in &rows {
            let scores = model.score(row).expect("score");
            let (margin, prob) = (scores.margins()[0], scores.outputs()[0]);
            let want_margin = path.margin_at(lambda_index, row);
            let want_prob = path.predict_proba_at(lambda_index, row);
            assert!(
                same(margin, want_margin) && same(prob, want_prob),
                "lambda {lambda_index}, row {row:?}: engine {margin:e}/{prob:e}, trainer {want_margin:e}/{want_prob:e}"
            );
            compared += 1;
        }
    }
    assert!(compared > 40_000, "{compared}");
    // The chosen model keeps the informative features.
    let chosen = &path.coefficients[path.chosen_index];
    for informative in [0, 2, 5] {
        assert_ne!(
            chosen[informative], 0.0,
            "feature {informative}: {chosen:?}"
        );
    }
}

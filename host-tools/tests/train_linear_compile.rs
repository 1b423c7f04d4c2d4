//! A logistic path compiled into the engine's linear form (with dummy-coded categoricals as level terms) reproduces the trainer's own margins and probabilities bit for bit, at every lambda, for training rows and for extreme, missing and unknown inputs.

use lockstep_engine::Model;
use lockstep_host::rng::SplitMix64;
use lockstep_host::train::linear::{
    dummy_design, fit_path, ElasticNetOptions, FeatureCoding, FeatureTerm,
};
use lockstep_host::train::linear_spec::{linear_terms_spec, logistic_spec};
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

/// 4,000 rows: a number `x`, a four-level `stage` (reference 0, 5% missing) and a three-level
/// `site` whose declared reference is its last level; the outcome depends on `x`, stages 2
/// and 3, and site 0.
fn generate_categorical() -> (Vec<String>, Vec<Vec<f32>>, Vec<f32>, Vec<FeatureCoding>) {
    let mut rng = SplitMix64(7);
    let n = 4000;
    let mut columns: Vec<Vec<f32>> = (0..3).map(|_| Vec::with_capacity(n)).collect();
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let x = rng.unit_f32() * 4.0 - 2.0;
        let stage = (rng.unit_f32() * 4.0).floor().min(3.0);
        let site = (rng.unit_f32() * 3.0).floor().min(2.0);
        let eta = 0.8 * f64::from(x)
            + [0.0, 0.1, 1.2, -1.5][stage as usize]
            + [0.9, 0.0, 0.0][site as usize]
            - 0.5;
        let p = 1.0 / (1.0 + (-eta).exp());
        labels.push(if f64::from(rng.unit_f32()) < p {
            1.0
        } else {
            0.0
        });
        let stage_missing = rng.unit_f32() < 0.05;
        columns[0].push(x);
        columns[1].push(if stage_missing { f32::NAN } else { stage });
        columns[2].push(site);
    }
    let names = vec!["x".to_string(), "stage".to_string(), "site".to_string()];
    let level_names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    let codings = vec![
        FeatureCoding::Value,
        FeatureCoding::Dummy {
            levels: level_names(&["I", "II", "III", "IV"]),
            reference: 0,
        },
        FeatureCoding::Dummy {
            levels: level_names(&["north", "south", "east"]),
            reference: 2,
        },
    ];
    (names, columns, labels, codings)
}

#[test]
fn dummy_coded_categoricals_compile_to_level_terms_that_reproduce_the_trainer_bit_for_bit() {
    let (names, columns, labels, codings) = generate_categorical();
    let (design_names, design) = dummy_design(&names, &columns, &codings);
    assert_eq!(
        design_names,
        [
            "x",
            "stage=II",
            "stage=III",
            "stage=IV",
            "site=north",
            "site=south"
        ]
    );
    let data = TrainData {
        feature_names: &design_names,
        columns: &design,
        labels: &labels,
    };
    let options = ElasticNetOptions {
        n_lambdas: 30,
        folds: 3,
        ..ElasticNetOptions::default()
    };
    let path = fit_path(&data, &options).expect("fit");
    let mut rows: Vec<Vec<f32>> = (0..labels.len())
        .map(|r| columns.iter().map(|c| c[r]).collect())
        .collect();
    // Missing, unknown, non-integer, negative and infinite levels, and -0.0 (level 0).
    for special in [f32::NAN, 4.0, 1.5, -1.0, f32::INFINITY, -0.0, 2.0] {
        rows.push(vec![0.5, special, special]);
        rows.push(vec![f32::NAN, special, 0.0]);
    }
    let mut compared = 0;
    for lambda_index in (0..path.lambdas.len()).step_by(2) {
        let model = path.terms_at(lambda_index, &codings);
        let bytes = linear_terms_spec(&model, names.clone())
            .to_bytes()
            .expect("compile");
        let compiled = Model::from_bytes(&bytes).expect("load");
        assert!(compiled.has_level_terms());
        for row in &rows {
            let scores = compiled.score(row).expect("score");
            let (margin, prob) = (scores.margins()[0], scores.outputs()[0]);
            let (want_margin, want_prob) = (model.margin(row), model.predict_proba(row));
            assert!(
                same(margin, want_margin) && same(prob, want_prob),
                "lambda {lambda_index}, row {row:?}: engine {margin:e}/{prob:e}, trainer {want_margin:e}/{want_prob:e}"
            );
            compared += 1;
        }
    }
    assert!(compared > 50_000, "{compared}");

    // The chosen model: the reference levels have 0, the informative levels do not; a
    // missing or unknown stage scores the fill, which lies between the levels' coefficients.
    let chosen = path.terms_at(path.chosen_index, &codings);
    let FeatureTerm::Levels {
        coefficients: stage,
        fill,
    } = &chosen.terms[1]
    else {
        panic!("stage is dummy coded: {:?}", chosen.terms[1]);
    };
    assert_eq!(stage[0], 0.0);
    assert!(stage[2] > 0.5 && stage[3] < -0.5, "{stage:?}");
    let (low, high) = stage
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &b| {
            (l.min(b), h.max(b))
        });
    assert!(*fill > low && *fill < high, "{fill} outside {stage:?}");
    let FeatureTerm::Levels {
        coefficients: site, ..
    } = &chosen.terms[2]
    else {
        panic!("site is dummy coded");
    };
    assert_eq!(site[2], 0.0, "site's declared reference is its last level");
    assert!(site[0] > 0.4, "{site:?}");
    let bytes = linear_terms_spec(&chosen, names.clone())
        .to_bytes()
        .expect("compile");
    let compiled = Model::from_bytes(&bytes).expect("load");
    let unknown = compiled.score(&[0.5, 9.0, 1.0]).expect("score").margins()[0];
    let missing = compiled
        .score(&[0.5, f32::NAN, 1.0])
        .expect("score")
        .margins()[0];
    assert_eq!(
        unknown.to_bits(),
        missing.to_bits(),
        "an unknown level scores as missing"
    );
}

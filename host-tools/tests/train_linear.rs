//! The penalised logistic regression's contract: the cross-validated lasso keeps the informative features and drops the noise, ridge keeps everything, the path grows as lambda falls, identical inputs give bit-identical paths on any thread count, and predictions follow the engine's linear-model arithmetic bit for bit.

use std::time::Instant;

use lockstep_engine::math::sigmoid_lightgbm;
use lockstep_host::train::linear::{
    fit_path, fit_path_with_threads, ElasticNetOptions, LinearError, LogisticPath,
};
use lockstep_host::train::{auc, TrainData};

/// SplitMix64: the test data generator, so the data is the same everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller, one of the pair).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Features that carry signal in [`generate`], and their true coefficients.
const INFORMATIVE: [(usize, f64); 3] = [(0, 1.2), (2, -1.0), (5, 0.8)];

struct Generated {
    names: Vec<String>,
    columns: Vec<Vec<f32>>,
    labels: Vec<f32>,
}

impl Generated {
    fn data(&self) -> TrainData<'_> {
        TrainData {
            feature_names: &self.names,
            columns: &self.columns,
            labels: &self.labels,
        }
    }
}

/// `n_features` features, of which only those in [`INFORMATIVE`] enter the true logistic
/// model. Noise features 1, 3 and 7 are correlated with informative ones (0.6 or so), feature
/// 4 has 3% missing values and feature 0 has 1%; features are on different scales.
fn generate(n_rows: usize, n_features: usize, seed: u64) -> Generated {
    let mut rng = Rng(seed);
    let names = (0..n_features).map(|j| format!("f{j}")).collect();
    let mut columns = vec![Vec::with_capacity(n_rows); n_features];
    let mut labels = Vec::with_capacity(n_rows);
    let mut row = vec![0.0f64; n_features];
    for _ in 0..n_rows {
        for x in row.iter_mut() {
            *x = rng.normal();
        }
        row[1] = 0.6 * row[0] + 0.8 * row[1];
        row[3] = 0.6 * row[2] + 0.8 * row[3];
        row[7] = 0.6 * row[5] + 0.8 * row[7];
        let mut eta = -0.3;
        for &(j, b) in &INFORMATIVE {
            eta += b * row[j];
        }
        let p = 1.0 / (1.0 + (-eta).exp());
        labels.push(if rng.unit() < p { 1.0 } else { 0.0 });
        for (j, (column, &x)) in columns.iter_mut().zip(&row).enumerate() {
            let scale = 1.0 + j as f64;
            let offset = 10.0 * (j % 3) as f64;
            let missing = (j == 4 && rng.unit() < 0.03) || (j == 0 && rng.unit() < 0.01);
            column.push(if missing {
                f32::NAN
            } else {
                (offset + scale * x) as f32
            });
        }
    }
    Generated {
        names,
        columns,
        labels,
    }
}

fn is_informative(name: &str) -> bool {
    INFORMATIVE.iter().any(|&(j, _)| name == format!("f{j}"))
}

fn noise_selected(path: &LogisticPath) -> Vec<&String> {
    path.selected_variables
        .iter()
        .filter(|name| !is_informative(name))
        .collect()
}

fn assert_informative_selected(path: &LogisticPath) {
    for (j, _) in INFORMATIVE {
        let name = format!("f{j}");
        assert!(
            path.selected_variables.contains(&name),
            "{name} not selected: {:?}",
            path.selected_variables
        );
    }
}

#[test]
fn cross_validated_lasso_selects_the_informative_features() {
    let generated = generate(4000, 12, 1);
    let options = ElasticNetOptions::default();
    let path = fit_path(&generated.data(), &options).unwrap();
    assert!(path.converged.iter().all(|&c| c));
    assert_informative_selected(&path);
    // The CV minimum is famously generous with noise (its curve is flat there), but what it
    // lets in must be tiny next to the signal: compare standardised coefficients.
    let chosen = &path.coefficients[path.chosen_index];
    let standardised = |j: usize| (chosen[j] * path.scales[j]).abs();
    let weakest_signal = INFORMATIVE
        .iter()
        .map(|&(j, _)| standardised(j))
        .fold(f64::INFINITY, f64::min);
    for j in (0..12).filter(|&j| !is_informative(&format!("f{j}"))) {
        assert!(
            standardised(j) < 0.1 * weakest_signal,
            "f{j}: {} vs {weakest_signal}",
            standardised(j)
        );
    }

    let one_se = fit_path(
        &generated.data(),
        &ElasticNetOptions {
            one_se_rule: true,
            ..options
        },
    )
    .unwrap();
    assert_informative_selected(&one_se);
    let noise = noise_selected(&one_se);
    assert!(
        noise.len() <= 1,
        "noise selected by the 1-SE rule: {noise:?}"
    );
    assert!(one_se.chosen_index <= path.chosen_index);
}

#[test]
fn coefficients_are_in_original_units_and_predict_well() {
    let generated = generate(4000, 12, 2);
    let path = fit_path(&generated.data(), &ElasticNetOptions::default()).unwrap();
    let chosen = &path.coefficients[path.chosen_index];
    // Column j holds offset + (1 + j) * x, so the true coefficient on it is b / (1 + j); the
    // lasso shrinks a little towards zero.
    for (j, b) in INFORMATIVE {
        let truth = b / (1.0 + j as f64);
        assert!(
            (chosen[j] - truth).abs() < 0.2 * truth.abs(),
            "f{j}: {} vs {truth}",
            chosen[j]
        );
    }
    let test = generate(4000, 12, 3);
    let scores: Vec<f64> = (0..test.labels.len())
        .map(|i| {
            let row: Vec<f32> = test.columns.iter().map(|c| c[i]).collect();
            path.predict_proba(&row)
        })
        .collect();
    assert!(auc(&scores, &test.labels) > 0.8);
}

#[test]
fn ridge_keeps_every_variable() {
    let generated = generate(2000, 12, 4);
    let path = fit_path(
        &generated.data(),
        &ElasticNetOptions {
            alpha: 0.0,
            n_lambdas: 30,
            ..ElasticNetOptions::default()
        },
    )
    .unwrap();
    assert_eq!(path.selected_variables, generated.names);
    assert!(path.n_nonzero().iter().all(|&n| n == 12));
}

#[test]
fn lasso_path_grows_as_lambda_falls() {
    let generated = generate(2000, 12, 5);
    let path = fit_path(&generated.data(), &ElasticNetOptions::default()).unwrap();
    let counts = path.n_nonzero();
    assert_eq!(counts[0], 0, "everything is zero at lambda_max");
    assert!(*counts.last().unwrap() >= 10, "{counts:?}");
    assert!(path.lambdas.windows(2).all(|w| w[1] < w[0]));
    // Lasso paths are not strictly nested, but a drop of more than one is a solver fault.
    let mut most = 0;
    for &n in &counts {
        assert!(n + 1 >= most, "{counts:?}");
        most = most.max(n);
    }
}

#[test]
fn elastic_net_selects_between_lasso_and_ridge() {
    let generated = generate(2000, 12, 6);
    let count_at = |alpha| {
        let path = fit_path(
            &generated.data(),
            &ElasticNetOptions {
                alpha,
                n_lambdas: 40,
                ..ElasticNetOptions::default()
            },
        )
        .unwrap();
        assert_informative_selected(&path);
        path.selected_variables.len()
    };
    let (lasso, mixed, ridge) = (count_at(1.0), count_at(0.5), count_at(0.0));
    assert!(lasso <= ridge && mixed <= ridge, "{lasso} {mixed} {ridge}");
}

fn assert_bit_identical(a: &LogisticPath, b: &LogisticPath) {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.lambdas), bits(&b.lambdas));
    assert_eq!(bits(&a.intercepts), bits(&b.intercepts));
    for (ca, cb) in a.coefficients.iter().zip(&b.coefficients) {
        assert_eq!(bits(ca), bits(cb));
    }
    assert_eq!(bits(&a.cv_deviance_mean), bits(&b.cv_deviance_mean));
    assert_eq!(bits(&a.cv_deviance_sd), bits(&b.cv_deviance_sd));
    assert_eq!(a.chosen_index, b.chosen_index);
    assert_eq!(a.selected_variables, b.selected_variables);
}

#[test]
fn identical_inputs_give_bit_identical_paths() {
    let generated = generate(3000, 12, 7);
    let options = ElasticNetOptions {
        alpha: 0.7,
        seed: 42,
        ..ElasticNetOptions::default()
    };
    let a = fit_path(&generated.data(), &options).unwrap();
    let b = fit_path(&generated.data(), &options).unwrap();
    assert_bit_identical(&a, &b);
    // The seed only moves the folds: the full-data path is the same, the CV curve is not.
    let c = fit_path(
        &generated.data(),
        &ElasticNetOptions {
            seed: 43,
            ..options
        },
    )
    .unwrap();
    assert_eq!(a.coefficients, c.coefficients);
    assert_ne!(a.cv_deviance_mean, c.cv_deviance_mean);
}

#[test]
fn thread_count_changes_no_bit() {
    let generated = generate(3000, 12, 11);
    let options = ElasticNetOptions {
        alpha: 0.8,
        n_lambdas: 40,
        ..ElasticNetOptions::default()
    };
    let one = fit_path_with_threads(&generated.data(), &options, 1).unwrap();
    for threads in [2, 3, 0] {
        let many = fit_path_with_threads(&generated.data(), &options, threads).unwrap();
        assert_bit_identical(&one, &many);
    }
    assert_bit_identical(&one, &fit_path(&generated.data(), &options).unwrap());
}

/// The compiled model's arithmetic, written out: the intercept, then each nonzero
/// coefficient times the value (the imputation value when missing) in feature order, in f64,
/// then the engine's `sigmoid_lightgbm` with sigmoid 1.
fn engine_probability(path: &LogisticPath, lambda_index: usize, row: &[f32]) -> (f64, f64) {
    let mut margin = path.intercepts[lambda_index];
    for (j, &coefficient) in path.coefficients[lambda_index].iter().enumerate() {
        if coefficient != 0.0 {
            let x = row[j];
            let value = if x.is_nan() {
                path.imputation_values[j]
            } else {
                f64::from(x)
            };
            margin += coefficient * value;
        }
    }
    (margin, sigmoid_lightgbm(margin, 1.0))
}

#[test]
fn predictions_follow_the_engine_arithmetic_bit_for_bit() {
    let generated = generate(2000, 12, 12);
    let path = fit_path(
        &generated.data(),
        &ElasticNetOptions {
            n_lambdas: 30,
            ..ElasticNetOptions::default()
        },
    )
    .unwrap();
    let test = generate(300, 12, 13);
    for i in 0..test.labels.len() {
        let row: Vec<f32> = test.columns.iter().map(|c| c[i]).collect();
        for lambda_index in [0, path.chosen_index, path.lambdas.len() - 1] {
            let (margin, probability) = engine_probability(&path, lambda_index, &row);
            assert_eq!(
                path.margin_at(lambda_index, &row).to_bits(),
                margin.to_bits()
            );
            assert_eq!(
                path.predict_proba_at(lambda_index, &row).to_bits(),
                probability.to_bits()
            );
        }
        let (margin, probability) = engine_probability(&path, path.chosen_index, &row);
        assert_eq!(path.margin(&row).to_bits(), margin.to_bits());
        assert_eq!(path.predict_proba(&row).to_bits(), probability.to_bits());
    }
}

#[test]
fn rejects_bad_labels_and_options() {
    let mut generated = generate(200, 12, 8);
    let bad_alpha = ElasticNetOptions {
        alpha: 1.5,
        ..ElasticNetOptions::default()
    };
    assert!(matches!(
        fit_path(&generated.data(), &bad_alpha),
        Err(LinearError::InvalidOption {
            option: "alpha",
            ..
        })
    ));
    generated.labels[3] = 0.5;
    assert_eq!(
        fit_path(&generated.data(), &ElasticNetOptions::default()),
        Err(LinearError::LabelNotBinary { row: 3 })
    );
    generated.labels.iter_mut().for_each(|y| *y = 1.0);
    assert_eq!(
        fit_path(&generated.data(), &ElasticNetOptions::default()),
        Err(LinearError::SingleClass)
    );
}

#[test]
fn constant_and_missing_features_get_no_coefficient() {
    let mut generated = generate(1000, 12, 9);
    generated.columns[1] = vec![3.0; 1000];
    generated.columns[3] = vec![f32::NAN; 1000];
    let path = fit_path(&generated.data(), &ElasticNetOptions::default()).unwrap();
    assert!(path.coefficients.iter().all(|c| c[1] == 0.0 && c[3] == 0.0));
    assert_eq!(path.imputation_values[1], 3.0);
    let mut row = vec![0.0f32; 12];
    row[0] = f32::NAN;
    row[3] = f32::NAN;
    let p = path.predict_proba(&row);
    assert!(p > 0.0 && p < 1.0);
}

/// Run with `cargo test --release -p lockstep-host --test train_linear -- --ignored --nocapture`.
/// Prints the wall time of the whole fit (path, 5-fold CV, choice) for the lasso and an
/// elastic net, on every thread count from 1 to `available_parallelism`, and checks that the
/// thread count changes no bit. No timed assertion: a busy host must not fail the suite.
#[test]
#[ignore = "timing; run in release"]
fn report_fit_times_on_45k_rows() {
    let generated = generate(45_000, 20, 10);
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    for alpha in [1.0, 0.5] {
        let options = ElasticNetOptions {
            alpha,
            ..ElasticNetOptions::default()
        };
        let mut first: Option<LogisticPath> = None;
        for threads in 1..=available {
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let start = Instant::now();
                let path = fit_path_with_threads(&generated.data(), &options, threads).unwrap();
                best = best.min(start.elapsed().as_secs_f64());
                match &first {
                    Some(reference) => assert_bit_identical(reference, &path),
                    None => first = Some(path),
                }
            }
            let path = first.as_ref().unwrap();
            eprintln!(
                "45k x 20, alpha {alpha}, {} lambdas, 5 folds, {threads} thread(s): best of 3 \
                 {best:.3} s; chosen {} of {} lambdas, selected {:?}, all converged {}",
                path.lambdas.len(),
                path.chosen_index,
                path.lambdas.len(),
                path.selected_variables,
                path.converged.iter().all(|&c| c)
            );
        }
        assert_informative_selected(first.as_ref().unwrap());
    }
}

//! Penalised logistic regression: L1, L2 and elastic-net paths fitted glmnet-style, with the
//! penalty chosen by k-fold cross-validation.
//!
//! Owns: standardisation (mean and population sd from the training rows, missing values imputed
//! with the training mean), the log-spaced lambda path from the null model's `lambda_max`, the
//! iteratively-reweighted-least-squares outer loop with a covariance-update coordinate-descent
//! inner loop (soft-thresholding for the L1 part), and the cross-validated choice of lambda.
//!
//! The objective at each lambda, on standardised features, is
//! `-loglik / n + lambda * (alpha * |beta|_1 + (1 - alpha) / 2 * |beta|_2^2)`; the intercept is
//! never penalised. Coefficients are reported in original feature units.
//!
//! Invariant: identical data and options give bit-identical paths. Every sum runs over rows in
//! row order (or over features in index order); coordinates are visited in feature-index order;
//! folds are fitted on separate threads but each fit is sequential and results are merged in fold
//! order. Never: compiles into the engine format (that is a separate step), or uses f32 math.

use std::thread;

use thiserror::Error;

use super::TrainData;

/// Inputs of [`fit_path`].
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticNetOptions {
    /// Mix of the penalties: 1 is the lasso (L1), 0 is ridge (L2), in between is elastic net.
    pub alpha: f64,
    /// Number of lambdas on the path (at least 1).
    pub n_lambdas: usize,
    /// The smallest lambda as a fraction of `lambda_max`, in (0, 1).
    pub lambda_min_ratio: f64,
    /// Cross-validation folds (at least 2, at most the row count).
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Convergence threshold on the largest weighted squared coefficient change
    /// (`hessian_diagonal * change^2`), for both the inner and the outer loop.
    pub tolerance: f64,
    /// Cap on outer (IRLS) iterations per lambda and on inner coordinate-descent passes per
    /// outer iteration.
    pub max_iterations: usize,
    /// Choose the largest lambda whose mean CV deviance is within one standard error of the
    /// minimum, instead of the minimum itself.
    pub one_se_rule: bool,
}

impl Default for ElasticNetOptions {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            n_lambdas: 100,
            lambda_min_ratio: 1e-4,
            folds: 5,
            seed: 0,
            tolerance: 1e-7,
            max_iterations: 1000,
            one_se_rule: false,
        }
    }
}

/// What [`fit_path`] refuses, and why.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LinearError {
    /// The training set has no rows.
    #[error("the training data has no rows")]
    NoRows,
    /// Feature names and columns disagree in count.
    #[error("the data has {names} feature names and {columns} columns; give one name per column")]
    NamesColumnsMismatch {
        /// Feature names given.
        names: usize,
        /// Columns given.
        columns: usize,
    },
    /// A column's length differs from the label count.
    #[error("column {feature} has {found} values but there are {expected} labels")]
    ColumnLength {
        /// Feature index.
        feature: usize,
        /// Values in the column.
        found: usize,
        /// Labels.
        expected: usize,
    },
    /// A feature value is infinite (NaN is allowed and means missing).
    #[error("feature {feature} is infinite at row {row}; use NaN for a missing value")]
    InfiniteValue {
        /// Feature index.
        feature: usize,
        /// Row index.
        row: usize,
    },
    /// A label is not 0 or 1.
    #[error("label at row {row} is not 0 or 1")]
    LabelNotBinary {
        /// Row index.
        row: usize,
    },
    /// Only one class occurs in the labels.
    #[error("the labels hold only one class; logistic regression needs both")]
    SingleClass,
    /// The training part of a fold holds only one class.
    #[error("the training rows of fold {fold} hold only one class; use fewer folds")]
    FoldLacksClass {
        /// Fold index.
        fold: usize,
    },
    /// An option is out of range.
    #[error("option {option} must be {requirement}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
}

/// A fitted regularisation path and its cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticPath {
    /// One name per feature.
    pub feature_names: Vec<String>,
    /// Per feature: the training mean, which also replaces a missing (NaN) value.
    pub imputation_values: Vec<f64>,
    /// Per feature: the training population sd used for standardisation (1 for a constant
    /// feature, which is never given a coefficient).
    pub scales: Vec<f64>,
    /// The path, decreasing from `lambda_max`.
    pub lambdas: Vec<f64>,
    /// Per lambda: the intercept in original units.
    pub intercepts: Vec<f64>,
    /// Per lambda: one coefficient per feature in original units.
    pub coefficients: Vec<Vec<f64>>,
    /// Per lambda: whether the full-data fit met `tolerance` within `max_iterations`.
    pub converged: Vec<bool>,
    /// Per lambda: mean over folds of the held-out mean binomial deviance.
    pub cv_deviance_mean: Vec<f64>,
    /// Per lambda: sample sd (n - 1) over folds of the held-out mean deviance; the standard
    /// error used by the one-SE rule is this over `sqrt(folds)`.
    pub cv_deviance_sd: Vec<f64>,
    /// The chosen lambda's index.
    pub chosen_index: usize,
    /// Names of the features with a nonzero coefficient at the chosen lambda, in feature order.
    pub selected_variables: Vec<String>,
}

impl LogisticPath {
    /// The chosen lambda.
    pub fn chosen_lambda(&self) -> f64 {
        self.lambdas[self.chosen_index]
    }

    /// Number of nonzero coefficients at each lambda.
    pub fn n_nonzero(&self) -> Vec<usize> {
        self.coefficients
            .iter()
            .map(|c| c.iter().filter(|&&b| b != 0.0).count())
            .collect()
    }

    /// Probability of the positive class for one row (one value per feature, NaN missing) at
    /// the chosen lambda.
    ///
    /// # Panics
    /// If the row's length is not the feature count.
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        self.predict_proba_at(self.chosen_index, row)
    }

    /// Probability of the positive class for one row at the lambda with index `lambda_index`.
    ///
    /// # Panics
    /// If the row's length is not the feature count or the index is past the path.
    pub fn predict_proba_at(&self, lambda_index: usize, row: &[f32]) -> f64 {
        assert_eq!(
            row.len(),
            self.feature_names.len(),
            "predict_proba needs one value per feature"
        );
        sigmoid(original_margin(
            self.intercepts[lambda_index],
            &self.coefficients[lambda_index],
            &self.imputation_values,
            |j| row[j],
        ))
    }
}

/// Fits the whole path on `data`, cross-validates it with `options.folds` folds and chooses a
/// lambda. Labels must be 0 or 1; NaN features are missing and imputed with the training mean.
pub fn fit_path(
    data: &TrainData,
    options: &ElasticNetOptions,
) -> Result<LogisticPath, LinearError> {
    check_data(data)?;
    check_options(options, data.n_rows())?;
    let n_rows = data.n_rows();
    let labels: Vec<f64> = data.labels.iter().map(|&y| f64::from(y)).collect();
    let all_rows: Vec<usize> = (0..n_rows).collect();
    let full = Design::new(data.columns, &all_rows);
    let lambdas = lambda_path(&full, &labels, options);

    let fold_of = assign_folds(n_rows, options.folds, options.seed);
    let mut fold_rows = Vec::with_capacity(options.folds);
    for fold in 0..options.folds {
        let train: Vec<usize> = (0..n_rows).filter(|&i| fold_of[i] != fold).collect();
        let test: Vec<usize> = (0..n_rows).filter(|&i| fold_of[i] == fold).collect();
        let n_pos = train.iter().filter(|&&i| labels[i] == 1.0).count();
        if n_pos == 0 || n_pos == train.len() {
            return Err(LinearError::FoldLacksClass { fold });
        }
        fold_rows.push((train, test));
    }

    // The full fit and the fold fits are independent; each is sequential, and results are
    // collected in fold order, so threading cannot change a single bit.
    let (full_fit, fold_deviances) = thread::scope(|scope| {
        let handles: Vec<_> = fold_rows
            .iter()
            .map(|(train, test)| {
                let (labels, lambdas) = (&labels, &lambdas);
                scope.spawn(move || fold_deviance(data, labels, lambdas, options, train, test))
            })
            .collect();
        let full_fit = solve_path(&full, &labels, &lambdas, options);
        let deviances: Vec<Vec<f64>> = handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(d) => d,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        (full_fit, deviances)
    });

    let n_lambdas = lambdas.len();
    let k = options.folds as f64;
    let mut cv_deviance_mean = Vec::with_capacity(n_lambdas);
    let mut cv_deviance_sd = Vec::with_capacity(n_lambdas);
    for l in 0..n_lambdas {
        let mean = fold_deviances.iter().map(|d| d[l]).sum::<f64>() / k;
        let var = fold_deviances
            .iter()
            .map(|d| (d[l] - mean) * (d[l] - mean))
            .sum::<f64>()
            / (k - 1.0);
        cv_deviance_mean.push(mean);
        cv_deviance_sd.push(var.sqrt());
    }
    let chosen_index = choose_lambda(&cv_deviance_mean, &cv_deviance_sd, k, options.one_se_rule);

    let mut intercepts = Vec::with_capacity(n_lambdas);
    let mut coefficients = Vec::with_capacity(n_lambdas);
    let mut converged = Vec::with_capacity(n_lambdas);
    for point in &full_fit {
        let (b0, beta) = full.to_original(point);
        intercepts.push(b0);
        coefficients.push(beta);
        converged.push(point.converged);
    }
    let selected_variables = coefficients[chosen_index]
        .iter()
        .zip(data.feature_names)
        .filter(|(&b, _)| b != 0.0)
        .map(|(_, name)| name.clone())
        .collect();
    Ok(LogisticPath {
        feature_names: data.feature_names.to_vec(),
        imputation_values: full.means,
        scales: full.sds,
        lambdas,
        intercepts,
        coefficients,
        converged,
        cv_deviance_mean,
        cv_deviance_sd,
        chosen_index,
        selected_variables,
    })
}

fn check_data(data: &TrainData) -> Result<(), LinearError> {
    if data.n_rows() == 0 {
        return Err(LinearError::NoRows);
    }
    if data.feature_names.len() != data.columns.len() {
        return Err(LinearError::NamesColumnsMismatch {
            names: data.feature_names.len(),
            columns: data.columns.len(),
        });
    }
    for (feature, column) in data.columns.iter().enumerate() {
        if column.len() != data.n_rows() {
            return Err(LinearError::ColumnLength {
                feature,
                found: column.len(),
                expected: data.n_rows(),
            });
        }
        if let Some(row) = column.iter().position(|v| v.is_infinite()) {
            return Err(LinearError::InfiniteValue { feature, row });
        }
    }
    if let Some(row) = data.labels.iter().position(|&y| y != 0.0 && y != 1.0) {
        return Err(LinearError::LabelNotBinary { row });
    }
    let n_pos = data.labels.iter().filter(|&&y| y == 1.0).count();
    if n_pos == 0 || n_pos == data.n_rows() {
        return Err(LinearError::SingleClass);
    }
    Ok(())
}

fn check_options(options: &ElasticNetOptions, n_rows: usize) -> Result<(), LinearError> {
    let invalid = |option, requirement| {
        Err(LinearError::InvalidOption {
            option,
            requirement,
        })
    };
    if !(0.0..=1.0).contains(&options.alpha) {
        return invalid("alpha", "between 0 and 1");
    }
    if options.n_lambdas == 0 {
        return invalid("n_lambdas", "at least 1");
    }
    if !(options.lambda_min_ratio > 0.0 && options.lambda_min_ratio < 1.0) {
        return invalid("lambda_min_ratio", "greater than 0 and less than 1");
    }
    if options.folds < 2 || options.folds > n_rows {
        return invalid("folds", "at least 2 and at most the row count");
    }
    if !(options.tolerance > 0.0 && options.tolerance.is_finite()) {
        return invalid("tolerance", "positive and finite");
    }
    if options.max_iterations == 0 {
        return invalid("max_iterations", "at least 1");
    }
    Ok(())
}

/// Standardised features of a set of rows, row-major `n_rows x n_features`, with the
/// statistics that produced them.
struct Design {
    n_rows: usize,
    n_features: usize,
    /// Row-major standardised values; a missing value is 0 (the mean).
    x: Vec<f64>,
    means: Vec<f64>,
    sds: Vec<f64>,
    /// False for a constant (or all-missing) feature, whose coefficient stays 0.
    usable: Vec<bool>,
}

impl Design {
    fn new(columns: &[Vec<f32>], rows: &[usize]) -> Self {
        let n_rows = rows.len();
        let n_features = columns.len();
        let mut x = vec![0.0; n_rows * n_features];
        let mut means = Vec::with_capacity(n_features);
        let mut sds = Vec::with_capacity(n_features);
        let mut usable = Vec::with_capacity(n_features);
        for (j, column) in columns.iter().enumerate() {
            let (mut sum, mut count) = (0.0, 0usize);
            for &i in rows {
                let v = column[i];
                if !v.is_nan() {
                    sum += f64::from(v);
                    count += 1;
                }
            }
            let mean = if count == 0 { 0.0 } else { sum / count as f64 };
            // Imputed values equal the mean, so they add nothing to the squared deviations.
            let mut squares = 0.0;
            for &i in rows {
                let v = column[i];
                if !v.is_nan() {
                    let d = f64::from(v) - mean;
                    squares += d * d;
                }
            }
            let sd = (squares / n_rows as f64).sqrt();
            let ok = count > 0 && sd > 0.0 && sd.is_finite();
            let sd = if ok { sd } else { 1.0 };
            if ok {
                for (r, &i) in rows.iter().enumerate() {
                    let v = column[i];
                    if !v.is_nan() {
                        x[r * n_features + j] = (f64::from(v) - mean) / sd;
                    }
                }
            }
            means.push(mean);
            sds.push(sd);
            usable.push(ok);
        }
        Self {
            n_rows,
            n_features,
            x,
            means,
            sds,
            usable,
        }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Intercept and coefficients in original units.
    fn to_original(&self, point: &PathPoint) -> (f64, Vec<f64>) {
        let beta: Vec<f64> = point
            .beta
            .iter()
            .zip(&self.sds)
            .map(|(&b, &sd)| if b == 0.0 { 0.0 } else { b / sd })
            .collect();
        let shift: f64 = beta.iter().zip(&self.means).map(|(&b, &m)| b * m).sum();
        (point.intercept - shift, beta)
    }
}

/// `lambda_max` (the smallest lambda at which every coefficient is zero) and the log-spaced
/// path below it. With `alpha` 0 the L1 part vanishes, so, as glmnet does, `lambda_max` is
/// computed with `alpha` floored at 0.001.
fn lambda_path(design: &Design, labels: &[f64], options: &ElasticNetOptions) -> Vec<f64> {
    let n = design.n_rows as f64;
    let y_mean = labels.iter().sum::<f64>() / n;
    let mut gradient = vec![0.0; design.n_features];
    for (i, &y) in labels.iter().enumerate() {
        let r = y - y_mean;
        for (g, &x) in gradient.iter_mut().zip(design.row(i)) {
            *g += x * r;
        }
    }
    let max_gradient = gradient
        .iter()
        .zip(&design.usable)
        .filter(|(_, &ok)| ok)
        .map(|(g, _)| (g / n).abs())
        .fold(0.0, f64::max);
    // A zero gradient means the null model is optimal for every lambda; any positive start
    // gives that same all-zero path.
    let lambda_max = (max_gradient / options.alpha.max(1e-3)).max(f64::MIN_POSITIVE);
    let n_lambdas = options.n_lambdas;
    if n_lambdas == 1 {
        return vec![lambda_max];
    }
    let log_ratio = options.lambda_min_ratio.ln();
    (0..n_lambdas)
        .map(|k| lambda_max * (log_ratio * k as f64 / (n_lambdas - 1) as f64).exp())
        .collect()
}

/// SplitMix64 (Steele, Lea and Flood 2014), the fold shuffler.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` by multiply-shift (bias below 2^-32 for our sizes).
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// Fold of each row: a seeded Fisher-Yates shuffle dealt round-robin, so fold sizes differ by
/// at most one.
fn assign_folds(n_rows: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n_rows).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..n_rows).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut fold_of = vec![0; n_rows];
    for (position, &row) in order.iter().enumerate() {
        fold_of[row] = position % folds;
    }
    fold_of
}

/// The index with the least mean deviance (first on ties), or with the one-SE rule the
/// smallest index (largest lambda) within one standard error of it.
fn choose_lambda(mean: &[f64], sd: &[f64], folds: f64, one_se_rule: bool) -> usize {
    let mut best = 0;
    for (l, &m) in mean.iter().enumerate() {
        if m < mean[best] {
            best = l;
        }
    }
    if !one_se_rule {
        return best;
    }
    let limit = mean[best] + sd[best] / folds.sqrt();
    mean.iter().position(|&m| m <= limit).unwrap_or(best)
}

/// Held-out mean deviance of one fold at each lambda.
fn fold_deviance(
    data: &TrainData,
    labels: &[f64],
    lambdas: &[f64],
    options: &ElasticNetOptions,
    train: &[usize],
    test: &[usize],
) -> Vec<f64> {
    let design = Design::new(data.columns, train);
    let train_labels: Vec<f64> = train.iter().map(|&i| labels[i]).collect();
    let path = solve_path(&design, &train_labels, lambdas, options);
    path.iter()
        .map(|point| {
            let (b0, beta) = design.to_original(point);
            let total: f64 = test
                .iter()
                .map(|&i| {
                    let eta = original_margin(b0, &beta, &design.means, |j| data.columns[j][i]);
                    binomial_deviance(labels[i], eta)
                })
                .sum();
            total / test.len() as f64
        })
        .collect()
}

/// `b0 + sum_j beta_j * x_j` in original units, a missing `x_j` replaced by `imputation[j]`.
fn original_margin(b0: f64, beta: &[f64], imputation: &[f64], value: impl Fn(usize) -> f32) -> f64 {
    let mut eta = b0;
    for (j, (&b, &fill)) in beta.iter().zip(imputation).enumerate() {
        if b != 0.0 {
            let v = value(j);
            eta += b * if v.is_nan() { fill } else { f64::from(v) };
        }
    }
    eta
}

/// `-2 * log-likelihood` of label `y` under margin `eta`, computed without overflow.
fn binomial_deviance(y: f64, eta: f64) -> f64 {
    2.0 * (log1p_exp(eta) - y * eta)
}

/// `ln(1 + e^eta)`.
fn log1p_exp(eta: f64) -> f64 {
    if eta > 0.0 {
        eta + (-eta).exp().ln_1p()
    } else {
        eta.exp().ln_1p()
    }
}

fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

fn soft_threshold(z: f64, threshold: f64) -> f64 {
    if z > threshold {
        z - threshold
    } else if z < -threshold {
        z + threshold
    } else {
        0.0
    }
}

/// One point of a path in standardised units.
struct PathPoint {
    intercept: f64,
    beta: Vec<f64>,
    converged: bool,
}

/// IRLS weights are floored here (glmnet uses the same bound) so a nearly separated row
/// cannot make the weighted least-squares problem singular.
const MIN_WEIGHT: f64 = 1e-5;

/// How many IRLS steps one weighted Gram matrix may serve before it is rebuilt from fresh
/// weights (see [`solve_path`]).
const MAX_GRAM_AGE: usize = 8;

/// Probabilities and the exact mean log-likelihood gradient (intercept and every feature) at
/// one set of coefficients.
struct State {
    eta: Vec<f64>,
    prob: Vec<f64>,
    gradient: Vec<f64>,
    intercept_gradient: f64,
}

impl State {
    /// Recomputes everything from `b0` and the working-set coefficients `beta_working`, with
    /// `columns` the working-set columns column-major. Margins are summed in feature order
    /// (a column at a time, so rows proceed in parallel; a zero coefficient is skipped, which
    /// changes nothing), gradients in row order.
    fn update(
        &mut self,
        design: &Design,
        labels: &[f64],
        columns: &[f64],
        b0: f64,
        beta_working: &[f64],
    ) {
        let n = design.n_rows;
        let eta = &mut self.eta;
        eta.iter_mut().for_each(|e| *e = b0);
        for (a, &b) in beta_working.iter().enumerate() {
            if b != 0.0 {
                for (e, &x) in eta.iter_mut().zip(&columns[a * n..(a + 1) * n]) {
                    *e += x * b;
                }
            }
        }
        self.gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut intercept_gradient = 0.0;
        for (i, &y) in labels.iter().enumerate().take(n) {
            let prob = sigmoid(self.eta[i]);
            self.prob[i] = prob;
            let r = y - prob;
            intercept_gradient += r;
            for (g, &x) in self.gradient.iter_mut().zip(design.row(i)) {
                *g += x * r;
            }
        }
        let n_f = n as f64;
        self.gradient.iter_mut().for_each(|g| *g /= n_f);
        self.intercept_gradient = intercept_gradient / n_f;
    }

    /// Left derivative at `t = 1` of the penalised objective along the step from
    /// `(start_b0, start)` to `(b0, beta)` (working-set coefficients), this state being the
    /// end point's. The objective is convex along the step, so a value `<= 0` proves the step
    /// did not raise it; this needs no logarithms, unlike evaluating the objective.
    #[allow(clippy::too_many_arguments)]
    fn step_slope(
        &self,
        working: &[usize],
        start_b0: f64,
        start: &[f64],
        b0: f64,
        beta: &[f64],
        l1: f64,
        l2: f64,
    ) -> f64 {
        // The loss is minus the log-likelihood, so its gradient is minus `gradient`.
        let mut slope = -self.intercept_gradient * (b0 - start_b0);
        for ((&j, &from), &to) in working.iter().zip(start).zip(beta) {
            let d = to - from;
            let l1_slope = if to != 0.0 { to.signum() * d } else { -d.abs() };
            slope += -self.gradient[j] * d + l2 * to * d + l1 * l1_slope;
        }
        slope
    }
}

/// Fits every lambda in turn, each warm-started from the previous solution.
///
/// Layout: the working set holds the features allowed to move (ever nonzero, or admitted by the
/// sequential strong rule or a KKT violation), in feature order. An IRLS step minimises the
/// penalised quadratic approximation by coordinate descent with covariance updates: with the
/// weighted Gram matrix of the intercept and the working set at hand (`n * m^2 / 2` work to
/// build), a pass costs `m^2` regardless of the row count. A feature outside the set is checked
/// against the KKT condition `|gradient_j| <= lambda * alpha` with the exact gradient after
/// every step.
///
/// Building the Gram matrix dominates the cost, and successive IRLS steps (and neighbouring
/// lambdas) have nearly the same weights, so a Gram matrix is reused for up to
/// [`MAX_GRAM_AGE`] steps: the gradient is always exact, so the fixed point (and the stopping
/// test) are those of plain IRLS, only the curvature is a little stale. A step taken with a
/// stale matrix that may have raised the penalised objective (see [`State::step_slope`]) is undone and retaken with fresh weights,
/// and the matrix is rebuilt whenever the working set grows.
fn solve_path(
    design: &Design,
    labels: &[f64],
    lambdas: &[f64],
    options: &ElasticNetOptions,
) -> Vec<PathPoint> {
    let n = design.n_rows;
    let p = design.n_features;
    let y_mean = labels.iter().sum::<f64>() / n as f64;
    let mut b0 = (y_mean / (1.0 - y_mean)).ln();
    let mut beta = vec![0.0; p];
    let mut working: Vec<usize> = Vec::new();
    let mut in_working = vec![false; p];
    // Row-major copy of the working-set columns, rebuilt whenever the set grows.
    let mut xs: Vec<f64> = Vec::new();
    // The same columns column-major, for the margins.
    let mut xs_columns: Vec<f64> = Vec::new();
    let mut weight = vec![0.0; n];
    let mut state = State {
        eta: vec![0.0; n],
        prob: vec![0.0; n],
        gradient: vec![0.0; p],
        intercept_gradient: 0.0,
    };
    // The state before the last step, kept so a rejected step can be undone without a pass.
    let mut spare = State {
        eta: vec![0.0; n],
        prob: vec![0.0; n],
        gradient: vec![0.0; p],
        intercept_gradient: 0.0,
    };
    state.update(design, labels, &xs_columns, b0, &[]);
    // The Gram matrix in use and how many steps it has served; an age of MAX_GRAM_AGE forces
    // a rebuild.
    let mut gram = WeightedGram::new(&xs, &weight, 0);
    let mut gram_age = MAX_GRAM_AGE;
    let mut points = Vec::with_capacity(lambdas.len());
    let mut previous_lambda = lambdas.first().copied().unwrap_or(0.0);

    for &lambda in lambdas {
        let l1 = lambda * options.alpha;
        let l2 = lambda * (1.0 - options.alpha);
        // Sequential strong rule: admit features likely to become nonzero at this lambda.
        let strong = options.alpha * (2.0 * lambda - previous_lambda);
        let mut grew = admit(&design.usable, &state.gradient, strong, &mut in_working);
        let mut converged = false;
        for _ in 0..options.max_iterations {
            if grew {
                // New members are still zero, so margins and gradients are unchanged.
                working = (0..p).filter(|&j| in_working[j]).collect();
                xs = rebuild_working_columns(design, &working);
                xs_columns = working
                    .iter()
                    .flat_map(|&j| (0..n).map(move |i| design.x[i * p + j]))
                    .collect();
                gram_age = MAX_GRAM_AGE;
                grew = false;
            }
            let m = working.len();
            let fresh = gram_age >= MAX_GRAM_AGE;
            if fresh {
                for (w, &pr) in weight.iter_mut().zip(&state.prob) {
                    *w = (pr * (1.0 - pr)).max(MIN_WEIGHT);
                }
                gram = WeightedGram::new(&xs, &weight, m);
                gram_age = 0;
            }
            gram_age += 1;
            let h = &gram;
            let start_b0 = b0;
            let start_beta: Vec<f64> = working.iter().map(|&j| beta[j]).collect();
            coordinate_descent(h, &state, &working, &mut b0, &mut beta, l1, l2, options);
            let mut outer_change = h.at(0, 0) * (b0 - start_b0) * (b0 - start_b0);
            for (a, &j) in working.iter().enumerate() {
                let d = beta[j] - start_beta[a];
                outer_change = outer_change.max(h.at(a + 1, a + 1) * d * d);
            }
            let beta_working: Vec<f64> = working.iter().map(|&j| beta[j]).collect();
            std::mem::swap(&mut state, &mut spare);
            state.update(design, labels, &xs_columns, b0, &beta_working);
            let slope =
                state.step_slope(&working, start_b0, &start_beta, b0, &beta_working, l1, l2);
            if !fresh && slope > 0.0 {
                // The stale curvature may have overshot: undo, retake with fresh weights.
                b0 = start_b0;
                for (a, &j) in working.iter().enumerate() {
                    beta[j] = start_beta[a];
                }
                std::mem::swap(&mut state, &mut spare);
                gram_age = MAX_GRAM_AGE;
                continue;
            }
            // KKT check: a feature held at zero must have |gradient| <= lambda * alpha.
            grew = admit(&design.usable, &state.gradient, l1, &mut in_working);
            if outer_change < options.tolerance && !grew {
                converged = true;
                break;
            }
        }
        previous_lambda = lambda;
        points.push(PathPoint {
            intercept: b0,
            beta: beta.clone(),
            converged,
        });
    }
    points
}

/// Minimises the penalised quadratic approximation around the current coefficients (whose
/// exact gradient is in `state`) with curvature `h`, visiting the intercept and then the
/// working set in feature order until a pass moves nothing by more than the tolerance.
#[allow(clippy::too_many_arguments)]
fn coordinate_descent(
    h: &WeightedGram,
    state: &State,
    working: &[usize],
    b0: &mut f64,
    beta: &mut [f64],
    l1: f64,
    l2: f64,
    options: &ElasticNetOptions,
) {
    // Gradient of the quadratic model: index 0 is the intercept, 1.. the working set.
    let mut g: Vec<f64> = Vec::with_capacity(working.len() + 1);
    g.push(state.intercept_gradient);
    g.extend(working.iter().map(|&j| state.gradient[j]));
    for _ in 0..options.max_iterations {
        let mut max_change = 0.0f64;
        let d0 = g[0] / h.at(0, 0);
        if d0 != 0.0 {
            *b0 += d0;
            for (c, gc) in g.iter_mut().enumerate() {
                *gc -= h.at(0, c) * d0;
            }
            max_change = max_change.max(h.at(0, 0) * d0 * d0);
        }
        for (a, &j) in working.iter().enumerate() {
            let hjj = h.at(a + 1, a + 1);
            let old = beta[j];
            let new = soft_threshold(g[a + 1] + hjj * old, l1) / (hjj + l2);
            let d = new - old;
            if d != 0.0 {
                beta[j] = new;
                for (c, gc) in g.iter_mut().enumerate() {
                    *gc -= h.at(a + 1, c) * d;
                }
                max_change = max_change.max(hjj * d * d);
            }
        }
        if max_change < options.tolerance {
            break;
        }
    }
}

/// Marks every usable feature outside the working set whose gradient exceeds `threshold` in
/// magnitude as a member; returns whether any was added.
fn admit(usable: &[bool], gradient: &[f64], threshold: f64, in_working: &mut [bool]) -> bool {
    let mut grew = false;
    for ((&ok, &g), member) in usable.iter().zip(gradient).zip(in_working.iter_mut()) {
        if ok && !*member && g.abs() > threshold {
            *member = true;
            grew = true;
        }
    }
    grew
}

fn rebuild_working_columns(design: &Design, working: &[usize]) -> Vec<f64> {
    let mut xs = Vec::with_capacity(design.n_rows * working.len());
    for i in 0..design.n_rows {
        let row = design.row(i);
        xs.extend(working.iter().map(|&j| row[j]));
    }
    xs
}

/// `(1/n) X' W X` of the intercept column (index 0) and the working set (1..=m), upper
/// triangle stored row-major in a dense `(m+1)^2` array; each entry summed in row order.
struct WeightedGram {
    size: usize,
    values: Vec<f64>,
}

impl WeightedGram {
    fn new(xs: &[f64], weight: &[f64], m: usize) -> Self {
        let n = weight.len() as f64;
        let size = m + 1;
        let mut values = vec![0.0; size * size];
        let mut extended = vec![1.0; size];
        for (i, &w) in weight.iter().enumerate() {
            extended[1..].copy_from_slice(&xs[i * m..(i + 1) * m]);
            for a in 0..size {
                let wa = w * extended[a];
                let row = &mut values[a * size + a..(a + 1) * size];
                for (v, &x) in row.iter_mut().zip(&extended[a..]) {
                    *v += wa * x;
                }
            }
        }
        values.iter_mut().for_each(|v| *v /= n);
        Self { size, values }
    }

    fn at(&self, a: usize, b: usize) -> f64 {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        self.values[lo * self.size + hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_and_seeded() {
        let a = assign_folds(103, 5, 7);
        assert_eq!(a, assign_folds(103, 5, 7));
        assert_ne!(a, assign_folds(103, 5, 8));
        for fold in 0..5 {
            let size = a.iter().filter(|&&f| f == fold).count();
            assert!(size == 20 || size == 21, "fold {fold} has {size} rows");
        }
    }

    #[test]
    fn one_se_rule_picks_the_largest_lambda_within_one_standard_error() {
        let mean = [1.0, 0.8, 0.7, 0.65, 0.66];
        let sd = [0.1, 0.1, 0.1, 0.2, 0.1];
        assert_eq!(choose_lambda(&mean, &sd, 4.0, false), 3);
        // Limit 0.65 + 0.2 / 2 = 0.75.
        assert_eq!(choose_lambda(&mean, &sd, 4.0, true), 2);
    }

    #[test]
    fn deviance_is_stable_at_extreme_margins() {
        assert!((binomial_deviance(1.0, 800.0)).abs() < 1e-12);
        assert!((binomial_deviance(0.0, 800.0) - 1600.0).abs() < 1e-9);
        assert_eq!(sigmoid(-800.0), 0.0);
    }
}

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
//! Layout and cost: each fit standardises its rows into a column-major f64 matrix. Per IRLS
//! step there is one blocked pass over the rows (margins, probabilities, the exact gradient);
//! the weighted Gram matrix of the moving features is rebuilt only when it is cheap or has
//! gone stale, and a lambda whose warm start already meets the stopping test costs no pass.
//!
//! Invariant: identical data and options give bit-identical paths, whatever the thread count.
//! Every sum over rows runs in an order fixed by the row count alone (in the hot passes, eight
//! interleaved partial sums combined in a fixed tree); sums over features run in index order;
//! coordinates are visited in feature-index order. The full fit and the fold fits are
//! independent jobs, each sequential, handed to at most `available_parallelism` threads and
//! merged by job index. Predictions ([`LogisticPath::margin_at`]) use exactly the arithmetic
//! of the engine's compiled linear model. Never: compiles into the engine format (that is
//! `linear_spec`'s job), or uses f32 math.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use lockstep_engine::math::sigmoid_lightgbm;
use thiserror::Error;

use super::TrainData;
use crate::math::sigmoid;
use crate::rng::SplitMix64;

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
            seed: 2024,
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

    /// Margin (log-odds) for one row (one value per feature, NaN missing) at the chosen lambda.
    ///
    /// # Panics
    /// If the row's length is not the feature count.
    pub fn margin(&self, row: &[f32]) -> f64 {
        self.margin_at(self.chosen_index, row)
    }

    /// Margin (log-odds) for one row at the lambda with index `lambda_index`: the intercept,
    /// then `coefficient * value` (the imputation value when the value is NaN) added in feature
    /// order, skipping zero coefficients, all in f64. The engine evaluates a compiled logistic
    /// model with exactly these operations in this order, so the two agree bit for bit.
    ///
    /// # Panics
    /// If the row's length is not the feature count or the index is past the path.
    pub fn margin_at(&self, lambda_index: usize, row: &[f32]) -> f64 {
        assert_eq!(
            row.len(),
            self.feature_names.len(),
            "a logistic margin needs one value per feature"
        );
        original_margin(
            self.intercepts[lambda_index],
            &self.coefficients[lambda_index],
            &self.imputation_values,
            |j| row[j],
        )
    }

    /// Probability of the positive class for one row (one value per feature, NaN missing) at
    /// the chosen lambda.
    ///
    /// # Panics
    /// If the row's length is not the feature count.
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        self.predict_proba_at(self.chosen_index, row)
    }

    /// Probability of the positive class for one row at the lambda with index `lambda_index`:
    /// the engine's `sigmoid_lightgbm(margin, 1.0)`, i.e. `1 / (1 + exp(-margin))` with the
    /// engine's pure-Rust `exp`, so a compiled model reproduces it bit for bit.
    ///
    /// # Panics
    /// If the row's length is not the feature count or the index is past the path.
    pub fn predict_proba_at(&self, lambda_index: usize, row: &[f32]) -> f64 {
        sigmoid_lightgbm(self.margin_at(lambda_index, row), 1.0)
    }
}

/// How one input feature enters a linear predictor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureCoding {
    /// The value itself (numbers, booleans, a two-level category's 0/1 code).
    Value,
    /// Dummy (one-hot) coding of a categorical whose values are the level codes
    /// `0, 1, ..., levels.len() - 1` (as the data loader writes them): one 0/1 indicator
    /// column per level except `reference`, in level order.
    Dummy {
        /// The level names, in code order.
        levels: Vec<String>,
        /// The code of the reference level, which gets no column (its coefficient is 0).
        reference: usize,
    },
}

impl FeatureCoding {
    /// Design columns this feature takes.
    pub fn n_columns(&self) -> usize {
        match self {
            FeatureCoding::Value => 1,
            FeatureCoding::Dummy { levels, .. } => levels.len().saturating_sub(1),
        }
    }

    /// The non-reference level codes of a dummy coding, in order (empty for a value).
    fn indicator_levels(&self) -> Vec<usize> {
        match self {
            FeatureCoding::Value => Vec::new(),
            FeatureCoding::Dummy { levels, reference } => {
                (0..levels.len()).filter(|l| l != reference).collect()
            }
        }
    }
}

/// The design of `columns` (one per feature) under `codings` (one per feature): names and
/// columns to fit [`fit_path`] on. A value column is copied; a dummy-coded one becomes its
/// indicators, named `feature=level`, each 1 where the value is that level's code, 0 where it
/// is another level's, and NaN where it is missing or no level's code (so it is imputed with
/// the indicator's training mean, as the compiled model's fill assumes).
///
/// # Panics
/// If `names`, `columns` and `codings` differ in length.
pub fn dummy_design(
    names: &[String],
    columns: &[Vec<f32>],
    codings: &[FeatureCoding],
) -> (Vec<String>, Vec<Vec<f32>>) {
    assert!(names.len() == columns.len() && columns.len() == codings.len());
    let mut design_names = Vec::new();
    let mut design = Vec::new();
    for ((name, column), coding) in names.iter().zip(columns).zip(codings) {
        match coding {
            FeatureCoding::Value => {
                design_names.push(name.clone());
                design.push(column.clone());
            }
            FeatureCoding::Dummy { levels, .. } => {
                for level in coding.indicator_levels() {
                    design_names.push(format!("{name}={}", levels[level]));
                    design.push(
                        column
                            .iter()
                            .map(|&x| match level_of(x, levels.len()) {
                                Some(code) => f32::from(u8::from(code == level)),
                                None => f32::NAN,
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    (design_names, design)
}

/// The level whose code is `x` (exactly, as the engine compares), if any.
fn level_of(x: f32, n_levels: usize) -> Option<usize> {
    (0..n_levels).find(|&level| level as f32 == x)
}

/// A linear predictor over the raw features in the engine's exact form (its linear and
/// level-terms sections): what [`crate::train::linear_spec::linear_terms_spec`] compiles, and
/// what [`LinearTerms::margin`] evaluates with the same operations in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearTerms {
    /// The intercept (the compiled model's base margin).
    pub intercept: f64,
    /// One term per raw feature.
    pub terms: Vec<FeatureTerm>,
}

/// One raw feature's term.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureTerm {
    /// `coefficient * value`, `coefficient * fill` when the value is missing.
    Value {
        /// Per unit of the feature.
        coefficient: f64,
        /// The value a missing input is replaced by.
        fill: f64,
    },
    /// A dummy-coded categorical: the coefficient of the input's level (code = index here;
    /// the reference level's is 0), or `fill` when the input is missing or no level's code.
    Levels {
        /// One coefficient per level code.
        coefficients: Vec<f64>,
        /// The term of a missing or unknown value: the sum of the indicators' coefficients
        /// times their training means (the fit imputes each indicator with its mean).
        fill: f64,
    },
}

impl FeatureTerm {
    /// Whether the feature contributes to some prediction.
    pub fn is_used(&self) -> bool {
        match self {
            FeatureTerm::Value { coefficient, .. } => *coefficient != 0.0,
            FeatureTerm::Levels { coefficients, .. } => coefficients.iter().any(|&b| b != 0.0),
        }
    }
}

impl LinearTerms {
    /// Margin (log-odds) for one row of raw features (NaN missing): the intercept, then each
    /// feature's term in feature order, skipping zero coefficients and zero level terms, all
    /// in f64: exactly the engine's evaluation of the compiled model.
    ///
    /// # Panics
    /// If the row's length is not the feature count.
    pub fn margin(&self, row: &[f32]) -> f64 {
        assert_eq!(
            row.len(),
            self.terms.len(),
            "a linear margin needs one value per feature"
        );
        let mut eta = self.intercept;
        for (term, &x) in self.terms.iter().zip(row) {
            match term {
                FeatureTerm::Value { coefficient, fill } => {
                    if *coefficient != 0.0 {
                        eta += coefficient * if x.is_nan() { *fill } else { f64::from(x) };
                    }
                }
                FeatureTerm::Levels { coefficients, fill } => {
                    let level_term = match level_of(x, coefficients.len()) {
                        Some(level) => coefficients[level],
                        None => *fill,
                    };
                    if level_term != 0.0 {
                        eta += level_term;
                    }
                }
            }
        }
        eta
    }

    /// Probability of the positive class: `sigmoid_lightgbm(margin, 1.0)`, as the engine.
    ///
    /// # Panics
    /// If the row's length is not the feature count.
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        sigmoid_lightgbm(self.margin(row), 1.0)
    }
}

impl LogisticPath {
    /// The model at lambda `lambda_index` over the raw features, for a path fitted on
    /// [`dummy_design`]`(.., codings)`: value features keep their coefficient and fill (a
    /// non-finite fill, of a feature never present and never given a coefficient, becomes 0);
    /// a dummy-coded one gets its indicators' coefficients per level (0 for the reference) and
    /// the fill `sum b_l * mean_l` over its nonzero indicators in level order. With every
    /// coding `Value`, [`LinearTerms::margin`] equals [`LogisticPath::margin_at`] bit for bit.
    ///
    /// # Panics
    /// If the codings' column count is not the path's feature count or the index is past the
    /// path.
    pub fn terms_at(&self, lambda_index: usize, codings: &[FeatureCoding]) -> LinearTerms {
        let beta = &self.coefficients[lambda_index];
        assert_eq!(
            codings.iter().map(FeatureCoding::n_columns).sum::<usize>(),
            beta.len(),
            "the codings must describe the path's design columns"
        );
        let finite = |fill: f64| if fill.is_finite() { fill } else { 0.0 };
        let mut column = 0;
        let mut terms = Vec::with_capacity(codings.len());
        for coding in codings {
            match coding {
                FeatureCoding::Value => {
                    terms.push(FeatureTerm::Value {
                        coefficient: beta[column],
                        fill: finite(self.imputation_values[column]),
                    });
                    column += 1;
                }
                FeatureCoding::Dummy { levels, .. } => {
                    let mut coefficients = vec![0.0; levels.len()];
                    let mut fill = 0.0;
                    for level in coding.indicator_levels() {
                        let b = beta[column];
                        coefficients[level] = b;
                        if b != 0.0 {
                            fill += b * finite(self.imputation_values[column]);
                        }
                        column += 1;
                    }
                    terms.push(FeatureTerm::Levels { coefficients, fill });
                }
            }
        }
        LinearTerms {
            intercept: self.intercepts[lambda_index],
            terms,
        }
    }
}

/// Fits the whole path on `data`, cross-validates it with `options.folds` folds and chooses a
/// lambda, on up to `available_parallelism` threads. Labels must be 0 or 1; NaN features are
/// missing and imputed with the training mean.
pub fn fit_path(
    data: &TrainData,
    options: &ElasticNetOptions,
) -> Result<LogisticPath, LinearError> {
    fit_path_with_threads(data, options, 0)
}

/// [`fit_path`] on at most `threads` threads (0: `available_parallelism`). The result is
/// bit-identical for every thread count; only the wall time changes.
pub fn fit_path_with_threads(
    data: &TrainData,
    options: &ElasticNetOptions,
    threads: usize,
) -> Result<LogisticPath, LinearError> {
    check_data(data)?;
    check_options(options, data.n_rows())?;
    let n_rows = data.n_rows();
    let labels: Vec<f64> = data.labels.iter().map(|&y| f64::from(y)).collect();
    let all_rows: Vec<usize> = (0..n_rows).collect();

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

    let full = Design::new(data.columns, &all_rows);
    let lambdas = lambda_path(&full, &labels, options);

    // Job 0 is the full fit (the largest, so it starts first), job 1 + k is fold k. Which
    // thread runs a job depends on timing; what a job computes does not, and results are
    // placed by job index.
    let n_jobs = 1 + options.folds;
    // More threads than cores would only contend.
    let n_threads = crate::threads::resolve(threads)
        .min(crate::threads::available())
        .clamp(1, n_jobs);
    let next_job = AtomicUsize::new(0);
    let run_jobs = || {
        let mut done = Vec::new();
        loop {
            let job = next_job.fetch_add(1, Ordering::Relaxed);
            if job >= n_jobs {
                return done;
            }
            let output = if job == 0 {
                JobOutput::Full(solve_path(&full, &labels, &lambdas, options))
            } else {
                let (train, test) = &fold_rows[job - 1];
                JobOutput::Fold(fold_deviance(data, &labels, &lambdas, options, train, test))
            };
            done.push((job, output));
        }
    };
    let mut finished: Vec<(usize, JobOutput)> = if n_threads == 1 {
        run_jobs()
    } else {
        thread::scope(|scope| {
            let handles: Vec<_> = (0..n_threads).map(|_| scope.spawn(run_jobs)).collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    };
    finished.sort_by_key(|&(job, _)| job);
    let mut full_fit = Vec::new();
    let mut fold_deviances = Vec::with_capacity(options.folds);
    for (_, output) in finished {
        match output {
            JobOutput::Full(points) => full_fit = points,
            JobOutput::Fold(deviances) => fold_deviances.push(deviances),
        }
    }

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

/// What one job of [`fit_path_with_threads`] hands back.
enum JobOutput {
    /// The full-data path in standardised units.
    Full(Vec<PathPoint>),
    /// One fold's held-out mean deviance per lambda.
    Fold(Vec<f64>),
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

/// Interleaved partial sums per [`Lanes`] accumulator. Eight lanes give the vector unit
/// independent chains to work on; a plain left-to-right sum would serialise every addition.
const LANES: usize = 8;

/// Rows per block of the blocked passes over the design ([`State::update`],
/// [`WeightedGram::new`]): 20 columns of a block stay in L2 between the first and the last
/// use. A multiple of [`LANES`], so blocking never changes which lane a row lands in.
const BLOCK: usize = 1024;

const _: () = assert!(BLOCK.is_multiple_of(LANES));

/// A sum over rows in a fixed order that depends only on the row count: row `i` goes to lane
/// `i % LANES` (each lane in row order) unless it is in the last `n % LANES` rows, which go to
/// `tail` in row order; [`Lanes::total`] combines the lanes pairwise, then adds the tail.
/// Feeding the rows in consecutive pieces whose lengths are multiples of `LANES` (the last
/// piece excepted) gives the same bits as feeding them at once.
#[derive(Debug, Clone, Copy, Default)]
struct Lanes {
    lanes: [f64; LANES],
    tail: f64,
}

impl Lanes {
    /// Adds `a[i] * b[i]` for the next rows.
    fn add_products(&mut self, a: &[f64], b: &[f64]) {
        let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
        for (ca, cb) in chunks_a.zip(chunks_b) {
            for ((lane, &x), &y) in self.lanes.iter_mut().zip(ca).zip(cb) {
                *lane += x * y;
            }
        }
        for (&x, &y) in rest_a.iter().zip(rest_b) {
            self.tail += x * y;
        }
    }

    /// Adds `a[i]` for the next rows.
    fn add(&mut self, a: &[f64]) {
        let chunks = a.chunks_exact(LANES);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (lane, &x) in self.lanes.iter_mut().zip(chunk) {
                *lane += x;
            }
        }
        for &x in rest {
            self.tail += x;
        }
    }

    fn total(&self) -> f64 {
        let mut width = LANES;
        let mut lanes = self.lanes;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                lanes[k] += lanes[k + width];
            }
        }
        lanes[0] + self.tail
    }
}

/// `sum_i a[i] * b[i]` in [`Lanes`] order.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = Lanes::default();
    sum.add_products(a, b);
    sum.total()
}

/// Standardised features of a set of rows, column-major `n_features x n_rows` (each feature's
/// values contiguous, so the passes over rows stream), with the statistics that produced them.
struct Design {
    n_rows: usize,
    n_features: usize,
    /// Column-major standardised values; a missing value is 0 (the mean), and a column that
    /// is not `usable` is all zeros.
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
        for (column, out) in columns.iter().zip(x.chunks_exact_mut(n_rows.max(1))) {
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
                for (o, &i) in out.iter_mut().zip(rows) {
                    let v = column[i];
                    if !v.is_nan() {
                        *o = (f64::from(v) - mean) / sd;
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

    fn column(&self, j: usize) -> &[f64] {
        &self.x[j * self.n_rows..(j + 1) * self.n_rows]
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
    let residual: Vec<f64> = labels.iter().map(|&y| y - y_mean).collect();
    let max_gradient = (0..design.n_features)
        .filter(|&j| design.usable[j])
        .map(|j| (dot(design.column(j), &residual) / n).abs())
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
    let n_test = test.len();
    // The held-out rows in original units, column-major, missing values already replaced by
    // the training mean: the margins below then take exactly `original_margin`'s steps (the
    // intercept, then each nonzero term in feature order), a column at a time.
    let values: Vec<f64> = data
        .columns
        .iter()
        .zip(&design.means)
        .flat_map(|(column, &fill)| {
            test.iter().map(move |&i| {
                let v = column[i];
                if v.is_nan() {
                    fill
                } else {
                    f64::from(v)
                }
            })
        })
        .collect();
    let test_labels: Vec<f64> = test.iter().map(|&i| labels[i]).collect();
    let mut eta = vec![0.0; n_test];
    let mut deviances: Vec<f64> = Vec::with_capacity(path.len());
    for (l, point) in path.iter().enumerate() {
        // A lambda whose fit took no step has its predecessor's coefficients, bit for bit,
        // and so its deviance.
        if let Some(previous) = l.checked_sub(1).map(|k| &path[k]) {
            if previous.intercept.to_bits() == point.intercept.to_bits()
                && previous
                    .beta
                    .iter()
                    .zip(&point.beta)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            {
                deviances.push(deviances[l - 1]);
                continue;
            }
        }
        let (b0, beta) = design.to_original(point);
        eta.iter_mut().for_each(|e| *e = b0);
        for (&b, column) in beta.iter().zip(values.chunks_exact(n_test)) {
            if b != 0.0 {
                for (e, &v) in eta.iter_mut().zip(column) {
                    *e += b * v;
                }
            }
        }
        let total: f64 = eta
            .iter()
            .zip(&test_labels)
            .map(|(&e, &y)| binomial_deviance(y, e))
            .sum();
        deviances.push(total / n_test as f64);
    }
    deviances
}

/// `b0 + sum_j beta_j * x_j` in original units, a missing `x_j` replaced by `imputation[j]`,
/// the terms added in feature order and zero coefficients skipped. This is the engine's
/// linear-model arithmetic; keep the operation order.
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
/// weights (see [`solve_path`]). Stale steps are checked and an overshoot renews the matrix
/// anyway, so the cap mostly matters late in the path, where the weights barely move; 8, 16
/// and 32 differed by a few percent of the work on the 45k-row test data and the cohort,
/// in favour of 32.
const MAX_GRAM_AGE: usize = 32;

/// Most halvings of one overshooting Newton step (2^-40 of a step moves nothing that counts).
const MAX_HALVINGS: usize = 40;

/// Margins, probabilities and the exact mean log-likelihood gradient (intercept and every
/// feature) at one set of coefficients.
struct State {
    eta: Vec<f64>,
    prob: Vec<f64>,
    /// `y - prob`, kept for the gradient sums.
    residual: Vec<f64>,
    gradient: Vec<f64>,
    intercept_gradient: f64,
}

impl State {
    fn new(n_rows: usize, n_features: usize) -> Self {
        Self {
            eta: vec![0.0; n_rows],
            prob: vec![0.0; n_rows],
            residual: vec![0.0; n_rows],
            gradient: vec![0.0; n_features],
            intercept_gradient: 0.0,
        }
    }

    /// Recomputes everything from `b0` and `beta` (nonzero only on the working set), in one
    /// blocked pass over the design. A margin is the intercept plus the working set's nonzero
    /// terms in feature order; gradients are [`Lanes`] sums.
    fn update(
        &mut self,
        design: &Design,
        labels: &[f64],
        working: &[usize],
        b0: f64,
        beta: &[f64],
    ) {
        let n = design.n_rows;
        let mut sums = vec![Lanes::default(); design.n_features];
        let mut intercept_sum = Lanes::default();
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let eta = &mut self.eta[start..end];
            eta.iter_mut().for_each(|e| *e = b0);
            for &j in working {
                let b = beta[j];
                if b != 0.0 {
                    for (e, &x) in eta.iter_mut().zip(&design.column(j)[start..end]) {
                        *e += x * b;
                    }
                }
            }
            let prob = &mut self.prob[start..end];
            let residual = &mut self.residual[start..end];
            for (((p, r), &e), &y) in prob
                .iter_mut()
                .zip(residual.iter_mut())
                .zip(eta.iter())
                .zip(&labels[start..end])
            {
                *p = sigmoid(e);
                *r = y - *p;
            }
            intercept_sum.add(residual);
            for (j, sum) in sums.iter_mut().enumerate() {
                if design.usable[j] {
                    sum.add_products(&design.column(j)[start..end], residual);
                }
            }
            start = end;
        }
        let n_f = n as f64;
        for (g, sum) in self.gradient.iter_mut().zip(&sums) {
            *g = sum.total() / n_f;
        }
        self.intercept_gradient = intercept_sum.total() / n_f;
    }

    /// Directional derivative of the penalised objective along the step `(d0, d)` (intercept,
    /// then one move per working-set feature) at the point this state describes, whose
    /// working-set coefficients are `at`: from the right at the start of a step, from the
    /// left at its end (the L1 term has a kink at zero, so the two differ there).
    #[allow(clippy::too_many_arguments)]
    fn slope_along(
        &self,
        working: &[usize],
        d0: f64,
        d: &[f64],
        at: &[f64],
        l1: f64,
        l2: f64,
        from_right: bool,
    ) -> f64 {
        // The loss is minus the log-likelihood, so its gradient is minus `gradient`.
        let mut slope = -self.intercept_gradient * d0;
        for ((&j, &dj), &b) in working.iter().zip(d).zip(at) {
            let l1_slope = if b != 0.0 {
                b.signum() * dj
            } else if from_right {
                dj.abs()
            } else {
                -dj.abs()
            };
            slope += -self.gradient[j] * dj + l2 * b * dj + l1 * l1_slope;
        }
        slope
    }

    /// The largest weighted squared move (`h_jj * d^2`, as in the stopping rule) that one
    /// coordinate-descent update of the intercept or of a working-set coordinate would make
    /// from this point, each taken alone with curvature `h`. Below the tolerance, the next
    /// IRLS step would change nothing that counts, so the point is accepted without it.
    fn pending_change(
        &self,
        h: &WeightedGram,
        working: &[usize],
        beta: &[f64],
        l1: f64,
        l2: f64,
    ) -> f64 {
        let h00 = h.at(0, 0);
        let d0 = self.intercept_gradient / h00;
        let mut change = h00 * d0 * d0;
        for (a, &j) in working.iter().enumerate() {
            let hjj = h.at(a + 1, a + 1);
            let old = beta[j];
            let d = soft_threshold(self.gradient[j] + hjj * old, l1) / (hjj + l2) - old;
            change = change.max(hjj * d * d);
        }
        change
    }
}

/// Fits every lambda in turn, each warm-started from the previous solution.
///
/// Layout: the working set holds the features allowed to move (ever nonzero, or admitted by the
/// sequential strong rule or a KKT violation), in feature order. An IRLS step minimises the
/// penalised quadratic approximation by coordinate descent with covariance updates: with the
/// weighted Gram matrix of the intercept and the working set at hand (`n * m^2 / 2` work to
/// build), a pass costs `m^2` regardless of the row count. After every step the exact
/// gradient is recomputed (one pass over the rows); a feature outside the set is checked
/// against the KKT condition `|gradient_j| <= lambda * alpha`.
///
/// A lambda is done when no feature violates the KKT condition and no single coordinate
/// update from the current point would move by the tolerance ([`State::pending_change`]).
/// That test runs before the first step too, so a lambda whose warm start is already optimal
/// costs nothing, and one Newton step from a warm start is usually enough: the test replaces
/// the confirming extra step (and its pass over the rows) that stopping on the last step's
/// size would need.
///
/// Building the Gram matrix is the most expensive pass once more than a few features move,
/// and successive IRLS steps (and neighbouring lambdas) have nearly the same weights, so a
/// Gram matrix that is not [cheap](gram_is_cheap) is reused for up to [`MAX_GRAM_AGE`]
/// steps: the gradient is always exact, so the fixed point is that of plain IRLS, only the
/// curvature is a little stale. A step taken with a stale matrix is checked with the slopes
/// at its ends ([`State::slope_along`]): one that overshot renews the matrix, one that may
/// have raised the penalised objective is undone and retaken with fresh weights. When the
/// working set grows, the matrix gains the new features' rows, summed with its own weights,
/// instead of being rebuilt.
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
    let mut weight = vec![0.0; n];
    let mut state = State::new(n, p);
    // The state before the last step, kept so a rejected step can be undone without a pass.
    let mut spare = State::new(n, p);
    state.update(design, labels, &working, b0, &beta);
    // `weight` always holds the weights `gram` was summed with.
    let mut gram = WeightedGram::new(
        design,
        &working,
        weight_from(&state.prob, &mut weight),
        None,
    );
    // How many steps the Gram matrix in use has served; MAX_GRAM_AGE forces a rebuild.
    let mut gram_age = 0;
    let mut points = Vec::with_capacity(lambdas.len());
    let mut previous_lambda = lambdas.first().copied().unwrap_or(0.0);
    let mut start_beta: Vec<f64> = Vec::with_capacity(p);
    let mut end_beta: Vec<f64> = Vec::with_capacity(p);
    let mut step: Vec<f64> = Vec::with_capacity(p);

    for &lambda in lambdas {
        let l1 = lambda * options.alpha;
        let l2 = lambda * (1.0 - options.alpha);
        // Sequential strong rule: admit features likely to become nonzero at this lambda.
        let strong = options.alpha * (2.0 * lambda - previous_lambda);
        let mut grew = admit(&design.usable, &state.gradient, strong, &mut in_working);
        // Whether `state` (and `gram`) describe the current point and working set, so the
        // stopping test may run.
        let mut testable = !grew;
        let mut converged = false;
        let mut steps = 0;
        loop {
            if testable {
                // KKT check: a feature held at zero must have |gradient| <= lambda * alpha.
                grew = admit(&design.usable, &state.gradient, l1, &mut in_working);
                if !grew && state.pending_change(&gram, &working, &beta, l1, l2) < options.tolerance
                {
                    converged = true;
                    break;
                }
            }
            if steps == options.max_iterations {
                break;
            }
            steps += 1;
            let mut fresh = gram_age >= MAX_GRAM_AGE || gram_is_cheap(working.len(), p);
            if grew {
                // New members are still zero, so margins and gradients are unchanged. Unless a
                // fresh matrix is due anyway, the matrix in use gains the new rows, summed
                // with its own (stale) weights, which `weight` still holds.
                let old_working = std::mem::take(&mut working);
                working = (0..p).filter(|&j| in_working[j]).collect();
                fresh = fresh || gram_is_cheap(working.len(), p);
                if !fresh {
                    gram =
                        WeightedGram::new(design, &working, &weight, Some((&gram, &old_working)));
                }
                grew = false;
            }
            if fresh {
                gram = WeightedGram::new(
                    design,
                    &working,
                    weight_from(&state.prob, &mut weight),
                    None,
                );
                gram_age = 0;
            }
            gram_age += 1;
            let start_b0 = b0;
            start_beta.clear();
            start_beta.extend(working.iter().map(|&j| beta[j]));
            coordinate_descent(&gram, &state, &working, &mut b0, &mut beta, l1, l2, options);
            end_beta.clear();
            end_beta.extend(working.iter().map(|&j| beta[j]));
            std::mem::swap(&mut state, &mut spare);
            state.update(design, labels, &working, b0, &beta);
            // Every step is checked: the objective is convex along it, so a slope <= 0 at its
            // end proves it went downhill. If it overshot, the quadratic through the slopes at
            // both ends still predicts a decrease when `end < -start`; such a step is kept (it
            // usually lands close enough to finish the lambda) and the curvature renewed.
            // Otherwise a step on stale curvature is undone and retaken with fresh weights,
            // and a step on fresh curvature (Newton overshooting, as near a rare level whose
            // indicator almost separates the classes) is halved until the test holds.
            let mut halvings = 0;
            let mut undone = false;
            loop {
                let d0 = b0 - start_b0;
                step.clear();
                step.extend(end_beta.iter().zip(&start_beta).map(|(e, s)| e - s));
                let end = state.slope_along(&working, d0, &step, &end_beta, l1, l2, false);
                if end <= 0.0 {
                    break;
                }
                let start = spare.slope_along(&working, d0, &step, &start_beta, l1, l2, true);
                if !fresh {
                    gram_age = MAX_GRAM_AGE;
                }
                if end < -start || halvings == MAX_HALVINGS {
                    break;
                }
                if !fresh {
                    b0 = start_b0;
                    for (&j, &b) in working.iter().zip(&start_beta) {
                        beta[j] = b;
                    }
                    std::mem::swap(&mut state, &mut spare);
                    undone = true;
                    break;
                }
                halvings += 1;
                b0 = start_b0 + d0 / 2.0;
                end_beta.clear();
                for ((&j, &s), &d) in working.iter().zip(&start_beta).zip(&step) {
                    beta[j] = s + d / 2.0;
                    end_beta.push(beta[j]);
                }
                state.update(design, labels, &working, b0, &beta);
            }
            if undone {
                testable = false;
                continue;
            }
            testable = true;
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

/// Whether a Gram matrix over `m` working features costs no more than the pass over the rows
/// that a stale one may waste: building it takes `(m + 1) (m + 2) / 2` multiply-adds per row,
/// a state update about `p + m` and an `exp`. Cheap ones are rebuilt before every step, so
/// the early path (few features moving fast) gets true Newton steps.
fn gram_is_cheap(m: usize, p: usize) -> bool {
    (m + 1) * (m + 2) / 2 <= p + m
}

/// Fills `weight` with the IRLS weights `max(p (1 - p), MIN_WEIGHT)` and returns it.
fn weight_from<'w>(prob: &[f64], weight: &'w mut [f64]) -> &'w [f64] {
    for (w, &pr) in weight.iter_mut().zip(prob) {
        *w = (pr * (1.0 - pr)).max(MIN_WEIGHT);
    }
    weight
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
            for (gc, &hc) in g.iter_mut().zip(h.row(0)) {
                *gc -= hc * d0;
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
                for (gc, &hc) in g.iter_mut().zip(h.row(a + 1)) {
                    *gc -= hc * d;
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

/// `(1/n) X' W X` of the intercept column (index 0) and the working set (1..=m), a dense
/// symmetric `(m+1)^2` matrix stored row-major (both triangles, so a row is contiguous for
/// the gradient updates). Each entry is the [`Lanes`] sum of `(w * x_a) * x_b`.
struct WeightedGram {
    size: usize,
    values: Vec<f64>,
}

impl WeightedGram {
    /// The matrix over `working` with weights `weight`. With `reuse`, a matrix built with the
    /// same weights over the (sorted) features `reuse.1`: entries between features present in
    /// both are copied (a sum depends only on its two columns and the weights, so the bits are
    /// those a full build would give) and only the others are summed.
    fn new(
        design: &Design,
        working: &[usize],
        weight: &[f64],
        reuse: Option<(&WeightedGram, &[usize])>,
    ) -> Self {
        let n = design.n_rows;
        let size = working.len() + 1;
        // Per index of the new matrix: its index in the reused one.
        let old_index: Vec<Option<usize>> = match reuse {
            None => vec![None; size],
            Some((_, old_working)) => (0..size)
                .map(|a| match a {
                    0 => Some(0),
                    _ => old_working
                        .binary_search(&working[a - 1])
                        .ok()
                        .map(|i| i + 1),
                })
                .collect(),
        };
        let known = |a: usize, b: usize| old_index[a].is_some() && old_index[b].is_some();
        // Upper triangle, row by row; known entries keep an unused accumulator.
        let mut sums = vec![Lanes::default(); size * (size + 1) / 2];
        let ones = [1.0; BLOCK];
        let mut weighted = [0.0; BLOCK];
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let len = end - start;
            let column = |a: usize| -> &[f64] {
                if a == 0 {
                    &ones[..len]
                } else {
                    &design.column(working[a - 1])[start..end]
                }
            };
            let mut entry = 0;
            for a in 0..size {
                if (a..size).all(|b| known(a, b)) {
                    entry += size - a;
                    continue;
                }
                for ((wx, &w), &x) in weighted.iter_mut().zip(&weight[start..end]).zip(column(a)) {
                    *wx = w * x;
                }
                for b in a..size {
                    if !known(a, b) {
                        sums[entry].add_products(&weighted[..len], column(b));
                    }
                    entry += 1;
                }
            }
            start = end;
        }
        let n_f = n as f64;
        let mut values = vec![0.0; size * size];
        let mut entry = 0;
        for a in 0..size {
            for b in a..size {
                let v = match (reuse, old_index[a], old_index[b]) {
                    (Some((old, _)), Some(oa), Some(ob)) => old.at(oa, ob),
                    _ => sums[entry].total() / n_f,
                };
                values[a * size + b] = v;
                values[b * size + a] = v;
                entry += 1;
            }
        }
        Self { size, values }
    }

    fn at(&self, a: usize, b: usize) -> f64 {
        self.values[a * self.size + b]
    }

    fn row(&self, a: usize) -> &[f64] {
        &self.values[a * self.size..(a + 1) * self.size]
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
        assert_eq!(sigmoid(800.0), 1.0);
    }

    #[test]
    fn lane_sums_do_not_depend_on_how_the_rows_are_fed() {
        let a: Vec<f64> = (0..1037)
            .map(|i| ((i * 7919) % 1000) as f64 / 3.0 - 100.0)
            .collect();
        let b: Vec<f64> = (0..1037)
            .map(|i| ((i * 104_729) % 997) as f64 / 7.0)
            .collect();
        let whole = dot(&a, &b);
        let mut pieces = Lanes::default();
        for (ca, cb) in a.chunks(3 * LANES).zip(b.chunks(3 * LANES)) {
            pieces.add_products(ca, cb);
        }
        assert_eq!(pieces.total().to_bits(), whole.to_bits());
        let exact: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((whole - exact).abs() <= 1e-9 * exact.abs());
    }
}

//! A fitted Gaussian mixture: parameters, prediction, scoring, sampling and
//! model files.

use mmclust_core::DataSource;
use mmclust_core::fitting::in_fit_space;
use mmclust_core::parallel::PassOptions;
use mmclust_core::stats::Standardizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::bayesian::Posterior;
use crate::error::{GmmError, Result};
use crate::linalg::cholesky;
use crate::mixture::Mixture;
use crate::params::{CovarianceType, GmmParams, Precision};
use crate::pass::rows_pass;
use crate::run::Run;

mod file;
mod summary;

pub use file::MODEL_VERSION;
pub use summary::{OnlineSummary, StopReason};

/// Rows per random stream of [`GaussianMixtureModel::sample_each`]. Part of
/// the output's definition: changing it changes the rows a seed gives.
pub const SAMPLE_BLOCK_ROWS: usize = 4096;

/// A fitted Gaussian mixture.
///
/// Parameters live in the space the fit ran in: standardised units when the
/// fit standardised ([`GaussianMixtureModel::standardizer`] holds the
/// transform, applied to new data by every method), the data's own units
/// otherwise. Log-likelihoods are densities in that space.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureModel {
    mix: Mixture,
    /// The z-score transform applied before fitting, if any.
    pub standardizer: Option<Standardizer>,
    /// Whether the winning run converged before `max_iter`.
    pub converged: bool,
    /// EM iterations of the winning run.
    pub n_iter: usize,
    /// Mean log-likelihood of the winning run's last E-step (scikit-learn's
    /// `lower_bound_`).
    pub lower_bound: f64,
    /// Mean per-sample log-likelihood of the fitted data under the final
    /// parameters (scikit-learn's `score(X)`).
    pub log_likelihood: f64,
    /// Lower bound of every iteration of the winning run (`lower_bounds_`).
    pub history: Vec<f64>,
    /// Final lower bound of every run (NaN for a run that failed).
    pub run_lower_bounds: Vec<f64>,
    /// Index of the winning run.
    pub best_run: usize,
    /// Initialisation name.
    pub init: String,
    /// Seed, `max_iter`, `tol`, `reg_covar` of the fit.
    pub seed: u64,
    /// Iteration limit of the fit.
    pub max_iter: usize,
    /// Tolerance of the fit.
    pub tol: f64,
    /// Covariance regularisation of the fit.
    pub reg_covar: f64,
    /// Rows the model was fitted on.
    pub n_rows: usize,
    /// Seconds of the statistics pass.
    pub stats_seconds: f64,
    /// Seconds of the winning run's initialisation.
    pub init_seconds: f64,
    /// Seconds of the winning run's iterations.
    pub iter_seconds: f64,
    /// Seconds of the whole fit.
    pub fit_seconds: f64,
    /// The arithmetic the fit asked for.
    pub precision: Precision,
    /// Iterations of the winning run whose pass ran in `f32` (see
    /// [`Precision::F32`] for when an `f32` request runs in `f64`).
    pub f32_iterations: usize,
    /// The variational posterior of a Bayesian fit
    /// ([`GmmParams::bayesian`]); `None` for EM. A Bayesian model's
    /// weights are the expected weights, its per-row log-likelihoods (and
    /// so `score`, `predict`, the responsibilities) use the variational
    /// expectations as scikit-learn's `BayesianGaussianMixture` does, its
    /// `lower_bound` and `history` are scikit-learn's variational lower
    /// bound (a total over rows, not a mean), and it has no BIC or AIC.
    pub bayesian: Option<Posterior>,
    /// What an online fit ran ([`GmmParams::fit_online`]); `None` for EM.
    /// An online model's `n_iter` counts steps, its `history` is the
    /// smoothed batch log-likelihood, and `converged` says the smoothed
    /// log-likelihood stopped rising (not the step limit).
    pub online: Option<OnlineSummary>,
}

impl GaussianMixtureModel {
    pub(crate) fn from_run(
        params: &GmmParams,
        run: Run,
        best_run: usize,
        run_lower_bounds: Vec<f64>,
        log_likelihood: f64,
        n: usize,
    ) -> Self {
        let init = params.init.resolve(n, run.mix.d).name().to_string();
        GaussianMixtureModel {
            mix: run.mix,
            bayesian: run.posterior,
            online: None,
            standardizer: None,
            converged: run.converged,
            n_iter: run.n_iter,
            lower_bound: run.lower_bound,
            log_likelihood,
            history: run.history,
            run_lower_bounds,
            best_run,
            init,
            seed: params.seed,
            max_iter: params.max_iter,
            tol: params.tol,
            reg_covar: params.reg_covar,
            n_rows: n,
            stats_seconds: 0.0,
            init_seconds: run.init_seconds,
            iter_seconds: run.iter_seconds,
            fit_seconds: 0.0,
            precision: params.precision,
            f32_iterations: run.f32_iterations,
        }
    }

    /// A model with the given parameters (covariances in the layout of
    /// [`CovarianceType::covariance_len`]) and nothing fitted.
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] for wrong shapes or non-finite values;
    /// [`GmmError::Degenerate`] for a covariance that is not positive definite.
    pub fn from_parameters(
        covariance_type: CovarianceType,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> Result<Self> {
        let k = weights.len();
        let bad = |m: String| GmmError::InvalidModel { message: m };
        if k == 0 || means.is_empty() || !means.len().is_multiple_of(k) {
            return Err(bad(format!(
                "{} mean values are not k = {k} rows",
                means.len()
            )));
        }
        let d = means.len() / k;
        if covariances.len() != covariance_type.covariance_len(k, d) {
            return Err(bad(format!(
                "{} covariance values; {covariance_type} covariances of k = {k}, d = {d} need {}",
                covariances.len(),
                covariance_type.covariance_len(k, d)
            )));
        }
        if weights
            .iter()
            .chain(&means)
            .chain(&covariances)
            .any(|v| !v.is_finite())
            || weights.iter().any(|&w| w < 0.0)
        {
            return Err(bad(
                "a weight, mean or covariance is not finite (or a weight is negative)".into(),
            ));
        }
        let s: f64 = weights.iter().sum();
        if s <= 0.0 {
            return Err(bad("the weights sum to 0".into()));
        }
        let weights = weights.iter().map(|w| w / s).collect();
        let mix = Mixture::new(covariance_type, k, d, weights, means, covariances, None)?;
        Ok(GaussianMixtureModel {
            mix,
            bayesian: None,
            online: None,
            standardizer: None,
            converged: false,
            n_iter: 0,
            lower_bound: f64::NAN,
            log_likelihood: f64::NAN,
            history: Vec::new(),
            run_lower_bounds: Vec::new(),
            best_run: 0,
            init: "given-parameters".into(),
            seed: 0,
            max_iter: 0,
            tol: 0.0,
            reg_covar: 0.0,
            n_rows: 0,
            stats_seconds: 0.0,
            init_seconds: 0.0,
            iter_seconds: 0.0,
            fit_seconds: 0.0,
            precision: Precision::F64,
            f32_iterations: 0,
        })
    }

    /// A variational Bayesian model of the given means and covariances
    /// (scikit-learn's `means_` and `covariances_`) and posterior: its
    /// weights are the posterior's expected weights, its per-row results use
    /// the variational expectations.
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::from_parameters`]; [`GmmError::InvalidModel`]
    /// for a posterior whose lengths are not k and d.
    pub fn from_posterior(
        covariance_type: CovarianceType,
        means: Vec<f64>,
        covariances: Vec<f64>,
        posterior: Posterior,
    ) -> Result<Self> {
        let k = posterior.mean_precision.len();
        let bad = |m: String| GmmError::InvalidModel { message: m };
        if posterior.dof.len() != k
            || posterior.concentration_a.len() != k
            || !(posterior.concentration_b.is_empty() || posterior.concentration_b.len() == k)
        {
            return Err(bad(format!(
                "the posterior's weight concentration, mean precision and degrees of freedom \
                 need k = {k} values each"
            )));
        }
        let mut model =
            Self::from_parameters(covariance_type, posterior.weights(), means, covariances)?;
        if posterior.prior.mean.len() != model.d() {
            return Err(bad(format!(
                "the mean prior has {} values; the means have d = {}",
                posterior.prior.mean.len(),
                model.d()
            )));
        }
        posterior
            .prior
            .check(covariance_type, model.d())
            .map_err(|e| bad(e.to_string()))?;
        model.mix = posterior.mixture(
            covariance_type,
            model.mix.means.clone(),
            model.mix.covariances.clone(),
            None,
        )?;
        model.bayesian = Some(posterior);
        model.init = "given-posterior".into();
        Ok(model)
    }

    /// The mixture (parameters and what the E-step derives from them).
    pub(crate) fn mixture(&self) -> &Mixture {
        &self.mix
    }

    /// The covariance type.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.mix.cov_type
    }
    /// Number of components.
    #[must_use]
    pub fn k(&self) -> usize {
        self.mix.k
    }
    /// Number of columns.
    #[must_use]
    pub fn d(&self) -> usize {
        self.mix.d
    }
    /// Mixture weights (sum to 1).
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.mix.weights
    }
    /// Means, row-major k × d.
    #[must_use]
    pub fn means(&self) -> &[f64] {
        &self.mix.means
    }
    /// Covariances in the layout of [`CovarianceType::covariance_len`]
    /// (scikit-learn's `covariances_`, flattened).
    #[must_use]
    pub fn covariances(&self) -> &[f64] {
        &self.mix.covariances
    }
    /// Cholesky factors of the precisions, same layout (scikit-learn's
    /// `precisions_cholesky_`: upper triangular for full and tied).
    #[must_use]
    pub fn precisions_cholesky(&self) -> &[f64] {
        &self.mix.precisions_cholesky
    }

    /// Free parameters (scikit-learn's `_n_parameters`).
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        self.mix.cov_type.n_parameters(self.mix.k, self.mix.d)
    }

    /// Components whose expected weight is above
    /// [`crate::EFFECTIVE_WEIGHT`] (Bayesian fits; `k` for EM).
    #[must_use]
    pub fn effective_components(&self) -> usize {
        self.bayesian
            .as_ref()
            .map_or(self.mix.k, Posterior::effective_components)
    }

    /// BIC on the fitted data: `−2 · n · log_likelihood + p · ln n` (NaN for
    /// a Bayesian fit).
    #[must_use]
    pub fn bic(&self) -> f64 {
        if self.bayesian.is_some() {
            return f64::NAN;
        }
        let n = self.n_rows as f64;
        -2.0 * self.log_likelihood * n + self.n_parameters() as f64 * n.ln()
    }

    /// AIC on the fitted data: `−2 · n · log_likelihood + 2p` (NaN for a
    /// Bayesian fit).
    #[must_use]
    pub fn aic(&self) -> f64 {
        if self.bayesian.is_some() {
            return f64::NAN;
        }
        let n = self.n_rows as f64;
        -2.0 * self.log_likelihood * n + 2.0 * self.n_parameters() as f64
    }

    /// Streams, chunk by chunk in row order, each row's responsibilities
    /// (m × k, f64, rows sum to 1) and log-likelihood (log Σ_c w_c N(x | c)).
    ///
    /// # Errors
    /// Dimension mismatch, read errors, or an error returned by `sink`.
    pub fn rows_each<S, F>(&self, source: &S, options: PassOptions<'_>, sink: F) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[f64], &[f64]) -> Result<()>,
    {
        in_fit_space(source, self.mix.d, self.standardizer.as_ref(), |s| {
            rows_pass(s, options, &self.mix, sink)
        })
    }

    /// Streams each row's most responsible component (ties: lowest index).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn predict_each<S, F>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        mut sink: F,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[u32]) -> Result<()>,
    {
        let k = self.mix.k;
        self.rows_each(source, options, |resp, _| {
            let labels: Vec<u32> = resp.chunks_exact(k).map(argmax).collect();
            sink(&labels)
        })
    }

    /// Streams each row's responsibilities as `f32` (m × k, row-major).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn predict_proba_each<S, F>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        mut sink: F,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[f32]) -> Result<()>,
    {
        self.rows_each(source, options, |resp, _| {
            let r: Vec<f32> = resp.iter().map(|&v| v as f32).collect();
            sink(&r)
        })
    }

    /// Streams each row's log-likelihood (scikit-learn's `score_samples`).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn score_samples_each<S, F>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        mut sink: F,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[f64]) -> Result<()>,
    {
        self.rows_each(source, options, |_, ll| sink(ll))
    }

    /// Labels of every row (in memory).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn predict<S: DataSource + ?Sized>(&self, source: &S) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(source.n_rows());
        self.predict_each(source, PassOptions::default(), |l| {
            out.extend_from_slice(l);
            Ok(())
        })?;
        Ok(out)
    }

    /// Responsibilities of every row, row-major n × k (in memory).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn predict_proba<S: DataSource + ?Sized>(&self, source: &S) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(source.n_rows() * self.mix.k);
        self.rows_each(source, PassOptions::default(), |r, _| {
            out.extend_from_slice(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// Mean per-sample log-likelihood of `source` (scikit-learn's `score`).
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::rows_each`].
    pub fn score<S: DataSource + ?Sized>(
        &self,
        source: &S,
        options: PassOptions<'_>,
    ) -> Result<f64> {
        let mut total = 0.0f64;
        self.score_samples_each(source, options, |ll| {
            total += ll.iter().sum::<f64>();
            Ok(())
        })?;
        Ok(total / source.n_rows().max(1) as f64)
    }

    /// Draws `n` rows from the mixture, streamed to `sink` in blocks of
    /// [`SAMPLE_BLOCK_ROWS`] rows (row-major `f32` values in the data's
    /// original units, and each row's component). Block `b` draws from its own
    /// ChaCha8 stream (seed, stream b + 1), so the rows are the same for a
    /// seed whatever the thread count; normals come from `rand_distr`'s
    /// [`StandardNormal`] (ziggurat), times the covariance's Cholesky factor.
    /// Unlike scikit-learn (which draws the component counts first and
    /// returns rows sorted by component), rows are independent draws in
    /// random component order.
    ///
    /// # Errors
    /// An error returned by `sink`; [`GmmError::Degenerate`] if a covariance
    /// cannot be factored.
    pub fn sample_each<F>(&self, n: usize, seed: u64, mut sink: F) -> Result<()>
    where
        F: FnMut(&[f32], &[u32]) -> Result<()>,
    {
        use rayon::prelude::*;
        let (k, d) = (self.mix.k, self.mix.d);
        let cov_type = self.mix.cov_type;
        // Lower Cholesky factors of the covariances (sampling: x = μ + L z).
        let factors: Vec<Vec<f64>> = match cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let mats = if cov_type == CovarianceType::Full {
                    k
                } else {
                    1
                };
                (0..mats)
                    .map(|m| {
                        cholesky(&self.mix.covariances[m * d * d..(m + 1) * d * d], d).map_err(
                            |e| GmmError::Degenerate {
                                component: m,
                                weight: self.mix.weights[m],
                                n_k: f64::NAN,
                                detail: format!("Cholesky pivot {} is {:.3e}", e.index, e.value),
                            },
                        )
                    })
                    .collect::<Result<_>>()?
            }
            _ => Vec::new(),
        };
        let mut cumulative = Vec::with_capacity(k);
        let mut acc = 0.0;
        for &w in &self.mix.weights {
            acc += w;
            cumulative.push(acc);
        }
        let draw_block = |b: usize| -> (Vec<f32>, Vec<u32>) {
            let rows = SAMPLE_BLOCK_ROWS.min(n - b * SAMPLE_BLOCK_ROWS);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(b as u64 + 1);
            let mut x = Vec::with_capacity(rows * d);
            let mut labels = Vec::with_capacity(rows);
            let mut z = vec![0.0f64; d];
            for _ in 0..rows {
                let u: f64 = rng.r#gen::<f64>() * acc;
                let c = cumulative.iter().position(|&v| u < v).unwrap_or(k - 1);
                for v in z.iter_mut() {
                    *v = StandardNormal.sample(&mut rng);
                }
                let mu = &self.mix.means[c * d..(c + 1) * d];
                for j in 0..d {
                    let v = match cov_type {
                        CovarianceType::Full | CovarianceType::Tied => {
                            let l = &factors[if cov_type == CovarianceType::Full {
                                c
                            } else {
                                0
                            }];
                            (0..=j).map(|p| l[j * d + p] * z[p]).sum::<f64>()
                        }
                        CovarianceType::Diag => self.mix.covariances[c * d + j].sqrt() * z[j],
                        CovarianceType::Spherical => self.mix.covariances[c].sqrt() * z[j],
                    };
                    x.push((mu[j] + v) as f32);
                }
                labels.push(c as u32);
            }
            if let Some(t) = &self.standardizer {
                t.invert_in_place(&mut x);
            }
            (x, labels)
        };
        let n_blocks = n.div_ceil(SAMPLE_BLOCK_ROWS);
        let batch = 4 * rayon::current_num_threads();
        let mut first = 0;
        while first < n_blocks {
            let last = (first + batch).min(n_blocks);
            let out: Vec<(Vec<f32>, Vec<u32>)> =
                (first..last).into_par_iter().map(draw_block).collect();
            for (x, l) in out {
                sink(&x, &l)?;
            }
            first = last;
        }
        Ok(())
    }

    /// [`GaussianMixtureModel::sample_each`] into memory.
    ///
    /// # Errors
    /// As [`GaussianMixtureModel::sample_each`].
    pub fn sample(&self, n: usize, seed: u64) -> Result<(Vec<f32>, Vec<u32>)> {
        let (mut x, mut l) = (Vec::new(), Vec::new());
        self.sample_each(n, seed, |a, b| {
            x.extend_from_slice(a);
            l.extend_from_slice(b);
            Ok(())
        })?;
        Ok((x, l))
    }
}

fn argmax(row: &[f64]) -> u32 {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best as u32
}

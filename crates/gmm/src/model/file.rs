//! The model file: [`GaussianMixtureModel`] to and from JSON through one
//! typed struct, [`ModelFile`]. Every field the writer has always written is
//! required, so a file missing one is an error that names it; the two
//! fields added since version 1 (`parameters.precision` and
//! `parameters.f32_iterations`) default to what files written before them
//! meant. A file of a newer version than [`MODEL_VERSION`] is refused with
//! the version it needs.

use mmclust_core::model_file::{self, Seconds, StandardizerFile};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::GaussianMixtureModel;
use super::OnlineSummary;
use crate::bayesian::{Posterior, ResolvedPrior};
use crate::error::{GmmError, Result};
use crate::params::{CovarianceType, Precision, WeightPrior};

/// Version of the model file format written by [`GaussianMixtureModel::to_json`].
/// Files of this version or older are read; newer ones are refused.
pub const MODEL_VERSION: u32 = 1;

/// Numbers in the nesting of the covariance type: one matrix per component
/// (full), one matrix (tied), one row per component (diag), one value per
/// component (spherical). Read in any of these nestings and flattened in
/// order; [`GaussianMixtureModel::from_parameters`] checks the count.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Nested {
    Values(Vec<f64>),
    Rows(Vec<Vec<f64>>),
    Matrices(Vec<Vec<Vec<f64>>>),
}

impl Nested {
    fn of(cov_type: CovarianceType, v: &[f64], d: usize) -> Self {
        let rows = |v: &[f64]| v.chunks_exact(d).map(<[f64]>::to_vec).collect();
        match cov_type {
            CovarianceType::Full => Nested::Matrices(v.chunks_exact(d * d).map(rows).collect()),
            CovarianceType::Tied | CovarianceType::Diag => Nested::Rows(rows(v)),
            CovarianceType::Spherical => Nested::Values(v.to_vec()),
        }
    }

    fn flatten(self) -> Vec<f64> {
        match self {
            Nested::Values(v) => v,
            Nested::Rows(r) => r.concat(),
            Nested::Matrices(m) => m.concat().concat(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Parameters {
    covariance_type: String,
    init: String,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
    seed: u64,
    /// Absent from files written before `--precision` (all ran in `f64`).
    #[serde(default = "f64_name")]
    precision: String,
    /// Absent from files written before `--precision`.
    #[serde(default)]
    f32_iterations: usize,
}

/// The variational posterior of a Bayesian model, with scikit-learn's
/// attribute names.
#[derive(Serialize, Deserialize)]
struct BayesianFile {
    weight_concentration_prior_type: String,
    weight_concentration_prior: f64,
    mean_precision_prior: f64,
    mean_prior: Vec<f64>,
    degrees_of_freedom_prior: f64,
    /// One component's layout, flattened (full and tied: d × d row-major).
    covariance_prior: Vec<f64>,
    /// `[a, b]` (Dirichlet process) or `[α]` (Dirichlet distribution).
    weight_concentration: Vec<Vec<f64>>,
    mean_precision: Vec<f64>,
    degrees_of_freedom: Vec<f64>,
    /// Written for readers; recomputed from the weights on reading.
    effective_components: usize,
}

impl BayesianFile {
    fn of(p: &Posterior) -> Self {
        let mut wc = vec![p.concentration_a.clone()];
        if !p.concentration_b.is_empty() {
            wc.push(p.concentration_b.clone());
        }
        BayesianFile {
            weight_concentration_prior_type: p.prior.weight_prior.name().to_string(),
            weight_concentration_prior: p.prior.weight_concentration,
            mean_precision_prior: p.prior.mean_precision,
            mean_prior: p.prior.mean.clone(),
            degrees_of_freedom_prior: p.prior.dof,
            covariance_prior: p.prior.covariance.clone(),
            weight_concentration: wc,
            mean_precision: p.mean_precision.clone(),
            degrees_of_freedom: p.dof.clone(),
            effective_components: p.effective_components(),
        }
    }

    fn into_posterior(self, cov_type: CovarianceType, k: usize, d: usize) -> Result<Posterior> {
        let bad = |m: String| GmmError::InvalidModel {
            message: format!("\"bayesian\": {m}"),
        };
        let weight_prior: WeightPrior =
            self.weight_concentration_prior_type.parse().map_err(bad)?;
        let want_rows = match weight_prior {
            WeightPrior::DirichletProcess => 2,
            WeightPrior::DirichletDistribution => 1,
        };
        let mut wc = self.weight_concentration.into_iter();
        let a = wc.next().unwrap_or_default();
        let b = wc.next().unwrap_or_default();
        let rows = 1 + usize::from(!b.is_empty()) + wc.count();
        if rows != want_rows
            || a.len() != k
            || (want_rows == 2 && b.len() != k)
            || self.mean_precision.len() != k
            || self.degrees_of_freedom.len() != k
        {
            return Err(bad(format!(
                "\"weight_concentration\" ({weight_prior}: {want_rows} rows), \"mean_precision\" \
                 and \"degrees_of_freedom\" need k = {k} values each"
            )));
        }
        if a.iter()
            .chain(&b)
            .chain(&self.mean_precision)
            .chain(&self.degrees_of_freedom)
            .any(|&v| !(v.is_finite() && v > 0.0))
        {
            return Err(bad(
                "the posterior's parameters must be finite and > 0".into()
            ));
        }
        let prior = ResolvedPrior {
            weight_prior,
            weight_concentration: self.weight_concentration_prior,
            mean_precision: self.mean_precision_prior,
            mean: self.mean_prior,
            dof: self.degrees_of_freedom_prior,
            covariance: self.covariance_prior,
        };
        prior.check(cov_type, d).map_err(|e| bad(e.to_string()))?;
        Ok(Posterior {
            prior,
            concentration_a: a,
            concentration_b: b,
            mean_precision: self.mean_precision,
            dof: self.degrees_of_freedom,
        })
    }
}

fn f64_name() -> String {
    Precision::F64.name().to_string()
}

/// The file's fields. `Option` fields are written as `null` (a non-finite
/// value, no standardiser, no input) but must be present:
/// `deserialize_with` makes serde report them missing instead of reading
/// `None`.
#[derive(Serialize, Deserialize)]
struct ModelFile {
    kind: String,
    version: u32,
    covariance_type: String,
    k: usize,
    d: usize,
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    covariances: Nested,
    /// Written for readers of the file; this reader recomputes them from the
    /// covariances.
    precisions_cholesky: Nested,
    #[serde(deserialize_with = "Option::deserialize")]
    standardizer: Option<StandardizerFile>,
    converged: bool,
    n_iter: usize,
    #[serde(deserialize_with = "Option::deserialize")]
    lower_bound: Option<f64>,
    #[serde(deserialize_with = "Option::deserialize")]
    log_likelihood: Option<f64>,
    history: Vec<f64>,
    run_lower_bounds: Vec<Option<f64>>,
    best_run: usize,
    n_parameters: usize,
    #[serde(deserialize_with = "Option::deserialize")]
    bic: Option<f64>,
    #[serde(deserialize_with = "Option::deserialize")]
    aic: Option<f64>,
    n_rows: usize,
    parameters: Parameters,
    seconds: Seconds,
    #[serde(deserialize_with = "Option::deserialize")]
    input: Option<Value>,
    /// Bayesian fits only (absent otherwise, and in files written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bayesian: Option<BayesianFile>,
    /// Online fits only: what the fit ran (absent otherwise, and in files
    /// written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    online: Option<OnlineSummary>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl GaussianMixtureModel {
    /// The model as a JSON value (`"kind": "gmm"`); `input` is stored as the
    /// input's fingerprint.
    #[must_use]
    pub fn to_json(&self, input: Option<Value>) -> Value {
        let (cov_type, d) = (self.mix.cov_type, self.mix.d);
        let file = ModelFile {
            kind: "gmm".to_string(),
            version: MODEL_VERSION,
            covariance_type: cov_type.name().to_string(),
            k: self.mix.k,
            d,
            weights: self.mix.weights.clone(),
            means: self
                .mix
                .means
                .chunks_exact(d)
                .map(<[f64]>::to_vec)
                .collect(),
            covariances: Nested::of(cov_type, &self.mix.covariances, d),
            precisions_cholesky: Nested::of(cov_type, &self.mix.precisions_cholesky, d),
            standardizer: self.standardizer.as_ref().map(StandardizerFile::from),
            converged: self.converged,
            n_iter: self.n_iter,
            lower_bound: finite(self.lower_bound),
            log_likelihood: finite(self.log_likelihood),
            history: self.history.clone(),
            run_lower_bounds: self.run_lower_bounds.iter().map(|&v| finite(v)).collect(),
            best_run: self.best_run,
            n_parameters: self.n_parameters(),
            bic: finite(self.bic()),
            aic: finite(self.aic()),
            n_rows: self.n_rows,
            parameters: Parameters {
                covariance_type: cov_type.name().to_string(),
                init: self.init.clone(),
                n_init: self.run_lower_bounds.len(),
                max_iter: self.max_iter,
                tol: self.tol,
                reg_covar: self.reg_covar,
                seed: self.seed,
                precision: self.precision.name().to_string(),
                f32_iterations: self.f32_iterations,
            },
            seconds: Seconds {
                stats: self.stats_seconds,
                init: self.init_seconds,
                iter: self.iter_seconds,
                fit: self.fit_seconds,
            },
            input,
            bayesian: self.bayesian.as_ref().map(BayesianFile::of),
            online: self.online.clone(),
        };
        serde_json::to_value(file).expect("a model file serialises")
    }

    /// Reads a model written by [`GaussianMixtureModel::to_json`] (of this
    /// version of the format or an older one), checking it (kind, version,
    /// every field present, shapes, finite values, positive-definite
    /// covariances). The precision factors are recomputed from the
    /// covariances.
    ///
    /// # Errors
    /// [`GmmError::InvalidModel`] naming what is wrong: a missing field by
    /// its name, a newer version by the version it needs.
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |m: String| GmmError::InvalidModel { message: m };
        let f: ModelFile = model_file::read(text, "gmm", MODEL_VERSION).map_err(bad)?;
        let cov_type: CovarianceType = f.covariance_type.parse().map_err(bad)?;
        let precision: Precision = f
            .parameters
            .precision
            .parse()
            .map_err(|e| bad(format!("\"parameters.precision\": {e}")))?;
        let mut model = match f.bayesian {
            Some(b) => {
                let k = f.weights.len();
                let d = f.means.first().map_or(0, Vec::len);
                let post = b.into_posterior(cov_type, k, d)?;
                Self::from_posterior(cov_type, f.means.concat(), f.covariances.flatten(), post)?
            }
            None => Self::from_parameters(
                cov_type,
                f.weights,
                f.means.concat(),
                f.covariances.flatten(),
            )?,
        };
        if f.means.len() != f.k
            || f.means.iter().any(|row| row.len() != f.d)
            || f.k != model.k()
            || f.d != model.d()
        {
            return Err(bad(format!(
                "\"k\" = {} and \"d\" = {} do not match the parameters ({} components of {} \
                 columns)",
                f.k,
                f.d,
                model.k(),
                model.d()
            )));
        }
        model.standardizer = f
            .standardizer
            .map(|s| s.into_standardizer(model.d(), "means"))
            .transpose()
            .map_err(bad)?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        model.converged = f.converged;
        model.n_iter = f.n_iter;
        model.lower_bound = nan(f.lower_bound);
        model.log_likelihood = nan(f.log_likelihood);
        model.history = f.history;
        model.run_lower_bounds = f.run_lower_bounds.into_iter().map(nan).collect();
        model.best_run = f.best_run;
        model.n_rows = f.n_rows;
        model.init = f.parameters.init;
        model.seed = f.parameters.seed;
        model.max_iter = f.parameters.max_iter;
        model.tol = f.parameters.tol;
        model.reg_covar = f.parameters.reg_covar;
        model.precision = precision;
        model.f32_iterations = f.parameters.f32_iterations;
        model.stats_seconds = f.seconds.stats;
        model.init_seconds = f.seconds.init;
        model.iter_seconds = f.seconds.iter;
        model.fit_seconds = f.seconds.fit;
        model.online = f.online;
        Ok(model)
    }
}

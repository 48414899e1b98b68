//! Gaussian mixtures: fit, and the per-row functions of a mixture given by
//! its parameters (predict, predict_proba, score_samples), and sampling.

use mmclust_core::parallel::PassOptions;
use mmclust_gmm::{
    BayesianPrior, CovarianceType, GaussianMixtureModel, GmmError, GmmParams, Init, Posterior,
    Precision, ResolvedPrior, WeightPrior,
};
use numpy::ndarray::{Array2, ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Input, engine_error, run_detached};

mod online;
pub(crate) use online::gmm_partial_fit;

fn err(e: GmmError) -> PyErr {
    // A collapsed component is a ValueError in scikit-learn too.
    let input = e.is_input_error() || matches!(e, GmmError::Degenerate { .. });
    engine_error(e, input)
}

fn covariance_type(name: &str) -> PyResult<CovarianceType> {
    name.parse()
        .map_err(|e: String| PyValueError::new_err(format!("covariance_type: {e}")))
}

/// The shape scikit-learn gives covariances (and precision factors) of a type.
fn covariance_shape(t: CovarianceType, k: usize, d: usize) -> Vec<usize> {
    match t {
        CovarianceType::Full => vec![k, d, d],
        CovarianceType::Tied => vec![d, d],
        CovarianceType::Diag => vec![k, d],
        CovarianceType::Spherical => vec![k],
    }
}

fn shaped<'py>(py: Python<'py>, shape: Vec<usize>, v: &[f64]) -> Bound<'py, PyArrayDyn<f64>> {
    ArrayD::from_shape_vec(IxDyn(&shape), v.to_vec())
        .expect("covariance shape")
        .into_pyarray(py)
}

fn flat(a: &PyReadonlyArrayDyn<'_, f64>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

/// Fits a mixture; returns a dict of scikit-learn's fitted attributes
/// (`weights`, `means`, `covariances`, `precisions_cholesky`, `converged`,
/// `n_iter`, `lower_bound`).
#[pyfunction]
#[pyo3(signature = (
    x, n_components, *, covariance_type, tol, reg_covar, max_iter, n_init, init_params, seed,
    weights_init = None, means_init = None, covariances_init = None, precision = "f64",
    bayesian = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gmm_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_components: usize,
    covariance_type: &str,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init_params: &str,
    seed: u64,
    weights_init: Option<PyReadonlyArrayDyn<'py, f64>>,
    means_init: Option<PyReadonlyArrayDyn<'py, f64>>,
    covariances_init: Option<PyReadonlyArrayDyn<'py, f64>>,
    precision: &str,
    bayesian: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let input = Input::extract(x)?;
    let cov = self::covariance_type(covariance_type)?;
    let precision: Precision = precision
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("precision: {e}")))?;
    let init = init_of(init_params, weights_init, means_init, covariances_init)?;
    let mut params = GmmParams::new(n_components)
        .covariance(cov)
        .init(init)
        .n_init(n_init)
        .max_iter(max_iter)
        .tol(tol)
        .reg_covar(reg_covar)
        .precision(precision)
        .seed(seed);
    params.bayesian = bayesian.map(bayesian_prior).transpose()?;
    let model = run_detached(py, &input, |src| params.fit(src).map_err(err))?;
    let out = parameters_dict(py, &model)?;
    out.set_item("converged", model.converged)?;
    out.set_item("n_iter", model.n_iter)?;
    out.set_item("lower_bound", model.lower_bound)?;
    out.set_item("lower_bounds", model.history.clone().into_pyarray(py))?;
    if let Some(p) = &model.bayesian {
        out.set_item("posterior", posterior_dict(py, p)?)?;
    }
    Ok(out)
}

/// scikit-learn's fitted parameters of a model: `weights`, `means`,
/// `covariances` and `precisions_cholesky` in its shapes, and
/// `n_parameters`.
fn parameters_dict<'py>(
    py: Python<'py>,
    model: &GaussianMixtureModel,
) -> PyResult<Bound<'py, PyDict>> {
    let (k, d) = (model.k(), model.d());
    let out = PyDict::new(py);
    out.set_item("weights", model.weights().to_vec().into_pyarray(py))?;
    out.set_item(
        "means",
        Array2::from_shape_vec((k, d), model.means().to_vec())
            .expect("k × d means")
            .into_pyarray(py),
    )?;
    let shape = covariance_shape(model.covariance_type(), k, d);
    out.set_item(
        "covariances",
        shaped(py, shape.clone(), model.covariances()),
    )?;
    out.set_item(
        "precisions_cholesky",
        shaped(py, shape, model.precisions_cholesky()),
    )?;
    out.set_item("n_parameters", model.n_parameters())?;
    Ok(out)
}

/// The initialisation of scikit-learn's arguments: given parameters
/// (`weights_init`, `means_init` and the covariances of `precisions_init`
/// together), given means alone, or the method `init_params`.
fn init_of(
    init_params: &str,
    weights_init: Option<PyReadonlyArrayDyn<'_, f64>>,
    means_init: Option<PyReadonlyArrayDyn<'_, f64>>,
    covariances_init: Option<PyReadonlyArrayDyn<'_, f64>>,
) -> PyResult<Init> {
    Ok(match (weights_init, means_init, covariances_init) {
        (Some(w), Some(m), Some(c)) => Init::Parameters {
            weights: flat(&w),
            means: flat(&m),
            covariances: flat(&c),
        },
        (None, Some(m), None) => Init::Means(m.as_array().iter().map(|&v| v as f32).collect()),
        (None, None, None) => match init_params {
            "kmeans" => Init::KMeans,
            "auto" => Init::Auto,
            "kmeans-sample" => Init::KMeansSample,
            "k-means++" => Init::KMeansPlusPlus,
            "random" => Init::Random,
            "random_from_data" => Init::RandomFromData,
            other => {
                return Err(PyValueError::new_err(format!(
                    "init_params='{other}' is not one of 'kmeans', 'kmeans-sample', 'auto', 'k-means++', 'random', \
                     'random_from_data'"
                )));
            }
        },
        _ => {
            return Err(PyValueError::new_err(
                "give means_init alone, or weights_init, means_init and precisions_init together",
            ));
        }
    })
}

/// `d[key]`, `None` when absent or `None`.
macro_rules! optional {
    ($d:expr, $key:literal, $t:ty) => {
        match $d.get_item($key)? {
            Some(v) if !v.is_none() => Some(v.extract::<$t>()?),
            _ => None,
        }
    };
}

/// `d[key]`, an error naming it when absent.
macro_rules! required {
    ($d:expr, $key:literal, $t:ty) => {
        optional!($d, $key, $t)
            .ok_or_else(|| PyValueError::new_err(concat!("missing '", $key, "'")))?
    };
}

fn weight_prior(name: &str) -> PyResult<WeightPrior> {
    name.replace('_', "-")
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("weight_concentration_prior_type: {e}")))
}

/// The priors of a Bayesian fit from scikit-learn's parameter names (`None`:
/// its default).
fn bayesian_prior(d: &Bound<'_, PyDict>) -> PyResult<BayesianPrior> {
    let kind = optional!(d, "weight_concentration_prior_type", String);
    Ok(BayesianPrior {
        weight_prior: kind
            .as_deref()
            .map(weight_prior)
            .transpose()?
            .unwrap_or_default(),
        weight_concentration: optional!(d, "weight_concentration_prior", f64),
        mean_precision: optional!(d, "mean_precision_prior", f64),
        mean: optional!(d, "mean_prior", Vec<f64>),
        dof: optional!(d, "degrees_of_freedom_prior", f64),
        covariance: optional!(d, "covariance_prior", Vec<f64>),
    })
}

/// scikit-learn's fitted attributes of the posterior (`weight_concentration_`
/// a pair of arrays for the Dirichlet process, one array otherwise).
fn posterior_dict<'py>(py: Python<'py>, p: &Posterior) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let name = p.prior.weight_prior.name().replace('-', "_");
    out.set_item("weight_concentration_prior_type", name)?;
    out.set_item("weight_concentration_prior", p.prior.weight_concentration)?;
    out.set_item("mean_precision_prior", p.prior.mean_precision)?;
    out.set_item("mean_prior", p.prior.mean.clone().into_pyarray(py))?;
    out.set_item("degrees_of_freedom_prior", p.prior.dof)?;
    out.set_item(
        "covariance_prior",
        p.prior.covariance.clone().into_pyarray(py),
    )?;
    out.set_item(
        "concentration_a",
        p.concentration_a.clone().into_pyarray(py),
    )?;
    out.set_item(
        "concentration_b",
        p.concentration_b.clone().into_pyarray(py),
    )?;
    out.set_item("mean_precision", p.mean_precision.clone().into_pyarray(py))?;
    out.set_item("degrees_of_freedom", p.dof.clone().into_pyarray(py))?;
    Ok(out)
}

/// The posterior back from [`posterior_dict`]'s keys.
fn posterior_of(d: &Bound<'_, PyDict>) -> PyResult<Posterior> {
    let kind = required!(d, "weight_concentration_prior_type", String);
    let cov_prior = required!(d, "covariance_prior", Vec<f64>);
    Ok(Posterior {
        prior: ResolvedPrior {
            weight_prior: weight_prior(&kind)?,
            weight_concentration: required!(d, "weight_concentration_prior", f64),
            mean_precision: required!(d, "mean_precision_prior", f64),
            mean: required!(d, "mean_prior", Vec<f64>),
            dof: required!(d, "degrees_of_freedom_prior", f64),
            covariance: cov_prior,
        },
        concentration_a: required!(d, "concentration_a", Vec<f64>),
        concentration_b: required!(d, "concentration_b", Vec<f64>),
        mean_precision: required!(d, "mean_precision", Vec<f64>),
        dof: required!(d, "degrees_of_freedom", Vec<f64>),
    })
}

fn mixture(
    covariance_type: &str,
    weights: &PyReadonlyArrayDyn<'_, f64>,
    means: &PyReadonlyArrayDyn<'_, f64>,
    covariances: &PyReadonlyArrayDyn<'_, f64>,
    posterior: Option<&Bound<'_, PyDict>>,
) -> PyResult<GaussianMixtureModel> {
    let cov = self::covariance_type(covariance_type)?;
    match posterior {
        Some(p) => GaussianMixtureModel::from_posterior(
            cov,
            flat(means),
            flat(covariances),
            posterior_of(p)?,
        ),
        None => GaussianMixtureModel::from_parameters(
            cov,
            flat(weights),
            flat(means),
            flat(covariances),
        ),
    }
    .map_err(err)
}

/// Per-row results of a mixture: `what` is "proba" (n × k responsibilities),
/// "score_samples" (n log-likelihoods) or "predict" (n int32 labels). With
/// `posterior` (a Bayesian fit's), the variational expectations.
#[pyfunction]
#[pyo3(signature = (x, what, covariance_type, weights, means, covariances, posterior = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gmm_rows<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    what: &str,
    covariance_type: &str,
    weights: PyReadonlyArrayDyn<'py, f64>,
    means: PyReadonlyArrayDyn<'py, f64>,
    covariances: PyReadonlyArrayDyn<'py, f64>,
    posterior: Option<&Bound<'py, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let input = Input::extract(x)?;
    let model = mixture(covariance_type, &weights, &means, &covariances, posterior)?;
    let k = model.k();
    match what {
        "proba" => {
            let (v, n) = run_detached(py, &input, |src| {
                Ok((model.predict_proba(src).map_err(err)?, src.n_rows()))
            })?;
            Ok(Array2::from_shape_vec((n, k), v)
                .expect("n × k")
                .into_pyarray(py)
                .into_any()
                .unbind())
        }
        "score_samples" => {
            let v = run_detached(py, &input, |src| {
                let mut out = Vec::with_capacity(src.n_rows());
                model
                    .score_samples_each(src, PassOptions::default(), |ll| {
                        out.extend_from_slice(ll);
                        Ok(())
                    })
                    .map_err(err)?;
                Ok(out)
            })?;
            Ok(v.into_pyarray(py).into_any().unbind())
        }
        "predict" => {
            let v = run_detached(py, &input, |src| model.predict(src).map_err(err))?;
            let v: Vec<i32> = v.into_iter().map(|l| l as i32).collect();
            Ok(v.into_pyarray(py).into_any().unbind())
        }
        other => Err(PyValueError::new_err(format!(
            "unknown gmm_rows kind '{other}'"
        ))),
    }
}

/// Mean log-likelihood per row (variational expectations with `posterior`).
#[pyfunction]
#[pyo3(signature = (x, covariance_type, weights, means, covariances, posterior = None))]
pub(crate) fn gmm_score<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    covariance_type: &str,
    weights: PyReadonlyArrayDyn<'py, f64>,
    means: PyReadonlyArrayDyn<'py, f64>,
    covariances: PyReadonlyArrayDyn<'py, f64>,
    posterior: Option<&Bound<'py, PyDict>>,
) -> PyResult<f64> {
    let input = Input::extract(x)?;
    let model = mixture(covariance_type, &weights, &means, &covariances, posterior)?;
    run_detached(py, &input, |src| {
        model.score(src, PassOptions::default()).map_err(err)
    })
}

/// `n` rows drawn from the mixture (float32) and their components (int32).
#[pyfunction]
pub(crate) fn gmm_sample<'py>(
    py: Python<'py>,
    n: usize,
    seed: u64,
    covariance_type: &str,
    weights: PyReadonlyArrayDyn<'py, f64>,
    means: PyReadonlyArrayDyn<'py, f64>,
    covariances: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<crate::RowsAndInts<'py>> {
    let model = mixture(covariance_type, &weights, &means, &covariances, None)?;
    let d = model.d();
    let (x, labels) = py.detach(|| model.sample(n, seed)).map_err(err)?;
    let labels: Vec<i32> = labels.into_iter().map(|l| l as i32).collect();
    Ok((
        Array2::from_shape_vec((n, d), x)
            .expect("n × d samples")
            .into_pyarray(py),
        labels.into_pyarray(py),
    ))
}

//! Gaussian mixtures: fit, and the per-row functions of a mixture given by
//! its parameters (predict, predict_proba, score_samples), and sampling.

use mmclust_core::parallel::PassOptions;
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmError, GmmParams, Init, Precision};
use numpy::ndarray::{Array2, ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Input, engine_error, run_detached};

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
    weights_init = None, means_init = None, covariances_init = None, precision = "f64"
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
) -> PyResult<Bound<'py, PyDict>> {
    let input = Input::extract(x)?;
    let cov = self::covariance_type(covariance_type)?;
    let precision: Precision = precision
        .parse()
        .map_err(|e: String| PyValueError::new_err(format!("precision: {e}")))?;
    let init = match (weights_init, means_init, covariances_init) {
        (Some(w), Some(m), Some(c)) => Init::Parameters {
            weights: flat(&w),
            means: flat(&m),
            covariances: flat(&c),
        },
        (None, Some(m), None) => Init::Means(m.as_array().iter().map(|&v| v as f32).collect()),
        (None, None, None) => match init_params {
            "kmeans" => Init::KMeans,
            "k-means++" => Init::KMeansPlusPlus,
            "random" => Init::Random,
            "random_from_data" => Init::RandomFromData,
            other => {
                return Err(PyValueError::new_err(format!(
                    "init_params='{other}' is not one of 'kmeans', 'k-means++', 'random', \
                     'random_from_data'"
                )));
            }
        },
        _ => {
            return Err(PyValueError::new_err(
                "give means_init alone, or weights_init, means_init and precisions_init together",
            ));
        }
    };
    let params = GmmParams::new(n_components)
        .covariance(cov)
        .init(init)
        .n_init(n_init)
        .max_iter(max_iter)
        .tol(tol)
        .reg_covar(reg_covar)
        .precision(precision)
        .seed(seed);
    let model = run_detached(py, &input, |src| params.fit(src).map_err(err))?;
    let (k, d) = (model.k(), model.d());
    let out = PyDict::new(py);
    out.set_item("weights", model.weights().to_vec().into_pyarray(py))?;
    out.set_item(
        "means",
        Array2::from_shape_vec((k, d), model.means().to_vec())
            .expect("k × d means")
            .into_pyarray(py),
    )?;
    let shape = covariance_shape(cov, k, d);
    out.set_item(
        "covariances",
        shaped(py, shape.clone(), model.covariances()),
    )?;
    out.set_item(
        "precisions_cholesky",
        shaped(py, shape, model.precisions_cholesky()),
    )?;
    out.set_item("converged", model.converged)?;
    out.set_item("n_iter", model.n_iter)?;
    out.set_item("lower_bound", model.lower_bound)?;
    out.set_item("n_parameters", model.n_parameters())?;
    Ok(out)
}

fn mixture(
    covariance_type: &str,
    weights: &PyReadonlyArrayDyn<'_, f64>,
    means: &PyReadonlyArrayDyn<'_, f64>,
    covariances: &PyReadonlyArrayDyn<'_, f64>,
) -> PyResult<GaussianMixtureModel> {
    GaussianMixtureModel::from_parameters(
        self::covariance_type(covariance_type)?,
        flat(weights),
        flat(means),
        flat(covariances),
    )
    .map_err(err)
}

/// Per-row results of a mixture: `what` is "proba" (n × k responsibilities),
/// "score_samples" (n log-likelihoods) or "predict" (n int32 labels).
#[pyfunction]
pub(crate) fn gmm_rows<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    what: &str,
    covariance_type: &str,
    weights: PyReadonlyArrayDyn<'py, f64>,
    means: PyReadonlyArrayDyn<'py, f64>,
    covariances: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Py<PyAny>> {
    let input = Input::extract(x)?;
    let model = mixture(covariance_type, &weights, &means, &covariances)?;
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

/// Mean log-likelihood per row.
#[pyfunction]
pub(crate) fn gmm_score<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    covariance_type: &str,
    weights: PyReadonlyArrayDyn<'py, f64>,
    means: PyReadonlyArrayDyn<'py, f64>,
    covariances: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<f64> {
    let input = Input::extract(x)?;
    let model = mixture(covariance_type, &weights, &means, &covariances)?;
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
    let model = mixture(covariance_type, &weights, &means, &covariances)?;
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

//! Kernel K-means and spectral clustering through Nyström features
//! (`mmclust-kernel`): fit, and predict from the model's JSON text and its
//! arrays (the state the Python estimators keep, as the CLI's model file and
//! sidecar hold it).

use mmclust_kernel::{
    KernelError, KernelKMeansModel, KernelKind, LandmarkInit, NystromParams, SpectralModel,
    fit_kernel_kmeans, fit_spectral,
};
use mmclust_kmeans::{FitHooks, Init, KMeansParams};
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Input, engine_error, run_detached};

fn err(e: KernelError) -> PyErr {
    let input = e.is_input_error();
    engine_error(e, input)
}

fn as_i32(labels: Vec<u32>) -> Vec<i32> {
    labels.into_iter().map(|v| v as i32).collect()
}

/// Fits kernel K-means (`method="kmeans"`) or spectral clustering
/// (`method="spectral"`); returns a dict with `model` (the model file's JSON
/// text), `arrays` (its sidecar's float64 values), `labels` (int32), `gamma`,
/// `n_components`, `inertia` and `n_iter`.
#[pyfunction]
#[pyo3(signature = (
    x, n_clusters, *, method, kernel, gamma, degree, coef0, n_landmarks, landmark_init,
    seed, n_init, max_iter
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn kernel_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_clusters: usize,
    method: &str,
    kernel: &str,
    gamma: Option<f64>,
    degree: u32,
    coef0: f64,
    n_landmarks: usize,
    landmark_init: &str,
    seed: u64,
    n_init: Option<usize>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let input = Input::extract(x)?;
    let kind = match kernel {
        "rbf" => KernelKind::Rbf,
        "poly" | "polynomial" => KernelKind::Polynomial { degree, coef0 },
        other => {
            return Err(PyValueError::new_err(format!(
                "kernel='{other}' is not one of 'rbf', 'polynomial' ('poly')"
            )));
        }
    };
    let landmark_init = match landmark_init {
        "k-means++" => LandmarkInit::KMeansPlusPlus,
        "uniform" => LandmarkInit::Uniform,
        other => {
            return Err(PyValueError::new_err(format!(
                "landmark_init='{other}' is not one of 'k-means++', 'uniform'"
            )));
        }
    };
    if n_init == Some(0) || max_iter == 0 {
        return Err(PyValueError::new_err(
            "n_init and max_iter must be at least 1",
        ));
    }
    let nys = NystromParams {
        kernel: kind,
        gamma,
        n_landmarks,
        landmark_init,
        seed,
        scale_neighbour: None,
        cache_features: true,
    };
    let mut params = KMeansParams::new(n_clusters)
        .init(Init::KMeansPlusPlus)
        .max_iter(max_iter)
        .seed(seed);
    // None: the engine's default (fit_kernel_kmeans_then's).
    params.n_init = n_init;
    let spectral = match method {
        "kmeans" => false,
        "spectral" => true,
        other => {
            return Err(PyValueError::new_err(format!(
                "method='{other}' is not 'kmeans' or 'spectral'"
            )));
        }
    };
    let (json, arrays, labels, gamma, mp, inertia, n_iter) = run_detached(py, &input, |src| {
        let name = "arrays.npy";
        if spectral {
            let m = fit_spectral(&nys, &params, src, FitHooks::default()).map_err(err)?;
            let labels = m.predict(src).map_err(err)?;
            let (json, arrays) = m.to_json(name, None);
            let e = &m.embedding;
            Ok((
                json,
                arrays,
                labels,
                e.map.kernel.gamma(),
                e.map.n_components,
                m.kmeans.inertia,
                m.kmeans.n_iter,
            ))
        } else {
            let m = fit_kernel_kmeans(&nys, &params, src, FitHooks::default()).map_err(err)?;
            let labels = m.predict(src).map_err(err)?;
            let (json, arrays) = m.to_json(name, None);
            Ok((
                json,
                arrays,
                labels,
                m.map.kernel.gamma(),
                m.map.n_components,
                m.kmeans.inertia,
                m.kmeans.n_iter,
            ))
        }
    })?;
    let d = PyDict::new(py);
    d.set_item("model", json.to_string())?;
    d.set_item("arrays", arrays.into_pyarray(py))?;
    d.set_item("labels", as_i32(labels).into_pyarray(py))?;
    d.set_item("gamma", gamma)?;
    d.set_item("n_components", mp)?;
    d.set_item("inertia", inertia)?;
    d.set_item("n_iter", n_iter)?;
    Ok(d)
}

/// Labels of `x` under a model given as its JSON text and arrays.
#[pyfunction]
pub(crate) fn kernel_predict<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    model: &str,
    arrays: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, numpy::PyArray1<i32>>> {
    let input = Input::extract(x)?;
    let values: Vec<f64> = arrays.as_array().iter().copied().collect();
    let kind = mmclust_kernel::model::kind_of(model);
    let labels = run_detached(py, &input, |src| match kind.as_deref() {
        Some(mmclust_kernel::model::SPECTRAL_KIND) => SpectralModel::from_json(model, &values)
            .and_then(|m| m.predict(src))
            .map_err(err),
        _ => KernelKMeansModel::from_json(model, &values)
            .and_then(|m| m.predict(src))
            .map_err(err),
    })?;
    Ok(as_i32(labels).into_pyarray(py))
}

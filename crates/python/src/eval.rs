//! Scores and the elbow sweep.

use mmclust_core::parallel::PassOptions;
use mmclust_eval::{EvalError, Labels, SilhouetteParams, SweepParams};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Input, engine_error, run_detached};

fn err(e: EvalError) -> PyErr {
    let input = e.is_input_error();
    engine_error(e, input)
}

fn labels_of(labels: &PyReadonlyArray1<'_, i64>) -> PyResult<Labels> {
    let v = labels.as_array().iter().copied().collect::<Vec<i64>>();
    Labels::new(&v).map_err(err)
}

/// Exact silhouette of every row (or of `sample_size` rows drawn with
/// `seed`, scored against all rows); returns (values, mean, scored rows or None).
/// `metric`: "euclidean" or "cosine" (1 − cos).
#[pyfunction]
#[pyo3(signature = (x, labels, sample_size = None, seed = 0, metric = "euclidean"))]
#[allow(clippy::type_complexity)]
pub(crate) fn silhouette<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
    sample_size: Option<usize>,
    seed: u64,
    metric: &str,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    f64,
    Option<Bound<'py, PyArray1<usize>>>,
)> {
    let input = Input::extract(x)?;
    let labels = labels_of(&labels)?;
    let params = SilhouetteParams {
        sample: sample_size,
        seed,
        metric: crate::kmeans::parse_metric(metric)?,
        ..SilhouetteParams::default()
    };
    let s = run_detached(py, &input, |src| {
        mmclust_eval::silhouette(src, &labels, &params, PassOptions::default()).map_err(err)
    })?;
    Ok((
        s.values.into_pyarray(py),
        s.mean,
        s.rows.map(|r| r.into_pyarray(py)),
    ))
}

/// (Calinski–Harabasz, Davies–Bouldin) of a labelling.
#[pyfunction]
pub(crate) fn cluster_scores<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
) -> PyResult<(f64, f64)> {
    let input = Input::extract(x)?;
    let labels = labels_of(&labels)?;
    let s = run_detached(py, &input, |src| {
        mmclust_eval::cluster_scores(src, &labels, PassOptions::default()).map_err(err)
    })?;
    Ok((s.calinski_harabasz, s.davies_bouldin))
}

/// K-means (k-means++, `n_init` runs) for every k in `k_min..=k_max`: the
/// inertia curve and its knee.
#[pyfunction]
#[pyo3(signature = (x, k_min, k_max, n_init = 3, seed = 0))]
pub(crate) fn elbow<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    k_min: usize,
    k_max: usize,
    n_init: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let input = Input::extract(x)?;
    let params = SweepParams {
        n_init,
        seed,
        standardize: false,
    };
    let e = run_detached(py, &input, |src| {
        mmclust_eval::elbow(src, k_min..=k_max, &params, |_, _| {}).map_err(err)
    })?;
    let out = PyDict::new(py);
    out.set_item("ks", e.ks)?;
    out.set_item("inertia", e.sse)?;
    out.set_item("knee", e.knee)?;
    Ok(out)
}

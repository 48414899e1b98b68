//! K-means: fit (Lloyd, its bounded variants, mini-batch), predict,
//! transform, inertia.

use mmclust_core::parallel::PassOptions;
use mmclust_kmeans::{
    Algorithm, FitHooks, Init, KMeansError, KMeansModel, KMeansParams, Metric, MiniBatchOptions,
    Sampling,
};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Input, engine_error, run_detached};

fn err(e: KMeansError) -> PyErr {
    let input = e.is_input_error();
    engine_error(e, input)
}

fn parse_init(init: &Bound<'_, PyAny>, rounds: usize) -> PyResult<Init> {
    if let Ok(s) = init.extract::<String>() {
        return Ok(match s.as_str() {
            "auto" => Init::Auto,
            "k-means++" => Init::KMeansPlusPlus,
            "k-means||" | "k-means-parallel" => Init::KMeansParallel {
                rounds,
                oversampling: 2.0,
            },
            "random" => Init::Random,
            "sample" => Init::sample(),
            other => {
                return Err(PyValueError::new_err(format!(
                    "init='{other}' is not one of 'k-means++', 'k-means||', 'sample', 'random', 'auto' \
                     or an array of shape (n_clusters, n_features)"
                )));
            }
        });
    }
    let c: PyReadonlyArray2<'_, f32> = init.extract()?;
    Ok(Init::Given(c.as_array().iter().copied().collect()))
}

fn parse_algorithm(name: &str, minibatch: Option<MiniBatchOptions>) -> PyResult<Algorithm> {
    Ok(match (name, minibatch) {
        (_, Some(opts)) => Algorithm::MiniBatch(Box::new(opts)),
        ("lloyd", None) => Algorithm::Lloyd,
        // scikit-learn's bounded exact variant; ours gives Lloyd's answer too.
        ("elkan" | "hamerly", None) => Algorithm::Hamerly,
        ("yinyang", None) => Algorithm::Yinyang,
        ("auto", None) => Algorithm::Auto,
        (other, None) => {
            return Err(PyValueError::new_err(format!(
                "algorithm='{other}' is not one of 'lloyd', 'elkan', 'hamerly', 'yinyang', 'auto'"
            )));
        }
    })
}

/// `metric="euclidean"` or `"cosine"` (spherical K-means).
pub(crate) fn parse_metric(name: &str) -> PyResult<Metric> {
    Metric::from_name(name).map_err(|_| {
        PyValueError::new_err(format!(
            "metric={name:?} is not one of 'euclidean', 'cosine'"
        ))
    })
}

fn centers_array(
    py: Python<'_>,
    centers: Vec<f32>,
    k: usize,
    d: usize,
) -> Bound<'_, PyArray2<f32>> {
    Array2::from_shape_vec((k, d), centers)
        .expect("k × d centres")
        .into_pyarray(py)
}

/// Fits K-means; returns a dict with `cluster_centers` (k × d float32),
/// `inertia`, `n_iter`, `converged`, `init` (what `auto` resolved to) and
/// `run_inertias`.
#[pyfunction]
#[pyo3(signature = (
    x, n_clusters, *, init, n_init, max_iter, tol, seed, algorithm,
    sample_weight = None, init_rounds = 5, minibatch = false, batch_size = 1024,
    block_rows = 256, max_no_improvement = None, reassignment_ratio = 0.01,
    init_size = None, refine = 0, metric = "euclidean"
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn kmeans_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_clusters: usize,
    init: &Bound<'py, PyAny>,
    n_init: Option<usize>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    algorithm: &str,
    sample_weight: Option<PyReadonlyArray1<'py, f32>>,
    init_rounds: usize,
    minibatch: bool,
    batch_size: usize,
    block_rows: usize,
    max_no_improvement: Option<usize>,
    reassignment_ratio: f64,
    init_size: Option<usize>,
    refine: usize,
    metric: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let input = Input::extract(x)?;
    let opts = minibatch.then(|| MiniBatchOptions {
        batch_size,
        sampling: if block_rows == 0 {
            Sampling::Rows
        } else {
            Sampling::Blocks { rows: block_rows }
        },
        max_no_improvement,
        reassignment_ratio,
        init_size,
        final_pass: true,
        refine,
        ..MiniBatchOptions::default()
    });
    let mut params = KMeansParams::new(n_clusters)
        .init(parse_init(init, init_rounds)?)
        .algorithm(parse_algorithm(algorithm, opts)?)
        .max_iter(max_iter)
        .tol(tol)
        .seed(seed)
        .metric(parse_metric(metric)?);
    params.n_init = n_init;
    let weights = sample_weight.as_ref().map(|w| w.as_slice()).transpose()?;
    let model = run_detached(py, &input, |src| {
        params
            .fit_with(src, weights, FitHooks::default())
            .map_err(err)
    })?;
    let out = PyDict::new(py);
    out.set_item("inertia", model.inertia)?;
    out.set_item("n_iter", model.n_iter)?;
    out.set_item("converged", model.converged)?;
    out.set_item("init", model.init.clone())?;
    out.set_item("algorithm", model.algorithm.clone())?;
    out.set_item("run_inertias", model.run_inertias.clone())?;
    out.set_item("distinct_centers", model.distinct_centers)?;
    out.set_item("fit_seconds", model.fit_seconds)?;
    out.set_item("epochs", model.epochs)?;
    let (k, d) = (model.k, model.d);
    out.set_item(
        "cluster_centers",
        centers_array(py, model.centers_original_units(), k, d),
    )?;
    Ok(out)
}

/// A model of the given centres; cosine: rows are normalised as they are
/// read and scores are 1 − cos (the centres of a cosine fit are unit vectors).
fn model_of(centers: &PyReadonlyArray2<'_, f32>, metric: &str) -> PyResult<KMeansModel> {
    let (k, d) = (centers.shape()[0], centers.shape()[1]);
    let mut model = KMeansModel::from_centers(centers.as_array().iter().copied().collect(), k, d)
        .map_err(err)?;
    model.metric = parse_metric(metric)?;
    Ok(model)
}

/// Nearest centre (int32) of every row, and with `with_distances` its squared
/// distance (float32; cosine: 1 − cos); without, only the labels are kept (4
/// bytes per row).
#[pyfunction]
#[pyo3(signature = (x, centers, with_distances = true, metric = "euclidean"))]
#[allow(clippy::type_complexity)]
pub(crate) fn kmeans_predict<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: PyReadonlyArray2<'py, f32>,
    with_distances: bool,
    metric: &str,
) -> PyResult<(Bound<'py, PyArray1<i32>>, Option<Bound<'py, PyArray1<f32>>>)> {
    let input = Input::extract(x)?;
    let model = model_of(&centers, metric)?;
    let (labels, dist) = run_detached(py, &input, |src| {
        let mut labels = Vec::with_capacity(src.n_rows());
        let mut dist = Vec::with_capacity(if with_distances { src.n_rows() } else { 0 });
        model
            .predict_each(src, PassOptions::default(), |l, dd| {
                labels.extend(l.iter().map(|&v| v as i32));
                if with_distances {
                    dist.extend_from_slice(dd);
                }
                Ok(())
            })
            .map_err(err)?;
        Ok((labels, with_distances.then_some(dist)))
    })?;
    Ok((labels.into_pyarray(py), dist.map(|d| d.into_pyarray(py))))
}

/// Euclidean distance of every row to every centre (n × k float32; cosine:
/// 1 − cos).
#[pyfunction]
#[pyo3(signature = (x, centers, metric = "euclidean"))]
pub(crate) fn kmeans_transform<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: PyReadonlyArray2<'py, f32>,
    metric: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let input = Input::extract(x)?;
    let model = model_of(&centers, metric)?;
    let k = model.k;
    let (out, n) = run_detached(py, &input, |src| {
        let n = src.n_rows();
        let mut out = Vec::with_capacity(n * k);
        model
            .transform_each(src, PassOptions::default(), |rows| {
                out.extend_from_slice(rows);
                Ok(())
            })
            .map_err(err)?;
        Ok((out, n))
    })?;
    Ok(Array2::from_shape_vec((n, k), out)
        .expect("n × k distances")
        .into_pyarray(py))
}

/// Sum of (weighted) squared distances of the rows to their nearest centre
/// (cosine: Σ w·(1 − cos)).
#[pyfunction]
#[pyo3(signature = (x, centers, sample_weight = None, metric = "euclidean"))]
pub(crate) fn kmeans_inertia<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: PyReadonlyArray2<'py, f32>,
    sample_weight: Option<PyReadonlyArray1<'py, f32>>,
    metric: &str,
) -> PyResult<f64> {
    let input = Input::extract(x)?;
    let model = model_of(&centers, metric)?;
    let weights = sample_weight.as_ref().map(|w| w.as_slice()).transpose()?;
    run_detached(py, &input, |src| {
        model
            .inertia_of(src, weights, PassOptions::default())
            .map_err(err)
    })
}

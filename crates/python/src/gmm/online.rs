//! `GaussianMixture.partial_fit`: one step of online EM per call, through
//! the engine's [`GmmParams::online_start`] and [`GmmParams::online_update`]
//! (the functions `mmclust gmm --online` runs). The state between calls
//! travels as the JSON of [`OnlineState`], the format of the command line's
//! checkpoints, so estimators pickle as plain Python values.

use mmclust_gmm::{GmmParams, OnlineState, Precision};
use numpy::PyReadonlyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{covariance_type, err, init_of, parameters_dict};
use crate::{Input, run_detached};

/// One step of online EM on the rows of `x`; returns scikit-learn's fitted
/// attributes (`weights`, `means`, `covariances`, `precisions_cholesky`),
/// `n_steps`, `lower_bound` (the batch's mean log-likelihood before the
/// step) and `state` (for the next call). Without `state`, the
/// initialisation runs on `x` first (`init_params` on its rows, or the given
/// parameters as they are).
#[pyfunction]
#[pyo3(signature = (
    x, n_components, *, covariance_type, tol, reg_covar, init_params, seed, step_decay,
    state = None, weights_init = None, means_init = None, covariances_init = None,
    precision = "f64"
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gmm_partial_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    n_components: usize,
    covariance_type: &str,
    tol: f64,
    reg_covar: f64,
    init_params: &str,
    seed: u64,
    step_decay: f64,
    state: Option<&str>,
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
    let init = init_of(init_params, weights_init, means_init, covariances_init)?;
    let params = GmmParams::new(n_components)
        .covariance(cov)
        .init(init)
        .tol(tol)
        .reg_covar(reg_covar)
        .precision(precision)
        .seed(seed);
    let state: Option<OnlineState> = state
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| PyValueError::new_err(format!("the online state is corrupt: {e}")))
        })
        .transpose()?;
    let (state, ll, model) = run_detached(py, &input, |src| {
        let mut state = match state {
            Some(s) => s,
            None => params.online_start(src).map_err(err)?,
        };
        let ll = params
            .online_update(&mut state, src, step_decay)
            .map_err(err)?;
        let model = state.model(&params, step_decay).map_err(err)?;
        Ok((state, ll, model))
    })?;
    let out = parameters_dict(py, &model)?;
    out.set_item("n_steps", state.step)?;
    out.set_item("lower_bound", ll)?;
    let text = serde_json::to_string(&state).expect("the online state serialises");
    out.set_item("state", text)?;
    Ok(out)
}

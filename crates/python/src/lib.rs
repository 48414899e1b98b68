//! `mmclust._native`: the engine's entry points for the Python package
//! `mmclust` (crates/python/python/mmclust), which wraps them in
//! scikit-learn-style estimators.
//!
//! The functions here are thin: they turn Python inputs into
//! [`mmclust_core::DataSource`]s (see `source.rs`), call the same library
//! functions with the same parameters as the command line (so a seed gives
//! the CLI's answer bit for bit), and return NumPy arrays. Estimator state
//! lives in Python as plain arrays, so estimators pickle and clone like
//! scikit-learn's.
//!
//! Every call that reads data runs the engine on a worker thread with the GIL
//! released (`run_detached`); the calling thread waits, checking for
//! signals, so Ctrl-C interrupts a fit within one chunk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mmclust_core::DataSource;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

mod eval;
mod gmm;
mod kernel;
mod kmeans;
mod source;

pub(crate) use source::Input;

/// Rows (float32, n × d) and one int32 per row: samples and their components.
pub(crate) type RowsAndInts<'py> = (
    Bound<'py, numpy::PyArray2<f32>>,
    Bound<'py, numpy::PyArray1<i32>>,
);
use source::Interruptible;

/// How often the waiting thread checks for signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// An engine error as a Python exception: `ValueError` for what the user can
/// fix (bad input or parameters), `RuntimeError` otherwise; the message is
/// the engine's one line.
pub(crate) fn engine_error(e: impl std::fmt::Display, input_error: bool) -> PyErr {
    if input_error {
        PyValueError::new_err(e.to_string())
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

/// Runs `job` on the data of `input` on a worker thread with the GIL
/// released, while this thread checks for signals. On a signal (Ctrl-C:
/// `KeyboardInterrupt`), the source starts failing its reads, the engine
/// returns at its next chunk, and the signal's exception is raised.
///
/// A panic in the engine (a bug) becomes a `RuntimeError`, never a crash of
/// the interpreter.
pub(crate) fn run_detached<T, F>(py: Python<'_>, input: &Input<'_>, job: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&dyn DataSource) -> PyResult<T> + Send,
{
    let source = input.source();
    let source: &dyn DataSource = &*source;
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let (result, signal) = py.detach(move || {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let worker = scope.spawn(move || {
                let r = job(&Interruptible {
                    inner: source,
                    stop,
                });
                drop(done_tx);
                r
            });
            let mut signal: Option<PyErr> = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(SIGNAL_POLL) {
                if signal.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    stop.store(true, Ordering::Relaxed);
                    signal = Some(e);
                }
            }
            (worker.join(), signal)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match result {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in the mmclust engine (please report it): {what}"
            )))
        }
    }
}

/// (rows, columns) of an input, without reading it.
#[pyfunction]
fn shape_of(x: &Bound<'_, PyAny>) -> PyResult<(usize, usize)> {
    let input = Input::extract(x)?;
    let source = input.source();
    Ok((source.n_rows(), source.n_cols()))
}

/// The instruction-set path this process's kernels run (`MMCLUST_ISA`, or
/// the most capable one) and, where the CPU has AMX but the operating system
/// refused its tile data (e.g. an alternate signal stack too small for the
/// tile state), why. Asking detects the paths, which makes the tile-data
/// request once per process.
///
/// # Errors
/// `ValueError` when `MMCLUST_ISA` names no path this CPU has.
#[pyfunction]
fn kernel_path() -> PyResult<(String, Option<String>)> {
    let isa = mmclust_core::isa::Isa::process_default().map_err(|e| engine_error(e, true))?;
    Ok((isa.name().to_owned(), mmclust_core::isa::Isa::amx_refusal()))
}

/// The native module.
#[pymodule]
#[pyo3(name = "_native")]
fn mmclust_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    for function in [
        wrap_pyfunction!(shape_of, m)?,
        wrap_pyfunction!(kernel_path, m)?,
        wrap_pyfunction!(kmeans::kmeans_fit, m)?,
        wrap_pyfunction!(kmeans::kmeans_predict, m)?,
        wrap_pyfunction!(kmeans::kmeans_transform, m)?,
        wrap_pyfunction!(kmeans::kmeans_inertia, m)?,
        wrap_pyfunction!(gmm::gmm_fit, m)?,
        wrap_pyfunction!(gmm::gmm_rows, m)?,
        wrap_pyfunction!(gmm::gmm_score, m)?,
        wrap_pyfunction!(gmm::gmm_sample, m)?,
        wrap_pyfunction!(gmm::gmm_partial_fit, m)?,
        wrap_pyfunction!(eval::silhouette, m)?,
        wrap_pyfunction!(eval::cluster_scores, m)?,
        wrap_pyfunction!(eval::elbow, m)?,
        wrap_pyfunction!(kernel::kernel_fit, m)?,
        wrap_pyfunction!(kernel::kernel_predict, m)?,
    ] {
        m.add_function(function)?;
    }
    Ok(())
}

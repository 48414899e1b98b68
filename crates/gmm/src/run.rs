//! The result of one EM run (initialisation and iterations): what
//! `fit` produces for each run and the model keeps of the best.
//! A leaf, so that `fit` (which makes runs) and `model` (which is built from
//! one) import it without importing each other.

use crate::bayesian::Posterior;
use crate::mixture::Mixture;

/// The result of one run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) mix: Mixture,
    /// The variational posterior (Bayesian fits).
    pub(crate) posterior: Option<Posterior>,
    pub(crate) lower_bound: f64,
    pub(crate) n_iter: usize,
    pub(crate) converged: bool,
    pub(crate) history: Vec<f64>,
    pub(crate) init_seconds: f64,
    pub(crate) iter_seconds: f64,
    /// Iterations whose pass ran in `f32` ([`crate::Precision::F32`]).
    pub(crate) f32_iterations: usize,
}

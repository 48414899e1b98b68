//! Checkpoints of a full-batch EM fit (maximum likelihood or variational
//! Bayes): the state between two iterations, written through
//! [`crate::FitHooks::on_em_checkpoint`], and the in-memory state a resumed
//! fit rebuilds from it.
//!
//! What determines the rest of a fit is the current run's mixture (for a
//! Bayesian fit, its posterior: the mixture of the next E-step is derived
//! from it), its lower bounds so far (the convergence test compares with the
//! last one), which run of `n_init` it is, and what the finished runs left:
//! their lower bounds, the best of them, the first failure. The mixture's
//! precision factors are not stored: they are factored again from the
//! covariances, by the same code, to the same bits. Nothing of the
//! initialisation is needed (a checkpoint is taken after an iteration), and
//! the statistics pass and the Bayesian priors are recomputed from the data,
//! deterministically.
//!
//! This module holds the data (it is what [`crate::GmmParams`] carries);
//! checking a state and turning it into runs and back is in `resume`.

use serde::{Deserialize, Serialize};

use crate::error::GmmError;

/// Checkpoints of a full-batch EM fit: when its state goes to
/// [`crate::FitHooks::on_em_checkpoint`], and a state to resume from.
#[derive(Debug, Clone, Default)]
pub struct EmCheckpoints {
    /// Iterations (of each run) between checkpoints (0: none by count).
    pub every: u64,
    /// Also checkpoint when this many seconds have passed since the last one
    /// (0: off). Timing never changes the result: a checkpoint only copies
    /// the state.
    pub seconds: f64,
    /// State to resume from (a checkpoint of a fit with the same data and
    /// parameters): the result is bit for bit that of an uninterrupted fit.
    pub resume: Option<Box<EmState>>,
}

impl EmCheckpoints {
    /// Whether any checkpoint or resume is asked for.
    #[must_use]
    pub fn any(&self) -> bool {
        self.every > 0 || self.seconds > 0.0 || self.resume.is_some()
    }
}

/// The variational posterior's parameters besides the means and
/// covariances (see [`crate::Posterior`]; the priors are resolved again on resume).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PosteriorState {
    /// [`crate::Posterior::concentration_a`].
    pub concentration_a: Vec<f64>,
    /// [`crate::Posterior::concentration_b`] (empty for a Dirichlet distribution).
    pub concentration_b: Vec<f64>,
    /// [`crate::Posterior::mean_precision`].
    pub mean_precision: Vec<f64>,
    /// [`crate::Posterior::dof`].
    pub dof: Vec<f64>,
}

/// One run's state after `iter` iterations: its mixture and what it
/// measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmRunState {
    /// Iterations done.
    pub iter: usize,
    /// The mixture's weights (k); of a Bayesian fit, the posterior's
    /// expected weights.
    pub weights: Vec<f64>,
    /// Its means (k × d).
    pub means: Vec<f64>,
    /// Its covariances, in the layout of the covariance type.
    pub covariances: Vec<f64>,
    /// The variational posterior (Bayesian fits only).
    pub posterior: Option<PosteriorState>,
    /// The lower bound of each iteration (`iter` values).
    pub history: Vec<f64>,
    /// Whether the run converged (a finished run; false for the current one).
    pub converged: bool,
    /// Iterations whose pass ran in `f32`.
    pub f32_iterations: usize,
    /// Seconds of the run's initialisation.
    pub init_seconds: f64,
    /// Seconds of its iterations (over all sessions).
    pub iter_seconds: f64,
}

/// The best finished run so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRun {
    /// Its index among the fit's runs.
    pub run: usize,
    /// Its final state.
    pub state: EmRunState,
}

/// A run that failed (a collapsed component, a non-finite value): the
/// fit's error should every run fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The collapsed component ([`GmmError::Degenerate`]); `None` for a
    /// numerical failure ([`GmmError::Numerical`]).
    pub component: Option<usize>,
    /// Its weight (`None`: not known).
    pub weight: Option<f64>,
    /// Its effective size (`None`: not known).
    pub n_k: Option<f64>,
    /// The detail of a collapse, or the numerical failure's message.
    pub detail: String,
}

impl RunFailure {
    /// The failure of `e`, when it is one a fit goes on after.
    pub(crate) fn of(e: &GmmError) -> Option<Self> {
        let known = |v: f64| v.is_finite().then_some(v);
        match e {
            GmmError::Degenerate {
                component,
                weight,
                n_k,
                detail,
            } => Some(RunFailure {
                component: Some(*component),
                weight: known(*weight),
                n_k: known(*n_k),
                detail: detail.clone(),
            }),
            GmmError::Numerical { message } => Some(RunFailure {
                component: None,
                weight: None,
                n_k: None,
                detail: message.clone(),
            }),
            _ => None,
        }
    }

    /// The error again.
    pub(crate) fn error(&self) -> GmmError {
        match self.component {
            Some(component) => GmmError::Degenerate {
                component,
                weight: self.weight.unwrap_or(f64::NAN),
                n_k: self.n_k.unwrap_or(f64::NAN),
                detail: self.detail.clone(),
            },
            None => GmmError::Numerical {
                message: self.detail.clone(),
            },
        }
    }
}

/// Everything a full-batch EM fit needs to continue after an iteration of
/// run `run`: written to checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmState {
    /// The covariance type's name.
    pub covariance_type: String,
    /// Number of components.
    pub k: usize,
    /// Number of columns.
    pub d: usize,
    /// Whether the fit is variational Bayesian.
    pub bayesian: bool,
    /// Runs the fit makes ([`crate::GmmParams::runs`]).
    pub runs: usize,
    /// The run in progress (0-based).
    pub run: usize,
    /// Final lower bound of each run before `run` (`None`: it failed).
    pub run_lower_bounds: Vec<Option<f64>>,
    /// The best of the runs before `run` (the highest final lower bound,
    /// the first on ties).
    pub best: Option<BestRun>,
    /// The first failure among the runs before `run`.
    pub first_error: Option<RunFailure>,
    /// The run in progress.
    pub current: EmRunState,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure goes through JSON and comes back as the same error, its
    /// unknown (NaN) numbers included.
    #[test]
    fn a_run_failure_comes_back_as_its_error() {
        let errors = [
            GmmError::Degenerate {
                component: 2,
                weight: 0.125,
                n_k: f64::NAN,
                detail: "Cholesky pivot 1 of the covariance is -1.000e-3".into(),
            },
            GmmError::Numerical {
                message: "the log-likelihood of iteration 3 is NaN".into(),
            },
        ];
        for e in errors {
            let failure = RunFailure::of(&e).expect("a run failure");
            let text = serde_json::to_string(&failure).unwrap();
            let back: RunFailure = serde_json::from_str(&text).unwrap();
            assert_eq!(back, failure);
            assert_eq!(back.error().to_string(), e.to_string());
        }
        assert!(RunFailure::of(&GmmError::Interrupted { step: 1 }).is_none());
    }
}

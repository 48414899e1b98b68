//! Resuming a full-batch EM fit: a checkpoint's state checked against the
//! fit, turned back into runs (mixtures factored again, to the bits the fit
//! had), and the fit's state around its run in progress built for the next
//! checkpoint.

use mmclust_core::batches::not_a_time;

use crate::bayesian::{Posterior, ResolvedPrior};
use crate::checkpoint::{BestRun, EmRunState, EmState, PosteriorState, RunFailure};
use crate::error::{GmmError, Result};
use crate::mixture::Mixture;
use crate::params::{CovarianceType, GmmParams};
use crate::run::Run;

impl EmRunState {
    /// The state of `run`.
    pub(crate) fn of(run: &Run) -> Self {
        EmRunState {
            iter: run.history.len(),
            weights: run.mix.weights.clone(),
            means: run.mix.means.clone(),
            covariances: run.mix.covariances.clone(),
            posterior: run.posterior.as_ref().map(|p| PosteriorState {
                concentration_a: p.concentration_a.clone(),
                concentration_b: p.concentration_b.clone(),
                mean_precision: p.mean_precision.clone(),
                dof: p.dof.clone(),
            }),
            history: run.history.clone(),
            converged: run.converged,
            f32_iterations: run.f32_iterations,
            init_seconds: run.init_seconds,
            iter_seconds: run.iter_seconds,
        }
    }

    /// The run again: the mixture factored from the covariances (for a
    /// Bayesian fit with the posterior's weights and log-terms, under
    /// `prior`), as the run had it.
    pub(crate) fn to_run(
        &self,
        cov_type: CovarianceType,
        prior: Option<&ResolvedPrior>,
    ) -> Result<Run> {
        let k = self.weights.len();
        let d = self.means.len() / k.max(1);
        let (mix, posterior) = match (prior, &self.posterior) {
            (Some(prior), Some(p)) => {
                let post = Posterior {
                    prior: prior.clone(),
                    concentration_a: p.concentration_a.clone(),
                    concentration_b: p.concentration_b.clone(),
                    mean_precision: p.mean_precision.clone(),
                    dof: p.dof.clone(),
                };
                let mix =
                    post.mixture(cov_type, self.means.clone(), self.covariances.clone(), None)?;
                (mix, Some(post))
            }
            (None, None) => (
                Mixture::new(
                    cov_type,
                    k,
                    d,
                    self.weights.clone(),
                    self.means.clone(),
                    self.covariances.clone(),
                    None,
                )?,
                None,
            ),
            _ => {
                return Err(GmmError::param(
                    "resume",
                    "the checkpoint's posterior does not match whether this fit is Bayesian",
                ));
            }
        };
        Ok(Run {
            mix,
            posterior,
            lower_bound: self.history.last().copied().unwrap_or(f64::NEG_INFINITY),
            n_iter: self.history.len(),
            converged: self.converged,
            history: self.history.clone(),
            init_seconds: self.init_seconds,
            iter_seconds: self.iter_seconds,
            f32_iterations: self.f32_iterations,
        })
    }

    /// Checks shapes (`k` components of `d` columns of `cov_type`), finite
    /// values and one history entry per iteration; `what` names the run in
    /// messages.
    fn validate(
        &self,
        what: &str,
        cov_type: CovarianceType,
        k: usize,
        d: usize,
        bayesian: bool,
        max_iter: usize,
    ) -> std::result::Result<(), String> {
        let mut lens = vec![
            ("weights", self.weights.len(), k),
            ("means", self.means.len(), k * d),
            (
                "covariances",
                self.covariances.len(),
                cov_type.covariance_len(k, d),
            ),
        ];
        let mut values: Vec<&[f64]> =
            vec![&self.weights, &self.means, &self.covariances, &self.history];
        match (&self.posterior, bayesian) {
            (Some(p), true) => {
                let b_len = if p.concentration_b.is_empty() { 0 } else { k };
                lens.extend([
                    ("concentration_a", p.concentration_a.len(), k),
                    ("concentration_b", p.concentration_b.len(), b_len),
                    ("mean_precision", p.mean_precision.len(), k),
                    ("dof", p.dof.len(), k),
                ]);
                values.extend([
                    p.concentration_a.as_slice(),
                    &p.concentration_b,
                    &p.mean_precision,
                    &p.dof,
                ]);
            }
            (None, false) => {}
            (Some(_), false) => {
                return Err(format!(
                    "{what} holds a variational posterior, but this fit is not Bayesian"
                ));
            }
            (None, true) => {
                return Err(format!(
                    "{what} holds no variational posterior, but this fit is Bayesian"
                ));
            }
        }
        for (name, got, want) in lens {
            if got != want {
                return Err(format!("{what}: \"{name}\" has {got} values, not {want}"));
            }
        }
        if !values.iter().all(|v| v.iter().all(|x| x.is_finite())) {
            return Err(format!("{what} holds a non-finite value"));
        }
        if self.weights.iter().any(|&w| w < 0.0) {
            return Err(format!("{what} has a negative weight"));
        }
        if self.history.len() != self.iter || self.iter > max_iter {
            return Err(format!(
                "{what}: {} history entries for {} iterations (at most max_iter = {max_iter})",
                self.history.len(),
                self.iter
            ));
        }
        if self.f32_iterations > self.iter {
            return Err(format!(
                "{what}: {} f32 iterations of {}",
                self.f32_iterations, self.iter
            ));
        }
        if let Some(m) = not_a_time(&[
            ("init_seconds", self.init_seconds),
            ("iter_seconds", self.iter_seconds),
        ]) {
            return Err(format!("{what}: {m}"));
        }
        Ok(())
    }
}

impl EmState {
    /// Checks that the state is one a fit of `runs` runs of at most
    /// `max_iter` iterations, with k components of d columns of `cov_type`
    /// (Bayesian or not), could have written. A checkpoint is read from a
    /// file; this turns a corrupt one into an error instead of a strange
    /// run.
    ///
    /// # Errors
    /// [`GmmError::InvalidParameter`] (`"resume"`) naming what is wrong.
    pub fn validate(
        &self,
        cov_type: CovarianceType,
        k: usize,
        d: usize,
        bayesian: bool,
        runs: usize,
        max_iter: usize,
    ) -> Result<()> {
        let bad = |m: String| Err(GmmError::param("resume", m));
        let cov: CovarianceType = self
            .covariance_type
            .parse()
            .map_err(|e: String| GmmError::param("resume", e))?;
        if cov != cov_type || self.k != k || self.d != d || self.bayesian != bayesian {
            let kind = |b: bool| if b { "Bayesian" } else { "EM" };
            return bad(format!(
                "the state is of a {} fit with {} covariances, k = {}, d = {}; this fit is {} \
                 with {cov_type}, k = {k}, d = {d}",
                kind(self.bayesian),
                self.covariance_type,
                self.k,
                self.d,
                kind(bayesian)
            ));
        }
        if self.runs != runs || self.run >= runs || self.run_lower_bounds.len() != self.run {
            return bad(format!(
                "run {} of {} with {} finished runs' bounds; this fit makes {runs} runs",
                self.run,
                self.runs,
                self.run_lower_bounds.len()
            ));
        }
        if self
            .run_lower_bounds
            .iter()
            .flatten()
            .any(|v| !v.is_finite())
        {
            return bad("a finished run's lower bound is not finite".into());
        }
        let failed = self.run_lower_bounds.iter().any(Option::is_none);
        let finished = self.run_lower_bounds.iter().any(Option::is_some);
        if failed != self.first_error.is_some() || finished != self.best.is_some() {
            return bad(
                "the finished runs' bounds disagree with the best run or the first failure".into(),
            );
        }
        let check = |s: &EmRunState, what: &str| {
            s.validate(what, cov_type, k, d, bayesian, max_iter)
                .or_else(bad)
        };
        if let Some(b) = &self.best {
            let bound = self.run_lower_bounds.get(b.run).copied().flatten();
            if bound.is_none() || b.state.history.last().copied() != bound {
                return bad(format!(
                    "the best run {} is not a finished run with its lower bound",
                    b.run
                ));
            }
            check(&b.state, "the best run")?;
        }
        if self.current.converged {
            return bad("the run in progress is marked converged".into());
        }
        check(&self.current, "the run in progress")
    }
}

/// What a fit's finished runs left: each one's final lower bound (NaN: it
/// failed), the best of them, and the first failure.
#[derive(Default)]
pub(crate) struct Finished {
    pub(crate) bounds: Vec<f64>,
    pub(crate) best: Option<(usize, Run)>,
    pub(crate) first_error: Option<GmmError>,
}

impl Finished {
    /// Run `r` finished: the best so far if its lower bound is higher
    /// (the first on ties).
    pub(crate) fn push(&mut self, r: usize, run: Run) {
        self.bounds.push(run.lower_bound);
        if self
            .best
            .as_ref()
            .is_none_or(|(_, b)| run.lower_bound > b.lower_bound)
        {
            self.best = Some((r, run));
        }
    }

    /// The next run failed with `e`.
    pub(crate) fn fail(&mut self, e: GmmError) {
        self.bounds.push(f64::NAN);
        self.first_error.get_or_insert(e);
    }

    /// The fit's state with `current` the run in progress (the next one).
    pub(crate) fn state(&self, params: &GmmParams, d: usize, current: &Run) -> EmState {
        EmState {
            covariance_type: params.covariance.name().to_string(),
            k: params.k,
            d,
            bayesian: params.bayesian.is_some(),
            runs: params.runs(),
            run: self.bounds.len(),
            run_lower_bounds: self
                .bounds
                .iter()
                .map(|&b| (!b.is_nan()).then_some(b))
                .collect(),
            best: self.best.as_ref().map(|(r, run)| BestRun {
                run: *r,
                state: EmRunState::of(run),
            }),
            first_error: self.first_error.as_ref().and_then(RunFailure::of),
            current: EmRunState::of(current),
        }
    }

    /// The finished runs of `state` and its run in progress, their mixtures
    /// factored again (a Bayesian fit's under `prior`).
    pub(crate) fn resume(
        state: &EmState,
        cov_type: CovarianceType,
        prior: Option<&ResolvedPrior>,
    ) -> Result<(Finished, Run)> {
        let best = match &state.best {
            Some(b) => Some((b.run, b.state.to_run(cov_type, prior)?)),
            None => None,
        };
        let done = Finished {
            bounds: state
                .run_lower_bounds
                .iter()
                .map(|b| b.unwrap_or(f64::NAN))
                .collect(),
            best,
            first_error: state.first_error.as_ref().map(RunFailure::error),
        };
        Ok((done, state.current.to_run(cov_type, prior)?))
    }
}

//! Per-run state: the result of one Lloyd run, and everything a mini-batch
//! run needs to continue (what its checkpoints hold).

use mmclust_core::batches::{HISTORY_CAP, not_a_time, record_thinned};
use serde::{Deserialize, Serialize};

use crate::error::{KMeansError, Result};

/// The result of one run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) centers: Vec<f32>,
    pub(crate) inertia: f64,
    pub(crate) n_iter: usize,
    pub(crate) converged: bool,
    pub(crate) history: Vec<f64>,
    pub(crate) relocated: usize,
    pub(crate) distinct_init: usize,
    pub(crate) init_seconds: f64,
    pub(crate) iter_seconds: f64,
    pub(crate) distance_evals: u64,
    /// What plain Lloyd would have computed for the same iterations.
    pub(crate) distance_evals_lloyd: u64,
    /// Rows re-checked with the reference scan in the iterations, of
    /// `assigned_rows` assigned.
    pub(crate) rechecks: u64,
    pub(crate) assigned_rows: u64,
}

/// Everything a mini-batch run needs to continue: written to checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiniBatchState {
    /// Number of clusters.
    pub k: usize,
    /// Number of columns.
    pub d: usize,
    /// Steps done.
    pub step: u64,
    /// Steps the run will take at most.
    pub total_steps: u64,
    /// Current centres, k × d.
    pub centers: Vec<f32>,
    /// Accumulated weight per centre.
    pub counts: Vec<f64>,
    /// Smoothed batch inertia (per row), and its lowest value so far.
    pub ewa: Option<f64>,
    /// Lowest smoothed batch inertia so far.
    pub ewa_min: Option<f64>,
    /// Steps since the smoothed inertia last improved.
    pub no_improvement: usize,
    /// Rows seen since the last re-seeding check.
    pub since_reassign: u64,
    /// Centres re-seeded so far.
    pub reassigned: u64,
    /// Smoothed inertia, one entry every `history_stride` steps.
    pub history: Vec<f64>,
    /// Steps between history entries.
    pub history_stride: u64,
    /// Seconds spent on initialisation.
    pub init_seconds: f64,
    /// Seconds spent in steps before this state (over all earlier sessions).
    pub step_seconds: f64,
    /// Whether the run has stopped (converged or out of steps).
    pub done: bool,
    /// Whether it stopped by a convergence criterion.
    pub converged: bool,
    /// Batch rows whose label the pre-screen could not certify, re-checked
    /// with the reference scan (absent from checkpoints written before).
    #[serde(default)]
    pub rechecks: u64,
    /// Batch rows assigned, the denominator of `rechecks`.
    #[serde(default)]
    pub assigned_rows: u64,
}

impl MiniBatchState {
    /// The state of a run of at most `total_steps` steps before its first
    /// step: its initial `centers` (k × d), found in `init_seconds`.
    #[must_use]
    pub fn start(
        k: usize,
        d: usize,
        total_steps: u64,
        centers: Vec<f32>,
        init_seconds: f64,
    ) -> Self {
        MiniBatchState {
            k,
            d,
            step: 0,
            total_steps,
            centers,
            counts: vec![0.0; k],
            ewa: None,
            ewa_min: None,
            no_improvement: 0,
            since_reassign: 0,
            reassigned: 0,
            history: Vec::new(),
            history_stride: 1,
            init_seconds,
            step_seconds: 0.0,
            done: false,
            converged: false,
            rechecks: 0,
            assigned_rows: 0,
        }
    }

    /// Checks that the state is one a run could have written: shapes agree,
    /// every number is finite (weights and times ≥ 0), the history stride is
    /// a power of two (it starts at 1 and doubles) and the step is within the
    /// run. A checkpoint is read from a file; this is what turns a corrupt one
    /// into an error instead of a strange run.
    ///
    /// # Errors
    /// [`KMeansError::InvalidParameter`] (`"resume"`) naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(KMeansError::param("resume", m));
        if self.k == 0 || self.d == 0 {
            return bad(format!(
                "k = {} and d = {} must be at least 1",
                self.k, self.d
            ));
        }
        if self.k.checked_mul(self.d) != Some(self.centers.len()) || self.counts.len() != self.k {
            return bad(format!(
                "{} centre values and {} counts do not fit k = {}, d = {}",
                self.centers.len(),
                self.counts.len(),
                self.k,
                self.d
            ));
        }
        if self.centers.iter().any(|c| !c.is_finite()) {
            return bad("a centre holds a non-finite value".into());
        }
        if self.counts.iter().any(|c| !(c.is_finite() && *c >= 0.0)) {
            return bad("a count is negative or not finite".into());
        }
        let finite = |v: &f64| v.is_finite();
        if !(self.ewa.iter().all(finite)
            && self.ewa_min.iter().all(finite)
            && self.history.iter().all(finite))
        {
            return bad("the smoothed inertia or its history holds a non-finite value".into());
        }
        if !self.history_stride.is_power_of_two() || self.history.len() >= HISTORY_CAP {
            return bad(format!(
                "history_stride {} (a power of two) or history length {} (below {HISTORY_CAP}) is wrong",
                self.history_stride,
                self.history.len()
            ));
        }
        if self.step > self.total_steps {
            return bad(format!(
                "step {} is past the run's {} steps",
                self.step, self.total_steps
            ));
        }
        if let Some(m) = not_a_time(&[
            ("init_seconds", self.init_seconds),
            ("step_seconds", self.step_seconds),
        ]) {
            return bad(m);
        }
        Ok(())
    }

    pub(crate) fn record(&mut self, value: f64) {
        record_thinned(
            &mut self.history,
            &mut self.history_stride,
            self.step,
            value,
        );
    }
}

/// Everything an exact run (Lloyd, Hamerly, Yinyang) needs to continue after
/// `iter` iterations: written to checkpoints. The centres determine the next
/// iteration (the bounded variants assign exactly, their bounds only skip
/// work), so a run resumed from this state gives the bits of an
/// uninterrupted one; its per-row labels and bounds are rebuilt by the first
/// pass after the resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LloydState {
    /// Number of clusters.
    pub k: usize,
    /// Number of columns.
    pub d: usize,
    /// Iterations done.
    pub iter: usize,
    /// The centres after `iter` iterations, k × d.
    pub centers: Vec<f32>,
    /// Inertia of each iteration's assignment.
    pub history: Vec<f64>,
    /// Empty clusters relocated so far.
    pub relocated: usize,
    /// Distinct initial centres.
    pub distinct_init: usize,
    /// Seconds of the initialisation.
    pub init_seconds: f64,
    /// Seconds of the iterations before this state (over all sessions).
    pub iter_seconds: f64,
    /// Distance evaluations so far, and plain Lloyd's for the same iterations.
    pub distance_evals: u64,
    /// See `distance_evals`.
    pub distance_evals_lloyd: u64,
    /// Rows re-checked with the reference scan, of `assigned_rows`.
    pub rechecks: u64,
    /// Rows assigned so far.
    pub assigned_rows: u64,
}

impl LloydState {
    /// Checks that the state is one a run could have written (shapes, finite
    /// values, one history entry per iteration).
    ///
    /// # Errors
    /// [`KMeansError::InvalidParameter`] (`"resume"`) naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(KMeansError::param("resume", m));
        if self.k == 0 || self.d == 0 || self.k.checked_mul(self.d) != Some(self.centers.len()) {
            return bad(format!(
                "{} centre values do not fit k = {}, d = {}",
                self.centers.len(),
                self.k,
                self.d
            ));
        }
        if self.centers.iter().any(|c| !c.is_finite()) {
            return bad("a centre holds a non-finite value".into());
        }
        if self.history.len() != self.iter || self.history.iter().any(|v| !v.is_finite()) {
            return bad(format!(
                "the history has {} entries for {} iterations, or a non-finite one",
                self.history.len(),
                self.iter
            ));
        }
        if let Some(m) = not_a_time(&[
            ("init_seconds", self.init_seconds),
            ("iter_seconds", self.iter_seconds),
        ]) {
            return bad(m);
        }
        Ok(())
    }
}

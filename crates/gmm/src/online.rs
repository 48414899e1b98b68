//! Online (stepwise) EM (Cappé and Moulines 2009): a Gaussian mixture learnt
//! from mini-batches instead of full passes, for data too large or too slow
//! for one pass per iteration.
//!
//! * The run keeps running *normalised* sufficient statistics
//!   `s = (N_k/n, Σ r (x − a)/n, Σ r (x − a)(x − a)ᵀ/n)` (the diagonal for diag
//!   and spherical) about a fixed per-component anchor `a`, the initial means.
//!   Fixed, so the statistics of different steps add up without re-centring
//!   (whose rounding would pile up step after step); the scatter about the
//!   mean is `S2 − N δ δᵀ` with `δ` the mean's distance from the anchor, which
//!   keeps its digits as long as components move a moderate number of
//!   standard deviations from where they started.
//! * Step `t` is the E-step of the current mixture on batch `t` (the EM pass's
//!   kernels over the batch in memory, statistics about the current means,
//!   moved exactly to the anchors), the blend `s ← (1 − η_t) s + η_t ŝ` with
//!   `η_t = (t + 2)^(−α)` (`α` = [`OnlineOptions::step_decay`]; step 0 takes
//!   `s = ŝ`), and the M-step of EM from `s`, which the next E-step uses.
//! * The model is the M-step of a polynomial-decay average of the running
//!   statistics over the steps (Polyak–Ruppert averaging): with α < 1 the
//!   running statistics keep a noise of order `η_t` (they weigh about the
//!   last `1/η_t` batches), their average weighs a fixed share of all the
//!   steps, and its log-likelihood comes much closer to full EM's.
//! * Batches are those of mini-batch K-means ([`mmclust_core::batches`]):
//!   runs of contiguous rows set by (seed, step), read one ahead on a
//!   background thread, E-stepped in fixed 256-row chunks merged by the fixed
//!   tree. So a run gives the same bits on any thread count, and a run resumed
//!   from a checkpoint the same bits as an uninterrupted one.
//! * The initialisation is bounded: the [`crate::Init`] method on one sample
//!   of rows ([`OnlineOptions::init_size`]), never a pass over the data.
//! * The run stops when an exponentially weighted average of the batches'
//!   mean log-likelihood has not risen by more than `tol` for
//!   [`OnlineOptions::max_no_improvement`] steps, or after its step limit;
//!   [`OnlineOptions::refine`] full EM iterations may follow. One final pass
//!   measures the model's log-likelihood on all the data.
//!
//! Memory: two batches, the mixture and the statistics: independent of n.

use std::time::Instant;

use mmclust_core::batches::{
    BatchPlan, Checkpoints, HISTORY_CAP, Sampling, not_a_time, read_ahead, read_rows,
    record_thinned,
};
use mmclust_core::fitting::FitObserver;
use mmclust_core::isa::Isa;
use mmclust_core::parallel::{Chunking, PassOptions};
use mmclust_core::source::Distributed;
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
use mmclust_core::{ArraySource, DataSource, FiniteSource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::EmCheckpoints;
use crate::error::{GmmError, Result};
use crate::fit::{FitData, FitEvent, FitHooks};
use crate::mixture::{Mixture, Stats};
use crate::model::{GaussianMixtureModel, OnlineSummary, StopReason};
use crate::params::{CovarianceType, GmmParams, Init, Precision};
use crate::pass::{em_pass, loglik_pass};
use crate::run::Run;

/// Rows per chunk when a batch is E-stepped (fixed: the result does not
/// depend on the thread count).
const BATCH_CHUNK_ROWS: usize = 256;

/// The default step decay α: inside Cappé and Moulines' range (0.5, 1],
/// near its lower end where steps stay large enough to forget a poor
/// initialisation quickly; Liang and Klein (2009) found 0.5–0.7 best for
/// mini-batch stepwise EM.
pub const DEFAULT_STEP_DECAY: f64 = 0.6;

/// The default batch size: 4096 rows, 16 chunks of 256 rows (enough to keep
/// 16 cores busy). A GMM E-step costs k·d (diag) to k·d² (full) per row, so
/// the per-step serial work (the M-step, O(k·d) to O(k·d³)) is small beside
/// it, and smaller batches mean more updates per row read.
pub const DEFAULT_BATCH_SIZE: usize = 4096;

/// Options of an online fit ([`GmmParams::fit_online`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineOptions {
    /// Rows per batch (default [`DEFAULT_BATCH_SIZE`], rounded up to whole
    /// blocks).
    pub batch_size: usize,
    /// How batches are drawn (default: blocks of 256 contiguous rows).
    pub sampling: Sampling,
    /// The step size's decay α in `η_t = (t + 2)^(−α)`, in (0.5, 1] (default
    /// [`DEFAULT_STEP_DECAY`]).
    pub step_decay: f64,
    /// At most this many steps (default: [`GmmParams::max_iter`] epochs,
    /// n rows' worth of batches each).
    pub max_steps: Option<u64>,
    /// Stop after this many steps without a rise of the smoothed batch
    /// log-likelihood by more than [`GmmParams::tol`] (default 10; `None`:
    /// never).
    pub max_no_improvement: Option<usize>,
    /// Rows sampled for the initialisation (default 3 × batch rows, at
    /// least k, at most n).
    pub init_size: Option<usize>,
    /// Full EM iterations from the online mixture at the end (default 0).
    pub refine: usize,
    /// Steps between checkpoints handed to [`OnlineHooks::on_checkpoint`]
    /// (default 0: only when stopped and at the end).
    pub checkpoint_every: u64,
    /// Also checkpoint when this many seconds have passed since the last one
    /// (default 0: off). Timing never changes the result.
    pub checkpoint_seconds: f64,
    /// State to resume from (a checkpoint of a run with the same data and
    /// parameters).
    pub resume: Option<OnlineState>,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            sampling: Sampling::Blocks { rows: 256 },
            step_decay: DEFAULT_STEP_DECAY,
            max_steps: None,
            max_no_improvement: Some(10),
            init_size: None,
            refine: 0,
            checkpoint_every: 0,
            checkpoint_seconds: 0.0,
            resume: None,
        }
    }
}

impl OnlineOptions {
    fn check(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(GmmError::param("batch_size", "must be at least 1"));
        }
        if let Sampling::Blocks { rows: 0 } = self.sampling {
            return Err(GmmError::param("block_rows", "must be at least 1"));
        }
        check_step_decay(self.step_decay)?;
        if self.max_steps == Some(0) {
            return Err(GmmError::param("max_steps", "must be at least 1"));
        }
        if self.max_no_improvement == Some(0) {
            return Err(GmmError::param(
                "max_no_improvement",
                "must be at least 1 (None: never stop early)",
            ));
        }
        if !(self.checkpoint_seconds.is_finite() && self.checkpoint_seconds >= 0.0) {
            return Err(GmmError::param(
                "checkpoint_seconds",
                "must be a finite number ≥ 0",
            ));
        }
        Ok(())
    }
}

fn check_step_decay(alpha: f64) -> Result<()> {
    if !(alpha > 0.5 && alpha <= 1.0) {
        return Err(GmmError::param(
            "step_decay",
            format!(
                "{alpha} is outside (0.5, 1]: stepwise EM converges for step sizes \
                 (t + 2)^(−α) with 0.5 < α ≤ 1"
            ),
        ));
    }
    Ok(())
}

/// Everything an online run needs to continue: written to checkpoints, and
/// kept between `partial_fit` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineState {
    /// The covariance type's name.
    pub covariance_type: String,
    /// Number of components.
    pub k: usize,
    /// Number of columns.
    pub d: usize,
    /// Steps done.
    pub step: u64,
    /// Steps the run will take at most (0 for `partial_fit`: no limit).
    pub total_steps: u64,
    /// Per component, the point the statistics are about (k × d).
    pub anchor: Vec<f64>,
    /// Running normalised statistics: `N_k / n` (k).
    pub nk: Vec<f64>,
    /// `Σ r (x − a) / n` (k × d).
    pub s1: Vec<f64>,
    /// `Σ r (x − a)(x − a)ᵀ / n`: k packed lower triangles (full, tied) or
    /// k × d diagonals (diag, spherical).
    pub s2: Vec<f64>,
    /// Polynomial-decay averages of the running statistics over the steps
    /// (`avg ← (1 − γ) avg + γ s`, `γ_t = 4 / (t + 4)` after step t ≥ 1):
    /// the model is the M-step of these. Same layouts as `nk`, `s1`, `s2`.
    pub avg_nk: Vec<f64>,
    /// See `avg_nk`.
    pub avg_s1: Vec<f64>,
    /// See `avg_nk`.
    pub avg_s2: Vec<f64>,
    /// The current mixture's weights (k): the one the next E-step uses
    /// (the M-step of the running statistics, not of their averages).
    pub weights: Vec<f64>,
    /// Its means (k × d).
    pub means: Vec<f64>,
    /// Its covariances, in the layout of the covariance type.
    pub covariances: Vec<f64>,
    /// Smoothed batch log-likelihood (per row).
    pub ewa: Option<f64>,
    /// Its highest value when it last rose by more than `tol`.
    pub ewa_best: Option<f64>,
    /// Steps since it last rose by more than `tol`.
    pub no_improvement: usize,
    /// The last batch's mean log-likelihood (under the mixture before the step).
    pub last_batch_log_likelihood: Option<f64>,
    /// Smoothed log-likelihood, one entry every `history_stride` steps.
    pub history: Vec<f64>,
    /// Steps between history entries.
    pub history_stride: u64,
    /// Steps whose E-step ran in `f32`.
    pub f32_steps: u64,
    /// Seconds of the initialisation.
    pub init_seconds: f64,
    /// Seconds spent in steps before this state (over all earlier sessions).
    pub step_seconds: f64,
    /// Whether the run has stopped.
    pub done: bool,
    /// Why (once done).
    pub stop_reason: StopReason,
}

impl OnlineState {
    /// The state before the first step from `mix`: the anchors are its means.
    fn start(mix: &Mixture, total_steps: u64, init_seconds: f64) -> Self {
        let (k, d) = (mix.k, mix.d);
        let zero = Stats::new(mix.cov_type, k, d);
        OnlineState {
            covariance_type: mix.cov_type.name().to_string(),
            k,
            d,
            step: 0,
            total_steps,
            anchor: mix.means.clone(),
            avg_nk: zero.nk.clone(),
            avg_s1: zero.s1.clone(),
            avg_s2: zero.s2.clone(),
            nk: zero.nk,
            s1: zero.s1,
            s2: zero.s2,
            weights: mix.weights.clone(),
            means: mix.means.clone(),
            covariances: mix.covariances.clone(),
            ewa: None,
            ewa_best: None,
            no_improvement: 0,
            last_batch_log_likelihood: None,
            history: Vec::new(),
            history_stride: 1,
            f32_steps: 0,
            init_seconds,
            step_seconds: 0.0,
            done: false,
            stop_reason: StopReason::Running,
        }
    }

    fn cov_type(&self) -> Result<CovarianceType> {
        self.covariance_type
            .parse()
            .map_err(|e: String| GmmError::param("resume", e))
    }

    /// The current mixture (its covariances factored again: the same bits
    /// as the run's).
    fn mixture(&self) -> Result<Mixture> {
        Mixture::new(
            self.cov_type()?,
            self.k,
            self.d,
            self.weights.clone(),
            self.means.clone(),
            self.covariances.clone(),
            None,
        )
    }

    /// The fit's mixture: the M-step of the averaged statistics (the
    /// current mixture before the first step).
    fn averaged_mixture(&self, reg_covar: f64) -> Result<Mixture> {
        if self.step == 0 {
            return self.mixture();
        }
        let averaged = Stats {
            nk: self.avg_nk.clone(),
            s1: self.avg_s1.clone(),
            s2: self.avg_s2.clone(),
            loglik: 0.0,
        };
        averaged.m_step(
            self.cov_type()?,
            self.k,
            self.d,
            &self.anchor,
            reg_covar,
            false,
        )
    }

    /// Checks that the state is one a run could have written for k
    /// components of d columns of `cov_type`: shapes agree, every number is
    /// finite, the history is as thinned. A checkpoint is read from a file;
    /// this turns a corrupt one into an error instead of a strange run.
    ///
    /// # Errors
    /// [`GmmError::InvalidParameter`] (`"resume"`) naming what is wrong.
    pub fn validate(&self, cov_type: CovarianceType, k: usize, d: usize) -> Result<()> {
        let bad = |m: String| Err(GmmError::param("resume", m));
        let cov = self.cov_type()?;
        if cov != cov_type || self.k != k || self.d != d {
            return bad(format!(
                "the state is for {} covariances, k = {}, d = {}; this run has {cov_type}, \
                 k = {k}, d = {d}",
                self.covariance_type, self.k, self.d
            ));
        }
        let zero = Stats::new(cov, k, d);
        let lens = [
            ("anchor", self.anchor.len(), k * d),
            ("nk", self.nk.len(), k),
            ("s1", self.s1.len(), k * d),
            ("s2", self.s2.len(), zero.s2.len()),
            ("avg_nk", self.avg_nk.len(), k),
            ("avg_s1", self.avg_s1.len(), k * d),
            ("avg_s2", self.avg_s2.len(), zero.s2.len()),
            ("weights", self.weights.len(), k),
            ("means", self.means.len(), k * d),
            (
                "covariances",
                self.covariances.len(),
                cov.covariance_len(k, d),
            ),
        ];
        for (name, got, want) in lens {
            if got != want {
                return bad(format!("\"{name}\" has {got} values, not {want}"));
            }
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if ![
            &self.anchor,
            &self.nk,
            &self.s1,
            &self.s2,
            &self.avg_nk,
            &self.avg_s1,
            &self.avg_s2,
            &self.weights,
            &self.means,
            &self.covariances,
            &self.history,
        ]
        .iter()
        .all(|v| finite(v))
            || !self.ewa.iter().chain(&self.ewa_best).all(|v| v.is_finite())
        {
            return bad("a statistic, parameter or smoothed value is not finite".into());
        }
        if !self.history_stride.is_power_of_two() || self.history.len() >= HISTORY_CAP {
            return bad(format!(
                "history_stride {} (a power of two) or history length {} (below \
                 {HISTORY_CAP}) is wrong",
                self.history_stride,
                self.history.len()
            ));
        }
        if self.total_steps > 0 && self.step > self.total_steps {
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

    /// The model of the current mixture (nothing measured on the data: its
    /// log-likelihood is NaN), for `partial_fit` with step decay
    /// `step_decay`.
    ///
    /// # Errors
    /// A state whose covariances do not factor (a corrupt state).
    pub fn model(&self, params: &GmmParams, step_decay: f64) -> Result<GaussianMixtureModel> {
        let mix = self.averaged_mixture(params.reg_covar)?;
        let lower_bound = self.last_batch_log_likelihood.unwrap_or(f64::NAN);
        let mut model = GaussianMixtureModel::from_run(
            params,
            self.run(mix, lower_bound, 0.0),
            0,
            vec![lower_bound],
            f64::NAN,
            0,
        );
        model.online = Some(self.summary(0, step_decay, 0, 0));
        Ok(model)
    }

    fn run(&self, mix: Mixture, lower_bound: f64, step_seconds: f64) -> Run {
        Run {
            mix,
            posterior: None,
            lower_bound,
            n_iter: usize::try_from(self.step).unwrap_or(usize::MAX),
            converged: self.stop_reason == StopReason::NoImprovement,
            history: self.history.clone(),
            init_seconds: self.init_seconds,
            iter_seconds: step_seconds,
            f32_iterations: usize::try_from(self.f32_steps).unwrap_or(usize::MAX),
        }
    }

    fn summary(
        &self,
        batch_size: usize,
        step_decay: f64,
        refine: usize,
        n: usize,
    ) -> OnlineSummary {
        OnlineSummary {
            steps: self.step,
            batch_size,
            step_decay,
            refine,
            stop_reason: self.stop_reason,
            epochs: if n == 0 {
                0.0
            } else {
                self.step as f64 * batch_size as f64 / n as f64
            },
        }
    }
}

/// Saves an online run's state (a checkpoint); an error ends the run.
pub type CheckpointHook<'a> = dyn Fn(&OnlineState) -> Result<()> + Sync + 'a;

/// Observers of an online fit.
#[derive(Clone, Copy, Default)]
pub struct OnlineHooks<'a> {
    /// Events ([`FitEvent::Step`] after each step), pass progress, and the
    /// stop flag ([`FitHooks::stop`]), checked after each step: when set,
    /// the run writes a checkpoint and returns [`GmmError::Interrupted`].
    pub fit: FitHooks<'a>,
    /// Receives the state to save, every [`OnlineOptions::checkpoint_every`]
    /// steps or [`OnlineOptions::checkpoint_seconds`], when stopped, and at
    /// the end of the steps.
    pub on_checkpoint: Option<&'a CheckpointHook<'a>>,
}

impl std::fmt::Debug for OnlineHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineHooks")
            .field("fit", &self.fit)
            .field("on_checkpoint", &self.on_checkpoint.is_some())
            .finish()
    }
}

/// Moves statistics accumulated about `from` (k × d) to be about `to`:
/// with `δ = from − to`, `S1 + N δ` and `S2 + S1 δᵀ + δ S1ᵀ + N δ δᵀ` (its
/// diagonal for diag and spherical). Exact up to rounding.
fn move_stats(st: &mut Stats, cov_type: CovarianceType, d: usize, from: &[f64], to: &[f64]) {
    let k = st.nk.len();
    let tri = d * (d + 1) / 2;
    let mut delta = vec![0.0f64; d];
    for c in 0..k {
        for j in 0..d {
            delta[j] = from[c * d + j] - to[c * d + j];
        }
        let n = st.nk[c];
        let s1 = &mut st.s1[c * d..(c + 1) * d];
        if cov_type.is_matrix() {
            let s2 = &mut st.s2[c * tri..(c + 1) * tri];
            for p in 0..d {
                for q in 0..=p {
                    s2[p * (p + 1) / 2 + q] +=
                        s1[p] * delta[q] + delta[p] * s1[q] + n * delta[p] * delta[q];
                }
            }
        } else {
            let s2 = &mut st.s2[c * d..(c + 1) * d];
            for j in 0..d {
                s2[j] += 2.0 * delta[j] * s1[j] + n * delta[j] * delta[j];
            }
        }
        for j in 0..d {
            s1[j] += n * delta[j];
        }
    }
}

/// `running ← (1 − η) running + η · batch / rows`, element by element; with
/// `first`, `running ← batch / rows`.
fn blend(running: &mut [f64], batch: &[f64], rows: f64, eta: f64, first: bool) {
    for (s, &b) in running.iter_mut().zip(batch) {
        let b = b / rows;
        *s = if first { b } else { (1.0 - eta) * *s + eta * b };
    }
}

/// The weight of step `t`'s running statistics in their average:
/// polynomial-decay averaging (Shamir and Zhang 2013) with `q = 3`,
/// `γ = (q + 1) / (t + 1 + q)`, 1 for the first step. The average weighs step
/// `t` about as `t³`: most of its weight lies on the last half of the steps,
/// so it forgets the start while averaging the noise of the later steps
/// (Polyak–Ruppert averaging, which Cappé and Moulines pair with α < 1),
/// without knowing in advance when the run ends.
fn average_weight(t: u64) -> f64 {
    4.0 / (t as f64 + 4.0)
}

/// `avg ← (1 − γ) avg + γ s`, element by element.
fn average(avg: &mut [f64], s: &[f64], gamma: f64) {
    for (a, &v) in avg.iter_mut().zip(s) {
        *a = (1.0 - gamma) * *a + gamma * v;
    }
}

/// The step size of step `t`: 1 for the first, `(t + 2)^(−α)` after.
fn step_size(t: u64, alpha: f64) -> f64 {
    if t == 0 {
        1.0
    } else {
        (t as f64 + 2.0).powf(-alpha)
    }
}

impl GmmParams {
    /// Starts online EM on the rows of `first`: the initialisation
    /// ([`GmmParams::init`]) run on them, as `partial_fit`'s first call does.
    /// The returned state has taken no step yet; the next
    /// [`GmmParams::online_update`] is its step 0.
    ///
    /// # Errors
    /// Invalid parameters, non-finite data, a failed initialisation.
    pub fn online_start<S: DataSource + ?Sized>(&self, first: &S) -> Result<OnlineState> {
        Isa::process_default()?;
        self.check_online(first.n_rows(), first.n_cols())?;
        let t = Instant::now();
        let mix = self.sample_mixture(first, FitHooks::default())?;
        Ok(OnlineState::start(&mix, 0, t.elapsed().as_secs_f64()))
    }

    /// Starts online EM from a fitted model's mixture (its first step's
    /// E-step uses it; the statistics start from that step's batch).
    ///
    /// # Errors
    /// A Bayesian model (online EM fits maximum-likelihood mixtures), or a
    /// model whose type or shape differs from these parameters.
    pub fn online_start_from(&self, model: &GaussianMixtureModel) -> Result<OnlineState> {
        if model.bayesian.is_some() {
            return Err(GmmError::param(
                "online",
                "online EM continues maximum-likelihood mixtures, not a Bayesian model",
            ));
        }
        if model.covariance_type() != self.covariance || model.k() != self.k {
            return Err(GmmError::param(
                "online",
                format!(
                    "the model has k = {} {} covariances; these parameters have k = {} {}",
                    model.k(),
                    model.covariance_type(),
                    self.k,
                    self.covariance
                ),
            ));
        }
        Ok(OnlineState::start(model.mixture(), 0, 0.0))
    }

    /// One step of online EM on all the rows of `batch` (`partial_fit`): the
    /// E-step of the state's mixture, the statistics blended with step size
    /// `(t + 2)^(−step_decay)`, the M-step. Returns the batch's mean
    /// log-likelihood under the mixture before the step. The step count
    /// grows by one.
    ///
    /// # Errors
    /// A batch of another column count, non-finite data (a numerical
    /// failure naming the step), a step decay outside (0.5, 1], a state of
    /// other parameters.
    pub fn online_update<S: DataSource + ?Sized>(
        &self,
        state: &mut OnlineState,
        batch: &S,
        step_decay: f64,
    ) -> Result<f64> {
        Isa::process_default()?;
        check_step_decay(step_decay)?;
        let d = batch.n_cols();
        state.validate(self.covariance, self.k, state.d)?;
        if d != state.d {
            return Err(mmclust_core::fitting::ColumnMismatch {
                what: batch.name(),
                expected: state.d,
                found: d,
            }
            .into());
        }
        if batch.n_rows() == 0 {
            return Err(GmmError::param("batch", "has no rows"));
        }
        let mut mix = state.mixture()?;
        // The batch is checked as the E-step reads it: a NaN is an error
        // naming its row and column, not a NaN log-likelihood.
        self.online_step(state, &mut mix, &FiniteSource::new(batch), step_decay)
    }

    /// Validates these parameters for an online fit on n × d data.
    fn check_online(&self, n: usize, d: usize) -> Result<()> {
        self.check(n, d)?;
        if self.checkpoints.any() {
            return Err(GmmError::param(
                "checkpoints",
                "an online fit takes its checkpoint options in OnlineOptions",
            ));
        }
        if self.bayesian.is_some() {
            return Err(GmmError::param(
                "online",
                "online EM fits maximum-likelihood mixtures; a variational Bayesian fit \
                 (--bayesian) runs full passes",
            ));
        }
        if let Init::Responsibilities(_) = self.init {
            return Err(GmmError::param(
                "init",
                "initial responsibilities need one per data row, a full pass; online EM \
                 initialises on a sample of rows",
            ));
        }
        Ok(())
    }

    /// The initial mixture of an online fit: the initialisation run on the
    /// in-memory `sample` (K-means, k-means++, random responsibilities or
    /// rows, or given means, all on the sample; given parameters as they
    /// are), with the same run seed as the first run of a full fit.
    fn sample_mixture<S: DataSource + ?Sized>(
        &self,
        sample: &S,
        hooks: FitHooks<'_>,
    ) -> Result<Mixture> {
        let chunking = Chunking::with_rows(BATCH_CHUNK_ROWS)?;
        let stats = mmclust_core::fitting::checked_stats(sample, chunking, PassOptions::default())?;
        let variance = stats.variance();
        let data = FitData {
            source: sample,
            chunking,
            column_means: &stats.mean,
            column_variance: Some(&variance),
            prior: None,
        };
        let seed = ChaCha8Rng::seed_from_u64(self.seed).r#gen();
        let (mix, _) = self.initial_mixture(&data, seed, hooks)?;
        Ok(mix)
    }

    /// One step: E-step of `mix` on `batch`, blend, M-step (into `mix` and
    /// the state). Returns the batch's mean log-likelihood.
    fn online_step<S: DataSource + ?Sized>(
        &self,
        state: &mut OnlineState,
        mix: &mut Mixture,
        batch: &S,
        step_decay: f64,
    ) -> Result<f64> {
        let (k, d) = (state.k, state.d);
        let chunking = Chunking::with_rows(BATCH_CHUNK_ROWS)?;
        let (mut st, ran) = em_pass(batch, chunking, PassOptions::default(), mix, self.precision)?;
        if ran == Precision::F32 {
            state.f32_steps += 1;
        }
        let rows = batch.n_rows() as f64;
        let ll = st.loglik / rows;
        if !ll.is_finite() {
            return Err(GmmError::Numerical {
                message: format!(
                    "the log-likelihood of batch {} is {ll}; standardise the data \
                     (--standardize) or raise --reg-covar",
                    state.step
                ),
            });
        }
        move_stats(&mut st, self.covariance, d, &mix.means, &state.anchor);
        let (eta, first) = (step_size(state.step, step_decay), state.step == 0);
        blend(&mut state.nk, &st.nk, rows, eta, first);
        blend(&mut state.s1, &st.s1, rows, eta, first);
        blend(&mut state.s2, &st.s2, rows, eta, first);
        let gamma = average_weight(state.step);
        average(&mut state.avg_nk, &state.nk, gamma);
        average(&mut state.avg_s1, &state.s1, gamma);
        average(&mut state.avg_s2, &state.s2, gamma);
        let running = Stats {
            nk: std::mem::take(&mut state.nk),
            s1: std::mem::take(&mut state.s1),
            s2: std::mem::take(&mut state.s2),
            loglik: 0.0,
        };
        let next = running.m_step(self.covariance, k, d, &state.anchor, self.reg_covar, false);
        (state.nk, state.s1, state.s2) = (running.nk, running.s1, running.s2);
        *mix = next?;
        state.weights.clone_from(&mix.weights);
        state.means.clone_from(&mix.means);
        state.covariances.clone_from(&mix.covariances);
        state.last_batch_log_likelihood = Some(ll);
        state.step += 1;
        Ok(ll)
    }

    /// Fits a Gaussian mixture to `source` by online (stepwise) EM: see the
    /// module's documentation. [`GmmParams::max_iter`] counts epochs (n
    /// rows' worth of batches) unless [`OnlineOptions::max_steps`] is set;
    /// [`GmmParams::n_init`] is ignored (one run); with
    /// [`GmmParams::standardize`] the z-score transform comes from the
    /// initialisation's sample (no pass over the data).
    ///
    /// # Errors
    /// As [`GmmParams::fit`]; [`GmmError::Interrupted`] when
    /// [`FitHooks::stop`] is set; a checkpoint error returned by
    /// [`OnlineHooks::on_checkpoint`].
    pub fn fit_online<S: DataSource + ?Sized>(
        &self,
        source: &S,
        opts: &OnlineOptions,
        hooks: OnlineHooks<'_>,
    ) -> Result<GaussianMixtureModel> {
        let started = Instant::now();
        Isa::process_default()?;
        let (n, d) = (source.n_rows(), source.n_cols());
        if source.node_layout().is_some() {
            // Refused on every process alike, before any batch.
            return Err(GmmError::param(
                "online",
                "online EM samples rows anywhere, which node-local shards (each process reading \
                 only its own rows) do not allow; use full EM",
            ));
        }
        self.check_online(n, d)?;
        opts.check()?;
        // Scattered reads from here on: batches ask for their runs with
        // `will_need` instead of the kernel's read-ahead around each.
        source.advise_random();
        let t = Instant::now();
        // The sample: for the initialisation, and for the transform of
        // --standardize (recomputed on resume: the same rows, the same bits).
        let sample = if opts.resume.is_none() || self.standardize {
            let size = opts
                .init_size
                .unwrap_or(3 * self.batch_plan(opts).batch_rows(n))
                .max(self.k)
                .min(n);
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x9E37_79B9_7F4A_7C15);
            let mut rows = rand::seq::index::sample(&mut rng, n, size).into_vec();
            rows.sort_unstable();
            read_rows(source, &rows)?
        } else {
            Vec::new()
        };
        let sample_seconds = t.elapsed().as_secs_f64();
        let mut model = if self.standardize {
            let mut sample = sample;
            let rows = sample.len() / d;
            let stats = ColumnStats::compute(
                &ArraySource::from_slice(&sample, rows, d)?,
                Chunking::with_rows(BATCH_CHUNK_ROWS)?,
                PassOptions::default(),
            )?;
            let transform = Standardizer::from_stats(&stats, &source.name())?;
            transform.apply_in_place(&mut sample);
            let std_source = Standardized::new(source, transform.clone())?;
            let mut model = self.online_run(&std_source, &sample, sample_seconds, opts, hooks)?;
            model.standardizer = Some(transform);
            model
        } else {
            self.online_run(source, &sample, sample_seconds, opts, hooks)?
        };
        model.fit_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    fn batch_plan(&self, opts: &OnlineOptions) -> BatchPlan {
        BatchPlan {
            batch_size: opts.batch_size,
            sampling: opts.sampling,
            seed: self.seed,
        }
    }

    /// The online run on `source` (standardised when the fit standardises),
    /// from `sample` (in the same space; empty on resume).
    fn online_run<S: DataSource + ?Sized>(
        &self,
        source: &S,
        sample: &[f32],
        sample_seconds: f64,
        opts: &OnlineOptions,
        hooks: OnlineHooks<'_>,
    ) -> Result<GaussianMixtureModel> {
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let plan = self.batch_plan(opts);
        let batch_rows = plan.batch_rows(n);
        let total_steps = opts.max_steps.unwrap_or_else(|| {
            ((self.max_iter as u128 * n as u128).div_ceil(batch_rows as u128) as u64).max(1)
        });
        let (mut state, mut mix) = match &opts.resume {
            Some(s) => {
                s.validate(self.covariance, k, d)?;
                let mut s = s.clone();
                s.total_steps = total_steps;
                let mix = s.mixture()?;
                (s, mix)
            }
            None => {
                let t = Instant::now();
                let rows = sample.len() / d;
                let sample = ArraySource::from_slice(sample, rows, d)?;
                let mix = self.sample_mixture(&sample, hooks.fit)?;
                let seconds = sample_seconds + t.elapsed().as_secs_f64();
                (OnlineState::start(&mix, total_steps, seconds), mix)
            }
        };
        hooks.fit.emit(FitEvent::InitDone {
            run: 0,
            seconds: state.init_seconds,
        });
        let t_steps = Instant::now();
        let step_seconds_before = state.step_seconds;
        let name = source.name();
        let share = source.comm().map(|c| (c.rank(), c.size()));
        let chunking = Chunking::with_rows(BATCH_CHUNK_ROWS)?;
        let alpha = (batch_rows as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
        let mut checkpoints = Checkpoints::new(
            opts.checkpoint_every,
            opts.checkpoint_seconds,
            hooks.fit.stop,
        );
        let steps = state.step..total_steps;
        read_ahead(
            source,
            &plan,
            steps,
            chunking,
            share,
            |batches| -> Result<()> {
                if state.done || state.step >= total_steps {
                    return Ok(());
                }
                for batch in batches {
                    let batch = batch?;
                    debug_assert_eq!(batch.step, state.step);
                    batch.check_finite(d, &name)?;
                    let rows = batch.n_rows();
                    let array = ArraySource::from_slice(&batch.data, rows, d)?;
                    let ll = match source.comm() {
                        Some(comm) => {
                            let shared = Distributed::new(&array, comm);
                            self.online_step(&mut state, &mut mix, &shared, opts.step_decay)?
                        }
                        None => self.online_step(&mut state, &mut mix, &array, opts.step_decay)?,
                    };
                    // The first batch is measured against the initial mixture:
                    // not smoothed (as mini-batch K-means).
                    let stop = state.step > 1 && state.smooth(ll, alpha, self.tol, opts);
                    hooks.fit.emit(FitEvent::Step {
                        step: state.step,
                        total_steps,
                        epoch: state.step as f64 * rows as f64 / n as f64,
                        batch_log_likelihood: ll,
                        smoothed: state.ewa,
                        rows,
                    });
                    if let Some(p) = hooks.fit.progress {
                        p(rows);
                    }
                    if stop || state.step >= total_steps {
                        state.done = true;
                        state.stop_reason = if stop {
                            StopReason::NoImprovement
                        } else {
                            StopReason::MaxSteps
                        };
                        break;
                    }
                    if let Some(interrupted) = checkpoints.after_step(state.step) {
                        state.step_seconds = step_seconds_before + t_steps.elapsed().as_secs_f64();
                        if let Some(save) = hooks.on_checkpoint {
                            save(&state)?;
                        }
                        if interrupted {
                            return Err(GmmError::Interrupted { step: state.step });
                        }
                    }
                }
                Ok(())
            },
        )?;
        state.step_seconds = step_seconds_before + t_steps.elapsed().as_secs_f64();
        if let Some(save) = hooks.on_checkpoint {
            save(&state)?;
        }
        // The model: the M-step of the averaged statistics.
        let mix = state.averaged_mixture(self.reg_covar)?;
        let summary = |refine| state.summary(batch_rows, opts.step_decay, refine, n);
        let mut model = if opts.refine > 0 {
            // Full EM from the online mixture; its runs end with the pass
            // that measures the log-likelihood.
            let refine = GmmParams {
                init: Init::Parameters {
                    weights: mix.weights.clone(),
                    means: mix.means.clone(),
                    covariances: mix.covariances.clone(),
                },
                max_iter: opts.refine,
                n_init: 1,
                standardize: false,
                checkpoints: EmCheckpoints::default(),
                ..self.clone()
            };
            let data = FitData {
                source,
                chunking: self.chunking.unwrap_or_else(|| Chunking::for_dim(d)),
                column_means: &[],
                column_variance: None,
                prior: None,
            };
            let refined = refine.fit_runs(&data, hooks.fit)?;
            let mut model = GaussianMixtureModel::from_run(
                self,
                state.run(
                    refined.mixture().clone(),
                    refined.lower_bound,
                    state.step_seconds,
                ),
                0,
                vec![refined.lower_bound],
                refined.log_likelihood,
                n,
            );
            model.iter_seconds += refined.iter_seconds;
            model.f32_iterations += refined.f32_iterations;
            model.online = Some(summary(refined.n_iter));
            model
        } else {
            let chunking = self.chunking.unwrap_or_else(|| Chunking::for_dim(d));
            let total = loglik_pass(source, chunking, hooks.fit.pass(), &mix)?;
            let lower_bound = state
                .ewa
                .or(state.last_batch_log_likelihood)
                .unwrap_or(f64::NAN);
            let mut model = GaussianMixtureModel::from_run(
                self,
                state.run(mix, lower_bound, state.step_seconds),
                0,
                vec![lower_bound],
                total / n as f64,
                n,
            );
            model.online = Some(summary(0));
            model
        };
        if !model.log_likelihood.is_finite() {
            return Err(GmmError::Numerical {
                message: format!(
                    "the final log-likelihood is {}; standardise the data (--standardize) or \
                     raise --reg-covar",
                    model.log_likelihood
                ),
            });
        }
        model.online.as_mut().expect("set above").steps = state.step;
        Ok(model)
    }
}

impl OnlineState {
    /// Smooths the batch log-likelihood `ll` (weight `alpha`), records it,
    /// and returns true when the run should stop: the smoothed value has
    /// not risen by more than `tol` above its best for
    /// `max_no_improvement` steps.
    fn smooth(&mut self, ll: f64, alpha: f64, tol: f64, opts: &OnlineOptions) -> bool {
        let ewa = match self.ewa {
            None => ll,
            Some(e) => e * (1.0 - alpha) + ll * alpha,
        };
        self.ewa = Some(ewa);
        record_thinned(&mut self.history, &mut self.history_stride, self.step, ewa);
        if self.ewa_best.is_none_or(|b| ewa > b + tol) {
            self.ewa_best = Some(ewa);
            self.no_improvement = 0;
        } else {
            self.no_improvement += 1;
        }
        opts.max_no_improvement
            .is_some_and(|limit| self.no_improvement >= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_statistics_equal_those_accumulated_about_the_new_point() {
        let (k, d) = (2, 3);
        let rows: Vec<[f64; 3]> = vec![[1.0, 2.0, -1.0], [0.5, -3.0, 2.0], [4.0, 1.0, 0.0]];
        let resp = [[0.2, 0.8], [1.0, 0.0], [0.3, 0.7]];
        let from = [0.1, 0.2, 0.3, -1.0, 2.0, 0.5];
        let to = [1.0, -1.0, 0.0, 0.0, 0.0, 0.0];
        for cov in CovarianceType::ALL {
            let about = |c: &[f64]| {
                let mut st = Stats::new(cov, k, d);
                let tri = d * (d + 1) / 2;
                for (x, r) in rows.iter().zip(&resp) {
                    for j in 0..k {
                        st.nk[j] += r[j];
                        let y: Vec<f64> = (0..d).map(|p| x[p] - c[j * d + p]).collect();
                        for p in 0..d {
                            st.s1[j * d + p] += r[j] * y[p];
                            if cov.is_matrix() {
                                for q in 0..=p {
                                    st.s2[j * tri + p * (p + 1) / 2 + q] += r[j] * y[p] * y[q];
                                }
                            } else {
                                st.s2[j * d + p] += r[j] * y[p] * y[p];
                            }
                        }
                    }
                }
                st
            };
            let mut moved = about(&from);
            move_stats(&mut moved, cov, d, &from, &to);
            let want = about(&to);
            for (a, b) in moved
                .s1
                .iter()
                .chain(&moved.s2)
                .zip(want.s1.iter().chain(&want.s2))
            {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{cov}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn the_step_size_decays_as_a_power_and_the_first_step_takes_the_batch() {
        assert_eq!(step_size(0, 0.6), 1.0);
        assert!((step_size(1, 0.6) - 3f64.powf(-0.6)).abs() < 1e-15);
        assert!((step_size(98, 1.0) - 0.01).abs() < 1e-15);
        let mut s = vec![5.0, 5.0];
        blend(&mut s, &[2.0, 4.0], 2.0, 0.25, true);
        assert_eq!(s, [1.0, 2.0]);
        blend(&mut s, &[6.0, 0.0], 2.0, 0.25, false);
        assert_eq!(s, [0.75 + 0.75, 1.5]);
    }

    #[test]
    fn bad_step_decays_name_the_parameter_and_the_range() {
        for a in [0.5, 0.0, 1.5, f64::NAN] {
            let e = check_step_decay(a).unwrap_err().to_string();
            assert!(e.contains("step_decay") && e.contains("(0.5, 1]"), "{e}");
        }
        assert!(check_step_decay(1.0).is_ok());
    }
}

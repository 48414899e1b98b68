//! The fit: statistics pass, runs (initialisation + EM), best run kept.
//!
//! EM follows scikit-learn's order exactly: the initialisation gives a mixture
//! (through one M-step from initial responsibilities, or as given), then each
//! iteration is an E-step of the current mixture — whose mean log-likelihood
//! is that iteration's lower bound — followed by an M-step. A run converges
//! when the lower bound changes by less than `tol`. The lower bound of the last
//! iteration is therefore that of the mixture *before* the last M-step; the
//! model's [`GaussianMixtureModel::log_likelihood`] is measured by one more
//! pass on the final mixture (scikit-learn's `score(X)`).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mmclust_core::DataSource;
use mmclust_core::batches::Checkpoints;
use mmclust_core::fitting::{FitObserver, check_data_and_k, check_non_negative, checked_stats};
use mmclust_core::isa::Isa;
use mmclust_core::parallel::Chunking;
use mmclust_core::stats::{Standardized, Standardizer};
use mmclust_kmeans::KMeansParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bayesian::{Posterior, ResolvedPrior, component_len, entropy_term};
use crate::checkpoint::EmState;
use crate::error::{GmmError, Result};
use crate::mixture::{Mixture, Stats};
use crate::model::GaussianMixtureModel;
use crate::params::{CovarianceType, GmmParams, Init, Precision};
use crate::pass::{Responsibilities, em_pass, init_pass, loglik_pass};
use crate::resume::Finished;
use crate::run::Run;

/// What a fit reports while it runs (for progress displays; the library never prints).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FitEvent {
    /// The statistics pass is done.
    StatsDone { seconds: f64 },
    /// Run `run` has its initial mixture.
    InitDone { run: usize, seconds: f64 },
    /// One EM iteration of run `run` is done; `lower_bound` is the mean
    /// log-likelihood of its E-step.
    Iteration {
        run: usize,
        iter: usize,
        lower_bound: f64,
        change: f64,
    },
    /// Run `run` is done.
    RunDone {
        run: usize,
        lower_bound: f64,
        n_iter: usize,
        converged: bool,
    },
    /// Run `run` failed (a collapsed component); other runs go on.
    RunFailed { run: usize, message: String },
    /// One step of an online fit is done ([`GmmParams::fit_online`]):
    /// `batch_log_likelihood` is the batch's mean log-likelihood under the
    /// mixture before the step, `smoothed` its exponentially weighted
    /// average (from the second step on).
    Step {
        step: u64,
        total_steps: u64,
        epoch: f64,
        batch_log_likelihood: f64,
        smoothed: Option<f64>,
        rows: usize,
    },
}

/// Receives a full-batch EM fit's state to save it (a checkpoint); an error
/// ends the fit.
pub type EmCheckpointHook<'a> = dyn Fn(&EmState) -> Result<()> + Sync + 'a;

/// Observers of a fit.
#[derive(Clone, Copy, Default)]
pub struct FitHooks<'a> {
    /// Called after each phase and iteration.
    pub on_event: Option<&'a (dyn Fn(&FitEvent) + Sync)>,
    /// Called with row counts as passes progress (from worker threads).
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
    /// When set (e.g. by a signal handler): an online fit, or a full-batch
    /// EM fit with [`FitHooks::on_em_checkpoint`], writes a checkpoint after
    /// its current step or iteration and stops with
    /// [`GmmError::Interrupted`].
    pub stop: Option<&'a AtomicBool>,
    /// Receives a full-batch EM fit's checkpoints (as
    /// [`GmmParams::checkpoints`] says, and when stopped).
    pub on_em_checkpoint: Option<&'a EmCheckpointHook<'a>>,
}

impl std::fmt::Debug for FitHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitHooks")
            .field("on_event", &self.on_event.is_some())
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .field("on_em_checkpoint", &self.on_em_checkpoint.is_some())
            .finish()
    }
}

impl FitObserver<FitEvent> for FitHooks<'_> {
    fn on_event(&self) -> Option<&(dyn Fn(&FitEvent) + Sync)> {
        self.on_event
    }
    fn progress(&self) -> Option<&(dyn Fn(usize) + Sync)> {
        self.progress
    }
}

/// What every run of a fit reads: the data (standardised when the fit
/// standardises), its chunking, and its column statistics (the variance
/// only of raw data: a K-means initialisation computes that of
/// standardised data itself).
pub(crate) struct FitData<'a, S: ?Sized> {
    pub(crate) source: &'a S,
    pub(crate) chunking: Chunking,
    pub(crate) column_means: &'a [f64],
    pub(crate) column_variance: Option<&'a [f64]>,
    /// The priors of a variational Bayesian fit, resolved on this source.
    pub(crate) prior: Option<&'a ResolvedPrior>,
}

/// A run's initial state: statistics of initial responsibilities about
/// shifts (to go through an M-step), or a given mixture.
enum Initial {
    Stats {
        stats: Stats,
        shifts: Vec<f64>,
        keep_shifts: bool,
    },
    Mixture(Mixture),
}

impl GmmParams {
    /// Fits a Gaussian mixture to `source`.
    ///
    /// # Errors
    /// Invalid parameters, unreadable or non-finite data, a collapsed
    /// component, an invalid `MMCLUST_ISA` ([`mmclust_core::CoreError::Isa`]): see
    /// [`GmmError`].
    pub fn fit<S: DataSource + ?Sized>(&self, source: &S) -> Result<GaussianMixtureModel> {
        self.fit_with(source, FitHooks::default())
    }

    /// Fits with observers.
    ///
    /// # Errors
    /// As [`GmmParams::fit`].
    pub fn fit_with<S: DataSource + ?Sized>(
        &self,
        source: &S,
        hooks: FitHooks<'_>,
    ) -> Result<GaussianMixtureModel> {
        let started = Instant::now();
        Isa::process_default()?;
        let (n, d) = (source.n_rows(), source.n_cols());
        self.check(n, d)?;
        let chunking = self.chunking.unwrap_or_else(|| Chunking::for_dim(d));
        let t = Instant::now();
        let stats = checked_stats(source, chunking, hooks.pass())?;
        let stats_seconds = t.elapsed().as_secs_f64();
        hooks.emit(FitEvent::StatsDone {
            seconds: stats_seconds,
        });
        let mut model = if self.standardize {
            let transform = Standardizer::from_stats(&stats, &source.name())?;
            let std_source = Standardized::new(source, transform.clone())?;
            // Standardised columns have mean 0 (up to rounding).
            // No column variance: a K-means initialisation computes that of
            // the standardised source (its `tol`'s scale), as it always has.
            let column_means = vec![0.0; d];
            let prior = self.resolve_prior(&std_source, chunking, hooks, &column_means)?;
            let data = FitData {
                source: &std_source,
                chunking,
                column_means: &column_means,
                column_variance: None,
                prior: prior.as_ref(),
            };
            let mut model = self.fit_runs(&data, hooks)?;
            model.standardizer = Some(transform);
            model
        } else {
            let column_variance = stats.variance();
            let prior = self.resolve_prior(source, chunking, hooks, &stats.mean)?;
            let data = FitData {
                source,
                chunking,
                column_means: &stats.mean,
                column_variance: Some(&column_variance),
                prior: prior.as_ref(),
            };
            self.fit_runs(&data, hooks)?
        };
        model.stats_seconds = stats_seconds;
        model.fit_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    pub(crate) fn check(&self, n: usize, d: usize) -> Result<()> {
        let k = self.k;
        check_data_and_k(n, d, k, GmmError::param)?;
        if self.covariance == CovarianceType::Full && d > n {
            return Err(GmmError::param(
                "covariance",
                format!(
                    "full covariances of {d} columns cannot be estimated from {n} rows (d > n); \
                     use --covariance diag or spherical, or more rows"
                ),
            ));
        }
        if self.max_iter == 0 {
            return Err(GmmError::param("max_iter", "must be at least 1"));
        }
        if self.n_init == 0 {
            return Err(GmmError::param("n_init", "must be at least 1"));
        }
        check_non_negative("tol", self.tol, GmmError::param)?;
        check_non_negative("reg_covar", self.reg_covar, GmmError::param)?;
        if self.bayesian.is_some() {
            if self.precision == Precision::F32 {
                return Err(GmmError::param(
                    "precision",
                    "a variational Bayesian fit runs in f64 only; drop --precision f32",
                ));
            }
            if matches!(self.init, Init::Parameters { .. }) {
                return Err(GmmError::param(
                    "init",
                    "a variational Bayesian fit starts from responsibilities (an init method, \
                     or --init-resp), not from given weights and covariances",
                ));
            }
            if n < 2 {
                return Err(GmmError::param(
                    "bayesian",
                    "the default priors need the data's covariance: at least 2 rows",
                ));
            }
        }
        match &self.init {
            Init::Means(m) => check_len("init means", m.len(), k * d, k, d)?,
            Init::Parameters {
                weights,
                means,
                covariances,
            } => {
                check_len("init weights", weights.len(), k, k, d)?;
                check_len("init means", means.len(), k * d, k, d)?;
                check_len(
                    "init covariances",
                    covariances.len(),
                    self.covariance.covariance_len(k, d),
                    k,
                    d,
                )?;
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || weights.iter().sum::<f64>() <= 0.0
                {
                    return Err(GmmError::param(
                        "init weights",
                        "weights must be finite, ≥ 0 and not all zero",
                    ));
                }
                if means.iter().chain(covariances).any(|v| !v.is_finite()) {
                    return Err(GmmError::param(
                        "init",
                        "the initial means and covariances must be finite",
                    ));
                }
            }
            _ => {}
        }
        if self.checkpoints.any()
            && !(self.checkpoints.seconds.is_finite() && self.checkpoints.seconds >= 0.0)
        {
            return Err(GmmError::param(
                "checkpoint_seconds",
                "must be a number of seconds ≥ 0",
            ));
        }
        if let Some(state) = &self.checkpoints.resume {
            state.validate(
                self.covariance,
                k,
                d,
                self.bayesian.is_some(),
                self.runs(),
                self.max_iter,
            )?;
        }
        Ok(())
    }

    pub(crate) fn fit_runs<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        hooks: FitHooks<'_>,
    ) -> Result<GaussianMixtureModel> {
        let FitData {
            source, chunking, ..
        } = *data;
        let (n, d) = (source.n_rows(), source.n_cols());
        let mut master = ChaCha8Rng::seed_from_u64(self.seed);
        let seeds: Vec<u64> = (0..self.runs()).map(|_| master.r#gen()).collect();
        let (mut done, mut resumed) = match self.checkpoints.resume.as_deref() {
            Some(state) => {
                let (done, current) = Finished::resume(state, self.covariance, data.prior)?;
                (done, Some(current))
            }
            None => (Finished::default(), None),
        };
        let mut schedule =
            Checkpoints::new(self.checkpoints.every, self.checkpoints.seconds, hooks.stop);
        for (r, &seed) in seeds.iter().enumerate().skip(done.bounds.len()) {
            let snapshot = |current: &Run| done.state(self, d, current);
            let saves = Saves {
                schedule: &mut schedule,
                snapshot: &snapshot,
            };
            let run = match self.run_once(data, seed, r, resumed.take(), saves, hooks) {
                Ok(run) => run,
                Err(e @ (GmmError::Degenerate { .. } | GmmError::Numerical { .. })) => {
                    hooks.emit(FitEvent::RunFailed {
                        run: r,
                        message: e.to_string(),
                    });
                    done.fail(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            hooks.emit(FitEvent::RunDone {
                run: r,
                lower_bound: run.lower_bound,
                n_iter: run.n_iter,
                converged: run.converged,
            });
            done.push(r, run);
        }
        let Finished {
            bounds,
            best,
            first_error,
        } = done;
        let Some((best_run, run)) = best else {
            return Err(first_error.expect("every run failed with an error"));
        };
        let total = loglik_pass(source, chunking, hooks.pass(), &run.mix)?;
        if !total.is_finite() {
            return Err(GmmError::Numerical {
                message: format!(
                    "the final log-likelihood is {total}; standardise the data (--standardize) or raise --reg-covar"
                ),
            });
        }
        Ok(GaussianMixtureModel::from_run(
            self,
            run,
            best_run,
            bounds,
            total / n as f64,
            n,
        ))
    }

    /// The priors of a Bayesian fit with every default resolved on the
    /// fit's `source` (scikit-learn's `_check_parameters`): one pass for the
    /// column means and the covariance (`ddof = 1`; its diagonal for diag
    /// and spherical) about `column_means`, when a default needs it.
    fn resolve_prior<S: DataSource + ?Sized>(
        &self,
        source: &S,
        chunking: Chunking,
        hooks: FitHooks<'_>,
        column_means: &[f64],
    ) -> Result<Option<ResolvedPrior>> {
        let Some(p) = &self.bayesian else {
            return Ok(None);
        };
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let cov = self.covariance;
        let (mean, covariance) = match (&p.mean, &p.covariance) {
            (Some(m), Some(c)) => (m.clone(), c.clone()),
            (m, c) => {
                let pass_type = if cov.is_matrix() {
                    CovarianceType::Full
                } else {
                    CovarianceType::Diag
                };
                let nearest = Responsibilities::Nearest;
                let st = init_pass(
                    source,
                    chunking,
                    hooks.pass(),
                    pass_type,
                    column_means,
                    1,
                    nearest,
                )?;
                let nf = n as f64;
                let delta: Vec<f64> = st.s1.iter().map(|v| v / nf).collect();
                let data_mean: Vec<f64> = column_means
                    .iter()
                    .zip(&delta)
                    .map(|(a, b)| a + b)
                    .collect();
                // Σ (x − x̄)(x − x̄)ᵀ = S2 − n δ δᵀ, over n − 1.
                let scatter =
                    |p: usize, q: usize, s2: f64| (s2 - nf * delta[p] * delta[q]) / (nf - 1.0);
                let data_cov = match cov {
                    CovarianceType::Full | CovarianceType::Tied => {
                        let mut m = vec![0.0; d * d];
                        for p in 0..d {
                            for q in 0..=p {
                                let v = scatter(p, q, st.s2[p * (p + 1) / 2 + q]);
                                m[p * d + q] = v;
                                m[q * d + p] = v;
                            }
                        }
                        m
                    }
                    CovarianceType::Diag => (0..d).map(|j| scatter(j, j, st.s2[j])).collect(),
                    CovarianceType::Spherical => {
                        vec![(0..d).map(|j| scatter(j, j, st.s2[j])).sum::<f64>() / d as f64]
                    }
                };
                (
                    m.clone().unwrap_or(data_mean),
                    c.clone().unwrap_or(data_cov),
                )
            }
        };
        let resolved = ResolvedPrior {
            weight_prior: p.weight_prior,
            weight_concentration: p.weight_concentration.unwrap_or(1.0 / k as f64),
            mean_precision: p.mean_precision.unwrap_or(1.0),
            mean,
            dof: p.dof.unwrap_or(d as f64),
            covariance,
        };
        resolved.check(cov, d)?;
        debug_assert_eq!(resolved.covariance.len(), component_len(cov, d));
        Ok(Some(resolved))
    }

    /// A run's initial responsibilities' statistics (or its given mixture).
    fn initial_state<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        seed: u64,
        hooks: FitHooks<'_>,
    ) -> Result<Initial> {
        let FitData {
            source,
            chunking,
            column_means,
            column_variance,
            ..
        } = *data;
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let cov = self.covariance;
        let hard = |centers: Vec<f64>, keep: bool| -> Result<Initial> {
            let nearest = Responsibilities::Nearest;
            let st = init_pass(source, chunking, hooks.pass(), cov, &centers, k, nearest)?;
            Ok(Initial::Stats {
                stats: st,
                shifts: centers,
                keep_shifts: keep,
            })
        };
        let widen = |c: &[f32]| c.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        match &self.init.resolve(n, d) {
            Init::KMeansSample => {
                let mut p = KMeansParams::new(k)
                    .n_init(1)
                    .seed(seed)
                    .init(mmclust_kmeans::Init::sample());
                p.chunking = Some(chunking);
                hard(widen(&mmclust_kmeans::initial_centers(&p, source)?), false)
            }
            Init::Auto | Init::KMeans | Init::KMeansPlusPlus => {
                let mut p = KMeansParams::new(k).n_init(1).seed(seed);
                p.chunking = Some(chunking);
                p.scratch = self.scratch.clone();
                if matches!(self.init, Init::KMeansPlusPlus) {
                    p = p.init(mmclust_kmeans::Init::KMeansPlusPlus).max_iter(1);
                }
                // Raw data: the variance of this fit's statistics pass, no
                // second pass. Standardised: K-means computes that of the
                // standardised source, as the public fit did.
                let km = mmclust_kmeans::fit_source(
                    &p,
                    source,
                    None,
                    column_variance,
                    Default::default(),
                )?;
                hard(widen(&km.centers), false)
            }
            Init::RandomFromData => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let rows = rand::seq::index::sample(&mut rng, n, k).into_vec();
                // Collective over node-local shards (each process reads the
                // rows it holds); a plain read otherwise.
                let centers = widen(&mmclust_core::parallel::gather_rows(source, &rows)?);
                hard(centers, false)
            }
            Init::Random | Init::Responsibilities(_) => {
                let shifts: Vec<f64> = (0..k).flat_map(|_| column_means.iter().copied()).collect();
                let file;
                let given = match &self.init {
                    Init::Responsibilities(path) => {
                        file = open_responsibilities(path, n, k)?;
                        Responsibilities::Given(&file)
                    }
                    _ => Responsibilities::Random { seed },
                };
                let st = init_pass(source, chunking, hooks.pass(), cov, &shifts, k, given)?;
                Ok(Initial::Stats {
                    stats: st,
                    shifts,
                    keep_shifts: false,
                })
            }
            Init::Means(m) => hard(widen(m), true),
            Init::Parameters {
                weights,
                means,
                covariances,
            } => {
                let s: f64 = weights.iter().sum();
                let w = weights.iter().map(|v| v / s).collect();
                Mixture::new(cov, k, d, w, means.clone(), covariances.clone(), None)
                    .map(Initial::Mixture)
            }
        }
    }

    /// A run's initial mixture (EM), or its initial posterior and mixture
    /// (variational Bayes: scikit-learn's `_initialize`).
    pub(crate) fn initial_mixture<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        seed: u64,
        hooks: FitHooks<'_>,
    ) -> Result<(Mixture, Option<Posterior>)> {
        let (k, d) = (self.k, data.source.n_cols());
        let cov = self.covariance;
        match (self.initial_state(data, seed, hooks)?, data.prior) {
            (Initial::Mixture(mix), _) => Ok((mix, None)),
            (
                Initial::Stats {
                    stats,
                    shifts,
                    keep_shifts,
                },
                None,
            ) => Ok((
                stats.m_step(cov, k, d, &shifts, self.reg_covar, keep_shifts)?,
                None,
            )),
            (
                Initial::Stats {
                    stats,
                    shifts,
                    keep_shifts,
                },
                Some(prior),
            ) => {
                let est = stats.estimate(cov, k, d, &shifts, self.reg_covar, keep_shifts);
                let (post, mix) = Posterior::update(prior, &est, cov, &stats.nk)?;
                Ok((mix, Some(post)))
            }
        }
    }

    /// Run `run` (with its `seed`) from its initialisation, or from the
    /// state `resumed` (the run after some iterations), to its end;
    /// checkpoints as `saves` says.
    fn run_once<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        seed: u64,
        run: usize,
        resumed: Option<Run>,
        saves: Saves<'_, '_>,
        hooks: FitHooks<'_>,
    ) -> Result<Run> {
        let FitData {
            source, chunking, ..
        } = *data;
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let (mut mix, mut posterior, init_seconds, mut history, mut f32_iterations, seconds_before) =
            match resumed {
                Some(r) => (
                    r.mix,
                    r.posterior,
                    r.init_seconds,
                    r.history,
                    r.f32_iterations,
                    r.iter_seconds,
                ),
                None => {
                    let t_init = Instant::now();
                    let (mix, posterior) = self.initial_mixture(data, seed, hooks)?;
                    let seconds = t_init.elapsed().as_secs_f64();
                    (mix, posterior, seconds, Vec::new(), 0, 0.0)
                }
            };
        hooks.emit(FitEvent::InitDone {
            run,
            seconds: init_seconds,
        });
        let t_iter = Instant::now();
        let mut lower_bound = history.last().copied().unwrap_or(f64::NEG_INFINITY);
        let mut converged = false;
        for iter in history.len()..self.max_iter {
            let (st, ran) = em_pass(source, chunking, hooks.pass(), &mix, self.precision)?;
            if ran == Precision::F32 {
                f32_iterations += 1;
            }
            let ll = st.loglik / n as f64;
            if !ll.is_finite() {
                return Err(GmmError::Numerical {
                    message: format!(
                        "the log-likelihood of iteration {} is {ll}; standardise the data (--standardize) or raise --reg-covar",
                        iter + 1
                    ),
                });
            }
            // EM: the mean log-likelihood of the E-step. Variational Bayes:
            // scikit-learn's lower bound (a total, not a mean) of the
            // posterior after the M-step and the E-step's Σ r ln r.
            let lb = match data.prior {
                Some(prior) => {
                    let entropy = entropy_term(&mix, &st);
                    let est = st.estimate(self.covariance, k, d, &mix.means, self.reg_covar, false);
                    let (post, next) = Posterior::update(prior, &est, self.covariance, &st.nk)?;
                    let lb = post.lower_bound(&next, entropy);
                    posterior = Some(post);
                    mix = next;
                    lb
                }
                None => {
                    mix = st.m_step(self.covariance, k, d, &mix.means, self.reg_covar, false)?;
                    ll
                }
            };
            history.push(lb);
            let change = lb - lower_bound;
            lower_bound = lb;
            hooks.emit(FitEvent::Iteration {
                run,
                iter,
                lower_bound: lb,
                change,
            });
            if change.abs() < self.tol {
                converged = true;
                break;
            }
            let n_iter = iter + 1;
            if let Some(save) = hooks.on_em_checkpoint
                && n_iter < self.max_iter
                && let Some(interrupted) = saves.schedule.after_step(n_iter as u64)
            {
                save(&(saves.snapshot)(&Run {
                    mix: mix.clone(),
                    posterior: posterior.clone(),
                    lower_bound,
                    n_iter,
                    converged: false,
                    history: history.clone(),
                    init_seconds,
                    iter_seconds: seconds_before + t_iter.elapsed().as_secs_f64(),
                    f32_iterations,
                }))?;
                if interrupted {
                    return Err(GmmError::Interrupted {
                        step: n_iter as u64,
                    });
                }
            }
        }
        Ok(Run {
            mix,
            posterior,
            lower_bound,
            n_iter: history.len(),
            converged,
            history,
            init_seconds,
            iter_seconds: seconds_before + t_iter.elapsed().as_secs_f64(),
            f32_iterations,
        })
    }
}

/// A run's checkpoints: their schedule, and the fit's state around the
/// run's current state.
struct Saves<'s, 'f> {
    schedule: &'s mut Checkpoints<'f>,
    snapshot: &'s dyn Fn(&Run) -> EmState,
}

/// The n × k initial responsibilities file, checked for its shape.
fn open_responsibilities(
    path: &std::path::Path,
    n: usize,
    k: usize,
) -> Result<mmclust_core::format::Matrix> {
    let m = mmclust_core::format::open_matrix(path)?;
    if m.n_rows() != n || m.n_cols() != k {
        return Err(GmmError::param(
            "init responsibilities",
            format!(
                "{} is {} × {}; the data has {n} rows and k = {k}: it needs one row per data row \
                 and one column per component",
                path.display(),
                m.n_rows(),
                m.n_cols()
            ),
        ));
    }
    Ok(m)
}

fn check_len(name: &'static str, found: usize, want: usize, k: usize, d: usize) -> Result<()> {
    if found != want {
        return Err(GmmError::param(
            name,
            format!("{found} values given; k = {k} components of d = {d} columns need {want}"),
        ));
    }
    Ok(())
}

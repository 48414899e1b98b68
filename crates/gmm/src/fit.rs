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

use std::time::Instant;

use mmclust_core::DataSource;
use mmclust_core::fitting::{FitObserver, check_data_and_k, check_non_negative, checked_stats};
use mmclust_core::isa::Isa;
use mmclust_core::parallel::Chunking;
use mmclust_core::stats::{Standardized, Standardizer};
use mmclust_kmeans::KMeansParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{GmmError, Result};
use crate::mixture::Mixture;
use crate::model::GaussianMixtureModel;
use crate::params::{CovarianceType, GmmParams, Init, Precision};
use crate::pass::{Responsibilities, em_pass, init_pass, loglik_pass};
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
}

/// Observers of a fit.
#[derive(Clone, Copy, Default)]
pub struct FitHooks<'a> {
    /// Called after each phase and iteration.
    pub on_event: Option<&'a (dyn Fn(&FitEvent) + Sync)>,
    /// Called with row counts as passes progress (from worker threads).
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
}

impl std::fmt::Debug for FitHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitHooks")
            .field("on_event", &self.on_event.is_some())
            .field("progress", &self.progress.is_some())
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
struct FitData<'a, S: ?Sized> {
    source: &'a S,
    chunking: Chunking,
    column_means: &'a [f64],
    column_variance: Option<&'a [f64]>,
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
            let data = FitData {
                source: &std_source,
                chunking,
                column_means: &column_means,
                column_variance: None,
            };
            let mut model = self.fit_runs(&data, hooks)?;
            model.standardizer = Some(transform);
            model
        } else {
            let column_variance = stats.variance();
            let data = FitData {
                source,
                chunking,
                column_means: &stats.mean,
                column_variance: Some(&column_variance),
            };
            self.fit_runs(&data, hooks)?
        };
        model.stats_seconds = stats_seconds;
        model.fit_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    fn check(&self, n: usize, d: usize) -> Result<()> {
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
        Ok(())
    }

    fn fit_runs<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        hooks: FitHooks<'_>,
    ) -> Result<GaussianMixtureModel> {
        let FitData {
            source, chunking, ..
        } = *data;
        let n = source.n_rows();
        let mut master = ChaCha8Rng::seed_from_u64(self.seed);
        let seeds: Vec<u64> = (0..self.runs()).map(|_| master.r#gen()).collect();
        let mut best: Option<(usize, Run)> = None;
        let mut bounds = Vec::with_capacity(seeds.len());
        let mut first_error = None;
        for (r, &seed) in seeds.iter().enumerate() {
            let run = match self.run_once(data, seed, r, hooks) {
                Ok(run) => run,
                Err(e @ (GmmError::Degenerate { .. } | GmmError::Numerical { .. })) => {
                    hooks.emit(FitEvent::RunFailed {
                        run: r,
                        message: e.to_string(),
                    });
                    bounds.push(f64::NAN);
                    first_error.get_or_insert(e);
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
            bounds.push(run.lower_bound);
            if best
                .as_ref()
                .is_none_or(|(_, b)| run.lower_bound > b.lower_bound)
            {
                best = Some((r, run));
            }
        }
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

    fn initial_mixture<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        seed: u64,
        hooks: FitHooks<'_>,
    ) -> Result<Mixture> {
        let FitData {
            source,
            chunking,
            column_means,
            column_variance,
        } = *data;
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let cov = self.covariance;
        let hard = |centers: Vec<f64>, keep: bool| -> Result<Mixture> {
            let nearest = Responsibilities::Nearest;
            let st = init_pass(source, chunking, hooks.pass(), cov, &centers, k, nearest)?;
            st.m_step(cov, k, d, &centers, self.reg_covar, keep)
        };
        let widen = |c: &[f32]| c.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        match &self.init {
            Init::KMeans | Init::KMeansPlusPlus => {
                let mut p = KMeansParams::new(k).n_init(1).seed(seed);
                p.chunking = Some(chunking);
                p.scratch = self.scratch.clone();
                if self.init == Init::KMeansPlusPlus {
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
                let mut centers = Vec::with_capacity(k * d);
                let mut scratch = Vec::new();
                for r in rows {
                    centers.extend(widen(source.rows(r..r + 1, &mut scratch)?));
                }
                hard(centers, false)
            }
            Init::Random => {
                let shifts: Vec<f64> = (0..k).flat_map(|_| column_means.iter().copied()).collect();
                let random = Responsibilities::Random { seed };
                let st = init_pass(source, chunking, hooks.pass(), cov, &shifts, k, random)?;
                st.m_step(cov, k, d, &shifts, self.reg_covar, false)
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
            }
        }
    }

    fn run_once<S: DataSource + ?Sized>(
        &self,
        data: &FitData<'_, S>,
        seed: u64,
        run: usize,
        hooks: FitHooks<'_>,
    ) -> Result<Run> {
        let FitData {
            source, chunking, ..
        } = *data;
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let t_init = Instant::now();
        let mut mix = self.initial_mixture(data, seed, hooks)?;
        let init_seconds = t_init.elapsed().as_secs_f64();
        hooks.emit(FitEvent::InitDone {
            run,
            seconds: init_seconds,
        });
        let t_iter = Instant::now();
        let mut history = Vec::new();
        let mut lower_bound = f64::NEG_INFINITY;
        let mut converged = false;
        let mut f32_iterations = 0;
        for iter in 0..self.max_iter {
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
            mix = st.m_step(self.covariance, k, d, &mix.means, self.reg_covar, false)?;
            history.push(ll);
            let change = ll - lower_bound;
            lower_bound = ll;
            hooks.emit(FitEvent::Iteration {
                run,
                iter,
                lower_bound: ll,
                change,
            });
            if change.abs() < self.tol {
                converged = true;
                break;
            }
        }
        Ok(Run {
            mix,
            lower_bound,
            n_iter: history.len(),
            converged,
            history,
            init_seconds,
            iter_seconds: t_iter.elapsed().as_secs_f64(),
            f32_iterations,
        })
    }
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

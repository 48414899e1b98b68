//! The fit: statistics pass, runs (initialisation + Lloyd), best run kept.

use std::time::Instant;

use mmclust_core::isa::Isa;
use mmclust_core::kernel::PackedCenters;
use mmclust_core::parallel::{Chunking, PassOptions};
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
use mmclust_core::{ArraySource, CoreError, DataSource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::accel::{Assigner, Bounds};
use crate::error::{KMeansError, Result};
use crate::init::{self, Ctx};
use crate::minibatch::MiniBatchState;
use crate::model::KMeansModel;
use crate::params::{Algorithm, Init, KMeansParams};
use crate::pass::{LloydPartial, farthest_points, read_row};

/// What a fit reports while it runs (for progress displays; the library never prints).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FitEvent {
    /// The statistics pass is done.
    StatsDone { seconds: f64 },
    /// Run `run` has its initial centres.
    InitDone { run: usize, seconds: f64 },
    /// One Lloyd iteration of run `run` is done.
    Iteration {
        run: usize,
        iter: usize,
        inertia: f64,
        changed: u64,
        shift: f64,
    },
    /// One mini-batch step is done.
    Step {
        step: u64,
        total_steps: u64,
        epoch: f64,
        batch_inertia: f64,
        ewa_inertia: Option<f64>,
        rows: usize,
    },
    /// Run `run` is done.
    RunDone {
        run: usize,
        inertia: f64,
        n_iter: usize,
        converged: bool,
    },
}

/// Receives a mini-batch run's state to save it.
pub type CheckpointHook<'a> = dyn Fn(&MiniBatchState) -> Result<()> + Sync + 'a;

/// Observers of a fit.
#[derive(Clone, Copy, Default)]
pub struct FitHooks<'a> {
    /// Called after each phase and iteration.
    pub on_event: Option<&'a (dyn Fn(&FitEvent) + Sync)>,
    /// Called with row counts as passes progress (from worker threads).
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
    /// When set (e.g. by a signal handler), a mini-batch run checkpoints and
    /// stops with [`KMeansError::Interrupted`].
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// Receives mini-batch checkpoints (every `checkpoint_every` steps, when
    /// stopped, and at the end).
    pub on_checkpoint: Option<&'a CheckpointHook<'a>>,
}

impl std::fmt::Debug for FitHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitHooks")
            .field("on_event", &self.on_event.is_some())
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .field("on_checkpoint", &self.on_checkpoint.is_some())
            .finish()
    }
}

impl FitHooks<'_> {
    pub(crate) fn emit(&self, e: FitEvent) {
        if let Some(f) = self.on_event {
            f(&e);
        }
    }
    pub(crate) fn pass(&self) -> PassOptions<'_> {
        PassOptions {
            progress: self.progress,
        }
    }
}

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
}

impl KMeansParams {
    /// Fits K-means to `source`.
    ///
    /// # Errors
    /// Invalid parameters, unreadable or non-finite data, an invalid
    /// `MMCLUST_ISA` ([`CoreError::Isa`]): see [`KMeansError`].
    pub fn fit<S: DataSource + ?Sized>(&self, source: &S) -> Result<KMeansModel> {
        self.fit_with(source, None, FitHooks::default())
    }

    /// Fits K-means with per-row sample weights.
    ///
    /// # Errors
    /// As [`KMeansParams::fit`]; also weights of the wrong length, negative,
    /// non-finite or all zero.
    pub fn fit_weighted<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: &[f32],
    ) -> Result<KMeansModel> {
        self.fit_with(source, Some(weights), FitHooks::default())
    }

    /// Fits with optional weights and observers.
    ///
    /// # Errors
    /// As [`KMeansParams::fit_weighted`].
    pub fn fit_with<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        let started = Instant::now();
        Isa::process_default()?;
        let (n, d) = (source.n_rows(), source.n_cols());
        self.check(n, d)?;
        if let Some(w) = weights {
            check_weights(w, n, self.k)?;
        }
        let chunking = self
            .chunking
            .unwrap_or_else(|| Chunking::for_partial(n, d, self.k.saturating_mul(d)));
        // One pass validates the data (NaN/inf found here, before anything is
        // written), gives the tolerance's scale and the standardisation.
        // Mini-batch skips it unless it needs it (standardisation, tol > 0): its
        // point is not to read all the data; it checks each batch instead.
        let minibatch = matches!(self.algorithm, Algorithm::MiniBatch(_));
        let t = Instant::now();
        let stats = if minibatch && !self.standardize && self.tol == 0.0 {
            None
        } else {
            let stats = ColumnStats::compute(source, chunking, hooks.pass())?;
            if let Some((row, col)) = stats.first_non_finite {
                return Err(CoreError::NonFinite {
                    source_name: source.name(),
                    count: stats.non_finite(),
                    row,
                    col,
                }
                .into());
            }
            Some(stats)
        };
        let stats_seconds = t.elapsed().as_secs_f64();
        hooks.emit(FitEvent::StatsDone {
            seconds: stats_seconds,
        });
        let variance = stats
            .as_ref()
            .map_or_else(|| vec![0.0; d], ColumnStats::variance);
        let mut model = match (&stats, self.standardize) {
            (Some(stats), true) => {
                let transform = Standardizer::from_stats(stats, &source.name())?;
                let fit_variance: Vec<f64> = variance
                    .iter()
                    .zip(&transform.scale)
                    .map(|(v, s)| v / (s * s))
                    .collect();
                let std_source = Standardized::new(source, transform.clone())?;
                let mut model =
                    self.fit_runs(&std_source, weights, chunking, &fit_variance, hooks)?;
                model.standardizer = Some(transform);
                model
            }
            _ => self.fit_runs(source, weights, chunking, &variance, hooks)?,
        };
        model.stats_seconds = stats_seconds;
        model.fit_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    fn check(&self, n: usize, d: usize) -> Result<()> {
        if n == 0 || d == 0 {
            return Err(KMeansError::param(
                "data",
                format!("the data has {n} rows and {d} columns; at least one of each is needed"),
            ));
        }
        if self.k == 0 {
            return Err(KMeansError::param("k", "must be at least 1"));
        }
        if self.k > n {
            return Err(KMeansError::param(
                "k",
                format!(
                    "k = {} is more than the {n} rows of the data; choose k ≤ {n}",
                    self.k
                ),
            ));
        }
        // Labels are 32-bit (int32 in label files, u32 in the kernels).
        if self.k > i32::MAX as usize {
            return Err(KMeansError::param(
                "k",
                format!("k = {} is over the limit of {} clusters", self.k, i32::MAX),
            ));
        }
        if self.max_iter == 0 {
            return Err(KMeansError::param("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(KMeansError::param(
                "tol",
                format!("{} must be a finite number ≥ 0", self.tol),
            ));
        }
        if self.n_init == Some(0) {
            return Err(KMeansError::param("n_init", "must be at least 1"));
        }
        if let Init::KMeansParallel {
            rounds,
            oversampling,
        } = self.init
            && (rounds == 0 || !(oversampling.is_finite() && oversampling > 0.0))
        {
            return Err(KMeansError::param(
                "init",
                "k-means-parallel needs at least one round and an oversampling factor > 0",
            ));
        }
        if let Init::Given(c) = &self.init {
            init::given(c, self.k, d)?;
        }
        Ok(())
    }

    fn fit_runs<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        chunking: Chunking,
        variance: &[f64],
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        let (n, d) = (source.n_rows(), source.n_cols());
        let mean_variance = variance.iter().sum::<f64>() / d as f64;
        let tol_abs = self.tol * mean_variance;
        if let Algorithm::MiniBatch(opts) = &self.algorithm {
            return self.fit_minibatch(opts, source, weights, tol_abs, hooks);
        }
        let init = self.init.resolve(n, d, self.k);
        let distributed = source.comm().is_some_and(|c| c.size() > 1);
        let algorithm = match self.algorithm {
            // The bounded variants do not run distributed yet; Lloyd gives
            // the same answer.
            Algorithm::Auto if distributed => Algorithm::Lloyd,
            ref a => a.resolve(d, self.k),
        };
        if distributed && matches!(algorithm, Algorithm::Hamerly | Algorithm::Yinyang) {
            // Their per-point bounds live with the points and their passes
            // are not on the global chunk grid yet.
            return Err(KMeansError::param(
                "algorithm",
                format!(
                    "{} is not available in a distributed (MPI) run; use --algorithm lloyd (the same answer) or auto",
                    algorithm.name()
                ),
            ));
        }
        // Every run's seed is drawn up front, so run r is the same whatever
        // happens in the others (and on any number of threads).
        let mut master = ChaCha8Rng::seed_from_u64(self.seed);
        let seeds: Vec<u64> = (0..self.runs()).map(|_| master.r#gen()).collect();
        let mut best: Option<(usize, Run)> = None;
        let mut inertias = Vec::with_capacity(seeds.len());
        for (r, &seed) in seeds.iter().enumerate() {
            let run = self.run_once(
                source, weights, chunking, &init, &algorithm, tol_abs, seed, r, hooks,
            )?;
            hooks.emit(FitEvent::RunDone {
                run: r,
                inertia: run.inertia,
                n_iter: run.n_iter,
                converged: run.converged,
            });
            inertias.push(run.inertia);
            if best.as_ref().is_none_or(|(_, b)| run.inertia < b.inertia) {
                best = Some((r, run));
            }
        }
        let (best_run, run) = best.expect("at least one run");
        if !run.inertia.is_finite() {
            return Err(KMeansError::Numerical {
                message: format!(
                    "inertia is {}; the data's values are too large for float32 distances — standardise them (--standardize)",
                    run.inertia
                ),
            });
        }
        Ok(KMeansModel::from_run(
            self, &init, &algorithm, run, best_run, inertias, tol_abs, n, d,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_once<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        chunking: Chunking,
        init: &Init,
        algorithm: &Algorithm,
        tol_abs: f64,
        seed: u64,
        run: usize,
        hooks: FitHooks<'_>,
    ) -> Result<Run> {
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        let t_init = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ctx = Ctx {
            source,
            chunking,
            weights,
            scratch: &self.scratch,
        };
        let mut distinct_init = k;
        let mut centers = match init {
            Init::Random => init::random(&ctx, k, &mut rng)?,
            Init::KMeansPlusPlus | Init::Auto => {
                let (c, distinct) = init::plus_plus(&ctx, k, &mut rng)?;
                distinct_init = distinct;
                c
            }
            Init::KMeansParallel {
                rounds,
                oversampling,
            } => init::parallel(
                &ctx,
                k,
                *rounds,
                *oversampling,
                seed,
                &mut rng,
                |cands, cand_weights| {
                    // Reduce the weighted candidates to k centres in memory.
                    let m = cand_weights.len();
                    let src = ArraySource::from_slice(cands, m, d)?;
                    let local = KMeansParams::new(k)
                        .init(Init::KMeansPlusPlus)
                        .seed(rng_seed(seed))
                        .max_iter(100)
                        .tol(self.tol);
                    Ok(local.fit_weighted(&src, cand_weights)?.centers)
                },
            )?,
            Init::Given(c) => init::given(c, k, d)?,
        };
        let init_seconds = t_init.elapsed().as_secs_f64();
        hooks.emit(FitEvent::InitDone {
            run,
            seconds: init_seconds,
        });

        let t_iter = Instant::now();
        // The assignment strategy is the only difference between Lloyd and its
        // accelerated variants: the loop, the M-step, relocation and the
        // convergence test below are shared.
        let mut assigner = match algorithm {
            Algorithm::Hamerly | Algorithm::Yinyang => {
                let kind = if *algorithm == Algorithm::Hamerly {
                    Bounds::Hamerly
                } else {
                    Bounds::Yinyang
                };
                Assigner::bounded(kind, n, &centers, k, d, seed, &self.scratch)?
                    .warm_up(self.bounds_warm_up)
            }
            _ => Assigner::lloyd(n, &self.scratch)?,
        };
        let mut history = Vec::new();
        let mut relocated = 0;
        let mut converged = false;
        let mut strict = false;
        let mut n_iter = 0;
        let mut distance_evals = 0u64;
        let mut distance_evals_lloyd = 0u64;
        for iter in 0..self.max_iter {
            let packed = PackedCenters::new(&centers, k, d)?;
            let (mut p, evals) = assigner.pass(source, chunking, hooks.pass(), &packed, weights)?;
            distance_evals += evals;
            distance_evals_lloyd += (n * k) as u64;
            history.push(p.inertia);
            if p.weight.iter().any(|&w| w <= 0.0) {
                relocated += relocate_empty(source, chunking, &packed, weights, &mut p)?;
            }
            let mut shift = 0.0f64;
            for j in 0..k {
                if p.weight[j] <= 0.0 {
                    continue; // still empty: the centre stays where it was
                }
                let inv = 1.0 / p.weight[j];
                for (c, &s) in centers[j * d..(j + 1) * d]
                    .iter_mut()
                    .zip(&p.sums[j * d..(j + 1) * d])
                {
                    let new = (s * inv) as f32;
                    let delta = f64::from(new) - f64::from(*c);
                    shift += delta * delta;
                    *c = new;
                }
            }
            n_iter = iter + 1;
            hooks.emit(FitEvent::Iteration {
                run,
                iter,
                inertia: p.inertia,
                changed: p.changed,
                shift,
            });
            if p.changed == 0 {
                converged = true;
                strict = true;
                break;
            }
            if shift <= tol_abs {
                converged = true;
                break;
            }
        }
        // Labels unchanged means the new centres equal the ones just assigned
        // with (same sums, same order), so the last pass's inertia is exact;
        // otherwise one more E-step measures the final centres.
        let inertia = if strict && relocated == 0 {
            *history.last().expect("at least one iteration")
        } else {
            let (inertia, evals) = assigner.final_inertia(
                source,
                chunking,
                hooks.pass(),
                &PackedCenters::new(&centers, k, d)?,
                weights,
            )?;
            distance_evals += evals;
            distance_evals_lloyd += (n * k) as u64;
            inertia
        };
        Ok(Run {
            centers,
            inertia,
            n_iter,
            converged,
            history,
            relocated,
            distinct_init,
            init_seconds,
            iter_seconds: t_iter.elapsed().as_secs_f64(),
            distance_evals,
            distance_evals_lloyd,
        })
    }
}

/// A derived seed for a nested computation.
fn rng_seed(seed: u64) -> u64 {
    seed ^ 0x6A09_E667_F3BC_C908
}

/// Moves each empty cluster's centre to one of the points farthest from their
/// own centres, taking points only from clusters that keep at least one point
/// (scikit-learn's rule, plus that guard). Updates the statistics as if the
/// point had been assigned to the empty cluster. Returns how many moved.
fn relocate_empty<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    centers: &PackedCenters,
    weights: Option<&[f32]>,
    p: &mut LloydPartial,
) -> Result<usize> {
    let k = centers.k();
    let d = centers.d();
    let empty: Vec<usize> = (0..k).filter(|&j| p.weight[j] <= 0.0).collect();
    let candidates = farthest_points(source, chunking, centers, empty.len() + k)?;
    let mut next = candidates.iter();
    let mut moved = 0;
    for &e in &empty {
        for &(dist, row, old) in next.by_ref() {
            let old = old as usize;
            let w = weights.map_or(1.0, |w| f64::from(w[row]));
            if dist <= 0.0 {
                // Every remaining point sits on its centre: nothing to gain.
                return Ok(moved);
            }
            if p.count[old] <= 1 || w <= 0.0 || old == e {
                continue;
            }
            let x = read_row(source, row)?;
            for (j, &v) in x.iter().enumerate() {
                p.sums[old * d + j] -= w * f64::from(v);
                p.sums[e * d + j] = w * f64::from(v);
            }
            p.weight[old] -= w;
            p.count[old] -= 1;
            p.weight[e] = w;
            p.count[e] = 1;
            moved += 1;
            break;
        }
    }
    Ok(moved)
}

fn check_weights(w: &[f32], n: usize, k: usize) -> Result<()> {
    if w.len() != n {
        return Err(KMeansError::param(
            "weights",
            format!(
                "{} weights for {n} rows; give exactly one weight per row",
                w.len()
            ),
        ));
    }
    if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(KMeansError::param(
            "weights",
            format!(
                "weight of row {i} is {}; weights must be finite and ≥ 0",
                w[i]
            ),
        ));
    }
    let positive = w.iter().filter(|&&v| v > 0.0).count();
    if positive == 0 {
        return Err(KMeansError::param(
            "weights",
            "all weights are zero; at least one row must count",
        ));
    }
    if positive < k {
        return Err(KMeansError::param(
            "weights",
            format!("only {positive} rows have a positive weight; k = {k} needs at least k"),
        ));
    }
    Ok(())
}

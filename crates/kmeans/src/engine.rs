//! The exact K-means engine: runs of Lloyd (plain or bounded), each an
//! initialisation and Lloyd's iterations, the best run kept; and the internal
//! entry point for K-means on points already in memory.
//!
//! The public fit ([`KMeansParams::fit_with`]) and [`crate::fit_source`] come
//! here after their prologue; the internal users (k-means‖'s reduction of its
//! candidates, Yinyang's grouping of the centres, mini-batch's initial sample)
//! come through [`fit_points`], which does what the public fit does on their
//! in-memory points (same checks, chunking, runs and tolerance scale, hence
//! the same bits) without re-entering it.

use std::time::Instant;

use mmclust_core::fitting::{FitObserver, checked_stats};
use mmclust_core::kernel::PackedCenters;
use mmclust_core::parallel::{Chunking, PassOptions, local_rows};
use mmclust_core::{ArraySource, DataSource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::accel::{Assigner, Bounds};
use crate::error::{KMeansError, Result};
use crate::hooks::{FitEvent, FitHooks};
use crate::init::{self, Ctx};
use crate::model::KMeansModel;
use crate::params::{Algorithm, Init, KMeansParams, Metric};
use crate::pass::{LloydPartial, farthest_points, read_row};
use crate::state::Run;

/// The chunk length of a fit: the parameters' override, or one sized for
/// the pass's partial (k·d sums).
pub(crate) fn chunking_for(params: &KMeansParams, n: usize, d: usize) -> Chunking {
    params
        .chunking
        .unwrap_or_else(|| Chunking::for_partial(n, d, params.k.saturating_mul(d)))
}

/// The absolute shift threshold: `tol ×` the mean column variance.
pub(crate) fn tol_abs(tol: f64, variance: &[f64]) -> f64 {
    let mean_variance = variance.iter().sum::<f64>() / variance.len() as f64;
    tol * mean_variance
}

/// Cosine: moves every initial centre to unit length (k-means++ and random
/// rows of the normalised source are already there, up to rounding; given
/// centres and k-means‖'s reduced candidates are not). Euclidean: nothing.
pub(crate) fn project_initial(metric: Metric, centers: &mut [f32], d: usize) -> Result<()> {
    if metric == Metric::Cosine {
        for (j, c) in centers.chunks_exact_mut(d).enumerate() {
            if mmclust_core::normalize::normalize_in_place(c) == 0.0 {
                return Err(KMeansError::param(
                    "init",
                    format!(
                        "initial centre {j} is all zeros; cosine needs centres of non-zero length"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Sets `center` to its new value from its cluster's f64 `sums` and total
/// `weight`, and returns the squared shift: the mean (Euclidean), or the
/// normalised sum (cosine; a sum of norm 0 leaves the centre where it was).
/// `buf` is d values of scratch.
pub(crate) fn update_center(
    metric: Metric,
    center: &mut [f32],
    sums: &[f64],
    weight: f64,
    buf: &mut Vec<f32>,
) -> f64 {
    buf.clear();
    match metric {
        Metric::Euclidean => {
            let inv = 1.0 / weight;
            buf.extend(sums.iter().map(|&s| (s * inv) as f32));
        }
        Metric::Cosine => {
            buf.extend_from_slice(center);
            mmclust_core::normalize::unit_from_sums(sums, buf);
        }
    }
    let mut shift = 0.0f64;
    for (c, &new) in center.iter_mut().zip(buf.iter()) {
        let delta = f64::from(new) - f64::from(*c);
        shift += delta * delta;
        *c = new;
    }
    shift
}

/// K-means on `points` (row-major, `d` columns) held in memory, with optional
/// weights: the result of `params.fit_weighted` (or `fit`) on them, bit for
/// bit, without the public entry's standardisation (internal callers never
/// standardise; `params.standardize` must be false) and without a statistics
/// pass when `tol` is 0, whose scale it would only multiply.
pub(crate) fn fit_points(
    params: &KMeansParams,
    points: &[f32],
    d: usize,
    weights: Option<&[f32]>,
) -> Result<KMeansModel> {
    debug_assert!(!params.standardize && !matches!(params.algorithm, Algorithm::MiniBatch(_)));
    let n = points.len() / d;
    let source = ArraySource::from_slice(points, n, d)?;
    params.check(n, d, weights)?;
    let chunking = chunking_for(params, n, d);
    let tol = if params.tol == 0.0 {
        0.0
    } else {
        let variance = checked_stats(&source, chunking, PassOptions::default())?.variance();
        tol_abs(params.tol, &variance)
    };
    params.fit_runs(&source, weights, chunking, tol, FitHooks::default())
}

impl KMeansParams {
    /// [`Init::Sample`]'s centres: K-means (k-means++, then Lloyd to
    /// convergence with these parameters' `tol` and `max_iter`) on a uniform
    /// sample of the rows held in memory. Reads the sample's rows and nothing
    /// else.
    pub(crate) fn sample_centers<S: DataSource + ?Sized>(
        &self,
        ctx: &Ctx<'_, S>,
        rows_per_centre: usize,
        seed: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<f32>> {
        let (k, d) = (self.k, ctx.source.n_cols());
        let (points, w) = init::sample(ctx, k, rows_per_centre, rng)?;
        let local = KMeansParams::new(k)
            .init(Init::KMeansPlusPlus)
            .seed(rng_seed(seed))
            .max_iter(self.max_iter)
            .tol(self.tol);
        // Sample weights weight the sample's rows, unless too few are positive.
        let w = w.filter(|w| w.iter().filter(|&&v| v > 0.0).count() >= k);
        Ok(fit_points(&local, &points, d, w.as_deref())?.centers)
    }

    /// The runs of Lloyd or a bounded variant (not mini-batch: see
    /// [`KMeansParams::fit_minibatch`]), the one with the lowest inertia
    /// kept. `tol_abs` is the absolute shift threshold ([`tol_abs`]).
    pub(crate) fn fit_runs<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        chunking: Chunking,
        tol_abs: f64,
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        debug_assert!(!matches!(self.algorithm, Algorithm::MiniBatch(_)));
        let (n, d) = (source.n_rows(), source.n_cols());
        let init = self.init.resolve(n, d, self.k);
        // From the shape alone: the same on any number of processes.
        let algorithm = self.algorithm.resolve(n, d, self.k);
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

    /// One run: the initial centres by `init`, then Lloyd's iterations with
    /// the assignment of `algorithm` (Lloyd's pass, Hamerly's or Yinyang's
    /// bounds) until no label changes, the centres shift by at most
    /// `tol_abs`, or `max_iter`.
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
        // The rows whose labels and bounds this process keeps.
        let held = local_rows(source, chunking).len();
        let t_init = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ctx = Ctx {
            source,
            chunking,
            weights,
            scratch: &self.scratch,
        };
        let mut distinct_init = k;
        let resume = self.checkpoints.resume.as_deref();
        let mut centers = match init {
            _ if resume.is_some() => resume.expect("checked").centers.clone(),
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
                    let local = KMeansParams::new(k)
                        .init(Init::KMeansPlusPlus)
                        .seed(rng_seed(seed))
                        .max_iter(100)
                        .tol(self.tol);
                    Ok(fit_points(&local, cands, d, Some(cand_weights))?.centers)
                },
            )?,
            Init::Sample { rows_per_centre } => {
                self.sample_centers(&ctx, *rows_per_centre, seed, &mut rng)?
            }
            Init::Given(c) => init::given(c, k, d)?,
        };
        if resume.is_none() {
            project_initial(self.metric, &mut centers, d)?;
        }
        let init_seconds =
            resume.map_or_else(|| t_init.elapsed().as_secs_f64(), |r| r.init_seconds);
        if let Some(r) = resume {
            distinct_init = r.distinct_init;
        }
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
                let cluster = |params: &KMeansParams, points: &[f32]| {
                    Ok(fit_points(params, points, d, None)?.centers)
                };
                Assigner::bounded(kind, held, &centers, k, d, seed, &self.scratch, cluster)?
                    .warm_up(self.bounds_warm_up)
            }
            _ => Assigner::lloyd(held, &self.scratch)?,
        };
        let mut history = Vec::new();
        let mut relocated = 0;
        let mut converged = false;
        let mut strict = false;
        let mut n_iter = 0;
        let mut distance_evals = 0u64;
        let mut distance_evals_lloyd = 0u64;
        let mut rechecks = 0u64;
        let scale = self.metric.distance_scale();
        let mut buf = Vec::with_capacity(d);
        let mut assigned_rows = 0u64;
        let mut seconds_before = 0.0;
        if let Some(r) = resume {
            history.clone_from(&r.history);
            relocated = r.relocated;
            n_iter = r.iter;
            distance_evals = r.distance_evals;
            distance_evals_lloyd = r.distance_evals_lloyd;
            rechecks = r.rechecks;
            assigned_rows = r.assigned_rows;
            seconds_before = r.iter_seconds;
        }
        let first = n_iter;
        let mut schedule = mmclust_core::batches::Checkpoints::new(
            self.checkpoints.every,
            self.checkpoints.seconds,
            hooks.stop,
        );
        for iter in first..self.max_iter {
            let packed = PackedCenters::new(&centers, k, d)?;
            let (mut p, evals) = assigner.pass(source, chunking, hooks.pass(), &packed, weights)?;
            distance_evals += evals;
            distance_evals_lloyd += (n * k) as u64;
            rechecks += p.rechecks;
            assigned_rows += n as u64;
            p.inertia *= scale;
            history.push(p.inertia);
            if p.weight.iter().any(|&w| w <= 0.0) {
                relocated += relocate_empty(source, chunking, &packed, weights, &mut p)?;
            }
            let mut shift = 0.0f64;
            for j in 0..k {
                if p.weight[j] <= 0.0 {
                    continue; // still empty: the centre stays where it was
                }
                shift += update_center(
                    self.metric,
                    &mut centers[j * d..(j + 1) * d],
                    &p.sums[j * d..(j + 1) * d],
                    p.weight[j],
                    &mut buf,
                );
            }
            n_iter = iter + 1;
            hooks.emit(FitEvent::Iteration {
                run,
                iter,
                inertia: p.inertia,
                changed: p.changed,
                shift,
            });
            // The first pass after a resume has no previous labels to compare
            // with (`changed` counts every row). Centres that did not move at
            // all mean the same sums, so the labels of an uninterrupted run
            // did not change either: its strict convergence, kept here.
            if p.changed == 0 || (iter == first && resume.is_some() && shift == 0.0) {
                converged = true;
                strict = true;
                break;
            }
            if shift <= tol_abs {
                converged = true;
                break;
            }
            if let Some(save) = hooks.on_lloyd_checkpoint
                && n_iter < self.max_iter
                && let Some(interrupted) = schedule.after_step(n_iter as u64)
            {
                save(&crate::state::LloydState {
                    k,
                    d,
                    iter: n_iter,
                    centers: centers.clone(),
                    history: history.clone(),
                    relocated,
                    distinct_init,
                    init_seconds,
                    iter_seconds: seconds_before + t_iter.elapsed().as_secs_f64(),
                    distance_evals,
                    distance_evals_lloyd,
                    rechecks,
                    assigned_rows,
                })?;
                if interrupted {
                    return Err(KMeansError::Interrupted {
                        step: n_iter as u64,
                    });
                }
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
            inertia * scale
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
            iter_seconds: seconds_before + t_iter.elapsed().as_secs_f64(),
            distance_evals,
            distance_evals_lloyd,
            rechecks,
            assigned_rows,
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

#[cfg(test)]
mod tests {
    use super::*;

    use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
    use rand::Rng;

    /// Blobs around `k` random centres, with a few exact duplicates.
    fn blobs(n: usize, d: usize, k: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centers: Vec<f32> = (0..k * d).map(|_| rng.gen_range(-50.0..50.0)).collect();
        let mut x = Vec::with_capacity(n * d);
        for i in 0..n {
            let c = if i % 17 == 3 { 0 } else { rng.gen_range(0..k) };
            for p in 0..d {
                x.push(centers[c * d + p] + rng.gen_range(-4.0f32..4.0));
            }
        }
        x
    }

    /// The model without its timings (which differ from run to run).
    fn untimed(m: KMeansModel) -> KMeansModel {
        KMeansModel {
            stats_seconds: 0.0,
            init_seconds: 0.0,
            iter_seconds: 0.0,
            fit_seconds: 0.0,
            ..m
        }
    }

    fn same(a: KMeansModel, b: KMeansModel, what: &str) {
        let (a, b) = (untimed(a), untimed(b));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.centers), bits(&b.centers), "{what}: centres");
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits(), "{what}: inertia");
        assert_eq!(a.tol_abs.to_bits(), b.tol_abs.to_bits(), "{what}: tol_abs");
        assert_eq!(a, b, "{what}");
    }

    fn params_cases(k: usize) -> Vec<KMeansParams> {
        let base = KMeansParams::new(k).seed(7);
        vec![
            base.clone().init(Init::KMeansPlusPlus).max_iter(100),
            base.clone().init(Init::KMeansPlusPlus).max_iter(5).tol(0.0),
            base.clone()
                .init(Init::KMeansPlusPlus)
                .max_iter(1)
                .n_init(1),
            base.clone().init(Init::Random).tol(1e-2),
            base.clone().init(Init::k_means_parallel()).tol(1e-3),
            base.clone()
                .init(Init::KMeansPlusPlus)
                .algorithm(Algorithm::Yinyang)
                .bounds_warm_up(false),
            base.clone()
                .init(Init::KMeansPlusPlus)
                .chunking(Chunking::with_rows(13).unwrap()),
        ]
    }

    /// The internal in-memory entry gives the public fit's bits on the same
    /// points: what the three internal callers (k-means‖'s reduction,
    /// Yinyang's grouping, mini-batch's sample) got when they called it.
    #[test]
    fn fit_points_is_the_public_fit_bit_for_bit() {
        for &(n, d, k) in &[(300, 3, 4), (500, 17, 40), (40, 1, 40), (200, 9, 20)] {
            let x = blobs(n, d, k.min(6), n as u64);
            let src = ArraySource::from_slice(&x, n, d).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let w: Vec<f32> = (0..n)
                .map(|i| {
                    if i % 5 == 0 {
                        0.0
                    } else {
                        rng.gen_range(0.5..3.0)
                    }
                })
                .collect();
            for p in params_cases(k) {
                let what = format!("n={n} d={d} k={k} {p:?}");
                same(
                    fit_points(&p, &x, d, None).unwrap(),
                    p.fit(&src).unwrap(),
                    &what,
                );
                // Too few positive weights for k: the same error both ways.
                match (fit_points(&p, &x, d, Some(&w)), p.fit_weighted(&src, &w)) {
                    (Ok(a), Ok(b)) => same(a, b, &format!("{what} weighted")),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
                    (a, b) => panic!("{what}: {a:?} against {b:?}"),
                }
            }
        }
    }

    /// `fit_source` with the variance of the data (the Gaussian mixture's
    /// raw branch), or computing it (its standardised branch), is the public
    /// fit bit for bit.
    #[test]
    fn fit_source_is_the_public_fit_bit_for_bit() {
        let (n, d, k) = (400, 5, 6);
        let x: Vec<f32> = blobs(n, d, k, 9)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1 + i % d) as f32 + 1000.0)
            .collect();
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for p in params_cases(k) {
            let what = format!("{p:?}");
            let chunking = chunking_for(&p, n, d);
            let stats = ColumnStats::compute(&src, chunking, PassOptions::default()).unwrap();
            let variance = stats.variance();
            let hooks = FitHooks::default();
            same(
                crate::fit_source(&p, &src, None, Some(&variance), hooks).unwrap(),
                p.fit(&src).unwrap(),
                &format!("{what} given variance"),
            );
            let transform = Standardizer::from_stats(&stats, "x").unwrap();
            let std_src = Standardized::new(&src, transform).unwrap();
            same(
                crate::fit_source(&p, &std_src, None, None, hooks).unwrap(),
                p.fit(&std_src).unwrap(),
                &format!("{what} standardised source"),
            );
        }
    }
}

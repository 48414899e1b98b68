//! Mini-batch K-means (Sculley 2010) with scikit-learn's refinements, built for
//! data larger than RAM.
//!
//! * Batches are random runs of contiguous rows drawn across the whole input
//!   (or uniformly random rows), so a memory-mapped file is read in page runs.
//!   The rows of step s come from a random stream keyed by (seed, s) alone: a
//!   run is the same whatever the thread count, and resuming from a checkpoint
//!   at step s replays exactly the batches an uninterrupted run would see.
//! * The next batch is read on a background thread while the current one is
//!   assigned in parallel (fixed 256-row chunks, merged by the fixed tree). In
//!   a distributed run each process reads only the rows of its chunks.
//! * Each centre moves to the running mean of the points it has been given
//!   (learning rate weight/count); centres whose count falls below
//!   `reassignment_ratio` × the largest are re-seeded from points of the batch;
//!   the run stops when an exponentially weighted average of the batch inertia
//!   has not improved for `max_no_improvement` steps, when the centres move less
//!   than the tolerance, or after `max_iter` epochs.
//!
//! Memory: the batch being assigned, the one being read, the centres and the
//! counts: independent of n.

use std::time::Instant;

use mmclust_core::batches::{self, Batch, BatchPlan, Checkpoints, read_ahead};
use mmclust_core::fitting::FitObserver;
use mmclust_core::kernel::PackedCenters;
use mmclust_core::parallel::{AllReduce, Chunking, PassOptions, map_reduce_global};
use mmclust_core::partial::{Partial, PartialReader};
use mmclust_core::source::Distributed;
use mmclust_core::{ArraySource, CoreError, DataSource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::{fit_points, project_initial, update_center};
use crate::error::{KMeansError, Result};
use crate::hooks::{FitEvent, FitHooks};
use crate::init;
use crate::model::{KMeansModel, count_distinct};
use crate::params::{Algorithm, Init, KMeansParams, Metric, MiniBatchOptions, Sampling};
use crate::pass::{assign, inertia_pass, with_workspace};
use crate::state::MiniBatchState;

/// Rows per chunk when a batch is assigned.
const BATCH_CHUNK_ROWS: usize = 256;

/// The chunks a batch is assigned in (and shared by, in a distributed run).
fn batch_chunking() -> Chunking {
    Chunking::with_rows(BATCH_CHUNK_ROWS).expect("a positive chunk length")
}

/// Sums of one batch's assignment.
struct BatchStats {
    sums: Vec<f64>,
    weight: Vec<f64>,
    inertia: f64,
    total_weight: f64,
    rechecks: u64,
}

impl Partial for BatchStats {
    fn encode(&self, out: &mut Vec<f64>) {
        self.sums.encode(out);
        self.weight.encode(out);
        self.inertia.encode(out);
        self.total_weight.encode(out);
        self.rechecks.encode(out);
    }
    fn decode(r: &mut PartialReader<'_>) -> mmclust_core::Result<Self> {
        Ok(BatchStats {
            sums: Partial::decode(r)?,
            weight: Partial::decode(r)?,
            inertia: Partial::decode(r)?,
            total_weight: Partial::decode(r)?,
            rechecks: Partial::decode(r)?,
        })
    }
}

/// Assigns a batch. In a distributed run every process draws the same rows
/// (from the same seed), reads and assigns only its share of the batch's
/// chunks; the sums are combined by the batch's merge tree, so they are
/// bitwise those of one process.
fn assign_batch(
    batch: &Batch,
    w: Option<&[f32]>,
    centers: &PackedCenters,
    comm: Option<&dyn AllReduce>,
) -> Result<BatchStats> {
    let d = centers.d();
    let rows = batch.data.len() / d;
    let array = ArraySource::from_slice(&batch.data, rows, d)?;
    let chunking = batch_chunking();
    let stats = match comm {
        Some(comm) => batch_pass(&Distributed::new(&array, comm), chunking, centers, w)?,
        None => batch_pass(&array, chunking, centers, w)?,
    };
    Ok(stats.expect("a batch has rows"))
}

fn batch_pass<S: DataSource + ?Sized>(
    src: &S,
    chunking: Chunking,
    centers: &PackedCenters,
    w: Option<&[f32]>,
) -> Result<Option<BatchStats>> {
    let (k, d) = (centers.k(), centers.d());
    Ok(map_reduce_global(
        src,
        chunking,
        PassOptions::default(),
        |chunk| {
            let mut s = BatchStats {
                sums: vec![0.0; k * d],
                weight: vec![0.0; k],
                inertia: 0.0,
                total_weight: 0.0,
                rechecks: 0,
            };
            with_workspace(|ws| {
                s.rechecks = assign(&chunk, centers, ws);
                for (i, x) in chunk.rows().enumerate() {
                    let l = ws.labels[i] as usize;
                    let wi = w.map_or(1.0, |w| f64::from(w[chunk.start_row + i]));
                    s.weight[l] += wi;
                    s.total_weight += wi;
                    s.inertia += wi * f64::from(ws.dist[i]);
                    for (sum, &v) in s.sums[l * d..(l + 1) * d].iter_mut().zip(x) {
                        *sum += wi * f64::from(v);
                    }
                }
            });
            Ok(s)
        },
        |mut a, b| {
            a.sums.iter_mut().zip(&b.sums).for_each(|(x, y)| *x += y);
            a.weight
                .iter_mut()
                .zip(&b.weight)
                .for_each(|(x, y)| *x += y);
            a.inertia += b.inertia;
            a.total_weight += b.total_weight;
            a.rechecks += b.rechecks;
            a
        },
    )?)
}

impl MiniBatchState {
    /// scikit-learn's `_mini_batch_convergence`: returns true to stop.
    fn converged(
        &mut self,
        batch_inertia: f64,
        shift: f64,
        tol_abs: f64,
        n: usize,
        batch_rows: usize,
        opts: &MiniBatchOptions,
    ) -> bool {
        // The first step's inertia is measured against the initial centres.
        if self.step == 1 {
            return false;
        }
        self.ewa = Some(match self.ewa {
            None => batch_inertia,
            Some(ewa) => {
                let alpha = (batch_rows as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
                ewa * (1.0 - alpha) + batch_inertia * alpha
            }
        });
        let ewa = self.ewa.expect("set above");
        self.record(ewa);
        if tol_abs > 0.0 && shift <= tol_abs {
            return true;
        }
        if self.ewa_min.is_none_or(|m| ewa < m) {
            self.no_improvement = 0;
            self.ewa_min = Some(ewa);
        } else {
            self.no_improvement += 1;
        }
        opts.max_no_improvement
            .is_some_and(|limit| self.no_improvement >= limit)
    }
}

/// Re-seeds centres with little weight from random points of the batch
/// (scikit-learn's `_random_reassign`). The picks come from `rng` and the
/// batch's weights alone, so every process of a distributed run makes the
/// same; a picked row outside this process's share is read from `source`.
fn reassign<S: DataSource + ?Sized>(
    state: &mut MiniBatchState,
    batch: &Batch,
    batch_weights: Option<&[f32]>,
    source: &S,
    ratio: f64,
    rng: &mut ChaCha8Rng,
) -> Result<u64> {
    let (k, d) = (state.k, state.d);
    let rows = batch.data.len() / d;
    let max = state.counts.iter().copied().fold(0.0, f64::max);
    let mut to_reassign: Vec<usize> = (0..k).filter(|&j| state.counts[j] < ratio * max).collect();
    if to_reassign.is_empty() {
        return Ok(0);
    }
    // At most half a batch per step: the lightest centres first.
    let limit = (rows / 2).max(1);
    if to_reassign.len() > limit {
        to_reassign.sort_by(|&a, &b| state.counts[a].total_cmp(&state.counts[b]).then(a.cmp(&b)));
        to_reassign.truncate(limit);
        to_reassign.sort_unstable();
    }
    let picks: Vec<usize> = match batch_weights {
        None => rand::seq::index::sample(rng, rows, to_reassign.len().min(rows)).into_vec(),
        Some(w) => rand::seq::index::sample_weighted(
            rng,
            rows,
            |i| f64::from(w[i]),
            to_reassign
                .len()
                .min(w.iter().filter(|&&v| v > 0.0).count()),
        )
        .map(|s| s.into_vec())
        .unwrap_or_default(),
    };
    let kept_min = (0..k)
        .filter(|j| !to_reassign.contains(j))
        .map(|j| state.counts[j])
        .fold(f64::INFINITY, f64::min);
    let kept_min = if kept_min.is_finite() { kept_min } else { 0.0 };
    let mut scratch = Vec::new();
    for (&j, &row) in to_reassign.iter().zip(&picks) {
        let point = if batch.own.contains(&row) {
            &batch.data[row * d..(row + 1) * d]
        } else {
            let r = batch.source_row(row);
            source.rows(r..r + 1, &mut scratch)?
        };
        if let Some(v) = point.iter().find(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                source_name: source.name(),
                count: 1,
                row: batch.source_row(row),
                col: point
                    .iter()
                    .position(|x| x.to_bits() == v.to_bits())
                    .unwrap_or(0),
            }
            .into());
        }
        state.centers[j * d..(j + 1) * d].copy_from_slice(point);
        state.counts[j] = kept_min;
    }
    Ok(picks.len() as u64)
}

impl KMeansParams {
    /// Mini-batch fit; called by [`KMeansParams::fit_with`] after its prologue.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fit_minibatch<S: DataSource + ?Sized>(
        &self,
        opts: &MiniBatchOptions,
        source: &S,
        weights: Option<&[f32]>,
        tol_abs: f64,
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        if source.node_layout().is_some() {
            // Refused on every process alike, before any batch.
            return Err(KMeansError::param(
                "algorithm",
                "mini-batch samples rows anywhere, which node-local shards (each process reading \
                 only its own rows) do not allow; use Lloyd, Hamerly or Yinyang",
            ));
        }
        if opts.batch_size == 0 {
            return Err(KMeansError::param("batch_size", "must be at least 1"));
        }
        if let Sampling::Blocks { rows: 0 } = opts.sampling {
            return Err(KMeansError::param("block_rows", "must be at least 1"));
        }
        if !(opts.reassignment_ratio.is_finite() && opts.reassignment_ratio >= 0.0) {
            return Err(KMeansError::param(
                "reassignment_ratio",
                "must be a finite number ≥ 0",
            ));
        }
        let plan = BatchPlan {
            batch_size: opts.batch_size,
            sampling: opts.sampling,
            seed: self.seed,
        };
        let batch_rows = plan.batch_rows(n);
        let total_steps =
            ((self.max_iter as u128 * n as u128).div_ceil(batch_rows as u128) as u64).max(1);
        let seed = self.seed;
        // Scattered reads from here on: no read-ahead around each row or block
        // (with an 8 MiB read-ahead window, the 24,576 single rows of the
        // initialisation sample alone would read 190 GiB); batches ask for
        // exactly their runs with `will_need` instead.
        source.advise_random();
        let mut state = match &opts.resume {
            Some(s) => {
                if s.k != k || s.d != d || s.centers.len() != k * d || s.counts.len() != k {
                    return Err(KMeansError::param(
                        "resume",
                        format!(
                            "the checkpoint is for k = {} on {} columns; this run has k = {k} on {d} columns",
                            s.k, s.d
                        ),
                    ));
                }
                s.validate()?;
                let mut s = s.clone();
                s.total_steps = total_steps;
                s
            }
            None => {
                let t = Instant::now();
                let centers = self.minibatch_init(opts, source, weights, batch_rows)?;
                MiniBatchState::start(k, d, total_steps, centers, t.elapsed().as_secs_f64())
            }
        };
        hooks.emit(FitEvent::InitDone {
            run: 0,
            seconds: state.init_seconds,
        });

        let t_steps = Instant::now();
        let step_seconds_before = state.step_seconds;
        let name = source.name();
        let first_step = state.step;
        let mut checkpoints =
            Checkpoints::new(opts.checkpoint_every, opts.checkpoint_seconds, hooks.stop);
        // In a distributed run each process reads only its share of a batch.
        let share = source.comm().map(|c| (c.rank(), c.size()));
        let steps = first_step..total_steps;
        let outcome = read_ahead(
            source,
            &plan,
            steps,
            batch_chunking(),
            share,
            |batches| -> Result<()> {
                if state.done {
                    return Ok(());
                }
                let (mut running, mut buf) = (Vec::with_capacity(d), Vec::with_capacity(d));
                for batch in batches {
                    let batch = batch?;
                    debug_assert_eq!(batch.step, state.step);
                    batch.check_finite(d, &name)?;
                    let batch_weights = weights.map(|w| batch.gather(w));
                    let bw = batch_weights.as_deref();
                    let packed = PackedCenters::new(&state.centers, k, d)?;
                    let stats = assign_batch(&batch, bw, &packed, source.comm())?;
                    state.rechecks += stats.rechecks;
                    state.assigned_rows += (batch.data.len() / d) as u64;
                    let mut shift = 0.0f64;
                    for j in 0..k {
                        if stats.weight[j] <= 0.0 {
                            continue;
                        }
                        let old = state.counts[j];
                        let new = old + stats.weight[j];
                        let c = &mut state.centers[j * d..(j + 1) * d];
                        let sums = &stats.sums[j * d..(j + 1) * d];
                        match self.metric {
                            Metric::Euclidean => {
                                for (c, &s) in c.iter_mut().zip(sums) {
                                    let v = ((f64::from(*c) * old + s) / new) as f32;
                                    let delta = f64::from(v) - f64::from(*c);
                                    shift += delta * delta;
                                    *c = v;
                                }
                            }
                            Metric::Cosine => {
                                // The direction of the running sum old·c + Σ w·x.
                                running.clear();
                                running.extend(
                                    c.iter().zip(sums).map(|(&c, &s)| f64::from(c) * old + s),
                                );
                                shift += update_center(self.metric, c, &running, new, &mut buf);
                            }
                        }
                        state.counts[j] = new;
                    }
                    let rows = batch.data.len() / d;
                    state.since_reassign += rows as u64;
                    if opts.reassignment_ratio > 0.0
                        && (state.counts.contains(&0.0) || state.since_reassign >= 10 * k as u64)
                    {
                        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x2545_F491_4F6C_DD1D);
                        rng.set_stream(state.step);
                        state.reassigned += reassign(
                            &mut state,
                            &batch,
                            bw,
                            source,
                            opts.reassignment_ratio,
                            &mut rng,
                        )?;
                        state.since_reassign = 0;
                    }
                    let batch_inertia = self.metric.distance_scale() * stats.inertia
                        / stats.total_weight.max(f64::MIN_POSITIVE);
                    state.step += 1;
                    let stop = state.converged(batch_inertia, shift, tol_abs, n, rows, opts);
                    hooks.emit(FitEvent::Step {
                        step: state.step,
                        total_steps,
                        epoch: state.step as f64 * rows as f64 / n as f64,
                        batch_inertia,
                        ewa_inertia: state.ewa,
                        rows,
                    });
                    if let Some(p) = hooks.progress {
                        p(rows);
                    }
                    if stop || state.step >= total_steps {
                        state.done = true;
                        state.converged = stop;
                        break;
                    }
                    if let Some(interrupted) = checkpoints.after_step(state.step) {
                        state.step_seconds = step_seconds_before + t_steps.elapsed().as_secs_f64();
                        if let Some(save) = hooks.on_checkpoint {
                            save(&state)?;
                        }
                        if interrupted {
                            return Err(KMeansError::Interrupted { step: state.step });
                        }
                    }
                }
                Ok(())
            },
        );
        outcome?;
        state.step_seconds = step_seconds_before + t_steps.elapsed().as_secs_f64();
        if let Some(save) = hooks.on_checkpoint {
            save(&state)?;
        }
        if opts.refine > 0 {
            // Lloyd from the mini-batch centres; its last pass gives the exact inertia.
            let chunking = Chunking::for_dim(d);
            let refined = KMeansParams {
                max_iter: opts.refine,
                ..self.clone()
            }
            .run_once(
                source,
                weights,
                chunking,
                &Init::Given(state.centers.clone()),
                &Algorithm::Lloyd,
                tol_abs,
                seed,
                0,
                hooks,
            )?;
            let mut model = KMeansModel::from_minibatch(
                self,
                state,
                refined.inertia,
                batch_rows,
                tol_abs,
                n,
                d,
            );
            model.distinct_centers = count_distinct(&refined.centers, k, d);
            model.centers = refined.centers;
            model.distance_evals += refined.distance_evals;
            model.rechecks += refined.rechecks;
            model.assigned_rows += refined.assigned_rows;
            model.distance_evals_lloyd += refined.distance_evals_lloyd;
            model.iter_seconds += refined.iter_seconds;
            model.refined = Some(refined.n_iter);
            return Ok(model);
        }
        let packed = PackedCenters::new(&state.centers, k, d)?;
        let inertia = if opts.final_pass {
            self.metric.distance_scale()
                * inertia_pass(source, Chunking::for_dim(d), hooks.pass(), &packed, weights)?
        } else {
            f64::NAN
        };
        Ok(KMeansModel::from_minibatch(
            self, state, inertia, batch_rows, tol_abs, n, d,
        ))
    }

    /// Initial centres from a sample of `init_size` rows.
    fn minibatch_init<S: DataSource + ?Sized>(
        &self,
        opts: &MiniBatchOptions,
        source: &S,
        weights: Option<&[f32]>,
        batch_rows: usize,
    ) -> Result<Vec<f32>> {
        let (n, d, k) = (source.n_rows(), source.n_cols(), self.k);
        if let Init::Given(c) = &self.init {
            let mut c = init::given(c, k, d)?;
            project_initial(self.metric, &mut c, d)?;
            return Ok(c);
        }
        let size = opts.init_size.unwrap_or(3 * batch_rows).max(3 * k).min(n);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x9E37_79B9_7F4A_7C15);
        let mut rows = rand::seq::index::sample(&mut rng, n, size).into_vec();
        rows.sort_unstable();
        let sample = batches::read_rows(source, &rows)?;
        let sample_w: Option<Vec<f32>> = weights.map(|w| rows.iter().map(|&r| w[r]).collect());
        let init = match self.init.resolve(size, d, k) {
            // The batches start from a sample already.
            Init::Auto | Init::Sample { .. } => Init::KMeansPlusPlus,
            other => other,
        };
        // The initialisation plus one Lloyd step on the sample; the batches refine it.
        let params = KMeansParams::new(k)
            .init(init)
            .seed(rng.r#gen())
            .max_iter(1)
            .n_init(1);
        let w = sample_w
            .as_deref()
            .filter(|w| w.iter().filter(|&&v| v > 0.0).count() >= k);
        let mut centers = fit_points(&params, &sample, d, w)?.centers;
        project_initial(self.metric, &mut centers, d)?;
        Ok(centers)
    }
}

//! Exact K-means with far fewer distances: Hamerly's (2010) and Yinyang's
//! (Ding et al. 2015) triangle-inequality bounds.
//!
//! Both give Lloyd's answer bit for bit (the reference label of every point
//! in every pass: the nearest centre by the reference distance of
//! [`mmclust_core::kernel::reference`], which Lloyd's assignment gives too):
//! a point's label is only kept without looking at the other
//! centres when a *safe* lower bound on its distance to every other centre
//! exceeds its exact distance to its own. Everything else is the Lloyd pass:
//! the same chunks, the same M-step loop ([`accumulate`]), the same merge tree,
//! so with equal labels the sums, the centres and the thread-independence are
//! bitwise those of Lloyd.
//!
//! # Warm-up
//!
//! With [`KMeansParams::bounds_warm_up`](crate::KMeansParams::bounds_warm_up)
//! (the default) a bounded run starts with Lloyd's passes, Lloyd's kernel
//! and all, until one changes at most [`WARM_UP_CHANGED`] of the labels
//! ([`BoundState::pass`]); the next pass is a first pass (every group
//! scanned, every bound set). While the centres move far, most bounds fail
//! and a bounded pass costs more than Lloyd's, so this is faster to
//! convergence on every shape measured (docs/benchmarks.md, section accel).
//!
//! # Per-row state
//!
//! One [`RowBuffer<u32>`] holds, per row, the label and then the lower bounds
//! as `f32` bit patterns (`f32::to_bits`): one for Hamerly, one per centre
//! group for Yinyang. A single buffer because the pass hands each chunk one
//! per-row slice ([`map_reduce_into`]); a `RowBuffer` spills to a
//! memory-mapped scratch file beyond its in-memory limit, so the bounds work
//! beyond RAM like the labels do. No upper bound is stored: every pass
//! computes each point's exact distance to its own centre anyway (it is the
//! point's share of the inertia that the history reports), and that is the
//! tightest upper bound there is.
//!
//! A classic stored upper bound (grown by the own centre's drift, tightened
//! only when the filter fails), with sums updated only for relabelled rows,
//! would leave the rows that pass unread. Measured at n = 10⁶, d = 32,
//! k = 100 (overlapping blobs, 135 passes, one thread), it does not pay: the
//! global filter fails for 64.5 % of rows with the stored bound against
//! 59.2 % with the exact one; the failing rows' kernel, group filter and
//! bound updates and the decay of every bound (69 % of the pass time) stay;
//! what goes (the passing rows' reads and own distances, the M-step's sums)
//! is 16 % of it: projected 1.19× (the memory traffic alone: 1.24×). At
//! d = 16, k = 1000 (63 bounds per row) it projects 1.04×, at d = 384,
//! k = 100 (22 passes) 1.35×.
//!
//! # Safety of the bounds under rounding
//!
//! Bounds live in sqrt space (distances, not squared). A squared distance
//! computed as `Σ (x − c)²` in `f32` has a relative error of at most about
//! `(d + 2)·u` (`u = 2⁻²⁴`; nothing cancels: the differences are taken first),
//! so its square root is within `(d/2 + 1)·u`. Every distance used as an
//! upper bound is inflated by `rel = (d + 8)·2⁻²³` (four times that) plus a
//! tiny absolute term, every one used as a lower bound deflated by the same,
//! and every `f64 → f32` conversion of a bound rounds the safe way
//! ([`up`], [`down`], or, without a branch, scaling by `1 ± 2⁻²³` before
//! rounding to nearest: [`UP`], [`DOWN`]). Centre drifts are computed in
//! `f64` from the `f32` centres, inflated and rounded up to `f32`; a bound
//! minus a drift is computed in `f32` and stepped one `f32` down
//! ([`decay_bounds`], [`sub_down`]), below the exact difference. A filter
//! keeps a label only on a strict `<`.
//!
//! # Rows whose bounds fail
//!
//! They are gathered, translated by the mean of the centres (`fl(x − mu)`,
//! [`translate_rows`]), and run through the fused AVX-512 top-2 kernel
//! ([`nearest_two`]: `‖c̃‖² − 2x̃·c̃` per centre, the nearest and the second
//! nearest) against all centres (Hamerly) or each candidate group's
//! (Yinyang: groups of at most 16 centres, one register of the kernel, each
//! run over the list of rows that scan it). The translation keeps the norms,
//! hence the fast formula's error, small next to the distances for data far
//! from the origin; the
//! error bound of every fast value (`PassPlan::row_err`) turns them into safe
//! bounds. A row's nearest centre is *certified* when its upper bound is
//! below the lower bound of every other centre examined; otherwise (a near
//! tie, duplicate centres, a non-finite value) the exact `f64` scan over all
//! centres decides by the reference distance, lowest index among equal
//! values. The certificate leaves a margin above the reference distance's own
//! rounding (core's [`certify`](mmclust_core::kernel::certify)), and every
//! bound filter above keeps a label only with a relative margin of at least
//! `rel` (far above that rounding): so both variants return the reference
//! label and agree with Lloyd bit for bit (tested, k = 1000 included).
//! Distances to the chosen centres (the inertia's shares and the next
//! pass's upper bounds) are the reference distances Lloyd reports
//! ([`dist_sq_to_labels`]). That kernel computes each row on its own, so
//! after relabelling only the rows whose label changed are computed again
//! (the others keep the bits of the pass's first call).
//! `distance_evals` counts every distance computed: own centre, kernel
//! (16-lane groups count their real centres) and exact scans.
//!
//! # Distributed runs
//!
//! Under MPI each process keeps the labels and bounds of the rows it
//! computes ([`local_rows`]) and passes go over the global chunk grid
//! ([`map_reduce_into_local`]): the M-step statistics, the labels changed
//! (which end the warm-up) and the distance counts are those of every row,
//! bitwise as in one process. Everything else a pass needs comes from the
//! centres alone, identical on every process: the drifts (from the previous
//! centres), Yinyang's groups and their bounds. So a bounded run gives one
//! process's result on any number of processes.
//!
//! Empty clusters re-seeded by Lloyd's relocation need nothing special: the
//! relocated centre's drift is the full jump, so every bound that involves it
//! drops by that much (conservative, hence safe).
//!
//! # Files
//!
//! This file holds the strategy (Lloyd's pass or a bounded one, the warm-up);
//! [`bounds`] the arithmetic of safe bounds; [`groups`] Yinyang's centre
//! groups; [`plan`] what one bounded pass precomputes; [`rows`] what the two
//! variants share on a chunk; [`hamerly`] and [`yinyang`] their chunk passes.
//!
//! [`local_rows`]: mmclust_core::parallel::local_rows
//! [`up`]: bounds::up
//! [`down`]: bounds::down
//! [`UP`]: bounds::UP
//! [`DOWN`]: bounds::DOWN
//! [`sub_down`]: bounds::sub_down
//! [`decay_bounds`]: mmclust_core::kernel::top2::decay_bounds
//! [`translate_rows`]: mmclust_core::kernel::top2::translate_rows
//! [`nearest_two`]: mmclust_core::kernel::top2::nearest_two
//! [`dist_sq_to_labels`]: mmclust_core::kernel::dist_sq_to_labels

mod bounds;
mod groups;
mod hamerly;
mod plan;
mod rows;
mod yinyang;

use mmclust_core::DataSource;
use mmclust_core::kernel::PackedCenters;
use mmclust_core::parallel::{Chunking, PassOptions, map_reduce_into_local};
use mmclust_core::scratch::{RowBuffer, ScratchConfig};

use crate::error::Result;
use crate::params::KMeansParams;
use crate::pass::{LloydPartial, accumulate, inertia_pass, lloyd_pass, relabel};
use groups::{Groups, group_centers};
use hamerly::hamerly_chunk;
use rows::with_scratch;
use yinyang::yinyang_chunk;

/// Which bounds a [`BoundState`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bounds {
    /// One lower bound per point: on the distance to the second-nearest centre.
    Hamerly,
    /// One lower bound per point and centre group.
    Yinyang,
}

/// How a run assigns points: Lloyd's full pass, or a bounded one.
#[derive(Debug)]
pub(crate) enum Assigner {
    /// Every distance, every pass; per row only the label.
    Lloyd { labels: RowBuffer<u32> },
    /// Bounds that skip most distances.
    Bounded(Box<BoundState>),
}

impl Assigner {
    /// Lloyd's assigner for `n` rows: those this process computes
    /// ([`local_rows`](mmclust_core::parallel::local_rows)), all of them in
    /// one process.
    pub(crate) fn lloyd(n: usize, scratch: &ScratchConfig) -> Result<Self> {
        Ok(Assigner::Lloyd {
            labels: RowBuffer::new(n, u32::MAX, scratch)?,
        })
    }

    /// A bounded assigner for `n` rows (this process's, as for
    /// [`Assigner::lloyd`]: in a distributed run each process keeps the
    /// bounds of its own rows) and the initial `centers` (k × d);
    /// Yinyang groups the centres here, by K-means on them (on the centres
    /// alone, so every process of a distributed run forms the same groups), which `cluster`
    /// runs (given its parameters and the points, it returns the centres; the
    /// engine passes its in-memory fit, so this module need not import it).
    /// Bounds from the first pass (see [`Assigner::warm_up`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bounded(
        kind: Bounds,
        n: usize,
        centers: &[f32],
        k: usize,
        d: usize,
        seed: u64,
        scratch: &ScratchConfig,
        cluster: impl FnOnce(&KMeansParams, &[f32]) -> Result<Vec<f32>>,
    ) -> Result<Self> {
        let group_of = match kind {
            Bounds::Hamerly => vec![0; k],
            Bounds::Yinyang => group_centers(centers, k, d, seed, cluster)?,
        };
        let t = group_of.iter().map(|&g| g as usize + 1).max().unwrap_or(1);
        let mut members = vec![Vec::new(); t];
        for (j, &g) in group_of.iter().enumerate() {
            members[g as usize].push(j as u32);
        }
        Ok(Assigner::Bounded(Box::new(BoundState {
            warm: false,
            rows: RowBuffer::new(n * (1 + t), u32::MAX, scratch)?,
            groups: Groups {
                kind,
                t,
                prev: None,
                group_of,
                members,
                rel: (d as f64 + 8.0) * f64::from(f32::EPSILON),
            },
        })))
    }

    /// With `on`, a bounded assigner's passes are Lloyd's until one changes
    /// at most [`WARM_UP_CHANGED`] of the labels ([`BoundState::pass`]);
    /// Lloyd's assigner is left as it is.
    #[must_use]
    pub(crate) fn warm_up(mut self, on: bool) -> Self {
        if let Assigner::Bounded(state) = &mut self {
            state.warm = on;
        }
        self
    }

    /// One assignment pass with `centers`: updates the labels (and bounds) and
    /// returns the M-step statistics and the number of point–centre distances
    /// computed.
    pub(crate) fn pass<S: DataSource + ?Sized>(
        &mut self,
        source: &S,
        chunking: Chunking,
        options: PassOptions<'_>,
        centers: &PackedCenters,
        weights: Option<&[f32]>,
    ) -> Result<(LloydPartial, u64)> {
        match self {
            Assigner::Lloyd { labels } => {
                let p = lloyd_pass(
                    source,
                    chunking,
                    options,
                    centers,
                    weights,
                    labels.as_mut_slice(),
                    1,
                )?;
                Ok((p, (source.n_rows() * centers.k()) as u64))
            }
            Assigner::Bounded(state) => state.pass(source, chunking, options, centers, weights),
        }
    }

    /// The inertia of the final `centers`: Lloyd's E-step, or one more bounded
    /// pass (exact all the same). Returns it and the distances computed.
    pub(crate) fn final_inertia<S: DataSource + ?Sized>(
        &mut self,
        source: &S,
        chunking: Chunking,
        options: PassOptions<'_>,
        centers: &PackedCenters,
        weights: Option<&[f32]>,
    ) -> Result<(f64, u64)> {
        match self {
            Assigner::Bounded(state) if !state.warm => {
                let (p, evals) = state.pass(source, chunking, options, centers, weights)?;
                Ok((p.inertia, evals))
            }
            // Lloyd's, or a bounded run still in its warm-up.
            _ => Ok((
                inertia_pass(source, chunking, options, centers, weights)?,
                (source.n_rows() * centers.k()) as u64,
            )),
        }
    }
}

/// A bounded run's warm-up ends after the first Lloyd pass that changes at
/// most this fraction of the labels (see [`BoundState::pass`]).
const WARM_UP_CHANGED: f64 = 0.005;

/// Bounds and labels of a bounded run.
pub(crate) struct BoundState {
    /// Still in the warm-up: passes run as Lloyd's (labels only).
    warm: bool,
    /// Per row: label, then `t` lower bounds as `f32` bits.
    rows: RowBuffer<u32>,
    groups: Groups,
}

impl std::fmt::Debug for BoundState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundState")
            .field("kind", &self.groups.kind)
            .field("t", &self.groups.t)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl BoundState {
    /// One pass: a bounded one, or during the warm-up Lloyd's, with Lloyd's
    /// kernel and arithmetic (the same labels, sums and inertia bit for bit)
    /// writing the labels into the state. The bounds are left as they are
    /// then, since the first bounded pass scans every group and writes them
    /// all. The warm-up ends after a pass that changed at most
    /// [`WARM_UP_CHANGED`] of the labels.
    ///
    /// Why a warm-up: while the centres still move far, most bounds fail
    /// anyway, and a bounded pass that scans most groups costs up to four
    /// Lloyd passes (per failing row, a gather, a top-2 reduction per group,
    /// and the bookkeeping of the bounds). Measured at n = 10⁶, d = 32,
    /// k = 100 (overlapping blobs, 2 threads, time to convergence), Yinyang
    /// took 3.68 s from the first pass, 3.22 / 3.05 / 2.99 / 2.86 s with a
    /// warm-up ending at 5 / 1 / 0.5 / 0.2 % changed and 3.34 s at 0.1 %
    /// (by then mostly Lloyd's passes); Hamerly 3.74 s and 3.39 s at
    /// 0.5 %. At d = 16, k = 1000 Hamerly 2.53 → 2.27 s, Yinyang 3.20 →
    /// 2.78 s; at d = 384, k = 100 Yinyang 0.48 → 0.43 s.
    fn pass<S: DataSource + ?Sized>(
        &mut self,
        source: &S,
        chunking: Chunking,
        options: PassOptions<'_>,
        packed: &PackedCenters,
        weights: Option<&[f32]>,
    ) -> Result<(LloydPartial, u64)> {
        let (k, d) = (packed.k(), packed.d());
        let per_row = 1 + self.groups.t;
        if self.warm {
            let rows = self.rows.as_mut_slice();
            let p = lloyd_pass(source, chunking, options, packed, weights, rows, per_row)?;
            let n = source.n_rows();
            if (p.changed as f64) <= WARM_UP_CHANGED * n as f64 {
                self.warm = false;
                self.groups.prev = None;
            }
            return Ok((p, (n * k) as u64));
        }
        let centers = packed.centers();
        let plan = self.groups.plan(packed, k, d);
        let merged = map_reduce_into_local(
            source,
            chunking,
            options,
            self.rows.as_mut_slice(),
            per_row,
            |chunk, state| {
                let mut p = LloydPartial::zeros(k, d);
                let evals = with_scratch(|ws| {
                    let evals = match plan.kind {
                        Bounds::Hamerly => hamerly_chunk(&plan, &chunk, state, ws),
                        Bounds::Yinyang => yinyang_chunk(&plan, &chunk, state, ws),
                    };
                    let n = chunk.n_rows;
                    p.rechecks = std::mem::take(&mut ws.rechecks);
                    p.changed = relabel(state, per_row, &ws.labels[..n]);
                    accumulate(&chunk, weights, &ws.labels[..n], &ws.dist[..n], &mut p);
                    evals
                });
                Ok((p, evals))
            },
            |(a, ea), (b, eb)| (a.merge(b), ea + eb),
        )?;
        drop(plan);

        self.groups.prev = Some(centers.to_vec());
        Ok(merged.unwrap_or_else(|| (LloydPartial::zeros(k, d), 0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use mmclust_core::ArraySource;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Exact nearest centre in f64, and whether the runner-up is within `tie`.
    fn exact(x: &[f32], c: &[f32], d: usize, tie: f64) -> (usize, bool) {
        let dist: Vec<f64> = c
            .chunks_exact(d)
            .map(|c| {
                x.iter()
                    .zip(c)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum()
            })
            .collect();
        let mut idx: Vec<usize> = (0..dist.len()).collect();
        idx.sort_by(|&a, &b| dist[a].total_cmp(&dist[b]));
        let near_tie =
            idx.len() > 1 && dist[idx[1]] - dist[idx[0]] <= tie * dist[idx[1]].max(1e-30);
        (idx[0], near_tie)
    }

    /// Bounded passes over a sequence of drifting centres (with jumps, as a
    /// relocation makes) give the exact nearest centre every time.
    #[test]
    fn bounded_passes_find_the_exact_nearest_centre() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for &(n, d, k) in &[
            (3000, 5, 40),
            (2000, 1, 13),
            (1500, 17, 100),
            (500, 3, 1),
            (20000, 32, 100),
        ] {
            let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-10.0..10.0)).collect();
            let mut c: Vec<f32> = x[..k * d].to_vec();
            let src = ArraySource::from_slice(&x, n, d).unwrap();
            for (kind, rows) in [
                (Bounds::Hamerly, 97),
                (Bounds::Yinyang, 97),
                (Bounds::Hamerly, 4096),
                (Bounds::Yinyang, 4096),
            ] {
                let chunking = Chunking::with_rows(rows).unwrap();
                let cluster = |p: &KMeansParams, pts: &[f32]| {
                    Ok(crate::engine::fit_points(p, pts, d, None)?.centers)
                };
                let mut a =
                    Assigner::bounded(kind, n, &c, k, d, 1, &ScratchConfig::default(), cluster)
                        .unwrap();
                let mut cc = c.clone();
                for it in 0..12 {
                    let packed = PackedCenters::new(&cc, k, d).unwrap();
                    let (p, evals) = a
                        .pass(&src, chunking, PassOptions::default(), &packed, None)
                        .unwrap();
                    // Every row at most once through the kernel and its own
                    // centre, and rarely (near ties) once through the exact scan.
                    let most = n * k + n + n * k / 100;
                    assert!(
                        evals <= most as u64,
                        "{kind:?} n={n} d={d} k={k} iter {it}: {evals} > {most}"
                    );
                    let Assigner::Bounded(s) = &a else {
                        unreachable!()
                    };
                    let per_row = 1 + s.groups.t;
                    let rows = s.rows.as_slice();
                    let mut inertia = 0.0;
                    for i in 0..n {
                        let xi = &x[i * d..(i + 1) * d];
                        let (want, tie) = exact(xi, &cc, d, 1e-6);
                        let got = rows[i * per_row] as usize;
                        assert!(
                            got == want || tie,
                            "{kind:?} n={n} d={d} k={k} iter {it} row {i}: {got} vs {want}"
                        );
                        inertia += xi
                            .iter()
                            .zip(&cc[got * d..(got + 1) * d])
                            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                            .sum::<f64>();
                    }
                    assert!((p.inertia - inertia).abs() <= 1e-4 * inertia.max(1.0));
                    // Next centres: the means, and every third pass one jump.
                    for j in 0..k {
                        if p.weight[j] > 0.0 {
                            for q in 0..d {
                                cc[j * d + q] = (p.sums[j * d + q] / p.weight[j]) as f32;
                            }
                        }
                    }
                    if it % 3 == 2 {
                        let j = it % k;
                        cc[j * d] += 7.0;
                    }
                }
            }
            c.clear();
        }
    }
}

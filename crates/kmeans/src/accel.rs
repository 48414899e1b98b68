//! Exact K-means with far fewer distances: Hamerly's (2010) and Yinyang's
//! (Ding et al. 2015) triangle-inequality bounds.
//!
//! Both give Lloyd's answer (same labels up to exact distance ties, hence the
//! same centres): a point's label is only kept without looking at the other
//! centres when a *safe* lower bound on its distance to every other centre
//! exceeds its exact distance to its own. Everything else is the Lloyd pass:
//! the same chunks, the same M-step loop ([`accumulate`]), the same merge tree,
//! so with equal labels the sums, the centres and the thread-independence are
//! bitwise those of Lloyd.
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
//! # Safety of the bounds under rounding
//!
//! Bounds live in sqrt space (distances, not squared). A squared distance
//! computed as `Σ (x − c)²` in `f32` has a relative error of at most about
//! `(d + 2)·u` (`u = 2⁻²⁴`; nothing cancels: the differences are taken first),
//! so its square root is within `(d/2 + 1)·u`. Every distance used as an
//! upper bound is inflated by `rel = (d + 8)·2⁻²³` (four times that) plus a
//! tiny absolute term, every one used as a lower bound deflated by the same,
//! and every `f64 → f32` conversion of a bound rounds the safe way
//! ([`up`], [`down`]). Centre drifts are computed in `f64` from the `f32`
//! centres and inflated. A filter keeps a label only on a strict `<`; a point
//! whose bounds fail gets its distances recomputed exactly (to every centre
//! for Hamerly, to the centres of each candidate group for Yinyang).
//!
//! Empty clusters re-seeded by Lloyd's relocation need nothing special: the
//! relocated centre's drift is the full jump, so every bound that involves it
//! drops by that much (conservative, hence safe).

use std::cell::Cell;

use mmclust_core::kernel::PackedCenters;
use mmclust_core::parallel::{Chunk, Chunking, PassOptions, map_reduce_into};
use mmclust_core::scratch::{RowBuffer, ScratchConfig};
use mmclust_core::{ArraySource, DataSource};

use crate::error::Result;
use crate::lanes::{LaneCenters, sq_dists};
use crate::params::{Init, KMeansParams};
use crate::pass::{LloydPartial, accumulate, inertia_pass, lloyd_pass, sq_dist};

/// Absolute slack of every bound (sqrt space): covers squares that underflow.
const ABS_EPS: f64 = 1e-18;

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
    /// Lloyd's assigner for `n` rows.
    pub(crate) fn lloyd(n: usize, scratch: &ScratchConfig) -> Result<Self> {
        Ok(Assigner::Lloyd {
            labels: RowBuffer::new(n, u32::MAX, scratch)?,
        })
    }

    /// A bounded assigner for `n` rows and the initial `centers` (k × d);
    /// Yinyang groups the centres here, by K-means on them.
    pub(crate) fn bounded(
        kind: Bounds,
        n: usize,
        centers: &[f32],
        k: usize,
        d: usize,
        seed: u64,
        scratch: &ScratchConfig,
    ) -> Result<Self> {
        let group_of = match kind {
            Bounds::Hamerly => vec![0; k],
            Bounds::Yinyang => group_centers(centers, k, d, seed)?,
        };
        let t = group_of.iter().map(|&g| g as usize + 1).max().unwrap_or(1);
        let mut members = vec![Vec::new(); t];
        for (j, &g) in group_of.iter().enumerate() {
            members[g as usize].push(j as u32);
        }
        Ok(Assigner::Bounded(Box::new(BoundState {
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
            Assigner::Lloyd { .. } => Ok((
                inertia_pass(source, chunking, options, centers, weights)?,
                (source.n_rows() * centers.k()) as u64,
            )),
            Assigner::Bounded(state) => {
                let (p, evals) = state.pass(source, chunking, options, centers, weights)?;
                Ok((p.inertia, evals))
            }
        }
    }
}

/// Groups the k centres into about k/10 groups by a small K-means on them
/// (Yinyang's grouping: five iterations from k-means++), numbered 0..t with
/// no empty group.
fn group_centers(centers: &[f32], k: usize, d: usize, seed: u64) -> Result<Vec<u32>> {
    let t = yinyang_groups(k);
    if t <= 1 {
        return Ok(vec![0; k]);
    }
    let src = ArraySource::from_slice(centers, k, d)?;
    let model = KMeansParams::new(t)
        .init(Init::KMeansPlusPlus)
        .seed(seed ^ 0xBB67_AE85_84CA_A73B)
        .max_iter(5)
        .tol(0.0)
        .fit(&src)?;
    let labels = model.predict(&src)?;
    // Renumber in order of first appearance, dropping empty groups.
    let mut map = vec![u32::MAX; t];
    let mut next = 0;
    Ok(labels
        .iter()
        .map(|&g| {
            let m = &mut map[g as usize];
            if *m == u32::MAX {
                *m = next;
                next += 1;
            }
            *m
        })
        .collect())
}

/// Yinyang's number of groups for k centres: k/10 (the paper's choice), at least 1.
pub(crate) fn yinyang_groups(k: usize) -> usize {
    (k / 10).max(1)
}

/// The largest `f32` not above `v`.
fn down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

/// The smallest `f32` not below `v`.
fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

/// Bounds and labels of a bounded run.
pub(crate) struct BoundState {
    /// Per row: label, then `t` lower bounds as `f32` bits.
    rows: RowBuffer<u32>,
    groups: Groups,
}

/// Everything of a [`BoundState`] but the per-row buffer.
struct Groups {
    kind: Bounds,
    /// Lower bounds per row (1, or the number of groups).
    t: usize,
    /// The centres of the previous pass (none before the first).
    prev: Option<Vec<f32>>,
    /// Group of each centre.
    group_of: Vec<u32>,
    /// Centres of each group, ascending.
    members: Vec<Vec<u32>>,
    /// Relative slack of a distance (sqrt space).
    rel: f64,
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

/// What every chunk of a bounded pass reads.
struct PassPlan<'a> {
    kind: Bounds,
    t: usize,
    first: bool,
    centers: &'a [f32],
    d: usize,
    k: usize,
    rel: f64,
    /// Per centre: half the distance to its nearest other centre, deflated.
    half_sep: Vec<f32>,
    /// Hamerly: the largest drift and its centre, and the second largest.
    max_drift: (f64, usize, f64),
    /// Yinyang: the largest drift of each group.
    group_drift: Vec<f64>,
    group_of: &'a [u32],
    members: &'a [Vec<u32>],
    /// All centres (Hamerly) or each group's (Yinyang), lane-packed.
    lanes: Vec<LaneCenters>,
}

impl PassPlan<'_> {
    /// A safe upper bound on the distance whose exact square is `sq`.
    fn upper(&self, sq: f32) -> f32 {
        up(f64::from(sq).sqrt() * (1.0 + self.rel) + ABS_EPS)
    }

    /// Factor within which two computed squared distances may be in either
    /// order (twice the slack of each).
    fn tie(&self) -> f32 {
        (1.0 + 4.0 * self.rel) as f32
    }

    /// Centre `j`.
    fn center(&self, j: usize) -> &[f32] {
        &self.centers[j * self.d..(j + 1) * self.d]
    }

    /// A safe lower bound on the distance whose computed square is `sq`.
    fn lower(&self, sq: f32) -> f32 {
        if sq == f32::INFINITY {
            return f32::INFINITY;
        }
        down(f64::from(sq).sqrt() * (1.0 - self.rel) - ABS_EPS)
    }
}

/// Per-worker buffers of a bounded pass.
#[derive(Default)]
struct AccelScratch {
    labels: Vec<u32>,
    dist: Vec<f32>,
    /// Rows (within the chunk) whose filters failed.
    fail: Vec<usize>,
    /// Yinyang: running best of each failing row.
    best: Vec<Best>,
    /// Failing rows of a group, as indices into `fail`.
    sel: Vec<usize>,
    /// Gathered rows and their distances.
    xs: Vec<f32>,
    out: Vec<f32>,
}

/// Yinyang's running best of a row whose global filter failed.
#[derive(Debug, Clone, Copy)]
struct Best {
    /// Squared distance and index of the nearest centre seen.
    sq: f32,
    j: u32,
    /// Its group, and the lower bound for the others of that group.
    g: u32,
    lb2: f32,
    /// Safe upper bound on its distance (`PassPlan::upper(sq)`), cached: the
    /// group filter reads it once per group.
    ub: f32,
}

thread_local! {
    static SCRATCH: Cell<Option<Box<AccelScratch>>> = const { Cell::new(None) };
}

fn with_scratch<R>(f: impl FnOnce(&mut AccelScratch) -> R) -> R {
    let mut s = SCRATCH.with(Cell::take).unwrap_or_default();
    let r = f(&mut s);
    SCRATCH.with(|c| c.set(Some(s)));
    r
}

/// Rows gathered per distance batch: about 16 K distances of scratch.
fn batch_rows(m: usize) -> usize {
    (16_384 / m.max(1)).clamp(4, 256)
}

impl BoundState {
    fn pass<S: DataSource + ?Sized>(
        &mut self,
        source: &S,
        chunking: Chunking,
        options: PassOptions<'_>,
        packed: &PackedCenters,
        weights: Option<&[f32]>,
    ) -> Result<(LloydPartial, u64)> {
        let (k, d) = (packed.k(), packed.d());
        let centers = packed.centers();
        let plan = self.groups.plan(centers, k, d);
        let per_row = 1 + self.groups.t;
        let merged = map_reduce_into(
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
                    for (st, &l) in state.chunks_exact_mut(per_row).zip(&ws.labels[..n]) {
                        if st[0] != l {
                            p.changed += 1;
                            st[0] = l;
                        }
                    }
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

impl Groups {
    /// The per-pass quantities: drifts since the last pass, centre separations,
    /// lane-packed centres.
    fn plan<'a>(&'a self, centers: &'a [f32], k: usize, d: usize) -> PassPlan<'a> {
        let drift: Vec<f64> = match &self.prev {
            Some(prev) => (0..k)
                .map(|j| {
                    let a = &prev[j * d..(j + 1) * d];
                    let b = &centers[j * d..(j + 1) * d];
                    let s: f64 = a
                        .iter()
                        .zip(b)
                        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                        .sum();
                    // f64 arithmetic on f32 inputs: far below the f32 slack.
                    s.sqrt() * (1.0 + 1e-12)
                })
                .collect(),
            None => vec![0.0; k],
        };
        let mut max_drift = (0.0f64, usize::MAX, 0.0f64);
        for (j, &m) in drift.iter().enumerate() {
            if m > max_drift.0 {
                max_drift = (m, j, max_drift.0);
            } else if m > max_drift.2 {
                max_drift.2 = m;
            }
        }
        let mut group_drift = vec![0.0f64; self.t];
        for (j, &m) in drift.iter().enumerate() {
            let g = &mut group_drift[self.group_of[j] as usize];
            *g = g.max(m);
        }
        let rows: Vec<&[f32]> = centers.chunks_exact(d).collect();
        let all = LaneCenters::new(&rows, d);
        let rel = self.rel;
        let half_sep = half_separations(centers, k, d, &all, rel);
        let lanes = match self.kind {
            Bounds::Hamerly => vec![all],
            Bounds::Yinyang => self
                .members
                .iter()
                .map(|m| {
                    let rows: Vec<&[f32]> = m.iter().map(|&j| rows[j as usize]).collect();
                    LaneCenters::new(&rows, d)
                })
                .collect(),
        };
        PassPlan {
            kind: self.kind,
            t: self.t,
            first: self.prev.is_none(),
            centers,
            d,
            k,
            rel,
            half_sep,
            max_drift,
            group_drift,
            group_of: &self.group_of,
            members: &self.members,
            lanes,
        }
    }
}

/// Half the distance from each centre to its nearest other centre, as a safe
/// lower bound (Hamerly's `s`): a point nearer than that to its own centre
/// cannot be nearer to another.
fn half_separations(centers: &[f32], k: usize, d: usize, all: &LaneCenters, rel: f64) -> Vec<f32> {
    let block = batch_rows(k);
    let mut out = vec![0.0f32; block * k];
    let mut half = vec![f32::INFINITY; k];
    for (b, xs) in centers.chunks(block * d).enumerate() {
        let m = xs.len() / d;
        sq_dists(xs, all, &mut out[..m * k]);
        for r in 0..m {
            let i = b * block + r;
            let min = out[r * k..(r + 1) * k]
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &v)| v)
                .fold(f32::INFINITY, f32::min);
            if min.is_finite() {
                half[i] = down(0.5 * (f64::from(min).sqrt() * (1.0 - rel) - ABS_EPS));
            }
        }
    }
    half
}

/// Hamerly on one chunk: labels and squared distances into `ws`, the lower
/// bounds updated in `state` (label, bound per row; the labels are updated by
/// the caller). Returns the distances computed.
fn hamerly_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, d, k) = (chunk.n_rows, plan.d, plan.k);
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.fail.clear();
    let mut evals = 0u64;
    for (i, (x, st)) in chunk.rows().zip(state.chunks_exact_mut(2)).enumerate() {
        if plan.first {
            ws.fail.push(i);
            continue;
        }
        let a = st[0] as usize;
        let (m1, j1, m2) = plan.max_drift;
        let drift = if a == j1 { m2 } else { m1 };
        let lb = down(f64::from(f32::from_bits(st[1])) - drift);
        st[1] = lb.to_bits();
        let sq = sq_dist(x, &plan.centers[a * d..(a + 1) * d]);
        evals += 1;
        if plan.upper(sq) < lb.max(plan.half_sep[a]) {
            ws.labels[i] = a as u32;
            ws.dist[i] = sq;
        } else {
            ws.fail.push(i);
        }
    }
    // The rows whose bounds failed: every distance, nearest and second nearest.
    let lanes = &plan.lanes[0];
    let block = batch_rows(k);
    ws.out.resize(block * k, 0.0);
    for rows in ws.fail.chunks(block) {
        ws.xs.clear();
        for &i in rows {
            ws.xs.extend_from_slice(chunk.row(i));
        }
        let out = &mut ws.out[..rows.len() * k];
        sq_dists(&ws.xs, lanes, out);
        evals += out.len() as u64;
        for (&i, dists) in rows.iter().zip(out.chunks_exact(k)) {
            let x = chunk.row(i);
            let (mut j1, d1, d2) = top2(dists);
            let mut lb = d2;
            if d2 <= d1 * plan.tie() {
                // A near tie within f32 rounding: decide in f64 among the
                // centres within the tie band (safe bound: the least of all).
                j1 = refine(x, plan.centers, d, dists, d1 * plan.tie(), |l| l as u32);
                lb = d1;
            }
            state[2 * i + 1] = plan.lower(lb).to_bits();
            ws.labels[i] = j1;
            let j = j1 as usize;
            ws.dist[i] = sq_dist(x, &plan.centers[j * d..(j + 1) * d]);
        }
    }
    evals
}

/// Squared distance in `f64`: the arbiter of near ties.
fn sq_dist_f64(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum()
}

/// Among the centres whose computed squared distance (`dists`, indexed
/// locally; `global` maps to centre indices) is at most `band`, the nearest
/// in `f64` (lowest index among exact ties).
fn refine(
    x: &[f32],
    centers: &[f32],
    d: usize,
    dists: &[f32],
    band: f32,
    global: impl Fn(usize) -> u32,
) -> u32 {
    let mut best = (f64::INFINITY, u32::MAX);
    for (l, &v) in dists.iter().enumerate() {
        if v <= band {
            let j = global(l);
            let e = sq_dist_f64(x, &centers[j as usize * d..(j as usize + 1) * d]);
            if e < best.0 || (e == best.0 && j < best.1) {
                best = (e, j);
            }
        }
    }
    best.1
}

/// Nearest (index, squared distance; lowest index among ties) and the
/// second-nearest squared distance (`inf` when there is one centre).
///
/// Eight independent lanes with branch-free selects (a branchy scan
/// mispredicts on every new minimum and cost half of Hamerly's time), then the
/// lanes combined.
#[inline]
fn top2(dists: &[f32]) -> (u32, f32, f32) {
    const W: usize = 8;
    if dists.len() < 4 * W {
        // Few values (a Yinyang group): one branch-free scalar scan.
        let (mut j1, mut d1, mut d2) = (0u32, f32::INFINITY, f32::INFINITY);
        for (j, &v) in dists.iter().enumerate() {
            let lt = v < d1;
            d2 = if lt {
                d1
            } else if v < d2 {
                v
            } else {
                d2
            };
            j1 = if lt { j as u32 } else { j1 };
            d1 = if lt { v } else { d1 };
        }
        return (j1, d1, d2);
    }
    let mut b1 = [f32::INFINITY; W];
    let mut b2 = [f32::INFINITY; W];
    let mut i1 = [u32::MAX; W];
    let blocks = dists.chunks_exact(W);
    let tail = blocks.remainder();
    for (c, block) in blocks.enumerate() {
        for l in 0..W {
            let v = block[l];
            let lt = v < b1[l];
            b2[l] = if lt {
                b1[l]
            } else if v < b2[l] {
                v
            } else {
                b2[l]
            };
            i1[l] = if lt { (c * W + l) as u32 } else { i1[l] };
            b1[l] = if lt { v } else { b1[l] };
        }
    }
    let (mut j1, mut d1, mut d2) = (u32::MAX, f32::INFINITY, f32::INFINITY);
    let base = dists.len() - tail.len();
    let candidates = (0..W).map(|l| (b1[l], i1[l], b2[l])).chain(
        tail.iter()
            .enumerate()
            .map(|(l, &v)| (v, (base + l) as u32, f32::INFINITY)),
    );
    for (v, j, second) in candidates {
        if j == u32::MAX {
            continue;
        }
        if v < d1 || (v == d1 && j < j1) {
            d2 = d2.min(d1);
            d1 = v;
            j1 = j;
        } else {
            d2 = d2.min(v);
        }
        d2 = d2.min(second);
    }
    if j1 == u32::MAX {
        // All distances infinite (or NaN): keep the first centre.
        j1 = 0;
    }
    (j1, d1, d2)
}

/// Yinyang on one chunk: the global filter (own distance against the least
/// group bound and the centre separation), then, group by group, the group
/// filter against the row's running best, and the group's distances for the
/// rows that pass it. State per row: label, then one bound per group.
fn yinyang_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, d, t) = (chunk.n_rows, plan.d, plan.t);
    let per_row = 1 + t;
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.fail.clear();
    ws.best.clear();
    let mut evals = 0u64;
    for (i, (x, st)) in chunk
        .rows()
        .zip(state.chunks_exact_mut(per_row))
        .enumerate()
    {
        if plan.first {
            ws.fail.push(i);
            ws.best.push(Best {
                sq: f32::INFINITY,
                j: u32::MAX,
                g: u32::MAX,
                lb2: f32::INFINITY,
                ub: f32::INFINITY,
            });
            continue;
        }
        let a = st[0] as usize;
        let mut least = f32::INFINITY;
        for (b, &drift) in st[1..].iter_mut().zip(&plan.group_drift) {
            let lb = down(f64::from(f32::from_bits(*b)) - drift);
            *b = lb.to_bits();
            least = least.min(lb);
        }
        let sq = sq_dist(x, &plan.centers[a * d..(a + 1) * d]);
        evals += 1;
        ws.labels[i] = a as u32;
        ws.dist[i] = sq;
        if plan.upper(sq) < least.max(plan.half_sep[a]) {
            continue;
        }
        let g = plan.group_of[a];
        ws.fail.push(i);
        ws.best.push(Best {
            sq,
            j: a as u32,
            g,
            lb2: f32::from_bits(st[1 + g as usize]),
            ub: plan.upper(sq),
        });
    }
    for g in 0..t {
        // Group filter: the rows whose bound for this group is below their
        // current best (the best found in the groups before this one).
        ws.sel.clear();
        for (c, &i) in ws.fail.iter().enumerate() {
            let lb = f32::from_bits(state[i * per_row + 1 + g]);
            if plan.first || lb < ws.best[c].ub {
                ws.sel.push(c);
            }
        }
        let members = &plan.members[g];
        let m = members.len();
        let block = batch_rows(m);
        ws.out.resize(block * m, 0.0);
        for sel in ws.sel.chunks(block) {
            ws.xs.clear();
            for &c in sel {
                ws.xs.extend_from_slice(chunk.row(ws.fail[c]));
            }
            let out = &mut ws.out[..sel.len() * m];
            sq_dists(&ws.xs, &plan.lanes[g], out);
            evals += out.len() as u64;
            for (&c, dists) in sel.iter().zip(out.chunks_exact(m)) {
                let x = chunk.row(ws.fail[c]);
                let (l1, b1, mut b2) = top2(dists);
                let mut j = members[l1 as usize];
                if b2 <= b1 * plan.tie() {
                    j = refine(x, plan.centers, d, dists, b1 * plan.tie(), |l| members[l]);
                    b2 = b1;
                }
                let row = &mut state[ws.fail[c] * per_row..][..per_row];
                // Provisionally the whole group's minimum; the winner's group
                // gets its second nearest at the end.
                row[1 + g] = plan.lower(b1).to_bits();
                let best = &mut ws.best[c];
                let better = if b1.max(best.sq) <= b1.min(best.sq) * plan.tie() {
                    // Within f32 rounding of each other: decide in f64.
                    let (e1, e0) = (
                        sq_dist_f64(x, plan.center(j as usize)),
                        sq_dist_f64(x, plan.center(best.j as usize)),
                    );
                    e1 < e0 || (e1 == e0 && j < best.j)
                } else {
                    b1 < best.sq
                };
                if better {
                    if best.g != u32::MAX {
                        // The old best now counts in its group's bound.
                        let slot = &mut row[1 + best.g as usize];
                        *slot = f32::from_bits(*slot).min(plan.lower(best.sq)).to_bits();
                    }
                    *best = Best {
                        sq: b1,
                        j,
                        g: g as u32,
                        lb2: plan.lower(b2),
                        ub: plan.upper(b1),
                    };
                }
            }
        }
    }
    for (&i, best) in ws.fail.iter().zip(&ws.best) {
        state[i * per_row + 1 + best.g as usize] = best.lb2.to_bits();
        ws.labels[i] = best.j;
        // The inertia's share with the same arithmetic as the kept rows (and
        // as Hamerly), so equal labels give equal inertia.
        let j = best.j as usize;
        ws.dist[i] = sq_dist(chunk.row(i), &plan.centers[j * d..(j + 1) * d]);
    }
    evals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top2_matches_a_plain_scan() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for len in 1..60 {
            for _ in 0..50 {
                let v: Vec<f32> = (0..len).map(|_| rng.gen_range(0..6) as f32).collect();
                let (j, d1, d2) = top2(&v);
                let mut s = v.clone();
                s.sort_by(f32::total_cmp);
                assert_eq!(d1, s[0]);
                assert_eq!(d2, if len > 1 { s[1] } else { f32::INFINITY });
                assert_eq!(j as usize, v.iter().position(|&x| x == s[0]).unwrap());
            }
        }
    }
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
                let mut a =
                    Assigner::bounded(kind, n, &c, k, d, 1, &ScratchConfig::default()).unwrap();
                let mut cc = c.clone();
                for it in 0..12 {
                    let packed = PackedCenters::new(&cc, k, d).unwrap();
                    let (p, evals) = a
                        .pass(&src, chunking, PassOptions::default(), &packed, None)
                        .unwrap();
                    assert!(evals <= (n * k + n) as u64);
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

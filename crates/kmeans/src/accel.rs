//! Exact K-means with far fewer distances: Hamerly's (2010) and Yinyang's
//! (Ding et al. 2015) triangle-inequality bounds.
//!
//! Both give Lloyd's answer (the exact nearest centre of every point in every
//! pass; Lloyd's own `f32` arithmetic may break a near tie the other way, see
//! below): a point's label is only kept without looking at the other
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
//! centres decides, lowest index among exact ties. So both variants return
//! the exact nearest centre and agree with each other bit for bit; against
//! Lloyd, whose fast formula may break near ties differently, they agree up
//! to those ties. Distances to the chosen centres (the inertia's shares and
//! the next pass's upper bounds) come from Lloyd's own direct kernel
//! ([`dist_sq_to_labels`]): with equal labels, Lloyd's inertia bit for bit on
//! its AVX-512 product path. That kernel computes each row on its own, so
//! after relabelling only the rows whose label changed are computed again
//! (the others keep the bits of the pass's first call).
//! `distance_evals` counts every distance computed: own centre, kernel
//! (16-lane groups count their real centres) and exact scans.
//!
//! Empty clusters re-seeded by Lloyd's relocation need nothing special: the
//! relocated centre's drift is the full jump, so every bound that involves it
//! drops by that much (conservative, hence safe).

use std::cell::Cell;

use mmclust_core::kernel::lanes::{LaneCenters, sq_dists};
use mmclust_core::kernel::top2::{SubPanels, Top2, decay_bounds, nearest_two, translate_rows};
use mmclust_core::kernel::{PackedCenters, dist_sq_to_labels};
use mmclust_core::parallel::{Chunk, Chunking, PassOptions, map_reduce_into};
use mmclust_core::scratch::{RowBuffer, ScratchConfig};
use mmclust_core::{ArraySource, DataSource};

use crate::error::Result;
use crate::params::{Init, KMeansParams};
use crate::pass::{LloydPartial, accumulate, inertia_pass, lloyd_pass, relabel};

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
    /// Yinyang groups the centres here, by K-means on them. Bounds from the
    /// first pass (see [`Assigner::warm_up`]).
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

/// Groups the k centres for Yinyang: a small K-means on them (Yinyang's
/// grouping: five iterations from k-means++) gives the groups' centres, then
/// each centre joins the nearest group that has room, nearest pairs first, so
/// that no group holds more than [`GROUP_CAP`] centres (one 16-lane register
/// of the kernel, see [`yinyang_groups`]). Numbered 0..t with no empty group.
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
    let gc = &model.centers;
    let mut pairs: Vec<(f64, u32, u32)> = Vec::with_capacity(k * t);
    for (j, c) in centers.chunks_exact(d).enumerate() {
        for (g, m) in gc.chunks_exact(d).enumerate() {
            pairs.push((sq_dist_f64(c, m), j as u32, g as u32));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut room = vec![GROUP_CAP; t];
    let mut labels = vec![u32::MAX; k];
    for (_, j, g) in pairs {
        if labels[j as usize] == u32::MAX && room[g as usize] > 0 {
            labels[j as usize] = g;
            room[g as usize] -= 1;
        }
    }
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

/// Most centres in a Yinyang group: the lanes of one kernel register.
const GROUP_CAP: usize = 16;

/// Yinyang's number of groups for k centres: ⌈k/16⌉, as few as hold them in
/// groups of at most [`GROUP_CAP`], so that each group fills one register of
/// the kernel. (The paper's k/10 groups leave a third of the lanes empty on
/// average; measured at d = 32, k = 100 and d = 16, k = 1000, k/16 took 3 %
/// and 8 % less CPU time than k/12, k/12 10 % less than k/8.)
pub(crate) fn yinyang_groups(k: usize) -> usize {
    k.div_ceil(GROUP_CAP).max(1)
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
    packed: &'a PackedCenters,
    d: usize,
    k: usize,
    rel: f64,
    /// `(1 + rel)²·(1 + 1e-12)`.
    rel_sq: f64,
    /// Per centre: half the distance to its nearest other centre, deflated.
    half_sep: Vec<f32>,
    /// Hamerly: the largest drift and its centre, and the second largest
    /// (rounded up to `f32`).
    max_drift: (f32, usize, f32),
    /// Yinyang: the largest drift of each group (rounded up to `f32`).
    group_drift: Vec<f32>,
    group_of: &'a [u32],
    members: &'a [Vec<u32>],
    /// The translation point: the mean of the centres (`f32`).
    mu: Vec<f32>,
    /// An upper bound on the norm of every translated centre `fl(c − mu)`.
    cmax: f64,
    /// Translated centres, all of them (Hamerly) or each group's (Yinyang),
    /// packed for [`nearest_two`].
    panels: Vec<SubPanels>,
}

/// `1 − 2⁻²³`: a positive `f64` scaled by it and rounded to the nearest
/// `f32` is below the unscaled value (half an ulp is at most `2⁻²⁴` relative).
const DOWN: f64 = 1.0 - f32::EPSILON as f64;

/// `1 + 2⁻²³`: as [`DOWN`], upwards.
const UP: f64 = 1.0 + f32::EPSILON as f64;

/// Unit roundoff of `f32`.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// What the fast values of one translated row say about its distances.
#[derive(Clone, Copy)]
struct RowErr {
    /// Bounds on `‖x̃‖²`.
    nx_lo: f64,
    nx_hi: f64,
    /// Bound on the error of a fast value (squared space).
    e: f64,
    /// Bound on the effect of the translation's rounding (sqrt space).
    tau: f64,
}

impl PassPlan<'_> {
    /// A safe upper bound on the distance whose exact square is `sq`.
    fn upper(&self, sq: f32) -> f32 {
        // Rounding to the nearest `f32` after the inflation by `UP` rounds
        // up (as `DOWN` for lower bounds).
        ((f64::from(sq).sqrt() * (1.0 + self.rel) + ABS_EPS) * UP) as f32
    }

    /// Whether `upper(sq) < b` may be taken as proved, without the square
    /// root: `sqrt(sq)·(1 + rel) + ABS_EPS < b` follows from
    /// `sq·(1 + rel)²·(1 + 1e-12) < (b − ABS_EPS)²` with `b − ABS_EPS > 0`
    /// (the `f64` products round far below the `1e-12`).
    fn below(&self, sq: f32, b: f32) -> bool {
        let bm = f64::from(b) - ABS_EPS;
        (bm > 0.0) & (f64::from(sq) * self.rel_sq < bm * bm)
    }

    /// A safe lower bound on the distance whose computed square is `sq`.
    fn lower(&self, sq: f32) -> f32 {
        if sq == f32::INFINITY {
            return f32::INFINITY;
        }
        down(f64::from(sq).sqrt() * (1.0 - self.rel) - ABS_EPS)
    }

    /// The error terms of a translated row whose squared norm, computed in
    /// `f32`, is `nx` (within `γ_d ≤ rel` relative: the terms are positive).
    ///
    /// A fast value `v` (see [`mmclust_core::kernel::top2`]) is within
    /// `γ_{d+1}(‖c̃‖² + 2‖x̃‖‖c̃‖) ≤ rel·(C² + 2‖x̃‖C)` of `‖c̃‖² − 2x̃·c̃`
    /// (`C` bounds every `‖c̃‖`; `rel = 2(d + 8)u` exceeds `γ_{d+1}`), so
    /// `‖x̃ − c̃‖² ∈ nx + v ± e`. The translation rounded each coordinate of
    /// `x − mu` and `c − mu` once: `‖x − c‖ ∈ ‖x̃ − c̃‖ ± u(1 + 2u)(‖x̃‖ + C)`
    /// (`tau`, with room to spare).
    fn row_err(&self, nx: f32) -> RowErr {
        let nx = f64::from(nx);
        let nx_hi = nx * (1.0 + self.rel);
        let nxs = nx_hi.sqrt() * (1.0 + 1e-12);
        RowErr {
            nx_lo: nx * (1.0 - self.rel),
            nx_hi,
            e: self.rel * (self.cmax * self.cmax + 2.0 * nxs * self.cmax) * (1.0 + 1e-12),
            tau: 1.01 * U32 * (nxs + self.cmax),
        }
    }

    /// A safe lower bound on the distance to a centre whose fast value is `v`.
    fn lower_fast(&self, r: RowErr, v: f32) -> f32 {
        // `max` turns NaN into 0. Rounding to the nearest `f32` after the
        // deflation by `DOWN` (2⁻²³ relative) rounds down: no `f32` lies
        // between.
        let sq = (r.nx_lo + f64::from(v) - r.e).max(0.0);
        (((sq.sqrt() * (1.0 - 1e-12) - r.tau - ABS_EPS) * DOWN) as f32).max(0.0)
    }

    /// Whether `upper_fast(r, v) < b` may be taken as proved, without the
    /// square root (as [`PassPlan::below`]); false when `v` is not finite.
    fn upper_fast_below(&self, r: RowErr, v: f32, b: f32) -> bool {
        let bm = f64::from(b) - r.tau - ABS_EPS;
        let sq = (r.nx_hi + f64::from(v) + r.e).max(0.0);
        v.is_finite() && bm > 0.0 && sq * (1.0 + 1e-11) < bm * bm
    }

    /// A safe upper bound on the distance to a centre whose fast value is `v`
    /// (NaN when `v` is).
    fn upper_fast(&self, r: RowErr, v: f32) -> f32 {
        (((r.nx_hi + f64::from(v) + r.e).max(0.0).sqrt() * (1.0 + 1e-12) + r.tau + ABS_EPS) * UP)
            as f32
    }
}

/// Per-worker buffers of a bounded pass.
#[derive(Default)]
struct AccelScratch {
    labels: Vec<u32>,
    dist: Vec<f32>,
    /// Yinyang: running best of each failing row.
    best: Vec<Best>,
    /// Rows of `xs` to run the kernel on.
    sel: Vec<u32>,
    /// Rows (within the chunk) whose filters failed.
    fail32: Vec<u32>,
    /// Translated failing rows, their norms, error terms and kernel results.
    xs: Vec<f32>,
    nx: Vec<f32>,
    err: Vec<RowErr>,
    top: Vec<Top2>,
    /// Yinyang: the failing rows (indices into `fail32`) each group scans
    /// (`cnt[g]` of them from `flat[g·nf]`), and where each group's results
    /// start in `top`.
    flat: Vec<u32>,
    cnt: Vec<usize>,
    offs: Vec<usize>,
    /// Yinyang: each row's least bound after the drift update.
    least: Vec<f32>,
    /// Rows whose label changed: gathered, their labels and distances.
    cx: Vec<f32>,
    cl: Vec<u32>,
    cd: Vec<f32>,
    /// Exact `f64` distances of a row that needs the exact scan.
    exact: Vec<f64>,
}

/// Yinyang's best candidate of a row whose global filter failed, and what
/// is known of the other centres examined.
#[derive(Debug, Clone, Copy)]
struct Best {
    /// Estimated squared distance, index and group of the best candidate
    /// (`u32::MAX`: none yet).
    est: f64,
    j: u32,
    g: u32,
    /// Its fast value and its group's second least (when it came from the
    /// kernel), and the lower bound from `v1` (`+inf` when it did not).
    v1: f32,
    v2: f32,
    lb1: f32,
    /// The least new bound of the scanned groups.
    others: f32,
    /// The row's label before the pass (`u32::MAX` on the first), a safe
    /// upper bound on its exact distance, and whether its group was scanned.
    a: u32,
    ua: f32,
    a_scanned: bool,
    /// A fast value was not finite: decide by the exact scan.
    bad: bool,
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

/// Rows gathered per kernel call of Hamerly.
const HAMERLY_BLOCK: usize = 64;

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

impl Groups {
    /// The per-pass quantities: drifts since the last pass, centre separations,
    /// translated and packed centres.
    fn plan<'a>(&'a self, packed: &'a PackedCenters, k: usize, d: usize) -> PassPlan<'a> {
        let centers = packed.centers();
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
        // Translate by the centres' mean, so that the fast values' error,
        // relative to the norms, stays small next to the distances even for
        // data far from the origin.
        let mu: Vec<f32> = (0..d)
            .map(|p| (rows.iter().map(|c| f64::from(c[p])).sum::<f64>() / k as f64) as f32)
            .collect();
        let shifted: Vec<f32> = rows
            .iter()
            .flat_map(|c| c.iter().zip(&mu).map(|(&a, &m)| a - m))
            .collect();
        let cmax = shifted
            .chunks_exact(d)
            .map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt())
            .fold(0.0f64, f64::max)
            * (1.0 + 1e-12);
        let panels = match self.kind {
            Bounds::Hamerly => vec![SubPanels::new(shifted.chunks_exact(d), d)],
            Bounds::Yinyang => self
                .members
                .iter()
                .map(|m| {
                    SubPanels::new(
                        m.iter()
                            .map(|&j| &shifted[j as usize * d..(j as usize + 1) * d]),
                        d,
                    )
                })
                .collect(),
        };
        PassPlan {
            kind: self.kind,
            t: self.t,
            first: self.prev.is_none(),
            centers,
            packed,
            d,
            k,
            rel,
            rel_sq: (1.0 + rel) * (1.0 + rel) * (1.0 + 1e-12),
            half_sep,
            max_drift: (up(max_drift.0), max_drift.1, up(max_drift.2)),
            group_drift: group_drift.into_iter().map(up).collect(),
            group_of: &self.group_of,
            members: &self.members,
            mu,
            cmax,
            panels,
        }
    }
}

/// Half the distance from each centre to its nearest other centre, as a safe
/// lower bound (Hamerly's `s`): a point nearer than that to its own centre
/// cannot be nearer to another.
fn half_separations(centers: &[f32], k: usize, d: usize, all: &LaneCenters, rel: f64) -> Vec<f32> {
    let block = (16_384 / k.max(1)).clamp(4, 256);
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

/// Gathers the chunk's rows `rows`, translated by the plan's `mu`, into
/// `ws.xs`, with their error terms in `ws.err`.
fn gather(plan: &PassPlan<'_>, chunk: &Chunk<'_>, rows: &[u32], ws: &mut AccelScratch) {
    let (m, d) = (rows.len(), plan.d);
    ws.xs.resize(m * d, 0.0);
    ws.nx.resize(m, 0.0);
    translate_rows(chunk.data, d, rows, &plan.mu, &mut ws.xs, &mut ws.nx);
    ws.err.clear();
    ws.err.extend(ws.nx.iter().map(|&nx| plan.row_err(nx)));
}

/// Exact `f64` squared distances of `x` to every centre, into `out`; returns
/// the nearest (lowest index among exact ties).
fn exact_scan(plan: &PassPlan<'_>, x: &[f32], out: &mut Vec<f64>) -> u32 {
    out.clear();
    out.extend(plan.centers.chunks_exact(plan.d).map(|c| sq_dist_f64(x, c)));
    let mut best = (f64::INFINITY, 0u32);
    for (j, &e) in out.iter().enumerate() {
        if e < best.0 {
            best = (e, j as u32);
        }
    }
    best.1
}

/// A safe lower bound on the distance whose exact `f64` square is `e` (a sum
/// of `d` squares of `f32` differences: relative error far below `1e-9`).
fn lower_f64(e: f64) -> f32 {
    if e == f64::INFINITY {
        return f32::INFINITY;
    }
    if e.is_nan() {
        return 0.0;
    }
    down(e.sqrt() * (1.0 - 1e-9) - ABS_EPS).max(0.0)
}

/// Hamerly on one chunk: labels and squared distances into `ws`, the lower
/// bounds updated in `state` (label, bound per row; the labels are updated by
/// the caller). Returns the distances computed.
///
/// The rows whose bounds fail are translated and gathered into blocks, and
/// their nearest and second-nearest centres come from [`nearest_two`]; a row
/// whose two nearest are too close for the fast values' error to separate
/// them is decided by the exact `f64` scan.
fn hamerly_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, k) = (chunk.n_rows, plan.k);
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.fail32.clear();
    let mut evals = 0u64;
    if plan.first {
        ws.fail32.extend(0..n as u32);
    } else {
        for (l, st) in ws.labels.iter_mut().zip(state.chunks_exact(2)) {
            *l = st[0];
        }
        // Every row's exact distance to its own centre: the upper bound.
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        evals += n as u64;
        let (m1, j1, m2) = plan.max_drift;
        for (i, st) in state.chunks_exact_mut(2).enumerate() {
            let a = st[0] as usize;
            let drift = if a == j1 { m2 } else { m1 };
            let lb = sub_down(f32::from_bits(st[1]), drift);
            st[1] = lb.to_bits();
            if !plan.below(ws.dist[i], lb.max(plan.half_sep[a])) {
                ws.fail32.push(i as u32);
            }
        }
    }
    if ws.fail32.is_empty() {
        return evals;
    }
    let panels = &plan.panels[0];
    ws.sel.clear();
    ws.sel.extend(0..HAMERLY_BLOCK as u32);
    ws.top.resize(
        HAMERLY_BLOCK,
        Top2 {
            j: 0,
            v1: 0.0,
            v2: 0.0,
        },
    );
    let fail = std::mem::take(&mut ws.fail32);
    for rows in fail.chunks(HAMERLY_BLOCK) {
        gather(plan, chunk, rows, ws);
        let m = rows.len();
        nearest_two(&ws.xs, &ws.sel[..m], panels, &mut ws.top[..m]);
        evals += (m * k) as u64;
        for ((&i, t), &e) in rows.iter().zip(&ws.top[..m]).zip(&ws.err) {
            let i = i as usize;
            let lb2 = plan.lower_fast(e, t.v2);
            let (label, lb) = if plan.upper_fast_below(e, t.v1, lb2) {
                (t.j, lb2)
            } else {
                // Too close to call (or not finite): the exact scan.
                let j = exact_scan(plan, chunk.row(i), &mut ws.exact);
                evals += k as u64;
                let second = ws
                    .exact
                    .iter()
                    .enumerate()
                    .filter(|&(l, _)| l != j as usize)
                    .map(|(_, &v)| v)
                    .fold(f64::INFINITY, f64::min);
                (j, lower_f64(second))
            };
            state[2 * i + 1] = lb.to_bits();
            ws.labels[i] = label;
        }
    }
    ws.fail32 = fail;
    // The inertia's shares, with the arithmetic of Lloyd's kernel.
    dists_of_changed(plan, chunk, old_labels(plan, state, 2), ws);
    evals
}

/// The labels of the chunk's rows before the pass, for [`dists_of_changed`]:
/// none (`u32::MAX`, so every distance is computed) on a first pass, whose
/// `ws.dist` holds no own-centre distances even where the state holds labels
/// (from the warm-up's Lloyd passes).
fn old_labels<'s>(
    plan: &PassPlan<'_>,
    state: &'s [u32],
    per_row: usize,
) -> impl Iterator<Item = u32> + 's {
    let first = plan.first;
    state
        .iter()
        .step_by(per_row)
        .map(move |&l| if first { u32::MAX } else { l })
}

/// Squared distance in `f64`: the arbiter of near ties.
fn sq_dist_f64(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum()
}

/// `lb − drift` rounded down to a safe `f32` lower bound (0 when not
/// positive): the exact difference of two `f32`s is within half an ulp of its
/// rounding `r`, so above the next `f32` below `r` (for `r = +inf`, `f32::MAX`).
#[inline]
fn sub_down(lb: f32, drift: f32) -> f32 {
    if drift == 0.0 {
        return lb;
    }
    let r = lb - drift;
    if r > 0.0 {
        f32::from_bits(r.to_bits() - 1)
    } else {
        0.0
    }
}

/// The squared distances of the chunk's rows to their new labels
/// (`ws.labels`) into `ws.dist`, with the arithmetic of Lloyd's kernel:
/// rows whose label is unchanged (`old[i]`) already hold theirs (the kernel
/// computes each row on its own, so the bits would be the same), the others
/// are gathered and computed.
fn dists_of_changed(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    old: impl Iterator<Item = u32>,
    ws: &mut AccelScratch,
) {
    let n = chunk.n_rows;
    ws.sel.clear();
    ws.sel.extend(
        old.zip(&ws.labels[..n])
            .enumerate()
            .filter(|&(_, (o, &l))| o != l)
            .map(|(i, _)| i as u32),
    );
    if ws.sel.len() == n {
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        return;
    }
    let m = ws.sel.len();
    if m == 0 {
        return;
    }
    ws.cx.clear();
    ws.cl.clear();
    for &i in &ws.sel {
        ws.cx.extend_from_slice(chunk.row(i as usize));
        ws.cl.push(ws.labels[i as usize]);
    }
    ws.cd.resize(m, 0.0);
    dist_sq_to_labels(&ws.cx, plan.packed, &ws.cl, &mut ws.cd);
    for (&i, &v) in ws.sel.iter().zip(&ws.cd) {
        ws.dist[i as usize] = v;
    }
}

/// Yinyang on one chunk. State per row: label, then one lower bound per
/// group (on the distance to every centre of the group but the label).
///
/// 1. Global filter: every row's exact distance to its own centre `a`
///    (Lloyd's direct kernel) against the least of its group bounds, after
///    the drift update, and against half the separation of `a`.
/// 2. Group filter, once per failing row over its `t` contiguous bounds: the
///    groups whose bound is below the upper bound `u_a` on the own distance
///    are *scanned*; the row index goes to each scanned group's list.
/// 3. One kernel call per group over its list: each scanned group's nearest
///    two centres by fast value.
/// 4. Per row, the best candidate: the scanned groups' winners, and `a`
///    itself when its group was not scanned (by its exact distance). The new
///    bound of a scanned group is the lower bound of its second nearest for
///    the best's group, of its nearest for the others; `a`'s group, when not
///    scanned and the label moves, takes `a`'s lower bound in too.
///
/// The label is the best when its upper bound is below every scanned group's
/// new bound and, when `a`'s group was not scanned and the best is not `a`,
/// below `a`'s lower bound. A group not scanned has a bound at least `u_a`,
/// and the best is then no farther than `a` (certified, or it is `a`), so it
/// holds no nearer centre either (equality is an exact tie). Otherwise (a near
/// tie, a non-finite fast value) the exact `f64` scan decides.
///
/// No local filter (skipping single centres of a scanned group): a group's
/// centres sit in the lanes of one or two vector registers, so a skipped
/// centre saves no work.
fn yinyang_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, t) = (chunk.n_rows, plan.t);
    let per_row = 1 + t;
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.best.clear();
    ws.cnt.clear();
    let mut evals = 0u64;
    let none = Best {
        est: f64::INFINITY,
        j: u32::MAX,
        g: u32::MAX,
        v1: f32::INFINITY,
        v2: f32::INFINITY,
        lb1: f32::INFINITY,
        others: f32::INFINITY,
        a: u32::MAX,
        ua: f32::INFINITY,
        a_scanned: true,
        bad: false,
    };
    // Group `g`'s list: `ws.flat[g·nf..][..ws.cnt[g]]` (written without
    // branches: every slot is written, the count moves when the test holds).
    let nf;
    if plan.first {
        nf = n;
        ws.fail32.clear();
        ws.fail32.extend(0..n as u32);
        ws.best.resize(n, none);
        ws.flat.clear();
        for _ in 0..t {
            ws.flat.extend(0..n as u32);
        }
        ws.cnt.resize(t, n);
    } else {
        for (l, st) in ws.labels.iter_mut().zip(state.chunks_exact(per_row)) {
            *l = st[0];
        }
        // Every row's exact distance to its own centre: the upper bound.
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        evals += n as u64;
        ws.least.resize(n, 0.0);
        decay_bounds(state, per_row, &plan.group_drift, &mut ws.least[..n]);
        // Global filter.
        ws.fail32.resize(n, 0);
        let mut m = 0;
        for (i, ((&l, &sq), &least)) in ws.labels[..n]
            .iter()
            .zip(&ws.dist[..n])
            .zip(&ws.least[..n])
            .enumerate()
        {
            ws.fail32[m] = i as u32;
            m += usize::from(!plan.below(sq, least.max(plan.half_sep[l as usize])));
        }
        nf = m;
        ws.fail32.truncate(nf);
        // Group filter.
        ws.flat.resize(t * nf, 0);
        ws.cnt.resize(t, 0);
        for (c, &i) in ws.fail32.iter().enumerate() {
            let i = i as usize;
            let st = &state[i * per_row..][..per_row];
            let a = st[0] as usize;
            let sq = ws.dist[i];
            let ua = plan.upper(sq);
            for (g, (&b, cnt)) in st[1..].iter().zip(&mut ws.cnt).enumerate() {
                ws.flat[g * nf + *cnt] = c as u32;
                *cnt += usize::from(f32::from_bits(b) < ua);
            }
            let ga = plan.group_of[a] as usize;
            let a_scanned = f32::from_bits(st[1 + ga]) < ua;
            ws.best.push(Best {
                est: if a_scanned {
                    f64::INFINITY
                } else {
                    f64::from(sq)
                },
                j: if a_scanned { u32::MAX } else { a as u32 },
                g: if a_scanned { u32::MAX } else { ga as u32 },
                a: a as u32,
                ua,
                a_scanned,
                ..none
            });
        }
    }
    if nf == 0 {
        return evals;
    }
    let fail = std::mem::take(&mut ws.fail32);
    gather(plan, chunk, &fail, ws);
    // Kernel: each group over its list, results side by side.
    ws.offs.clear();
    let total: usize = ws.cnt.iter().sum();
    ws.top.resize(
        total,
        Top2 {
            j: 0,
            v1: 0.0,
            v2: 0.0,
        },
    );
    let mut at = 0;
    for (g, &s) in ws.cnt.iter().enumerate() {
        ws.offs.push(at);
        if s > 0 {
            let list = &ws.flat[g * nf..][..s];
            nearest_two(&ws.xs, list, &plan.panels[g], &mut ws.top[at..at + s]);
            evals += (s * plan.members[g].len()) as u64;
        }
        at += s;
    }
    ws.offs.push(at);
    // The best candidate of each row, and the scanned groups' new bounds
    // (in the same sweep): every scanned group first takes the lower bound
    // of its nearest; the least of these over the groups that are not the
    // best's goes to `others` (a group's enters when another overtakes it),
    // and the best's group takes the bound of its second nearest below.
    for g in 0..t {
        let members = &plan.members[g];
        let list = &ws.flat[g * nf..][..ws.cnt[g]];
        for (&c, top) in list.iter().zip(&ws.top[ws.offs[g]..ws.offs[g + 1]]) {
            let c = c as usize;
            let best = &mut ws.best[c];
            if !top.v1.is_finite() {
                // Decided by the exact scan, which rewrites every bound.
                best.bad = true;
                continue;
            }
            let lb = plan.lower_fast(ws.err[c], top.v1);
            state[fail[c] as usize * per_row + 1 + g] = lb.to_bits();
            let est = f64::from(ws.nx[c]) + f64::from(top.v1);
            if est < best.est {
                best.others = best.others.min(best.lb1);
                best.lb1 = lb;
                best.est = est;
                best.j = members[top.j as usize];
                best.g = g as u32;
                best.v1 = top.v1;
                best.v2 = top.v2;
            } else {
                best.others = best.others.min(lb);
            }
        }
    }
    for ((&i, best), &e) in fail.iter().zip(&ws.best).zip(&ws.err) {
        let i = i as usize;
        let row = &mut state[i * per_row..][..per_row];
        let mut others = best.others;
        if best.lb1 != f32::INFINITY {
            // The best came from a scanned group: its second nearest.
            let lb = plan.lower_fast(e, best.v2);
            row[1 + best.g as usize] = lb.to_bits();
            others = others.min(lb);
        }
        let moved = best.j != best.a;
        let ub = if moved {
            plan.upper_fast(e, best.v1)
        } else {
            best.ua
        };
        // The old label's lower bound, when its group was not scanned.
        let la = if moved && !best.a_scanned {
            plan.lower(ws.dist[i])
        } else {
            f32::INFINITY
        };
        others = others.min(la);
        let label = if !best.bad && best.j != u32::MAX && ub < others {
            if moved && !best.a_scanned {
                // The old label now counts in its group's bound.
                let slot = &mut row[1 + plan.group_of[best.a as usize] as usize];
                *slot = f32::from_bits(*slot).min(la).to_bits();
            }
            best.j
        } else {
            // Too close to call: the exact scan, and every group's bound
            // from it.
            let j = exact_scan(plan, chunk.row(i), &mut ws.exact);
            evals += plan.k as u64;
            for (g, members) in plan.members.iter().enumerate() {
                let least = members
                    .iter()
                    .filter(|&&l| l != j)
                    .map(|&l| ws.exact[l as usize])
                    .fold(f64::INFINITY, f64::min);
                row[1 + g] = lower_f64(least).to_bits();
            }
            j
        };
        ws.labels[i] = label;
    }
    ws.fail32 = fail;
    // The inertia's shares, with the arithmetic of Lloyd's kernel (and of
    // Hamerly: equal labels give equal inertia).
    dists_of_changed(plan, chunk, old_labels(plan, state, per_row), ws);
    evals
}

#[cfg(test)]
mod tests {
    use super::*;

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

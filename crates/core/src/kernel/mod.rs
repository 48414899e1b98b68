//! Distance kernels: squared row norms and the nearest-centre assignment.
//!
//! # The exact assignment
//!
//! [`assign_chunk`] gives every row its *reference label*: the nearest centre
//! by the reference distance `D` of [`reference`](mod@reference) (lowest index among equal
//! values), and `D` to it rounded to `f32`: the same bits on every path and
//! machine. The fast kernels only pre-screen: rows and centres are
//! translated by the centres' mean, the top-2 kernel ([`top2`]) estimates
//! each row's nearest and second-nearest `‖c̃‖² − 2x̃·c̃` in `f32`, and
//! [`certify`] proves from a rigorous bound on those estimates that the
//! nearest is the reference label; the rows it cannot prove (near ties,
//! duplicate centres, non-finite values) are re-checked by the reference scan
//! over every centre and counted ([`AssignScratch::take_rechecks`]). The
//! same mechanism certifies the bounded K-means variants' scans (in
//! `mmclust-kmeans`), so Lloyd, Hamerly and Yinyang decide alike.
//!
//! # The `f32` fast-formula assignment
//!
//! [`assign_chunk_fast`] (what `mmclust bench` times as the `f32` kernel, and
//! the oracle-tested fused kernel a future pre-screen may build on) selects,
//! for every row `x` of a chunk, the centre `c_j` that
//! minimises `‖c_j‖² − 2·x·c_j` (the squared distance `‖x − c_j‖²` less the
//! constant `‖x‖²`). The products `x·c_j` come from a cache-blocked matrix product
//! whose micro-kernel keeps an `MR × 32` tile of them in registers and folds the
//! argmin into its epilogue: the `n × k` distance matrix is never stored, only a
//! per-row, per-SIMD-lane running best (value and index) in [`AssignScratch`].
//!
//! * Centres are packed once per iteration by [`PackedCenters::new`]: panels of
//!   [`PANEL`] (= 32) centres, `d`-major inside a panel, scaled by −2 (exact in
//!   floating point), zero-padded; the padded centres get a norm of `+inf` so they
//!   never win. The accumulators start at `‖c‖²`, so the tile holds
//!   `‖c‖² − 2·x·c` when the loop over `d` ends, with no extra epilogue FMA.
//! * Loop order: rows are cut into blocks of a few hundred rows; for each block,
//!   centre panels outer, groups of `MR` rows inner, so a panel (`32·d·4` bytes)
//!   stays in L1 while the block's rows stream past it from L2. X rows are read
//!   straight from the row-major chunk (one broadcast per row and dimension,
//!   folded into the FMA as a memory operand): no copy of the data.
//! * The AVX-512 path has a second, *resident* order, used when all packed
//!   panels fit in L2 (`k·d·4` up to 512 KiB: `k = 1000, d = 128` or
//!   `k = 4000, d = 32`): groups of 6 rows outer, every panel inner, a 6 × 32
//!   tile (12 accumulators) per panel folded into each row's lane-wise running
//!   best (one `zmm` of values, one of indices per row, 24 registers in all)
//!   that stays in registers from the first panel to the last: no scratch
//!   traffic. A last partial panel of at most 8 centres is done 8 wide, its
//!   `ymm` FMAs fused into the last full panel's loop over `d` (`k = 100`: 104
//!   columns; the streamed order does 112). It does the same
//!   arithmetic per centre as the streamed order, so both give the same labels
//!   and distances bit for bit (tested). The resident order
//!   wins while the panels stay in L1 or L2 (no scratch traffic) and is about
//!   even once they stream from further out (`scripts/bench_kernel.sh` times
//!   the kernel per shape).
//! * Then `dist_sq[i]` is recomputed directly as `Σ_p (x_p − c_p)²` for the chosen
//!   centre (on the AVX-512 path 8 rows at a time, one transposed reduction for
//!   the 8 sums, after each block of rows so that it does not wait on each
//!   row's winner). That costs O(n·d), little next to the O(n·k·d) product, and removes
//!   the cancellation of the fast formula: when the data sit far from the origin,
//!   `‖x‖² − 2x·c + ‖c‖²` loses every significant digit, the direct sum does not.
//!   Only the *choice* between near-equal centres can be affected by that rounding
//!   (a centre within about `1e-6·(‖x‖² + ‖c‖²)` of the best may be picked); the
//!   reported distance is always that of the chosen centre, computed accurately.
//! * Ties: among centres whose fast-formula values are bitwise equal, the lowest
//!   index wins. Duplicate centres always tie exactly (same arithmetic, same
//!   order), so the first copy is chosen. The result is deterministic for a given
//!   machine; the dispatch path is chosen once per process (see below), and
//!   different paths (AVX-512, AVX2, scalar) may differ only on near-ties.
//! * If a row's fast values are all non-finite (overflow beyond ~1e19, NaN), the
//!   row falls back to the reference scan ([`reference::nearest`]).
//!
//! Small problems (`d ≤ 4` with `k ≤ 256`, or `k ≤ 4`) use a direct kernel on
//! the AVX-512 path instead of the product, where the product does not pay;
//! `direct.rs` holds the thresholds and the measurements behind them. There the
//! selection itself uses the exact direct distances.
//!
//! # Dispatch
//!
//! Each entry point runs the process's path ([`Isa::current`]: the best this
//! CPU has, AMX, AVX512-BF16, AVX-512F (with AVX2 and FMA), AVX2 + FMA, or a
//! portable scalar path, the only one on other architectures; or a lower one
//! that `MMCLUST_ISA` asks for), and has a twin `*_with` that takes the path
//! as an argument. A kernel without a variant for the path runs its best one
//! below it (the `f32` kernels run their AVX-512 variant on the bf16 paths;
//! the exact assignment uses the bf16 products there). [`dispatch_name`] says
//! which path runs.

use crate::error::{CoreError, Result};
use std::sync::OnceLock;

use crate::isa::Isa;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod bf16;
pub mod certify;
mod direct;
mod exact;
pub mod lanes;
pub mod peak;
pub mod reference;
mod scalar;
mod scan;
pub mod silhouette;
pub mod sparse;
pub mod top2;

#[cfg(test)]
mod tests;

/// Centres per packed panel: two AVX-512 registers (or four AVX2 registers) wide.
pub const PANEL: usize = 32;

/// The kernel variants of [`row_norms_sq_with`] and [`assign_chunk_with`].
const VARIANTS: &[Isa] = &[Isa::Avx512, Isa::Avx2];

/// Name of the instruction-set path the kernels run in this process
/// ([`Isa::current`]): `"amx"`, `"avx512bf16"`, `"avx512"`, `"avx2"` or
/// `"scalar"`.
#[must_use]
pub fn dispatch_name() -> &'static str {
    Isa::current().name()
}

/// Whether the kernels run their AVX-512 path in this process
/// ([`Isa::current`]; AVX-512F, AVX2 and FMA detected).
#[must_use]
pub fn avx512_path() -> bool {
    Isa::current() >= Isa::Avx512
}

/// Squared Euclidean norm of each row of the row-major `x` (rows of `d` values).
///
/// Accumulated in `f32` over 16 (AVX-512) or 8 lanes then summed pairwise, so the
/// relative error stays near `(d/16 + 4)·ε` (all terms are positive, nothing
/// cancels).
///
/// # Panics
/// When `d == 0` or `x.len() != out.len() * d`.
pub fn row_norms_sq(x: &[f32], d: usize, out: &mut [f32]) {
    row_norms_sq_with(Isa::current(), x, d, out);
}

/// [`row_norms_sq`] on the path `isa`.
///
/// # Panics
/// As [`row_norms_sq`]; also when this CPU cannot run `isa`.
pub fn row_norms_sq_with(isa: Isa, x: &[f32], d: usize, out: &mut [f32]) {
    assert!(d > 0, "row_norms_sq: d must be at least 1");
    assert_eq!(
        x.len(),
        out.len() * d,
        "row_norms_sq: x holds {} values, not {} rows × {d}",
        x.len(),
        out.len()
    );
    isa.assert_available();
    match isa.best_of(VARIANTS) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX-512F, AVX2 and FMA.
        Isa::Avx512 => unsafe { avx512::row_norms_sq(x, d, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above: AVX2 and FMA.
        Isa::Avx2 => unsafe { avx2::row_norms_sq(x, d, out) },
        _ => scalar::row_norms_sq(x, d, out),
    }
}

/// `k` centres of dimension `d`, packed once per iteration for [`assign_chunk`].
///
/// Holds panels of [`PANEL`] centres, `d`-major inside a panel (value `p` of the
/// 32 centres contiguous), scaled by −2 and zero-padded, the squared norms
/// (padded with `+inf`), and an unpacked copy of the centres.
#[derive(Debug, Clone)]
pub struct PackedCenters {
    k: usize,
    d: usize,
    centers: Vec<f32>,
    norms: Vec<f32>,
    /// `n_panels · PANEL` norms, `+inf` past `k`.
    panel_norms: Vec<f32>,
    /// `n_panels · d · PANEL` values: `panels[(q·d + p)·PANEL + l] = −2·c[q·PANEL + l][p]`.
    panels: Vec<f32>,
    /// The translation point of the exact assignment (the centres' mean).
    mu: Vec<f32>,
    /// The centres translated by `mu`, packed for the top-2 pre-screen.
    sub: top2::SubPanels,
    /// The error model of the pre-screen's fast values.
    bound: certify::FastBound,
    /// `‖c̃_j‖²` of the translated centres (summed in `f64`), rounded to
    /// `f32` (the bf16 pre-screen's scan).
    sub_norms32: Vec<f32>,
    /// The translated centres, row-major (for the bf16 packs).
    shifted: Vec<f32>,
    /// The translated centres packed for the bf16 pre-screen, made on first
    /// use: for the AMX path (0) and the AVX512-BF16 path (1).
    bf16: [OnceLock<bf16::Bf16Centers>; 2],
    /// The centres in lane groups for the AVX2 pre-screen, made on first use.
    lanes: OnceLock<lanes::LaneCenters>,
}

impl PackedCenters {
    /// Packs the row-major `centers` (`k` rows of `d` values).
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] when `k == 0`, `d == 0`, `k` does not fit in
    /// a `u32`, or `centers.len() != k * d`.
    pub fn new(centers: &[f32], k: usize, d: usize) -> Result<Self> {
        if k == 0 {
            return Err(CoreError::param("k", "must be at least 1"));
        }
        if d == 0 {
            return Err(CoreError::param("d", "must be at least 1"));
        }
        if u32::try_from(k).is_err() {
            return Err(CoreError::param(
                "k",
                format!("{k} centres do not fit u32 labels"),
            ));
        }
        if k.checked_mul(d) != Some(centers.len()) {
            return Err(CoreError::param(
                "centers",
                format!(
                    "{} values are not {k} centres × {d} dimensions",
                    centers.len()
                ),
            ));
        }
        // Centre norms in f64: k·d is small, and the selection formula is only as
        // good as these.
        let norms: Vec<f32> = centers
            .chunks_exact(d)
            .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() as f32)
            .collect();
        let n_panels = k.div_ceil(PANEL);
        let mut panel_norms = vec![f32::INFINITY; n_panels * PANEL];
        panel_norms[..k].copy_from_slice(&norms);
        let mut panels = vec![0.0f32; n_panels * d * PANEL];
        for (j, c) in centers.chunks_exact(d).enumerate() {
            let (q, l) = (j / PANEL, j % PANEL);
            for (p, &v) in c.iter().enumerate() {
                panels[(q * d + p) * PANEL + l] = -2.0 * v;
            }
        }
        let mut shifted = Vec::new();
        let (mu, cmax) = certify::translation(centers, d, &mut shifted);
        let sub_norms: Vec<f64> = shifted
            .chunks_exact(d)
            .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum())
            .collect();
        let sub_norms32 = sub_norms.iter().map(|&v| v as f32).collect();
        Ok(PackedCenters {
            k,
            d,
            centers: centers.to_vec(),
            norms,
            panel_norms,
            panels,
            mu,
            sub: top2::SubPanels::new(shifted.chunks_exact(d), d),
            bound: certify::FastBound::f32_fma(d, cmax),
            sub_norms32,
            shifted,
            bf16: Default::default(),
            lanes: OnceLock::new(),
        })
    }

    /// Number of centres.
    #[must_use]
    pub fn k(&self) -> usize {
        self.k
    }

    /// Dimension.
    #[must_use]
    pub fn d(&self) -> usize {
        self.d
    }

    /// Squared norm of each centre (`k` values, accumulated in `f64`).
    #[must_use]
    pub fn norms_sq(&self) -> &[f32] {
        &self.norms
    }

    /// Centre `j` as given (`d` values).
    ///
    /// # Panics
    /// When `j >= k`.
    #[must_use]
    pub fn center(&self, j: usize) -> &[f32] {
        &self.centers[j * self.d..(j + 1) * self.d]
    }

    /// All centres, row-major, as given.
    #[must_use]
    pub fn centers(&self) -> &[f32] {
        &self.centers
    }

    /// The translated centres packed for the bf16 kernel of `isa` (made on
    /// first use).
    fn bf16_pack(&self, isa: Isa) -> &bf16::Bf16Centers {
        let slot = usize::from(isa.best_of(&[Isa::Amx, Isa::Avx512Bf16]) != Isa::Amx);
        self.bf16[slot].get_or_init(|| {
            bf16::Bf16Centers::new(isa, &self.shifted, self.k, self.d)
                .expect("the shape was checked by PackedCenters::new")
        })
    }

    pub(crate) fn n_panels(&self) -> usize {
        self.k.div_ceil(PANEL)
    }

    /// Panel `q`: `d · PANEL` values.
    pub(crate) fn panel(&self, q: usize) -> &[f32] {
        let len = self.d * PANEL;
        &self.panels[q * len..(q + 1) * len]
    }

    /// Norms of panel `q`'s centres: `PANEL` values, `+inf` past `k`.
    pub(crate) fn panel_norms(&self, q: usize) -> &[f32] {
        &self.panel_norms[q * PANEL..(q + 1) * PANEL]
    }
}

/// Per-worker workspace of [`assign_chunk`] and [`assign_chunk_fast`].
///
/// Starts empty, grows on first use to what a chunk's row block needs (a few
/// tens of KiB), then is reused: nothing is allocated in the hot loop. Keep one
/// per worker thread (a `thread_local!`, or one per chunk task). It also
/// counts the rows the exact assignment had to re-check
/// ([`AssignScratch::take_rechecks`]).
#[derive(Debug, Clone, Default)]
pub struct AssignScratch {
    /// Per row of the current block, per SIMD lane: best value so far.
    best_val: Vec<f32>,
    /// Per row of the current block, per SIMD lane: index of that best.
    best_idx: Vec<u32>,
    /// The exact assignment's block: row indices, translated rows, their
    /// norms, the pre-screen's results, the reference scan's distances.
    sel: Vec<u32>,
    xt: Vec<f32>,
    nx: Vec<f32>,
    top: Vec<top2::Top2>,
    work: Vec<f64>,
    /// The bf16 pre-screen's estimates of a block, its candidates, its
    /// conversion buffers.
    dots: Vec<f32>,
    groups: Vec<f32>,
    cand: Vec<u32>,
    vals: Vec<f32>,
    bf16: Option<bf16::Bf16Scratch>,
    /// Rows re-checked by the reference scan since the last
    /// [`AssignScratch::take_rechecks`].
    rechecks: u64,
}

impl AssignScratch {
    /// An empty workspace.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes room for `len` lane slots and returns them.
    fn lanes(&mut self, len: usize) -> (&mut [f32], &mut [u32]) {
        if self.best_val.len() < len {
            self.best_val.resize(len, 0.0);
            self.best_idx.resize(len, 0);
        }
        (&mut self.best_val[..len], &mut self.best_idx[..len])
    }

    /// The number of rows [`assign_chunk`] re-checked with the reference
    /// scan (its pre-screen could not certify their label) since the last
    /// call; resets the count.
    pub fn take_rechecks(&mut self) -> u64 {
        std::mem::take(&mut self.rechecks)
    }
}

/// Rows per block of the product kernels: the block's rows (`rows · d · 4`
/// bytes) are re-read once per centre panel, so they should sit in L2, and its
/// lane scratch (`rows · 128` bytes) in L1/L2. A multiple of `mr`.
fn row_block(d: usize, mr: usize) -> usize {
    let rows = (96 * 1024 / (4 * d)).clamp(2 * mr, 384);
    rows / mr * mr
}

/// The reference label of each row of a chunk: its nearest centre by the
/// reference distance, the same bits on every path and machine.
///
/// For each row `i` of the row-major `x` (`n = labels.len()` rows of
/// `centers.d()` values): `labels[i] = argmin_j D(x_i, c_j)` (the reference
/// distance of [`reference`](mod@reference), lowest index among equal values; 0 when all
/// are NaN), and `dist_sq[i]` is `D(x_i, c_{labels[i]})` rounded to `f32`.
///
/// How: rows and centres are translated by the centres' mean and a
/// pre-screen bounds every row's distances: the top-2 kernel ([`top2`]) on
/// the AVX-512 and scalar paths, direct `f32` distances on AVX2, bf16
/// products ([`bf16`]) on `amx` from `d ≥ 64`, `k ≥ 64` (its candidates then
/// get `f32` fast values). [`certify`] proves the nearest is the reference
/// label; the rows it cannot prove (near ties, duplicate centres,
/// non-finite values) are re-checked with the reference distance, and
/// counted in `scratch` ([`AssignScratch::take_rechecks`]).
///
/// # Panics
/// When `x.len() != labels.len() * centers.d()` or
/// `dist_sq.len() != labels.len()`.
pub fn assign_chunk(
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    scratch: &mut AssignScratch,
) {
    assign_chunk_with(Isa::current(), x, centers, labels, dist_sq, scratch);
}

/// [`assign_chunk`] on the path `isa` (the same labels and distances on
/// every path).
///
/// # Panics
/// As [`assign_chunk`]; also when this CPU cannot run `isa`.
pub fn assign_chunk_with(
    isa: Isa,
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    scratch: &mut AssignScratch,
) {
    let (n, d) = check_shapes(x, centers, labels, dist_sq);
    isa.assert_available();
    let pack = exact::use_bf16(isa, centers.k, d).then(|| centers.bf16_pack(isa));
    for r0 in (0..n).step_by(exact::BLOCK) {
        let m = exact::BLOCK.min(n - r0);
        let xs = &x[r0 * d..(r0 + m) * d];
        let out = &mut labels[r0..r0 + m];
        match pack {
            Some(pack) => exact::block_bf16(isa, xs, centers, pack, out, scratch),
            None if exact::use_lanes(isa) => {
                let lanes = centers.lanes.get_or_init(|| {
                    let rows: Vec<&[f32]> = centers.centers.chunks_exact(d).collect();
                    lanes::LaneCenters::new(&rows, d)
                });
                exact::block_lanes(isa, xs, centers, lanes, out, scratch);
            }
            None => exact::block_f32(isa, xs, centers, out, scratch),
        }
        reference::dists_to_labels_with(
            isa,
            xs,
            &centers.centers,
            d,
            out,
            &mut dist_sq[r0..r0 + m],
        );
    }
}

/// The assignments' shape checks: `(n, d)`.
///
/// # Panics
/// When `x` is not `labels.len()` rows of `centers.d()` values or `dist_sq`
/// does not hold one value per label.
fn check_shapes(
    x: &[f32],
    centers: &PackedCenters,
    labels: &[u32],
    dist_sq: &[f32],
) -> (usize, usize) {
    let (n, d) = (labels.len(), centers.d());
    assert_eq!(
        x.len(),
        n * d,
        "assign_chunk: x holds {} values, not {n} rows × {d}",
        x.len()
    );
    assert_eq!(
        dist_sq.len(),
        n,
        "assign_chunk: dist_sq must hold one value per label"
    );
    (n, d)
}

/// The `f32` fast-formula assignment (the fused product kernel): for each
/// row, the centre minimising `‖c_j‖² − 2·x·c_j` as computed in `f32`
/// (lowest index among bitwise-equal values), and `dist_sq[i]` the direct
/// `f32` distance `Σ_p (x_ip − c_jp)²` to it. Not the reference label: near
/// ties may go either way, and the paths differ there (see the module
/// documentation). What `mmclust bench` times as the `f32` kernel's rate.
///
/// # Panics
/// As [`assign_chunk`].
pub fn assign_chunk_fast(
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    scratch: &mut AssignScratch,
) {
    assign_chunk_fast_with(Isa::current(), x, centers, labels, dist_sq, scratch);
}

/// [`assign_chunk_fast`] on the path `isa`.
///
/// # Panics
/// As [`assign_chunk`]; also when this CPU cannot run `isa`.
pub fn assign_chunk_fast_with(
    isa: Isa,
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    scratch: &mut AssignScratch,
) {
    assign_chunk_order(isa, Order::Auto, x, centers, labels, dist_sq, scratch);
}

/// Loop order of the AVX-512 product kernel (ignored by the other paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// [`Order::Resident`] when the packed panels fit in L2, else
    /// [`Order::Streamed`].
    Auto,
    /// Row blocks outer, centre panels, then groups of rows: the running best
    /// goes through [`AssignScratch`] after every panel.
    #[cfg_attr(not(test), allow(dead_code))] // forced by the tests only
    Streamed,
    /// Groups of rows outer, every panel inner: the running best stays in
    /// registers.
    #[cfg_attr(not(test), allow(dead_code))] // forced by the tests only
    Resident,
}

pub(crate) fn assign_chunk_order(
    isa: Isa,
    order: Order,
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    scratch: &mut AssignScratch,
) {
    let (n, _) = check_shapes(x, centers, labels, dist_sq);
    isa.assert_available();
    if n == 0 {
        return;
    }
    match isa.best_of(VARIANTS) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX-512F, AVX2 and FMA; the shapes
        // were checked above.
        Isa::Avx512 => unsafe { avx512::assign(x, centers, labels, dist_sq, scratch, order) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above: AVX2 and FMA; the shapes were checked above.
        Isa::Avx2 => unsafe { avx2::assign(x, centers, labels, dist_sq, scratch) },
        _ => scalar::assign(x, centers, labels, dist_sq),
    }
    let _ = order;
}

/// `dist_sq[i] = D(x_i, c_{labels[i]})` rounded to `f32`, the reference
/// distance ([`reference`](mod@reference)) of each row of `x` (`labels.len()` rows of
/// `centers.d()` values) to its labelled centre, as [`assign_chunk`] reports
/// it: for labels chosen elsewhere, e.g. by the bounds of the accelerated
/// K-means variants. The same bits on every path.
///
/// # Panics
/// When the slices' lengths disagree or a label is not below `centers.k()`.
pub fn dist_sq_to_labels(x: &[f32], centers: &PackedCenters, labels: &[u32], dist_sq: &mut [f32]) {
    dist_sq_to_labels_with(Isa::current(), x, centers, labels, dist_sq);
}

/// [`dist_sq_to_labels`] on the path `isa`.
///
/// # Panics
/// As [`dist_sq_to_labels`]; also when this CPU cannot run `isa`.
pub fn dist_sq_to_labels_with(
    isa: Isa,
    x: &[f32],
    centers: &PackedCenters,
    labels: &[u32],
    dist_sq: &mut [f32],
) {
    reference::dists_to_labels_with(isa, x, &centers.centers, centers.d, labels, dist_sq);
}

/// Final step shared by the product kernels for one row: the winner among the
/// lanes (lowest value, lowest index among equal values), or the exact scan
/// when no centre had a finite fast value.
#[inline]
fn finish_row(lane_val: &[f32], lane_idx: &[u32], x: &[f32], centers: &PackedCenters) -> u32 {
    let mut best = f32::INFINITY;
    let mut idx = u32::MAX;
    for (&v, &j) in lane_val.iter().zip(lane_idx) {
        if v < best || (v == best && j < idx) {
            best = v;
            idx = j;
        }
    }
    if !best.is_finite() {
        idx = reference::nearest(x, centers.centers(), centers.k()).0;
    }
    idx
}

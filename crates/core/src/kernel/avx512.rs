//! AVX-512F path: tiles of 8 rows × 32 centres (16 `zmm` accumulators) in the
//! streamed order, 6 rows × 32 centres with the running best in registers in
//! the resident order (see `mod.rs`).
//!
//! Every function here requires AVX-512F, AVX2 and FMA at run time; `mod.rs`
//! only calls them on a path this CPU runs that includes `Isa::Avx512`
//! (asserted there).
//!
//! The AVX-512 intrinsics are stable since Rust 1.89, the workspace's
//! `rust-version`.

use std::arch::x86_64::*;

use super::direct::{DIRECT_LANES_MAX_K, DIRECT_MAX_D, DIRECT_MAX_K};
use super::{AssignScratch, Order, PANEL, PackedCenters, row_block};

/// Rows per tile.
const MR: usize = 8;
/// Lanes of the per-row running best.
const LANES: usize = 16;

/// Squared norm of a row: 2 × 16 lanes, then a tree reduction.
///
/// # Safety
/// AVX-512F must be available.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn sum_sq(a: &[f32], b: Option<&[f32]>) -> f32 {
    let d = a.len();
    let pa = a.as_ptr();
    let pb = b.map_or(std::ptr::null(), <[f32]>::as_ptr);
    let diff = |p: usize, mask: __mmask16| -> __m512 {
        // SAFETY: lanes `p..p+16` selected by `mask` lie within `a` (and `b`,
        // which has `a`'s length); masked-off lanes are not read.
        unsafe {
            let va = _mm512_maskz_loadu_ps(mask, pa.add(p));
            if pb.is_null() {
                va
            } else {
                _mm512_sub_ps(va, _mm512_maskz_loadu_ps(mask, pb.add(p)))
            }
        }
    };
    let mut acc0 = _mm512_setzero_ps();
    let mut acc1 = _mm512_setzero_ps();
    let mut p = 0;
    while p + 32 <= d {
        let t0 = diff(p, !0);
        let t1 = diff(p + 16, !0);
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
        p += 32;
    }
    if p + 16 <= d {
        let t0 = diff(p, !0);
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        p += 16;
    }
    if p < d {
        let t1 = diff(p, (1u16 << (d - p)) - 1);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

/// # Safety
/// AVX-512F, AVX2 and FMA must be available; `x.len() == out.len() * d`.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn row_norms_sq(x: &[f32], d: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(d).zip(out) {
        // SAFETY: the caller guarantees AVX-512F.
        *o = unsafe { sum_sq(row, None) };
    }
}

/// `MR × 16·NV` tile of `‖c‖² − 2·x·c` over the whole of `d`, folded into the
/// rows' running lane-wise best. `NV = 2` for a full panel, `NV = 1` for a last
/// panel with at most 16 live centres (`k = 100` would waste 28 of 128 columns
/// otherwise).
///
/// # Safety
/// AVX-512F and FMA available; each `rows[i]` points to `d` readable values;
/// `panel` to `d · PANEL` values and `cn` to `PANEL`; `bval`/`bidx` to
/// `MR · LANES` writable values each.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn tile<const NV: usize>(
    rows: &[*const f32; MR],
    d: usize,
    panel: *const f32,
    cn: *const f32,
    bval: *mut f32,
    bidx: *mut u32,
    j0: u32,
) {
    // SAFETY: the pointers and extents are as the caller guarantees; every load
    // and store below stays within them.
    unsafe {
        let c: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(cn.add(16 * v)));
        let mut acc = [c; MR];
        for p in 0..d {
            let b: [__m512; NV] =
                std::array::from_fn(|v| _mm512_loadu_ps(panel.add(p * PANEL + 16 * v)));
            for i in 0..MR {
                let xv = _mm512_set1_ps(*rows[i].add(p));
                for v in 0..NV {
                    acc[i][v] = _mm512_fmadd_ps(xv, b[v], acc[i][v]);
                }
            }
        }
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let idx0 = _mm512_add_epi32(iota, _mm512_set1_epi32(j0 as i32));
        let idx1 = _mm512_add_epi32(iota, _mm512_set1_epi32((j0 + 16) as i32));
        for (i, a) in acc.iter().enumerate() {
            // Lane l holds centres j0+l and j0+16+l: the higher one wins only if
            // strictly smaller, and the stored best (from lower panels) is
            // replaced only if strictly beaten, so the lowest index wins ties.
            let (v, id) = if NV == 2 {
                let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a[NV - 1], a[0]);
                (
                    _mm512_mask_blend_ps(m, a[0], a[NV - 1]),
                    _mm512_mask_blend_epi32(m, idx0, idx1),
                )
            } else {
                (a[0], idx0)
            };
            let pv = bval.add(i * LANES);
            let pi = bidx.add(i * LANES).cast::<__m512i>();
            let bv = _mm512_loadu_ps(pv);
            let bi = _mm512_loadu_si512(pi);
            let m2 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, bv);
            _mm512_storeu_ps(pv, _mm512_mask_blend_ps(m2, bv, v));
            _mm512_storeu_si512(pi, _mm512_mask_blend_epi32(m2, bi, id));
        }
    }
}

/// The winner among a row's 16 lanes: lowest value, lowest index among equal
/// values; the exact scan when no fast value is finite.
///
/// # Safety
/// AVX-512F must be available; `val` and `idx` hold 16 values.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn finish_row(val: &[f32], idx: &[u32], x: &[f32], centers: &PackedCenters) -> u32 {
    // SAFETY: both slices hold 16 values (caller).
    let (v, i) = unsafe {
        (
            _mm512_loadu_ps(val.as_ptr()),
            _mm512_loadu_si512(idx.as_ptr().cast::<__m512i>()),
        )
    };
    let best = _mm512_reduce_min_ps(v);
    if !best.is_finite() {
        return super::reference::nearest(x, centers.centers(), centers.k()).0;
    }
    let tied = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, _mm512_set1_ps(best));
    _mm512_mask_reduce_min_epu32(tied, i)
}

/// # Safety
/// AVX-512F, AVX2 and FMA must be available; `x.len() == labels.len() * d`,
/// `dist.len() == labels.len()`, `labels` not empty.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn assign(
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist: &mut [f32],
    scratch: &mut AssignScratch,
    order: Order,
) {
    let n = labels.len();
    let d = centers.d();
    if d <= DIRECT_MAX_D && centers.k() <= DIRECT_LANES_MAX_K {
        // SAFETY: AVX-512F is available (caller); shapes as the caller guarantees.
        unsafe { direct_rows_in_lanes(x, centers, labels, dist) };
        return;
    }
    if centers.k() <= DIRECT_MAX_K {
        for ((row, label), out) in x
            .chunks_exact(d)
            .zip(labels.iter_mut())
            .zip(dist.iter_mut())
        {
            let mut best = f32::INFINITY;
            let mut idx = u32::MAX;
            for j in 0..centers.k() {
                // SAFETY: AVX-512F is available (caller); both rows hold `d` values.
                let v = unsafe { sum_sq(row, Some(centers.center(j))) };
                if v < best {
                    best = v;
                    idx = j as u32;
                }
            }
            if !best.is_finite() {
                let (j, v) = super::reference::nearest(row, centers.centers(), centers.k());
                (idx, best) = (j, v as f32);
            }
            *label = idx;
            *out = best;
        }
        return;
    }
    let resident = match order {
        Order::Auto => centers.n_panels() * PANEL * d * 4 <= RESIDENT_MAX_BYTES,
        Order::Streamed => false,
        Order::Resident => true,
    };
    if resident {
        let mut b0 = 0;
        while b0 < n {
            let b1 = n.min(b0 + RESIDENT_BLOCK);
            for r0 in (b0..b1).step_by(RMR) {
                // SAFETY: AVX-512F is available (caller); `r0 < n`, shapes as
                // the caller guarantees.
                unsafe { resident_group::<RMR>(x, r0, centers, labels) };
            }
            // SAFETY: AVX-512F is available (caller); labels `b0..b1` are set.
            unsafe { exact_dists::<false>(x, centers, labels, dist, b0, b1) };
            b0 = b1;
        }
        return;
    }
    let mb = row_block(d, MR);
    let (bval, bidx) = scratch.lanes(mb * LANES);
    let mut r0 = 0;
    while r0 < n {
        let rows = mb.min(n - r0);
        let groups = rows.div_ceil(MR);
        bval[..groups * MR * LANES].fill(f32::INFINITY);
        bidx[..groups * MR * LANES].fill(u32::MAX);
        for q in 0..centers.n_panels() {
            let panel = centers.panel(q).as_ptr();
            let cn = centers.panel_norms(q).as_ptr();
            let narrow = centers.k() - q * PANEL <= 16;
            for g in 0..groups {
                // Rows past the end repeat the last row; their lanes are ignored.
                let rows_ptr: [*const f32; MR] = std::array::from_fn(|i| {
                    let r = (r0 + g * MR + i).min(n - 1);
                    x[r * d..].as_ptr()
                });
                // SAFETY: AVX-512F is available (caller); each row pointer starts
                // a full row of `x`; the panel holds `d · PANEL` values and its
                // norms `PANEL`; group `g`'s lane slots `g·MR·LANES ..
                // (g+1)·MR·LANES` lie within `bval`/`bidx` (`mb` is a multiple of
                // `MR` and `g·MR < rows ≤ mb`).
                unsafe {
                    let (bv, bi) = (
                        bval.as_mut_ptr().add(g * MR * LANES),
                        bidx.as_mut_ptr().add(g * MR * LANES),
                    );
                    let j0 = (q * PANEL) as u32;
                    if narrow {
                        tile::<1>(&rows_ptr, d, panel, cn, bv, bi, j0);
                    } else {
                        tile::<2>(&rows_ptr, d, panel, cn, bv, bi, j0);
                    }
                }
            }
        }
        for i in 0..rows {
            let row = &x[(r0 + i) * d..(r0 + i + 1) * d];
            let lanes = i * LANES..(i + 1) * LANES;
            // SAFETY: AVX-512F is available (caller); `lanes` spans 16 values.
            labels[r0 + i] =
                unsafe { finish_row(&bval[lanes.clone()], &bidx[lanes], row, centers) };
        }
        // SAFETY: AVX-512F is available (caller); labels `r0..r0 + rows` are set.
        unsafe { exact_dists::<false>(x, centers, labels, dist, r0, r0 + rows) };
        r0 += rows;
    }
}

/// Largest packed panel set (`n_panels · 32 · d · 4` bytes) for which
/// [`Order::Auto`] picks the resident order.
const RESIDENT_MAX_BYTES: usize = 512 * 1024;
/// Rows per group of the resident order.
const RMR: usize = 6;

/// `Σ_p (a_p − b_p)²` for up to 8 pairs of rows of `d` values at once: one
/// 16-lane accumulator per pair, then a transposed reduction of the 8
/// accumulators (about 3 shuffles and adds per pair instead of a full
/// horizontal sum each). Pairs past `R` count as zero.
///
/// # Safety
/// AVX-512F available; every `a[i]`, `b[i]` points to `d` readable values.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn sum_sq_rows<const R: usize>(
    a: &[*const f32; R],
    b: &[*const f32; R],
    d: usize,
) -> [f32; R] {
    const { assert!(R <= 8) };
    let mut acc = [_mm512_setzero_ps(); 8];
    // SAFETY: lanes `p..p+16` selected by the masks lie within the rows
    // (caller); masked-off lanes are not read.
    unsafe {
        let mut p = 0;
        while p + 16 <= d {
            for i in 0..R {
                let t = _mm512_sub_ps(_mm512_loadu_ps(a[i].add(p)), _mm512_loadu_ps(b[i].add(p)));
                acc[i] = _mm512_fmadd_ps(t, t, acc[i]);
            }
            p += 16;
        }
        if p < d {
            let m: __mmask16 = (1u16 << (d - p)) - 1;
            for i in 0..R {
                let t = _mm512_sub_ps(
                    _mm512_maskz_loadu_ps(m, a[i].add(p)),
                    _mm512_maskz_loadu_ps(m, b[i].add(p)),
                );
                acc[i] = _mm512_fmadd_ps(t, t, acc[i]);
            }
        }
    }
    // Rows r, r+1: 256-bit halves added, the pair's 8-lane partial sums side
    // by side.
    let pair = |u: __m512, v: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(u, v),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(u, v),
        )
    };
    // Four rows: 128-bit lane r holds row r's 4 partial sums.
    let quad = |u: __m512, v: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(u, v),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(u, v),
        )
    };
    let lo = quad(pair(acc[0], acc[1]), pair(acc[2], acc[3]));
    let hi = if R > 4 {
        quad(pair(acc[4], acc[5]), pair(acc[6], acc[7]))
    } else {
        _mm512_setzero_ps()
    };
    // Per 128-bit lane r: [r0+r1, r2+r3, (r+4)0+(r+4)1, (r+4)2+(r+4)3].
    let y = _mm512_add_ps(
        _mm512_shuffle_ps::<0b10_00_10_00>(lo, hi),
        _mm512_shuffle_ps::<0b11_01_11_01>(lo, hi),
    );
    // Element 0 of lane r: row r; element 2: row r + 4.
    let z = _mm512_add_ps(y, _mm512_permute_ps::<0b10_11_00_01>(y));
    let mut out = [0f32; 16];
    // SAFETY: `out` holds 16 values.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), z) };
    std::array::from_fn(|i| {
        if i < 4 {
            out[4 * i]
        } else {
            out[4 * (i - 4) + 2]
        }
    })
}

/// How far ahead [`exact_dists`] prefetches, in bytes.
const EXACT_PREFETCH_BYTES: usize = 8192;

/// Rows per block of the resident order: the block's labels are chosen group
/// by group, then its exact distances recomputed in one batch (after the
/// block, so that the recompute does not wait on each group's winner).
const RESIDENT_BLOCK: usize = 16 * RMR;

/// `dist[i] = Σ_p (x_ip − c_p)²` for the chosen centre `c = labels[i]`, rows
/// `i0..i1`, 8 at a time (both loop orders share this arithmetic, so their
/// distances agree bit for bit).
///
/// With `PREFETCH`, the rows [`EXACT_PREFETCH_BYTES`] (at least one block of
/// 8 rows) ahead of each block are prefetched, a cache line at a time, as far
/// as `x` goes: for rows read here first, straight from memory (the bounded
/// K-means variants' own-centre distances over a fresh chunk), where the
/// hardware prefetcher, which stops at page boundaries, leaves the loads
/// waiting (the bounded passes' largest stall). The arithmetic is the same
/// either way.
///
/// # Safety
/// AVX-512F available; `i0 < i1 ≤ labels.len()`, `labels[i0..i1]` valid
/// centre indices, `x`/`dist` as in [`assign`].
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn exact_dists<const PREFETCH: bool>(
    x: &[f32],
    centers: &PackedCenters,
    labels: &[u32],
    dist: &mut [f32],
    i0: usize,
    i1: usize,
) {
    const R: usize = 8;
    let d = centers.d();
    let (bytes, base) = (std::mem::size_of_val(x), x.as_ptr().cast::<i8>());
    let ahead = EXACT_PREFETCH_BYTES.max(R * d * 4);
    for r0 in (i0..i1).step_by(R) {
        let live = R.min(i1 - r0);
        if PREFETCH {
            let to = ((r0 + R) * d * 4 + ahead).min(bytes);
            for o in (r0 * d * 4 + ahead..to).step_by(64) {
                // SAFETY: o < bytes: within `x`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(o)) };
            }
        }
        // Rows past `i1` repeat the last one.
        let at = |i: usize| r0 + i.min(live - 1);
        let xr: [*const f32; R] = std::array::from_fn(|i| x[at(i) * d..].as_ptr());
        let cr: [*const f32; R] =
            std::array::from_fn(|i| centers.center(labels[at(i)] as usize).as_ptr());
        // SAFETY: AVX-512F is available (caller); every pointer starts a row of
        // `d` values.
        let dd = unsafe { sum_sq_rows::<R>(&xr, &cr, d) };
        dist[r0..r0 + live].copy_from_slice(&dd[..live]);
    }
}

/// Resident order, one group of up to `MR` rows starting at `r0`: every
/// panel's `MR × 32` tile in turn, folded into the rows' lane-wise running best
/// (value and panel offset, one `zmm` each per row) held in registers; then the
/// rows' winners and their exact distances.
///
/// Lane `l` sees centres `l, 16 + l, 32 + l, …` in increasing order and keeps
/// the first strictly smaller value, so within a lane the lowest index wins
/// ties; across lanes the lowest index among equal values is taken. The
/// result is bitwise that of the streamed order.
///
/// # Safety
/// AVX-512F, AVX2 and FMA available; `r0 < labels.len()`,
/// `x.len() == labels.len() · d`, `dist.len() == labels.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn resident_group<const MR: usize>(
    x: &[f32],
    r0: usize,
    centers: &PackedCenters,
    labels: &mut [u32],
) {
    let n = labels.len();
    let d = centers.d();
    let k = centers.k();
    let live = MR.min(n - r0);
    // Rows past the end repeat the last live row; their results are dropped.
    let rows: [*const f32; MR] = std::array::from_fn(|i| x[(r0 + i.min(live - 1)) * d..].as_ptr());
    let mut bv = [_mm512_set1_ps(f32::INFINITY); MR];
    let mut bi = [_mm512_setzero_si512(); MR];
    // Panels done 32 wide, and a last partial panel: of more than 16 centres,
    // 32 wide too (its padding has `+inf` norms); of 9–16, 16 wide (one `zmm`
    // per row) in a loop of its own; of at most 8 (`k = 100`), 8 wide (one
    // `ymm` per row) *fused* into the loop over `d` of the last full panel, so
    // the 6 `ymm` chains interleave with the 12 `zmm` ones instead of running
    // latency-bound on their own (`k = 100`: 104 columns instead of 112). `bv`/`bi` are not touched inside that loop,
    // so the compiler may keep them on the stack there: 12 + 6 accumulators
    // live, and the `ymm` ones fit AVX-512F's 16 `ymm` registers. (An 8-wide
    // tail in its own loop would run latency-bound: the fused one keeps the
    // FMA ports busy.)
    let rem = k % PANEL;
    let (full, tail) = match rem {
        0 => (k / PANEL, false),
        r if r > 16 => (k / PANEL + 1, false),
        _ => (k / PANEL, true),
    };
    // SAFETY: every panel `q < n_panels` holds `d · PANEL` values and its
    // norms `PANEL`; row pointers start full rows of `x`, read at `p < d`.
    unsafe {
        let fused = tail && rem <= 8 && full >= 1;
        let tail = tail && !fused;
        for q in 0..full {
            let panel = centers.panel(q).as_ptr();
            let cn = centers.panel_norms(q).as_ptr();
            if fused && q + 1 == full {
                let tpanel = centers.panel(q + 1).as_ptr();
                let mut a0 = [_mm512_loadu_ps(cn); MR];
                let mut a1 = [_mm512_loadu_ps(cn.add(16)); MR];
                let mut a2 = [_mm256_loadu_ps(centers.panel_norms(q + 1).as_ptr()); MR];
                for p in 0..d {
                    let b0 = _mm512_loadu_ps(panel.add(p * PANEL));
                    let b1 = _mm512_loadu_ps(panel.add(p * PANEL + 16));
                    let b2 = _mm256_loadu_ps(tpanel.add(p * PANEL));
                    for i in 0..MR {
                        let xs = *rows[i].add(p);
                        let xv = _mm512_set1_ps(xs);
                        a0[i] = _mm512_fmadd_ps(xv, b0, a0[i]);
                        a1[i] = _mm512_fmadd_ps(xv, b1, a1[i]);
                        a2[i] = _mm256_fmadd_ps(_mm512_castps512_ps256(xv), b2, a2[i]);
                    }
                }
                let j0 = _mm512_set1_epi32((q * PANEL) as i32);
                let j1 = _mm512_set1_epi32((q * PANEL + 16) as i32);
                let j2 = _mm512_set1_epi32(((q + 1) * PANEL) as i32);
                for i in 0..MR {
                    keep_less(&mut bv[i], &mut bi[i], a0[i], j0);
                    keep_less(&mut bv[i], &mut bi[i], a1[i], j1);
                    let az = _mm512_castps256_ps512(a2[i]);
                    let m = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(0xff, az, bv[i]);
                    bv[i] = _mm512_mask_mov_ps(bv[i], m, az);
                    bi[i] = _mm512_mask_mov_epi32(bi[i], m, j2);
                }
                continue;
            }
            let mut a0 = [_mm512_loadu_ps(cn); MR];
            let mut a1 = [_mm512_loadu_ps(cn.add(16)); MR];
            for p in 0..d {
                let b0 = _mm512_loadu_ps(panel.add(p * PANEL));
                let b1 = _mm512_loadu_ps(panel.add(p * PANEL + 16));
                for i in 0..MR {
                    let xv = _mm512_set1_ps(*rows[i].add(p));
                    a0[i] = _mm512_fmadd_ps(xv, b0, a0[i]);
                    a1[i] = _mm512_fmadd_ps(xv, b1, a1[i]);
                }
            }
            let j0 = _mm512_set1_epi32((q * PANEL) as i32);
            let j1 = _mm512_set1_epi32((q * PANEL + 16) as i32);
            for i in 0..MR {
                keep_less(&mut bv[i], &mut bi[i], a0[i], j0);
                keep_less(&mut bv[i], &mut bi[i], a1[i], j1);
            }
        }
        let q = full;
        if tail {
            let jq = _mm512_set1_epi32((q * PANEL) as i32);
            let panel = centers.panel(q).as_ptr();
            let mut a = [_mm512_loadu_ps(centers.panel_norms(q).as_ptr()); MR];
            for p in 0..d {
                let b = _mm512_loadu_ps(panel.add(p * PANEL));
                for i in 0..MR {
                    a[i] = _mm512_fmadd_ps(_mm512_set1_ps(*rows[i].add(p)), b, a[i]);
                }
            }
            for i in 0..MR {
                keep_less(&mut bv[i], &mut bi[i], a[i], jq);
            }
        }
    }
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut chosen = [0u32; MR];
    for i in 0..live {
        let best = _mm512_reduce_min_ps(bv[i]);
        chosen[i] = if best.is_finite() {
            let tied = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(bv[i], _mm512_set1_ps(best));
            _mm512_mask_reduce_min_epu32(tied, _mm512_add_epi32(bi[i], iota))
        } else {
            let row = &x[(r0 + i) * d..(r0 + i + 1) * d];
            super::reference::nearest(row, centers.centers(), k).0
        };
    }
    labels[r0..r0 + live].copy_from_slice(&chosen[..live]);
}

/// The mask of the first `min(n, 16)` lanes of a vector.
#[inline]
pub(super) const fn first_lanes(n: usize) -> __mmask16 {
    if n >= 16 { !0 } else { (1u16 << n) - 1 }
}

/// The running best of a row, lane by lane: where `a` is strictly below `bv`
/// (an equal value keeps the earlier, lower index), `a` and the panel offset
/// `j` replace them.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn keep_less(bv: &mut __m512, bi: &mut __m512i, a: __m512, j: __m512i) {
    let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, *bv);
    *bv = _mm512_mask_mov_ps(*bv, m, a);
    *bi = _mm512_mask_mov_epi32(*bi, m, j);
}

/// Direct kernel for `d ≤ DIRECT_MAX_D`: 16 rows in the lanes of a vector,
/// `Σ_p (x_p − c_p)²` for every centre, running best per lane.
///
/// # Safety
/// AVX-512F must be available; `d = centers.d() ≤ DIRECT_MAX_D`,
/// `x.len() == labels.len() * d`, `dist.len() == labels.len()`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn direct_rows_in_lanes(
    x: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let n = labels.len();
    let d = centers.d();
    let c = centers.centers();
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let offsets = _mm512_mullo_epi32(lane, _mm512_set1_epi32(d as i32));
    let mut r0 = 0;
    while r0 < n {
        let live = (n - r0).min(16);
        let mask = first_lanes(live);
        let mut xt = [_mm512_setzero_ps(); DIRECT_MAX_D];
        for (p, t) in xt.iter_mut().enumerate().take(d) {
            // SAFETY: lane `l < live` reads `x[(r0 + l)·d + p]`, within `x`;
            // masked-off lanes are not read.
            *t = unsafe {
                _mm512_mask_i32gather_ps::<4>(
                    _mm512_setzero_ps(),
                    mask,
                    offsets,
                    x.as_ptr().add(r0 * d + p),
                )
            };
        }
        let mut best = _mm512_set1_ps(f32::INFINITY);
        let mut idx = _mm512_setzero_si512();
        for (j, cj) in c.chunks_exact(d).enumerate() {
            let mut acc = _mm512_setzero_ps();
            for (t, &cp) in xt.iter().zip(cj) {
                let diff = _mm512_sub_ps(*t, _mm512_set1_ps(cp));
                acc = _mm512_fmadd_ps(diff, diff, acc);
            }
            // Strict: the lowest index wins exact ties.
            let better = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(acc, best);
            best = _mm512_mask_mov_ps(best, better, acc);
            idx = _mm512_mask_mov_epi32(idx, better, _mm512_set1_epi32(j as i32));
        }
        // SAFETY: lanes `l < live` store to `labels[r0 + l]` / `dist[r0 + l]`,
        // within the slices; masked-off lanes are not written.
        unsafe {
            _mm512_mask_storeu_epi32(labels.as_mut_ptr().add(r0).cast(), mask, idx);
            _mm512_mask_storeu_ps(dist.as_mut_ptr().add(r0), mask, best);
        }
        let finite = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(best, _mm512_set1_ps(f32::INFINITY));
        if finite & mask != mask {
            for i in r0..r0 + live {
                if !dist[i].is_finite() {
                    let (j, v) = super::reference::nearest(&x[i * d..(i + 1) * d], c, centers.k());
                    (labels[i], dist[i]) = (j, v as f32);
                }
            }
        }
        r0 += live;
    }
}

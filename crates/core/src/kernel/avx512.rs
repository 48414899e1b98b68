//! AVX-512F path: tiles of 8 rows × 32 centres (16 `zmm` accumulators).
//!
//! Every function here requires AVX-512F, AVX2 and FMA at run time; `mod.rs`
//! only calls them on `Path::Avx512`, which detection produces only then.
//!
//! The AVX-512 intrinsics are stable since Rust 1.89, above the workspace's
//! declared `rust-version` (1.85): building this crate needs 1.89, and the
//! workspace `rust-version` should say so (left to the workspace owner; until
//! then clippy's MSRV check is silenced here, and only here).
#![allow(clippy::incompatible_msrv)]

use std::arch::x86_64::*;

use super::{AssignScratch, PANEL, PackedCenters, finish_row, row_block};

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

/// `MR × 32` tile of `‖c‖² − 2·x·c` over the whole of `d`, folded into the rows'
/// running lane-wise best.
///
/// # Safety
/// AVX-512F and FMA available; each `rows[i]` points to `d` readable values;
/// `panel` to `d · PANEL` values and `cn` to `PANEL`; `bval`/`bidx` to
/// `MR · LANES` writable values each.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn tile(
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
        let c0 = _mm512_loadu_ps(cn);
        let c1 = _mm512_loadu_ps(cn.add(16));
        let mut acc = [[c0, c1]; MR];
        for p in 0..d {
            let b0 = _mm512_loadu_ps(panel.add(p * PANEL));
            let b1 = _mm512_loadu_ps(panel.add(p * PANEL + 16));
            for i in 0..MR {
                let xv = _mm512_set1_ps(*rows[i].add(p));
                acc[i][0] = _mm512_fmadd_ps(xv, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(xv, b1, acc[i][1]);
            }
        }
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let idx0 = _mm512_add_epi32(iota, _mm512_set1_epi32(j0 as i32));
        let idx1 = _mm512_add_epi32(iota, _mm512_set1_epi32((j0 + 16) as i32));
        for (i, a) in acc.iter().enumerate() {
            // Lane l holds centres j0+l and j0+16+l: the higher one wins only if
            // strictly smaller, and the stored best (from lower panels) is
            // replaced only if strictly beaten, so the lowest index wins ties.
            let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a[1], a[0]);
            let v = _mm512_mask_blend_ps(m, a[0], a[1]);
            let id = _mm512_mask_blend_epi32(m, idx0, idx1);
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
) {
    let n = labels.len();
    let d = centers.d();
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
                    tile(
                        &rows_ptr,
                        d,
                        panel,
                        cn,
                        bval.as_mut_ptr().add(g * MR * LANES),
                        bidx.as_mut_ptr().add(g * MR * LANES),
                        (q * PANEL) as u32,
                    );
                }
            }
        }
        for i in 0..rows {
            let row = &x[(r0 + i) * d..(r0 + i + 1) * d];
            let lanes = i * LANES..(i + 1) * LANES;
            let j = finish_row(&bval[lanes.clone()], &bidx[lanes], row, centers);
            labels[r0 + i] = j;
            // SAFETY: AVX-512F is available (caller).
            dist[r0 + i] = unsafe { sum_sq(row, Some(centers.center(j as usize))) };
        }
        r0 += rows;
    }
}

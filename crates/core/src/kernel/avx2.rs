//! AVX2 + FMA path: tiles of 6 rows × 16 centres (12 `ymm` accumulators); a
//! 32-centre panel is done as two halves.
//!
//! Every function here requires AVX2 and FMA at run time; `mod.rs` only calls
//! them on a path this CPU runs that includes `Isa::Avx2` (asserted there).

use std::arch::x86_64::*;

use super::{AssignScratch, PANEL, PackedCenters, finish_row, row_block};

/// Rows per tile.
const MR: usize = 6;
/// Centres per tile (half a panel).
const NR: usize = 16;
/// Lanes of the per-row running best.
const LANES: usize = 8;

/// `Σ (a − b)²` (or `Σ a²` without `b`): 2 × 8 lanes, then a tree reduction.
///
/// # Safety
/// AVX2 and FMA must be available; `b`, if given, has `a`'s length.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_sq(a: &[f32], b: Option<&[f32]>) -> f32 {
    let d = a.len();
    let pa = a.as_ptr();
    let pb = b.map_or(std::ptr::null(), <[f32]>::as_ptr);
    let diff = |p: usize| -> __m256 {
        // SAFETY: `p + 8 <= d` at every call, within `a` and `b`.
        unsafe {
            let va = _mm256_loadu_ps(pa.add(p));
            if pb.is_null() {
                va
            } else {
                _mm256_sub_ps(va, _mm256_loadu_ps(pb.add(p)))
            }
        }
    };
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut p = 0;
    while p + 16 <= d {
        let t0 = diff(p);
        let t1 = diff(p + 8);
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
        p += 16;
    }
    if p + 8 <= d {
        let t0 = diff(p);
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        p += 8;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc0, acc1)) };
    let mut tail = 0.0f32;
    for q in p..d {
        let t = a[q] - b.map_or(0.0, |b| b[q]);
        tail += t * t;
    }
    ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
        + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
        + tail
}

/// # Safety
/// AVX2 and FMA must be available; `x.len() == out.len() * d`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn row_norms_sq(x: &[f32], d: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(d).zip(out) {
        // SAFETY: the caller guarantees AVX2 and FMA.
        *o = unsafe { sum_sq(row, None) };
    }
}

/// `MR × 16` tile of `‖c‖² − 2·x·c` over the whole of `d`, folded into the rows'
/// running lane-wise best.
///
/// # Safety
/// AVX2 and FMA available; each `rows[i]` points to `d` readable values;
/// `half` to the first of 16 centres of a panel (row stride `PANEL`, `d` rows),
/// `cn` to 16 norms; `bval`/`bidx` to `MR · LANES` writable values each.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile(
    rows: &[*const f32; MR],
    d: usize,
    half: *const f32,
    cn: *const f32,
    bval: *mut f32,
    bidx: *mut u32,
    j0: u32,
) {
    // SAFETY: the pointers and extents are as the caller guarantees; every load
    // and store below stays within them.
    unsafe {
        let c0 = _mm256_loadu_ps(cn);
        let c1 = _mm256_loadu_ps(cn.add(8));
        let mut acc = [[c0, c1]; MR];
        for p in 0..d {
            let b0 = _mm256_loadu_ps(half.add(p * PANEL));
            let b1 = _mm256_loadu_ps(half.add(p * PANEL + 8));
            for i in 0..MR {
                let xv = _mm256_broadcast_ss(&*rows[i].add(p));
                acc[i][0] = _mm256_fmadd_ps(xv, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(xv, b1, acc[i][1]);
            }
        }
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let idx0 = _mm256_castsi256_ps(_mm256_add_epi32(iota, _mm256_set1_epi32(j0 as i32)));
        let idx1 = _mm256_castsi256_ps(_mm256_add_epi32(iota, _mm256_set1_epi32((j0 + 8) as i32)));
        for (i, a) in acc.iter().enumerate() {
            // Strict comparisons: the lower index wins ties (see avx512.rs).
            let m = _mm256_cmp_ps::<_CMP_LT_OQ>(a[1], a[0]);
            let v = _mm256_blendv_ps(a[0], a[1], m);
            let id = _mm256_blendv_ps(idx0, idx1, m);
            let pv = bval.add(i * LANES);
            let pi = bidx.add(i * LANES).cast::<f32>();
            let bv = _mm256_loadu_ps(pv);
            let bi = _mm256_loadu_ps(pi);
            let m2 = _mm256_cmp_ps::<_CMP_LT_OQ>(v, bv);
            _mm256_storeu_ps(pv, _mm256_blendv_ps(bv, v, m2));
            _mm256_storeu_ps(pi, _mm256_blendv_ps(bi, id, m2));
        }
    }
}

/// # Safety
/// AVX2 and FMA must be available; `x.len() == labels.len() * d`,
/// `dist.len() == labels.len()`, `labels` not empty.
#[target_feature(enable = "avx2,fma")]
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
            let panel = centers.panel(q);
            let norms = centers.panel_norms(q);
            for h in 0..PANEL / NR {
                for g in 0..groups {
                    // Rows past the end repeat the last row; their lanes are ignored.
                    let rows_ptr: [*const f32; MR] = std::array::from_fn(|i| {
                        let r = (r0 + g * MR + i).min(n - 1);
                        x[r * d..].as_ptr()
                    });
                    // SAFETY: AVX2 and FMA are available (caller); each row pointer
                    // starts a full row of `x`; half `h` of the panel spans `d`
                    // rows of stride `PANEL` from offset `h·NR`, within the panel's
                    // `d · PANEL` values, and its norms are `norms[h·NR..][..NR]`;
                    // group `g`'s lane slots lie within `bval`/`bidx` (`mb` is a
                    // multiple of `MR` and `g·MR < rows ≤ mb`).
                    unsafe {
                        tile(
                            &rows_ptr,
                            d,
                            panel.as_ptr().add(h * NR),
                            norms.as_ptr().add(h * NR),
                            bval.as_mut_ptr().add(g * MR * LANES),
                            bidx.as_mut_ptr().add(g * MR * LANES),
                            (q * PANEL + h * NR) as u32,
                        );
                    }
                }
            }
        }
        for i in 0..rows {
            let row = &x[(r0 + i) * d..(r0 + i + 1) * d];
            let lanes = i * LANES..(i + 1) * LANES;
            let j = finish_row(&bval[lanes.clone()], &bidx[lanes], row, centers);
            labels[r0 + i] = j;
            // SAFETY: AVX2 and FMA are available (caller).
            dist[r0 + i] = unsafe { sum_sq(row, Some(centers.center(j as usize))) };
        }
        r0 += rows;
    }
}

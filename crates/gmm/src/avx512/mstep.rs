//! The statistics of the M-step: each block's sums about the common shift,
//! and once per chunk their move to each component's mean.

use std::arch::x86_64::*;

use super::L;
use super::layout::{Prepared, Scratch, padded_rows};
use super::maths::sum;
use crate::mixture::Stats;

/// Full/tied statistics of the block about the common shift, added to the
/// chunk's sums in `ws`: `N += Σ r`, `B += Σ r x̃`, `A += Σ r x̃ x̃ᵀ` (lower
/// triangle by tiles of 8 rows `p` × 16 lanes `q`; entries above the diagonal
/// inside a tile are summed too and ignored). Rows with `r = 0` add exactly
/// nothing and are skipped. [`finish_chunk`] moves the sums to each
/// component's mean.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `prep` is full/tied and
/// `ws.fits(prep, m, true)`, after [`super::e_step`]'s body filled `ws.xr`
/// and `ws.lp` for the block.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn matrix_stats(prep: &Prepared, m: usize, ws: &mut Scratch) {
    let (k, d, dp) = (prep.k, prep.d, prep.dp);
    let nb = d.div_ceil(L);
    let ms = padded_rows(m);
    let xp = ws.xr.as_ptr();
    for c in 0..k {
        let r = &ws.lp[c * ms..c * ms + m];
        // SAFETY: AVX-512F (this function's contract).
        ws.nk[c] += unsafe { sum(r) };
        let a_c = ws.a[c * dp * dp..(c + 1) * dp * dp].as_mut_ptr();
        let b_c = ws.b[c * dp..(c + 1) * dp].as_mut_ptr();
        for b in 0..nb {
            let last = b + 1 == nb;
            let mut v0 = 0;
            while v0 <= b {
                let two = v0 < b;
                let mut a0 = [_mm512_setzero_pd(); L];
                let mut a1 = [_mm512_setzero_pd(); L];
                let (mut s0, mut s1) = (_mm512_setzero_pd(), _mm512_setzero_pd());
                // SAFETY: for the pointer accesses, rows i < m of xr have dp
                // entries; lanes v0·L..(v0+2)·L ≤ dp when `two`; columns
                // b·L + rr < dp; a_c is dp × dp and b_c dp.
                unsafe {
                    for (i, &ri) in r.iter().enumerate() {
                        if ri == 0.0 {
                            continue;
                        }
                        let rb = _mm512_set1_pd(ri);
                        let row = xp.add(i * dp);
                        let w0 = _mm512_mul_pd(rb, _mm512_loadu_pd(row.add(v0 * L)));
                        let w1 = if two {
                            _mm512_mul_pd(rb, _mm512_loadu_pd(row.add(v0 * L + L)))
                        } else {
                            _mm512_setzero_pd()
                        };
                        if last {
                            s0 = _mm512_add_pd(s0, w0);
                            s1 = _mm512_add_pd(s1, w1);
                        }
                        for rr in 0..L {
                            let xb = _mm512_set1_pd(*row.add(b * L + rr));
                            a0[rr] = _mm512_fmadd_pd(xb, w0, a0[rr]);
                            if two {
                                a1[rr] = _mm512_fmadd_pd(xb, w1, a1[rr]);
                            }
                        }
                    }
                    for rr in 0..L {
                        let out = a_c.add((b * L + rr) * dp + v0 * L);
                        _mm512_storeu_pd(out, _mm512_add_pd(_mm512_loadu_pd(out), a0[rr]));
                        if two {
                            let out = out.add(L);
                            _mm512_storeu_pd(out, _mm512_add_pd(_mm512_loadu_pd(out), a1[rr]));
                        }
                    }
                    if last {
                        let out = b_c.add(v0 * L);
                        _mm512_storeu_pd(out, _mm512_add_pd(_mm512_loadu_pd(out), s0));
                        if two {
                            let out = out.add(L);
                            _mm512_storeu_pd(out, _mm512_add_pd(_mm512_loadu_pd(out), s1));
                        }
                    }
                }
                v0 += 2;
            }
        }
    }
}

/// Adds a chunk's full/tied sums (about the common shift, in `ws`) to `st`
/// about each component's mean `μ̃`: `S1 = B − N μ̃`,
/// `S2 = A − B μ̃ᵀ − μ̃ Bᵀ + N μ̃ μ̃ᵀ`. The shift is the mean of the means, so
/// `|μ̃|` is of the order of the spread of the means and the correction keeps
/// the digits that accumulating `Σ r x xᵀ` about the origin would lose.
/// Resets the sums. Diag/spherical: the same on the diagonal.
pub(crate) fn finish_chunk(prep: &Prepared, ws: &mut Scratch, st: &mut Stats) {
    let (k, d, dp) = (prep.k, prep.d, prep.dp);
    if !prep.matrix() {
        // Diagonal: the lanes added (in a fixed tree), then
        // `S2_j = A_j − 2 μ̃_j B_j + N μ̃_j²`.
        let lanes = |v: &[f64]| ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
        for c in 0..k {
            let n = lanes(&ws.nk[c * L..(c + 1) * L]);
            st.nk[c] += n;
            for j in 0..d {
                let o = (c * d + j) * L;
                let (b, a) = (lanes(&ws.b[o..o + L]), lanes(&ws.a[o..o + L]));
                let mu = prep.mu[c * dp + j];
                st.s1[c * d + j] += b - n * mu;
                st.s2[c * d + j] += a - 2.0 * mu * b + n * mu * mu;
            }
        }
        ws.nk.fill(0.0);
        ws.a.fill(0.0);
        ws.b.fill(0.0);
        return;
    }
    let t = d * (d + 1) / 2;
    for c in 0..k {
        let n = ws.nk[c];
        let mu = &prep.mu[c * dp..(c + 1) * dp];
        let b = &ws.b[c * dp..(c + 1) * dp];
        let a = &ws.a[c * dp * dp..(c + 1) * dp * dp];
        st.nk[c] += n;
        for p in 0..d {
            st.s1[c * d + p] += b[p] - n * mu[p];
            for q in 0..=p {
                st.s2[c * t + p * (p + 1) / 2 + q] +=
                    a[p * dp + q] - b[p] * mu[q] - mu[p] * b[q] + n * mu[p] * mu[q];
            }
        }
    }
    ws.nk.fill(0.0);
    ws.a.fill(0.0);
    ws.b.fill(0.0);
}

/// Diagonal statistics of the block about the common shift, added to the
/// chunk's per-lane sums in `ws`: per component `N += Σ r`, `B += Σ r x̃`,
/// `A += Σ r x̃²`, rows in lanes (row `i` to lane `i mod 8`, rows in order
/// within a lane). Responsibilities and columns are both rows-in-lanes, so
/// this is `Rᵀ [x̃, x̃²]` by register tiles of 4 components × 2 columns with
/// no horizontal work; [`finish_chunk`] adds the lanes and moves the sums to
/// each component's mean. Padding rows add 0 (`r = 0`, `x̃ = 0`).
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available. (The tiles assert the lengths.)
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn diag_stats(prep: &Prepared, m: usize, ws: &mut Scratch) {
    let (k, d) = (prep.k, prep.d);
    let ms = padded_rows(m);
    let mut c0 = 0;
    while c0 < k {
        let mut j0 = 0;
        while j0 < d {
            // SAFETY: AVX-512F (this function's contract); c0 + CT ≤ k and
            // j0 + JT ≤ d in every call below.
            unsafe {
                match (k - c0, d - j0) {
                    (1, 1) => diag_stats_tile::<1, 1>(prep, c0, j0, ms, ws),
                    (1, _) => diag_stats_tile::<1, 2>(prep, c0, j0, ms, ws),
                    (2, 1) => diag_stats_tile::<2, 1>(prep, c0, j0, ms, ws),
                    (2, _) => diag_stats_tile::<2, 2>(prep, c0, j0, ms, ws),
                    (3, 1) => diag_stats_tile::<3, 1>(prep, c0, j0, ms, ws),
                    (3, _) => diag_stats_tile::<3, 2>(prep, c0, j0, ms, ws),
                    (_, 1) => diag_stats_tile::<4, 1>(prep, c0, j0, ms, ws),
                    (_, _) => diag_stats_tile::<4, 2>(prep, c0, j0, ms, ws),
                }
            }
            j0 += 2;
        }
        c0 += 4;
    }
}

/// One tile of [`diag_stats`]: components `c0..c0 + CT`, columns
/// `j0..j0 + JT`, all ms rows; `N` with the first column tile.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; ms is a multiple of 8. (The
/// lengths are asserted.)
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn diag_stats_tile<const CT: usize, const JT: usize>(
    prep: &Prepared,
    c0: usize,
    j0: usize,
    ms: usize,
    ws: &mut Scratch,
) {
    let (k, d) = (prep.k, prep.d);
    assert!(c0 + CT <= k && j0 + JT <= d && ws.lp.len() >= k * ms && ws.xt.len() >= d * ms);
    assert!(ws.b.len() == k * d * L && ws.a.len() == k * d * L && ws.nk.len() == k * L);
    assert!(ws.xq.len() >= d * ms);
    let (rp, xp, qp) = (ws.lp.as_ptr(), ws.xt.as_ptr(), ws.xq.as_ptr());
    let mut sb = [[_mm512_setzero_pd(); JT]; CT];
    let mut sa = [[_mm512_setzero_pd(); JT]; CT];
    let mut sn = [_mm512_setzero_pd(); CT];
    let first = j0 == 0;
    for i0 in (0..ms).step_by(L) {
        let mut r = [_mm512_setzero_pd(); CT];
        for (u, v) in r.iter_mut().enumerate() {
            // SAFETY: row block i0 + L ≤ ms of component c0 + u < k.
            *v = unsafe { _mm512_loadu_pd(rp.add((c0 + u) * ms + i0)) };
        }
        let mut xv = [_mm512_setzero_pd(); JT];
        let mut xq = [_mm512_setzero_pd(); JT];
        for t in 0..JT {
            // SAFETY: column j0 + t < d of xt and xq has ms ≥ i0 + L
            // entries.
            unsafe {
                xv[t] = _mm512_loadu_pd(xp.add((j0 + t) * ms + i0));
                xq[t] = _mm512_loadu_pd(qp.add((j0 + t) * ms + i0));
            }
        }
        for u in 0..CT {
            if first {
                sn[u] = _mm512_add_pd(sn[u], r[u]);
            }
            for t in 0..JT {
                sb[u][t] = _mm512_fmadd_pd(r[u], xv[t], sb[u][t]);
                sa[u][t] = _mm512_fmadd_pd(r[u], xq[t], sa[u][t]);
            }
        }
    }
    let (bp, ap, np) = (ws.b.as_mut_ptr(), ws.a.as_mut_ptr(), ws.nk.as_mut_ptr());
    for u in 0..CT {
        let c = c0 + u;
        // SAFETY: `b` and `a` are k × d × L, `nk` k × L; c < k, j < d.
        unsafe {
            if first {
                let o = np.add(c * L);
                _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), sn[u]));
            }
            for t in 0..JT {
                let off = (c * d + j0 + t) * L;
                let o = bp.add(off);
                _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), sb[u][t]));
                let o = ap.add(off);
                _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), sa[u][t]));
            }
        }
    }
}

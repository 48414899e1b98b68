//! The statistics of the M-step: each block's sums about the common shift,
//! and once per chunk their move to each component's mean.

use super::L;
use super::layout::{Prepared, Scratch, padded_rows};
use super::maths::sum;
use super::vector::Simd;
use crate::mixture::Stats;

/// Full/tied statistics of the block about the common shift, added to the
/// chunk's sums in `ws`: `N += Σ r`, `B += Σ r x̃`, `A += Σ r x̃ x̃ᵀ` (lower
/// triangle by register tiles of `PR` rows `p` × `QV` vectors of 8 lanes
/// `q`, [`matrix_tile`]; entries above the diagonal inside a tile are summed
/// too and ignored). Rows with `r = 0` add exactly nothing and are skipped.
/// Every entry is the block's chain of FMAs over the rows in order, added to
/// the chunk's sum once per block, whatever the tile. [`finish_chunk`]
/// moves the sums to each component's mean.
///
/// # Safety
/// `prep` is full/tied and `ws.fits(prep, m, true)`, after
/// [`super::e_step`]'s body filled `ws.xr` and `ws.lp` for the block.
#[inline(always)]
pub(super) unsafe fn matrix_stats<S: Simd, const PR: usize, const QV: usize>(
    s: S,
    prep: &Prepared,
    m: usize,
    ws: &mut Scratch,
) {
    let (k, d, dp) = (prep.k, prep.d, prep.dp);
    let ms = padded_rows(m);
    for c in 0..k {
        let r = &ws.lp[c * ms..c * ms + m];
        ws.nk[c] += sum(s, r);
        let a_c = ws.a[c * dp * dp..(c + 1) * dp * dp].as_mut_ptr();
        let b_c = ws.b[c * dp..(c + 1) * dp].as_mut_ptr();
        for p0 in (0..d).step_by(PR) {
            // The vectors of q meeting the lower triangle of rows p0..p0 + PR;
            // the last tile of rows meets them all and sums B too.
            let q_end = (p0 + PR - 1) / L + 1;
            let last = p0 + PR >= d;
            let mut v0 = 0;
            while v0 < q_end {
                // SAFETY: rows i < m of xr have dp entries, p0 + PR ≤ dp (PR
                // divides L, which divides dp), (v0 + QV)·L ≤ dp or v0 + 1 ≤
                // q_end; a_c is dp × dp and b_c dp.
                unsafe {
                    let at = (a_c, b_c, p0, v0, last);
                    if v0 + QV <= q_end {
                        matrix_tile::<S, PR, QV>(s, ws.xr.as_ptr(), dp, r, at);
                    } else {
                        matrix_tile::<S, PR, 1>(s, ws.xr.as_ptr(), dp, r, at);
                    }
                }
                v0 += QV;
            }
        }
    }
}

/// One tile of [`matrix_stats`]: `A[p][q] += Σ_i w_iq x_ip` for the rows
/// `p0..p0 + PR` and the lanes of the vectors `v0..v0 + N` (`w = r x̃`), and
/// with `last` `B[q] += Σ_i w_iq`, over the rows `i` of `xr` with nonzero
/// responsibility `r_i`.
///
/// # Safety
/// `xr` points at `r.len()` rows of `dp`; `a_c` at dp × dp and `b_c` at dp
/// values; `p0 + PR ≤ dp` and `(v0 + N)·L ≤ dp`.
#[inline(always)]
unsafe fn matrix_tile<S: Simd, const PR: usize, const N: usize>(
    s: S,
    xr: *const f64,
    dp: usize,
    r: &[f64],
    (a_c, b_c, p0, v0, last): (*mut f64, *mut f64, usize, usize, bool),
) {
    let mut a = [[s.zero(); N]; PR];
    let mut sb = [s.zero(); N];
    // SAFETY: every access lies within the caller's buffers (above).
    unsafe {
        for (i, &ri) in r.iter().enumerate() {
            if ri == 0.0 {
                continue;
            }
            let rb = s.splat(ri);
            let row = xr.add(i * dp);
            let mut w = [s.zero(); N];
            for t in 0..N {
                w[t] = s.mul(rb, s.load(row.add((v0 + t) * L)));
                if last {
                    sb[t] = s.add(sb[t], w[t]);
                }
            }
            for rr in 0..PR {
                let xb = s.splat(*row.add(p0 + rr));
                for t in 0..N {
                    a[rr][t] = s.fmadd(xb, w[t], a[rr][t]);
                }
            }
        }
        for rr in 0..PR {
            for t in 0..N {
                let out = a_c.add((p0 + rr) * dp + (v0 + t) * L);
                s.store(out, s.add(s.load(out), a[rr][t]));
            }
        }
        if last {
            for t in 0..N {
                let out = b_c.add((v0 + t) * L);
                s.store(out, s.add(s.load(out), sb[t]));
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
/// this is `Rᵀ [x̃, x̃²]` by register tiles of up to `CT` components × `JT`
/// columns with no horizontal work (the tile does not change the bits);
/// [`finish_chunk`] adds the lanes and moves the sums to each component's
/// mean. Padding rows add 0 (`r = 0`, `x̃ = 0`).
#[inline(always)]
pub(super) fn diag_stats<S: Simd, const CT: usize, const JT: usize>(
    s: S,
    prep: &Prepared,
    m: usize,
    ws: &mut Scratch,
) {
    let (k, d) = (prep.k, prep.d);
    let ms = padded_rows(m);
    let mut c0 = 0;
    while c0 < k {
        let ct = (k - c0).min(CT);
        let mut j0 = 0;
        while j0 < d {
            let jt = (d - j0).min(JT);
            if j0 == 0 {
                diag_stats_tiles::<S, CT, JT, true>(s, prep, (c0, ct), (j0, jt), ms, ws);
            } else {
                diag_stats_tiles::<S, CT, JT, false>(s, prep, (c0, ct), (j0, jt), ms, ws);
            }
            j0 += jt;
        }
        c0 += ct;
    }
}

/// [`diag_stats_tile`] for `ct ≤ CT` components from `c0` and `jt ≤ JT`
/// columns from `j0`; `N` with the first column tile (`FIRST`, a separate
/// instance so that the other tiles keep their accumulators in registers).
#[inline(always)]
fn diag_stats_tiles<S: Simd, const CT: usize, const JT: usize, const FIRST: bool>(
    s: S,
    prep: &Prepared,
    (c0, ct): (usize, usize),
    (j0, jt): (usize, usize),
    ms: usize,
    ws: &mut Scratch,
) {
    match (ct, jt) {
        (1, 1) => diag_stats_tile::<S, 1, 1, FIRST>(s, prep, c0, j0, ms, ws),
        (1, _) => diag_stats_tile::<S, 1, JT, FIRST>(s, prep, c0, j0, ms, ws),
        (2, 1) => diag_stats_tile::<S, 2, 1, FIRST>(s, prep, c0, j0, ms, ws),
        (2, _) => diag_stats_tile::<S, 2, JT, FIRST>(s, prep, c0, j0, ms, ws),
        (3, 1) => diag_stats_tile::<S, 3, 1, FIRST>(s, prep, c0, j0, ms, ws),
        (3, _) => diag_stats_tile::<S, 3, JT, FIRST>(s, prep, c0, j0, ms, ws),
        (_, 1) => diag_stats_tile::<S, CT, 1, FIRST>(s, prep, c0, j0, ms, ws),
        (_, _) => diag_stats_tile::<S, CT, JT, FIRST>(s, prep, c0, j0, ms, ws),
    }
}

/// One tile of [`diag_stats`]: components `c0..c0 + CT`, columns
/// `j0..j0 + JT`, all ms rows; with `FIRST` (the tile of column 0) `N` too.
#[inline(always)]
fn diag_stats_tile<S: Simd, const CT: usize, const JT: usize, const FIRST: bool>(
    s: S,
    prep: &Prepared,
    c0: usize,
    j0: usize,
    ms: usize,
    ws: &mut Scratch,
) {
    let (k, d) = (prep.k, prep.d);
    assert!(c0 + CT <= k && j0 + JT <= d && ws.lp.len() >= k * ms && ws.xt.len() >= d * ms);
    assert!(ws.b.len() == k * d * L && ws.a.len() == k * d * L && ws.nk.len() == k * L);
    assert!(ws.xq.len() >= d * ms && ms.is_multiple_of(L));
    let (rp, xp, qp) = (ws.lp.as_ptr(), ws.xt.as_ptr(), ws.xq.as_ptr());
    let mut sb = [[s.zero(); JT]; CT];
    let mut sa = [[s.zero(); JT]; CT];
    let mut sn = [s.zero(); CT];
    let first = FIRST;
    debug_assert_eq!(FIRST, j0 == 0);
    for i0 in (0..ms).step_by(L) {
        let mut r = [s.zero(); CT];
        for (u, v) in r.iter_mut().enumerate() {
            // SAFETY: row block i0 + L ≤ ms of component c0 + u < k.
            *v = unsafe { s.load(rp.add((c0 + u) * ms + i0)) };
        }
        let mut xv = [s.zero(); JT];
        let mut xq = [s.zero(); JT];
        for t in 0..JT {
            // SAFETY: column j0 + t < d of xt and xq has ms ≥ i0 + L
            // entries.
            unsafe {
                xv[t] = s.load(xp.add((j0 + t) * ms + i0));
                xq[t] = s.load(qp.add((j0 + t) * ms + i0));
            }
        }
        for u in 0..CT {
            if first {
                sn[u] = s.add(sn[u], r[u]);
            }
            for t in 0..JT {
                sb[u][t] = s.fmadd(r[u], xv[t], sb[u][t]);
                sa[u][t] = s.fmadd(r[u], xq[t], sa[u][t]);
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
                s.store(o, s.add(s.load(o), sn[u]));
            }
            for t in 0..JT {
                let off = (c * d + j0 + t) * L;
                let o = bp.add(off);
                s.store(o, s.add(s.load(o), sb[u][t]));
                let o = ap.add(off);
                s.store(o, s.add(s.load(o), sa[u][t]));
            }
        }
    }
}

//! The E-step of a block: the rows transposed or padded and centred, every
//! component's log-density, then the log-sum-exp that turns them into
//! responsibilities.

use std::arch::x86_64::*;

use super::layout::{Prepared, Scratch, padded_rows};
use super::maths::{exp_nonpositive, ln_positive, transpose_sum};
use super::{L, PREFETCH_ROWS};

/// The body of [`super::e_step`].
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `x` holds `m` rows of `prep.d`;
/// `ws.fits(prep, m, false)`.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn e_step_impl(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    let (k, d, dp) = (prep.k, prep.d, prep.dp);
    let ms = padded_rows(m);
    if prep.matrix() {
        // Centred rows, row-major; padding zero.
        let nv = dp / L;
        for i in 0..m {
            for v in 0..nv {
                let live = (d - v * L).min(L);
                let mask: __mmask8 = if live == L { 0xff } else { (1u8 << live) - 1 };
                // SAFETY: lanes v·L..v·L + live of row i lie within `x` (m
                // rows of d); masked-off lanes are not read; row i of xr and
                // `shift` have dp ≥ v·L + L entries. Padding lanes: 0 − 0.
                unsafe {
                    let xs =
                        _mm512_maskz_loadu_ps(__mmask16::from(mask), x.as_ptr().add(i * d + v * L));
                    let xv = _mm512_cvtps_pd(_mm512_castps512_ps256(xs));
                    let sh = _mm512_loadu_pd(prep.shift.as_ptr().add(v * L));
                    let out = _mm512_maskz_sub_pd(mask, xv, sh);
                    _mm512_storeu_pd(ws.xr.as_mut_ptr().add(i * dp + v * L), out);
                }
            }
        }
        ws.xr[m * dp..ms * dp].fill(0.0);
    } else {
        // SAFETY: AVX-512F (this function's contract); `x` holds m rows of
        // d, `xt` and `xq` d columns of ms ≥ m.
        unsafe { transpose_centred(x, m, d, ms, &prep.shift, &mut ws.xt, &mut ws.xq) };
    }
    if prep.matrix() {
        for c in 0..k {
            let lp = &mut ws.lp[c * ms..(c + 1) * ms];
            // SAFETY: AVX-512F (this function's contract); lengths as set up.
            unsafe { log_prob_full(prep, c, &ws.xr, ms, lp) };
        }
    } else {
        let mut c0 = 0;
        while c0 < k {
            // SAFETY: AVX-512F (this function's contract); lengths as set up.
            unsafe {
                match k - c0 {
                    1 => log_prob_diag::<1>(prep, c0, &ws.xt, &ws.xq, ms, &mut ws.lp),
                    2 => log_prob_diag::<2>(prep, c0, &ws.xt, &ws.xq, ms, &mut ws.lp),
                    3 => log_prob_diag::<3>(prep, c0, &ws.xt, &ws.xq, ms, &mut ws.lp),
                    _ => log_prob_diag::<4>(prep, c0, &ws.xt, &ws.xq, ms, &mut ws.lp),
                }
            }
            c0 += 4;
        }
    }
    // SAFETY: as above.
    unsafe { normalise(&mut ws.lp, &mut ws.lse, k, m, ms) }
}

/// Prefetches the rows [`PREFETCH_ROWS`] past row `i0` of `x` (`d` columns;
/// rows past the block that the caller passed, such as the rest of its chunk,
/// are only prefetched), a cache line at a time.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) fn prefetch_ahead(x: &[f32], d: usize, i0: usize) {
    let (bytes, base) = (std::mem::size_of_val(x), x.as_ptr().cast::<i8>());
    let row_bytes = 4 * d;
    let from = (i0 + PREFETCH_ROWS) * row_bytes;
    let to = ((i0 + PREFETCH_ROWS + L) * row_bytes).min(bytes);
    for o in (from..to).step_by(64) {
        // SAFETY: o < bytes: within `x`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(o)) };
    }
}

/// Columns `j0..j0 + 8` of rows `i0..i0 + rows` of `x` (`d` columns,
/// row-major), transposed in registers: entry `t` holds column `j0 + t` of
/// the 8 rows, zero past `rows` and past column `d`.
///
/// # Safety
/// AVX-512F; `rows ≤ 8` rows from `i0` exist in `x`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn tile_columns(
    x: &[f32],
    d: usize,
    rows: usize,
    i0: usize,
    j0: usize,
) -> [__m256; L] {
    let cols = (d - j0).min(L);
    let mut r = [_mm256_setzero_ps(); L];
    if rows == L && cols == L {
        for (t, v) in r.iter_mut().enumerate() {
            // SAFETY: row i0 + t < m has columns j0..j0 + 8 ≤ d.
            *v = unsafe { _mm256_loadu_ps(x.as_ptr().add((i0 + t) * d + j0)) };
        }
    } else {
        // Edge tile: through a zero-padded copy.
        let mut tmp = [0.0f32; L * L];
        for t in 0..rows {
            let row = &x[(i0 + t) * d + j0..(i0 + t) * d + j0 + cols];
            tmp[t * L..t * L + cols].copy_from_slice(row);
        }
        for (t, v) in r.iter_mut().enumerate() {
            // SAFETY: tmp has L rows of L.
            *v = unsafe { _mm256_loadu_ps(tmp.as_ptr().add(t * L)) };
        }
    }
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// `xt[j · ms + i] = x[i · d + j] − shift[j]` for rows `i < m` and 0 for the
/// padding rows `m ≤ i < ms` (ms a multiple of [`L`]): 8 × 8 tiles of `f32`
/// transposed in registers, then widened to `f64` and centred; their squares
/// to `xq` (same layout).
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available. (The lengths are asserted.)
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn transpose_centred(
    x: &[f32],
    m: usize,
    d: usize,
    ms: usize,
    shift: &[f64],
    xt: &mut [f64],
    xq: &mut [f64],
) {
    // Once per block: the raw stores below rely on these.
    assert!(x.len() >= m * d && xt.len() >= d * ms && xq.len() >= d * ms);
    assert!(ms.is_multiple_of(L) && shift.len() >= d);
    let qo = xq.as_mut_ptr();
    let xo = xt.as_mut_ptr();
    for i0 in (0..ms).step_by(L) {
        prefetch_ahead(x, d, i0);
        let rows = m.saturating_sub(i0).min(L);
        let row_mask: __mmask8 = if rows == L { 0xff } else { (1u8 << rows) - 1 };
        for j0 in (0..d).step_by(L) {
            let cols = (d - j0).min(L);
            // SAFETY: AVX-512F (this function's contract); rows
            // i0..i0 + rows of `x` exist.
            let cols_v = unsafe { tile_columns(x, d, rows, i0, j0) };
            for (t, &col) in cols_v.iter().enumerate().take(cols) {
                let j = j0 + t;
                let v =
                    _mm512_maskz_sub_pd(row_mask, _mm512_cvtps_pd(col), _mm512_set1_pd(shift[j]));
                // SAFETY: column j < d of xt (and of xq) has ms ≥ i0 + L
                // entries.
                unsafe {
                    _mm512_storeu_pd(xo.add(j * ms + i0), v);
                    _mm512_storeu_pd(qo.add(j * ms + i0), _mm512_mul_pd(v, v));
                }
            }
        }
    }
}

/// `lp[i] = constant_c − ½ ‖x̃_i U − μ̃ U‖²` for the ms rows of `xr`.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `prep` is full/tied, `c < k`,
/// `xr` holds ms rows of `dp`, ms is a multiple of 8 and `lp` holds ms
/// values.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn log_prob_full(
    prep: &Prepared,
    c: usize,
    xr: &[f64],
    ms: usize,
    lp: &mut [f64],
) {
    let (d, dp) = (prep.d, prep.dp);
    let nv = dp / L;
    let u = prep.u(c);
    let bias = &prep.bias[c * dp..(c + 1) * dp];
    let up = u.as_ptr();
    let constant = _mm512_set1_pd(prep.constant[c]);
    let half = _mm512_set1_pd(-0.5);
    for i0 in (0..ms).step_by(L) {
        let xp = xr[i0 * dp..(i0 + L) * dp].as_ptr();
        let mut sq = [_mm512_setzero_pd(); L];
        let mut v0 = 0;
        while v0 < nv {
            // SAFETY: for all loads below, `u` has d rows of dp, `bias` dp,
            // rows i0..i0+L of `xr` exist (ms is a multiple of L); lanes
            // v0·L..(v0+2)·L ≤ dp.
            unsafe {
                if v0 + 1 < nv {
                    let b0 = _mm512_loadu_pd(bias.as_ptr().add(v0 * L));
                    let b1 = _mm512_loadu_pd(bias.as_ptr().add(v0 * L + L));
                    let z = _mm512_setzero_pd();
                    let mut a0 = [_mm512_sub_pd(z, b0); L];
                    let mut a1 = [_mm512_sub_pd(z, b1); L];
                    // U is upper triangular: rows p < (v0+1)·L meet both
                    // column vectors, rows up to (v0+2)·L only the second.
                    let p_both = ((v0 + 1) * L).min(d);
                    let p_end = ((v0 + 2) * L).min(d);
                    for p in 0..p_both {
                        let u0 = _mm512_loadu_pd(up.add(p * dp + v0 * L));
                        let u1 = _mm512_loadu_pd(up.add(p * dp + v0 * L + L));
                        for r in 0..L {
                            let xb = _mm512_set1_pd(*xp.add(r * dp + p));
                            a0[r] = _mm512_fmadd_pd(xb, u0, a0[r]);
                            a1[r] = _mm512_fmadd_pd(xb, u1, a1[r]);
                        }
                    }
                    for p in p_both..p_end {
                        let u1 = _mm512_loadu_pd(up.add(p * dp + v0 * L + L));
                        for r in 0..L {
                            let xb = _mm512_set1_pd(*xp.add(r * dp + p));
                            a1[r] = _mm512_fmadd_pd(xb, u1, a1[r]);
                        }
                    }
                    for r in 0..L {
                        sq[r] = _mm512_fmadd_pd(a0[r], a0[r], sq[r]);
                        sq[r] = _mm512_fmadd_pd(a1[r], a1[r], sq[r]);
                    }
                } else {
                    let b0 = _mm512_loadu_pd(bias.as_ptr().add(v0 * L));
                    let mut a0 = [_mm512_sub_pd(_mm512_setzero_pd(), b0); L];
                    let p_end = ((v0 + 1) * L).min(d);
                    for p in 0..p_end {
                        let u0 = _mm512_loadu_pd(up.add(p * dp + v0 * L));
                        for r in 0..L {
                            let xb = _mm512_set1_pd(*xp.add(r * dp + p));
                            a0[r] = _mm512_fmadd_pd(xb, u0, a0[r]);
                        }
                    }
                    for r in 0..L {
                        sq[r] = _mm512_fmadd_pd(a0[r], a0[r], sq[r]);
                    }
                }
            }
            v0 += 2;
        }
        let maha = transpose_sum(&sq);
        // SAFETY: i0 + L ≤ ms = lp.len().
        unsafe {
            _mm512_storeu_pd(
                lp.as_mut_ptr().add(i0),
                _mm512_fmadd_pd(half, maha, constant),
            );
        }
    }
}

/// `lp[c · ms + i] = constant_c − ½ Σ_j p_cj² (x̃_ij − μ̃_cj)²` for the `CT`
/// components `c0..c0 + CT` and the ms rows of the column-major `xt` (and
/// its squares `xq`; ms a multiple of 32), as the quadratic form
/// `K_c + Σ_j (−½ p_cj²) x̃_ij² + (p_cj² μ̃_cj) x̃_ij`: two FMAs per term into
/// the accumulator, no temporaries. The rows are centred on the mean of the
/// means, so the terms are of the order of the spread of the means and the
/// cancellation stays small (scikit-learn expands the same way about the
/// origin). Tiles of CT components × 32 rows: each loaded column serves CT
/// components and each broadcast coefficient 32 rows.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `prep` is diag/spherical. (The
/// lengths are asserted.)
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn log_prob_diag<const CT: usize>(
    prep: &Prepared,
    c0: usize,
    xt: &[f64],
    xq: &[f64],
    ms: usize,
    lp: &mut [f64],
) {
    const RT: usize = 4;
    let (d, dp) = (prep.d, prep.dp);
    assert!(
        c0 + CT <= prep.k
            && xt.len() >= d * ms
            && xq.len() >= d * ms
            && lp.len() >= prep.k * ms
            && ms.is_multiple_of(RT * L)
    );
    let (a, b) = (prep.prec.as_ptr(), prep.bias.as_ptr());
    let (xp, qp) = (xt.as_ptr(), xq.as_ptr());
    for i0 in (0..ms).step_by(RT * L) {
        let mut acc: [[__m512d; RT]; CT] =
            std::array::from_fn(|u| [_mm512_set1_pd(prep.constant[c0 + u]); RT]);
        for j in 0..d {
            let mut xv = [_mm512_setzero_pd(); RT];
            let mut xs = [_mm512_setzero_pd(); RT];
            for t in 0..RT {
                // SAFETY: column j < d of xt and xq has ms ≥ i0 + RT·L
                // entries.
                unsafe {
                    xv[t] = _mm512_loadu_pd(xp.add(j * ms + i0 + t * L));
                    xs[t] = _mm512_loadu_pd(qp.add(j * ms + i0 + t * L));
                }
            }
            for (u, acc) in acc.iter_mut().enumerate() {
                let c = c0 + u;
                // SAFETY: `prec` and `bias` are k × dp; c < k, j < d ≤ dp.
                let (aj, bj) = unsafe {
                    (
                        _mm512_set1_pd(*a.add(c * dp + j)),
                        _mm512_set1_pd(*b.add(c * dp + j)),
                    )
                };
                for t in 0..RT {
                    acc[t] = _mm512_fmadd_pd(xs[t], aj, acc[t]);
                    acc[t] = _mm512_fmadd_pd(xv[t], bj, acc[t]);
                }
            }
        }
        for (u, acc) in acc.iter().enumerate() {
            let c = c0 + u;
            for (t, &v) in acc.iter().enumerate() {
                // SAFETY: c·ms + i0 + RT·L ≤ k·ms ≤ lp.len().
                unsafe { _mm512_storeu_pd(lp.as_mut_ptr().add(c * ms + i0 + t * L), v) };
            }
        }
    }
}

/// Turns the k × ms log-densities into responsibilities (rows in lanes),
/// writes each row's log-sum-exp to `lse` and returns their sum over the m
/// live rows in row order. Padding rows get responsibility 0. A group of rows
/// whose maximum is not finite goes through the scalar code.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `lp` holds at least k × ms values
/// and `lse` ms, ms a multiple of 8.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn normalise(
    lp: &mut [f64],
    lse: &mut [f64],
    k: usize,
    m: usize,
    ms: usize,
) -> f64 {
    let mut total = 0.0;
    for i0 in (0..ms).step_by(L) {
        let live = m.saturating_sub(i0).min(L);
        if live == 0 {
            scalar_group(lp, lse, (k, ms), (i0, 0, L), &mut total, |v| v, |v| v);
            continue;
        }
        // Derived afresh for each group of rows: the scalar fallback below
        // writes through `lp`, which ends the life of earlier pointers.
        let base = lp.as_mut_ptr();
        // SAFETY: c < k, so c · ms + i0 + L ≤ k · ms ≤ lp.len(); every use of
        // `at(c)` below reads or writes the L values there.
        let at = |c: usize| unsafe { base.add(c * ms + i0) };
        // SAFETY: `at(0)` points at L values of `lp` (above).
        let mut mx = unsafe { _mm512_loadu_pd(at(0)) };
        for c in 1..k {
            // SAFETY: as above.
            mx = _mm512_max_pd(mx, unsafe { _mm512_loadu_pd(at(c)) });
        }
        // Finite lanes: mx − mx == 0 (false for ±∞ and NaN).
        let finite = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(_mm512_sub_pd(mx, mx), _mm512_setzero_pd());
        let live_mask: u8 = if live == L { 0xff } else { (1u8 << live) - 1 };
        if finite & live_mask != live_mask {
            scalar_group(lp, lse, (k, ms), (i0, live, L), &mut total, |v| v, |v| v);
            continue;
        }
        let mut s = _mm512_setzero_pd();
        for c in 0..k {
            // SAFETY: as above.
            unsafe {
                let e = exp_nonpositive(_mm512_sub_pd(_mm512_loadu_pd(at(c)), mx));
                _mm512_storeu_pd(at(c), e);
                s = _mm512_add_pd(s, e);
            }
        }
        let inv = _mm512_div_pd(_mm512_set1_pd(1.0), s);
        // Padding rows: responsibility 0.
        let inv = _mm512_maskz_mov_pd(live_mask, inv);
        for c in 0..k {
            // SAFETY: as above.
            unsafe { _mm512_storeu_pd(at(c), _mm512_mul_pd(_mm512_loadu_pd(at(c)), inv)) };
        }
        // s ≥ 1 (the maximum contributes exp(0)); padding rows' lse: 0.
        let v = _mm512_maskz_add_pd(live_mask, mx, ln_positive(s));
        // SAFETY: i0 + L ≤ ms ≤ lse.len().
        unsafe { _mm512_storeu_pd(lse.as_mut_ptr().add(i0), v) };
        for &v in &lse[i0..i0 + live] {
            total += v;
        }
    }
    total
}

/// The scalar path of the vector normalisations (this `f64` one and
/// [`super::single`]'s `f32` one) for the group of `width` rows from `i0` in
/// `lp` (k components of `stride`): the first `live` rows are normalised in
/// `f64` by [`crate::simd::normalise_rows`] (their log-sum-exp to `lse` and
/// added to `total`, in row order), the rest get responsibility 0. For a
/// group past the live rows (`live` 0) and one whose maximum is not finite.
pub(super) fn scalar_group<T: Copy + Default>(
    lp: &mut [T],
    lse: &mut [f64],
    (k, stride): (usize, usize),
    (i0, live, width): (usize, usize, usize),
    total: &mut f64,
    widen: impl Fn(T) -> f64,
    narrow: impl Fn(f64) -> T,
) {
    let mut row = vec![0.0f64; k];
    for l in 0..live {
        for (c, v) in row.iter_mut().enumerate() {
            *v = widen(lp[c * stride + i0 + l]);
        }
        let s = crate::simd::normalise_rows(&mut row, k, None);
        lse[i0 + l] = s;
        *total += s;
        for (c, v) in row.iter().enumerate() {
            lp[c * stride + i0 + l] = narrow(*v);
        }
    }
    for c in 0..k {
        lp[c * stride + i0 + live..c * stride + i0 + width].fill(T::default());
    }
}

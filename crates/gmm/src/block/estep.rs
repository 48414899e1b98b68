//! The E-step of a block: the rows transposed or padded and centred, every
//! component's log-density, then the log-sum-exp that turns them into
//! responsibilities.

use std::arch::x86_64::*;

use super::layout::{Prepared, Scratch, padded_rows};
use super::maths::{exp_nonpositive, ln_positive};
use super::vector::Simd;
use super::{L, PREFETCH_ROWS};

/// The body of [`super::e_step`] on the tier of `s`.
///
/// # Safety
/// `x` holds `m` rows of `prep.d`; `ws.fits(prep, m, false)`.
#[inline(always)]
pub(super) unsafe fn e_step_impl<S: Simd>(
    s: S,
    prep: &Prepared,
    x: &[f32],
    m: usize,
    ws: &mut Scratch,
) -> f64 {
    let (k, d, dp) = (prep.k, prep.d, prep.dp);
    let ms = padded_rows(m);
    if prep.matrix() {
        // Centred rows, row-major; padding zero.
        let nv = dp / L;
        for i in 0..m {
            for v in 0..nv {
                let live = (d - v * L).min(L);
                // SAFETY: lanes v·L..v·L + live of row i lie within `x` (m
                // rows of d); the others are not read; row i of xr and
                // `shift` have dp ≥ v·L + L entries. Padding lanes: 0.
                unsafe {
                    let xv = s.load_f32(x.as_ptr().add(i * d + v * L), live);
                    let sh = s.load(prep.shift.as_ptr().add(v * L));
                    let out = s.keep_first(s.sub(xv, sh), live);
                    s.store(ws.xr.as_mut_ptr().add(i * dp + v * L), out);
                }
            }
        }
        ws.xr[m * dp..ms * dp].fill(0.0);
    } else {
        transpose_centred(s, x, m, d, ms, &prep.shift, &mut ws.xt, &mut ws.xq);
    }
    if prep.matrix() {
        for c in 0..k {
            let lp = &mut ws.lp[c * ms..(c + 1) * ms];
            // Register tiles: rows × vectors of columns of `U`.
            if S::WIDE {
                log_prob_full::<S, 8, 2>(s, prep, c, &ws.xr, ms, lp);
            } else {
                log_prob_full::<S, 4, 1>(s, prep, c, &ws.xr, ms, lp);
            }
        }
    } else {
        // Register tiles: 4 components × RT vectors of 8 rows.
        let mut c0 = 0;
        while c0 < k {
            if S::WIDE {
                log_prob_diag_run::<S, 4>(s, prep, c0, ws, ms);
            } else {
                log_prob_diag_run::<S, 1>(s, prep, c0, ws, ms);
            }
            c0 += 4;
        }
    }
    // SAFETY: `lp` holds k × ms values and `lse` ms (this function's
    // contract).
    unsafe { normalise(s, &mut ws.lp, &mut ws.lse, k, m, ms) }
}

/// [`log_prob_diag`] for the (up to) 4 components from `c0`.
#[inline(always)]
fn log_prob_diag_run<S: Simd, const RT: usize>(
    s: S,
    prep: &Prepared,
    c0: usize,
    ws: &mut Scratch,
    ms: usize,
) {
    let (xt, xq, lp) = (&ws.xt, &ws.xq, &mut ws.lp);
    match prep.k - c0 {
        1 => log_prob_diag::<S, 1, RT>(s, prep, c0, xt, xq, ms, lp),
        2 => log_prob_diag::<S, 2, RT>(s, prep, c0, xt, xq, ms, lp),
        3 => log_prob_diag::<S, 3, RT>(s, prep, c0, xt, xq, ms, lp),
        _ => log_prob_diag::<S, 4, RT>(s, prep, c0, xt, xq, ms, lp),
    }
}

/// Prefetches the rows [`PREFETCH_ROWS`] past row `i0` of `x` (`d` columns;
/// rows past the block that the caller passed, such as the rest of its chunk,
/// are only prefetched), a cache line at a time.
#[inline(always)]
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
/// `rows ≤ 8` rows from `i0` exist in `x`.
#[inline]
#[target_feature(enable = "avx2,fma")]
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
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn transpose_centred<S: Simd>(
    s: S,
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
        for j0 in (0..d).step_by(L) {
            let cols = (d - j0).min(L);
            // SAFETY: the token `s` proves AVX2 and FMA (`Simd`'s
            // contract); rows i0..i0 + rows of `x` exist (asserted).
            let cols_v = unsafe { tile_columns(x, d, rows, i0, j0) };
            for (t, &col) in cols_v.iter().enumerate().take(cols) {
                let j = j0 + t;
                let v = s.keep_first(s.sub(s.widen(col), s.splat(shift[j])), rows);
                // SAFETY: column j < d of xt (and of xq) has ms ≥ i0 + L
                // entries.
                unsafe {
                    s.store(xo.add(j * ms + i0), v);
                    s.store(qo.add(j * ms + i0), s.mul(v, v));
                }
            }
        }
    }
}

/// `lp[i] = constant_c − ½ ‖x̃_i U − μ̃ U‖²` for the ms rows of `xr`, by
/// register tiles of `R` rows × `NV` vectors of columns (`R` divides 8,
/// `NV` is 1 or 2). Each `y_ij` is the same chain of FMAs over `p` whatever
/// the tile, each row's squares are added column vector by column vector in
/// order, and [`Simd::transpose_sum`] adds the lanes: the tiling does not
/// change the bits.
///
/// `prep` is full/tied, `c < k`, `xr` holds ms rows of `dp`, ms is a
/// multiple of 8 and `lp` holds ms values (asserted).
#[inline(always)]
pub(super) fn log_prob_full<S: Simd, const R: usize, const NV: usize>(
    s: S,
    prep: &Prepared,
    c: usize,
    xr: &[f64],
    ms: usize,
    lp: &mut [f64],
) {
    let (d, dp) = (prep.d, prep.dp);
    let nv = dp / L;
    let u = prep.u(c);
    assert!(xr.len() >= ms * dp && lp.len() >= ms && ms.is_multiple_of(L) && L.is_multiple_of(R));
    let bias = &prep.bias[c * dp..(c + 1) * dp];
    let up = u.as_ptr();
    let constant = s.splat(prep.constant[c]);
    let half = s.splat(-0.5);
    for i0 in (0..ms).step_by(L) {
        let mut sq = [s.zero(); L];
        for r0 in (0..L).step_by(R) {
            let xp = xr[(i0 + r0) * dp..(i0 + r0 + R) * dp].as_ptr();
            let sq: &mut [S::V; R] = (&mut sq[r0..r0 + R]).try_into().expect("R divides L");
            let mut v0 = 0;
            while v0 < nv {
                // SAFETY: `u` has d rows of dp, `bias` dp, `xp` R rows of
                // dp; v0 + NV ≤ nv = dp / L, or v0 + 1 ≤ nv.
                unsafe {
                    if v0 + NV <= nv {
                        full_tile::<S, R, NV>(s, (d, dp), up, bias.as_ptr(), xp, v0, sq);
                    } else {
                        full_tile::<S, R, 1>(s, (d, dp), up, bias.as_ptr(), xp, v0, sq);
                    }
                }
                v0 += NV;
            }
        }
        let maha = s.transpose_sum(&sq);
        // SAFETY: i0 + L ≤ ms = lp.len().
        unsafe { s.store(lp.as_mut_ptr().add(i0), s.fmadd(half, maha, constant)) };
    }
}

/// One tile of [`log_prob_full`]: for `R` rows at `xp` (rows of `dp`) and
/// the column vectors `v0..v0 + N`, `y = x̃ U − μ̃ U` (a chain of FMAs over
/// `p` from `−μ̃ U`), whose squares are added to each row's `sq`, vector
/// after vector.
///
/// # Safety
/// `up` points at d rows of dp, `bias` at dp values, `xp` at R rows of dp;
/// `(v0 + N)·L ≤ dp`.
#[inline(always)]
unsafe fn full_tile<S: Simd, const R: usize, const N: usize>(
    s: S,
    (d, dp): (usize, usize),
    up: *const f64,
    bias: *const f64,
    xp: *const f64,
    v0: usize,
    sq: &mut [S::V; R],
) {
    // SAFETY: every load below lies within the caller's buffers (lanes
    // (v0 + t)·L.. + L ≤ dp of a row of `U` or of `bias`; p < d ≤ dp).
    unsafe {
        let mut a = [[s.zero(); N]; R];
        for t in 0..N {
            let b = s.sub(s.zero(), s.load(bias.add((v0 + t) * L)));
            for row in a.iter_mut() {
                row[t] = b;
            }
        }
        // U is upper triangular: column vector v0 + t meets the rows
        // p < (v0 + t + 1)·L; the first vector's rows meet them all.
        for p in 0..((v0 + 1) * L).min(d) {
            let mut uv = [s.zero(); N];
            for t in 0..N {
                uv[t] = s.load(up.add(p * dp + (v0 + t) * L));
            }
            for r in 0..R {
                let xb = s.splat(*xp.add(r * dp + p));
                for t in 0..N {
                    a[r][t] = s.fmadd(xb, uv[t], a[r][t]);
                }
            }
        }
        for t in 1..N {
            for p in ((v0 + t) * L).min(d)..((v0 + t + 1) * L).min(d) {
                let uv = s.load(up.add(p * dp + (v0 + t) * L));
                for r in 0..R {
                    let xb = s.splat(*xp.add(r * dp + p));
                    a[r][t] = s.fmadd(xb, uv, a[r][t]);
                }
            }
        }
        for r in 0..R {
            for t in 0..N {
                sq[r] = s.fmadd(a[r][t], a[r][t], sq[r]);
            }
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
/// origin). Tiles of CT components × RT vectors of 8 rows: each loaded
/// column serves CT components and each broadcast coefficient 8·RT rows.
#[inline(always)]
pub(super) fn log_prob_diag<S: Simd, const CT: usize, const RT: usize>(
    s: S,
    prep: &Prepared,
    c0: usize,
    xt: &[f64],
    xq: &[f64],
    ms: usize,
    lp: &mut [f64],
) {
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
        let mut acc = [[s.zero(); RT]; CT];
        for (u, acc) in acc.iter_mut().enumerate() {
            *acc = [s.splat(prep.constant[c0 + u]); RT];
        }
        for j in 0..d {
            let mut xv = [s.zero(); RT];
            let mut xs = [s.zero(); RT];
            for t in 0..RT {
                // SAFETY: column j < d of xt and xq has ms ≥ i0 + RT·L
                // entries.
                unsafe {
                    xv[t] = s.load(xp.add(j * ms + i0 + t * L));
                    xs[t] = s.load(qp.add(j * ms + i0 + t * L));
                }
            }
            for (u, acc) in acc.iter_mut().enumerate() {
                let c = c0 + u;
                // SAFETY: `prec` and `bias` are k × dp; c < k, j < d ≤ dp.
                let (aj, bj) =
                    unsafe { (s.splat(*a.add(c * dp + j)), s.splat(*b.add(c * dp + j))) };
                for t in 0..RT {
                    acc[t] = s.fmadd(xs[t], aj, acc[t]);
                    acc[t] = s.fmadd(xv[t], bj, acc[t]);
                }
            }
        }
        for (u, acc) in acc.iter().enumerate() {
            let c = c0 + u;
            for (t, &v) in acc.iter().enumerate() {
                // SAFETY: c·ms + i0 + RT·L ≤ k·ms ≤ lp.len().
                unsafe { s.store(lp.as_mut_ptr().add(c * ms + i0 + t * L), v) };
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
/// `lp` holds at least k × ms values and `lse` ms, ms a multiple of 8.
#[inline(always)]
pub(super) unsafe fn normalise<S: Simd>(
    s: S,
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
        let mut mx = unsafe { s.load(at(0)) };
        for c in 1..k {
            // SAFETY: as above.
            mx = s.max(mx, unsafe { s.load(at(c)) });
        }
        let live_mask: u8 = ((1u16 << live) - 1) as u8;
        if s.finite_lanes(mx) & live_mask != live_mask {
            scalar_group(lp, lse, (k, ms), (i0, live, L), &mut total, |v| v, |v| v);
            continue;
        }
        let mut sum = s.zero();
        for c in 0..k {
            // SAFETY: as above.
            unsafe {
                let e = exp_nonpositive(s, s.sub(s.load(at(c)), mx));
                s.store(at(c), e);
                sum = s.add(sum, e);
            }
        }
        // Padding rows: responsibility 0.
        let inv = s.keep_first(s.div(s.splat(1.0), sum), live);
        for c in 0..k {
            // SAFETY: as above.
            unsafe { s.store(at(c), s.mul(s.load(at(c)), inv)) };
        }
        // sum ≥ 1 (the maximum contributes exp(0)); padding rows' lse: 0.
        let v = s.keep_first(s.add(mx, ln_positive(s, sum)), live);
        // SAFETY: i0 + L ≤ ms ≤ lse.len().
        unsafe { s.store(lse.as_mut_ptr().add(i0), v) };
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

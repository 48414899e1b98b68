//! The diag/spherical EM block kernel in single precision
//! ([`Precision::F32`](crate::Precision::F32)): 16 rows per vector, so
//! every product costs half of what [`super`]'s `f64` kernel pays.
//!
//! * The block is transposed to column-major `f32`, centred on the shift
//!   rounded to `f32` (so `fl(x − shift)` is the exact difference rounded
//!   once), with its squares.
//! * Log-densities `K_c − ½ Σ_j t_j²` with `t_j = x̃_j p_cj − μ̃_cj p_cj`: one
//!   FMA makes `t` (the product `x̃ p` is not rounded before the
//!   subtraction), one more adds `t²`. Unlike the expanded quadratic form the
//!   `f64` kernel uses, nothing here cancels quadratically: the error of a
//!   term is about `u (t² + |t| |μ̃ p|)`, `u = 2⁻²⁴`.
//! * The log-sum-exp in `f32`, 16 rows a vector: a Cody–Waite `exp` with
//!   Cephes' degree-5 polynomial and `vscalefps` (about 1 ulp; values below
//!   `e^-87` flushed to 0, against `e^-708` in `f64`), each row's sum's `ln`
//!   in `f64` ([`super`]'s), its log-likelihood `max + ln Σ` in `f64`.
//! * Statistics `Rᵀ [1, x̃, x̃²]` about the shift, rows in lanes, summed in
//!   `f32` over [`FLUSH_BLOCKS`] blocks (at most 256 rows per lane) and
//!   then added to [`super`]'s `f64` per-lane sums,
//!   which [`super::finish_chunk`] moves to each component's mean as for the
//!   `f64` kernel. The second moments about the shift are about
//!   `N (σ² + μ̃²)`, so moving them to the mean multiplies their relative
//!   error by about `(μ̃/σ)²`: [`Single::new`] declines mixtures whose means
//!   lie more than [`F32_SPREAD_LIMIT`] standard deviations from the shift,
//!   and the pass runs in `f64` for them.
//!
//! Sums run in a fixed order (rows `i ≡ l mod 16` in lane `l` inside a block,
//! lanes `l` and `l + 8` added into `f64` lane `l`, lanes in
//! [`super::finish_chunk`]'s tree), so results are deterministic for a chunk
//! length and independent of the thread count.

use std::arch::x86_64::*;

use super::estep::scalar_group;
use super::vector::Avx512;
use super::{L, Prepared, Scratch, finish_chunk, padded_rows, prefetch_ahead};
use crate::mixture::{Mixture, Stats};
use crate::params::{CovarianceType, F32_SPREAD_LIMIT};

/// `f32` lanes per vector.
pub(super) const W: usize = 16;

/// Rows per block: 32 rows per lane in each register accumulator of the
/// statistics before it is stored (with 128, the `f64` kernel's block, the
/// stores took a third of the statistics' time). The block's buffers, about
/// 4 · (k + 2d) · 528 bytes, stay in L2.
pub(crate) const BLOCK_ROWS: usize = 512;

/// Blocks whose statistics are summed in `f32` before they go to the
/// chunk's `f64` sums.
pub(super) const FLUSH_BLOCKS: usize = 8;

/// Whether this kernel runs on the process's path ([`crate::simd::isa`]):
/// AVX-512 only (it has no AVX2 tier).
pub(crate) fn available() -> bool {
    super::tier() == Some(crate::simd::Isa::Avx512)
}

/// A diag/spherical mixture laid out for the `f32` kernel.
#[derive(Debug)]
pub(crate) struct Single {
    /// The `f64` layout with the shift rounded to `f32`: the per-lane sums
    /// and [`finish_chunk`] are shared with the `f64` kernel.
    base: Prepared,
    /// The shift, length d.
    shift: Vec<f32>,
    /// k × d: `p_cj = 1/σ_cj`.
    p: Vec<f32>,
    /// k × d: `μ̃_cj p_cj` (from the `f32` `p`).
    mp: Vec<f32>,
    /// `log w_c − d/2 log 2π + log det`, rounded to `f32`.
    constant: Vec<f32>,
}

impl Single {
    /// The `f32` layout of a diag/spherical `mix`, or `None` when its
    /// covariance type is full/tied or a mean lies more than
    /// [`F32_SPREAD_LIMIT`] standard deviations from the mean of the means.
    pub(crate) fn new(mix: &Mixture) -> Option<Self> {
        if mix.cov_type.is_matrix() {
            return None;
        }
        let base = Prepared::with_f32_shift(mix);
        let (k, d, dp) = (base.k, base.d, base.dp);
        let mut p = vec![0.0f32; k * d];
        let mut mp = vec![0.0f32; k * d];
        for c in 0..k {
            for j in 0..d {
                let s = if mix.cov_type == CovarianceType::Diag {
                    mix.precisions_cholesky[c * d + j]
                } else {
                    mix.precisions_cholesky[c]
                };
                let s32 = s as f32;
                let spread = base.mu[c * dp + j] * f64::from(s32);
                if spread.is_nan() || spread.abs() > F32_SPREAD_LIMIT || !s32.is_finite() {
                    return None;
                }
                p[c * d + j] = s32;
                mp[c * d + j] = spread as f32;
            }
        }
        let shift = base.shift[..d].iter().map(|&v| v as f32).collect();
        Some(Single {
            shift,
            p,
            mp,
            constant: mix.log_constants().iter().map(|&v| v as f32).collect(),
            base,
        })
    }
}

/// Scratch space of the `f32` kernel, allocated once per chunk.
#[derive(Debug)]
pub(crate) struct SingleScratch {
    /// The chunk's per-lane `f64` sums: the `f64` kernel's.
    base: Scratch,
    /// k × rs log-densities, then responsibilities.
    lp: Vec<f32>,
    /// Per-row log-sum-exp.
    lse: Vec<f64>,
    /// d × rs column-major centred rows, and their squares.
    xt: Vec<f32>,
    xq: Vec<f32>,
    /// The `f32` sums of the last blocks, 16 lanes: k (`N`), k × d (`B`,
    /// `A`), and how many blocks they hold.
    nk: Vec<f32>,
    b: Vec<f32>,
    a: Vec<f32>,
    pending: usize,
}

impl SingleScratch {
    pub(crate) fn new(s: &Single) -> Self {
        let rs = stride(padded_rows(BLOCK_ROWS));
        let (k, d) = (s.base.k, s.base.d);
        SingleScratch {
            base: Scratch::diag_sums(&s.base),
            lp: vec![0.0; k * rs],
            lse: vec![0.0; rs],
            xt: vec![0.0; d * rs],
            xq: vec![0.0; d * rs],
            nk: vec![0.0; k * W],
            b: vec![0.0; k * d * W],
            a: vec![0.0; k * d * W],
            pending: 0,
        }
    }

    /// Adds the `f32` sums to the `f64` ones (lanes `l` and `l + 8` into
    /// lane `l`) and clears them.
    fn flush(&mut self) {
        let pairs = [
            (&mut self.nk, &mut self.base.nk),
            (&mut self.b, &mut self.base.b),
            (&mut self.a, &mut self.base.a),
        ];
        for (single, double) in pairs {
            for (src, dst) in single.chunks_exact(W).zip(double.chunks_exact_mut(L)) {
                for l in 0..L {
                    dst[l] = dst[l] + f64::from(src[l]) + f64::from(src[l + L]);
                }
            }
            single.fill(0.0);
        }
        self.pending = 0;
    }
}

/// The row stride of the component-major (`lp`) and column-major (`xt`,
/// `xq`) buffers for a block padded to `ms` rows: 16 more, so that the k
/// components' (or d columns') runs do not start at multiples of 4 KiB,
/// which alias in the L1 cache (with 512 rows they all did, and the
/// log-sum-exp ran at half speed).
pub(super) fn stride(ms: usize) -> usize {
    ms + W
}

/// E-step and statistics of the first `m ≤ BLOCK_ROWS` rows of `x`
/// (row-major, `d` columns; rows after them are only prefetched), the
/// statistics added to the chunk's sums in `ws`. Returns the block's
/// log-likelihood, summed in row order.
pub(crate) fn em_block(s: &Single, x: &[f32], m: usize, ws: &mut SingleScratch) -> f64 {
    let (k, d) = (s.base.k, s.base.d);
    let ms = padded_rows(m);
    let rs = stride(ms);
    assert!(available() && m <= BLOCK_ROWS && x.len() >= m * d);
    assert!(ws.xt.len() >= d * rs && ws.xq.len() >= d * rs);
    assert!(ws.lp.len() >= k * rs && ws.lse.len() >= rs);
    assert!(ws.nk.len() == k * W && ws.b.len() == k * d * W && ws.a.len() == k * d * W);
    // SAFETY: AVX-512F is available and every buffer has the length the
    // kernels index (checked above; ms is a multiple of 32).
    let ll = unsafe {
        transpose_centred(x, m, d, ms, rs, &s.shift, &mut ws.xt, &mut ws.xq);
        let mut c0 = 0;
        while c0 < k {
            c0 += match k - c0 {
                1 => log_prob::<1>(s, c0, &ws.xt, ms, rs, &mut ws.lp),
                2 | 3 => log_prob::<2>(s, c0, &ws.xt, ms, rs, &mut ws.lp),
                4..=7 => log_prob::<4>(s, c0, &ws.xt, ms, rs, &mut ws.lp),
                _ => log_prob::<8>(s, c0, &ws.xt, ms, rs, &mut ws.lp),
            };
        }
        // Rows ms..rs are padding too: normalise zeroes their
        // responsibilities without reading them.
        let ll = normalise(&mut ws.lp, &mut ws.lse, k, m, rs);
        let mut c0 = 0;
        while c0 < k {
            let ct = (k - c0).min(4);
            let mut j0 = 0;
            while j0 < d {
                j0 += match (ct, d - j0) {
                    (1, 1) => stats::<1, 1>(s, c0, j0, ms, rs, ws),
                    (1, _) => stats::<1, 2>(s, c0, j0, ms, rs, ws),
                    (2, 1) => stats::<2, 1>(s, c0, j0, ms, rs, ws),
                    (2, _) => stats::<2, 2>(s, c0, j0, ms, rs, ws),
                    (3, 1) => stats::<3, 1>(s, c0, j0, ms, rs, ws),
                    (3, _) => stats::<3, 2>(s, c0, j0, ms, rs, ws),
                    (_, 1) => stats::<4, 1>(s, c0, j0, ms, rs, ws),
                    (_, _) => stats::<4, 2>(s, c0, j0, ms, rs, ws),
                };
            }
            c0 += ct;
        }
        ll
    };
    ws.pending += 1;
    if ws.pending == FLUSH_BLOCKS {
        ws.flush();
    }
    ll
}

/// Adds the chunk's sums in `ws` to `st` about the mixture's means and
/// resets them (see [`super::finish_chunk`]).
pub(crate) fn finish(s: &Single, ws: &mut SingleScratch, st: &mut Stats) {
    ws.flush();
    finish_chunk(&s.base, &mut ws.base, st);
}

/// `xt[j · xs + i] = fl(x[i · d + j] − shift[j])` for rows `i < m`, 0 for
/// the padding rows `m ≤ i < ms`, and the squares into `xq`.
///
/// # Safety
/// AVX-512F; `x` holds m rows of d, `xt` and `xq` d × xs, ms a multiple of 8,
/// m ≤ ms ≤ xs, `shift` d values.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn transpose_centred(
    x: &[f32],
    m: usize,
    d: usize,
    ms: usize,
    xs: usize,
    shift: &[f32],
    xt: &mut [f32],
    xq: &mut [f32],
) {
    let (xo, qo) = (xt.as_mut_ptr(), xq.as_mut_ptr());
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for i0 in (0..ms).step_by(L) {
        prefetch_ahead(x, d, i0);
        let rows = m.saturating_sub(i0).min(L);
        let live = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(rows as i32), lane));
        for j0 in (0..d).step_by(L) {
            // SAFETY: rows i0..i0 + rows of `x` exist.
            let cols = unsafe { super::tile_columns(x, d, rows, i0, j0) };
            for (t, &col) in cols.iter().enumerate().take((d - j0).min(L)) {
                let j = j0 + t;
                let v = _mm256_and_ps(_mm256_sub_ps(col, _mm256_set1_ps(shift[j])), live);
                // SAFETY: column j < d of xt and xq has xs ≥ i0 + 8 entries.
                unsafe {
                    _mm256_storeu_ps(xo.add(j * xs + i0), v);
                    _mm256_storeu_ps(qo.add(j * xs + i0), _mm256_mul_ps(v, v));
                }
            }
        }
    }
}

/// `lp[c · rs + i] = K_c − ½ Σ_j (x̃_ij p_cj − μ̃_cj p_cj)²` for the `CT`
/// components from `c0` and all ms rows (a multiple of 32), by tiles of CT
/// components × 32 rows. Returns CT.
///
/// # Safety
/// AVX-512F; c0 + CT ≤ k, `xt` d × rs, `lp` k × rs, ms ≤ rs.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn log_prob<const CT: usize>(
    s: &Single,
    c0: usize,
    xt: &[f32],
    ms: usize,
    rs: usize,
    lp: &mut [f32],
) -> usize {
    const RT: usize = 2;
    let d = s.base.d;
    let (p, mp, xp, out) = (s.p.as_ptr(), s.mp.as_ptr(), xt.as_ptr(), lp.as_mut_ptr());
    let half = _mm512_set1_ps(-0.5);
    for i0 in (0..ms).step_by(RT * W) {
        let mut acc = [[_mm512_setzero_ps(); RT]; CT];
        for j in 0..d {
            let mut xv = [_mm512_setzero_ps(); RT];
            for (t, v) in xv.iter_mut().enumerate() {
                // SAFETY: column j < d of xt has rs ≥ i0 + 32 entries.
                *v = unsafe { _mm512_loadu_ps(xp.add(j * rs + i0 + t * W)) };
            }
            for (u, acc) in acc.iter_mut().enumerate() {
                let o = (c0 + u) * d + j;
                // SAFETY: `p` and `mp` are k × d; c0 + u < k, j < d.
                let (pj, mj) = unsafe { (_mm512_set1_ps(*p.add(o)), _mm512_set1_ps(*mp.add(o))) };
                for t in 0..RT {
                    let tt = _mm512_fmsub_ps(xv[t], pj, mj);
                    acc[t] = _mm512_fmadd_ps(tt, tt, acc[t]);
                }
            }
        }
        for (u, acc) in acc.iter().enumerate() {
            let c = c0 + u;
            let k = _mm512_set1_ps(s.constant[c]);
            for (t, &a) in acc.iter().enumerate() {
                // SAFETY: c · rs + i0 + 32 ≤ k · rs ≤ lp.len().
                unsafe {
                    _mm512_storeu_ps(out.add(c * rs + i0 + t * W), _mm512_fmadd_ps(half, a, k))
                };
            }
        }
    }
    CT
}

/// `exp(x)` for `x ≤ 0`: `x = n ln 2 + r` (Cody–Waite, `|r| ≤ ln 2 / 2`),
/// `e^r ≈ 1 + r + r² P(r)` (Cephes' `expf` polynomial), scaled by `2^n`
/// with `vscalefps`. Lanes below −87 (where `e^x` is below the smallest
/// normal `f32`), −∞ among them, give 0.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn exp_nonpositive(x: __m512) -> __m512 {
    const P: [f32; 6] = [
        1.987_569_2e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_set1_ps(-87.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(P[0]);
    for &c in &P[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_fmadd_ps(
        _mm512_mul_ps(r, r),
        p,
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    _mm512_maskz_scalef_ps(keep, y, n)
}

/// Turns the k × rs log-densities into responsibilities (rows in lanes),
/// writes each live row's log-sum-exp to `lse` and returns their sum over
/// the m live rows in row order. Rows m..rs get responsibility 0 (rows at
/// and past `padded_rows(m)` are not read). A group of rows whose maximum
/// is not finite goes through the scalar `f64` code.
///
/// # Safety
/// AVX-512F, AVX2 and FMA are available; `lp` holds at least k × rs
/// values, `lse` rs, rs a multiple of 16.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn normalise(
    lp: &mut [f32],
    lse: &mut [f64],
    k: usize,
    m: usize,
    rs: usize,
) -> f64 {
    let mut total = 0.0;
    for i0 in (0..rs).step_by(W) {
        let live = m.saturating_sub(i0).min(W);
        if live == 0 {
            scalar_group(lp, lse, (k, rs), (i0, 0, W), &mut total, f64::from, |v| {
                v as f32
            });
            continue;
        }
        // Derived afresh for each group of rows: the scalar fallback below
        // writes through `lp`, which ends the life of earlier pointers.
        let base = lp.as_mut_ptr();
        // SAFETY: c < k, so c · rs + i0 + 16 ≤ k · rs ≤ lp.len(); every use
        // of `at(c)` below reads or writes the 16 values there.
        let at = |c: usize| unsafe { base.add(c * rs + i0) };
        // SAFETY: `at(0)` points at 16 values of `lp` (above).
        let mut mx = unsafe { _mm512_loadu_ps(at(0)) };
        for c in 1..k {
            // SAFETY: as above.
            mx = _mm512_max_ps(mx, unsafe { _mm512_loadu_ps(at(c)) });
        }
        // Finite lanes: mx − mx == 0 (false for ±∞ and NaN).
        let finite = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_sub_ps(mx, mx), _mm512_setzero_ps());
        let live_mask: u16 = if live == W {
            0xffff
        } else {
            (1u16 << live) - 1
        };
        if finite & live_mask != live_mask {
            scalar_group(
                lp,
                lse,
                (k, rs),
                (i0, live, W),
                &mut total,
                f64::from,
                |v| v as f32,
            );
            continue;
        }
        let mut s = _mm512_setzero_ps();
        for c in 0..k {
            // SAFETY: as above.
            unsafe {
                let e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(at(c)), mx));
                _mm512_storeu_ps(at(c), e);
                s = _mm512_add_ps(s, e);
            }
        }
        // Padding rows: responsibility 0.
        let inv = _mm512_maskz_div_ps(live_mask, _mm512_set1_ps(1.0), s);
        for c in 0..k {
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(at(c), _mm512_mul_ps(_mm512_loadu_ps(at(c)), inv)) };
        }
        // s ≥ 1 (the maximum contributes exp(0)): ln in f64, 8 rows at a
        // time; padding rows' lse: 0.
        for h in 0..2 {
            let pick = |v: __m512| {
                let wide = _mm512_castps_pd(v);
                _mm256_castpd_ps(if h == 0 {
                    _mm512_castpd512_pd256(wide)
                } else {
                    _mm512_extractf64x4_pd::<1>(wide)
                })
            };
            let (sh, mh) = (_mm512_cvtps_pd(pick(s)), _mm512_cvtps_pd(pick(mx)));
            let mask = (live_mask >> (h * L)) as u8;
            let v = _mm512_maskz_add_pd(mask, mh, super::ln_positive(Avx512::new(), sh));
            // SAFETY: i0 + 16 ≤ rs ≤ lse.len().
            unsafe { _mm512_storeu_pd(lse.as_mut_ptr().add(i0 + h * L), v) };
        }
        for &v in &lse[i0..i0 + live] {
            total += v;
        }
    }
    total
}

/// Statistics of components `c0..c0 + CT` and columns `j0..j0 + JT` over
/// the block's ms rows, added to the `f32` sums in `ws`; `N` with the first
/// column tile. Padding rows add 0 (`r = 0`, `x̃ = 0`). Returns JT.
///
/// The `f64` kernel's `diag_stats_tile` with `f32` vectors: the two differ
/// in every intrinsic and in where the sums go, and a generic over both
/// vector types would need a SIMD trait for these two functions alone.
///
/// # Safety
/// AVX-512F; c0 + CT ≤ k, j0 + JT ≤ d, the buffers of `ws` sized for stride
/// rs ≥ ms (a multiple of 16).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn stats<const CT: usize, const JT: usize>(
    s: &Single,
    c0: usize,
    j0: usize,
    ms: usize,
    rs: usize,
    ws: &mut SingleScratch,
) -> usize {
    let d = s.base.d;
    let (rp, xp, qp) = (ws.lp.as_ptr(), ws.xt.as_ptr(), ws.xq.as_ptr());
    let mut sb = [[_mm512_setzero_ps(); JT]; CT];
    let mut sa = [[_mm512_setzero_ps(); JT]; CT];
    let mut sn = [_mm512_setzero_ps(); CT];
    let first = j0 == 0;
    for i0 in (0..ms).step_by(W) {
        let mut r = [_mm512_setzero_ps(); CT];
        for (u, v) in r.iter_mut().enumerate() {
            // SAFETY: rows i0..i0 + 16 ≤ ms of component c0 + u < k.
            *v = unsafe { _mm512_loadu_ps(rp.add((c0 + u) * rs + i0)) };
        }
        let mut xv = [_mm512_setzero_ps(); JT];
        let mut xq = [_mm512_setzero_ps(); JT];
        for t in 0..JT {
            // SAFETY: column j0 + t < d of xt and xq has rs ≥ i0 + 16.
            unsafe {
                xv[t] = _mm512_loadu_ps(xp.add((j0 + t) * rs + i0));
                xq[t] = _mm512_loadu_ps(qp.add((j0 + t) * rs + i0));
            }
        }
        for u in 0..CT {
            if first {
                sn[u] = _mm512_add_ps(sn[u], r[u]);
            }
            for t in 0..JT {
                sb[u][t] = _mm512_fmadd_ps(r[u], xv[t], sb[u][t]);
                sa[u][t] = _mm512_fmadd_ps(r[u], xq[t], sa[u][t]);
            }
        }
    }
    let (bp, ap, np) = (ws.b.as_mut_ptr(), ws.a.as_mut_ptr(), ws.nk.as_mut_ptr());
    let add = |dst: *mut f32, v: __m512| {
        // SAFETY: `dst` points at 16 entries of one of the sums (below).
        unsafe { _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), v)) };
    };
    for u in 0..CT {
        let c = c0 + u;
        // SAFETY: `b` and `a` are k × d × 16, `nk` k × 16; c < k, j < d.
        unsafe {
            if first {
                add(np.add(c * W), sn[u]);
            }
            for t in 0..JT {
                let off = (c * d + j0 + t) * W;
                add(bp.add(off), sb[u][t]);
                add(ap.add(off), sa[u][t]);
            }
        }
    }
    JT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_and_flushes_below_the_floor() {
        if !mmclust_core::isa::Isa::Avx512
            .run_or_skip("exp_is_within_two_ulp_and_flushes_below_the_floor")
        {
            return;
        }
        let mut xs: Vec<f32> = (0..=87_010).map(|i| -(i as f32) * 1e-3).collect();
        xs.extend([-1e-30, -1e-7, -0.346, -0.347, -86.99]);
        let mut worst = 0.0f64;
        for chunk in xs.chunks(W) {
            let mut v = [0.0f32; W];
            v[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0f32; W];
            // SAFETY: AVX-512F is available (checked above); 16 lanes each.
            unsafe {
                let e = exp_nonpositive(_mm512_loadu_ps(v.as_ptr()));
                _mm512_storeu_ps(out.as_mut_ptr(), e);
            }
            for (&x, &got) in chunk.iter().zip(&out) {
                let want = f64::from(x).exp();
                let err = (f64::from(got) - want).abs() / want;
                if x >= -87.0 {
                    worst = worst.max(err);
                } else {
                    assert_eq!(got, 0.0, "{x}");
                }
            }
        }
        // 2 ulp of f32 relative to the exact value.
        assert!(worst < 2.0 * f64::from(f32::EPSILON), "worst {worst:e}");
        let mut v = [-87.5f32; W];
        v[1] = f32::NEG_INFINITY;
        v[2] = 0.0;
        v[3] = -1000.0;
        let mut out = [1.0f32; W];
        // SAFETY: as above.
        unsafe {
            let e = exp_nonpositive(_mm512_loadu_ps(v.as_ptr()));
            _mm512_storeu_ps(out.as_mut_ptr(), e);
        }
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 0.0);
        assert_eq!(out[2], 1.0);
        assert_eq!(out[3], 0.0);
    }
}

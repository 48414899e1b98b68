//! AVX-512 block kernels of the EM pass: one call per block of
//! [`BLOCK_ROWS`] rows does the E-step (log-densities of every component,
//! log-sum-exp, responsibilities) and, for EM passes, the statistics of the
//! M-step, with the whole block resident in L1/L2.
//!
//! Layout, chosen so every inner loop is a fixed-trip run of FMAs with no
//! horizontal work in it:
//!
//! * full/tied: the block is converted once to `f64` and centred on `shift`
//!   (the mean of the component means) into `xr`, row-major (rows padded to
//!   `dp`, a multiple of 8, with zeros); diag/spherical: into `xt`,
//!   column-major, by 8 × 8 tiles of `f32` transposed in registers, widened
//!   and centred, and their squares into `xq` (the input 64 rows ahead is
//!   prefetched);
//! * full/tied Mahalanobis terms are `‖x̃ U − μ̃ U‖²` (scikit-learn's
//!   `X·U − μ·U`, about the shift): a triangular GEMM of 8 rows × 16 columns
//!   of `U` per tile (16 `zmm` accumulators), outputs in lanes, squared and
//!   summed per row by one 8 × 8 transpose-reduction;
//! * diag/spherical: rows in lanes, the quadratic form
//!   `K + Σ_j (−½ p_j²) x̃_j² + (p_j² μ̃_j) x̃_j` accumulated over columns by
//!   tiles of 4 components × 32 rows (two FMAs a term; its rounding error is
//!   about `u Σ p² (|x̃| + |μ̃|)²`, small because the rows are centred);
//! * log-densities are component-major (k × ms, rows in lanes), so the
//!   normalisation is lane-parallel over rows with a vector `exp` that
//!   performs the same operations as [`crate::simd`]'s scalar one, and a
//!   vector `ln` of the per-row sums;
//! * full/tied second moments about each component's mean: differences `D`
//!   and weighted differences `W = r D` of the rows with nonzero
//!   responsibility are compacted, then `S2 += Wᵀ D` by 8 × 16 register tiles
//!   over the lower triangle (a small SYRK);
//! * diag/spherical statistics: `Rᵀ [1, x̃, x̃²]` with rows in lanes on both
//!   sides, by tiles of 4 components × 2 columns, into per-lane sums that
//!   [`finish_chunk`] adds up once per chunk.
//!
//! Sums over rows run in row order inside a block (diag/spherical: in row
//! order within each of the 8 lanes, rows `i ≡ l mod 8` in lane `l`, the
//! lanes added in a fixed tree per chunk); results are deterministic for a
//! given chunk length (and independent of the thread count), but not bitwise
//! equal to the portable path's.
//!
//! Every `unsafe fn` here requires AVX-512F (checked by [`available`]) and
//! slices of the lengths [`Prepared`] and [`Scratch`] set up; the safe entry
//! points check the CPU and the lengths.

// Register tiles are indexed in lockstep (`a0[r]`, `a1[r]`, row `r`); index
// loops say that more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use crate::mixture::{BLOCK_ROWS, Mixture, Stats};
use crate::params::CovarianceType;
use crate::simd::{Isa, isa};

pub(crate) mod single;

/// Rows per register tile and lanes per vector.
const L: usize = 8;

/// How far ahead of the rows being transposed the input is prefetched.
const PREFETCH_ROWS: usize = 64;

/// Whether these kernels can run on this CPU.
pub(crate) fn available() -> bool {
    isa() >= Isa::Avx512
}

/// A mixture's parameters laid out for the kernels: padded, centred on
/// `shift`, with the per-component constants folded in.
#[derive(Debug)]
pub(crate) struct Prepared {
    cov_type: CovarianceType,
    k: usize,
    d: usize,
    /// `d` rounded up to a multiple of [`L`].
    dp: usize,
    /// Subtracted from every row (the mean of the means), length `dp`.
    shift: Vec<f64>,
    /// k × dp: `μ_c − shift`.
    mu: Vec<f64>,
    /// Full/tied: per matrix, `U` as d rows of `dp` (zero-padded);
    /// diag/spherical: k × dp quadratic coefficients `−½ p²` (`p = 1/σ`).
    prec: Vec<f64>,
    /// k × dp: `μ̃_c U_c` (full/tied) or the linear coefficients `p² μ̃`
    /// (diag/spherical).
    bias: Vec<f64>,
    /// `log w_c − d/2 log 2π + log det U_c`; diag/spherical: minus
    /// `½ Σ_j p_j² μ̃_j²` too (the log-density at `x̃ = 0`).
    constant: Vec<f64>,
}

impl Prepared {
    pub(crate) fn new(mix: &Mixture) -> Self {
        Self::build(mix, false)
    }

    /// [`Prepared::new`] with the shift rounded to `f32`, so that the
    /// single-precision kernel's `fl(x − shift)` is the exact difference
    /// rounded once, and the `f64` correction in [`finish_chunk`] uses the
    /// same shift.
    pub(crate) fn with_f32_shift(mix: &Mixture) -> Self {
        Self::build(mix, true)
    }

    fn build(mix: &Mixture, f32_shift: bool) -> Self {
        let (k, d) = (mix.k, mix.d);
        let dp = d.div_ceil(L) * L;
        let mut shift = vec![0.0f64; dp];
        for c in 0..k {
            for j in 0..d {
                shift[j] += mix.means[c * d + j];
            }
        }
        shift.iter_mut().for_each(|v| *v /= k as f64);
        if f32_shift {
            shift.iter_mut().for_each(|v| *v = f64::from(*v as f32));
        }
        let mut mu = vec![0.0f64; k * dp];
        for c in 0..k {
            for j in 0..d {
                mu[c * dp + j] = mix.means[c * d + j] - shift[j];
            }
        }
        let mut bias = vec![0.0f64; k * dp];
        let mut constant = mix.log_constants();
        let pc = &mix.precisions_cholesky;
        let prec = match mix.cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let mats = if mix.cov_type == CovarianceType::Full {
                    k
                } else {
                    1
                };
                let mut u = vec![0.0f64; mats * d * dp];
                for m in 0..mats {
                    for p in 0..d {
                        for j in p..d {
                            u[m * d * dp + p * dp + j] = pc[m * d * d + p * d + j];
                        }
                    }
                }
                for c in 0..k {
                    let m = if mats == 1 { 0 } else { c };
                    for j in 0..d {
                        bias[c * dp + j] = (0..=j)
                            .map(|p| mu[c * dp + p] * u[m * d * dp + p * dp + j])
                            .sum();
                    }
                }
                u
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let mut p = vec![0.0f64; k * dp];
                for c in 0..k {
                    let mut at_zero = 0.0;
                    for j in 0..d {
                        let s = if mix.cov_type == CovarianceType::Diag {
                            pc[c * d + j]
                        } else {
                            pc[c]
                        };
                        let (s2, m) = (s * s, mu[c * dp + j]);
                        p[c * dp + j] = -0.5 * s2;
                        bias[c * dp + j] = s2 * m;
                        at_zero += s2 * m * m;
                    }
                    constant[c] -= 0.5 * at_zero;
                }
                p
            }
        };
        Prepared {
            cov_type: mix.cov_type,
            k,
            d,
            dp,
            shift,
            mu,
            prec,
            bias,
            constant,
        }
    }

    fn matrix(&self) -> bool {
        self.cov_type.is_matrix()
    }

    /// `U` of component `c`: d rows of `dp`.
    fn u(&self, c: usize) -> &[f64] {
        let m = if self.cov_type == CovarianceType::Full {
            c
        } else {
            0
        };
        let n = self.d * self.dp;
        &self.prec[m * n..(m + 1) * n]
    }
}

/// Rows of a block padded for the 32-row tiles of the diagonal kernel.
fn padded_rows(m: usize) -> usize {
    m.div_ceil(4 * L) * 4 * L
}

/// Scratch space of the kernels for blocks of up to [`BLOCK_ROWS`] rows,
/// allocated once per chunk.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// ms × dp, row-major centred rows (full/tied).
    xr: Vec<f64>,
    /// d × ms, column-major centred rows (diag/spherical).
    xt: Vec<f64>,
    /// d × ms, their squares (diag/spherical): computed once per block for
    /// the log-density and statistics tiles, which would otherwise each
    /// square their columns again.
    xq: Vec<f64>,
    /// k × ms: log-densities, then responsibilities.
    pub(crate) lp: Vec<f64>,
    /// Per-row log-sum-exp.
    pub(crate) lse: Vec<f64>,
    /// The chunk's sums about the shift, see [`finish_chunk`]. Full/tied: k,
    /// k × dp and k × dp × dp. Diag/spherical: the same sums per lane (rows
    /// `i ≡ l mod 8` go to lane `l`), k × L, k × d × L and k × d × L, whose
    /// lanes [`finish_chunk`] adds up.
    nk: Vec<f64>,
    b: Vec<f64>,
    a: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(prep: &Prepared) -> Self {
        let ms = padded_rows(BLOCK_ROWS);
        let (k, d, dp) = (prep.k, prep.d, prep.dp);
        let full = prep.matrix();
        Scratch {
            xr: if full { vec![0.0; ms * dp] } else { Vec::new() },
            xt: if full { Vec::new() } else { vec![0.0; d * ms] },
            xq: if full { Vec::new() } else { vec![0.0; d * ms] },
            lp: vec![0.0; k * ms],
            lse: vec![0.0; ms],
            nk: vec![0.0; if full { k } else { k * L }],
            b: vec![0.0; if full { k * dp } else { k * d * L }],
            a: vec![0.0; if full { k * dp * dp } else { k * d * L }],
        }
    }

    /// Only the chunk's per-lane diagonal sums (`nk`, `b`, `a`): what the
    /// single-precision kernel shares, which has block buffers of its own.
    pub(crate) fn diag_sums(prep: &Prepared) -> Self {
        let (k, d) = (prep.k, prep.d);
        Scratch {
            xr: Vec::new(),
            xt: Vec::new(),
            xq: Vec::new(),
            lp: Vec::new(),
            lse: Vec::new(),
            nk: vec![0.0; k * L],
            b: vec![0.0; k * d * L],
            a: vec![0.0; k * d * L],
        }
    }

    /// The row stride of [`Scratch::lp`] for a block of `m` rows.
    pub(crate) fn stride(m: usize) -> usize {
        padded_rows(m)
    }
}

/// E-step of the first `m ≤ BLOCK_ROWS` rows of `x` (row-major, `d` columns;
/// rows after them, such as the rest of the chunk, are only prefetched):
/// afterwards `ws.lp[c · ms + i]` (`ms = Scratch::stride(m)`) holds the
/// responsibility of component `c` for row `i` (0 for the padding rows) and
/// `ws.lse[i]` the row's log-likelihood. Returns their sum over the rows, in
/// row order.
pub(crate) fn e_step(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    assert!(available() && m <= BLOCK_ROWS && x.len() >= m * prep.d);
    // SAFETY: AVX-512F is available (checked above); the scratch was sized
    // for `prep` and BLOCK_ROWS rows, and `x` holds m rows.
    unsafe { e_step_impl(prep, x, m, ws) }
}

/// [`e_step`], then adds the block's statistics to the chunk's sums in `ws`
/// ([`finish_chunk`] adds those to the chunk's [`Stats`], about the means of
/// the mixture `prep` was made from).
pub(crate) fn em_block(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    assert!(available() && m <= BLOCK_ROWS && x.len() >= m * prep.d);
    // SAFETY: as in `e_step`.
    unsafe {
        let ll = e_step_impl(prep, x, m, ws);
        if prep.matrix() {
            matrix_stats(prep, m, ws);
        } else {
            diag_stats(prep, m, ws);
        }
        ll
    }
}

#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn e_step_impl(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
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
fn prefetch_ahead(x: &[f32], d: usize, i0: usize) {
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
unsafe fn tile_columns(x: &[f32], d: usize, rows: usize, i0: usize, j0: usize) -> [__m256; L] {
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
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn transpose_centred(
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

/// Lane `r` = sum of the lanes of `a[r]`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn transpose_sum(a: &[__m512d; L]) -> __m512d {
    let pair =
        |x: __m512d, y: __m512d| _mm512_add_pd(_mm512_unpacklo_pd(x, y), _mm512_unpackhi_pd(x, y));
    let quad = |x: __m512d, y: __m512d| {
        _mm512_add_pd(
            _mm512_shuffle_f64x2::<0x88>(x, y),
            _mm512_shuffle_f64x2::<0xDD>(x, y),
        )
    };
    let b01 = pair(a[0], a[1]);
    let b23 = pair(a[2], a[3]);
    let b45 = pair(a[4], a[5]);
    let b67 = pair(a[6], a[7]);
    quad(quad(b01, b23), quad(b45, b67))
}

/// `lp[i] = constant_c − ½ ‖x̃_i U − μ̃ U‖²` for the ms rows of `xr`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn log_prob_full(prep: &Prepared, c: usize, xr: &[f64], ms: usize, lp: &mut [f64]) {
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
            // SAFETY (all loads below): `u` has d rows of dp, `bias` dp,
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
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn log_prob_diag<const CT: usize>(
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

/// `exp(x)` for `x ≤ 0`: the operations of `simd::exp_nonpositive::<true>`
/// lane by lane (same bits for finite and −∞ inputs): the table lookup by
/// `vpermt2pd` on the low 4 bits of `t`, `2^e` added to the exponent field.
/// Lanes below the floor are not clamped but masked to 0 at the end.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn exp_nonpositive(x: __m512d) -> __m512d {
    use crate::simd::EXP2_SIXTEENTHS as T;
    use crate::simd::exp_consts::*;
    let keep = !_mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, _mm512_set1_pd(FLOOR));
    let shift = _mm512_set1_pd(SHIFT);
    let t = _mm512_fmadd_pd(x, _mm512_set1_pd(SIXTEEN_LOG2E), shift);
    let n = _mm512_sub_pd(t, shift);
    let r = _mm512_fmadd_pd(n, _mm512_set1_pd(-LN2_16_HI), x);
    let r = _mm512_fmadd_pd(n, _mm512_set1_pd(-LN2_16_LO), r);
    let mut p = _mm512_set1_pd(Q[5]);
    for &c in Q[..5].iter().rev() {
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c));
    }
    let q = _mm512_mul_pd(p, r);
    let tb = _mm512_castpd_si512(t);
    let lo = _mm512_setr_pd(T[0], T[1], T[2], T[3], T[4], T[5], T[6], T[7]);
    let hi = _mm512_setr_pd(T[8], T[9], T[10], T[11], T[12], T[13], T[14], T[15]);
    let tj = _mm512_permutex2var_pd(lo, tb, hi);
    let v = _mm512_fmadd_pd(tj, q, tj);
    let e = _mm512_slli_epi64::<52>(_mm512_srli_epi64::<4>(tb));
    _mm512_castsi512_pd(_mm512_maskz_add_epi64(keep, _mm512_castpd_si512(v), e))
}

/// `ln(x)` for positive normal `x` (here the sums of a log-sum-exp, in
/// `[1, k]`): `x = 2^e m` with `m ∈ [√½, √2)`, `ln m = 2 atanh(f)`,
/// `f = (m − 1)/(m + 1)`, by its series in `f²` (|f| ≤ 0.172, eleven terms
/// past the first reach 2^-53), plus `e ln 2` in two parts. Within 2 ulp
/// of the correctly rounded value (tested against `f64::ln`).
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn ln_positive(x: __m512d) -> __m512d {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const MANTISSA: i64 = 0x000f_ffff_ffff_ffff;
    const ONE: i64 = 0x3ff0_0000_0000_0000;
    const TWO52: i64 = 0x4330_0000_0000_0000;
    let bits = _mm512_castpd_si512(x);
    // The biased exponent as a double: 2^52 + e_b − 2^52.
    let eb = _mm512_castsi512_pd(_mm512_or_si512(
        _mm512_srli_epi64::<52>(bits),
        _mm512_set1_epi64(TWO52),
    ));
    let mut e = _mm512_sub_pd(eb, _mm512_set1_pd(4_503_599_627_370_496.0 + 1023.0));
    let mut m = _mm512_castsi512_pd(_mm512_or_si512(
        _mm512_and_si512(bits, _mm512_set1_epi64(MANTISSA)),
        _mm512_set1_epi64(ONE),
    ));
    let big = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(m, _mm512_set1_pd(std::f64::consts::SQRT_2));
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
    let one = _mm512_set1_pd(1.0);
    let f = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
    let s = _mm512_mul_pd(f, f);
    let mut p = _mm512_set1_pd(1.0 / 23.0);
    for n in (1..11).rev() {
        p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / (2 * n + 1) as f64));
    }
    // ln m = 2f + 2f·s·p.
    let f2 = _mm512_add_pd(f, f);
    let lnm = _mm512_fmadd_pd(_mm512_mul_pd(f2, s), p, f2);
    let lo = _mm512_fmadd_pd(e, _mm512_set1_pd(LN2_LO), lnm);
    _mm512_fmadd_pd(e, _mm512_set1_pd(LN2_HI), lo)
}

/// Turns the k × ms log-densities into responsibilities (rows in lanes),
/// writes each row's log-sum-exp to `lse` and returns their sum over the m
/// live rows in row order. Padding rows get responsibility 0. A group of rows
/// whose maximum is not finite goes through the scalar code.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn normalise(lp: &mut [f64], lse: &mut [f64], k: usize, m: usize, ms: usize) -> f64 {
    let mut total = 0.0;
    let base = lp.as_mut_ptr();
    for i0 in (0..ms).step_by(L) {
        let live = m.saturating_sub(i0).min(L);
        if live == 0 {
            for c in 0..k {
                lp[c * ms + i0..c * ms + i0 + L].fill(0.0);
            }
            continue;
        }
        // SAFETY (pointer accesses): c · ms + i0 + L ≤ k · ms = lp.len().
        let at = |c: usize| unsafe { base.add(c * ms + i0) };
        let mut mx = unsafe { _mm512_loadu_pd(at(0)) };
        for c in 1..k {
            mx = _mm512_max_pd(mx, unsafe { _mm512_loadu_pd(at(c)) });
        }
        // Finite lanes: mx − mx == 0 (false for ±∞ and NaN).
        let finite = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(_mm512_sub_pd(mx, mx), _mm512_setzero_pd());
        let live_mask: u8 = if live == L { 0xff } else { (1u8 << live) - 1 };
        if finite & live_mask != live_mask {
            let mut row = vec![0.0f64; k];
            for l in 0..live {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = lp[c * ms + i0 + l];
                }
                let s = crate::simd::normalise_rows(&mut row, k, None);
                lse[i0 + l] = s;
                total += s;
                for (c, v) in row.iter().enumerate() {
                    lp[c * ms + i0 + l] = *v;
                }
            }
            for c in 0..k {
                lp[c * ms + i0 + live..c * ms + i0 + L].fill(0.0);
            }
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

/// Full/tied statistics of the block about the common shift, added to the
/// chunk's sums in `ws`: `N += Σ r`, `B += Σ r x̃`, `A += Σ r x̃ x̃ᵀ` (lower
/// triangle by tiles of 8 rows `p` × 16 lanes `q`; entries above the diagonal
/// inside a tile are summed too and ignored). Rows with `r = 0` add exactly
/// nothing and are skipped. [`finish_chunk`] moves the sums to each
/// component's mean.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn matrix_stats(prep: &Prepared, m: usize, ws: &mut Scratch) {
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
                // SAFETY (pointer accesses): rows i < m of xr have dp
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

/// `Σ v` by 8 lanes (then the lanes in a tree, then the tail in order).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn sum(v: &[f64]) -> f64 {
    let mut acc = _mm512_setzero_pd();
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: `c` has L entries.
        acc = _mm512_add_pd(acc, unsafe { _mm512_loadu_pd(c.as_ptr()) });
    }
    _mm512_reduce_add_pd(acc) + chunks.remainder().iter().sum::<f64>()
}

/// Diagonal statistics of the block about the common shift, added to the
/// chunk's per-lane sums in `ws`: per component `N += Σ r`, `B += Σ r x̃`,
/// `A += Σ r x̃²`, rows in lanes (row `i` to lane `i mod 8`, rows in order
/// within a lane). Responsibilities and columns are both rows-in-lanes, so
/// this is `Rᵀ [x̃, x̃²]` by register tiles of 4 components × 2 columns with
/// no horizontal work; [`finish_chunk`] adds the lanes and moves the sums to
/// each component's mean. Padding rows add 0 (`r = 0`, `x̃ = 0`).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn diag_stats(prep: &Prepared, m: usize, ws: &mut Scratch) {
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
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn diag_stats_tile<const CT: usize, const JT: usize>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mixture::{Workspace, normalise_rows};
    use proptest::prelude::*;

    const TYPES: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// A valid mixture: means around `offset`, covariances `A Aᵀ + s I`.
    fn mixture(cov_type: CovarianceType, k: usize, d: usize, offset: f64, seed: u64) -> Mixture {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let weights: Vec<f64> = (0..k).map(|_| 0.2 + next().abs()).collect();
        let total: f64 = weights.iter().sum();
        let weights = weights.iter().map(|w| w / total).collect();
        let means = (0..k * d).map(|_| offset + 5.0 * next()).collect();
        let mut cov = vec![0.0f64; cov_type.covariance_len(k, d)];
        match cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                for m in 0..cov.len() / (d * d) {
                    let a: Vec<f64> = (0..d * d).map(|_| next()).collect();
                    for p in 0..d {
                        for q in 0..d {
                            let s: f64 = (0..d).map(|t| a[p * d + t] * a[q * d + t]).sum();
                            cov[m * d * d + p * d + q] = s + if p == q { 0.5 } else { 0.0 };
                        }
                    }
                }
            }
            _ => cov.iter_mut().for_each(|v| *v = 0.3 + 2.0 * next().abs()),
        }
        Mixture::new(cov_type, k, d, weights, means, cov, None).unwrap()
    }

    fn close(got: f64, want: f64, scale: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * scale.max(want.abs()).max(1e-300)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The block kernels against the portable path (`log_prob_block`,
        /// `normalise_rows`, `accumulate_block` about the means), on random
        /// shapes (d across 8-lane boundaries, partial blocks) and on data far
        /// from the origin.
        #[test]
        fn block_kernels_match_the_portable_path(
            k in 1usize..8, d in 1usize..27, m in 1usize..=BLOCK_ROWS,
            far in any::<bool>(), seed in 0u64..10_000, extra in 0usize..200,
        ) {
            prop_assume!(available());
            let offset = if far { 1e4 } else { 0.0 };
            for (t, cov_type) in TYPES.into_iter().enumerate() {
                let mix = mixture(cov_type, k, d, offset, seed * 4 + t as u64);
                // Rows near the means (several components matter per row).
                let x: Vec<f32> = (0..m * d)
                    .map(|i| {
                        let (r, j) = (i / d, i % d);
                        let c = (r * 7 + seed as usize) % k;
                        let noise = ((i as f64 * 0.618 + seed as f64).sin()) * 4.0;
                        (mix.means[c * d + j] + noise) as f32
                    })
                    .collect();
                let prep = Prepared::new(&mix);
                let mut ws = Scratch::new(&prep);
                let mut st = Stats::new(cov_type, k, d);
                // Rows after the block (the rest of a chunk) are only
                // prefetched: NaN there must not reach any result.
                let mut tail = x.clone();
                tail.extend(std::iter::repeat_n(f32::NAN, extra * d));
                let ll = em_block(&prep, &tail, m, &mut ws);
                finish_chunk(&prep, &mut ws, &mut st);
                let ms = Scratch::stride(m);

                let mut rws = Workspace::new(k, d);
                let mut lp = vec![0.0f64; m * k];
                mix.log_prob_block(&x, m, &mut rws, &mut lp);
                let mut lse = Vec::new();
                let want_ll = normalise_rows(&mut lp, k, Some(&mut lse));
                let mut want = Stats::new(cov_type, k, d);
                want.accumulate_block(cov_type, &x, m, k, d, &lp, &mix.means, &mut rws);

                let scale = lse.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                prop_assert!(close(ll, want_ll, m as f64 * scale, 1e-12), "{cov_type} ll {ll} vs {want_ll}");
                for i in 0..m {
                    prop_assert!(close(ws.lse[i], lse[i], scale, 1e-12), "{cov_type} lse row {i}");
                    for c in 0..k {
                        let (g, w) = (ws.lp[c * ms + i], lp[i * k + c]);
                        prop_assert!((g - w).abs() <= 1e-10, "{cov_type} resp ({i}, {c}): {g} vs {w}");
                    }
                }
                for i in m..ms {
                    for c in 0..k {
                        prop_assert_eq!(ws.lp[c * ms + i], 0.0);
                    }
                }
                for c in 0..k {
                    prop_assert!(close(st.nk[c], want.nk[c], m as f64, 1e-10), "{cov_type} nk {c}");
                }
                // Scales: the sums of |r·t| and r·t² of the reference.
                let s2max = want.s2.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                for (j, (&g, &w)) in st.s1.iter().zip(&want.s1).enumerate() {
                    prop_assert!(close(g, w, s2max.sqrt() * m as f64, 1e-9), "{cov_type} s1[{j}] {g} vs {w}");
                }
                for (j, (&g, &w)) in st.s2.iter().zip(&want.s2).enumerate() {
                    prop_assert!(close(g, w, s2max, 1e-9), "{cov_type} s2[{j}] {g} vs {w}");
                }
            }
        }
    }

    /// The diagonal log-density is a quadratic form about the mean of the
    /// means: its rounding error is about `u Σ_j p_j² (|x̃_j| + |μ̃_j|)²`, not
    /// `u Σ_j p_j² (x̃_j − μ̃_j)²`. Components 400 σ apart (the expansion's
    /// worst case: every term large, the result small) stay within that
    /// bound of the portable difference form, responsibilities too.
    #[test]
    fn diag_quadratic_form_error_follows_its_bound() {
        if !available() {
            return;
        }
        let (k, d, m) = (4, 8, BLOCK_ROWS);
        for cov_type in [CovarianceType::Diag, CovarianceType::Spherical] {
            let means: Vec<f64> = (0..k * d)
                .map(|i| 1e3 + 400.0 * ((i / d) as f64) * if i % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            let cov: Vec<f64> = (0..cov_type.covariance_len(k, d))
                .map(|i| 0.8 + 0.1 * (i % 5) as f64)
                .collect();
            let weights = vec![0.25; k];
            let mix = Mixture::new(cov_type, k, d, weights, means.clone(), cov, None).unwrap();
            // Rows near one mean, and a few halfway between two.
            let x: Vec<f32> = (0..m * d)
                .map(|i| {
                    let (r, j) = (i / d, i % d);
                    let (a, b) = (r % k, (r + 1) % k);
                    let t = if r % 9 == 0 { 0.5 } else { 0.0 };
                    let noise = ((i as f64 * 0.731).sin()) * 1.5;
                    ((1.0 - t) * means[a * d + j] + t * means[b * d + j] + noise) as f32
                })
                .collect();
            let prep = Prepared::new(&mix);
            let mut ws = Scratch::new(&prep);
            e_step(&prep, &x, m, &mut ws);
            let ms = Scratch::stride(m);
            let mut rws = Workspace::new(k, d);
            let mut lp = vec![0.0f64; m * k];
            mix.log_prob_block(&x, m, &mut rws, &mut lp);
            let mut lse = Vec::new();
            normalise_rows(&mut lp, k, Some(&mut lse));
            let shift: Vec<f64> = (0..d)
                .map(|j| (0..k).map(|c| means[c * d + j]).sum::<f64>() / k as f64)
                .collect();
            for i in 0..m {
                // The bound's scale per component.
                let scale: Vec<f64> = (0..k)
                    .map(|c| {
                        (0..d)
                            .map(|j| {
                                let p = mix.precisions_cholesky[if cov_type == CovarianceType::Diag
                                {
                                    c * d + j
                                } else {
                                    c
                                }];
                                let xt = f64::from(x[i * d + j]) - shift[j];
                                let mt = means[c * d + j] - shift[j];
                                p * p * (xt.abs() + mt.abs()).powi(2)
                            })
                            .sum::<f64>()
                    })
                    .collect();
                // lse: the components weighted by their responsibilities;
                // responsibilities: the worst component that has any.
                let bound: f64 = (0..k).map(|c| lp[i * k + c] * scale[c]).sum();
                let worst = (0..k)
                    .filter(|&c| lp[i * k + c] > 0.0)
                    .map(|c| scale[c])
                    .fold(0.0f64, f64::max);
                let err = (ws.lse[i] - lse[i]).abs();
                assert!(
                    err <= 4.0 * f64::EPSILON * bound,
                    "{cov_type} row {i}: lse {} vs {}, bound {bound:e}",
                    ws.lse[i],
                    lse[i]
                );
                // Responsibilities move by at most the error of a difference
                // of two log-densities.
                for c in 0..k {
                    let (g, w) = (ws.lp[c * ms + i], lp[i * k + c]);
                    let tol = (8.0 * f64::EPSILON * worst).max(1e-13);
                    assert!(
                        (g - w).abs() <= tol,
                        "{cov_type} resp ({i}, {c}): {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn vector_ln_is_within_two_ulp() {
        if !available() {
            return;
        }
        let xs: Vec<f64> = (0..20_000)
            .map(|i| 1.0 + i as f64 * 0.003_1)
            .chain((0..2_000).map(|i| 1e-300 * 1.37f64.powi(i)))
            .chain([
                1.0,
                std::f64::consts::SQRT_2,
                2.0,
                0.5,
                16.0,
                f64::MAX,
                f64::MIN_POSITIVE,
            ])
            .collect();
        for chunk in xs.chunks(L) {
            let mut v = [1.0f64; L];
            v[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0f64; L];
            // SAFETY: AVX-512F is available (checked above); L lanes.
            unsafe {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn run(v: &[f64; L], out: &mut [f64; L]) {
                    // SAFETY: arrays of L f64.
                    unsafe {
                        _mm512_storeu_pd(out.as_mut_ptr(), ln_positive(_mm512_loadu_pd(v.as_ptr())))
                    };
                }
                run(&v, &mut out);
            }
            for l in 0..chunk.len() {
                let want = v[l].ln();
                let ulp = f64::EPSILON * want.abs().max(f64::MIN_POSITIVE);
                assert!(
                    (out[l] - want).abs() <= 2.0 * ulp,
                    "ln({}) = {} vs {want}",
                    v[l],
                    out[l]
                );
            }
        }
    }

    #[test]
    fn vector_exp_has_the_scalar_bits() {
        if !available() {
            return;
        }
        let xs: Vec<f64> = (0..4096)
            .map(|i| -(i as f64) * 0.191)
            .chain([0.0, -707.9, -708.0, -708.1, -1e300, f64::NEG_INFINITY])
            .collect();
        for chunk in xs.chunks(L) {
            let mut v = [f64::NEG_INFINITY; L];
            v[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0f64; L];
            // SAFETY: AVX-512F is available (checked above); L lanes.
            unsafe {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn run(v: &[f64; L], out: &mut [f64; L]) {
                    // SAFETY: arrays of L f64.
                    unsafe {
                        _mm512_storeu_pd(
                            out.as_mut_ptr(),
                            exp_nonpositive(_mm512_loadu_pd(v.as_ptr())),
                        )
                    };
                }
                run(&v, &mut out);
            }
            for l in 0..chunk.len() {
                let want = crate::simd::exp_nonpositive_for_tests(v[l]);
                assert_eq!(out[l].to_bits(), want.to_bits(), "exp({})", v[l]);
            }
        }
    }
}

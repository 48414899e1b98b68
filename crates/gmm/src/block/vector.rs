//! The vectors the block kernels compute with: 8 `f64` lanes, one `zmm`
//! register on the AVX-512 tier ([`Avx512`]), two `ymm` registers (lanes
//! 0–3 and 4–7) on the AVX2 + FMA tier ([`Avx2`]).
//!
//! The kernels are written once, generic over [`Simd`], and compiled per
//! tier inside a `#[target_feature]` entry point (every generic function
//! and every method here is `#[inline(always)]`, so the instructions are
//! those of the entry point's tier). Both tiers run the same operation on
//! every lane (IEEE add, multiply, divide, fused multiply-add, the same bit
//! manipulations), and the two horizontal operations
//! ([`Simd::transpose_sum`], [`Simd::reduce`]) add the lanes in the same
//! fixed trees, so the two tiers give the same bits.
//!
//! A value of [`Avx512`] or [`Avx2`] (a *token*) proves that the CPU runs
//! its tier: the only constructors are `#[target_feature]` functions, which
//! safe code can call only from code compiled for those features. So the
//! methods are safe; only the raw-pointer loads and stores are not.

use std::arch::x86_64::*;

use super::L;

/// The operations of the kernels on 8 lanes of `f64` (`Self::V`).
///
/// # Safety
/// A value of the implementing type exists only on a CPU that runs AVX2,
/// FMA and every instruction its methods use (its constructor has
/// `#[target_feature]`); the kernels rely on it to call AVX2 functions such
/// as `estep::tile_columns`.
pub(crate) unsafe trait Simd: Copy {
    /// 8 lanes of `f64`.
    type V: Copy;

    /// Whether a vector is one register (32 of them, AVX-512), not two of
    /// 16 (AVX2): the kernels pick their register tiles by it.
    const WIDE: bool;

    fn zero(self) -> Self::V;
    fn splat(self, v: f64) -> Self::V;
    /// # Safety
    /// `p` points at 8 readable `f64`.
    unsafe fn load(self, p: *const f64) -> Self::V;
    /// # Safety
    /// `p` points at 8 writable `f64`.
    unsafe fn store(self, p: *mut f64, v: Self::V);
    /// The first `live ≤ 8` of the 8 `f32` at `p`, widened; the other lanes
    /// 0 (and not read).
    ///
    /// # Safety
    /// `p` points at `live` readable `f32`.
    unsafe fn load_f32(self, p: *const f32, live: usize) -> Self::V;
    /// The 8 `f32` lanes of `v`, widened.
    fn widen(self, v: __m256) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c`, rounded once.
    fn fmadd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `v` in lanes `0..live`, `+0` in the others.
    fn keep_first(self, v: Self::V, live: usize) -> Self::V;
    /// Bit `l` set where lane `l` of `v` is finite (`v − v == 0`).
    fn finite_lanes(self, v: Self::V) -> u8;
    /// `+0` where `x < limit`, else `v`.
    fn zero_below(self, x: Self::V, limit: f64, v: Self::V) -> Self::V;
    /// `a` where `x > limit`, else `b`.
    fn select_above(self, x: Self::V, limit: f64, a: Self::V, b: Self::V) -> Self::V;
    /// `T[bits(t) mod 16]` for the 16-entry table `T`.
    fn lookup16(self, table: &[f64; 16], t: Self::V) -> Self::V;
    /// `v · 2^e` with `e = bits(t) >> 4` (arithmetic on the bits: the
    /// exponent field of `v` plus `e`, wrapping).
    fn add_exponent(self, v: Self::V, t: Self::V) -> Self::V;
    /// For positive normal `x = 2^e m`, `m ∈ [1, 2)`: `(e, m)`, `e` as a
    /// double (the biased exponent over `2^52`, minus `2^52 + 1023`).
    fn exponent_mantissa(self, x: Self::V) -> (Self::V, Self::V);
    /// Lane `r` = the sum of the lanes of `a[r]`, in the tree
    /// `((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))`.
    fn transpose_sum(self, a: &[Self::V; L]) -> Self::V;
    /// The sum of the lanes, `((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))`.
    fn reduce(self, v: Self::V) -> f64;
}

/// The AVX-512 tier (AVX-512F, AVX2, FMA).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// The token, in code compiled for AVX-512F, AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(crate) fn new() -> Self {
        Avx512(())
    }
}

/// The AVX2 + FMA tier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token, in code compiled for AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn new() -> Self {
        Avx2(())
    }
}

/// Mantissa bits, the exponent field of 1, and `2^52` (as an integer's bits).
const MANTISSA: i64 = 0x000f_ffff_ffff_ffff;
const ONE: i64 = 0x3ff0_0000_0000_0000;
const TWO52: i64 = 0x4330_0000_0000_0000;
/// `2^52 + 1023`: the biased exponent, read as `2^52 + e_b`, minus this.
const EXPONENT_BIAS: f64 = 4_503_599_627_370_496.0 + 1023.0;

// SAFETY: `Avx512` is constructed only by `Avx512::new`, a
// `#[target_feature(enable = "avx512f,avx2,fma")]` function; its methods use
// AVX-512F, AVX2 and FMA instructions only.
unsafe impl Simd for Avx512 {
    type V = __m512d;
    const WIDE: bool = true;

    // SAFETY (every `unsafe` block below that calls an intrinsic): the
    // token `self` exists, so the CPU runs AVX-512F, AVX2 and FMA.
    #[inline(always)]
    fn zero(self) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    fn splat(self, v: f64) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f64) -> __m512d {
        // SAFETY: the token; `p` points at 8 f64 (the caller's contract).
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64, v: __m512d) {
        // SAFETY: the token; `p` points at 8 f64 (the caller's contract).
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn load_f32(self, p: *const f32, live: usize) -> __m512d {
        let mask: __mmask16 = (1u16 << live.min(L)) - 1;
        // SAFETY: the token; lanes `0..live` lie within the caller's `f32`
        // and masked-off lanes are not read.
        unsafe { _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(mask, p))) }
    }
    #[inline(always)]
    fn widen(self, v: __m256) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_cvtps_pd(v) }
    }
    #[inline(always)]
    fn add(self, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_sub_pd(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_mul_pd(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_div_pd(a, b) }
    }
    #[inline(always)]
    fn max(self, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_max_pd(a, b) }
    }
    #[inline(always)]
    fn fmadd(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    fn keep_first(self, v: __m512d, live: usize) -> __m512d {
        let mask = ((1u16 << live.min(L)) - 1) as __mmask8;
        // SAFETY: see above.
        unsafe { _mm512_maskz_mov_pd(mask, v) }
    }
    #[inline(always)]
    fn finite_lanes(self, v: __m512d) -> u8 {
        // SAFETY: see above.
        unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(_mm512_sub_pd(v, v), _mm512_setzero_pd()) }
    }
    #[inline(always)]
    fn zero_below(self, x: __m512d, limit: f64, v: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe {
            let keep = !_mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, _mm512_set1_pd(limit));
            _mm512_maskz_mov_pd(keep, v)
        }
    }
    #[inline(always)]
    fn select_above(self, x: __m512d, limit: f64, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe {
            let above = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, _mm512_set1_pd(limit));
            _mm512_mask_mov_pd(b, above, a)
        }
    }
    #[inline(always)]
    fn lookup16(self, t: &[f64; 16], x: __m512d) -> __m512d {
        // SAFETY: see above. `vpermt2pd` reads the low 4 bits of each lane.
        unsafe {
            let lo = _mm512_loadu_pd(t.as_ptr());
            let hi = _mm512_loadu_pd(t.as_ptr().add(L));
            _mm512_permutex2var_pd(lo, _mm512_castpd_si512(x), hi)
        }
    }
    #[inline(always)]
    fn add_exponent(self, v: __m512d, t: __m512d) -> __m512d {
        // SAFETY: see above.
        unsafe {
            let e = _mm512_slli_epi64::<52>(_mm512_srli_epi64::<4>(_mm512_castpd_si512(t)));
            _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(v), e))
        }
    }
    #[inline(always)]
    fn exponent_mantissa(self, x: __m512d) -> (__m512d, __m512d) {
        // SAFETY: see above.
        unsafe {
            let bits = _mm512_castpd_si512(x);
            let eb = _mm512_castsi512_pd(_mm512_or_si512(
                _mm512_srli_epi64::<52>(bits),
                _mm512_set1_epi64(TWO52),
            ));
            let m = _mm512_castsi512_pd(_mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi64(MANTISSA)),
                _mm512_set1_epi64(ONE),
            ));
            (_mm512_sub_pd(eb, _mm512_set1_pd(EXPONENT_BIAS)), m)
        }
    }
    #[inline(always)]
    fn transpose_sum(self, a: &[__m512d; L]) -> __m512d {
        // SAFETY: see above.
        unsafe {
            let b01 = pair(a[0], a[1]);
            let b23 = pair(a[2], a[3]);
            let b45 = pair(a[4], a[5]);
            let b67 = pair(a[6], a[7]);
            quad(quad(b01, b23), quad(b45, b67))
        }
    }
    #[inline(always)]
    fn reduce(self, v: __m512d) -> f64 {
        // SAFETY: see above.
        unsafe {
            let h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
            let q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd::<1>(h));
            _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)))
        }
    }
}

/// Adjacent lanes of two rows: `(x0 + x1, y0 + y1, x2 + x3, y2 + y3, …)`.
///
/// # Safety
/// AVX-512F runs.
#[inline(always)]
unsafe fn pair(x: __m512d, y: __m512d) -> __m512d {
    // SAFETY: the caller's contract.
    unsafe { _mm512_add_pd(_mm512_unpacklo_pd(x, y), _mm512_unpackhi_pd(x, y)) }
}

/// 128-bit blocks 0 + 1 and 2 + 3 of each of two inputs.
///
/// # Safety
/// AVX-512F runs.
#[inline(always)]
unsafe fn quad(x: __m512d, y: __m512d) -> __m512d {
    // SAFETY: the caller's contract.
    unsafe {
        _mm512_add_pd(
            _mm512_shuffle_f64x2::<0x88>(x, y),
            _mm512_shuffle_f64x2::<0xDD>(x, y),
        )
    }
}

/// Lanes 0–3 and 4–7.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair(__m256d, __m256d);

// The AVX2 tier's operations on one half. Functions, not closures: they
// must be inlined (`#[inline(always)]`) into the `#[target_feature]` entry
// points, whose instructions they then become; LLVM left closures as calls.

/// `T[bits(x) mod 16]`: four 4-entry in-register permutations, then blends
/// on bits 2 and 3.
///
/// # Safety
/// AVX2 and FMA run.
#[inline(always)]
unsafe fn lookup16_half(t: &[f64; 16], x: __m256d) -> __m256d {
    // SAFETY: the caller's contract; the loads read 4 of the 16 entries.
    unsafe {
        let bits = _mm256_castpd_si256(x);
        // Entry w = bits mod 4 of a 4-entry group: 32-bit lanes 2w, 2w + 1.
        let w2 = _mm256_slli_epi64::<1>(_mm256_and_si256(bits, _mm256_set1_epi64x(3)));
        let one = _mm256_set1_epi64x(1);
        let idx = _mm256_or_si256(w2, _mm256_slli_epi64::<32>(_mm256_or_si256(w2, one)));
        let t0 = _mm256_castpd_ps(_mm256_loadu_pd(t.as_ptr()));
        let t1 = _mm256_castpd_ps(_mm256_loadu_pd(t.as_ptr().add(4)));
        let t2 = _mm256_castpd_ps(_mm256_loadu_pd(t.as_ptr().add(8)));
        let t3 = _mm256_castpd_ps(_mm256_loadu_pd(t.as_ptr().add(12)));
        let g0 = _mm256_castps_pd(_mm256_permutevar8x32_ps(t0, idx));
        let g1 = _mm256_castps_pd(_mm256_permutevar8x32_ps(t1, idx));
        let g2 = _mm256_castps_pd(_mm256_permutevar8x32_ps(t2, idx));
        let g3 = _mm256_castps_pd(_mm256_permutevar8x32_ps(t3, idx));
        // Bits 2 and 3 moved to the sign bit, which `blendv` reads.
        let b2 = _mm256_castsi256_pd(_mm256_slli_epi64::<61>(bits));
        let b3 = _mm256_castsi256_pd(_mm256_slli_epi64::<60>(bits));
        let lo = _mm256_blendv_pd(g0, g1, b2);
        let hi = _mm256_blendv_pd(g2, g3, b2);
        _mm256_blendv_pd(lo, hi, b3)
    }
}

/// Lane `r` of the 4 rows `a[r]`: `(a_r0 + a_r1) + (a_r2 + a_r3)`.
///
/// # Safety
/// AVX2 and FMA run.
#[inline(always)]
unsafe fn transpose_sum4(a0: __m256d, a1: __m256d, a2: __m256d, a3: __m256d) -> __m256d {
    // SAFETY: the caller's contract.
    unsafe {
        // [a0_0 + a0_1, a1_0 + a1_1, a0_2 + a0_3, a1_2 + a1_3]
        let h01 = _mm256_hadd_pd(a0, a1);
        let h23 = _mm256_hadd_pd(a2, a3);
        _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(h01, h23),
            _mm256_permute2f128_pd::<0x31>(h01, h23),
        )
    }
}

/// Lanes 0–3 of rows `r..r + 4` of `a`: the 8-lane sums of
/// [`Simd::transpose_sum`] (lanes 0–3, then 4–7, then their sum).
///
/// # Safety
/// AVX2 and FMA run; `r + 4 ≤ L`.
#[inline(always)]
unsafe fn transpose_sum_rows(a: &[Pair; L], r: usize) -> __m256d {
    // SAFETY: the caller's contract.
    unsafe {
        let lo = transpose_sum4(a[r].0, a[r + 1].0, a[r + 2].0, a[r + 3].0);
        let hi = transpose_sum4(a[r].1, a[r + 1].1, a[r + 2].1, a[r + 3].1);
        _mm256_add_pd(lo, hi)
    }
}

/// See [`Simd::exponent_mantissa`].
///
/// # Safety
/// AVX2 and FMA run.
#[inline(always)]
unsafe fn exponent_mantissa_half(x: __m256d) -> (__m256d, __m256d) {
    // SAFETY: the caller's contract.
    unsafe {
        let bits = _mm256_castpd_si256(x);
        let eb = _mm256_castsi256_pd(_mm256_or_si256(
            _mm256_srli_epi64::<52>(bits),
            _mm256_set1_epi64x(TWO52),
        ));
        let m = _mm256_castsi256_pd(_mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi64x(MANTISSA)),
            _mm256_set1_epi64x(ONE),
        ));
        (_mm256_sub_pd(eb, _mm256_set1_pd(EXPONENT_BIAS)), m)
    }
}

/// See [`Simd::add_exponent`].
///
/// # Safety
/// AVX2 and FMA run.
#[inline(always)]
unsafe fn add_exponent_half(v: __m256d, t: __m256d) -> __m256d {
    // SAFETY: the caller's contract.
    unsafe {
        let e = _mm256_slli_epi64::<52>(_mm256_srli_epi64::<4>(_mm256_castpd_si256(t)));
        _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(v), e))
    }
}

/// Bits 0–3 set where the lanes of `x` are finite.
///
/// # Safety
/// AVX2 and FMA run.
#[inline(always)]
unsafe fn finite_half(x: __m256d) -> u8 {
    // SAFETY: the caller's contract.
    unsafe {
        let zero = _mm256_cmp_pd::<_CMP_EQ_OQ>(_mm256_sub_pd(x, x), _mm256_setzero_pd());
        _mm256_movemask_pd(zero) as u8
    }
}

/// Both halves by the same AVX2 intrinsic.
macro_rules! halves {
    ($f:ident($($a:expr),+)) => {
        // SAFETY: the token `self` exists: AVX2 and FMA run.
        unsafe { Pair($f($($a.0),+), $f($($a.1),+)) }
    };
}

// SAFETY: `Avx2` is constructed only by `Avx2::new`, a
// `#[target_feature(enable = "avx2,fma")]` function; its methods use AVX,
// AVX2 and FMA instructions only.
unsafe impl Simd for Avx2 {
    type V = Pair;
    const WIDE: bool = false;

    // SAFETY (every `unsafe` block below): the token `self` exists, so the
    // CPU runs AVX2 and FMA.
    #[inline(always)]
    fn zero(self) -> Pair {
        // SAFETY: see above.
        unsafe { Pair(_mm256_setzero_pd(), _mm256_setzero_pd()) }
    }
    #[inline(always)]
    fn splat(self, v: f64) -> Pair {
        // SAFETY: see above.
        unsafe { Pair(_mm256_set1_pd(v), _mm256_set1_pd(v)) }
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f64) -> Pair {
        // SAFETY: the token; `p` points at 8 f64 (the caller's contract).
        unsafe { Pair(_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4))) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64, v: Pair) {
        // SAFETY: the token; `p` points at 8 f64 (the caller's contract).
        unsafe {
            _mm256_storeu_pd(p, v.0);
            _mm256_storeu_pd(p.add(4), v.1);
        }
    }
    #[inline(always)]
    unsafe fn load_f32(self, p: *const f32, live: usize) -> Pair {
        // SAFETY: the token; `vmaskmovps` reads only the lanes whose mask
        // is set, lanes `0..live`, which lie within the caller's `f32`.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(live.min(L) as i32), lane);
            self.widen(_mm256_maskload_ps(p, mask))
        }
    }
    #[inline(always)]
    fn widen(self, v: __m256) -> Pair {
        // SAFETY: see above.
        unsafe {
            Pair(
                _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
            )
        }
    }
    #[inline(always)]
    fn add(self, a: Pair, b: Pair) -> Pair {
        halves!(_mm256_add_pd(a, b))
    }
    #[inline(always)]
    fn sub(self, a: Pair, b: Pair) -> Pair {
        halves!(_mm256_sub_pd(a, b))
    }
    #[inline(always)]
    fn mul(self, a: Pair, b: Pair) -> Pair {
        halves!(_mm256_mul_pd(a, b))
    }
    #[inline(always)]
    fn div(self, a: Pair, b: Pair) -> Pair {
        halves!(_mm256_div_pd(a, b))
    }
    #[inline(always)]
    fn max(self, a: Pair, b: Pair) -> Pair {
        halves!(_mm256_max_pd(a, b))
    }
    #[inline(always)]
    fn fmadd(self, a: Pair, b: Pair, c: Pair) -> Pair {
        halves!(_mm256_fmadd_pd(a, b, c))
    }
    #[inline(always)]
    fn keep_first(self, v: Pair, live: usize) -> Pair {
        // SAFETY: see above.
        unsafe {
            let n = _mm256_set1_pd(live as f64);
            let lo = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_setr_pd(0.0, 1.0, 2.0, 3.0), n);
            let hi = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_setr_pd(4.0, 5.0, 6.0, 7.0), n);
            Pair(_mm256_and_pd(v.0, lo), _mm256_and_pd(v.1, hi))
        }
    }
    #[inline(always)]
    fn finite_lanes(self, v: Pair) -> u8 {
        // SAFETY: see above.
        unsafe { finite_half(v.0) | (finite_half(v.1) << 4) }
    }
    #[inline(always)]
    fn zero_below(self, x: Pair, limit: f64, v: Pair) -> Pair {
        // SAFETY: see above.
        unsafe {
            let l = _mm256_set1_pd(limit);
            Pair(
                _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x.0, l), v.0),
                _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x.1, l), v.1),
            )
        }
    }
    #[inline(always)]
    fn select_above(self, x: Pair, limit: f64, a: Pair, b: Pair) -> Pair {
        // SAFETY: see above.
        unsafe {
            let l = _mm256_set1_pd(limit);
            Pair(
                _mm256_blendv_pd(b.0, a.0, _mm256_cmp_pd::<_CMP_GT_OQ>(x.0, l)),
                _mm256_blendv_pd(b.1, a.1, _mm256_cmp_pd::<_CMP_GT_OQ>(x.1, l)),
            )
        }
    }
    #[inline(always)]
    fn lookup16(self, t: &[f64; 16], x: Pair) -> Pair {
        // SAFETY: see above.
        unsafe { Pair(lookup16_half(t, x.0), lookup16_half(t, x.1)) }
    }
    #[inline(always)]
    fn add_exponent(self, v: Pair, t: Pair) -> Pair {
        // SAFETY: see above.
        unsafe { Pair(add_exponent_half(v.0, t.0), add_exponent_half(v.1, t.1)) }
    }
    #[inline(always)]
    fn exponent_mantissa(self, x: Pair) -> (Pair, Pair) {
        // SAFETY: see above.
        let ((e0, m0), (e1, m1)) =
            unsafe { (exponent_mantissa_half(x.0), exponent_mantissa_half(x.1)) };
        (Pair(e0, e1), Pair(m0, m1))
    }
    #[inline(always)]
    fn transpose_sum(self, a: &[Pair; L]) -> Pair {
        // Rows 0–3 to lanes 0–3, rows 4–7 to lanes 4–7; each lane
        // `(a_r0..3 tree) + (a_r4..7 tree)`, as on AVX-512.
        // SAFETY: see above; 4 + 4 ≤ L.
        unsafe { Pair(transpose_sum_rows(a, 0), transpose_sum_rows(a, 4)) }
    }
    #[inline(always)]
    fn reduce(self, v: Pair) -> f64 {
        // SAFETY: see above.
        unsafe {
            let h = _mm256_add_pd(v.0, v.1);
            let q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd::<1>(h));
            _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)))
        }
    }
}

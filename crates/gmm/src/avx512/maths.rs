//! Vector maths of the kernels: `exp` (with the scalar code's bits), `ln`,
//! and the horizontal sums.

use std::arch::x86_64::*;

use super::L;

/// Lane `r` = sum of the lanes of `a[r]`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) fn transpose_sum(a: &[__m512d; L]) -> __m512d {
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

/// `exp(x)` for `x ≤ 0`: the operations of `simd::exp_nonpositive::<true>`
/// lane by lane (same bits for finite and −∞ inputs): the table lookup by
/// `vpermt2pd` on the low 4 bits of `t`, `2^e` added to the exponent field.
/// Lanes below the floor are not clamped but masked to 0 at the end.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) fn exp_nonpositive(x: __m512d) -> __m512d {
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
pub(super) fn ln_positive(x: __m512d) -> __m512d {
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

/// `Σ v` by 8 lanes (then the lanes in a tree, then the tail in order).
///
/// # Safety
/// AVX-512F is available.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn sum(v: &[f64]) -> f64 {
    let mut acc = _mm512_setzero_pd();
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: `c` has L entries.
        acc = _mm512_add_pd(acc, unsafe { _mm512_loadu_pd(c.as_ptr()) });
    }
    _mm512_reduce_add_pd(acc) + chunks.remainder().iter().sum::<f64>()
}

//! Vector maths of the kernels: `exp` (with the scalar code's bits), `ln`,
//! and sums, on either tier's vectors.

use super::L;
use super::vector::Simd;

/// `exp(x)` for `x ≤ 0`: the operations of `simd::exp_nonpositive::<true>`
/// lane by lane (same bits for finite and −∞ inputs): the table lookup on
/// the low 4 bits of `t`, `2^e` added to the exponent field. Lanes below the
/// floor are not clamped but set to 0 at the end.
#[inline(always)]
pub(super) fn exp_nonpositive<S: Simd>(s: S, x: S::V) -> S::V {
    use crate::simd::EXP2_SIXTEENTHS as T;
    use crate::simd::exp_consts::*;
    let shift = s.splat(SHIFT);
    let t = s.fmadd(x, s.splat(SIXTEEN_LOG2E), shift);
    let n = s.sub(t, shift);
    let r = s.fmadd(n, s.splat(-LN2_16_HI), x);
    let r = s.fmadd(n, s.splat(-LN2_16_LO), r);
    let mut p = s.splat(Q[5]);
    for &c in Q[..5].iter().rev() {
        p = s.fmadd(p, r, s.splat(c));
    }
    let q = s.mul(p, r);
    let tj = s.lookup16(&T, t);
    let v = s.fmadd(tj, q, tj);
    s.zero_below(x, FLOOR, s.add_exponent(v, t))
}

/// `ln(x)` for positive normal `x` (here the sums of a log-sum-exp, in
/// `[1, k]`): `x = 2^e m` with `m ∈ [√½, √2)`, `ln m = 2 atanh(f)`,
/// `f = (m − 1)/(m + 1)`, by its series in `f²` (|f| ≤ 0.172, eleven terms
/// past the first reach 2^-53), plus `e ln 2` in two parts. Within 2 ulp
/// of the correctly rounded value (tested against `f64::ln`).
#[inline(always)]
pub(crate) fn ln_positive<S: Simd>(s: S, x: S::V) -> S::V {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let (e, m) = s.exponent_mantissa(x);
    let sqrt2 = std::f64::consts::SQRT_2;
    let (m, e) = (
        s.select_above(m, sqrt2, s.mul(m, s.splat(0.5)), m),
        s.select_above(m, sqrt2, s.add(e, s.splat(1.0)), e),
    );
    let one = s.splat(1.0);
    let f = s.div(s.sub(m, one), s.add(m, one));
    let sq = s.mul(f, f);
    let mut p = s.splat(1.0 / 23.0);
    for n in (1..11).rev() {
        p = s.fmadd(p, sq, s.splat(1.0 / (2 * n + 1) as f64));
    }
    // ln m = 2f + 2f·s·p.
    let f2 = s.add(f, f);
    let lnm = s.fmadd(s.mul(f2, sq), p, f2);
    let lo = s.fmadd(e, s.splat(LN2_LO), lnm);
    s.fmadd(e, s.splat(LN2_HI), lo)
}

/// `Σ v` by 8 lanes (then the lanes in [`Simd::reduce`]'s tree, then the
/// tail in order).
#[inline(always)]
pub(super) fn sum<S: Simd>(s: S, v: &[f64]) -> f64 {
    let mut acc = s.zero();
    let mut chunks = v.chunks_exact(L);
    for c in &mut chunks {
        // SAFETY: `c` has L entries.
        acc = s.add(acc, unsafe { s.load(c.as_ptr()) });
    }
    s.reduce(acc) + chunks.remainder().iter().sum::<f64>()
}

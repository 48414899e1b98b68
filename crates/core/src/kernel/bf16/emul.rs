//! Scalar emulation of the bf16 instructions: the conversion
//! (`VCVTNE2PS2BF16`) and the dot product (`VDPBF16PS`) as Intel's SDM
//! describes them: round to nearest even, denormal inputs treated as zero,
//! denormal results flushed to zero, MXCSR ignored. The test oracle of the
//! kernels, and the centres' conversion.

use super::{Bf16Centers, Bf16Scratch, PANEL};

/// `v` rounded to bf16 as `VCVTNE2PS2BF16` does: zero and denormal inputs
/// give a zero of the same sign, infinities stay, NaNs stay NaN (quieted),
/// normal values round to nearest even (possibly to ±∞).
pub(super) fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        ((b >> 16) as u16) | 0x0040
    } else if b & 0x7f80_0000 == 0 {
        ((b >> 16) & 0x8000) as u16
    } else if v.is_infinite() {
        (b >> 16) as u16
    } else {
        // Cannot overflow: the largest finite magnitude plus the bias stays
        // below 2³², and rounds to the bits of ±∞ when it should.
        let lsb = (b >> 16) & 1;
        ((b + 0x7fff + lsb) >> 16) as u16
    }
}

/// The f32 value of a bf16 (exact).
pub(super) fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// One FP32 FMA of the bf16 instructions: `a·b + acc` rounded once to nearest
/// even (the product of two bf16 is exact), a denormal result flushed to a
/// zero of its sign. (Inputs are never denormal here: bf16 values come from
/// [`to_bf16`], accumulators from this function.)
///
/// Tininess is taken after rounding (x86's rule): a result that rounds to
/// the smallest normal is kept. Whether the bf16 units decide tininess before
/// or after rounding is not documented; the two differ only for exact
/// results within 2⁻¹⁵⁰ below 2⁻¹²⁶, and the error bound covers both.
pub(super) fn fma_ftz(a: f32, b: f32, acc: f32) -> f32 {
    let r = a.mul_add(b, acc);
    if r.is_subnormal() {
        0.0f32.copysign(r)
    } else {
        r
    }
}

/// `v` split into `(hi, lo)`: `hi = bf16(v)`, `lo = bf16(v − hi)` (the
/// difference is exact in f32).
pub(super) fn split(v: f32) -> (u16, u16) {
    let hi = to_bf16(v);
    (hi, to_bf16(v - from_bf16(hi)))
}

/// Converts row `row` (`d` values) to bf16 into `out` (`d_pad` values,
/// zero-padded): `bf16(x)`, or when `split` the `3d` values
/// `(x_hi, x_hi, x_lo)`.
pub(super) fn convert_row(row: &[f32], split: bool, out: &mut [u16]) {
    let d = row.len();
    if split {
        for (p, &v) in row.iter().enumerate() {
            let (hi, lo) = self::split(v);
            (out[p], out[d + p], out[2 * d + p]) = (hi, hi, lo);
        }
        out[3 * d..].fill(0);
    } else {
        for (o, &v) in out[..d].iter_mut().zip(row) {
            *o = to_bf16(v);
        }
        out[d..].fill(0);
    }
}

/// The emulated `VDPBF16PS` chain for `m` rows (see `dots_emulated`).
pub(super) fn dots(
    x: &[f32],
    m: usize,
    centers: &Bf16Centers,
    out: &mut [f32],
    scratch: &mut Bf16Scratch,
) {
    let (d, d_pad, k) = (centers.d, centers.d_pad, centers.k);
    debug_assert!(centers.k_pad.is_multiple_of(PANEL));
    let c: Vec<f32> = (0..k)
        .flat_map(|j| (0..d_pad).map(move |p| from_bf16(centers.value(j, p))))
        .collect();
    let row = scratch.rows(d_pad);
    for i in 0..m {
        convert_row(&x[i * d..(i + 1) * d], centers.split, row);
        let xr: Vec<f32> = row.iter().map(|&h| from_bf16(h)).collect();
        for (j, cj) in c.chunks_exact(d_pad).enumerate() {
            let mut acc = 0.0f32;
            for (xq, cq) in xr.chunks_exact(2).zip(cj.chunks_exact(2)) {
                acc = fma_ftz(xq[1], cq[1], acc);
                acc = fma_ftz(xq[0], cq[0], acc);
            }
            out[i * k + j] = acc;
        }
    }
}

/// Orders in which an AMX tile unit might sum, after the SDM's editions, for
/// the tests to compare with (the bound does not depend on them).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AmxOrder {
    /// Older SDM: one FMA chain per output, even element of a pair first.
    Chain,
    /// Newer SDM: per instruction (32 dimensions), two chains (even and odd
    /// elements) from zero, then `(acc + even) + odd`.
    TwoChainsAccFirst,
    /// As `TwoChainsAccFirst`, then `acc + (even + odd)`.
    TwoChainsPairFirst,
}

/// The product of bf16 rows `a` and `b` (`d_pad` values, a multiple of 32)
/// summed in the order `order`.
#[cfg(test)]
pub(super) fn amx_dot(a: &[u16], b: &[u16], order: AmxOrder) -> f32 {
    let f = |h: u16| from_bf16(h);
    let mut acc = 0.0f32;
    for (ab, bb) in a.chunks_exact(32).zip(b.chunks_exact(32)) {
        match order {
            AmxOrder::Chain => {
                for q in 0..16 {
                    acc = fma_ftz(f(ab[2 * q]), f(bb[2 * q]), acc);
                    acc = fma_ftz(f(ab[2 * q + 1]), f(bb[2 * q + 1]), acc);
                }
            }
            AmxOrder::TwoChainsAccFirst | AmxOrder::TwoChainsPairFirst => {
                let (mut even, mut odd) = (0.0f32, 0.0f32);
                for q in 0..16 {
                    even = fma_ftz(f(ab[2 * q]), f(bb[2 * q]), even);
                    odd = fma_ftz(f(ab[2 * q + 1]), f(bb[2 * q + 1]), odd);
                }
                acc = if order == AmxOrder::TwoChainsAccFirst {
                    fma_ftz(1.0, odd, fma_ftz(1.0, even, acc))
                } else {
                    fma_ftz(1.0, acc, fma_ftz(1.0, even, odd))
                };
            }
        }
    }
    acc
}

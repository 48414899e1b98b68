//! The arithmetic of the Nyström map, blocked for the vector units:
//!
//! * [`exp_nonpositive`]: e^x for x ≤ 0 over a slice, in plain `f64`
//!   operations the compiler vectorises (Cody–Waite reduction, a degree-13
//!   Taylor polynomial, the power of two put in the exponent bits), within
//!   about 2 ulps of the correctly rounded value;
//! * [`PackedW`] and [`PackedW::multiply`]: the product K·W of a block of
//!   kernel rows by W, register-blocked (4 rows × 16 columns of accumulators
//!   on AVX-512, 3 × 16 on AVX2) with W packed in panels of 16 columns.
//!
//! Both give the same bits on every instruction set: each output element is
//! a fixed sequence of separate `f64` multiplies and adds (no fused
//! multiply-add, which Rust never contracts to on its own), and the vector
//! lanes hold different outputs, so the width only changes how many are
//! computed at once. [`multiply_reference`] is the scalar oracle.

use mmclust_core::isa::Isa;

/// Columns of W per packed panel.
pub(crate) const PANEL: usize = 16;

/// W (M × M′, row-major) in panels of [`PANEL`] columns: panel p holds
/// columns 16p..16p+16 as M contiguous rows of 16 values, zero-padded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PackedW {
    panels: Vec<f64>,
    m: usize,
    mp: usize,
}

impl PackedW {
    /// Packs the M × M′ row-major `w`.
    pub(crate) fn new(w: &[f64], m: usize, mp: usize) -> Self {
        let np = mp.div_ceil(PANEL);
        let mut panels = vec![0.0f64; np * m * PANEL];
        for p in 0..np {
            let cols = (p * PANEL)..((p + 1) * PANEL).min(mp);
            for j in 0..m {
                let dst = &mut panels[(p * m + j) * PANEL..][..cols.len()];
                dst.copy_from_slice(&w[j * mp + cols.start..j * mp + cols.end]);
            }
        }
        PackedW { panels, m, mp }
    }

    /// `out` (`nb` × M′) = `k` (`nb` × M, row-major) · W, each element summed
    /// over the M landmarks in order, starting from 0 (the bits of
    /// [`multiply_reference`]).
    pub(crate) fn multiply(&self, isa: Isa, k: &[f64], nb: usize, out: &mut [f64]) {
        debug_assert_eq!(k.len(), nb * self.m);
        debug_assert_eq!(out.len(), nb * self.mp);
        #[cfg(target_arch = "x86_64")]
        match isa {
            Isa::Avx512 | Isa::Avx512Bf16 | Isa::Amx => {
                // SAFETY: these paths are only selected (Isa::current, the
                // tests' Isa::test_paths) on a CPU with AVX-512F.
                return unsafe { multiply_avx512(self, k, nb, out) };
            }
            Isa::Avx2 => {
                // SAFETY: the AVX2 path is only selected on a CPU with AVX2.
                return unsafe { multiply_avx2(self, k, nb, out) };
            }
            _ => {}
        }
        let _ = isa;
        multiply_rows(self, k, nb, out);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn multiply_avx512(w: &PackedW, k: &[f64], nb: usize, out: &mut [f64]) {
    use std::arch::x86_64::{
        __m512d, _mm512_add_pd, _mm512_loadu_pd, _mm512_mul_pd, _mm512_set1_pd, _mm512_setzero_pd,
        _mm512_storeu_pd,
    };
    const R: usize = 4;
    let (m, mp) = (w.m, w.mp);
    let full = nb - nb % R;
    for (p, panel) in w.panels.chunks_exact(m * PANEL).enumerate() {
        let c0 = p * PANEL;
        let nc = PANEL.min(mp - c0);
        for r0 in (0..full).step_by(R) {
            let mut acc: [[__m512d; 2]; R] = [[_mm512_setzero_pd(); 2]; R];
            let base = k[r0 * m..(r0 + R) * m].as_ptr();
            let wp = panel.as_ptr();
            for j in 0..m {
                // SAFETY: j < m, so row r0 + r's j-th value and the panel's
                // j-th row of 16 are in bounds (the slices above are R·m and
                // m·16 long).
                let (w0, w1) = unsafe {
                    (
                        _mm512_loadu_pd(wp.add(j * PANEL)),
                        _mm512_loadu_pd(wp.add(j * PANEL + 8)),
                    )
                };
                for (r, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: as above.
                    let a = _mm512_set1_pd(unsafe { *base.add(r * m + j) });
                    acc[0] = _mm512_add_pd(acc[0], _mm512_mul_pd(a, w0));
                    acc[1] = _mm512_add_pd(acc[1], _mm512_mul_pd(a, w1));
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let mut tmp = [0.0f64; PANEL];
                // SAFETY: tmp holds 16 values.
                unsafe {
                    _mm512_storeu_pd(tmp.as_mut_ptr(), acc[0]);
                    _mm512_storeu_pd(tmp.as_mut_ptr().add(8), acc[1]);
                }
                out[(r0 + r) * mp + c0..][..nc].copy_from_slice(&tmp[..nc]);
            }
        }
    }
    if full < nb {
        multiply_rows(w, &k[full * m..], nb - full, &mut out[full * mp..]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn multiply_avx2(w: &PackedW, k: &[f64], nb: usize, out: &mut [f64]) {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_setzero_pd,
        _mm256_storeu_pd,
    };
    const R: usize = 3;
    let (m, mp) = (w.m, w.mp);
    let full = nb - nb % R;
    for (p, panel) in w.panels.chunks_exact(m * PANEL).enumerate() {
        let c0 = p * PANEL;
        let nc = PANEL.min(mp - c0);
        for r0 in (0..full).step_by(R) {
            let mut acc: [[__m256d; 4]; R] = [[_mm256_setzero_pd(); 4]; R];
            let base = k[r0 * m..(r0 + R) * m].as_ptr();
            let wp = panel.as_ptr();
            for j in 0..m {
                // SAFETY: j < m: in bounds of the R·m rows and the m·16 panel.
                let wv: [__m256d; 4] =
                    std::array::from_fn(|q| unsafe { _mm256_loadu_pd(wp.add(j * PANEL + 4 * q)) });
                for (r, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: as above.
                    let a = _mm256_set1_pd(unsafe { *base.add(r * m + j) });
                    for q in 0..4 {
                        acc[q] = _mm256_add_pd(acc[q], _mm256_mul_pd(a, wv[q]));
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let mut tmp = [0.0f64; PANEL];
                for (q, v) in acc.iter().enumerate() {
                    // SAFETY: tmp holds 16 values, 4q + 4 ≤ 16.
                    unsafe { _mm256_storeu_pd(tmp.as_mut_ptr().add(4 * q), *v) };
                }
                out[(r0 + r) * mp + c0..][..nc].copy_from_slice(&tmp[..nc]);
            }
        }
    }
    if full < nb {
        multiply_rows(w, &k[full * m..], nb - full, &mut out[full * mp..]);
    }
}

/// The portable product, one row at a time (also the vector paths' last
/// rows).
fn multiply_rows(w: &PackedW, k: &[f64], nb: usize, out: &mut [f64]) {
    let (m, mp) = (w.m, w.mp);
    for (p, panel) in w.panels.chunks_exact(m * PANEL).enumerate() {
        let c0 = p * PANEL;
        let nc = PANEL.min(mp - c0);
        for r in 0..nb {
            let mut acc = [0.0f64; PANEL];
            for (&a, wrow) in k[r * m..(r + 1) * m].iter().zip(panel.chunks_exact(PANEL)) {
                for (o, &wv) in acc.iter_mut().zip(wrow) {
                    *o += a * wv;
                }
            }
            out[r * mp + c0..][..nc].copy_from_slice(&acc[..nc]);
        }
    }
}

/// The scalar oracle of [`PackedW::multiply`]: `out` = `k` · `w` (M × M′
/// row-major), each element Σ_j k[r][j]·w[j][c] in order from 0.
#[cfg(test)]
pub(crate) fn multiply_reference(w: &[f64], m: usize, mp: usize, k: &[f64], out: &mut [f64]) {
    let nb = k.len() / m;
    for r in 0..nb {
        for c in 0..mp {
            let mut s = 0.0f64;
            for j in 0..m {
                s += k[r * m + j] * w[j * mp + c];
            }
            out[r * mp + c] = s;
        }
    }
}

/// Below this e^x is 0 here (e^−708 ≈ 3e−308 is the smallest normal result
/// the exponent trick makes; subnormal kernel values are flushed to 0).
const EXP_MIN: f64 = -708.0;

/// e^x in place for every x ≤ 0 of `v` (a value > 0 is treated as 0,
/// giving 1; NaN stays NaN).
pub(crate) fn exp_nonpositive(isa: Isa, v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        Isa::Avx512 | Isa::Avx512Bf16 | Isa::Amx => {
            // SAFETY: these paths are only selected on a CPU with AVX-512F.
            return unsafe { exp_avx512(v) };
        }
        Isa::Avx2 => {
            // SAFETY: only selected on a CPU with AVX2.
            return unsafe { exp_avx2(v) };
        }
        _ => {}
    }
    let _ = isa;
    exp_loop(v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_avx512(v: &mut [f64]) {
    exp_loop(v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn exp_avx2(v: &mut [f64]) {
    exp_loop(v);
}

#[inline(always)]
fn exp_loop(v: &mut [f64]) {
    for x in v {
        *x = exp_one(*x);
    }
}

/// e^x for x ≤ 0, branch-free.
#[inline(always)]
fn exp_one(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's split of ln 2: n·LN2_HI is exact for |n| < 2^11.
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Adding 1.5·2^52 rounds to an integer (to nearest even), which then
    // sits in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let xc = x.clamp(EXP_MIN, 0.0);
    let t = xc * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // Taylor to degree 13 on |r| ≤ ln2/2: truncation below 1e-17.
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // n ∈ [−1022, 0]: 2^n is the normal number with biased exponent n + 1023.
    let ni = (t.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let scale = f64::from_bits(((ni + 1023) as u64) << 52);
    let y = p * scale;
    if x.is_nan() {
        x
    } else if x < EXP_MIN {
        0.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_within_two_ulps_of_libm() {
        let mut xs: Vec<f64> = (0..200_000).map(|i| -(i as f64) * 0.003_7).collect();
        xs.extend([
            0.0,
            -0.0,
            -1e-300,
            -1e-12,
            -0.5 * std::f64::consts::LN_2,
            -707.9,
        ]);
        for &isa in Isa::test_paths() {
            if !isa.run_or_skip("exp_within_two_ulps_of_libm") {
                continue;
            }
            let mut v = xs.clone();
            exp_nonpositive(isa, &mut v);
            for (&x, &y) in xs.iter().zip(&v) {
                let want = x.exp();
                if x < EXP_MIN {
                    assert_eq!(y, 0.0, "{isa:?} e^{x}");
                    continue;
                }
                let ulps = (y.to_bits() as i64 - want.to_bits() as i64).abs();
                assert!(ulps <= 2, "{isa:?} e^{x} = {y}, libm {want} ({ulps} ulps)");
            }
        }
        let mut special = vec![f64::NAN, 3.0, -1e6, f64::NEG_INFINITY];
        exp_nonpositive(Isa::Scalar, &mut special);
        assert!(special[0].is_nan());
        assert_eq!(&special[1..], &[1.0, 0.0, 0.0]);
    }

    #[test]
    fn exp_same_bits_on_every_path() {
        let xs: Vec<f64> = (0..10_007).map(|i| -(i as f64).powf(1.3) * 1e-3).collect();
        let mut want = xs.clone();
        exp_nonpositive(Isa::Scalar, &mut want);
        for &isa in Isa::test_paths() {
            if !isa.run_or_skip("exp_same_bits_on_every_path") {
                continue;
            }
            let mut v = xs.clone();
            exp_nonpositive(isa, &mut v);
            assert_eq!(
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{isa:?}"
            );
        }
    }

    #[test]
    fn product_matches_the_reference_bit_for_bit() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for (m, mp, nb) in [
            (1, 1, 1),
            (7, 5, 3),
            (33, 17, 9),
            (300, 164, 37),
            (20, 32, 4),
        ] {
            let w: Vec<f64> = (0..m * mp).map(|_| next()).collect();
            let k: Vec<f64> = (0..nb * m).map(|_| next()).collect();
            let mut want = vec![0.0; nb * mp];
            multiply_reference(&w, m, mp, &k, &mut want);
            let packed = PackedW::new(&w, m, mp);
            for &isa in Isa::test_paths() {
                if !isa.run_or_skip("product_matches_the_reference_bit_for_bit") {
                    continue;
                }
                let mut got = vec![f64::NAN; nb * mp];
                packed.multiply(isa, &k, nb, &mut got);
                assert_eq!(
                    got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    "{isa:?} m {m} mp {mp} nb {nb}"
                );
            }
        }
    }
}

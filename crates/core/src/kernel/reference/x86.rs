//! The reference distance on AVX2 and AVX-512: the same IEEE operations as
//! the portable code, lane `l` of the accumulator being `s[l]`, four pairs of
//! rows at a time (independent chains cover the adds' latency).

use std::arch::x86_64::*;

use super::{ACC, tree};
use crate::isa::Isa;

/// Pairs per call of the inner loop.
const PAIRS: usize = 4;

/// `D(a_i, b_i)` for four pairs of rows of `d` values, with AVX-512F: one
/// `zmm` of eight `f64` accumulators per pair.
///
/// # Safety
/// AVX-512F available; every pointer starts `d` readable values.
#[target_feature(enable = "avx512f,avx2")]
unsafe fn four_avx512(a: [*const f32; PAIRS], b: [*const f32; PAIRS], d: usize) -> [f64; PAIRS] {
    let mut acc = [_mm512_setzero_pd(); PAIRS];
    let mut p = 0;
    // SAFETY: `p + 8 ≤ d`: within every row (caller).
    unsafe {
        while p + ACC <= d {
            for i in 0..PAIRS {
                let x = _mm512_cvtps_pd(_mm256_loadu_ps(a[i].add(p)));
                let c = _mm512_cvtps_pd(_mm256_loadu_ps(b[i].add(p)));
                let t = _mm512_sub_pd(x, c);
                acc[i] = _mm512_add_pd(acc[i], _mm512_mul_pd(t, t));
            }
            p += ACC;
        }
    }
    if p < d {
        for i in 0..PAIRS {
            let (x, c) = tails(a[i], b[i], p, d);
            // SAFETY: the tails are 8 values each.
            let (x, c) = unsafe {
                (
                    _mm512_cvtps_pd(_mm256_loadu_ps(x.as_ptr())),
                    _mm512_cvtps_pd(_mm256_loadu_ps(c.as_ptr())),
                )
            };
            let t = _mm512_sub_pd(x, c);
            acc[i] = _mm512_add_pd(acc[i], _mm512_mul_pd(t, t));
        }
    }
    std::array::from_fn(|i| {
        let mut s = [0.0f64; ACC];
        // SAFETY: `s` holds 8 values.
        unsafe { _mm512_storeu_pd(s.as_mut_ptr(), acc[i]) };
        tree(&s)
    })
}

/// As [`four_avx512`] with AVX2: two `ymm` of four `f64` per pair (lanes
/// 0–3 and 4–7).
///
/// # Safety
/// AVX2 available; every pointer starts `d` readable values.
#[target_feature(enable = "avx2")]
unsafe fn four_avx2(a: [*const f32; PAIRS], b: [*const f32; PAIRS], d: usize) -> [f64; PAIRS] {
    let mut lo = [_mm256_setzero_pd(); PAIRS];
    let mut hi = [_mm256_setzero_pd(); PAIRS];
    let step = |lo: &mut __m256d, hi: &mut __m256d, x: *const f32, c: *const f32| {
        // SAFETY: `x` and `c` start 8 readable values (callers below).
        unsafe {
            let t0 = _mm256_sub_pd(
                _mm256_cvtps_pd(_mm_loadu_ps(x)),
                _mm256_cvtps_pd(_mm_loadu_ps(c)),
            );
            let t1 = _mm256_sub_pd(
                _mm256_cvtps_pd(_mm_loadu_ps(x.add(4))),
                _mm256_cvtps_pd(_mm_loadu_ps(c.add(4))),
            );
            *lo = _mm256_add_pd(*lo, _mm256_mul_pd(t0, t0));
            *hi = _mm256_add_pd(*hi, _mm256_mul_pd(t1, t1));
        }
    };
    let mut p = 0;
    while p + ACC <= d {
        for i in 0..PAIRS {
            // SAFETY: `p + 8 ≤ d`: within every row (caller).
            let (x, c) = unsafe { (a[i].add(p), b[i].add(p)) };
            step(&mut lo[i], &mut hi[i], x, c);
        }
        p += ACC;
    }
    if p < d {
        for i in 0..PAIRS {
            let (x, c) = tails(a[i], b[i], p, d);
            step(&mut lo[i], &mut hi[i], x.as_ptr(), c.as_ptr());
        }
    }
    std::array::from_fn(|i| {
        let mut s = [0.0f64; ACC];
        // SAFETY: `s` holds 8 values: 4 at 0, 4 at 4.
        unsafe {
            _mm256_storeu_pd(s.as_mut_ptr(), lo[i]);
            _mm256_storeu_pd(s.as_mut_ptr().add(4), hi[i]);
        }
        tree(&s)
    })
}

/// The values `p..d` of two rows, zero-padded to 8.
#[inline(always)]
fn tails(a: *const f32, b: *const f32, p: usize, d: usize) -> ([f32; ACC], [f32; ACC]) {
    let mut x = [0.0f32; ACC];
    let mut c = [0.0f32; ACC];
    for q in p..d {
        // SAFETY: `q < d`: within both rows (callers' contract).
        unsafe {
            x[q - p] = *a.add(q);
            c[q - p] = *b.add(q);
        }
    }
    (x, c)
}

/// Runs [`four_avx512`] or [`four_avx2`] over `n` pairs given by `pair(i)`,
/// four at a time (the last group repeats its last pair), writing `put(i, D)`.
///
/// # Safety
/// The CPU runs `isa` (AVX-512F or AVX2); every pointer `pair` returns starts
/// `d` readable values.
pub(super) unsafe fn pairs(
    isa: Isa,
    n: usize,
    d: usize,
    pair: impl Fn(usize) -> (*const f32, *const f32),
    mut put: impl FnMut(usize, f64),
) {
    for i0 in (0..n).step_by(PAIRS) {
        let live = PAIRS.min(n - i0);
        let ab: [(*const f32, *const f32); PAIRS] =
            std::array::from_fn(|i| pair(i0 + i.min(live - 1)));
        let a = ab.map(|p| p.0);
        let b = ab.map(|p| p.1);
        // SAFETY: the CPU runs `isa`; the pointers start `d` values (caller).
        let v = unsafe {
            if isa == Isa::Avx512 {
                four_avx512(a, b, d)
            } else {
                four_avx2(a, b, d)
            }
        };
        for (i, &v) in v.iter().enumerate().take(live) {
            put(i0 + i, v);
        }
    }
}

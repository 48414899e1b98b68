//! The block kernels against the portable path, and the vector maths
//! against the scalar code.

use std::arch::x86_64::*;

use proptest::prelude::*;

use super::maths::{exp_nonpositive, ln_positive};
use super::*;
use crate::mixture::{BLOCK_ROWS, Mixture, Stats, Workspace, normalise_rows};
use crate::params::CovarianceType;
use mmclust_core::isa::Isa;

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
];

/// A valid mixture: means around `offset`, covariances `A Aᵀ + s I`.
pub(super) fn mixture(
    cov_type: CovarianceType,
    k: usize,
    d: usize,
    offset: f64,
    seed: u64,
) -> Mixture {
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

/// The vector function `$f` on the L lanes of `$v` (`&[f64; L]`); the
/// caller has checked that AVX-512 is available.
macro_rules! on_lanes {
    ($f:ident, $v:expr) => {{
        /// # Safety
        /// AVX-512F, AVX2 and FMA are available.
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn run(v: &[f64; L], out: &mut [f64; L]) {
            // SAFETY: arrays of L f64.
            unsafe { _mm512_storeu_pd(out.as_mut_ptr(), $f(_mm512_loadu_pd(v.as_ptr()))) };
        }
        let mut out = [0.0f64; L];
        // SAFETY: AVX-512F is available (the caller checked).
        unsafe { run($v, &mut out) };
        out
    }};
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
        if !Isa::Avx512.run_or_skip("block_kernels_match_the_portable_path") {
            return Ok(());
        }
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
    if !Isa::Avx512.run_or_skip("diag_quadratic_form_error_follows_its_bound") {
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
                            let p = mix.precisions_cholesky[if cov_type == CovarianceType::Diag {
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
    if !Isa::Avx512.run_or_skip("vector_ln_is_within_two_ulp") {
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
        let out = on_lanes!(ln_positive, &v);
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
    if !Isa::Avx512.run_or_skip("vector_exp_has_the_scalar_bits") {
        return;
    }
    let xs: Vec<f64> = (0..4096)
        .map(|i| -(i as f64) * 0.191)
        .chain([0.0, -707.9, -708.0, -708.1, -1e300, f64::NEG_INFINITY])
        .collect();
    for chunk in xs.chunks(L) {
        let mut v = [f64::NEG_INFINITY; L];
        v[..chunk.len()].copy_from_slice(chunk);
        let out = on_lanes!(exp_nonpositive, &v);
        for l in 0..chunk.len() {
            let want = crate::simd::exp_nonpositive_for_tests(v[l]);
            assert_eq!(out[l].to_bits(), want.to_bits(), "exp({})", v[l]);
        }
    }
}

//! The block kernels of both tiers against the portable path and against
//! each other (same bits), and the vector maths against the scalar code.

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

/// `f` on the lanes of `v` (`&[f64; L]`) on the tier `s`.
fn lanes<S: Simd>(s: S, v: &[f64; L], f: impl Fn(S, S::V) -> S::V) -> [f64; L] {
    let mut out = [0.0f64; L];
    // SAFETY: arrays of L f64.
    unsafe { s.store(out.as_mut_ptr(), f(s, s.load(v.as_ptr()))) };
    out
}

/// The vector function `$f` (generic over the tier) on the L lanes of `$v`
/// (`&[f64; L]`) on the tier `$isa`, which the caller checked this CPU runs.
macro_rules! on_lanes {
    ($isa:expr, $f:ident, $v:expr) => {{
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn zmm(v: &[f64; L]) -> [f64; L] {
            lanes(Avx512::new(), v, |s, x| $f(s, x))
        }
        #[target_feature(enable = "avx2,fma")]
        fn ymm(v: &[f64; L]) -> [f64; L] {
            lanes(Avx2::new(), v, |s, x| $f(s, x))
        }
        match $isa {
            // SAFETY: the caller checked that this CPU runs the tier.
            Isa::Avx512 => unsafe { zmm($v) },
            // SAFETY: as above.
            Isa::Avx2 => unsafe { ymm($v) },
            other => panic!("no tier {other}"),
        }
    }};
}

/// The tiers this CPU runs (a SKIP line for each other one).
fn tiers(test: &str) -> Vec<Isa> {
    TIERS.into_iter().filter(|t| t.run_or_skip(test)).collect()
}

/// Rows near the means of `mix` (several components matter per row).
fn rows_near(mix: &Mixture, m: usize, seed: u64) -> Vec<f32> {
    let (k, d) = (mix.k, mix.d);
    (0..m * d)
        .map(|i| {
            let (r, j) = (i / d, i % d);
            let c = (r * 7 + seed as usize) % k;
            let noise = ((i as f64 * 0.618 + seed as f64).sin()) * 4.0;
            (mix.means[c * d + j] + noise) as f32
        })
        .collect()
}

/// Everything a block kernel call produces: ll, the responsibilities and
/// per-row lse of the block, the chunk's statistics.
struct BlockResult {
    ll: f64,
    lp: Vec<f64>,
    lse: Vec<f64>,
    stats: Stats,
}

/// [`em_block_with`] on the tier `isa` (with `extra` rows of NaN after the
/// block, which are only prefetched), then [`finish_chunk`].
fn run_block(isa: Isa, mix: &Mixture, x: &[f32], m: usize, extra: usize) -> BlockResult {
    let prep = Prepared::new(mix);
    let mut ws = Scratch::new(&prep);
    let mut stats = Stats::new(mix.cov_type, mix.k, mix.d);
    let mut tail = x.to_vec();
    tail.extend(std::iter::repeat_n(f32::NAN, extra * mix.d));
    let ll = em_block_with(isa, &prep, &tail, m, &mut ws);
    finish_chunk(&prep, &mut ws, &mut stats);
    let ms = Scratch::stride(m);
    BlockResult {
        ll,
        lp: ws.lp[..mix.k * ms].to_vec(),
        lse: ws.lse[..ms].to_vec(),
        stats,
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn close(got: f64, want: f64, scale: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * scale.max(want.abs()).max(1e-300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The block kernels of every tier this CPU runs against the portable
    /// path (`log_prob_block`, `normalise_rows`, `accumulate_block` about
    /// the means), on random shapes (d across 8-lane boundaries, partial
    /// blocks), on data far from the origin and with a component so far
    /// from the others that its responsibilities underflow to 0 (and theirs
    /// on its rows); and the tiers against each other: the same bits.
    #[test]
    fn block_kernels_match_the_portable_path(
        k in 1usize..8, d in 1usize..27, m in 1usize..=BLOCK_ROWS,
        far in any::<bool>(), apart in any::<bool>(), seed in 0u64..10_000,
        extra in 0usize..200,
    ) {
        let tiers = tiers("block_kernels_match_the_portable_path");
        let offset = if far { 1e4 } else { 0.0 };
        for (t, cov_type) in TYPES.into_iter().enumerate() {
            let mut mix = mixture(cov_type, k, d, offset, seed * 4 + t as u64);
            if apart && k > 1 {
                // The last component 300 units away in every column: its
                // log-density on the other rows is below −40 000.
                let means: Vec<f64> = mix
                    .means
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if i / d == k - 1 { v + 300.0 } else { v })
                    .collect();
                mix = mixture_with_means(&mix, means);
            }
            let x = rows_near(&mix, m, seed);
            let ms = Scratch::stride(m);

            let mut rws = Workspace::new(k, d);
            let mut lp = vec![0.0f64; m * k];
            mix.log_prob_block(&x, m, &mut rws, &mut lp);
            let mut lse = Vec::new();
            let want_ll = normalise_rows(&mut lp, k, Some(&mut lse));
            let mut want = Stats::new(cov_type, k, d);
            want.accumulate_block(cov_type, &x, m, k, d, &lp, &mix.means, &mut rws);
            let scale = lse.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let s2max = want.s2.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            let quad: Vec<f64> = (0..m)
                .map(|i| 8.0 * f64::EPSILON * quadratic_form_scale(&mix, &x, i))
                .collect();
            let quad_ll: f64 = quad.iter().sum();

            let mut first: Option<(Isa, BlockResult)> = None;
            for &isa in &tiers {
                let got = run_block(isa, &mix, &x, m, extra);
                let ll = got.ll;
                prop_assert!(
                    (ll - want_ll).abs() <= 1e-12 * (m as f64 * scale).max(want_ll.abs()) + quad_ll,
                    "{isa} {cov_type} ll {ll} vs {want_ll}"
                );
                for i in 0..m {
                    // Diag/spherical: plus the quadratic form's rounding
                    // (see `diag_quadratic_form_error_follows_its_bound`),
                    // large where a component lies far from the others.
                    let quad = quad[i];
                    let (gl, wl) = (got.lse[i], lse[i]);
                    prop_assert!(
                        (gl - wl).abs() <= 1e-12 * scale.max(wl.abs()) + quad,
                        "{isa} {cov_type} lse row {i}: {gl} vs {wl}"
                    );
                    for c in 0..k {
                        let (g, w) = (got.lp[c * ms + i], lp[i * k + c]);
                        prop_assert!((g - w).abs() <= 1e-10 + quad, "{isa} {cov_type} resp ({i}, {c}): {g} vs {w}");
                        if w == 0.0 {
                            // Underflowed in the portable path: below e^-708
                            // of the row's largest term there too.
                            prop_assert!(g < 1e-300, "{isa} {cov_type} resp ({i}, {c}): {g}");
                        }
                    }
                }
                for i in m..ms {
                    for c in 0..k {
                        prop_assert_eq!(got.lp[c * ms + i], 0.0);
                    }
                }
                let st = &got.stats;
                for c in 0..k {
                    prop_assert!(close(st.nk[c], want.nk[c], m as f64, 1e-10), "{isa} {cov_type} nk {c}");
                }
                // Scales: the sums of |r·t| and r·t² of the reference.
                for (j, (&g, &w)) in st.s1.iter().zip(&want.s1).enumerate() {
                    prop_assert!(close(g, w, s2max.sqrt() * m as f64, 1e-9), "{isa} {cov_type} s1[{j}] {g} vs {w}");
                }
                for (j, (&g, &w)) in st.s2.iter().zip(&want.s2).enumerate() {
                    prop_assert!(close(g, w, s2max, 1e-9), "{isa} {cov_type} s2[{j}] {g} vs {w}");
                }
                match &first {
                    None => first = Some((isa, got)),
                    Some((base, b)) => {
                        let what = format!("{cov_type}: {isa} against {base}");
                        prop_assert_eq!(got.ll.to_bits(), b.ll.to_bits(), "ll, {}", what);
                        prop_assert!(bits(&got.lp) == bits(&b.lp), "responsibilities, {}", what);
                        prop_assert!(bits(&got.lse) == bits(&b.lse), "lse, {}", what);
                        prop_assert!(bits(&got.stats.nk) == bits(&b.stats.nk), "nk, {}", what);
                        prop_assert!(bits(&got.stats.s1) == bits(&b.stats.s1), "s1, {}", what);
                        prop_assert!(bits(&got.stats.s2) == bits(&b.stats.s2), "s2, {}", what);
                    }
                }
            }
        }
    }
}

/// Diag/spherical: the largest over the components of
/// `Σ_j p_cj² (|x̃_ij| + |μ̃_cj|)²` for row `i` (about the kernels' shift),
/// the scale of the quadratic form's rounding error; 0 for full/tied.
fn quadratic_form_scale(mix: &Mixture, x: &[f32], i: usize) -> f64 {
    if mix.cov_type.is_matrix() {
        return 0.0;
    }
    let (k, d) = (mix.k, mix.d);
    let prep = Prepared::new(mix);
    (0..k)
        .map(|c| {
            (0..d)
                .map(|j| {
                    let p = mix.precisions_cholesky[if mix.cov_type == CovarianceType::Diag {
                        c * d + j
                    } else {
                        c
                    }];
                    let xt = f64::from(x[i * d + j]) - prep.shift[j];
                    p * p * (xt.abs() + prep.mu[c * prep.dp + j].abs()).powi(2)
                })
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// `mix` with other means (same weights and covariances).
fn mixture_with_means(mix: &Mixture, means: Vec<f64>) -> Mixture {
    Mixture::new(
        mix.cov_type,
        mix.k,
        mix.d,
        mix.weights.clone(),
        means,
        mix.covariances.clone(),
        None,
    )
    .unwrap()
}

/// The e-step alone (the log-likelihood pass and the per-row pass) gives
/// the bits of the fused EM block, on every tier.
#[test]
fn e_step_matches_the_em_block() {
    for isa in tiers("e_step_matches_the_em_block") {
        for (t, cov_type) in TYPES.into_iter().enumerate() {
            let (k, d, m) = (5, 11, 77);
            let mix = mixture(cov_type, k, d, 3.0, 17 + t as u64);
            let x = rows_near(&mix, m, 5);
            let prep = Prepared::new(&mix);
            let mut ws = Scratch::new(&prep);
            let ll = e_step_with(isa, &prep, &x, m, &mut ws);
            let full = run_block(isa, &mix, &x, m, 0);
            let ms = Scratch::stride(m);
            assert_eq!(ll.to_bits(), full.ll.to_bits(), "{isa} {cov_type}");
            assert_eq!(bits(&ws.lp[..k * ms]), bits(&full.lp), "{isa} {cov_type}");
            assert_eq!(bits(&ws.lse[..ms]), bits(&full.lse), "{isa} {cov_type}");
        }
    }
}

/// The two horizontal sums add the lanes in their documented trees on
/// every tier (the AVX2 tier's halves must meet as the AVX-512 lanes do).
#[test]
fn horizontal_sums_follow_their_trees() {
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn zmm(a: &[[f64; L]; L]) -> ([f64; L], f64) {
        sums(Avx512::new(), a)
    }
    #[target_feature(enable = "avx2,fma")]
    fn ymm(a: &[[f64; L]; L]) -> ([f64; L], f64) {
        sums(Avx2::new(), a)
    }
    fn sums<S: Simd>(s: S, a: &[[f64; L]; L]) -> ([f64; L], f64) {
        // SAFETY: arrays of L f64.
        let v: [S::V; L] = std::array::from_fn(|r| unsafe { s.load(a[r].as_ptr()) });
        let mut out = [0.0f64; L];
        // SAFETY: as above.
        unsafe { s.store(out.as_mut_ptr(), s.transpose_sum(&v)) };
        (out, s.reduce(v[3]))
    }
    // Values whose sums depend on the order (cancellation, ulps).
    let a: [[f64; L]; L] = std::array::from_fn(|r| {
        std::array::from_fn(|l| {
            let x = ((r * 8 + l) as f64 * 0.77).sin();
            if l % 3 == 0 { x * 1e16 } else { x }
        })
    });
    let tree = |v: &[f64; L]| ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    let reduce = |v: &[f64; L]| ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    for isa in tiers("horizontal_sums_follow_their_trees") {
        let (t, r) = match isa {
            // SAFETY: this CPU runs the tier (`tiers`).
            Isa::Avx512 => unsafe { zmm(&a) },
            // SAFETY: as above.
            _ => unsafe { ymm(&a) },
        };
        for row in 0..L {
            assert_eq!(t[row].to_bits(), tree(&a[row]).to_bits(), "{isa} row {row}");
        }
        assert_eq!(r.to_bits(), reduce(&a[3]).to_bits(), "{isa}");
    }
}

/// The diagonal log-density is a quadratic form about the mean of the
/// means: its rounding error is about `u Σ_j p_j² (|x̃_j| + |μ̃_j|)²`, not
/// `u Σ_j p_j² (x̃_j − μ̃_j)²`. Components 400 σ apart (the expansion's
/// worst case: every term large, the result small) stay within that
/// bound of the portable difference form, responsibilities too.
#[test]
fn diag_quadratic_form_error_follows_its_bound() {
    let (k, d, m) = (4, 8, BLOCK_ROWS);
    let tiers = tiers("diag_quadratic_form_error_follows_its_bound");
    for (isa, cov_type) in tiers
        .iter()
        .flat_map(|&isa| [CovarianceType::Diag, CovarianceType::Spherical].map(|c| (isa, c)))
    {
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
        e_step_with(isa, &prep, &x, m, &mut ws);
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
                "{isa} {cov_type} row {i}: lse {} vs {}, bound {bound:e}",
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
                    "{isa} {cov_type} resp ({i}, {c}): {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn vector_ln_is_within_two_ulp() {
    let tiers = tiers("vector_ln_is_within_two_ulp");
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
        for &isa in &tiers {
            let out = on_lanes!(isa, ln_positive, &v);
            for l in 0..chunk.len() {
                let want = v[l].ln();
                let ulp = f64::EPSILON * want.abs().max(f64::MIN_POSITIVE);
                assert!(
                    (out[l] - want).abs() <= 2.0 * ulp,
                    "{isa}: ln({}) = {} vs {want}",
                    v[l],
                    out[l]
                );
            }
        }
    }
}

#[test]
fn vector_exp_has_the_scalar_bits() {
    let tiers = tiers("vector_exp_has_the_scalar_bits");
    let xs: Vec<f64> = (0..4096)
        .map(|i| -(i as f64) * 0.191)
        .chain([0.0, -707.9, -708.0, -708.1, -1e300, f64::NEG_INFINITY])
        .collect();
    for chunk in xs.chunks(L) {
        let mut v = [f64::NEG_INFINITY; L];
        v[..chunk.len()].copy_from_slice(chunk);
        for &isa in &tiers {
            let out = on_lanes!(isa, exp_nonpositive, &v);
            for l in 0..chunk.len() {
                let want = crate::simd::exp_nonpositive_for_tests(v[l]);
                assert_eq!(out[l].to_bits(), want.to_bits(), "{isa}: exp({})", v[l]);
            }
        }
    }
}

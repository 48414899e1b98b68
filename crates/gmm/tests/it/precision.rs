//! `Precision::F32` against `Precision::F64` on generated data: the edge
//! shapes of the single-precision kernel's tiles (d not a multiple of 8, k
//! not a multiple of 4 or 8, blocks that end inside a 16-row vector),
//! thread independence, the log-likelihood invariant at `f32` rounding, and
//! the fall-back to `f64` for means far apart and (full/tied) for
//! ill-conditioned covariances. All four covariance types.

use mmclust_core::ArraySource;
use mmclust_core::parallel::{Chunking, with_threads};
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmParams, Init, Precision};

/// Whether the process's path runs the `f32` kernel (AVX-512; not under
/// `MMCLUST_ISA=avx2` or `scalar`, which run `f64`).
fn avx512() -> bool {
    mmclust_core::isa::Isa::current() >= mmclust_core::isa::Isa::Avx512
}

/// n rows around k centres `sep` apart per coordinate (unit-ish noise,
/// uneven per column), and a starting mixture near them.
fn problem(n: usize, d: usize, k: usize, sep: f64, offset: f64, seed: u64) -> (Vec<f32>, Init) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let centres: Vec<f64> = (0..k * d).map(|_| offset + sep * (next() - 0.5)).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = (next() * k as f64) as usize % k;
        for j in 0..d {
            // Sum of 4 uniforms: roughly normal, variance 1/3 · (1 + j/d).
            let z: f64 = (0..4).map(|_| next() - 0.5).sum();
            x.push((centres[c * d + j] + z * (1.0 + j as f64 / d as f64)) as f32);
        }
    }
    let means: Vec<f64> = centres.iter().map(|&v| v + 0.3 * (next() - 0.5)).collect();
    (
        x,
        Init::Parameters {
            weights: vec![1.0 / k as f64; k],
            means,
            covariances: vec![1.0; k * d],
        },
    )
}

const ALL_TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
];

/// Covariances `v I` (variances `v`) in the layout of `cov`.
fn scaled_identity(cov: CovarianceType, k: usize, d: usize, v: f64) -> Vec<f64> {
    match cov {
        CovarianceType::Full | CovarianceType::Tied => (0..cov.covariance_len(k, d))
            .map(|i| {
                if (i % (d * d)).is_multiple_of(d + 1) {
                    v
                } else {
                    0.0
                }
            })
            .collect(),
        _ => vec![v; cov.covariance_len(k, d)],
    }
}

/// A fit from `init` as given (its covariances in the layout of `cov`).
#[allow(clippy::too_many_arguments)]
fn fit_as_given(
    x: &[f32],
    n: usize,
    d: usize,
    k: usize,
    cov: CovarianceType,
    init: &Init,
    precision: Precision,
    iters: usize,
) -> GaussianMixtureModel {
    let src = ArraySource::from_slice(x, n, d).unwrap();
    GmmParams::new(k)
        .covariance(cov)
        .init(init.clone())
        .tol(0.0)
        .max_iter(iters)
        .chunking(Chunking::with_rows(1000).unwrap())
        .precision(precision)
        .fit(&src)
        .unwrap()
}

#[allow(clippy::too_many_arguments)]
fn fit(
    x: &[f32],
    n: usize,
    d: usize,
    k: usize,
    cov: CovarianceType,
    init: &Init,
    precision: Precision,
    iters: usize,
) -> GaussianMixtureModel {
    let src = ArraySource::from_slice(x, n, d).unwrap();
    // Unit covariances in the layout of `cov` (identity matrices for
    // full/tied).
    let covariances = scaled_identity(cov, k, d, 1.0);
    let init = match init {
        Init::Parameters { weights, means, .. } => Init::Parameters {
            weights: weights.clone(),
            means: means.clone(),
            covariances,
        },
        other => other.clone(),
    };
    GmmParams::new(k)
        .covariance(cov)
        .init(init)
        .tol(0.0)
        .max_iter(iters)
        .chunking(Chunking::with_rows(1000).unwrap())
        .precision(precision)
        .fit(&src)
        .unwrap()
}

fn max_rel(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn f32_agrees_with_f64_on_every_tile_shape() {
    let n = 2_999;
    for (d, k) in [(1, 1), (3, 2), (7, 3), (9, 5), (16, 9), (17, 16), (33, 4)] {
        for cov in ALL_TYPES {
            let (x, init) = problem(n, d, k, 6.0, 0.0, (d * 31 + k) as u64);
            let a = fit(&x, n, d, k, cov, &init, Precision::F64, 8);
            let b = fit(&x, n, d, k, cov, &init, Precision::F32, 8);
            assert_eq!(a.f32_iterations, 0);
            if avx512() {
                assert_eq!(b.f32_iterations, 8, "d {d} k {k} {cov}");
            }
            let what = format!("d {d} k {k} {cov}");
            assert!(max_rel(&b.history, &a.history) < 1e-5, "{what}: history");
            assert!(max_rel(b.weights(), a.weights()) < 1e-4, "{what}: weights");
            assert!(max_rel(b.means(), a.means()) < 1e-4, "{what}: means");
            assert!(
                max_rel(b.covariances(), a.covariances()) < 1e-4,
                "{what}: covariances"
            );
        }
    }
}

#[test]
fn f32_far_from_the_origin_keeps_its_digits() {
    // The shift (the mean of the means, rounded to f32) takes the offset out.
    let (n, d, k) = (4_000, 6, 4);
    let (x, init) = problem(n, d, k, 6.0, 1e4, 5);
    for cov in [
        CovarianceType::Diag,
        CovarianceType::Full,
        CovarianceType::Tied,
    ] {
        let a = fit(&x, n, d, k, cov, &init, Precision::F64, 6);
        let b = fit(&x, n, d, k, cov, &init, Precision::F32, 6);
        if avx512() {
            assert_eq!(b.f32_iterations, 6, "{cov}");
        }
        assert!(max_rel(&b.history, &a.history) < 1e-5, "{cov}");
        assert!(max_rel(b.covariances(), a.covariances()) < 1e-4, "{cov}");
    }
}

#[test]
fn f32_gives_the_same_bits_on_1_and_2_threads_and_never_lowers_the_likelihood() {
    let (n, d, k) = (5_000, 5, 3);
    let (x, init) = problem(n, d, k, 5.0, 0.0, 11);
    for cov in ALL_TYPES {
        let one =
            with_threads(Some(1), || fit(&x, n, d, k, cov, &init, Precision::F32, 30)).unwrap();
        let two =
            with_threads(Some(2), || fit(&x, n, d, k, cov, &init, Precision::F32, 30)).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one.history), bits(&two.history));
        assert_eq!(bits(one.means()), bits(two.means()));
        assert_eq!(bits(one.covariances()), bits(two.covariances()));
        // EM never lowers the likelihood; f32 rounding may, by about
        // 2⁻²⁴ relative.
        for w in one.history.windows(2) {
            assert!(w[1] >= w[0] - 1e-6 * w[0].abs(), "{cov}: {:?}", one.history);
        }
    }
}

#[test]
fn means_far_apart_in_standard_deviations_run_in_f64() {
    // Two components 400 σ apart: beyond F32_SPREAD_LIMIT, so every pass
    // runs in f64 and the answer is f64's, bit for bit.
    let (n, d, k) = (1_000, 3, 2);
    let x: Vec<f32> = (0..n * d)
        .map(|i| {
            let row = i / d;
            let wobble = ((i * 7919) % 101) as f32 / 101.0 - 0.5;
            if row % 2 == 0 { wobble } else { 400.0 + wobble }
        })
        .collect();
    let init = Init::Parameters {
        weights: vec![0.5, 0.5],
        means: vec![0.0, 0.0, 0.0, 400.0, 400.0, 400.0],
        covariances: Vec::new(),
    };
    for cov in ALL_TYPES {
        // Variance 0.1 in the layout of `cov`.
        let Init::Parameters { weights, means, .. } = &init else {
            unreachable!()
        };
        let init = Init::Parameters {
            weights: weights.clone(),
            means: means.clone(),
            covariances: scaled_identity(cov, k, d, 0.1),
        };
        let a = fit_as_given(&x, n, d, k, cov, &init, Precision::F64, 5);
        let b = fit_as_given(&x, n, d, k, cov, &init, Precision::F32, 5);
        assert_eq!(b.f32_iterations, 0, "{cov}");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.history), bits(&b.history), "{cov}");
        assert_eq!(bits(a.covariances()), bits(b.covariances()), "{cov}");
    }
}

/// Full/tied: a covariance whose `U` sums terms far larger than its
/// result (two coordinates with correlation within 1e-6 of 1, so `x̃ U`
/// sums terms over a thousand times `|y|`) is beyond the conditioning gate
/// (`F32_MATRIX_LIMIT`), so every pass runs in `f64`, bit for bit.
#[test]
fn ill_conditioned_full_and_tied_run_in_f64() {
    let (n, d, k) = (2_000, 2, 1);
    let x: Vec<f32> = (0..n)
        .flat_map(|i| {
            let a = 10.0 * (((i * 7919) % 1009) as f32 / 1009.0 - 0.5);
            let b = ((i * 104_729) % 1013) as f32 / 1013.0 - 0.5;
            [a, a + 1e-3 * b]
        })
        .collect();
    for cov in [CovarianceType::Full, CovarianceType::Tied] {
        let init = Init::Parameters {
            weights: vec![1.0],
            means: vec![0.0, 0.0],
            covariances: vec![8.0, 7.999_99, 7.999_99, 8.0],
        };
        let a = fit_as_given(&x, n, d, k, cov, &init, Precision::F64, 3);
        let b = fit_as_given(&x, n, d, k, cov, &init, Precision::F32, 3);
        assert_eq!(b.f32_iterations, 0, "{cov}");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.history), bits(&b.history), "{cov}");
        assert_eq!(bits(a.covariances()), bits(b.covariances()), "{cov}");
    }
}

/// Full/tied, the conditioning gate's margin: two clusters whose first two
/// coordinates differ by `eps` times a uniform (correlation near 1, the
/// gate's `g` about 41/eps). At eps = 0.2 (g ≈ 204, below the limit of
/// 256) every pass runs in `f32` and every parameter, the precision
/// Cholesky factors included, is within 1e-4 of the `f64` fit (measured
/// 2.6e-5; 1.3e-4 at g ≈ 408, 3.7e-4 at 816). At eps = 0.1 (g ≈ 408) the
/// gate sends every pass after the first, whose initial covariance is well
/// conditioned, to `f64`.
#[test]
fn full_and_tied_f32_within_1e_4_of_f64_up_to_the_conditioning_gate() {
    let n = 20_000;
    for (eps, f32_iterations) in [(0.2, 10), (0.1, 1)] {
        let x: Vec<f32> = (0..n)
            .flat_map(|i| {
                let a = 10.0 * (((i * 7919) % 1009) as f64 / 1009.0 - 0.5);
                let b = ((i * 104_729) % 1013) as f64 / 1013.0 - 0.5;
                let c = ((i * 15_485_863) % 997) as f64 / 997.0 - 0.5;
                let off = if i % 2 == 0 { 3.0 } else { -3.0 };
                [
                    (a + off) as f32,
                    (a + off + eps * b) as f32,
                    (c + off * eps) as f32,
                ]
            })
            .collect();
        let one = [8.0, 7.9, 0.0, 7.9, 8.0, 0.0, 0.0, 0.0, 0.1];
        for cov in [CovarianceType::Full, CovarianceType::Tied] {
            let init = Init::Parameters {
                weights: vec![0.5, 0.5],
                means: vec![2.5, 2.5, 0.0, -2.5, -2.5, 0.0],
                covariances: one.repeat(if cov == CovarianceType::Full { 2 } else { 1 }),
            };
            let a = fit_as_given(&x, n, 3, 2, cov, &init, Precision::F64, 10);
            let b = fit_as_given(&x, n, 3, 2, cov, &init, Precision::F32, 10);
            let what = format!("eps {eps} {cov}");
            if avx512() {
                assert_eq!(b.f32_iterations, f32_iterations, "{what}");
            }
            assert!(max_rel(&b.history, &a.history) < 1e-4, "{what}");
            assert!(max_rel(b.means(), a.means()) < 1e-4, "{what}");
            assert!(max_rel(b.covariances(), a.covariances()) < 1e-4, "{what}");
            let e = max_rel(b.precisions_cholesky(), a.precisions_cholesky());
            assert!(e < 1e-4, "{what}: precisions_cholesky {e:.2e}");
        }
    }
}

//! Invariants of the Gaussian-mixture fit as property tests, and its
//! degenerate and invalid inputs.

use mmclust_core::ArraySource;
use mmclust_core::parallel::{Chunking, PassOptions, with_threads};
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmError, GmmParams, Init};
use proptest::prelude::*;

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
];

/// Points around a few random centres.
fn data_strategy() -> impl Strategy<Value = (Vec<f32>, usize, usize, usize)> {
    (30usize..300, 1usize..6, 1usize..5).prop_flat_map(|(n, d, k)| {
        (
            proptest::collection::vec(-50.0f32..50.0, k * d),
            proptest::collection::vec(-3.0f32..3.0, n * d),
            proptest::collection::vec(0usize..k, n),
        )
            .prop_map(move |(centres, noise, labels)| {
                let mut x = noise;
                for (i, &l) in labels.iter().enumerate() {
                    for j in 0..d {
                        x[i * d + j] += centres[l * d + j];
                    }
                }
                (x, n, d, k)
            })
    })
}

fn assert_finite_model(m: &GaussianMixtureModel) {
    assert!(m.weights().iter().all(|v| v.is_finite()));
    assert!(m.means().iter().all(|v| v.is_finite()));
    assert!(m.covariances().iter().all(|v| v.is_finite()));
    assert!(m.precisions_cholesky().iter().all(|v| v.is_finite()));
    assert!(m.log_likelihood.is_finite() && m.bic().is_finite() && m.aic().is_finite());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn log_likelihood_never_falls_and_responsibilities_sum_to_one(
        (x, n, d, k) in data_strategy(), seed in 0u64..1000
    ) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for cov in TYPES {
            for init in [Init::KMeans, Init::Random, Init::RandomFromData] {
                let r = GmmParams::new(k).covariance(cov).init(init.clone()).seed(seed)
                    .tol(0.0).max_iter(15)
                    .chunking(Chunking::with_rows(16).unwrap())
                    .fit(&src);
                let m = match r {
                    Ok(m) => m,
                    // A collapse is allowed; a NaN or a panic is not.
                    Err(GmmError::Degenerate { .. }) => continue,
                    Err(e) => panic!("{cov} {init:?}: {e}"),
                };
                assert_finite_model(&m);
                // EM never lowers the likelihood, but reg_covar (1e-6 on every
                // covariance diagonal) makes the M-step miss the maximiser of
                // the expected log-likelihood by about ¼ Σ (reg_covar / λ)² per
                // row, λ the covariances' eigenvalues: near convergence, with
                // few rows per component, the likelihood may fall by that
                // (a seed found −9.9461138106 → −9.9461138772, 43 rows of 5
                // columns, full). Rounding alone is 1e-9 relative; 1e-6
                // absolute allows the regularisation's share while a wrong
                // M-step, which moves the likelihood by far more, still fails.
                for w in m.history.windows(2) {
                    prop_assert!(w[1] >= w[0] - 1e-9 * w[0].abs().max(1.0) - 1e-6,
                        "{cov} {init:?}: {:?}", m.history);
                }
                let proba = m.predict_proba(&src).unwrap();
                prop_assert_eq!(proba.len(), n * k);
                for row in proba.chunks_exact(k) {
                    let s: f64 = row.iter().sum();
                    prop_assert!((s - 1.0).abs() < 1e-12, "{}", s);
                }
                // BIC/AIC: the formulas with scikit-learn's parameter counts.
                let cov_params = match cov {
                    CovarianceType::Full => k * d * (d + 1) / 2,
                    CovarianceType::Tied => d * (d + 1) / 2,
                    CovarianceType::Diag => k * d,
                    CovarianceType::Spherical => k,
                };
                let p = (cov_params + k * d + k - 1) as f64;
                prop_assert_eq!(m.n_parameters() as f64, p);
                let total = m.score(&src, PassOptions::default()).unwrap() * n as f64;
                let bic = -2.0 * total + p * (n as f64).ln();
                let aic = -2.0 * total + 2.0 * p;
                prop_assert!((m.bic() - bic).abs() <= 1e-9 * bic.abs().max(1.0));
                prop_assert!((m.aic() - aic).abs() <= 1e-9 * aic.abs().max(1.0));
            }
        }
    }

    #[test]
    fn same_seed_gives_the_same_bits_on_1_and_2_threads(
        (x, n, d, k) in data_strategy(), seed in 0u64..1000
    ) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for cov in TYPES {
            for init in [Init::KMeans, Init::Random] {
                let p = GmmParams::new(k).covariance(cov).init(init).seed(seed).n_init(2)
                    .max_iter(10).chunking(Chunking::with_rows(16).unwrap());
                let one = with_threads(Some(1), || p.fit(&src)).unwrap();
                let two = with_threads(Some(2), || p.fit(&src)).unwrap();
                match (one, two) {
                    (Ok(a), Ok(b)) => {
                        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        prop_assert_eq!(bits(&a.history), bits(&b.history));
                        prop_assert_eq!(bits(a.means()), bits(b.means()));
                        prop_assert_eq!(bits(a.covariances()), bits(b.covariances()));
                        prop_assert_eq!(a.log_likelihood.to_bits(), b.log_likelihood.to_bits());
                        let (s1, l1) = with_threads(Some(1), || a.sample(5000, seed)).unwrap().unwrap();
                        let (s2, l2) = with_threads(Some(2), || b.sample(5000, seed)).unwrap().unwrap();
                        prop_assert_eq!(s1, s2);
                        prop_assert_eq!(l1, l2);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => prop_assert!(false, "{:?} vs {:?}", a.is_ok(), b.is_ok()),
                }
            }
        }
    }
}

fn faithful_like(n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| {
            let t = i as f32 * 0.37;
            let c = if i % 3 == 0 { -2.0 } else { 2.0 };
            [c + t.sin(), c + (1.7 * t).cos() * 0.5]
        })
        .collect()
}

#[test]
fn offset_data_gives_the_same_mixture_shifted() {
    // Second moments accumulated about the previous means: data + 1e4 gives
    // the same covariances and log-likelihood as the data itself.
    let n = 600;
    let x = faithful_like(n);
    let shifted: Vec<f32> = x.iter().map(|v| v + 1e4).collect();
    for cov in TYPES {
        let fit = |data: &[f32]| {
            GmmParams::new(2)
                .covariance(cov)
                .init(Init::RandomFromData)
                .seed(3)
                .tol(0.0)
                .max_iter(20)
                .fit(&ArraySource::from_slice(data, n, 2).unwrap())
                .unwrap()
        };
        let (a, b) = (fit(&x), fit(&shifted));
        // The f32 values of x + 1e4 are x rounded to ~1e-3: compare at 1e-3.
        for (p, q) in a.covariances().iter().zip(b.covariances()) {
            assert!((p - q).abs() < 2e-3 * p.abs().max(1.0), "{cov}: {p} vs {q}");
        }
        assert!((a.log_likelihood - b.log_likelihood).abs() < 1e-3, "{cov}");
        for (p, q) in a.means().iter().zip(b.means()) {
            assert!((p + 1e4 - q).abs() < 2e-3, "{cov}: {p} vs {q}");
        }
    }
}

#[test]
fn degenerate_inputs_give_a_model_or_a_clear_error_never_nan() {
    // Duplicates: every row the same point.
    let dup = vec![1.5f32; 40 * 3];
    // A constant column.
    let mut constant = faithful_like(100);
    for r in constant.chunks_exact_mut(2) {
        r[1] = 7.0;
    }
    // k = n.
    let few = faithful_like(5);
    let cases: Vec<(&str, &[f32], usize, usize, usize)> = vec![
        ("duplicates", &dup, 40, 3, 2),
        ("constant column", &constant, 100, 2, 2),
        ("k = n", &few, 5, 2, 5),
    ];
    for (what, x, n, d, k) in cases {
        let src = ArraySource::from_slice(x, n, d).unwrap();
        for cov in TYPES {
            for reg in [1e-6, 0.0] {
                let r = GmmParams::new(k).covariance(cov).reg_covar(reg).fit(&src);
                match r {
                    Ok(m) => assert_finite_model(&m),
                    Err(e @ GmmError::Degenerate { .. }) => {
                        let msg = e.to_string();
                        assert!(msg.contains("component") && msg.contains("N_k"), "{msg}");
                        assert!(msg.contains("--reg-covar"), "{msg}");
                        assert!(!e.is_input_error());
                    }
                    Err(e) => panic!("{what} {cov} reg {reg}: {e}"),
                }
            }
            // With the default regularisation these all fit.
            let m = GmmParams::new(k).covariance(cov).fit(&src);
            assert!(
                m.is_ok(),
                "{what} {cov}: {:?}",
                m.err().map(|e| e.to_string())
            );
        }
    }
    // Without regularisation, a constant column collapses full covariances.
    let src = ArraySource::from_slice(&constant, 100, 2).unwrap();
    let e = GmmParams::new(2).reg_covar(0.0).fit(&src).unwrap_err();
    assert!(matches!(e, GmmError::Degenerate { .. }), "{e}");
}

#[test]
fn invalid_inputs_are_clear_errors_before_any_pass() {
    let x = faithful_like(10);
    let src = ArraySource::from_slice(&x, 10, 2).unwrap();
    let e = GmmParams::new(11).fit(&src).unwrap_err();
    assert!(
        e.is_input_error() && e.to_string().contains("k = 11"),
        "{e}"
    );
    let wide = vec![0.5f32; 3 * 8];
    let e = GmmParams::new(1)
        .fit(&ArraySource::from_slice(&wide, 3, 8).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("d > n"), "{e}");
    assert!(
        GmmParams::new(1)
            .covariance(CovarianceType::Diag)
            .fit(&ArraySource::from_slice(&wide, 3, 8).unwrap())
            .is_ok()
    );
    let mut bad = x.clone();
    bad[7] = f32::NAN;
    bad[13] = f32::INFINITY;
    let e = GmmParams::new(2)
        .fit(&ArraySource::from_slice(&bad, 10, 2).unwrap())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("2 non-finite") && msg.contains("row 3, column 1"),
        "{msg}"
    );
    for p in [
        GmmParams::new(2).max_iter(0),
        GmmParams::new(2).tol(-1.0),
        GmmParams::new(2).reg_covar(f64::NAN),
        GmmParams::new(2).n_init(0),
        GmmParams::new(2).init(Init::Means(vec![0.0; 3])),
    ] {
        assert!(p.fit(&src).unwrap_err().is_input_error());
    }
}

#[test]
fn model_json_round_trips() {
    let n = 300;
    let x = faithful_like(n);
    let src = ArraySource::from_slice(&x, n, 2).unwrap();
    for cov in TYPES {
        let m = GmmParams::new(2)
            .covariance(cov)
            .standardize(true)
            .fit(&src)
            .unwrap();
        let text = serde_json::to_string(&m.to_json(None)).unwrap();
        let back = GaussianMixtureModel::from_json(&text).unwrap();
        assert_eq!(back.covariance_type(), cov);
        // JSON numbers are shortest decimal forms; parsing may land one ulp
        // away, and the weights are renormalised.
        let near = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-14 * y.abs().max(1.0))
        };
        assert!(near(back.weights(), m.weights()));
        assert!(near(back.means(), m.means()));
        assert!(near(back.precisions_cholesky(), m.precisions_cholesky()));
        assert_eq!(back.predict(&src).unwrap(), m.predict(&src).unwrap());
        let (a, b) = (
            back.score(&src, PassOptions::default()).unwrap(),
            m.score(&src, PassOptions::default()).unwrap(),
        );
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0));
        assert!((m.score(&src, PassOptions::default()).unwrap() - m.log_likelihood).abs() < 1e-12);
    }
    let e = GaussianMixtureModel::from_json(r#"{"kind":"kmeans"}"#).unwrap_err();
    assert!(e.to_string().contains("not a \"gmm\""), "{e}");
}

#[test]
fn samples_follow_the_mixture() {
    let m = GaussianMixtureModel::from_parameters(
        CovarianceType::Full,
        vec![0.25, 0.75],
        vec![-5.0, 0.0, 5.0, 1.0],
        vec![1.0, 0.5, 0.5, 2.0, 0.5, 0.0, 0.0, 0.5],
    )
    .unwrap();
    let (x, labels) = m.sample(40_000, 9).unwrap();
    let frac = labels.iter().filter(|&&l| l == 1).count() as f64 / 40_000.0;
    assert!((frac - 0.75).abs() < 0.01, "{frac}");
    let (mut s, mut c, mut cnt) = ([0.0f64; 2], 0.0f64, 0.0f64);
    for (row, &l) in x.chunks_exact(2).zip(&labels) {
        if l == 0 {
            s[0] += f64::from(row[0]);
            s[1] += f64::from(row[1]);
            c += f64::from(row[0] + 5.0) * f64::from(row[1]);
            cnt += 1.0;
        }
    }
    assert!((s[0] / cnt + 5.0).abs() < 0.05 && (s[1] / cnt).abs() < 0.05);
    assert!((c / cnt - 0.5).abs() < 0.06, "covariance {}", c / cnt);
}

/// Large samples have the model's moments, for every covariance type:
/// component frequencies within 5 standard errors of the weights, and each
/// component's sample mean and covariance within 5 standard errors of its
/// parameters (normals from `rand_distr::StandardNormal`, transformed by the
/// covariance's Cholesky factor).
#[test]
fn sample_moments_match_the_model() {
    let (k, d, n) = (3usize, 3usize, 300_000usize);
    let weights = vec![0.2, 0.3, 0.5];
    let means = vec![-4.0, 1.0, 0.5, 0.0, -2.0, 3.0, 5.0, 5.0, -1.0];
    // Symmetric positive definite d × d matrices.
    let full = |c: usize| -> Vec<f64> {
        let s = 1.0 + c as f64;
        vec![
            2.0 * s,
            0.6,
            -0.3, //
            0.6,
            1.0 * s,
            0.2, //
            -0.3,
            0.2,
            0.5 * s,
        ]
    };
    for cov_type in TYPES {
        let covariances: Vec<f64> = match cov_type {
            CovarianceType::Full => (0..k).flat_map(full).collect(),
            CovarianceType::Tied => full(0),
            CovarianceType::Diag => vec![1.0, 2.0, 0.5, 0.3, 1.5, 4.0, 2.5, 0.7, 1.1],
            CovarianceType::Spherical => vec![0.8, 2.0, 1.3],
        };
        let m = GaussianMixtureModel::from_parameters(
            cov_type,
            weights.clone(),
            means.clone(),
            covariances.clone(),
        )
        .unwrap();
        // The model's covariance of component c, entry (p, q).
        let sigma = |c: usize, p: usize, q: usize| -> f64 {
            match cov_type {
                CovarianceType::Full => covariances[c * d * d + p * d + q],
                CovarianceType::Tied => covariances[p * d + q],
                CovarianceType::Diag if p == q => covariances[c * d + p],
                CovarianceType::Spherical if p == q => covariances[c],
                _ => 0.0,
            }
        };
        let (x, labels) = m.sample(n, 17).unwrap();
        assert_eq!((x.len(), labels.len()), (n * d, n));
        for c in 0..k {
            let rows: Vec<&[f32]> = x
                .chunks_exact(d)
                .zip(&labels)
                .filter(|&(_, &l)| l as usize == c)
                .map(|(r, _)| r)
                .collect();
            let nc = rows.len() as f64;
            let w = weights[c];
            let se = (w * (1.0 - w) / n as f64).sqrt();
            assert!(
                (nc / n as f64 - w).abs() < 5.0 * se,
                "{cov_type} weight {c}: {} vs {w}",
                nc / n as f64
            );
            let mean: Vec<f64> = (0..d)
                .map(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / nc)
                .collect();
            for j in 0..d {
                let se = (sigma(c, j, j) / nc).sqrt();
                let want = means[c * d + j];
                assert!(
                    (mean[j] - want).abs() < 5.0 * se,
                    "{cov_type} mean ({c}, {j}): {} vs {want}",
                    mean[j]
                );
            }
            for p in 0..d {
                for q in 0..=p {
                    let got = rows
                        .iter()
                        .map(|r| (f64::from(r[p]) - mean[p]) * (f64::from(r[q]) - mean[q]))
                        .sum::<f64>()
                        / (nc - 1.0);
                    let want = sigma(c, p, q);
                    // Var of a sample covariance of Gaussians:
                    // (σ_pp σ_qq + σ_pq²) / n.
                    let se = ((sigma(c, p, p) * sigma(c, q, q) + want * want) / nc).sqrt();
                    assert!(
                        (got - want).abs() < 5.0 * se,
                        "{cov_type} covariance ({c}; {p}, {q}): {got} vs {want}"
                    );
                }
            }
        }
    }
}

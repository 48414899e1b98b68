//! Variational Bayesian Gaussian mixtures against scikit-learn's
//! `BayesianGaussianMixture`: fixtures written by
//! `scripts/make_bgm_fixtures.sh` (scikit-learn, one thread), read here
//! without Python; and the properties of a Bayesian fit.
//!
//! Every fixture case starts both from the same initial responsibilities
//! (`bgm_<set>_resp.npy`, float32 values; mmclust reads them through
//! `Init::Responsibilities`, scikit-learn gets them upcast through
//! `_initialize(X, resp)`), with scikit-learn's default priors resolved on
//! the data, `tol = 0` and 15 iterations, for both weight priors and all four
//! covariance types. Compared: every iteration's lower bound, the posterior's
//! parameters (`weight_concentration_`, `mean_precision_`,
//! `degrees_of_freedom_`), `weights_`, `means_`, `covariances_`,
//! `precisions_cholesky_`, the resolved priors, `score(X)` and the labels.
//!
//! Tolerance: the 1e-6, relative to max(|reference|, 1) (values
//! near 0, such as the means of standardised data, have no relative digits
//! to compare); the lower bounds, sums over rows of magnitude 10²–10³, are
//! compared relative to their own size.

use mmclust_core::ArraySource;
use mmclust_core::parallel::Chunking;
use mmclust_core::testing;
use mmclust_gmm::{
    BayesianPrior, CovarianceType, GaussianMixtureModel, GmmParams, Init, WeightPrior,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

const TOL: f64 = 1e-6;

use crate::common;

use common::{fixture, flat, max_rel};

fn prior_of(name: &str) -> WeightPrior {
    name.replace('_', "-").parse().unwrap()
}

fn fit_case(set: &str, case_name: &str, chunk_rows: usize) -> (GaussianMixtureModel, Value) {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("bgm_{set}.json"))).unwrap(),
    )
    .unwrap();
    let (x, n, d) = testing::npy_matrix(fixture(meta["data"].as_str().unwrap()));
    let k = meta["k"].as_u64().unwrap() as usize;
    let (prior, cov) = case_name.split_once('/').unwrap();
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let model = GmmParams::new(k)
        .covariance(cov.parse::<CovarianceType>().unwrap())
        .init(Init::Responsibilities(fixture(
            meta["resp"].as_str().unwrap(),
        )))
        .bayesian(BayesianPrior {
            weight_prior: prior_of(prior),
            ..BayesianPrior::default()
        })
        .max_iter(meta["max_iter"].as_u64().unwrap() as usize)
        .tol(0.0)
        .reg_covar(meta["reg_covar"].as_f64().unwrap())
        .chunking(Chunking::with_rows(chunk_rows).unwrap())
        .fit(&src)
        .unwrap();
    (model, meta["cases"][case_name].clone())
}

fn compare(model: &GaussianMixtureModel, r: &Value, what: &str) -> f64 {
    let post = model.bayesian.as_ref().expect("a Bayesian model");
    let mut wc = post.concentration_a.clone();
    wc.extend(&post.concentration_b);
    let p = &r["priors"];
    let checks = [
        ("weight_concentration", wc, flat(&r["weight_concentration"])),
        (
            "mean_precision",
            post.mean_precision.clone(),
            flat(&r["mean_precision"]),
        ),
        (
            "degrees_of_freedom",
            if model.covariance_type() == CovarianceType::Tied {
                vec![post.dof[0]]
            } else {
                post.dof.clone()
            },
            flat(&r["degrees_of_freedom"]),
        ),
        ("weights", model.weights().to_vec(), flat(&r["weights"])),
        ("means", model.means().to_vec(), flat(&r["means"])),
        (
            "covariances",
            model.covariances().to_vec(),
            flat(&r["covariances"]),
        ),
        (
            "precisions_cholesky",
            model.precisions_cholesky().to_vec(),
            flat(&r["precisions_cholesky"]),
        ),
        ("score", vec![model.log_likelihood], flat(&r["score"])),
        (
            "weight_concentration_prior",
            vec![post.prior.weight_concentration],
            flat(&p["weight_concentration_prior"]),
        ),
        (
            "mean_prior",
            post.prior.mean.clone(),
            flat(&p["mean_prior"]),
        ),
        (
            "degrees_of_freedom_prior",
            vec![post.prior.dof],
            flat(&p["degrees_of_freedom_prior"]),
        ),
        (
            "covariance_prior",
            post.prior.covariance.clone(),
            flat(&p["covariance_prior"]),
        ),
    ];
    let mut worst = 0.0f64;
    for (name, got, want) in checks {
        let e = max_rel(&got, &want, name);
        assert!(
            e <= TOL,
            "{what}: {name}: max relative error {e:.3e} > {TOL:.0e}\n got {got:?}\nwant {want:?}"
        );
        worst = worst.max(e);
    }
    let want = flat(&r["lower_bounds"]);
    assert_eq!(model.history.len(), want.len(), "{what}: iterations");
    for (i, (g, w)) in model.history.iter().zip(&want).enumerate() {
        let e = (g - w).abs() / w.abs();
        assert!(e <= TOL, "{what}: lower bound {i}: {g} vs {w} ({e:.2e})");
        worst = worst.max(e);
    }
    let (x, n, d) = testing::npy_matrix(fixture(&format!(
        "bgm_{}_X.npy",
        what.split(':').next().unwrap()
    )));
    let labels = model
        .predict(&ArraySource::from_slice(&x, n, d).unwrap())
        .unwrap();
    let want_labels: Vec<u32> = r["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        &labels[..want_labels.len()],
        &want_labels[..],
        "{what}: labels"
    );
    worst
}

#[test]
fn matches_scikit_learn_from_the_same_initial_responsibilities() {
    let mut report = Vec::new();
    for set in ["faithful", "blobs"] {
        for prior in ["dirichlet_process", "dirichlet_distribution"] {
            for cov in ["full", "tied", "diag", "spherical"] {
                let case = format!("{prior}/{cov}");
                // Small chunks: several chunks and merges per pass.
                let (model, reference) = fit_case(set, &case, 37);
                let what = format!("{set}:{case}");
                let e = compare(&model, &reference, &what);
                report.push(format!("{what}: max rel err {e:.2e}"));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}

/// Rows from 3 well-separated full-covariance components in 4 dimensions.
fn three_components(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = [
        [0.0, 0.0, 0.0, 0.0],
        [12.0, 0.0, -6.0, 3.0],
        [-6.0, 12.0, 6.0, -9.0],
    ];
    // Lower Cholesky factors of three different covariances.
    let factors = [
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.5, 1.0, 0.0, 0.0],
            [0.2, -0.3, 0.8, 0.0],
            [0.0, 0.4, 0.1, 1.2],
        ],
        [
            [1.5, 0.0, 0.0, 0.0],
            [-0.6, 0.7, 0.0, 0.0],
            [0.0, 0.2, 1.1, 0.0],
            [0.3, 0.0, -0.4, 0.6],
        ],
        [
            [0.8, 0.0, 0.0, 0.0],
            [0.1, 1.3, 0.0, 0.0],
            [0.5, 0.5, 0.9, 0.0],
            [-0.2, 0.1, 0.3, 1.0],
        ],
    ];
    let mut x = Vec::with_capacity(n * 4);
    for i in 0..n {
        let c = i % 3;
        let z: [f64; 4] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
        for j in 0..4 {
            let v: f64 = (0..=j).map(|p| factors[c][j][p] * z[p]).sum();
            x.push((centres[c][j] + v) as f32);
        }
    }
    x
}

/// The check: k = 10, `max_iter` 500 and the default prior on
/// 60,000 rows of 3 components end with 3 effective components.
///
/// From random responsibilities (scikit-learn's `init_params="random"`).
/// From the K-means initialisation, which puts about three of the ten
/// centres in each true component, neither scikit-learn nor mmclust merges
/// the pieces within 500 iterations (6 to 8 effective components on this
/// data, seeds 0–2 in scikit-learn 1.9, 1–2 here): the split pieces' bound
/// gradient toward merging is tiny. Both engines compute the same
/// iterations (the fixture test), so that is the method's behaviour, not
/// this implementation's.
#[test]
fn switches_off_the_components_the_data_does_not_need() {
    let n = 60_000;
    let x = three_components(n, 5);
    let src = ArraySource::from_slice(&x, n, 4).unwrap();
    for (prior, seed) in WeightPrior::ALL.into_iter().zip([3, 5]) {
        let model = GmmParams::new(10)
            .init(Init::Random)
            .bayesian(BayesianPrior {
                weight_prior: prior,
                ..BayesianPrior::default()
            })
            .max_iter(500)
            .seed(seed)
            .fit(&src)
            .unwrap();
        let w = model.weights();
        assert_eq!(
            model.effective_components(),
            3,
            "{prior}: weights {w:?} after {} iterations",
            model.n_iter
        );
        assert!(model.converged, "{prior}");
        assert!(model.bic().is_nan());
    }
}

/// The lower bound never falls by more than 1e-6 beyond rounding, on every
/// covariance type and both weight priors, from random responsibilities.
#[test]
fn the_lower_bound_never_falls() {
    let n = 3000;
    let x = three_components(n, 9);
    let src = ArraySource::from_slice(&x, n, 4).unwrap();
    for prior in WeightPrior::ALL {
        for cov in CovarianceType::ALL {
            let model = GmmParams::new(6)
                .covariance(cov)
                .init(Init::Random)
                .bayesian(BayesianPrior {
                    weight_prior: prior,
                    ..BayesianPrior::default()
                })
                .max_iter(60)
                .tol(0.0)
                .seed(11)
                .fit(&src)
                .unwrap();
            for (i, w) in model.history.windows(2).enumerate() {
                let fall = w[0] - w[1];
                assert!(
                    fall <= 1e-6 + 1e-12 * w[0].abs(),
                    "{prior}/{cov}: iteration {}: {} -> {} (falls {fall:.3e})",
                    i + 1,
                    w[0],
                    w[1]
                );
            }
        }
    }
}

/// Same bits on 1 and 3 threads, and through the model file.
#[test]
fn same_bits_on_any_thread_count_and_through_the_model_file() {
    let n = 5000;
    let x = three_components(n, 21);
    let src = ArraySource::from_slice(&x, n, 4).unwrap();
    let params = GmmParams::new(5)
        .covariance(CovarianceType::Diag)
        .bayesian(BayesianPrior::default())
        .max_iter(30)
        .seed(4)
        .chunking(Chunking::with_rows(300).unwrap());
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| params.fit(&src).unwrap())
    };
    let (a, b) = (fit(1), fit(3));
    assert_eq!(a.history, b.history);
    assert_eq!(a.means(), b.means());
    assert_eq!(a.covariances(), b.covariances());
    assert_eq!(a.bayesian, b.bayesian);
    let back = GaussianMixtureModel::from_json(&a.to_json(None).to_string()).unwrap();
    assert_eq!(back.bayesian, a.bayesian);
    assert_eq!(
        back.predict_proba(&src).unwrap(),
        a.predict_proba(&src).unwrap()
    );
    assert_eq!(
        back.score(&src, Default::default()).unwrap(),
        a.score(&src, Default::default()).unwrap()
    );
    assert_eq!(back.effective_components(), a.effective_components());
}

#[test]
fn bad_priors_and_bad_responsibilities_are_errors_naming_them() {
    let n = 200;
    let x = three_components(n, 1);
    let src = ArraySource::from_slice(&x, n, 4).unwrap();
    let fit = |p: BayesianPrior| {
        GmmParams::new(3)
            .bayesian(p)
            .fit(&src)
            .unwrap_err()
            .to_string()
    };
    let e = fit(BayesianPrior {
        dof: Some(2.5),
        ..Default::default()
    });
    assert!(e.contains("dof") && e.contains("> d − 1"), "{e}");
    let e = fit(BayesianPrior {
        weight_concentration: Some(0.0),
        ..Default::default()
    });
    assert!(e.contains("weight_concentration"), "{e}");
    let e = fit(BayesianPrior {
        mean: Some(vec![0.0; 3]),
        ..Default::default()
    });
    assert!(e.contains("mean_prior"), "{e}");
    // Responsibilities of the wrong shape.
    let dir = std::env::temp_dir().join(format!("mmclust-bgm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resp.npy");
    mmclust_core::format::write_npy_f32(&path, &[0.5f32; 10 * 3], 10, 3, &[]).unwrap();
    let e = GmmParams::new(3)
        .init(Init::Responsibilities(path.clone()))
        .fit(&src)
        .unwrap_err()
        .to_string();
    assert!(e.contains("resp.npy") && e.contains("200 rows"), "{e}");
    // A negative responsibility names its row and column.
    let mut r = vec![0.5f32; n * 3];
    r[7 * 3 + 2] = -1.0;
    mmclust_core::format::write_npy_f32(&path, &r, n, 3, &[]).unwrap();
    let e = GmmParams::new(3)
        .bayesian(BayesianPrior::default())
        .init(Init::Responsibilities(path))
        .fit(&src)
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 7, column 2"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

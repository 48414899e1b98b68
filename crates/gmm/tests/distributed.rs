//! Distributed EM (processes simulated by threads with `ThreadGroup`) gives
//! the single-process mixture bit for bit on any number of processes.

use mmclust_core::ArraySource;
use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::Chunking;
use mmclust_core::source::Distributed;
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmParams, Init};

fn data(n: usize, d: usize) -> Vec<f32> {
    let mut s = 7u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    (0..n * d)
        .map(|i| ((i / d) % 3) as f32 * 2.5 + (i % d) as f32 * 0.1 + next())
        .collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn same(a: &GaussianMixtureModel, b: &GaussianMixtureModel, what: &str) {
    assert_eq!(bits(a.weights()), bits(b.weights()), "{what}: weights");
    assert_eq!(bits(a.means()), bits(b.means()), "{what}: means");
    assert_eq!(
        bits(a.covariances()),
        bits(b.covariances()),
        "{what}: covariances"
    );
    assert_eq!(
        a.lower_bound.to_bits(),
        b.lower_bound.to_bits(),
        "{what}: bound"
    );
    assert_eq!(
        a.log_likelihood.to_bits(),
        b.log_likelihood.to_bits(),
        "{what}"
    );
    assert_eq!(a.n_iter, b.n_iter, "{what}: iterations");
}

#[test]
fn every_covariance_type_matches_one_process_on_2_to_4_ranks() {
    let (n, d) = (3_000, 3);
    let x = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for (cov, init) in [
        (CovarianceType::Full, Init::KMeans),
        (CovarianceType::Diag, Init::Random),
        (CovarianceType::Tied, Init::KMeansPlusPlus),
        (CovarianceType::Spherical, Init::RandomFromData),
        (CovarianceType::Diag, Init::KMeansSample),
    ] {
        let mut p = GmmParams::new(3)
            .covariance(cov)
            .init(init)
            .seed(5)
            .max_iter(20);
        p.chunking = Some(Chunking::with_rows(97).unwrap());
        let one = p.fit(&src).unwrap();
        for ranks in 2..=4 {
            for m in ThreadGroup::run(ranks, |comm| p.fit(&Distributed::new(&src, comm)).unwrap()) {
                same(&one, &m, &format!("{cov:?}, {ranks} ranks"));
            }
        }
    }
}

/// Variational Bayes: the prior pass and every iteration's pass split
/// between ranks give one process's bits.
#[test]
fn bayesian_fits_match_one_process_on_2_and_3_ranks() {
    let (n, d) = (3_000, 3);
    let x = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for (cov, prior) in [
        (
            CovarianceType::Full,
            mmclust_gmm::WeightPrior::DirichletProcess,
        ),
        (
            CovarianceType::Spherical,
            mmclust_gmm::WeightPrior::DirichletDistribution,
        ),
    ] {
        let mut p = GmmParams::new(5)
            .covariance(cov)
            .bayesian(mmclust_gmm::BayesianPrior {
                weight_prior: prior,
                ..Default::default()
            })
            .seed(7)
            .max_iter(15);
        p.chunking = Some(Chunking::with_rows(97).unwrap());
        let one = p.fit(&src).unwrap();
        for ranks in 2..=3 {
            for m in ThreadGroup::run(ranks, |comm| p.fit(&Distributed::new(&src, comm)).unwrap()) {
                same(&one, &m, &format!("bayesian {cov:?}, {ranks} ranks"));
                assert_eq!(m.bayesian, one.bayesian);
            }
        }
    }
}

#[test]
fn online_em_matches_one_process_on_2_and_3_ranks() {
    let (n, d) = (6_000, 3);
    let x = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let p = GmmParams::new(3)
        .covariance(CovarianceType::Full)
        .init(Init::KMeansPlusPlus)
        .seed(2);
    // Batches of 1,100 rows: 5 chunks of 256 rows, the last one short, so
    // ranks own different numbers of rows.
    let opts = mmclust_gmm::OnlineOptions {
        batch_size: 1100,
        max_steps: Some(12),
        refine: 1,
        ..mmclust_gmm::OnlineOptions::default()
    };
    let fit = |s: &dyn mmclust_core::DataSource| {
        p.fit_online(s, &opts, mmclust_gmm::OnlineHooks::default())
            .unwrap()
    };
    let one = fit(&src);
    assert_eq!(one.online.as_ref().unwrap().steps, 12);
    for ranks in [2, 3] {
        for m in ThreadGroup::run(ranks, |comm| fit(&Distributed::new(&src, comm))) {
            same(&one, &m, &format!("online, {ranks} ranks"));
            assert_eq!(bits(&m.history), bits(&one.history));
        }
    }
}

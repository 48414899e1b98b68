//! Distributed EM (processes simulated by threads with `ThreadGroup`) gives
//! the single-process mixture bit for bit on any number of processes.

use mmclust_core::ArraySource;
use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::{AllReduce, Chunking};
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

/// Full-batch EM checkpoints under MPI: every rank holds the same state
/// (rank 0 writes it), the one a single process has, and a state of 3 ranks
/// resumed by one process or by 2 ranks gives the uninterrupted fit's bits.
#[test]
fn em_checkpoints_of_3_ranks_resume_on_1_and_2_to_the_same_bits() {
    use mmclust_gmm::{EmState, FitHooks};
    use std::sync::Mutex;
    let (n, d) = (3_000, 3);
    let x = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut p = GmmParams::new(3)
        .covariance(CovarianceType::Full)
        .init(Init::Random)
        .n_init(2)
        .seed(5)
        .max_iter(20)
        .tol(1e-8);
    p.chunking = Some(Chunking::with_rows(97).unwrap());
    let one = p.fit(&src).unwrap();
    p.checkpoints.every = 3;
    // The states handed over, timings zeroed (they differ between runs).
    let states = |s: &dyn mmclust_core::DataSource| {
        let all = Mutex::new(Vec::new());
        let keep = |s: &EmState| {
            let mut s = s.clone();
            for r in std::iter::once(&mut s.current).chain(s.best.as_mut().map(|b| &mut b.state)) {
                r.init_seconds = 0.0;
                r.iter_seconds = 0.0;
            }
            all.lock().unwrap().push(s);
            Ok(())
        };
        let hooks = FitHooks {
            on_em_checkpoint: Some(&keep),
            ..FitHooks::default()
        };
        same(&one, &p.fit_with(s, hooks).unwrap(), "with checkpoints");
        all.into_inner().unwrap()
    };
    let single = states(&src);
    assert!(
        single.iter().any(|s| s.run == 1),
        "checkpoints in both runs"
    );
    let ranks = ThreadGroup::run(3, |comm| states(&Distributed::new(&src, comm)));
    for r in &ranks {
        assert_eq!(r, &single, "a rank's checkpoints");
    }
    p.checkpoints.every = 0;
    for s in single {
        let what = format!("resumed from iteration {} of run {}", s.current.iter, s.run);
        let mut q = p.clone();
        q.checkpoints.resume = Some(Box::new(s));
        same(&one, &q.fit(&src).unwrap(), &what);
        for m in ThreadGroup::run(2, |comm| q.fit(&Distributed::new(&src, comm)).unwrap()) {
            same(&one, &m, &format!("{what} on 2 ranks"));
        }
    }
}

/// Node-local shards (each simulated process holds only its own rows): every
/// initialisation runs (rows it picks are gathered from their owner), every
/// process gets the same mixture and a second run of the layout the same
/// bits; against one process, the log-likelihood within 1e-6 relative (the
/// chunk grid is per process, so sums group differently).
#[test]
fn node_local_rows_fit_with_every_init() {
    use mmclust_core::source::NodeLocal;
    let (n, d) = (3_000, 3);
    let x = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let sizes = [1_100usize, 700, 1_200];
    let starts = [0, 1_100, 1_800, 3_000];
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
        let fit_all = || {
            ThreadGroup::run(3, |comm| {
                let r = comm.rank();
                let mine =
                    ArraySource::from_slice(&x[starts[r] * d..starts[r + 1] * d], sizes[r], d)
                        .unwrap();
                p.fit(&NodeLocal::new(mine, comm).unwrap()).unwrap()
            })
        };
        let first = fit_all();
        for m in first.iter().chain(&fit_all()) {
            same(&first[0], m, &format!("{cov:?}, node-local"));
        }
        let rel = (first[0].log_likelihood - one.log_likelihood).abs() / one.log_likelihood.abs();
        assert!(
            rel <= 1e-6,
            "{cov:?}: {} vs {}",
            first[0].log_likelihood,
            one.log_likelihood
        );
    }
}

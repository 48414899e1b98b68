//! Distributed fits (several processes sharing one source, simulated by
//! threads with `ThreadGroup`) give the single-process result bit for bit,
//! whatever the number of processes: the MPI build's guarantee, tested
//! without MPI. scripts/test_mpi.sh checks the same through `mpirun`.

use mmclust_core::ArraySource;
use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::Chunking;
use mmclust_core::source::Distributed;
use mmclust_kmeans::{Algorithm, Init, KMeansParams, MiniBatchOptions, Sampling};

mod common;

fn blobs(n: usize, d: usize, k: usize) -> Vec<f32> {
    let mut next = common::noise(99);
    (0..n * d)
        .map(|i| ((i / d) * 31 % k) as f32 * 3.0 + 2.0 * next())
        .collect()
}

#[test]
fn every_init_and_algorithm_matches_one_process_on_2_to_5_ranks() {
    let (n, d) = (6_000, 5);
    let x = blobs(n, d, 6);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let base = |k| {
        let mut p = KMeansParams::new(k).seed(7).max_iter(30);
        // 53 chunks: ownership boundaries fall inside the merge tree.
        p.chunking = Some(Chunking::with_rows(113).unwrap());
        p
    };
    let cases = [
        ("k-means++", base(6).init(Init::KMeansPlusPlus)),
        ("k-means||", base(6).init(Init::k_means_parallel())),
        (
            "random, standardised",
            base(9).init(Init::Random).n_init(2).standardize(true),
        ),
        (
            "empty clusters",
            base(60).init(Init::Random).n_init(1).max_iter(4),
        ),
        (
            "mini-batch",
            base(6)
                .tol(0.0)
                .max_iter(3)
                .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
                    batch_size: 700,
                    sampling: Sampling::Blocks { rows: 50 },
                    max_no_improvement: None,
                    refine: 1,
                    ..MiniBatchOptions::default()
                }))),
        ),
    ];
    for (what, params) in &cases {
        let one = params.fit(&src).unwrap();
        for ranks in 2..=5 {
            let models = ThreadGroup::run(ranks, |comm| {
                params.fit(&Distributed::new(&src, comm)).unwrap()
            });
            for m in &models {
                common::assert_same_fit(&one, m, &format!("{what}, {ranks} ranks"));
            }
        }
    }
}

#[test]
fn bounded_algorithms_are_refused_when_distributed() {
    let x = blobs(500, 3, 3);
    let src = ArraySource::from_slice(&x, 500, 3).unwrap();
    let errs = ThreadGroup::run(2, |comm| {
        KMeansParams::new(3)
            .algorithm(Algorithm::Hamerly)
            .fit(&Distributed::new(&src, comm))
            .unwrap_err()
            .to_string()
    });
    assert!(
        errs[0].contains("not available in a distributed"),
        "{}",
        errs[0]
    );
}

#[test]
fn auto_runs_lloyd_when_distributed_even_where_it_would_pick_bounds() {
    // k·d = 8192 with small bounds: one process resolves auto to Yinyang.
    let (n, d, k) = (2_000, 128, 64);
    assert_eq!(Algorithm::Auto.resolve(d, k), Algorithm::Yinyang);
    let x = blobs(n, d, k);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let params = |a: Algorithm| {
        KMeansParams::new(k)
            .seed(3)
            .max_iter(5)
            .init(Init::KMeansPlusPlus)
            .algorithm(a)
    };
    let lloyd = params(Algorithm::Lloyd).fit(&src).unwrap();
    let models = ThreadGroup::run(2, |comm| {
        params(Algorithm::Auto)
            .fit(&Distributed::new(&src, comm))
            .unwrap()
    });
    for m in &models {
        assert_eq!(m.algorithm, "lloyd");
        common::assert_same_fit(&lloyd, m, "auto on 2 ranks against Lloyd in one process");
    }
}

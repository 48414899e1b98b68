//! Distributed fits (several processes sharing one source, simulated by
//! threads with `ThreadGroup`) give the single-process result bit for bit,
//! whatever the number of processes: the MPI build's guarantee, tested
//! without MPI. scripts/test_mpi.sh checks the same through `mpirun`.

use mmclust_core::ArraySource;
use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::{AllReduce, Chunking};
use mmclust_core::source::Distributed;
use mmclust_kmeans::{Algorithm, Init, KMeansParams, Metric, MiniBatchOptions, Sampling};

use crate::common;

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
            "cosine, k-means||",
            base(6)
                .init(Init::k_means_parallel())
                .metric(Metric::Cosine),
        ),
        (
            "cosine, empty clusters",
            base(60)
                .init(Init::Random)
                .n_init(1)
                .max_iter(4)
                .metric(Metric::Cosine),
        ),
        (
            "cosine, yinyang",
            base(20)
                .algorithm(Algorithm::Yinyang)
                .bounds_warm_up(false)
                .metric(Metric::Cosine),
        ),
        (
            "cosine, mini-batch",
            base(6)
                .tol(0.0)
                .max_iter(3)
                .metric(Metric::Cosine)
                .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
                    batch_size: 700,
                    sampling: Sampling::Blocks { rows: 50 },
                    max_no_improvement: None,
                    refine: 1,
                    ..MiniBatchOptions::default()
                }))),
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

/// Hamerly, Yinyang and `auto` (which picks Yinyang or Hamerly here) give
/// one process's fit on 2 to 5 ranks: each rank keeps the bounds of its own
/// rows, everything else comes from the centres. With and without the
/// warm-up (without: every pass is a bounded one), from k-means++ and from
/// random centres with empty clusters (relocations move bounds too).
#[test]
fn bounded_algorithms_and_auto_match_one_process_on_2_to_5_ranks() {
    let (n, d) = (4_000, 16);
    let x = blobs(n, d, 40);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    assert_eq!(Algorithm::Auto.resolve(n, d, 64), Algorithm::Yinyang);
    assert_eq!(Algorithm::Auto.resolve(n, d, 160), Algorithm::Hamerly);
    let base = |k: usize, a: Algorithm| {
        let mut p = KMeansParams::new(k)
            .seed(11)
            .max_iter(25)
            .tol(0.0)
            .algorithm(a);
        // 37 chunks: ownership boundaries fall inside the merge tree.
        p.chunking = Some(Chunking::with_rows(109).unwrap());
        p
    };
    let cases = [
        ("hamerly", base(40, Algorithm::Hamerly)),
        ("yinyang", base(64, Algorithm::Yinyang)),
        (
            "hamerly, no warm-up",
            base(40, Algorithm::Hamerly).bounds_warm_up(false),
        ),
        (
            "yinyang, no warm-up",
            base(64, Algorithm::Yinyang).bounds_warm_up(false),
        ),
        (
            "yinyang, random, empty clusters",
            base(200, Algorithm::Yinyang)
                .init(Init::Random)
                .n_init(2)
                .bounds_warm_up(false),
        ),
        ("auto (yinyang)", base(64, Algorithm::Auto)),
        ("auto (hamerly)", base(160, Algorithm::Auto)),
    ];
    for (what, params) in &cases {
        let one = params.fit(&src).unwrap();
        assert_ne!(one.algorithm, "lloyd", "{what}");
        for ranks in 2..=5 {
            let models = ThreadGroup::run(ranks, |comm| {
                params.fit(&Distributed::new(&src, comm)).unwrap()
            });
            for m in &models {
                assert_eq!(m.algorithm, one.algorithm, "{what}, {ranks} ranks");
                let counts = |m: &mmclust_kmeans::KMeansModel| {
                    (m.distance_evals, m.rechecks, m.assigned_rows, m.relocated)
                };
                assert_eq!(counts(m), counts(&one), "{what}, {ranks} ranks: counts");
                common::assert_same_fit(&one, m, &format!("{what}, {ranks} ranks"));
            }
        }
    }
}

/// Node-local shards (each simulated process holds only its own rows, some
/// none): every initialisation (rows it picks are gathered from their owner)
/// and every algorithm but mini-batch runs; every process gets the same fit,
/// a second run of the same layout the same bits, and on these blobs the
/// labels of one process's fit, with the inertia within 1e-6 relative (the
/// chunk grid is per process, so the sums group differently).
#[test]
fn node_local_rows_fit_with_every_init_and_algorithm() {
    use mmclust_core::source::NodeLocal;
    let (n, d) = (6_000, 5);
    let x = blobs(n, d, 6);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let base = |k| {
        let mut p = KMeansParams::new(k).seed(7).max_iter(30);
        p.chunking = Some(Chunking::with_rows(113).unwrap());
        p
    };
    let cases = [
        ("k-means++", base(6).init(Init::KMeansPlusPlus)),
        ("k-means||", base(6).init(Init::k_means_parallel())),
        ("sample", base(6).init(Init::sample())),
        (
            "random, standardised",
            base(6).init(Init::Random).n_init(2).standardize(true),
        ),
        (
            "hamerly",
            base(6)
                .init(Init::KMeansPlusPlus)
                .algorithm(Algorithm::Hamerly)
                .bounds_warm_up(false),
        ),
        (
            "yinyang",
            base(6)
                .init(Init::k_means_parallel())
                .algorithm(Algorithm::Yinyang)
                .bounds_warm_up(false),
        ),
    ];
    for sizes in [vec![2_500usize, 1_700, 1_800], vec![3_001, 0, 2_999]] {
        let mut starts = vec![0];
        for s in &sizes {
            starts.push(starts.last().unwrap() + s);
        }
        for (what, params) in &cases {
            let one = params.fit(&src).unwrap();
            let one_labels = one.predict(&src).unwrap();
            let fit_all = || {
                ThreadGroup::run(sizes.len(), |comm| {
                    let r = comm.rank();
                    let mine =
                        ArraySource::from_slice(&x[starts[r] * d..starts[r + 1] * d], sizes[r], d)
                            .unwrap();
                    params.fit(&NodeLocal::new(mine, comm).unwrap()).unwrap()
                })
            };
            let first = fit_all();
            let again = fit_all();
            let tag = format!("{what}, node-local {sizes:?}");
            for m in first.iter().chain(&again) {
                common::assert_same_fit(&first[0], m, &tag);
            }
            let m = &first[0];
            let rel = (m.inertia - one.inertia).abs() / one.inertia;
            assert!(
                rel <= 1e-6,
                "{tag}: inertia {} vs {}",
                m.inertia,
                one.inertia
            );
            assert_eq!(m.predict(&src).unwrap(), one_labels, "{tag}: labels");
        }
    }
}

/// Mini-batch cannot run over node-local rows (its batches read rows
/// anywhere): an error naming node-local shards, not a panic or a hang.
#[test]
fn node_local_mini_batch_is_an_error() {
    use mmclust_core::source::NodeLocal;
    let (n, d) = (2_000, 3);
    let x = blobs(n, d, 4);
    let params = KMeansParams::new(4)
        .seed(1)
        .max_iter(2)
        .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
            batch_size: 300,
            ..MiniBatchOptions::default()
        })));
    let errors = ThreadGroup::run(2, |comm| {
        let half = n / 2 * comm.rank();
        let mine = ArraySource::from_slice(&x[half * d..(half + n / 2) * d], n / 2, d).unwrap();
        params
            .fit(&NodeLocal::new(mine, comm).unwrap())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    for e in errors {
        assert!(e.contains("node-local"), "{e}");
    }
}

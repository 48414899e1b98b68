//! Hamerly and Yinyang against Lloyd: from the same initial centres, the same
//! labels every iteration (up to ties within float32 rounding, which Lloyd's
//! fast formula and the bounded variants may break differently), hence the same
//! history, iteration count and centres. For both metrics: spherical
//! K-means (cosine) runs the same engines on normalised rows, with its
//! centres projected to unit length after each update.

use mmclust_core::ArraySource;
use mmclust_core::parallel::{Chunking, with_threads};
use mmclust_kmeans::{AUTO_SAMPLE_BYTES, Algorithm, Init, KMeansModel, KMeansParams, Metric};
use proptest::prelude::*;

use crate::common;

const ACCEL: [Algorithm; 2] = [Algorithm::Hamerly, Algorithm::Yinyang];

fn data_strategy() -> impl Strategy<Value = (Vec<f32>, usize, usize, usize)> {
    (20usize..400, 1usize..12, 1usize..30).prop_flat_map(|(n, d, k)| {
        (
            proptest::collection::vec(-100.0f32..100.0, n * d),
            Just(n),
            Just(d),
            Just(k.min(n)),
        )
    })
}

const METRICS: [Metric; 2] = [Metric::Euclidean, Metric::Cosine];

/// Cosine needs rows of non-zero length (a zero row is an error).
fn usable(x: &[f32], d: usize, metric: Metric) -> bool {
    metric == Metric::Euclidean || x.chunks_exact(d).all(|r| r.iter().any(|&v| v != 0.0))
}

fn fit(x: &[f32], n: usize, d: usize, c0: &[f32], k: usize, a: Algorithm, tol: f64) -> KMeansModel {
    fit_metric(x, n, d, c0, k, a, tol, Metric::Euclidean)
}

#[allow(clippy::too_many_arguments)]
fn fit_metric(
    x: &[f32],
    n: usize,
    d: usize,
    c0: &[f32],
    k: usize,
    a: Algorithm,
    tol: f64,
    metric: Metric,
) -> KMeansModel {
    let src = ArraySource::from_slice(x, n, d).unwrap();
    KMeansParams::new(k)
        .metric(metric)
        .init(Init::Given(c0.to_vec()))
        .algorithm(a.clone())
        .tol(tol)
        .chunking(Chunking::with_rows(7).unwrap())
        // The bounds from the first pass: a warm-up would run these small
        // problems mostly as Lloyd's passes (see `warm_up_*` below).
        .bounds_warm_up(false)
        .fit(&src)
        .unwrap()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn bounded_variants_follow_lloyd((x, n, d, k) in data_strategy(), pick in 0usize..1000) {
        // Initial centres: k rows (with repeats when they collide).
        let c0: Vec<f32> = (0..k).flat_map(|j| {
            let r = (pick + j * 7919) % n;
            x[r * d..(r + 1) * d].to_vec()
        }).collect();
        for metric in METRICS {
            if !usable(&x, d, metric) || !usable(&c0, d, metric) {
                continue;
            }
            let lloyd = fit_metric(&x, n, d, &c0, k, Algorithm::Lloyd, 0.0, metric);
            let ham = fit_metric(&x, n, d, &c0, k, Algorithm::Hamerly, 0.0, metric);
            let yy = fit_metric(&x, n, d, &c0, k, Algorithm::Yinyang, 0.0, metric);
            // The two bounded variants decide exactly the same way: same bits.
            prop_assert_eq!(&ham.centers, &yy.centers);
            prop_assert_eq!(ham.n_iter, yy.n_iter);
            prop_assert_eq!(ham.inertia.to_bits(), yy.inertia.to_bits());
            // At most: each row once through the kernel, once through the exact scan
            // (a near tie: duplicate centres), and its own centre.
            prop_assert!(ham.distance_evals <= 2 * ham.distance_evals_lloyd + n as u64 * ham.n_iter as u64);
            // Against Lloyd: all three decide by the reference distance, so the
            // same fit bit for bit (iterations, history, centres, inertia).
            prop_assert_eq!(lloyd.n_iter, ham.n_iter);
            prop_assert_eq!(bits(&lloyd.history), bits(&ham.history));
            prop_assert_eq!(&lloyd.centers, &ham.centers);
            prop_assert_eq!(lloyd.inertia.to_bits(), ham.inertia.to_bits());
        }
    }

    #[test]
    fn bounded_variants_give_the_same_bits_on_1_and_2_threads((x, n, d, k) in data_strategy(), seed in 0u64..1000) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for (a, warm) in ACCEL.into_iter().flat_map(|a| [(a.clone(), true), (a, false)]) {
            let metric = if warm { Metric::Euclidean } else { Metric::Cosine };
            if !usable(&x, d, metric) {
                continue;
            }
            let params = KMeansParams::new(k).seed(seed).algorithm(a).metric(metric)
                .chunking(Chunking::with_rows(16).unwrap()).bounds_warm_up(warm);
            let one = with_threads(Some(1), || params.fit(&src)).unwrap().unwrap();
            let two = with_threads(Some(2), || params.fit(&src)).unwrap().unwrap();
            prop_assert_eq!(&one.centers, &two.centers);
            prop_assert_eq!(one.inertia.to_bits(), two.inertia.to_bits());
            prop_assert_eq!(one.distance_evals, two.distance_evals);
        }
    }
}

#[test]
fn degenerate_inputs_match_lloyd() {
    // Duplicate points, k = n, d = 1, all points equal.
    let dup: Vec<f32> = (0..60).map(|i| (i % 3) as f32).collect();
    let kn: Vec<f32> = (0..40).map(|i| (i * i) as f32).collect();
    let same = vec![2.5f32; 30];
    let cases: Vec<(Vec<f32>, usize, usize, usize)> = vec![
        (dup.clone(), 60, 1, 5),
        (dup, 30, 2, 4),
        (kn, 20, 2, 20),
        (same, 30, 1, 3),
    ];
    for (x, n, d, k) in cases {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let lloyd = KMeansParams::new(k).seed(1).fit(&src).unwrap();
        for a in ACCEL {
            let m = KMeansParams::new(k)
                .seed(1)
                .algorithm(a.clone())
                .fit(&src)
                .unwrap();
            assert_eq!(m.n_iter, lloyd.n_iter, "{a:?} n={n} d={d} k={k}");
            assert_eq!(m.centers, lloyd.centers, "{a:?} n={n} d={d} k={k}");
            assert!((m.inertia - lloyd.inertia).abs() <= 1e-6 * lloyd.inertia.max(1.0));
            assert_eq!(m.algorithm, a.name());
        }
    }
}

#[test]
fn empty_cluster_relocation_mid_run_matches_lloyd() {
    // The third centre is far from everything: its cluster empties at once
    // and is re-seeded at the outlier.
    let x = common::two_groups_and_an_outlier();
    let n = x.len() / 2;
    let c0 = vec![0.0, 0.0, 10.0, 0.0, 1000.0, 1000.0];
    let lloyd = fit(&x, n, 2, &c0, 3, Algorithm::Lloyd, 0.0);
    assert!(lloyd.relocated >= 1);
    for a in ACCEL {
        let m = fit(&x, n, 2, &c0, 3, a.clone(), 0.0);
        assert_eq!(m.relocated, lloyd.relocated);
        assert_eq!(m.centers, lloyd.centers, "{a:?}");
        assert_eq!(m.n_iter, lloyd.n_iter);
    }
}

#[test]
fn bounds_spill_to_a_scratch_file_and_still_agree() {
    let n = 3000;
    let d = 4;
    let x: Vec<f32> = (0..n * d)
        .map(|i| ((i as f32) * 0.618).sin() * 50.0)
        .collect();
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let base = KMeansParams::new(40).seed(2).algorithm(Algorithm::Yinyang);
    let mut spilled = base.clone();
    spilled.scratch.in_memory_limit = 0;
    let a = base.fit(&src).unwrap();
    let b = spilled.fit(&src).unwrap();
    assert_eq!(a.centers, b.centers);
    assert_eq!(a.distance_evals, b.distance_evals);
    assert!(a.distance_evals < a.distance_evals_lloyd);
}

/// Overlapping blobs: `k` centres uniform in [-4, 4]^d, noise the sum of
/// four uniforms on [-1, 1] (bell-shaped, spread 1.15).
fn overlapping_blobs(n: usize, d: usize, k: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let c: Vec<f32> = (0..k * d).map(|_| rng.gen_range(-4.0..4.0)).collect();
    (0..n)
        .flat_map(|_| {
            let j = rng.gen_range(0..k);
            let noise: Vec<f32> = (0..d)
                .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum())
                .collect();
            c[j * d..(j + 1) * d]
                .iter()
                .zip(noise)
                .map(|(&a, e)| a + e)
                .collect::<Vec<f32>>()
        })
        .collect()
}

#[test]
fn warm_up_runs_lloyds_passes_then_the_bounds() {
    let (n, d, k) = (6000, 8, 48);
    let x = overlapping_blobs(n, d, k, 11);
    let c0 = x[..k * d].to_vec();
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let run = |a: Algorithm, warm: bool| {
        KMeansParams::new(k)
            .init(Init::Given(c0.clone()))
            .algorithm(a)
            .tol(0.0)
            .chunking(Chunking::with_rows(256).unwrap())
            .bounds_warm_up(warm)
            .fit(&src)
            .unwrap()
    };
    let lloyd = run(Algorithm::Lloyd, false);
    assert!(lloyd.n_iter > 20, "a long run: {}", lloyd.n_iter);
    for a in ACCEL {
        let cold = run(a.clone(), false);
        let warm = run(a.clone(), true);
        // The warm-up's passes are Lloyd's, bit for bit (the first passes
        // change far more than 0.5 % of the labels).
        let early = 5;
        assert_eq!(
            warm.history[..early]
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            lloyd.history[..early]
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            "{a:?}"
        );
        // Then the bounds ran and skipped distances, though fewer than
        // bounds from the first pass would have over the same run.
        assert!(warm.distance_evals < warm.distance_evals_lloyd, "{a:?}");
        assert!(
            warm.distance_evals as f64 / warm.distance_evals_lloyd as f64
                > cold.distance_evals as f64 / cold.distance_evals_lloyd as f64,
            "{a:?}"
        );
        // The same fit as Lloyd's, bit for bit: every variant decides by
        // the reference distance.
        assert_eq!(warm.n_iter, lloyd.n_iter, "{a:?}");
        assert_eq!(bits(&warm.history), bits(&lloyd.history), "{a:?}");
        assert_eq!(warm.centers, lloyd.centers, "{a:?}");
        assert_eq!(cold.centers, lloyd.centers, "{a:?}");
    }
}

/// k = 1000, where the variants differed by 6.0e-5 in inertia before every
/// path decided by the reference distance: now the same bits.
#[test]
fn lloyd_hamerly_and_yinyang_give_the_same_bits_at_k_1000() {
    let (n, d, k) = (12_000, 16, 1000);
    let x = overlapping_blobs(n, d, 64, 5);
    let c0: Vec<f32> = (0..k)
        .flat_map(|j| x[(j * 11) * d..(j * 11 + 1) * d].to_vec())
        .collect();
    let lloyd = fit(&x, n, d, &c0, k, Algorithm::Lloyd, 1e-4);
    assert!(lloyd.n_iter > 3, "a real run: {}", lloyd.n_iter);
    for a in ACCEL {
        let m = fit(&x, n, d, &c0, k, a.clone(), 1e-4);
        assert_eq!(m.n_iter, lloyd.n_iter, "{a:?}");
        assert_eq!(bits(&m.history), bits(&lloyd.history), "{a:?}");
        assert_eq!(m.centers, lloyd.centers, "{a:?}");
        assert_eq!(m.inertia.to_bits(), lloyd.inertia.to_bits(), "{a:?}");
        assert!(
            m.distance_evals < lloyd.distance_evals,
            "{a:?}: the bounds skipped"
        );
    }
}

#[test]
fn auto_resolves_to_the_measured_fastest() {
    // docs/benchmarks.md, section accel: Lloyd at d = 2, k = 16; Yinyang at
    // d = 32, k = 100, d = 384, k = 100 and (even with Lloyd) d = 16, k = 64;
    // Hamerly at d = 16, k = 1000 and d = 8, k = 256.
    for (d, k) in [(2, 16), (32, 4), (4, 2000), (1000, 8), (16, 32), (8, 100)] {
        assert_eq!(
            Algorithm::Auto.resolve(1_000_000, d, k),
            Algorithm::Lloyd,
            "d={d} k={k}"
        );
    }
    for (d, k) in [
        (384, 100),
        (32, 100),
        (16, 64),
        (64, 127),
        (32, 256),
        (1024, 1000),
    ] {
        assert_eq!(
            Algorithm::Auto.resolve(1_000_000, d, k),
            Algorithm::Yinyang,
            "d={d} k={k}"
        );
    }
    for (d, k) in [(16, 1000), (8, 256), (8, 1024), (31, 512), (128, 4000)] {
        assert_eq!(
            Algorithm::Auto.resolve(1_000_000, d, k),
            Algorithm::Hamerly,
            "d={d} k={k}"
        );
    }
    // Above AUTO_SAMPLE_BYTES of data (read from disk at every pass), the
    // smaller per-row state: Hamerly where Yinyang would be picked (the
    // 32 GiB file of docs/benchmarks.md, beyond-ram), whatever k and d.
    let rows_at = |d: usize| (AUTO_SAMPLE_BYTES / (4 * d as u64)) as usize;
    for (d, k) in [(32, 100), (384, 100), (16, 64)] {
        let at = rows_at(d);
        assert_eq!(Algorithm::Auto.resolve(at, d, k), Algorithm::Yinyang);
        assert_eq!(Algorithm::Auto.resolve(at + 1, d, k), Algorithm::Hamerly);
    }
    assert_eq!(
        Algorithm::Auto.resolve(268_435_456, 32, 100),
        Algorithm::Hamerly
    );
    assert_eq!(Algorithm::Auto.resolve(1 << 30, 32, 16), Algorithm::Lloyd);
    // Explicit choices stay.
    assert_eq!(
        Algorithm::Yinyang.resolve(1 << 30, 16, 1000),
        Algorithm::Yinyang
    );
    assert_eq!(Algorithm::Hamerly.resolve(100, 32, 100), Algorithm::Hamerly);
}

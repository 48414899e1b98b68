//! The sample initialisation (issue 20, item 3): K-means on a uniform sample
//! of rows read by random access, no pass over the data; `auto` picks it by
//! bytes alone.

use mmclust_core::ArraySource;
use mmclust_core::parallel::with_threads;
use mmclust_kmeans::{
    AUTO_PARALLEL_BYTES, AUTO_SAMPLE_BYTES, Init, KMeansParams, SAMPLE_MAX_BYTES, initial_centers,
    sample_size,
};

use crate::common;

use common::noise;
use mmclust_core::testing::Counting;

/// `groups` well-separated groups of `n / groups` rows each, d columns.
fn groups(n: usize, d: usize, groups: usize) -> Vec<f32> {
    let mut next = noise(11);
    (0..n * d)
        .map(|i| ((i / d) % groups) as f32 * 20.0 + ((i % d) as f32) + next())
        .collect()
}

#[test]
fn auto_picks_the_sample_above_its_byte_threshold_whatever_k() {
    let d = 32;
    let rows_at = |bytes: u64| (bytes / (4 * d as u64)) as usize;
    let at = rows_at(AUTO_SAMPLE_BYTES);
    assert_eq!(Init::Auto.resolve(at, d, 100), Init::k_means_parallel());
    assert_eq!(Init::Auto.resolve(at + 1, d, 100), Init::sample());
    assert_eq!(Init::Auto.resolve(at + 1, d, 4), Init::sample());
    assert_eq!(
        Init::Auto.resolve(rows_at(AUTO_PARALLEL_BYTES), d, 100),
        Init::KMeansPlusPlus
    );
    assert_eq!(Init::sample().name(), "sample");
}

#[test]
fn the_sample_holds_rows_per_centre_times_k_within_its_memory_cap() {
    assert_eq!(sample_size(1_000_000, 32, 100, 256), 25_600);
    assert_eq!(sample_size(10_000, 32, 100, 256), 10_000);
    // d = 4096: 256 MiB holds 16,384 rows, below 256 × 100.
    assert_eq!(
        sample_size(10_000_000, 4096, 100, 256),
        SAMPLE_MAX_BYTES / (4 * 4096)
    );
    // Never fewer rows than centres.
    assert_eq!(sample_size(10_000_000, 1 << 20, 100, 256), 100);
}

#[test]
fn the_sample_initialisation_reads_its_sample_and_nothing_else() {
    let (n, d, k) = (40_000, 4, 5);
    let x = groups(n, d, k);
    let src = Counting::new(&x, n, d);
    let params = KMeansParams::new(k)
        .init(Init::Sample {
            rows_per_centre: 64,
        })
        .seed(3);
    let centers = initial_centers(&params, &src).unwrap();
    assert_eq!(src.rows_read(), 64 * k);
    // The sample's K-means finds the five groups: one centre per group.
    let mut firsts: Vec<i64> = centers
        .chunks(d)
        .map(|c| (c[0] / 20.0).round() as i64)
        .collect();
    firsts.sort_unstable();
    assert_eq!(firsts, (0..k as i64).collect::<Vec<_>>());
    // A fit's init reads only its sample: 64·k rows more than the same fit
    // from given centres.
    let src = Counting::new(&x, n, d);
    let model = params.clone().max_iter(1).tol(0.0).fit(&src).unwrap();
    assert_eq!(model.init, "sample");
    let given = Counting::new(&x, n, d);
    let from_given = KMeansParams::new(k)
        .init(Init::Given(centers))
        .max_iter(1)
        .tol(0.0)
        .fit(&given)
        .unwrap();
    assert_eq!(src.rows_read(), given.rows_read() + 64 * k);
    assert_eq!(model.n_iter, from_given.n_iter);
}

#[test]
fn the_sample_fit_is_the_same_on_one_or_two_threads_and_seeded() {
    let (n, d, k) = (30_000, 3, 8);
    let x = groups(n, d, 4);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let fit = |threads: usize, seed: u64| {
        with_threads(Some(threads), || {
            KMeansParams::new(k)
                .init(Init::sample())
                .seed(seed)
                .fit(&src)
                .unwrap()
        })
        .unwrap()
    };
    let one = fit(1, 5);
    common::assert_same_fit(&one, &fit(2, 5), "sample init, 1 vs 2 threads");
    assert_ne!(one.centers, fit(1, 6).centers, "the seed picks the sample");
}

#[test]
fn zero_rows_per_centre_is_refused_by_name() {
    let x = groups(100, 2, 2);
    let err = KMeansParams::new(2)
        .init(Init::Sample { rows_per_centre: 0 })
        .fit(&ArraySource::from_slice(&x, 100, 2).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("init") && err.contains("1 row per centre"),
        "{err}"
    );
}

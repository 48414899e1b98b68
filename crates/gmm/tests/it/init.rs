//! The bounded initialisation beyond RAM (issue 20, item 4): `kmeans-sample`
//! runs K-means on a sample, not over the data; `auto` picks it by bytes.

use mmclust_core::testing::Counting;
use mmclust_gmm::{CovarianceType, GmmParams, Init};
use mmclust_kmeans::AUTO_SAMPLE_BYTES;

/// Three groups 30 apart in every column, with a little deterministic noise.
fn data(n: usize, d: usize) -> Vec<f32> {
    (0..n * d)
        .map(|i| {
            let row = i / d;
            ((row % 3) * 30) as f32 + ((row * 7 + i * 13) % 101) as f32 / 101.0
        })
        .collect()
}

#[test]
fn auto_is_kmeans_up_to_the_byte_threshold_and_the_sample_above() {
    let d = 16;
    let at = (AUTO_SAMPLE_BYTES / (4 * d as u64)) as usize;
    assert_eq!(Init::Auto.resolve(at, d), Init::KMeans);
    assert_eq!(Init::Auto.resolve(at + 1, d), Init::KMeansSample);
    assert_eq!(Init::Random.resolve(at + 1, d), Init::Random);
    // The default, on small data, is scikit-learn's K-means initialisation.
    let (n, d) = (3_000, 2);
    let x = data(n, d);
    let model = GmmParams::new(3).fit(&Counting::new(&x, n, d)).unwrap();
    assert_eq!(model.init, "kmeans");
}

#[test]
fn the_sample_initialisation_reads_its_sample_and_one_pass() {
    // 40,000 rows, k = 3: the sample holds 768 of them. Against
    // random-from-data (k rows, then the same initialisation pass), the
    // sample costs 768 − 3 rows more, and no K-means pass over the data.
    let (n, d, k) = (40_000, 4, 3);
    let x = data(n, d);
    let fit = |init: Init| {
        let src = Counting::new(&x, n, d);
        let model = GmmParams::new(k)
            .covariance(CovarianceType::Diag)
            .init(init)
            .seed(4)
            .max_iter(1)
            .fit(&src)
            .unwrap();
        (model, src.rows_read())
    };
    let (sample, sample_reads) = fit(Init::KMeansSample);
    let (rows, rows_reads) = fit(Init::RandomFromData);
    assert_eq!(sample.init, "kmeans-sample");
    assert_eq!(sample.n_iter, rows.n_iter);
    assert_eq!(sample_reads, rows_reads + 256 * k - k);
    // K-means to convergence reads the data many times over.
    let (_, kmeans_reads) = fit(Init::KMeans);
    assert!(
        kmeans_reads > rows_reads + n,
        "{kmeans_reads} vs {rows_reads}"
    );
    // The sample's K-means found the three groups: one mean near each.
    let mut firsts: Vec<i64> = sample
        .means()
        .chunks(d)
        .map(|m| (m[0] / 30.0).round() as i64)
        .collect();
    firsts.sort_unstable();
    assert_eq!(firsts, vec![0, 1, 2]);
}

//! Data the K-means integration tests share. Each test file uses some of it.
#![allow(dead_code)]

use mmclust_kmeans::KMeansModel;

/// A deterministic stream of noise in [-0.5, 0.5) from `seed`: the top 24
/// bits of a 64-bit linear congruential generator.
pub(crate) fn noise(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }
}

/// Two tight groups of 50 rows (around x = 0 and x = 10) and one outlier
/// at (5, 40), last: 101 rows of 2 columns. Given the centres (0, 0),
/// (10, 0) and (1000, 1000), the third cluster empties at once and its centre
/// is re-seeded at the outlier.
pub(crate) fn two_groups_and_an_outlier() -> Vec<f32> {
    let mut x = Vec::new();
    for i in 0..50 {
        x.extend([i as f32 * 0.01, 0.0]);
        x.extend([10.0 + i as f32 * 0.01, 0.0]);
    }
    x.extend([5.0, 40.0]);
    x
}

/// Asserts that two fits agree bit for bit: centres, inertia, iterations and
/// history (`what` names the comparison).
pub(crate) fn assert_same_fit(a: &KMeansModel, b: &KMeansModel, what: &str) {
    let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.centers), bits(&b.centers), "{what}: centres");
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits(), "{what}: inertia");
    assert_eq!(a.n_iter, b.n_iter, "{what}: iterations");
    let h = |m: &KMeansModel| m.history.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(h(a), h(b), "{what}: history");
}

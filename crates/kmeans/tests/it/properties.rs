//! Invariants of the K-means fit, as property tests, and its input errors.

use mmclust_core::ArraySource;
use mmclust_core::parallel::{Chunking, with_threads};
use mmclust_kmeans::{Init, KMeansError, KMeansParams};
use proptest::prelude::*;

use crate::common;

/// Points around a few random centres, with some spread.
fn data_strategy() -> impl Strategy<Value = (Vec<f32>, usize, usize, usize)> {
    (20usize..400, 1usize..12, 1usize..9).prop_flat_map(|(n, d, k)| {
        (
            proptest::collection::vec(-100.0f32..100.0, n * d),
            Just(n),
            Just(d),
            Just(k),
        )
    })
}

fn inits() -> Vec<Init> {
    vec![
        Init::KMeansPlusPlus,
        Init::Random,
        Init::KMeansParallel {
            rounds: 3,
            oversampling: 2.0,
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn inertia_never_rises_and_labels_are_in_range((x, n, d, k) in data_strategy(), seed in 0u64..1000) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for init in inits() {
            // Small chunks so several chunks and merges are exercised.
            let m = KMeansParams::new(k).init(init.clone()).seed(seed).tol(0.0)
                .chunking(Chunking::with_rows(7).unwrap())
                .fit(&src).unwrap();
            for w in m.history.windows(2) {
                // Exact arithmetic never rises; allow float32 rounding.
                prop_assert!(w[1] <= w[0] * (1.0 + 1e-5) + 1e-6, "{:?}: {:?}", init, m.history);
            }
            prop_assert!(m.inertia <= m.history[0] * (1.0 + 1e-5) + 1e-6);
            let labels = m.predict(&src).unwrap();
            prop_assert_eq!(labels.len(), n);
            prop_assert!(labels.iter().all(|&l| (l as usize) < k));
        }
    }

    #[test]
    fn same_seed_gives_the_same_bits_on_1_and_2_threads((x, n, d, k) in data_strategy(), seed in 0u64..1000) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for init in inits() {
            let params = KMeansParams::new(k).init(init.clone()).seed(seed).n_init(2)
                .chunking(Chunking::with_rows(16).unwrap());
            let one = with_threads(Some(1), || params.fit(&src)).unwrap().unwrap();
            let two = with_threads(Some(2), || params.fit(&src)).unwrap().unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&one.centers), bits(&two.centers));
            prop_assert_eq!(one.inertia.to_bits(), two.inertia.to_bits());
            prop_assert_eq!(one.n_iter, two.n_iter);
        }
    }

    #[test]
    fn restarts_keep_the_lowest_inertia((x, n, d, k) in data_strategy(), seed in 0u64..1000) {
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let m = KMeansParams::new(k).init(Init::Random).n_init(4).seed(seed).fit(&src).unwrap();
        let min = m.run_inertias.iter().copied().fold(f64::INFINITY, f64::min);
        prop_assert_eq!(m.inertia, min);
        prop_assert_eq!(m.run_inertias[m.best_run], min);
    }
}

#[test]
fn empty_cluster_is_moved_to_a_far_point() {
    // Two tight groups and one outlier; the third given centre is far from
    // everything.
    let x = common::two_groups_and_an_outlier();
    let n = x.len() / 2;
    let src = ArraySource::from_slice(&x, n, 2).unwrap();
    let c0 = vec![0.0, 0.0, 10.0, 0.0, 1000.0, 1000.0];
    let m = KMeansParams::new(3)
        .init(Init::Given(c0))
        .tol(0.0)
        .fit(&src)
        .unwrap();
    assert!(m.relocated >= 1, "{m:?}");
    // The relocated centre took the farthest point: the outlier, alone.
    let labels = m.predict(&src).unwrap();
    let outlier = labels[n - 1];
    assert_eq!(labels.iter().filter(|&&l| l == outlier).count(), 1);
    assert_eq!(m.distinct_centers, 3);
}

#[test]
fn fewer_distinct_points_than_k_is_reported() {
    let x: Vec<f32> = (0..30).map(|i| (i % 3) as f32).collect();
    let src = ArraySource::from_slice(&x, 30, 1).unwrap();
    let m = KMeansParams::new(5).seed(3).fit(&src).unwrap();
    assert_eq!(m.distinct_init, 3);
    assert!(m.distinct_centers <= 3);
    assert!(m.inertia.abs() < 1e-9);
}

#[test]
fn k_equal_to_n_gives_zero_inertia() {
    let x: Vec<f32> = (0..40).map(|i| (i * i) as f32).collect();
    let src = ArraySource::from_slice(&x, 20, 2).unwrap();
    for init in inits() {
        let m = KMeansParams::new(20).init(init).fit(&src).unwrap();
        assert!(m.inertia.abs() < 1e-6, "{}", m.inertia);
    }
}

fn err(params: KMeansParams, x: &[f32], n: usize, d: usize) -> String {
    let src = ArraySource::from_slice(x, n, d).unwrap();
    let e = params.fit(&src).unwrap_err();
    assert!(e.is_input_error(), "{e}");
    e.to_string()
}

#[test]
fn bad_parameters_and_data_are_named() {
    let x: Vec<f32> = (0..20).map(|i| i as f32).collect();
    assert!(err(KMeansParams::new(0), &x, 10, 2).contains("invalid k"));
    assert!(err(KMeansParams::new(11), &x, 10, 2).contains("more than the 10 rows"));
    assert!(err(KMeansParams::new(2).tol(-1.0), &x, 10, 2).contains("tol"));
    assert!(err(KMeansParams::new(2).max_iter(0), &x, 10, 2).contains("max_iter"));
    assert!(err(KMeansParams::new(2).n_init(0), &x, 10, 2).contains("n_init"));
    let given = KMeansParams::new(2).init(Init::Given(vec![0.0; 3]));
    assert!(err(given, &x, 10, 2).contains("k = 2 centres of d = 2 columns need 4"));
    let mut bad = x.clone();
    bad[13] = f32::NAN;
    bad[17] = f32::INFINITY;
    let msg = err(KMeansParams::new(2), &bad, 10, 2);
    assert!(
        msg.contains("2 non-finite") && msg.contains("row 6, column 1"),
        "{msg}"
    );
}

#[test]
fn bad_weights_are_named() {
    let x: Vec<f32> = (0..20).map(|i| i as f32).collect();
    let src = ArraySource::from_slice(&x, 10, 2).unwrap();
    let p = KMeansParams::new(2);
    let cases: [(Vec<f32>, &str); 4] = [
        (vec![1.0; 9], "9 weights for 10 rows"),
        (
            {
                let mut w = vec![1.0; 10];
                w[4] = -1.0;
                w
            },
            "row 4",
        ),
        (
            {
                let mut w = vec![1.0; 10];
                w[2] = f32::NAN;
                w
            },
            "row 2",
        ),
        (vec![0.0; 10], "all weights are zero"),
    ];
    for (w, want) in cases {
        let e = p.fit_weighted(&src, &w).unwrap_err();
        assert!(matches!(
            e,
            KMeansError::InvalidParameter {
                name: "weights",
                ..
            }
        ));
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn weights_equal_to_repeated_rows() {
    // Weight 2 on a row is the same as the row twice.
    let x = [0.0f32, 1.0, 2.0, 10.0, 11.0];
    let w = [1.0f32, 2.0, 1.0, 1.0, 3.0];
    let rep = [0.0f32, 1.0, 1.0, 2.0, 10.0, 11.0, 11.0, 11.0];
    let c0 = Init::Given(vec![0.0, 10.0]);
    let a = KMeansParams::new(2)
        .init(c0.clone())
        .fit_weighted(&ArraySource::from_slice(&x, 5, 1).unwrap(), &w)
        .unwrap();
    let b = KMeansParams::new(2)
        .init(c0)
        .fit(&ArraySource::from_slice(&rep, 8, 1).unwrap())
        .unwrap();
    assert_eq!(a.centers, b.centers);
    assert!((a.inertia - b.inertia).abs() < 1e-9);
}

#[test]
fn model_json_round_trips_and_rejects_corruption() {
    let x: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32).collect();
    let src = ArraySource::from_slice(&x, 100, 2).unwrap();
    let m = KMeansParams::new(3).standardize(true).fit(&src).unwrap();
    let text = m.to_json(None).to_string();
    let back = mmclust_kmeans::KMeansModel::from_json(&text).unwrap();
    assert_eq!(back.centers, m.centers);
    assert_eq!(back.predict(&src).unwrap(), m.predict(&src).unwrap());
    for (bad, want) in [
        ("{", "not valid JSON"),
        (r#"{"kind":"gmm"}"#, "not a \"kmeans\" model"),
        (
            r#"{"kind":"kmeans"}"#,
            "\"version\" must be a model version from 1",
        ),
        (
            r#"{"kind":"kmeans","version":2}"#,
            "model version 2 is newer",
        ),
        (r#"{"kind":"kmeans","version":1}"#, "missing or malformed"),
    ] {
        let e = mmclust_kmeans::KMeansModel::from_json(bad).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["k"] = serde_json::json!(4);
    let e = mmclust_kmeans::KMeansModel::from_json(&v.to_string()).unwrap_err();
    assert!(e.to_string().contains("k = 4 rows"), "{e}");
    let other = ArraySource::from_slice(&x[..198], 66, 3).unwrap();
    let e = back.predict(&other).unwrap_err();
    assert!(e.to_string().contains("3 columns but 2"), "{e}");
}

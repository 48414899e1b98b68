//! K-means against scikit-learn: fixtures written by
//! `scripts/make_sklearn_fixtures.sh` (scikit-learn 1.9, float32 data, one
//! thread), read here without Python.
//!
//! Tolerances: centres within 1e-5 relative (or 1e-5 absolute near zero) after
//! one iteration and after convergence; inertia within 1e-5 relative; labels
//! equal (the fixtures have no near-ties).

use std::path::PathBuf;

use mmclust_core::format::{open_matrix, read_npy_vector_f32, read_npy_vector_i32};
use mmclust_core::parallel::{Chunking, PassOptions};
use mmclust_core::stats::{ColumnStats, Standardizer};
use mmclust_core::testing;
use mmclust_core::{ArraySource, DataSource};
use mmclust_kmeans::{Algorithm, Init, KMeansModel, KMeansParams};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn matrix(name: &str) -> (Vec<f32>, usize, usize) {
    testing::npy_matrix(fixture(name))
}

fn meta(case: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{case}_meta.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

fn assert_centers_close(got: &[f32], want: &[f32], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: shape");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(f64::from(g), f64::from(w), rel),
            "{what}: value {i}: got {g}, scikit-learn {w}"
        );
    }
}

struct Case {
    x: Vec<f32>,
    n: usize,
    d: usize,
    c0: Vec<f32>,
    k: usize,
    weights: Option<Vec<f32>>,
    meta: Value,
    prefix: &'static str,
}

fn case(prefix: &'static str, data: &str) -> Case {
    let (x, n, d) = matrix(&format!("{data}_X.npy"));
    let (c0, k, _) = matrix(&format!("{prefix}_C0.npy"));
    let weights =
        (prefix == "weighted").then(|| read_npy_vector_f32(fixture("weighted_w.npy")).unwrap());
    Case {
        x,
        n,
        d,
        c0,
        k,
        weights,
        meta: meta(prefix),
        prefix,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("blobs", "blobs"),
        case("faithful", "faithful"),
        case("overlap", "overlap"),
        case("weighted", "blobs"),
    ]
}

/// Lloyd and its bounded variants: every fixture test runs for each.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang];

fn fit_with(c: &Case, max_iter: usize, tol: f64, algorithm: Algorithm) -> KMeansModel {
    let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
    let p = KMeansParams::new(c.k)
        .algorithm(algorithm)
        .init(Init::Given(c.c0.clone()))
        .max_iter(max_iter)
        .tol(tol);
    match &c.weights {
        Some(w) => p.fit_weighted(&src, w).unwrap(),
        None => p.fit(&src).unwrap(),
    }
}

#[test]
fn first_assignment_matches_scikit_learn_labels() {
    for c in cases() {
        let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
        let m0 = KMeansModel::from_centers(c.c0.clone(), c.k, c.d).unwrap();
        let labels = m0.predict(&src).unwrap();
        let want = read_npy_vector_i32(fixture(&format!("{}_iter1_labels.npy", c.prefix))).unwrap();
        let got: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
        assert_eq!(got, want, "{}: labels against C0", c.prefix);
    }
}

#[test]
fn one_iteration_matches_scikit_learn_centres() {
    for (c, a) in cases().iter().flat_map(|c| ALGORITHMS.map(|a| (c, a))) {
        let m = fit_with(c, 1, 0.0, a);
        let (want, _, _) = matrix(&format!("{}_iter1_centers.npy", c.prefix));
        assert_centers_close(
            &m.centers,
            &want,
            1e-5,
            &format!("{}: iteration 1", c.prefix),
        );
        assert_eq!(m.n_iter, 1);
        // Inertia after one iteration, against the updated centres (sklearn re-assigns).
        let want_inertia = c.meta["iter1"]["inertia_vs_iter1_centers_f64"]
            .as_f64()
            .unwrap();
        assert!(
            close(m.inertia, want_inertia, 1e-5),
            "{}: inertia {} vs {want_inertia}",
            c.prefix,
            m.inertia
        );
    }
}

#[test]
fn converged_run_matches_scikit_learn() {
    for (c, a) in cases().iter().flat_map(|c| ALGORITHMS.map(|a| (c, a))) {
        let m = fit_with(c, 300, 1e-4, a);
        let (want, _, _) = matrix(&format!("{}_centers.npy", c.prefix));
        assert_centers_close(&m.centers, &want, 1e-5, &format!("{}: converged", c.prefix));
        let conv = &c.meta["converged"];
        assert_eq!(
            m.n_iter as u64,
            conv["n_iter"].as_u64().unwrap(),
            "{}: n_iter",
            c.prefix
        );
        assert!(m.converged);
        let want_inertia = conv["inertia_f64"].as_f64().unwrap();
        assert!(
            close(m.inertia, want_inertia, 1e-5),
            "{}: inertia {} vs {want_inertia}",
            c.prefix,
            m.inertia
        );
        let tol_abs = conv["tol_absolute"].as_f64().unwrap();
        assert!(close(m.tol_abs, tol_abs, 1e-6), "{}: tol_abs", c.prefix);
        let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
        let labels: Vec<i32> = m.predict(&src).unwrap().iter().map(|&l| l as i32).collect();
        let want_labels =
            read_npy_vector_i32(fixture(&format!("{}_labels.npy", c.prefix))).unwrap();
        assert_eq!(labels, want_labels, "{}: converged labels", c.prefix);
    }
}

#[test]
fn inertia_path_matches_scikit_learn_iteration_by_iteration() {
    let c = case("overlap", "overlap");
    for a in ALGORITHMS {
        let m = fit_with(&c, 300, 0.0, a);
        let path: Vec<f64> = c.meta["path"]["inertia_at_centres_f64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // history[t] is the inertia against the centres iteration t assigned with.
        for (t, (&got, &want)) in m.history.iter().zip(&path).enumerate() {
            assert!(close(got, want, 1e-5), "iteration {t}: {got} vs {want}");
        }
        assert!(m.history.len() >= path.len() - 1);
    }
}

#[test]
fn standardisation_matches_standard_scaler() {
    let raw = open_matrix(fixture("faithful_raw.npy")).unwrap();
    let stats = ColumnStats::compute(&raw, Chunking::for_dim(2), PassOptions::default()).unwrap();
    let t = Standardizer::from_stats(&stats, "faithful").unwrap();
    let m = meta("faithful");
    for j in 0..2 {
        let mean = m["scaler_mean"][j].as_f64().unwrap();
        let scale = m["scaler_scale"][j].as_f64().unwrap();
        // Our columns are float32 (as every matrix the engine reads): 1e-7 relative.
        assert!(close(t.mean[j], mean, 1e-7), "mean {j}");
        assert!(close(t.scale[j], scale, 1e-7), "scale {j}");
    }
    let mut scratch = Vec::new();
    let mut z = raw.rows(0..272, &mut scratch).unwrap().to_vec();
    t.apply_in_place(&mut z);
    let (want, _, _) = matrix("faithful_X.npy");
    for (a, b) in z.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    // The bundled CSV gives the same data as the fixture's raw copy.
    let csv = open_matrix(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/faithful.csv"
    ))
    .unwrap();
    let mut s2 = Vec::new();
    let mut s3 = Vec::new();
    assert_eq!(
        csv.rows(0..272, &mut s2).unwrap(),
        raw.rows(0..272, &mut s3).unwrap()
    );
}

#[test]
fn standardize_flag_finds_the_two_eruption_types() {
    let csv = open_matrix(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/faithful.csv"
    ))
    .unwrap();
    let (c0, _, _) = matrix("faithful_C0.npy");
    let m = KMeansParams::new(2)
        .init(Init::Given(c0))
        .standardize(true)
        .fit(&csv)
        .unwrap();
    let (want, _, _) = matrix("faithful_centers.npy");
    assert_centers_close(&m.centers, &want, 1e-5, "standardised faithful");
    let meta = meta("faithful");
    let want_inertia = meta["converged"]["inertia_f64"].as_f64().unwrap();
    assert!(close(m.inertia, want_inertia, 1e-5));
}

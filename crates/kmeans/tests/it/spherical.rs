//! Spherical (cosine) K-means against a float64 NumPy reference: fixtures
//! written by `scripts/make_spherical_fixtures.sh`, read here without Python.
//!
//! From the same initial centres (`Init::Given`, `tol = 0`), after 1 and 20
//! iterations, for Lloyd, Hamerly and Yinyang (bounds from the first pass):
//! labels equal except rows whose best two cosines differ by less than 1e-6
//! (a tie a float32 engine may break either way); centres within 1e-6 of the
//! reference's (relative to their unit length); inertia Σ(1 − cos) within 1e-6
//! relative. At the initial centres (iteration 0), `predict` and `inertia_of`
//! of a cosine model are checked the same way.
//!
//! Every instruction-set path this CPU has: the test runs on the process's
//! default path, then runs itself again in a child process for each other path
//! with `MMCLUST_ISA` set (the path is read once per process).

use std::path::PathBuf;
use std::process::Command;

use mmclust_core::format::read_npy_vector_i32;
use mmclust_core::isa::Isa;
use mmclust_core::normalize::normalize_in_place;
use mmclust_core::parallel::{PassOptions, with_threads};
use mmclust_core::{ArraySource, testing};
use mmclust_kmeans::{Algorithm, Init, KMeansModel, KMeansParams, Metric, MiniBatchOptions};
use serde_json::Value;

use crate::common;

const TOL: f64 = 1e-6;

fn fixture(name: &str) -> PathBuf {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A float64 matrix fixture (the reference centres), as f64.
fn matrix_f64(name: &str) -> (Vec<f64>, usize) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    // The header ends with '\n' before the data; the data is little-endian f64.
    let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let header = String::from_utf8_lossy(&bytes[..header_len]);
    assert!(header.contains("'<f8'"), "{name}: {header}");
    let v: Vec<f64> = bytes[header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let shape = header.split("'shape': (").nth(1).unwrap();
    let rows: usize = shape.split(',').next().unwrap().trim().parse().unwrap();
    (v, rows)
}

fn gaps(name: &str) -> Vec<f64> {
    matrix_f64(name).0
}

struct Case {
    name: &'static str,
    x: Vec<f32>,
    n: usize,
    d: usize,
    c0: Vec<f32>,
    k: usize,
    meta: Value,
}

fn case(name: &'static str) -> Case {
    let (x, n, d) = testing::npy_matrix(fixture(&format!("spherical_{name}_X.npy")));
    let (c0, k, _) = testing::npy_matrix(fixture(&format!("spherical_{name}_C0.npy")));
    let text = std::fs::read_to_string(fixture(&format!("spherical_{name}_meta.json"))).unwrap();
    Case {
        name,
        x,
        n,
        d,
        c0,
        k,
        meta: serde_json::from_str(&text).unwrap(),
    }
}

/// Labels, centres and inertia of `model` on the case against iteration `t`.
fn compare(c: &Case, model: &KMeansModel, t: usize, what: &str) {
    let iter = &c.meta["iterations"][t.to_string()];
    let want_labels = read_npy_vector_i32(fixture(iter["labels"].as_str().unwrap())).unwrap();
    let gap = gaps(iter["gap"].as_str().unwrap());
    let (want_c, k) = matrix_f64(iter["centers"].as_str().unwrap());
    assert_eq!(k, c.k);
    let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
    let labels = model.predict(&src).unwrap();
    let mut ties = 0;
    for (i, (&got, &want)) in labels.iter().zip(&want_labels).enumerate() {
        if gap[i] < TOL {
            ties += 1;
            continue;
        }
        assert_eq!(
            got as i32, want,
            "{what}: label of row {i} (cosine gap {:e})",
            gap[i]
        );
    }
    assert!(ties < c.n / 10, "{what}: {ties} rows within {TOL} of a tie");
    for (i, (&g, &w)) in model.centers.iter().zip(&want_c).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= TOL,
            "{what}: centre {} column {}: got {g}, reference {w}",
            i / c.d,
            i % c.d
        );
    }
    let want_inertia = iter["inertia"].as_f64().unwrap();
    let rel = (model.inertia - want_inertia).abs() / want_inertia;
    assert!(
        rel <= TOL,
        "{what}: inertia {} against {want_inertia} ({rel:e} relative)",
        model.inertia
    );
    let again = model
        .inertia_of(&src, None, PassOptions::default())
        .unwrap();
    let rel = (again - want_inertia).abs() / want_inertia;
    assert!(
        rel <= TOL,
        "{what}: inertia_of {again} against {want_inertia}"
    );
}

fn check_path(isa: &str) {
    for name in ["blobs", "ties"] {
        let c = case(name);
        // Iteration 0: a cosine model holding the normalised initial centres.
        let mut unit = c.c0.clone();
        for row in unit.chunks_exact_mut(c.d) {
            normalize_in_place(row);
        }
        let mut model = KMeansModel::from_centers(unit, c.k, c.d).unwrap();
        model.metric = Metric::Cosine;
        let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
        model.inertia = model
            .inertia_of(&src, None, PassOptions::default())
            .unwrap();
        compare(&c, &model, 0, &format!("{isa} {} predict at C0", c.name));
        for t in [1, 20] {
            for a in [Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang] {
                let what = format!("{isa} {} {} after {t}", c.name, a.name());
                let model = KMeansParams::new(c.k)
                    .metric(Metric::Cosine)
                    .init(Init::Given(c.c0.clone()))
                    .algorithm(a)
                    .bounds_warm_up(false)
                    .max_iter(t)
                    .tol(0.0)
                    .fit(&src)
                    .unwrap();
                assert!(model.n_iter <= t, "{what}");
                compare(&c, &model, t, &what);
            }
        }
    }
}

#[test]
fn spherical_kmeans_matches_the_numpy_reference_on_every_path() {
    const NAME: &str = "spherical_kmeans_matches_the_numpy_reference_on_every_path";
    if let Ok(isa) = std::env::var("MMCLUST_ISA") {
        // A child started below (or a run with the variable set by hand).
        check_path(&isa);
        return;
    }
    check_path(Isa::current().name());
    for isa in Isa::paths_for_test(NAME) {
        if isa == Isa::current() {
            continue;
        }
        // The test's full name in this binary (`spherical::NAME`).
        let exact = format!("spherical::{NAME}");
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &exact, "--nocapture", "--test-threads", "1"])
            .env("MMCLUST_ISA", isa.name())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "path {}: {}{}",
            isa.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child ran the test (not filtered out).
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "path {}: {}",
            isa.name(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Same seed, same bits on 1 and 2 threads, for every algorithm and
/// k-means++ (which samples by 1 − cos) from the start.
#[test]
fn spherical_kmeans_gives_the_same_bits_on_1_and_2_threads() {
    let c = case("blobs");
    let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
    let algorithms = [
        Algorithm::Lloyd,
        Algorithm::Hamerly,
        Algorithm::Yinyang,
        Algorithm::MiniBatch(Box::new(MiniBatchOptions {
            batch_size: 256,
            ..MiniBatchOptions::default()
        })),
    ];
    for a in algorithms {
        for init in [Init::KMeansPlusPlus, Init::k_means_parallel(), Init::Random] {
            let params = KMeansParams::new(7)
                .metric(Metric::Cosine)
                .algorithm(a.clone())
                .init(init.clone())
                .seed(11);
            let one = with_threads(Some(1), || params.fit(&src)).unwrap().unwrap();
            let two = with_threads(Some(2), || params.fit(&src)).unwrap().unwrap();
            let what = format!("{} {}", a.name(), init.name());
            common::assert_same_fit(&one, &two, &what);
            // Unit-length centres, and Σ(1 − cos) between 0 and 2 per row.
            for (j, row) in one.centers.chunks_exact(c.d).enumerate() {
                let norm = mmclust_core::normalize::row_norm(row);
                assert!(
                    (norm - 1.0).abs() < 1e-6,
                    "{what}: centre {j} has norm {norm}"
                );
            }
            assert!(
                one.inertia > 0.0 && one.inertia < 2.0 * c.n as f64,
                "{what}"
            );
            assert_eq!(one.metric, Metric::Cosine);
        }
    }
}

/// A row of zeros is an error naming it; with standardisation, cosine is refused.
#[test]
fn zero_rows_and_standardisation_are_refused() {
    let mut x = vec![1.0f32; 40 * 3];
    for (i, v) in x.iter_mut().enumerate() {
        *v += (i % 7) as f32;
    }
    x[17 * 3..18 * 3].fill(0.0);
    let src = ArraySource::from_slice(&x, 40, 3).unwrap();
    let p = KMeansParams::new(2).metric(Metric::Cosine);
    let err = p.fit(&src).unwrap_err().to_string();
    assert!(err.contains("row 17"), "{err}");
    let err = p
        .clone()
        .standardize(true)
        .fit(&src)
        .unwrap_err()
        .to_string();
    assert!(err.contains("metric") && err.contains("standardi"), "{err}");
    let mb = p.algorithm(Algorithm::MiniBatch(Box::default())).tol(0.0);
    let err = mb.fit(&src).unwrap_err().to_string();
    assert!(err.contains("row 17"), "{err}");
}

/// The model file keeps the metric; files without it are Euclidean.
#[test]
fn the_model_file_keeps_the_metric() {
    let c = case("blobs");
    let src = ArraySource::from_slice(&c.x, c.n, c.d).unwrap();
    let model = KMeansParams::new(5)
        .metric(Metric::Cosine)
        .seed(3)
        .fit(&src)
        .unwrap();
    let json = model.to_json(None);
    assert_eq!(json["metric"], "cosine");
    let back = KMeansModel::from_json(&json.to_string()).unwrap();
    assert_eq!(back.metric, Metric::Cosine);
    assert_eq!(back.predict(&src).unwrap(), model.predict(&src).unwrap());
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("metric");
    let euclid = KMeansModel::from_json(&old.to_string()).unwrap();
    assert_eq!(euclid.metric, Metric::Euclidean);
    let mut bad = json;
    bad["metric"] = "manhattan".into();
    let err = KMeansModel::from_json(&bad.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("manhattan"), "{err}");
    // Euclidean models write no "metric" (the files of older versions).
    let plain = KMeansParams::new(5).seed(3).fit(&src).unwrap();
    assert!(plain.to_json(None).get("metric").is_none());
}

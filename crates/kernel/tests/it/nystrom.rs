//! The Nyström map against scikit-learn's `Nystroem` (fixtures by
//! `scripts/make_kernel_fixtures.sh`), determinism across thread counts,
//! model files read back, and parameter errors.

use std::path::{Path, PathBuf};

use mmclust_core::format::{NpyFile, open_matrix};
use mmclust_core::parallel::with_threads;
use mmclust_core::{ArraySource, DataSource};
use mmclust_kernel::datasets::{Shape, generate};
use mmclust_kernel::model::{read_arrays, write_arrays};
use mmclust_kernel::{
    Kernel, KernelError, KernelKMeansModel, KernelKind, LandmarkInit, NystromMap, NystromParams,
    SpectralModel, fit_kernel_kmeans, fit_spectral,
};
use mmclust_kmeans::{FitHooks, KMeansParams};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_f32(path: &Path) -> (Vec<f32>, usize, usize) {
    let m = open_matrix(path).unwrap();
    let (n, d) = (m.n_rows(), m.n_cols());
    (m.rows(0..n, &mut Vec::new()).unwrap().to_vec(), n, d)
}

fn read_f64(path: &Path) -> (Vec<f64>, usize, usize) {
    let f = NpyFile::open(path).unwrap();
    let (n, d) = f.shape();
    let bytes = std::fs::read(path).unwrap();
    let v = bytes[f.data_offset()..f.data_offset() + 8 * n * d]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (v, n, d)
}

fn check_case(name: &str, kernel: Kernel) {
    let (x, n, d) = read_f32(&fixture(&format!("{name}_x.npy")));
    let (l, _, _) = read_f32(&fixture(&format!("{name}_landmarks.npy")));
    let (gram, gn, _) = read_f64(&fixture(&format!("{name}_gram.npy")));
    assert_eq!(gn, n);
    let map = NystromMap::from_landmarks(kernel, l, d).unwrap();
    assert_eq!(map.dropped(), 0, "the fixture's K_MM is well conditioned");
    let mut phi = vec![0.0f64; n * map.n_components];
    map.map_rows_f64(&x, &mut phi);
    let mut phi32 = Vec::new();
    map.map_rows(&x, &mut phi32);
    let mp = map.n_components;
    let mut worst = (0.0f64, 0.0f64);
    for i in 0..n {
        for j in 0..n {
            let a = &phi[i * mp..(i + 1) * mp];
            let b = &phi[j * mp..(j + 1) * mp];
            let g: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
            let a32 = &phi32[i * mp..(i + 1) * mp];
            let b32 = &phi32[j * mp..(j + 1) * mp];
            let g32: f64 = a32
                .iter()
                .zip(b32)
                .map(|(&p, &q)| f64::from(p) * f64::from(q))
                .sum();
            let want = gram[i * n + j];
            let scale = want.abs().max(1.0);
            worst.0 = worst.0.max((g - want).abs() / scale);
            worst.1 = worst.1.max((g32 - want).abs() / scale);
        }
    }
    assert!(worst.0 < 1e-5, "{name}: f64 φ·φ off by {}", worst.0);
    assert!(worst.1 < 1e-5, "{name}: f32 φ·φ off by {}", worst.1);
}

#[test]
fn rbf_matches_scikit_learn_nystroem() {
    check_case("rbf", Kernel::Rbf { gamma: 0.3 });
}

#[test]
fn polynomial_matches_scikit_learn_nystroem() {
    check_case(
        "poly",
        Kernel::Polynomial {
            gamma: 0.2,
            degree: 3,
            coef0: 1.0,
        },
    );
}

fn moons(n: usize) -> Vec<f32> {
    generate(Shape::Moons, n, 0.05, 7).0
}

fn small_params() -> NystromParams {
    NystromParams {
        n_landmarks: 40,
        seed: 5,
        ..NystromParams::rbf()
    }
}

#[test]
fn cached_features_give_the_bits_of_features_recomputed_on_every_pass() {
    let x = moons(3000);
    let data = ArraySource::from_slice(&x, 3000, 2).unwrap();
    // A zero in-memory limit sends the cache to a mapped scratch file.
    let mut params = KMeansParams::new(2).seed(3);
    params.scratch.in_memory_limit = 0;
    let fit = |cache: bool| {
        let nys = NystromParams {
            cache_features: cache,
            ..small_params()
        };
        let kk = fit_kernel_kmeans(&nys, &params, &data, FitHooks::default()).unwrap();
        let sp = fit_spectral(&nys, &params, &data, FitHooks::default()).unwrap();
        (kk, sp)
    };
    let ((k1, s1), (k2, s2)) = (fit(true), fit(false));
    assert!(
        k1.kmeans.n_iter > 1,
        "a test of one pass would prove little"
    );
    assert!(k1.kmeans.centers == k2.kmeans.centers);
    assert_eq!(k1.kmeans.inertia.to_bits(), k2.kmeans.inertia.to_bits());
    assert_eq!(k1.kmeans.history, k2.kmeans.history);
    assert!(s1.kmeans.centers == s2.kmeans.centers);
    assert_eq!(s1.kmeans.inertia.to_bits(), s2.kmeans.inertia.to_bits());
    let cached =
        mmclust_kernel::cache::CachedRows::fill(&k1.features(&data).unwrap(), &params.scratch)
            .unwrap();
    assert!(cached.is_mapped());
}

#[test]
fn same_bits_on_one_and_two_threads() {
    let x = moons(3000);
    let data = ArraySource::from_slice(&x, 3000, 2).unwrap();
    let params = KMeansParams::new(2).seed(3);
    let run = || {
        let kk = fit_kernel_kmeans(&small_params(), &params, &data, FitHooks::default()).unwrap();
        let sp = fit_spectral(&small_params(), &params, &data, FitHooks::default()).unwrap();
        (kk, sp)
    };
    let (k1, s1) = with_threads(Some(1), run).unwrap();
    let (k2, s2) = with_threads(Some(2), run).unwrap();
    // Everything but the timings.
    assert!(k1.map == k2.map, "kernel k-means maps differ");
    assert!(k1.kmeans.centers == k2.kmeans.centers);
    assert_eq!(k1.kmeans.inertia.to_bits(), k2.kmeans.inertia.to_bits());
    assert!(s1.embedding == s2.embedding, "spectral embeddings differ");
    assert!(s1.eigenvalues == s2.eigenvalues);
    assert!(s1.kmeans.centers == s2.kmeans.centers);
    assert_eq!(s1.kmeans.inertia.to_bits(), s2.kmeans.inertia.to_bits());
    let uniform = NystromParams {
        landmark_init: LandmarkInit::Uniform,
        ..small_params()
    };
    let a = with_threads(Some(1), || uniform.fit(&data).unwrap()).unwrap();
    let b = with_threads(Some(2), || uniform.fit(&data).unwrap()).unwrap();
    assert!(a == b, "uniform landmarks differ");
}

#[test]
fn models_read_back_predict_the_same() {
    let x = moons(2000);
    let data = ArraySource::from_slice(&x, 2000, 2).unwrap();
    let params = KMeansParams::new(2).seed(3);
    let dir = tempfile::tempdir().unwrap();
    let side = dir.path().join("m.arrays.npy");

    let kk = fit_kernel_kmeans(&small_params(), &params, &data, FitHooks::default()).unwrap();
    let (json, values) = kk.to_json("m.arrays.npy", None);
    write_arrays(&side, &values, &[]).unwrap();
    let text = json.to_string();
    assert_eq!(
        KernelKMeansModel::arrays_file(&text).unwrap(),
        "m.arrays.npy"
    );
    let back = KernelKMeansModel::from_json(&text, &read_arrays(&side).unwrap()).unwrap();
    assert_eq!(back.predict(&data).unwrap(), kk.predict(&data).unwrap());
    assert_eq!(back.map.w, kk.map.w);
    // A sidecar of another length is refused.
    assert!(KernelKMeansModel::from_json(&text, &values[1..]).is_err());

    let sp = fit_spectral(&small_params(), &params, &data, FitHooks::default()).unwrap();
    let (json, values) = sp.to_json("m.arrays.npy", None);
    write_arrays(&side, &values, &[]).unwrap();
    let text = json.to_string();
    let back = SpectralModel::from_json(&text, &read_arrays(&side).unwrap()).unwrap();
    assert_eq!(back.predict(&data).unwrap(), sp.predict(&data).unwrap());
    // The kinds are not interchangeable.
    assert!(KernelKMeansModel::from_json(&text, &values).is_err());
}

fn param_name(e: KernelError) -> &'static str {
    match e {
        KernelError::InvalidParameter { name, .. } => name,
        other => panic!("not a parameter error: {other}"),
    }
}

#[test]
fn bad_parameters_are_named() {
    let x = moons(100);
    let data = ArraySource::from_slice(&x, 100, 2).unwrap();
    let params = KMeansParams::new(2);
    let fit = |p: NystromParams, k: usize| {
        fit_kernel_kmeans(&p, &KMeansParams::new(k), &data, FitHooks::default())
            .map(|_| ())
            .unwrap_err()
    };
    let gamma0 = NystromParams {
        gamma: Some(0.0),
        ..small_params()
    };
    assert_eq!(param_name(fit(gamma0, 2)), "gamma");
    let too_many = NystromParams {
        n_landmarks: 101,
        ..small_params()
    };
    assert_eq!(param_name(fit(too_many, 2)), "landmarks");
    let fewer_than_k = NystromParams {
        n_landmarks: 3,
        ..small_params()
    };
    assert_eq!(param_name(fit(fewer_than_k, 4)), "landmarks");
    let degree0 = NystromParams {
        kernel: KernelKind::Polynomial {
            degree: 0,
            coef0: 1.0,
        },
        ..small_params()
    };
    assert_eq!(param_name(fit(degree0, 2)), "degree");
    let e = fit_spectral(
        &small_params(),
        &params.clone().standardize(true),
        &data,
        FitHooks::default(),
    )
    .unwrap_err();
    assert_eq!(param_name(e), "standardize");
}

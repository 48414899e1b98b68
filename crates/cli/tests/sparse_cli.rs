//! Sparse CSR input (`.npz`, `scipy.sparse.save_npz`) through the binary.
//!
//! The fixtures (`tests/data/sparse_*`, made by `scripts/make_sparse_fixtures.sh`)
//! hold one document-like matrix saved compressed, uncompressed (float64 values,
//! unsorted columns) and as its dense float32 copy. Every command must give the
//! same bits on the three; spherical K-means on the sparse file must match the
//! float64 NumPy reference as the dense spherical fixtures do (labels equal except
//! rows within 1e-6 of a tie, centres within 1e-6 of the unit-length reference,
//! inertia within 1e-6 relative).

mod common;

use std::path::{Path, PathBuf};

use common::{assert_one_line_input_error, json, read_f32_npy, read_json, repo, run, run_ok, s};

const TOL: f64 = 1e-6;

fn data(name: &str) -> PathBuf {
    repo().join("crates/cli/tests/data").join(name)
}

/// The three copies of the matrix: compressed, uncompressed, dense.
fn copies() -> [PathBuf; 3] {
    [
        data("sparse_X.npz"),
        data("sparse_X_plain.npz"),
        data("sparse_X.npy"),
    ]
}

fn read_f64_npy(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(String::from_utf8_lossy(&bytes[..header_len]).contains("'<f8'"));
    bytes[header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn read_i32_npy(path: &Path) -> Vec<i32> {
    read_f32_npy(path)
        .iter()
        .map(|v| v.to_bits().cast_signed())
        .collect()
}

/// Runs `kmeans` on `input` with `extra`, writing model, labels and centres
/// into `dir`; returns the JSON summary and the three files' bytes.
fn fit(input: &Path, dir: &Path, extra: &[&str]) -> (serde_json::Value, Vec<Vec<u8>>) {
    let (model, labels, centers) = (dir.join("m.json"), dir.join("l.npy"), dir.join("c.npy"));
    let mut a = vec!["kmeans", s(input), "-k", "4", "--json"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&[
        "--model-out",
        s(&model),
        "--labels-out",
        s(&labels),
        "--centers-out",
        s(&centers),
    ]);
    let v = json(&run_ok(&a));
    let mut model_json = read_json(&model);
    // The input's fingerprint differs by design, and timings by chance; so
    // does the count of rows the pre-screen left to the reference distance
    // (the sparse estimates of crates/core/src/kernel/sparse.rs are not the
    // dense pre-screen: the same labels, other rows re-checked).
    let object = model_json.as_object_mut().unwrap();
    assert!(object.contains_key("input") && object.contains_key("seconds"));
    assert!(object.contains_key("rechecks"));
    object.retain(|k, _| k != "input" && k != "seconds" && k != "rechecks");
    let files = vec![
        model_json.to_string().into_bytes(),
        std::fs::read(&labels).unwrap(),
        std::fs::read(&centers).unwrap(),
    ];
    (v, files)
}

#[test]
fn every_algorithm_and_init_gives_the_same_bits_on_sparse_and_dense() {
    let c0 = data("sparse_C0.npy");
    let configs: Vec<Vec<&str>> = vec![
        vec![
            "--metric",
            "cosine",
            "--init",
            s(&c0),
            "--max-iter",
            "20",
            "--tol",
            "0",
        ],
        vec![
            "--metric",
            "cosine",
            "--algorithm",
            "hamerly",
            "--seed",
            "3",
        ],
        vec![
            "--metric",
            "cosine",
            "--algorithm",
            "yinyang",
            "--init",
            "k-means-parallel",
        ],
        vec![
            "--metric",
            "cosine",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "64",
        ],
        vec!["--metric", "cosine", "--init", "random", "--n-init", "2"],
        vec!["--seed", "5"],
        vec![
            "--algorithm",
            "minibatch",
            "--batch-size",
            "50",
            "--seed",
            "1",
        ],
    ];
    for config in &configs {
        let mut results = Vec::new();
        for input in copies() {
            let dir = tempfile::tempdir().unwrap();
            let (v, files) = fit(&input, dir.path(), config);
            results.push((input, v["inertia"].clone(), v["n_iter"].clone(), files));
        }
        let (dense, inertia, n_iter, files) = results.pop().unwrap();
        for (input, i, n, f) in &results {
            let what = format!(
                "{config:?}: {} against {}",
                input.display(),
                dense.display()
            );
            assert_eq!((i, n), (&inertia, &n_iter), "{what}");
            assert!(f == &files, "{what}: model, labels or centres differ");
        }
    }
}

#[test]
fn predict_transform_score_and_silhouette_are_the_same_on_sparse_and_dense() {
    let dir = tempfile::tempdir().unwrap();
    for metric in ["cosine", "euclidean"] {
        let model = dir.path().join(format!("{metric}.json"));
        let labels = dir.path().join(format!("{metric}-labels.npy"));
        let [_, _, dense] = copies();
        run_ok(&[
            "kmeans",
            s(&dense),
            "-k",
            "4",
            "--metric",
            metric,
            "--quiet",
            "--model-out",
            s(&model),
            "--labels-out",
            s(&labels),
        ]);
        let outputs = |input: &Path| {
            let (p, t, per) = (
                dir.path().join("p.npy"),
                dir.path().join("t.npy"),
                dir.path().join("s.npy"),
            );
            run_ok(&["predict", s(&model), s(input), "-o", s(&p), "--quiet"]);
            run_ok(&[
                "predict",
                s(&model),
                s(input),
                "-o",
                s(&t),
                "--transform",
                "--quiet",
            ]);
            let score = json(&run_ok(&[
                "score",
                s(&model),
                s(input),
                "--per-sample-out",
                s(&per),
                "--json",
            ]));
            let silhouette = json(&run_ok(&[
                "silhouette",
                s(input),
                s(&labels),
                "--metric",
                metric,
                "--json",
            ]));
            assert!(score["inertia"].is_number() && silhouette["clusters"].is_array());
            (
                [p, t, per].map(|f| std::fs::read(f).unwrap()),
                score["inertia"].clone(),
                silhouette["clusters"].clone(),
            )
        };
        let want = outputs(&dense);
        for input in &copies()[..2] {
            let got = outputs(input);
            assert!(
                got.0 == want.0,
                "{metric}: predict/transform/score files differ on {}",
                input.display()
            );
            assert_eq!(
                (&got.1, &got.2),
                (&want.1, &want.2),
                "{metric}: {}",
                input.display()
            );
        }
    }
}

#[test]
fn spherical_kmeans_on_sparse_input_matches_the_numpy_reference() {
    let meta = read_json(&data("sparse_meta.json"));
    let (n, d) = (300, 128);
    for t in [1, 20] {
        let iter = &meta["iterations"][t.to_string()];
        let want_labels = read_i32_npy(&data(iter["labels"].as_str().unwrap()));
        let gap = read_f64_npy(&data(iter["gap"].as_str().unwrap()));
        let want_c = read_f64_npy(&data(iter["centers"].as_str().unwrap()));
        for input in &copies()[..2] {
            let dir = tempfile::tempdir().unwrap();
            let c0 = data("sparse_C0.npy");
            let steps = t.to_string();
            let (v, _) = fit(
                input,
                dir.path(),
                &[
                    "--metric",
                    "cosine",
                    "--init",
                    s(&c0),
                    "--max-iter",
                    &steps,
                    "--tol",
                    "0",
                ],
            );
            let labels = read_i32_npy(&dir.path().join("l.npy"));
            let centers = read_f32_npy(&dir.path().join("c.npy"));
            assert_eq!(labels.len(), n);
            let mut ties = 0;
            for (i, (&got, &want)) in labels.iter().zip(&want_labels).enumerate() {
                if gap[i] < TOL {
                    ties += 1;
                } else {
                    assert_eq!(got, want, "t = {t}, {}: row {i}", input.display());
                }
            }
            assert!(ties < n / 10, "{ties} rows within {TOL} of a tie");
            for (i, (&g, &w)) in centers.iter().zip(&want_c).enumerate() {
                assert!(
                    (f64::from(g) - w).abs() <= TOL,
                    "t = {t}, {}: centre {} column {}: {g} against {w}",
                    input.display(),
                    i / d,
                    i % d
                );
            }
            let want = iter["inertia"].as_f64().unwrap();
            let got = v["inertia"].as_f64().unwrap();
            assert!(
                (got - want).abs() <= TOL * want,
                "t = {t}: inertia {got} against {want}"
            );
        }
    }
}

#[test]
fn an_all_zero_sparse_row_is_an_error_for_cosine_only() {
    let zero = data("sparse_zero_row.npz");
    let o = run(&[
        "kmeans",
        s(&zero),
        "-k",
        "4",
        "--metric",
        "cosine",
        "--quiet",
    ]);
    assert_one_line_input_error(&o, "row 7 (0-based) is all zeros");
    run_ok(&["kmeans", s(&zero), "-k", "4", "--quiet"]);
}

#[test]
fn info_and_convert_between_compressed_uncompressed_and_dense() {
    let v = json(&run_ok(&["info", s(&data("sparse_X.npz")), "--json"]));
    let meta = read_json(&data("sparse_meta.json"));
    assert_eq!(v["file"]["rows"], 300);
    assert_eq!(v["file"]["cols"], 128);
    assert_eq!(v["sparse"]["nnz"], meta["nnz"]);
    assert_eq!(v["sparse"]["compressed"], true);
    let density = v["sparse"]["density"].as_f64().unwrap();
    assert!((density - meta["nnz"].as_f64().unwrap() / (300.0 * 128.0)).abs() < 1e-12);

    let dir = tempfile::tempdir().unwrap();
    let (plain, zipped, dense) = (
        dir.path().join("p.npz"),
        dir.path().join("z.npz"),
        dir.path().join("d.npy"),
    );
    run_ok(&["convert", s(&data("sparse_X.npz")), s(&plain), "--quiet"]);
    run_ok(&["convert", s(&plain), s(&zipped), "--compress", "--quiet"]);
    run_ok(&["convert", s(&zipped), s(&dense), "--quiet"]);
    assert_eq!(
        json(&run_ok(&["info", s(&plain), "--json"]))["sparse"]["compressed"],
        false
    );
    assert_eq!(
        json(&run_ok(&["info", s(&zipped), "--json"]))["sparse"]["compressed"],
        true
    );
    assert_eq!(
        std::fs::read(&dense).unwrap(),
        std::fs::read(data("sparse_X.npy")).unwrap()
    );

    let o = run(&[
        "convert",
        s(&data("sparse_X.npy")),
        s(&dir.path().join("x.npy")),
        "--compress",
    ]);
    assert_one_line_input_error(&o, "--compress");
}

#[test]
fn a_compressed_npz_gives_the_same_bits_on_1_and_2_threads() {
    let input = data("sparse_X.npz");
    common::assert_same_on_1_and_2_threads(|threads| {
        let dir = tempfile::tempdir().unwrap();
        let centers = dir.path().join("c.npy");
        run_ok(&[
            "--threads",
            threads,
            "kmeans",
            s(&input),
            "-k",
            "4",
            "--metric",
            "cosine",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "32",
            "--seed",
            "2",
            "--quiet",
            "--centers-out",
            s(&centers),
        ]);
        std::fs::read(&centers).unwrap()
    });
}

//! `mmclust spectral`, `mmclust kmeans --kernel` and `mmclust generate
//! moons|rings`: accuracy against the generating labels through `mmclust
//! scores --truth`, models read back by `predict` and `score`, the same
//! bytes on 1 and 2 threads, and bad parameters (exit 2, the parameter named).

mod common;

use std::path::{Path, PathBuf};

use common::{assert_same_bytes, run, run_ok, s, stderr};

fn generate(dir: &Path, shape: &str, n: &str) -> (PathBuf, PathBuf) {
    let x = dir.join(format!("{shape}.npy"));
    let t = dir.join(format!("{shape}_truth.npy"));
    run_ok(&[
        "generate",
        shape,
        "--n",
        n,
        "-o",
        s(&x),
        "--labels-out",
        s(&t),
        "--seed",
        "4",
    ]);
    (x, t)
}

fn ari(x: &Path, labels: &Path, truth: &Path) -> f64 {
    let o = run_ok(&[
        "scores",
        s(x),
        s(labels),
        "--truth",
        s(truth),
        "--json",
        "--sample",
        "500",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["adjusted_rand"]
        .as_f64()
        .unwrap_or_else(|| panic!("no adjusted_rand in {v}"))
}

#[test]
fn spectral_separates_rings_and_predict_reads_the_model_back() {
    let dir = tempfile::tempdir().unwrap();
    let (x, t) = generate(dir.path(), "rings", "12000");
    let labels = dir.path().join("labels.npy");
    let model = dir.path().join("rings.json");
    let o = run_ok(&[
        "spectral",
        s(&x),
        "-k",
        "2",
        "--labels-out",
        s(&labels),
        "--model-out",
        s(&model),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "spectral");
    assert!(v["gamma"].as_f64().unwrap() > 0.0);
    assert!(dir.path().join("rings.arrays.npy").exists());
    assert!(ari(&x, &labels, &t) >= 0.99);
    let again = dir.path().join("again.npy");
    run_ok(&["predict", s(&model), s(&x), "-o", s(&again)]);
    assert_same_bytes(&labels, &again);
    let o = run_ok(&["score", s(&model), s(&x), "--json"]);
    let sv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rel = (sv["inertia"].as_f64().unwrap() - v["labels_inertia"].as_f64().unwrap()).abs();
    assert!(rel <= 1e-9 * sv["inertia"].as_f64().unwrap().max(1.0));
    // Plain K-means fails on the rings.
    let plain = dir.path().join("plain.npy");
    run_ok(&["kmeans", s(&x), "-k", "2", "--labels-out", s(&plain)]);
    assert!(ari(&x, &plain, &t).abs() < 0.05);
}

#[test]
fn kernel_kmeans_model_predicts_the_fitted_labels_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = generate(dir.path(), "moons", "6000");
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let labels = dir.path().join(format!("l{threads}.npy"));
        let model = dir.path().join(format!("m{threads}.json"));
        let centers = dir.path().join(format!("c{threads}.npy"));
        run_ok(&[
            "kmeans",
            s(&x),
            "-k",
            "2",
            "--kernel",
            "rbf",
            "--landmarks",
            "60",
            "--threads",
            threads,
            "--labels-out",
            s(&labels),
            "--model-out",
            s(&model),
            "--centers-out",
            s(&centers),
        ]);
        outs.push((
            labels,
            centers,
            dir.path().join(format!("m{threads}.arrays.npy")),
        ));
    }
    assert_same_bytes(&outs[0].0, &outs[1].0);
    assert_same_bytes(&outs[0].1, &outs[1].1);
    assert_same_bytes(&outs[0].2, &outs[1].2);
    let again = dir.path().join("again.npy");
    run_ok(&[
        "predict",
        s(&dir.path().join("m1.json")),
        s(&x),
        "-o",
        s(&again),
    ]);
    assert_same_bytes(&outs[0].0, &again);
    // A model without its sidecar is a clear error.
    std::fs::remove_file(&outs[0].2).unwrap();
    let o = run(&[
        "predict",
        s(&dir.path().join("m1.json")),
        s(&x),
        "-o",
        s(&again),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("m1.arrays.npy"), "{}", stderr(&o));
}

#[test]
fn bad_kernel_parameters_exit_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = generate(dir.path(), "moons", "500");
    let r = dir.path().join("r.npy");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "kmeans",
                s(&x),
                "-k",
                "2",
                "--kernel",
                "rbf",
                "--gamma",
                "0",
            ],
            "gamma",
        ),
        (&["kmeans", s(&x), "-k", "2", "--gamma", "1"], "--kernel"),
        (
            &[
                "kmeans",
                s(&x),
                "-k",
                "2",
                "--kernel",
                "rbf",
                "--landmarks",
                "501",
            ],
            "landmarks",
        ),
        (
            &["spectral", s(&x), "-k", "5", "--landmarks", "4"],
            "landmarks",
        ),
        (
            &[
                "spectral",
                s(&x),
                "-k",
                "2",
                "--kernel",
                "polynomial",
                "--degree",
                "0",
            ],
            "degree",
        ),
        (&["spectral", s(&x), "-k", "2", "--degree", "2"], "--degree"),
        (
            &[
                "kmeans",
                s(&x),
                "-k",
                "2",
                "--kernel",
                "rbf",
                "--standardize",
            ],
            "--standardize",
        ),
        (
            &[
                "kmeans",
                s(&x),
                "-k",
                "2",
                "--kernel",
                "rbf",
                "--metric",
                "cosine",
            ],
            "--metric cosine",
        ),
        (&["generate", "rings", "--n", "0", "-o", s(&r)], "--n"),
        (
            &[
                "generate",
                "moons",
                "--n",
                "10",
                "--noise",
                "-1",
                "-o",
                s(&r),
            ],
            "--noise",
        ),
    ];
    for (args, name) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn generate_is_the_same_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let x = dir.path().join(format!("x{threads}.npy"));
        run_ok(&[
            "generate",
            "moons",
            "--n",
            "10000",
            "-o",
            s(&x),
            "--threads",
            threads,
        ]);
        files.push(x);
    }
    assert_same_bytes(&files[0], &files[1]);
}

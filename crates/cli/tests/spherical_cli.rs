//! `--metric cosine`: spherical K-means through the binary (fit, model file,
//! predict, transform, score, silhouette), and its input errors.

mod common;

use std::path::PathBuf;

use common::{
    assert_one_line_input_error, json, read_f32_npy, read_json, repo, run, run_ok, s, temp_paths,
    write_f32_npy,
};

fn kmeans_fixture(name: &str) -> PathBuf {
    repo().join("crates/kmeans/tests/fixtures").join(name)
}

fn read_i32_npy(path: &std::path::Path) -> Vec<i32> {
    read_f32_npy(path)
        .iter()
        .map(|v| v.to_bits() as i32)
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn cosine_round_trip_fit_model_predict_transform_score() {
    let x = kmeans_fixture("spherical_blobs_X.npy");
    let c0 = kmeans_fixture("spherical_blobs_C0.npy");
    let meta = read_json(&kmeans_fixture("spherical_blobs_meta.json"));
    let (_dir, [model, labels, centers, pred, dist, per, scaled, pred_scaled]) = temp_paths([
        "m.json", "l.npy", "c.npy", "p.npy", "t.npy", "s.npy", "x3.npy", "p3.npy",
    ]);
    let o = run_ok(&[
        "kmeans",
        s(&x),
        "-k",
        "5",
        "--metric",
        "cosine",
        "--init",
        s(&c0),
        "--max-iter",
        "20",
        "--tol",
        "0",
        "--algorithm",
        "yinyang",
        "--json",
        "--model-out",
        s(&model),
        "--labels-out",
        s(&labels),
        "--centers-out",
        s(&centers),
    ]);
    let v = json(&o);
    assert_eq!(v["metric"], "cosine", "{v}");
    let inertia = v["inertia"].as_f64().unwrap();
    let want = meta["iterations"]["20"]["inertia"].as_f64().unwrap();
    assert!(
        close(inertia, want, 1e-6),
        "inertia {inertia} against the reference {want}"
    );
    let m = read_json(&model);
    assert_eq!(m["metric"], "cosine");
    // Unit-length centres.
    let c = read_f32_npy(&centers);
    for row in c.chunks_exact(16) {
        let norm: f64 = row
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-6, "centre norm {norm}");
    }
    // predict gives the fit's labels; the data scaled by 3 (per row: cosine
    // ignores length) gives them too.
    run_ok(&["predict", s(&model), s(&x), "-o", s(&pred), "--quiet"]);
    let fit_labels = read_i32_npy(&labels);
    assert_eq!(read_i32_npy(&pred), fit_labels);
    let xs: Vec<f32> = read_f32_npy(&x)
        .chunks_exact(16)
        .enumerate()
        .flat_map(|(i, r)| {
            r.iter()
                .map(move |v| v * (1 + i % 3) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    write_f32_npy(&scaled, 2000, 16, &xs);
    run_ok(&[
        "predict",
        s(&model),
        s(&scaled),
        "-o",
        s(&pred_scaled),
        "--quiet",
    ]);
    assert_eq!(read_i32_npy(&pred_scaled), fit_labels);
    // score: Σ(1 − cos), the fit's inertia; per sample, each row's 1 − cos.
    let sc = json(&run_ok(&[
        "score",
        s(&model),
        s(&x),
        "--json",
        "--per-sample-out",
        s(&per),
    ]));
    assert_eq!(sc["metric"], "cosine");
    let total = sc["inertia"].as_f64().unwrap();
    assert!(
        close(total, inertia, 1e-9),
        "score {total} against fit {inertia}"
    );
    let per_row = read_f32_npy(&per);
    let sum: f64 = per_row.iter().map(|&v| f64::from(v)).sum();
    assert!(
        close(sum, inertia, 1e-5),
        "per-sample sum {sum} against {inertia}"
    );
    // transform: 1 − cos to every centre, in [0, 2]; the row's own the smallest.
    run_ok(&[
        "predict",
        s(&model),
        s(&x),
        "-o",
        s(&dist),
        "--transform",
        "--quiet",
    ]);
    let t = read_f32_npy(&dist);
    for (i, row) in t.chunks_exact(5).enumerate() {
        assert!(
            row.iter().all(|&v| (-1e-6..=2.0 + 1e-6).contains(&v)),
            "row {i}: {row:?}"
        );
        let own = row[fit_labels[i] as usize];
        assert!(row.iter().all(|&v| v >= own), "row {i}: {row:?}");
        assert!(
            (own - per_row[i]).abs() <= 1e-6,
            "row {i}: {own} against {}",
            per_row[i]
        );
    }
}

#[test]
fn cosine_silhouette_matches_sklearn_through_the_binary() {
    let fx = repo().join("crates/eval/tests/fixtures");
    let want = read_json(&fx.join("cosine_silhouette.json"));
    let v = json(&run_ok(&[
        "silhouette",
        s(&fx.join("cosine_x.npy")),
        s(&fx.join("cosine_labels.npy")),
        "--metric",
        "cosine",
        "--json",
    ]));
    assert_eq!(v["metric"], "cosine");
    let got = v["silhouette"].as_f64().unwrap();
    let score = want["silhouette_score"].as_f64().unwrap();
    assert!(
        close(got, score, 1e-6),
        "{got} against scikit-learn's {score}"
    );
    // The sweep runs spherical K-means for each k.
    let v = json(&run_ok(&[
        "silhouette",
        s(&fx.join("cosine_x.npy")),
        "--k",
        "2..=6",
        "--metric",
        "cosine",
        "--json",
        "--n-init",
        "1",
    ]));
    assert_eq!(v["metric"], "cosine");
    assert_eq!(v["best_k"], 5, "{v}");
}

#[test]
fn cosine_input_errors_exit_2() {
    let (_dir, [data, model, out]) = temp_paths(["z.npy", "m.json", "o.npy"]);
    let mut x: Vec<f32> = (0..40 * 3).map(|i| (i % 7) as f32 + 1.0).collect();
    x[3 * 3..4 * 3].fill(0.0);
    write_f32_npy(&data, 40, 3, &x);
    let o = run(&["kmeans", s(&data), "-k", "2", "--metric", "cosine"]);
    assert_one_line_input_error(&o, "row 3");
    let o = run(&[
        "kmeans",
        s(&data),
        "-k",
        "2",
        "--metric",
        "cosine",
        "--algorithm",
        "minibatch",
    ]);
    assert_one_line_input_error(&o, "row 3");
    let o = run(&["kmeans", s(&data), "-k", "2", "--metric", "manhattan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr(&o).contains("manhattan"));
    let o = run(&[
        "kmeans",
        s(&data),
        "-k",
        "2",
        "--metric",
        "cosine",
        "--standardize",
    ]);
    assert_one_line_input_error(&o, "standardize");
    let o = run(&["silhouette", s(&data), "--k", "2..=3", "--metric", "cosine"]);
    assert_one_line_input_error(&o, "row 3");
    // A cosine model, then data with a zero row: predict and score name it.
    let good: Vec<f32> = (0..40 * 3).map(|i| (i % 7) as f32 + 1.0).collect();
    let gpath = out.with_file_name("g.npy");
    write_f32_npy(&gpath, 40, 3, &good);
    run_ok(&[
        "kmeans",
        s(&gpath),
        "-k",
        "2",
        "--metric",
        "cosine",
        "--model-out",
        s(&model),
        "--quiet",
    ]);
    let o = run(&["predict", s(&model), s(&data), "-o", s(&out)]);
    assert_one_line_input_error(&o, "row 3");
    let o = run(&["score", s(&model), s(&data)]);
    assert_one_line_input_error(&o, "row 3");
    assert!(!out.exists());
}

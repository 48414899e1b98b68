//! The judging and choosing commands on real files: `demo`, `elbow`,
//! `silhouette`, `gmm-select`, `scores`; their outputs and their input errors.

mod common;

use std::path::PathBuf;

use common::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("crates/eval/tests/fixtures").join(name)
}

fn expected() -> serde_json::Value {
    read_json(&fixture("eval_fixtures.json"))
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-6 * want.abs(), "{got} vs {want}");
}

#[test]
fn demo_writes_a_report_from_any_folder_and_picks_two() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["demo", "--json", "--quiet"])
        .output()
        .unwrap();
    let j = json(&o);
    assert_eq!(j["chosen_k"], 2);
    assert_eq!(j["elbow"]["knee"], 2);
    let index = dir.path().join("report/index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("<svg") && html.contains("k = 2"));
    // Self-contained: no scripts, styles or images fetched from the network.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    for f in [
        "elbow.svg",
        "silhouette.svg",
        "silhouette_by_k.svg",
        "bic.svg",
        "kmeans.svg",
        "gmm.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join("report").join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
    }
    // Plain text: a short summary naming the chosen k.
    let o = bin()
        .current_dir(dir.path())
        .args(["demo", "--out", "r2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("chosen k = 2"));
}

#[test]
fn elbow_finds_the_knee_and_checks_its_range() {
    let (_dir, [plot]) = temp_paths(["elbow.svg"]);
    let j = json(&run_on_faithful_z(
        "elbow",
        &["--k", "1..=8", "--plot-out", s(&plot)],
    ));
    assert_eq!(j["knee"], 2);
    assert_eq!(j["sse"].as_array().unwrap().len(), 8);
    assert_file_contains(&plot, "knee: k = 2");
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "5..=2"]), "empty");
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "0..=3"]), "k ≥ 1");
    assert_input_error(
        &run(&["elbow", s(&faithful()), "--k", "1..=300"]),
        "272 rows",
    );
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "two"]), "--k");
}

#[test]
fn silhouette_matches_sklearn_on_any_thread_count() {
    let want = expected()["cases"]["blobs"]["silhouette_score"]
        .as_f64()
        .unwrap();
    let x = fixture("blobs_x.npy");
    let l = fixture("blobs_labels.npy");
    let one = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--threads",
        "1",
    ]));
    let two = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--threads",
        "2",
        "--working-memory",
        "1",
    ]));
    close(one["silhouette"].as_f64().unwrap(), want);
    assert_eq!(one["silhouette"], two["silhouette"]);
    assert_eq!(one["clusters"], two["clusters"]);
    let est = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--sample",
        "200",
    ]));
    let se = est["std_error"].as_f64().unwrap();
    assert!((est["silhouette"].as_f64().unwrap() - want).abs() < 5.0 * se);

    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("s.svg");
    run_ok(&["silhouette", s(&x), s(&l), "--plot-out", s(&plot)]);
    assert_file_contains(&plot, "mean 0.526");

    let sweep = json(&run_on_faithful_z("silhouette", &["--k", "2..=4"]));
    assert_eq!(sweep["best_k"], 2);
}

#[test]
fn silhouette_input_errors_exit_2() {
    let x = fixture("blobs_x.npy");
    let short = fixture("faithful_labels.npy");
    assert_input_error(
        &run(&["silhouette", s(&x), s(&short)]),
        "272 labels for the 600 rows",
    );
    assert_input_error(&run(&["silhouette", s(&x)]), "LABELS");
    assert_input_error(
        &run(&["silhouette", s(&faithful()), "--k", "1..=3"]),
        "k ≥ 2",
    );
    assert_input_error(
        &run(&[
            "silhouette",
            s(&x),
            s(&fixture("blobs_labels.npy")),
            "--sample",
            "0",
        ]),
        "--sample",
    );
    assert_input_error(&run(&["silhouette", s(&x), s(&x)]), "1-D");
}

#[test]
fn scores_match_sklearn_with_truth() {
    let c = &expected()["cases"]["blobs"];
    let (x, labels) = (fixture("blobs_x.npy"), fixture("blobs_labels.npy"));
    let with_truth = |truth: &str, extra: &[&str]| {
        let truth = fixture(truth);
        run(&[
            &["scores", s(&x), s(&labels), "--truth", s(&truth)][..],
            extra,
        ]
        .concat())
    };
    let j = json(&with_truth("blobs_truth.npy", &["--json"]));
    for (ours, theirs) in [
        ("silhouette", "silhouette_score"),
        ("calinski_harabasz", "calinski_harabasz"),
        ("davies_bouldin", "davies_bouldin"),
        ("adjusted_rand", "adjusted_rand"),
        ("nmi", "nmi"),
    ] {
        close(j[ours].as_f64().unwrap(), c[theirs].as_f64().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.npy");
    std::fs::write(
        &one,
        npy_bytes("<i4", false, "(600,)", &i32_bytes(&[3; 600])),
    )
    .unwrap();
    assert_input_error(&run(&["scores", s(&x), s(&one)]), "1 distinct label");
    assert_input_error(
        &with_truth("odd_truth.npy", &[]),
        "300 labels for the 600 rows",
    );
}

#[test]
fn gmm_select_prefers_two_full_components_on_old_faithful() {
    let (_dir, [plot]) = temp_paths(["bic.svg"]);
    let j = json(&run_on_faithful_z(
        "gmm-select",
        &[
            "--k",
            "1..=4",
            "--covariance",
            "full",
            "--plot-out",
            s(&plot),
        ],
    ));
    assert_eq!(j["best"]["k"], 2);
    assert_eq!(j["candidates"].as_array().unwrap().len(), 4);
    assert_file_contains(&plot, "lowest BIC");
    assert_input_error(
        &run(&[
            "gmm-select",
            s(&faithful()),
            "--k",
            "1..=3",
            "--covariance",
            "full,round",
        ]),
        "round",
    );
    assert_input_error(
        &run(&["gmm-select", s(&faithful()), "--k", "3..=1"]),
        "empty",
    );
}

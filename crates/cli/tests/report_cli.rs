//! `mmclust report`: its numbers are those of the commands it replaces
//! (`elbow`, `silhouette --k`, `gmm-select`), its command lines reproduce its
//! models, its input errors exit 2 with one line, and it runs on a file
//! larger than the memory it is allowed.

mod common;

use std::path::Path;

use common::*;

/// Runs a command line of the report's "commands" list (no quoting in it).
fn run_line(line: &str) -> serde_json::Value {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "mmclust", "{line}");
    json(&run_ok(&[&words[1..], &["--json", "--quiet"][..]].concat()))
}

fn command<'a>(report: &'a serde_json::Value, what: &str) -> &'a str {
    report["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == what)
        .unwrap_or_else(|| panic!("no command for {what}: {}", report["commands"]))["command"]
        .as_str()
        .unwrap()
}

#[test]
fn report_numbers_are_those_of_elbow_silhouette_and_gmm_select() {
    // 3000 rows, sampled above 1000: the sampled silhouette path, and the
    // principal axes (d = 5).
    let (dir, x) = temp_blobs(3000, 5, 3);
    let out = dir.path().join("page");
    let seed = "5";
    let r = json(&run_ok(&[
        "report",
        s(&x),
        "-k",
        "2..=5",
        "--sample-above",
        "1000",
        "--sample",
        "400",
        "--covariance",
        "full,diag",
        "--out",
        s(&out),
        "--seed",
        seed,
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["command"], "report");
    assert_eq!(r["silhouette"]["sampled"], true);
    assert_eq!(r["silhouette"]["sample"], 400);

    let e = run_line(command(&r, "elbow"));
    assert_eq!(r["elbow"]["sse"], e["sse"]);
    assert_eq!(r["elbow"]["knee"], e["knee"]);
    let sil = run_line(command(&r, "silhouettes"));
    assert_eq!(r["silhouette"]["silhouette"], sil["silhouette"]);
    assert_eq!(r["silhouette"]["std_error"], sil["std_error"]);
    assert!(sil["std_error"][0].as_f64().unwrap() > 0.0);
    let g = run_line(command(&r, "mixtures by BIC"));
    let bics = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["bic"].clone())
            .collect()
    };
    assert_eq!(bics(&r["gmm_select"]["candidates"]), bics(&g["candidates"]));
    assert_eq!(r["gmm_select"]["best"], g["best"]);

    // The chosen model's own command line gives the same SSE, bit for bit.
    let k = r["chosen_k"].as_u64().unwrap();
    let km = run_line(command(&r, &format!("K-means, k = {k}")));
    let i = (k - 2) as usize;
    assert_eq!(km["inertia"], r["elbow"]["sse"][i]);
    // And one mixture's.
    let gm = run_line(command(&r, "Gaussian mixture, diag covariance, k = 3"));
    let cand = r["gmm_select"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["k"] == 3 && c["covariance"] == "diag")
        .unwrap();
    assert_eq!(gm["bic"], cand["bic"]);

    // Three well-separated blobs: every criterion says 3.
    assert_eq!(r["choice"]["knee"], 3);
    assert_eq!(r["choice"]["best_silhouette"], 3);
    assert_eq!(r["chosen_k"], 3);

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for want in [
        "principal component 1",
        "estimated",
        "400 rows drawn at random",
        "mmclust kmeans",
        "<h2>Timings</h2>",
        "<h2>Columns</h2>",
    ] {
        assert!(html.contains(want), "the page should say {want:?}");
    }
    for f in [
        "elbow.svg",
        "silhouette.svg",
        "silhouette_by_k.svg",
        "bic.svg",
        "kmeans.svg",
        "gmm.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
    }
}

#[test]
fn report_disagreeing_criteria_are_all_shown() {
    // Old Faithful: knee and silhouette say 2, the lowest BIC (tied) 3.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let r = json(&run_ok(&[
        "report",
        s(&faithful()),
        "--standardize",
        "-k",
        "1..=6",
        "--out",
        s(&out),
        "--json",
        "--quiet",
    ]));
    assert_eq!(r["choice"]["knee"], 2);
    assert_eq!(r["choice"]["best_silhouette"], 2);
    assert_eq!(r["choice"]["lowest_bic"], 3);
    assert_eq!(r["choice"]["agree"], false);
    assert_eq!(r["chosen_k"], 2);
    // d = 2: no principal axes, the silhouettes exact.
    assert_eq!(r["silhouette"]["sampled"], false);
    assert_eq!(r["silhouette"]["silhouette"][0], serde_json::Value::Null);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("The criteria disagree") && html.contains("The rule:"));
    assert!(!html.contains("principal component"));
    assert!(html.contains("eruptions"), "CSV header names the columns");
}

#[test]
fn report_writes_png_plots_with_format_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    run_ok(&[
        "report",
        s(&faithful()),
        "-k",
        "2..=3",
        "--covariance",
        "diag",
        "--format",
        "png",
        "--out",
        s(&out),
        "--quiet",
    ]);
    for name in ["elbow", "silhouette", "bic", "kmeans", "gmm"] {
        let png = std::fs::read(out.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}.png is a PNG");
        assert!(
            !out.join(format!("{name}.svg")).exists(),
            "{name}: png only"
        );
    }
    assert!(
        std::fs::read_to_string(out.join("index.html"))
            .unwrap()
            .contains("<svg")
    );
}

#[test]
fn report_input_errors_exit_2_with_one_line() {
    let f = faithful();
    assert_one_line_input_error(&run(&["report", s(&f), "-k", "5..=2"]), "empty");
    assert_one_line_input_error(&run(&["report", s(&f), "-k", "two"]), "--k");
    assert_one_line_input_error(&run(&["report", s(&f), "-k", "0..=3"]), "k ≥ 1");
    assert_one_line_input_error(&run(&["report", s(&f), "-k", "2..=300"]), "272 rows");
    assert_one_line_input_error(
        &run(&["report", "/nonexistent/x.npy", "--out", "/nonexistent/r"]),
        "/nonexistent/x.npy",
    );
    assert_one_line_input_error(&run(&["report", s(&f), "--n-init", "0"]), "--n-init");
    assert_one_line_input_error(
        &run(&["report", s(&f), "--standardize", "--metric", "cosine"]),
        "--standardize",
    );
    assert_one_line_input_error(
        &run(&["report", s(&f), "--covariance", "round"]),
        "--covariance",
    );
}

/// A file of about 150 MiB under a 64 MiB memory limit: nothing may hold the
/// n × d data. Skipped (passing) where `memlimit` finds no memory cgroup.
#[test]
fn report_runs_on_a_file_larger_than_its_memory() {
    let memlimit = repo().join("../shared/tools/memlimit");
    if !memlimit.exists() {
        eprintln!("skipped: no {}", memlimit.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("big.npy");
    // 614 400 × 64 float32 = 150 MiB.
    generate_blobs(&x, 614_400, 64, 3, &["--seed", "3"]);
    let bytes = std::fs::metadata(&x).unwrap().len();
    assert!(bytes > 150 << 20, "{bytes}");
    let out = dir.path().join("r");
    let o = std::process::Command::new(&memlimit)
        .arg("64M")
        .arg(env!("CARGO_BIN_EXE_mmclust"))
        .args([
            "report",
            s(&x),
            "-k",
            "2..=3",
            "--n-init",
            "1",
            "--max-iter",
            "5",
            "--covariance",
            "diag",
            "--gmm-max-iter",
            "3",
            "--sample",
            "300",
            "--out",
            s(&out),
            "--json",
            "--quiet",
        ])
        .output()
        .unwrap();
    if o.status.code() == Some(3) {
        eprintln!(
            "skipped: memlimit has no memory cgroup here: {}",
            stderr(&o)
        );
        return;
    }
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let r = json(&o);
    assert_eq!(r["n"], 614_400);
    assert_eq!(r["silhouette"]["sampled"], true);
    assert!(Path::new(r["report"].as_str().unwrap()).exists());
}

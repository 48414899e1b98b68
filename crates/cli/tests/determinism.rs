//! The determinism suite: every algorithm gives the same bytes whatever the
//! thread count (1, 2, 3, 8).
//!
//! For each configuration the run is repeated with `--threads 1, 2, 3, 8` and
//! every output file (labels, centres, responsibilities, silhouette values,
//! plots, models) and the `--json` summary must be identical byte for byte,
//! except for wall-clock fields (`*seconds*`, which measure the machine, not
//! the answer) and the output paths named in the summary, both removed before
//! comparing. The data has enough rows for many chunks, so the thread count
//! really changes how the work is split.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, generate_blobs, s};

const THREADS: [&str; 4] = ["1", "2", "3", "8"];

/// An output file's name and the bytes compared.
type OutputFile = (String, Vec<u8>);

/// Removes wall-clock fields (any key containing "seconds"), output paths
/// (keys ending in "_out", which name the per-run files) and the thread count
/// itself from a JSON value.
fn strip(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| {
                !k.contains("seconds") && !k.ends_with("_out") && k != "out" && k != "threads"
            });
            map.values_mut().for_each(strip);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// Runs `args` (OUT_x placeholders become per-run output files) on each
/// thread count and asserts every output and the summary are identical.
fn assert_thread_independent(name: &str, dir: &Path, args: &[&str]) {
    let mut first: Option<(String, Vec<OutputFile>)> = None;
    for t in THREADS {
        let run_dir = dir.join(format!("{name}-t{t}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut outputs: Vec<(String, PathBuf)> = Vec::new();
        let a: Vec<String> = args
            .iter()
            .map(|x| match x.strip_prefix("OUT_") {
                Some(file) => {
                    let p = run_dir.join(file);
                    outputs.push((file.to_string(), p.clone()));
                    s(&p).to_string()
                }
                None => x.to_string(),
            })
            .collect();
        let o = bin()
            .args(&a)
            .args(["--threads", t, "--json", "--quiet"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name} --threads {t}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        strip(&mut summary);
        let files: Vec<OutputFile> = outputs
            .iter()
            .map(|(file, p)| {
                let bytes = std::fs::read(p).unwrap();
                // Model files record their own timings: strip those too.
                if file.ends_with(".json") || file.ends_with(".ck") {
                    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    strip(&mut v);
                    (file.clone(), v.to_string().into_bytes())
                } else {
                    (file.clone(), bytes)
                }
            })
            .collect();
        assert!(!files.is_empty() || summary.is_object());
        match &first {
            None => first = Some((summary.to_string(), files)),
            Some((summary1, files1)) => {
                assert_eq!(
                    &summary.to_string(),
                    summary1,
                    "{name}: summary differs on {t} threads"
                );
                for ((file, a), (_, b)) in files.iter().zip(files1) {
                    assert!(a == b, "{name}: {file} differs on {t} threads");
                }
            }
        }
    }
}

fn data(dir: &Path, n: usize, d: usize, k: usize) -> String {
    let p = dir.join(format!("data_{n}_{d}.npy"));
    generate_blobs(&p, n, d, k, &["--spread", "3", "--seed", "11"]);
    s(&p).to_string()
}

#[test]
fn kmeans_every_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path(), 60_000, 6, 5);
    for algorithm in ["lloyd", "hamerly", "yinyang"] {
        assert_thread_independent(
            algorithm,
            dir.path(),
            &[
                "kmeans",
                &x,
                "-k",
                "7",
                "--algorithm",
                algorithm,
                "--n-init",
                "2",
                "--tol",
                "0",
                "--max-iter",
                "30",
                "--centers-out",
                "OUT_c.npy",
                "--labels-out",
                "OUT_l.npy",
                "--model-out",
                "OUT_m.json",
            ],
        );
    }
    assert_thread_independent(
        "minibatch",
        dir.path(),
        &[
            "kmeans",
            &x,
            "-k",
            "7",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "1024",
            "--max-iter",
            "3",
            "--centers-out",
            "OUT_c.npy",
            "--labels-out",
            "OUT_l.npy",
            "--model-out",
            "OUT_m.json",
            "--checkpoint",
            "OUT_state.ck",
        ],
    );
    assert_thread_independent(
        "k-means-parallel init",
        dir.path(),
        &[
            "kmeans",
            &x,
            "-k",
            "7",
            "--init",
            "k-means-parallel",
            "--max-iter",
            "5",
            "--centers-out",
            "OUT_c.npy",
        ],
    );
}

#[test]
fn kernel_kmeans_and_spectral() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path(), 20_000, 4, 3);
    assert_thread_independent(
        "kernel-kmeans",
        dir.path(),
        &[
            "kmeans",
            &x,
            "-k",
            "3",
            "--kernel",
            "rbf",
            "--landmarks",
            "40",
            "--model-out",
            "OUT_m.json",
            "--labels-out",
            "OUT_l.npy",
            "--centers-out",
            "OUT_c.npy",
        ],
    );
    assert_thread_independent(
        "spectral",
        dir.path(),
        &[
            "spectral",
            &x,
            "-k",
            "3",
            "--landmarks",
            "40",
            "--landmark-init",
            "uniform",
            "--model-out",
            "OUT_m.json",
            "--labels-out",
            "OUT_l.npy",
        ],
    );
}

#[test]
fn gmm_every_covariance_type() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path(), 30_000, 4, 3);
    for cov in ["full", "diag", "spherical", "tied"] {
        assert_thread_independent(
            &format!("gmm-{cov}"),
            dir.path(),
            &[
                "gmm",
                &x,
                "-k",
                "3",
                "--covariance",
                cov,
                "--max-iter",
                "20",
                "--tol",
                "0",
                "--labels-out",
                "OUT_l.npy",
                "--proba-out",
                "OUT_p.npy",
                "--model-out",
                "OUT_m.json",
            ],
        );
    }
}

#[test]
fn evaluation_and_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(dir.path(), 40_000, 5, 4);
    let small = data(dir.path(), 4_000, 5, 4);
    assert_thread_independent(
        "elbow",
        dir.path(),
        &["elbow", &x, "--k", "1..=5", "--plot-out", "OUT_e.svg"],
    );
    assert_thread_independent(
        "silhouette sweep",
        dir.path(),
        &[
            "silhouette",
            &x,
            "--k",
            "2..=4",
            "--sample",
            "3000",
            "--plot-out",
            "OUT_s.svg",
        ],
    );
    // Labels for the exact silhouette and the scores.
    let labels = dir.path().join("labels.npy");
    let model = dir.path().join("model.json");
    let o = bin()
        .args([
            "kmeans",
            &small,
            "-k",
            "4",
            "--labels-out",
            s(&labels),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = bin()
        .args(["kmeans", &x, "-k", "4", "--model-out", s(&model), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_thread_independent(
        "silhouette exact",
        dir.path(),
        &[
            "silhouette",
            &small,
            s(&labels),
            "--values-out",
            "OUT_v.npy",
        ],
    );
    assert_thread_independent("scores", dir.path(), &["scores", &small, s(&labels)]);
    assert_thread_independent(
        "gmm-select",
        dir.path(),
        &[
            "gmm-select",
            &small,
            "--k",
            "1..=3",
            "--covariance",
            "full,diag",
            // A PNG: the rendered plot is thread-independent too.
            "--plot-out",
            "OUT_g.png",
        ],
    );
    assert_thread_independent(
        "predict --transform",
        dir.path(),
        &["predict", s(&model), &x, "-o", "OUT_t.npy", "--transform"],
    );
    assert_thread_independent(
        "score",
        dir.path(),
        &["score", s(&model), &x, "--per-sample-out", "OUT_s.npy"],
    );
    assert_thread_independent(
        "standardize",
        dir.path(),
        &[
            "standardize",
            &x,
            "-o",
            "OUT_z.npy",
            "--stats-out",
            "OUT_z.json",
        ],
    );
    assert_thread_independent("info --stats", dir.path(), &["info", &x, "--stats"]);
}

/// Drop-behind: passes over a file larger than the memory counted as
/// available for the page cache (`MMCLUST_CACHE_MIB`: none, or 1 MiB against
/// this 12.8 MB file) drop the pages they have passed (`MADV_DONTNEED` on the
/// live map, `POSIX_FADV_DONTNEED`) and hint the chunks ahead: the same
/// bytes as a run that keeps everything, for the exact K-means algorithms,
/// mini-batch, GMM and the sampled silhouette (on the K-means labels).
#[test]
fn dropping_pages_behind_changes_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    // 12.8 MB: a mapped file drops whole 2 MiB blocks.
    let x = data(dir.path(), 400_000, 8, 5);
    let strings = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let kmeans = |alg: &str| strings(&["kmeans", &x, "-k", "5", "--algorithm", alg, "--seed", "3"]);
    let sample = ["--sample", "2000", "--seed", "3"];
    let runs = [
        kmeans("lloyd"),
        kmeans("yinyang"),
        kmeans("minibatch"),
        strings(&["gmm", &x, "-k", "3", "--covariance", "diag", "--seed", "3"]),
        strings(&[&["silhouette", &x, "LABELS"][..], &sample].concat()),
    ];
    let labels = dir.path().join("labels.npy");
    for args in &runs {
        let mut first: Option<(String, Vec<u8>)> = None;
        for cache in [None, Some("1"), Some("0")] {
            let out = dir.path().join("out.npy");
            let _ = std::fs::remove_file(&out);
            let a: Vec<String> = args
                .iter()
                .map(|a| {
                    if a == "LABELS" {
                        s(&labels).to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let mut cmd = bin();
            cmd.args(&a).args(["--json", "--quiet"]);
            if a[0] != "silhouette" {
                cmd.args(["--labels-out", s(&out)]);
            }
            match cache {
                Some(mib) => cmd.env("MMCLUST_CACHE_MIB", mib),
                None => cmd.env_remove("MMCLUST_CACHE_MIB"),
            };
            let o = cmd.output().unwrap();
            assert!(
                o.status.success(),
                "{a:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let mut summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            strip(&mut summary);
            let bytes = std::fs::read(&out).unwrap_or_default();
            if a[0] == "kmeans" && cache.is_none() {
                std::fs::copy(&out, &labels).unwrap();
            }
            match &first {
                None => first = Some((summary.to_string(), bytes)),
                Some((s1, b1)) => {
                    assert_eq!(
                        &summary.to_string(),
                        s1,
                        "{a:?}: summary with cache {cache:?}"
                    );
                    assert!(&bytes == b1, "{a:?}: labels differ with cache {cache:?}");
                }
            }
        }
    }
}

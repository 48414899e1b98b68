//! The `mmclust` binary on real files: exit codes, messages, outputs, and
//! determinism across thread counts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmclust"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn faithful() -> PathBuf {
    repo().join("data/faithful.csv")
}

fn npy_fixture(name: &str) -> PathBuf {
    repo().join("crates/core/tests/fixtures/npy").join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("mmclust runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts exit code 2, one clear line mentioning `want`, and no panic text.
fn assert_input_error(o: &Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(err.contains(want), "stderr should mention {want:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("exactly one JSON object on stdout")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn blobs(dir: &Path, n: usize, d: usize, k: usize) -> PathBuf {
    let p = dir.join(format!("blobs_{n}_{d}_{k}.npy"));
    let o = run(&[
        "generate",
        "blobs",
        "-o",
        s(&p),
        "--n",
        &n.to_string(),
        "--d",
        &d.to_string(),
        "--k",
        &k.to_string(),
        "--spread",
        "2",
        "--seed",
        "7",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

#[test]
fn info_describes_the_bundled_data() {
    let o = run(&["info", s(&faithful()), "--stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("272 rows × 2 columns"), "{out}");
    let v = json(&run(&["info", s(&faithful()), "--stats", "--json"]));
    assert_eq!(v["file"]["rows"], 272);
    let mean0 = v["stats"]["columns"][0]["mean"].as_f64().unwrap();
    assert!((mean0 - 3.487_783).abs() < 1e-5);
}

#[test]
fn reductions_are_bitwise_identical_on_1_2_and_8_threads() {
    let dir = tempfile::tempdir().unwrap();
    let p = blobs(dir.path(), 300_000, 5, 4);
    let outs: Vec<String> = ["1", "2", "8"]
        .iter()
        .map(|t| {
            let v = json(&run(&["info", s(&p), "--stats", "--json", "--threads", t]));
            v["stats"].to_string()
        })
        .collect();
    // serde_json writes the shortest text that reads back to the same f64, so
    // equal text means equal bits.
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
}

#[test]
fn generate_is_reproducible_and_thread_count_independent() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for t in ["1", "2"] {
        let p = dir.path().join(format!("g{t}.npy"));
        let l = dir.path().join(format!("l{t}.npy"));
        let o = run(&[
            "generate",
            "blobs",
            "-o",
            s(&p),
            "--n",
            "10001",
            "--d",
            "3",
            "--k",
            "4",
            "--labels-out",
            s(&l),
            "--threads",
            t,
            "--seed",
            "5",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        files.push((std::fs::read(&p).unwrap(), std::fs::read(&l).unwrap()));
    }
    assert_eq!(files[0], files[1]);
    let v = json(&run(&["info", s(&dir.path().join("g1.npy")), "--json"]));
    assert_eq!(v["file"]["rows"], 10001);
    assert_eq!(v["file"]["cols"], 3);
}

#[test]
fn bad_files_exit_2_with_the_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.npy");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"this is not an array at all, sorry").unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.path().join("missing.npy"), "no such file"),
        (dir.path().to_path_buf(), "directory"),
        (empty, "empty"),
        (garbage, "bad magic"),
        (npy_fixture("truncated.npy"), "truncated"),
        (npy_fixture("trailing.npy"), "trailing bytes"),
        (npy_fixture("fortran.npy"), "np.ascontiguousarray"),
        (npy_fixture("big_endian.npy"), "big-endian"),
        (npy_fixture("f2.npy"), "<f2"),
        (npy_fixture("three_d.npy"), "2-D"),
        (npy_fixture("zero_rows.npy"), "0 rows"),
        (npy_fixture("header_too_large.npy"), "limit"),
        (npy_fixture("truncated_header.npy"), "truncated"),
    ];
    for (path, want) in &cases {
        for cmd in [&["info"][..], &["kmeans", "-k", "2"][..]] {
            let mut args: Vec<&str> = cmd.to_vec();
            args.insert(1, s(path));
            let o = run(&args);
            assert_input_error(&o, want);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(stderr(&o).contains(name), "names the file: {}", stderr(&o));
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_input_error(&run(&["info"]), "FILE");
    assert_input_error(&run(&["frobnicate"]), "frobnicate");
    assert_input_error(
        &run(&["--threads", "0", "info", s(&faithful())]),
        "--threads",
    );
    assert_input_error(&run(&["kmeans", s(&faithful()), "-k", "0"]), "invalid k");
    assert_input_error(
        &run(&["kmeans", s(&faithful()), "-k", "300"]),
        "more than the 272 rows",
    );
    assert_input_error(
        &run(&["kmeans", s(&faithful()), "-k", "2", "--tol", "-1"]),
        "tol",
    );
    assert_input_error(
        &run(&["kmeans", s(&faithful()), "-k", "2", "--max-iter", "0"]),
        "max_iter",
    );
    assert_input_error(
        &run(&["kmeans", s(&faithful()), "-k", "2", "--init", "bogus"]),
        "bogus",
    );
    assert_input_error(
        &run(&[
            "generate",
            "blobs",
            "-o",
            "/tmp/x.npy",
            "--n",
            "5",
            "--d",
            "2",
            "--k",
            "9",
        ]),
        "--k 9",
    );
    let help = run(&["kmeans", "--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("Examples:"));
}

#[test]
fn standardize_writes_z_scores_and_applies_saved_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("z.npy");
    let stats = dir.path().join("z.json");
    let o = run(&[
        "standardize",
        s(&faithful()),
        "-o",
        s(&z),
        "--stats-out",
        s(&stats),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&run(&["info", s(&z), "--stats", "--json"]));
    for c in v["stats"]["columns"].as_array().unwrap() {
        assert!(c["mean"].as_f64().unwrap().abs() < 1e-6);
        assert!((c["std"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    }
    let z2 = dir.path().join("z2.npy");
    let o = run(&[
        "standardize",
        s(&faithful()),
        "-o",
        s(&z2),
        "--apply",
        s(&stats),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&z).unwrap(), std::fs::read(&z2).unwrap());
    // --apply with parameters for another width.
    let wide = blobs(dir.path(), 100, 3, 2);
    let o = run(&[
        "standardize",
        s(&wide),
        "-o",
        s(&dir.path().join("w.npy")),
        "--apply",
        s(&stats),
    ]);
    assert_input_error(&o, "2 columns but the data has 3");
    assert!(!dir.path().join("w.npy").exists());
    // Output over the input is refused and the input is untouched.
    let before = std::fs::read(&wide).unwrap();
    let o = run(&["standardize", s(&wide), "-o", s(&wide)]);
    assert_input_error(&o, "overwrite an input");
    assert_eq!(std::fs::read(&wide).unwrap(), before);
}

#[test]
fn convert_round_trips_csv_and_names_bad_cells() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("f.npy");
    let csv = dir.path().join("f.csv");
    assert!(run(&["convert", s(&faithful()), s(&npy)]).status.success());
    assert!(run(&["convert", s(&npy), s(&csv)]).status.success());
    let back = dir.path().join("g.npy");
    assert!(
        run(&["convert", s(&csv), s(&back), "--header", "no"])
            .status
            .success()
    );
    assert_eq!(std::fs::read(&npy).unwrap(), std::fs::read(&back).unwrap());
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n3,x7\n").unwrap();
    let o = run(&["convert", s(&bad), s(&dir.path().join("bad.npy"))]);
    assert_input_error(&o, "line 3");
    assert!(stderr(&o).contains("x7"));
    assert!(!dir.path().join("bad.npy").exists());
    let conv = run(&[
        "convert",
        s(&npy_fixture("f8.npy")),
        s(&dir.path().join("f8_as_f4.npy")),
        "--json",
    ]);
    assert_eq!(json(&conv)["rows"], 4);
}

#[test]
fn kmeans_fits_the_bundled_data_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    let centers = dir.path().join("c.npy");
    let labels = dir.path().join("l.npy");
    let o = run(&[
        "kmeans",
        s(&faithful()),
        "-k",
        "2",
        "--standardize",
        "--json",
        "--model-out",
        s(&model),
        "--centers-out",
        s(&centers),
        "--labels-out",
        s(&labels),
    ]);
    let v = json(&o);
    for key in [
        "algorithm",
        "k",
        "n",
        "d",
        "inertia",
        "n_iter",
        "converged",
        "fit_seconds",
        "iter_seconds",
        "init_seconds",
        "history",
        "distance_evals",
    ] {
        assert!(!v[key].is_null(), "--json lacks {key}: {v}");
    }
    // Standardised Old Faithful, k = 2: scikit-learn's inertia is 79.576.
    let inertia = v["inertia"].as_f64().unwrap();
    assert!((inertia - 79.575_96).abs() < 1e-3, "{inertia}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["kind"], "kmeans");
    assert_eq!(m["input"]["rows"], 272);
    // Centres in original units: eruptions ~2 and ~4.3 minutes.
    let c = json(&run(&["info", s(&centers), "--stats", "--json"]));
    assert_eq!(c["file"]["rows"], 2);
    let min0 = c["stats"]["columns"][0]["min"].as_f64().unwrap();
    assert!((1.5..2.5).contains(&min0), "{min0}");
    // predict gives the labels kmeans wrote; score gives its inertia.
    let pred = dir.path().join("p.npy");
    assert!(
        run(&["predict", s(&model), s(&faithful()), "-o", s(&pred)])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(&labels).unwrap(),
        std::fs::read(&pred).unwrap()
    );
    let sc = json(&run(&["score", s(&model), s(&faithful()), "--json"]));
    assert!((sc["inertia"].as_f64().unwrap() - inertia).abs() < 1e-6 * inertia);
    let tr = dir.path().join("t.npy");
    assert!(
        run(&[
            "predict",
            s(&model),
            s(&faithful()),
            "-o",
            s(&tr),
            "--transform"
        ])
        .status
        .success()
    );
    assert_eq!(json(&run(&["info", s(&tr), "--json"]))["file"]["cols"], 2);
    // A model for 2 columns refuses 3-column data.
    let wide = blobs(dir.path(), 50, 3, 2);
    let o = run(&[
        "predict",
        s(&model),
        s(&wide),
        "-o",
        s(&dir.path().join("x.npy")),
    ]);
    assert_input_error(&o, "3 columns but 2");
    let o = run(&[
        "predict",
        s(&centers),
        s(&faithful()),
        "-o",
        s(&dir.path().join("x.npy")),
    ]);
    assert_input_error(&o, "not valid JSON");
}

#[test]
fn kmeans_gives_the_same_bits_on_1_and_2_threads() {
    let dir = tempfile::tempdir().unwrap();
    let p = blobs(dir.path(), 50_000, 6, 8);
    let mut results = Vec::new();
    for t in ["1", "2"] {
        let c = dir.path().join(format!("c{t}.npy"));
        for init in ["k-means++", "k-means-parallel", "random"] {
            let v = json(&run(&[
                "kmeans",
                s(&p),
                "-k",
                "8",
                "--init",
                init,
                "--n-init",
                "2",
                "--threads",
                t,
                "--json",
                "--centers-out",
                s(&c),
            ]));
            results.push((
                t,
                init,
                v["inertia"].to_string(),
                v["history"].to_string(),
                std::fs::read(&c).unwrap(),
            ));
        }
    }
    for i in 0..3 {
        assert_eq!(results[i].2, results[i + 3].2, "{}", results[i].1);
        assert_eq!(results[i].3, results[i + 3].3, "{}", results[i].1);
        assert_eq!(results[i].4, results[i + 3].4, "{}", results[i].1);
    }
}

#[test]
fn kmeans_refuses_non_finite_data_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("nan.csv");
    std::fs::write(&csv, "1,2\n3,4\n5,nan\n7,8\n").unwrap();
    let labels = dir.path().join("l.npy");
    let model = dir.path().join("m.json");
    let o = run(&[
        "kmeans",
        s(&csv),
        "-k",
        "2",
        "--labels-out",
        s(&labels),
        "--model-out",
        s(&model),
    ]);
    assert_input_error(&o, "row 2, column 1");
    assert!(!labels.exists() && !model.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the input remains");
}

#[test]
fn kmeans_checks_given_centres_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.npy");
    // 3 × 2 centres for -k 2.
    let o = run(&["kmeans", s(&faithful()), "-k", "3", "--centers-out", s(&c)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["kmeans", s(&faithful()), "-k", "2", "--init", s(&c)]);
    assert_input_error(&o, "3 × 2 centres");
    let o = run(&[
        "kmeans",
        s(&faithful()),
        "-k",
        "2",
        "--weights",
        s(&npy_fixture("vec_f4.npy")),
    ]);
    assert_input_error(&o, "weights for 272 rows");
    let o = run(&[
        "kmeans",
        s(&faithful()),
        "-k",
        "2",
        "--centers-out",
        s(&faithful()),
    ]);
    assert_input_error(&o, "overwrite an input");
}

#[test]
fn minibatch_survives_ctrl_c_and_resumes_to_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = blobs(dir.path(), 200_000, 8, 6);
    let base = |ck: &Path, centers: &Path| -> Vec<String> {
        [
            "kmeans",
            s(&data),
            "-k",
            "6",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "256",
            "--block-rows",
            "16",
            "--max-no-improvement",
            "0",
            "--max-iter",
            "2",
            "--seed",
            "9",
            "--checkpoint",
            s(ck),
            "--checkpoint-every",
            "500",
            "--centers-out",
            s(centers),
            "--quiet",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let (ck_a, c_a) = (dir.path().join("a.ck"), dir.path().join("a.npy"));
    let o = bin().args(base(&ck_a, &c_a)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let (ck_b, c_b) = (dir.path().join("b.ck"), dir.path().join("b.npy"));
    let child = bin()
        .args(base(&ck_b, &c_b))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !ck_b.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    match o.status.code() {
        Some(130) => {
            assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
            assert!(
                !c_b.exists(),
                "no centres under the final name after an interrupt"
            );
        }
        Some(0) => eprintln!("note: the run finished before the signal arrived"),
        other => panic!("exit {other:?}: {}", stderr(&o)),
    }
    let mut resume = base(&ck_b, &c_b);
    resume.extend(["--resume".to_string(), s(&ck_b).to_string()]);
    let o = bin().args(&resume).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&c_a).unwrap(), std::fs::read(&c_b).unwrap());

    // A checkpoint of other options or other data is refused.
    let mut other = resume.clone();
    other[7] = "512".to_string(); // --batch-size
    assert_input_error(&bin().args(&other).output().unwrap(), "batch_size");
    let data2 = blobs(dir.path(), 1000, 8, 6);
    let mut other = resume.clone();
    other[1] = s(&data2).to_string();
    assert_input_error(&bin().args(&other).output().unwrap(), "another input");
    assert_input_error(
        &run(&["kmeans", s(&data), "-k", "6", "--resume", s(&ck_b)]),
        "minibatch",
    );
}

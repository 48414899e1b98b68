//! The `mmclust` binary on real files: exit codes, messages, outputs, and
//! determinism across thread counts.

mod common;

use std::path::{Path, PathBuf};

use common::*;

#[test]
fn info_describes_the_bundled_data() {
    let out = stdout(&run_ok(&["info", s(&faithful()), "--stats"]));
    assert!(out.contains("272 rows × 2 columns"), "{out}");
    let v = json(&run(&["info", s(&faithful()), "--stats", "--json"]));
    assert_eq!(v["file"]["rows"], 272);
    let mean0 = v["stats"]["columns"][0]["mean"].as_f64().unwrap();
    assert!((mean0 - 3.487_783).abs() < 1e-5);
}

#[test]
fn reductions_are_bitwise_identical_on_1_2_and_8_threads() {
    let (_dir, p) = temp_blobs(300_000, 5, 4);
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
        run_ok(&[
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
        (npy_fixture("c8.npy"), "<c8"),
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
    let (data, stats_path) = (faithful(), s(&stats));
    run_ok(&[
        "standardize",
        s(&data),
        "-o",
        s(&z),
        "--stats-out",
        stats_path,
        "-q",
    ]);
    let v = json(&run(&["info", s(&z), "--stats", "--json"]));
    for c in v["stats"]["columns"].as_array().unwrap() {
        assert!(c["mean"].as_f64().unwrap().abs() < 1e-6);
        assert!((c["std"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    }
    let z2 = dir.path().join("z2.npy");
    run_ok(&["standardize", s(&data), "-o", s(&z2), "--apply", stats_path]);
    assert_same_bytes(&z, &z2);
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
    run_ok(&["convert", s(&faithful()), s(&npy)]);
    run_ok(&["convert", s(&npy), s(&csv)]);
    let back = dir.path().join("g.npy");
    run_ok(&["convert", s(&csv), s(&back), "--header", "no"]);
    assert_same_bytes(&npy, &back);
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

/// The values of a `.npy` fixture written by numpy as float32.
fn numpy_f32(name: &str) -> Vec<u32> {
    read_f32_npy(&npy_fixture(name))
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn float16_and_int8_files_are_read_natively() {
    let dir = tempfile::tempdir().unwrap();
    for (name, descr, as_f4) in [
        ("f2_bits.npy", "<f2", "f2_bits_as_f4.npy"),
        ("blobs_f2.npy", "<f2", "blobs_f2_as_f4.npy"),
        ("i1_all.npy", "|i1", "i1_all_as_f4.npy"),
    ] {
        let path = npy_fixture(name);
        let text = stdout(&run_ok(&["info", s(&path)]));
        assert!(text.contains(&format!("dtype   {descr}")), "{text}");
        assert_eq!(
            json(&run(&["info", s(&path), "--json"]))["file"]["dtype"],
            descr
        );
        // Converted to float32 bit for bit as numpy's astype(np.float32),
        // NaN payloads, infinities and subnormals of f2_bits.npy included.
        let out = dir.path().join(format!("{name}.f4.npy"));
        run_ok(&["convert", s(&path), s(&out), "--quiet"]);
        let got: Vec<u32> = read_f32_npy(&out).iter().map(|v| v.to_bits()).collect();
        assert!(got == numpy_f32(as_f4), "{name}: differs from numpy");
    }
    // Non-finite float16 values get the error every dtype gets. The first in
    // f2_bits.npy is +inf, pattern 0x7c00, the 249th value (after 31
    // exponents × 8 mantissas): row 124, column 0.
    let bits = npy_fixture("f2_bits.npy");
    let o = run(&["kmeans", s(&bits), "-k", "2"]);
    assert_input_error(&o, "non-finite");
    assert!(stderr(&o).contains("f2_bits.npy"), "{}", stderr(&o));
    assert!(stderr(&o).contains("row 124, column 0"), "{}", stderr(&o));

    // A fit on the float16 file is the fit on the same values stored as
    // float32: same centres, labels and inertia, bit for bit.
    for algorithm in ["lloyd", "hamerly", "yinyang"] {
        let mut fits = Vec::new();
        for name in ["blobs_f2.npy", "blobs_f2_as_f4.npy"] {
            let labels = dir.path().join(format!("{algorithm}-{name}-labels.npy"));
            let centres = dir.path().join(format!("{algorithm}-{name}-centres.npy"));
            let v = json(&run(&[
                "kmeans",
                s(&npy_fixture(name)),
                "-k",
                "3",
                "--algorithm",
                algorithm,
                "--labels-out",
                s(&labels),
                "--centers-out",
                s(&centres),
                "--json",
            ]));
            fits.push((
                v["inertia"].to_string(),
                v["n_iter"].clone(),
                std::fs::read(&labels).unwrap(),
                std::fs::read(&centres).unwrap(),
            ));
        }
        assert_eq!(fits[0], fits[1], "{algorithm}");
    }
}

#[test]
fn convert_to_csv_writes_the_bytes_of_to_string_for_every_value() {
    // The CSV writer formats values in place; its bytes must be those of
    // `f32::to_string` (the shortest text that reads back to the same value)
    // joined by commas, over many chunks and awkward values.
    let special = [
        0.0,
        -0.0,
        0.1,
        -1.5e-7,
        1e-45,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        16_777_217.0,
        1.0 / 3.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let (rows, cols) = (20_000, 3);
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| match i % 5 {
            0 => special[(i / 5) % special.len()],
            1 => i as f32 * 0.37,
            2 => -(i as f32).sqrt(),
            3 => f32::from_bits(0x3f80_0000 ^ (i as u32).wrapping_mul(2_654_435_761) >> 9),
            _ => (i as f32).ln_1p() * 1e12,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("v.npy");
    write_f32_npy(&npy, rows, cols, &values);
    let mut want = String::new();
    for row in values.chunks_exact(cols) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        want.push_str(&cells.join(","));
        want.push('\n');
    }
    for threads in ["1", "3"] {
        let csv = dir.path().join(format!("v{threads}.csv"));
        run_ok(&["convert", s(&npy), s(&csv), "--threads", threads]);
        let got = std::fs::read_to_string(&csv).unwrap();
        assert!(
            got == want,
            "{threads} threads: the CSV differs from to_string"
        );
    }
}

#[test]
fn kmeans_fits_the_bundled_data_and_writes_every_output() {
    let (dir, [model, centers, labels]) = temp_paths(["m.json", "c.npy", "l.npy"]);
    let o = run_on_faithful_z(
        "kmeans",
        &[
            "-k",
            "2",
            "--model-out",
            s(&model),
            "--centers-out",
            s(&centers),
            "--labels-out",
            s(&labels),
        ],
    );
    let v = json(&o);
    assert_fit_summary(&v, &["algorithm", "inertia", "distance_evals"]);
    // Standardised Old Faithful, k = 2: scikit-learn's inertia is 79.576.
    let inertia = v["inertia"].as_f64().unwrap();
    assert!((inertia - 79.575_96).abs() < 1e-3, "{inertia}");
    let m = read_json(&model);
    assert_eq!(m["kind"], "kmeans");
    assert_eq!(m["input"]["rows"], 272);
    // Centres in original units: eruptions ~2 and ~4.3 minutes.
    let c = json(&run(&["info", s(&centers), "--stats", "--json"]));
    assert_eq!(c["file"]["rows"], 2);
    let min0 = c["stats"]["columns"][0]["min"].as_f64().unwrap();
    assert!((1.5..2.5).contains(&min0), "{min0}");
    // predict gives the labels kmeans wrote; score gives its inertia.
    let data = faithful();
    let predict = |model: &Path, data: &Path, out: &Path, extra: &[&str]| {
        args(&[&["predict", s(model), s(data), "-o", s(out)][..], extra].concat())
    };
    let pred = dir.path().join("p.npy");
    run_ok(&predict(&model, &data, &pred, &[]));
    assert_same_bytes(&labels, &pred);
    let sc = json(&run(&["score", s(&model), s(&data), "--json"]));
    assert!((sc["inertia"].as_f64().unwrap() - inertia).abs() < 1e-6 * inertia);
    let tr = dir.path().join("t.npy");
    run_ok(&predict(&model, &data, &tr, &["--transform"]));
    assert_eq!(json(&run(&["info", s(&tr), "--json"]))["file"]["cols"], 2);
    // A model for 2 columns refuses 3-column data; centres are not a model.
    let (wide, x) = (blobs(dir.path(), 50, 3, 2), dir.path().join("x.npy"));
    assert_input_error(&run(&predict(&model, &wide, &x, &[])), "3 columns but 2");
    assert_input_error(&run(&predict(&centers, &data, &x, &[])), "not valid JSON");
}

#[test]
fn kmeans_gives_the_same_bits_on_1_and_2_threads() {
    let (dir, p) = temp_blobs(50_000, 6, 8);
    assert_same_on_1_and_2_threads(|t| {
        let c = dir.path().join(format!("c{t}.npy"));
        let fit = |init: &str| {
            let list = ["kmeans", s(&p), "-k", "8", "--init", init, "--n-init", "2"];
            let v = json(&run(&[
                &list[..],
                &["--threads", t, "--json", "--centers-out", s(&c)],
            ]
            .concat()));
            let (inertia, history) = (v["inertia"].to_string(), v["history"].to_string());
            (
                init.to_string(),
                inertia,
                history,
                std::fs::read(&c).unwrap(),
            )
        };
        ["k-means++", "k-means-parallel", "random"].map(fit)
    });
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
    let data = faithful();
    let f = s(&data);
    run_ok(&["kmeans", f, "-k", "3", "--centers-out", s(&c)]);
    let o = run(&["kmeans", f, "-k", "2", "--init", s(&c)]);
    assert_input_error(&o, "3 × 2 centres");
    let weights = npy_fixture("vec_f4.npy");
    let o = run(&["kmeans", f, "-k", "2", "--weights", s(&weights)]);
    assert_input_error(&o, "weights for 272 rows");
    let o = run(&["kmeans", f, "-k", "2", "--centers-out", f]);
    assert_input_error(&o, "overwrite an input");
}

#[test]
fn minibatch_survives_ctrl_c_and_resumes_to_the_same_bits() {
    let (dir, data) = temp_blobs(200_000, 8, 6);
    let (ck_a, c_a) = (dir.path().join("a.ck"), dir.path().join("a.npy"));
    let (ck_b, c_b) = (dir.path().join("b.ck"), dir.path().join("b.npy"));
    // A run that finishes before the signal proves nothing: try a longer one,
    // and fail if even that one is too quick.
    let mut interrupted = None;
    for max_iter in ["2", "40"] {
        let base = minibatch_checkpointing(&data, &ck_b, &c_b, max_iter, "500");
        if let Some(o) = interrupt_after_first_checkpoint(&base, &ck_b) {
            interrupted = Some((max_iter, o));
            break;
        }
        eprintln!("note: --max-iter {max_iter} finished before the signal; trying a longer run");
        let _ = std::fs::remove_file(&ck_b);
        let _ = std::fs::remove_file(&c_b);
    }
    let Some((max_iter, o)) = interrupted else {
        panic!("every run finished before SIGINT could be sent: nothing was tested");
    };
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    assert!(
        !c_b.exists(),
        "no centres under the final name after an interrupt"
    );
    let mut resume = minibatch_checkpointing(&data, &ck_b, &c_b, max_iter, "500");
    resume.extend(args(&["--resume", s(&ck_b)]));
    let o = run(&resume);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&minibatch_checkpointing(
        &data, &ck_a, &c_a, max_iter, "500",
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_bytes(&c_a, &c_b);

    // A checkpoint of other options or other data is refused.
    let mut other = resume.clone();
    other[7] = "512".to_string(); // --batch-size
    assert_input_error(&run(&other), "batch_size");
    let data2 = blobs(dir.path(), 1000, 8, 6);
    let mut other = resume.clone();
    other[1] = s(&data2).to_string();
    assert_input_error(&run(&other), "another input");
    assert_input_error(
        &run(&["kmeans", s(&data), "-k", "6", "--resume", s(&ck_b)]),
        "minibatch",
    );
}

/// `kmeans` (Lloyd, Hamerly, Yinyang) with --checkpoint: Ctrl-C after a
/// checkpoint, then --resume, gives the uninterrupted run's centres byte for
/// byte; a resume with another algorithm's checkpoint or options is refused.
#[test]
fn exact_kmeans_survives_ctrl_c_and_resumes_to_the_same_bits() {
    let (dir, data) = temp_blobs(300_000, 8, 40);
    let mut tested = 0;
    for algorithm in ["lloyd", "yinyang"] {
        let ck = dir.path().join(format!("{algorithm}.ck"));
        let (c_a, c_b) = (
            dir.path().join(format!("{algorithm}-a.npy")),
            dir.path().join(format!("{algorithm}-b.npy")),
        );
        let base = |centers: &Path| {
            args(&[
                "kmeans",
                s(&data),
                "-k",
                "40",
                "--algorithm",
                algorithm,
                "--tol",
                "0",
                "--max-iter",
                "300",
                "--seed",
                "3",
                "--checkpoint",
                s(&ck),
                "--checkpoint-every",
                "1",
                "--centers-out",
                s(centers),
            ])
        };
        let Some(o) = interrupt_after_first_checkpoint(&base(&c_b), &ck) else {
            eprintln!("note: {algorithm} finished before the signal; nothing to resume");
            continue;
        };
        tested += 1;
        assert!(
            stderr(&o).contains("interrupted after iteration"),
            "{}",
            stderr(&o)
        );
        assert!(
            !c_b.exists(),
            "no centres under the final name after an interrupt"
        );
        let mut resume = base(&c_b);
        resume.extend(args(&["--resume", s(&ck)]));
        let o = run(&resume);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut whole = base(&c_a);
        whole.retain(|a| a != "--checkpoint" && a != s(&ck));
        let o = run(&whole);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_same_bytes(&c_a, &c_b);
        // Other options, another algorithm's checkpoint, several runs: refused.
        let mut other = resume.clone();
        other[11] = "7".to_string(); // --seed
        assert_input_error(&run(&other), "seed");
        let mut other = resume.clone();
        other[5] = "hamerly".to_string();
        assert_input_error(&run(&other), "algorithm");
    }
    assert!(
        tested > 0,
        "every run finished before SIGINT: nothing was tested"
    );
    let ck = dir.path().join("r.ck");
    assert_input_error(
        &run(&[
            "kmeans",
            s(&data),
            "-k",
            "4",
            "--init",
            "random",
            "--checkpoint",
            s(&ck),
        ]),
        "--n-init 1",
    );
}

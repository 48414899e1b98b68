//! `mmclust gmm`, `sample`, and GMM models in `predict` and `score`, on real
//! files: outputs, exit codes, messages, determinism across thread counts.

mod common;

use std::path::Path;

use common::*;

fn info(p: &Path) -> serde_json::Value {
    json(&run(&["info", s(p), "--json"]))
}

#[test]
fn gmm_fits_faithful_and_its_model_predicts_scores_and_samples() {
    let (dir, [model, labels, proba]) = temp_paths(["m.json", "l.npy", "p.npy"]);
    let sum = json(&run_on_faithful_z(
        "gmm",
        &[
            "-k",
            "2",
            "--model-out",
            s(&model),
            "--labels-out",
            s(&labels),
            "--proba-out",
            s(&proba),
        ],
    ));
    assert_fit_summary(&sum, &["covariance", "log_likelihood", "bic", "aic"]);
    assert_eq!(sum["covariance"], "full");
    assert_eq!(sum["n"], 272);
    assert_eq!(sum["converged"], true);
    let ll = sum["log_likelihood"].as_f64().unwrap();
    // Standardised Old Faithful, k = 2, full: about −1.417 per row.
    assert!((ll + 1.4171).abs() < 1e-3, "{ll}");
    let m = read_json(&model);
    assert_eq!(m["kind"], "gmm");
    assert_eq!(m["version"], 1);
    assert_eq!(m["input"]["rows"], 272);
    for key in [
        "weights",
        "means",
        "covariances",
        "precisions_cholesky",
        "history",
        "bic",
        "aic",
        "parameters",
    ] {
        assert!(m.get(key).is_some(), "model lacks {key}");
    }
    let l = mmclust_core::format::read_npy_vector_i32(&labels).unwrap();
    assert_eq!(l.len(), 272);
    assert!(l.iter().all(|&v| v == 0 || v == 1));
    assert_eq!(info(&proba)["file"]["cols"], 2);
    assert_eq!(info(&proba)["file"]["dtype"], "<f4");

    // predict and predict --proba reproduce the fit's outputs.
    let data = faithful();
    let predict = |out: &Path, extra: &[&str]| {
        args(&[&["predict", s(&model), s(&data), "-o", s(out)][..], extra].concat())
    };
    let pred = dir.path().join("pred.npy");
    run_ok(&predict(&pred, &[]));
    assert_same_bytes(&labels, &pred);
    let pp = dir.path().join("pp.npy");
    run_ok(&predict(&pp, &["--proba"]));
    assert_same_bytes(&proba, &pp);
    let o = run(&predict(&pp, &["--transform"]));
    assert_one_line_input_error(&o, "--proba");

    // score gives the fit's mean log-likelihood; per-sample values average to it.
    let per = dir.path().join("ll.npy");
    let sc = json(&run(&[
        "score",
        s(&model),
        s(&faithful()),
        "--per-sample-out",
        s(&per),
        "--json",
    ]));
    assert_eq!(sc["kind"], "gmm");
    assert!((sc["log_likelihood"].as_f64().unwrap() - ll).abs() < 1e-9);
    assert!((sc["bic"].as_f64().unwrap() - sum["bic"].as_f64().unwrap()).abs() < 1e-6);
    let per = mmclust_core::format::read_npy_vector_f32(&per).unwrap();
    assert_eq!(per.len(), 272);
    let mean = per.iter().map(|&v| f64::from(v)).sum::<f64>() / 272.0;
    assert!((mean - ll).abs() < 1e-5, "{mean} vs {ll}");

    // sample: original units (eruptions 1.5–5.5 minutes), deterministic for a seed.
    let a = dir.path().join("a.npy");
    let b = dir.path().join("b.npy");
    for (out, threads) in [(&a, "1"), (&b, "2")] {
        let (m, o) = (s(&model), s(out));
        run_ok(&[
            "sample",
            m,
            "--n",
            "9000",
            "-o",
            o,
            "--seed",
            "4",
            "--threads",
            threads,
        ]);
    }
    assert_same_bytes(&a, &b);
    let st = json(&run(&["info", s(&a), "--stats", "--json"]));
    let mean0 = st["stats"]["columns"][0]["mean"].as_f64().unwrap();
    assert!((3.2..3.8).contains(&mean0), "{mean0}");
    // A K-means model cannot be sampled.
    let km = dir.path().join("km.json");
    run_ok(&[
        "kmeans",
        s(&faithful()),
        "-k",
        "2",
        "--model-out",
        s(&km),
        "--quiet",
    ]);
    let o = run(&["sample", s(&km), "--n", "5", "-o", s(&b)]);
    assert_one_line_input_error(&o, "K-means model");
}

#[test]
fn every_covariance_type_and_init_runs() {
    let (dir, p) = temp_blobs(3000, 4, 3);
    for cov in ["full", "diag", "spherical", "tied"] {
        for init in ["kmeans", "k-means++", "random", "random-from-data"] {
            let sum = json(&run(&[
                "gmm",
                s(&p),
                "-k",
                "3",
                "--covariance",
                cov,
                "--init",
                init,
                "--n-init",
                "2",
                "--json",
            ]));
            assert_eq!(sum["covariance"], cov);
            assert!(
                sum["log_likelihood"].as_f64().unwrap().is_finite(),
                "{cov} {init}"
            );
            assert_eq!(sum["run_lower_bounds"].as_array().unwrap().len(), 2);
        }
    }
    // Given means (.npy k × d).
    let c = dir.path().join("c.npy");
    run_ok(&[
        "kmeans",
        s(&p),
        "-k",
        "3",
        "--centers-out",
        s(&c),
        "--quiet",
    ]);
    let sum = json(&run(&["gmm", s(&p), "-k", "3", "--init", s(&c), "--json"]));
    assert_eq!(sum["init"], "given-means");
    let o = run(&["gmm", s(&p), "-k", "4", "--init", s(&c)]);
    assert_one_line_input_error(&o, "3 × 4 means");
}

#[test]
fn gmm_gives_the_same_bits_on_1_and_2_threads() {
    let (dir, p) = temp_blobs(40_000, 5, 4);
    assert_same_on_1_and_2_threads(|t| {
        let model = dir.path().join(format!("m{t}.json"));
        let proba = dir.path().join(format!("p{t}.npy"));
        let (m, pr) = (s(&model), s(&proba));
        let list = [
            "gmm",
            s(&p),
            "-k",
            "4",
            "--covariance",
            "full",
            "--threads",
            t,
        ];
        let more = ["--model-out", m, "--proba-out", pr, "--json", "--seed", "5"];
        let sum = json(&run(&[&list[..], &more[..]].concat()));
        let mut m = read_json(&model);
        m["seconds"] = serde_json::Value::Null;
        (sum["history"].clone(), m, std::fs::read(&proba).unwrap())
    });
}

#[test]
fn gmm_input_errors_are_one_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = faithful();
    for (args, want) in [
        (&["-k", "300"][..], "k = 300"),
        (&["-k", "2", "--covariance", "round"], "--covariance"),
        (&["-k", "2", "--init", "magic"], "--init 'magic'"),
        (&["-k", "2", "--tol", "-1"], "tol"),
        (
            &["-k", "2", "--precision", "f16"],
            "--precision: 'f16' is not a precision; use f64 or f32",
        ),
        (&["-k", "2", "--max-iter", "0"], "max_iter"),
    ] {
        assert_one_line_input_error(&run(&[&["gmm", s(&f)][..], args].concat()), want);
    }
    // NaN in the data: count, row and column.
    let csv = dir.path().join("nan.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,nan\n5,6\n7,8\n").unwrap();
    assert_one_line_input_error(&run(&["gmm", s(&csv), "-k", "2"]), "row 1, column 1");
    // Outputs never overwrite inputs.
    let o = run(&["gmm", s(&f), "-k", "2", "--model-out", s(&f)]);
    assert_one_line_input_error(&o, "overwrite an input");
    assert!(
        std::fs::read_to_string(&f)
            .unwrap()
            .starts_with("eruptions")
    );
    // A collapsed component is a run failure (exit 1) naming it.
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "a,b\n1,2\n1,2\n1,2\n5,6\n5,6\n5,6\n").unwrap();
    let o = run(&["gmm", s(&dup), "-k", "2", "--reg-covar", "0"]);
    assert_one_line_error(&o, 1, "component");
    assert!(stderr(&o).contains("--reg-covar"));
    // With the default regularisation the same data fits.
    run_ok(&["gmm", s(&dup), "-k", "2", "--quiet"]);
}

#[test]
fn gmm_precision_f32_reports_its_passes_and_stays_close_to_f64() {
    let (_dir, p) = temp_blobs(20_000, 6, 4);
    let fit = |precision: &str, cov: &str, threads: &str| {
        json(&run(&[
            "gmm",
            s(&p),
            "-k",
            "4",
            "--covariance",
            cov,
            "--precision",
            precision,
            "--max-iter",
            "8",
            "--tol",
            "0",
            "--threads",
            threads,
            "--json",
            "--quiet",
        ]))
    };
    // The f32 passes run only on the AVX-512 path; elsewhere (another CPU,
    // another architecture) the run falls back to f64 passes.
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    for cov in ["full", "tied", "diag", "spherical"] {
        let a = fit("f64", cov, "2");
        let b = fit("f32", cov, "2");
        let b1 = fit("f32", cov, "1");
        assert_eq!(a["precision"], "f64");
        assert_eq!(b["precision"], "f32");
        assert_eq!(a["f32_iterations"], 0);
        if avx512 {
            assert_eq!(b["f32_iterations"], 8, "{cov}");
        }
        assert_eq!(b["history"], b1["history"], "{cov}: 1 vs 2 threads");
        let (la, lb) = (
            a["lower_bound"].as_f64().unwrap(),
            b["lower_bound"].as_f64().unwrap(),
        );
        assert!((la - lb).abs() <= 1e-5 * la.abs(), "{cov}: {la} vs {lb}");
    }
}

/// A model file without its timings (the `"seconds"` object).
fn model_without_seconds(path: &Path) -> String {
    let mut m = read_json(path);
    m.as_object_mut().unwrap().remove("seconds");
    m.to_string()
}

/// `gmm` (full-batch EM, and --bayesian) with --checkpoint: SIGINT mid-fit
/// writes the checkpoint and exits 130; --resume then gives the
/// uninterrupted fit's model (its history included; timings aside) and
/// labels byte for byte. A checkpoint of other options, of another kind,
/// or a corrupt one is refused with exit 2 and one line naming what is
/// wrong.
#[test]
fn gmm_em_survives_ctrl_c_and_resumes_to_the_same_bits() {
    let (dir, data) = temp_blobs(100_000, 8, 8);
    let mut tested = 0;
    for (name, extra) in [
        (
            "diag",
            &["--covariance", "diag", "--n-init", "2", "--max-iter", "150"][..],
        ),
        ("bayesian-full", &["--bayesian", "--max-iter", "60"][..]),
    ] {
        let ck = dir.path().join(format!("{name}.ck"));
        let out = |tag: &str| {
            [
                dir.path().join(format!("{name}-{tag}.json")),
                dir.path().join(format!("{name}-{tag}.npy")),
            ]
        };
        let base = |[model, labels]: &[std::path::PathBuf; 2]| {
            let mut v = args(&[
                "gmm",
                s(&data),
                "-k",
                "8",
                "--init",
                "random",
                "--tol",
                "0",
                "--seed",
                "3",
                "--checkpoint",
                s(&ck),
                "--checkpoint-every",
                "1",
                "--model-out",
                s(model),
                "--labels-out",
                s(labels),
                "--quiet",
            ]);
            v.extend(args(extra));
            v
        };
        let resumed = out("resumed");
        let Some(o) = interrupt_after_first_checkpoint(&base(&resumed), &ck) else {
            eprintln!("note: {name} finished before the signal; nothing to resume");
            continue;
        };
        tested += 1;
        let err = stderr(&o);
        assert!(
            err.contains("interrupted after iteration") && err.contains("--resume"),
            "{err}"
        );
        assert!(
            !resumed[0].exists() && !resumed[1].exists(),
            "no output under its final name after an interrupt"
        );
        let saved = read_json(&ck);
        assert_eq!(saved["kind"], "mmclust-gmm-checkpoint");
        let mut resume = base(&resumed);
        resume.extend(args(&["--resume", s(&ck)]));
        run_ok(&resume);
        let whole = out("whole");
        let mut uninterrupted = base(&whole);
        uninterrupted.retain(|a| a != "--checkpoint" && a != s(&ck));
        run_ok(&uninterrupted);
        assert_eq!(
            model_without_seconds(&whole[0]),
            model_without_seconds(&resumed[0]),
            "{name}: the resumed model"
        );
        assert_same_bytes(&whole[1], &resumed[1]);

        // Other options: refused, naming the option.
        let mut other = resume.clone();
        other[3] = "7".to_string(); // -k
        assert_one_line_input_error(&run(&other), "k = 8");
        let mut other = resume.clone();
        other[9] = "4".to_string(); // --seed
        assert_one_line_input_error(&run(&other), "seed");
        // The resume starts from the checkpoint's state (not from the
        // beginning, which would give the same bits): a mean moved a
        // little gives another model.
        let mut moved = saved.clone();
        let mean = &mut moved["state"]["current"]["means"][0];
        *mean = serde_json::json!(mean.as_f64().unwrap() + 0.25);
        let moved_ck = dir.path().join("moved.ck");
        std::fs::write(&moved_ck, moved.to_string()).unwrap();
        let elsewhere = out("moved");
        let mut from_moved = base(&elsewhere);
        from_moved.extend(args(&["--resume", s(&moved_ck)]));
        run_ok(&from_moved);
        assert_ne!(
            model_without_seconds(&whole[0]),
            model_without_seconds(&elsewhere[0]),
            "{name}: a resume from another state"
        );
        // A corrupt state: a mean taken out.
        let mut bad = saved.clone();
        bad["state"]["current"]["means"]
            .as_array_mut()
            .unwrap()
            .pop();
        let bad_ck = dir.path().join("bad.ck");
        std::fs::write(&bad_ck, bad.to_string()).unwrap();
        let mut corrupt = resume.clone();
        *corrupt.last_mut().unwrap() = s(&bad_ck).to_string();
        assert_one_line_input_error(&run(&corrupt), "the checkpoint is corrupt");
        // Not JSON: the file cut in half.
        let text = bad.to_string();
        std::fs::write(&bad_ck, &text[..text.len() / 2]).unwrap();
        assert_one_line_input_error(&run(&corrupt), "not valid JSON");
        // An online EM resume of this checkpoint.
        let mut online = args(&["gmm", s(&data), "-k", "8", "--online"]);
        online.extend(args(&["--resume", s(&ck), "--quiet"]));
        assert_one_line_input_error(&run(&online), "not an mmclust online GMM checkpoint");
    }
    assert!(
        tested > 0,
        "every fit finished before SIGINT: nothing was tested"
    );
    // A checkpoint of another kind (exact K-means) is refused by its kind.
    let km = dir.path().join("km.ck");
    run_ok(&[
        "kmeans",
        s(&data),
        "-k",
        "8",
        "--algorithm",
        "lloyd",
        "--max-iter",
        "3",
        "--tol",
        "0",
        "--checkpoint",
        s(&km),
        "--checkpoint-every",
        "1",
        "--quiet",
    ]);
    let o = run(&["gmm", s(&data), "-k", "8", "--resume", s(&km)]);
    assert_one_line_input_error(&o, "not an mmclust GMM (full-batch EM) checkpoint");
}

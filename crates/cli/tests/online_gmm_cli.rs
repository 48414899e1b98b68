//! `mmclust gmm --online`: the summary and model, --init MODEL.json,
//! checkpoint and resume to the same bits, the same bits on 1 and 2 threads,
//! and bad values refused with exit 2 naming the flag.

mod common;

use std::path::Path;

use common::*;

/// An online run on `data` writing `model`, with `extra` flags.
fn online(data: &Path, model: &Path, extra: &[&str]) -> Vec<String> {
    let base = [
        "gmm",
        s(data),
        "-k",
        "4",
        "--covariance",
        "diag",
        "--online",
        "--batch-size",
        "500",
        "--block-rows",
        "50",
        "--seed",
        "3",
        "--model-out",
        s(model),
        "--json",
        "--quiet",
    ];
    args(&[&base[..], extra].concat())
}

#[test]
fn online_gmm_reports_its_steps_and_writes_a_normal_model() {
    let (dir, data) = temp_blobs(20_000, 3, 4);
    let model = dir.path().join("m.json");
    let sum = json(&run_ok(&online(&data, &model, &["--refine", "1"])));
    assert_fit_summary(&sum, &["covariance", "log_likelihood", "bic", "online"]);
    let o = &sum["online"];
    assert_eq!(o["batch_size"], 500);
    assert_eq!(o["step_decay"], 0.6);
    assert_eq!(o["refine"], 1);
    let steps = o["steps"].as_u64().unwrap();
    assert!(steps >= 2, "{o}");
    assert_eq!(sum["n_iter"], steps);
    let reason = o["stop_reason"].as_str().unwrap();
    assert!(["no-improvement", "max-steps"].contains(&reason), "{o}");
    assert_eq!(sum["converged"], reason == "no-improvement");
    assert!((o["epochs"].as_f64().unwrap() - steps as f64 * 500.0 / 20_000.0).abs() < 1e-9);
    // Within 0.01 per row of full EM's log-likelihood.
    let ll = sum["log_likelihood"].as_f64().unwrap();
    let full = json(&run_ok(&args(&[
        "gmm",
        s(&data),
        "-k",
        "4",
        "--covariance",
        "diag",
        "--seed",
        "3",
        "--json",
        "--quiet",
    ])));
    let full_ll = full["log_likelihood"].as_f64().unwrap();
    assert!((ll - full_ll).abs() < 0.01, "{ll} vs full EM's {full_ll}");

    let m = read_json(&model);
    assert_eq!(m["kind"], "gmm");
    assert_eq!(m["online"]["steps"], steps);
    assert_eq!(m["online"]["refine"], 1);
    // score and predict use it as any GMM model.
    let sc = json(&run_ok(&args(&["score", s(&model), s(&data), "--json"])));
    assert!((sc["log_likelihood"].as_f64().unwrap() - ll).abs() < 1e-9);
    let labels = dir.path().join("l.npy");
    run_ok(&args(&["predict", s(&model), s(&data), "-o", s(&labels)]));

    // The model starts another fit as it is: --init MODEL.json, full EM.
    let again = json(&run_ok(&args(&[
        "gmm",
        s(&data),
        "-k",
        "4",
        "--covariance",
        "diag",
        "--init",
        s(&model),
        "--max-iter",
        "1",
        "--tol",
        "0",
        "--json",
        "--quiet",
    ])));
    assert_eq!(again["init"], "given-parameters");
    assert!(again["online"].is_null());
    // One EM iteration from the online mixture: its E-step's lower bound is
    // the online model's log-likelihood.
    let lb = again["history"][0].as_f64().unwrap();
    assert!((lb - ll).abs() < 1e-9, "{lb} vs {ll}");
}

#[test]
fn online_gmm_gives_the_same_bits_on_1_and_2_threads_and_after_resume() {
    let (dir, data) = temp_blobs(30_000, 4, 4);
    let [a, b, ck] = ["a.json", "b.json", "run.ck"].map(|n| dir.path().join(n));
    let fixed = ["--max-steps", "30", "--max-no-improvement", "0"];
    let params = |model: &Path| -> serde_json::Value {
        let m = read_json(model);
        serde_json::json!([m["weights"], m["means"], m["covariances"], m["history"]])
    };
    assert_same_on_1_and_2_threads(|t| {
        let mut cmd = online(&data, &a, &fixed);
        cmd.extend(args(&["--threads", t]));
        run_ok(&cmd);
        params(&a)
    });
    // Checkpoints every 4 steps; the last one (the end) is resumed from a
    // copy of an earlier one made mid-run.
    let mut with_ck = online(&data, &b, &fixed);
    with_ck.extend(args(&["--checkpoint", s(&ck), "--checkpoint-every", "4"]));
    run_ok(&with_ck);
    assert_eq!(params(&a), params(&b));
    let saved = read_json(&ck);
    assert_eq!(saved["kind"], "mmclust-online-gmm-checkpoint");
    assert_eq!(saved["state"]["step"], 30);
    // Resuming the finished run's last checkpoint gives its model again.
    let mut resume = with_ck.clone();
    resume.extend(args(&["--resume", s(&ck)]));
    run_ok(&resume);
    assert_eq!(params(&a), params(&b));
    // A checkpoint of other options is refused, naming the option.
    let mut other = online(
        &data,
        &b,
        &["--max-steps", "12", "--max-no-improvement", "0"],
    );
    other.extend(args(&["--resume", s(&ck)]));
    assert_input_error(&run(&other), "max_steps");

    // Interrupting is what the checkpoint is for: SIGINT mid-run writes it,
    // and --resume finishes with the bits of the uninterrupted run.
    let _ = std::fs::remove_file(&ck);
    let long = ["--max-steps", "4000", "--max-no-improvement", "0"];
    let mut base = online(&data, &b, &long);
    base.extend(args(&["--checkpoint", s(&ck), "--checkpoint-every", "50"]));
    match interrupt_after_first_checkpoint(&base, &ck) {
        Some(o) => {
            assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
            let mut resume = base.clone();
            resume.extend(args(&["--resume", s(&ck)]));
            run_ok(&resume);
        }
        None => eprintln!("note: the run finished before SIGINT; comparing its bits only"),
    }
    run_ok(&online(&data, &a, &long));
    assert_eq!(params(&a), params(&b));
    // Another input is refused.
    let other = blobs(dir.path(), 1000, 4, 4);
    let mut wrong = base.clone();
    wrong[1] = s(&other).to_string();
    wrong.extend(args(&["--resume", s(&ck)]));
    assert_input_error(&run(&wrong), "another input");
}

#[test]
fn online_flags_are_checked_with_exit_2_naming_the_flag() {
    let (dir, data) = temp_blobs(2000, 3, 4);
    let model = dir.path().join("m.json");
    let f = s(&data);
    let online = |_: &Path, model: &Path, flags: &[&str]| {
        let base = ["gmm", f, "-k", "4", "--covariance", "diag", "--online"];
        let mut v = args(&[&base[..], flags].concat());
        v.extend(args(&["--model-out", s(model), "--quiet"]));
        v
    };
    for (flags, want) in [
        (&["--step-decay", "0.5"][..], "--step-decay"),
        (&["--step-decay", "1.2"][..], "(0.5, 1]"),
        (&["--batch-size", "0"][..], "--batch-size"),
        (&["--max-steps", "0"][..], "--max-steps"),
        (&["--init-size", "0"][..], "--init-size"),
        (&["--checkpoint-seconds", "-1"][..], "--checkpoint-seconds"),
        (&["--n-init", "3"][..], "--n-init"),
        (&["--bayesian"][..], "online"),
    ] {
        assert_one_line_input_error(&run(&online(&data, &model, flags)), want);
    }
    for flag in ["--batch-size", "--step-decay", "--refine", "--max-steps"] {
        let o = run(&["gmm", f, "-k", "2", flag, "1"]);
        assert_one_line_input_error(&o, &format!("{flag} needs --online"));
    }
    // --resume serves full-batch EM too: here a missing file.
    let o = run(&["gmm", f, "-k", "2", "--resume", "x.ck"]);
    assert_one_line_input_error(&o, "x.ck");
    // --init MODEL.json: of another k or covariance type, refused by name.
    run_ok(&online(&data, &model, &[]));
    let o = run(&[
        "gmm",
        f,
        "-k",
        "3",
        "--covariance",
        "diag",
        "--init",
        s(&model),
    ]);
    assert_one_line_input_error(&o, "k = 4");
    let o = run(&["gmm", f, "-k", "4", "--init", s(&model)]);
    assert_one_line_input_error(&o, "--covariance full");
    // A checkpoint that is not one.
    let o = run(&online(&data, &model, &["--resume", s(&model)]));
    assert_one_line_input_error(&o, "not an mmclust online GMM checkpoint");
}

//! `gmm --bayesian` and `gmm-select --bayesian` through the binary: the
//! summary, the model file and the commands that read it, `--init-resp`,
//! and the input errors.

mod common;

use common::{
    assert_one_line_input_error, faithful, json, read_f32_npy, read_json, run, run_ok, s,
    temp_blobs, temp_paths, write_f32_npy,
};

#[test]
fn bayesian_fit_model_predict_score() {
    let (_dir, [model, labels, per]) = temp_paths(["m.json", "l.npy", "p.npy"]);
    let f = faithful();
    let o = run_ok(&[
        "gmm",
        s(&f),
        "-k",
        "6",
        "--bayesian",
        "--standardize",
        "--covariance",
        "full",
        "--json",
        "--model-out",
        s(&model),
    ]);
    let v = json(&o);
    let eff = v["effective_components"].as_u64().unwrap();
    assert!((1..=6).contains(&eff), "{v}");
    assert_eq!(v["bayesian"]["weight_prior"], "dirichlet-process", "{v}");
    assert!(v["bic"].is_null() && v["aic"].is_null(), "{v}");
    let m = read_json(&model);
    assert_eq!(m["kind"], "gmm");
    assert_eq!(
        m["bayesian"]["effective_components"].as_u64().unwrap(),
        eff,
        "{m}"
    );
    // The model's score of its own data is the fit's log-likelihood.
    let o = run_ok(&["score", s(&model), s(&f), "--json"]);
    let sc = json(&o);
    let (a, b) = (
        sc["log_likelihood"].as_f64().unwrap(),
        v["log_likelihood"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    run_ok(&["predict", s(&model), s(&f), "-o", s(&labels)]);
    run_ok(&["score", s(&model), s(&f), "--per-sample-out", s(&per)]);
    assert_eq!(read_f32_npy(&per).len(), 272);
    // The text summary names the effective components.
    let o = run_ok(&["gmm", s(&f), "-k", "4", "--bayesian", "--standardize"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("effective component"), "{text}");
}

#[test]
fn init_resp_and_the_dirichlet_distribution_prior() {
    let (dir, x) = temp_blobs(300, 3, 3);
    let resp = dir.path().join("resp.npy");
    // Hard responsibilities by row index modulo 3.
    let r: Vec<f32> = (0..300 * 3)
        .map(|i| if i % 3 == (i / 3) % 3 { 1.0 } else { 0.0 })
        .collect();
    write_f32_npy(&resp, 300, 3, &r);
    let o = run_ok(&[
        "gmm",
        s(&x),
        "-k",
        "3",
        "--covariance",
        "diag",
        "--bayesian",
        "--weight-prior",
        "dirichlet-distribution",
        "--weight-concentration",
        "0.5",
        "--mean-precision",
        "2",
        "--dof",
        "4",
        "--init-resp",
        s(&resp),
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(v["init"], "given-responsibilities", "{v}");
    assert_eq!(v["bayesian"]["weight_prior"], "dirichlet-distribution");
    assert_eq!(v["bayesian"]["weight_concentration_prior"], 0.5);
    assert_eq!(v["bayesian"]["degrees_of_freedom_prior"], 4.0);
    // --init-resp works for EM too.
    run_ok(&["gmm", s(&x), "-k", "3", "--init-resp", s(&resp)]);
}

#[test]
fn bad_bayesian_input_is_one_line_and_exit_2() {
    let (dir, x) = temp_blobs(200, 3, 3);
    let xs = s(&x);
    for (extra, want) in [
        (
            vec!["--dof", "3"],
            "--dof is a prior of a variational Bayesian fit",
        ),
        (
            vec!["--bayesian", "--weight-prior", "dirichlet"],
            "--weight-prior",
        ),
        (
            vec!["--bayesian", "--weight-concentration", "0"],
            "--weight-concentration must be > 0",
        ),
        (vec!["--bayesian", "--dof", "1.5"], "> d − 1"),
        (vec!["--bayesian", "--precision", "f32"], "runs in f64 only"),
    ] {
        let mut args = vec!["gmm", xs, "-k", "3"];
        args.extend(extra);
        assert_one_line_input_error(&run(&args), want);
    }
    let resp = dir.path().join("resp.npy");
    write_f32_npy(&resp, 10, 3, &[0.3; 30]);
    assert_one_line_input_error(
        &run(&["gmm", xs, "-k", "3", "--init-resp", s(&resp)]),
        "200 rows",
    );
    assert_one_line_input_error(
        &run(&[
            "gmm",
            xs,
            "-k",
            "3",
            "--init",
            "random",
            "--init-resp",
            s(&resp),
        ]),
        "--init-resp replaces --init",
    );
}

#[test]
fn gmm_select_bayesian_is_one_fit_per_covariance_type() {
    let (dir, x) = temp_blobs(2000, 2, 3);
    let plot = dir.path().join("w.svg");
    let o = run_ok(&[
        "gmm-select",
        s(&x),
        "--k",
        "2..=8",
        "--covariance",
        "full,diag",
        "--bayesian",
        "--json",
        "--plot-out",
        s(&plot),
    ]);
    let v = json(&o);
    assert_eq!(v["k"], 8, "{v}");
    let fits = v["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 2);
    for f in fits {
        let e = f["effective_components"].as_u64().unwrap();
        assert!((1..=8).contains(&e), "{f}");
        assert_eq!(f["weights"].as_array().unwrap().len(), 8);
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("expected weight"),
        "svg"
    );
}

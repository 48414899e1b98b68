//! `MMCLUST_ISA`: the instruction-set path a run uses, and what `--json`
//! says about it.
//!
//! Each path this CPU has runs and reports itself as `"isa"`; a path it lacks
//! (on this CPU) and an unknown name exit 2 with one line naming the paths it
//! has.
//!
//! K-means gives the same labels and model, bit for bit, on every path
//! (`kmeans_gives_the_same_bits_on_every_path`), and the centres' hashes
//! committed here on every CPU (`kmeans_centres_have_the_committed_hashes`).
//!
//! The variable is set on the child processes only: the tests' own process
//! never reads or sets it.

use std::path::Path;
use std::process::{Command, Output};

use mmclust_core::isa::Isa;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmclust"));
    c.env_remove("MMCLUST_ISA");
    c
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn blobs(dir: &Path, n: usize, d: usize, k: usize) -> String {
    let p = dir.join(format!("blobs_{n}_{d}_{k}.npy"));
    let o = bin()
        .args(["generate", "blobs", "-o", &s(&p), "--quiet", "--seed", "5"])
        .args(["--n", &n.to_string(), "--d", &d.to_string()])
        .args(["--k", &k.to_string(), "--spread", "3"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s(&p)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The paths this CPU has, as the error message lists them.
fn have() -> String {
    let names: Vec<&str> = Isa::available().iter().rev().map(|i| i.name()).collect();
    names.join(", ")
}

fn assert_refused(o: &Output, value: &str) {
    assert_eq!(o.status.code(), Some(2), "MMCLUST_ISA={value}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(&format!("MMCLUST_ISA={value}:")), "{err}");
    assert!(
        err.contains(&format!("this CPU has {};", have())),
        "{err} should name {}",
        have()
    );
    assert!(o.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn every_path_runs_and_reports_itself_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = blobs(dir.path(), 3000, 5, 4);
    for &isa in Isa::test_paths() {
        let o = bin()
            .env("MMCLUST_ISA", isa.name())
            .args(["kmeans", &x, "-k", "4", "--json", "--quiet"])
            .output()
            .unwrap();
        if isa.is_available() {
            assert_eq!(json(&o)["isa"], isa.name());
        } else {
            eprintln!("(refusing {isa}: not on this CPU)");
            assert_refused(&o, isa.name());
        }
    }
    // Unset and empty: the best path this CPU has.
    for env in [None, Some("")] {
        let mut c = bin();
        if let Some(v) = env {
            c.env("MMCLUST_ISA", v);
        }
        let o = c
            .args(["kmeans", &x, "-k", "4", "--json", "--quiet"])
            .output()
            .unwrap();
        assert_eq!(json(&o)["isa"], Isa::detected().name(), "{env:?}");
    }
}

#[test]
fn an_unknown_path_exits_2_naming_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    let x = blobs(dir.path(), 200, 2, 2);
    for cmd in [
        vec!["kmeans", &x, "-k", "2"],
        vec!["info", &x],
        vec!["silhouette", &x, "--k", "2..=3"],
    ] {
        let o = bin()
            .env("MMCLUST_ISA", "bogus")
            .args(&cmd)
            .arg("--json")
            .output()
            .unwrap();
        assert_refused(&o, "bogus");
    }
}

#[test]
fn json_summaries_and_bench_carry_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let x = blobs(dir.path(), 500, 3, 3);
    let want = Isa::detected().name();
    let runs: [&[&str]; 4] = [
        &["info", &x],
        &["gmm", &x, "-k", "2"],
        &["silhouette", &x, "--k", "2..=3"],
        &["bench", "--quick", "--reps", "1"],
    ];
    for args in runs {
        let o = bin()
            .args(args)
            .args(["--json", "--quiet"])
            .output()
            .unwrap();
        assert_eq!(json(&o)["isa"], want, "{args:?}");
    }
    let o = bin()
        .env("MMCLUST_ISA", "scalar")
        .args(["bench", "--quick", "--reps", "1", "--json", "--quiet"])
        .output()
        .unwrap();
    let j = json(&o);
    assert_eq!(j["isa"], "scalar");
    assert_eq!(j["machine"]["simd"], "scalar");
}

/// K-means (every exact algorithm, k-means++ and k-means‖ initialisations,
/// mini-batch) gives the same centres, labels and inertia on every path this
/// CPU has: every decision and every reported distance comes from the
/// reference distance or is certified against it.
#[test]
fn kmeans_gives_the_same_bits_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    // d = 3 runs the direct kernels on the AVX-512 path, d = 24 the product
    // kernels; k·d ≥ 1024 picks Yinyang under `auto`.
    for (n, d, k) in [(20_000, 3, 6), (20_000, 24, 50)] {
        let x = blobs(dir.path(), n, d, k);
        let k = k.to_string();
        let configs: [&[&str]; 5] = [
            &["--algorithm", "lloyd", "--n-init", "2"],
            &["--algorithm", "hamerly"],
            &["--algorithm", "yinyang"],
            &["--init", "k-means-parallel", "--max-iter", "10"],
            &["--algorithm", "minibatch", "--batch-size", "1024"],
        ];
        for config in configs {
            let mut first: Option<(Isa, Vec<u8>, Vec<u8>, serde_json::Value)> = None;
            for isa in Isa::paths_for_test("kmeans_gives_the_same_bits_on_every_path") {
                let run = dir.path().join(format!("{}-{d}", isa.name()));
                std::fs::create_dir_all(&run).unwrap();
                let (c, l) = (run.join("c.npy"), run.join("l.npy"));
                let o = bin()
                    .env("MMCLUST_ISA", isa.name())
                    .args(["kmeans", &x, "-k", &k, "--json", "--quiet"])
                    .args(["--centers-out", &s(&c), "--labels-out", &s(&l)])
                    .args(config)
                    .output()
                    .unwrap();
                let j = json(&o);
                assert_eq!(j["isa"], isa.name());
                let got = (
                    std::fs::read(&c).unwrap(),
                    std::fs::read(&l).unwrap(),
                    j["inertia"].clone(),
                );
                match &first {
                    None => first = Some((isa, got.0, got.1, got.2)),
                    Some((base, c0, l0, i0)) => {
                        let what = format!("d={d} {config:?}: {isa} against {base}");
                        assert!(&got.1 == l0, "labels differ, {what}");
                        assert!(&got.0 == c0, "centres differ, {what}");
                        assert_eq!(&got.2, i0, "inertia differs, {what}");
                    }
                }
            }
        }
    }
}

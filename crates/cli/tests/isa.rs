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
fn json_summaries_carry_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let x = blobs(dir.path(), 500, 3, 3);
    let want = Isa::detected().name();
    let runs: [&[&str]; 3] = [
        &["info", &x],
        &["gmm", &x, "-k", "2"],
        &["silhouette", &x, "--k", "2..=3"],
    ];
    for args in runs {
        let o = bin()
            .args(args)
            .args(["--json", "--quiet"])
            .output()
            .unwrap();
        assert_eq!(json(&o)["isa"], want, "{args:?}");
    }
}

/// A positive finite number.
fn assert_positive(v: &serde_json::Value, what: &str) {
    let x = v.as_f64().unwrap_or_else(|| panic!("{what}: {v}"));
    assert!(x.is_finite() && x > 0.0, "{what}: {x}");
}

/// `mmclust bench` on this CPU's best path, on `avx2` and on `scalar` (the
/// three kinds of peak report; a quick bench takes seconds, so not every
/// path: `kernel::peak`'s tests cover each): the path it ran, the peaks it
/// measured (positive where the path has the instruction, null where not,
/// none on scalar), the memory bandwidth, both assignment kernels with the
/// arithmetic whose peak their percentages use, and the exact kernel's
/// re-checks per row.
#[test]
fn bench_reports_measured_peaks_bandwidth_and_rechecks() {
    let name = "bench_reports_measured_peaks_bandwidth_and_rechecks";
    let mut paths = vec![Isa::detected()];
    for isa in [Isa::Avx2, Isa::Scalar] {
        if !paths.contains(&isa) && isa.run_or_skip(name) {
            paths.push(isa);
        }
    }
    for isa in paths {
        let o = bin()
            .env("MMCLUST_ISA", isa.name())
            .args(["bench", "--quick", "--reps", "1", "--json", "--quiet"])
            .output()
            .unwrap();
        let j = json(&o);
        let at = |what: &str| format!("{isa}: {what}");
        assert_eq!(j["isa"], isa.name());
        assert_eq!(j["machine"]["simd"], isa.name());
        let peaks = &j["peak_gflops"];
        for (key, has) in [
            ("f32_fma", isa >= Isa::Avx2),
            ("avx512bf16", isa >= Isa::Avx512Bf16),
            ("amx", isa >= Isa::Amx),
        ] {
            if has {
                assert_positive(&peaks[key]["1_thread"], &at(key));
                assert_positive(&peaks[key]["all"], &at(key));
            } else {
                assert!(peaks[key].is_null(), "{}: {}", at(key), peaks[key]);
            }
        }
        let bw = &j["memory_bandwidth"];
        assert!(bw["bytes"].as_u64().unwrap() >= 512 << 20, "{bw}");
        assert_positive(&bw["read_gb_per_s"]["1_thread"], &at("read 1 thread"));
        assert_positive(&bw["read_gb_per_s"]["all"], &at("read all"));
        // The shape is d = 32, k = 100: below the bf16 pre-screen's range
        // (AMX only, d ≥ 64, k ≥ 64), so f32 on every path.
        let want_exact = "f32_fma";
        let asg = &j["assignment"];
        assert_eq!(
            (asg["d"].as_u64(), asg["k"].as_u64()),
            (Some(32), Some(100))
        );
        for (key, arith) in [("exact", want_exact), ("fast", "f32_fma")] {
            let kj = &asg[key];
            assert_eq!(kj["arithmetic"], arith, "{}", at(key));
            for f in ["gflops_1_thread", "gflops_all"] {
                assert_positive(&kj[f], &at(&format!("{key} {f}")));
            }
            for f in ["percent_of_peak_1_thread", "percent_of_peak_all"] {
                if isa == Isa::Scalar {
                    assert!(kj[f].is_null(), "{}: {}", at(f), kj[f]);
                } else {
                    assert_positive(&kj[f], &at(&format!("{key} {f}")));
                }
            }
        }
        let r = asg["exact"]["rechecks_per_row"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r), "{}: {r}", at("rechecks_per_row"));
        assert!(asg["fast"].get("rechecks_per_row").is_none());
        let lloyd = &j["lloyd_iteration"];
        assert_eq!(lloyd["arithmetic"], want_exact);
        assert_positive(&lloyd["gflops"], &at("lloyd gflops"));
        assert_eq!(lloyd["percent_of_peak"].is_null(), isa == Isa::Scalar);
        assert!(j["machine"].get("peak_gflops_1_thread").is_none());
    }
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

/// FNV-1a (64-bit) of the centres' values: the last `k·d·4` bytes of the
/// `.npy` file (little-endian `f32`), so the header's layout does not count.
fn centres_hash(path: &Path, k: usize, d: usize) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let data = &bytes[bytes.len() - k * d * 4..];
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The centres K-means finds on blobs (d = 24 and d = 64), Old Faithful and a
/// k = 1000 problem
/// have these hashes on every path of every CPU that runs this test: the
/// model does not depend on the machine. The hashes were computed by this
/// test on an Intel Xeon with AMX and AVX-512 (every path there agreeing);
/// a CPU that disagrees fails here. A deliberate change of the algorithm
/// changes them: recompute them then (the failure message prints the new
/// value) and say why in the commit.
/// A hash case: name, data file, k, d, extra arguments, expected hash.
type HashCase = (
    &'static str,
    String,
    usize,
    usize,
    &'static [&'static str],
    u64,
);

#[test]
fn kmeans_centres_have_the_committed_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let faithful = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
    let cases: [HashCase; 4] = [
        (
            "blobs",
            blobs(dir.path(), 20_000, 24, 50),
            50,
            24,
            &[],
            0xade9_5790_b0f1_bc9a,
        ),
        (
            "faithful",
            faithful.to_string(),
            3,
            2,
            &["--standardize"],
            0x844f_c8ec_c74d_032d,
        ),
        (
            "k=1000",
            blobs(dir.path(), 20_000, 8, 40),
            1000,
            8,
            &["--max-iter", "15"],
            0xee45_f3fd_2cf3_e83d,
        ),
        // d ≥ 32, k ≥ 16: the bf16 pre-screen's range on the paths that
        // have it.
        (
            "d=64",
            blobs(dir.path(), 20_000, 64, 100),
            100,
            64,
            &["--max-iter", "20"],
            0x80b2_48e6_49e7_8076,
        ),
    ];
    let mut wrong = Vec::new();
    for (name, x, k, d, extra, want) in cases {
        for isa in Isa::paths_for_test("kmeans_centres_have_the_committed_hashes") {
            let c = dir.path().join(format!("{name}-{}.npy", isa.name()));
            let o = bin()
                .env("MMCLUST_ISA", isa.name())
                .args(["kmeans", &x, "-k", &k.to_string(), "--seed", "3"])
                .args(["--json", "--quiet", "--centers-out", &s(&c)])
                .args(extra)
                .output()
                .unwrap();
            json(&o);
            let got = centres_hash(&c, k, d);
            if got != want {
                wrong.push(format!(
                    "{name} on {}: {got:#018x}, want {want:#018x}",
                    isa.name()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "centre hashes differ:\n{}",
        wrong.join("\n")
    );
}

/// Gaussian mixtures in `f64` give the same model (its timings aside),
/// responsibilities and lower bound, bit for bit, on every path with a tier of the block kernels
/// (AVX-512 and AVX2 + FMA: the same kernels, whose lanes run the same
/// operations and whose horizontal sums use the same trees), for every
/// covariance type. The portable path (`scalar`) rounds its products
/// separately and is compared with a tolerance in the library's tests.
#[test]
fn gmm_gives_the_same_bits_on_the_vector_paths() {
    let dir = tempfile::tempdir().unwrap();
    // d = 11 crosses the 8-lane boundary; 3001 rows end in a partial block.
    let x = blobs(dir.path(), 3001, 11, 4);
    let paths: Vec<Isa> = Isa::paths_for_test("gmm_gives_the_same_bits_on_the_vector_paths")
        .into_iter()
        .filter(|&isa| isa != Isa::Scalar)
        .collect();
    for cov in ["full", "tied", "diag", "spherical"] {
        let mut first: Option<(Isa, Vec<u8>, Vec<u8>, serde_json::Value)> = None;
        for &isa in &paths {
            let run = dir.path().join(format!("{}-{cov}", isa.name()));
            std::fs::create_dir_all(&run).unwrap();
            let (m, p) = (run.join("m.json"), run.join("p.npy"));
            let o = bin()
                .env("MMCLUST_ISA", isa.name())
                .args([
                    "gmm",
                    &x,
                    "-k",
                    "4",
                    "--covariance",
                    cov,
                    "--json",
                    "--quiet",
                ])
                .args(["--max-iter", "8", "--tol", "0"])
                .args(["--model-out", &s(&m), "--proba-out", &s(&p)])
                .output()
                .unwrap();
            let j = json(&o);
            assert_eq!(j["isa"], isa.name());
            // The model without its timings (`seconds`): every parameter,
            // written as shortest round-trip decimals.
            let mut model: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
            assert!(model["seconds"].is_object(), "{model}");
            model.as_object_mut().unwrap().remove("seconds");
            let got = (
                model.to_string().into_bytes(),
                std::fs::read(&p).unwrap(),
                j["lower_bound"].clone(),
            );
            match &first {
                None => first = Some((isa, got.0, got.1, got.2)),
                Some((base, m0, p0, l0)) => {
                    let what = format!("{cov}: {isa} against {base}");
                    assert_eq!(&got.2, l0, "lower bound differs, {what}");
                    assert!(&got.0 == m0, "models differ, {what}");
                    assert!(&got.1 == p0, "responsibilities differ, {what}");
                }
            }
        }
    }
}

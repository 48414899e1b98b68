//! The bad-input matrix: every command against every class of bad input.
//!
//! Each case runs the real binary and asserts what docs/cli.md promises: exit code
//! 2 for anything the user can fix (1 where a run fails), one line on stderr
//! that names the problem (the file or the parameter), no panic or backtrace
//! text, no output file left under its final name and no temporary left
//! behind. The table is built from two lists, commands and input classes, so
//! a new command gets every class by adding one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmclust"))
}

fn run(args: &[String]) -> Output {
    bin().args(args).output().expect("mmclust runs")
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A `.npy` file (version 1.0) with a header of our choosing.
fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// 20 rows, two columns, two clear groups.
fn good_values(d: usize) -> Vec<f32> {
    (0..20 * d)
        .map(|i| {
            let row = i / d;
            (if row.is_multiple_of(2) { 0.0 } else { 10.0 }) + (i % 7) as f32 * 0.1
        })
        .collect()
}

const N: usize = 20;

/// The files every case draws on.
struct Env {
    dir: tempfile::TempDir,
    good: PathBuf,
    good_d3: PathBuf,
    km_model: PathBuf,
    gmm_model: PathBuf,
    labels: PathBuf,
    checkpoint: PathBuf,
}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.npy");
        std::fs::write(
            &good,
            npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&good_values(2))),
        )
        .unwrap();
        let good_d3 = dir.path().join("good_d3.npy");
        std::fs::write(
            &good_d3,
            npy_bytes("<f4", false, "(20, 3)", &f32_bytes(&good_values(3))),
        )
        .unwrap();
        let km_model = dir.path().join("km.json");
        let labels = dir.path().join("labels.npy");
        let gmm_model = dir.path().join("gmm.json");
        let checkpoint = dir.path().join("mb.ck");
        for args in [
            vec![
                "kmeans",
                "GOOD",
                "-k",
                "2",
                "--model-out",
                "KM",
                "--labels-out",
                "LABELS",
            ],
            vec!["gmm", "GOOD", "-k", "2", "--model-out", "GMM"],
            vec![
                "kmeans",
                "GOOD",
                "-k",
                "2",
                "--algorithm",
                "minibatch",
                "--batch-size",
                "4",
                "--max-iter",
                "2",
                "--checkpoint",
                "CK",
            ],
        ] {
            let args: Vec<String> = args
                .iter()
                .map(|a| match *a {
                    "GOOD" => s(&good),
                    "KM" => s(&km_model),
                    "GMM" => s(&gmm_model),
                    "LABELS" => s(&labels),
                    "CK" => s(&checkpoint),
                    a => a.to_string(),
                })
                .chain(["--quiet".to_string()])
                .collect();
            let o = run(&args);
            assert!(
                o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Env {
            dir,
            good,
            good_d3,
            km_model,
            gmm_model,
            labels,
            checkpoint,
        }
    }
}

/// One run that must fail.
struct Case {
    name: String,
    args: Vec<String>,
    code: i32,
    /// Every one of these must appear in stderr.
    want: Vec<String>,
    /// Paths that must not exist afterwards.
    outputs: Vec<PathBuf>,
    /// Folder that must hold no temporary of `outputs` afterwards.
    out_dir: PathBuf,
}

fn check(case: &Case) -> Result<(), String> {
    let o = run(&case.args);
    let err = String::from_utf8_lossy(&o.stderr);
    let mut problems = Vec::new();
    if o.status.code() != Some(case.code) {
        problems.push(format!(
            "exit {:?}, expected {}",
            o.status.code(),
            case.code
        ));
    }
    for w in &case.want {
        if !err.contains(w.as_str()) {
            problems.push(format!("stderr lacks {w:?}"));
        }
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panic text".into());
    }
    if err
        .trim()
        .lines()
        .filter(|l| l.starts_with("error"))
        .count()
        != 1
    {
        problems.push("not exactly one error line".into());
    }
    for p in &case.outputs {
        if p.exists() {
            problems.push(format!("{} exists", p.display()));
        }
    }
    // Temporaries are `.NAME.mmclust-tmp-PID-N` beside each output.
    let temp_prefixes: Vec<String> = case
        .outputs
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| format!(".{}.mmclust-tmp", n.to_string_lossy()))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&case.out_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if temp_prefixes.iter().any(|t| name.starts_with(t.as_str())) {
                problems.push(format!("temporary {} left", e.path().display()));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n    args: {:?}\n    stderr: {}",
            case.name,
            problems.join("; "),
            case.args,
            err.trim()
        ))
    }
}

/// Runs every case (a few at a time) and reports all failures together.
fn run_all(cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let total = cases.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if let Err(e) = check(case) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The commands that read a data matrix, each as (name, argument builder):
/// the builder gets the data path and a fresh output folder and returns the
/// arguments and the outputs the command would write.
type DataCommand = (
    &'static str,
    fn(&Env, &Path, &Path) -> (Vec<String>, Vec<PathBuf>),
);

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn kmeans_with(algorithm: &str, data: &Path, out: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let (m, l, c) = (out.join("m.json"), out.join("l.npy"), out.join("c.npy"));
    let mut a = args(&["kmeans", &s(data), "-k", "2", "--algorithm", algorithm]);
    if algorithm == "minibatch" {
        a.extend(args(&[
            "--batch-size",
            "8",
            "--checkpoint",
            &s(&out.join("ck")),
        ]));
    }
    a.extend(args(&[
        "--model-out",
        &s(&m),
        "--labels-out",
        &s(&l),
        "--centers-out",
        &s(&c),
    ]));
    (a, vec![m, l, c, out.join("ck")])
}

fn data_commands() -> Vec<DataCommand> {
    vec![
        ("info", |_, d, _| {
            (args(&["info", &s(d), "--stats"]), vec![])
        }),
        ("convert", |_, d, o| {
            let out = o.join("c.npy");
            (args(&["convert", &s(d), &s(&out)]), vec![out])
        }),
        ("standardize", |_, d, o| {
            let (out, st) = (o.join("z.npy"), o.join("z.json"));
            (
                args(&["standardize", &s(d), "-o", &s(&out), "--stats-out", &s(&st)]),
                vec![out, st],
            )
        }),
        ("kmeans-lloyd", |_, d, o| kmeans_with("lloyd", d, o)),
        ("kmeans-hamerly", |_, d, o| kmeans_with("hamerly", d, o)),
        ("kmeans-yinyang", |_, d, o| kmeans_with("yinyang", d, o)),
        ("kmeans-minibatch", |_, d, o| kmeans_with("minibatch", d, o)),
        ("gmm", |_, d, o| {
            let (m, l, p) = (o.join("m.json"), o.join("l.npy"), o.join("p.npy"));
            (
                args(&[
                    "gmm",
                    &s(d),
                    "-k",
                    "2",
                    "--model-out",
                    &s(&m),
                    "--labels-out",
                    &s(&l),
                    "--proba-out",
                    &s(&p),
                ]),
                vec![m, l, p],
            )
        }),
        ("predict-kmeans", |e, d, o| {
            let out = o.join("p.npy");
            (
                args(&["predict", &s(&e.km_model), &s(d), "-o", &s(&out)]),
                vec![out],
            )
        }),
        ("predict-gmm-proba", |e, d, o| {
            let out = o.join("p.npy");
            (
                args(&[
                    "predict",
                    &s(&e.gmm_model),
                    &s(d),
                    "-o",
                    &s(&out),
                    "--proba",
                ]),
                vec![out],
            )
        }),
        ("score", |e, d, o| {
            let out = o.join("s.npy");
            (
                args(&[
                    "score",
                    &s(&e.km_model),
                    &s(d),
                    "--per-sample-out",
                    &s(&out),
                ]),
                vec![out],
            )
        }),
        ("elbow", |_, d, o| {
            let out = o.join("e.svg");
            (
                args(&["elbow", &s(d), "--k", "1..=3", "--plot-out", &s(&out)]),
                vec![out],
            )
        }),
        ("silhouette-k", |_, d, o| {
            let out = o.join("s.svg");
            (
                args(&["silhouette", &s(d), "--k", "2..=3", "--plot-out", &s(&out)]),
                vec![out],
            )
        }),
        ("silhouette-labels", |e, d, o| {
            let out = o.join("v.npy");
            (
                args(&["silhouette", &s(d), &s(&e.labels), "--values-out", &s(&out)]),
                vec![out],
            )
        }),
        ("gmm-select", |_, d, o| {
            let out = o.join("g.svg");
            (
                args(&["gmm-select", &s(d), "--k", "1..=2", "--plot-out", &s(&out)]),
                vec![out],
            )
        }),
        ("scores", |e, d, o| {
            let out = o.join("s.svg");
            (
                args(&["scores", &s(d), &s(&e.labels), "--plot-out", &s(&out)]),
                vec![out],
            )
        }),
    ]
}

/// A class of bad data file: (name, file, what stderr must mention besides
/// the file's path).
fn bad_data(env: &Env) -> Vec<(&'static str, PathBuf, &'static str)> {
    let good = good_values(2);
    let mut nan_first = good.clone();
    nan_first[0] = f32::NAN;
    let mut nan_last = good.clone();
    nan_last[2 * N - 1] = f32::NAN;
    let mut inf_first = good.clone();
    inf_first[1] = f32::INFINITY;
    let mut ninf_last = good.clone();
    ninf_last[2 * N - 2] = f32::NEG_INFINITY;
    let full = npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&good));
    let dir = env.path("a_directory.npy");
    std::fs::create_dir_all(&dir).unwrap();
    vec![
        ("missing", env.path("missing.npy"), "no such file"),
        ("directory", dir, "directory"),
        ("empty", env.write("empty.npy", b""), "empty"),
        (
            "garbage",
            env.write("garbage.npy", b"this is not a matrix at all\n\x00\xff"),
            "not a .npy",
        ),
        (
            "garbage-csv",
            env.write("garbage.csv", b"a,b\n1,zz\n"),
            "not a number",
        ),
        ("ragged-csv", env.write("ragged.csv", b"1,2\n3\n"), "cells"),
        ("unknown-extension", env.write("data.txt", b"1,2\n"), ".npy"),
        (
            "truncated",
            env.write("truncated.npy", &full[..full.len() - 5]),
            "truncated",
        ),
        (
            "truncated-header",
            env.write("truncated_header.npy", &full[..20]),
            "truncated",
        ),
        (
            "trailing-bytes",
            env.write("trailing.npy", &[&full[..], b"xyz"].concat()),
            "trailing",
        ),
        (
            "dtype-f2",
            env.write("f2.npy", &npy_bytes("<f2", false, "(20, 2)", &[0; 80])),
            "dtype",
        ),
        (
            "dtype-c8",
            env.write("c8.npy", &npy_bytes("<c8", false, "(20, 2)", &[0; 320])),
            "dtype",
        ),
        (
            "dtype-i8",
            env.write("i8.npy", &npy_bytes("<i8", false, "(20, 2)", &[0; 320])),
            "dtype",
        ),
        (
            "dtype-object",
            env.write("obj.npy", &npy_bytes("|O", false, "(20, 2)", &[0; 320])),
            "dtype",
        ),
        (
            "big-endian",
            env.write("be.npy", &npy_bytes(">f4", false, "(20, 2)", &[0; 160])),
            "big-endian",
        ),
        (
            "fortran",
            env.write("fortran.npy", &npy_bytes("<f4", true, "(20, 2)", &[0; 160])),
            "Fortran",
        ),
        (
            "three-d",
            env.write(
                "three_d.npy",
                &npy_bytes("<f4", false, "(5, 2, 2)", &[0; 80]),
            ),
            "2-D",
        ),
        (
            "one-d",
            env.write("one_d.npy", &npy_bytes("<f4", false, "(40,)", &[0; 160])),
            "2-D",
        ),
        (
            "zero-rows",
            env.write("zero_rows.npy", &npy_bytes("<f4", false, "(0, 2)", &[])),
            "0 rows",
        ),
        (
            "zero-cols",
            env.write("zero_cols.npy", &npy_bytes("<f4", false, "(20, 0)", &[])),
            "0 columns",
        ),
        (
            "bad-fvecs",
            env.write("bad.fvecs", &[2, 0, 0, 0, 0, 0, 128, 63, 0]),
            "fvecs",
        ),
        (
            "nan-first",
            env.write(
                "nan_first.npy",
                &npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&nan_first)),
            ),
            "row 0",
        ),
        (
            "nan-last",
            env.write(
                "nan_last.npy",
                &npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&nan_last)),
            ),
            "row 19",
        ),
        (
            "inf-first",
            env.write(
                "inf_first.npy",
                &npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&inf_first)),
            ),
            "row 0",
        ),
        (
            "ninf-last",
            env.write(
                "ninf_last.npy",
                &npy_bytes("<f4", false, "(20, 2)", &f32_bytes(&ninf_last)),
            ),
            "row 19",
        ),
    ]
}

/// Non-finite values are data to `info` (which counts them) and to `convert`
/// (which copies them faithfully); every other command refuses them.
fn accepts_non_finite(command: &str) -> bool {
    matches!(command, "info" | "convert")
}

#[test]
fn every_command_refuses_every_bad_data_file() {
    let env = Env::new();
    let mut cases = Vec::new();
    for (class, file, want) in bad_data(&env) {
        for (command, build) in data_commands() {
            let non_finite = class.starts_with("nan") || class.contains("inf-");
            if non_finite && accepts_non_finite(command) {
                continue;
            }
            let out = env.path(&format!("out-{command}-{class}"));
            std::fs::create_dir_all(&out).unwrap();
            let (args, outputs) = build(&env, &file, &out);
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            cases.push(Case {
                name: format!("{command} × {class}"),
                args,
                code: 2,
                want: vec![name, want.to_string()],
                outputs,
                out_dir: out,
            });
        }
    }
    run_all(cases);
}

#[test]
fn non_finite_values_are_counted_by_info_and_copied_by_convert() {
    let env = Env::new();
    for (class, file, _) in bad_data(&env) {
        if !(class.starts_with("nan") || class.contains("inf-")) {
            continue;
        }
        let o = run(&args(&["info", &s(&file), "--stats", "--json"]));
        assert!(o.status.success(), "{class}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let cols = v["stats"]["columns"].as_array().unwrap();
        let flagged: u64 = cols
            .iter()
            .map(|c| c["nan"].as_u64().unwrap_or(0) + c["inf"].as_u64().unwrap_or(0))
            .sum();
        let text = v["stats"].to_string();
        assert!(
            flagged == 1 || text.contains("inf") || text.contains("nan"),
            "{class}: {text}"
        );
        let out = env.path(&format!("copy-{class}.npy"));
        let o = run(&args(&["convert", &s(&file), &s(&out)]));
        assert!(o.status.success(), "{class}");
        assert_eq!(
            std::fs::read(&out).unwrap()[128..],
            std::fs::read(&file).unwrap()[128..],
            "{class}: convert copies the values bit for bit"
        );
    }
}

/// Cases that are not about the data file: parameters, side inputs (models,
/// weights, labels, checkpoints), output paths.
fn other_cases(env: &Env) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add =
        |name: &str, list: Vec<String>, want: &[&str], outputs: Vec<PathBuf>, out_dir: PathBuf| {
            cases.push(Case {
                name: name.to_string(),
                args: list,
                code: 2,
                want: want.iter().map(|w| w.to_string()).collect(),
                outputs,
                out_dir,
            });
        };
    let g = s(&env.good);
    let out_dir = env.path("out-other");
    std::fs::create_dir_all(&out_dir).unwrap();
    let o = |name: &str| out_dir.join(name);
    let od = out_dir.clone();

    // k = 0 and k > n, for every command that takes k.
    for k in ["0", "21"] {
        let want = if k == "0" { "k" } else { "21" };
        for algorithm in ["lloyd", "hamerly", "yinyang", "minibatch"] {
            let m = o(&format!("km-{algorithm}-{k}.json"));
            add(
                &format!("kmeans-{algorithm} k = {k}"),
                args(&[
                    "kmeans",
                    &g,
                    "-k",
                    k,
                    "--algorithm",
                    algorithm,
                    "--model-out",
                    &s(&m),
                ]),
                &[want],
                vec![m],
                od.clone(),
            );
        }
        let m = o(&format!("gmm-{k}.json"));
        add(
            &format!("gmm k = {k}"),
            args(&["gmm", &g, "-k", k, "--model-out", &s(&m)]),
            &[want],
            vec![m],
            od.clone(),
        );
        let range = if k == "0" { "0..=2" } else { "2..=21" };
        for command in ["elbow", "gmm-select"] {
            let p = o(&format!("{command}-{k}.svg"));
            add(
                &format!("{command} k = {range}"),
                args(&[command, &g, "--k", range, "--plot-out", &s(&p)]),
                &[want],
                vec![p],
                od.clone(),
            );
        }
        let p = o(&format!("sil-{k}.svg"));
        add(
            &format!("silhouette --k {range}"),
            args(&["silhouette", &g, "--k", range, "--plot-out", &s(&p)]),
            &[want],
            vec![p],
            od.clone(),
        );
        let b = o(&format!("blobs-k{k}.npy"));
        let (n, kk) = if k == "0" { ("20", "0") } else { ("20", "21") };
        add(
            &format!("generate k = {kk}"),
            args(&[
                "generate",
                "blobs",
                "-o",
                &s(&b),
                "--n",
                n,
                "--d",
                "2",
                "--k",
                kk,
            ]),
            &[want],
            vec![b],
            od.clone(),
        );
    }
    for (flag, value) in [
        ("--n", "0"),
        ("--d", "0"),
        ("--spread", "-1"),
        ("--spread", "nan"),
    ] {
        let b = o(&format!("blobs{flag}{value}.npy"));
        let mut a = args(&[
            "generate",
            "blobs",
            "-o",
            &s(&b),
            "--n",
            "20",
            "--d",
            "2",
            "--k",
            "2",
        ]);
        match a.iter().position(|x| x == flag) {
            Some(i) => a[i + 1] = value.to_string(),
            None => a.push(format!("{flag}={value}")),
        }
        add(
            &format!("generate {flag} {value}"),
            a,
            &[&flag[2..]],
            vec![b],
            od.clone(),
        );
    }
    let p = o("sample0.npy");
    add(
        "sample --n 0",
        args(&["sample", &s(&env.gmm_model), "--n", "0", "-o", &s(&p)]),
        &["n"],
        vec![p],
        od.clone(),
    );

    // d mismatch between a model (or saved statistics, or given centres) and the data.
    let d3 = s(&env.good_d3);
    for (model, kind) in [(&env.km_model, "kmeans"), (&env.gmm_model, "gmm")] {
        let p = o(&format!("pred-d-{kind}.npy"));
        add(
            &format!("predict {kind} model on 3-column data"),
            args(&["predict", &s(model), &d3, "-o", &s(&p)]),
            &["column", "good_d3.npy"],
            vec![p],
            od.clone(),
        );
        let p = o(&format!("score-d-{kind}.npy"));
        add(
            &format!("score {kind} model on 3-column data"),
            args(&["score", &s(model), &d3, "--per-sample-out", &s(&p)]),
            &["column", "good_d3.npy"],
            vec![p],
            od.clone(),
        );
    }
    let stats = o("stats.json");
    assert!(
        run(&args(&[
            "standardize",
            &g,
            "-o",
            &s(&o("z.npy")),
            "--stats-out",
            &s(&stats),
            "-q"
        ]))
        .status
        .success()
    );
    std::fs::remove_file(o("z.npy")).unwrap();
    let p = o("z3.npy");
    add(
        "standardize --apply on 3-column data",
        args(&["standardize", &d3, "-o", &s(&p), "--apply", &s(&stats)]),
        &["column"],
        vec![p],
        od.clone(),
    );
    for command in ["kmeans", "gmm"] {
        let m = o(&format!("{command}-init3.json"));
        add(
            &format!("{command} --init centres of 3 columns"),
            args(&[command, &g, "-k", "2", "--init", &d3, "--model-out", &s(&m)]),
            &["good_d3.npy"],
            vec![m],
            od.clone(),
        );
    }

    // Weights: wrong length, negative, non-finite, all zero, not a vector.
    let w_short = env.write(
        "w_short.npy",
        &npy_bytes("<f4", false, "(19,)", &f32_bytes(&[1.0; 19])),
    );
    let mut neg = vec![1.0f32; N];
    neg[3] = -1.0;
    let w_neg = env.write(
        "w_neg.npy",
        &npy_bytes("<f4", false, "(20,)", &f32_bytes(&neg)),
    );
    let mut nan = vec![1.0f32; N];
    nan[N - 1] = f32::NAN;
    let w_nan = env.write(
        "w_nan.npy",
        &npy_bytes("<f4", false, "(20,)", &f32_bytes(&nan)),
    );
    let w_zero = env.write(
        "w_zero.npy",
        &npy_bytes("<f4", false, "(20,)", &f32_bytes(&[0.0; N])),
    );
    let w_2d = env.write(
        "w_2d.npy",
        &npy_bytes("<f4", false, "(20, 1)", &f32_bytes(&[1.0; N])),
    );
    for (w, want) in [
        (&w_short, "19"),
        (&w_neg, "row 3"),
        (&w_nan, "NaN"),
        (&w_zero, "zero"),
        (&w_2d, "1-D"),
    ] {
        let name = w.file_name().unwrap().to_string_lossy().into_owned();
        // (gmm takes no weights.)
        for (command, extra) in [
            ("kmeans", "lloyd"),
            ("kmeans", "hamerly"),
            ("kmeans", "minibatch"),
        ] {
            let m = o(&format!("{command}{extra}-{name}.json"));
            let mut a = args(&[
                command,
                &g,
                "-k",
                "2",
                "--weights",
                &s(w),
                "--model-out",
                &s(&m),
            ]);
            if !extra.is_empty() {
                a.extend(args(&["--algorithm", extra]));
            }
            add(
                &format!("{command} {extra} --weights {name}"),
                a,
                &[want, &name],
                vec![m],
                od.clone(),
            );
        }
    }

    // Labels: wrong length, float dtype, 2-D. (Negative labels are labels
    // like any other, as in scikit-learn.)
    let l_short = env.write(
        "l_short.npy",
        &npy_bytes("<i4", false, "(19,)", &i32_bytes(&[0; 19])),
    );
    let l_f4 = env.write(
        "l_f4.npy",
        &npy_bytes("<f4", false, "(20,)", &f32_bytes(&[0.5; N])),
    );
    let l_2d = env.write(
        "l_2d.npy",
        &npy_bytes("<i4", false, "(20, 1)", &i32_bytes(&[0; N])),
    );
    for (l, want) in [(&l_short, "19"), (&l_f4, "<f4"), (&l_2d, "1-D")] {
        let name = l.file_name().unwrap().to_string_lossy().into_owned();
        let p = o(&format!("sil-{name}.npy"));
        add(
            &format!("silhouette labels {name}"),
            args(&["silhouette", &g, &s(l), "--values-out", &s(&p)]),
            &[want, &name],
            vec![p],
            od.clone(),
        );
        let p = o(&format!("scores-{name}.svg"));
        add(
            &format!("scores labels {name}"),
            args(&["scores", &g, &s(l), "--plot-out", &s(&p)]),
            &[want, &name],
            vec![p],
            od.clone(),
        );
        add(
            &format!("scores --truth {name}"),
            args(&["scores", &g, &s(&env.labels), "--truth", &s(l)]),
            &[want, &name],
            vec![],
            od.clone(),
        );
    }

    // Corrupt and mismatched models.
    let km_text = std::fs::read_to_string(&env.km_model).unwrap();
    let edit = |text: &str, f: &dyn Fn(&mut serde_json::Value)| -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let corrupt_models = [
        (
            "model-garbage.json",
            b"\x00\x01garbage".to_vec(),
            "model-garbage.json",
        ),
        (
            "model-truncated.json",
            km_text.as_bytes()[..km_text.len() / 2].to_vec(),
            "JSON",
        ),
        ("model-not-model.json", b"{\"hello\": 1}".to_vec(), "kind"),
        (
            "model-version.json",
            edit(&km_text, &|v| v["version"] = 99.into()),
            "version",
        ),
        // 1e39 overflows float32: the centre becomes +inf.
        (
            "model-inf.json",
            edit(&km_text, &|v| v["centers"][0][0] = 1e39.into()),
            "non-finite",
        ),
        (
            "model-short-centre.json",
            edit(&km_text, &|v| v["centers"][1] = serde_json::json!([1.0])),
            "centers",
        ),
        (
            "model-k0.json",
            edit(&km_text, &|v| v["k"] = 0.into()),
            "centers",
        ),
    ];
    for (name, bytes, want) in corrupt_models {
        let m = env.write(name, &bytes);
        let p = o(&format!("pred-{name}.npy"));
        add(
            &format!("predict with {name}"),
            args(&["predict", &s(&m), &g, "-o", &s(&p)]),
            &[want, name],
            vec![p],
            od.clone(),
        );
        add(
            &format!("score with {name}"),
            args(&["score", &s(&m), &g]),
            &[want, name],
            vec![],
            od.clone(),
        );
        let p = o(&format!("sample-{name}.npy"));
        add(
            &format!("sample with {name}"),
            args(&["sample", &s(&m), "--n", "5", "-o", &s(&p)]),
            &[name],
            vec![p],
            od.clone(),
        );
    }
    let p = o("sample-km.npy");
    add(
        "sample from a K-means model",
        args(&["sample", &s(&env.km_model), "--n", "5", "-o", &s(&p)]),
        &["gmm", "km.json"],
        vec![p],
        od.clone(),
    );
    let p = o("proba-km.npy");
    add(
        "predict --proba with a K-means model",
        args(&["predict", &s(&env.km_model), &g, "-o", &s(&p), "--proba"]),
        &["proba"],
        vec![p],
        od.clone(),
    );
    let p = o("z-bad-apply.npy");
    let bad_stats = env.write("bad_stats.json", b"{\"mean\": [1, 2");
    add(
        "standardize --apply corrupt",
        args(&["standardize", &g, "-o", &s(&p), "--apply", &s(&bad_stats)]),
        &["bad_stats.json"],
        vec![p],
        od.clone(),
    );
    let p = o("z-model-apply.npy");
    add(
        "standardize --apply a model file",
        args(&[
            "standardize",
            &g,
            "-o",
            &s(&p),
            "--apply",
            &s(&env.km_model),
        ]),
        &["km.json"],
        vec![p],
        od.clone(),
    );

    // Corrupt and mismatched checkpoints.
    let ck_text = std::fs::read_to_string(&env.checkpoint).unwrap();
    let mb = |extra: &[&str], c: &Path| {
        let mut a = args(&[
            "kmeans",
            &g,
            "-k",
            "2",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "4",
            "--max-iter",
            "2",
            "--resume",
            &s(c),
            "--centers-out",
            &s(&o("ck-centres.npy")),
        ]);
        a.extend(args(extra));
        a
    };
    for (name, bytes, want) in [
        ("ck-garbage", b"\xff\xfe".to_vec(), "ck-garbage"),
        (
            "ck-truncated",
            ck_text.as_bytes()[..ck_text.len() / 2].to_vec(),
            "JSON",
        ),
        (
            "ck-model",
            std::fs::read(&env.km_model).unwrap(),
            "checkpoint",
        ),
        (
            "ck-inf",
            edit(&ck_text, &|v| v["state"]["centers"][0] = 1e39.into()),
            "non-finite",
        ),
        (
            "ck-short",
            edit(&ck_text, &|v| {
                v["state"]["centers"] = serde_json::json!([1.0])
            }),
            "k = 2",
        ),
        (
            "ck-stride",
            edit(&ck_text, &|v| {
                v["state"]["history_stride"] = 0.into();
                v["state"]["done"] = false.into();
            }),
            "history_stride",
        ),
        (
            "ck-kind",
            edit(&ck_text, &|v| v["kind"] = "something else".into()),
            "not an mmclust",
        ),
    ] {
        let c = env.write(name, &bytes);
        add(
            &format!("resume from {name}"),
            mb(&[], &c),
            &[want],
            vec![o("ck-centres.npy")],
            od.clone(),
        );
    }
    add(
        "resume with other options",
        mb(&["--seed", "5"], &env.checkpoint),
        &["seed"],
        vec![o("ck-centres.npy")],
        od.clone(),
    );
    add(
        "resume on other data",
        {
            let mut a = mb(&[], &env.checkpoint);
            a[1] = d3.clone();
            a
        },
        &["another input"],
        vec![o("ck-centres.npy")],
        od.clone(),
    );
    add(
        "resume without minibatch",
        args(&["kmeans", &g, "-k", "2", "--resume", &s(&env.checkpoint)]),
        &["minibatch"],
        vec![],
        od.clone(),
    );

    cases
}

#[test]
fn every_command_refuses_bad_parameters_and_side_inputs() {
    let env = Env::new();
    run_all(other_cases(&env));
}

/// Every output-writing option, as (name, arguments with OUT for the output
/// path). Used for unwritable folders and for output = input.
fn output_options(env: &Env) -> Vec<(String, Vec<String>)> {
    let g = s(&env.good);
    let km = s(&env.km_model);
    let gm = s(&env.gmm_model);
    let l = s(&env.labels);
    let mut v: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, list: &[&str]| v.push((name.to_string(), args(list)));
    add("convert", &["convert", &g, "OUT"]);
    add(
        "generate",
        &[
            "generate", "blobs", "-o", "OUT", "--n", "20", "--d", "2", "--k", "2",
        ],
    );
    add(
        "generate --labels-out",
        &[
            "generate",
            "blobs",
            "-o",
            "OTHER",
            "--n",
            "20",
            "--d",
            "2",
            "--k",
            "2",
            "--labels-out",
            "OUT",
        ],
    );
    add("standardize -o", &["standardize", &g, "-o", "OUT"]);
    add(
        "standardize --stats-out",
        &["standardize", &g, "-o", "OTHER", "--stats-out", "OUT"],
    );
    for algorithm in ["lloyd", "hamerly", "yinyang", "minibatch"] {
        for flag in ["--model-out", "--labels-out", "--centers-out"] {
            add(
                &format!("kmeans {algorithm} {flag}"),
                &[
                    "kmeans",
                    &g,
                    "-k",
                    "2",
                    "--algorithm",
                    algorithm,
                    flag,
                    "OUT",
                ],
            );
        }
    }
    add(
        "kmeans --checkpoint",
        &[
            "kmeans",
            &g,
            "-k",
            "2",
            "--algorithm",
            "minibatch",
            "--checkpoint",
            "OUT",
        ],
    );
    for flag in ["--model-out", "--labels-out", "--proba-out"] {
        add(&format!("gmm {flag}"), &["gmm", &g, "-k", "2", flag, "OUT"]);
    }
    add("predict", &["predict", &km, &g, "-o", "OUT"]);
    add(
        "predict --transform",
        &["predict", &km, &g, "-o", "OUT", "--transform"],
    );
    add(
        "predict --proba",
        &["predict", &gm, &g, "-o", "OUT", "--proba"],
    );
    add(
        "score --per-sample-out",
        &["score", &gm, &g, "--per-sample-out", "OUT"],
    );
    add("sample", &["sample", &gm, "--n", "5", "-o", "OUT"]);
    add(
        "sample --labels-out",
        &[
            "sample",
            &gm,
            "--n",
            "5",
            "-o",
            "OTHER",
            "--labels-out",
            "OUT",
        ],
    );
    add(
        "elbow --plot-out",
        &["elbow", &g, "--k", "1..=3", "--plot-out", "OUT"],
    );
    add(
        "silhouette --plot-out",
        &["silhouette", &g, &l, "--plot-out", "OUT"],
    );
    add(
        "silhouette --values-out",
        &["silhouette", &g, &l, "--values-out", "OUT"],
    );
    add(
        "gmm-select --plot-out",
        &["gmm-select", &g, "--k", "1..=2", "--plot-out", "OUT"],
    );
    add(
        "scores --plot-out",
        &["scores", &g, &l, "--plot-out", "OUT"],
    );
    v
}

#[test]
fn every_output_refuses_unwritable_folders_and_input_paths() {
    let env = Env::new();
    // A folder that does not exist; a "folder" that is a file; a folder that
    // cannot be written (permissions do not bind root, so as root /proc, where
    // no one can create files, stands in for a read-only folder).
    let missing = env.path("no-such-folder");
    let file_as_dir = env.write("plain-file", b"x");
    let read_only = env.path("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    #[cfg(unix)]
    let read_only = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            PathBuf::from("/proc")
        } else {
            read_only
        }
    };
    let mut cases = Vec::new();
    for (i, (name, list)) in output_options(&env).into_iter().enumerate() {
        // Each case its own folder for the other output: cases run four at a
        // time, and one case's temporary there, alive until that process
        // fails, must not be taken for another case's leftover.
        let other_in = |tag: &str| {
            let dir = env.path(&format!("other-{i}-{tag}"));
            std::fs::create_dir_all(&dir).unwrap();
            (dir.join("other.npy"), dir)
        };
        for (j, (folder_class, folder)) in [
            ("missing folder", &missing),
            ("file as folder", &file_as_dir),
            ("read-only folder", &read_only),
        ]
        .into_iter()
        .enumerate()
        {
            let (other, other_dir) = other_in(&j.to_string());
            let out = folder.join("out-file.npy");
            let a: Vec<String> = list
                .iter()
                .map(|x| match x.as_str() {
                    "OUT" => s(&out),
                    "OTHER" => s(&other),
                    x => x.to_string(),
                })
                .collect();
            cases.push(Case {
                name: format!("{name} into a {folder_class}"),
                args: a,
                code: 2,
                want: vec![s(folder)],
                outputs: vec![out, other.clone()],
                out_dir: other_dir.clone(),
            });
        }
        // Output path = an input path: the data file, or the model.
        let input_copy = env.path(&format!("input-{i}.npy"));
        let input = list
            .iter()
            .find(|x| x.ends_with(".npy") || x.ends_with(".json"))
            .cloned();
        if let Some(input) = input {
            let (other, _) = other_in("input");
            std::fs::copy(&input, &input_copy).unwrap();
            let a: Vec<String> = list
                .iter()
                .map(|x| match x.as_str() {
                    "OUT" => s(&input_copy),
                    "OTHER" => s(&other),
                    x if *x == input => s(&input_copy),
                    x => x.to_string(),
                })
                .collect();
            cases.push(Case {
                name: format!("{name} onto its input"),
                args: a,
                code: 2,
                want: vec![
                    "input".into(),
                    input_copy
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                ],
                outputs: vec![other.clone()],
                out_dir: env.dir.path().to_path_buf(),
            });
        }
    }
    run_all(cases);
    // The inputs named as outputs are untouched.
    for (i, (_, list)) in output_options(&env).into_iter().enumerate() {
        if let Some(input) = list
            .iter()
            .find(|x| x.ends_with(".npy") || x.ends_with(".json"))
        {
            let copy = env.path(&format!("input-{i}.npy"));
            assert_eq!(
                std::fs::read(copy).unwrap(),
                std::fs::read(input).unwrap(),
                "input {i} was modified"
            );
        }
    }
}

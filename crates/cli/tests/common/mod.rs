//! Helpers shared by the CLI's integration tests: running the binary, reading
//! what it printed, paths of the bundled data and fixtures, small `.npy`
//! files, and waiting with a deadline.
//!
//! Each test file is its own crate and uses only some of these, so unused
//! ones are allowed here rather than in every file.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The `mmclust` binary under test.
pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmclust"))
}

/// Runs the binary with `args` to completion.
pub(crate) fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    bin().args(args).output().expect("mmclust runs")
}

/// Runs the binary with `args` and asserts that it succeeded.
pub(crate) fn run_ok<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> Output {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// Asserts that the text file at `path` contains `want`.
pub(crate) fn assert_file_contains(path: &Path, want: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(want),
        "{} should contain {want:?}",
        path.display()
    );
}

/// Runs `command` on the bundled data, z-scored, with `--json` and the `rest`
/// of the arguments.
pub(crate) fn run_on_faithful_z(command: &str, rest: &[&str]) -> Output {
    let data = faithful();
    run(&[&[command, s(&data), "--standardize", "--json"][..], rest].concat())
}

/// Asserts that two files hold the same bytes.
pub(crate) fn assert_same_bytes(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// The repository's root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled Old Faithful data.
pub(crate) fn faithful() -> PathBuf {
    repo().join("data/faithful.csv")
}

/// A committed `.npy` fixture of the core crate.
pub(crate) fn npy_fixture(name: &str) -> PathBuf {
    repo().join("crates/core/tests/fixtures/npy").join(name)
}

/// A path as an argument.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Owned arguments from borrowed ones.
pub(crate) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The one JSON object a successful `--json` run printed.
pub(crate) fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("exactly one JSON object on stdout")
}

/// The JSON file at `path` (a model, a report).
pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fresh temporary folder (removed when dropped) and the paths of the
/// named files in it.
pub(crate) fn temp_paths<const N: usize>(names: [&str; N]) -> (tempfile::TempDir, [PathBuf; N]) {
    let dir = tempfile::tempdir().unwrap();
    let paths = names.map(|name| dir.path().join(name));
    (dir, paths)
}

/// Asserts that a fit command's `--json` summary `v` carries the keys every
/// fit reports, and its own `extra` keys.
pub(crate) fn assert_fit_summary(v: &serde_json::Value, extra: &[&str]) {
    let common = [
        "k",
        "n",
        "d",
        "n_iter",
        "converged",
        "fit_seconds",
        "iter_seconds",
        "init_seconds",
        "history",
    ];
    for key in common.iter().chain(extra) {
        assert!(!v[key].is_null(), "--json lacks {key}: {v}");
    }
}

/// Asserts exit `code`, stderr mentioning `want`, and no panic or backtrace
/// text.
pub(crate) fn assert_error(o: &Output, code: i32, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(err.contains(want), "stderr should mention {want:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// [`assert_error`], and stderr is one line.
pub(crate) fn assert_one_line_error(o: &Output, code: i32, want: &str) {
    assert_error(o, code, want);
    let err = stderr(o);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

/// [`assert_input_error`], and stderr is one line.
pub(crate) fn assert_one_line_input_error(o: &Output, want: &str) {
    assert_one_line_error(o, 2, want);
}

/// Asserts an input error: exit 2, stderr mentioning `want`, no panic text.
pub(crate) fn assert_input_error(o: &Output, want: &str) {
    assert_error(o, 2, want);
}

/// `mmclust generate blobs` into `path`, with `extra` arguments (seed,
/// spread).
pub(crate) fn generate_blobs(path: &Path, n: usize, d: usize, k: usize, extra: &[&str]) {
    let (n, d, k) = (n.to_string(), d.to_string(), k.to_string());
    let mut list = vec!["generate", "blobs", "-o", s(path), "--n", &n, "--d", &d];
    list.extend(["--k", &k, "--quiet"]);
    list.extend(extra);
    let o = run(&list);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Blobs in `dir` (spread 2, seed 7), named by their size.
pub(crate) fn blobs(dir: &Path, n: usize, d: usize, k: usize) -> PathBuf {
    let p = dir.join(format!("blobs_{n}_{d}_{k}.npy"));
    generate_blobs(&p, n, d, k, &["--spread", "2", "--seed", "7"]);
    p
}

/// A fresh temporary folder (removed when dropped) holding [`blobs`].
pub(crate) fn temp_blobs(n: usize, d: usize, k: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = blobs(dir.path(), n, d, k);
    (dir, p)
}

/// A `.npy` file (version 1.0) with a header of our choosing.
pub(crate) fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
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

pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A `rows` × `cols` float32 `.npy` file.
pub(crate) fn write_f32_npy(path: &Path, rows: usize, cols: usize, values: &[f32]) {
    let shape = format!("({rows}, {cols})");
    std::fs::write(path, npy_bytes("<f4", false, &shape, &f32_bytes(values))).unwrap();
}

/// The values of a float32 `.npy` file written by mmclust.
pub(crate) fn read_f32_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let start = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[start..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Asserts that `run(threads)` gives the same result on 1 and 2 threads.
pub(crate) fn assert_same_on_1_and_2_threads<T: PartialEq + std::fmt::Debug>(
    run: impl Fn(&str) -> T,
) {
    let one = run("1");
    assert!(
        one == run("2"),
        "1 and 2 threads differ; on 1 thread: {one:?}"
    );
}

/// Waits until `cond` holds (polling every millisecond), for at most 60 s;
/// fails naming `what` past that.
pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out after 60 s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The arguments of a mini-batch run that checkpoints every `every` steps
/// (batch size at index 7, the data at index 1).
pub(crate) fn minibatch_checkpointing(
    data: &Path,
    ck: &Path,
    centers: &Path,
    max_iter: &str,
    every: &str,
) -> Vec<String> {
    args(&[
        "kmeans",
        s(data),
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
        max_iter,
        "--seed",
        "9",
        "--checkpoint",
        s(ck),
        "--checkpoint-every",
        every,
        "--centers-out",
        s(centers),
        "--quiet",
    ])
}

/// Starts a run that checkpoints (`base`), sends SIGINT once its first
/// checkpoint `ck` is on disk, and returns its output, or `None` when it had
/// finished before the signal could be sent.
pub(crate) fn interrupt_after_first_checkpoint(
    base: &[String],
    ck: &Path,
) -> Option<std::process::Output> {
    let mut child = bin()
        .args(base)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut finished = false;
    wait_for("the first checkpoint", || {
        finished = child.try_wait().unwrap().is_some();
        finished || ck.exists()
    });
    if !finished {
        // SAFETY: kill(2) on our own child's pid.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(sent, 0);
    }
    let o = child.wait_with_output().unwrap();
    match o.status.code() {
        Some(130) => Some(o),
        Some(0) => None,
        other => panic!("exit {other:?}: {}", stderr(&o)),
    }
}

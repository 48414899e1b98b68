//! Fault injection on the real binary: `kill -9` while an output is being
//! written, a full disk (a file-size limit), an input truncated while it is
//! memory-mapped, and a mini-batch run killed and resumed.
//!
//! The promise under test (docs/reliability.md): whatever happens to a run, a
//! file under an output's final name is either the one that was there before
//! or the complete new one; inputs are never written; a failure says what
//! went wrong in one line.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// Blobs (seed 3) into `path`.
fn generate(path: &Path, n: usize, d: usize, k: usize) {
    generate_blobs(path, n, d, k, &["--seed", "3"]);
}

/// The hidden temporaries of output `target` in its folder.
fn temporaries(target: &Path) -> Vec<PathBuf> {
    let prefix = format!(
        ".{}.mmclust-tmp-",
        target.file_name().unwrap().to_string_lossy()
    );
    std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

fn kill9(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(r, 0);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the run was killed, not finished"
    );
}

/// Each kind of output, as (name, arguments with OUT for the output).
fn output_kinds(
    data: &Path,
    csv: &Path,
    km: &Path,
    gmm: &Path,
) -> Vec<(&'static str, Vec<String>)> {
    let kinds = [
        ("labels", "kmeans DATA -k 4 --max-iter 3 --labels-out OUT"),
        ("centres", "kmeans DATA -k 4 --max-iter 3 --centers-out OUT"),
        (
            "kmeans model JSON",
            "kmeans DATA -k 4 --max-iter 3 --model-out OUT",
        ),
        (
            "gmm model JSON",
            "gmm DATA -k 2 --max-iter 2 --model-out OUT",
        ),
        (
            "responsibilities",
            "gmm DATA -k 2 --max-iter 2 --proba-out OUT",
        ),
        ("predicted labels", "predict KM DATA -o OUT"),
        ("predicted probabilities", "predict GMM DATA -o OUT --proba"),
        ("converted npy (from npy)", "convert DATA OUT"),
        ("converted npy (from csv)", "convert CSV OUT"),
        (
            "generated blobs",
            "generate blobs -o OUT --n 300000 --d 8 --k 3",
        ),
        (
            "mini-batch checkpoint",
            "kmeans DATA -k 4 --algorithm minibatch --checkpoint OUT",
        ),
    ];
    let word = |w: &str| match w {
        "DATA" => s(data).to_string(),
        "CSV" => s(csv).to_string(),
        "KM" => s(km).to_string(),
        "GMM" => s(gmm).to_string(),
        w => w.to_string(),
    };
    kinds
        .into_iter()
        .map(|(name, line)| (name, line.split(' ').map(word).collect()))
        .collect()
}

/// `list` with its `OUT` replaced by `target`.
fn with_output(list: &[String], target: &Path) -> Vec<String> {
    list.iter()
        .map(|x| if x == "OUT" { s(target) } else { x }.to_string())
        .collect()
}

struct Inputs {
    dir: tempfile::TempDir,
    data: PathBuf,
    csv: PathBuf,
    km: PathBuf,
    gmm: PathBuf,
}

fn inputs(n: usize) -> Inputs {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.npy");
    generate(&data, n, 8, 4);
    let csv = dir.path().join("small.csv");
    let text: String = (0..20_000)
        .map(|i| format!("{},{}\n", i % 13, i % 7))
        .collect();
    std::fs::write(&csv, text).unwrap();
    let (km, gmm) = (dir.path().join("km.json"), dir.path().join("gmm.json"));
    for (command, k, model) in [("kmeans", "4", &km), ("gmm", "2", &gmm)] {
        run_ok(&[
            command,
            s(&data),
            "-k",
            k,
            "--max-iter",
            "2",
            "--model-out",
            s(model),
            "-q",
        ]);
    }
    Inputs {
        dir,
        data,
        csv,
        km,
        gmm,
    }
}

#[test]
fn kill_9_while_writing_leaves_the_earlier_file_untouched() {
    let inp = inputs(300_000);
    let inputs_before: Vec<Vec<u8>> = [&inp.data, &inp.csv, &inp.km, &inp.gmm]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for (i, (kind, list)) in output_kinds(&inp.data, &inp.csv, &inp.km, &inp.gmm)
        .into_iter()
        .enumerate()
    {
        let folder = inp.dir.path().join(format!("out-{i}"));
        std::fs::create_dir(&folder).unwrap();
        let ext = if kind.contains("JSON") {
            "json"
        } else if kind.contains("checkpoint") {
            "ck"
        } else {
            "npy"
        };
        let target = folder.join(format!("result.{ext}"));
        let old = format!("an earlier {kind} that must survive\n").into_bytes();
        std::fs::write(&target, &old).unwrap();
        let a = with_output(&list, &target);
        // The pause between the complete temporary and its rename makes sure
        // the kill lands before the rename whatever the machine's speed; the
        // kill itself comes as soon as the temporary exists (mid-write for
        // the streamed outputs).
        let mut child = bin()
            .args(&a)
            .arg("--quiet")
            .env("MMCLUST_TEST_PAUSE_BEFORE_RENAME_MS", "30000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&format!("the temporary of {kind}"), || {
            !temporaries(&target).is_empty()
        });
        kill9(&mut child);
        assert_eq!(
            std::fs::read(&target).unwrap(),
            old,
            "{kind}: the earlier file was changed"
        );
        // kill -9 cannot clean up: the temporary stays, hidden, beside it.
        let temps = temporaries(&target);
        assert_eq!(temps.len(), 1, "{kind}: {temps:?}");
        assert!(
            temps[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with('.')
        );
        // Without the pause the same run replaces the file, completely.
        let o = bin().args(&a).arg("--quiet").output().unwrap();
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        assert_ne!(std::fs::read(&target).unwrap(), old, "{kind}");
    }
    let inputs_after: Vec<Vec<u8>> = [&inp.data, &inp.csv, &inp.km, &inp.gmm]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(inputs_before == inputs_after, "an input was modified");
}

#[test]
fn kill_9_mid_stream_leaves_no_file_under_the_final_name() {
    // No pause: the kill lands while the rows are being streamed out (the
    // temporary has some bytes but not all), and no file appears under the
    // final name.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("blobs.npy");
    let full = 128 + 2_000_000 * 8 * 4;
    let mut child = bin()
        .args(args(&[
            "generate",
            "blobs",
            "-o",
            s(&target),
            "--n",
            "2000000",
            "--d",
            "8",
            "--k",
            "3",
            "-q",
        ]))
        .env("MMCLUST_TEST_PAUSE_BEFORE_RENAME_MS", "30000")
        .spawn()
        .unwrap();
    let mut seen = 0;
    wait_for("a partly written temporary", || {
        seen = temporaries(&target)
            .first()
            .and_then(|t| std::fs::metadata(t).ok())
            .map_or(0, |m| m.len());
        seen > 0
    });
    kill9(&mut child);
    assert!(!target.exists(), "a file stands under the final name");
    assert!(
        seen < full,
        "the kill came after the last byte ({seen} bytes)"
    );
}

/// Runs `command` under `ulimit -f BLOCKS` (a file-size limit: writes past it
/// fail with EFBIG, as on a full disk).
fn with_file_limit(blocks: u32, list: &[String]) -> Output {
    let script = format!("ulimit -f {blocks}; exec \"$0\" \"$@\"");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_mmclust"))
        .args(list)
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_gives_a_clear_error_and_removes_the_temporary() {
    let inp = inputs(100_000);
    for (i, (kind, list)) in output_kinds(&inp.data, &inp.csv, &inp.km, &inp.gmm)
        .into_iter()
        .enumerate()
    {
        // Outputs too small to hit a 64-block limit are not part of this test.
        if kind.contains("JSON")
            || kind == "centres"
            || kind.contains("checkpoint")
            || kind == "converted npy (from csv)"
        {
            continue;
        }
        let folder = inp.dir.path().join(format!("full-{i}"));
        std::fs::create_dir(&folder).unwrap();
        let target = folder.join("result.npy");
        let mut a = with_output(&list, &target);
        a.push("--quiet".to_string());
        let o = with_file_limit(64, &a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{kind}: {err}");
        assert!(
            err.contains("result.npy") && err.contains("file-size limit"),
            "{kind}: {err}"
        );
        assert!(!err.contains("panicked"), "{kind}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{kind}: {err}");
        assert!(!target.exists(), "{kind}");
        assert!(temporaries(&target).is_empty(), "{kind}: temporary left");
    }
}

/// A 1 MiB tmpfs mounted on a fresh folder, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    /// The mount, or why there is none (not root, or `mount` refused).
    fn mount() -> Result<SmallTmpfs, String> {
        // SAFETY: geteuid(2) takes nothing and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".to_string());
        }
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !o.status.success() {
            return Err(format!("mount: {}", stderr(&o).trim()));
        }
        Ok(SmallTmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system: a file grown until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![7u8; 4096];
        while f.write_all(&block).and_then(|()| f.flush()).is_ok() {}
    }

    /// What is in the file system besides the filler.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "filler")
            .collect();
        names.sort();
        names
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_real_full_file_system_fails_outputs_checkpoints_and_scratch_cleanly() {
    let tmpfs = match SmallTmpfs::mount() {
        Ok(t) => t,
        Err(why) => {
            eprintln!("skipped: a real full file system needs a 1 MiB tmpfs mounted here ({why})");
            return;
        }
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data.npy");
    generate(&data, 20_000, 4, 3);
    let full = tmpfs.path();
    // Spill every per-row buffer (labels: 20 000 × 4 bytes), whatever its size.
    let spill = ("MMCLUST_TEST_SCRATCH_IN_MEMORY_LIMIT", "0");
    let run_env = |list: &[&str], env: &[(&str, &str)]| {
        bin().args(list).envs(env.iter().copied()).output().unwrap()
    };
    let d = s(&data);
    let labels = full.join("labels.npy");
    let checkpoint = full.join("run.ck");
    let dir = s(full);

    // Room to spare first: scratch in a tmpfs works, with a warning.
    let o = run_env(
        &[
            "kmeans",
            d,
            "-k",
            "3",
            "--algorithm",
            "lloyd",
            "--scratch-dir",
            dir,
        ],
        &[spill],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("tmpfs"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--scratch-dir"), "{}", stderr(&o));

    tmpfs.fill();
    // (what, arguments, environment, what stderr must name)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "output",
            vec![
                "kmeans",
                d,
                "-k",
                "3",
                "--max-iter",
                "3",
                "--labels-out",
                s(&labels),
            ],
            vec![],
            vec!["labels.npy", "disk is full"],
        ),
        (
            "checkpoint",
            vec![
                "kmeans",
                d,
                "-k",
                "3",
                "--algorithm",
                "minibatch",
                "--max-iter",
                "5",
                "--checkpoint",
                s(&checkpoint),
            ],
            vec![],
            vec!["run.ck", "disk is full"],
        ),
        (
            "scratch (--scratch-dir)",
            vec![
                "kmeans",
                d,
                "-k",
                "3",
                "--algorithm",
                "lloyd",
                "--scratch-dir",
                dir,
            ],
            vec![spill],
            vec![dir, "80000 bytes", "scratch", "disk is full"],
        ),
        (
            "scratch (beside the output, by default)",
            vec![
                "kmeans",
                d,
                "-k",
                "3",
                "--algorithm",
                "lloyd",
                "--labels-out",
                s(&labels),
            ],
            vec![spill],
            vec![dir, "80000 bytes", "scratch", "disk is full"],
        ),
        (
            "scratch of the GMM's K-means initialisation",
            vec![
                "gmm",
                d,
                "-k",
                "3",
                "--covariance",
                "diag",
                "--scratch-dir",
                dir,
            ],
            vec![spill],
            vec![dir, "scratch", "disk is full"],
        ),
    ];
    for (what, list, env, want) in cases {
        let o = run_env(&list, &env);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        for w in want {
            assert!(err.contains(w), "{what}: stderr should name {w:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
        assert_eq!(tmpfs.entries(), Vec::<String>::new(), "{what}: left behind");
    }
}

#[test]
fn an_input_truncated_while_mapped_is_named_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.npy");
    generate(&data, 1_000_000, 8, 4);
    let labels = dir.path().join("labels.npy");
    for attempt in 0..5 {
        if attempt > 0 {
            generate(&data, 1_000_000, 8, 4);
        }
        let child = bin()
            .args(args(&[
                "kmeans",
                s(&data),
                "-k",
                "8",
                "--max-iter",
                "100000",
                "--tol",
                "0",
                "--threads",
                "1",
                "--labels-out",
                s(&labels),
                "--quiet",
            ]))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 * (attempt + 1)));
        // Another process (this test) cuts the file to its first page.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&data)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        if o.status.code() == Some(2) && err.contains("truncated") {
            // Cut before it was mapped: the header check caught it. Again, later.
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("data.npy") && err.contains("changed size while being read"),
            "{err}"
        );
        assert!(!err.contains("Bus error"), "{err}");
        assert!(!labels.exists());
        return;
    }
    panic!("the file was never truncated while mapped");
}

#[test]
fn minibatch_killed_with_sigkill_resumes_to_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.npy");
    generate(&data, 200_000, 8, 6);
    let base = |ck: &Path, centers: &Path| minibatch_checkpointing(&data, ck, centers, "3", "300");
    let (ck_a, c_a) = (dir.path().join("a.ck"), dir.path().join("a.npy"));
    let o = run(&base(&ck_a, &c_a));
    assert!(o.status.success(), "{}", stderr(&o));

    let (ck_b, c_b) = (dir.path().join("b.ck"), dir.path().join("b.npy"));
    let mut child = bin()
        .args(base(&ck_b, &c_b))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first checkpoint", || ck_b.exists());
    kill9(&mut child);
    assert!(
        !c_b.exists(),
        "no centres under the final name after kill -9"
    );
    let text = std::fs::read_to_string(&ck_b).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&text).expect("the checkpoint is complete JSON");
    let step = saved["state"]["step"].as_u64().unwrap();
    let total = saved["state"]["total_steps"].as_u64().unwrap();
    assert!(
        step < total,
        "killed before the end (step {step} of {total})"
    );

    let mut resume = base(&ck_b, &c_b);
    resume.extend(args(&["--resume", s(&ck_b)]));
    let o = run(&resume);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&c_a).unwrap(),
        std::fs::read(&c_b).unwrap(),
        "resumed ≠ uninterrupted"
    );
}

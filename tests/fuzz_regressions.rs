//! Every input the fuzzers found a problem with, and their seed corpora,
//! replayed through the very checks the fuzz targets run
//! (`fuzz/fuzz_targets/checks.rs`), in the normal test suite: a fixed bug
//! stays fixed without nightly or cargo-fuzz.
//!
//! Inputs live in `tests/fixtures/fuzz/<target>/` (one file per finding,
//! named after what it found; see docs/reliability.md for the list) and
//! `fuzz/corpus/<target>/seed-*`. This lives in the facade package because
//! the checks span mmclust-core, -kmeans and -gmm.

#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

use std::path::PathBuf;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 5] = [
    ("npy", checks::npy),
    ("vecs", checks::vecs),
    ("csv", checks::csv),
    ("model_json", checks::model_json),
    ("checkpoint", checks::checkpoint),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (dir, seeds_only) in [
        (root.join("tests/fixtures/fuzz").join(target), false),
        (root.join("fuzz/corpus").join(target), true),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() && (!seeds_only || name.starts_with("seed-")) {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_fuzz_finding_and_seed_passes_its_target_checks() {
    let mut total = 0;
    for (target, check) in TARGETS {
        let files = inputs(target);
        assert!(!files.is_empty(), "no inputs for {target}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its checks",
                f.display()
            );
            total += 1;
        }
    }
    assert!(total >= 20, "only {total} inputs replayed");
}

//! Parquet and Arrow IPC inputs through the binary: the same model, bit for
//! bit, as from the `.npy` of the same data (K-means Lloyd and mini-batch,
//! GMM), whatever the row groups, codec or column order; `--shards` over
//! Parquet files; `convert` to and from `.npy`; bad inputs one line, exit 2.
//! Fixtures: `scripts/make_parquet_fixtures.sh` (pyarrow).

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn fixture(name: &str) -> PathBuf {
    repo()
        .join("crates/core/tests/fixtures/columnar")
        .join(name)
}

/// The model a command writes, without its `input` fingerprint (path, format
/// and bytes differ between the files by design) and its timings.
fn model(dir: &Path, tag: &str, data: &Path, command: &[&str]) -> (serde_json::Value, Vec<u8>) {
    let model = dir.join(format!("{tag}.json"));
    let labels = dir.join(format!("{tag}.npy"));
    let mut list: Vec<&str> = command.to_vec();
    list.insert(1, s(data));
    list.extend([
        "--model-out",
        s(&model),
        "--labels-out",
        s(&labels),
        "--quiet",
    ]);
    run_ok(&list);
    let mut v = read_json(&model);
    let object = v.as_object_mut().unwrap();
    assert!(object.remove("input").is_some() && object.remove("seconds").is_some());
    (v, std::fs::read(&labels).unwrap())
}

#[test]
fn models_from_parquet_and_arrow_equal_the_npy_ones_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 3] = [
        &["kmeans", "-k", "3", "--algorithm", "lloyd", "--seed", "5"],
        &[
            "kmeans",
            "-k",
            "3",
            "--algorithm",
            "minibatch",
            "--batch-size",
            "64",
            "--block-rows",
            "8",
            "--seed",
            "5",
        ],
        &["gmm", "-k", "3", "--covariance", "full", "--seed", "5"],
    ];
    for (c, command) in commands.iter().enumerate() {
        let want = model(
            dir.path(),
            &format!("npy{c}"),
            &fixture("blobs.npy"),
            command,
        );
        for name in [
            "blobs_rg64_none.parquet",
            "blobs_rg100_snappy.parquet",
            "blobs_rg1000_zstd.parquet",
            "blobs_rg37_lz4_v1pages.parquet",
            "blobs.feather",
            "blobs_uncompressed.arrow",
        ] {
            let got = model(dir.path(), &format!("{name}{c}"), &fixture(name), command);
            assert!(got == want, "{command:?} on {name} differs from the .npy's");
        }
        let mut shuffled = command.to_vec();
        shuffled.extend(["--columns", "x0,x1,x2,x3,x4"]);
        let got = model(
            dir.path(),
            &format!("shuffled{c}"),
            &fixture("blobs_shuffled.parquet"),
            &shuffled,
        );
        assert!(got == want, "{command:?} on the shuffled columns differs");
    }
}

#[test]
fn shards_of_parquet_files_read_as_one_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let command: &[&str] = &["kmeans", "-k", "3", "--algorithm", "lloyd", "--seed", "2"];
    let want = model(dir.path(), "npy", &fixture("blobs.npy"), command);
    let mut sharded = command.to_vec();
    sharded.push("--shards");
    let got = model(
        dir.path(),
        "shards",
        &fixture("shards/part-*.parquet"),
        &sharded,
    );
    assert!(got == want, "shards differ from the whole file");
}

#[test]
fn convert_goes_to_and_from_npy_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, pq, back) = (
        dir.path().join("a.npy"),
        dir.path().join("a.parquet"),
        dir.path().join("b.npy"),
    );
    run_ok(&[
        "convert",
        s(&fixture("blobs_rg37_lz4_v1pages.parquet")),
        s(&npy),
        "--quiet",
    ]);
    assert_eq!(read_f32_npy(&npy), read_f32_npy(&fixture("blobs.npy")));
    run_ok(&["convert", s(&npy), s(&pq), "--quiet"]);
    run_ok(&["convert", s(&pq), s(&back), "--quiet"]);
    assert_same_bytes(&npy, &back);
    let o = run_ok(&["info", s(&pq), "--json"]);
    let v = json(&o);
    assert_eq!(v["file"]["format"], "parquet");
    assert_eq!(
        v["file"]["columns"],
        serde_json::json!(["x0", "x1", "x2", "x3", "x4"])
    );
    // Chosen columns of a mixed table.
    let picked = dir.path().join("p.npy");
    run_ok(&[
        "convert",
        s(&fixture("mixed.parquet")),
        s(&picked),
        "--columns",
        "dec,i8",
        "--quiet",
    ]);
    let (all, got) = (read_f32_npy(&fixture("mixed.npy")), read_f32_npy(&picked));
    for i in 0..40 {
        assert_eq!(
            [got[2 * i].to_bits(), got[2 * i + 1].to_bits()],
            [all[7 * i + 6].to_bits(), all[7 * i].to_bits()]
        );
    }
}

#[test]
fn bad_columnar_inputs_are_one_line_errors() {
    let cases: [(&str, &[&str], &str); 9] = [
        (
            "mixed.parquet",
            &["--columns", "i8,name"],
            "column 'name' is Utf8, not numeric",
        ),
        (
            "mixed.feather",
            &["--columns", "flag"],
            "column 'flag' is Boolean, not numeric",
        ),
        (
            "mixed.parquet",
            &["--columns", "when"],
            "column 'when' is Timestamp",
        ),
        (
            "mixed.parquet",
            &["--columns", "nope"],
            "no column named 'nope'",
        ),
        ("nulls.parquet", &[], "column 'b' is null at row 7"),
        ("nulls.feather", &[], "column 'b' is null at row 7"),
        ("corrupt_footer.parquet", &[], "not a readable Parquet file"),
        ("empty.parquet", &[], "empty"),
        (
            "blobs.npy",
            &["--columns", "x0"],
            "only Parquet and Arrow files have named columns",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    for (file, extra, want) in cases {
        let path = fixture(file);
        for command in [
            &["kmeans", s(&path), "-k", "2", "--model-out", s(&out)][..],
            &["info", s(&path)],
        ] {
            let o = run(&[command, extra].concat());
            assert_one_line_input_error(&o, want);
            assert!(stderr(&o).contains(file), "{}", stderr(&o));
            assert!(!out.exists());
        }
    }
}

#[test]
fn integers_beyond_2_pow_24_warn_once() {
    let o = run_ok(&["info", s(&fixture("big_ints.parquet")), "--stats"]);
    let err = stderr(&o);
    assert_eq!(err.matches("beyond 2^24").count(), 1, "{err}");
    assert!(err.contains("column 'big'"), "{err}");
}

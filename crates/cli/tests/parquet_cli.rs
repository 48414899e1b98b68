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

/// Runs a fit `command` on `data` (with `extra` options) writing
/// `DIR/TAG.json` and labels `DIR/TAG.npy`, with `--json`: the model without
/// its `input` fingerprint (path, format and bytes differ between the files
/// by design) and its timings, and the run's output.
fn fit(
    dir: &Path,
    tag: &str,
    data: &Path,
    command: &[&str],
    extra: &[&str],
) -> (serde_json::Value, std::process::Output) {
    let model = dir.join(format!("{tag}.json"));
    let labels = dir.join(format!("{tag}.npy"));
    let mut list: Vec<&str> = command.to_vec();
    list.insert(1, s(data));
    list.extend([
        "--model-out",
        s(&model),
        "--labels-out",
        s(&labels),
        "--json",
    ]);
    list.extend(extra);
    let o = run_ok(&list);
    let mut v = read_json(&model);
    let object = v.as_object_mut().unwrap();
    assert!(object.remove("input").is_some() && object.remove("seconds").is_some());
    (v, o)
}

/// The model of [`fit`] and the bytes of its labels.
fn model(dir: &Path, tag: &str, data: &Path, command: &[&str]) -> (serde_json::Value, Vec<u8>) {
    let (v, _) = fit(dir, tag, data, command, &[]);
    (v, std::fs::read(dir.join(format!("{tag}.npy"))).unwrap())
}

/// The fits compared across inputs: Lloyd (passes in order), mini-batch
/// (scattered blocks: random access), GMM.
const FITS: [&[&str]; 3] = [
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

#[test]
fn models_from_parquet_and_arrow_equal_the_npy_ones_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let commands = FITS;
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
            "blobs_pages_v1.parquet",
            "blobs_pages_v2.parquet",
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
    let cases: [(&str, &[&str], &str); 10] = [
        (
            "all_null.parquet",
            &["--drop-null", "--columns", "a"],
            "every one of the 4 rows has a null in a chosen column",
        ),
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
        // info counts nulls rather than refusing them.
        let info: &[&str] = if file.starts_with("nulls") {
            &[]
        } else {
            &["info", s(&path)]
        };
        for command in [
            &["kmeans", s(&path), "-k", "2", "--model-out", s(&out)][..],
            info,
        ] {
            if command.is_empty() {
                continue;
            }
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

/// The values of an int32 `.npy` (labels) written by mmclust.
fn read_i32_npy(path: &Path) -> Vec<i32> {
    read_f32_npy(path)
        .iter()
        .map(|v| v.to_bits().cast_signed())
        .collect()
}

/// The file rows the fixture script (numpy) left out of `nulls_multi`.
fn dropped_rows() -> Vec<usize> {
    read_i32_npy(&fixture("nulls_multi_dropped.npy"))
        .into_iter()
        .map(|r| usize::try_from(r).unwrap())
        .collect()
}

/// A `--json` summary without what differs by design between two inputs of
/// the same rows: timings, paths, the input's fingerprint.
fn summary_less_timings(o: &std::process::Output) -> serde_json::Value {
    let mut v = json(o);
    let object = v.as_object_mut().unwrap();
    object.retain(|k, _| {
        !k.ends_with("_seconds")
            && !k.ends_with("_out")
            && !matches!(k.as_str(), "input" | "dropped_rows")
    });
    v
}

/// Per-row outputs of `--drop-null` data against those of the `.npy` of its
/// kept rows: `missing` (as bits) at the dropped rows, the `.npy`'s values at
/// the others, `width` values a row.
fn assert_filled(got: &[u32], kept: &[u32], width: usize, missing: u32, what: &str) {
    let dropped = dropped_rows();
    assert_eq!(got.len(), 600 * width, "{what}: the file's row count");
    let mut next = kept.chunks_exact(width);
    for (row, values) in got.chunks_exact(width).enumerate() {
        if dropped.binary_search(&row).is_ok() {
            assert!(values.iter().all(|&v| v == missing), "{what}: row {row}");
        } else {
            assert_eq!(values, next.next().unwrap(), "{what}: row {row}");
        }
    }
    assert!(next.next().is_none(), "{what}: every kept row");
}

fn bits(path: &Path) -> Vec<u32> {
    read_f32_npy(path).iter().map(|v| v.to_bits()).collect()
}

#[test]
fn drop_null_fits_equal_the_npy_of_the_kept_rows_and_outputs_keep_file_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let kept = fixture("nulls_multi_kept.npy");
    // Mini-batch reads scattered blocks: the kept-row map under random access.
    let commands = FITS;
    for (c, command) in commands.iter().enumerate() {
        let fit = |tag: &str, data: &Path, extra: &[&str]| {
            let tag = format!("{tag}{c}");
            let (m, o) = fit(dir.path(), &tag, data, command, extra);
            (
                summary_less_timings(&o),
                m,
                bits(&p(&format!("{tag}.npy"))),
                json(&o),
            )
        };
        let (want_summary, want_model, want_labels, _) = fit("npy", &kept, &[]);
        for name in ["nulls_multi.parquet", "nulls_multi.feather"] {
            let (summary, model, labels, raw) = fit(name, &fixture(name), &["--drop-null"]);
            assert!(model == want_model, "{command:?} on {name}: the model");
            assert!(summary == want_summary, "{command:?} on {name}: --json");
            assert_eq!(raw["dropped_rows"], 118, "{name}");
            assert_eq!(raw["input"]["dropped_rows"], 118, "{name}");
            assert_eq!(raw["n"], 482, "{name}");
            assert_filled(&labels, &want_labels, 1, (-1i32).cast_unsigned(), name);
        }
    }
    // --weights of one value per file row are read at the kept rows.
    let dropped = dropped_rows();
    let weights: Vec<f32> = (0..600u16).map(|i| f32::from(i % 7 + 1)).collect();
    let kept_weights: Vec<f32> = (0..600)
        .filter(|i| dropped.binary_search(i).is_err())
        .map(|i| weights[i])
        .collect();
    let (w_all, w_kept) = (p("w_all.npy"), p("w_kept.npy"));
    std::fs::write(
        &w_all,
        npy_bytes("<f4", false, "(600,)", &f32_bytes(&weights)),
    )
    .unwrap();
    std::fs::write(
        &w_kept,
        npy_bytes("<f4", false, "(482,)", &f32_bytes(&kept_weights)),
    )
    .unwrap();
    let weighted = |tag: &str, data: &Path, w: &Path, extra: &[&str]| {
        let mut extra = extra.to_vec();
        extra.extend(["--weights", s(w)]);
        fit(dir.path(), tag, data, FITS[0], &extra).0
    };
    let want = weighted("wk", &kept, &w_kept, &[]);
    let got = weighted(
        "wp",
        &fixture("nulls_multi.parquet"),
        &w_all,
        &["--drop-null"],
    );
    assert!(got == want, "--weights with --drop-null");
    // GMM responsibilities: NaN rows; predict and score through a model.
    let model = p("g.json");
    let gmm = |data: &Path, proba: &Path, extra: &[&str]| {
        let mut list = vec![
            "gmm",
            s(data),
            "-k",
            "2",
            "--proba-out",
            s(proba),
            "--quiet",
        ];
        list.extend(["--model-out", s(&model)]);
        list.extend(extra);
        run_ok(&list);
    };
    gmm(&kept, &p("p_npy.npy"), &[]);
    gmm(
        &fixture("nulls_multi.parquet"),
        &p("p_pq.npy"),
        &["--drop-null"],
    );
    let nan = f32::NAN.to_bits();
    assert_filled(
        &bits(&p("p_pq.npy")),
        &bits(&p("p_npy.npy")),
        2,
        nan,
        "proba",
    );
    for (args, width, missing) in [
        (&["predict", "-o"][..], 1, (-1i32).cast_unsigned()),
        (&["predict", "--proba", "-o"], 2, nan),
        (&["score", "--per-sample-out"], 1, nan),
    ] {
        let on = |data: &Path, out: &Path, extra: &[&str]| {
            let mut list = vec![args[0], s(&model), s(data)];
            list.extend(&args[1..]);
            list.extend([s(out), "--quiet"]);
            list.extend(extra);
            run_ok(&list);
            bits(out)
        };
        let want = on(&kept, &p("o_npy.npy"), &[]);
        let got = on(
            &fixture("nulls_multi.feather"),
            &p("o_pq.npy"),
            &["--drop-null"],
        );
        assert_filled(&got, &want, width, missing, args[0]);
    }
    // Labels written with --drop-null (-1 at the dropped rows) are read back
    // against the same data.
    let labels = p("nulls_multi.parquet0.npy");
    let o = run_ok(&[
        "scores",
        s(&fixture("nulls_multi.parquet")),
        s(&labels),
        "--drop-null",
        "--json",
    ]);
    let o_npy = run_ok(&["scores", s(&kept), s(&p("npy0.npy")), "--json"]);
    assert_eq!(json(&o)["silhouette"], json(&o_npy)["silhouette"]);
}

#[test]
fn drop_null_elsewhere_is_a_no_op_and_info_counts_nulls() {
    // A .npy holds no nulls: --drop-null reads it as it is (0 rows left out).
    let o = run_ok(&[
        "kmeans",
        s(&fixture("blobs.npy")),
        "-k",
        "2",
        "--drop-null",
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(
        (v["n"].clone(), v["dropped_rows"].clone()),
        (600.into(), 0.into())
    );
    // info reads a file with nulls without the flag and counts them.
    let o = run_ok(&["info", s(&fixture("nulls_multi.parquet")), "--json"]);
    let v = json(&o);
    assert_eq!(v["file"]["rows"], 600);
    assert_eq!(v["nulls"]["rows"], 118);
    let counts: Vec<u64> = v["nulls"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["nulls"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [0, 40, 64, 25, 0]);
    let o = run_ok(&["info", s(&fixture("nulls_multi.feather"))]);
    assert!(stdout(&o).contains("x1 40, x2 64, x3 25"), "{}", stdout(&o));
    // convert --drop-null writes the kept rows.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.npy");
    let o = run_ok(&[
        "convert",
        s(&fixture("nulls_multi.parquet")),
        s(&out),
        "--drop-null",
        "--json",
    ]);
    assert_eq!(json(&o)["dropped_rows"], 118);
    assert_eq!(bits(&out), bits(&fixture("nulls_multi_kept.npy")));
}

#[test]
fn shards_with_nulls_and_mixed_formats() {
    let dir = tempfile::tempdir().unwrap();
    let command: &[&str] = &["kmeans", "-k", "3", "--algorithm", "lloyd", "--seed", "2"];
    let (want, _) = model(dir.path(), "npy", &fixture("nulls_multi_kept.npy"), command);
    let mut sharded = command.to_vec();
    sharded.extend(["--shards", "--drop-null"]);
    let (got, _) = model(
        dir.path(),
        "shards",
        &fixture("shards_nulls/part-*.parquet"),
        &sharded,
    );
    assert!(
        got == want,
        "shards with nulls differ from the .npy of the kept rows"
    );
    let labels = |tag: &str| bits(&dir.path().join(format!("{tag}.npy")));
    assert_filled(
        &labels("shards"),
        &labels("npy"),
        1,
        (-1i32).cast_unsigned(),
        "shards",
    );
    // One pattern over a Parquet and an Arrow file: refused, naming both.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(
        fixture("shards/part-0.parquet"),
        mixed.join("part-0.parquet"),
    )
    .unwrap();
    std::fs::copy(fixture("blobs.feather"), mixed.join("part-1.feather")).unwrap();
    let o = run(&["kmeans", s(&mixed.join("part-*")), "-k", "2", "--shards"]);
    assert_one_line_input_error(&o, "one format");
    assert!(stderr(&o).contains("part-1.feather") && stderr(&o).contains("parquet"));
}

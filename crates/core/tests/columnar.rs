//! Parquet and Arrow IPC inputs against the `.npy` of the same data, written
//! by pyarrow and numpy (`scripts/make_parquet_fixtures.sh`): every file gives
//! the `.npy`'s `f32` values bit for bit, whatever its row groups, codec,
//! column order or column types, read whole or in scattered row ranges.

use std::path::PathBuf;

use mmclust_core::format::{
    Matrix, MatrixOptions, open_matrix, open_matrix_with, take_precision_warnings,
};
use mmclust_core::{CoreError, DataSource};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/columnar")
        .join(name)
}

fn all_rows(m: &dyn DataSource) -> Vec<u32> {
    let mut scratch = Vec::new();
    m.rows(0..m.n_rows(), &mut scratch)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// Rows `a..b` of `m`, as bits.
fn range_bits(m: &dyn DataSource, a: usize, b: usize, scratch: &mut Vec<f32>) -> Vec<u32> {
    m.rows(a..b, scratch)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn columns(names: &[&str]) -> MatrixOptions {
    MatrixOptions {
        columns: Some(names.iter().map(|s| s.to_string()).collect()),
        ..MatrixOptions::default()
    }
}

const BLOBS: [&str; 9] = [
    "blobs_rg64_none.parquet",
    "blobs_rg100_snappy.parquet",
    "blobs_rg1000_zstd.parquet",
    "blobs_rg37_lz4_v1pages.parquet",
    // Small pages in one row group, page locations built from the page
    // headers (v1, v2) or read from the file's offset index.
    "blobs_pages_v1.parquet",
    "blobs_pages_v2.parquet",
    "blobs_pages_v1_indexed.parquet",
    "blobs.feather",
    "blobs_uncompressed.arrow",
];

#[test]
fn every_layout_reads_the_npy_bits() {
    let npy = open_matrix(fixture("blobs.npy")).unwrap();
    let want = all_rows(&npy);
    for name in BLOBS {
        let m = open_matrix(fixture(name)).unwrap();
        assert!(matches!(m, Matrix::Columnar(_)), "{name}");
        assert_eq!((m.n_rows(), m.n_cols()), (600, 5), "{name}");
        assert_eq!(all_rows(&m), want, "{name}");
    }
    let shuffled = open_matrix_with(
        fixture("blobs_shuffled.parquet"),
        &columns(&["x0", "x1", "x2", "x3", "x4"]),
    )
    .unwrap();
    assert_eq!(all_rows(&shuffled), want);
    // Without --columns: the file's order (x3, x0, x4, x1, x2).
    let file_order = open_matrix(fixture("blobs_shuffled.parquet")).unwrap();
    let got = all_rows(&file_order);
    for i in 0..600 {
        for (j, &src) in [3, 0, 4, 1, 2].iter().enumerate() {
            assert_eq!(got[i * 5 + j], want[i * 5 + src]);
        }
    }
}

#[test]
fn scattered_ranges_match_across_units_and_row_groups() {
    let npy = open_matrix(fixture("blobs.npy")).unwrap();
    let want = all_rows(&npy);
    let ranges = [
        (0, 1),
        (63, 65),
        (99, 301),
        (599, 600),
        (37, 38),
        (500, 600),
        (0, 600),
        (250, 250),
    ];
    for name in BLOBS {
        let m = open_matrix(fixture(name)).unwrap();
        let mut scratch = Vec::new();
        // Twice: decoded the first time, cached the second.
        for _ in 0..2 {
            for &(a, b) in ranges.iter().rev() {
                let got = range_bits(&m, a, b, &mut scratch);
                assert_eq!(got, want[a * 5..b * 5], "{name} {a}..{b}");
            }
        }
        assert!(m.rows(599..601, &mut scratch).is_err(), "{name}");
    }
}

#[test]
fn row_groups_split_into_many_units_read_the_same_bits() {
    let want = all_rows(&open_matrix(fixture("blobs.npy")).unwrap());
    for unit_rows in [1, 7, 16, 50] {
        let options = MatrixOptions {
            unit_rows: Some(unit_rows),
            ..MatrixOptions::default()
        };
        for name in BLOBS {
            // A sequential read (each reader continued unit after unit) ...
            let m = open_matrix_with(fixture(name), &options).unwrap();
            let mut scratch = Vec::new();
            let mut got = Vec::new();
            for start in (0..600).step_by(13) {
                let rows = m.rows(start..(start + 13).min(600), &mut scratch).unwrap();
                got.extend(rows.iter().map(|v| v.to_bits()));
            }
            assert_eq!(got, want, "{name}, units of {unit_rows}");
            // ... and backwards (each unit's reader started at the unit).
            let m = open_matrix_with(fixture(name), &options).unwrap();
            for start in (0..600).step_by(29).rev() {
                let end = (start + 29).min(600);
                let rows = m.rows(start..end, &mut scratch).unwrap();
                let bits: Vec<u32> = rows.iter().map(|v| v.to_bits()).collect();
                assert_eq!(
                    bits,
                    want[start * 5..end * 5],
                    "{name}, units of {unit_rows}"
                );
            }
        }
    }
}

#[test]
fn integer_float_and_decimal_columns_convert_as_numpy() {
    let want = all_rows(&open_matrix(fixture("mixed.npy")).unwrap());
    for name in ["mixed.parquet", "mixed.feather"] {
        let m = open_matrix(fixture(name)).unwrap();
        assert_eq!((m.n_rows(), m.n_cols()), (40, 7), "{name}");
        assert_eq!(all_rows(&m), want, "{name}");
        let Matrix::Columnar(c) = &m else {
            panic!("{name}")
        };
        assert_eq!(
            c.column_names(),
            ["i8", "i32", "u16", "i64", "f16", "f64", "dec"]
        );
        let picked = open_matrix_with(fixture(name), &columns(&["dec", "i8", "dec"])).unwrap();
        let got = all_rows(&picked);
        for i in 0..40 {
            assert_eq!(
                got[i * 3..i * 3 + 3],
                [want[i * 7 + 6], want[i * 7], want[i * 7 + 6]]
            );
        }
    }
}

fn problem(name: &str, options: &MatrixOptions) -> String {
    match open_matrix_with(fixture(name), options) {
        Ok(_) => panic!("{name} opened"),
        Err(e) => {
            assert!(e.is_input_error(), "{name}: {e}");
            let text = e.to_string();
            assert!(text.contains(name), "{text}");
            assert_eq!(text.lines().count(), 1, "{text}");
            text
        }
    }
}

#[test]
fn bad_inputs_are_errors_naming_file_column_and_row() {
    let none = MatrixOptions::default();
    for name in ["nulls.parquet", "nulls_nostats.parquet", "nulls.feather"] {
        let e = problem(name, &none);
        assert!(e.contains("column 'b' is null at row 7"), "{e}");
    }
    // Column 'a' alone has no nulls.
    assert_eq!(
        open_matrix_with(fixture("nulls.parquet"), &columns(&["a"]))
            .unwrap()
            .n_rows(),
        12
    );
    for (col, ty) in [("name", "Utf8"), ("flag", "Boolean"), ("when", "Timestamp")] {
        for file in ["mixed.parquet", "mixed.feather"] {
            let e = problem(file, &columns(&["i8", col]));
            assert!(
                e.contains(&format!("column '{col}' is {ty}")) && e.contains("not numeric"),
                "{e}"
            );
        }
    }
    let e = problem("mixed.parquet", &columns(&["nope"]));
    assert!(
        e.contains("no column named 'nope'") && e.contains("i8 (Int8)"),
        "{e}"
    );
    assert!(problem("no_numeric.parquet", &none).contains("no numeric"));
    assert!(problem("no_rows.parquet", &none).contains("0 rows"));
    assert!(problem("corrupt_footer.parquet", &none).contains("not a readable Parquet file"));
    assert!(problem("truncated.parquet", &none).contains("not a readable Parquet file"));
    assert!(problem("corrupt.arrow", &none).contains("not a readable Arrow IPC file"));
    assert!(problem("empty.parquet", &none).contains("empty"));
    let e = open_matrix_with(fixture("blobs.npy"), &columns(&["x0"])).unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::InvalidParameter {
                name: "columns",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn integers_beyond_2_pow_24_are_rounded_and_reported_once() {
    let m = open_matrix(fixture("big_ints.parquet")).unwrap();
    let mut scratch = Vec::new();
    let rows = m.rows(0..3, &mut scratch).unwrap().to_vec();
    #[allow(clippy::cast_precision_loss)]
    let want = [1.0, 1.0, (1u64 << 24) as f32, 2.0, (1u64 << 40) as f32, 3.0];
    assert_eq!(rows, want);
    m.rows(0..3, &mut scratch).unwrap();
    let warnings: Vec<String> = take_precision_warnings()
        .into_iter()
        .filter(|w| w.contains("big_ints.parquet"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("column 'big'"), "{warnings:?}");
}

/// The file rows pyarrow's fixture script left out (numpy's `~valid.all(1)`).
fn dropped_fixture() -> Vec<usize> {
    mmclust_core::format::read_npy_vector_i32(fixture("nulls_multi_dropped.npy"))
        .unwrap()
        .into_iter()
        .map(|r| usize::try_from(r).unwrap())
        .collect()
}

#[test]
fn drop_null_reads_the_rows_without_nulls_in_any_unit_layout() {
    let want = all_rows(&open_matrix(fixture("nulls_multi_kept.npy")).unwrap());
    let kept = want.len() / 5;
    let dropped = dropped_fixture();
    assert_eq!(kept + dropped.len(), 600);
    for unit_rows in [None, Some(1), Some(7), Some(50)] {
        let options = MatrixOptions {
            unit_rows,
            drop_null: true,
            ..MatrixOptions::default()
        };
        for name in ["nulls_multi.parquet", "nulls_multi.feather"] {
            let m = open_matrix_with(fixture(name), &options).unwrap();
            let Matrix::Columnar(c) = &m else {
                panic!("{name} is not columnar")
            };
            assert_eq!(c.shape(), (kept, 5), "{name}");
            assert_eq!(c.file_rows(), 600);
            assert_eq!(c.dropped_rows().rows(), &dropped[..], "{name}");
            assert_eq!(c.null_counts(), &[0, 40, 64, 25, 0], "{name}");
            assert_eq!(all_rows(&m), want, "{name} {unit_rows:?}");
            // Scattered ranges (random access) through the kept-row map,
            // twice: decoded, then cached.
            let mut scratch = Vec::new();
            for _ in 0..2 {
                for (a, b) in [(kept - 1, kept), (100, 140), (0, 3), (90, 200), (7, 8)] {
                    let got = range_bits(&m, a, b, &mut scratch);
                    assert_eq!(got, want[a * 5..b * 5], "{name} {unit_rows:?} {a}..{b}");
                }
            }
            assert!(m.rows(kept..kept + 1, &mut scratch).is_err());
        }
    }
    // Columns without nulls drop nothing; the string column never counts.
    let options = MatrixOptions {
        drop_null: true,
        ..columns(&["x0", "x4"])
    };
    let m = open_matrix_with(fixture("nulls_multi.parquet"), &options).unwrap();
    assert_eq!(m.n_rows(), 600);
}

#[test]
fn without_drop_null_the_first_null_is_an_error_naming_column_and_row() {
    let first = dropped_fixture()[0];
    for name in ["nulls_multi.parquet", "nulls_multi.feather"] {
        let e = open_matrix(fixture(name)).unwrap_err().to_string();
        assert!(e.contains(&format!("at row {first} ")), "{e}");
        assert!(e.contains("--drop-null"), "{e}");
    }
}

#[test]
fn npy_writer_fills_the_dropped_rows() {
    use mmclust_core::format::{DroppedRows, NpyWriter, read_npy_vector_i32};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.npy");
    // File rows 0, 3, 4 and 9 of 10 left out; the 6 kept rows in 2 writes.
    let dropped = DroppedRows::new(10, vec![0, 3, 4, 9]);
    let mut w = NpyWriter::<i32>::create(&path, None, &[])
        .unwrap()
        .fill_dropped(&dropped, -1);
    w.write(&[1, 2, 5]).unwrap();
    w.write(&[6, 7, 8]).unwrap();
    w.finish().unwrap();
    assert_eq!(
        read_npy_vector_i32(&path).unwrap(),
        vec![-1, 1, 2, -1, -1, 5, 6, 7, 8, -1]
    );
    assert_eq!(
        dropped.keep(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "x").unwrap(),
        vec![1, 2, 5, 6, 7, 8]
    );
    assert!(dropped.keep(&[0, 1], "x").is_err());
    let mut shards = DroppedRows::none(3);
    shards.append(&dropped);
    assert_eq!(shards.rows(), &[3, 6, 7, 12]);
    assert_eq!(shards.file_rows(), 13);
}

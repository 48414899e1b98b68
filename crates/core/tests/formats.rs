//! Readers and writers of `mmclust_core::format` and `mmclust_core::output` on
//! real files: the numpy-written fixtures of `tests/fixtures/npy` (made by
//! `scripts/make_npy_fixtures.sh`; well-formed ones hold
//! `np.arange(12).reshape(4, 3)` in their dtype), and files written here.

use std::io::Write;
use std::path::{Path, PathBuf};

use mmclust_core::format::{
    CsvOptions, CsvReader, Dtype, FormatProblem, MAX_NPY_HEADER_LEN, Matrix, NpyFile, NpyWriter,
    VecsFile, VecsKind, open_matrix, read_npy_vector_f32, read_npy_vector_i32, write_npy_f32,
};
use mmclust_core::output::{AtomicOutput, write_atomic};
use mmclust_core::parallel::{Chunking, PassOptions, map_reduce};
use mmclust_core::{CoreError, DataSource};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

fn arange12() -> Vec<f32> {
    (0..12).map(|i| i as f32).collect()
}

fn all_rows(src: &dyn DataSource) -> Vec<f32> {
    let mut scratch = Vec::new();
    src.rows(0..src.n_rows(), &mut scratch).unwrap().to_vec()
}

/// The format problem of an error, and a check that its message names the file.
fn problem(err: CoreError, path: &Path) -> FormatProblem {
    let message = err.to_string();
    match err {
        CoreError::Format(e) => {
            assert_eq!(e.path, path);
            assert!(message.contains(&path.display().to_string()), "{message}");
            e.problem
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn npy_problem(name: &str) -> FormatProblem {
    let path = fixture(name);
    problem(NpyFile::open(&path).unwrap_err(), &path)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

// ---------------------------------------------------------------- .npy reading

#[test]
fn npy_happy_paths_match_numpy_values() {
    let cases: &[(&str, Dtype, (u8, u8), usize)] = &[
        ("f4.npy", Dtype::F32, (1, 0), 128),
        ("f8.npy", Dtype::F64, (1, 0), 128),
        ("u1.npy", Dtype::U8, (1, 0), 128),
        ("i4.npy", Dtype::I32, (1, 0), 128),
        ("f2.npy", Dtype::F16, (1, 0), 128),
        ("i1.npy", Dtype::I8, (1, 0), 128),
        ("f4_v2.npy", Dtype::F32, (2, 0), 128),
        ("f4_v3.npy", Dtype::F32, (3, 0), 128),
        ("align16.npy", Dtype::F32, (1, 0), 80),
        ("misaligned.npy", Dtype::F32, (1, 0), 83),
        ("odd_header.npy", Dtype::F32, (1, 0), 128),
    ];
    for &(name, dtype, version, offset) in cases {
        let path = fixture(name);
        let file = NpyFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.dtype(), dtype, "{name}");
        assert_eq!(file.shape(), (4, 3), "{name}");
        assert_eq!(file.version(), version, "{name}");
        assert_eq!(file.data_offset(), offset, "{name}");
        assert_eq!(
            file.file_len(),
            std::fs::metadata(&path).unwrap().len(),
            "{name}"
        );
        assert_eq!(file.path(), path);
        assert_eq!(file.n_rows(), 4);
        assert_eq!(file.n_cols(), 3);
        assert_eq!(all_rows(&file), arange12(), "{name}");
        let mut scratch = Vec::new();
        assert_eq!(
            file.rows(1..3, &mut scratch).unwrap(),
            &arange12()[3..9],
            "{name}"
        );
        assert_eq!(file.rows(4..4, &mut scratch).unwrap(), &[] as &[f32]);
        assert!(file.rows(2..5, &mut scratch).is_err(), "{name}");
        file.advise_sequential();
        file.advise_random();
    }
}

#[test]
fn aligned_f4_is_zero_copy_and_other_dtypes_convert_only_the_requested_rows() {
    let f4 = NpyFile::open(fixture("f4.npy")).unwrap();
    assert!(f4.is_zero_copy());
    let mut scratch = Vec::new();
    f4.rows(0..4, &mut scratch).unwrap();
    assert!(scratch.is_empty(), "aligned <f4 must not copy");

    for name in [
        "f8.npy",
        "u1.npy",
        "i4.npy",
        "f2.npy",
        "i1.npy",
        "misaligned.npy",
    ] {
        let file = NpyFile::open(fixture(name)).unwrap();
        assert!(!file.is_zero_copy(), "{name}");
        let mut scratch = Vec::new();
        let rows = file.rows(2..3, &mut scratch).unwrap().to_vec();
        assert_eq!(rows, vec![6.0, 7.0, 8.0], "{name}");
        assert_eq!(
            scratch.len(),
            3,
            "{name}: only the requested row is converted"
        );
    }
}

/// The bits of every value of a matrix source.
fn all_bits(src: &dyn DataSource) -> Vec<u32> {
    all_rows(src).iter().map(|v| v.to_bits()).collect()
}

#[test]
fn float16_and_int8_convert_as_numpy_does_bit_for_bit() {
    // Each fixture beside numpy's own astype(np.float32) of it: zeros,
    // subnormals, the largest half, infinities and NaNs (quiet and
    // signalling, with payloads) for float16; all 256 values for int8.
    for (name, dtype, numpy) in [
        ("f2_bits.npy", Dtype::F16, "f2_bits_as_f4.npy"),
        ("blobs_f2.npy", Dtype::F16, "blobs_f2_as_f4.npy"),
        ("i1_all.npy", Dtype::I8, "i1_all_as_f4.npy"),
    ] {
        let file = NpyFile::open(fixture(name)).unwrap();
        let want = NpyFile::open(fixture(numpy)).unwrap();
        assert_eq!(file.dtype(), dtype, "{name}");
        assert_eq!(file.shape(), want.shape(), "{name}");
        assert_eq!(all_bits(&file), all_bits(&want), "{name}");
        // Any row range converts alone to the same values.
        let (n, d) = file.shape();
        let mut scratch = Vec::new();
        for range in [0..1, n / 3..n / 2, n - 1..n] {
            let part: Vec<u32> = file
                .rows(range.clone(), &mut scratch)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(part, all_bits(&want)[range.start * d..range.end * d]);
        }
    }
    let halves = NpyFile::open(fixture("f2_bits.npy")).unwrap();
    let values = all_rows(&halves);
    for (what, seen) in [
        (
            "a half subnormal",
            values.iter().any(|v| *v != 0.0 && v.abs() < 2f32.powi(-14)),
        ),
        ("+inf", values.contains(&f32::INFINITY)),
        ("-inf", values.contains(&f32::NEG_INFINITY)),
        (
            "a signalling NaN",
            values
                .iter()
                .any(|v| v.is_nan() && v.to_bits() & 0x0040_0000 == 0),
        ),
        ("65504", values.contains(&65504.0)),
    ] {
        assert!(seen, "f2_bits.npy lacks {what}");
    }
}

#[test]
fn npy_file_works_in_a_parallel_pass() {
    for name in ["f4.npy", "misaligned.npy", "f8.npy", "f2.npy", "i1.npy"] {
        let file = NpyFile::open(fixture(name)).unwrap();
        let sum = map_reduce(
            &file,
            Chunking::with_rows(1).unwrap(),
            PassOptions::default(),
            |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
            |a, b| a + b,
        )
        .unwrap()
        .unwrap();
        assert_eq!(sum, 66.0, "{name}");
    }
}

#[test]
fn every_bad_npy_has_its_own_problem() {
    assert!(matches!(
        npy_problem("bad_magic.npy"),
        FormatProblem::BadMagic
    ));
    assert!(matches!(
        npy_problem("truncated_header.npy"),
        FormatProblem::TruncatedHeader { .. }
    ));
    assert_eq!(MAX_NPY_HEADER_LEN, 65_536);
    assert!(matches!(
        npy_problem("malformed_header.npy"),
        FormatProblem::MalformedHeader { .. }
    ));
    assert!(matches!(
        npy_problem("overflow_shape.npy"),
        FormatProblem::MalformedHeader { detail } if detail.contains("more bytes")
    ));
    let dtype = |descr: &str| FormatProblem::UnsupportedDtype {
        descr: descr.to_string(),
    };
    let not_2d = |shape: &str| FormatProblem::NotTwoD {
        shape: shape.to_string(),
    };
    for (name, want) in [
        (
            "bad_version.npy",
            FormatProblem::UnsupportedVersion { major: 4, minor: 0 },
        ),
        (
            "header_too_large.npy",
            FormatProblem::HeaderTooLarge {
                len: 100_000,
                limit: MAX_NPY_HEADER_LEN,
            },
        ),
        ("c8.npy", dtype("<c8")),
        ("vec_i8.npy", dtype("<i8")),
        (
            "big_endian.npy",
            FormatProblem::BigEndian {
                descr: ">f4".to_string(),
            },
        ),
        ("fortran.npy", FormatProblem::FortranOrder),
        ("three_d.npy", not_2d("(2, 3, 4)")),
        ("scalar.npy", not_2d("()")),
        ("vec_f4.npy", not_2d("(3,)")),
        ("zero_rows.npy", FormatProblem::Empty { rows: 0, cols: 3 }),
        ("zero_cols.npy", FormatProblem::Empty { rows: 3, cols: 0 }),
        (
            "truncated.npy",
            FormatProblem::Truncated {
                expected: 176,
                actual: 171,
            },
        ),
        (
            "trailing.npy",
            FormatProblem::TrailingBytes {
                expected: 176,
                actual: 179,
                extra: 3,
            },
        ),
    ] {
        assert_eq!(npy_problem(name), want, "{name}");
    }
    assert!(
        npy_problem("fortran.npy")
            .to_string()
            .contains("np.ascontiguousarray")
    );
}

#[test]
fn a_shape_far_beyond_the_file_is_an_error_not_a_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    let dict = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }";
    header.extend_from_slice(dict);
    header.resize(127, b' ');
    header.push(b'\n');
    header.extend_from_slice(&[0u8; 64]);
    let path = write_file(dir.path(), "big.npy", &header);
    assert!(matches!(
        problem(NpyFile::open(&path).unwrap_err(), &path),
        FormatProblem::Truncated {
            expected: 8_000_000_000_128,
            actual: 192
        }
    ));
}

#[test]
fn missing_directory_and_empty_inputs_are_input_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.npy", b"");
    let missing = dir.path().join("missing.npy");
    let cases = [
        (missing.clone(), "no such file"),
        (dir.path().to_path_buf(), "is a directory"),
        (empty.clone(), "file is empty"),
    ];
    for (path, hint) in cases {
        for err in [
            NpyFile::open(&path).unwrap_err(),
            open_matrix(&path).unwrap_err(),
            VecsFile::open_as(&path, VecsKind::Fvecs).unwrap_err(),
            CsvReader::open(&path, CsvOptions::default()).unwrap_err(),
            read_npy_vector_i32(&path).unwrap_err(),
        ] {
            assert!(err.is_input_error());
            let message = err.to_string();
            match err {
                CoreError::InputFile { path: p, problem } => {
                    assert_eq!(p, path);
                    assert!(problem.contains(hint), "{problem}");
                    assert!(message.contains(&path.display().to_string()));
                }
                other => panic!("{}: expected InputFile, got {other:?}", path.display()),
            }
        }
    }
}

// ---------------------------------------------------------------- 1-D vectors

#[test]
fn label_and_weight_vectors() {
    assert_eq!(
        read_npy_vector_i32(fixture("vec_i4.npy")).unwrap(),
        vec![3, -1, 0, 7, 2]
    );
    assert_eq!(
        read_npy_vector_i32(fixture("vec_i8.npy")).unwrap(),
        vec![3, -1, 0, 7, 2]
    );
    assert_eq!(
        read_npy_vector_f32(fixture("vec_f4.npy")).unwrap(),
        vec![0.5, 1.5, -2.0]
    );
    assert_eq!(
        read_npy_vector_f32(fixture("vec_f8.npy")).unwrap(),
        vec![0.5, 1.5, -2.0]
    );
    assert_eq!(
        read_npy_vector_f32(fixture("vec_f2.npy")).unwrap(),
        vec![0.5, 1.5, -2.0]
    );
    assert_eq!(
        read_npy_vector_i32(fixture("vec_i1.npy")).unwrap(),
        vec![3, -1, 0, 7, 2]
    );

    let big = fixture("vec_i8_big.npy");
    assert_eq!(
        problem(read_npy_vector_i32(&big).unwrap_err(), &big),
        FormatProblem::ValueOutOfRange {
            index: 1,
            value: 1 << 40
        }
    );
    let f4 = fixture("vec_f4.npy");
    assert!(matches!(
        problem(read_npy_vector_i32(&f4).unwrap_err(), &f4),
        FormatProblem::UnsupportedVectorDtype { descr, .. } if descr == "<f4"
    ));
    let i4 = fixture("vec_i4.npy");
    assert!(matches!(
        problem(read_npy_vector_f32(&i4).unwrap_err(), &i4),
        FormatProblem::UnsupportedVectorDtype { descr, .. } if descr == "<i4"
    ));
    let matrix = fixture("i4.npy");
    assert_eq!(
        problem(read_npy_vector_i32(&matrix).unwrap_err(), &matrix),
        FormatProblem::NotOneD {
            shape: "(4, 3)".to_string()
        }
    );
    let truncated = fixture("truncated.npy");
    assert!(matches!(
        problem(read_npy_vector_f32(&truncated).unwrap_err(), &truncated),
        FormatProblem::NotOneD { .. }
    ));
}

// ---------------------------------------------------------------- vecs

#[test]
fn fvecs_and_bvecs_happy_paths() {
    for (name, kind, dtype) in [
        ("tiny.fvecs", VecsKind::Fvecs, Dtype::F32),
        ("tiny.bvecs", VecsKind::Bvecs, Dtype::U8),
    ] {
        let path = fixture(name);
        let file = VecsFile::open(&path).unwrap();
        assert_eq!(file.kind(), kind);
        assert_eq!(file.dtype(), dtype);
        assert_eq!(file.shape(), (4, 3));
        assert_eq!(file.path(), path);
        assert_eq!(file.file_len(), std::fs::metadata(&path).unwrap().len());
        assert_eq!(all_rows(&file), arange12(), "{name}");
        let mut scratch = Vec::new();
        assert_eq!(file.rows(3..4, &mut scratch).unwrap(), &[9.0, 10.0, 11.0]);
        assert!(file.rows(3..5, &mut scratch).is_err());
        assert!(matches!(open_matrix(&path).unwrap(), Matrix::Vecs(_)));
    }
}

#[test]
fn vecs_dimension_mismatch_is_found_by_the_pass() {
    let path = fixture("mismatch.fvecs");
    let file = VecsFile::open(&path).expect("row 2 is only checked when read");
    let mut scratch = Vec::new();
    assert_eq!(file.rows(0..2, &mut scratch).unwrap(), &arange12()[..6]);
    let err = file.rows(1..4, &mut scratch).unwrap_err();
    assert_eq!(
        problem(err, &path),
        FormatProblem::VecsDimensionMismatch {
            row: 2,
            expected: 3,
            found: 5
        }
    );
    let pass = map_reduce(
        &file,
        Chunking::with_rows(64).unwrap(),
        PassOptions::default(),
        |_| Ok(()),
        |(), ()| (),
    );
    assert!(pass.is_err());
}

#[test]
fn bad_vecs_files() {
    for name in ["bad_dim.fvecs", "ragged_len.fvecs"] {
        let path = fixture(name);
        assert!(
            matches!(
                problem(VecsFile::open(&path).unwrap_err(), &path),
                FormatProblem::VecsInvalid { .. }
            ),
            "{name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    // Last row's prefix disagrees: caught on open (it is cheap to check).
    let mut bytes = std::fs::read(fixture("tiny.fvecs")).unwrap();
    bytes[48..52].copy_from_slice(&(-3i32).to_le_bytes());
    let path = write_file(dir.path(), "last.fvecs", &bytes);
    assert_eq!(
        problem(VecsFile::open(&path).unwrap_err(), &path),
        FormatProblem::VecsDimensionMismatch {
            row: 3,
            expected: 3,
            found: -3
        }
    );
    let path = write_file(dir.path(), "short.bvecs", b"\x03\x00");
    assert!(matches!(
        problem(VecsFile::open(&path).unwrap_err(), &path),
        FormatProblem::VecsInvalid { .. }
    ));
    let path = fixture("f4.npy");
    assert!(matches!(
        problem(VecsFile::open(&path).unwrap_err(), &path),
        FormatProblem::UnknownExtension { .. }
    ));
}

// ---------------------------------------------------------------- open_matrix

#[test]
fn open_matrix_dispatches_on_extension() {
    assert!(matches!(
        open_matrix(fixture("u1.npy")).unwrap(),
        Matrix::Npy(_)
    ));
    let dir = tempfile::tempdir().unwrap();
    let csv = write_file(
        dir.path(),
        "m.CSV",
        b"x,y,z\n0,1,2\n3,4,5\n6,7,8\n9,10,11\n",
    );
    let m = open_matrix(&csv).unwrap();
    assert!(matches!(
        m,
        Matrix::InMemory {
            n_rows: 4,
            n_cols: 3,
            ..
        }
    ));
    assert_eq!(all_rows(&m), arange12());
    assert_eq!(m.name(), csv.display().to_string());
    let mut scratch = Vec::new();
    assert!(m.rows(0..5, &mut scratch).is_err());

    let header_only = write_file(dir.path(), "h.csv", b"x,y\n");
    assert_eq!(
        problem(open_matrix(&header_only).unwrap_err(), &header_only),
        FormatProblem::Empty { rows: 0, cols: 2 }
    );
    let txt = write_file(dir.path(), "m.txt", b"1 2\n");
    assert!(matches!(
        problem(open_matrix(&txt).unwrap_err(), &txt),
        FormatProblem::UnknownExtension { detail } if detail.contains("'.txt'")
    ));
}

// ---------------------------------------------------------------- CSV

fn csv(content: &[u8], options: CsvOptions) -> (tempfile::TempDir, PathBuf, CsvReader) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "data.csv", content);
    let reader = CsvReader::open(&path, options).unwrap();
    (dir, path, reader)
}

fn read_all(reader: &mut CsvReader) -> mmclust_core::Result<Vec<f32>> {
    let mut out = Vec::new();
    while reader.next_rows(2, &mut out)? > 0 {}
    Ok(out)
}

#[test]
fn csv_header_detection() {
    let (_d, _p, mut r) = csv(b"a, b ,\"c, d\"\n1,2,3\n4,5,6\n", CsvOptions::default());
    assert_eq!(
        r.header().unwrap(),
        &["a".to_string(), "b".to_string(), "c, d".to_string()]
    );
    assert_eq!(r.n_cols(), 3);
    assert_eq!(read_all(&mut r).unwrap(), vec![1., 2., 3., 4., 5., 6.]);
    assert_eq!(r.rows_read(), 2);

    let (_d, _p, mut r) = csv(b"1,2\n3,4", CsvOptions::default());
    assert!(r.header().is_none());
    assert_eq!(read_all(&mut r).unwrap(), vec![1., 2., 3., 4.]);

    let forced = CsvOptions {
        has_header: Some(true),
        delimiter: b',',
    };
    let (_d, _p, mut r) = csv(b"1,2\n3,4\n", forced);
    assert_eq!(r.header().unwrap(), &["1".to_string(), "2".to_string()]);
    assert_eq!(read_all(&mut r).unwrap(), vec![3., 4.]);

    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.csv", b"x,y\n1,2\n");
    let no_header = CsvOptions {
        has_header: Some(false),
        delimiter: b',',
    };
    assert_eq!(
        problem(CsvReader::open(&path, no_header).unwrap_err(), &path),
        FormatProblem::CsvBadCell {
            line: 1,
            column: 1,
            cell: "x".to_string()
        }
    );
}

#[test]
fn csv_line_endings_tabs_nan_bom_and_blank_lines() {
    let (_d, _p, mut r) = csv(b"x,y\r\n1,2\r\n3,4\r\n", CsvOptions::default());
    assert_eq!(r.header().unwrap(), &["x".to_string(), "y".to_string()]);
    assert_eq!(read_all(&mut r).unwrap(), vec![1., 2., 3., 4.]);

    let (_d, _p, mut r) = csv(
        b"1\t2\n3\t4\n\n",
        CsvOptions {
            has_header: None,
            delimiter: b'\t',
        },
    );
    assert_eq!(read_all(&mut r).unwrap(), vec![1., 2., 3., 4.]);

    let (_d, _p, mut r) = csv(
        b"\xef\xbb\xbfa,b\n\n1,nan\r\n  \nNaN,-inf\n",
        CsvOptions::default(),
    );
    assert_eq!(r.header().unwrap(), &["a".to_string(), "b".to_string()]);
    let v = read_all(&mut r).unwrap();
    assert_eq!(v.len(), 4);
    assert!(v[1].is_nan() && v[2].is_nan());
    assert_eq!((v[0], v[3]), (1.0, f32::NEG_INFINITY));
}

#[test]
fn csv_reads_in_batches() {
    let (_d, _p, mut r) = csv(b"1\n2\n3\n4\n5\n", CsvOptions::default());
    let mut out = Vec::new();
    let counts: Vec<usize> = (0..4).map(|_| r.next_rows(2, &mut out).unwrap()).collect();
    assert_eq!(counts, vec![2, 2, 1, 0]);
    assert_eq!(out, vec![1., 2., 3., 4., 5.]);
}

#[test]
fn csv_errors_name_file_line_column_and_cell() {
    let (_d, path, mut r) = csv(b"1,2,3\n4,5\n", CsvOptions::default());
    let mut out = Vec::new();
    let err = r.next_rows(10, &mut out).unwrap_err();
    assert_eq!(
        problem(err, &path),
        FormatProblem::CsvRaggedRow {
            line: 2,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(out, vec![1., 2., 3.], "rows before the bad line stay");
    out.clear();

    let (_d, path, mut r) = csv(b"a,b\n1,2\n\n3,oops\n", CsvOptions::default());
    assert_eq!(r.next_rows(1, &mut out).unwrap(), 1);
    let err = r.next_rows(10, &mut out).unwrap_err();
    let message = err.to_string();
    assert_eq!(
        problem(err, &path),
        FormatProblem::CsvBadCell {
            line: 4,
            column: 2,
            cell: "oops".to_string()
        }
    );
    assert!(
        message.contains("line 4, column 2: 'oops' is not a number"),
        "{message}"
    );
    assert_eq!(out, vec![1., 2.], "no partial row is left behind");

    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "e.csv", b"1,,3\n");
    let err = CsvReader::open(&path, CsvOptions::default()).unwrap_err();
    assert!(err.to_string().contains("an empty cell"), "{err}");
    assert_eq!(
        problem(err, &path),
        FormatProblem::CsvBadCell {
            line: 1,
            column: 2,
            cell: String::new()
        }
    );

    let path = write_file(dir.path(), "q.csv", b"a,\"b\n1,2\n");
    assert!(matches!(
        problem(
            CsvReader::open(&path, CsvOptions::default()).unwrap_err(),
            &path
        ),
        FormatProblem::CsvMalformed { line: 1, .. }
    ));
    let path = write_file(dir.path(), "blank.csv", b"\n\n");
    assert!(matches!(
        problem(
            CsvReader::open(&path, CsvOptions::default()).unwrap_err(),
            &path
        ),
        FormatProblem::Empty { .. }
    ));
}

#[test]
fn csv_cells_quoted_across_lines_are_read_and_lines_still_counted() {
    // Intended change (issue 18): a quoted cell may span lines. Errors after
    // it name the line where the bad record starts, counting the lines inside
    // quoted cells and the blank lines skipped.
    let (_d, path, mut r) = csv(
        b"\"first\ncolumn\",\"second \"\"b\"\"\r\nname\"\r\n1,\"2\n\"\n\n\"3\",4\n5,x\n",
        CsvOptions::default(),
    );
    assert_eq!(
        r.header().unwrap(),
        &[
            "first\ncolumn".to_string(),
            "second \"b\"\r\nname".to_string()
        ]
    );
    let mut out = Vec::new();
    assert_eq!(r.next_rows(2, &mut out).unwrap(), 2);
    assert_eq!(out, vec![1., 2., 3., 4.]);
    let err = r.next_rows(1, &mut out).unwrap_err();
    assert_eq!(
        problem(err, &path),
        FormatProblem::CsvBadCell {
            line: 8,
            column: 2,
            cell: "x".to_string()
        }
    );

    // A ragged row after a multi-line data cell, and the last line without a
    // newline.
    let (_d, path, mut r) = csv(b"1,\"2\n\n\"\n3", CsvOptions::default());
    let err = read_all(&mut r).unwrap_err();
    assert_eq!(
        problem(err, &path),
        FormatProblem::CsvRaggedRow {
            line: 4,
            expected: 2,
            found: 1
        }
    );

    // A quote never closed is still an error, on the line that opened it,
    // even when the file ends with a newline.
    let (_d, path, mut r) = csv(b"x,y\n1,2\n3,\"4\n5,6\n", CsvOptions::default());
    let err = read_all(&mut r).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("line 3: a quoted cell"), "{message}");
    assert!(matches!(
        problem(err, &path),
        FormatProblem::CsvMalformed { line: 3, .. }
    ));
}

// ---------------------------------------------------------------- writer

fn check_header_layout(bytes: &[u8]) -> usize {
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(&bytes[6..8], &[1, 0], "version 1.0");
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let data_offset = 10 + header_len;
    assert_eq!(
        data_offset % 64,
        0,
        "total header length is a multiple of 64"
    );
    assert_eq!(bytes[data_offset - 1], b'\n');
    data_offset
}

/// Writes the files `scripts/make_npy_fixtures.sh` checks with `np.load`
/// (into `$MMCLUST_NPY_OUT` when set) and checks them here.
#[test]
fn writer_output_is_loadable_by_numpy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir =
        std::env::var_os("MMCLUST_NPY_OUT").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);

    let f32_path = dir.join("written_f32.npy");
    let values: Vec<f32> = (0..15).map(|i| i as f32 * 0.5).collect();
    let mut w = NpyWriter::<f32>::create(&f32_path, Some(3), &[]).unwrap();
    w.write(&values[..6]).unwrap();
    w.write(&[]).unwrap();
    w.write(&values[6..]).unwrap();
    assert_eq!(w.rows_written(), 5);
    w.finish().unwrap();
    let bytes = std::fs::read(&f32_path).unwrap();
    let offset = check_header_layout(&bytes);
    assert_eq!(bytes.len(), offset + 60);
    let file = NpyFile::open(&f32_path).unwrap();
    assert_eq!(
        (file.shape(), file.dtype(), file.version()),
        ((5, 3), Dtype::F32, (1, 0))
    );
    assert_eq!(all_rows(&file), values);

    let i32_path = dir.join("written_i32.npy");
    let mut w = NpyWriter::<i32>::create(&i32_path, None, &[]).unwrap();
    w.write(&[-3, -2, -1]).unwrap();
    w.write(&[0, 1, 2, 3]).unwrap();
    w.finish().unwrap();
    check_header_layout(&std::fs::read(&i32_path).unwrap());
    assert_eq!(
        read_npy_vector_i32(&i32_path).unwrap(),
        vec![-3, -2, -1, 0, 1, 2, 3]
    );

    let u8_path = dir.join("written_u8.npy");
    let mut w = NpyWriter::<u8>::create(&u8_path, Some(2), &[]).unwrap();
    w.write(&[1, 2, 3, 255]).unwrap();
    w.finish().unwrap();
    let file = NpyFile::open(&u8_path).unwrap();
    assert_eq!(file.dtype(), Dtype::U8);
    assert_eq!(all_rows(&file), vec![1., 2., 3., 255.]);

    // Zero rows: numpy loads it; mmclust's matrix reader rejects it as empty.
    let f64_path = dir.join("written_f64.npy");
    NpyWriter::<f64>::create(&f64_path, Some(4), &[])
        .unwrap()
        .finish()
        .unwrap();
    check_header_layout(&std::fs::read(&f64_path).unwrap());
    assert_eq!(
        problem(NpyFile::open(&f64_path).unwrap_err(), &f64_path),
        FormatProblem::Empty { rows: 0, cols: 4 }
    );
}

#[test]
fn writer_streams_many_rows_through_its_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let (n, d) = (50_000usize, 8usize);
    let mut w = NpyWriter::<f32>::create(&path, Some(d), &[]).unwrap();
    let row: Vec<f32> = (0..d).map(|j| j as f32).collect();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(row.iter().map(|&v| v + i as f32));
        if batch.len() >= 1000 * d {
            w.write(&batch).unwrap();
            batch.clear();
        }
    }
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let file = NpyFile::open(&path).unwrap();
    assert_eq!(file.shape(), (n, d));
    let mut scratch = Vec::new();
    assert_eq!(
        file.rows(n - 1..n, &mut scratch).unwrap()[0],
        (n - 1) as f32
    );
}

#[test]
fn writer_errors_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.npy");

    let mut w = NpyWriter::<f32>::create(&path, Some(3), &[]).unwrap();
    assert!(matches!(
        w.write(&[1.0, 2.0]),
        Err(CoreError::InvalidParameter { .. })
    ));
    w.write(&[1.0, 2.0, 3.0]).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    assert!(matches!(
        NpyWriter::<f32>::create(&path, Some(0), &[]),
        Err(CoreError::InvalidParameter { .. })
    ));
    assert!(write_npy_f32(&path, &[1.0; 5], 2, 3, &[]).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    write_npy_f32(&path, &[1.0; 6], 2, 3, &[]).unwrap();
    assert_eq!(NpyFile::open(&path).unwrap().shape(), (2, 3));
    let input: &Path = &path;
    assert!(matches!(
        NpyWriter::<f32>::create(&path, Some(3), &[input]),
        Err(CoreError::OutputIsInput { .. })
    ));
    assert!(matches!(
        write_npy_f32(&path, &[1.0; 6], 2, 3, &[input]),
        Err(CoreError::OutputIsInput { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// ---------------------------------------------------------------- AtomicOutput

#[test]
fn atomic_output_replaces_the_file_only_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    write_atomic(&path, &[], b"{\"v\": 1}").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\": 1}");

    let mut out = AtomicOutput::create(&path, &[]).unwrap();
    out.file().write_all(b"{\"v\": 2}").unwrap();
    let temp = out.temp_path().to_path_buf();
    assert!(temp.exists());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"v\": 1}",
        "old content until commit"
    );
    drop(out);
    assert!(!temp.exists(), "drop removes the temporary file");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\": 1}");

    let mut out = AtomicOutput::create(&path, &[]).unwrap();
    out.file().write_all(b"{\"v\": 3}").unwrap();
    assert_eq!(out.path(), path);
    out.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\": 3}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn atomic_output_refuses_to_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let input = write_file(dir.path(), "x.npy", b"input");
    let inputs: &[&Path] = &[Path::new("/nonexistent/other.npy"), &input];

    let spellings = [
        input.clone(),
        dir.path().join("sub/../x.npy"),
        dir.path().join("./x.npy"),
    ];
    for out in &spellings {
        let err = AtomicOutput::create(out, inputs).unwrap_err();
        assert!(
            matches!(&err, CoreError::OutputIsInput { path } if path == out),
            "{}: {err:?}",
            out.display()
        );
        assert!(err.to_string().contains("overwrite an input"));
    }
    // The input spelled differently from the output.
    let odd_input = dir.path().join("sub/../x.npy");
    assert!(matches!(
        AtomicOutput::create(&input, &[&odd_input]),
        Err(CoreError::OutputIsInput { .. })
    ));
    #[cfg(unix)]
    {
        let link = dir.path().join("link.npy");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        assert!(matches!(
            AtomicOutput::create(&link, &[&input]),
            Err(CoreError::OutputIsInput { .. })
        ));
        let hard = dir.path().join("hard.npy");
        std::fs::hard_link(&input, &hard).unwrap();
        assert!(matches!(
            AtomicOutput::create(&hard, &[&input]),
            Err(CoreError::OutputIsInput { .. })
        ));
        let link_dir = dir.path().join("linkdir");
        std::os::unix::fs::symlink(dir.path(), &link_dir).unwrap();
        assert!(matches!(
            AtomicOutput::create(link_dir.join("x.npy"), &[&input]),
            Err(CoreError::OutputIsInput { .. })
        ));
    }
    assert_eq!(std::fs::read(&input).unwrap(), b"input");
    // A new output beside the input is fine.
    write_atomic(dir.path().join("y.npy"), inputs, b"ok").unwrap();
}

#[test]
fn atomic_output_folder_errors_name_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder");
    let err = AtomicOutput::create(missing.join("out.npy"), &[]).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, CoreError::Io { path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(message.contains("output folder"), "{message}");
    assert!(err.is_input_error());

    let file = write_file(dir.path(), "plain", b"x");
    let err = AtomicOutput::create(file.join("out.npy"), &[]).unwrap_err();
    assert!(
        matches!(&err, CoreError::Io { path, .. } if *path == file),
        "{err:?}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root ignores the mode bits; the check only means something otherwise.
        match AtomicOutput::create(locked.join("out.npy"), &[]) {
            Err(err) => {
                assert!(
                    matches!(&err, CoreError::Io { path, .. } if *path == locked),
                    "{err:?}"
                );
                assert!(err.to_string().contains("writable"), "{err}");
            }
            Ok(out) => drop(out),
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir(&locked).unwrap();
    }

    let err = AtomicOutput::create(dir.path(), &[]).unwrap_err();
    assert!(matches!(err, CoreError::InvalidParameter { .. }), "{err:?}");
    assert!(AtomicOutput::create(dir.path().join(".."), &[]).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

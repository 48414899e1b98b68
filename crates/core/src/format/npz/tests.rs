use std::io::Cursor;

use super::*;
use crate::format::npy_header::{header_total_len, write_header};

/// An `.npy` member: header and little-endian `body`.
fn npy(descr: &str, shape: &[u64], body: &[u8]) -> Vec<u8> {
    let mut v = write_header(descr, shape, header_total_len(descr, shape)).unwrap();
    v.extend_from_slice(body);
    v
}

fn le<T: Copy, const N: usize>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| f(v)).collect()
}

/// A CSR matrix's parts, as scipy stores them.
struct Csr {
    format: &'static [u8],
    shape: (i64, i64),
    data: Vec<f32>,
    indices: Vec<i32>,
    indptr: Vec<i32>,
}

/// The 4 × 5 matrix
/// ```text
/// [0 1 0 0 2]
/// [0 0 0 0 0]
/// [3 0 0 4 0]   (stored unsorted: column 3 before column 0)
/// [0 0 5 0 0]
/// ```
fn sample() -> Csr {
    Csr {
        format: b"csr",
        shape: (4, 5),
        data: vec![1.0, 2.0, 4.0, 3.0, 5.0],
        indices: vec![1, 4, 3, 0, 2],
        indptr: vec![0, 2, 2, 4, 5],
    }
}

const DENSE: [f32; 20] = [
    0., 1., 0., 0., 2., //
    0., 0., 0., 0., 0., //
    3., 0., 0., 4., 0., //
    0., 0., 5., 0., 0.,
];

fn npz_bytes(m: &Csr, method: Method, wide_indices: bool) -> Vec<u8> {
    let n = |v: usize| v as u64;
    let index_member = |v: &[i32]| {
        if wide_indices {
            npy("<i8", &[n(v.len())], &le(v, |x| i64::from(x).to_le_bytes()))
        } else {
            npy("<i4", &[n(v.len())], &le(v, i32::to_le_bytes))
        }
    };
    let members: Vec<(&str, Vec<u8>)> = vec![
        ("indices.npy", index_member(&m.indices)),
        ("indptr.npy", index_member(&m.indptr)),
        ("format.npy", {
            let descr = format!("|S{}", m.format.len());
            npy(&descr, &[], m.format)
        }),
        (
            "shape.npy",
            npy("<i8", &[2], &le(&[m.shape.0, m.shape.1], i64::to_le_bytes)),
        ),
        (
            "data.npy",
            npy("<f4", &[n(m.data.len())], &le(&m.data, f32::to_le_bytes)),
        ),
    ];
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        w.member(name, method, |out| out.write_all(&bytes)).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open_err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "m.npz", bytes);
    SparseCsr::open(&path).unwrap_err().to_string()
}

#[test]
fn stored_and_deflated_read_as_the_dense_matrix_in_any_range() {
    let dir = tempfile::tempdir().unwrap();
    for (method, wide) in [
        (Method::Stored, false),
        (Method::Deflated, false),
        (Method::Stored, true),
        (Method::Deflated, true),
    ] {
        let path = write(dir.path(), "m.npz", &npz_bytes(&sample(), method, wide));
        let m = SparseCsr::open(&path).unwrap();
        assert_eq!(m.shape(), (4, 5));
        assert_eq!(m.nnz(), 5);
        assert_eq!(m.is_compressed(), method == Method::Deflated);
        let mut scratch = vec![7.0; 3];
        for a in 0..=4 {
            for b in a..=4 {
                let rows = m.rows(a..b, &mut scratch).unwrap();
                assert_eq!(rows, &DENSE[a * 5..b * 5], "{method:?} {a}..{b}");
            }
        }
        assert!(m.rows(3..5, &mut scratch).is_err());
    }
}

#[test]
fn duplicate_entries_are_summed() {
    let dir = tempfile::tempdir().unwrap();
    let m = Csr {
        data: vec![1.0, 2.5],
        indices: vec![2, 2],
        indptr: vec![0, 2],
        shape: (1, 3),
        ..sample()
    };
    let path = write(dir.path(), "m.npz", &npz_bytes(&m, Method::Stored, false));
    let m = SparseCsr::open(&path).unwrap();
    assert_eq!(m.rows(0..1, &mut Vec::new()).unwrap(), &[0.0, 0.0, 3.5]);
}

#[test]
fn other_sparse_formats_say_to_convert_to_csr() {
    let m = Csr {
        format: b"csc",
        ..sample()
    };
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(
        e.contains("sparse csc matrix") && e.contains(".tocsr()"),
        "{e}"
    );
}

#[test]
fn bad_indices_and_indptr_name_the_row() {
    let mut m = sample();
    m.indices[3] = 5;
    let e = open_err(&npz_bytes(&m, Method::Deflated, false));
    assert!(
        e.contains("row 2") && e.contains("column index 5 is outside 0..5"),
        "{e}"
    );

    let mut m = sample();
    m.indices[4] = -1;
    let e = open_err(&npz_bytes(&m, Method::Stored, true));
    assert!(e.contains("row 3") && e.contains("-1"), "{e}");

    let mut m = sample();
    m.indptr = vec![0, 2, 1, 4, 5];
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(e.contains("row 1") && e.contains("decreases"), "{e}");

    let mut m = sample();
    m.indptr = vec![0, 2, -3, 4, 5];
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(
        e.contains("row 1") && e.contains("negative value -3"),
        "{e}"
    );

    let mut m = sample();
    m.indptr = vec![0, 2, 2, 4, 4];
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(
        e.contains("indptr ends at 4") && e.contains("5 values"),
        "{e}"
    );

    let mut m = sample();
    m.indptr = vec![0, 2, 4, 5];
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(
        e.contains("indptr.npy has 4 values") && e.contains("needs 5"),
        "{e}"
    );
}

#[test]
fn more_columns_than_dense_rows_can_hold_is_refused() {
    let m = Csr {
        shape: (4, 1 << 40),
        ..sample()
    };
    let e = open_err(&npz_bytes(&m, Method::Stored, false));
    assert!(
        e.contains("1099511627776 columns") && e.contains("at most"),
        "{e}"
    );
}

#[test]
fn missing_members_and_non_zip_files_are_clear_errors() {
    let e = open_err(b"\x93NUMPY not a zip at all, just some bytes here");
    assert!(e.contains("not a complete zip archive"), "{e}");
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.member("arr_0.npy", Method::Stored, |o| {
        o.write_all(&npy("<f4", &[1], &[0; 4]))
    })
    .unwrap();
    let e = open_err(&w.finish().unwrap().into_inner());
    assert!(e.contains("no format.npy member"), "{e}");
}

#[test]
fn truncated_and_corrupted_archives_never_panic() {
    for method in [Method::Stored, Method::Deflated] {
        let full = npz_bytes(&sample(), method, false);
        for cut in 1..full.len() {
            let e = open_err(&full[..cut]);
            assert!(!e.is_empty());
        }
        // Flip each byte in turn: an error or a matrix, never a panic; a
        // matrix read must be within its shape.
        for at in 0..full.len() {
            let mut bad = full.clone();
            bad[at] ^= 0x5a;
            let dir = tempfile::tempdir().unwrap();
            let path = write(dir.path(), "m.npz", &bad);
            if let Ok(m) = SparseCsr::open(&path) {
                let (n, d) = m.shape();
                let n = n.min(4);
                assert_eq!(m.rows(0..n, &mut Vec::new()).unwrap().len(), n * d);
            }
        }
    }
}

#[test]
fn convert_rewrites_stored_and_deflated_with_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "a.npz",
        &npz_bytes(&sample(), Method::Stored, false),
    );
    let zipped = dir.path().join("b.npz");
    let plain = dir.path().join("c.npz");
    convert_npz(&src, &zipped, true).unwrap();
    convert_npz(&zipped, &plain, false).unwrap();
    assert_eq!(std::fs::read(&plain).unwrap(), std::fs::read(&src).unwrap());
    for (path, compressed) in [(&zipped, true), (&plain, false)] {
        let m = SparseCsr::open(path).unwrap();
        assert_eq!(m.is_compressed(), compressed);
        assert_eq!(m.rows(0..4, &mut Vec::new()).unwrap(), &DENSE);
    }
}

#[test]
fn zip64_directory_records_are_read() {
    // A directory record whose sizes and offset are saturated, with the
    // zip64 extra field holding them, as writers do for members over 4 GiB.
    let body = npy("<f4", &[1], &1.5f32.to_le_bytes());
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.member("x.npy", Method::Stored, |o| o.write_all(&body))
        .unwrap();
    let mut bytes = w.finish().unwrap().into_inner();
    let plain = zip::read_directory(&bytes).unwrap();
    let cd = bytes.len() - 22 - (46 + 5);
    assert_eq!(&bytes[cd..cd + 4], &0x0201_4b50u32.to_le_bytes());
    // Rebuild the record with a zip64 extra of (size, csize, offset).
    let mut record = bytes[cd..cd + 46 + 5].to_vec();
    record[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    record[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    record[42..46].copy_from_slice(&u32::MAX.to_le_bytes());
    record[30..32].copy_from_slice(&28u16.to_le_bytes());
    record.extend_from_slice(&1u16.to_le_bytes());
    record.extend_from_slice(&24u16.to_le_bytes());
    for v in [plain[0].size, plain[0].compressed_size, 0] {
        record.extend_from_slice(&v.to_le_bytes());
    }
    let mut eocd = bytes[bytes.len() - 22..].to_vec();
    eocd[12..16].copy_from_slice(&u32::try_from(record.len()).unwrap().to_le_bytes());
    bytes.truncate(cd);
    bytes.extend_from_slice(&record);
    bytes.extend_from_slice(&eocd);
    assert_eq!(zip::read_directory(&bytes).unwrap(), plain);
}

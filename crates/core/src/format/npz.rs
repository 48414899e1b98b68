//! Sparse CSR matrices as `scipy.sparse.save_npz` writes them: [`SparseCsr`].
//!
//! An `.npz` is a zip of `.npy` members: `data.npy` (the non-zero values),
//! `indices.npy` (their columns), `indptr.npy` (row `r`'s values are
//! `indptr[r]..indptr[r + 1]`), `format.npy` (`b'csr'`) and `shape.npy`.
//!
//! * Saved uncompressed (`compressed=False`), the members are stored as they
//!   are: the archive is memory-mapped and each array read in place at its
//!   offset, like an `.npy` file.
//! * Saved compressed (the default), the three arrays are inflated once, chunk
//!   by chunk in one sequential pass, into an unlinked scratch file in the
//!   temporary folder (`TMPDIR`), which is then mapped the same way; passes
//!   and random row access (k-means++, mini-batch) read that copy. It takes
//!   the disk space of the uncompressed members, never memory;
//!   `mmclust convert in.npz out.npz` makes the uncompressed form once for
//!   repeated runs.
//!
//! [`SparseCsr::open`] validates what it can before any pass (the members, the
//! dtypes, `indptr` starting at 0, never decreasing and ending at the value
//! count, every column index within the shape), so a bad file is one error
//! naming the file and the row, never a panic in the middle of a run.
//!
//! As a [`DataSource`] it densifies the requested rows into the caller's
//! scratch (`rows × d` values, the same chunks a dense file's pass uses):
//! every command runs on it, with the same values, and so the same bits, as
//! on its dense copy (`m.toarray()` saved as float32). Duplicate column
//! entries in a row (a non-canonical matrix) are summed in their stored
//! order.

use std::io::{BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::mapped::FileBytes;
use super::npy::{Dtype, check_range, elem_descr, extend_f32};
use super::npy_header::{self, Elem};
use super::zip::{self, Member, Method};
use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};
use crate::source::DataSource;
use crate::sparse::{SparseRows, SparseSource};

/// The members an `.npz` of a CSR matrix holds.
const MEMBERS: [&str; 5] = [
    "data.npy",
    "indices.npy",
    "indptr.npy",
    "format.npy",
    "shape.npy",
];

/// The largest `format.npy`/`shape.npy` member read into memory.
const SMALL_MEMBER_LIMIT: u64 = 64 * 1024;

/// The most columns a sparse matrix may have: a pass densifies at least 64
/// rows at a time ([`crate::parallel::Chunking`]), 4 GiB of `f32` at this
/// width per worker.
pub(crate) const MAX_SPARSE_COLS: usize = 1 << 24;

/// Rows checked per task when validating the indices.
const VALIDATE_ROWS: usize = 16 * 1024;

/// An array inside the mapped bytes: where its values start, their type and
/// count.
#[derive(Debug, Clone, Copy)]
struct ArrayAt {
    offset: usize,
    elem: Elem,
    len: usize,
}

impl ArrayAt {
    fn bytes<'a>(&self, all: &'a [u8], range: Range<usize>) -> &'a [u8] {
        let size = self.elem.size();
        &all[self.offset + range.start * size..self.offset + range.end * size]
    }
}

/// A CSR sparse matrix from an `.npz` file, read as a dense [`DataSource`].
#[derive(Debug)]
pub struct SparseCsr {
    path: PathBuf,
    /// The archive (stored members) or the inflated scratch copy.
    bytes: FileBytes,
    compressed: bool,
    n_rows: usize,
    n_cols: usize,
    data: ArrayAt,
    indices: ArrayAt,
    indptr: ArrayAt,
}

fn problem(path: &Path, p: FormatProblem) -> CoreError {
    CoreError::Format(FormatError::new(path, p))
}

fn npz_err(path: &Path, detail: impl Into<String>) -> CoreError {
    problem(
        path,
        FormatProblem::NpzInvalid {
            detail: detail.into(),
        },
    )
}

/// An index (`<i4` or `<i8`) from `b`.
#[inline]
fn index_at(elem: Elem, b: &[u8], i: usize) -> i64 {
    match elem {
        Elem::I4 => i64::from(i32::from_le_bytes([
            b[4 * i],
            b[4 * i + 1],
            b[4 * i + 2],
            b[4 * i + 3],
        ])),
        _ => i64::from_le_bytes([
            b[8 * i],
            b[8 * i + 1],
            b[8 * i + 2],
            b[8 * i + 3],
            b[8 * i + 4],
            b[8 * i + 5],
            b[8 * i + 6],
            b[8 * i + 7],
        ]),
    }
}

/// The numpy dtype name of a data element.
fn elem_name(elem: Elem) -> &'static str {
    match elem {
        Elem::F2 => "float16",
        Elem::F4 => "float32",
        Elem::F8 => "float64",
        Elem::U1 => "uint8",
        Elem::I1 => "int8",
        Elem::I4 => "int32",
        Elem::I8 => "int64",
    }
}

/// Appends the values of `src` (elements `elem`) as `f32`.
fn extend_values(elem: Elem, src: &[u8], out: &mut Vec<f32>) {
    let dtype = match elem {
        Elem::F2 => Dtype::F16,
        Elem::F4 => Dtype::F32,
        Elem::F8 => Dtype::F64,
        Elem::U1 => Dtype::U8,
        Elem::I1 => Dtype::I8,
        Elem::I4 => Dtype::I32,
        Elem::I8 => {
            // Rounded to the nearest f32, as numpy's astype(np.float32).
            #[allow(clippy::cast_precision_loss)]
            out.extend(
                src.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32),
            );
            return;
        }
    };
    extend_f32(dtype, src, out);
}

/// A member's bytes: borrowed from the map (stored) or inflated (small ones).
fn member_bytes<'a>(path: &Path, all: &'a [u8], m: &Member) -> Result<std::borrow::Cow<'a, [u8]>> {
    let start =
        usize::try_from(m.data_offset).map_err(|_| npz_err(path, "member offset out of range"))?;
    let len = usize::try_from(m.compressed_size)
        .map_err(|_| npz_err(path, "member size out of range"))?;
    let raw = &all[start..start + len];
    match m.method {
        Method::Stored => Ok(raw.into()),
        Method::Deflated => {
            if m.size > SMALL_MEMBER_LIMIT {
                return Err(npz_err(
                    path,
                    format!(
                        "member {} inflates to {} bytes; expected a few",
                        m.name, m.size
                    ),
                ));
            }
            let mut out = Vec::new();
            inflate(path, m, raw, &mut out)?;
            Ok(out.into())
        }
    }
}

/// Inflates member `m` (compressed bytes `raw`) into `out`, checking its
/// length and CRC-32 against the directory. Returns the bytes written.
fn inflate(path: &Path, m: &Member, raw: &[u8], out: &mut dyn Write) -> Result<u64> {
    let mut z = flate2::read::DeflateDecoder::new(raw);
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let corrupt = |detail: String| npz_err(path, format!("member {}: {detail}", m.name));
    loop {
        let got = z.read(&mut buf).map_err(|e| {
            corrupt(format!(
                "corrupt compressed data ({e}); the file is damaged or truncated"
            ))
        })?;
        if got == 0 {
            break;
        }
        total += got as u64;
        if total > m.size {
            break;
        }
        crc.update(&buf[..got]);
        out.write_all(&buf[..got]).map_err(|e| {
            CoreError::io(
                std::env::temp_dir(),
                format!("write the inflated copy of {}", path.display()),
                e,
            )
        })?;
    }
    if total != m.size || crc.sum() != m.crc32 {
        return Err(corrupt(format!(
            "inflates to {total} bytes with CRC {:08x} but the directory says {} bytes, CRC {:08x}; the file is damaged or truncated",
            crc.sum(),
            m.size,
            m.crc32
        )));
    }
    Ok(total)
}

/// A parsed member `.npy` header, checked to be a 1-D array of `len` values
/// filling exactly `member_len` bytes; returns (elem, data offset, len).
fn vector_header(
    path: &Path,
    name: &str,
    head: &[u8],
    member_len: usize,
) -> Result<(Elem, usize, usize)> {
    let bad = |p: FormatProblem| npz_err(path, format!("member {name}: {p}"));
    let header = npy_header::parse_header(head).map_err(bad)?;
    let elem = npy_header::classify_descr(&header).map_err(bad)?;
    let &[len] = header.shape.as_slice() else {
        return Err(bad(FormatProblem::NotOneD {
            shape: npy_header::shape_text(&header.shape),
        }));
    };
    npy_header::check_data_len(&header, elem.size(), member_len).map_err(bad)?;
    Ok((elem, header.data_offset, len))
}

impl SparseCsr {
    /// Opens and validates a CSR matrix saved by `scipy.sparse.save_npz`
    /// (compressed or not).
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty path;
    /// [`CoreError::Format`] naming the file for a file that is not a zip
    /// (or is truncated), a missing member, another sparse format (CSC, COO:
    /// convert with `.tocsr()`), unsupported dtypes, and an `indptr` or
    /// `indices` that does not describe the shape (naming the row);
    /// [`CoreError::Io`] when reading, mapping or writing the inflated copy
    /// fails.
    pub fn open(path: impl AsRef<Path>) -> Result<SparseCsr> {
        let path = path.as_ref();
        let file = FileBytes::open(path)?;
        let all = file.bytes();
        let members = zip::read_directory(all).map_err(|d| npz_err(path, d))?;
        let find = |name: &str| members.iter().find(|m| m.name == name);
        let format_member = find("format.npy").ok_or_else(|| {
            npz_err(
                path,
                "no format.npy member: not a scipy.sparse matrix (save one with scipy.sparse.save_npz; a dense matrix goes in an .npy file)",
            )
        })?;
        let format = read_format(path, &member_bytes(path, all, format_member)?)?;
        if format != "csr" {
            return Err(problem(path, FormatProblem::SparseNotCsr { format }));
        }
        let member = |name: &str| {
            find(name).ok_or_else(|| {
                npz_err(
                    path,
                    format!("no {name} member; a CSR .npz has {}", MEMBERS.join(", ")),
                )
            })
        };
        let (n_rows, n_cols) = read_shape(path, &member_bytes(path, all, member("shape.npy")?)?)?;
        let arrays = [
            member("data.npy")?,
            member("indices.npy")?,
            member("indptr.npy")?,
        ];
        let compressed = arrays.iter().any(|m| m.method == Method::Deflated);
        let (bytes, offsets) = if compressed {
            inflate_arrays(path, all, &arrays)?
        } else {
            let offsets = arrays.map(|m| m.data_offset as usize);
            (file, offsets)
        };
        let all = bytes.bytes();
        let mut located = [(Elem::I4, 0usize, 0usize); 3];
        for (i, m) in arrays.iter().enumerate() {
            let len = m.size as usize;
            let member = &all[offsets[i]..offsets[i] + len];
            let (elem, data_offset, n) = vector_header(path, &m.name, member, len)?;
            located[i] = (elem, offsets[i] + data_offset, n);
        }
        let at = |i: usize| ArrayAt {
            offset: located[i].1,
            elem: located[i].0,
            len: located[i].2,
        };
        let (data, indices, indptr) = (at(0), at(1), at(2));
        for (name, a) in [("indices.npy", indices), ("indptr.npy", indptr)] {
            if !matches!(a.elem, Elem::I4 | Elem::I8) {
                return Err(npz_err(
                    path,
                    format!(
                        "member {name} holds {}; indices must be int32 or int64",
                        elem_name(a.elem)
                    ),
                ));
            }
        }
        if n_rows == 0 || n_cols == 0 {
            return Err(problem(
                path,
                FormatProblem::Empty {
                    rows: n_rows,
                    cols: n_cols,
                },
            ));
        }
        if n_cols > MAX_SPARSE_COLS {
            return Err(npz_err(
                path,
                format!(
                    "{n_cols} columns; rows are densified chunk by chunk (64 rows or more at a time), so at most {MAX_SPARSE_COLS} columns are read: reduce the vocabulary (e.g. max_features)"
                ),
            ));
        }
        let csr = SparseCsr {
            path: path.to_path_buf(),
            bytes,
            compressed,
            n_rows,
            n_cols,
            data,
            indices,
            indptr,
        };
        csr.validate()?;
        Ok(csr)
    }

    /// Checks `indptr` and `indices` against the shape: the first error names
    /// the row (the lowest bad row, whatever the thread count).
    fn validate(&self) -> Result<()> {
        let path = &self.path;
        let (n, nnz) = (self.n_rows, self.data.len);
        if self.indptr.len != n + 1 {
            return Err(npz_err(
                path,
                format!(
                    "indptr.npy has {} values but a matrix of {n} rows needs {}",
                    self.indptr.len,
                    n + 1
                ),
            ));
        }
        if self.indices.len != nnz {
            return Err(npz_err(
                path,
                format!(
                    "indices.npy has {} values but data.npy has {nnz}; they must match",
                    self.indices.len
                ),
            ));
        }
        let all = self.bytes.bytes();
        let ptr = self.indptr.bytes(all, 0..n + 1);
        let first = index_at(self.indptr.elem, ptr, 0);
        let last = index_at(self.indptr.elem, ptr, n);
        if first != 0 {
            return Err(sparse_row(
                path,
                0,
                format!("indptr starts at {first}, not 0"),
            ));
        }
        if last != nnz as i64 {
            return Err(npz_err(
                path,
                format!("indptr ends at {last} but data.npy holds {nnz} values; they must match"),
            ));
        }
        let blocks = n.div_ceil(VALIDATE_ROWS);
        let bad = (0..blocks).into_par_iter().find_map_first(|b| {
            let rows = b * VALIDATE_ROWS..((b + 1) * VALIDATE_ROWS).min(n);
            self.validate_rows(rows).err()
        });
        match bad {
            Some((row, detail)) => Err(sparse_row(path, row, detail)),
            None => Ok(()),
        }
    }

    /// The first bad row of `rows`, with what is wrong.
    fn validate_rows(&self, rows: Range<usize>) -> std::result::Result<(), (usize, String)> {
        let all = self.bytes.bytes();
        let (pe, ie) = (self.indptr.elem, self.indices.elem);
        let ptr = self.indptr.bytes(all, 0..self.n_rows + 1);
        let idx = self.indices.bytes(all, 0..self.indices.len);
        let d = self.n_cols as i64;
        for r in rows {
            let (a, b) = (index_at(pe, ptr, r), index_at(pe, ptr, r + 1));
            // Each block checks its own rows' bounds: a block may start at a
            // row whose indptr value is corrupt.
            if a < 0 || b < 0 {
                return Err((r, format!("indptr holds the negative value {}", a.min(b))));
            }
            if b < a {
                return Err((
                    r,
                    format!("indptr decreases from {a} to {b} (indptr must never decrease)"),
                ));
            }
            if b > self.data.len as i64 {
                return Err((
                    r,
                    format!(
                        "indptr value {b} is past the {} stored values",
                        self.data.len
                    ),
                ));
            }
            for k in a as usize..b as usize {
                let j = index_at(ie, idx, k);
                if j < 0 || j >= d {
                    return Err((r, format!("column index {j} is outside 0..{d}")));
                }
            }
        }
        Ok(())
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stored values (non-zeros, explicit zeros included).
    #[must_use]
    pub fn nnz(&self) -> usize {
        self.data.len
    }

    /// `(rows, columns)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.n_rows, self.n_cols)
    }

    /// True when the members are deflated (read through an inflated scratch
    /// copy); false when they are stored and mapped in place.
    #[must_use]
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// The numpy dtype strings of the values and of the indices, e.g.
    /// `("<f4", "<i4")`.
    #[must_use]
    pub fn dtypes(&self) -> (&'static str, &'static str) {
        (elem_descr(self.data.elem), elem_descr(self.indices.elem))
    }
}

fn sparse_row(path: &Path, row: usize, detail: String) -> CoreError {
    problem(path, FormatProblem::SparseRow { row, detail })
}

/// The value of `format.npy`: a 0-d byte string (`|S3`), or a 0-d unicode one.
fn read_format(path: &Path, member: &[u8]) -> Result<String> {
    let bad = |d: String| npz_err(path, format!("member format.npy: {d}"));
    let header = npy_header::parse_header(member).map_err(|p| bad(p.to_string()))?;
    let body = &member[header.data_offset.min(member.len())..];
    let text = if let Some(n) = header.descr.strip_prefix("|S") {
        let n: usize = n
            .parse()
            .map_err(|_| bad(format!("dtype '{}'", header.descr)))?;
        String::from_utf8_lossy(&body[..n.min(body.len())]).into_owned()
    } else if let Some(n) = header.descr.strip_prefix("<U") {
        let n: usize = n
            .parse()
            .map_err(|_| bad(format!("dtype '{}'", header.descr)))?;
        body.chunks_exact(4)
            .take(n)
            .filter_map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    } else {
        return Err(bad(format!("dtype '{}' is not a string", header.descr)));
    };
    Ok(text.trim_end_matches('\0').to_ascii_lowercase())
}

/// The value of `shape.npy`: two non-negative integers.
fn read_shape(path: &Path, member: &[u8]) -> Result<(usize, usize)> {
    let (elem, offset, len) = vector_header(path, "shape.npy", member, member.len())?;
    if len != 2 || !matches!(elem, Elem::I4 | Elem::I8) {
        return Err(npz_err(
            path,
            format!(
                "member shape.npy holds {len} {} values; expected 2 integers (rows, columns)",
                elem_name(elem)
            ),
        ));
    }
    let body = &member[offset..];
    let dim = |i| {
        let v = index_at(elem, body, i);
        usize::try_from(v)
            .map_err(|_| npz_err(path, format!("shape.npy holds the negative size {v}")))
    };
    Ok((dim(0)?, dim(1)?))
}

/// Inflates the three array members into one unlinked scratch file, each at
/// a 64-byte aligned offset, and maps it; returns the map and the offsets.
fn inflate_arrays(
    path: &Path,
    all: &[u8],
    arrays: &[&Member; 3],
) -> Result<(FileBytes, [usize; 3])> {
    let temp_err = |e| {
        CoreError::io(
            std::env::temp_dir(),
            format!("create a scratch file for the inflated {}", path.display()),
            e,
        )
    };
    let file = tempfile::tempfile().map_err(temp_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, &file);
    let mut offsets = [0usize; 3];
    let mut at = 0u64;
    for (i, m) in arrays.iter().enumerate() {
        let pad = at.next_multiple_of(64) - at;
        out.write_all(&vec![0u8; pad as usize])
            .map_err(|e| CoreError::io(std::env::temp_dir(), "write the inflated copy", e))?;
        at += pad;
        offsets[i] = usize::try_from(at).map_err(|_| npz_err(path, "member too large"))?;
        let start = m.data_offset as usize;
        let raw = &all[start..start + m.compressed_size as usize];
        at += match m.method {
            Method::Deflated => inflate(path, m, raw, &mut out)?,
            Method::Stored => {
                out.write_all(raw).map_err(|e| {
                    CoreError::io(std::env::temp_dir(), "write the inflated copy", e)
                })?;
                raw.len() as u64
            }
        };
    }
    out.flush()
        .map_err(|e| CoreError::io(std::env::temp_dir(), "write the inflated copy", e))?;
    drop(out);
    Ok((FileBytes::map_scratch(&file, path)?, offsets))
}

impl DataSource for SparseCsr {
    fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn n_cols(&self) -> usize {
        self.n_cols
    }

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        check_range(&|| self.name(), &range, self.n_rows)?;
        let d = self.n_cols;
        let dense = range.len() * d;
        let all = self.bytes.bytes();
        let ptr = self.indptr.bytes(all, 0..self.n_rows + 1);
        let pe = self.indptr.elem;
        // `open` checked that indptr never decreases and stays within the
        // values, and every column index against d.
        let at = |r| index_at(pe, ptr, r) as usize;
        let (k0, k1) = (at(range.start), at(range.end));
        scratch.clear();
        scratch.resize(dense, 0.0);
        // The range's values, converted, after the dense rows: one buffer.
        extend_values(self.data.elem, self.data.bytes(all, k0..k1), scratch);
        let (rows, values) = scratch.split_at_mut(dense);
        let idx = self.indices.bytes(all, k0..k1);
        for (i, r) in range.enumerate() {
            let row = &mut rows[i * d..(i + 1) * d];
            let entries = at(r) - k0..at(r + 1) - k0;
            match self.indices.elem {
                Elem::I4 => {
                    for k in entries {
                        let c = &idx[4 * k..4 * k + 4];
                        row[u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize] += values[k];
                    }
                }
                _ => {
                    for k in entries {
                        row[index_at(Elem::I8, idx, k) as usize] += values[k];
                    }
                }
            }
        }
        scratch.truncate(dense);
        Ok(&scratch[..])
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn advise_sequential(&self) {
        self.bytes.advise_sequential();
    }

    fn advise_random(&self) {
        self.bytes.advise_random();
    }

    fn sparse(&self) -> Option<&dyn SparseSource> {
        Some(self)
    }
}

impl SparseSource for SparseCsr {
    /// The rows' stored entries, canonical: a row whose columns already
    /// strictly increase (what `scipy` writes after `sort_indices`) is
    /// copied; otherwise its entries are sorted by column (stably) and the
    /// duplicates summed in `f32` in their stored order from `+0`, as
    /// [`DataSource::rows`] sums them into the zeroed dense row. Each value
    /// is `+0 + v`, the dense row's bits (a stored `-0` reads as `+0`).
    fn sparse_rows(&self, range: Range<usize>, out: &mut SparseRows) -> Result<()> {
        check_range(&|| self.name(), &range, self.n_rows)?;
        let all = self.bytes.bytes();
        let ptr = self.indptr.bytes(all, 0..self.n_rows + 1);
        let pe = self.indptr.elem;
        let at = |r| index_at(pe, ptr, r) as usize;
        let (k0, k1) = (at(range.start), at(range.end));
        out.clear(range.start);
        let mut values = Vec::new();
        extend_values(self.data.elem, self.data.bytes(all, k0..k1), &mut values);
        let idx = self.indices.bytes(all, k0..k1);
        let ie = self.indices.elem;
        let mut order: Vec<(u32, u32)> = Vec::new();
        for r in range {
            let entries = at(r) - k0..at(r + 1) - k0;
            let col = |k: usize| index_at(ie, idx, k) as u32;
            let sorted = entries.clone().skip(1).all(|k| col(k - 1) < col(k));
            if sorted {
                for k in entries {
                    out.cols.push(col(k));
                    out.vals.push(0.0 + values[k]);
                }
            } else {
                order.clear();
                order.extend(entries.map(|k| (col(k), k as u32)));
                order.sort_unstable();
                for &(c, k) in &order {
                    if out.cols.len() > out.ptr[out.ptr.len() - 1] && out.cols.last() == Some(&c) {
                        *out.vals.last_mut().expect("an entry") += values[k as usize];
                    } else {
                        out.cols.push(c);
                        out.vals.push(0.0 + values[k as usize]);
                    }
                }
            }
            out.end_row();
        }
        Ok(())
    }
}

/// Rewrites the `.npz` at `input` to `output`, its members unchanged but
/// stored (`compress = false`, the form that is memory-mapped) or deflated.
/// The input is validated first ([`SparseCsr::open`]); the output goes
/// through [`crate::output::AtomicOutput`].
///
/// # Errors
/// As [`SparseCsr::open`]; [`CoreError::Io`] when writing fails.
pub fn convert_npz(input: &Path, output: &Path, compress: bool) -> Result<SparseCsr> {
    let csr = SparseCsr::open(input)?;
    let file = FileBytes::open(input)?;
    let all = file.bytes();
    let members = zip::read_directory(all).map_err(|d| npz_err(input, d))?;
    let mut out = crate::output::AtomicOutput::create(output, &[input])?;
    let method = if compress {
        Method::Deflated
    } else {
        Method::Stored
    };
    let mut writer = zip::ZipWriter::new(out.file());
    let write_err = |e| CoreError::io(output, "write", e);
    for m in &members {
        let start = m.data_offset as usize;
        let raw = &all[start..start + m.compressed_size as usize];
        writer
            .member(&m.name, method, |w| match m.method {
                Method::Stored => w.write_all(raw),
                Method::Deflated => inflate(input, m, raw, w)
                    .map(drop)
                    .map_err(|e| std::io::Error::other(e.to_string())),
            })
            .map_err(write_err)?;
    }
    writer.finish().map_err(write_err)?;
    out.commit()?;
    Ok(csr)
}

#[cfg(test)]
mod tests;

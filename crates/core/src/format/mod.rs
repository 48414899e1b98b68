//! Matrix file formats: `.npy` (read and write), `.fvecs` and `.bvecs` (read),
//! sparse CSR `.npz` (read; rewritten compressed or not), numeric `.csv` (read,
//! small inputs), Parquet and Arrow IPC (read), and [`open_matrix`], which picks
//! one by
//! extension.
//!
//! Readers memory-map the file, validate everything the header promises against
//! the file's real length before any data page is touched (so a short file is an
//! error, never a SIGBUS), and implement [`crate::DataSource`]. Every error names
//! the file and says what is wrong ([`FormatProblem`]); missing, directory and
//! empty inputs are [`crate::CoreError::InputFile`].
//!
//! * `mapped`: the one place that maps a file (`# Safety` there), with a
//!   `read()` fallback for small files where mapping fails.
//! * `npy_header`: the `.npy` header, parsed as a Python literal dict (numpy's
//!   versions 1.0, 2.0, 3.0), and written numpy's way (64-byte aligned).
//! * `npy`: [`NpyFile`] and the 1-D label/weight readers. `npy_writer`:
//!   [`NpyWriter`], streaming, through [`crate::output::AtomicOutput`].
//! * `vecs`: [`VecsFile`]. `csv`: [`CsvReader`]. `matrix`: [`Matrix`].
//! * `npz`: [`SparseCsr`], scipy's CSR `.npz` (stored members mapped in
//!   place, deflated ones inflated once to a scratch file), read as dense
//!   rows; `zip`: the zip directory reader and writer it uses.
//! * `columnar`: [`Columnar`], a Parquet or Arrow IPC file (column choice,
//!   conversion to `f32`, the bounded cache of decoded row groups, rows left
//!   out for nulls: [`DroppedRows`]); `parquet` and `arrow_ipc` (Feather v2):
//!   what each format decodes.

use std::path::PathBuf;

mod arrow_ipc;
mod columnar;
mod csv;
mod mapped;
mod matrix;
mod npy;
mod npy_header;
mod npy_writer;
mod npz;
mod parquet;
mod parquet_pages;
mod vecs;
mod zip;

pub use columnar::{
    Columnar, ColumnarFormat, DroppedRows, MatrixOptions, UNIT_BYTES, cache_capacity,
    take_precision_warnings,
};
pub use csv::{CsvOptions, CsvReader};
pub use matrix::{Matrix, open_matrix, open_matrix_with};
pub use npy::{Dtype, NpyFile, f16_bits_to_f32, read_npy_vector_f32, read_npy_vector_i32};
pub use npy_writer::{NpyElement, NpyWriter, npy_header_bytes, write_npy_f32};
pub use npz::{SparseCsr, convert_npz};
pub use vecs::{VecsFile, VecsKind};

/// The largest `.npy` header accepted, in bytes (64 KiB).
pub const MAX_NPY_HEADER_LEN: usize = npy_header::MAX_HEADER_LEN;
/// The largest row dimension a `.fvecs`/`.bvecs` file may declare.
pub const MAX_VECS_DIM: usize = vecs::MAX_DIM;

/// What is wrong with a matrix file. Always carries the file's path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct FormatError {
    /// The offending file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: FormatProblem,
}

/// The ways a matrix file can be unreadable. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatProblem {
    #[error("not a .npy file (bad magic bytes); expected a file written by numpy.save")]
    BadMagic,
    #[error("unsupported .npy format version {major}.{minor}; versions 1.0, 2.0 and 3.0 are read")]
    UnsupportedVersion { major: u8, minor: u8 },
    #[error("truncated .npy header: {detail}")]
    TruncatedHeader { detail: String },
    #[error(
        ".npy header of {len} bytes is over the {limit}-byte limit; the file is corrupt or not a plain array"
    )]
    HeaderTooLarge { len: usize, limit: usize },
    #[error("malformed .npy header: {detail}")]
    MalformedHeader { detail: String },
    #[error(
        "unsupported dtype '{descr}'; supported are '<f4' (float32), '<f2' (float16), '<f8' (float64), '|u1' (uint8), '|i1' (int8) and '<i4' (int32)"
    )]
    UnsupportedDtype { descr: String },
    #[error(
        "big-endian dtype '{descr}' is not supported; convert with arr.astype(arr.dtype.newbyteorder('<'))"
    )]
    BigEndian { descr: String },
    #[error(
        "array is stored in Fortran (column-major) order; save np.ascontiguousarray(arr) instead"
    )]
    FortranOrder,
    #[error("array has shape {shape}; a 2-D matrix (rows × columns) is required")]
    NotTwoD { shape: String },
    #[error("matrix has {rows} rows and {cols} columns; at least one of each is required")]
    Empty { rows: usize, cols: usize },
    #[error(
        "file is {actual} bytes but its header promises {expected}; it is truncated (an interrupted copy or write?)"
    )]
    Truncated { expected: u64, actual: u64 },
    #[error(
        "file is {actual} bytes but its header promises {expected}; {extra} trailing bytes follow the data"
    )]
    TrailingBytes {
        expected: u64,
        actual: u64,
        extra: u64,
    },
    #[error(
        "row {row} declares dimension {found} but row 0 declares {expected}; every row of a vecs file must have the same dimension"
    )]
    VecsDimensionMismatch {
        row: usize,
        expected: usize,
        found: i64,
    },
    #[error("{detail}")]
    VecsInvalid { detail: String },
    #[error("{detail}")]
    UnknownExtension { detail: String },
    #[error("array has shape {shape}; a 1-D vector is required (save arr.ravel() if it is n×1)")]
    NotOneD { shape: String },
    #[error("unsupported dtype '{descr}' for this vector; expected {expected}")]
    UnsupportedVectorDtype {
        descr: String,
        expected: &'static str,
    },
    #[error("value {value} at index {index} does not fit in a 32-bit integer")]
    ValueOutOfRange { index: usize, value: i64 },
    #[error(
        "line {line}, column {column}: {} is not a number; write nan for a missing value",
        if cell.is_empty() { "an empty cell".to_string() } else { format!("'{cell}'") }
    )]
    CsvBadCell {
        line: u64,
        column: usize,
        cell: String,
    },
    #[error(
        "line {line} has {found} cells but the first line has {expected}; every row needs the same number of columns"
    )]
    CsvRaggedRow {
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("line {line}: {detail}")]
    CsvMalformed { line: u64, detail: String },
    #[error("{detail}")]
    NpzInvalid { detail: String },
    #[error(
        "a sparse {format} matrix; only CSR is read: save it with scipy.sparse.save_npz(path, m.tocsr())"
    )]
    SparseNotCsr { format: String },
    #[error("row {row} (0-based): {detail}; the CSR matrix is corrupt")]
    SparseRow { row: usize, detail: String },
    #[error("not a readable Parquet file ({detail})")]
    Parquet { detail: String },
    #[error("not a readable Arrow IPC file ({detail})")]
    ArrowIpc { detail: String },
    #[error(
        "column '{column}' is {data_type}, not numeric; choose integer, float or decimal columns with --columns"
    )]
    NotNumericColumn { column: String, data_type: String },
    #[error("no column named '{column}'; the file's columns are {columns}")]
    MissingColumn { column: String, columns: String },
    #[error("no numeric (integer, float or decimal) column; the file's columns are {columns}")]
    NoNumericColumns { columns: String },
    #[error(
        "column '{column}' is null at row {row} (0-based); leave out the rows with nulls with --drop-null, or fill them first"
    )]
    NullValue { column: String, row: usize },
    #[error(
        "every one of the {rows} rows has a null in a chosen column ({columns} chosen); nothing is left with --drop-null (choose other columns with --columns)"
    )]
    AllNull { rows: usize, columns: usize },
    #[error("{detail}")]
    Columnar { detail: String },
}

impl FormatError {
    /// A new error for `path`.
    pub fn new(path: impl Into<PathBuf>, problem: FormatProblem) -> Self {
        FormatError {
            path: path.into(),
            problem,
        }
    }
}

//! Matrix file formats: `.npy` (read and write), `.fvecs` and `.bvecs` (read).
//!
//! Readers memory-map the file, validate everything the header promises against
//! the file's real length before any page is touched (so a short file is an
//! error, never a SIGBUS), and implement [`crate::DataSource`].

use std::path::PathBuf;

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
        "unsupported dtype '{descr}'; supported are '<f4' (float32), '<f8' (float64), '|u1' (uint8) and '<i4' (int32)"
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

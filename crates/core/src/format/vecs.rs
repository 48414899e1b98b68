//! `.fvecs` and `.bvecs` (the TEXMEX / ANN-benchmark formats): each row is a
//! little-endian `i32` dimension `d` followed by `d` values, `f32` for
//! `.fvecs`, `u8` for `.bvecs`. There is no header, so the dimension of row 0
//! is the matrix's, and the row count is the file length over the row size.
//!
//! [`VecsFile::open`] checks what it can without reading the whole file: that
//! the first row's dimension is plausible, that the length is a whole number of
//! rows, and that the last row declares the same dimension. A file of 100 GB
//! cannot be scanned on open; every other row's prefix is checked when
//! [`DataSource::rows`] reads it, so a bad row stops the first pass that
//! reaches it with [`FormatProblem::VecsDimensionMismatch`].

use std::ops::Range;
use std::path::Path;

use super::mapped::{FileBytes, RowBytes, forward_to_row_bytes};
use super::npy::{Dtype, extend_f32};
use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// The largest row dimension accepted. Real vecs data sets have d ≤ a few
/// thousand; a larger prefix almost always means the file is not a vecs file
/// (or is big-endian), and rejecting it early gives a clear message instead of
/// a nonsensical shape.
pub(crate) const MAX_DIM: usize = 65_536;

/// Which vecs flavour a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VecsKind {
    /// `.fvecs`: `f32` values.
    Fvecs,
    /// `.bvecs`: `u8` values.
    Bvecs,
}

impl VecsKind {
    /// From a file extension (`fvecs`/`bvecs`, any case).
    #[must_use]
    pub fn from_extension(path: &Path) -> Option<VecsKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "fvecs" => Some(VecsKind::Fvecs),
            "bvecs" => Some(VecsKind::Bvecs),
            _ => None,
        }
    }

    /// The element type of the values.
    #[must_use]
    pub fn dtype(self) -> Dtype {
        match self {
            VecsKind::Fvecs => Dtype::F32,
            VecsKind::Bvecs => Dtype::U8,
        }
    }
}

/// A memory-mapped `.fvecs` or `.bvecs` matrix.
#[derive(Debug)]
pub struct VecsFile {
    /// The rows, each with its dimension prefix.
    data: RowBytes,
    kind: VecsKind,
}

impl VecsFile {
    /// Opens a vecs file, its kind chosen by extension (`.fvecs` or `.bvecs`).
    ///
    /// # Errors
    /// [`FormatProblem::UnknownExtension`] for another extension; as
    /// [`VecsFile::open_as`].
    pub fn open(path: impl AsRef<Path>) -> Result<VecsFile> {
        let path = path.as_ref();
        let kind = VecsKind::from_extension(path).ok_or_else(|| {
            CoreError::Format(FormatError::new(
                path,
                FormatProblem::UnknownExtension {
                    detail: "a vecs file must end in .fvecs or .bvecs".to_string(),
                },
            ))
        })?;
        Self::open_as(path, kind)
    }

    /// Opens a vecs file of the given kind, whatever its extension.
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty path;
    /// [`FormatProblem::VecsInvalid`] when the first dimension is outside
    /// 1..=65536 or the length is not a whole number of rows;
    /// [`FormatProblem::VecsDimensionMismatch`] when the last row disagrees.
    pub fn open_as(path: impl AsRef<Path>, kind: VecsKind) -> Result<VecsFile> {
        let path = path.as_ref();
        let bytes = FileBytes::open(path)?;
        let err = |p| CoreError::Format(FormatError::new(path, p));
        let data = bytes.bytes();
        if data.len() < 4 {
            return Err(err(FormatProblem::VecsInvalid {
                detail: format!(
                    "file is {} bytes, too short for a row's 4-byte dimension",
                    data.len()
                ),
            }));
        }
        let first = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let dim = match usize::try_from(first) {
            Ok(d) if (1..=MAX_DIM).contains(&d) => d,
            _ => {
                return Err(err(FormatProblem::VecsInvalid {
                    detail: format!(
                        "row 0 declares dimension {first}; expected 1..={MAX_DIM} \
                         (a larger or negative value means this is not a little-endian {} file)",
                        ext(kind)
                    ),
                }));
            }
        };
        let row_bytes = 4 + dim * kind.dtype().size();
        if data.len() % row_bytes != 0 {
            return Err(err(FormatProblem::VecsInvalid {
                detail: format!(
                    "file length {} is not a multiple of the row size {row_bytes} \
                     (4 + {dim} × {}); it is truncated or rows differ in dimension",
                    data.len(),
                    kind.dtype().size()
                ),
            }));
        }
        let rows = data.len() / row_bytes;
        let file = VecsFile {
            data: RowBytes::new(path, bytes, (rows, dim), 0, row_bytes),
            kind,
        };
        file.check_prefix(rows - 1)?;
        Ok(file)
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.data.path()
    }

    /// `.fvecs` or `.bvecs`.
    #[must_use]
    pub fn kind(&self) -> VecsKind {
        self.kind
    }

    /// The element type of the values.
    #[must_use]
    pub fn dtype(&self) -> Dtype {
        self.kind.dtype()
    }

    /// `(rows, dimension)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.data.n_rows(), self.data.n_cols())
    }

    /// The file's length in bytes.
    #[must_use]
    pub fn file_len(&self) -> u64 {
        self.data.file_len()
    }

    fn row_bytes(&self) -> usize {
        4 + self.data.n_cols() * self.kind.dtype().size()
    }

    fn check_prefix(&self, row: usize) -> Result<()> {
        let b = self.data.rows(&(row..row + 1))?;
        self.check_prefix_bytes(row, b)
    }

    fn check_prefix_bytes(&self, row: usize, b: &[u8]) -> Result<()> {
        let found = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if usize::try_from(found).ok() != Some(self.data.n_cols()) {
            return Err(CoreError::Format(FormatError::new(
                self.data.path(),
                FormatProblem::VecsDimensionMismatch {
                    row,
                    expected: self.data.n_cols(),
                    found: i64::from(found),
                },
            )));
        }
        Ok(())
    }
}

fn ext(kind: VecsKind) -> &'static str {
    match kind {
        VecsKind::Fvecs => ".fvecs",
        VecsKind::Bvecs => ".bvecs",
    }
}

impl DataSource for VecsFile {
    forward_to_row_bytes!(data);

    /// Always copies (each row's values are interleaved with prefixes), and
    /// checks every row's dimension prefix on the way.
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        let src = self.data.rows(&range)?;
        scratch.clear();
        scratch.reserve(range.len() * self.data.n_cols());
        let dtype = self.kind.dtype();
        for (i, row) in src.chunks_exact(self.row_bytes()).enumerate() {
            self.check_prefix_bytes(range.start + i, row)?;
            extend_f32(dtype, &row[4..], scratch);
        }
        Ok(&scratch[..])
    }
}

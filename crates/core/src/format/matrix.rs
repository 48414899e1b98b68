//! [`open_matrix`]: any supported matrix file, chosen by extension.

use std::ops::Range;
use std::path::Path;

use super::columnar::{Columnar, MatrixOptions};
use super::csv::{CsvOptions, CsvReader};
use super::npy::{NpyFile, check_range};
use super::npz::SparseCsr;
use super::vecs::VecsFile;
use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// A matrix from a file of any supported format.
#[derive(Debug)]
pub enum Matrix {
    /// A memory-mapped `.npy` file.
    Npy(NpyFile),
    /// A memory-mapped `.fvecs` or `.bvecs` file.
    Vecs(VecsFile),
    /// A sparse CSR `.npz` file (scipy's `save_npz`), read as dense rows.
    Npz(SparseCsr),
    /// A Parquet (`.parquet`) or Arrow IPC (`.arrow`, `.feather`) file.
    Columnar(Box<Columnar>),
    /// A matrix read into memory (a `.csv` file).
    InMemory {
        /// The source's name for messages (the file path).
        name: String,
        /// Row-major values, `n_rows * n_cols` of them.
        data: Vec<f32>,
        n_rows: usize,
        n_cols: usize,
    },
}

/// Rows read per batch when loading a CSV file.
const CSV_BATCH_ROWS: usize = 4096;

/// Opens a matrix by its extension (case-insensitive): `.npy`, `.fvecs`,
/// `.bvecs` are memory-mapped; `.npz` is a sparse CSR matrix ([`SparseCsr`]);
/// `.csv` is parsed into memory (small inputs only), its header detected as
/// [`CsvOptions::default`] describes;
/// `.parquet`, `.arrow` and `.feather` are read row group by row group
/// (every numeric column: see [`open_matrix_with`]).
///
/// # Errors
/// [`FormatProblem::UnknownExtension`] for other extensions; the errors of
/// [`NpyFile::open`], [`VecsFile::open`] and [`CsvReader`];
/// [`FormatProblem::Empty`] for a CSV file without data rows.
pub fn open_matrix(path: impl AsRef<Path>) -> Result<Matrix> {
    open_matrix_with(path, &MatrixOptions::default())
}

/// [`open_matrix`] with `options` for the columns of a Parquet or Arrow file.
///
/// # Errors
/// As [`open_matrix`], those of [`Columnar::open_parquet`] and
/// [`Columnar::open_arrow_ipc`], and [`CoreError::InvalidParameter`] when
/// `options.columns` is given for a format without column names.
pub fn open_matrix_with(path: impl AsRef<Path>, options: &MatrixOptions) -> Result<Matrix> {
    let path = path.as_ref();
    // A missing file or a directory is reported as such, whatever its name.
    drop(super::mapped::open_input(path)?);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if options.columns.is_some() && !matches!(ext.as_str(), "parquet" | "arrow" | "feather") {
        return Err(CoreError::param(
            "columns",
            format!(
                "{}: only Parquet and Arrow files have named columns; drop --columns for this file",
                path.display()
            ),
        ));
    }
    match ext.as_str() {
        "parquet" => Columnar::open_parquet(path, options).map(|f| Matrix::Columnar(Box::new(f))),
        "arrow" | "feather" => {
            Columnar::open_arrow_ipc(path, options).map(|f| Matrix::Columnar(Box::new(f)))
        }
        "npy" => NpyFile::open(path).map(Matrix::Npy),
        "fvecs" | "bvecs" => VecsFile::open(path).map(Matrix::Vecs),
        "npz" => SparseCsr::open(path).map(Matrix::Npz),
        "csv" => read_csv(path),
        _ => Err(CoreError::Format(FormatError::new(
            path,
            FormatProblem::UnknownExtension {
                detail: format!(
                    "unknown matrix format {}; expected .npy, .npz (sparse CSR), .fvecs, .bvecs, .csv, .parquet, .arrow or .feather",
                    if ext.is_empty() {
                        "(no extension)".to_string()
                    } else {
                        format!("'.{ext}'")
                    }
                ),
            },
        ))),
    }
}

fn read_csv(path: &Path) -> Result<Matrix> {
    let mut reader = CsvReader::open(path, CsvOptions::default())?;
    let mut data = Vec::new();
    while reader.next_rows(CSV_BATCH_ROWS, &mut data)? > 0 {}
    let n_cols = reader.n_cols();
    let n_rows = data.len() / n_cols.max(1);
    if n_rows == 0 {
        return Err(CoreError::Format(FormatError::new(
            path,
            FormatProblem::Empty {
                rows: 0,
                cols: n_cols,
            },
        )));
    }
    Ok(Matrix::InMemory {
        name: path.display().to_string(),
        data,
        n_rows,
        n_cols,
    })
}

impl DataSource for Matrix {
    fn n_rows(&self) -> usize {
        match self {
            Matrix::Npy(f) => f.n_rows(),
            Matrix::Vecs(f) => f.n_rows(),
            Matrix::Npz(f) => f.n_rows(),
            Matrix::Columnar(f) => f.n_rows(),
            Matrix::InMemory { n_rows, .. } => *n_rows,
        }
    }

    fn n_cols(&self) -> usize {
        match self {
            Matrix::Npy(f) => f.n_cols(),
            Matrix::Vecs(f) => f.n_cols(),
            Matrix::Npz(f) => f.n_cols(),
            Matrix::Columnar(f) => f.n_cols(),
            Matrix::InMemory { n_cols, .. } => *n_cols,
        }
    }

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        match self {
            Matrix::Npy(f) => f.rows(range, scratch),
            Matrix::Vecs(f) => f.rows(range, scratch),
            Matrix::Npz(f) => f.rows(range, scratch),
            Matrix::Columnar(f) => f.rows(range, scratch),
            Matrix::InMemory {
                name,
                data,
                n_rows,
                n_cols,
            } => {
                check_range(&|| name.clone(), &range, *n_rows)?;
                Ok(&data[range.start * n_cols..range.end * n_cols])
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Matrix::Npy(f) => f.name(),
            Matrix::Vecs(f) => f.name(),
            Matrix::Npz(f) => f.name(),
            Matrix::Columnar(f) => f.name(),
            Matrix::InMemory { name, .. } => name.clone(),
        }
    }

    fn advise_sequential(&self) {
        match self {
            Matrix::Npy(f) => f.advise_sequential(),
            Matrix::Vecs(f) => f.advise_sequential(),
            Matrix::Npz(f) => f.advise_sequential(),
            Matrix::Columnar(_) | Matrix::InMemory { .. } => {}
        }
    }

    fn advise_random(&self) {
        match self {
            Matrix::Npy(f) => f.advise_random(),
            Matrix::Vecs(f) => f.advise_random(),
            Matrix::Npz(f) => f.advise_random(),
            Matrix::Columnar(_) | Matrix::InMemory { .. } => {}
        }
    }

    fn hint(&self, range: Range<usize>, hint: crate::source::Hint) {
        match self {
            Matrix::Npy(f) => f.hint(range, hint),
            Matrix::Vecs(f) => f.hint(range, hint),
            Matrix::Npz(f) => f.hint(range, hint),
            Matrix::Columnar(_) | Matrix::InMemory { .. } => {}
        }
    }

    fn sparse(&self) -> Option<&dyn crate::sparse::SparseSource> {
        match self {
            Matrix::Npz(f) => Some(f),
            _ => None,
        }
    }
}

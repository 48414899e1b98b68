//! Opening inputs and describing them (the fingerprint stored in models and
//! summaries).

use std::path::{Path, PathBuf};

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{Matrix, open_matrix};
use serde::Serialize;

/// What identifies an input file: path, shape, dtype, bytes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fingerprint {
    pub(crate) path: PathBuf,
    pub(crate) format: &'static str,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) dtype: String,
    pub(crate) bytes: u64,
}

/// Opens a matrix file of any supported format.
pub(crate) fn open(path: &Path) -> Result<Matrix> {
    Ok(open_matrix(path)?)
}

/// Describes an opened matrix.
pub(crate) fn fingerprint(path: &Path, m: &Matrix) -> Fingerprint {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (format, dtype) = match m {
        Matrix::Npy(f) => ("npy", f.dtype().descr().to_string()),
        Matrix::Vecs(v) => (
            match v.kind() {
                mmclust_core::format::VecsKind::Fvecs => "fvecs",
                mmclust_core::format::VecsKind::Bvecs => "bvecs",
            },
            v.dtype().descr().to_string(),
        ),
        Matrix::InMemory { .. } => ("csv", "<f4".to_string()),
    };
    Fingerprint {
        path: path.to_path_buf(),
        format,
        rows: m.n_rows(),
        cols: m.n_cols(),
        dtype,
        bytes,
    }
}

/// Prints `value` as the one JSON object of the run on stdout.
pub(crate) fn emit_json(value: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Reads a small text input (a model, a statistics file). A file that is not
/// UTF-8 text is an input error naming the file and `expected`.
pub(crate) fn read_text(path: &Path, expected: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| mmclust_core::CoreError::io(path, "read it", e))?;
    String::from_utf8(bytes).map_err(|_| {
        crate::fail::usage(format!(
            "{}: not valid JSON (not even text); expected {expected}",
            path.display()
        ))
    })
}

//! Helpers for the tests of the workspace's crates (feature `test-hooks`):
//! reading the fixtures their scripts wrote.

use std::path::{Path, PathBuf};

use crate::DataSource;
use crate::format::NpyFile;

/// `tests/fixtures/NAME` of the crate whose manifest folder is `manifest_dir`
/// (pass `env!("CARGO_MANIFEST_DIR")`).
#[must_use]
pub fn fixture(manifest_dir: &str, name: &str) -> PathBuf {
    Path::new(manifest_dir).join("tests/fixtures").join(name)
}

/// Every row of the `.npy` matrix at `path`, in memory, with its shape:
/// `(values, rows, columns)`.
///
/// # Panics
/// When the file cannot be opened or read: a broken fixture fails the test.
#[must_use]
pub fn npy_matrix(path: impl AsRef<Path>) -> (Vec<f32>, usize, usize) {
    let path = path.as_ref();
    let file = NpyFile::open(path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let (n, d) = file.shape();
    let mut scratch = Vec::new();
    let rows = file
        .rows(0..n, &mut scratch)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    (rows.to_vec(), n, d)
}

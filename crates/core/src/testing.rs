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

/// A source that counts the rows read from it: a test of what a path reads.
pub struct Counting<'a> {
    inner: crate::ArraySource<'a>,
    rows_read: std::sync::atomic::AtomicUsize,
}

impl<'a> Counting<'a> {
    /// `x` as n × d rows, none read yet.
    ///
    /// # Panics
    /// If `x` is not n × d.
    #[must_use]
    pub fn new(x: &'a [f32], n: usize, d: usize) -> Self {
        Counting {
            inner: crate::ArraySource::from_slice(x, n, d).expect("x is n × d"),
            rows_read: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The rows read so far.
    #[must_use]
    pub fn rows_read(&self) -> usize {
        self.rows_read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Counting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counting")
            .field("rows_read", &self.rows_read())
            .finish_non_exhaustive()
    }
}

impl crate::DataSource for Counting<'_> {
    fn n_rows(&self) -> usize {
        self.inner.n_rows()
    }
    fn n_cols(&self) -> usize {
        self.inner.n_cols()
    }
    fn rows<'b>(
        &'b self,
        range: std::ops::Range<usize>,
        scratch: &'b mut Vec<f32>,
    ) -> crate::Result<&'b [f32]> {
        self.rows_read
            .fetch_add(range.len(), std::sync::atomic::Ordering::Relaxed);
        self.inner.rows(range, scratch)
    }
    fn name(&self) -> String {
        "counting".into()
    }
}

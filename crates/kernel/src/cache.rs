//! Features computed once: the rows of a feature wrapper ([`crate::NystromFeatures`],
//! [`crate::SpectralEmbedding`]) written into a [`RowBuffer`] by one parallel
//! pass, so that the K-means iterations read them instead of recomputing them
//! on every pass.
//!
//! Recomputing φ costs n·M·(d + M′) multiply-adds per pass; reading it back
//! costs n·M′·4 bytes. The buffer stays on the heap up to the scratch
//! configuration's in-memory limit (256 MiB by default) and is a memory-mapped
//! scratch file above, allocated up front (so memory stays bounded on a file
//! larger than RAM). Every row of a feature wrapper depends only on its input
//! row, and the K-means chunk grid only on n and the column count, so a fit on
//! the cached rows gives the bits of a fit on the wrapper itself (tested).
//! Where the scratch file cannot be made (no room on its disk), the fit falls
//! back to computing the features on every pass: the same bits, slower.

use std::ops::Range;

use mmclust_core::scratch::{RowBuffer, ScratchConfig};
use mmclust_core::{DataSource, Result as CoreResult};
use rayon::prelude::*;

/// Rows per task of the filling pass.
const FILL_ROWS: usize = 256;

/// The rows of another source, computed once and held in a [`RowBuffer`].
#[derive(Debug)]
pub struct CachedRows {
    buf: RowBuffer<f32>,
    n: usize,
    d: usize,
    name: String,
}

impl CachedRows {
    /// Reads every row of `source` once, in parallel, into a buffer sized by
    /// `scratch`.
    ///
    /// # Errors
    /// The scratch file cannot be created or mapped, or `source` fails to
    /// read a row.
    pub fn fill<S: DataSource + ?Sized>(source: &S, scratch: &ScratchConfig) -> CoreResult<Self> {
        let (n, d) = (source.n_rows(), source.n_cols());
        let mut buf = RowBuffer::new(n * d, 0.0f32, scratch)?;
        if d > 0 {
            buf.as_mut_slice()
                .par_chunks_mut(FILL_ROWS * d)
                .enumerate()
                .try_for_each_init(Vec::new, |own, (i, out)| -> CoreResult<()> {
                    let start = i * FILL_ROWS;
                    let rows = source.rows(start..start + out.len() / d, own)?;
                    out.copy_from_slice(rows);
                    Ok(())
                })?;
        }
        Ok(CachedRows {
            buf,
            n,
            d,
            name: source.name(),
        })
    }

    /// Whether the rows live in a mapped scratch file (not on the heap).
    #[must_use]
    pub fn is_mapped(&self) -> bool {
        self.buf.is_mapped()
    }
}

impl DataSource for CachedRows {
    fn n_rows(&self) -> usize {
        self.n
    }

    fn n_cols(&self) -> usize {
        self.d
    }

    fn rows<'a>(
        &'a self,
        range: Range<usize>,
        _scratch: &'a mut Vec<f32>,
    ) -> CoreResult<&'a [f32]> {
        Ok(&self.buf.as_slice()[range.start * self.d..range.end * self.d])
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Runs `fit` on the rows of `source` cached by [`CachedRows::fill`] when
/// `cache` is set and the buffer can be made, and on `source` itself
/// otherwise (the same result, bit for bit).
///
/// # Errors
/// Those of `fit`, and read errors of `source` while filling the cache.
pub(crate) fn fit_cached<S: DataSource, T, E: From<mmclust_core::CoreError>>(
    source: &S,
    cache: bool,
    scratch: &ScratchConfig,
    fit: impl FnOnce(&dyn DataSource) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    if cache {
        match CachedRows::fill(source, scratch) {
            Ok(cached) => return fit(&cached),
            // A read error is the data's: report it. No room for the scratch
            // file only costs speed.
            Err(e) if !matches!(e, mmclust_core::CoreError::Io { .. }) => return Err(e.into()),
            Err(_) => {}
        }
    }
    fit(source)
}

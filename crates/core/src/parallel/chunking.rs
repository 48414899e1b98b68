//! How a pass splits rows into chunks, and how a distributed pass splits the
//! chunks between processes. Both depend on the shape (and the process count)
//! only, never on the thread count.

use std::ops::Range;

use crate::error::{CoreError, Result};

/// Bytes of `f32` data a chunk aims for: a quarter of a typical L2 cache, so a
/// chunk, its kernel's tiles and the centres stay close to the core.
pub const TARGET_CHUNK_BYTES: usize = 256 * 1024;

/// How a pass splits `n` rows into chunks.
///
/// The chunk length is a function of the shape only (the dimension, and for
/// [`Chunking::for_partial`] the number of rows and the partial's size), or set
/// explicitly, never of the thread or process count: that is what makes
/// results reproducible bit for bit on any number of threads and ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Rows per chunk (the last chunk may be shorter). Always ≥ 1.
    pub chunk_rows: usize,
}

impl Chunking {
    /// The default for `d` columns: about [`TARGET_CHUNK_BYTES`] of `f32` per
    /// chunk, a multiple of 16 rows, between 64 and 65 536 rows.
    #[must_use]
    pub fn for_dim(d: usize) -> Self {
        let rows = TARGET_CHUNK_BYTES / (4 * d.max(1));
        let rows = (rows / 16 * 16).clamp(64, 65_536);
        Chunking { chunk_rows: rows }
    }

    /// The default for a pass over `n` rows of `d` columns whose chunks each
    /// yield a partial of `partial_len` `f64`s (e.g. K-means' k × d sums): as
    /// [`Chunking::for_dim`], but each chunk's data at least twice the
    /// partial's bytes, so that zeroing and merging partials stays small next
    /// to the chunk's work, while there are still at least 64 chunks when `n`
    /// allows. A function of `n`, `d` and `partial_len` only (the global `n`
    /// in a distributed run), never of the thread count.
    #[must_use]
    pub fn for_partial(n: usize, d: usize, partial_len: usize) -> Self {
        let base = Self::for_dim(d).chunk_rows;
        let want = (2 * 8 * partial_len).div_ceil(4 * d.max(1)).div_ceil(16) * 16;
        let most = (n / 64).div_ceil(16) * 16;
        Chunking {
            chunk_rows: want.min(most).clamp(base, 65_536.max(base)),
        }
    }

    /// An explicit chunk length.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] when `chunk_rows` is 0.
    pub fn with_rows(chunk_rows: usize) -> Result<Self> {
        if chunk_rows == 0 {
            return Err(CoreError::param("chunk_rows", "must be at least 1"));
        }
        Ok(Chunking { chunk_rows })
    }

    /// Number of chunks covering `n` rows.
    #[must_use]
    pub fn n_chunks(&self, n: usize) -> usize {
        n.div_ceil(self.chunk_rows)
    }

    /// Row range of chunk `index` out of `n` rows.
    #[must_use]
    pub fn range(&self, index: usize, n: usize) -> Range<usize> {
        let start = (index * self.chunk_rows).min(n);
        start..(start + self.chunk_rows).min(n)
    }
}

/// One chunk as a kernel sees it.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Index of the chunk in the pass.
    pub index: usize,
    /// First row of the chunk in the source.
    pub start_row: usize,
    /// Number of rows in the chunk.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row-major values, `n_rows * n_cols` of them.
    pub data: &'a [f32],
}

impl Chunk<'_> {
    /// Row `i` of the chunk (0-based within the chunk).
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Rows of the chunk, in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.n_cols.max(1))
    }
}

/// The chunks that process `rank` of `size` computes in a distributed pass
/// over `n_chunks` chunks: a contiguous range, the ranges of ranks 0, 1, …
/// tiling `0..n_chunks` in order.
///
/// Boundaries are the split points of the merge tree nearest to an even
/// split (within an eighth of a rank's share, or at depth ⌈log₂ size⌉ + 3),
/// so each process owns few whole subtrees: with 2 or 4 ranks usually one.
#[must_use]
pub fn owned_chunks(n_chunks: usize, rank: usize, size: usize) -> Range<usize> {
    boundary(n_chunks, rank, size)..boundary(n_chunks, rank + 1, size)
}

/// The rows of [`owned_chunks`] out of `n` rows.
#[must_use]
pub fn owned_rows(n: usize, chunking: Chunking, rank: usize, size: usize) -> Range<usize> {
    let chunks = owned_chunks(chunking.n_chunks(n), rank, size);
    (chunks.start * chunking.chunk_rows).min(n)..(chunks.end * chunking.chunk_rows).min(n)
}

fn boundary(n_chunks: usize, rank: usize, size: usize) -> usize {
    if rank == 0 || size <= 1 {
        return if rank == 0 { 0 } else { n_chunks };
    }
    if rank >= size {
        return n_chunks;
    }
    // Target rank·C/size, compared in integers scaled by `size`.
    let (c, size) = (n_chunks as u128, size as u128);
    let target = rank as u128 * c;
    let off = |b: usize| (b as u128 * size).abs_diff(target);
    let max_depth = (usize::BITS - (size as usize - 1).leading_zeros()) as usize + 3;
    let mut range = 0..n_chunks;
    for _ in 0..max_depth {
        if range.len() <= 1 {
            break;
        }
        let mid = range.start + range.len() / 2;
        if off(mid) * 8 <= c {
            return mid;
        }
        if (mid as u128) * size > target {
            range = range.start..mid;
        } else {
            range = mid..range.end;
        }
    }
    if off(range.end) < off(range.start) {
        range.end
    } else {
        range.start
    }
}

//! Deterministic chunked map-reduce over a [`DataSource`], and the all-reduce seam.
//!
//! Every pass over the data has one shape (DESIGN.md): fixed-size chunks, a
//! per-chunk kernel on rayon workers, partials merged in a fixed order. The
//! determinism rules are enforced here, once:
//!
//! * chunk boundaries come from [`Chunking::chunk_rows`], chosen from `d` alone,
//!   never from the thread count;
//! * partials are merged by a fixed binary tree over chunk indices: a range is
//!   split at its midpoint, the halves run under `rayon::join`, and the result is
//!   `merge(left, right)`. The tree's shape depends only on the number of chunks,
//!   so floating-point sums do not depend on scheduling, and live memory stays
//!   O(threads · log chunks) partials.
//!
//! Across processes, a pass's merged partial goes through an [`AllReduce`]; the
//! single-process implementation, [`SingleProcess`], does nothing.

use std::cell::Cell;
use std::ops::Range;

use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// Bytes of `f32` data a chunk aims for: a quarter of a typical L2 cache, so a
/// chunk, its kernel's tiles and the centres stay close to the core.
pub const TARGET_CHUNK_BYTES: usize = 256 * 1024;

/// How a pass splits `n` rows into chunks.
///
/// The chunk length is a function of the dimension only (or set explicitly),
/// never of the thread count: that is what makes results reproducible bit for
/// bit on any number of threads.
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

/// Options of one pass.
#[derive(Clone, Copy, Default)]
pub struct PassOptions<'p> {
    /// Called after each chunk with the number of rows it held (from worker
    /// threads, in no particular order). For progress bars.
    pub progress: Option<&'p (dyn Fn(usize) + Sync)>,
}

impl std::fmt::Debug for PassOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

thread_local! {
    /// Conversion buffer reused by the chunks a worker reads. Taken out while
    /// in use, so a nested pass (or work stolen during a join) gets its own.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

fn with_chunk<S, R>(
    source: &S,
    chunking: Chunking,
    index: usize,
    f: impl FnOnce(Chunk<'_>) -> Result<R, CoreError>,
) -> Result<R, CoreError>
where
    S: DataSource + ?Sized,
{
    let n = source.n_rows();
    let range = chunking.range(index, n);
    let mut scratch = SCRATCH.with(Cell::take);
    let result = source.rows(range.clone(), &mut scratch).and_then(|data| {
        f(Chunk {
            index,
            start_row: range.start,
            n_rows: range.len(),
            n_cols: source.n_cols(),
            data,
        })
    });
    SCRATCH.with(|s| s.set(scratch));
    result
}

/// Maps every chunk of `source` to a partial and merges the partials by the
/// fixed tree over chunk indices. Returns `None` for a source with no rows.
///
/// `map` sees each chunk once; `merge(left, right)` always receives the partial
/// of the lower chunk indices first. The result is bitwise identical for any
/// number of rayon threads.
///
/// # Errors
/// The first error (in tree order) returned by `map` or by the source.
pub fn map_reduce<S, P, M, R>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    map: M,
    merge: R,
) -> Result<Option<P>>
where
    S: DataSource + ?Sized,
    P: Send,
    M: Fn(Chunk<'_>) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    let n_chunks = chunking.n_chunks(source.n_rows());
    if n_chunks == 0 {
        return Ok(None);
    }
    source.advise_sequential();
    let leaf = |index: usize| -> Result<P> {
        let partial = with_chunk(source, chunking, index, &map)?;
        if let Some(progress) = options.progress {
            progress(chunking.range(index, source.n_rows()).len());
        }
        Ok(partial)
    };
    tree(0..n_chunks, &leaf, &merge).map(Some)
}

fn tree<P, L, R>(range: Range<usize>, leaf: &L, merge: &R) -> Result<P>
where
    P: Send,
    L: Fn(usize) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    if range.len() == 1 {
        return leaf(range.start);
    }
    let mid = range.start + range.len() / 2;
    let (left, right) = rayon::join(
        || tree(range.start..mid, leaf, merge),
        || tree(mid..range.end, leaf, merge),
    );
    Ok(merge(left?, right?))
}

/// Like [`map_reduce`], and each chunk also gets its own rows of a per-row
/// output (`per_row` values per row, so `out.len() == n_rows * per_row`): labels,
/// distances, responsibilities of an in-memory result.
///
/// # Errors
/// As [`map_reduce`]; also [`CoreError::InvalidParameter`] when `out` has the
/// wrong length.
pub fn map_reduce_into<S, T, P, M, R>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    out: &mut [T],
    per_row: usize,
    map: M,
    merge: R,
) -> Result<Option<P>>
where
    S: DataSource + ?Sized,
    T: Send,
    P: Send,
    M: Fn(Chunk<'_>, &mut [T]) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    let n = source.n_rows();
    if out.len() != n * per_row {
        return Err(CoreError::param(
            "out",
            format!(
                "output buffer holds {} values, the pass needs {n} rows × {per_row}",
                out.len()
            ),
        ));
    }
    let n_chunks = chunking.n_chunks(n);
    if n_chunks == 0 {
        return Ok(None);
    }
    source.advise_sequential();
    let leaf = |index: usize, out: &mut [T]| -> Result<P> {
        let partial = with_chunk(source, chunking, index, |chunk| map(chunk, out))?;
        if let Some(progress) = options.progress {
            progress(chunking.range(index, n).len());
        }
        Ok(partial)
    };
    tree_into(0..n_chunks, out, chunking, per_row, &leaf, &merge).map(Some)
}

fn tree_into<T, P, L, R>(
    range: Range<usize>,
    out: &mut [T],
    chunking: Chunking,
    per_row: usize,
    leaf: &L,
    merge: &R,
) -> Result<P>
where
    T: Send,
    P: Send,
    L: Fn(usize, &mut [T]) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    if range.len() == 1 {
        return leaf(range.start, out);
    }
    let mid = range.start + range.len() / 2;
    let split = (mid - range.start) * chunking.chunk_rows * per_row;
    let (lo, hi) = out.split_at_mut(split);
    let (left, right) = rayon::join(
        || tree_into(range.start..mid, lo, chunking, per_row, leaf, merge),
        || tree_into(mid..range.end, hi, chunking, per_row, leaf, merge),
    );
    Ok(merge(left?, right?))
}

/// Maps chunks in parallel and hands the results to `sink` in chunk order:
/// for passes that write an output file (standardised rows, labels).
///
/// Chunks are processed in batches of `batch` chunks (at least 1): the batch
/// runs on the rayon pool, then `sink` consumes its results sequentially, so
/// memory stays bounded by one batch of results whatever the size of the input.
///
/// # Errors
/// The first error of `map` (in chunk order), of the source, or of `sink`.
pub fn map_ordered<S, T, M, K>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    batch: usize,
    map: M,
    mut sink: K,
) -> Result<()>
where
    S: DataSource + ?Sized,
    T: Send,
    M: Fn(Chunk<'_>) -> Result<T> + Sync,
    K: FnMut(T) -> Result<()>,
{
    use rayon::prelude::*;
    let n = source.n_rows();
    let n_chunks = chunking.n_chunks(n);
    source.advise_sequential();
    let batch = batch.max(1);
    let mut first = 0;
    while first < n_chunks {
        let last = (first + batch).min(n_chunks);
        let results: Vec<Result<T>> = (first..last)
            .into_par_iter()
            .map(|index| {
                let out = with_chunk(source, chunking, index, &map)?;
                if let Some(progress) = options.progress {
                    progress(chunking.range(index, n).len());
                }
                Ok(out)
            })
            .collect();
        for r in results {
            sink(r?)?;
        }
        first = last;
    }
    Ok(())
}

/// The seam between processes: how a pass's merged partial statistics are
/// combined across the processes of a distributed run.
///
/// Every reduction an algorithm needs is expressed as a sum of `f64` buffers
/// or a broadcast from rank 0. [`SingleProcess`] is the identity; the MPI build
/// (crate `mmclust-mpi`) sums across ranks.
pub trait AllReduce: Sync + std::fmt::Debug {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum over processes.
    ///
    /// # Errors
    /// A communication failure.
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Replaces `buf` on every process by rank 0's `buf`.
    ///
    /// # Errors
    /// A communication failure.
    fn broadcast_f64(&self, buf: &mut [f64]) -> Result<()>;
}

/// The single-process [`AllReduce`]: every operation is a no-op.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl AllReduce for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn broadcast_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
}

/// Runs `f` on a rayon pool of `threads` threads (all cores when `None`).
///
/// # Errors
/// [`CoreError::InvalidParameter`] when `threads` is `Some(0)` or the pool cannot
/// be built.
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        if t == 0 {
            return Err(CoreError::param("threads", "must be at least 1"));
        }
        builder = builder.num_threads(t);
    }
    let pool = builder
        .build()
        .map_err(|e| CoreError::param("threads", format!("cannot start thread pool: {e}")))?;
    Ok(pool.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ArraySource;

    fn data(n: usize, d: usize) -> Vec<f32> {
        (0..n * d)
            .map(|i| ((i as f32) * 0.618_034).sin() * 1e3 + 1e-3 * i as f32)
            .collect()
    }

    fn sum_pass(src: &ArraySource<'_>, chunking: Chunking) -> f64 {
        map_reduce(
            src,
            chunking,
            PassOptions::default(),
            |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
            |a, b| a + b,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn chunking_covers_rows_exactly() {
        let c = Chunking::with_rows(7).unwrap();
        assert_eq!(c.n_chunks(0), 0);
        assert_eq!(c.n_chunks(7), 1);
        assert_eq!(c.n_chunks(15), 3);
        assert_eq!(c.range(2, 15), 14..15);
        assert!(Chunking::with_rows(0).is_err());
        assert_eq!(Chunking::for_dim(32).chunk_rows, 2048);
        assert_eq!(Chunking::for_dim(1).chunk_rows, 65_536);
        assert_eq!(Chunking::for_dim(100_000).chunk_rows, 64);
    }

    #[test]
    fn sum_is_bitwise_identical_on_1_2_and_8_threads() {
        let (n, d) = (10_007, 3);
        let v = data(n, d);
        let src = ArraySource::from_slice(&v, n, d).unwrap();
        let chunking = Chunking::with_rows(97).unwrap();
        let results: Vec<u64> = [1, 2, 8]
            .iter()
            .map(|&t| {
                with_threads(Some(t), || sum_pass(&src, chunking))
                    .unwrap()
                    .to_bits()
            })
            .collect();
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
    }

    #[test]
    fn merge_sees_chunks_in_index_order() {
        let (n, d) = (1000, 2);
        let v = data(n, d);
        let src = ArraySource::from_slice(&v, n, d).unwrap();
        let chunking = Chunking::with_rows(33).unwrap();
        let order = map_reduce(
            &src,
            chunking,
            PassOptions::default(),
            |c| Ok(vec![(c.index, c.start_row, c.n_rows)]),
            |mut a, b| {
                a.extend(b);
                a
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(order.len(), chunking.n_chunks(n));
        for (i, &(index, start, rows)) in order.iter().enumerate() {
            assert_eq!(index, i);
            assert_eq!(start, i * 33);
            assert_eq!(rows, chunking.range(i, n).len());
        }
    }

    #[test]
    fn per_row_output_lands_in_its_rows() {
        let (n, d) = (1001, 2);
        let v = data(n, d);
        let src = ArraySource::from_slice(&v, n, d).unwrap();
        let mut out = vec![0usize; n * 2];
        let total = map_reduce_into(
            &src,
            Chunking::with_rows(64).unwrap(),
            PassOptions::default(),
            &mut out,
            2,
            |c, o| {
                for i in 0..c.n_rows {
                    o[2 * i] = c.start_row + i;
                    o[2 * i + 1] = c.index;
                }
                Ok(c.n_rows)
            },
            |a, b| a + b,
        )
        .unwrap()
        .unwrap();
        assert_eq!(total, n);
        for r in 0..n {
            assert_eq!(out[2 * r], r);
            assert_eq!(out[2 * r + 1], r / 64);
        }
        let mut short = vec![0usize; 3];
        assert!(
            map_reduce_into(
                &src,
                Chunking::with_rows(64).unwrap(),
                PassOptions::default(),
                &mut short,
                1,
                |_, _| Ok(()),
                |_, _| (),
            )
            .is_err()
        );
    }

    #[test]
    fn ordered_map_delivers_chunks_in_order() {
        let v = data(1000, 2);
        let src = ArraySource::from_slice(&v, 1000, 2).unwrap();
        let mut seen = Vec::new();
        map_ordered(
            &src,
            Chunking::with_rows(7).unwrap(),
            PassOptions::default(),
            5,
            |c| Ok((c.index, c.data.to_vec())),
            |(i, rows)| {
                seen.push(i);
                assert_eq!(rows, &v[i * 14..(i * 14 + 14).min(v.len())]);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..143).collect::<Vec<_>>());
    }

    #[test]
    fn errors_propagate() {
        let v = data(100, 1);
        let src = ArraySource::from_slice(&v, 100, 1).unwrap();
        let r: Result<Option<()>> = map_reduce(
            &src,
            Chunking::with_rows(10).unwrap(),
            PassOptions::default(),
            |c| {
                if c.index == 3 {
                    Err(CoreError::param("x", "boom"))
                } else {
                    Ok(())
                }
            },
            |_, _| (),
        );
        assert!(r.unwrap_err().to_string().contains("boom"));
    }
}

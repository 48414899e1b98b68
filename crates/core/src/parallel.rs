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
use crate::partial::{Partial, PartialReader};
use crate::source::DataSource;

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

/// Reads chunk `index` and runs `f` on it; then reports its rows to the
/// pass's progress callback.
fn with_chunk<S, R>(
    source: &S,
    chunking: Chunking,
    index: usize,
    options: PassOptions<'_>,
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
    if let (Ok(_), Some(progress)) = (&result, options.progress) {
        progress(range.len());
    }
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
    let leaf = |index: usize| -> Result<P> { with_chunk(source, chunking, index, options, &map) };
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
    check_out_len(out.len(), n, per_row)?;
    let n_chunks = chunking.n_chunks(n);
    if n_chunks == 0 {
        return Ok(None);
    }
    source.advise_sequential();
    let leaf = |index: usize, out: &mut [T]| -> Result<P> {
        with_chunk(source, chunking, index, options, |chunk| map(chunk, out))
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

/// The maximal nodes of the merge tree over `range` that lie inside `owned`,
/// left to right.
fn maximal_nodes(range: Range<usize>, owned: &Range<usize>, out: &mut Vec<Range<usize>>) {
    if range.is_empty() || range.end <= owned.start || range.start >= owned.end {
        return;
    }
    if owned.start <= range.start && range.end <= owned.end {
        out.push(range);
        return;
    }
    let mid = range.start + range.len() / 2;
    maximal_nodes(range.start..mid, owned, out);
    maximal_nodes(mid..range.end, owned, out);
}

/// Completes the merge tree over `0..n_chunks` across processes: this process
/// computes its maximal owned subtrees with `local`, every process receives
/// every other's (one all-gather), and every process merges the nodes that
/// straddle processes itself, in the single-process tree's order. The result
/// is the single-process tree's, bit for bit, on every process.
///
/// Public so the cost of this step can be measured alone
/// (`crates/cli/examples/allreduce_cost.rs`); passes use [`map_reduce_global`].
///
/// # Errors
/// Errors of `local`; communication failures; a mangled message.
pub fn global_tree<P, L, R>(
    n_chunks: usize,
    comm: &dyn AllReduce,
    mut local: L,
    merge: &R,
) -> Result<P>
where
    P: Partial,
    L: FnMut(Range<usize>) -> Result<P>,
    R: Fn(P, P) -> P,
{
    let (rank, size) = (comm.rank(), comm.size());
    let mut nodes = Vec::new();
    maximal_nodes(0..n_chunks, &owned_chunks(n_chunks, rank, size), &mut nodes);
    let mut buf = Vec::new();
    for node in nodes {
        local(node)?.encode(&mut buf);
    }
    let all = comm.all_gather_f64(&buf)?;
    if all.len() != size {
        return Err(CoreError::param(
            "comm",
            format!(
                "all-gather returned {} buffers for {size} processes",
                all.len()
            ),
        ));
    }
    let owners: Vec<Range<usize>> = (0..size).map(|r| owned_chunks(n_chunks, r, size)).collect();
    let mut readers: Vec<PartialReader<'_>> = all.iter().map(|b| PartialReader::new(b)).collect();
    fn fold<P: Partial, R: Fn(P, P) -> P>(
        range: Range<usize>,
        owners: &[Range<usize>],
        readers: &mut [PartialReader<'_>],
        merge: &R,
    ) -> Result<P> {
        // Visited left to right, so each process's nodes come in the order it
        // encoded them.
        if let Some(r) = owners
            .iter()
            .position(|o| o.start <= range.start && range.end <= o.end)
        {
            return P::decode(&mut readers[r]);
        }
        let mid = range.start + range.len() / 2;
        let left = fold(range.start..mid, owners, readers, merge)?;
        let right = fold(mid..range.end, owners, readers, merge)?;
        Ok(merge(left, right))
    }
    fold(0..n_chunks, &owners, &mut readers, merge)
}

/// [`map_reduce`] over the global chunk grid of a source that may be shared
/// between processes ([`DataSource::comm`]): each process maps only its
/// [`owned_chunks`], and the partials are merged by the same tree as in one
/// process, so every process gets the single-process result bit for bit,
/// whatever the number of processes. For a source without a communicator (or
/// one process) this is exactly [`map_reduce`].
///
/// # Errors
/// As [`map_reduce`]; communication failures.
pub fn map_reduce_global<S, P, M, R>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    map: M,
    merge: R,
) -> Result<Option<P>>
where
    S: DataSource + ?Sized,
    P: Partial + Send,
    M: Fn(Chunk<'_>) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    let Some(comm) = source.comm().filter(|c| c.size() > 1) else {
        return map_reduce(source, chunking, options, map, merge);
    };
    let n_chunks = chunking.n_chunks(source.n_rows());
    if n_chunks == 0 {
        return Ok(None);
    }
    source.advise_sequential();
    let leaf = |index: usize| -> Result<P> { with_chunk(source, chunking, index, options, &map) };
    global_tree(n_chunks, comm, |node| tree(node, &leaf, &merge), &merge).map(Some)
}

/// [`map_reduce_into`] over the global chunk grid ([`map_reduce_global`]).
/// In a distributed run each process writes only the rows of its
/// [`owned_rows`] in `out`; the others are left as they were.
///
/// # Errors
/// As [`map_reduce_into`]; communication failures.
pub fn map_reduce_into_global<S, T, P, M, R>(
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
    P: Partial + Send,
    M: Fn(Chunk<'_>, &mut [T]) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    let Some(comm) = source.comm().filter(|c| c.size() > 1) else {
        return map_reduce_into(source, chunking, options, out, per_row, map, merge);
    };
    let n = source.n_rows();
    check_out_len(out.len(), n, per_row)?;
    let n_chunks = chunking.n_chunks(n);
    if n_chunks == 0 {
        return Ok(None);
    }
    source.advise_sequential();
    let leaf = |index: usize, out: &mut [T]| -> Result<P> {
        with_chunk(source, chunking, index, options, |chunk| map(chunk, out))
    };
    global_tree(
        n_chunks,
        comm,
        |node| {
            let first = chunking.range(node.start, n).start;
            let last = chunking.range(node.end - 1, n).end;
            let out = &mut out[first * per_row..last * per_row];
            tree_into(node, out, chunking, per_row, &leaf, &merge)
        },
        &merge,
    )
    .map(Some)
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
            .map(|index| with_chunk(source, chunking, index, options, &map))
            .collect();
        for r in results {
            sink(r?)?;
        }
        first = last;
    }
    Ok(())
}

/// An error unless a per-row output buffer of `len` values holds `n` rows of
/// `per_row` values.
fn check_out_len(len: usize, n: usize, per_row: usize) -> Result<()> {
    if len != n * per_row {
        return Err(CoreError::param(
            "out",
            format!("output buffer holds {len} values, the pass needs {n} rows × {per_row}"),
        ));
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
    /// Gathers every process's `local` buffer (of any length) on every
    /// process: element `r` of the result is rank `r`'s buffer.
    ///
    /// # Errors
    /// A communication failure.
    fn all_gather_f64(&self, local: &[f64]) -> Result<Vec<Vec<f64>>>;
    /// Waits until every process has reached this call.
    ///
    /// # Errors
    /// A communication failure.
    fn barrier(&self) -> Result<()>;
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
    fn all_gather_f64(&self, local: &[f64]) -> Result<Vec<Vec<f64>>> {
        Ok(vec![local.to_vec()])
    }
    fn barrier(&self) -> Result<()> {
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
    fn ownership_tiles_the_chunks_and_follows_the_tree() {
        for c in [0usize, 1, 2, 3, 5, 7, 64, 100, 489, 1000] {
            for size in 1..=9 {
                let mut next = 0;
                for r in 0..size {
                    let o = owned_chunks(c, r, size);
                    assert_eq!(o.start, next, "c={c} size={size} r={r}");
                    assert!(o.end >= o.start);
                    next = o.end;
                }
                assert_eq!(next, c);
            }
            if c >= 2 {
                // Two ranks split at the root.
                assert_eq!(owned_chunks(c, 1, 2).start, c / 2);
            }
        }
        for size in 2..=16 {
            // Balanced within an eighth of a share, plus a chunk of rounding.
            let c = 1000;
            for r in 0..size {
                let len = owned_chunks(c, r, size).len() as f64;
                let ideal = c as f64 / size as f64;
                assert!(
                    (len - ideal).abs() <= ideal / 4.0 + 2.0,
                    "size={size} r={r} len={len}"
                );
            }
        }
    }

    #[test]
    fn global_pass_is_bitwise_the_single_process_pass_on_any_rank_count() {
        use crate::group::ThreadGroup;
        use crate::source::Distributed;
        let (n, d) = (10_007, 3);
        let v = data(n, d);
        let src = ArraySource::from_slice(&v, n, d).unwrap();
        let chunking = Chunking::with_rows(97).unwrap();
        let one = sum_pass(&src, chunking).to_bits();
        let one_labels: Vec<u32> = (0..n as u32).map(|i| i * 3 % 7).collect();
        for ranks in 1..=5 {
            let results = ThreadGroup::run(ranks, |comm| {
                let dist = Distributed::new(&src, comm);
                let total = map_reduce_global(
                    &dist,
                    chunking,
                    PassOptions::default(),
                    |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
                    |a, b| a + b,
                )
                .unwrap()
                .unwrap();
                let mut labels = vec![u32::MAX; n];
                let (rows, count) = map_reduce_into_global(
                    &dist,
                    chunking,
                    PassOptions::default(),
                    &mut labels,
                    1,
                    |c, out| {
                        for (i, o) in out.iter_mut().enumerate() {
                            *o = (c.start_row + i) as u32 * 3 % 7;
                        }
                        Ok((c.n_rows as u64, vec![c.index]))
                    },
                    |a, b| (a.0 + b.0, [a.1, b.1].concat()),
                )
                .unwrap()
                .unwrap();
                assert_eq!(rows, n as u64);
                assert_eq!(count, (0..chunking.n_chunks(n)).collect::<Vec<_>>());
                let mine = owned_rows(n, chunking, comm.rank(), comm.size());
                for (i, &l) in labels.iter().enumerate() {
                    if mine.contains(&i) {
                        assert_eq!(l, one_labels[i]);
                    } else {
                        assert_eq!(l, u32::MAX, "row {i} is another rank's");
                    }
                }
                total.to_bits()
            });
            assert!(results.iter().all(|&b| b == one), "{ranks} ranks");
        }
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

//! The fixed merge tree over chunk indices, in one process: [`map_reduce`] and
//! [`map_reduce_into`], and the per-chunk read they share with the other passes.

use std::cell::Cell;
use std::ops::Range;

use super::walk::Walk;
use super::{Chunk, Chunking, PassOptions};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

thread_local! {
    /// Conversion buffer reused by the chunks a worker reads. Taken out while
    /// in use, so a nested pass (or work stolen during a join) gets its own.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Reads chunk `index` (after hinting the chunks the walk reaches next) and
/// runs `f` on it; then tells the walk it is done with the chunk and reports
/// its rows to the pass's progress callback.
pub(super) fn with_chunk<S, R>(
    source: &S,
    chunking: Chunking,
    walk: &Walk,
    index: usize,
    options: PassOptions<'_>,
    f: impl FnOnce(Chunk<'_>) -> Result<R, CoreError>,
) -> Result<R, CoreError>
where
    S: DataSource + ?Sized,
{
    walk.before(source, index);
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
    walk.after(source, index);
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
/// number of rayon threads and either [`Direction`](super::Direction) of the
/// walk.
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
    let walk = Walk::start(source, chunking, options.direction, false);
    let leaf =
        |index: usize| -> Result<P> { with_chunk(source, chunking, &walk, index, options, &map) };
    tree(0..n_chunks, walk.backward, &leaf, &merge).map(Some)
}

/// The merge tree over `range`. A backward walk runs each node's upper half
/// first (on this thread; the lower half is left for another worker to take),
/// and still merges `merge(lower, upper)`: the same tree, the same bits.
pub(super) fn tree<P, L, R>(range: Range<usize>, backward: bool, leaf: &L, merge: &R) -> Result<P>
where
    P: Send,
    L: Fn(usize) -> Result<P> + Sync,
    R: Fn(P, P) -> P + Sync,
{
    if range.len() == 1 {
        return leaf(range.start);
    }
    let mid = range.start + range.len() / 2;
    let lower = || tree(range.start..mid, backward, leaf, merge);
    let upper = || tree(mid..range.end, backward, leaf, merge);
    let (left, right) = join_walking(backward, lower, upper);
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
    let walk = Walk::start(source, chunking, options.direction, false);
    let leaf = |index: usize, out: &mut [T]| -> Result<P> {
        with_chunk(source, chunking, &walk, index, options, |chunk| {
            map(chunk, out)
        })
    };
    tree_into(
        0..n_chunks,
        walk.backward,
        out,
        chunking,
        per_row,
        &leaf,
        &merge,
    )
    .map(Some)
}

/// `rayon::join` of a node's halves, the upper one first (on this thread)
/// when walking backward; the results always come as `(lower, upper)`.
fn join_walking<A: Send, B: Send>(
    backward: bool,
    lower: impl FnOnce() -> A + Send,
    upper: impl FnOnce() -> B + Send,
) -> (A, B) {
    if backward {
        let (b, a) = rayon::join(upper, lower);
        (a, b)
    } else {
        rayon::join(lower, upper)
    }
}

/// [`tree`] with each leaf's rows of a per-row output.
#[allow(clippy::too_many_arguments)]
pub(super) fn tree_into<T, P, L, R>(
    range: Range<usize>,
    backward: bool,
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
    let lower = || {
        tree_into(
            range.start..mid,
            backward,
            lo,
            chunking,
            per_row,
            leaf,
            merge,
        )
    };
    let upper = || tree_into(mid..range.end, backward, hi, chunking, per_row, leaf, merge);
    let (left, right) = join_walking(backward, lower, upper);
    Ok(merge(left?, right?))
}

/// An error unless a per-row output buffer of `len` values holds `n` rows of
/// `per_row` values.
pub(super) fn check_out_len(len: usize, n: usize, per_row: usize) -> Result<()> {
    if len != n * per_row {
        return Err(CoreError::param(
            "out",
            format!("output buffer holds {len} values, the pass needs {n} rows × {per_row}"),
        ));
    }
    Ok(())
}

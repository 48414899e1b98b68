//! The merge tree across processes: each process maps its own chunks, and the
//! nodes that straddle processes are merged by every process, in the
//! single-process order, so every rank gets the one-process result bit for bit.

use std::ops::Range;

use super::tree::{check_out_len, map_reduce, map_reduce_into, tree, tree_into, with_chunk};
use super::walk::Walk;
use super::{Chunk, Chunking, PassOptions, owned_chunks};
use crate::allreduce::AllReduce;
use crate::error::{CoreError, Result};
use crate::partial::{Partial, PartialReader};
use crate::source::DataSource;

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
        return Err(CoreError::communication(format!(
            "all-gather returned {} buffers for {size} processes",
            all.len()
        )));
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
    let walk = Walk::start(source, chunking, options.direction, false);
    let leaf =
        |index: usize| -> Result<P> { with_chunk(source, chunking, &walk, index, options, &map) };
    let local = |node| tree(node, walk.backward, &leaf, &merge);
    global_tree(n_chunks, comm, local, &merge).map(Some)
}

/// [`map_reduce_into`] over the global chunk grid ([`map_reduce_global`]).
/// In a distributed run each process writes only the rows of its
/// [`owned_rows`](super::owned_rows) in `out`; the others are left as they were.
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
    let all = 0..source.n_rows();
    into_global(source, chunking, options, out, all, per_row, map, merge)
}

/// The rows whose per-row values this process computes in passes over the
/// global chunk grid of `source`: its [`owned_rows`](super::owned_rows) in a
/// distributed run, every row otherwise.
#[must_use]
pub fn local_rows<S: DataSource + ?Sized>(source: &S, chunking: Chunking) -> Range<usize> {
    let n = source.n_rows();
    match source.comm().filter(|c| c.size() > 1) {
        Some(comm) => super::owned_rows(n, chunking, comm.rank(), comm.size()),
        None => 0..n,
    }
}

/// [`map_reduce_into_global`] with `out` holding only this process's rows,
/// [`local_rows`] (`per_row` values each): per-row state that lives with the
/// rows a process computes (labels, the bounds of accelerated K-means), so a
/// process of a distributed run keeps O(n / processes) of it, not O(n). The
/// statistics are those of every row, as from [`map_reduce_into_global`].
///
/// # Errors
/// As [`map_reduce_into`]; communication failures.
pub fn map_reduce_into_local<S, T, P, M, R>(
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
    let mine = local_rows(source, chunking);
    into_global(source, chunking, options, out, mine, per_row, map, merge)
}

/// The pass of [`map_reduce_into_global`] and [`map_reduce_into_local`]:
/// `out` holds rows `held` (`per_row` values each), all of this process's rows.
#[allow(clippy::too_many_arguments)]
fn into_global<S, T, P, M, R>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    out: &mut [T],
    held: Range<usize>,
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
    check_out_len(out.len(), held.len(), per_row)?;
    let first = held.start;
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
    global_tree(
        n_chunks,
        comm,
        |node| {
            let start = chunking.range(node.start, n).start - first;
            let end = chunking.range(node.end - 1, n).end - first;
            let out = &mut out[start * per_row..end * per_row];
            tree_into(node, walk.backward, out, chunking, per_row, &leaf, &merge)
        },
        &merge,
    )
    .map(Some)
}

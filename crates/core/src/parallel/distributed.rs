//! The merge tree across processes: each process maps its own chunks, and the
//! nodes that straddle processes are merged by every process, in the
//! single-process order, so every rank gets the one-process result bit for bit.
//! Over node-local shards (each process can read only its own rows) the grid
//! is per process instead, and the processes' partials merge in rank order.

use std::ops::Range;

use super::tree::{check_out_len, map_reduce, map_reduce_into, tree, tree_into, with_chunk};
use super::walk::Walk;
use super::{Chunk, Chunking, PassOptions, owned_chunks};
use crate::allreduce::AllReduce;
use crate::error::{CoreError, Result};
use crate::partial::{Partial, PartialReader};
use crate::source::{DataSource, RowRange};

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
/// Over node-local shards ([`DataSource::node_layout`]) each process maps its
/// own rows with its own chunk grid and merge tree ([`map_reduce`] over them,
/// chunks renumbered as in [`pass_chunks`]), and the processes' partials are
/// merged left to right in rank order: the same bits on every process and for
/// every run with the same layout, not those of one process.
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
    if let Some(layout) = source.node_layout() {
        let (held, first_chunk) = node_share(layout, comm, chunking);
        let view = RowRange::new(source, held.clone())?;
        let mine = map_reduce(
            &view,
            chunking,
            options,
            |c| map(shift(c, first_chunk, held.start)),
            &merge,
        )?;
        return fold_ranks(comm, mine, &merge);
    }
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
        Some(comm) => match source.node_layout() {
            Some(layout) => layout[comm.rank()]..layout[comm.rank() + 1],
            None => super::owned_rows(n, chunking, comm.rank(), comm.size()),
        },
        None => 0..n,
    }
}

/// The chunks of a pass over `source` in merge order, as global row ranges,
/// and the indices of those this process maps: the global chunk grid split by
/// [`owned_chunks`], or over node-local shards each process's own grid, in
/// rank order. One process: every chunk of the grid.
#[must_use]
pub fn pass_chunks<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
) -> (Vec<Range<usize>>, Range<usize>) {
    let n = source.n_rows();
    let comm = source.comm().filter(|c| c.size() > 1);
    match (comm, source.node_layout()) {
        (Some(comm), Some(layout)) => {
            let mut chunks = Vec::new();
            let mut mine = 0..0;
            for (r, w) in layout.windows(2).enumerate() {
                let len = w[1] - w[0];
                let start = chunks.len();
                chunks.extend((0..chunking.n_chunks(len)).map(|i| {
                    let c = chunking.range(i, len);
                    c.start + w[0]..c.end + w[0]
                }));
                if r == comm.rank() {
                    mine = start..chunks.len();
                }
            }
            (chunks, mine)
        }
        (comm, _) => {
            let n_chunks = chunking.n_chunks(n);
            let chunks = (0..n_chunks).map(|i| chunking.range(i, n)).collect();
            let mine = comm.map_or(0..n_chunks, |c| owned_chunks(n_chunks, c.rank(), c.size()));
            (chunks, mine)
        }
    }
}

/// The rows `rows` (any order, repeats allowed) of `source`, row-major, on
/// every process. Over node-local shards this is collective (every process
/// calls it with the same rows): each process reads the rows it holds and one
/// all-gather hands them to all. Otherwise each process reads them itself.
///
/// # Errors
/// Read errors; communication failures.
pub fn gather_rows<S: DataSource + ?Sized>(source: &S, rows: &[usize]) -> Result<Vec<f32>> {
    let d = source.n_cols();
    let mut scratch = Vec::new();
    let (Some(comm), Some(layout)) = (source.comm().filter(|c| c.size() > 1), source.node_layout())
    else {
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            out.extend_from_slice(source.rows(r..r + 1, &mut scratch)?);
        }
        return Ok(out);
    };
    let owner = |r: usize| layout.partition_point(|&s| s <= r).saturating_sub(1);
    let me = comm.rank();
    let mut mine = Vec::new();
    for &r in rows {
        if r >= source.n_rows() {
            return Err(CoreError::param(
                "rows",
                format!(
                    "row {r} is past the {} rows of {}",
                    source.n_rows(),
                    source.name()
                ),
            ));
        }
        if owner(r) == me {
            mine.extend(
                source
                    .rows(r..r + 1, &mut scratch)?
                    .iter()
                    .map(|&v| f64::from(v)),
            );
        }
    }
    let all = comm.all_gather_f64(&mine)?;
    let mut at = vec![0usize; all.len()];
    let mut out = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        let o = owner(r);
        let part = all
            .get(o)
            .and_then(|b| b.get(at[o]..at[o] + d))
            .ok_or_else(|| {
                CoreError::communication(format!("gathered rows: process {o} sent too few values"))
            })?;
        // f32 → f64 → f32 is exact.
        out.extend(part.iter().map(|&v| v as f32));
        at[o] += d;
    }
    Ok(out)
}

/// This process's rows over node-local shards, and the pass index of its
/// first chunk (the chunks of lower ranks come first).
fn node_share(layout: &[usize], comm: &dyn AllReduce, chunking: Chunking) -> (Range<usize>, usize) {
    let r = comm.rank();
    let first = layout
        .windows(2)
        .take(r)
        .map(|w| chunking.n_chunks(w[1] - w[0]))
        .sum();
    (layout[r]..layout[r + 1], first)
}

/// A chunk of a process's own grid, renumbered in the global pass.
fn shift(c: Chunk<'_>, first_chunk: usize, first_row: usize) -> Chunk<'_> {
    Chunk {
        index: c.index + first_chunk,
        start_row: c.start_row + first_row,
        ..c
    }
}

/// Every process's partial (`None`: no rows) merged left to right in rank
/// order, on every process.
fn fold_ranks<P: Partial, R: Fn(P, P) -> P>(
    comm: &dyn AllReduce,
    mine: Option<P>,
    merge: &R,
) -> Result<Option<P>> {
    let mut buf = Vec::new();
    if let Some(p) = mine {
        buf.push(1.0);
        p.encode(&mut buf);
    }
    let all = comm.all_gather_f64(&buf)?;
    let mut acc: Option<P> = None;
    for b in &all {
        let Some((_, rest)) = b.split_first() else {
            continue;
        };
        let p = P::decode(&mut PartialReader::new(rest))?;
        acc = Some(match acc {
            None => p,
            Some(a) => merge(a, p),
        });
    }
    Ok(acc)
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
    if let Some(layout) = source.node_layout() {
        let (rows, first_chunk) = node_share(layout, comm, chunking);
        let off = rows.start - held.start;
        let out = &mut out[off * per_row..(off + rows.len()) * per_row];
        let view = RowRange::new(source, rows.clone())?;
        let mine = map_reduce_into(
            &view,
            chunking,
            options,
            out,
            per_row,
            |c, o| map(shift(c, first_chunk, rows.start), o),
            &merge,
        )?;
        return fold_ranks(comm, mine, &merge);
    }
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

//! Ordered passes: chunk results handed to a sink in chunk order, for passes
//! that write an output file.

use super::tree::with_chunk;
use super::walk::Walk;
use super::{Chunk, Chunking, PassOptions};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// Maps chunks in parallel and hands the results to `sink` in chunk order:
/// for passes that write an output file (standardised rows, labels).
///
/// Chunks are processed in batches of `batch` chunks (at least 1): the batch
/// runs on the rayon pool, then `sink` consumes its results sequentially, so
/// memory stays bounded by one batch of results whatever the size of the input.
///
/// `sink` returns its own error type `E` (an output file's I/O error, say),
/// which the chunk errors convert into, so a caller gets the sink's error back
/// as it was, not wrapped in a [`CoreError`].
///
/// # Errors
/// The first error of `map` (in chunk order), of the source, or of `sink`.
pub fn map_ordered<S, T, M, K, E>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    batch: usize,
    map: M,
    mut sink: K,
) -> Result<(), E>
where
    S: DataSource + ?Sized,
    T: Send,
    M: Fn(Chunk<'_>) -> Result<T> + Sync,
    K: FnMut(T) -> Result<(), E>,
    E: From<CoreError>,
{
    use rayon::prelude::*;
    let n = source.n_rows();
    let n_chunks = chunking.n_chunks(n);
    let walk = Walk::start(source, chunking, options.direction, true);
    let batch = batch.max(1);
    let mut first = 0;
    while first < n_chunks {
        let last = (first + batch).min(n_chunks);
        let results: Vec<Result<T>> = (first..last)
            .into_par_iter()
            .map(|index| with_chunk(source, chunking, &walk, index, options, &map))
            .collect();
        for r in results {
            sink(r?)?;
        }
        first = last;
    }
    Ok(())
}

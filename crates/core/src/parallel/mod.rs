//! Deterministic chunked map-reduce over a [`DataSource`](crate::DataSource), and the
//! all-reduce seam.
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
//!
//! The module is split by phase: [`chunking`](Chunking) (rows into chunks,
//! chunks into processes), the one-process merge tree (`tree.rs`), the merge
//! tree across processes (`distributed.rs`) and ordered passes for outputs
//! (`ordered.rs`); the [`AllReduce`] trait lives in [`crate::allreduce`].

mod chunking;
mod distributed;
mod ordered;
mod tree;
mod walk;

pub use crate::allreduce::{AllReduce, SingleProcess};
pub use chunking::{Chunk, Chunking, TARGET_CHUNK_BYTES, owned_chunks, owned_rows};
pub use distributed::{
    gather_rows, global_tree, local_rows, map_reduce_global, map_reduce_into_global,
    map_reduce_into_local, pass_chunks,
};
pub use ordered::map_ordered;
pub use tree::{map_reduce, map_reduce_into};
pub use walk::{Direction, READ_AHEAD_BYTES};

use crate::error::{CoreError, Result};

/// Options of one pass.
#[derive(Clone, Copy, Default)]
pub struct PassOptions<'p> {
    /// Called after each chunk with the number of rows it held (from worker
    /// threads, in no particular order). For progress bars.
    pub progress: Option<&'p (dyn Fn(usize) + Sync)>,
    /// The order the pass visits its chunks in: speed only, never a result
    /// ([`Direction::Auto`]: alternating, see `walk.rs`). Ordered passes
    /// ([`map_ordered`]) always run forward.
    pub direction: Direction,
}

impl std::fmt::Debug for PassOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassOptions")
            .field("progress", &self.progress.is_some())
            .field("direction", &self.direction)
            .finish()
    }
}

/// The merge of partials that are sums cell by cell (per-column sums, per
/// cluster and column sums): `a[i] += b[i]` for every cell, in `a`'s storage.
/// `b` has `a`'s length.
#[must_use]
pub fn add_cells<T: std::ops::AddAssign + Copy>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
    debug_assert_eq!(a.len(), b.len(), "add_cells: partials of unequal length");
    for (x, &y) in a.iter_mut().zip(&b) {
        *x += y;
    }
    a
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
mod tests;

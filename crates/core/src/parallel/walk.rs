//! How a pass walks its chunks over a file: the direction, and the read-ahead
//! windows ahead of the chunks being computed. Both change only speed, never
//! a result: the merge tree stays fixed by chunk index (tree.rs), whichever
//! half of a node runs first.
//!
//! * **Direction.** Passes over a file larger than the page cache get no cache
//!   hits when they all run forward: each evicts what the next reads first.
//!   Unordered passes ([`Direction::Auto`]) therefore alternate, forward then
//!   backward, process-wide, so a pass starts where the previous one ended,
//!   on the pages still cached. Ordered passes (outputs written in row order)
//!   run forward.
//! * **Read-ahead.** Each worker thread hints ([`DataSource::will_need`],
//!   `MADV_WILLNEED` on a mapped file) the chunks it is about to compute, a
//!   window of about [`READ_AHEAD_BYTES`] ahead of its position in the
//!   direction of the pass, refilled half a window at a time, on backward
//!   walks: the kernel's own read-ahead follows forward page faults only.
//!   Forward walks leave it to the kernel (`MADV_SEQUENTIAL`): on this
//!   project's 32 GiB measurement they ran at the disk's rate without hints,
//!   and no faster with them.
//!
//! Both are speed-only, so the machine may tune them: `MMCLUST_READ_AHEAD_MIB`
//! sets the window for both directions (0 turns hints off) and `MMCLUST_PASS_DIRECTION=forward`
//! turns the alternation off (for measuring either).

use std::cell::Cell;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Chunking;
use crate::source::DataSource;

/// Bytes of data a worker keeps hinted ahead of the chunk it computes on a
/// backward walk, by default (`MMCLUST_READ_AHEAD_MIB` sets it for both
/// directions).
pub const READ_AHEAD_BYTES: usize = 64 << 20;

/// The order in which a pass visits its chunks. Never changes a result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    /// The opposite of the previous unordered pass of this process
    /// (forward when `MMCLUST_PASS_DIRECTION=forward`).
    #[default]
    Auto,
    /// Lower chunk indices first.
    Forward,
    /// Higher chunk indices first.
    Backward,
}

/// Whether the last unordered pass of this process ran backward.
static LAST_BACKWARD: AtomicBool = AtomicBool::new(true);
/// Numbers the passes, so a worker knows when its read-ahead stream is stale.
static PASS_ID: AtomicU64 = AtomicU64::new(1);

struct Tuning {
    /// `None`: the default, hints on backward walks only.
    window_bytes: Option<usize>,
    alternate: bool,
}

fn tuning() -> &'static Tuning {
    static TUNING: OnceLock<Tuning> = OnceLock::new();
    TUNING.get_or_init(|| Tuning {
        window_bytes: std::env::var("MMCLUST_READ_AHEAD_MIB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|mib| mib << 20),
        alternate: std::env::var("MMCLUST_PASS_DIRECTION").map_or(true, |v| v.trim() != "forward"),
    })
}

thread_local! {
    /// This worker's read-ahead stream: the pass it belongs to and how far,
    /// in walk positions, it has hinted (exclusive).
    static STREAM: Cell<(u64, usize)> = const { Cell::new((0, 0)) };
}

/// One pass's walk over `n_chunks` chunks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Walk {
    pub(super) backward: bool,
    id: u64,
    n_chunks: usize,
    chunk_rows: usize,
    /// Chunks per read-ahead window (0: no hints).
    window: usize,
}

impl Walk {
    /// The walk of an unordered pass (`direction` resolved, the source
    /// advised), or of an ordered one (`ordered`: always forward).
    pub(super) fn start<S: DataSource + ?Sized>(
        source: &S,
        chunking: Chunking,
        direction: Direction,
        ordered: bool,
    ) -> Walk {
        let tuning = tuning();
        let backward = match direction {
            _ if ordered => false,
            Direction::Forward => false,
            Direction::Backward => true,
            Direction::Auto => tuning.alternate && !LAST_BACKWARD.load(Ordering::Relaxed),
        };
        if direction == Direction::Auto || ordered {
            LAST_BACKWARD.store(backward, Ordering::Relaxed);
        }
        // The kernel's sequential read-ahead helps forward walks; backward
        // ones live on the hints.
        if !backward {
            source.advise_sequential();
        }
        let chunk_bytes = chunking
            .chunk_rows
            .saturating_mul(4 * source.n_cols().max(1));
        // Measured on a 32 GiB file (docs/benchmarks.md, beyond-ram): forward
        // passes run at the disk's rate on the kernel's read-ahead alone, and
        // hints made them no faster, so by default only backward walks hint.
        let window = match tuning.window_bytes {
            Some(0) => 0,
            Some(bytes) => (bytes / chunk_bytes.max(1)).max(2),
            None if backward => (READ_AHEAD_BYTES / chunk_bytes.max(1)).max(2),
            None => 0,
        };
        Walk {
            backward,
            id: PASS_ID.fetch_add(1, Ordering::Relaxed),
            n_chunks: chunking.n_chunks(source.n_rows()),
            chunk_rows: chunking.chunk_rows,
            window,
        }
    }

    /// Called by a worker before it reads chunk `index`: hints the chunks it
    /// will compute next. A worker whose chunk is not where its stream was
    /// (its first chunk of the pass, or work taken from another worker)
    /// starts a new stream with a whole window from `index` on; otherwise it
    /// refills half a window when less than that is left ahead of it.
    pub(super) fn before<S: DataSource + ?Sized>(&self, source: &S, index: usize) {
        if let Some(positions) = self.next_hint(index) {
            let chunks = self.chunks(positions);
            let n = source.n_rows();
            let rows =
                (chunks.start * self.chunk_rows).min(n)..(chunks.end * self.chunk_rows).min(n);
            if !rows.is_empty() {
                source.will_need(rows);
            }
        }
    }

    /// The walk positions (0 = the first chunk the walk visits) to hint
    /// before chunk `index`, updating this thread's stream.
    fn next_hint(&self, index: usize) -> Option<Range<usize>> {
        if self.window == 0 || index >= self.n_chunks {
            return None;
        }
        let pos = if self.backward {
            self.n_chunks - 1 - index
        } else {
            index
        };
        let (id, frontier) = STREAM.with(Cell::get);
        let half = (self.window / 2).max(1);
        let hint = if id != self.id || pos >= frontier || frontier - pos > self.window + 1 {
            pos..pos + 1 + self.window
        } else if frontier - pos <= half {
            frontier..frontier + half
        } else {
            return None;
        };
        let hint = hint.start..hint.end.min(self.n_chunks);
        STREAM.with(|s| s.set((self.id, hint.end.max(pos + 1))));
        (!hint.is_empty()).then_some(hint)
    }

    /// Chunk indices of walk positions `p`.
    fn chunks(&self, p: Range<usize>) -> Range<usize> {
        if self.backward {
            self.n_chunks - p.end..self.n_chunks - p.start
        } else {
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(backward: bool, n_chunks: usize, window: usize) -> Walk {
        Walk {
            backward,
            id: PASS_ID.fetch_add(1, Ordering::Relaxed),
            n_chunks,
            chunk_rows: 10,
            window,
        }
    }

    /// Visits `order` on one thread; returns, per chunk, the visit at which
    /// it was first hinted, and how many times it was hinted.
    fn hints(w: &Walk, order: &[usize]) -> (Vec<Option<usize>>, Vec<usize>) {
        let mut first = vec![None; w.n_chunks];
        let mut count = vec![0; w.n_chunks];
        for (visit, &index) in order.iter().enumerate() {
            if let Some(p) = w.next_hint(index) {
                let chunks = w.chunks(p.clone());
                assert!(chunks.end <= w.n_chunks && chunks.start < chunks.end);
                let ahead = p.end
                    - if w.backward {
                        w.n_chunks - 1 - index
                    } else {
                        index
                    };
                assert!(ahead <= w.window + 1, "hinted {ahead} chunks ahead");
                for c in chunks {
                    first[c].get_or_insert(visit);
                    count[c] += 1;
                }
            }
        }
        (first, count)
    }

    #[test]
    fn one_stream_hints_every_chunk_once_before_it_is_read() {
        for backward in [false, true] {
            let w = walk(backward, 37, 6);
            let order: Vec<usize> = if backward {
                (0..37).rev().collect()
            } else {
                (0..37).collect()
            };
            let (first, count) = hints(&w, &order);
            for (visit, &c) in order.iter().enumerate() {
                assert!(
                    first[c].is_some_and(|f| f <= visit),
                    "chunk {c} not hinted first"
                );
            }
            assert!(count.iter().all(|&n| n == 1), "{count:?}");
            // Refills come half a window at a time, not a call per chunk.
            let calls = order.iter().filter(|&&i| w.next_hint(i).is_some()).count();
            assert!(calls <= 37 / 3 + 2, "{calls} hint calls");
        }
    }

    #[test]
    fn a_jump_starts_a_new_stream_and_hints_stay_in_the_pass() {
        let w = walk(false, 100, 8);
        // A worker's own run, then work taken from elsewhere, both ways.
        let order: Vec<usize> = (0..20).chain(60..75).chain(30..40).collect();
        let (first, _) = hints(&w, &order);
        for (visit, &c) in order.iter().enumerate() {
            assert!(first[c].is_some_and(|f| f <= visit), "chunk {c}");
        }
        assert!(first[90..].iter().all(Option::is_none));
        let last = walk(true, 5, 64);
        assert_eq!(last.next_hint(4), Some(0..5));
        assert_eq!(last.chunks(0..5), 0..5);
        assert_eq!(walk(false, 5, 0).next_hint(0), None);
    }
}

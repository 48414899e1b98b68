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
//! * **Drop-behind and lead** (a source larger than the page cache can hold:
//!   more than [`CACHE_SHARE`] of the memory available, from `MemAvailable`
//!   and the process's cgroup limit, and at least 256 MiB). Each of the `p` parts the workers walk
//!   side by side (the halves of the merge tree on 2 threads; not ordered
//!   passes, see [`Walk::start`]) keeps its last `keep` chunks cached for the next
//!   pass, which starts there, and drops every other chunk once computed
//!   ([`Hint::Passed`]). Before computing the chunk at position `i` of its
//!   part, a worker hints the chunk `keep` positions further on: so while a
//!   pass computes the chunks the previous pass left cached, the disk is
//!   already reading the first ones it did not, and the freed pages take
//!   them without waiting for reclaim. Measured on the 32 GiB file: without
//!   it the kernel's reclaim and page faults took 25–40 % of the two cores
//!   (`vmstat`) and they sat idle about a fifth of the time (`perf`), a
//!   Lloyd iteration costing about the disk's time plus the compute's; with
//!   it, about the compute's (docs/benchmarks.md, beyond-ram).
//!
//! All are speed-only, so the machine may tune them: `MMCLUST_READ_AHEAD_MIB`
//! sets the window for both directions (0 turns hints off),
//! `MMCLUST_PASS_DIRECTION=forward` turns the alternation off,
//! `MMCLUST_DROP_BEHIND=0` the drop-behind and lead (for measuring each), and
//! `MMCLUST_CACHE_MIB` sets the memory counted as available (the tests drop
//! pages behind small files with it).

use std::cell::Cell;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Chunking;
use crate::source::{DataSource, Hint};

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

/// The share of the memory available for the page cache that a pass's
/// drop-behind keeps cached for the next pass (the rest is left to the
/// read-ahead, the lead's chunks in flight and everything else).
pub(crate) const CACHE_SHARE: f64 = 0.8;

/// Sources smaller than this (in `f32` bytes) are never dropped behind
/// (unless `MMCLUST_CACHE_MIB` is set).
const DROP_BEHIND_MIN_BYTES: f64 = (256u64 << 20) as f64;

struct Tuning {
    /// `None`: the default, hints on backward walks only.
    window_bytes: Option<usize>,
    alternate: bool,
    drop_behind: bool,
    /// `MMCLUST_CACHE_MIB`: the memory available for the page cache, in
    /// place of what the machine reports.
    cache_mib: Option<u64>,
}

fn tuning() -> &'static Tuning {
    static TUNING: OnceLock<Tuning> = OnceLock::new();
    TUNING.get_or_init(|| Tuning {
        window_bytes: std::env::var("MMCLUST_READ_AHEAD_MIB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|mib| mib << 20),
        alternate: std::env::var("MMCLUST_PASS_DIRECTION").map_or(true, |v| v.trim() != "forward"),
        drop_behind: std::env::var("MMCLUST_DROP_BEHIND").map_or(true, |v| v.trim() != "0"),
        cache_mib: std::env::var("MMCLUST_CACHE_MIB")
            .ok()
            .and_then(|v| v.trim().parse().ok()),
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
    /// Chunks per part: the parts the workers walk side by side.
    part: usize,
    /// With drop-behind: the chunks at the end of each part left cached,
    /// and how far ahead a worker hints (see the module's docs).
    keep: Option<usize>,
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
        let n_chunks = chunking.n_chunks(source.n_rows());
        // The merge tree's halves (and theirs) go to the workers.
        let parts = rayon::current_num_threads().max(1);
        let part = n_chunks.div_ceil(parts).max(1);
        let source_bytes = (source.n_rows() as f64) * (4 * source.n_cols()) as f64;
        // Smaller sources never outgrow the cache here: no need to read the
        // memory figures on every pass of a small fit. Ordered passes run
        // as the kernel's read-ahead leads them. On the 32 GiB file a
        // `predict` pass took 28.6 s that way and 40.7 s with drop-behind and
        // lead (the lead, a whole kept zone ahead, competed with the reads
        // the pass waited on). Between batches instead, from the thread that
        // writes (every worker waits there): a 64 MiB lead hinted 2 MiB per
        // batch and a drop per batch, 43.5 s against 28.3; the lead hinted
        // and the drops made 32 MiB at a time, 60–62 s against 27.0–28.1
        // (the hint's call waits on the disk's queue); drops alone, 29.4–30.2
        // against 27.9–29.0. The pass is bound by its compute there: 47 s of
        // CPU on 2 cores (docs/benchmarks.md, beyond-ram).
        let large = source_bytes >= DROP_BEHIND_MIN_BYTES || tuning.cache_mib.is_some();
        let keep = (tuning.drop_behind && large && !ordered)
            .then(cache_budget)
            .flatten()
            .filter(|&budget| source_bytes > budget)
            .map(|budget| ((part as f64) * budget / source_bytes) as usize);
        Walk {
            backward,
            id: PASS_ID.fetch_add(1, Ordering::Relaxed),
            n_chunks,
            chunk_rows: chunking.chunk_rows,
            window,
            part,
            keep,
        }
    }

    /// Chunk `index`'s position in its part's walk, the part's first chunk
    /// and its length. Position and offset in the part map to each other
    /// the same way both ways.
    fn position(&self, index: usize) -> (usize, usize, usize) {
        let start = index / self.part * self.part;
        let len = self.part.min(self.n_chunks - start);
        (self.flip(index - start, len), start, len)
    }

    /// An offset in a part of `len` chunks as a walk position, or back.
    fn flip(&self, x: usize, len: usize) -> usize {
        if self.backward { len - 1 - x } else { x }
    }

    /// Rows of `chunks`, of a source of `n` rows.
    fn rows(&self, chunks: Range<usize>, n: usize) -> Range<usize> {
        (chunks.start * self.chunk_rows).min(n)..(chunks.end * self.chunk_rows).min(n)
    }

    /// Called by a worker once it has computed chunk `index`: with
    /// drop-behind, drops the chunk unless it is among its part's last
    /// `keep`, which the next pass reads first.
    pub(super) fn after<S: DataSource + ?Sized>(&self, source: &S, index: usize) {
        if let Some(keep) = self.keep {
            let (pos, _, len) = self.position(index);
            if pos + keep < len {
                let hint = Hint::Passed {
                    backward: self.backward,
                };
                source.hint(self.rows(index..index + 1, source.n_rows()), hint);
            }
        }
    }

    /// Called by a worker before it reads chunk `index`: hints the chunks it
    /// will compute next. A worker whose chunk is not where its stream was
    /// (its first chunk of the pass, or work taken from another worker)
    /// starts a new stream with a whole window from `index` on; otherwise it
    /// refills half a window when less than that is left ahead of it.
    pub(super) fn before<S: DataSource + ?Sized>(&self, source: &S, index: usize) {
        let n = source.n_rows();
        if let Some(keep) = self.keep.filter(|&k| k > 0) {
            let (pos, start, len) = self.position(index);
            if pos + keep < len {
                let ahead = start + self.flip(pos + keep, len);
                source.will_need(self.rows(ahead..ahead + 1, n));
            }
        }
        if let Some(positions) = self.next_hint(index) {
            let rows = self.rows(self.chunks(positions), n);
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

/// Bytes of page cache a pass may count on keeping: [`CACHE_SHARE`] of the
/// smaller of `MemAvailable` and, in a memory cgroup with a limit (v2
/// `memory.max`, v1 `memory.limit_in_bytes`), the limit less the group's
/// anonymous memory. `None` where `/proc/meminfo` cannot be read (not Linux).
/// Read at the start of each pass: a speed-only choice, so it may depend on
/// the machine.
fn cache_budget() -> Option<f64> {
    if let Some(mib) = tuning().cache_mib {
        return Some((mib << 20) as f64 * CACHE_SHARE);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = kib_field(&meminfo, "MemAvailable:")? * 1024;
    let limit = cgroup_room().unwrap_or(u64::MAX);
    Some(available.min(limit) as f64 * CACHE_SHARE)
}

/// `name`'s value in a `/proc/meminfo`-style text (`name value kB`).
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The cgroup's memory limit less its anonymous memory, where the process's
/// cgroup sets a limit.
fn cgroup_room() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let field = |text: &str, name: &str| -> Option<u64> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
    };
    for line in groups.lines() {
        let mut it = line.splitn(3, ':');
        let (_, controllers, path) = (it.next()?, it.next()?, it.next()?);
        let (dir, limit_file, anon) = if controllers.is_empty() {
            (format!("/sys/fs/cgroup{path}"), "memory.max", "anon")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                format!("/sys/fs/cgroup/memory{path}"),
                "memory.limit_in_bytes",
                "total_rss",
            )
        } else {
            continue;
        };
        let Ok(limit) = std::fs::read_to_string(format!("{dir}/{limit_file}")) else {
            continue;
        };
        let Ok(limit) = limit.trim().parse::<u64>() else {
            continue; // "max": no limit
        };
        let stat = std::fs::read_to_string(format!("{dir}/memory.stat")).unwrap_or_default();
        return Some(limit.saturating_sub(field(&stat, anon).unwrap_or(0)));
    }
    None
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
            part: n_chunks,
            keep: None,
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

    /// A source that records the hints it gets.
    struct Recorder(std::sync::Mutex<Vec<(Range<usize>, Hint)>>);

    impl DataSource for Recorder {
        fn n_rows(&self) -> usize {
            95
        }
        fn n_cols(&self) -> usize {
            1
        }
        fn rows<'a>(&'a self, _: Range<usize>, _: &'a mut Vec<f32>) -> crate::Result<&'a [f32]> {
            unreachable!("hints only")
        }
        fn name(&self) -> String {
            "recorder".into()
        }
        fn hint(&self, range: Range<usize>, hint: Hint) {
            self.0.lock().unwrap().push((range, hint));
        }
    }

    #[test]
    fn drop_behind_keeps_each_parts_end_and_hints_keep_ahead() {
        for backward in [false, true] {
            // 10 chunks of 10 rows (the last one 5), two parts of 5, keep 2.
            let w = Walk {
                part: 5,
                keep: Some(2),
                ..walk(backward, 10, 0)
            };
            let src = Recorder(std::sync::Mutex::new(Vec::new()));
            let order: Vec<usize> = if backward {
                (5..10).rev().chain((0..5).rev()).collect()
            } else {
                (0..10).collect()
            };
            for &i in &order {
                w.before(&src, i);
                w.after(&src, i);
            }
            let seen = src.0.into_inner().unwrap();
            let chunk = |i: usize| (i * 10)..((i + 1) * 10).min(95);
            let passed: Vec<_> = seen
                .iter()
                .filter(|(_, h)| *h == Hint::Passed { backward })
                .map(|(r, _)| r.clone())
                .collect();
            let needed: Vec<_> = seen
                .iter()
                .filter(|(_, h)| *h == Hint::WillNeed)
                .map(|(r, _)| r.clone())
                .collect();
            // Each part's first three positions are dropped once computed,
            // and each hints the chunk two positions further on.
            let (dropped, ahead): (Vec<usize>, Vec<usize>) = if backward {
                (vec![9, 8, 7, 4, 3, 2], vec![7, 6, 5, 2, 1, 0])
            } else {
                (vec![0, 1, 2, 5, 6, 7], vec![2, 3, 4, 7, 8, 9])
            };
            assert_eq!(passed, dropped.into_iter().map(chunk).collect::<Vec<_>>());
            assert_eq!(needed, ahead.into_iter().map(chunk).collect::<Vec<_>>());
        }
        // A source the cache holds: nothing dropped, nothing hinted.
        let w = walk(false, 10, 0);
        let src = Recorder(std::sync::Mutex::new(Vec::new()));
        for i in 0..10 {
            w.before(&src, i);
            w.after(&src, i);
        }
        assert!(src.0.into_inner().unwrap().is_empty());
    }

    #[test]
    fn meminfo_and_cgroup_fields_parse() {
        let text = "MemTotal:       24684000 kB\nMemAvailable:   23000000 kB\n";
        assert_eq!(kib_field(text, "MemAvailable:"), Some(23_000_000));
        assert_eq!(kib_field(text, "SwapTotal:"), None);
        #[cfg(target_os = "linux")]
        assert!(cache_budget().is_some_and(|b| b > 0.0));
    }
}

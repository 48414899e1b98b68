//! Mini-batches drawn from a source, for the algorithms that learn from
//! batches instead of full passes (mini-batch K-means, online EM).
//!
//! * The rows of step `s` come from a random stream keyed by `(seed, s)`
//!   alone ([`batch_runs`]): a run is the same whatever the thread count, and
//!   a run resumed from a checkpoint at step `s` replays exactly the batches an
//!   uninterrupted run would see.
//! * [`Sampling::Blocks`] draws random runs of contiguous rows, so a
//!   memory-mapped file is read in page runs; [`Sampling::Rows`] draws single
//!   rows, as scikit-learn does.
//! * [`read_ahead`] reads the batches of the coming steps on a background
//!   thread, one batch ahead of the one being computed.
//! * In a distributed run each process reads only the rows of its chunks of
//!   a batch ([`read_batch`] with a `share`).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{CoreError, Result};
use crate::parallel::{Chunking, owned_rows};
use crate::source::DataSource;

/// How mini-batches are drawn from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Random runs of `rows` contiguous rows, drawn across the whole input, so a
    /// memory-mapped file is read in page-sized runs (the default, 256 rows).
    Blocks {
        /// Rows per block.
        rows: usize,
    },
    /// Uniformly random rows (with replacement), as scikit-learn does.
    Rows,
}

/// How the batches of a run are drawn: `batch_size` rows (rounded up to whole
/// blocks) by `sampling`, from the random streams of `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Rows asked for per batch.
    pub batch_size: usize,
    /// How rows are drawn.
    pub sampling: Sampling,
    /// Seed of the batches' random streams.
    pub seed: u64,
}

impl BatchPlan {
    /// Rows in each batch of a source of `n` rows: `batch_size` rounded up to
    /// whole blocks of at most `n` rows.
    #[must_use]
    pub fn batch_rows(&self, n: usize) -> usize {
        match self.sampling {
            Sampling::Blocks { rows } => {
                let len = rows.clamp(1, n.max(1));
                self.batch_size.div_ceil(len) * len
            }
            Sampling::Rows => self.batch_size,
        }
    }
}

/// The rows of step `step` of a source of `n` rows, as (first row, length)
/// runs sorted by position.
#[must_use]
pub fn batch_runs(plan: &BatchPlan, step: u64, n: usize) -> Vec<(usize, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x5851_F42D_4C95_7F2D);
    rng.set_stream(step);
    let mut runs: Vec<(usize, usize)> = match plan.sampling {
        Sampling::Blocks { rows } => {
            let len = rows.clamp(1, n);
            let blocks = plan.batch_size.div_ceil(len);
            (0..blocks)
                .map(|_| (rng.gen_range(0..=n - len), len))
                .collect()
        }
        Sampling::Rows => (0..plan.batch_size)
            .map(|_| (rng.gen_range(0..n), 1))
            .collect(),
    };
    runs.sort_unstable();
    runs
}

/// One batch: the rows of one step. In a distributed run a process reads
/// only its share of the batch (`own`, the rows of its chunks); the other
/// rows of `data` are zeros, never used.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The step this batch belongs to.
    pub step: u64,
    /// The batch's runs of rows of the source: (first row, length), in order.
    pub runs: Vec<(usize, usize)>,
    /// The rows of the batch this process read (all of them in one process).
    pub own: Range<usize>,
    /// Row-major rows × d values.
    pub data: Vec<f32>,
}

impl Batch {
    /// Rows in the batch.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.runs.iter().map(|r| r.1).sum()
    }

    /// The source row of the batch's row `i`.
    ///
    /// # Panics
    /// If `i` is past the end of the batch.
    #[must_use]
    pub fn source_row(&self, mut i: usize) -> usize {
        for &(start, len) in &self.runs {
            if i < len {
                return start + i;
            }
            i -= len;
        }
        panic!("row {i} past the end of the batch")
    }

    /// The values of `per_row` (one per source row) of the batch's rows, in
    /// batch order (per-row weights, for instance).
    #[must_use]
    pub fn gather<T: Copy>(&self, per_row: &[T]) -> Vec<T> {
        self.runs
            .iter()
            .flat_map(|&(start, len)| per_row[start..start + len].iter().copied())
            .collect()
    }

    /// A non-finite value among the rows this process read (`d` columns, of
    /// the source named `name`), as the error that names its source row and
    /// column. In a distributed run, the rank whose share holds it reports it.
    ///
    /// # Errors
    /// [`CoreError::NonFinite`].
    pub fn check_finite(&self, d: usize, name: &str) -> Result<()> {
        let read = &self.data[self.own.start * d..self.own.end * d];
        if let Some(pos) = read.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                source_name: name.to_string(),
                count: read.iter().filter(|v| !v.is_finite()).count() as u64,
                row: self.source_row(self.own.start + pos / d),
                col: pos % d,
            });
        }
        Ok(())
    }
}

/// The parts of the batch's runs that fall in its rows `own`: (source rows,
/// first row of the batch they fill).
fn own_parts(runs: &[(usize, usize)], own: &Range<usize>) -> Vec<(Range<usize>, usize)> {
    let mut parts = Vec::new();
    let mut at = 0;
    for &(start, len) in runs {
        let (lo, hi) = (at.max(own.start), (at + len).min(own.end));
        if lo < hi {
            parts.push((start + lo - at..start + hi - at, lo));
        }
        at += len;
    }
    parts
}

/// Reads step `step`'s batch: every row in one process; in a distributed run
/// (`share` = (rank, size)) only the rows of this rank's chunks of the batch
/// under `chunking`, the chunks a pass over the batch with that chunking
/// gives it.
///
/// # Errors
/// Read errors of the source.
pub fn read_batch<S: DataSource + ?Sized>(
    source: &S,
    plan: &BatchPlan,
    step: u64,
    chunking: Chunking,
    share: Option<(usize, usize)>,
) -> Result<Batch> {
    let (n, d) = (source.n_rows(), source.n_cols());
    let runs = batch_runs(plan, step, n);
    let rows: usize = runs.iter().map(|r| r.1).sum();
    let own = match share {
        Some((rank, size)) => owned_rows(rows, chunking, rank, size),
        None => 0..rows,
    };
    let parts = own_parts(&runs, &own);
    // Ask for every run first, so the kernel reads them in parallel, then copy.
    for (range, _) in &parts {
        source.will_need(range.clone());
    }
    let mut data = vec![0.0f32; rows * d];
    let mut scratch = Vec::new();
    for (range, at) in &parts {
        let len = range.len();
        data[at * d..(at + len) * d].copy_from_slice(source.rows(range.clone(), &mut scratch)?);
    }
    Ok(Batch {
        step,
        runs,
        own,
        data,
    })
}

/// Runs `body` with the batches of `steps`, in order, read on a background
/// thread one batch ahead of the one `body` works on ([`read_batch`]). The
/// reader stops after the first read error (which `body` receives) and when
/// `body` returns.
pub fn read_ahead<S, R>(
    source: &S,
    plan: &BatchPlan,
    steps: Range<u64>,
    chunking: Chunking,
    share: Option<(usize, usize)>,
    body: impl FnOnce(&mut dyn Iterator<Item = Result<Batch>>) -> R,
) -> R
where
    S: DataSource + ?Sized,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch>>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for step in steps {
                let batch = read_batch(source, plan, step, chunking, share);
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        // Owned here, so it is dropped when `body` returns, which unblocks a
        // reader waiting to send before the scope joins it.
        let mut batches = rx.into_iter();
        body(&mut batches)
    })
}

/// The rows `rows` (sorted, in range) of `source`, row-major, each asked for
/// with `will_need` first so scattered rows are fetched in parallel.
///
/// # Errors
/// Read errors; [`CoreError::NonFinite`] naming the first non-finite value's
/// row and column.
pub fn read_rows<S: DataSource + ?Sized>(source: &S, rows: &[usize]) -> Result<Vec<f32>> {
    let d = source.n_cols();
    for &r in rows {
        source.will_need(r..r + 1);
    }
    let mut out = Vec::with_capacity(rows.len() * d);
    let mut scratch = Vec::new();
    for &r in rows {
        let row = source.rows(r..r + 1, &mut scratch)?;
        if let Some(col) = row.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::NonFinite {
                source_name: source.name(),
                count: row.iter().filter(|v| !v.is_finite()).count() as u64,
                row: r,
                col,
            });
        }
        out.extend_from_slice(row);
    }
    Ok(out)
}

/// When a run that learns from batches hands its state to be saved: every
/// `every` steps (0: never by count), once `seconds` have passed since the
/// last save (0: never by time), and when `stop` is set (Ctrl-C). Timing
/// decides only when a copy of the state is written, never the result.
#[derive(Debug)]
pub struct Checkpoints<'a> {
    every: u64,
    seconds: f64,
    stop: Option<&'a AtomicBool>,
    last: Instant,
}

impl<'a> Checkpoints<'a> {
    /// The schedule, its clock started now.
    #[must_use]
    pub fn new(every: u64, seconds: f64, stop: Option<&'a AtomicBool>) -> Self {
        Checkpoints {
            every,
            seconds,
            stop,
            last: Instant::now(),
        }
    }

    /// After step `step`: `None` when no save is due, else `Some(interrupted)`
    /// (save now, then stop when `interrupted`); the clock restarts.
    pub fn after_step(&mut self, step: u64) -> Option<bool> {
        let interrupted = self.stop.is_some_and(|s| s.load(Ordering::Relaxed));
        let due = (self.every > 0 && step.is_multiple_of(self.every))
            || (self.seconds > 0.0 && self.last.elapsed().as_secs_f64() >= self.seconds);
        (interrupted || due).then(|| {
            self.last = Instant::now();
            interrupted
        })
    }
}

/// The first of a checkpoint's `times` (name, seconds) that is not a time
/// (finite and ≥ 0), as the message of its validation.
#[must_use]
pub fn not_a_time(times: &[(&str, f64)]) -> Option<String> {
    times
        .iter()
        .find(|(_, v)| !(v.is_finite() && *v >= 0.0))
        .map(|(name, v)| format!("{name} = {v} is not a time"))
}

/// Entries a run's history keeps before [`record_thinned`] thins it.
pub const HISTORY_CAP: usize = 4096;

/// Records `value` of step `step` in `history` when the step is a multiple
/// of `stride`; when the history reaches [`HISTORY_CAP`] entries, every other
/// entry is dropped and the stride doubles, so it stays bounded however long
/// the run (`stride` starts at 1 and stays a power of two).
pub fn record_thinned(history: &mut Vec<f64>, stride: &mut u64, step: u64, value: f64) {
    if step.is_multiple_of(*stride) {
        history.push(value);
        if history.len() >= HISTORY_CAP {
            let kept: Vec<f64> = history.iter().step_by(2).copied().collect();
            *history = kept;
            *stride *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_finite_and_not_negative() {
        assert_eq!(not_a_time(&[("a", 0.0), ("b", 12.5)]), None);
        assert_eq!(
            not_a_time(&[("a", 1.0), ("b", -1.0), ("c", f64::NAN)]).as_deref(),
            Some("b = -1 is not a time")
        );
        assert!(not_a_time(&[("c", f64::INFINITY)]).is_some());
    }
    use crate::ArraySource;

    #[test]
    fn a_batch_depends_on_seed_and_step_alone_and_reads_its_runs() {
        let (n, d) = (1000, 3);
        let data: Vec<f32> = (0..n * d).map(|v| v as f32).collect();
        let src = ArraySource::from_slice(&data, n, d).unwrap();
        let plan = BatchPlan {
            batch_size: 100,
            sampling: Sampling::Blocks { rows: 16 },
            seed: 7,
        };
        assert_eq!(plan.batch_rows(n), 112);
        let chunking = Chunking::with_rows(32).unwrap();
        let a = read_batch(&src, &plan, 3, chunking, None).unwrap();
        let b = read_batch(&src, &plan, 3, chunking, None).unwrap();
        assert_eq!(a.data, b.data);
        assert_eq!(a.n_rows(), 112);
        assert_ne!(a.runs, batch_runs(&plan, 4, n));
        for i in 0..a.n_rows() {
            let r = a.source_row(i);
            assert_eq!(&a.data[i * d..(i + 1) * d], &data[r * d..(r + 1) * d]);
        }
        let ids: Vec<usize> = (0..n).collect();
        assert_eq!(
            a.gather(&ids),
            (0..112).map(|i| a.source_row(i)).collect::<Vec<_>>()
        );
        // Two ranks read disjoint shares that together make the batch.
        let r0 = read_batch(&src, &plan, 3, chunking, Some((0, 2))).unwrap();
        let r1 = read_batch(&src, &plan, 3, chunking, Some((1, 2))).unwrap();
        assert_eq!(r0.own.end, r1.own.start);
        let mut joined = r0.data[..r0.own.end * d].to_vec();
        joined.extend_from_slice(&r1.data[r1.own.start * d..]);
        assert_eq!(joined, a.data);
        // The read-ahead hands the same batches in order.
        let got: Vec<Batch> = read_ahead(&src, &plan, 2..5, chunking, None, |it| {
            it.map(|b| b.unwrap()).collect()
        });
        assert_eq!(got.iter().map(|b| b.step).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(got[1].data, a.data);
    }

    #[test]
    fn non_finite_values_are_named_by_source_row_and_column() {
        let mut data = vec![1.0f32; 50 * 2];
        data[37 * 2 + 1] = f32::NAN;
        let src = ArraySource::from_slice(&data, 50, 2).unwrap();
        let e = read_rows(&src, &[3, 37]).unwrap_err();
        assert!(
            matches!(
                e,
                CoreError::NonFinite {
                    row: 37,
                    col: 1,
                    ..
                }
            ),
            "{e}"
        );
        let plan = BatchPlan {
            batch_size: 50,
            sampling: Sampling::Blocks { rows: 50 },
            seed: 1,
        };
        let b = read_batch(&src, &plan, 0, Chunking::with_rows(8).unwrap(), None).unwrap();
        let e = b.check_finite(2, "x").unwrap_err();
        assert!(
            matches!(
                e,
                CoreError::NonFinite {
                    row: 37,
                    col: 1,
                    ..
                }
            ),
            "{e}"
        );
    }
}

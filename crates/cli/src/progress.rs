//! Progress bars on stderr for passes over the data.
//!
//! A bar appears only when stderr is a terminal, `--quiet` is off, and the pass
//! has been running for more than a second: short passes stay silent. Bars of
//! passes over the command's input show rows per second and the MB/s they
//! read from it ([`set_input_row_bytes`]), so a user sees whether a run is
//! disk-bound.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use mmclust_core::DataSource;
use mmclust_core::fitting::map_rows_ordered;
use mmclust_core::parallel::{Chunk, PassOptions};

/// Bytes one row of the command's input takes in its files (0: unknown,
/// no MB/s shown).
static INPUT_ROW_BYTES: AtomicU64 = AtomicU64::new(0);

/// Records the command's input (a file and its rows) so every later bar
/// shows the MB/s its pass reads: the file's bytes over its rows (header
/// included, negligible for the large files bars are for). The first matrix
/// a command opens is its data; later ones (labels, initial centres) do not
/// replace it.
pub(crate) fn set_input_row_bytes(path: &Path, rows: usize) {
    if let (Ok(m), true) = (std::fs::metadata(path), rows > 0) {
        let _ = INPUT_ROW_BYTES.compare_exchange(
            0,
            m.len() / rows as u64,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// `state`'s rate in rows per second times `row_bytes`, as MB/s.
fn write_mb_per_sec(row_bytes: u64, state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0} MB/s", state.per_sec() * row_bytes as f64 / 1e6);
}

/// A row counter for one pass; call [`RowProgress::tick`] from any thread.
#[derive(Debug)]
pub(crate) struct RowProgress {
    bar: Option<ProgressBar>,
    started: Instant,
    shown: AtomicBool,
}

impl RowProgress {
    /// A bar for a pass over `total` rows, labelled `what`.
    pub(crate) fn new(g: &crate::Global, what: &str, total: u64) -> Self {
        let enabled = !g.quiet && std::io::stderr().is_terminal();
        let bar = enabled.then(|| {
            let row_bytes = INPUT_ROW_BYTES.load(Ordering::Relaxed);
            let rate = if row_bytes > 0 {
                "{per_sec}, {mb_per_sec}"
            } else {
                "{per_sec}"
            };
            // A total of 0 means "many passes of unknown count": a row counter.
            let (len, template) = if total == 0 {
                (None, format!("{{msg:>12}} {{human_pos}} rows ({rate})"))
            } else {
                (
                    Some(total),
                    format!(
                        "{{msg:>12}} [{{bar:40}}] {{human_pos}}/{{human_len}} rows ({rate}, eta {{eta}})"
                    ),
                )
            };
            let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(&template)
                    .expect("static template")
                    .with_key(
                        "mb_per_sec",
                        move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                            write_mb_per_sec(row_bytes, s, w);
                        },
                    )
                    .progress_chars("=> "),
            );
            bar.set_message(what.to_string());
            bar
        });
        RowProgress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
        }
    }

    /// Records `rows` more rows done.
    pub(crate) fn tick(&self, rows: usize) {
        let Some(bar) = &self.bar else { return };
        bar.inc(rows as u64);
        if !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for RowProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Runs one pass over `rows` rows with a bar labelled `what`: `pass` gets the
/// [`PassOptions`] that tick it.
pub(crate) fn with_progress<R>(
    g: &crate::Global,
    what: &str,
    rows: usize,
    pass: impl FnOnce(PassOptions<'_>) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    let bar = RowProgress::new(g, what, rows as u64);
    let tick = |r: usize| bar.tick(r);
    let result = pass(PassOptions {
        progress: Some(&tick),
        ..PassOptions::default()
    })?;
    bar.finish();
    Ok(result)
}

/// One pass over every row of `source` with a bar labelled `what`: `map` runs
/// on the chunks in parallel, `write` takes its results in row order (see
/// [`map_rows_ordered`]).
pub(crate) fn map_in_order<S, T>(
    g: &crate::Global,
    what: &str,
    source: &S,
    map: impl Fn(Chunk<'_>) -> mmclust_core::Result<T> + Sync,
    write: impl FnMut(T) -> mmclust_core::Result<()>,
) -> anyhow::Result<()>
where
    S: DataSource + ?Sized,
    T: Send,
{
    with_progress(g, what, source.n_rows(), |options| {
        Ok(map_rows_ordered(source, options, map, write)?)
    })
}

/// A one-line status (e.g. the current iteration) on stderr, shown like
/// [`RowProgress`]: terminal only, not with `--quiet`, after a second.
#[derive(Debug)]
pub(crate) struct StatusLine {
    bar: Option<ProgressBar>,
    started: Instant,
    shown: AtomicBool,
}

impl StatusLine {
    pub(crate) fn new(g: &crate::Global) -> Self {
        let enabled = !g.quiet && std::io::stderr().is_terminal();
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>6} {msg}").expect("static template"),
            );
            bar
        });
        StatusLine {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
        }
    }

    pub(crate) fn set(&self, message: String) {
        let Some(bar) = &self.bar else { return };
        bar.set_message(message);
        if !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.tick();
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

//! Progress bars on stderr for passes over the data.
//!
//! A bar appears only when stderr is a terminal, `--quiet` is off, and the pass
//! has been running for more than a second: short passes stay silent.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
            // A total of 0 means "many passes of unknown count": a row counter.
            let (len, template) = if total == 0 {
                (None, "{msg:>12} {human_pos} rows ({per_sec})")
            } else {
                (
                    Some(total),
                    "{msg:>12} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
                )
            };
            let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("static template")
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

//! Observers of a fit: events for progress displays, row counts, a stop flag
//! and the mini-batch checkpoint hook.

use mmclust_core::fitting::FitObserver;

use crate::error::Result;
use crate::state::{LloydState, MiniBatchState};

/// What a fit reports while it runs (for progress displays; the library never prints).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FitEvent {
    /// The statistics pass is done.
    StatsDone { seconds: f64 },
    /// Run `run` has its initial centres.
    InitDone { run: usize, seconds: f64 },
    /// One Lloyd iteration of run `run` is done.
    Iteration {
        run: usize,
        iter: usize,
        inertia: f64,
        changed: u64,
        shift: f64,
    },
    /// One mini-batch step is done.
    Step {
        step: u64,
        total_steps: u64,
        epoch: f64,
        batch_inertia: f64,
        ewa_inertia: Option<f64>,
        rows: usize,
    },
    /// Run `run` is done.
    RunDone {
        run: usize,
        inertia: f64,
        n_iter: usize,
        converged: bool,
    },
}

/// Receives a mini-batch run's state to save it.
pub type CheckpointHook<'a> = dyn Fn(&MiniBatchState) -> Result<()> + Sync + 'a;

/// Receives an exact run's (Lloyd, Hamerly, Yinyang) state to save it.
pub type LloydCheckpointHook<'a> = dyn Fn(&LloydState) -> Result<()> + Sync + 'a;

/// Observers of a fit.
#[derive(Clone, Copy, Default)]
pub struct FitHooks<'a> {
    /// Called after each phase and iteration.
    pub on_event: Option<&'a (dyn Fn(&FitEvent) + Sync)>,
    /// Called with row counts as passes progress (from worker threads).
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
    /// When set (e.g. by a signal handler), a mini-batch run, or an exact run
    /// with [`crate::KMeansParams::checkpoints`], checkpoints and stops with
    /// [`crate::KMeansError::Interrupted`].
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// Receives mini-batch checkpoints (every `checkpoint_every` steps, when
    /// stopped, and at the end).
    pub on_checkpoint: Option<&'a CheckpointHook<'a>>,
    /// Receives an exact run's checkpoints (as
    /// [`crate::KMeansParams::checkpoints`] says, when stopped, and at the
    /// end).
    pub on_lloyd_checkpoint: Option<&'a LloydCheckpointHook<'a>>,
}

impl std::fmt::Debug for FitHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitHooks")
            .field("on_event", &self.on_event.is_some())
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .field("on_checkpoint", &self.on_checkpoint.is_some())
            .field("on_lloyd_checkpoint", &self.on_lloyd_checkpoint.is_some())
            .finish()
    }
}

impl FitObserver<FitEvent> for FitHooks<'_> {
    fn on_event(&self) -> Option<&(dyn Fn(&FitEvent) + Sync)> {
        self.on_event
    }
    fn progress(&self) -> Option<&(dyn Fn(usize) + Sync)> {
        self.progress
    }
}

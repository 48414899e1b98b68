//! What an online fit ran, recorded in its model: kept here, with the model,
//! so that the model does not depend on the online fit that produces it.

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::params::GmmParams;

/// Why an online run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The smoothed batch log-likelihood stopped rising.
    NoImprovement,
    /// The step limit was reached.
    MaxSteps,
    /// Not stopped: [`GmmParams::online_update`] (`partial_fit`) runs on.
    Running,
}

impl StopReason {
    /// The name in summaries and model files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StopReason::NoImprovement => "no-improvement",
            StopReason::MaxSteps => "max-steps",
            StopReason::Running => "running",
        }
    }
}

/// What an online fit ran, kept in its model (`"online"` in the model file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineSummary {
    /// Steps taken (batches seen).
    pub steps: u64,
    /// Rows per batch.
    pub batch_size: usize,
    /// The step decay α.
    pub step_decay: f64,
    /// Full EM iterations run after the online steps.
    pub refine: usize,
    /// Why the online steps stopped.
    pub stop_reason: StopReason,
    /// Rows seen over n: the steps' share of full passes.
    pub epochs: f64,
}

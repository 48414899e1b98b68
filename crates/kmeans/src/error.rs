//! The K-means error type.

use mmclust_core::CoreError;
use mmclust_core::fitting::ColumnMismatch;

/// Result alias for this crate.
pub type Result<T, E = KMeansError> = std::result::Result<T, E>;

/// Everything that can stop a K-means fit or prediction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KMeansError {
    /// Reading the data failed, or the data is unusable (bad file, NaN, ...).
    #[error(transparent)]
    Data(#[from] CoreError),

    /// A parameter has a value that cannot work.
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// The data's dimension differs from what the model or the given centres expect.
    #[error(transparent)]
    DimensionMismatch(#[from] ColumnMismatch),

    /// A model file is inconsistent.
    #[error("invalid model: {message}")]
    InvalidModel { message: String },

    /// A mini-batch run was stopped (by the `stop` flag) after `step` steps,
    /// having handed its state to the checkpoint hook.
    #[error("interrupted after step {step}")]
    Interrupted { step: u64 },

    /// The run produced a non-finite value (overflowing data).
    #[error("numerical failure: {message}")]
    Numerical { message: String },
}

impl KMeansError {
    /// True when the user can fix this by changing input or parameters (exit 2).
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            KMeansError::Data(e) => e.is_input_error(),
            KMeansError::Numerical { .. } | KMeansError::Interrupted { .. } => false,
            _ => true,
        }
    }

    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
        KMeansError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}

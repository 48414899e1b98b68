//! The evaluation error type.

use mmclust_core::CoreError;
use mmclust_gmm::GmmError;
use mmclust_kmeans::KMeansError;

/// Result alias for this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Everything that can stop a score or a sweep.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Reading the data failed, or the data is unusable.
    #[error(transparent)]
    Data(#[from] CoreError),

    /// A K-means fit of a sweep failed.
    #[error(transparent)]
    KMeans(#[from] KMeansError),

    /// A Gaussian-mixture fit of a sweep failed.
    #[error(transparent)]
    Gmm(#[from] GmmError),

    /// A parameter has a value that cannot work.
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// Labels do not fit the data (length, number of clusters).
    #[error("{what}: {message}")]
    Labels { what: String, message: String },
}

impl EvalError {
    /// True when the user can fix this by changing input or parameters (exit 2).
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            EvalError::Data(e) => e.is_input_error(),
            EvalError::KMeans(e) => e.is_input_error(),
            EvalError::Gmm(e) => e.is_input_error(),
            EvalError::InvalidParameter { .. } | EvalError::Labels { .. } => true,
        }
    }

    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
        EvalError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}

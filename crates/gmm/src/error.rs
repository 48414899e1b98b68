//! The Gaussian-mixture error type.

use mmclust_core::CoreError;
use mmclust_core::fitting::ColumnMismatch;
use mmclust_kmeans::KMeansError;

/// Result alias for this crate.
pub type Result<T, E = GmmError> = std::result::Result<T, E>;

/// Everything that can stop a Gaussian-mixture fit, prediction or sampling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GmmError {
    /// Reading the data failed, or the data is unusable (bad file, NaN, ...).
    #[error(transparent)]
    Data(#[from] CoreError),

    /// The K-means initialisation failed.
    #[error("k-means initialisation: {0}")]
    KMeans(#[from] KMeansError),

    /// A parameter has a value that cannot work.
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// The data's dimension differs from what the model or the given
    /// parameters expect.
    #[error(transparent)]
    DimensionMismatch(#[from] ColumnMismatch),

    /// A component's covariance is not positive definite (it collapsed onto a
    /// point, onto duplicates, or onto a subspace such as a constant column).
    #[error(
        "component {component} collapsed (weight {weight:.3e}, effective size N_k = {n_k:.3e} rows): \
         its covariance is not positive definite ({detail}); use --covariance diag or spherical, \
         a larger --reg-covar, or fewer components"
    )]
    Degenerate {
        component: usize,
        weight: f64,
        n_k: f64,
        detail: String,
    },

    /// A model file is inconsistent.
    #[error("invalid model: {message}")]
    InvalidModel { message: String },

    /// The run produced a non-finite value.
    #[error("numerical failure: {message}")]
    Numerical { message: String },
}

impl GmmError {
    /// True when the user can fix this by changing input or parameters (exit 2).
    ///
    /// A collapsed component is a run failure (exit 1): the input is valid,
    /// but this fit on it failed; the message says which parameters to change.
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            GmmError::Data(e) => e.is_input_error(),
            GmmError::KMeans(e) => e.is_input_error(),
            GmmError::Numerical { .. } | GmmError::Degenerate { .. } => false,
            _ => true,
        }
    }

    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
        GmmError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}

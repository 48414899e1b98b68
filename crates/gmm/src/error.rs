//! The Gaussian-mixture error type.

use mmclust_core::fitting::ColumnMismatch;
use mmclust_kmeans::KMeansError;

mmclust_core::library_error! {
    /// Everything that can stop a Gaussian-mixture fit, prediction or sampling.
    pub enum GmmError {
        transparent {
            /// The data's dimension differs from what the model or the given
            /// parameters expect.
            DimensionMismatch(ColumnMismatch),
        }
        /// The K-means initialisation failed.
        #[error("k-means initialisation: {0}")]
        KMeans(#[from] KMeansError),

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

        /// An online fit was stopped (Ctrl-C) after `step` steps; its last
        /// checkpoint holds the state to resume from.
        #[error("interrupted after step {step}")]
        Interrupted { step: u64 },
    }
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
            GmmError::Numerical { .. }
            | GmmError::Degenerate { .. }
            | GmmError::Interrupted { .. } => false,
            _ => true,
        }
    }
}

//! The evaluation error type.

use mmclust_gmm::GmmError;
use mmclust_kmeans::KMeansError;

mmclust_core::library_error! {
    /// Everything that can stop a score or a sweep.
    pub enum EvalError {
        transparent {
            /// A K-means fit of a sweep failed.
            KMeans(KMeansError),
            /// A Gaussian-mixture fit of a sweep failed.
            Gmm(GmmError),
        }

        /// Labels do not fit the data (length, number of clusters).
        #[error("{what}: {message}")]
        Labels { what: String, message: String },
    }
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
}

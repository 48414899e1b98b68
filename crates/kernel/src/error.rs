//! The kernel crate's error type.

use mmclust_kmeans::KMeansError;

mmclust_core::library_error! {
    /// Everything that can stop a Nyström map, a kernel K-means or a spectral fit.
    pub enum KernelError {
        transparent {
            /// The K-means run on the features failed.
            KMeans(KMeansError),
        }

        /// A model file is inconsistent.
        #[error("invalid model: {message}")]
        InvalidModel { message: String },

        /// The landmark kernel matrix or the affinity has no usable eigenvalue.
        #[error("numerical failure: {message}")]
        Numerical { message: String },
    }
}

impl KernelError {
    /// True when the user can fix this by changing input or parameters (exit 2).
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            KernelError::Data(e) => e.is_input_error(),
            KernelError::KMeans(e) => e.is_input_error(),
            KernelError::Numerical { .. } => false,
            _ => true,
        }
    }
}

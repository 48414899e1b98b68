//! The K-means error type.

use mmclust_core::fitting::ColumnMismatch;

mmclust_core::library_error! {
    /// Everything that can stop a K-means fit or prediction.
    pub enum KMeansError {
        transparent {
            /// The data's dimension differs from what the model or the given centres expect.
            DimensionMismatch(ColumnMismatch),
        }

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
}

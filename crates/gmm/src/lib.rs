//! Gaussian mixture models fitted by EM over any [`mmclust_core::DataSource`]:
//! an ndarray in memory or a memory-mapped file far larger than RAM, through
//! the same code.
//!
//! * Covariance types full, tied, diag and spherical, with scikit-learn's
//!   meanings, parameter names and defaults (`max_iter` 100, `tol` 1e-3 on the
//!   mean per-sample log-likelihood, `reg_covar` 1e-6).
//! * Streaming EM: each iteration is one pass over the data. Every chunk
//!   computes its log-responsibilities (log-sum-exp), its share of the
//!   log-likelihood and the sufficient statistics (N_k, Σ r(x − c),
//!   Σ r(x − c)(x − c)ᵀ or its diagonal, about the previous means `c` so data
//!   far from the origin keeps its digits); partials merge by the fixed tree
//!   of `mmclust-core`, so results are bitwise identical on any thread count.
//!   No n × k responsibility matrix is ever stored.
//! * Precisions kept as Cholesky factors (scikit-learn's
//!   `precisions_cholesky_`); log-determinants from their diagonals;
//!   Mahalanobis terms as triangular products; never an explicit inverse of a
//!   covariance. Statistics and parameters in `f64`.
//! * [`Precision::F32`] (opt-in): diag and spherical passes compute their
//!   per-row products in `f32` on AVX-512, 16 rows a vector, faster per
//!   iteration (`scripts/bench_peers.sh --gmm` measures it); within about 1e-6 of the `f64` answer,
//!   the precision scikit-learn computes in for `float32` input. The model
//!   says how many iterations ran in `f32`
//!   ([`GaussianMixtureModel::f32_iterations`]).
//! * Online (stepwise) EM ([`GmmParams::fit_online`]) learns from
//!   mini-batches drawn as mini-batch K-means draws them, for data too large
//!   or too slow for one pass per iteration; [`GmmParams::online_update`]
//!   takes one batch at a time (Python's `partial_fit`).
//! * A component that collapses is an error naming it ([`GmmError::Degenerate`]),
//!   never a NaN.
//!
//! ```
//! use mmclust_core::format::open_matrix;
//! use mmclust_gmm::{CovarianceType, GmmParams};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
//! let data = open_matrix(path)?;
//! let model = GmmParams::new(2)
//!     .covariance(CovarianceType::Full)
//!     .standardize(true)
//!     .seed(1)
//!     .fit(&data)?;
//! assert_eq!(model.k(), 2);
//! assert!(model.converged);
//! let labels = model.predict(&data)?;
//! assert_eq!(labels.len(), 272);
//! // Two eruption types, roughly a third short and two thirds long.
//! let w = model.weights();
//! assert!(w[0].min(w[1]) > 0.3 && w[0].max(w[1]) < 0.7);
//! assert!(model.bic().is_finite());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bayesian;
#[cfg(target_arch = "x86_64")]
mod block;
mod checkpoint;
mod error;
mod fit;
mod linalg;
mod mixture;
mod model;
mod online;
mod params;
mod partial;
mod pass;
mod resume;
mod run;
mod simd;
mod special;

pub use bayesian::{EFFECTIVE_WEIGHT, Posterior, ResolvedPrior};
pub use checkpoint::{BestRun, EmCheckpoints, EmRunState, EmState, PosteriorState, RunFailure};
pub use error::{GmmError, Result};
pub use fit::{EmCheckpointHook, FitEvent, FitHooks};
pub use model::{
    GaussianMixtureModel, MODEL_VERSION, OnlineSummary, SAMPLE_BLOCK_ROWS, StopReason,
};
pub use online::{
    CheckpointHook, DEFAULT_BATCH_SIZE, DEFAULT_STEP_DECAY, OnlineHooks, OnlineOptions, OnlineState,
};
pub use params::{
    BayesianPrior, CovarianceType, F32_SPREAD_LIMIT, GmmParams, Init, Precision, WeightPrior,
};

//! mmclust: clustering of data sets larger than RAM.
//!
//! This facade re-exports the workspace libraries so that a user depends on one
//! crate: [`core`] (matrix sources, chunked parallel passes, kernels, column
//! statistics), [`kmeans`], [`kernel`] (kernel K-means, spectral clustering),
//! [`gmm`] and [`eval`] (silhouette, scores, the
//! elbow and BIC sweeps).

pub use mmclust_core as core;
pub use mmclust_eval as eval;
pub use mmclust_gmm as gmm;
pub use mmclust_kernel as kernel;
pub use mmclust_kmeans as kmeans;

/// The README's Rust code blocks, compiled and run as doctests (`cargo test
/// --doc -p mmclust`); its `sh`, `python` and `text` blocks are not Rust and
/// are skipped.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

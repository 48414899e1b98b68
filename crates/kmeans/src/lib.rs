//! K-means clustering over any [`mmclust_core::DataSource`]: an ndarray in
//! memory or a memory-mapped file far larger than RAM, through the same code.
//!
//! * Initialisation: random rows, greedy k-means++ (scikit-learn's), k-means‖
//!   (a handful of passes instead of k, for large inputs), or given centres.
//! * Lloyd iterations with the fused assignment kernel of `mmclust-core`: one
//!   pass per iteration yields labels changed, inertia and per-cluster f64 sums.
//! * Exact accelerated variants with the same answer as Lloyd and far fewer
//!   distances: Hamerly's and Yinyang's triangle-inequality bounds.
//! * Restarts (`n_init`) keeping the lowest inertia, sample weights, and
//!   standardisation applied on the fly.
//! * Spherical (cosine) K-means ([`Metric::Cosine`]): the same engines on
//!   rows L2-normalised as they are read, centres projected to unit length
//!   after each update; inertia and scores are Σ(1 − cos).
//!
//! Results are bitwise reproducible for a seed whatever the thread count: every
//! pass merges its partials by a fixed tree over fixed-size chunks, and every
//! random choice is drawn from the run's own seed.
//!
//! ```
//! use mmclust_core::format::open_matrix;
//! use mmclust_kmeans::KMeansParams;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
//! let data = open_matrix(path)?;
//! let model = KMeansParams::new(2).standardize(true).seed(1).fit(&data)?;
//! assert_eq!(model.k, 2);
//! let labels = model.predict(&data)?;
//! assert_eq!(labels.len(), 272);
//! // The two eruption types: short waits and short eruptions, long and long.
//! let centers = model.centers_original_units();
//! let (short, long) = if centers[0] < centers[2] { (0, 1) } else { (1, 0) };
//! assert!(centers[2 * short] < 3.0 && centers[2 * long] > 3.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Layers, from the leaves up; a module imports only from layers below it
// (scripts/module_cycles.py checks that there is no cycle):
// error; state (per-run state); hooks; lanes; pass (the Lloyd pass); init;
// params; accel (the bounded assignment); model; engine (the exact runs and
// the internal entry point); minibatch; fit (the public entry points).
mod accel;
mod engine;
mod error;
mod fit;
mod hooks;
mod init;
mod minibatch;
mod model;
mod params;
mod pass;
mod state;

pub use error::{KMeansError, Result};
pub use fit::{fit_source, initial_centers};
pub use hooks::{CheckpointHook, FitEvent, FitHooks, LloydCheckpointHook};
pub use init::{SAMPLE_MAX_BYTES, sample_size};
pub use model::{KMeansModel, MODEL_VERSION};
pub use params::{
    AUTO_BOUNDS_MIN_D, AUTO_BOUNDS_MIN_K, AUTO_BOUNDS_MIN_KD, AUTO_PARALLEL_BYTES,
    AUTO_SAMPLE_BYTES, Algorithm, DEFAULT_SAMPLE_ROWS_PER_CENTRE, Init, KMeansParams,
    LloydCheckpoints, Metric, MiniBatchOptions, Sampling,
};
pub use state::{LloydState, MiniBatchState};

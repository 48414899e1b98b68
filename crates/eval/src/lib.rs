//! mmclust-eval: judging a clustering and choosing k.
//!
//! * [`silhouette()`]: exact per-row silhouette values in O(n) memory (blocks
//!   sized by a working-memory budget, never an n × n matrix), parallel and
//!   bitwise deterministic, on an AVX2/FMA kernel; or an unbiased estimate from
//!   a sample of rows with its standard error.
//! * [`cluster_scores`]: Calinski–Harabasz and Davies–Bouldin in two streamed
//!   O(n·k) passes.
//! * [`adjusted_rand_index`], [`normalized_mutual_info`]: agreement with true
//!   labels.
//! * [`elbow`] with its [`knee`], and [`gmm_sweep`] with [`best_by_bic`]:
//!   choosing the number of clusters.
//! * [`principal_axes`] and [`sample_rows`]: what a 2-D scatter plot of data
//!   of any size needs.
//!
//! Scores follow scikit-learn's definitions and edge cases (its
//! `silhouette_samples`, `calinski_harabasz_score`, `davies_bouldin_score`,
//! `adjusted_rand_score`, `normalized_mutual_info_score`) and are tested
//! against fixtures it computed. Labels may be any integers ([`Labels`]).
//!
//! # Examples
//!
//! Two clusters on a line, {0, 1} and {10, 11}: the silhouette, the two
//! dispersion scores, and the agreement of two labellings.
//!
//! ```
//! use mmclust_core::ArraySource;
//! use mmclust_core::parallel::PassOptions;
//! use mmclust_eval::{
//!     Labels, SilhouetteParams, adjusted_rand_index, cluster_scores, normalized_mutual_info,
//!     silhouette,
//! };
//!
//! let data = [0.0f32, 1.0, 10.0, 11.0]; // 4 rows, 1 column
//! let x = ArraySource::from_slice(&data, 4, 1)?;
//! let labels = Labels::new(&[7, 7, -1, -1])?; // any integers
//! assert_eq!((labels.k(), labels.codes()), (2, &[1, 1, 0, 0][..]));
//!
//! // s = 1 − a/b per row: a = 1 (the other row of its cluster), b = the mean
//! // distance to the other cluster, 10.5 for the outer rows, 9.5 for the inner.
//! let s = silhouette(&x, &labels, &SilhouetteParams::default(), PassOptions::default())?;
//! let expected = 1.0 - (1.0 / 10.5 + 1.0 / 9.5) / 2.0;
//! assert!((s.mean - expected).abs() < 1e-6, "{} vs {expected}", s.mean);
//! assert!((s.values[0] - (1.0 - 1.0 / 10.5)).abs() < 1e-6);
//! assert_eq!(s.std_error, None); // exact: every row scored
//!
//! // Centroids 0.5 and 10.5: between-cluster dispersion 100 over 1 degree of
//! // freedom, within 1 over n − k = 2: Calinski–Harabasz 200; Davies–Bouldin
//! // (0.5 + 0.5) / 10.
//! let c = cluster_scores(&x, &labels, PassOptions::default())?;
//! assert!((c.calinski_harabasz - 200.0).abs() < 1e-9);
//! assert!((c.davies_bouldin - 0.1).abs() < 1e-12);
//!
//! // The same partition under other names agrees perfectly; a crossing one
//! // does worse than chance.
//! let renamed = Labels::new(&[0, 0, 1, 1])?;
//! let crossing = Labels::new(&[0, 1, 0, 1])?;
//! assert_eq!(adjusted_rand_index(&labels, &renamed)?, 1.0);
//! assert!((normalized_mutual_info(&labels, &renamed)? - 1.0).abs() < 1e-12);
//! assert!((adjusted_rand_index(&labels, &crossing)? + 0.5).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compare;
mod error;
mod labels;
mod project;
mod scores;
mod silhouette;
mod sweep;

pub use compare::{adjusted_rand_index, normalized_mutual_info};
pub use error::{EvalError, Result};
pub use labels::Labels;
pub use mmclust_core::kernel::silhouette::silhouette_kernel_name;
pub use project::{PrincipalAxes, principal_axes, principal_axes_about, sample_rows};
pub use scores::{ClusterScores, cluster_scores};
pub use silhouette::{DEFAULT_WORKING_MEMORY, Silhouette, SilhouetteParams, silhouette};
pub use sweep::{
    Elbow, GmmCandidate, GmmSweepParams, SweepParams, best_by_bic, check_k_range, elbow, gmm_sweep,
    knee,
};

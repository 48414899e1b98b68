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
pub use project::{PrincipalAxes, principal_axes, sample_rows};
pub use scores::{ClusterScores, cluster_scores};
pub use silhouette::{DEFAULT_WORKING_MEMORY, Silhouette, SilhouetteParams, silhouette};
pub use sweep::{
    Elbow, GmmCandidate, GmmSweepParams, SweepParams, best_by_bic, check_k_range, elbow, gmm_sweep,
    knee,
};

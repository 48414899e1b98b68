//! Calinski–Harabasz and Davies–Bouldin: O(n·k) in two streamed passes.
//!
//! Pass 1 sums every cluster's rows (f64) to get the centroids; pass 2 sums,
//! per cluster, the squared and the plain distances of its rows to its
//! centroid. Both passes are `map_reduce`s over fixed chunks merged in a fixed
//! tree, so the scores are bitwise the same on any thread count; over the
//! global chunk grid (`map_reduce_global`), so a source shared between
//! processes (MPI) splits the passes and gets the same bits. Definitions
//! and edge cases follow scikit-learn's `calinski_harabasz_score` and
//! `davies_bouldin_score`.

use mmclust_core::DataSource;
use mmclust_core::parallel::{Chunking, PassOptions, add_cells, map_reduce_global};

use crate::error::Result;
use crate::labels::Labels;

/// Cluster-validity scores that need no distances between rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterScores {
    /// Calinski–Harabasz: between- over within-cluster dispersion, each per
    /// degree of freedom (higher is better).
    pub calinski_harabasz: f64,
    /// Davies–Bouldin: mean over clusters of the worst (s_i + s_j) / d(c_i, c_j)
    /// (lower is better; 0 is the minimum).
    pub davies_bouldin: f64,
    /// Centroids, row-major k × d (in the order of the label codes).
    pub centroids: Vec<f64>,
    /// Within-cluster sum of squared distances to the centroid, per cluster.
    pub within_sse: Vec<f64>,
}

/// Both scores of `labels` on `source`.
///
/// # Errors
/// [`crate::EvalError::Labels`] for a label count that is not the row count,
/// or fewer than 2 or more than n − 1 clusters; read errors of the source.
pub fn cluster_scores<S: DataSource + ?Sized>(
    source: &S,
    labels: &Labels,
    options: PassOptions<'_>,
) -> Result<ClusterScores> {
    let (n, d, k) = (source.n_rows(), source.n_cols(), labels.k());
    labels.check_len(n, &source.name())?;
    labels.check_cluster_count()?;
    let codes = labels.codes();
    let chunking = Chunking::for_dim(d);
    let sums = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut s = vec![0.0f64; k * d];
            for (r, row) in chunk.rows().enumerate() {
                let c = codes[chunk.start_row + r] as usize;
                for (acc, &v) in s[c * d..(c + 1) * d].iter_mut().zip(row) {
                    *acc += f64::from(v);
                }
            }
            Ok(s)
        },
        add_cells,
    )?
    .unwrap_or_else(|| vec![0.0; k * d]);
    let counts = labels.counts();
    let mut centroids = vec![0.0f64; k * d];
    let mut mean = vec![0.0f64; d];
    for c in 0..k {
        for p in 0..d {
            centroids[c * d + p] = sums[c * d + p] / counts[c] as f64;
            mean[p] += sums[c * d + p];
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    // Per cluster: Σ‖x − c‖² then Σ‖x − c‖.
    let disp = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut s = vec![0.0f64; 2 * k];
            for (r, row) in chunk.rows().enumerate() {
                let c = codes[chunk.start_row + r] as usize;
                let sq: f64 = row
                    .iter()
                    .zip(&centroids[c * d..(c + 1) * d])
                    .map(|(&x, &m)| (f64::from(x) - m).powi(2))
                    .sum();
                s[c] += sq;
                s[k + c] += sq.sqrt();
            }
            Ok(s)
        },
        add_cells,
    )?
    .unwrap_or_else(|| vec![0.0; 2 * k]);
    let within_sse = disp[..k].to_vec();

    let intra: f64 = within_sse.iter().sum();
    let extra: f64 = (0..k)
        .map(|c| {
            counts[c] as f64
                * (0..d)
                    .map(|p| (centroids[c * d + p] - mean[p]).powi(2))
                    .sum::<f64>()
        })
        .sum();
    let calinski_harabasz = if intra == 0.0 {
        1.0
    } else {
        extra * (n - k) as f64 / (intra * (k - 1) as f64)
    };

    let spread: Vec<f64> = (0..k).map(|c| disp[k + c] / counts[c] as f64).collect();
    let centroid_dist = |i: usize, j: usize| -> f64 {
        (0..d)
            .map(|p| (centroids[i * d + p] - centroids[j * d + p]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // scikit-learn: 0 when every spread or every centroid distance is ~0
    // (np.allclose(·, 0): |x| ≤ 1e-8).
    let all_spread_zero = spread.iter().all(|s| s.abs() <= 1e-8);
    let all_centroids_same = (0..k).all(|i| (0..k).all(|j| centroid_dist(i, j) <= 1e-8));
    let davies_bouldin = if all_spread_zero || all_centroids_same {
        0.0
    } else {
        (0..k)
            .map(|i| {
                (0..k)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let cd = centroid_dist(i, j);
                        if cd == 0.0 {
                            0.0
                        } else {
                            (spread[i] + spread[j]) / cd
                        }
                    })
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / k as f64
    };
    Ok(ClusterScores {
        calinski_harabasz,
        davies_bouldin,
        centroids,
        within_sse,
    })
}

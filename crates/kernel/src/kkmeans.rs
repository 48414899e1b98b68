//! Kernel K-means: K-means on the Nyström features φ, read through
//! [`NystromFeatures`] so that φ is computed chunk by chunk on every pass and
//! never stored. Any algorithm of `mmclust-kmeans` runs unchanged.

use mmclust_core::DataSource;
use mmclust_kmeans::{FitHooks, KMeansModel, KMeansParams};

use crate::error::{KernelError, Result};
use crate::nystrom::{NystromFeatures, NystromMap, NystromParams};

/// A fitted kernel K-means: the feature map and the K-means model on φ.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelKMeansModel {
    /// The Nyström map.
    pub map: NystromMap,
    /// How the landmarks were picked ("k-means++", "uniform").
    pub landmark_init: String,
    /// K-means on φ (centres k × M').
    pub kmeans: KMeansModel,
}

/// Checks what kernel K-means and spectral clustering share: M ≥ k, no
/// standardisation.
pub(crate) fn check_k(
    nystrom: &NystromParams,
    params: &KMeansParams,
    n: usize,
    d: usize,
) -> Result<()> {
    nystrom.check(n, d)?;
    if nystrom.n_landmarks < params.k {
        return Err(KernelError::param(
            "landmarks",
            format!(
                "M = {} landmarks is fewer than k = {} clusters",
                nystrom.n_landmarks, params.k
            ),
        ));
    }
    if params.standardize {
        return Err(KernelError::param(
            "standardize",
            "a kernel fit does not standardise; standardise the data first (mmclust standardize)",
        ));
    }
    Ok(())
}

/// Fits the map on `source`, then `params`' K-means on φ. The default rbf γ
/// uses the neighbour rank [`crate::nystrom::kernel_kmeans_neighbour`].
///
/// # Errors
/// Invalid parameters (γ ≤ 0, M > n, M < k, degree 0, …), read errors,
/// non-finite data, see [`KernelError`].
pub fn fit_kernel_kmeans<S: DataSource + ?Sized>(
    nystrom: &NystromParams,
    params: &KMeansParams,
    source: &S,
    hooks: FitHooks<'_>,
) -> Result<KernelKMeansModel> {
    check_k(nystrom, params, source.n_rows(), source.n_cols())?;
    let mut nystrom = nystrom.clone();
    nystrom.scale_neighbour =
        nystrom
            .scale_neighbour
            .or(Some(crate::nystrom::kernel_kmeans_neighbour(
                nystrom.n_landmarks,
            )));
    let map = nystrom.fit(source)?;
    let features = NystromFeatures::new(source, &map)?;
    let kmeans =
        crate::cache::fit_cached(&features, nystrom.cache_features, &params.scratch, |src| {
            params.fit_with(src, None, hooks)
        })?;
    Ok(KernelKMeansModel {
        map,
        landmark_init: nystrom.landmark_init.name().to_string(),
        kmeans,
    })
}

impl KernelKMeansModel {
    /// The features of `source` under this model's map.
    ///
    /// # Errors
    /// `source` without the model's d columns.
    pub fn features<S: DataSource>(&self, source: S) -> Result<NystromFeatures<'_, S>> {
        Ok(NystromFeatures::new(source, &self.map)?)
    }

    /// The nearest centre of every row of `source`, in the feature space.
    ///
    /// # Errors
    /// Read errors, `source` without the model's d columns.
    pub fn predict<S: DataSource>(&self, source: S) -> Result<Vec<u32>> {
        Ok(self.kmeans.predict(&self.features(source)?)?)
    }
}

//! Kernel K-means: K-means on the Nyström features φ, read through
//! [`NystromFeatures`] so that φ is computed chunk by chunk on every pass and
//! never stored. Any algorithm of `mmclust-kmeans` runs unchanged.

use mmclust_core::DataSource;
use mmclust_kmeans::{Algorithm, FitHooks, Init, KMeansModel, KMeansParams};

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

/// K-means runs on φ by default (lowest inertia kept; scikit-learn's
/// classic `n_init=10`). In the feature space of a local kernel a single
/// k-means++ start often lands in a local minimum: on the moons at
/// n = 20 000 (crates/kernel/tests/it/accuracy.rs) one start gave an adjusted
/// Rand index of 0.08 and the best of 3 starts 0.12, the best of 10 0.994,
/// the moons split having the lowest inertia. It costs ten K-means fits on
/// the cached features (the map is computed once).
pub const KERNEL_KMEANS_N_INIT: usize = 10;

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
    fit_kernel_kmeans_then(nystrom, params, source, hooks, |_, _| {
        Ok::<_, KernelError>(())
    })
    .map(|(model, ())| model)
}

/// [`fit_kernel_kmeans`], then `then` on the fitted K-means model and the
/// features it was fitted on, while they are still at hand: the cached φ
/// when the features are cached (so a pass for the labels reads them back
/// instead of computing the map once more), the on-the-fly features
/// otherwise. The same bits either way.
///
/// Unless `params.n_init` is given, [`KERNEL_KMEANS_N_INIT`] runs from
/// seeded initialisations, the lowest inertia kept.
///
/// [`KMeansParams::algorithm`] `Auto` becomes Hamerly's bounds here: φ has
/// hundreds of columns and k is small, where the bounds skip most distances
/// (Lloyd's answer bit for bit; on the moons at n = 3·10⁵, M = 300, the
/// K-means on φ took 1.76 s against Lloyd's 3.39 s, same 27 iterations).
///
/// # Errors
/// Those of [`fit_kernel_kmeans`], and `then`'s.
pub fn fit_kernel_kmeans_then<S, R, E>(
    nystrom: &NystromParams,
    params: &KMeansParams,
    source: &S,
    hooks: FitHooks<'_>,
    then: impl FnOnce(&KMeansModel, &dyn DataSource) -> std::result::Result<R, E>,
) -> std::result::Result<(KernelKMeansModel, R), E>
where
    S: DataSource + ?Sized,
    E: From<KernelError>,
{
    check_k(nystrom, params, source.n_rows(), source.n_cols())?;
    let mut nystrom = nystrom.clone();
    nystrom.scale_neighbour =
        nystrom
            .scale_neighbour
            .or(Some(crate::nystrom::kernel_kmeans_neighbour(
                nystrom.n_landmarks,
            )));
    let map = nystrom.fit(source)?;
    let features = NystromFeatures::new(source, &map).map_err(KernelError::from)?;
    let mut params = params.clone();
    if params.algorithm == Algorithm::Auto {
        params.algorithm = Algorithm::Hamerly;
    }
    if params.n_init.is_none() && !matches!(params.init, Init::Given(_)) {
        params.n_init = Some(KERNEL_KMEANS_N_INIT);
    }
    let (kmeans, extra) = crate::cache::fit_cached(
        &features,
        nystrom.cache_features,
        &params.scratch,
        |src| -> std::result::Result<_, Wrapped<E>> {
            let kmeans = params
                .fit_with(src, None, hooks)
                .map_err(|e| Wrapped(KernelError::from(e).into()))?;
            let extra = then(&kmeans, src).map_err(Wrapped)?;
            Ok((kmeans, extra))
        },
    )
    .map_err(|w| w.0)?;
    Ok((
        KernelKMeansModel {
            map,
            landmark_init: nystrom.landmark_init.name().to_string(),
            kmeans,
        },
        extra,
    ))
}

/// An error of the caller's type passing through [`crate::cache::fit_cached`].
struct Wrapped<E>(E);

impl<E: From<KernelError>> From<mmclust_core::CoreError> for Wrapped<E> {
    fn from(e: mmclust_core::CoreError) -> Self {
        Wrapped(KernelError::from(e).into())
    }
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

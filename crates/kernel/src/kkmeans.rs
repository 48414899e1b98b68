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
/// the moons split having the lowest inertia. Above
/// [`KERNEL_KMEANS_SAMPLE_ROWS`] rows the starts run on a sample (see
/// [`fit_kernel_kmeans_then`]).
pub const KERNEL_KMEANS_N_INIT: usize = 10;

/// Above this many rows, the default [`KERNEL_KMEANS_N_INIT`] starts run on a
/// uniform sample of this many rows of φ (seeded), and one fit over every
/// row starts from the centres of the start with the lowest inertia on the
/// sample: the ten starts then cost ten fits of the sample, not ten passes
/// over the whole data each. The moons test of
/// crates/kernel/tests/it/accuracy.rs finds the moons split with ten starts
/// on 20 000 rows; the sample is larger.
pub const KERNEL_KMEANS_SAMPLE_ROWS: usize = 32_768;

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
/// seeded initialisations, the lowest inertia kept; with more than
/// [`KERNEL_KMEANS_SAMPLE_ROWS`] rows (and no given centres) they run on a
/// uniform sample of that many rows of φ, and one fit over all the rows
/// starts from the best of them. The model's `init` then says so, its
/// `init_seconds` (and `fit_seconds`) include the sample's fits, and its
/// `run_inertias` hold the one run over all the rows.
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
    let default_starts = params.n_init.is_none() && !matches!(params.init, Init::Given(_));
    let on_sample = default_starts && source.n_rows() > KERNEL_KMEANS_SAMPLE_ROWS;
    if default_starts {
        params.n_init = Some(KERNEL_KMEANS_N_INIT);
    }
    let (kmeans, extra) = crate::cache::fit_cached(
        &features,
        nystrom.cache_features,
        &params.scratch,
        |src| -> std::result::Result<_, Wrapped<E>> {
            let wrap = |e: mmclust_kmeans::KMeansError| Wrapped(KernelError::from(e).into());
            let kmeans = if on_sample {
                best_start_on_sample(&params, src, hooks).map_err(wrap)?
            } else {
                params.fit_with(src, None, hooks).map_err(wrap)?
            };
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

/// `params`' starts on a uniform sample of [`KERNEL_KMEANS_SAMPLE_ROWS`] rows
/// of `src`, then one fit over every row from the best start's centres.
fn best_start_on_sample(
    params: &KMeansParams,
    src: &dyn DataSource,
    hooks: FitHooks<'_>,
) -> mmclust_kmeans::Result<KMeansModel> {
    let started = std::time::Instant::now();
    let m = KERNEL_KMEANS_SAMPLE_ROWS;
    let points = crate::nystrom::uniform_sample(src, m, params.seed)?;
    let sample = mmclust_core::ArraySource::from_slice(&points, m, src.n_cols())?;
    let best = params.fit_with(&sample, None, FitHooks::default())?;
    let starts = best.run_inertias.len();
    let sample_seconds = started.elapsed().as_secs_f64();
    let mut full = params
        .clone()
        .init(Init::Given(best.centers))
        .n_init(1)
        .fit_with(src, None, hooks)?;
    full.init = format!("{}, best of {starts} starts on a {m}-row sample", best.init);
    full.init_seconds += sample_seconds;
    full.fit_seconds += sample_seconds;
    Ok(full)
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

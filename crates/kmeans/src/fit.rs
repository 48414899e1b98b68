//! The public fit: parameter checks, the statistics pass (the data's check,
//! the tolerance's scale, the standardisation), then mini-batch or the exact
//! engine ([`crate::engine`]).

use std::time::Instant;

use mmclust_core::DataSource;
use mmclust_core::fitting::{FitObserver, checked_stats};
use mmclust_core::isa::Isa;
use mmclust_core::normalize::Normalized;
use mmclust_core::parallel::Chunking;
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};

use crate::engine::{chunking_for, tol_abs};
use crate::error::{KMeansError, Result};
use crate::hooks::{FitEvent, FitHooks};
use crate::model::KMeansModel;
use crate::params::{Algorithm, KMeansParams, Metric};

impl KMeansParams {
    /// Fits K-means to `source`.
    ///
    /// # Errors
    /// Invalid parameters, unreadable or non-finite data, an invalid
    /// `MMCLUST_ISA` ([`mmclust_core::CoreError::Isa`]): see [`KMeansError`].
    pub fn fit<S: DataSource + ?Sized>(&self, source: &S) -> Result<KMeansModel> {
        self.fit_with(source, None, FitHooks::default())
    }

    /// Fits K-means with per-row sample weights.
    ///
    /// # Errors
    /// As [`KMeansParams::fit`]; also weights of the wrong length, negative,
    /// non-finite or all zero.
    pub fn fit_weighted<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: &[f32],
    ) -> Result<KMeansModel> {
        self.fit_with(source, Some(weights), FitHooks::default())
    }

    /// Fits with optional weights and observers.
    ///
    /// # Errors
    /// As [`KMeansParams::fit_weighted`].
    pub fn fit_with<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        let started = Instant::now();
        Isa::process_default()?;
        let (n, d) = (source.n_rows(), source.n_cols());
        self.check(n, d, weights)?;
        let chunking = chunking_for(self, n, d);
        // One pass validates the data (NaN/inf found here, before anything is
        // written), gives the tolerance's scale and the standardisation.
        // Mini-batch skips it unless it needs it (standardisation, tol > 0): its
        // point is not to read all the data; it checks each batch instead.
        let minibatch = matches!(self.algorithm, Algorithm::MiniBatch(_));
        let t = Instant::now();
        if self.metric == Metric::Cosine {
            // Spherical K-means: the Euclidean engine on the normalised rows,
            // its statistics pass (finiteness, zero rows, tol's scale) on them too.
            let unit = Normalized::new(source);
            let variance = if minibatch && self.tol == 0.0 {
                vec![0.0; d]
            } else {
                checked_stats(&unit, chunking, hooks.pass())?.variance()
            };
            let stats_seconds = t.elapsed().as_secs_f64();
            hooks.emit(FitEvent::StatsDone {
                seconds: stats_seconds,
            });
            let mut model = self.fit_prepared(&unit, weights, chunking, &variance, hooks)?;
            model.stats_seconds = stats_seconds;
            model.fit_seconds = started.elapsed().as_secs_f64();
            return Ok(model);
        }
        let stats = if minibatch && !self.standardize && self.tol == 0.0 {
            None
        } else {
            Some(checked_stats(source, chunking, hooks.pass())?)
        };
        let stats_seconds = t.elapsed().as_secs_f64();
        hooks.emit(FitEvent::StatsDone {
            seconds: stats_seconds,
        });
        let variance = stats
            .as_ref()
            .map_or_else(|| vec![0.0; d], ColumnStats::variance);
        let mut model = match (&stats, self.standardize) {
            (Some(stats), true) => {
                let transform = Standardizer::from_stats(stats, &source.name())?;
                let fit_variance: Vec<f64> = variance
                    .iter()
                    .zip(&transform.scale)
                    .map(|(v, s)| v / (s * s))
                    .collect();
                let std_source = Standardized::new(source, transform.clone())?;
                let mut model =
                    self.fit_prepared(&std_source, weights, chunking, &fit_variance, hooks)?;
                model.standardizer = Some(transform);
                model
            }
            _ => self.fit_prepared(source, weights, chunking, &variance, hooks)?,
        };
        model.stats_seconds = stats_seconds;
        model.fit_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    /// The fit after its prologue: mini-batch, or the runs of the exact
    /// engine, with the tolerance scaled by `variance`.
    fn fit_prepared<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        chunking: Chunking,
        variance: &[f64],
        hooks: FitHooks<'_>,
    ) -> Result<KMeansModel> {
        let tol_abs = tol_abs(self.tol, variance);
        match &self.algorithm {
            Algorithm::MiniBatch(opts) => self.fit_minibatch(opts, source, weights, tol_abs, hooks),
            _ => self.fit_runs(source, weights, chunking, tol_abs, hooks),
        }
    }
}

/// K-means on `source` as it is, given its column variance: the fit of
/// [`KMeansParams::fit_with`] without its statistics pass, for a caller that
/// has made that pass already (the Gaussian mixture's initialisation). The
/// variance sets the scale of `tol` (`tol ×` its mean); with `None` it is
/// computed from `source` here, as the public fit does (one pass, which also
/// rejects non-finite values). With the variance of the same source and the
/// same chunking, the result is that of `params.fit_with(source, ..)` bit for
/// bit.
///
/// The parameters are checked as the public fit checks them; the data's
/// values are not (a caller passing a variance has checked them). With
/// [`crate::Metric::Cosine`] the source must already be at unit length
/// (wrap it in [`Normalized`]).
///
/// # Errors
/// Invalid parameters or weights, `params.standardize` set (standardise the
/// source instead), a variance of the wrong length or not finite, read
/// errors, see [`KMeansError`].
pub fn fit_source<S: DataSource + ?Sized>(
    params: &KMeansParams,
    source: &S,
    weights: Option<&[f32]>,
    variance: Option<&[f64]>,
    hooks: FitHooks<'_>,
) -> Result<KMeansModel> {
    let started = Instant::now();
    let (n, d) = (source.n_rows(), source.n_cols());
    params.check(n, d, weights)?;
    if params.standardize {
        return Err(KMeansError::param(
            "standardize",
            "fit_source clusters the source as given; wrap it in Standardized instead",
        ));
    }
    let chunking = chunking_for(params, n, d);
    let model = match variance {
        Some(v) => {
            if v.len() != d || v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                return Err(KMeansError::param(
                    "variance",
                    format!(
                        "{} values for {d} columns; give one finite variance ≥ 0 per column",
                        v.len()
                    ),
                ));
            }
            params.fit_prepared(source, weights, chunking, v, hooks)?
        }
        None => {
            let minibatch = matches!(params.algorithm, Algorithm::MiniBatch(_));
            let variance = if minibatch && params.tol == 0.0 {
                vec![0.0; d]
            } else {
                checked_stats(source, chunking, hooks.pass())?.variance()
            };
            params.fit_prepared(source, weights, chunking, &variance, hooks)?
        }
    };
    Ok(KMeansModel {
        fit_seconds: started.elapsed().as_secs_f64(),
        ..model
    })
}

/// The initial centres that `params.init` picks on `source` (k-means++ or
/// random rows; given centres as given), seeded by `params.seed`, without the
/// Lloyd iterations: rows of the data chosen as a fit would choose them. For
/// a caller that needs well-spread rows rather than a clustering (the Nyström
/// landmarks of `mmclust-kernel`). `Init::Auto` and k-means‖ are k-means++
/// here. [`Init::Sample`](crate::Init::Sample) gives the K-means centres of
/// its sample, as a fit starts from (the bounded initialisation of a
/// Gaussian mixture beyond RAM): no pass over `source`.
///
/// # Errors
/// Invalid parameters (k > n, …), read errors, see [`KMeansError`].
pub fn initial_centers<S: DataSource + ?Sized>(
    params: &KMeansParams,
    source: &S,
) -> Result<Vec<f32>> {
    use rand::SeedableRng;

    let (n, d) = (source.n_rows(), source.n_cols());
    params.check(n, d, None)?;
    let ctx = crate::init::Ctx {
        source,
        chunking: chunking_for(params, n, d),
        weights: None,
        scratch: &params.scratch,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
    match &params.init {
        crate::params::Init::Random => crate::init::random(&ctx, params.k, &mut rng),
        crate::params::Init::Given(c) => crate::init::given(c, params.k, d),
        crate::params::Init::Sample { rows_per_centre } => {
            params.sample_centers(&ctx, *rows_per_centre, params.seed, &mut rng)
        }
        _ => Ok(crate::init::plus_plus(&ctx, params.k, &mut rng)?.0),
    }
}

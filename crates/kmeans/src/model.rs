//! A fitted K-means model: centres, how it was fitted, prediction, model files.

use mmclust_core::DataSource;
use mmclust_core::fitting::{in_fit_space, map_rows_ordered};
use mmclust_core::isa::Isa;
use mmclust_core::kernel::{PackedCenters, reference};
use mmclust_core::model_file::{self, Seconds, StandardizerFile};
use mmclust_core::normalize::Normalized;
use mmclust_core::parallel::{Chunk, Chunking, PassOptions};
use mmclust_core::stats::Standardizer;
use serde::{Deserialize, Serialize};

use crate::error::{KMeansError, Result};
use crate::params::{Algorithm, Init, KMeansParams, Metric, check_weights_len};
use crate::pass::{assign, inertia_pass, with_workspace};
use crate::state::{MiniBatchState, Run};

/// Version of the model file format written by [`KMeansModel::to_json`].
/// Files of this version or older are read; newer ones are refused.
pub const MODEL_VERSION: u32 = 1;

/// A fitted K-means model.
///
/// Centres live in the space the clustering ran in: standardised units when
/// the fit standardised (then [`KMeansModel::standardizer`] holds the
/// transform, which [`KMeansModel::predict_each`] applies to new data), the
/// data's own units otherwise. [`KMeansModel::centers_original_units`] maps
/// them back.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    /// Number of clusters.
    pub k: usize,
    /// Number of columns.
    pub d: usize,
    /// Centres, row-major k × d, in the fit's space.
    pub centers: Vec<f32>,
    /// The z-score transform applied before clustering, if any.
    pub standardizer: Option<Standardizer>,
    /// Euclidean, or cosine (spherical K-means: rows are L2-normalised before
    /// assignment, centres are unit vectors; see [`Metric::Cosine`]).
    pub metric: Metric,
    /// Sum of (weighted) squared distances of the points to their centres;
    /// cosine: Σ w·(1 − cos), half the squared distance of the unit vectors.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub n_iter: usize,
    /// Whether the winning run converged before `max_iter`.
    pub converged: bool,
    /// Inertia of each iteration of the winning run, measured against the
    /// centres that iteration assigned with (never rises).
    pub history: Vec<f64>,
    /// Final inertia of every run, in run order.
    pub run_inertias: Vec<f64>,
    /// Index of the winning run.
    pub best_run: usize,
    /// Times an empty cluster's centre was moved to a far point (winning run).
    pub relocated: usize,
    /// Distinct centres found by k-means++ (less than k when the data has
    /// fewer distinct points than k).
    pub distinct_init: usize,
    /// Number of distinct final centres.
    pub distinct_centers: usize,
    /// Point–centre distances computed by the winning run.
    pub distance_evals: u64,
    /// Point–centre distances plain Lloyd computes for the same iterations
    /// (n·k per pass); `1 − distance_evals / distance_evals_lloyd` is the
    /// fraction the bounds of Hamerly or Yinyang skipped.
    pub distance_evals_lloyd: u64,
    /// Rows of the winning run's iterations whose label the pre-screen
    /// could not certify, re-checked with the reference scan (see
    /// [`mmclust_core::kernel::assign_chunk`]); per row assigned:
    /// [`KMeansModel::rechecks_per_row`].
    pub rechecks: u64,
    /// Rows assigned in the winning run's iterations (mini-batch: batch
    /// rows, then the refinement's), the denominator of `rechecks`.
    pub assigned_rows: u64,
    /// The initialisation used (after resolving `auto`).
    pub init: String,
    /// Seed of the fit.
    pub seed: u64,
    /// `max_iter` of the fit.
    pub max_iter: usize,
    /// `tol` of the fit, and the absolute shift threshold it became.
    pub tol: f64,
    /// `tol ×` mean column variance.
    pub tol_abs: f64,
    /// Rows the model was fitted on.
    pub n_rows: usize,
    /// Seconds: statistics pass, initialisation and iterations of the winning
    /// run, and the whole fit.
    pub stats_seconds: f64,
    /// Seconds of the winning run's initialisation.
    pub init_seconds: f64,
    /// Seconds of the winning run's iterations.
    pub iter_seconds: f64,
    /// Seconds of the whole fit.
    pub fit_seconds: f64,
    /// "lloyd", "hamerly", "yinyang" or "minibatch".
    pub algorithm: String,
    /// Mini-batch: rows per batch.
    pub batch_size: Option<usize>,
    /// Mini-batch: epochs (rows seen / n).
    pub epochs: Option<f64>,
    /// Mini-batch: full Lloyd iterations run from its centres at the end.
    pub refined: Option<usize>,
}

impl KMeansModel {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_run(
        params: &KMeansParams,
        init: &Init,
        algorithm: &Algorithm,
        run: Run,
        best_run: usize,
        run_inertias: Vec<f64>,
        tol_abs: f64,
        n: usize,
        d: usize,
    ) -> Self {
        let k = params.k;
        let distinct_centers = count_distinct(&run.centers, k, d);
        KMeansModel {
            k,
            d,
            centers: run.centers,
            standardizer: None,
            metric: params.metric,
            inertia: run.inertia,
            n_iter: run.n_iter,
            converged: run.converged,
            history: run.history,
            run_inertias,
            best_run,
            relocated: run.relocated,
            distinct_init: run.distinct_init,
            distinct_centers,
            distance_evals: run.distance_evals,
            distance_evals_lloyd: run.distance_evals_lloyd,
            rechecks: run.rechecks,
            assigned_rows: run.assigned_rows,
            init: init.name().to_string(),
            seed: params.seed,
            max_iter: params.max_iter,
            tol: params.tol,
            tol_abs,
            n_rows: n,
            stats_seconds: 0.0,
            init_seconds: run.init_seconds,
            iter_seconds: run.iter_seconds,
            fit_seconds: 0.0,
            algorithm: algorithm.name().into(),
            batch_size: None,
            epochs: None,
            refined: None,
        }
    }

    /// The mean number of reference re-checks per assigned row: the rows
    /// whose label the pre-screen could not certify, over the rows assigned
    /// (0 when nothing was assigned, e.g. a model from given centres).
    #[must_use]
    pub fn rechecks_per_row(&self) -> f64 {
        if self.assigned_rows == 0 {
            0.0
        } else {
            self.rechecks as f64 / self.assigned_rows as f64
        }
    }

    pub(crate) fn from_minibatch(
        params: &KMeansParams,
        state: MiniBatchState,
        inertia: f64,
        batch_rows: usize,
        tol_abs: f64,
        n: usize,
        d: usize,
    ) -> Self {
        let k = params.k;
        let steps = state.step;
        let final_evals = if inertia.is_nan() { 0 } else { (n * k) as u64 };
        KMeansModel {
            k,
            d,
            distinct_centers: count_distinct(&state.centers, k, d),
            centers: state.centers,
            standardizer: None,
            metric: params.metric,
            inertia,
            n_iter: steps as usize,
            converged: state.converged,
            history: state.history,
            run_inertias: vec![inertia],
            best_run: 0,
            relocated: state.reassigned as usize,
            distinct_init: k,
            distance_evals: steps * (batch_rows * k) as u64 + final_evals,
            distance_evals_lloyd: steps * (batch_rows * k) as u64 + final_evals,
            rechecks: state.rechecks,
            assigned_rows: state.assigned_rows,
            init: params.init.resolve(n, d, k).name().to_string(),
            seed: params.seed,
            max_iter: params.max_iter,
            tol: params.tol,
            tol_abs,
            n_rows: n,
            stats_seconds: 0.0,
            init_seconds: state.init_seconds,
            iter_seconds: state.step_seconds,
            fit_seconds: 0.0,
            algorithm: "minibatch".into(),
            batch_size: Some(batch_rows),
            epochs: Some(steps as f64 * batch_rows as f64 / n as f64),
            refined: None,
        }
    }

    /// A model with the given centres (row-major k × d) and nothing fitted:
    /// for predicting with centres computed elsewhere.
    ///
    /// # Errors
    /// [`KMeansError::InvalidModel`] when the shape is wrong or a value is not
    /// finite.
    pub fn from_centers(centers: Vec<f32>, k: usize, d: usize) -> Result<Self> {
        if k == 0 || d == 0 || centers.len() != k * d {
            return Err(KMeansError::InvalidModel {
                message: format!(
                    "{} centre values are not k = {k} rows of d = {d}",
                    centers.len()
                ),
            });
        }
        if centers.iter().any(|v| !v.is_finite()) {
            return Err(KMeansError::InvalidModel {
                message: "a centre holds a non-finite value".into(),
            });
        }
        Ok(KMeansModel {
            k,
            d,
            distinct_centers: count_distinct(&centers, k, d),
            centers,
            standardizer: None,
            metric: Metric::Euclidean,
            inertia: f64::NAN,
            n_iter: 0,
            converged: false,
            history: Vec::new(),
            run_inertias: Vec::new(),
            best_run: 0,
            relocated: 0,
            distinct_init: k,
            distance_evals: 0,
            distance_evals_lloyd: 0,
            rechecks: 0,
            assigned_rows: 0,
            init: "given".into(),
            seed: 0,
            max_iter: 0,
            tol: 0.0,
            tol_abs: 0.0,
            n_rows: 0,
            stats_seconds: 0.0,
            init_seconds: 0.0,
            iter_seconds: 0.0,
            fit_seconds: 0.0,
            algorithm: "given".into(),
            batch_size: None,
            epochs: None,
            refined: None,
        })
    }

    /// Centre `j` in the fit's space.
    #[must_use]
    pub fn center(&self, j: usize) -> &[f32] {
        &self.centers[j * self.d..(j + 1) * self.d]
    }

    /// Centres in the data's original units (a copy; identical to `centers`
    /// when the fit did not standardise).
    #[must_use]
    pub fn centers_original_units(&self) -> Vec<f32> {
        let mut c = self.centers.clone();
        if let Some(t) = &self.standardizer {
            t.invert_in_place(&mut c);
        }
        c
    }

    /// Streams the nearest centre and squared distance of every row of
    /// `source` to `sink`, chunk by chunk in row order (labels, squared
    /// distances in the fit's space; cosine: 1 − cos). The standardisation or
    /// the normalisation, if any, is applied.
    ///
    /// # Errors
    /// Dimension mismatch, read errors, or an error returned by `sink`.
    pub fn predict_each<S, F>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        mut sink: F,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[u32], &[f32]) -> Result<()>,
    {
        let packed = PackedCenters::new(&self.centers, self.k, self.d)?;
        self.map_rows(
            source,
            options,
            |chunk| {
                with_workspace(|ws| {
                    assign(&chunk, &packed, ws);
                    let dist = &ws.dist[..chunk.n_rows];
                    (
                        ws.labels[..chunk.n_rows].to_vec(),
                        match self.metric {
                            Metric::Euclidean => dist.to_vec(),
                            Metric::Cosine => dist.iter().map(|&v| 0.5 * v).collect(),
                        },
                    )
                })
            },
            |(labels, dist)| sink(&labels, &dist),
        )
    }

    /// Labels of every row (in memory: for data whose labels fit in RAM).
    ///
    /// # Errors
    /// As [`KMeansModel::predict_each`].
    pub fn predict<S: DataSource + ?Sized>(&self, source: &S) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(source.n_rows());
        self.predict_each(source, PassOptions::default(), |l, _| {
            out.extend_from_slice(l);
            Ok(())
        })?;
        Ok(out)
    }

    /// Inertia of `source` against the centres (scikit-learn's `score` is its
    /// negative).
    ///
    /// # Errors
    /// As [`KMeansModel::predict_each`].
    pub fn inertia_of<S: DataSource + ?Sized>(
        &self,
        source: &S,
        weights: Option<&[f32]>,
        options: PassOptions<'_>,
    ) -> Result<f64> {
        if let Some(w) = weights {
            check_weights_len(w, source.n_rows())?;
        }
        let packed = PackedCenters::new(&self.centers, self.k, self.d)?;
        let chunking = Chunking::for_dim(self.d);
        let scale = self.metric.distance_scale();
        self.in_space(source, |s| {
            Ok(scale * inertia_pass(s, chunking, options, &packed, weights)?)
        })
    }

    /// Streams, for every row, its Euclidean distance to each centre (k values
    /// per row, scikit-learn's `transform`), chunk by chunk in row order;
    /// cosine: its cosine distance 1 − cos to each centre.
    ///
    /// # Errors
    /// As [`KMeansModel::predict_each`].
    pub fn transform_each<S, F>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        mut sink: F,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        F: FnMut(&[f32]) -> Result<()>,
    {
        self.map_rows(
            source,
            options,
            |chunk| {
                // The reference distances, the same bits on every path.
                let isa = Isa::current();
                let mut out = Vec::with_capacity(chunk.n_rows * self.k);
                let mut work = vec![0.0f64; self.k];
                for x in chunk.rows() {
                    reference::dists_with(isa, x, &self.centers, &mut work);
                    match self.metric {
                        Metric::Euclidean => out.extend(work.iter().map(|&v| v.sqrt() as f32)),
                        Metric::Cosine => out.extend(work.iter().map(|&v| (0.5 * v) as f32)),
                    }
                }
                out
            },
            |rows| sink(&rows),
        )
    }

    /// `map` of every chunk of `source` (in the fit's space) to `sink`, in
    /// row order.
    fn map_rows<S, T>(
        &self,
        source: &S,
        options: PassOptions<'_>,
        map: impl Fn(Chunk<'_>) -> T + Sync,
        sink: impl FnMut(T) -> Result<()>,
    ) -> Result<()>
    where
        S: DataSource + ?Sized,
        T: Send,
    {
        self.in_space(source, |s| {
            map_rows_ordered(s, options, |chunk| Ok(map(chunk)), sink)
        })
    }

    /// `pass` over `source` in the fit's space: standardised if the fit
    /// standardised, L2-normalised if it clustered by cosine.
    fn in_space<S, R>(
        &self,
        source: &S,
        pass: impl FnOnce(&dyn DataSource) -> Result<R>,
    ) -> Result<R>
    where
        S: DataSource + ?Sized,
    {
        in_fit_space(source, self.d, self.standardizer.as_ref(), |s| {
            match self.metric {
                Metric::Euclidean => pass(s),
                Metric::Cosine => pass(&Normalized::new(s)),
            }
        })
    }

    /// The model as a JSON value (`"kind": "kmeans"`); `input` is stored as the
    /// input's fingerprint.
    #[must_use]
    pub fn to_json(&self, input: Option<serde_json::Value>) -> serde_json::Value {
        let file = ModelFile {
            kind: "kmeans".to_string(),
            version: MODEL_VERSION,
            k: self.k,
            d: self.d,
            centers: self
                .centers
                .chunks_exact(self.d)
                .map(<[f32]>::to_vec)
                .collect(),
            centers_original_units: self.standardizer.as_ref().map(|_| {
                self.centers_original_units()
                    .chunks_exact(self.d)
                    .map(<[f32]>::to_vec)
                    .collect()
            }),
            standardizer: self.standardizer.as_ref().map(StandardizerFile::from),
            metric: (self.metric != Metric::Euclidean).then(|| self.metric.name().to_string()),
            inertia: self.inertia,
            n_iter: self.n_iter,
            converged: self.converged,
            history: self.history.clone(),
            run_inertias: self.run_inertias.clone(),
            best_run: self.best_run,
            relocated: self.relocated,
            distinct_init: self.distinct_init,
            distinct_centers: self.distinct_centers,
            distance_evals: self.distance_evals,
            distance_evals_lloyd: self.distance_evals_lloyd,
            rechecks: self.rechecks,
            assigned_rows: self.assigned_rows,
            parameters: Parameters {
                algorithm: self.algorithm.clone(),
                batch_size: self.batch_size,
                epochs: self.epochs,
                refined: self.refined,
                init: self.init.clone(),
                seed: self.seed,
                max_iter: self.max_iter,
                tol: self.tol,
                tol_abs: self.tol_abs,
                n_init: self.run_inertias.len(),
            },
            n_rows: self.n_rows,
            seconds: Seconds {
                stats: self.stats_seconds,
                init: self.init_seconds,
                iter: self.iter_seconds,
                fit: self.fit_seconds,
            },
            input,
        };
        serde_json::to_value(file).expect("model serialises")
    }

    /// Reads a model written by [`KMeansModel::to_json`] (of this version of
    /// the format or an older one), checking that it is consistent (kind,
    /// version, shapes, finite centres).
    ///
    /// # Errors
    /// [`KMeansError::InvalidModel`] naming what is wrong (a newer version by
    /// the version it needs).
    pub fn from_json(text: &str) -> Result<Self> {
        let bad = |m: String| KMeansError::InvalidModel { message: m };
        let f: ModelFile = model_file::read(text, "kmeans", MODEL_VERSION).map_err(bad)?;
        if f.k == 0
            || f.d == 0
            || f.centers.len() != f.k
            || f.centers.iter().any(|c| c.len() != f.d)
        {
            return Err(bad(format!(
                "\"centers\" must be k = {} rows of d = {} values",
                f.k, f.d
            )));
        }
        let centers: Vec<f32> = f.centers.concat();
        if centers.iter().any(|v| !v.is_finite()) {
            return Err(bad("\"centers\" holds a non-finite value".into()));
        }
        let standardizer = f
            .standardizer
            .map(|s| s.into_standardizer(f.d, "centres"))
            .transpose()
            .map_err(bad)?;
        let metric = match f.metric.as_deref() {
            None => Metric::Euclidean,
            Some(name) => Metric::from_name(name).map_err(|_| {
                bad(format!(
                    "\"metric\" is {name:?}; this version knows \"euclidean\" and \"cosine\""
                ))
            })?,
        };
        if metric == Metric::Cosine && standardizer.is_some() {
            return Err(bad(
                "\"metric\": \"cosine\" with a \"standardizer\": cosine models never standardise"
                    .into(),
            ));
        }
        Ok(KMeansModel {
            k: f.k,
            d: f.d,
            centers,
            standardizer,
            metric,
            inertia: f.inertia,
            n_iter: f.n_iter,
            converged: f.converged,
            history: f.history,
            run_inertias: f.run_inertias,
            best_run: f.best_run,
            relocated: f.relocated,
            distinct_init: f.distinct_init,
            distinct_centers: f.distinct_centers,
            distance_evals: f.distance_evals,
            distance_evals_lloyd: f.distance_evals_lloyd,
            rechecks: f.rechecks,
            assigned_rows: f.assigned_rows,
            init: f.parameters.init,
            seed: f.parameters.seed,
            max_iter: f.parameters.max_iter,
            tol: f.parameters.tol,
            tol_abs: f.parameters.tol_abs,
            n_rows: f.n_rows,
            stats_seconds: f.seconds.stats,
            init_seconds: f.seconds.init,
            iter_seconds: f.seconds.iter,
            fit_seconds: f.seconds.fit,
            algorithm: f.parameters.algorithm,
            batch_size: f.parameters.batch_size,
            epochs: f.parameters.epochs,
            refined: f.parameters.refined,
        })
    }
}

pub(crate) fn count_distinct(centers: &[f32], k: usize, d: usize) -> usize {
    (0..k)
        .filter(|&j| {
            let c = &centers[j * d..(j + 1) * d];
            (0..j).all(|i| &centers[i * d..(i + 1) * d] != c)
        })
        .count()
}

#[derive(Serialize, Deserialize)]
struct Parameters {
    algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epochs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refined: Option<usize>,
    init: String,
    seed: u64,
    max_iter: usize,
    tol: f64,
    tol_abs: f64,
    n_init: usize,
}

#[derive(Serialize, Deserialize)]
struct ModelFile {
    kind: String,
    version: u32,
    k: usize,
    d: usize,
    centers: Vec<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    centers_original_units: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    standardizer: Option<StandardizerFile>,
    /// "cosine"; absent for Euclidean (and in files written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric: Option<String>,
    inertia: f64,
    n_iter: usize,
    converged: bool,
    history: Vec<f64>,
    run_inertias: Vec<f64>,
    best_run: usize,
    relocated: usize,
    distinct_init: usize,
    distinct_centers: usize,
    distance_evals: u64,
    /// Absent from files written before the accelerated variants.
    #[serde(default)]
    distance_evals_lloyd: u64,
    /// Absent from files written before the exact re-checks.
    #[serde(default)]
    rechecks: u64,
    #[serde(default)]
    assigned_rows: u64,
    parameters: Parameters,
    n_rows: usize,
    seconds: Seconds,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

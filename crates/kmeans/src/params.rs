//! Parameters of a K-means fit, with scikit-learn's names and defaults.

use std::path::PathBuf;

use mmclust_core::fitting::{check_data_and_k, check_non_negative};
use mmclust_core::parallel::Chunking;
use mmclust_core::scratch::ScratchConfig;

use crate::error::{KMeansError, Result};
use crate::init;
use crate::state::{LloydState, MiniBatchState};

/// How the initial centres are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// k-means++ when the data is at most [`AUTO_PARALLEL_BYTES`] (n·d·4 bytes)
    /// or k ≤ 8; k-means‖ above, where k passes over the data would cost more
    /// than the ~`rounds + 2` passes of k-means‖; [`Init::Sample`] above
    /// [`AUTO_SAMPLE_BYTES`], where even those passes cost minutes from disk.
    /// The choice depends on n, d and k alone, never on the machine.
    Auto,
    /// k distinct rows chosen uniformly at random (weighted by sample weight).
    Random,
    /// Greedy k-means++ with 2 + ⌊ln k⌋ candidates per centre (scikit-learn's).
    KMeansPlusPlus,
    /// k-means‖ (Bahmani et al. 2012): `rounds` passes sampling about
    /// `oversampling · k` candidates each, reduced to k by weighted k-means++
    /// and Lloyd on the candidates.
    KMeansParallel {
        /// Sampling passes (default 5).
        rounds: usize,
        /// ℓ / k (default 2).
        oversampling: f64,
    },
    /// K-means on a uniform sample: `rows_per_centre · k` rows (at most n,
    /// and at most [`SAMPLE_MAX_BYTES`](crate::SAMPLE_MAX_BYTES) of them) drawn without replacement,
    /// read by random access in row order, then k-means++ and Lloyd to
    /// convergence on them in memory (faiss trains on 256 rows per centre).
    /// No pass over the data: the initialisation of data larger than RAM.
    Sample {
        /// Rows drawn per centre (default [`DEFAULT_SAMPLE_ROWS_PER_CENTRE`]).
        rows_per_centre: usize,
    },
    /// Given centres, row-major k × d.
    Given(Vec<f32>),
}

/// Above this many bytes of data, [`Init::Auto`] picks k-means‖ (1 GiB).
pub const AUTO_PARALLEL_BYTES: u64 = 1 << 30;

/// Above this many bytes of data (n·d·4), [`Init::Auto`] picks
/// [`Init::Sample`] (8 GiB): k-means‖'s dozen passes would cost more than the
/// iterations that follow. Measured in docs/benchmarks.md ("Initialisation
/// beyond RAM").
pub const AUTO_SAMPLE_BYTES: u64 = 8 << 30;

/// Rows per centre of [`Init::Sample`] by default (faiss's
/// `max_points_per_centroid`).
pub const DEFAULT_SAMPLE_ROWS_PER_CENTRE: usize = 256;

impl Init {
    /// k-means‖ with its default rounds (5) and oversampling (2).
    #[must_use]
    pub fn k_means_parallel() -> Self {
        Init::KMeansParallel {
            rounds: 5,
            oversampling: 2.0,
        }
    }

    /// [`Init::Sample`] with its default rows per centre.
    #[must_use]
    pub fn sample() -> Self {
        Init::Sample {
            rows_per_centre: DEFAULT_SAMPLE_ROWS_PER_CENTRE,
        }
    }

    /// The name used in model files and summaries.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Init::Auto => "auto",
            Init::Random => "random",
            Init::KMeansPlusPlus => "k-means++",
            Init::KMeansParallel { .. } => "k-means-parallel",
            Init::Sample { .. } => "sample",
            Init::Given(_) => "given",
        }
    }

    /// What [`Init::Auto`] becomes for n rows, d columns and k clusters.
    #[must_use]
    pub fn resolve(&self, n: usize, d: usize, k: usize) -> Init {
        match self {
            Init::Auto => {
                let bytes = n as u64 * d as u64 * 4;
                if bytes > AUTO_SAMPLE_BYTES {
                    Init::sample()
                } else if bytes <= AUTO_PARALLEL_BYTES || k <= 8 {
                    Init::KMeansPlusPlus
                } else {
                    Init::k_means_parallel()
                }
            }
            other => other.clone(),
        }
    }
}

/// How closeness is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// Squared Euclidean distance: plain K-means.
    #[default]
    Euclidean,
    /// Cosine similarity: spherical K-means. Rows are L2-normalised as they
    /// are read ([`mmclust_core::normalize::Normalized`]; a row of norm 0 is
    /// an error naming it), each row goes to the centre of largest cosine, and
    /// each centre is the normalised sum of its rows (mini-batch: the
    /// normalised running centre). On unit vectors ‖x − c‖² = 2 − 2·cos, so
    /// the exact Euclidean assignment decides it and Lloyd, Hamerly, Yinyang,
    /// mini-batch and every initialisation run unchanged on the normalised
    /// rows (k-means++ samples by ‖x − c‖², proportional to 1 − cos).
    /// Inertia, `score` and the history report Σ w·(1 − cos), half the squared
    /// Euclidean distance of the unit vectors; `tol` is scaled by the
    /// variance of the normalised rows.
    Cosine,
}

impl Metric {
    /// The name used in model files, summaries and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Cosine => "cosine",
        }
    }

    /// The metric named `name` (`"euclidean"` or `"cosine"`).
    ///
    /// # Errors
    /// [`KMeansError::InvalidParameter`] for any other name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "euclidean" => Ok(Metric::Euclidean),
            "cosine" => Ok(Metric::Cosine),
            other => Err(KMeansError::param(
                "metric",
                format!("unknown metric {other:?}; use \"euclidean\" or \"cosine\""),
            )),
        }
    }

    /// What the squared Euclidean distance in the fit's space is multiplied
    /// by to give the reported one: 1, or ½ for cosine (½‖x̂ − ĉ‖² = 1 − cos).
    #[must_use]
    pub fn distance_scale(self) -> f64 {
        match self {
            Metric::Euclidean => 1.0,
            Metric::Cosine => 0.5,
        }
    }
}

/// How mini-batches are drawn from the data (shared with online EM).
pub use mmclust_core::batches::Sampling;

/// Options of mini-batch K-means (Sculley 2010, with scikit-learn's refinements).
#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchOptions {
    /// Rows per batch (default 8192, rounded up to whole blocks). Fixed, not
    /// derived from the thread count, so results do not depend on it; a batch
    /// is assigned in 256-row chunks, enough to keep 32 cores busy.
    pub batch_size: usize,
    /// How batches are drawn.
    pub sampling: Sampling,
    /// Stop after this many steps without improvement of the smoothed batch
    /// inertia (default 10; `None` disables).
    pub max_no_improvement: Option<usize>,
    /// Centres whose accumulated weight falls below this fraction of the
    /// largest are moved to random points of the batch (default 0.01).
    pub reassignment_ratio: f64,
    /// Rows sampled for the initialisation (default 3 × batch size, at least
    /// 3k, at most n).
    pub init_size: Option<usize>,
    /// Compute the exact inertia with one final full pass (default true).
    pub final_pass: bool,
    /// Full Lloyd iterations run from the mini-batch centres at the end (default
    /// 0). Each is one pass over all the data; a few of them take the centres
    /// from mini-batch's noisy plateau (typically 2–4 % above Lloyd's inertia)
    /// to within a per cent or so of a full Lloyd fit.
    pub refine: usize,
    /// Steps between checkpoints handed to [`crate::FitHooks::on_checkpoint`]
    /// (default 0: only when stopped and at the end).
    pub checkpoint_every: u64,
    /// Also checkpoint when this many seconds have passed since the last one
    /// (default 0: off). Timing never changes the result: a checkpoint only
    /// copies the state.
    pub checkpoint_seconds: f64,
    /// State to resume from (a checkpoint of a run with the same data and parameters).
    pub resume: Option<MiniBatchState>,
}

impl Default for MiniBatchOptions {
    fn default() -> Self {
        MiniBatchOptions {
            batch_size: 8192,
            sampling: Sampling::Blocks { rows: 256 },
            max_no_improvement: Some(10),
            reassignment_ratio: 0.01,
            init_size: None,
            final_pass: true,
            refine: 0,
            checkpoint_every: 0,
            checkpoint_seconds: 0.0,
            resume: None,
        }
    }
}

/// The K-means algorithm.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Algorithm {
    /// Full Lloyd iterations: every point, every iteration.
    #[default]
    Lloyd,
    /// Lloyd's answer with Hamerly's bounds (2010): one lower bound per point
    /// (4 bytes), most points skip all but one distance once the centres
    /// settle. Best for small k.
    Hamerly,
    /// Lloyd's answer with Yinyang's bounds (Ding et al. 2015): the centres
    /// in ⌈k/16⌉ groups of at most 16, one lower bound per point and group
    /// (4·⌈k/16⌉ bytes per point). Best for large k·d.
    Yinyang,
    /// Lloyd, Yinyang or Hamerly by [`Algorithm::resolve`] (Lloyd below
    /// k = 32, d = 8 or k·d = 1024), from the shape alone: the same choice
    /// in one process and in a distributed run.
    Auto,
    /// Mini-batch K-means; `max_iter` counts epochs (passes' worth of rows).
    MiniBatch(Box<MiniBatchOptions>),
}

impl Algorithm {
    /// The name used in model files and summaries.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Lloyd => "lloyd",
            Algorithm::Hamerly => "hamerly",
            Algorithm::Yinyang => "yinyang",
            Algorithm::Auto => "auto",
            Algorithm::MiniBatch(_) => "minibatch",
        }
    }

    /// What [`Algorithm::Auto`] becomes for `n` rows, `d` columns and `k`
    /// clusters (other algorithms stay as they are).
    ///
    /// Lloyd unless `k ≥ 32`, `d ≥ 8` and `k·d ≥ 1024`
    /// ([`AUTO_BOUNDS_MIN_K`], [`AUTO_BOUNDS_MIN_D`], [`AUTO_BOUNDS_MIN_KD`]);
    /// then Yinyang when its bounds (`4·⌈k/16⌉` bytes per point) take at most
    /// half the bytes of a row (`4·d`) and the data takes at most
    /// [`AUTO_SAMPLE_BYTES`] (`n·d·4`), Hamerly (4 bytes per point) otherwise.
    ///
    /// The size clause is for data read from disk at every pass: there the
    /// per-row state (Hamerly's labels and two bounds, 12 bytes a row;
    /// Yinyang's `8 + 4·⌈k/16⌉`) is read and written beside the data, and
    /// competes with it for the page cache. On the 32 GiB file of
    /// docs/benchmarks.md ("Beyond RAM at disk speed", 268,435,456 × 32,
    /// `k = 100`, AMD EPYC, 2 cores, 24 GiB), the first 5 iterations took
    /// 17.8 s each with Hamerly and 40.9 s with Yinyang (36 bytes a row).
    ///
    /// Measured with the bounds' warm-up ([`KMeansParams::bounds_warm_up`])
    /// by `scripts/bench_peers.py --accel` (docs/benchmarks.md, section
    /// accel: overlapping blobs, 2 threads, time to convergence from the same
    /// centres), seconds for Lloyd / Hamerly / Yinyang:
    /// `d = 2, k = 16`: Lloyd's direct kernel, about 3× faster than either;
    /// `d = 32, k = 100` (`k·d = 3200`): 3.5 / 3.4 / 2.9;
    /// `d = 16, k = 1000`: 3.4 / 2.3 / 2.8;
    /// `d = 384, k = 100`: 0.66 / 0.52 / 0.43;
    /// and (k-means++ start, 300 passes, one run each) `d = 16, k = 64`
    /// (`k·d = 1024`): 2.80 / 2.90 / 2.84, `d = 8, k = 256`: 4.23 / 3.05 /
    /// 3.44. The saving grows with the work per distance (`d`) and the
    /// number of centres a bound stands for (`k`), the bookkeeping per point
    /// does not.
    /// The memory clause keeps the bounds small next to the data (at
    /// `d = 16, k = 1000` Yinyang would keep 256 bytes per point against 64 of
    /// data, for no gain over Hamerly): beyond the in-memory limit the bounds
    /// live in a memory-mapped scratch file that every pass reads and writes.
    ///
    /// Re-measured after the exact assignment (issue 19), on the `amx` path
    /// (Intel Xeon with AMX, 2 threads, a build running beside: one run
    /// each; docs/benchmarks.md, section embeddings): real word embeddings,
    /// n = 200,000, d = 384, time to convergence from the same centres,
    /// Lloyd / Hamerly / Yinyang, `k = 100`: 21.2 / 36.5 / 21.0 s; `k = 1000`:
    /// 47.4 / 105 / 46.1 s. The three reach the same centres bit for bit, so
    /// the choice changes only speed. There Lloyd's full scan is the bf16
    /// pre-screen while the bounded variants' scans are still the `f32`
    /// top-2 kernel: Yinyang ties Lloyd and Hamerly loses about 2×. The rule
    /// is kept (it picks Yinyang there, a tie) until the bounded scans use
    /// the bf16 pre-screen; it stays a function of `(n, d, k)` alone (the
    /// whole data's `n`, never the machine's memory), so that every rank of
    /// a distributed run resolves it the same way.
    #[must_use]
    pub fn resolve(&self, n: usize, d: usize, k: usize) -> Algorithm {
        match self {
            Algorithm::Auto => {
                let bytes = n as u64 * d as u64 * 4;
                if k < AUTO_BOUNDS_MIN_K
                    || d < AUTO_BOUNDS_MIN_D
                    || k.saturating_mul(d) < AUTO_BOUNDS_MIN_KD
                {
                    Algorithm::Lloyd
                } else if 2 * k.div_ceil(16) <= d && bytes <= AUTO_SAMPLE_BYTES {
                    Algorithm::Yinyang
                } else {
                    Algorithm::Hamerly
                }
            }
            other => other.clone(),
        }
    }
}

/// [`Algorithm::Auto`] keeps Lloyd below this many clusters.
pub const AUTO_BOUNDS_MIN_K: usize = 32;
/// [`Algorithm::Auto`] keeps Lloyd below this many columns (Lloyd's direct
/// kernel wins).
pub const AUTO_BOUNDS_MIN_D: usize = 8;
/// [`Algorithm::Auto`] keeps Lloyd below this `k·d`.
pub const AUTO_BOUNDS_MIN_KD: usize = 1024;

/// Checkpoints of an exact run (Lloyd, Hamerly, Yinyang): when its state
/// goes to [`crate::FitHooks::on_lloyd_checkpoint`], and a state to resume
/// from. They need one run (`n_init` 1).
#[derive(Debug, Clone, Default)]
pub struct LloydCheckpoints {
    /// Iterations between checkpoints (0: none by count).
    pub every: u64,
    /// Also checkpoint when this many seconds have passed since the last one
    /// (0: off). Timing never changes the result: a checkpoint only copies the
    /// state.
    pub seconds: f64,
    /// State to resume from (a checkpoint of a run with the same data and
    /// parameters): the result is bit for bit that of an uninterrupted run.
    pub resume: Option<Box<LloydState>>,
}

impl LloydCheckpoints {
    /// Whether any checkpoint or resume is asked for.
    #[must_use]
    pub fn any(&self) -> bool {
        self.every > 0 || self.seconds > 0.0 || self.resume.is_some()
    }
}

/// Parameters of a K-means fit.
///
/// ```
/// use mmclust_kmeans::{Init, KMeansParams};
/// let params = KMeansParams::new(3).init(Init::Random).n_init(5).seed(42).tol(0.0);
/// assert_eq!(params.k, 3);
/// ```
#[derive(Debug, Clone)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Initialisation.
    pub init: Init,
    /// Lloyd (plain or accelerated) or mini-batch.
    pub algorithm: Algorithm,
    /// Runs from different initialisations; the lowest inertia wins. `None`:
    /// 10 for [`Init::Random`], 1 otherwise (scikit-learn's `n_init="auto"`).
    /// Given centres always run once.
    pub n_init: Option<usize>,
    /// Maximum Lloyd iterations per run (default 300).
    pub max_iter: usize,
    /// Relative tolerance (default 1e-4): a run stops when the total squared
    /// centre shift is at most `tol ×` the mean column variance, or when no
    /// label changes. 0 runs until labels stop changing or `max_iter`.
    pub tol: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Z-score the columns (statistics from one pass) before clustering, on the
    /// fly as chunks are read; the model keeps the transform for prediction.
    pub standardize: bool,
    /// Chunk length override (default: from d, see [`Chunking::for_dim`]).
    pub chunking: Option<Chunking>,
    /// Where per-row state (labels, distances) spills when it is large.
    pub scratch: ScratchConfig,
    /// Hamerly and Yinyang: run Lloyd's passes until one changes at most
    /// 0.5 % of the labels, then start the bounds (default true). Early
    /// passes move the centres far, most bounds fail, and a bounded pass
    /// then costs more than Lloyd's; measured 10–20 % faster to convergence
    /// (docs/benchmarks.md, section accel). False: bounds from the first pass.
    pub bounds_warm_up: bool,
    /// Euclidean (default) or cosine (spherical K-means, see [`Metric::Cosine`]).
    pub metric: Metric,
    /// Exact runs: checkpoints and resume (default: none).
    pub checkpoints: LloydCheckpoints,
}

impl KMeansParams {
    /// Defaults for `k` clusters.
    #[must_use]
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            init: Init::Auto,
            algorithm: Algorithm::Lloyd,
            n_init: None,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            standardize: false,
            chunking: None,
            scratch: ScratchConfig::default(),
            bounds_warm_up: true,
            metric: Metric::Euclidean,
            checkpoints: LloydCheckpoints::default(),
        }
    }

    /// Sets the metric (see [`Metric`]).
    #[must_use]
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Sets whether Hamerly and Yinyang start with Lloyd's passes (see
    /// [`KMeansParams::bounds_warm_up`]).
    #[must_use]
    pub fn bounds_warm_up(mut self, on: bool) -> Self {
        self.bounds_warm_up = on;
        self
    }

    /// Sets the initialisation.
    #[must_use]
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Sets the algorithm.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of runs.
    #[must_use]
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = Some(n_init);
        self
    }

    /// Sets the iteration limit.
    #[must_use]
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets the tolerance.
    #[must_use]
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Standardises the columns first.
    #[must_use]
    pub fn standardize(mut self, on: bool) -> Self {
        self.standardize = on;
        self
    }

    /// Sets the chunk length.
    #[must_use]
    pub fn chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = Some(chunking);
        self
    }

    /// Sets the folder where large per-row state spills.
    #[must_use]
    pub fn scratch_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.scratch.dir = Some(dir.into());
        self
    }

    /// The number of runs these parameters make.
    #[must_use]
    pub fn runs(&self) -> usize {
        match (&self.init, self.n_init) {
            (Init::Given(_), _) => 1,
            (_, Some(n)) => n,
            (Init::Random, None) => 10,
            (_, None) => 1,
        }
    }

    /// Checks the parameters against data of `n` rows and `d` columns, and
    /// the sample weights if any.
    pub(crate) fn check(&self, n: usize, d: usize, weights: Option<&[f32]>) -> Result<()> {
        check_data_and_k(n, d, self.k, KMeansError::param)?;
        // Labels are 32-bit (int32 in label files, u32 in the kernels).
        if self.k > i32::MAX as usize {
            return Err(KMeansError::param(
                "k",
                format!("k = {} is over the limit of {} clusters", self.k, i32::MAX),
            ));
        }
        if self.max_iter == 0 {
            return Err(KMeansError::param("max_iter", "must be at least 1"));
        }
        check_non_negative("tol", self.tol, KMeansError::param)?;
        if self.n_init == Some(0) {
            return Err(KMeansError::param("n_init", "must be at least 1"));
        }
        if let Init::KMeansParallel {
            rounds,
            oversampling,
        } = self.init
            && (rounds == 0 || !(oversampling.is_finite() && oversampling > 0.0))
        {
            return Err(KMeansError::param(
                "init",
                "k-means-parallel needs at least one round and an oversampling factor > 0",
            ));
        }
        if let Init::Sample { rows_per_centre: 0 } = self.init {
            return Err(KMeansError::param(
                "init",
                "the sample initialisation needs at least 1 row per centre",
            ));
        }
        if self.standardize && self.metric == Metric::Cosine {
            return Err(KMeansError::param(
                "metric",
                "cosine clustering normalises each row; it does not combine with standardize \
                 (standardise the file first, then cluster it by cosine)",
            ));
        }
        if self.checkpoints.any() {
            if self.runs() > 1 {
                return Err(KMeansError::param(
                    "n_init",
                    format!(
                        "checkpoints follow one run; these parameters make {} (set n_init to 1)",
                        self.runs()
                    ),
                ));
            }
            if matches!(self.algorithm, Algorithm::MiniBatch(_)) {
                return Err(KMeansError::param(
                    "checkpoints",
                    "mini-batch runs take their checkpoint options in MiniBatchOptions",
                ));
            }
            if !(self.checkpoints.seconds.is_finite() && self.checkpoints.seconds >= 0.0) {
                return Err(KMeansError::param(
                    "checkpoint_seconds",
                    "must be a number of seconds ≥ 0",
                ));
            }
        }
        if let Some(r) = &self.checkpoints.resume {
            r.validate()?;
            if r.k != self.k || r.d != d {
                return Err(KMeansError::param(
                    "resume",
                    format!(
                        "the checkpoint is for k = {} on {} columns; this run has k = {} on {d} \
                         columns",
                        r.k, r.d, self.k
                    ),
                ));
            }
            if r.iter > self.max_iter {
                return Err(KMeansError::param(
                    "resume",
                    format!(
                        "the checkpoint is after {} iterations, past max_iter = {}",
                        r.iter, self.max_iter
                    ),
                ));
            }
        }
        if let Init::Given(c) = &self.init {
            init::given(c, self.k, d)?;
        }
        if let Some(w) = weights {
            check_weights(w, n, self.k)?;
        }
        Ok(())
    }
}

/// Checks that there is one weight per row.
pub(crate) fn check_weights_len(w: &[f32], n: usize) -> Result<()> {
    if w.len() != n {
        return Err(KMeansError::param(
            "weights",
            format!(
                "{} weights for {n} rows; give exactly one weight per row",
                w.len()
            ),
        ));
    }
    Ok(())
}

/// Checks sample weights: one per row, finite, ≥ 0, at least k positive.
fn check_weights(w: &[f32], n: usize, k: usize) -> Result<()> {
    check_weights_len(w, n)?;
    if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(KMeansError::param(
            "weights",
            format!(
                "weight of row {i} is {}; weights must be finite and ≥ 0",
                w[i]
            ),
        ));
    }
    let positive = w.iter().filter(|&&v| v > 0.0).count();
    if positive == 0 {
        return Err(KMeansError::param(
            "weights",
            "all weights are zero; at least one row must count",
        ));
    }
    if positive < k {
        return Err(KMeansError::param(
            "weights",
            format!("only {positive} rows have a positive weight; k = {k} needs at least k"),
        ));
    }
    Ok(())
}

//! The Nyström feature map φ(x) = K(x, landmarks) · W, W = V Λ^(−1/2), and
//! [`NystromFeatures`], a [`DataSource`] whose rows are φ of another
//! source's rows, computed chunk by chunk as they are read.
//!
//! * Kernels as scikit-learn defines them: rbf exp(−γ‖x − y‖²), polynomial
//!   (γ x·y + coef0)^degree.
//! * Landmarks: M rows of the data, by k-means++ (`mmclust-kmeans`' own
//!   initialisation, M passes) or uniformly at random, both seeded.
//! * K_MM = V Λ Vᵀ in `f64` ([`crate::eig`]); eigenvalues at most
//!   [`EIGEN_RTOL`] × the largest are dropped (their directions carry rounding
//!   noise amplified by 1/√λ), so φ has M' ≤ M components.
//! * Arithmetic: the squared distances (or products) x·l, the kernel values
//!   and K·W in `f64` from the `f32` data, blocked for the vector units with
//!   the same bits on every instruction set (`crate::blocked`); φ is
//!   rounded to `f32` once, at the end (relative error ≤ 2⁻²⁴ per component
//!   on top of an `f64` computation), so φ(x)·φ(y) matches an `f64`
//!   reference to about 1e-7 times ‖φ(x)‖‖φ(y)‖.
//! * The default rbf γ is a *local* scale: σ = the median, over the M
//!   landmarks, of the distance to their 7th nearest other landmark, and
//!   γ = 1/(2σ²) ([`local_scale`]). A global median distance gives a kernel as
//!   wide as the data; the data's own 7th-neighbour distance shrinks with n
//!   below the landmark spacing, where M landmarks cannot represent the
//!   kernel. The landmarks' spacing is what the map can resolve.

use std::cell::Cell;
use std::ops::Range;

use mmclust_core::isa::Isa;
use mmclust_core::{DataSource, Result as CoreResult};
use mmclust_kmeans::{Init, KMeansParams, initial_centers};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::blocked::{PackedW, exp_nonpositive};
use crate::eig::SymmetricEigen;
use crate::error::{KernelError, Result};

/// Eigenvalues of K_MM at most this fraction of the largest are dropped.
pub const EIGEN_RTOL: f64 = 1e-10;

/// Neighbour rank of the local scale by default (spectral clustering): σ is
/// the median distance from a landmark to its `LOCAL_SCALE_NEIGHBOUR`-th
/// nearest other landmark.
pub const LOCAL_SCALE_NEIGHBOUR: usize = 7;

/// The neighbour rank kernel K-means uses by default: max(7, ⌈M/12⌉), a
/// kernel about twelve landmark spacings wide (25 at M = 300). Kernel K-means
/// minimises spread in the feature space and needs a wider kernel than the
/// normalised cut, but not too wide: measured on the moons (radius 1, noise
/// 0.05, M = 300, one k-means++ run, `scripts/bench_kernel_peers.sh` data), the
/// adjusted Rand index of the lowest-inertia split falls as σ grows (rank 30,
/// σ ≈ 0.34: at most 0.95, scikit-learn's pipeline with that γ included),
/// while below rank 22 (σ ≈ 0.25) a single K-means run from k-means++ falls
/// into a local minimum (ARI 0.04–0.5 at ranks 15–20, n = 10⁵; rank 22 failed
/// one seed of three at n = 3·10⁵). Rank 25 (σ ≈ 0.285) gave 0.9946–0.9956
/// on seeds 0, 1, 2 at n = 3·10⁵ and 0.995 at n = 10⁵. On the rings the
/// result is a coin toss by seed, as the issue expects of kernel K-means.
#[must_use]
pub fn kernel_kmeans_neighbour(n_landmarks: usize) -> usize {
    LOCAL_SCALE_NEIGHBOUR.max(n_landmarks.div_ceil(12))
}

/// Default landmark count.
pub const DEFAULT_LANDMARKS: usize = 300;

/// A positive semidefinite kernel with its parameters resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Kernel {
    /// exp(−γ‖x − y‖²).
    Rbf {
        /// γ > 0.
        gamma: f64,
    },
    /// (γ x·y + coef0)^degree.
    Polynomial {
        /// γ > 0.
        gamma: f64,
        /// degree ≥ 1.
        degree: u32,
        /// coef0 ≥ 0 (scikit-learn allows any; a negative one makes the kernel indefinite).
        coef0: f64,
    },
}

impl Kernel {
    /// "rbf" or "polynomial".
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Rbf { .. } => "rbf",
            Kernel::Polynomial { .. } => "polynomial",
        }
    }

    /// γ.
    #[must_use]
    pub fn gamma(&self) -> f64 {
        match *self {
            Kernel::Rbf { gamma } | Kernel::Polynomial { gamma, .. } => gamma,
        }
    }

    /// Checks the parameters: γ finite and > 0, degree ≥ 1, coef0 finite.
    ///
    /// # Errors
    /// [`KernelError::InvalidParameter`] naming the parameter.
    pub fn check(&self) -> Result<()> {
        let gamma = self.gamma();
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(KernelError::param(
                "gamma",
                format!("γ = {gamma}; it must be a finite number > 0"),
            ));
        }
        if let Kernel::Polynomial { degree, coef0, .. } = *self {
            if degree == 0 || degree > 64 {
                return Err(KernelError::param(
                    "degree",
                    format!("degree = {degree}; it must be from 1 to 64"),
                ));
            }
            if !coef0.is_finite() {
                return Err(KernelError::param(
                    "coef0",
                    format!("coef0 = {coef0}; it must be finite"),
                ));
            }
        }
        Ok(())
    }
}

/// Which kernel, with γ optional (a default from the data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KernelKind {
    /// rbf.
    Rbf,
    /// polynomial with its degree and coef0.
    Polynomial {
        /// degree ≥ 1 (scikit-learn's default 3).
        degree: u32,
        /// coef0 (scikit-learn's default 1).
        coef0: f64,
    },
}

/// Above this many rows, k-means++ picks the landmarks from a uniform
/// sample of this many rows (seeded, read by random access) instead of all
/// rows: its M passes then cost M passes over the sample. Over all 10⁶ rows
/// of the moons (M = 300) they took about 40 % of a kernel K-means run's CPU
/// time (`perf`, AMD EPYC; docs/benchmarks.md, nonconvex).
pub const LANDMARK_SAMPLE_ROWS: usize = 65_536;

/// `m` rows of `source` drawn uniformly without replacement from `seed`,
/// read in row order by random access (no pass): `m × d` values. A
/// non-finite value is an error naming its row and column.
pub(crate) fn uniform_sample<S: DataSource + ?Sized>(
    source: &S,
    m: usize,
    seed: u64,
) -> CoreResult<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, source.n_rows(), m).into_vec();
    rows.sort_unstable();
    mmclust_core::batches::read_rows(source, &rows)
}

/// How the landmarks are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LandmarkInit {
    /// Greedy k-means++ over all rows (M passes over the data), or over a
    /// uniform sample of [`LANDMARK_SAMPLE_ROWS`] rows above that many:
    /// landmarks spread over the data, the small clusters included.
    #[default]
    KMeansPlusPlus,
    /// M distinct rows uniformly at random (one read of M rows).
    Uniform,
}

impl LandmarkInit {
    /// "k-means++" or "uniform".
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            LandmarkInit::KMeansPlusPlus => "k-means++",
            LandmarkInit::Uniform => "uniform",
        }
    }
}

/// Parameters of a Nyström map.
#[derive(Debug, Clone, PartialEq)]
pub struct NystromParams {
    /// The kernel.
    pub kernel: KernelKind,
    /// γ; `None`: rbf the local scale ([`local_scale`]), polynomial 1/d
    /// (scikit-learn's default).
    pub gamma: Option<f64>,
    /// Landmarks M (default [`DEFAULT_LANDMARKS`]).
    pub n_landmarks: usize,
    /// How the landmarks are picked.
    pub landmark_init: LandmarkInit,
    /// Seed of the landmark choice.
    pub seed: u64,
    /// The neighbour rank of the rbf local scale (`None`: the default of the
    /// fit, [`LOCAL_SCALE_NEIGHBOUR`] for spectral clustering,
    /// [`kernel_kmeans_neighbour`] for kernel K-means).
    pub scale_neighbour: Option<usize>,
    /// Compute the features once into a scratch buffer and let the K-means
    /// iterations read them ([`crate::cache`]; the default), instead of
    /// recomputing them on every pass. The same result either way.
    pub cache_features: bool,
}

impl NystromParams {
    /// An rbf map with the default γ and M.
    #[must_use]
    pub fn rbf() -> Self {
        NystromParams {
            kernel: KernelKind::Rbf,
            gamma: None,
            n_landmarks: DEFAULT_LANDMARKS,
            landmark_init: LandmarkInit::KMeansPlusPlus,
            seed: 0,
            scale_neighbour: None,
            cache_features: true,
        }
    }

    /// Checks the parameters that do not need the data.
    ///
    /// # Errors
    /// [`KernelError::InvalidParameter`] naming the parameter.
    pub fn check(&self, n: usize, d: usize) -> Result<()> {
        if self.n_landmarks == 0 {
            return Err(KernelError::param("landmarks", "M must be at least 1"));
        }
        if self.n_landmarks > n {
            return Err(KernelError::param(
                "landmarks",
                format!(
                    "M = {} landmarks is more than the {n} rows of the data",
                    self.n_landmarks
                ),
            ));
        }
        if d == 0 {
            return Err(KernelError::param("data", "the data has no columns"));
        }
        self.resolved_kernel(1.0).check()
    }

    fn resolved_kernel(&self, gamma: f64) -> Kernel {
        let gamma = self.gamma.unwrap_or(gamma);
        match self.kernel {
            KernelKind::Rbf => Kernel::Rbf { gamma },
            KernelKind::Polynomial { degree, coef0 } => Kernel::Polynomial {
                gamma,
                degree,
                coef0,
            },
        }
    }

    /// Picks the landmarks of `source`, resolves γ and builds the map.
    ///
    /// # Errors
    /// Invalid parameters, read errors, non-finite data, a landmark kernel
    /// matrix with no eigenvalue above the tolerance.
    pub fn fit<S: DataSource + ?Sized>(&self, source: &S) -> Result<NystromMap> {
        let (n, d) = (source.n_rows(), source.n_cols());
        self.check(n, d)?;
        let m = self.n_landmarks;
        let landmarks = match self.landmark_init {
            LandmarkInit::KMeansPlusPlus => {
                let p = KMeansParams::new(m)
                    .init(Init::KMeansPlusPlus)
                    .seed(self.seed);
                if n > LANDMARK_SAMPLE_ROWS {
                    let points = uniform_sample(source, LANDMARK_SAMPLE_ROWS, self.seed)?;
                    let sample =
                        mmclust_core::ArraySource::from_slice(&points, LANDMARK_SAMPLE_ROWS, d)?;
                    initial_centers(&p, &sample)?
                } else {
                    initial_centers(&p, source)?
                }
            }
            LandmarkInit::Uniform => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                let mut rows = rand::seq::index::sample(&mut rng, n, m).into_vec();
                rows.sort_unstable();
                let mut out = Vec::with_capacity(m * d);
                let mut scratch = Vec::new();
                for r in rows {
                    out.extend_from_slice(source.rows(r..r + 1, &mut scratch)?);
                }
                out
            }
        };
        if let Some(i) = landmarks.iter().position(|v| !v.is_finite()) {
            return Err(KernelError::param(
                "data",
                format!(
                    "{}: landmark {} has a non-finite value in column {}; remove or impute NaN/inf first",
                    source.name(),
                    i / d,
                    i % d
                ),
            ));
        }
        let (gamma, sigma) = match (self.gamma, self.kernel) {
            (Some(g), _) => (g, None),
            (None, KernelKind::Rbf) => {
                let rank = self.scale_neighbour.unwrap_or(LOCAL_SCALE_NEIGHBOUR);
                let sigma = local_scale(&landmarks, d, rank);
                if sigma.is_nan() || sigma <= 0.0 {
                    return Err(KernelError::param(
                        "gamma",
                        "the landmarks coincide (local scale 0); give --gamma or more distinct data",
                    ));
                }
                (1.0 / (2.0 * sigma * sigma), Some((sigma, rank.min(m - 1))))
            }
            (None, KernelKind::Polynomial { .. }) => (1.0 / d as f64, None),
        };
        let kernel = self.resolved_kernel(gamma);
        kernel.check()?;
        let mut map = NystromMap::from_landmarks(kernel, landmarks, d)?;
        map.sigma = sigma;
        Ok(map)
    }
}

/// The local scale of a point set: the median over its points of the
/// distance to the k-th nearest other point, k = min(`rank`, M − 1).
#[must_use]
pub fn local_scale(points: &[f32], d: usize, rank: usize) -> f64 {
    let m = points.len() / d;
    if m < 2 {
        return 0.0;
    }
    let k = rank.clamp(1, m - 1);
    let mut kth: Vec<f64> = (0..m)
        .map(|i| {
            let pi = &points[i * d..(i + 1) * d];
            let mut dist: Vec<f64> = (0..m)
                .filter(|&j| j != i)
                .map(|j| {
                    let pj = &points[j * d..(j + 1) * d];
                    pi.iter()
                        .zip(pj)
                        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                        .sum::<f64>()
                })
                .collect();
            let (_, v, _) = dist.select_nth_unstable_by(k - 1, f64::total_cmp);
            v.sqrt()
        })
        .collect();
    let mid = kth.len() / 2;
    let (_, v, _) = kth.select_nth_unstable_by(mid, f64::total_cmp);
    *v
}

/// A fitted Nyström map: the landmarks and W = V Λ^(−1/2) (M × M').
#[derive(Debug, Clone, PartialEq)]
pub struct NystromMap {
    /// The kernel.
    pub kernel: Kernel,
    /// Input columns d.
    pub d: usize,
    /// M × d landmarks, row-major.
    pub landmarks: Vec<f32>,
    /// The landmarks transposed (d × M) in `f64`: one column of the data
    /// against every landmark is a contiguous row.
    landmarks_t: Vec<f64>,
    /// M × M' row-major.
    pub w: Vec<f64>,
    /// M', the feature dimension.
    pub n_components: usize,
    /// The eigenvalues of K_MM, largest first (all M).
    pub eigenvalues: Vec<f64>,
    /// The local scale σ and its neighbour rank when γ came from it.
    pub sigma: Option<(f64, usize)>,
    /// W in column panels for the blocked product.
    packed: PackedW,
}

thread_local! {
    static KROWS: Cell<Vec<f64>> = const { Cell::new(Vec::new()) };
}

/// Rows computed together in [`NystromMap::map_rows_f64`]: their kernel rows
/// (BLOCK × M `f64`) stay in cache while every panel of W passes over them.
const BLOCK: usize = 64;

impl NystromMap {
    /// The map of given landmarks (M × d, row-major).
    ///
    /// # Errors
    /// Invalid kernel parameters, landmarks not M × d, a kernel matrix with
    /// no positive eigenvalue.
    pub fn from_landmarks(kernel: Kernel, landmarks: Vec<f32>, d: usize) -> Result<Self> {
        kernel.check()?;
        if d == 0 || landmarks.is_empty() || !landmarks.len().is_multiple_of(d) {
            return Err(KernelError::param(
                "landmarks",
                format!("{} values do not make rows of {d} columns", landmarks.len()),
            ));
        }
        let m = landmarks.len() / d;
        let landmarks_t = transpose(&landmarks, d);
        // K_MM by the arithmetic of the map itself, so that φ(l_i)·φ(l_j)
        // reproduces it up to the eigendecomposition's rounding. Exactly
        // symmetric: (a − b)² = (b − a)² and a·b = b·a in every order.
        let mut kmm = vec![0.0f64; m * m];
        kernel_rows(
            kernel,
            Isa::current(),
            &landmarks,
            d,
            &landmarks_t,
            &mut kmm,
        );
        let e = SymmetricEigen::new(&kmm, m);
        let top = e.values[0];
        if !(top > 0.0 && top.is_finite()) {
            return Err(KernelError::Numerical {
                message: format!(
                    "the landmark kernel matrix has no positive eigenvalue (largest {top}); \
                     check γ, degree and coef0"
                ),
            });
        }
        let kept = e
            .values
            .iter()
            .take_while(|&&v| v > EIGEN_RTOL * top)
            .count();
        let mut w = vec![0.0f64; m * kept];
        for i in 0..m {
            for j in 0..kept {
                w[i * kept + j] = e.vector(i, j) / e.values[j].sqrt();
            }
        }
        let packed = PackedW::new(&w, m, kept);
        Ok(NystromMap {
            kernel,
            d,
            landmarks,
            landmarks_t,
            w,
            n_components: kept,
            eigenvalues: e.values,
            sigma: None,
            packed,
        })
    }

    /// The map with a stored W (a model file): no eigendecomposition.
    ///
    /// # Errors
    /// [`KernelError::InvalidModel`] when the shapes disagree.
    pub fn from_parts(
        kernel: Kernel,
        landmarks: Vec<f32>,
        d: usize,
        w: Vec<f64>,
        n_components: usize,
    ) -> Result<Self> {
        kernel.check().map_err(|e| KernelError::InvalidModel {
            message: e.to_string(),
        })?;
        let m = landmarks.len().checked_div(d).unwrap_or(0);
        if m == 0 || landmarks.len() != m * d || w.len() != m * n_components || n_components == 0 {
            return Err(KernelError::InvalidModel {
                message: format!(
                    "{} landmark values, {} map values for d = {d}, {n_components} components",
                    landmarks.len(),
                    w.len()
                ),
            });
        }
        let landmarks_t = transpose(&landmarks, d);
        let packed = PackedW::new(&w, m, n_components);
        Ok(NystromMap {
            kernel,
            d,
            landmarks,
            landmarks_t,
            w,
            n_components,
            eigenvalues: Vec::new(),
            sigma: None,
            packed,
        })
    }

    /// Landmarks M.
    #[must_use]
    pub fn n_landmarks(&self) -> usize {
        self.landmarks.len() / self.d
    }

    /// Eigenvalues dropped (at most [`EIGEN_RTOL`] × the largest).
    #[must_use]
    pub fn dropped(&self) -> usize {
        self.eigenvalues.len().saturating_sub(self.n_components)
    }

    /// φ of row-major `rows` (d columns each) into `out` (M' per row), in
    /// `f64`; the per-row result does not depend on which rows come along,
    /// nor on the instruction set (see `crate::blocked`).
    pub fn map_rows_f64(&self, rows: &[f32], out: &mut [f64]) {
        let (d, m, mp) = (self.d, self.n_landmarks(), self.n_components);
        let n = rows.len() / d;
        debug_assert_eq!(out.len(), n * mp);
        let isa = Isa::current();
        let mut k = KROWS.with(Cell::take);
        k.clear();
        k.resize(BLOCK * m, 0.0);
        for b in (0..n).step_by(BLOCK) {
            let nb = BLOCK.min(n - b);
            let kb = &mut k[..nb * m];
            kernel_rows(
                self.kernel,
                isa,
                &rows[b * d..(b + nb) * d],
                d,
                &self.landmarks_t,
                kb,
            );
            self.packed
                .multiply(isa, kb, nb, &mut out[b * mp..(b + nb) * mp]);
        }
        KROWS.with(|c| c.set(k));
    }

    /// φ of `rows` rounded to `f32`, appended to `out`.
    pub fn map_rows(&self, rows: &[f32], out: &mut Vec<f32>) {
        let mp = self.n_components;
        let n = rows.len() / self.d;
        let mut tmp = vec![0.0f64; BLOCK * 4 * mp];
        out.reserve(n * mp);
        for start in (0..n).step_by(BLOCK * 4) {
            let nb = (BLOCK * 4).min(n - start);
            let t = &mut tmp[..nb * mp];
            self.map_rows_f64(&rows[start * self.d..(start + nb) * self.d], t);
            out.extend(t.iter().map(|&v| v as f32));
        }
    }

    /// Wraps `inner` so that its rows read as φ.
    ///
    /// # Errors
    /// [`mmclust_core::CoreError::ShapeMismatch`] when `inner` does not have d columns.
    pub fn features<S: DataSource>(&self, inner: S) -> CoreResult<NystromFeatures<'_, S>> {
        NystromFeatures::new(inner, self)
    }
}

/// Row-major M × d `f32` rows as d × M `f64`.
fn transpose(rows: &[f32], d: usize) -> Vec<f64> {
    let m = rows.len() / d;
    let mut t = vec![0.0f64; m * d];
    for (j, r) in rows.chunks_exact(d).enumerate() {
        for (c, &v) in r.iter().enumerate() {
            t[c * m + j] = f64::from(v);
        }
    }
    t
}

/// The kernel rows K(x, landmarks) of row-major `rows` into `out` (M per
/// row), in `f64` from the `f32` data: rbf from the squared distance summed
/// over the columns in order from exact differences (no cancellation for
/// close points, unlike ‖x‖² + ‖l‖² − 2x·l), polynomial from x·l summed in
/// the same order. The loops run across the landmarks, so they vectorise
/// without changing any element's arithmetic.
fn kernel_rows(
    kernel: Kernel,
    isa: Isa,
    rows: &[f32],
    d: usize,
    landmarks_t: &[f64],
    out: &mut [f64],
) {
    let m = landmarks_t.len() / d;
    for (x, k) in rows.chunks_exact(d).zip(out.chunks_exact_mut(m)) {
        k.fill(0.0);
        match kernel {
            Kernel::Rbf { gamma } => {
                for (&xc, lc) in x.iter().zip(landmarks_t.chunks_exact(m)) {
                    let xc = f64::from(xc);
                    for (kv, &l) in k.iter_mut().zip(lc) {
                        let diff = xc - l;
                        *kv += diff * diff;
                    }
                }
                for kv in k.iter_mut() {
                    *kv *= -gamma;
                }
                exp_nonpositive(isa, k);
            }
            Kernel::Polynomial {
                gamma,
                degree,
                coef0,
            } => {
                for (&xc, lc) in x.iter().zip(landmarks_t.chunks_exact(m)) {
                    let xc = f64::from(xc);
                    for (kv, &l) in k.iter_mut().zip(lc) {
                        *kv += xc * l;
                    }
                }
                for kv in k.iter_mut() {
                    *kv = (gamma * *kv + coef0).powi(degree as i32);
                }
            }
        }
    }
}

/// A [`DataSource`] whose rows are the Nyström features φ(x) (M' columns) of
/// another source's rows, computed as chunks are read: the n × M' matrix
/// never exists.
#[derive(Debug)]
pub struct NystromFeatures<'m, S> {
    inner: S,
    map: &'m NystromMap,
}

impl<'m, S: DataSource> NystromFeatures<'m, S> {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`mmclust_core::CoreError::ShapeMismatch`] when `inner` does not have
    /// the map's d columns.
    pub fn new(inner: S, map: &'m NystromMap) -> CoreResult<Self> {
        if inner.n_cols() != map.d {
            return Err(mmclust_core::CoreError::ShapeMismatch {
                what: inner.name(),
                message: format!(
                    "data has {} columns but the kernel map was fitted on {}",
                    inner.n_cols(),
                    map.d
                ),
            });
        }
        Ok(NystromFeatures { inner, map })
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for NystromFeatures<'_, S> {
    mmclust_core::forward_source!(inner => n_rows, name, advise_sequential, advise_random, hint, comm);

    fn n_cols(&self) -> usize {
        self.map.n_components
    }

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> CoreResult<&'a [f32]> {
        mmclust_core::source::with_inner_rows(&self.inner, range, |view| {
            scratch.clear();
            self.map.map_rows(view, scratch);
        })?;
        Ok(&scratch[..])
    }
}

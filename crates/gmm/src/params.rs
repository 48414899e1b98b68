//! Parameters of a Gaussian-mixture fit, with scikit-learn's names and defaults.

use std::fmt;
use std::str::FromStr;

use mmclust_core::parallel::Chunking;
use mmclust_kmeans::AUTO_SAMPLE_BYTES;

use crate::checkpoint::EmCheckpoints;

/// For an enum with `name()` and the list `ALL` of its values: `FromStr`
/// from one of the names (the error, about "a `$what`", lists them all) and
/// `Display` as the name.
macro_rules! named_enum {
    ($ty:ident, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $ty::ALL.into_iter().find(|v| v.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = $ty::ALL.iter().map(|v| v.name()).collect();
                    let (last, rest) = names.split_last().expect("ALL is not empty");
                    format!(
                        "'{s}' is not a {}; use {} or {last}",
                        $what,
                        rest.join(", ")
                    )
                })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// The shape of the components' covariances (scikit-learn's `covariance_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CovarianceType {
    /// Each component has its own general covariance matrix (k × d × d).
    Full,
    /// All components share one general covariance matrix (d × d).
    Tied,
    /// Each component has its own diagonal covariance (k × d).
    Diag,
    /// Each component has its own single variance (k).
    Spherical,
}

impl CovarianceType {
    /// Every covariance type, in the order error messages list them.
    pub const ALL: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Diag,
        CovarianceType::Spherical,
        CovarianceType::Tied,
    ];

    /// The name used in model files, summaries and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// Number of covariance values stored for k components of dimension d
    /// (full and tied matrices are stored whole, row-major).
    #[must_use]
    pub fn covariance_len(self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * d,
            CovarianceType::Tied => d * d,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }

    /// Free parameters of a mixture (scikit-learn's `_n_parameters`): the
    /// covariances, k·d means and k − 1 weights.
    #[must_use]
    pub fn n_parameters(self, k: usize, d: usize) -> usize {
        let cov = match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        };
        cov + k * d + k - 1
    }

    /// True for the types whose factor is a d × d matrix.
    #[must_use]
    pub(crate) fn is_matrix(self) -> bool {
        matches!(self, CovarianceType::Full | CovarianceType::Tied)
    }
}

named_enum!(CovarianceType, "covariance type");

/// The arithmetic of the EM pass's products (log-densities and statistics).
///
/// Parameters, the M-step and the sums of the statistics over chunks are
/// `f64` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Every product in `f64` (the default): agrees with scikit-learn run in
    /// `float64` on the same values to about 1e-12.
    #[default]
    F64,
    /// On AVX-512, every covariance type: the per-row products in `f32` (16
    /// rows per vector, twice the `f64` rate), summed in `f32` over at most
    /// 256 rows per lane and then in `f64`. This is the precision
    /// scikit-learn itself computes in for `float32` input; agreement with its
    /// `float64` run is about 1e-6, and the tests hold it to 1e-4. CPUs
    /// without AVX-512, mixtures whose means lie more than
    /// [`F32_SPREAD_LIMIT`] standard deviations from the mean of the means
    /// (where `f32` statistics about that point would lose digits), and
    /// full/tied covariances too ill-conditioned for `f32` (the terms of
    /// the precision factor's products more than 256 times their result for
    /// rows one standard deviation from the mean) run in `f64`.
    F32,
}

/// See [`Precision::F32`]: the largest `|μ_cj − shift_j| / σ_cj` for which
/// an iteration runs in `f32`; beyond it the `f32` second moments about the
/// common shift would carry relative errors above `2⁻²⁴ · 16² ≈ 1.5e-5`.
pub const F32_SPREAD_LIMIT: f64 = 16.0;

impl Precision {
    /// Every precision, in the order error messages list them.
    pub const ALL: [Precision; 2] = [Precision::F64, Precision::F32];

    /// The name used in model files, summaries and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }
}

named_enum!(Precision, "precision");

/// How a run's initial mixture is chosen.
///
/// Every initialisation except [`Init::Parameters`] ends with one pass that
/// turns responsibilities into weights, means and covariances (an M-step), as
/// scikit-learn's `_initialize` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// [`Init::KMeans`] up to [`AUTO_SAMPLE_BYTES`] of data (n·d·4 bytes),
    /// [`Init::KMeansSample`] above, where K-means to convergence over the file
    /// would cost more passes than the EM it prepares. Depends on n and d
    /// alone, never on the machine. The default.
    Auto,
    /// K-means (k-means++ seeding, one run) with the same seed; each row's
    /// responsibility is 1 for its nearest K-means centre (scikit-learn's
    /// `init_params="kmeans"`).
    KMeans,
    /// The bounded K-means initialisation of data beyond RAM: K-means
    /// (k-means++, then Lloyd to convergence) on a uniform sample of 256 rows
    /// per component held in memory (`mmclust_kmeans::Init::Sample`), then the
    /// initialisation pass puts each row's responsibility 1 on its nearest
    /// centre, as [`Init::KMeans`] does. Reads the sample's rows and one pass.
    KMeansSample,
    /// k-means++ seeding followed by one Lloyd step, then hard assignment to
    /// the nearest centre. (scikit-learn puts responsibility 1 on the k seed
    /// rows only, so its first covariances are `reg_covar · I` and its first
    /// E-step is a hard nearest-centre assignment: the same mixture one
    /// iteration later.)
    KMeansPlusPlus,
    /// Random responsibilities, uniform then normalised per row
    /// (scikit-learn's `init_params="random"`), derived from a counter-based
    /// hash of (seed, row, component): no n × k matrix is ever stored.
    Random,
    /// k distinct rows chosen at random as means, then hard assignment to the
    /// nearest (same remark as [`Init::KMeansPlusPlus`]).
    RandomFromData,
    /// Given means, row-major k × d: hard assignment to the nearest, weights
    /// and covariances from that assignment around the given means, which are
    /// kept as they are.
    Means(Vec<f32>),
    /// A complete initial mixture (scikit-learn's `weights_init`, `means_init`
    /// and `precisions_init` all given): no initial pass; the first E-step
    /// uses exactly these. Covariances in [`CovarianceType::covariance_len`]
    /// layout (full: k row-major d × d matrices).
    Parameters {
        /// k weights (normalised to sum 1).
        weights: Vec<f64>,
        /// Row-major k × d means.
        means: Vec<f64>,
        /// Covariances in the layout of the covariance type.
        covariances: Vec<f64>,
    },
    /// Given initial responsibilities: an n × k matrix file (`.npy`, read
    /// row block by row block, never loaded whole), row i the
    /// responsibilities of data row i. Values must be finite and ≥ 0; they
    /// are used as given, not normalised (scikit-learn's `_initialize(X,
    /// resp)`).
    Responsibilities(std::path::PathBuf),
}

impl Init {
    /// The name used in model files and summaries.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Init::Auto => "auto",
            Init::KMeans => "kmeans",
            Init::KMeansSample => "kmeans-sample",
            Init::KMeansPlusPlus => "k-means++",
            Init::Random => "random",
            Init::RandomFromData => "random-from-data",
            Init::Means(_) => "given-means",
            Init::Parameters { .. } => "given-parameters",
            Init::Responsibilities(_) => "given-responsibilities",
        }
    }

    /// What [`Init::Auto`] becomes for n rows of d columns; any other
    /// initialisation as it is.
    #[must_use]
    pub fn resolve(&self, n: usize, d: usize) -> Init {
        match self {
            Init::Auto if n as u64 * d as u64 * 4 > AUTO_SAMPLE_BYTES => Init::KMeansSample,
            Init::Auto => Init::KMeans,
            other => other.clone(),
        }
    }

    /// Whether the initialisation is the same for every run (given values).
    #[must_use]
    pub fn is_given(&self) -> bool {
        matches!(
            self,
            Init::Means(_) | Init::Parameters { .. } | Init::Responsibilities(_)
        )
    }
}

/// The prior on the mixture weights of a variational Bayesian fit
/// (scikit-learn's `weight_concentration_prior_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WeightPrior {
    /// A Dirichlet process (stick-breaking, truncated at k): components are
    /// switched off in order; scikit-learn's default.
    #[default]
    DirichletProcess,
    /// A symmetric Dirichlet distribution.
    DirichletDistribution,
}

impl WeightPrior {
    /// Both weight priors.
    pub const ALL: [WeightPrior; 2] = [
        WeightPrior::DirichletProcess,
        WeightPrior::DirichletDistribution,
    ];

    /// The name on the command line and in model files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            WeightPrior::DirichletProcess => "dirichlet-process",
            WeightPrior::DirichletDistribution => "dirichlet-distribution",
        }
    }
}

named_enum!(WeightPrior, "weight prior");

/// The priors of a variational Bayesian Gaussian mixture, with
/// scikit-learn's `BayesianGaussianMixture` meanings; `None` takes
/// scikit-learn's default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BayesianPrior {
    /// Dirichlet process or distribution (default: process).
    pub weight_prior: WeightPrior,
    /// `weight_concentration_prior` (default 1/k), > 0.
    pub weight_concentration: Option<f64>,
    /// `mean_precision_prior` (default 1), > 0.
    pub mean_precision: Option<f64>,
    /// `mean_prior`, d values (default: the data's column means).
    pub mean: Option<Vec<f64>>,
    /// `degrees_of_freedom_prior` (default d), > d − 1.
    pub dof: Option<f64>,
    /// `covariance_prior` in the layout of one component's covariance (full
    /// and tied: d × d; diag: d; spherical: 1). Default: the data's
    /// covariance (full, tied), column variances (diag) or their mean
    /// (spherical), with `ddof = 1`.
    pub covariance: Option<Vec<f64>>,
}

/// Parameters of a Gaussian-mixture fit.
///
/// ```
/// use mmclust_gmm::{CovarianceType, GmmParams, Init};
/// let p = GmmParams::new(3).covariance(CovarianceType::Diag).init(Init::Random).n_init(4).seed(7);
/// assert_eq!(p.k, 3);
/// assert_eq!(p.max_iter, 100);
/// ```
#[derive(Debug, Clone)]
pub struct GmmParams {
    /// Number of components.
    pub k: usize,
    /// Covariance type (default full).
    pub covariance: CovarianceType,
    /// Initialisation (default [`Init::Auto`]).
    pub init: Init,
    /// Runs from different initialisations; the highest final lower bound
    /// (mean log-likelihood) wins. Given initialisations run once.
    pub n_init: usize,
    /// Maximum EM iterations per run (default 100).
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean per-sample
    /// log-likelihood between iterations (default 1e-3).
    pub tol: f64,
    /// Added to every covariance diagonal (default 1e-6).
    pub reg_covar: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Z-score the columns before fitting (on the fly; kept in the model).
    pub standardize: bool,
    /// Chunk length override (default: from d, see [`Chunking::for_dim`]).
    pub chunking: Option<Chunking>,
    /// Arithmetic of the EM pass (default [`Precision::F64`]).
    pub precision: Precision,
    /// Where the K-means initialisation's per-row state (labels, distances)
    /// spills when it does not fit in memory.
    pub scratch: mmclust_core::scratch::ScratchConfig,
    /// A variational Bayesian fit with these priors (scikit-learn's
    /// `BayesianGaussianMixture`) instead of maximum likelihood; `None`
    /// (default): EM.
    pub bayesian: Option<BayesianPrior>,
    /// Full-batch EM: checkpoints and resume (default: none; online fits
    /// take theirs in [`crate::OnlineOptions`]).
    pub checkpoints: EmCheckpoints,
}

impl GmmParams {
    /// Defaults for `k` components.
    #[must_use]
    pub fn new(k: usize) -> Self {
        GmmParams {
            k,
            covariance: CovarianceType::Full,
            init: Init::Auto,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: 0,
            standardize: false,
            chunking: None,
            precision: Precision::F64,
            scratch: mmclust_core::scratch::ScratchConfig::default(),
            bayesian: None,
            checkpoints: EmCheckpoints::default(),
        }
    }

    /// Fits a variational Bayesian mixture with these priors.
    #[must_use]
    pub fn bayesian(mut self, prior: BayesianPrior) -> Self {
        self.bayesian = Some(prior);
        self
    }

    /// Sets the covariance type.
    #[must_use]
    pub fn covariance(mut self, c: CovarianceType) -> Self {
        self.covariance = c;
        self
    }

    /// Sets the initialisation.
    #[must_use]
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Sets the number of runs.
    #[must_use]
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }

    /// Sets the iteration limit.
    #[must_use]
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }

    /// Sets the tolerance.
    #[must_use]
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the covariance regularisation.
    #[must_use]
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
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

    /// Sets the arithmetic of the EM pass.
    #[must_use]
    pub fn precision(mut self, p: Precision) -> Self {
        self.precision = p;
        self
    }

    /// Sets the chunk length.
    #[must_use]
    pub fn chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = Some(chunking);
        self
    }

    /// The number of runs these parameters make.
    #[must_use]
    pub fn runs(&self) -> usize {
        if self.init.is_given() { 1 } else { self.n_init }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_a_bad_name_lists_the_choices() {
        for c in CovarianceType::ALL {
            assert_eq!(c.to_string().parse::<CovarianceType>(), Ok(c));
        }
        for p in Precision::ALL {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
        }
        assert_eq!(
            "box".parse::<CovarianceType>(),
            Err("'box' is not a covariance type; use full, diag, spherical or tied".to_string())
        );
        assert_eq!(
            "f16".parse::<Precision>(),
            Err("'f16' is not a precision; use f64 or f32".to_string())
        );
    }
}

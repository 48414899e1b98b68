//! Choosing k: the elbow of the K-means SSE curve, and BIC/AIC over Gaussian
//! mixtures of several sizes and covariance types.

use std::ops::RangeInclusive;

use mmclust_core::DataSource;
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmParams};
use mmclust_kmeans::{Init, KMeansModel, KMeansParams};

use crate::error::{EvalError, Result};

/// Checks a k range: non-empty, starting at `min_k` or above, k ≤ n.
///
/// # Errors
/// [`EvalError::InvalidParameter`] naming the range and what to do.
pub fn check_k_range(ks: &RangeInclusive<usize>, min_k: usize, n: usize) -> Result<()> {
    let (a, b) = (*ks.start(), *ks.end());
    if a > b {
        return Err(EvalError::param(
            "k",
            format!("{a}..={b} is empty; write A..=B with A ≤ B"),
        ));
    }
    if a < min_k {
        return Err(EvalError::param(
            "k",
            format!("{a}..={b} starts below {min_k}; this needs k ≥ {min_k}"),
        ));
    }
    if b > n {
        return Err(EvalError::param(
            "k",
            format!("{a}..={b} goes past the {n} rows of the data; k can be at most n"),
        ));
    }
    Ok(())
}

/// Index of the knee of a decreasing, convex curve (SSE against k): the point
/// farthest below the straight line joining the first and last points, both
/// axes scaled to [0, 1] (Kneedle, Satopää et al. 2011, offline, sensitivity
/// 0). `None` for fewer than three points or when no point lies below the line.
#[must_use]
pub fn knee(xs: &[f64], ys: &[f64]) -> Option<usize> {
    if xs.len() < 3 || xs.len() != ys.len() {
        return None;
    }
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let ymin = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let ymax = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if x1 <= x0 || ymax <= ymin {
        return None;
    }
    let (yf, yl) = (
        (ys[0] - ymin) / (ymax - ymin),
        (ys[ys.len() - 1] - ymin) / (ymax - ymin),
    );
    let mut best: Option<(usize, f64)> = None;
    for (i, (&x, &y)) in xs.iter().zip(ys).enumerate() {
        let xn = (x - x0) / (x1 - x0);
        let yn = (y - ymin) / (ymax - ymin);
        let line = yf + (yl - yf) * xn;
        let gap = line - yn;
        if gap > 1e-12 && best.is_none_or(|(_, g)| gap > g) {
            best = Some((i, gap));
        }
    }
    best.map(|(i, _)| i)
}

/// Options of a K-means sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepParams {
    /// K-means++ restarts per k (the lowest SSE is kept).
    pub n_init: usize,
    /// Seed of every fit.
    pub seed: u64,
    /// Z-score the columns first.
    pub standardize: bool,
}

impl Default for SweepParams {
    fn default() -> Self {
        SweepParams {
            n_init: 3,
            seed: 0,
            standardize: false,
        }
    }
}

/// The SSE curve over k.
#[derive(Debug, Clone)]
pub struct Elbow {
    /// The k values, in order.
    pub ks: Vec<usize>,
    /// The best fit's inertia (SSE) for each k.
    pub sse: Vec<f64>,
    /// The fitted models.
    pub models: Vec<KMeansModel>,
    /// The suggested k ([`knee`] of the curve), if the curve has one.
    pub knee: Option<usize>,
}

/// Fits K-means (k-means++ init, `n_init` restarts) for every k of `ks`;
/// `on_fit(k, &model)` is called after each fit.
///
/// # Errors
/// A bad range ([`check_k_range`], k ≥ 1) or a failed fit.
pub fn elbow<S: DataSource + ?Sized>(
    source: &S,
    ks: RangeInclusive<usize>,
    params: &SweepParams,
    mut on_fit: impl FnMut(usize, &KMeansModel),
) -> Result<Elbow> {
    check_k_range(&ks, 1, source.n_rows())?;
    let mut out = Elbow {
        ks: Vec::new(),
        sse: Vec::new(),
        models: Vec::new(),
        knee: None,
    };
    for k in ks {
        let model = KMeansParams::new(k)
            .init(Init::KMeansPlusPlus)
            .n_init(params.n_init.max(1))
            .seed(params.seed)
            .standardize(params.standardize)
            .fit(source)?;
        on_fit(k, &model);
        out.ks.push(k);
        out.sse.push(model.inertia);
        out.models.push(model);
    }
    let xs: Vec<f64> = out.ks.iter().map(|&k| k as f64).collect();
    out.knee = knee(&xs, &out.sse).map(|i| out.ks[i]);
    Ok(out)
}

/// One fitted (or failed) mixture of a BIC sweep.
#[derive(Debug, Clone)]
pub struct GmmCandidate {
    /// Number of components.
    pub k: usize,
    /// Covariance type.
    pub covariance: CovarianceType,
    /// The fit, or the reason it failed (a collapsed component, ...).
    pub fit: std::result::Result<GaussianMixtureModel, String>,
}

impl GmmCandidate {
    /// BIC of a successful fit.
    #[must_use]
    pub fn bic(&self) -> Option<f64> {
        self.fit.as_ref().ok().map(GaussianMixtureModel::bic)
    }
    /// AIC of a successful fit.
    #[must_use]
    pub fn aic(&self) -> Option<f64> {
        self.fit.as_ref().ok().map(GaussianMixtureModel::aic)
    }
}

/// Options of a Gaussian-mixture sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GmmSweepParams {
    /// EM runs per candidate.
    pub n_init: usize,
    /// Seed of every fit.
    pub seed: u64,
    /// Z-score the columns first.
    pub standardize: bool,
    /// Added to every covariance diagonal.
    pub reg_covar: f64,
    /// EM iterations per run.
    pub max_iter: usize,
}

impl Default for GmmSweepParams {
    fn default() -> Self {
        GmmSweepParams {
            n_init: 1,
            seed: 0,
            standardize: false,
            reg_covar: 1e-6,
            max_iter: 100,
        }
    }
}

/// Fits a mixture for every (covariance type, k); a fit that fails for a
/// reason of the run (a collapsed component) is kept as a failed candidate,
/// not an error. `on_fit` is called after each candidate.
///
/// # Errors
/// A bad range ([`check_k_range`], k ≥ 1), no covariance type, or a fit that
/// fails because of the input.
pub fn gmm_sweep<S: DataSource + ?Sized>(
    source: &S,
    ks: RangeInclusive<usize>,
    covariances: &[CovarianceType],
    params: &GmmSweepParams,
    mut on_fit: impl FnMut(&GmmCandidate),
) -> Result<Vec<GmmCandidate>> {
    check_k_range(&ks, 1, source.n_rows())?;
    if covariances.is_empty() {
        return Err(EvalError::param(
            "covariance",
            "give at least one covariance type",
        ));
    }
    let mut out = Vec::new();
    for &covariance in covariances {
        for k in ks.clone() {
            let fit = GmmParams::new(k)
                .covariance(covariance)
                .n_init(params.n_init.max(1))
                .seed(params.seed)
                .standardize(params.standardize)
                .reg_covar(params.reg_covar)
                .max_iter(params.max_iter)
                .fit(source);
            let fit = match fit {
                Ok(m) => Ok(m),
                Err(e) if e.is_input_error() => return Err(e.into()),
                Err(e) => Err(e.to_string()),
            };
            let c = GmmCandidate { k, covariance, fit };
            on_fit(&c);
            out.push(c);
        }
    }
    Ok(out)
}

/// Index of the candidate with the lowest BIC (ties: the first, i.e. the
/// simpler in sweep order).
#[must_use]
pub fn best_by_bic(candidates: &[GmmCandidate]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in candidates.iter().enumerate() {
        if let Some(b) = c.bic()
            && b.is_finite()
            && best.is_none_or(|(_, v)| b < v)
        {
            best = Some((i, b));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_of_a_sharp_elbow() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let ys = [100.0, 20.0, 15.0, 12.0, 10.0, 9.0];
        assert_eq!(knee(&xs, &ys), Some(1));
        assert_eq!(knee(&xs[..2], &ys[..2]), None);
        assert_eq!(knee(&xs, &[1.0; 6]), None);
        let (a, b) = (5, 2);
        assert!(check_k_range(&(a..=b), 1, 10).is_err());
        assert!(check_k_range(&(1..=20), 1, 10).is_err());
        assert!(check_k_range(&(1..=3), 2, 10).is_err());
        assert!(check_k_range(&(2..=3), 2, 10).is_ok());
    }
}

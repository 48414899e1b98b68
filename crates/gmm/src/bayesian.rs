//! Variational Bayesian Gaussian mixtures: scikit-learn's
//! `BayesianGaussianMixture` (Bishop, *Pattern Recognition and Machine
//! Learning*, §10.2, with scikit-learn's normalisation of the Wishart scale
//! and its choice of constant terms), streamed like EM.
//!
//! The variational E-step has the form of EM's: each component's
//! expected log-density is a Gaussian log-density with the precision factor
//! of `covariances_` (the Wishart scale divided by the degrees of freedom),
//! plus a constant per component (the expected log weight, the digamma terms
//! of the expected log-determinant, `−d / 2λ`). So the pass is EM's pass, its
//! kernels and its sufficient statistics, run on a [`Mixture`] whose
//! per-component log-term is that constant ([`Mixture::with_log_weights`]).
//!
//! The lower bound needs `Σ r ln r` over rows and components. It is not
//! accumulated row by row: with `ℓ_c(x)` the E-step's log-terms,
//! `Σ_c r_c ln r_c = Σ_c r_c ℓ_c(x) − ln Σ_c e^{ℓ_c(x)}`, and summed over
//! rows `Σ r_c ℓ_c = N_c · const_c − ½ tr(P_c S_c)`, where `S_c` is the
//! second-moment statistic about the E-step's means, which the pass
//! accumulates anyway ([`entropy_term`]).
//!
//! The M-step is scikit-learn's: `_estimate_gaussian_parameters` (our
//! [`Stats::estimate`]), then `_estimate_weights`, `_estimate_means` and
//! `_estimate_precisions` ([`Posterior::update`]).

use crate::error::{GmmError, Result};
use crate::linalg::cholesky;
use crate::mixture::{Estimate, Mixture, Stats};
use crate::params::{CovarianceType, WeightPrior};
use crate::special::{digamma, ln_beta, ln_gamma};

/// A component's weight above which it counts as effective
/// (scikit-learn's documentation and examples use 0.01).
pub const EFFECTIVE_WEIGHT: f64 = 0.01;

/// The priors with every default resolved (scikit-learn's
/// `weight_concentration_prior_`, `mean_precision_prior_`, `mean_prior_`,
/// `degrees_of_freedom_prior_`, `covariance_prior_`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPrior {
    /// Dirichlet process or distribution.
    pub weight_prior: WeightPrior,
    /// `weight_concentration_prior_`.
    pub weight_concentration: f64,
    /// `mean_precision_prior_`.
    pub mean_precision: f64,
    /// `mean_prior_`, d values.
    pub mean: Vec<f64>,
    /// `degrees_of_freedom_prior_`.
    pub dof: f64,
    /// `covariance_prior_` in one component's layout (full and tied: d × d
    /// row-major; diag: d; spherical: 1).
    pub covariance: Vec<f64>,
}

impl ResolvedPrior {
    /// Checks the priors for `d` columns under `cov_type`: every one a
    /// [`GmmError::InvalidParameter`] naming it.
    pub(crate) fn check(&self, cov_type: CovarianceType, d: usize) -> Result<()> {
        let positive = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(GmmError::param(
                    name,
                    format!("must be > 0 and finite, not {v}"),
                ))
            }
        };
        positive("weight_concentration", self.weight_concentration)?;
        positive("mean_precision", self.mean_precision)?;
        if !(self.dof.is_finite() && self.dof > d as f64 - 1.0) {
            return Err(GmmError::param(
                "dof",
                format!(
                    "the degrees of freedom must be > d − 1 = {} for {d} columns, not {}",
                    d as f64 - 1.0,
                    self.dof
                ),
            ));
        }
        if self.mean.len() != d || self.mean.iter().any(|v| !v.is_finite()) {
            return Err(GmmError::param(
                "mean_prior",
                format!("needs {d} finite values, one per column"),
            ));
        }
        let want = component_len(cov_type, d);
        if self.covariance.len() != want || self.covariance.iter().any(|v| !v.is_finite()) {
            return Err(GmmError::param(
                "covariance_prior",
                format!("a {cov_type} covariance prior of {d} columns needs {want} finite values"),
            ));
        }
        let ok = match cov_type {
            CovarianceType::Full | CovarianceType::Tied => cholesky(&self.covariance, d).is_ok(),
            CovarianceType::Diag | CovarianceType::Spherical => {
                self.covariance.iter().all(|&v| v > 0.0)
            }
        };
        if !ok {
            return Err(GmmError::param(
                "covariance_prior",
                "must be positive definite (a constant column has zero variance: drop it, or \
                 give a prior)",
            ));
        }
        Ok(())
    }
}

/// Values in one component's covariance.
pub(crate) fn component_len(cov_type: CovarianceType, d: usize) -> usize {
    match cov_type {
        CovarianceType::Full | CovarianceType::Tied => d * d,
        CovarianceType::Diag => d,
        CovarianceType::Spherical => 1,
    }
}

/// The variational posterior's parameters other than the means and
/// covariances (which the model's mixture holds: see
/// [`crate::GaussianMixtureModel::from_posterior`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// The priors.
    pub prior: ResolvedPrior,
    /// `weight_concentration_`: the Beta parameters (a, b) of each stick
    /// (Dirichlet process), or the Dirichlet parameters in `a` and nothing
    /// in `b` (Dirichlet distribution).
    pub concentration_a: Vec<f64>,
    /// See `concentration_a`.
    pub concentration_b: Vec<f64>,
    /// `mean_precision_`, one per component.
    pub mean_precision: Vec<f64>,
    /// `degrees_of_freedom_`, one per component (tied: k equal values).
    pub dof: Vec<f64>,
}

impl Posterior {
    /// The M-step: the posterior from the statistics' estimate, and the
    /// mixture the next E-step runs on (weights: scikit-learn's
    /// `weights_`; log-terms: the variational constants).
    ///
    /// # Errors
    /// A covariance that is not positive definite ([`GmmError::Degenerate`]).
    pub(crate) fn update(
        prior: &ResolvedPrior,
        est: &Estimate,
        cov_type: CovarianceType,
        nk_raw: &[f64],
    ) -> Result<(Posterior, Mixture)> {
        let nk = &est.n;
        let k = nk.len();
        let d = prior.mean.len();
        let (a, b) = match prior.weight_prior {
            WeightPrior::DirichletProcess => {
                // b_c = α₀ + Σ_{j > c} N_j, summed from the last component
                // as numpy's reversed cumsum does.
                let mut b = vec![0.0; k];
                let mut tail = 0.0;
                for c in (0..k).rev() {
                    b[c] = prior.weight_concentration + tail;
                    tail += nk[c];
                }
                (nk.iter().map(|&n| 1.0 + n).collect(), b)
            }
            WeightPrior::DirichletDistribution => (
                nk.iter().map(|&n| prior.weight_concentration + n).collect(),
                Vec::new(),
            ),
        };
        let beta0 = prior.mean_precision;
        let lambda: Vec<f64> = nk.iter().map(|&n| beta0 + n).collect();
        let mut means = vec![0.0; k * d];
        let mut diff = vec![0.0; k * d];
        for c in 0..k {
            for j in 0..d {
                let xk = est.means[c * d + j];
                means[c * d + j] = (beta0 * prior.mean[j] + nk[c] * xk) / lambda[c];
                diff[c * d + j] = xk - prior.mean[j];
            }
        }
        let sk = &est.covariances;
        let w0 = &prior.covariance;
        let mut cov = vec![0.0; cov_type.covariance_len(k, d)];
        let dof: Vec<f64> = match cov_type {
            CovarianceType::Full => {
                let dof: Vec<f64> = nk.iter().map(|&n| prior.dof + n).collect();
                for c in 0..k {
                    let dc = &diff[c * d..(c + 1) * d];
                    let f = nk[c] * beta0 / lambda[c];
                    let out = &mut cov[c * d * d..(c + 1) * d * d];
                    for p in 0..d {
                        for q in 0..d {
                            let v = w0[p * d + q]
                                + nk[c] * sk[c * d * d + p * d + q]
                                + f * dc[p] * dc[q];
                            out[p * d + q] = v / dof[c];
                        }
                    }
                }
                dof
            }
            CovarianceType::Tied => {
                let total: f64 = nk.iter().sum();
                let per = total / k as f64;
                let nu = prior.dof + per;
                // β₀/k · Σ_c (N_c / λ_c) diff_c diff_cᵀ.
                for p in 0..d {
                    for q in 0..d {
                        let outer: f64 = (0..k)
                            .map(|c| nk[c] / lambda[c] * diff[c * d + p] * diff[c * d + q])
                            .sum();
                        let v = w0[p * d + q]
                            + sk[p * d + q] * total / k as f64
                            + beta0 / k as f64 * outer;
                        cov[p * d + q] = v / nu;
                    }
                }
                vec![nu; k]
            }
            CovarianceType::Diag => {
                let dof: Vec<f64> = nk.iter().map(|&n| prior.dof + n).collect();
                for c in 0..k {
                    for j in 0..d {
                        let dl = diff[c * d + j];
                        let v = w0[j] + nk[c] * (sk[c * d + j] + beta0 / lambda[c] * dl * dl);
                        cov[c * d + j] = v / dof[c];
                    }
                }
                dof
            }
            CovarianceType::Spherical => {
                let dof: Vec<f64> = nk.iter().map(|&n| prior.dof + n).collect();
                for c in 0..k {
                    let sq: f64 =
                        diff[c * d..(c + 1) * d].iter().map(|v| v * v).sum::<f64>() / d as f64;
                    let v = w0[0] + nk[c] * (sk[c] + beta0 / lambda[c] * sq);
                    cov[c] = v / dof[c];
                }
                dof
            }
        };
        let post = Posterior {
            prior: prior.clone(),
            concentration_a: a,
            concentration_b: b,
            mean_precision: lambda,
            dof,
        };
        let mix = post.mixture(cov_type, means, cov, Some(nk_raw))?;
        Ok((post, mix))
    }

    /// The mixture of these means and covariances with this posterior's
    /// weights and variational log-terms.
    pub(crate) fn mixture(
        &self,
        cov_type: CovarianceType,
        means: Vec<f64>,
        covariances: Vec<f64>,
        n_k: Option<&[f64]>,
    ) -> Result<Mixture> {
        let k = self.mean_precision.len();
        let d = self.prior.mean.len();
        let mix = Mixture::new(cov_type, k, d, self.weights(), means, covariances, n_k)?;
        Ok(mix.with_log_weights(self.log_terms()))
    }

    /// scikit-learn's `weights_`: the expected weights.
    #[must_use]
    pub fn weights(&self) -> Vec<f64> {
        let a = &self.concentration_a;
        let mut w: Vec<f64> = if self.concentration_b.is_empty() {
            a.clone()
        } else {
            let b = &self.concentration_b;
            let mut rest = 1.0;
            (0..a.len())
                .map(|c| {
                    let s = a[c] + b[c];
                    let v = a[c] / s * rest;
                    rest *= b[c] / s;
                    v
                })
                .collect()
        };
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total);
        w
    }

    /// Components whose expected weight is above [`EFFECTIVE_WEIGHT`].
    #[must_use]
    pub fn effective_components(&self) -> usize {
        self.weights()
            .iter()
            .filter(|&&w| w > EFFECTIVE_WEIGHT)
            .count()
    }

    /// scikit-learn's `_estimate_log_weights`: `E[ln π_c]`.
    fn expected_log_weights(&self) -> Vec<f64> {
        let a = &self.concentration_a;
        if self.concentration_b.is_empty() {
            let total = digamma(a.iter().sum());
            return a.iter().map(|&v| digamma(v) - total).collect();
        }
        let b = &self.concentration_b;
        let mut before = 0.0;
        (0..a.len())
            .map(|c| {
                let ds = digamma(a[c] + b[c]);
                let v = digamma(a[c]) - ds + before;
                before += digamma(b[c]) - ds;
                v
            })
            .collect()
    }

    /// Each component's log-term in the E-step: `E[ln π_c] − (d/2) ln ν_c +
    /// ½ (d ln 2 + Σ_i ψ((ν_c − i)/2) − d/λ_c)`; the Gaussian
    /// log-density of the precision factor supplies the rest.
    fn log_terms(&self) -> Vec<f64> {
        let d = self.prior.mean.len() as f64;
        self.expected_log_weights()
            .iter()
            .zip(&self.dof)
            .zip(&self.mean_precision)
            .map(|((&elw, &nu), &lambda)| {
                let log_lambda = d * std::f64::consts::LN_2
                    + (0..self.prior.mean.len())
                        .map(|i| digamma(0.5 * (nu - i as f64)))
                        .sum::<f64>();
                elw - 0.5 * d * nu.ln() + 0.5 * (log_lambda - d / lambda)
            })
            .collect()
    }

    /// scikit-learn's `_compute_lower_bound` for this posterior (after the
    /// M-step) and `entropy` = `Σ r ln r` of the E-step before it.
    #[must_use]
    pub(crate) fn lower_bound(&self, mix: &Mixture, entropy: f64) -> f64 {
        let d = self.prior.mean.len();
        let df = d as f64;
        let log_wishart = |nu: f64, log_det_chol: f64| -> f64 {
            -(nu * log_det_chol
                + nu * df * 0.5 * std::f64::consts::LN_2
                + (0..d).map(|i| ln_gamma(0.5 * (nu - i as f64))).sum::<f64>())
        };
        let ldc = |c: usize| mix.log_det()[c] - 0.5 * df * self.dof[c].ln();
        let k = self.dof.len();
        let wishart = if mix.cov_type == CovarianceType::Tied {
            k as f64 * log_wishart(self.dof[0], ldc(0))
        } else {
            (0..k).map(|c| log_wishart(self.dof[c], ldc(c))).sum()
        };
        let a = &self.concentration_a;
        let norm_weight = if self.concentration_b.is_empty() {
            ln_gamma(a.iter().sum()) - a.iter().map(|&v| ln_gamma(v)).sum::<f64>()
        } else {
            -(0..k)
                .map(|c| ln_beta(a[c], self.concentration_b[c]))
                .sum::<f64>()
        };
        -entropy
            - wishart
            - norm_weight
            - 0.5 * df * self.mean_precision.iter().map(|v| v.ln()).sum::<f64>()
    }
}

/// `Σ_rows Σ_c r_c ln r_c` of the E-step of `mix` whose statistics (about
/// `mix`'s means, with the pass's summed log-likelihood) are `st`:
/// `Σ_c [N_c · const_c − ½ tr(P_c S_c)] − Σ_rows ln Σ_c e^{ℓ_c}`, with
/// `const_c` the log-term at the mean and `P_c = U_c U_cᵀ`.
pub(crate) fn entropy_term(mix: &Mixture, st: &Stats) -> f64 {
    let (k, d) = (mix.k, mix.d);
    let constants = mix.log_constants();
    let u = &mix.precisions_cholesky;
    let t = d * (d + 1) / 2;
    let mut total = 0.0;
    for c in 0..k {
        let trace = match mix.cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let off = if mix.cov_type == CovarianceType::Full {
                    c * d * d
                } else {
                    0
                };
                let s2 = &st.s2[c * t..(c + 1) * t];
                let s = |p: usize, q: usize| {
                    let (hi, lo) = if p >= q { (p, q) } else { (q, p) };
                    s2[hi * (hi + 1) / 2 + lo]
                };
                // tr(Uᵀ S U) = Σ_j u_jᵀ S u_j over the columns u_j of U
                // (entries u[p][j], p ≤ j).
                let mut tr = 0.0;
                for j in 0..d {
                    for p in 0..=j {
                        let up = u[off + p * d + j];
                        let row: f64 = (0..=j).map(|q| s(p, q) * u[off + q * d + j]).sum();
                        tr += up * row;
                    }
                }
                tr
            }
            CovarianceType::Diag => (0..d)
                .map(|j| {
                    let p = u[c * d + j];
                    p * p * st.s2[c * d + j]
                })
                .sum(),
            CovarianceType::Spherical => {
                let p = u[c];
                p * p * st.s2[c * d..(c + 1) * d].iter().sum::<f64>()
            }
        };
        total += st.nk[c] * constants[c] - 0.5 * trace;
    }
    total - st.loglik
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mixture::{BLOCK_ROWS, Workspace, normalise_rows};

    /// The entropy identity against `Σ r ln r` computed row by row.
    #[test]
    fn entropy_from_statistics_matches_the_rows() {
        let (k, d, m) = (3, 4, 50);
        let x: Vec<f32> = (0..m * d)
            .map(|i| ((i as f32) * 0.37).sin() * 2.0 + (i % 3) as f32)
            .collect();
        for cov_type in CovarianceType::ALL {
            let means: Vec<f64> = (0..k * d).map(|i| (i as f64 * 0.7).cos()).collect();
            let cov: Vec<f64> = match cov_type {
                CovarianceType::Full => (0..k)
                    .flat_map(|c| {
                        (0..d * d).map(move |i| {
                            let (p, q) = (i / d, i % d);
                            if p == q { 1.0 + c as f64 * 0.3 } else { 0.2 }
                        })
                    })
                    .collect(),
                CovarianceType::Tied => (0..d * d)
                    .map(|i| if i / d == i % d { 1.5 } else { 0.1 })
                    .collect(),
                CovarianceType::Diag => (0..k * d).map(|i| 0.5 + (i % 5) as f64 * 0.2).collect(),
                CovarianceType::Spherical => vec![0.8, 1.2, 2.0],
            };
            let mix = Mixture::new(
                cov_type,
                k,
                d,
                vec![0.2, 0.3, 0.5],
                means.clone(),
                cov,
                None,
            )
            .unwrap()
            .with_log_weights(vec![-0.3, -1.7, 0.4]);
            let mut ws = Workspace::new(k, d);
            let mut lp = vec![0.0; BLOCK_ROWS * k];
            mix.log_prob_block(&x, m, &mut ws, &mut lp[..m * k]);
            let ll = normalise_rows(&mut lp[..m * k], k, None);
            let direct: f64 = lp[..m * k]
                .iter()
                .filter(|&&r| r > 0.0)
                .map(|&r| r * r.ln())
                .sum();
            let mut st = Stats::new(cov_type, k, d);
            st.loglik = ll;
            st.accumulate_block(cov_type, &x, m, k, d, &lp[..m * k], &means, &mut ws);
            let got = entropy_term(&mix, &st);
            assert!(
                (got - direct).abs() < 1e-9 * (1.0 + ll.abs()),
                "{cov_type}: {got} vs {direct}"
            );
        }
    }
}

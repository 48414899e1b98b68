//! The mixture's parameters in `f64`, the per-block log-density kernel, the
//! sufficient statistics a pass accumulates, and the M-step that turns them
//! into new parameters.
//!
//! Statistics are accumulated about a per-component shift `c` (the previous
//! iteration's means): `N_k = Σ r`, `S1 = Σ r (x − c)`, `S2 = Σ r (x − c)(x − c)ᵀ`
//! (its diagonal for diag/spherical). Far from the origin, `Σ r x xᵀ − N μ μᵀ`
//! cancels catastrophically; about the previous means the correction term
//! `δ δᵀ` is tiny and the covariance keeps its digits.
//!
//! Kernels work on blocks of [`BLOCK_ROWS`] rows transposed to column-major
//! `f64` differences, so every inner loop runs over contiguous rows: the
//! Mahalanobis term is `Y = (X − μ) U` as column axpys (a small triangular GEMM),
//! the second moments are dot products of columns (a small SYRK).

use crate::error::{GmmError, Result};
use crate::linalg::{cholesky, precision_factor};
use crate::params::CovarianceType;
use crate::simd::{self, LANES, TILE};

/// Rows per block inside a chunk.
pub(crate) const BLOCK_ROWS: usize = 128;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// scikit-learn adds `10 · eps` to every `N_k` so an empty component divides
/// by a tiny number instead of zero (and gets a finite mean).
const NK_FLOOR: f64 = 10.0 * f64::EPSILON;

/// A mixture's parameters and what the E-step derives from them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mixture {
    pub(crate) cov_type: CovarianceType,
    pub(crate) k: usize,
    pub(crate) d: usize,
    pub(crate) weights: Vec<f64>,
    /// Row-major k × d.
    pub(crate) means: Vec<f64>,
    /// Layout of [`CovarianceType::covariance_len`].
    pub(crate) covariances: Vec<f64>,
    /// Same layout; full/tied: upper-triangular `U` with precision `U Uᵀ`;
    /// diag/spherical: `1/√variance`.
    pub(crate) precisions_cholesky: Vec<f64>,
    log_weights: Vec<f64>,
    /// Per component: log det of the precision factor (sum of log diagonal).
    log_det: Vec<f64>,
}

/// The positive-definiteness check failed for component `c` (or the tied
/// covariance, reported on the smallest component).
fn degenerate(c: usize, weights: &[f64], n_k: Option<&[f64]>, detail: String) -> GmmError {
    GmmError::Degenerate {
        component: c,
        weight: weights.get(c).copied().unwrap_or(f64::NAN),
        n_k: n_k.map_or(f64::NAN, |n| n[c]),
        detail,
    }
}

impl Mixture {
    /// Builds a mixture, factoring the covariances.
    ///
    /// `n_k` (effective sizes) only serves the error message.
    pub(crate) fn new(
        cov_type: CovarianceType,
        k: usize,
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
        n_k: Option<&[f64]>,
    ) -> Result<Mixture> {
        debug_assert_eq!(covariances.len(), cov_type.covariance_len(k, d));
        if let Some(j) = (0..k)
            .find(|&j| !(weights[j].is_finite() && weights[j] >= 0.0))
            .or_else(|| (0..k).find(|&j| means[j * d..(j + 1) * d].iter().any(|v| !v.is_finite())))
        {
            return Err(GmmError::Numerical {
                message: format!(
                    "component {j} has a non-finite weight or mean; the data's values may be too large: standardise them (--standardize)"
                ),
            });
        }
        let mut prec = vec![0.0f64; covariances.len()];
        let mut log_det = vec![0.0f64; k];
        match cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let mats = if cov_type == CovarianceType::Full {
                    k
                } else {
                    1
                };
                for m in 0..mats {
                    let cov = &covariances[m * d * d..(m + 1) * d * d];
                    let l = cholesky(cov, d).map_err(|e| {
                        let c = if cov_type == CovarianceType::Full {
                            m
                        } else {
                            smallest(n_k.unwrap_or(&weights), k)
                        };
                        let what = if cov_type == CovarianceType::Tied {
                            "the shared (tied) covariance"
                        } else {
                            "the covariance"
                        };
                        degenerate(
                            c,
                            &weights,
                            n_k,
                            format!("Cholesky pivot {} of {what} is {:.3e}", e.index, e.value),
                        )
                    })?;
                    let u = precision_factor(&l, d);
                    let ld: f64 = (0..d).map(|j| u[j * d + j].ln()).sum();
                    prec[m * d * d..(m + 1) * d * d].copy_from_slice(&u);
                    if cov_type == CovarianceType::Full {
                        log_det[m] = ld;
                    } else {
                        log_det.iter_mut().for_each(|v| *v = ld);
                    }
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let per = if cov_type == CovarianceType::Diag {
                    d
                } else {
                    1
                };
                for c in 0..k {
                    let mut ld = 0.0;
                    for j in 0..per {
                        let v = covariances[c * per + j];
                        if !(v > 0.0 && v.is_finite()) {
                            return Err(degenerate(
                                c,
                                &weights,
                                n_k,
                                format!("variance of column {j} is {v:.3e}"),
                            ));
                        }
                        let p = 1.0 / v.sqrt();
                        prec[c * per + j] = p;
                        ld += p.ln();
                    }
                    log_det[c] = if per == 1 { d as f64 * ld } else { ld };
                }
            }
        }
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        Ok(Mixture {
            cov_type,
            k,
            d,
            weights,
            means,
            covariances,
            precisions_cholesky: prec,
            log_weights,
            log_det,
        })
    }

    /// This mixture with `log_weights` in place of `ln w` as each
    /// component's additive log-term in the E-step (variational Bayes: the
    /// expected log weight plus the terms of the expected log-density that
    /// do not depend on the row). The weights stay as given.
    pub(crate) fn with_log_weights(mut self, log_weights: Vec<f64>) -> Mixture {
        debug_assert_eq!(log_weights.len(), self.k);
        self.log_weights = log_weights;
        self
    }

    /// Per component, `log det U_c` (the sum of the log-diagonal of the
    /// precision factor; `d · ln p` for spherical).
    pub(crate) fn log_det(&self) -> &[f64] {
        &self.log_det
    }

    /// Per component, `log w_c − d/2 log 2π + log det U_c`: the log-density
    /// at the mean.
    pub(crate) fn log_constants(&self) -> Vec<f64> {
        let base = -0.5 * self.d as f64 * LN_2PI;
        (0..self.k)
            .map(|c| base + self.log_det[c] + self.log_weights[c])
            .collect()
    }

    /// Weighted log-densities `log w_c + log N(x | μ_c, Σ_c)` of the `m` rows
    /// of `x` (row-major), into `out` (m × k, row-major).
    pub(crate) fn log_prob_block(&self, x: &[f32], m: usize, ws: &mut Workspace, out: &mut [f64]) {
        let (k, d) = (self.k, self.d);
        let base = -0.5 * d as f64 * LN_2PI;
        let ms = m.div_ceil(TILE) * TILE;
        ws.transpose(x, m, ms, d);
        for c in 0..k {
            let mu = &self.means[c * d..(c + 1) * d];
            let maha = &mut ws.maha[..ms];
            match self.cov_type {
                CovarianceType::Full | CovarianceType::Tied => {
                    let off = if self.cov_type == CovarianceType::Full {
                        c * d * d
                    } else {
                        0
                    };
                    let u = &self.precisions_cholesky[off..off + d * d];
                    simd::sub_columns(&ws.xt[..d * ms], ms, d, mu, &mut ws.diff[..d * ms]);
                    simd::mahalanobis_triangular(&ws.diff[..d * ms], ms, d, u, maha);
                }
                CovarianceType::Diag => {
                    let p = &self.precisions_cholesky[c * d..(c + 1) * d];
                    simd::mahalanobis_diag(&ws.xt[..d * ms], ms, d, mu, p, maha);
                }
                CovarianceType::Spherical => {
                    let p = &self.precisions_cholesky[c..c + 1];
                    simd::mahalanobis_diag(&ws.xt[..d * ms], ms, d, mu, p, maha);
                }
            }
            let constant = base + self.log_det[c] + self.log_weights[c];
            for (i, &s) in maha[..m].iter().enumerate() {
                out[i * k + c] = constant - 0.5 * s;
            }
        }
    }
}

/// Index of the smallest value (first on ties).
fn smallest(v: &[f64], k: usize) -> usize {
    (0..k).min_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

/// Replaces each row of `lp` (m × k log-densities) by its responsibilities and
/// returns the sum over rows of the per-row log-sum-exp (the log-likelihood).
pub(crate) fn normalise_rows(lp: &mut [f64], k: usize, lse_out: Option<&mut Vec<f64>>) -> f64 {
    simd::normalise_rows(lp, k, lse_out)
}

/// `log Σ exp(v)`, shifted by the maximum; −∞ when every value is −∞.
#[cfg(test)]
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|&x| (x - max).exp()).sum::<f64>().ln()
}

/// Scratch buffers of the block kernels, sized for [`BLOCK_ROWS`] rows.
#[derive(Debug)]
pub(crate) struct Workspace {
    /// Column-major d × ms block (rows padded with zeros to a multiple of
    /// [`TILE`]).
    xt: Vec<f64>,
    /// Column-major d × ms differences `x − μ`.
    diff: Vec<f64>,
    /// Mahalanobis terms; also the diagonal statistics' block sums.
    maha: Vec<f64>,
    nk_acc: f64,
    /// Compacted responsibilities of one component.
    r: Vec<f64>,
    /// Row-major compacted differences (row stride `dp`, zero-padded).
    dr: Vec<f64>,
    /// `r · dr`.
    wr: Vec<f64>,
    /// Per-block log-densities / responsibilities, m × k.
    pub(crate) lp: Vec<f64>,
    /// The rows of a block grouped by hard label ([`Stats::accumulate_hard`]).
    order: Vec<u32>,
    /// Where each label's rows start in `order` (k + 1 entries).
    start: Vec<usize>,
}

/// `d` rounded up to whole [`LANES`].
fn padded(d: usize) -> usize {
    d.div_ceil(LANES) * LANES
}

impl Workspace {
    pub(crate) fn new(k: usize, d: usize) -> Self {
        let ms = BLOCK_ROWS.div_ceil(TILE) * TILE;
        Workspace {
            xt: vec![0.0; ms * d],
            diff: vec![0.0; ms * d],
            maha: vec![0.0; ms.max(2 * d)],
            nk_acc: 0.0,
            r: vec![0.0; BLOCK_ROWS],
            dr: vec![0.0; BLOCK_ROWS * padded(d)],
            wr: vec![0.0; BLOCK_ROWS * padded(d)],
            lp: vec![0.0; BLOCK_ROWS * k],
            order: Vec::new(),
            start: Vec::new(),
        }
    }

    /// Zeroed per-block sums of the diagonal statistics.
    fn diag_acc(&mut self, d: usize) -> (&mut f64, &mut [f64], &mut [f64]) {
        let (s1, s2) = self.maha[..2 * d].split_at_mut(d);
        s1.fill(0.0);
        s2.fill(0.0);
        self.nk_acc = 0.0;
        (&mut self.nk_acc, s1, s2)
    }

    /// `xt[j · ms + i] = x[i · d + j]`, rows m..ms zero.
    fn transpose(&mut self, x: &[f32], m: usize, ms: usize, d: usize) {
        for (j, col) in self.xt.chunks_exact_mut(ms).take(d).enumerate() {
            for (i, v) in col[..m].iter_mut().enumerate() {
                *v = f64::from(x[i * d + j]);
            }
            col[m..].fill(0.0);
        }
    }
}

fn tri(d: usize) -> usize {
    d * (d + 1) / 2
}

/// `a += b`, element by element.
fn add_into(a: &mut [f64], b: &[f64]) {
    for (a, b) in a.iter_mut().zip(b) {
        *a += b;
    }
}

/// Sufficient statistics of one pass (or part of one), about per-component
/// shifts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stats {
    pub(crate) nk: Vec<f64>,
    /// k × d: `Σ r (x − c)`.
    pub(crate) s1: Vec<f64>,
    /// full/tied: k packed lower triangles of `Σ r (x − c)(x − c)ᵀ`;
    /// diag/spherical: k × d diagonals.
    pub(crate) s2: Vec<f64>,
    /// Sum over rows of the log-likelihood (EM passes).
    pub(crate) loglik: f64,
}

impl Stats {
    pub(crate) fn new(cov_type: CovarianceType, k: usize, d: usize) -> Self {
        let s2 = if cov_type.is_matrix() {
            k * tri(d)
        } else {
            k * d
        };
        Stats {
            nk: vec![0.0; k],
            s1: vec![0.0; k * d],
            s2: vec![0.0; s2],
            loglik: 0.0,
        }
    }

    pub(crate) fn merge(mut self, other: Stats) -> Stats {
        add_into(&mut self.nk, &other.nk);
        add_into(&mut self.s1, &other.s1);
        add_into(&mut self.s2, &other.s2);
        self.loglik += other.loglik;
        self
    }

    /// Adds the `m` rows of `x` with responsibilities `resp` (m × k) about
    /// `shifts` (k × d). Components with no responsibility in the block
    /// (exactly 0, e.g. underflowed) are skipped: exact, and fast for
    /// well-separated data.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accumulate_block(
        &mut self,
        cov_type: CovarianceType,
        x: &[f32],
        m: usize,
        k: usize,
        d: usize,
        resp: &[f64],
        shifts: &[f64],
        ws: &mut Workspace,
    ) {
        let dp = padded(d);
        let matrix = cov_type.is_matrix();
        for c in 0..k {
            let shift = &shifts[c * d..(c + 1) * d];
            if !matrix {
                // Accumulated straight into the (zeroed per block) scratch
                // sums, then added: the same per-block partial sums as the
                // full case.
                let (nk, s1, s2) = ws.diag_acc(d);
                simd::diag_stats(x, m, d, resp, k, c, shift, nk, s1, s2);
                self.add_diag(c, d, ws);
                continue;
            }
            let mm = simd::compact_rows(
                x, m, d, dp, resp, k, c, shift, &mut ws.r, &mut ws.dr, &mut ws.wr,
            );
            self.add_compacted(c, mm, d, ws);
        }
    }

    /// Adds the block's diagonal sums in `ws` ([`Workspace::diag_acc`]) to
    /// component `c`.
    fn add_diag(&mut self, c: usize, d: usize, ws: &Workspace) {
        self.nk[c] += ws.nk_acc;
        let (s1, s2) = ws.maha[..2 * d].split_at(d);
        add_into(&mut self.s1[c * d..(c + 1) * d], s1);
        add_into(&mut self.s2[c * d..(c + 1) * d], s2);
    }

    /// Adds the `mm` rows compacted into `ws` (`r`, `dr`, `wr`) to the matrix
    /// statistics of component `c`.
    fn add_compacted(&mut self, c: usize, mm: usize, d: usize, ws: &Workspace) {
        if mm == 0 {
            return;
        }
        let t = tri(d);
        simd::component_stats(
            &ws.r,
            &ws.dr,
            &ws.wr,
            mm,
            d,
            padded(d),
            true,
            &mut self.nk[c],
            &mut self.s1[c * d..(c + 1) * d],
            &mut self.s2[c * t..(c + 1) * t],
        );
    }

    /// [`Stats::accumulate_block`] for hard responsibilities: row `i` of the
    /// block belongs to component `labels[i]` with weight 1. The same sums bit
    /// for bit as the one-hot responsibilities give (a zero weight adds
    /// exactly nothing, so each component's rows are summed alone, in row
    /// order), in O(m · d) rather than O(m · k · d).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accumulate_hard(
        &mut self,
        cov_type: CovarianceType,
        x: &[f32],
        k: usize,
        d: usize,
        labels: &[u32],
        shifts: &[f64],
        ws: &mut Workspace,
    ) {
        // The block's rows grouped by component, in row order (counting sort).
        let (mut order, mut start) = (std::mem::take(&mut ws.order), std::mem::take(&mut ws.start));
        start.clear();
        start.resize(k + 1, 0);
        for &l in labels {
            start[l as usize + 1] += 1;
        }
        for c in 0..k {
            start[c + 1] += start[c];
        }
        order.resize(labels.len(), 0);
        let mut next = start.clone();
        for (i, &l) in labels.iter().enumerate() {
            order[next[l as usize]] = i as u32;
            next[l as usize] += 1;
        }
        for c in 0..k {
            let rows = &order[start[c]..start[c + 1]];
            if rows.is_empty() {
                continue;
            }
            let shift = &shifts[c * d..(c + 1) * d];
            if cov_type.is_matrix() {
                let mm = simd::gather_rows(
                    x,
                    d,
                    padded(d),
                    rows,
                    shift,
                    &mut ws.r,
                    &mut ws.dr,
                    &mut ws.wr,
                );
                self.add_compacted(c, mm, d, ws);
            } else {
                let (nk, s1, s2) = ws.diag_acc(d);
                simd::diag_stats_rows(x, d, rows, shift, nk, s1, s2);
                self.add_diag(c, d, ws);
            }
        }
        (ws.order, ws.start) = (order, start);
    }

    /// The M-step: new weights, means and covariances from these statistics
    /// accumulated about `shifts`, with `reg_covar` on every covariance
    /// diagonal (scikit-learn's `_estimate_gaussian_parameters`). With
    /// `keep_shifts`, the shifts are the means (given initial means) and the
    /// covariances are the scatter about them.
    pub(crate) fn m_step(
        &self,
        cov_type: CovarianceType,
        k: usize,
        d: usize,
        shifts: &[f64],
        reg_covar: f64,
        keep_shifts: bool,
    ) -> Result<Mixture> {
        let est = self.estimate(cov_type, k, d, shifts, reg_covar, keep_shifts);
        let total: f64 = est.n.iter().sum();
        let weights: Vec<f64> = est.n.iter().map(|&v| v / total).collect();
        Mixture::new(
            cov_type,
            k,
            d,
            weights,
            est.means,
            est.covariances,
            Some(&self.nk),
        )
    }

    /// scikit-learn's `_estimate_gaussian_parameters`: the effective sizes
    /// `N_k + 10 ε`, the means and the covariances (with `reg_covar` on every
    /// diagonal) of these statistics accumulated about `shifts` (with
    /// `keep_shifts`, the shifts are the means).
    pub(crate) fn estimate(
        &self,
        cov_type: CovarianceType,
        k: usize,
        d: usize,
        shifts: &[f64],
        reg_covar: f64,
        keep_shifts: bool,
    ) -> Estimate {
        let t = tri(d);
        let n: Vec<f64> = self.nk.iter().map(|&v| v + NK_FLOOR).collect();
        let total: f64 = n.iter().sum();
        let mut means = vec![0.0f64; k * d];
        // δ = S1 / N and the factor of δ δᵀ in the scatter about the new mean:
        // Σ r (x − m)(x − m)ᵀ = S2 − (2N − N₀) δ δᵀ.
        let mut delta = vec![0.0f64; k * d];
        let mut corr = vec![0.0f64; k];
        for c in 0..k {
            for j in 0..d {
                let dl = if keep_shifts {
                    0.0
                } else {
                    self.s1[c * d + j] / n[c]
                };
                delta[c * d + j] = dl;
                means[c * d + j] = shifts[c * d + j] + dl;
            }
            corr[c] = 2.0 * n[c] - self.nk[c];
        }
        let mut cov = vec![0.0f64; cov_type.covariance_len(k, d)];
        match cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                for c in 0..k {
                    let (off, scale) = if cov_type == CovarianceType::Full {
                        (c * d * d, 1.0 / n[c])
                    } else {
                        (0, 1.0 / total)
                    };
                    let dl = &delta[c * d..(c + 1) * d];
                    for p in 0..d {
                        for q in 0..=p {
                            let s = self.s2[c * t + p * (p + 1) / 2 + q];
                            let v = (s - corr[c] * dl[p] * dl[q]) * scale;
                            cov[off + p * d + q] += v;
                            if q != p {
                                cov[off + q * d + p] += v;
                            }
                        }
                    }
                }
                let mats = if cov_type == CovarianceType::Full {
                    k
                } else {
                    1
                };
                for m in 0..mats {
                    for j in 0..d {
                        cov[m * d * d + j * d + j] += reg_covar;
                    }
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                for c in 0..k {
                    let mut acc = 0.0;
                    for j in 0..d {
                        let dl = delta[c * d + j];
                        let v = (self.s2[c * d + j] - corr[c] * dl * dl) / n[c] + reg_covar;
                        if cov_type == CovarianceType::Diag {
                            cov[c * d + j] = v;
                        } else {
                            acc += v;
                        }
                    }
                    if cov_type == CovarianceType::Spherical {
                        cov[c] = acc / d as f64;
                    }
                }
            }
        }
        Estimate {
            n,
            means,
            covariances: cov,
        }
    }
}

/// What [`Stats::estimate`] gives: scikit-learn's `nk`, `means` and
/// `covariances` of `_estimate_gaussian_parameters`.
#[derive(Debug, Clone)]
pub(crate) struct Estimate {
    /// `N_k + 10 ε` per component.
    pub(crate) n: Vec<f64>,
    /// k × d.
    pub(crate) means: Vec<f64>,
    /// Layout of [`CovarianceType::covariance_len`], `reg_covar` included.
    pub(crate) covariances: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_mahalanobis_matches_the_plain_triangular_product() {
        let (m, d) = (2 * TILE, 5); // two tiles
        let diff: Vec<f64> = (0..d * m)
            .map(|i| ((i as f64) * 0.731).sin() * 3.0)
            .collect();
        let mut u = vec![0.0f64; d * d];
        for p in 0..d {
            for j in p..d {
                u[p * d + j] = if p == j {
                    1.5 + p as f64 * 0.1
                } else {
                    0.3 - 0.05 * (j - p) as f64
                };
            }
        }
        let mut got = vec![0.0; m];
        simd::mahalanobis_triangular(&diff, m, d, &u, &mut got);
        for i in 0..m {
            let mut want = 0.0;
            for j in 0..d {
                let y: f64 = (0..d).map(|p| diff[p * m + i] * u[p * d + j]).sum();
                want += y * y;
            }
            assert!(
                (got[i] - want).abs() <= 1e-12 * want.max(1.0),
                "row {i}: {} vs {want}",
                got[i]
            );
        }
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert_eq!(
            log_sum_exp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
            f64::NEG_INFINITY
        );
        let v = log_sum_exp(&[-1000.0, -1000.0]);
        assert!((v - (-1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
    }
}

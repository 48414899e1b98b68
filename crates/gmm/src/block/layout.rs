//! The kernels' layouts: a mixture's parameters padded and centred
//! ([`Prepared`]), and the per-chunk scratch of the block kernels
//! ([`Scratch`]).

use super::L;
use crate::mixture::{BLOCK_ROWS, Mixture};
use crate::params::CovarianceType;

/// A mixture's parameters laid out for the kernels: padded, centred on
/// `shift`, with the per-component constants folded in.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(super) cov_type: CovarianceType,
    pub(super) k: usize,
    pub(super) d: usize,
    /// `d` rounded up to a multiple of [`L`].
    pub(super) dp: usize,
    /// Subtracted from every row (the mean of the means), length `dp`.
    pub(super) shift: Vec<f64>,
    /// k × dp: `μ_c − shift`.
    pub(super) mu: Vec<f64>,
    /// Full/tied: per matrix, `U` as d rows of `dp` (zero-padded);
    /// diag/spherical: k × dp quadratic coefficients `−½ p²` (`p = 1/σ`).
    pub(super) prec: Vec<f64>,
    /// k × dp: `μ̃_c U_c` (full/tied) or the linear coefficients `p² μ̃`
    /// (diag/spherical).
    pub(super) bias: Vec<f64>,
    /// `log w_c − d/2 log 2π + log det U_c`; diag/spherical: minus
    /// `½ Σ_j p_j² μ̃_j²` too (the log-density at `x̃ = 0`).
    pub(super) constant: Vec<f64>,
}

impl Prepared {
    pub(crate) fn new(mix: &Mixture) -> Self {
        Self::build(mix, false)
    }

    /// [`Prepared::new`] with the shift rounded to `f32`, so that the
    /// single-precision kernel's `fl(x − shift)` is the exact difference
    /// rounded once, and the `f64` correction in [`finish_chunk`](super::finish_chunk) uses the
    /// same shift.
    pub(crate) fn with_f32_shift(mix: &Mixture) -> Self {
        Self::build(mix, true)
    }

    fn build(mix: &Mixture, f32_shift: bool) -> Self {
        let (k, d) = (mix.k, mix.d);
        let dp = d.div_ceil(L) * L;
        let mut shift = vec![0.0f64; dp];
        for c in 0..k {
            for j in 0..d {
                shift[j] += mix.means[c * d + j];
            }
        }
        shift.iter_mut().for_each(|v| *v /= k as f64);
        if f32_shift {
            shift.iter_mut().for_each(|v| *v = f64::from(*v as f32));
        }
        let mut mu = vec![0.0f64; k * dp];
        for c in 0..k {
            for j in 0..d {
                mu[c * dp + j] = mix.means[c * d + j] - shift[j];
            }
        }
        let mut bias = vec![0.0f64; k * dp];
        let mut constant = mix.log_constants();
        let pc = &mix.precisions_cholesky;
        let prec = match mix.cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let mats = if mix.cov_type == CovarianceType::Full {
                    k
                } else {
                    1
                };
                let mut u = vec![0.0f64; mats * d * dp];
                for m in 0..mats {
                    for p in 0..d {
                        for j in p..d {
                            u[m * d * dp + p * dp + j] = pc[m * d * d + p * d + j];
                        }
                    }
                }
                for c in 0..k {
                    let m = if mats == 1 { 0 } else { c };
                    for j in 0..d {
                        bias[c * dp + j] = (0..=j)
                            .map(|p| mu[c * dp + p] * u[m * d * dp + p * dp + j])
                            .sum();
                    }
                }
                u
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let mut p = vec![0.0f64; k * dp];
                for c in 0..k {
                    let mut at_zero = 0.0;
                    for j in 0..d {
                        let s = if mix.cov_type == CovarianceType::Diag {
                            pc[c * d + j]
                        } else {
                            pc[c]
                        };
                        let (s2, m) = (s * s, mu[c * dp + j]);
                        p[c * dp + j] = -0.5 * s2;
                        bias[c * dp + j] = s2 * m;
                        at_zero += s2 * m * m;
                    }
                    constant[c] -= 0.5 * at_zero;
                }
                p
            }
        };
        Prepared {
            cov_type: mix.cov_type,
            k,
            d,
            dp,
            shift,
            mu,
            prec,
            bias,
            constant,
        }
    }

    pub(super) fn matrix(&self) -> bool {
        self.cov_type.is_matrix()
    }

    /// `U` of component `c`: d rows of `dp`.
    pub(super) fn u(&self, c: usize) -> &[f64] {
        let m = if self.cov_type == CovarianceType::Full {
            c
        } else {
            0
        };
        let n = self.d * self.dp;
        &self.prec[m * n..(m + 1) * n]
    }
}

/// Rows of a block padded for the 32-row tiles of the diagonal kernel.
pub(super) fn padded_rows(m: usize) -> usize {
    m.div_ceil(4 * L) * 4 * L
}

/// Scratch space of the kernels for blocks of up to [`BLOCK_ROWS`] rows,
/// allocated once per chunk.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// ms × dp, row-major centred rows (full/tied).
    pub(super) xr: Vec<f64>,
    /// d × ms, column-major centred rows (diag/spherical).
    pub(super) xt: Vec<f64>,
    /// d × ms, their squares (diag/spherical): computed once per block for
    /// the log-density and statistics tiles, which would otherwise each
    /// square their columns again.
    pub(super) xq: Vec<f64>,
    /// k × ms: log-densities, then responsibilities.
    pub(crate) lp: Vec<f64>,
    /// Per-row log-sum-exp.
    pub(crate) lse: Vec<f64>,
    /// The chunk's sums about the shift, see [`finish_chunk`](super::finish_chunk). Full/tied: k,
    /// k × dp and k × dp × dp. Diag/spherical: the same sums per lane (rows
    /// `i ≡ l mod 8` go to lane `l`), k × L, k × d × L and k × d × L, whose
    /// lanes [`finish_chunk`](super::finish_chunk) adds up.
    pub(super) nk: Vec<f64>,
    pub(super) b: Vec<f64>,
    pub(super) a: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(prep: &Prepared) -> Self {
        let ms = padded_rows(BLOCK_ROWS);
        let (k, d, dp) = (prep.k, prep.d, prep.dp);
        let full = prep.matrix();
        Scratch {
            xr: if full { vec![0.0; ms * dp] } else { Vec::new() },
            xt: if full { Vec::new() } else { vec![0.0; d * ms] },
            xq: if full { Vec::new() } else { vec![0.0; d * ms] },
            lp: vec![0.0; k * ms],
            lse: vec![0.0; ms],
            nk: vec![0.0; if full { k } else { k * L }],
            b: vec![0.0; if full { k * dp } else { k * d * L }],
            a: vec![0.0; if full { k * dp * dp } else { k * d * L }],
        }
    }

    /// Only the chunk's per-lane diagonal sums (`nk`, `b`, `a`): what the
    /// single-precision kernel shares, which has block buffers of its own.
    pub(crate) fn diag_sums(prep: &Prepared) -> Self {
        let (k, d) = (prep.k, prep.d);
        Scratch {
            xr: Vec::new(),
            xt: Vec::new(),
            xq: Vec::new(),
            lp: Vec::new(),
            lse: Vec::new(),
            nk: vec![0.0; k * L],
            b: vec![0.0; k * d * L],
            a: vec![0.0; k * d * L],
        }
    }

    /// Whether this scratch holds everything the kernels index for a block
    /// of `m` rows of `prep`: `m ≤ BLOCK_ROWS`, the block's buffers, and
    /// with `stats` the chunk's sums. The safe entry points assert it before
    /// the kernels write through raw pointers.
    pub(super) fn fits(&self, prep: &Prepared, m: usize, stats: bool) -> bool {
        let ms = padded_rows(m);
        let (k, d, dp) = (prep.k, prep.d, prep.dp);
        let block = if prep.matrix() {
            self.xr.len() >= ms * dp
        } else {
            self.xt.len() >= d * ms && self.xq.len() >= d * ms
        };
        let sums = !stats
            || if prep.matrix() {
                self.nk.len() >= k && self.b.len() >= k * dp && self.a.len() >= k * dp * dp
            } else {
                self.nk.len() == k * L && self.b.len() == k * d * L && self.a.len() == k * d * L
            };
        m <= BLOCK_ROWS && block && sums && self.lp.len() >= k * ms && self.lse.len() >= ms
    }

    /// The row stride of [`Scratch::lp`] for a block of `m` rows.
    pub(crate) fn stride(m: usize) -> usize {
        padded_rows(m)
    }
}

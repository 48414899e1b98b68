//! The full/tied EM block kernel in single precision
//! ([`Precision::F32`](crate::Precision::F32)): 16 rows per vector, so
//! every product costs half of what [`super`]'s `f64` kernel pays.
//!
//! * The block is transposed to column-major `f32`, centred on the shift
//!   rounded to `f32` (so `fl(x − shift)` is the exact difference rounded
//!   once) by [`super::single`]'s transpose.
//! * Mahalanobis terms `‖y‖²` with `y_j = Σ_{p ≤ j} x̃_p U_pj − (μ̃ U)_j`,
//!   rows in lanes: tiles of 32 rows × 8 columns `j` of `U` (16
//!   accumulators), each `y_j` a run of FMAs over `p`, `μ̃ U` computed in
//!   `f64` and rounded once. The rounding error of `y_j` is at most about
//!   `u Σ_p |x̃_p U_pj|` (`u = 2⁻²⁴`); for the rows a component is
//!   responsible for, `|x̃_p| ≲ |μ̃_p| + σ_p` (`σ_p = √Σ_pp`), so it is about
//!   `u g_c` with `g_c = max_j Σ_p (|μ̃_cp| + σ_cp) |U_c,pj|`, which is near
//!   `1 + spread` for a well-conditioned covariance and grows with its
//!   condition (for two coordinates of correlation ρ, as
//!   `(1 + |ρ|)/√(1 − ρ²)`). Through the responsibilities this error reaches
//!   the next covariance, whose smallest directions the next `U` amplifies:
//!   measured on two coordinates with correlation near 1 (tests/it/precision.rs
//!   has the data), the precision Cholesky factors after 10 iterations
//!   differ from the `f64` fit's by about 4e-6 at `g_c` = 136, 2.6e-5 at 204,
//!   4e-5 at 272, 1.3e-4 at 408 and 3.7e-4 at 816 (relative to max(|v|, 1)).
//!   [`SingleMatrix::new`] declines mixtures with `g_c` above
//!   [`F32_MATRIX_LIMIT`] = 256, and, as for diag/spherical, mixtures with a
//!   mean more than [`F32_SPREAD_LIMIT`] standard deviations from the shift
//!   (whose `x̃` terms are large).
//! * The log-sum-exp is [`super::single`]'s, on the same layout.
//! * Statistics of each component `c` about its centre `cen_c = fl32(μ̃_c)`:
//!   the rows `z = fl(x̃ − cen_c)` (a column of ones after the d columns,
//!   zero columns to a multiple of 4) and one lower triangle of `Σ r z zᵀ`,
//!   whose last row holds `Σ r z` and `N`: tiles of 4 × 4 entries over the
//!   block's rows, rows in lanes (groups of 16 rows whose responsibilities
//!   are all 0 skipped: they add exactly 0), summed in `f32` over
//!   [`FLUSH_BLOCKS`] blocks (at most 256 rows per lane) and then, the 16
//!   lanes added in `f64` in a fixed tree, into the `f64` sums that
//!   [`super::finish_chunk`] moves by the `f64` offsets `μ̃_c − cen_c` to
//!   each component's mean. Centred per component, the second moments are
//!   about `N Σ`, not `N (Σ + μ̃ μ̃ᵀ)`: their `f32` error is about `u` on
//!   the scale of `Σ`, with no spread amplification (centring on the shift
//!   instead gave errors about 15 times larger in the precision Cholesky
//!   factors on blobs with means 6 σ from the shift: 9e-5 against 6e-6).
//!   The centring costs d subtractions per row and component, against
//!   about d² FMAs.
//!
//! Sums run in a fixed order (rows `i ≡ l mod 16` in lane `l` inside a block,
//! the lanes in a fixed tree at each flush), so results are deterministic for
//! a chunk length and independent of the thread count.

use std::arch::x86_64::*;

use super::single::{BLOCK_ROWS, FLUSH_BLOCKS, W, normalise, stride, transpose_centred};
use super::{L, Prepared, Scratch, finish_chunk, padded_rows};
use crate::mixture::{Mixture, Stats};
use crate::params::{CovarianceType, F32_SPREAD_LIMIT};

/// The largest `g_c = max_j Σ_p (|μ̃_cp| + σ_cp) |U_c,pj|` (see the module
/// documentation) for which a full/tied iteration runs in `f32`: `2⁸`, so
/// that each `y_j` carries an error of at most about `2⁸ · 2⁻²⁴ = 2⁻¹⁶`,
/// and, measured, the precision Cholesky factors stay within about 4e-5 of
/// the `f64` fit's (1.3e-4 at `g_c` = 408).
pub(crate) const F32_MATRIX_LIMIT: f64 = 256.0;

/// Entries per side of the statistics' register tiles.
const T: usize = 4;

/// Columns `j` of `U` per Mahalanobis tile.
const JT: usize = 8;

/// A full/tied mixture laid out for the `f32` kernel.
#[derive(Debug)]
pub(crate) struct SingleMatrix {
    /// The `f64` layout with the shift rounded to `f32`.
    base: Prepared,
    /// What [`finish_chunk`] needs of the mixture's layout, with `mu` the
    /// offsets `μ̃_c − cen_c` of the means from the statistics' centres.
    offsets: Prepared,
    /// k × d: the statistics' centres `cen_c = fl32(μ̃_c)`.
    centre: Vec<f32>,
    /// The shift, length d.
    shift: Vec<f32>,
    /// Per matrix (k for full, 1 for tied), `U` as d rows of `dp` columns,
    /// zero below the diagonal and past column d.
    u: Vec<f32>,
    /// k × dp: `μ̃_c U_c` (in `f64`, rounded), zero past column d.
    bias: Vec<f32>,
    /// `log w_c − d/2 log 2π + log det U_c`, rounded to `f32`.
    constant: Vec<f32>,
    /// Columns of the augmented block: d, the ones, zeros to a multiple of
    /// [`T`].
    dq: usize,
}

impl SingleMatrix {
    /// The `f32` layout of a full/tied `mix`, or `None` when its covariance
    /// type is diag/spherical, a mean lies more than [`F32_SPREAD_LIMIT`]
    /// standard deviations from the mean of the means in some coordinate, or
    /// a component's `g_c` exceeds [`F32_MATRIX_LIMIT`].
    pub(crate) fn new(mix: &Mixture) -> Option<Self> {
        if !mix.cov_type.is_matrix() {
            return None;
        }
        let base = Prepared::with_f32_shift(mix);
        let (k, d, dp) = (base.k, base.d, base.dp);
        for c in 0..k {
            let off = if mix.cov_type == CovarianceType::Full {
                c * d * d
            } else {
                0
            };
            let sigma: Vec<f64> = (0..d)
                .map(|p| mix.covariances[off + p * d + p].sqrt())
                .collect();
            let mu = &base.mu[c * dp..c * dp + d];
            let u = base.u(c);
            for j in 0..d {
                let spread = mu[j].abs() / sigma[j];
                let g: f64 = (0..=j)
                    .map(|p| (mu[p].abs() + sigma[p]) * u[p * dp + j].abs())
                    .sum();
                // NaN fails both comparisons.
                if !(spread <= F32_SPREAD_LIMIT && g <= F32_MATRIX_LIMIT) {
                    return None;
                }
            }
        }
        let u: Vec<f32> = base.prec.iter().map(|&v| v as f32).collect();
        let bias = base.bias.iter().map(|&v| v as f32).collect();
        if u.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut centre = vec![0.0f32; k * d];
        let mut offsets = vec![0.0f64; k * dp];
        for c in 0..k {
            for j in 0..d {
                let v = base.mu[c * dp + j];
                centre[c * d + j] = v as f32;
                offsets[c * dp + j] = v - f64::from(v as f32);
            }
        }
        Some(SingleMatrix {
            offsets: Prepared {
                cov_type: base.cov_type,
                k,
                d,
                dp,
                shift: base.shift.clone(),
                mu: offsets,
                prec: Vec::new(),
                bias: Vec::new(),
                constant: Vec::new(),
            },
            centre,
            shift: base.shift[..d].iter().map(|&v| v as f32).collect(),
            u,
            bias,
            constant: base.constant.iter().map(|&v| v as f32).collect(),
            dq: (d + 1).div_ceil(T) * T,
            base,
        })
    }

    /// Tiles of the statistics' lower triangle (of `dq / T` tile rows).
    fn tiles(&self) -> usize {
        let nb = self.dq / T;
        nb * (nb + 1) / 2
    }
}

/// Scratch space of the `f32` full/tied kernel, allocated once per chunk.
#[derive(Debug)]
pub(crate) struct MatrixScratch {
    /// The chunk's `f64` sums (`nk`, `b`, `a` of the `f64` kernel's layout).
    base: Scratch,
    /// k × rs log-densities, then responsibilities.
    lp: Vec<f32>,
    /// Per-row log-sum-exp.
    lse: Vec<f64>,
    /// d × rs column-major rows centred on the shift (rs the block's
    /// stride).
    xt: Vec<f32>,
    /// dq × rs: the rows centred on one component's centre, the ones, the
    /// zero columns.
    zc: Vec<f32>,
    /// d × rs: the squares the shared transpose writes (unused here).
    xq: Vec<f32>,
    /// Per component and tile, the `f32` sums of the last blocks: T × T
    /// entries (row `p`, column `q` of the tile) of 16 lanes.
    sums: Vec<f32>,
    /// Blocks the `f32` sums hold.
    pending: usize,
}

impl MatrixScratch {
    pub(crate) fn new(s: &SingleMatrix) -> Self {
        let rs = stride(padded_rows(BLOCK_ROWS));
        let (k, d, dp, dq) = (s.base.k, s.base.d, s.base.dp, s.dq);
        MatrixScratch {
            base: Scratch {
                xr: Vec::new(),
                xt: Vec::new(),
                xq: Vec::new(),
                lp: Vec::new(),
                lse: Vec::new(),
                nk: vec![0.0; k],
                b: vec![0.0; k * dp],
                a: vec![0.0; k * dp * dp],
            },
            lp: vec![0.0; k * rs],
            lse: vec![0.0; rs],
            xt: vec![0.0; d * rs],
            zc: vec![0.0; dq * rs],
            xq: vec![0.0; d * rs],
            sums: vec![0.0; k * s.tiles() * T * T * W],
            pending: 0,
        }
    }

    /// Adds the `f32` sums to the `f64` ones (the 16 lanes in a fixed tree)
    /// and clears them: entry `(p, q)` of `Σ r z zᵀ` goes to `A_pq` for
    /// `p < d`, to `B_q` for `p = d`, to `N` for `p = q = d`.
    fn flush(&mut self, s: &SingleMatrix) {
        let (k, d, dp) = (s.base.k, s.base.d, s.base.dp);
        let nb = s.dq / T;
        let mut tile = self.sums.chunks_exact(T * T * W);
        for c in 0..k {
            for pb in 0..nb {
                for qb in 0..=pb {
                    let sums = tile.next().expect("k × tiles tiles");
                    for (e, lanes) in sums.chunks_exact(W).enumerate() {
                        let (p, q) = (pb * T + e / T, qb * T + e % T);
                        if q > p || p > d {
                            continue;
                        }
                        let v = lane_sum(lanes);
                        if p < d {
                            self.base.a[c * dp * dp + p * dp + q] += v;
                        } else if q < d {
                            self.base.b[c * dp + q] += v;
                        } else {
                            self.base.nk[c] += v;
                        }
                    }
                }
            }
        }
        self.sums.fill(0.0);
        self.pending = 0;
    }
}

/// The 16 lanes of an `f32` sum added in `f64` in a fixed tree.
fn lane_sum(v: &[f32]) -> f64 {
    let w: [f64; W] = std::array::from_fn(|l| f64::from(v[l]));
    let mut h = [0.0f64; L];
    for l in 0..L {
        h[l] = w[l] + w[l + L];
    }
    ((h[0] + h[4]) + (h[2] + h[6])) + ((h[1] + h[5]) + (h[3] + h[7]))
}

/// E-step and statistics of the first `m ≤ BLOCK_ROWS` rows of `x`
/// (row-major, `d` columns; rows after them are only prefetched), the
/// statistics added to the chunk's sums in `ws`. Returns the block's
/// log-likelihood, summed in row order.
pub(crate) fn em_block(s: &SingleMatrix, x: &[f32], m: usize, ws: &mut MatrixScratch) -> f64 {
    let (k, d, dp, dq) = (s.base.k, s.base.d, s.base.dp, s.dq);
    let ms = padded_rows(m);
    let rs = stride(ms);
    let mats = if s.base.cov_type == CovarianceType::Full {
        k
    } else {
        1
    };
    assert!(super::single::available() && m <= BLOCK_ROWS && x.len() >= m * d);
    assert!(ws.xt.len() >= d * rs && ws.zc.len() >= dq * rs && ws.xq.len() >= d * rs);
    assert!(s.centre.len() == k * d);
    assert!(ws.lp.len() >= k * rs && ws.lse.len() >= rs);
    assert!(ws.sums.len() == k * s.tiles() * T * T * W);
    assert!(s.u.len() == mats * d * dp && s.bias.len() == k * dp && s.constant.len() == k);
    // The augmented columns (the stride depends on the block's length).
    ws.zc[d * rs..(d + 1) * rs].fill(1.0);
    ws.zc[(d + 1) * rs..dq * rs].fill(0.0);
    // SAFETY: AVX-512F is available and every buffer has the length the
    // kernels index (checked above; ms is a multiple of 32).
    let ll = unsafe {
        transpose_centred(x, m, d, ms, rs, &s.shift, &mut ws.xt, &mut ws.xq);
        for c in 0..k {
            log_prob(s, c, &ws.xt, ms, rs, &mut ws.lp);
        }
        let ll = normalise(&mut ws.lp, &mut ws.lse, k, m, rs);
        let nb = dq / T;
        let mut t = 0;
        for c in 0..k {
            centre_on(&ws.xt, &s.centre[c * d..(c + 1) * d], ms, rs, &mut ws.zc);
            for pb in 0..nb {
                for qb in 0..=pb {
                    stats_tile(c, pb * T, qb * T, ms, rs, t, ws);
                    t += 1;
                }
            }
        }
        ll
    };
    ws.pending += 1;
    if ws.pending == FLUSH_BLOCKS {
        ws.flush(s);
    }
    ll
}

/// Adds the chunk's sums in `ws` to `st` about the mixture's means and
/// resets them (see [`super::finish_chunk`]).
pub(crate) fn finish(s: &SingleMatrix, ws: &mut MatrixScratch, st: &mut Stats) {
    ws.flush(s);
    finish_chunk(&s.offsets, &mut ws.base, st);
}

/// `lp[c · rs + i] = K_c − ½ Σ_j (Σ_{p ≤ j} x̃_ip U_pj − (μ̃ U)_j)²` for all
/// ms rows (a multiple of 32), by tiles of 32 rows × [`JT`] columns `j`.
///
/// # Safety
/// AVX-512F; c < k, `xt` at least d × rs, `lp` k × rs, ms ≤ rs, the lengths
/// of `s` as [`em_block`] asserts them.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn log_prob(s: &SingleMatrix, c: usize, xt: &[f32], ms: usize, rs: usize, lp: &mut [f32]) {
    const RT: usize = 2;
    let (d, dp) = (s.base.d, s.base.dp);
    let m = if s.base.cov_type == CovarianceType::Full {
        c
    } else {
        0
    };
    let up = s.u[m * d * dp..(m + 1) * d * dp].as_ptr();
    let bp = s.bias[c * dp..(c + 1) * dp].as_ptr();
    let xp = xt.as_ptr();
    let out = lp.as_mut_ptr();
    let half = _mm512_set1_ps(-0.5);
    let konst = _mm512_set1_ps(s.constant[c]);
    for i0 in (0..ms).step_by(RT * W) {
        let mut sq = [_mm512_setzero_ps(); RT];
        for j0 in (0..d).step_by(JT) {
            let mut y = [[_mm512_setzero_ps(); RT]; JT];
            for (jj, y) in y.iter_mut().enumerate() {
                // SAFETY: j0 + jj < dp (dp a multiple of JT = 8).
                let b = _mm512_set1_ps(-unsafe { *bp.add(j0 + jj) });
                *y = [b; RT];
            }
            // U is upper triangular: rows p < j0 + JT meet these columns.
            for p in 0..(j0 + JT).min(d) {
                let mut xv = [_mm512_setzero_ps(); RT];
                for (t, v) in xv.iter_mut().enumerate() {
                    // SAFETY: column p < d of xt has rs ≥ i0 + 32 entries.
                    *v = unsafe { _mm512_loadu_ps(xp.add(p * rs + i0 + t * W)) };
                }
                for (jj, y) in y.iter_mut().enumerate() {
                    // SAFETY: row p < d of U has dp > j0 + jj entries.
                    let u = _mm512_set1_ps(unsafe { *up.add(p * dp + j0 + jj) });
                    for t in 0..RT {
                        y[t] = _mm512_fmadd_ps(xv[t], u, y[t]);
                    }
                }
            }
            for y in &y {
                for t in 0..RT {
                    sq[t] = _mm512_fmadd_ps(y[t], y[t], sq[t]);
                }
            }
        }
        for (t, &v) in sq.iter().enumerate() {
            // SAFETY: c · rs + i0 + 32 ≤ k · rs ≤ lp.len().
            unsafe {
                _mm512_storeu_ps(
                    out.add(c * rs + i0 + t * W),
                    _mm512_fmadd_ps(half, v, konst),
                )
            };
        }
    }
}

/// `zc[p · rs + i] = fl(xt[p · rs + i] − cen_p)` for the d columns `p` of
/// `cen` and the ms rows.
///
/// # Safety
/// AVX-512F; `xt` and `zc` hold d × rs, ms ≤ rs.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn centre_on(xt: &[f32], cen: &[f32], ms: usize, rs: usize, zc: &mut [f32]) {
    for (p, &cp) in cen.iter().enumerate() {
        let (src, dst) = (&xt[p * rs..p * rs + ms], &mut zc[p * rs..p * rs + ms]);
        for (z, &x) in dst.iter_mut().zip(src) {
            *z = x - cp;
        }
    }
}

/// Tile `t` of the statistics: entries `(p0 + a, q0 + b)`, `a, b < T`, of
/// `Σ r_c z zᵀ` (`z` the rows centred on component c's centre, and 1) over
/// the block's ms rows, added to the tile's `f32` sums in
/// `ws`. Groups of 16 rows with all responsibilities 0 are skipped.
///
/// # Safety
/// AVX-512F; c < k, p0 + T and q0 + T ≤ dq, `ws` sized for stride rs ≥ ms
/// (a multiple of 16), t < k × tiles.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn stats_tile(
    c: usize,
    p0: usize,
    q0: usize,
    ms: usize,
    rs: usize,
    t: usize,
    ws: &mut MatrixScratch,
) {
    let (rp, xp) = (ws.lp.as_ptr(), ws.zc.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); T]; T];
    for i0 in (0..ms).step_by(W) {
        // SAFETY: rows i0..i0 + 16 ≤ ms of component c < k.
        let r = unsafe { _mm512_loadu_ps(rp.add(c * rs + i0)) };
        if _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(r, _mm512_setzero_ps()) == 0 {
            continue;
        }
        let mut w = [_mm512_setzero_ps(); T];
        for (a, w) in w.iter_mut().enumerate() {
            // SAFETY: column p0 + a < dq of zc has rs ≥ i0 + 16 entries.
            *w = _mm512_mul_ps(r, unsafe { _mm512_loadu_ps(xp.add((p0 + a) * rs + i0)) });
        }
        for b in 0..T {
            // SAFETY: column q0 + b < dq, as above.
            let xq = unsafe { _mm512_loadu_ps(xp.add((q0 + b) * rs + i0)) };
            for a in 0..T {
                acc[a][b] = _mm512_fmadd_ps(w[a], xq, acc[a][b]);
            }
        }
    }
    let dst = ws.sums[t * T * T * W..(t + 1) * T * T * W].as_mut_ptr();
    for a in 0..T {
        for b in 0..T {
            // SAFETY: entry (a, b) of tile t: 16 lanes inside `sums`.
            unsafe {
                let o = dst.add((a * T + b) * W);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[a][b]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::tests::mixture;
    use crate::mixture::{Workspace, normalise_rows};
    use mmclust_core::isa::Isa;

    /// The kernel on `m` rows (blocks of up to `BLOCK_ROWS`, one chunk)
    /// near the means of a random mixture (means about 1e3 from the origin
    /// for odd seeds) against the portable `f64` path:
    /// returns the largest errors of the responsibilities (absolute), of
    /// the per-row log-likelihoods (relative to max(|ℓ|, 1)), and of the
    /// statistics (`N` relative to m, `S1` and `S2` relative to the largest
    /// `S2` entry of the component, `S1` through its square root times m).
    fn errors(cov_type: CovarianceType, k: usize, d: usize, m: usize, seed: u64) -> [f64; 3] {
        let offset = if seed.is_multiple_of(2) { 0.0 } else { 1e3 };
        let mix = mixture(cov_type, k, d, offset, seed);
        let x: Vec<f32> = (0..m * d)
            .map(|i| {
                let (r, j) = (i / d, i % d);
                let c = (r * 7 + seed as usize) % k;
                let noise = ((i as f64 * 0.618 + seed as f64).sin()) * 2.0;
                (mix.means[c * d + j] + noise) as f32
            })
            .collect();
        let s = SingleMatrix::new(&mix).expect("within the gates");
        let mut ws = MatrixScratch::new(&s);
        let mut st = Stats::new(cov_type, k, d);
        // Blocks of up to BLOCK_ROWS rows (more than FLUSH_BLOCKS of them
        // for the largest m): responsibilities to row-major m × k.
        let (mut ll, mut resp, mut lse) = (0.0, vec![0.0f32; m * k], Vec::new());
        for i0 in (0..m).step_by(BLOCK_ROWS) {
            let mb = (m - i0).min(BLOCK_ROWS);
            ll += em_block(&s, &x[i0 * d..], mb, &mut ws);
            let rs = stride(padded_rows(mb));
            for i in 0..mb {
                for c in 0..k {
                    resp[(i0 + i) * k + c] = ws.lp[c * rs + i];
                }
            }
            for i in mb..rs {
                for c in 0..k {
                    assert_eq!(ws.lp[c * rs + i], 0.0, "padding row {i}");
                }
            }
            lse.extend_from_slice(&ws.lse[..mb]);
        }
        finish(&s, &mut ws, &mut st);

        // The portable path, by its blocks of 128 rows.
        let mut rws = Workspace::new(k, d);
        let mut lp = vec![0.0f64; m * k];
        let mut want_lse = Vec::new();
        let mut want_ll = 0.0;
        let mut want = Stats::new(cov_type, k, d);
        for i0 in (0..m).step_by(crate::mixture::BLOCK_ROWS) {
            let mb = (m - i0).min(crate::mixture::BLOCK_ROWS);
            let (xb, lb) = (&x[i0 * d..(i0 + mb) * d], &mut lp[i0 * k..(i0 + mb) * k]);
            mix.log_prob_block(xb, mb, &mut rws, lb);
            want_ll += normalise_rows(lb, k, Some(&mut want_lse));
            want.accumulate_block(cov_type, xb, mb, k, d, lb, &mix.means, &mut rws);
        }

        let mut e_resp = 0.0f64;
        let mut e_ll = ((ll - want_ll) / want_ll.abs().max(m as f64)).abs();
        for i in 0..m {
            e_ll = e_ll.max((lse[i] - want_lse[i]).abs() / want_lse[i].abs().max(1.0));
            for c in 0..k {
                e_resp = e_resp.max((f64::from(resp[i * k + c]) - lp[i * k + c]).abs());
            }
        }
        let t = d * (d + 1) / 2;
        let mut e_st = 0.0f64;
        for c in 0..k {
            e_st = e_st.max((st.nk[c] - want.nk[c]).abs() / m as f64);
            let s2 = &want.s2[c * t..(c + 1) * t];
            let scale = s2.iter().fold(1e-3 * m as f64, |a, v| a.max(v.abs()));
            for j in 0..d {
                let (g, w) = (st.s1[c * d + j], want.s1[c * d + j]);
                e_st = e_st.max((g - w).abs() / (scale * m as f64).sqrt());
            }
            for (g, w) in st.s2[c * t..(c + 1) * t].iter().zip(s2) {
                e_st = e_st.max((g - w).abs() / scale);
            }
        }
        [e_resp, e_ll, e_st]
    }

    /// On random mixtures (d across the 8-column tiles of `U` and the
    /// 4-entry tiles of the statistics, blocks that end inside a 16-row
    /// vector, more blocks than the `f32` sums hold before a flush, means
    /// near the origin and 1e3 from it), the `f32` kernel is within `f32` rounding of the portable
    /// `f64` path: responsibilities within 1e-4 absolute, log-likelihoods
    /// within 1e-5 relative, statistics within 1e-5 of their scale. (These
    /// are about 100 u, u = 2⁻²⁴ ≈ 6e-8: the observed errors are printed.)
    #[test]
    fn matches_the_f64_path_within_f32_rounding() {
        if !Isa::Avx512.run_or_skip("matches_the_f64_path_within_f32_rounding") {
            return;
        }
        let mut worst = [0.0f64; 3];
        for cov_type in [CovarianceType::Full, CovarianceType::Tied] {
            for (k, d, m) in [
                (1, 1, 1),
                (2, 2, 37),
                (3, 3, 512),
                (4, 7, 200),
                (5, 8, 511),
                (3, 9, 129),
                (2, 16, 512),
                (6, 17, 300),
                (2, 33, 64),
                (3, 5, 10 * BLOCK_ROWS + 77),
                (4, 12, 9 * BLOCK_ROWS),
            ] {
                let e = errors(cov_type, k, d, m, (k * 100 + d) as u64);
                let what = format!(
                    "{cov_type} k {k} d {d} m {m}: {:.2e} {:.2e} {:.2e}",
                    e[0], e[1], e[2]
                );
                assert!(e[0] <= 1e-5 && e[1] <= 2e-6 && e[2] <= 1e-5, "{what}");
                for (w, v) in worst.iter_mut().zip(e) {
                    *w = w.max(v);
                }
            }
        }
        eprintln!(
            "worst errors: responsibilities {:.2e}, log-likelihood {:.2e}, statistics {:.2e}",
            worst[0], worst[1], worst[2]
        );
    }
}

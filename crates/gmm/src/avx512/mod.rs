//! AVX-512 block kernels of the EM pass: one call per block of
//! [`BLOCK_ROWS`](crate::mixture::BLOCK_ROWS) rows does the E-step
//! (log-densities of every component, log-sum-exp, responsibilities) and,
//! for EM passes, the statistics of the M-step, with the whole block
//! resident in L1/L2.
//!
//! Layout, chosen so every inner loop is a fixed-trip run of FMAs with no
//! horizontal work in it:
//!
//! * full/tied: the block is converted once to `f64` and centred on `shift`
//!   (the mean of the component means) into `xr`, row-major (rows padded to
//!   `dp`, a multiple of 8, with zeros); diag/spherical: into `xt`,
//!   column-major, by 8 × 8 tiles of `f32` transposed in registers, widened
//!   and centred, and their squares into `xq` (the input 64 rows ahead is
//!   prefetched);
//! * full/tied Mahalanobis terms are `‖x̃ U − μ̃ U‖²` (scikit-learn's
//!   `X·U − μ·U`, about the shift): a triangular GEMM of 8 rows × 16 columns
//!   of `U` per tile (16 `zmm` accumulators), outputs in lanes, squared and
//!   summed per row by one 8 × 8 transpose-reduction;
//! * diag/spherical: rows in lanes, the quadratic form
//!   `K + Σ_j (−½ p_j²) x̃_j² + (p_j² μ̃_j) x̃_j` accumulated over columns by
//!   tiles of 4 components × 32 rows (two FMAs a term; its rounding error is
//!   about `u Σ p² (|x̃| + |μ̃|)²`, small because the rows are centred);
//! * log-densities are component-major (k × ms, rows in lanes), so the
//!   normalisation is lane-parallel over rows with a vector `exp` that
//!   performs the same operations as [`crate::simd`]'s scalar one, and a
//!   vector `ln` of the per-row sums;
//! * full/tied second moments about each component's mean: differences `D`
//!   and weighted differences `W = r D` of the rows with nonzero
//!   responsibility are compacted, then `S2 += Wᵀ D` by 8 × 16 register tiles
//!   over the lower triangle (a small SYRK);
//! * diag/spherical statistics: `Rᵀ [1, x̃, x̃²]` with rows in lanes on both
//!   sides, by tiles of 4 components × 2 columns, into per-lane sums that
//!   [`finish_chunk`] adds up once per chunk.
//!
//! Sums over rows run in row order inside a block (diag/spherical: in row
//! order within each of the 8 lanes, rows `i ≡ l mod 8` in lane `l`, the
//! lanes added in a fixed tree per chunk); results are deterministic for a
//! given chunk length (and independent of the thread count), but not bitwise
//! equal to the portable path's.
//!
//! Every `unsafe fn` here requires AVX-512F (checked by [`available`]) and
//! slices of the lengths [`Prepared`] and [`Scratch`] set up; the safe entry
//! points check the CPU and the lengths.
//!
//! Files: [`layout`] (the mixture's and the block's layouts), [`estep`]
//! (transposes, log-densities, log-sum-exp), [`maths`] (vector `exp`, `ln`,
//! reductions), [`mstep`] (the statistics and their move to each
//! component's mean), [`single`] (the diag/spherical kernel in `f32`).

// Register tiles are indexed in lockstep (`a0[r]`, `a1[r]`, row `r`); index
// loops say that more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

use crate::simd::{Isa, isa};

mod estep;
mod layout;
mod maths;
mod mstep;
pub(crate) mod single;
pub(crate) mod single_matrix;
#[cfg(test)]
mod tests;

use estep::{e_step_impl, prefetch_ahead, tile_columns};
use layout::padded_rows;
pub(crate) use layout::{Prepared, Scratch};
use maths::ln_positive;
pub(crate) use mstep::finish_chunk;
use mstep::{diag_stats, matrix_stats};

/// Rows per register tile and lanes per vector.
const L: usize = 8;

/// How far ahead of the rows being transposed the input is prefetched.
const PREFETCH_ROWS: usize = 64;

/// Whether these kernels can run on this CPU.
pub(crate) fn available() -> bool {
    isa() >= Isa::Avx512
}

/// E-step of the first `m ≤ BLOCK_ROWS` rows of `x` (row-major, `d` columns;
/// rows after them, such as the rest of the chunk, are only prefetched):
/// afterwards `ws.lp[c · ms + i]` (`ms = Scratch::stride(m)`) holds the
/// responsibility of component `c` for row `i` (0 for the padding rows) and
/// `ws.lse[i]` the row's log-likelihood. Returns their sum over the rows, in
/// row order.
///
/// # Panics
/// If the CPU lacks AVX-512F, `x` holds fewer than `m` rows, `m` exceeds
/// [`BLOCK_ROWS`](crate::mixture::BLOCK_ROWS) or `ws` was not made for
/// `prep` ([`Scratch::new`]).
pub(crate) fn e_step(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    assert!(available() && x.len() >= m * prep.d && ws.fits(prep, m, false));
    // SAFETY: AVX-512F is available, `x` holds m rows of d, and `ws` has
    // the block buffers the kernels index for m ≤ BLOCK_ROWS rows of `prep`
    // (all checked above).
    unsafe { e_step_impl(prep, x, m, ws) }
}

/// [`e_step`], then adds the block's statistics to the chunk's sums in `ws`
/// ([`finish_chunk`] adds those to the chunk's
/// [`Stats`](crate::mixture::Stats), about the means of
/// the mixture `prep` was made from).
///
/// # Panics
/// As [`e_step`]; also if `ws` lacks the chunk's sums (a
/// [`Scratch::diag_sums`] scratch).
pub(crate) fn em_block(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    assert!(available() && x.len() >= m * prep.d && ws.fits(prep, m, true));
    // SAFETY: as in `e_step`, and `ws` has the chunk's sums for `prep`
    // (checked above).
    unsafe {
        let ll = e_step_impl(prep, x, m, ws);
        if prep.matrix() {
            matrix_stats(prep, m, ws);
        } else {
            diag_stats(prep, m, ws);
        }
        ll
    }
}

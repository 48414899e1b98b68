//! Block kernels of the EM pass: one call per block of
//! [`BLOCK_ROWS`](crate::mixture::BLOCK_ROWS) rows does the E-step
//! (log-densities of every component, log-sum-exp, responsibilities) and,
//! for EM passes, the statistics of the M-step, with the whole block
//! resident in L1/L2.
//!
//! Two tiers, one source: the kernels are generic over [`vector::Simd`], 8
//! lanes of `f64`, and compiled once for AVX-512 (a vector is one `zmm`
//! register) and once for AVX2 + FMA (two `ymm` registers), chosen by the
//! shared dispatch ([`tier`]: the process's [`Isa`], so `MMCLUST_ISA=avx2`
//! runs the AVX2 tier on an AVX-512 machine and `MMCLUST_ISA=scalar` the
//! portable path). The tiers differ only in their register tiles (AVX2 has
//! 16 registers of half the width: fewer rows or columns per tile), which
//! change no sum's order, and in how each instruction is spelled; every lane
//! runs the same operations and the two horizontal sums use the same trees,
//! so **the two tiers give the same bits** (tested).
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
//!   of `U` per tile (16 `zmm` accumulators; AVX2: 4 rows × 8 columns),
//!   outputs in lanes, squared and
//!   summed per row by one 8 × 8 transpose-reduction;
//! * diag/spherical: rows in lanes, the quadratic form
//!   `K + Σ_j (−½ p_j²) x̃_j² + (p_j² μ̃_j) x̃_j` accumulated over columns by
//!   tiles of 4 components × 32 rows (AVX2: × 8 rows) (two FMAs a term; its rounding error is
//!   about `u Σ p² (|x̃| + |μ̃|)²`, small because the rows are centred);
//! * log-densities are component-major (k × ms, rows in lanes), so the
//!   normalisation is lane-parallel over rows with a vector `exp` that
//!   performs the same operations as [`crate::simd`]'s scalar one, and a
//!   vector `ln` of the per-row sums;
//! * full/tied second moments about the shift: `A += Σ r x̃ x̃ᵀ` over the rows
//!   with nonzero responsibility by 8 × 16 register tiles (AVX2: 4 × 8) over
//!   the lower triangle (a small SYRK);
//! * diag/spherical statistics: `Rᵀ [1, x̃, x̃²]` with rows in lanes on both
//!   sides, by tiles of 4 components × 2 columns (AVX2: 2 × 1), into
//!   per-lane sums that
//!   [`finish_chunk`] adds up once per chunk.
//!
//! Sums over rows run in row order inside a block (diag/spherical: in row
//! order within each of the 8 lanes, rows `i ≡ l mod 8` in lane `l`, the
//! lanes added in a fixed tree per chunk); results are deterministic for a
//! given chunk length (and independent of the thread count), but not bitwise
//! equal to the portable path's.
//!
//! The generic kernels run only where a token of their tier exists (see
//! [`vector`]); their `unsafe fn`s require slices of the lengths [`Prepared`]
//! and [`Scratch`] set up; the safe entry points check the CPU and the
//! lengths.
//!
//! Files: [`vector`] (the two tiers' vectors), [`layout`] (the mixture's and
//! the block's layouts), [`estep`] (transposes, log-densities, log-sum-exp),
//! [`maths`] (vector `exp`, `ln`, sums), [`mstep`] (the statistics and their
//! move to each component's mean), [`single`] (the diag/spherical kernel in
//! `f32`, AVX-512 only).

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
mod vector;

use estep::{e_step_impl, prefetch_ahead, tile_columns};
use layout::padded_rows;
pub(crate) use layout::{Prepared, Scratch};
use maths::ln_positive;
pub(crate) use mstep::finish_chunk;
use mstep::{diag_stats, matrix_stats};
use vector::{Avx2, Avx512, Simd};

/// Rows per register tile and lanes per vector.
const L: usize = 8;

/// How far ahead of the rows being transposed the input is prefetched.
const PREFETCH_ROWS: usize = 64;

/// The tiers of these kernels, most capable first.
const TIERS: [Isa; 2] = [Isa::Avx512, Isa::Avx2];

/// The tier the process's path ([`isa`]) runs: AVX-512 or AVX2 + FMA, or
/// `None` (the portable path, [`Isa::Scalar`], where `MMCLUST_ISA=scalar`
/// or the CPU lacks AVX2 and FMA).
pub(crate) fn tier() -> Option<Isa> {
    tier_of(isa())
}

/// The tier of these kernels the path `isa` runs, if any.
fn tier_of(isa: Isa) -> Option<Isa> {
    Some(isa.best_of(&TIERS)).filter(|&t| t != Isa::Scalar)
}

/// E-step of the first `m ≤ BLOCK_ROWS` rows of `x` (row-major, `d` columns;
/// rows after them, such as the rest of the chunk, are only prefetched):
/// afterwards `ws.lp[c · ms + i]` (`ms = Scratch::stride(m)`) holds the
/// responsibility of component `c` for row `i` (0 for the padding rows) and
/// `ws.lse[i]` the row's log-likelihood. Returns their sum over the rows, in
/// row order. Runs the process's tier ([`tier`]).
///
/// # Panics
/// If there is no tier ([`tier`] is `None`), `x` holds fewer than `m` rows,
/// `m` exceeds [`BLOCK_ROWS`](crate::mixture::BLOCK_ROWS) or `ws` was not
/// made for `prep` ([`Scratch::new`]).
pub(crate) fn e_step(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    e_step_with(isa(), prep, x, m, ws)
}

/// [`e_step`] on the tier the path `isa` runs.
///
/// # Panics
/// As [`e_step`]; also if this CPU cannot run `isa`.
pub(crate) fn e_step_with(isa: Isa, prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch) -> f64 {
    assert!(x.len() >= m * prep.d && ws.fits(prep, m, false));
    run(isa, prep, x, m, ws, false)
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
    em_block_with(isa(), prep, x, m, ws)
}

/// [`em_block`] on the tier the path `isa` runs.
///
/// # Panics
/// As [`em_block`]; also if this CPU cannot run `isa`.
pub(crate) fn em_block_with(
    isa: Isa,
    prep: &Prepared,
    x: &[f32],
    m: usize,
    ws: &mut Scratch,
) -> f64 {
    assert!(x.len() >= m * prep.d && ws.fits(prep, m, true));
    run(isa, prep, x, m, ws, true)
}

/// The E-step (and with `stats` the statistics) of a block on the tier of
/// `isa`, whose lengths the caller checked.
fn run(isa: Isa, prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch, stats: bool) -> f64 {
    assert!(
        isa.is_available(),
        "{isa} asked for, but this CPU cannot run it"
    );
    match tier_of(isa) {
        // SAFETY: this CPU runs `isa` (asserted), hence the tier at or below
        // it: AVX-512F, AVX2 and FMA; the lengths were checked by the
        // caller.
        Some(Isa::Avx512) => unsafe { block_avx512(prep, x, m, ws, stats) },
        // SAFETY: as above: AVX2 and FMA.
        Some(Isa::Avx2) => unsafe { block_avx2(prep, x, m, ws, stats) },
        _ => panic!("the block kernels have no tier for the {isa} path"),
    }
}

/// [`block_body`] compiled for AVX-512.
///
/// # Safety
/// `x` holds `m` rows of `prep.d`; `ws.fits(prep, m, stats)`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block_avx512(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch, stats: bool) -> f64 {
    // SAFETY: the caller's contract.
    unsafe { block_body(Avx512::new(), prep, x, m, ws, stats) }
}

/// [`block_body`] compiled for AVX2 + FMA.
///
/// # Safety
/// `x` holds `m` rows of `prep.d`; `ws.fits(prep, m, stats)`.
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(prep: &Prepared, x: &[f32], m: usize, ws: &mut Scratch, stats: bool) -> f64 {
    // SAFETY: the caller's contract.
    unsafe { block_body(Avx2::new(), prep, x, m, ws, stats) }
}

/// The E-step, then with `stats` the statistics, on the tier of `s`; the
/// register tiles of the statistics by the tier (AVX2 has half the
/// registers, each holding half a vector).
///
/// # Safety
/// `x` holds `m` rows of `prep.d`; `ws.fits(prep, m, stats)`.
#[inline(always)]
unsafe fn block_body<S: Simd>(
    s: S,
    prep: &Prepared,
    x: &[f32],
    m: usize,
    ws: &mut Scratch,
    stats: bool,
) -> f64 {
    // SAFETY: the caller's contract.
    let ll = unsafe { e_step_impl(s, prep, x, m, ws) };
    if stats {
        if prep.matrix() {
            // SAFETY: the caller's contract; `ws.xr` and `ws.lp` filled above.
            unsafe {
                if S::WIDE {
                    matrix_stats::<S, 8, 2>(s, prep, m, ws);
                } else {
                    matrix_stats::<S, 4, 1>(s, prep, m, ws);
                }
            }
        } else if S::WIDE {
            diag_stats::<S, 4, 2>(s, prep, m, ws);
        } else {
            diag_stats::<S, 2, 1>(s, prep, m, ws);
        }
    }
    ll
}

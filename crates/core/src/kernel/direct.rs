//! When the product does not pay: direct kernels for small `d` or small `k`.
//!
//! The product kernels spend, per row and per 32-centre panel, a fixed epilogue
//! (compare, blend, load/store of the running best) and, per row, a final lane
//! reduction and the exact distance recompute. With few dimensions or few
//! centres that fixed cost dominates, and a 32-wide panel is mostly padding
//! when `k` is small. There the AVX-512 path computes `Σ_p (x_p − c_p)²`
//! directly, which is also exact, so nothing is recomputed:
//!
//! * `d ≤ DIRECT_MAX_D` and `k ≤ DIRECT_LANES_MAX_K`: 16 rows per vector
//!   (gathered, rows in lanes), a loop over all centres with the centre's
//!   coordinates broadcast;
//! * else `k ≤ DIRECT_MAX_K`: one row at a time, vectorised over `d`, one
//!   horizontal sum per centre.
//!
//! Thresholds, from `MMCLUST_BENCH_QUICK=1 cargo bench --bench assign` on
//! AMD EPYC Zen4, 1 thread, AVX-512 path, n = 20 000, the same build run with
//! the direct kernels on and off (GFLOP/s-equivalent, `2·n·k·d` per pass; the
//! machine was shared and two identical runs differed by up to 2×, so only
//! the large gaps are trusted):
//!
//! | case | direct | product |
//! |---|---:|---:|
//! | d=2, k=2 | 2.4–3.1 | 0.62 |
//! | d=2, k=16 | 11.6–16.2 | 3.8 |
//! | d=2, k=100 | 17.1–25.4 | 13.7 |
//! | d=2, k=1000 | 19.3–29.0 | 34.8 |
//! | d=16, k=2 | 6.4–10.8 | 3.5 |
//! | d=16, k=16 | 10.5 | 25.1 |
//! | d=32, k=2 | 9.9–16.0 | 4.6 |
//! | d=32, k=16 | 24.2 | 34.8 |
//! | d=128, k=2 | 15.3–29.1 | 6.8 |
//! | d=128, k=16 | 37.0 | 46.2 |
//!
//! Hence: rows-in-lanes for `d ≤ 4` up to a few hundred centres (it loses at
//! k = 1000), row-at-a-time for `k ≤ 4` (it loses at k = 16). The AVX2 path has
//! no direct kernels yet (the scalar path is direct by construction).

/// Largest `d` for the rows-in-lanes direct kernel.
pub(super) const DIRECT_MAX_D: usize = 4;
/// Largest `k` for the rows-in-lanes direct kernel (when `d ≤ DIRECT_MAX_D`).
pub(super) const DIRECT_LANES_MAX_K: usize = 256;
/// Largest `k` for the row-at-a-time direct kernel (when `d > DIRECT_MAX_D`).
pub(super) const DIRECT_MAX_K: usize = 4;

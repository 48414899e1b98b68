//! The bounds' arithmetic: distances turned into safe upper and lower bounds
//! in `f32` under rounding (see the module documentation of [`super`]), and
//! the exact `f64` distance that settles near ties.

use super::plan::PassPlan;

/// Absolute slack of every bound (sqrt space): covers squares that underflow.
pub(super) const ABS_EPS: f64 = 1e-18;

/// The largest `f32` not above `v`.
pub(super) fn down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

/// The smallest `f32` not below `v`.
pub(super) fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

/// `1 − 2⁻²³`: a positive `f64` scaled by it and rounded to the nearest
/// `f32` is below the unscaled value (half an ulp is at most `2⁻²⁴` relative).
const DOWN: f64 = 1.0 - f32::EPSILON as f64;

/// `1 + 2⁻²³`: as [`DOWN`], upwards.
const UP: f64 = 1.0 + f32::EPSILON as f64;

/// Unit roundoff of `f32`.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// What the fast values of one translated row say about its distances.
#[derive(Clone, Copy)]
pub(super) struct RowErr {
    /// Bounds on `‖x̃‖²`.
    pub(super) nx_lo: f64,
    pub(super) nx_hi: f64,
    /// Bound on the error of a fast value (squared space).
    pub(super) e: f64,
    /// Bound on the effect of the translation's rounding (sqrt space).
    pub(super) tau: f64,
}

impl PassPlan<'_> {
    /// A safe upper bound on the distance whose exact square is `sq`.
    pub(super) fn upper(&self, sq: f32) -> f32 {
        // Rounding to the nearest `f32` after the inflation by `UP` rounds
        // up (as `DOWN` for lower bounds).
        ((f64::from(sq).sqrt() * (1.0 + self.rel) + ABS_EPS) * UP) as f32
    }

    /// Whether `upper(sq) < b` may be taken as proved, without the square
    /// root: `sqrt(sq)·(1 + rel) + ABS_EPS < b` follows from
    /// `sq·(1 + rel)²·(1 + 1e-12) < (b − ABS_EPS)²` with `b − ABS_EPS > 0`
    /// (the `f64` products round far below the `1e-12`).
    pub(super) fn below(&self, sq: f32, b: f32) -> bool {
        let bm = f64::from(b) - ABS_EPS;
        (bm > 0.0) & (f64::from(sq) * self.rel_sq < bm * bm)
    }

    /// A safe lower bound on the distance whose computed square is `sq`.
    pub(super) fn lower(&self, sq: f32) -> f32 {
        if sq == f32::INFINITY {
            return f32::INFINITY;
        }
        down(f64::from(sq).sqrt() * (1.0 - self.rel) - ABS_EPS)
    }

    /// The error terms of a translated row whose squared norm, computed in
    /// `f32`, is `nx` (within `γ_d ≤ rel` relative: the terms are positive).
    ///
    /// A fast value `v` (see [`mmclust_core::kernel::top2`]) is within
    /// `γ_{d+1}(‖c̃‖² + 2‖x̃‖‖c̃‖) ≤ rel·(C² + 2‖x̃‖C)` of `‖c̃‖² − 2x̃·c̃`
    /// (`C` bounds every `‖c̃‖`; `rel = 2(d + 8)u` exceeds `γ_{d+1}`), so
    /// `‖x̃ − c̃‖² ∈ nx + v ± e`. The translation rounded each coordinate of
    /// `x − mu` and `c − mu` once: `‖x − c‖ ∈ ‖x̃ − c̃‖ ± u(1 + 2u)(‖x̃‖ + C)`
    /// (`tau`, with room to spare).
    pub(super) fn row_err(&self, nx: f32) -> RowErr {
        let nx = f64::from(nx);
        let nx_hi = nx * (1.0 + self.rel);
        let nxs = nx_hi.sqrt() * (1.0 + 1e-12);
        RowErr {
            nx_lo: nx * (1.0 - self.rel),
            nx_hi,
            e: self.rel * (self.cmax * self.cmax + 2.0 * nxs * self.cmax) * (1.0 + 1e-12),
            tau: 1.01 * U32 * (nxs + self.cmax),
        }
    }

    /// A safe lower bound on the distance to a centre whose fast value is `v`.
    pub(super) fn lower_fast(&self, r: RowErr, v: f32) -> f32 {
        // `max` turns NaN into 0. Rounding to the nearest `f32` after the
        // deflation by `DOWN` (2⁻²³ relative) rounds down: no `f32` lies
        // between.
        let sq = (r.nx_lo + f64::from(v) - r.e).max(0.0);
        (((sq.sqrt() * (1.0 - 1e-12) - r.tau - ABS_EPS) * DOWN) as f32).max(0.0)
    }

    /// Whether `upper_fast(r, v) < b` may be taken as proved, without the
    /// square root (as [`PassPlan::below`]); false when `v` is not finite.
    pub(super) fn upper_fast_below(&self, r: RowErr, v: f32, b: f32) -> bool {
        let bm = f64::from(b) - r.tau - ABS_EPS;
        let sq = (r.nx_hi + f64::from(v) + r.e).max(0.0);
        v.is_finite() && bm > 0.0 && sq * (1.0 + 1e-11) < bm * bm
    }

    /// A safe upper bound on the distance to a centre whose fast value is `v`
    /// (NaN when `v` is).
    pub(super) fn upper_fast(&self, r: RowErr, v: f32) -> f32 {
        (((r.nx_hi + f64::from(v) + r.e).max(0.0).sqrt() * (1.0 + 1e-12) + r.tau + ABS_EPS) * UP)
            as f32
    }
}

/// A safe lower bound on the distance whose exact `f64` square is `e` (a sum
/// of `d` squares of `f32` differences: relative error far below `1e-9`).
pub(super) fn lower_f64(e: f64) -> f32 {
    if e == f64::INFINITY {
        return f32::INFINITY;
    }
    if e.is_nan() {
        return 0.0;
    }
    down(e.sqrt() * (1.0 - 1e-9) - ABS_EPS).max(0.0)
}

/// `lb − drift` rounded down to a safe `f32` lower bound (0 when not
/// positive): the exact difference of two `f32`s is within half an ulp of its
/// rounding `r`, so above the next `f32` below `r` (for `r = +inf`, `f32::MAX`).
#[inline]
pub(super) fn sub_down(lb: f32, drift: f32) -> f32 {
    if drift == 0.0 {
        return lb;
    }
    let r = lb - drift;
    if r > 0.0 {
        f32::from_bits(r.to_bits() - 1)
    } else {
        0.0
    }
}

/// Squared distance in `f64`: the arbiter of near ties.
pub(super) fn sq_dist_f64(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum()
}

//! The bounds' arithmetic: distances turned into safe upper and lower bounds
//! in `f32` under rounding (see the module documentation of [`super`]); the
//! fast values' bounds are core's ([`mmclust_core::kernel::certify`]).

use super::plan::PassPlan;

pub(super) use mmclust_core::kernel::certify::ABS_EPS;

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

/// `1 + 2⁻²³`: a positive `f64` scaled by it and rounded to the nearest
/// `f32` is above the unscaled value (half an ulp is at most `2⁻²⁴` relative).
const UP: f64 = 1.0 + f32::EPSILON as f64;

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

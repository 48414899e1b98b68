//! Certifying a fast path's choice against the reference distance.
//!
//! A fast path estimates, for a row `x` and centres `c_j` translated by a
//! common point `mu` (`x̃ = fl(x − mu)`, `c̃_j = fl(c_j − mu)`), the *fast
//! value* `v_j ≈ ‖c̃_j‖² − 2x̃·c̃_j`. With a bound `e` on the error of every
//! fast value of the row (in squared space), `‖x̃ − c̃_j‖² ∈ ‖x̃‖² + v_j ± e`.
//! The translation rounded each coordinate once, so in distance (sqrt) space
//! `‖x − c_j‖ ∈ ‖x̃ − c̃_j‖ ± τ`, `τ = u(1 + 2u)(‖x̃‖ + C)` with `C` a bound on
//! every `‖c̃_j‖` (`u` the unit roundoff of `f32`).
//!
//! [`RowErr`] turns fast values into safe `f32` lower and upper bounds on the
//! real distances ([`RowErr::lower`], [`RowErr::upper`]). A row's best
//! candidate is *certified* ([`RowErr::certifies`]) when an upper bound on
//! its distance lies below a lower bound on every other centre's by more
//! than the relative error of the reference distance `D`
//! ([`super::reference::rel_err`]) on both sides: then it is the reference
//! label (`argmin_j D`), whatever the fast path's arithmetic. Everything not
//! certified is settled by the reference scan. The bounded K-means variants
//! (Hamerly, Yinyang) and the plain assignment use this one mechanism.
//!
//! Every `f64 → f32` conversion of a bound rounds the safe way: scaling by
//! `1 ± 2⁻²³` before rounding to the nearest `f32` (half an ulp is at most
//! `2⁻²⁴` relative) puts the result on the safe side.

use super::reference;

/// Absolute slack of every bound (sqrt space): covers squares that underflow.
pub const ABS_EPS: f64 = 1e-18;

/// `1 − 2⁻²³`: see the module documentation.
const DOWN: f64 = 1.0 - f32::EPSILON as f64;
/// `1 + 2⁻²³`: see the module documentation.
const UP: f64 = 1.0 + f32::EPSILON as f64;
/// Unit roundoff of `f32`.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// The error model of one pass of a fast path over translated centres.
#[derive(Debug, Clone, Copy)]
pub struct FastBound {
    /// Relative error factor of the fast values (see [`FastBound::f32_fma`]).
    rel: f64,
    /// A bound on the norm of every translated centre.
    cmax: f64,
    /// `1 + 1e-11 + 4·rel_err(d)`: the relative gap a certificate needs
    /// beyond the bounds (squared space), covering `D`'s own rounding.
    gap: f64,
}

impl FastBound {
    /// The `f32` fast values of [`super::top2`] (one rounded FMA per
    /// dimension from `‖c̃‖²`, itself rounded once): within
    /// `γ_{d+1}(‖c̃‖² + 2‖x̃‖‖c̃‖) ≤ rel·(C² + 2‖x̃‖C)` with
    /// `rel = 2(d + 8)u ≥ γ_{d+1}`, and `‖x̃‖²` computed in `f32` within
    /// `γ_d ≤ rel` relative (all its terms are positive). `cmax` bounds the
    /// norm of every translated centre.
    #[must_use]
    pub fn f32_fma(d: usize, cmax: f64) -> Self {
        FastBound::new((d as f64 + 8.0) * f64::from(f32::EPSILON), d, cmax)
    }

    /// A bound with relative factor `rel` (as [`FastBound::f32_fma`]).
    #[must_use]
    pub fn new(rel: f64, d: usize, cmax: f64) -> Self {
        FastBound {
            rel,
            cmax,
            gap: 1.0 + 1e-11 + 4.0 * reference::rel_err(d),
        }
    }

    /// The relative factor.
    #[must_use]
    pub fn rel(&self) -> f64 {
        self.rel
    }

    /// The error terms of a translated row whose squared norm, computed in
    /// `f32`, is `nx`.
    #[must_use]
    pub fn row(&self, nx: f32) -> RowErr {
        let nxs = self.norm_hi(nx);
        let e = self.rel * (self.cmax * self.cmax + 2.0 * nxs * self.cmax) * (1.0 + 1e-12);
        self.row_with(nx, e)
    }

    /// An upper bound on `‖x̃‖` from its square `nx` computed in `f32`.
    #[must_use]
    pub fn norm_hi(&self, nx: f32) -> f64 {
        (f64::from(nx) * (1.0 + self.rel)).sqrt() * (1.0 + 1e-12)
    }

    /// A bound on the norm of every translated centre.
    #[must_use]
    pub fn cmax(&self) -> f64 {
        self.cmax
    }

    /// The error terms of a translated row whose squared norm, computed in
    /// `f32`, is `nx`, when every fast value of the row is within `e`
    /// (squared space) of `‖c̃‖² − 2x̃·c̃`: for fast paths with their own
    /// product error (the bf16 ones).
    #[must_use]
    pub fn row_with(&self, nx: f32, e: f64) -> RowErr {
        let nxs = self.norm_hi(nx);
        let nx = f64::from(nx);
        RowErr {
            nx_lo: nx * (1.0 - self.rel),
            nx_hi: nx * (1.0 + self.rel),
            e,
            tau: 1.01 * U32 * (nxs + self.cmax),
            gap: self.gap,
        }
    }
}

/// What the fast values of one translated row say about its real distances.
#[derive(Debug, Clone, Copy)]
pub struct RowErr {
    /// Bounds on `‖x̃‖²`.
    nx_lo: f64,
    nx_hi: f64,
    /// Bound on the error of a fast value (squared space).
    e: f64,
    /// Bound on the effect of the translation's rounding (sqrt space).
    tau: f64,
    /// See [`FastBound`].
    gap: f64,
}

impl RowErr {
    /// A safe lower bound on the distance to a centre whose fast value is
    /// `v` (0 when `v` is NaN).
    #[must_use]
    pub fn lower(&self, v: f32) -> f32 {
        self.lower_f64(f64::from(v))
    }

    /// [`RowErr::lower`] of a fast value held in `f64`.
    #[must_use]
    pub fn lower_f64(&self, v: f64) -> f32 {
        // `max` turns NaN into 0.
        let sq = (self.nx_lo + v - self.e).max(0.0);
        (((sq.sqrt() * (1.0 - 1e-12) - self.tau - ABS_EPS) * DOWN) as f32).max(0.0)
    }

    /// A safe upper bound on the distance to a centre whose fast value is
    /// `v` (NaN when `v` is).
    #[must_use]
    pub fn upper(&self, v: f32) -> f32 {
        (((self.nx_hi + f64::from(v) + self.e).max(0.0).sqrt() * (1.0 + 1e-12)
            + self.tau
            + ABS_EPS)
            * UP) as f32
    }

    /// Whether `upper(v) < b` by the certificate's gap, proved without the
    /// square root; false when `v` is not finite.
    #[must_use]
    pub fn upper_below(&self, v: f32, b: f32) -> bool {
        self.upper_below_f64(f64::from(v), b)
    }

    /// [`RowErr::upper_below`] of a fast value held in `f64`.
    #[must_use]
    pub fn upper_below_f64(&self, v: f64, b: f32) -> bool {
        let bm = f64::from(b) - self.tau - ABS_EPS;
        let sq = (self.nx_hi + v + self.e).max(0.0);
        v.is_finite() && bm > 0.0 && sq * self.gap < bm * bm
    }

    /// The bound on `‖x̃‖²` from below.
    #[must_use]
    pub fn nx_lo(&self) -> f64 {
        self.nx_lo
    }

    /// The bound on `‖x̃‖²` from above.
    #[must_use]
    pub fn nx_hi(&self) -> f64 {
        self.nx_hi
    }

    /// The bound on a fast value's error (squared space).
    #[must_use]
    pub fn e(&self) -> f64 {
        self.e
    }

    /// The translation's effect (sqrt space).
    #[must_use]
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// The relative gap a certificate needs (squared space).
    #[must_use]
    pub fn gap(&self) -> f64 {
        self.gap
    }

    /// Whether the centre with the least fast value `v1` is certainly the
    /// reference label when every other centre's fast value is at least
    /// `v2`.
    #[must_use]
    pub fn certifies(&self, v1: f32, v2: f32) -> bool {
        self.upper_below(v1, self.lower(v2))
    }
}

/// The translation point of a set of centres (their mean, in `f32`) and a
/// bound on the norm of every translated centre `fl(c − mu)`; the translated
/// centres go to `shifted` (row-major, as `centers`).
#[must_use]
pub fn translation(centers: &[f32], d: usize, shifted: &mut Vec<f32>) -> (Vec<f32>, f64) {
    let k = centers.len() / d;
    let mu: Vec<f32> = (0..d)
        .map(|p| {
            (centers
                .chunks_exact(d)
                .map(|c| f64::from(c[p]))
                .sum::<f64>()
                / k.max(1) as f64) as f32
        })
        .collect();
    shifted.clear();
    shifted.extend(
        centers
            .chunks_exact(d)
            .flat_map(|c| c.iter().zip(&mu).map(|(&a, &m)| a - m)),
    );
    let cmax = shifted
        .chunks_exact(d)
        .map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt())
        .fold(0.0f64, f64::max)
        * (1.0 + 1e-12);
    (mu, cmax)
}

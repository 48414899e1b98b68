//! Nearest and second-nearest centre of selected rows: the kernel of the
//! bound-accelerated K-means variants.
//!
//! Hamerly's and Yinyang's bounds need, for the rows whose bounds failed, the
//! nearest centre *and* a lower bound on the distance to every other one (the
//! second-nearest distance, over all centres or over a group of them), not
//! just the argmin of [`super::assign_chunk`]. This kernel gives both, with
//! the arithmetic of the fused product kernel: for each centre `c` the *fast
//! value*
//!
//! ```text
//! v(c) = fl( … fma(x_1, −2·c_1, fma(x_0, −2·c_0, ‖c‖²_f32)) … )
//! ```
//!
//! one rounded FMA per dimension, in dimension order, starting from the
//! centre's squared norm (accumulated in `f64`, rounded to `f32`). `‖x‖² + v(c)`
//! estimates `‖x − c‖²`; by the usual bound for a chain of `d + 1` roundings,
//! `|v(c) − (‖c‖² − 2x·c)| ≤ γ_{d+1} · (‖c‖² + 2·‖x‖·‖c‖)` with
//! `γ_m = m·u / (1 − m·u)`, `u = 2⁻²⁴`. The caller turns that into safe bounds
//! (it knows the norms); it should translate rows and centres by a common
//! point near the data first, so that the norms, and hence the error, stay
//! small next to the distances.
//!
//! Centres are packed in [`SubPanels`] of 16 (one AVX-512 register), `d`-major
//! inside a sub-panel, padding lanes with a `+inf` norm so that they never win.
//! The AVX-512 path runs four rows at a time against two sub-panels at a time
//! (eight independent FMA chains), keeping per row and lane the best value,
//! its index and the second-best value in registers; against a single
//! sub-panel (a Yinyang group) it runs eight rows at a time and finishes them
//! together, by a tournament that plays lanes of two rows to a register
//! (16 → 8 → 4 → 2 → 1 candidates per row) instead of three lane reductions
//! per row. The portable path runs the same FMA chain per centre with
//! `f32::mul_add`; all give the same bits (tested, ties included: the result
//! is the least value, the lowest index among equal ones, and the multiset's
//! second, whatever the order of comparison).
//!
//! Files: this one holds the types and the entry points, which check shapes
//! and dispatch; `scalar.rs` the portable references (also compiled with
//! AVX2 + FMA); `avx512.rs` the AVX-512 kernels; `tests.rs` their tests.

use crate::isa::Isa;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod scalar;
#[cfg(test)]
mod tests;

/// Centres per sub-panel: one AVX-512 register of `f32`.
pub const SUB: usize = 16;

/// `m` centres of dimension `d` packed for [`nearest_two`]: sub-panels of
/// [`SUB`] centres, value `p` of the 16 centres contiguous, scaled by −2
/// (exact), zero-padded; the squared norms, `+inf` past `m`.
#[derive(Debug, Clone)]
pub struct SubPanels {
    d: usize,
    m: usize,
    /// `n_sub · d · SUB` values: `panels[(s·d + p)·SUB + l] = −2·c[s·SUB + l][p]`.
    panels: Vec<f32>,
    /// `n_sub · SUB` squared norms (`f64` sums rounded to `f32`), `+inf` past `m`.
    norms: Vec<f32>,
}

impl SubPanels {
    /// Packs the centres given as rows of `d` values (`m ≥ 1`, `d ≥ 1`).
    ///
    /// # Panics
    /// When a row does not hold `d` values, `d == 0`, there is no centre, or
    /// `m` does not fit in a `u32`.
    #[must_use]
    pub fn new<'a>(centers: impl ExactSizeIterator<Item = &'a [f32]>, d: usize) -> Self {
        assert!(d > 0, "SubPanels: d must be at least 1");
        let m = centers.len();
        assert!(m > 0, "SubPanels: no centres");
        assert!(u32::try_from(m).is_ok(), "SubPanels: too many centres");
        let n_sub = m.div_ceil(SUB);
        let mut panels = vec![0.0f32; n_sub * d * SUB];
        let mut norms = vec![f32::INFINITY; n_sub * SUB];
        for (j, c) in centers.enumerate() {
            assert_eq!(c.len(), d, "SubPanels: centre {j} has {} values", c.len());
            let (s, l) = (j / SUB, j % SUB);
            for (p, &v) in c.iter().enumerate() {
                panels[(s * d + p) * SUB + l] = -2.0 * v;
            }
            norms[j] = c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() as f32;
        }
        SubPanels {
            d,
            m,
            panels,
            norms,
        }
    }

    /// Number of centres.
    #[must_use]
    pub fn len(&self) -> usize {
        self.m
    }

    /// Always false: a `SubPanels` holds at least one centre.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.m == 0
    }

    /// Dimension.
    #[must_use]
    pub fn d(&self) -> usize {
        self.d
    }

    fn n_sub(&self) -> usize {
        self.m.div_ceil(SUB)
    }
}

/// A row's nearest and second-nearest centre by fast value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Top2 {
    /// Index of the least fast value (lowest index among equal values).
    pub j: u32,
    /// The least fast value `v(c_j)`: `+inf` (or NaN) when no value was
    /// finite, and then `j` means nothing.
    pub v1: f32,
    /// The second least fast value (the multiset's: equal to `v1` when two
    /// centres tie), `+inf` when there is one centre.
    pub v2: f32,
}

impl Top2 {
    /// No centre: both values `+inf`.
    pub const NONE: Top2 = Top2 {
        j: 0,
        v1: f32::INFINITY,
        v2: f32::INFINITY,
    };
}

/// For each `rows[r]`, the row `x[rows[r]·d ..][..d]`: its nearest and
/// second-nearest centre of `centers` by fast value (see the module
/// documentation), into `out[r]`.
///
/// # Panics
/// When `out.len() != rows.len()`, a row index is out of range, or
/// `x.len()` is not a multiple of `centers.d()`.
pub fn nearest_two(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
    nearest_two_with(Isa::current(), x, rows, centers, out);
}

/// [`nearest_two`] on the path `isa` (every path gives the same bits).
///
/// # Panics
/// As [`nearest_two`]; also when this CPU cannot run `isa`.
pub fn nearest_two_with(isa: Isa, x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
    let d = centers.d;
    assert_eq!(out.len(), rows.len(), "nearest_two: one output per row");
    assert_eq!(x.len() % d, 0, "nearest_two: x is not rows of {d} values");
    let n = x.len() / d;
    assert!(
        rows.iter().all(|&r| (r as usize) < n),
        "nearest_two: row index out of range"
    );
    isa.assert_available();
    match isa.best_of(&[Isa::Avx512, Isa::Avx2]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX-512F, AVX2 and FMA; the row
        // indices were checked above.
        Isa::Avx512 => unsafe { avx512::nearest_two(x, rows, centers, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above: AVX2 and FMA.
        Isa::Avx2 => unsafe { scalar::nearest_two_fma(x, rows, centers, out) },
        _ => scalar::nearest_two(x, rows, centers, out),
    }
}

/// Gathers rows `rows[r]` of `x` (rows of `d` values), translated by `mu`:
/// `out[r·d + p] = fl(x[rows[r]·d + p] − mu[p])`, and their squared norms in
/// `f32` (`norms[r]`, within `γ_d` relative of the exact norm of the rounded
/// row: all terms are positive).
///
/// # Panics
/// When `mu.len() != d`, `out.len() != rows.len() · d`, `norms.len() !=
/// rows.len()`, or a row index is out of range.
pub fn translate_rows(
    x: &[f32],
    d: usize,
    rows: &[u32],
    mu: &[f32],
    out: &mut [f32],
    norms: &mut [f32],
) {
    translate_rows_with(Isa::current(), x, d, rows, mu, out, norms);
}

/// [`translate_rows`] on the path `isa` (the AVX-512 path has its own
/// variant, whose norms are summed in another order; the others share the
/// scalar one).
///
/// # Panics
/// As [`translate_rows`]; also when this CPU cannot run `isa`.
pub fn translate_rows_with(
    isa: Isa,
    x: &[f32],
    d: usize,
    rows: &[u32],
    mu: &[f32],
    out: &mut [f32],
    norms: &mut [f32],
) {
    assert_eq!(mu.len(), d, "translate_rows: mu must hold d values");
    assert_eq!(
        out.len(),
        rows.len() * d,
        "translate_rows: out is not rows × d"
    );
    assert_eq!(norms.len(), rows.len(), "translate_rows: one norm per row");
    let n = x.len() / d.max(1);
    assert!(
        rows.iter().all(|&r| (r as usize) < n),
        "translate_rows: row index out of range"
    );
    isa.assert_available();
    match isa.best_of(&[Isa::Avx512]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX-512F, AVX2 and FMA; the shapes
        // were checked above.
        Isa::Avx512 => unsafe { avx512::translate_rows(x, d, rows, mu, out, norms) },
        _ => scalar::translate_rows(x, d, rows, mu, out, norms),
    }
}

/// Decays the lower bounds of the accelerated K-means by the centres' drifts.
///
/// `state` holds rows of `per_row = 1 + drift.len()` values: a label (left
/// alone), then one lower bound per group as `f32` bits. Bound `g` becomes
/// the next `f32` below `fl(b − drift[g])` when that is positive, else 0: a
/// safe lower bound on the exact `b − drift[g]` (the exact difference is
/// within half an ulp of its rounding; `+inf` becomes `f32::MAX`). `least[r]`
/// gets row `r`'s least new bound (`+inf` when there are no bounds).
///
/// # Panics
/// When `per_row != 1 + drift.len()`, `state.len()` is not a multiple of
/// `per_row`, or `least.len()` is not the number of rows.
pub fn decay_bounds(state: &mut [u32], per_row: usize, drift: &[f32], least: &mut [f32]) {
    decay_bounds_with(Isa::current(), state, per_row, drift, least);
}

/// [`decay_bounds`] on the path `isa` (every path gives the same bits).
///
/// # Panics
/// As [`decay_bounds`]; also when this CPU cannot run `isa`.
pub fn decay_bounds_with(
    isa: Isa,
    state: &mut [u32],
    per_row: usize,
    drift: &[f32],
    least: &mut [f32],
) {
    assert_eq!(
        per_row,
        1 + drift.len(),
        "decay_bounds: one drift per bound"
    );
    assert_eq!(state.len() % per_row, 0, "decay_bounds: state is not rows");
    assert_eq!(
        least.len(),
        state.len() / per_row,
        "decay_bounds: one least bound per row"
    );
    isa.assert_available();
    match isa.best_of(&[Isa::Avx512]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX-512F, AVX2 and FMA; the shapes
        // were checked above.
        Isa::Avx512 => unsafe { avx512::decay_bounds(state, per_row, drift, least) },
        _ => scalar::decay_bounds(state, per_row, drift, least),
    }
}

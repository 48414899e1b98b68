//! The reference distance: the one arithmetic every K-means decision and
//! every reported distance comes from, on every path and every machine.
//!
//! # Definition
//!
//! For two rows `x`, `c` of `d` values (`f32`), in `f64`:
//!
//! ```text
//! t_p = f64(x_p) − f64(c_p)                  (one rounding)
//! s[p mod 8] = s[p mod 8] + t_p · t_p        (two roundings, never fused)
//! D(x, c) = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
//! ```
//!
//! with `s` starting at `+0` and `p` running from 0 to `d − 1`. Every step is
//! one correctly rounded IEEE-754 operation, so the portable code, the
//! AVX2 code (two `ymm` of four `f64`: lanes 0–3 and 4–7) and the AVX-512
//! code (one `zmm` of eight `f64`: lane `l` is `s[l]`) compute the same bits
//! (tested); any other SIMD width can do the same. The tail of a row is
//! zero-padded in the SIMD code: `0 − 0 = +0` and `s + 0·0 = s`, so padded
//! lanes change nothing.
//!
//! The label of a row is `argmin_j D(x, c_j)`, the lowest `j` among equal
//! values ([`nearest`]); a row whose distances are all NaN gets 0.
//!
//! # Error of `D`
//!
//! With `u = 2⁻⁵³`, each `t_p` and each square carries one rounding
//! (`(1 + u)³` on the term, the difference's error squared), each
//! accumulator adds at most `⌈d/8⌉` terms in sequence, and the tree three
//! more levels: every term is nonnegative, so
//! `|D − δ| ≤ γ_{⌈d/8⌉ + 6} · δ` with `δ = Σ (x_p − c_p)²` exactly and
//! `γ_m = m·u / (1 − m·u)`: [`rel_err`] returns that factor, about
//! `1.1e-16 · (d/8 + 6)`. A fast path that certifies a label (an upper
//! bound on the real distance to its candidate below the lower bounds of the
//! others, by more than this relative error of `D` on both sides) has
//! certified the reference label; everything it cannot certify is settled
//! here.
//!
//! # Error bounds of the fast paths
//!
//! The fast paths estimate `‖c‖² − 2x·c` after translating rows and centres
//! by a common point `mu` near the data (so that the norms below stay small
//! next to the distances). Each path's module states its own bound:
//!
//! * `f32` (the product and top-2 kernels, [`super::top2`]): one rounded FMA
//!   per dimension in some order plus the rounding of `‖c‖²`:
//!   `|v − (‖c̃‖² − 2x̃·c̃)| ≤ γ_{d+1}(‖c̃‖² + 2‖x̃‖‖c̃‖)`, `u = 2⁻²⁴`;
//!   [`super::certify`] carries it and the translation's own rounding.
//! * bf16 (AVX512-BF16, AMX): the rounding of each input to bf16 with
//!   round-to-nearest-even, `|x̂ĉ − xc| ≤ (2⁻⁷ + 2⁻¹⁶)|x||c|` per term, the
//!   `f32` accumulation of the exact products, and the flushing of
//!   denormals (inputs and outputs, whatever MXCSR says): see the bf16
//!   kernels' module.
//!
//! The plain assignment [`assign_chunk`] here is also the test oracle of
//! every fast path.

use crate::isa::Isa;

#[cfg(target_arch = "x86_64")]
mod x86;

/// Accumulators of the reference sum.
pub const ACC: usize = 8;

/// The final sum of the eight accumulators, in the fixed order.
#[inline]
fn tree(s: &[f64; ACC]) -> f64 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

/// The reference squared distance `D(a, b)` (see the module documentation),
/// portable code.
///
/// # Panics
/// When `a` and `b` differ in length.
#[must_use]
pub fn dist_sq(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "reference::dist_sq: rows differ in length"
    );
    let mut s = [0.0f64; ACC];
    let (ah, at) = a.split_at(a.len() / ACC * ACC);
    let (bh, bt) = b.split_at(ah.len());
    for (ca, cb) in ah.chunks_exact(ACC).zip(bh.chunks_exact(ACC)) {
        for l in 0..ACC {
            let t = f64::from(ca[l]) - f64::from(cb[l]);
            s[l] += t * t;
        }
    }
    for (l, (&u, &v)) in at.iter().zip(bt).enumerate() {
        let t = f64::from(u) - f64::from(v);
        s[l] += t * t;
    }
    tree(&s)
}

/// The relative error bound of [`dist_sq`] in dimension `d`:
/// `γ_{⌈d/8⌉ + 6}` in `f64` (see the module documentation), rounded up.
#[must_use]
pub fn rel_err(d: usize) -> f64 {
    let m = (d.div_ceil(ACC) + 6) as f64;
    let u = f64::EPSILON / 2.0;
    m * u / (1.0 - m * u) * (1.0 + 1e-6)
}

/// `out[j] = D(row, c_j)` for the `out.len()` row-major `centers` of
/// `row.len()` values each, on the path `isa` (the same bits on every path).
///
/// # Panics
/// When `centers` does not hold `out.len()` rows of `row.len()` values, or
/// this CPU cannot run `isa`.
pub fn dists_with(isa: Isa, row: &[f32], centers: &[f32], out: &mut [f64]) {
    let d = row.len();
    assert!(d > 0, "reference::dists: d must be at least 1");
    assert_eq!(
        centers.len(),
        out.len() * d,
        "reference::dists: centers is not {} rows × {d}",
        out.len()
    );
    for_pairs(
        isa,
        out.len(),
        d,
        |j| (row, &centers[j * d..(j + 1) * d]),
        |j, v| out[j] = v,
    );
}

/// `put(i, D(a_i, b_i))` for the `n` pairs of rows of `d` values
/// `pair(i)`, on the path `isa` (the same bits on every path).
///
/// # Panics
/// When a row of a pair does not hold `d` values, or this CPU cannot run
/// `isa`.
fn for_pairs<'a>(
    isa: Isa,
    n: usize,
    d: usize,
    pair: impl Fn(usize) -> (&'a [f32], &'a [f32]),
    mut put: impl FnMut(usize, f64),
) {
    isa.assert_available();
    let pair = |i: usize| {
        let (a, b) = pair(i);
        assert!(
            a.len() == d && b.len() == d,
            "reference: rows of {d} values"
        );
        (a, b)
    };
    match isa.best_of(&[Isa::Avx512, Isa::Avx2]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked; every row holds `d` values
        // (asserted in `pair`).
        p @ (Isa::Avx512 | Isa::Avx2) => unsafe {
            x86::pairs(
                p,
                n,
                d,
                |i| {
                    let (a, b) = pair(i);
                    (a.as_ptr(), b.as_ptr())
                },
                put,
            );
        },
        _ => {
            for i in 0..n {
                let (a, b) = pair(i);
                put(i, dist_sq(a, b));
            }
        }
    }
}

/// `out[i] = D(x_i, c_{labels[i]})` rounded to `f32`, for the rows of the
/// row-major `x` (`labels.len()` rows of `d` values) and the row-major
/// `centers`, on the path `isa` (the same bits on every path).
///
/// # Panics
/// When the shapes disagree, a label is not a centre, or this CPU cannot run
/// `isa`.
pub fn dists_to_labels_with(
    isa: Isa,
    x: &[f32],
    centers: &[f32],
    d: usize,
    labels: &[u32],
    out: &mut [f32],
) {
    assert!(d > 0, "reference::dists_to_labels: d must be at least 1");
    assert_eq!(x.len(), labels.len() * d, "reference::dists_to_labels: x");
    assert_eq!(out.len(), labels.len(), "reference::dists_to_labels: out");
    let k = centers.len() / d;
    assert!(
        labels.iter().all(|&j| (j as usize) < k),
        "reference::dists_to_labels: label out of range"
    );
    for_pairs(
        isa,
        labels.len(),
        d,
        |i| {
            let j = labels[i] as usize;
            (&x[i * d..(i + 1) * d], &centers[j * d..(j + 1) * d])
        },
        |i, v| out[i] = v as f32,
    );
}

/// The reference label of `row` among the `k` row-major `centers` and its
/// distance `D`, on the path `isa`: `argmin_j D(row, c_j)`, the lowest index
/// among equal values; index 0 and NaN when every distance is NaN. `work`
/// is scratch space (resized to `k`).
///
/// # Panics
/// As [`dists_with`].
pub fn nearest_with(
    isa: Isa,
    row: &[f32],
    centers: &[f32],
    k: usize,
    work: &mut Vec<f64>,
) -> (u32, f64) {
    work.clear();
    work.resize(k, 0.0);
    dists_with(isa, row, &centers[..k * row.len()], work);
    argmin(work)
}

/// As [`nearest_with`] among the centres `cand` only (indices into the
/// row-major `centers`, increasing): the label among them and its `D`.
///
/// # Panics
/// When `cand` is empty or names a centre `centers` does not hold, or as
/// [`dists_with`].
pub fn nearest_among_with(
    isa: Isa,
    row: &[f32],
    centers: &[f32],
    cand: &[u32],
    work: &mut Vec<f64>,
) -> (u32, f64) {
    assert!(!cand.is_empty(), "reference::nearest_among: no candidate");
    let d = row.len();
    work.clear();
    work.resize(cand.len(), 0.0);
    for_pairs(
        isa,
        cand.len(),
        d,
        |i| {
            let j = cand[i] as usize;
            (row, &centers[j * d..(j + 1) * d])
        },
        |i, v| work[i] = v,
    );
    let (i, v) = argmin(work);
    (cand[i as usize], v)
}

/// The least non-NaN value and its index (the first among equal ones);
/// `(0, NaN)` when there is none.
#[must_use]
pub fn argmin(values: &[f64]) -> (u32, f64) {
    let mut best = (0u32, f64::NAN);
    for (j, &v) in values.iter().enumerate() {
        if v < best.1 || (best.1.is_nan() && !v.is_nan()) {
            best = (j as u32, v);
        }
    }
    best
}

/// For each row `i` of `x` (`n = labels.len()` rows of `d` values):
/// `labels[i] = argmin_j D(x_i, c_j)` (see [`nearest`]), `dist_sq[i]` that
/// distance rounded to `f32`. Portable, unblocked: the test oracle of the
/// fast paths.
///
/// # Panics
/// When `k == 0`, `d == 0`, or a slice has the wrong length.
pub fn assign_chunk(
    x: &[f32],
    centers: &[f32],
    k: usize,
    d: usize,
    labels: &mut [u32],
    dist_sq: &mut [f32],
) {
    assert!(
        k > 0 && d > 0,
        "reference::assign_chunk: k and d must be at least 1"
    );
    assert_eq!(
        centers.len(),
        k * d,
        "reference::assign_chunk: centers is not k × d"
    );
    assert_eq!(
        x.len(),
        labels.len() * d,
        "reference::assign_chunk: x is not n × d"
    );
    assert_eq!(
        dist_sq.len(),
        labels.len(),
        "reference::assign_chunk: dist_sq is not n"
    );
    for ((row, label), dist) in x.chunks_exact(d).zip(labels).zip(dist_sq) {
        let (j, best) = nearest(row, centers, k);
        *label = j;
        *dist = best as f32;
    }
}

/// The reference label of `row` among the `k` row-major `centers` and its
/// distance, portable code: `argmin_j D(row, c_j)`, lowest index among equal
/// values; `(0, NaN)` when every distance is NaN.
#[must_use]
pub fn nearest(row: &[f32], centers: &[f32], k: usize) -> (u32, f64) {
    let d = row.len();
    let mut best = (0u32, f64::NAN);
    for (j, c) in centers.chunks_exact(d).take(k).enumerate() {
        let v = dist_sq(row, c);
        if v < best.1 || (best.1.is_nan() && !v.is_nan()) {
            best = (j as u32, v);
        }
    }
    best
}

#[cfg(test)]
mod tests;

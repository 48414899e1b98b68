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

use super::Path;

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

/// For each `rows[r]`, the row `x[rows[r]·d ..][..d]`: its nearest and
/// second-nearest centre of `centers` by fast value (see the module
/// documentation), into `out[r]`.
///
/// # Panics
/// When `out.len() != rows.len()`, a row index is out of range, or
/// `x.len()` is not a multiple of `centers.d()`.
pub fn nearest_two(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
    nearest_two_with(Path::detect(), x, rows, centers, out);
}

pub(crate) fn nearest_two_with(
    path: Path,
    x: &[f32],
    rows: &[u32],
    centers: &SubPanels,
    out: &mut [Top2],
) {
    let d = centers.d;
    assert_eq!(out.len(), rows.len(), "nearest_two: one output per row");
    assert_eq!(x.len() % d, 0, "nearest_two: x is not rows of {d} values");
    let n = x.len() / d;
    assert!(
        rows.iter().all(|&r| (r as usize) < n),
        "nearest_two: row index out of range"
    );
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Path::Avx512` is only produced when AVX-512F, AVX2 and FMA
        // were detected; the row indices were checked above.
        Path::Avx512 => unsafe { avx512::nearest_two(x, rows, centers, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Path::Avx2` is only produced when AVX2 and FMA were detected.
        Path::Avx2 => unsafe { nearest_two_fma(x, rows, centers, out) },
        Path::Scalar => nearest_two_scalar(x, rows, centers, out),
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
    match Path::detect() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Path::Avx512` is only produced when AVX-512F, AVX2 and FMA
        // were detected; the shapes were checked above.
        Path::Avx512 => unsafe { avx512::translate_rows(x, d, rows, mu, out, norms) },
        _ => {
            for ((&r, o), nr) in rows
                .iter()
                .zip(out.chunks_exact_mut(d))
                .zip(norms.iter_mut())
            {
                let mut acc = 0.0f32;
                for ((v, &a), &m) in o.iter_mut().zip(&x[r as usize * d..][..d]).zip(mu) {
                    *v = a - m;
                    acc += *v * *v;
                }
                *nr = acc;
            }
        }
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
    match Path::detect() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Path::Avx512` is only produced when AVX-512F, AVX2 and FMA
        // were detected; the shapes were checked above.
        Path::Avx512 => unsafe { avx512::decay_bounds(state, per_row, drift, least) },
        _ => decay_bounds_scalar(state, per_row, drift, least),
    }
}

/// The reference of [`decay_bounds`].
fn decay_bounds_scalar(state: &mut [u32], per_row: usize, drift: &[f32], least: &mut [f32]) {
    for (st, l) in state.chunks_exact_mut(per_row).zip(least.iter_mut()) {
        let mut m = f32::INFINITY;
        for (b, &dr) in st[1..].iter_mut().zip(drift) {
            let r = f32::from_bits(*b) - dr;
            let v = if r > 0.0 { r.to_bits() - 1 } else { 0 };
            *b = v;
            m = m.min(f32::from_bits(v));
        }
        *l = m;
    }
}

/// The portable body compiled with FMA: `mul_add` becomes one instruction.
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nearest_two_fma(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
    nearest_two_scalar(x, rows, centers, out);
}

/// The reference: one FMA chain per centre, in order, strict `<`.
#[inline(always)]
fn nearest_two_scalar(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
    let d = centers.d;
    for (&r, o) in rows.iter().zip(out.iter_mut()) {
        let row = &x[r as usize * d..][..d];
        let mut t = Top2 {
            j: 0,
            v1: f32::INFINITY,
            v2: f32::INFINITY,
        };
        for j in 0..centers.m {
            let (s, l) = (j / SUB, j % SUB);
            let mut acc = centers.norms[j];
            for (p, &xp) in row.iter().enumerate() {
                acc = xp.mul_add(centers.panels[(s * d + p) * SUB + l], acc);
            }
            if acc < t.v1 {
                t.v2 = t.v1;
                t.v1 = acc;
                t.j = j as u32;
            } else if acc < t.v2 {
                t.v2 = acc;
            }
        }
        *o = t;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{SUB, SubPanels, Top2};

    /// Rows per group.
    const R: usize = 4;

    /// # Safety
    /// AVX-512F, AVX2 and FMA available; shapes as `super::translate_rows`
    /// checks them.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn translate_rows(
        x: &[f32],
        d: usize,
        rows: &[u32],
        mu: &[f32],
        out: &mut [f32],
        norms: &mut [f32],
    ) {
        for ((&r, o), nr) in rows
            .iter()
            .zip(out.chunks_exact_mut(d))
            .zip(norms.iter_mut())
        {
            let src = x[r as usize * d..][..d].as_ptr();
            let mut acc = _mm512_setzero_ps();
            let mut p = 0;
            // SAFETY: lanes `p..p + 16` selected by the mask lie within the row,
            // `mu` and `o` (all `d` long); masked-off lanes are not touched.
            unsafe {
                while p < d {
                    let m: __mmask16 = if d - p >= 16 {
                        !0
                    } else {
                        (1u16 << (d - p)) - 1
                    };
                    let v = _mm512_sub_ps(
                        _mm512_maskz_loadu_ps(m, src.add(p)),
                        _mm512_maskz_loadu_ps(m, mu.as_ptr().add(p)),
                    );
                    _mm512_mask_storeu_ps(o.as_mut_ptr().add(p), m, v);
                    acc = _mm512_fmadd_ps(v, v, acc);
                    p += 16;
                }
            }
            *nr = _mm512_reduce_add_ps(acc);
        }
    }

    /// # Safety
    /// AVX-512F, AVX2 and FMA available; shapes as `super::decay_bounds`
    /// checks them.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn decay_bounds(
        state: &mut [u32],
        per_row: usize,
        drift: &[f32],
        least: &mut [f32],
    ) {
        let t = drift.len();
        let inf = _mm512_set1_ps(f32::INFINITY);
        let zero = _mm512_setzero_si512();
        let one = _mm512_set1_epi32(1);
        let n = least.len();
        let mut r0 = 0;
        if per_row <= 16 && n >= 16 {
            // Sixteen rows at a time: their `16 · per_row` values are
            // `per_row` registers, value `e` of the block being row `e /
            // per_row`'s slot `e % per_row` (the label at slot 0, left alone
            // by the store masks). Each register gets its periodic pattern
            // of drifts; the same per-value arithmetic as below. Then each
            // row's least: bound `g` of the 16 rows gathered, `t` minima
            // (exact, so in any order).
            let mut pat = [[0.0f32; 16]; 16];
            let mut keep = [0u16; 16];
            for e in 0..16 * per_row {
                let (q, l, slot) = (e / 16, e % 16, e % per_row);
                if slot != 0 {
                    pat[q][l] = drift[slot - 1];
                    keep[q] |= 1 << l;
                }
            }
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let first = _mm512_add_epi32(
                _mm512_mullo_epi32(iota, _mm512_set1_epi32(per_row as i32)),
                one,
            );
            while r0 + 16 <= n {
                // SAFETY: rows `r0..r0 + 16` exist: `16 · per_row` values
                // from `r0 · per_row`, and `least[r0..r0 + 16]`; the gather
                // reads value `r·per_row + 1 + g < 16·per_row` of the block.
                unsafe {
                    let p = state.as_mut_ptr().add(r0 * per_row);
                    for q in 0..per_row {
                        let a = p.add(q * 16);
                        let r = _mm512_sub_ps(
                            _mm512_loadu_ps(a.cast::<f32>()),
                            _mm512_loadu_ps(pat[q].as_ptr()),
                        );
                        let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(r, _mm512_setzero_ps());
                        let v = _mm512_mask_sub_epi32(zero, pos, _mm512_castps_si512(r), one);
                        _mm512_mask_storeu_epi32(a.cast::<i32>(), keep[q], v);
                    }
                    let mut m = inf;
                    for g in 0..t {
                        let idx = _mm512_add_epi32(first, _mm512_set1_epi32(g as i32));
                        m = _mm512_min_ps(m, _mm512_i32gather_ps::<4>(idx, p.cast::<f32>()));
                    }
                    _mm512_storeu_ps(least.as_mut_ptr().add(r0), m);
                }
                r0 += 16;
            }
        }
        for (st, l) in state[r0 * per_row..]
            .chunks_exact_mut(per_row)
            .zip(least[r0..].iter_mut())
        {
            let b = st[1..].as_mut_ptr().cast::<f32>();
            let mut m = inf;
            let mut g = 0;
            // SAFETY: lanes `g..g + 16` selected by the mask lie within the
            // row's `t` bounds and `drift`; masked-off lanes are not touched.
            unsafe {
                while g < t {
                    let k: __mmask16 = if t - g >= 16 {
                        !0
                    } else {
                        (1u16 << (t - g)) - 1
                    };
                    let r = _mm512_sub_ps(
                        _mm512_maskz_loadu_ps(k, b.add(g)),
                        _mm512_maskz_loadu_ps(k, drift.as_ptr().add(g)),
                    );
                    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(r, _mm512_setzero_ps());
                    let v = _mm512_mask_sub_epi32(zero, pos, _mm512_castps_si512(r), one);
                    _mm512_mask_storeu_ps(b.add(g), k, _mm512_castsi512_ps(v));
                    m = _mm512_mask_min_ps(m, k, m, _mm512_castsi512_ps(v));
                    g += 16;
                }
            }
            *l = _mm512_reduce_min_ps(m);
        }
    }

    /// # Safety
    /// AVX-512F, AVX2 and FMA available; every `rows[r]` indexes a full row of
    /// `x` (`centers.d` values).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn nearest_two(
        x: &[f32],
        rows: &[u32],
        centers: &SubPanels,
        out: &mut [Top2],
    ) {
        // One sub-panel (a Yinyang group of at most 16 centres): eight rows
        // at a time, so that eight FMA chains hide the latency; more: four
        // rows against two sub-panels at a time.
        if centers.n_sub() == 1 {
            // SAFETY: as this function's.
            unsafe { rows_by::<8>(x, rows, centers, out) }
        } else {
            // SAFETY: as this function's.
            unsafe { rows_by::<R>(x, rows, centers, out) }
        }
    }

    /// # Safety
    /// As [`nearest_two`].
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn rows_by<const Q: usize>(
        x: &[f32],
        rows: &[u32],
        centers: &SubPanels,
        out: &mut [Top2],
    ) {
        let d = centers.d;
        for (rs, os) in rows.chunks(Q).zip(out.chunks_mut(Q)) {
            let live = rs.len();
            // Rows past the end repeat the last live row; their results are dropped.
            let ptrs: [*const f32; Q] =
                std::array::from_fn(|i| x[rs[i.min(live - 1)] as usize * d..].as_ptr());
            // SAFETY: AVX-512F available (caller); each pointer starts a full row.
            let res = unsafe { group::<Q>(&ptrs, centers) };
            os.copy_from_slice(&res[..live]);
        }
    }

    /// Folds the `R × 16` tile `a` (fast values of sub-panel `s`) into the
    /// running best `bv`/`bi`, second best `b2`.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn fold<const Q: usize>(
        a: &[__m512; Q],
        s: usize,
        bv: &mut [__m512; Q],
        bi: &mut [__m512i; Q],
        b2: &mut [__m512; Q],
    ) {
        let js = _mm512_set1_epi32((s * SUB) as i32);
        for i in 0..Q {
            // Second best after inserting a: min(b2, max(bv, a)); the best:
            // replaced only when strictly beaten (lowest index wins ties).
            b2[i] = _mm512_min_ps(b2[i], _mm512_max_ps(bv[i], a[i]));
            let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a[i], bv[i]);
            bv[i] = _mm512_mask_mov_ps(bv[i], m, a[i]);
            bi[i] = _mm512_mask_mov_epi32(bi[i], m, js);
        }
    }

    /// One group of `Q` rows against every sub-panel.
    ///
    /// # Safety
    /// AVX-512F, AVX2 and FMA available; each pointer starts `centers.d`
    /// readable values.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn group<const Q: usize>(rows: &[*const f32; Q], centers: &SubPanels) -> [Top2; Q] {
        let d = centers.d;
        let n_sub = centers.n_sub();
        let inf = _mm512_set1_ps(f32::INFINITY);
        let mut bv = [inf; Q];
        let mut b2 = [inf; Q];
        let mut bi = [_mm512_setzero_si512(); Q];
        let panel = |s: usize| centers.panels[s * d * SUB..].as_ptr();
        let norms = |s: usize| centers.norms[s * SUB..].as_ptr();
        let mut s = 0;
        // SAFETY: sub-panel `s < n_sub` holds `d · SUB` values and `SUB` norms;
        // row pointers are read at `p < d` (caller).
        unsafe {
            while s + 2 <= n_sub {
                let (p0, p1) = (panel(s), panel(s + 1));
                let mut a0 = [_mm512_loadu_ps(norms(s)); Q];
                let mut a1 = [_mm512_loadu_ps(norms(s + 1)); Q];
                for p in 0..d {
                    let c0 = _mm512_loadu_ps(p0.add(p * SUB));
                    let c1 = _mm512_loadu_ps(p1.add(p * SUB));
                    for i in 0..Q {
                        let xv = _mm512_set1_ps(*rows[i].add(p));
                        a0[i] = _mm512_fmadd_ps(xv, c0, a0[i]);
                        a1[i] = _mm512_fmadd_ps(xv, c1, a1[i]);
                    }
                }
                fold(&a0, s, &mut bv, &mut bi, &mut b2);
                fold(&a1, s + 1, &mut bv, &mut bi, &mut b2);
                s += 2;
            }
            if s < n_sub {
                let p0 = panel(s);
                let mut a0 = [_mm512_loadu_ps(norms(s)); Q];
                for p in 0..d {
                    let c0 = _mm512_loadu_ps(p0.add(p * SUB));
                    for i in 0..Q {
                        a0[i] = _mm512_fmadd_ps(_mm512_set1_ps(*rows[i].add(p)), c0, a0[i]);
                    }
                }
                fold(&a0, s, &mut bv, &mut bi, &mut b2);
            }
        }
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        if Q == 8 {
            let idx: [__m512i; Q] = std::array::from_fn(|i| _mm512_add_epi32(bi[i], iota));
            let res = finish8(&bv, &idx, &b2);
            return std::array::from_fn(|i| res[i]);
        }
        std::array::from_fn(|i| {
            let v1 = _mm512_reduce_min_ps(bv[i]);
            let idx = _mm512_add_epi32(bi[i], iota);
            let tied = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(bv[i], _mm512_set1_ps(v1));
            if tied == 0 {
                // No finite or infinite least value (NaN everywhere).
                return Top2 {
                    j: 0,
                    v1: f32::NAN,
                    v2: f32::NAN,
                };
            }
            let j = _mm512_mask_reduce_min_epu32(tied, idx);
            // The winner's lane (indices are distinct across lanes) leaves the
            // lane-wise bests; the least of the rest and of the seconds.
            let winner = _mm512_cmpeq_epi32_mask(idx, _mm512_set1_epi32(j as i32));
            let rest = _mm512_mask_mov_ps(bv[i], winner, inf);
            let v2 = _mm512_reduce_min_ps(_mm512_min_ps(rest, b2[i]));
            Top2 { j, v1, v2 }
        })
    }

    /// One round of the tournament of [`finish8`]: lane by lane, the better
    /// of `(xv, xi)` and `(yv, yi)` (the lesser value, the lower index among
    /// equal values), and the second best of both sides: the least of their
    /// seconds and the loser.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn play(
        (xv, xi, xs): (__m512, __m512i, __m512),
        (yv, yi, ys): (__m512, __m512i, __m512),
    ) -> (__m512, __m512i, __m512) {
        let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(yv, xv);
        let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(yv, xv);
        let take = lt | _mm512_mask_cmplt_epu32_mask(eq, yi, xi);
        let loser = _mm512_mask_mov_ps(yv, take, xv);
        (
            _mm512_mask_mov_ps(xv, take, yv),
            _mm512_mask_mov_epi32(xi, take, yi),
            _mm512_min_ps(_mm512_min_ps(xs, ys), loser),
        )
    }

    /// Plays the 128-bit quarters of `a` and `b` that `IX` picks against
    /// those `IY` picks (`_mm512_shuffle_f32x4`'s immediates, applied to
    /// values, indices and seconds alike).
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn halves<const IX: i32, const IY: i32>(
        (av, ai, a2): (__m512, __m512i, __m512),
        (bv, bi, b2): (__m512, __m512i, __m512),
    ) -> (__m512, __m512i, __m512) {
        play(
            (
                _mm512_shuffle_f32x4::<IX>(av, bv),
                _mm512_shuffle_i32x4::<IX>(ai, bi),
                _mm512_shuffle_f32x4::<IX>(a2, b2),
            ),
            (
                _mm512_shuffle_f32x4::<IY>(av, bv),
                _mm512_shuffle_i32x4::<IY>(ai, bi),
                _mm512_shuffle_f32x4::<IY>(a2, b2),
            ),
        )
    }

    /// The `Top2` of eight rows from their lane-wise bests `bv` (values),
    /// `idx` (centre indices, distinct across lanes) and seconds `b2`: the
    /// same results as the row-by-row reductions of [`group`] (the least
    /// value, the lowest index among equal ones, the multiset's second),
    /// by a tournament that plays the rows' lanes against each other two
    /// rows to a register: 16 candidates per row, then 8, 4, 2, 1, with
    /// about a third of the shuffles of eight separate reductions.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn finish8(bv: &[__m512], idx: &[__m512i], b2: &[__m512]) -> [Top2; 8] {
        let t = |r: usize| (bv[r], idx[r], b2[r]);
        // Quarters 0, 1 against 2, 3: rows 2p (lanes 0..8) and 2p + 1 (8..16).
        let l1: [_; 4] =
            std::array::from_fn(|p| halves::<0b01_00_01_00, 0b11_10_11_10>(t(2 * p), t(2 * p + 1)));
        // Quarter 0 against 1 of each row: rows 4p..4p + 4, four lanes each.
        let l2: [_; 2] = std::array::from_fn(|p| {
            halves::<0b10_00_10_00, 0b11_01_11_01>(l1[2 * p], l1[2 * p + 1])
        });
        // Lanes 0, 1 against 2, 3 of each row: row r in lanes 2r, 2r + 1.
        let pick = |off: i32| {
            let f = |o: i32| {
                let r = o / 2;
                let base = if r < 4 { 4 * r } else { 16 + 4 * (r - 4) };
                base + off + o % 2
            };
            _mm512_setr_epi32(
                f(0),
                f(1),
                f(2),
                f(3),
                f(4),
                f(5),
                f(6),
                f(7),
                f(8),
                f(9),
                f(10),
                f(11),
                f(12),
                f(13),
                f(14),
                f(15),
            )
        };
        let (px, py) = (pick(0), pick(2));
        let (a, b) = (l2[0], l2[1]);
        let l3 = play(
            (
                _mm512_permutex2var_ps(a.0, px, b.0),
                _mm512_permutex2var_epi32(a.1, px, b.1),
                _mm512_permutex2var_ps(a.2, px, b.2),
            ),
            (
                _mm512_permutex2var_ps(a.0, py, b.0),
                _mm512_permutex2var_epi32(a.1, py, b.1),
                _mm512_permutex2var_ps(a.2, py, b.2),
            ),
        );
        // Lane 2r against 2r + 1: row r's result in lane 2r.
        let l4 = play(
            l3,
            (
                _mm512_permute_ps::<0b10_11_00_01>(l3.0),
                _mm512_shuffle_epi32::<0b10_11_00_01>(l3.1),
                _mm512_permute_ps::<0b10_11_00_01>(l3.2),
            ),
        );
        let mut v1 = [0.0f32; 16];
        let mut j = [0u32; 16];
        let mut v2 = [0.0f32; 16];
        // SAFETY: 16-lane stores into 16-element arrays.
        unsafe {
            _mm512_storeu_ps(v1.as_mut_ptr(), l4.0);
            _mm512_storeu_si512(j.as_mut_ptr().cast(), l4.1);
            _mm512_storeu_ps(v2.as_mut_ptr(), l4.2);
        }
        std::array::from_fn(|r| Top2 {
            j: j[2 * r],
            v1: v1[2 * r],
            v2: v2[2 * r],
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn packed(c: &[f32], d: usize) -> SubPanels {
        SubPanels::new(c.chunks_exact(d), d)
    }

    /// Exact `‖c‖² − 2x·c` in `f64` and its error bound `γ_{d+1}(‖c‖² + 2‖x‖‖c‖)`.
    fn exact_value(x: &[f32], c: &[f32]) -> (f64, f64) {
        let nc: f64 = c.iter().map(|&v| f64::from(v).powi(2)).sum();
        let nx: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        let dot: f64 = x
            .iter()
            .zip(c)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let m = (x.len() + 1) as f64 * f64::from(f32::EPSILON) / 2.0;
        (
            nc - 2.0 * dot,
            m / (1.0 - m) * (nc + 2.0 * nx.sqrt() * nc.sqrt()) * 1.0001,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every path gives the portable reference's bits, and the reference's
        /// values are within the stated error bound of the exact ones.
        #[test]
        fn paths_agree_and_values_are_within_the_bound(
            (_n, d, m, x, c, sel) in (1usize..40, 1usize..70, 1usize..70).prop_flat_map(|(n, d, m)| (
                Just(n), Just(d), Just(m),
                proptest::collection::vec(-50.0f32..50.0, n * d),
                proptest::collection::vec(-50.0f32..50.0, m * d),
                proptest::collection::vec(0u32..n as u32, 0..50),
            ))
        ) {
            // Some duplicate centres, to exercise ties.
            let mut c = c;
            if m > 2 {
                let (a, b) = c.split_at_mut(d);
                b[..d].copy_from_slice(a);
            }
            let panels = packed(&c, d);
            let mut want = vec![Top2 { j: 0, v1: 0.0, v2: 0.0 }; sel.len()];
            nearest_two_with(Path::Scalar, &x, &sel, &panels, &mut want);
            for path in Path::available() {
                let mut got = vec![Top2 { j: 9, v1: 1.0, v2: 1.0 }; sel.len()];
                nearest_two_with(path, &x, &sel, &panels, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(g.j, w.j, "{:?}", path);
                    prop_assert_eq!(g.v1.to_bits(), w.v1.to_bits(), "{:?}", path);
                    prop_assert_eq!(g.v2.to_bits(), w.v2.to_bits(), "{:?}", path);
                }
            }
            for (&r, w) in sel.iter().zip(&want) {
                let row = &x[r as usize * d..][..d];
                let mut vals: Vec<(f64, f64)> =
                    c.chunks_exact(d).map(|cj| exact_value(row, cj)).collect();
                let (e1, err1) = vals[w.j as usize];
                prop_assert!((f64::from(w.v1) - e1).abs() <= err1);
                // No centre's exact value is below v1's interval; the second
                // is within the bound of the second least exact value.
                for &(e, err) in &vals {
                    prop_assert!(e + err >= f64::from(w.v1) - err1 - 1e-9 * e1.abs());
                }
                if m > 1 {
                    vals.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let (e2, err2) = vals[1];
                    let maxerr = vals.iter().map(|v| v.1).fold(0.0, f64::max);
                    prop_assert!((f64::from(w.v2) - e2).abs() <= maxerr.max(err2) * 2.0);
                } else {
                    prop_assert_eq!(w.v2, f32::INFINITY);
                }
            }
        }
    }

    #[test]
    fn decay_bounds_matches_the_reference_and_is_safe() {
        for (t, n) in [1usize, 3, 9, 15, 16, 17, 40]
            .into_iter()
            .flat_map(|t| [(t, 7), (t, 16), (t, 37)])
        {
            let per_row = 1 + t;
            let specials = [f32::INFINITY, 0.0, 1e-40, 3.0, f32::MAX, 1e-3];
            let state: Vec<u32> = (0..n * per_row)
                .map(|i| {
                    if i % per_row == 0 {
                        (i * 31) as u32
                    } else {
                        let v = specials[i % specials.len()] * (1.0 + (i % 5) as f32 * 0.37);
                        v.to_bits()
                    }
                })
                .collect();
            let drift: Vec<f32> = (0..t).map(|g| [0.0, 1e-3, 2.5, 1e-41][g % 4]).collect();
            let mut want = state.clone();
            let mut wl = vec![0.0; n];
            decay_bounds_scalar(&mut want, per_row, &drift, &mut wl);
            let mut got = state.clone();
            let mut gl = vec![0.0; n];
            decay_bounds(&mut got, per_row, &drift, &mut gl);
            assert_eq!(got, want, "t={t}");
            assert_eq!(
                gl.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                wl.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "t={t}"
            );
            for r in 0..n {
                assert_eq!(got[r * per_row], state[r * per_row], "labels untouched");
                let mut least = f32::INFINITY;
                for g in 0..t {
                    let (old, new) = (
                        f32::from_bits(state[r * per_row + 1 + g]),
                        f32::from_bits(got[r * per_row + 1 + g]),
                    );
                    // Safe: below the exact difference (or both infinite).
                    let exact = f64::from(old) - f64::from(drift[g]);
                    assert!(f64::from(new) <= exact.max(0.0), "t={t} {old} {new}");
                    assert!(new >= 0.0);
                    least = least.min(new);
                }
                assert_eq!(gl[r], least);
            }
        }
    }

    #[test]
    fn translate_rows_matches_a_plain_loop() {
        for d in [1usize, 5, 16, 17, 33, 70] {
            let x: Vec<f32> = (0..9 * d)
                .map(|i| ((i * 37) % 23) as f32 * 0.75 - 8.0)
                .collect();
            let mu: Vec<f32> = (0..d).map(|p| p as f32 * 0.5 - 3.0).collect();
            let rows = [8u32, 0, 3, 3];
            let mut out = vec![f32::NAN; rows.len() * d];
            let mut norms = vec![f32::NAN; rows.len()];
            translate_rows(&x, d, &rows, &mu, &mut out, &mut norms);
            for (r, &i) in rows.iter().enumerate() {
                let want: Vec<f32> = (0..d).map(|p| x[i as usize * d + p] - mu[p]).collect();
                assert_eq!(&out[r * d..(r + 1) * d], &want[..], "d={d}");
                let exact: f64 = want.iter().map(|&v| f64::from(v).powi(2)).sum();
                let tol = (d as f64 + 2.0) * f64::from(f32::EPSILON) * exact;
                assert!((f64::from(norms[r]) - exact).abs() <= tol, "d={d}");
            }
        }
    }

    /// The eight-row tournament against the reference, with the nearest
    /// centre duplicated at every pair of lanes (ties met at each of its
    /// four rounds), and with the second nearest at every lane.
    #[test]
    fn one_group_ties_and_seconds_at_every_lane_pair() {
        let d = 5;
        let far: Vec<f32> = (0..16 * d).map(|i| 40.0 + (i % 7) as f32).collect();
        let x: Vec<f32> = (0..11 * d).map(|i| (i % 5) as f32 * 0.25).collect();
        let rows: Vec<u32> = (0..11).collect();
        let near = [0.1f32, 0.2, 0.3, 0.4, 0.5];
        let second = [1.0f32, 1.5, 0.5, 0.0, 2.0];
        for a in 0..16 {
            for b in 0..16 {
                let mut c = far.clone();
                c[a * d..(a + 1) * d].copy_from_slice(&near);
                if b != a {
                    c[b * d..(b + 1) * d].copy_from_slice(if b % 2 == 0 { &near } else { &second });
                }
                let panels = packed(&c, d);
                let mut want = vec![
                    Top2 {
                        j: 0,
                        v1: 0.0,
                        v2: 0.0
                    };
                    rows.len()
                ];
                nearest_two_with(Path::Scalar, &x, &rows, &panels, &mut want);
                for path in Path::available() {
                    let mut got = vec![
                        Top2 {
                            j: 99,
                            v1: 1.0,
                            v2: 1.0
                        };
                        rows.len()
                    ];
                    nearest_two_with(path, &x, &rows, &panels, &mut got);
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.j, w.j, "{path:?} lanes {a}, {b}");
                        assert_eq!(g.v1.to_bits(), w.v1.to_bits(), "{path:?} lanes {a}, {b}");
                        assert_eq!(g.v2.to_bits(), w.v2.to_bits(), "{path:?} lanes {a}, {b}");
                    }
                }
                if b != a && b % 2 == 0 {
                    assert_eq!(want[0].j as usize, a.min(b), "lanes {a}, {b}");
                    assert_eq!(want[0].v1, want[0].v2);
                }
            }
        }
    }

    #[test]
    fn ties_pick_the_lowest_index_and_report_an_equal_second() {
        let d = 3;
        let c = [1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 1.0, 2.0, 3.0];
        let x = [1.0f32, 2.0, 3.0];
        let panels = packed(&c, d);
        for path in Path::available() {
            let mut out = [Top2 {
                j: 9,
                v1: 0.0,
                v2: 0.0,
            }];
            nearest_two_with(path, &x, &[0], &panels, &mut out);
            assert_eq!(out[0].j, 0, "{path:?}");
            assert_eq!(out[0].v1, out[0].v2, "{path:?}");
        }
    }
}

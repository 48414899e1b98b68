//! The AVX-512 nearest-two kernels: four rows against two sub-panels at a
//! time, eight rows against one (finished by a tournament), and the
//! translation and bound decay that go with them.
//!
//! Every function here requires AVX-512F, AVX2 and FMA at run time; `mod.rs`
//! only calls them on a path this CPU runs that includes `Isa::Avx512`
//! (asserted there).

use std::arch::x86_64::*;

use super::{SUB, SubPanels, Top2};
use crate::kernel::avx512::first_lanes;

/// Rows per group.
const R: usize = 4;

/// `a − b` on the lanes `mask` selects, 0 on the others.
///
/// # Safety
/// AVX-512F available; the lanes `mask` selects are readable at `a` and `b`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn masked_sub(mask: __mmask16, a: *const f32, b: *const f32) -> __m512 {
    // SAFETY: the caller guarantees the selected lanes are readable; masked-off
    // lanes are not read.
    unsafe {
        _mm512_sub_ps(
            _mm512_maskz_loadu_ps(mask, a),
            _mm512_maskz_loadu_ps(mask, b),
        )
    }
}

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
                let m = first_lanes(d - p);
                let v = masked_sub(m, src.add(p), mu.as_ptr().add(p));
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
                let k = first_lanes(t - g);
                let r = masked_sub(k, b.add(g), drift.as_ptr().add(g));
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
pub(super) unsafe fn nearest_two(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
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
unsafe fn rows_by<const Q: usize>(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
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
    let l2: [_; 2] =
        std::array::from_fn(|p| halves::<0b10_00_10_00, 0b11_01_11_01>(l1[2 * p], l1[2 * p + 1]));
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

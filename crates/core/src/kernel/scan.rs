//! The bf16 pre-screen's scan of one row's estimates `fl(n_j − 2·p_j)`
//! (`n` the centres' squared norms rounded to `f32`, `p` the row's products
//! with them): the least estimate, then every centre whose estimate is at
//! most a threshold. One fused multiply-add per estimate on every path, so
//! every path computes the same estimates (one rounding of the exact
//! `n_j − 2p_j`) and the same candidates.
//!
//! On AVX-512, [`least`] also keeps the lane-wise minimum of each group of
//! [`GROUP`] estimates (8 values per group), and [`at_most`] reads only the
//! groups whose minimum can be at most the threshold, without a branch per
//! hit: the candidates' positions are compressed into the output 16 at a
//! time. The full second pass took 16 % of an AVX512-BF16 Lloyd iteration at
//! d = 64 on a Zen 4, the gated one with a branch per group and per hit
//! 14 % (about ten candidates a row there, in several groups), the
//! branch-free one 7 %.

use crate::isa::Isa;

/// Estimates per group of [`least`]'s group minima.
const GROUP: usize = 64;

/// The least estimate of the row and whether any estimate is NaN. Sets
/// `groups` to the lane-wise minima of the whole groups of [`GROUP`]
/// estimates (8 values each) on AVX-512, to nothing elsewhere or when an
/// estimate is NaN; [`at_most`] takes them.
///
/// # Panics
/// When `norms` and `dots` differ in length.
pub(super) fn least(isa: Isa, norms: &[f32], dots: &[f32], groups: &mut Vec<f32>) -> (f32, bool) {
    assert_eq!(norms.len(), dots.len());
    groups.clear();
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx512 {
        groups.resize(norms.len() / GROUP * 8, 0.0);
        // SAFETY: AVX-512F is part of the path `isa` (asserted by the caller
        // of the assignment); the lengths are equal, and `groups` holds 8
        // values per whole group.
        let (v1, nan) = unsafe { x86::least(norms, dots, groups) };
        if nan {
            groups.clear();
        }
        return (v1, nan);
    }
    let _ = isa;
    let mut nan = false;
    let mut v1 = f32::INFINITY;
    for (&n, &p) in norms.iter().zip(dots) {
        let v = (-2.0f32).mul_add(p, n);
        nan |= v.is_nan();
        if v < v1 {
            v1 = v;
        }
    }
    (v1, nan)
}

/// Sets `out` to the indices `j` (increasing) whose estimate is at most `t`,
/// reading only the groups whose minimum in `groups` (as [`least`] left
/// them for these estimates; empty: every group) can be.
///
/// # Panics
/// When `norms` and `dots` differ in length, or `groups` is neither empty
/// nor 8 values per whole group.
pub(super) fn at_most(
    isa: Isa,
    norms: &[f32],
    dots: &[f32],
    groups: &[f32],
    t: f32,
    out: &mut Vec<u32>,
) {
    assert_eq!(norms.len(), dots.len());
    assert!(groups.is_empty() || groups.len() == norms.len() / GROUP * 8);
    out.clear();
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx512 {
        // SAFETY: as in `least`; `groups` checked above.
        unsafe { x86::at_most(norms, dots, groups, t, out) };
        return;
    }
    let _ = isa;
    for (j, (&n, &p)) in norms.iter().zip(dots).enumerate() {
        if (-2.0f32).mul_add(p, n) <= t {
            out.push(j as u32);
        }
    }
}

/// `out[i] = fl(n_j − 2·row·c_j)` for `j = cand[i]`: the `f32` fast values
/// of [`super::certify`] (`row` and the row-major `centers` translated, `n`
/// their squared norms rounded to `f32`; the products summed in an order of
/// the path's choosing, which the bound allows).
///
/// # Panics
/// When `centers` or `norms` does not hold a candidate.
pub(super) fn fast_values(
    isa: Isa,
    row: &[f32],
    centers: &[f32],
    norms: &[f32],
    cand: &[u32],
    out: &mut Vec<f32>,
) {
    let d = row.len();
    out.clear();
    let center = |j: u32| &centers[j as usize * d..(j as usize + 1) * d];
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx512 {
        let mut groups = cand.chunks_exact(4);
        for g in &mut groups {
            let cs = [center(g[0]), center(g[1]), center(g[2]), center(g[3])];
            // SAFETY: AVX-512F is part of the path `isa`; every row holds
            // `d` values.
            let dots = unsafe { x86::dot4(row, cs) };
            for (&j, dot) in g.iter().zip(dots) {
                out.push((-2.0f32).mul_add(dot, norms[j as usize]));
            }
        }
        for &j in groups.remainder() {
            // SAFETY: as above.
            let dot = unsafe { x86::dot(row, center(j)) };
            out.push((-2.0f32).mul_add(dot, norms[j as usize]));
        }
        return;
    }
    let _ = isa;
    for &j in cand {
        let dot: f32 = row.iter().zip(center(j)).map(|(&a, &b)| a * b).sum();
        out.push((-2.0f32).mul_add(dot, norms[j as usize]));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The masked lanes of the tail of `len` values from `j`.
    fn tail(len: usize, j: usize) -> __mmask16 {
        let left = (len - j).min(16);
        ((1u32 << left) - 1) as __mmask16
    }

    /// `super::least` with AVX-512F.
    ///
    /// # Safety
    /// AVX-512F must be available; `norms.len() == dots.len()`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn least(norms: &[f32], dots: &[f32], groups: &mut [f32]) -> (f32, bool) {
        let len = norms.len();
        let m2 = _mm512_set1_ps(-2.0);
        let inf = _mm512_set1_ps(f32::INFINITY);
        // Four running minima (a minimum is exact, so their order does not
        // matter): four independent chains instead of one.
        let mut best = [inf; 4];
        let mut nan: __mmask16 = 0;
        let (pn, pd) = (norms.as_ptr(), dots.as_ptr());
        let mut j = 0;
        while j + 64 <= len {
            let mut v = [inf; 4];
            for (q, (b, v)) in best.iter_mut().zip(&mut v).enumerate() {
                // SAFETY: `j + 16q + 16 ≤ len`: inside both slices.
                *v = unsafe {
                    _mm512_fmadd_ps(
                        m2,
                        _mm512_loadu_ps(pd.add(j + 16 * q)),
                        _mm512_loadu_ps(pn.add(j + 16 * q)),
                    )
                };
                nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(*v, *v);
                *b = _mm512_min_ps(*b, *v);
            }
            let g = _mm512_min_ps(_mm512_min_ps(v[0], v[1]), _mm512_min_ps(v[2], v[3]));
            // Folded to 8 lanes: a 256-bit store, which a later 256-bit load
            // takes from the store buffer (a 512-bit one stalls it on Zen 4).
            let g = _mm512_castps512_ps256(_mm512_min_ps(
                g,
                _mm512_shuffle_f32x4::<0b11_10_11_10>(g, g),
            ));
            // SAFETY: group `j / 64` is whole: its 8 values are in `groups`.
            unsafe { _mm256_storeu_ps(groups.as_mut_ptr().add(j / 64 * 8), g) };
            j += 64;
        }
        while j < len {
            let m = tail(len, j);
            // SAFETY: lanes of `m` are `j .. min(j + 16, len)`, in bounds.
            let (n, p) = unsafe {
                (
                    _mm512_mask_loadu_ps(inf, m, pn.add(j)),
                    _mm512_maskz_loadu_ps(m, pd.add(j)),
                )
            };
            let v = _mm512_fmadd_ps(m2, p, n);
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
            best[0] = _mm512_min_ps(best[0], v);
            j += 16;
        }
        let b = _mm512_min_ps(
            _mm512_min_ps(best[0], best[1]),
            _mm512_min_ps(best[2], best[3]),
        );
        (_mm512_reduce_min_ps(b), nan != 0)
    }

    /// `Σ a_p b_p` in `f32`: four 16-lane FMA chains, then their sum.
    ///
    /// # Safety
    /// AVX-512F must be available; `a.len() == b.len()`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let d = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut p = 0;
        while p + 64 <= d {
            for (q, acc) in acc.iter_mut().enumerate() {
                // SAFETY: `p + 16q + 16 ≤ d`: inside both rows.
                *acc = unsafe {
                    _mm512_fmadd_ps(
                        _mm512_loadu_ps(pa.add(p + 16 * q)),
                        _mm512_loadu_ps(pb.add(p + 16 * q)),
                        *acc,
                    )
                };
            }
            p += 64;
        }
        while p < d {
            let m = tail(d, p);
            // SAFETY: the lanes of `m` are inside both rows.
            acc[0] = unsafe {
                _mm512_fmadd_ps(
                    _mm512_maskz_loadu_ps(m, pa.add(p)),
                    _mm512_maskz_loadu_ps(m, pb.add(p)),
                    acc[0],
                )
            };
            p += 16;
        }
        let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(s)
    }

    /// [`dot`] of `a` with four rows at once, loading `a` once for the four:
    /// two chains per row, so a value may differ from [`dot`]'s in its last
    /// bits (any order of the sum is within the certificate's bound).
    ///
    /// # Safety
    /// AVX-512F must be available; every `b` as long as `a`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot4(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
        let d = a.len();
        let pa = a.as_ptr();
        let pb = b.map(<[f32]>::as_ptr);
        let mut acc = [[_mm512_setzero_ps(); 2]; 4];
        let mut p = 0;
        while p + 32 <= d {
            for h in 0..2 {
                // SAFETY: `p + 16h + 16 ≤ d`: inside every row.
                unsafe {
                    let x = _mm512_loadu_ps(pa.add(p + 16 * h));
                    for (acc, pb) in acc.iter_mut().zip(pb) {
                        acc[h] = _mm512_fmadd_ps(x, _mm512_loadu_ps(pb.add(p + 16 * h)), acc[h]);
                    }
                }
            }
            p += 32;
        }
        while p < d {
            let m = tail(d, p);
            // SAFETY: the lanes of `m` are inside every row.
            unsafe {
                let x = _mm512_maskz_loadu_ps(m, pa.add(p));
                for (acc, pb) in acc.iter_mut().zip(pb) {
                    acc[0] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, pb.add(p)), acc[0]);
                }
            }
            p += 16;
        }
        acc.map(|[a0, a1]| _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)))
    }

    /// `super::at_most` with AVX-512F.
    ///
    /// Branch-free within a group: the candidates' positions are compressed
    /// (`vpcompressd`, register form) and stored 16 lanes at a time, the
    /// count advanced by the hits' population. The groups are gated first,
    /// 64 at a time, into a bit mask whose set bits are then visited: a row
    /// pays one unpredictable branch per visited group (the loop's exit)
    /// instead of two per group and one per hit (Zen 4, d = 64, k = 1000:
    /// the branchy scan took 14 % of a bf16 Lloyd iteration).
    ///
    /// # Safety
    /// AVX-512F must be available; `norms.len() == dots.len()`; `groups`
    /// empty or 8 values per whole group of 64.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn at_most(
        norms: &[f32],
        dots: &[f32],
        groups: &[f32],
        t: f32,
        out: &mut Vec<u32>,
    ) {
        let len = norms.len();
        let whole = len / 64;
        // Every position may be a hit, and each store writes 16 lanes.
        out.clear();
        out.reserve(len + 16);
        let po = out.as_mut_ptr();
        let mut n = 0usize;
        let tv = _mm512_set1_ps(t);
        let t8 = _mm256_set1_ps(t);
        let (pn, pd) = (norms.as_ptr(), dots.as_ptr());
        for g0 in (0..whole).step_by(64) {
            let g1 = (g0 + 64).min(whole);
            let mut gate: u64 = if groups.is_empty() {
                u64::MAX >> (64 - (g1 - g0))
            } else {
                let mut gate = 0u64;
                for g in g0..g1 {
                    // SAFETY: group `g` is whole: its 8 values are there.
                    let v = unsafe { _mm256_loadu_ps(groups.as_ptr().add(g * 8)) };
                    let le = _mm256_cmp_ps::<_CMP_LE_OQ>(v, t8);
                    gate |= u64::from(_mm256_movemask_ps(le) != 0) << (g - g0);
                }
                gate
            };
            while gate != 0 {
                let j = (g0 + gate.trailing_zeros() as usize) * 64;
                for q in 0..4 {
                    // SAFETY: group `j / 64` is whole: inside both slices; `n ≤ j`.
                    unsafe { hits16(pn, pd, j + 16 * q, u16::MAX, tv, po, &mut n) };
                }
                gate &= gate - 1;
            }
        }
        let mut j = whole * 64;
        while j < len {
            // SAFETY: the lanes of the tail are inside both slices; `n ≤ j`.
            unsafe { hits16(pn, pd, j, tail(len, j), tv, po, &mut n) };
            j += 16;
        }
        // SAFETY: the first `n` values were written above (`n ≤ len`).
        unsafe { out.set_len(n) };
    }

    /// Appends to `out` (at `*n`, which it advances) the positions `j + i`
    /// of the lanes `i` of `m` whose estimate `fl(n − 2p)` (from `pn`, `pd`)
    /// is at most `tv`: one compressed 16-lane store.
    ///
    /// # Safety
    /// AVX-512F must be available; the lanes of `m` from `j` are inside the
    /// estimates `pn`, `pd`; `out` has room for 16 values at `*n`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn hits16(
        pn: *const f32,
        pd: *const f32,
        j: usize,
        m: __mmask16,
        tv: __m512,
        out: *mut u32,
        n: &mut usize,
    ) {
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        // SAFETY: this function's contract.
        unsafe {
            let v = _mm512_fmadd_ps(
                _mm512_set1_ps(-2.0),
                _mm512_maskz_loadu_ps(m, pd.add(j)),
                _mm512_maskz_loadu_ps(m, pn.add(j)),
            );
            let hit = _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(m, v, tv);
            let at = _mm512_add_epi32(iota, _mm512_set1_epi32(j as i32));
            _mm512_storeu_si512(out.add(*n).cast(), _mm512_maskz_compress_epi32(hit, at));
            *n += hit.count_ones() as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Every path's fast values lie within the bound the certificate
        /// assumes: `(d + 8)·2⁻²³·(n + 2Σ|x_p c_p|)` of the exact
        /// `n − 2x·c` (`n` the rounded norm it is given).
        #[test]
        fn fast_values_are_within_the_bound(
            d in 1usize..300,
            k in 1usize..9,
            seed in 0u64..1000,
            scale in prop::sample::select(vec![1e-3f32, 1.0, 1e3]),
        ) {
            let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move || {
                z ^= z << 13;
                z ^= z >> 7;
                z ^= z << 17;
                ((z >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
            };
            let row: Vec<f32> = (0..d).map(|_| next()).collect();
            let centers: Vec<f32> = (0..k * d).map(|_| next()).collect();
            let norms: Vec<f32> = centers
                .chunks_exact(d)
                .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() as f32)
                .collect();
            let cand: Vec<u32> = (0..k as u32).rev().collect();
            for isa in Isa::paths_for_test("fast_values_are_within_the_bound") {
                let mut out = Vec::new();
                fast_values(isa, &row, &centers, &norms, &cand, &mut out);
                prop_assert_eq!(out.len(), k);
                for (&j, &v) in cand.iter().zip(&out) {
                    let c = &centers[j as usize * d..(j as usize + 1) * d];
                    let exact: f64 = f64::from(norms[j as usize])
                        - 2.0 * row.iter().zip(c).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>();
                    let mass: f64 = f64::from(norms[j as usize])
                        + 2.0 * row.iter().zip(c).map(|(&a, &b)| f64::from(a * b).abs()).sum::<f64>();
                    let bound = (d as f64 + 8.0) * f64::from(f32::EPSILON) * mass;
                    prop_assert!((f64::from(v) - exact).abs() <= bound,
                        "{} d {} j {}: {} vs {} (bound {})", isa, d, j, v, exact, bound);
                }
            }
        }

        /// Every path finds the scalar path's least estimate and candidates.
        #[test]
        fn every_path_scans_alike(
            vals in prop::collection::vec((-1e6f32..1e6, -1e6f32..1e6), 1..300),
            t_at in 0usize..300,
            nan_at in prop::option::of(0usize..70),
        ) {
            let (norms, mut dots): (Vec<f32>, Vec<f32>) = vals.into_iter().unzip();
            if let Some(i) = nan_at.filter(|&i| i < dots.len()) {
                dots[i] = f32::NAN;
            }
            let t = (-2.0f32).mul_add(dots[t_at % dots.len()], norms[t_at % dots.len()]);
            let mut groups = Vec::new();
            let want = least(Isa::Scalar, &norms, &dots, &mut groups);
            let mut want_c = Vec::new();
            at_most(Isa::Scalar, &norms, &dots, &groups, t, &mut want_c);
            for isa in Isa::paths_for_test("every_path_scans_alike") {
                let got = least(isa, &norms, &dots, &mut groups);
                prop_assert_eq!(got.1, want.1, "{}", isa);
                if !want.1 {
                    prop_assert_eq!(got.0.to_bits(), want.0.to_bits(), "{}", isa);
                }
                let mut c = Vec::new();
                at_most(isa, &norms, &dots, &groups, t, &mut c);
                prop_assert_eq!(&c, &want_c, "{}", isa);
                // Without the group minima: the same candidates.
                at_most(isa, &norms, &dots, &[], t, &mut c);
                prop_assert_eq!(&c, &want_c, "{}", isa);
            }
        }
    }
}

//! The exact assignment's pre-screens: `f32` top-2 and bf16 products, both
//! certified by [`super::certify`] and settled by the reference distance.
//!
//! * `f32` ([`top2`](super::top2)): each row's nearest and second-nearest
//!   fast value; the nearest is certified when the second is far enough,
//!   otherwise the row is re-checked against every centre.
//! * bf16 (AMX, [`bf16`](super::bf16)): every product `x̃·c̃` of a block of
//!   rows, so every centre's estimate; the candidates are the centres whose
//!   lower bound does not clear the best one's upper bound ([`scan`](super::scan),
//!   vectorised). One candidate is the label. Several (the bf16 bound is
//!   `2⁻⁶‖x̃‖‖c̃‖` wide, so a row's few nearest centres often are) get their
//!   `f32` fast values (`γ_{d+1}` wide, 300 times tighter at `d = 384`) and
//!   the `f32` certificate; only what that cannot settle is re-checked with
//!   the reference distance.
//!
//! Both translate rows and centres by the centres' mean first, so that the
//! errors, which scale with the norms, stay small next to the distances.
//!
//! The bf16 products are plain (`x̂·ĉ`), not the hi/lo split
//! ([`Bf16Centers::new_split`]): on the Intel Xeon with AMX the split's
//! three products cost more than the plain products and the `f32`
//! refinement of their candidates (about 11 per row at n = 2·10⁵, d = 384,
//! k = 1000), for the same labels (docs/benchmarks.md, "Exact assignment").

use super::bf16::{self, Bf16Centers, Bf16Scratch};
use super::certify::{ABS_EPS, RowErr};
use super::{AssignScratch, PackedCenters, reference, scan, top2};
use crate::isa::Isa;

/// Rows per block of the exact assignment (translated copies: `rows · d · 4`
/// bytes; bf16 estimates: `rows · k · 4` bytes).
pub(super) const BLOCK: usize = bf16::ROW_BLOCK;

/// Whether the bf16 pre-screen serves `isa` for this shape, from
/// `scripts/bench_exact.sh` (per Lloyd iteration against the `f32`
/// pre-screen, re-checks included):
///
/// * AMX (Intel Xeon with AMX): 2.2 times faster at d = 64 and d = 128 with
///   k = 1000, faster even at k = 100; at d = 32 it lost 1.2–1.3 times to its
///   per-row scan over every centre.
/// * AVX512-BF16 without AMX (AMD EPYC, Zen 4, 2 cores, medians of 5
///   alternating runs): 1.93 times faster at d = 384, k = 1000; 1.29 at
///   d = 384, k = 100; 1.17 at d = 64, k = 1000; but 0.90 at d = 64,
///   k = 100, where the products are too little of the work to pay for the
///   estimates' scans. So there it needs `k·d ≥` [`BF16_MIN_KD_AVX512`]. On
///   the Intel Xeon, whose `vdpbf16ps` ran at half its `f32` FMA rate, the
///   path lost everywhere; that CPU has AMX, which takes precedence.
pub(super) fn use_bf16(isa: Isa, k: usize, d: usize) -> bool {
    d >= BF16_MIN_D
        && k >= BF16_MIN_K
        && (isa >= Isa::Amx || (isa >= Isa::Avx512Bf16 && k * d >= BF16_MIN_KD_AVX512))
}

/// Least `k·d` for the AVX512-BF16 pre-screen (see [`use_bf16`]).
const BF16_MIN_KD_AVX512: usize = 1 << 15;

/// Smallest dimension for the bf16 pre-screen: below it the row's
/// translation, the estimates' scan and the re-checks cost more than the
/// products saved.
const BF16_MIN_D: usize = 64;
/// Smallest number of centres for the bf16 pre-screen.
const BF16_MIN_K: usize = 64;

/// Whether the lane pre-screen serves `isa`: the AVX2 path, whose top-2
/// kernel is not vectorised.
pub(super) fn use_lanes(isa: Isa) -> bool {
    isa.best_of(&[Isa::Avx512, Isa::Avx2]) == Isa::Avx2
}

/// As [`block_f32`] with direct `f32` distances to every centre
/// ([`lanes::sq_dists`](super::lanes::sq_dists), within `(d + 2)·ε`
/// relative of the exact ones: the differences are taken first, so no
/// translation is needed): the candidates are the centres whose distance
/// could be the least, re-checked with the reference distance when there are
/// several.
pub(super) fn block_lanes(
    isa: Isa,
    xs: &[f32],
    centers: &PackedCenters,
    lanes: &super::lanes::LaneCenters,
    labels: &mut [u32],
    s: &mut AssignScratch,
) {
    let (m, d, k) = (labels.len(), centers.d, centers.k);
    s.dots.resize(m * k, 0.0);
    super::lanes::sq_dists_with(isa, xs, lanes, &mut s.dots);
    // `f32` distances within `rel` of the exact ones, the reference within
    // far less: a centre whose computed distance exceeds `hi` is farther
    // than the best for certain.
    let rel = 2.0 * (d as f64 + 8.0) * f64::from(f32::EPSILON) + 4.0 * reference::rel_err(d);
    for i in 0..m {
        let dist = &s.dots[i * k..(i + 1) * k];
        let row = &xs[i * d..(i + 1) * d];
        let (mut j1, mut v1, mut nan) = (0usize, f32::INFINITY, false);
        for (j, &v) in dist.iter().enumerate() {
            nan |= v.is_nan();
            if v < v1 {
                (j1, v1) = (j, v);
            }
        }
        if nan || !v1.is_finite() {
            s.rechecks += 1;
            labels[i] = reference::nearest_with(isa, row, &centers.centers, k, &mut s.work).0;
            continue;
        }
        let hi =
            f64::from(v1) * (1.0 + rel) / (1.0 - rel) * (1.0 + 1e-12) + d as f64 * 2f64.powi(-140);
        s.cand.clear();
        s.cand.extend(
            (0..k)
                .filter(|&j| j == j1 || f64::from(dist[j]) <= hi)
                .map(|j| j as u32),
        );
        labels[i] = if s.cand.len() == 1 {
            j1 as u32
        } else {
            s.rechecks += 1;
            reference::nearest_among_with(isa, row, &centers.centers, &s.cand, &mut s.work).0
        };
    }
}

/// The exact assignment of one block of `m` rows `xs` (untranslated) into
/// `labels` (`m` values): the `f32` top-2 pre-screen.
pub(super) fn block_f32(
    isa: Isa,
    xs: &[f32],
    centers: &PackedCenters,
    labels: &mut [u32],
    s: &mut AssignScratch,
) {
    let (m, d) = (labels.len(), centers.d);
    s.sel.clear();
    s.sel.extend(0..m as u32);
    s.xt.resize(m * d, 0.0);
    s.nx.resize(m, 0.0);
    s.top.resize(m, top2::Top2::NONE);
    top2::translate_rows_with(isa, xs, d, &s.sel, &centers.mu, &mut s.xt, &mut s.nx);
    top2::nearest_two_with(isa, &s.xt, &s.sel, &centers.sub, &mut s.top);
    for (i, (t, &nx)) in s.top.iter().zip(&s.nx).enumerate() {
        labels[i] = if centers.bound.row(nx).certifies(t.v1, t.v2) {
            t.j
        } else {
            s.rechecks += 1;
            let row = &xs[i * d..(i + 1) * d];
            reference::nearest_with(isa, row, &centers.centers, centers.k, &mut s.work).0
        };
    }
}

/// As [`block_f32`] with the bf16 products of `pack` (the translated
/// centres packed for `isa`), their candidates refined by [`refine`].
pub(super) fn block_bf16(
    isa: Isa,
    xs: &[f32],
    centers: &PackedCenters,
    pack: &Bf16Centers,
    labels: &mut [u32],
    s: &mut AssignScratch,
) {
    let (m, d, k) = (labels.len(), centers.d, centers.k);
    s.sel.clear();
    s.sel.extend(0..m as u32);
    s.xt.resize(m * d, 0.0);
    s.nx.resize(m, 0.0);
    top2::translate_rows_with(isa, xs, d, &s.sel, &centers.mu, &mut s.xt, &mut s.nx);
    let sub = sub_block(isa).min(m);
    s.dots.resize(sub * k, 0.0);
    let cmax = centers.bound.cmax();
    for i in 0..m {
        if i % sub == 0 {
            let rows = sub.min(m - i);
            let bs = s.bf16.get_or_insert_with(Bf16Scratch::default);
            bf16::dots_with(
                isa,
                &s.xt[i * d..(i + rows) * d],
                pack,
                &mut s.dots[..rows * k],
                bs,
            );
        }
        let dots = &s.dots[(i % sub) * k..(i % sub + 1) * k];
        let row = &xs[i * d..(i + 1) * d];
        let nxs = centers.bound.norm_hi(s.nx[i]);
        // The error of an estimate `‖c̃‖² − 2·x̃·c̃`: twice the products'
        // bound, plus the f64 rounding of the norms (sums of `d` squares)
        // and of the estimate itself, far below `2⁻⁴⁰` relative.
        let scale = cmax * cmax + 2.0 * nxs * cmax;
        let e = 2.0 * pack.error_bound(nxs, cmax) + 2f64.powi(-40) * scale;
        let r = centers.bound.row_with(s.nx[i], e);
        // The scan computes the estimates in `f32` (`fl(fl(‖c̃‖²) − 2·x̃·c̃)`,
        // two roundings of values at most `scale` (1 + 2⁻⁶) in magnitude):
        // within `delta` of the `f64` ones the bound speaks of.
        let delta = 2f64.powi(-22) * scale + 2f64.powi(-140);
        let (v1, nan) = scan::least(isa, &centers.sub_norms32, dots, &mut s.groups);
        // The least `f64` estimate is at most `v1 + delta`, and the
        // threshold grows with it; a centre whose `f32` estimate exceeds
        // `threshold + delta` has an `f64` one above the threshold.
        let threshold = if e.is_finite() && scale < 1e37 && v1.is_finite() && !nan {
            candidate_threshold(&r, f64::from(v1) + delta) + delta
        } else {
            f64::NAN
        };
        // A NaN estimate (an infinity in the products) proves nothing.
        if !threshold.is_finite() || threshold >= f64::from(f32::MAX) {
            s.rechecks += 1;
            labels[i] = reference::nearest_with(isa, row, &centers.centers, k, &mut s.work).0;
            continue;
        }
        // Every centre whose estimate is at most the threshold might be the
        // nearest: the reference distance decides among them. The `f32`
        // threshold is rounded up.
        let t32 = (threshold as f32).next_up();
        scan::at_most(isa, &centers.sub_norms32, dots, &s.groups, t32, &mut s.cand);
        labels[i] = match s.cand.len() {
            1 => s.cand[0],
            // Not possible (the least estimate is below its threshold) unless
            // the arithmetic misbehaves: the reference scan then.
            0 => {
                s.rechecks += 1;
                reference::nearest_with(isa, row, &centers.centers, k, &mut s.work).0
            }
            _ => refine(isa, row, i, centers, s),
        };
    }
}

/// Rows whose bf16 products are computed at once before their scans:
/// the whole block on AMX (its tiles were tuned so); 32 on AVX512-BF16, so
/// that the scans find their estimates still in cache (Zen 4, d = 64,
/// k = 1000: 279–280 ms per Lloyd iteration against 288 for the whole
/// block of 128; 8 and 16 rows were no better).
fn sub_block(isa: Isa) -> usize {
    if isa >= Isa::Amx { BLOCK } else { 32 }
}

/// The label of `row`, row `i` of the block (translated in `s.xt`, its
/// squared norm in `s.nx`), among the candidates `s.cand` of a pre-screen:
/// their `f32` fast values (far tighter than bf16 products), certified as
/// [`block_f32`] does; otherwise the reference distance decides among them
/// (counted in `s.rechecks`). The certified label is nearer than every
/// other candidate, and each candidate the pre-screen dropped is farther
/// than the candidate of least estimate: so it is the reference label.
fn refine(isa: Isa, row: &[f32], i: usize, centers: &PackedCenters, s: &mut AssignScratch) -> u32 {
    let d = centers.d;
    let xt = &s.xt[i * d..(i + 1) * d];
    scan::fast_values(
        isa,
        xt,
        &centers.shifted,
        &centers.sub_norms32,
        &s.cand,
        &mut s.vals,
    );
    let (mut i1, mut v1, mut v2) = (0usize, f32::INFINITY, f32::INFINITY);
    let mut nan = false;
    for (i, &v) in s.vals.iter().enumerate() {
        nan |= v.is_nan();
        if v < v1 {
            (i1, v2, v1) = (i, v1, v);
        } else if v < v2 {
            v2 = v;
        }
    }
    if !nan && centers.bound.row(s.nx[i]).certifies(v1, v2) {
        return s.cand[i1];
    }
    s.rechecks += 1;
    reference::nearest_among_with(isa, row, &centers.centers, &s.cand, &mut s.work).0
}

/// The least estimate `T` above which a centre is certainly not the
/// reference label of a row whose best estimate is `v1`: for `v > T`,
/// `r.upper_below_f64(v1, r.lower_f64(v))` holds (so the centre of `v1`, or
/// another candidate, is nearer by more than the reference distance's own
/// rounding). Derived from those two functions with every rounding taken
/// the unfavourable way (the `1 ± 1e-15` factors cover the few `f64`
/// operations here); NaN when no bound exists.
fn candidate_threshold(r: &RowErr, v1: f64) -> f64 {
    let (tau, gap) = (r.tau(), r.gap());
    // `upper_below_f64(v1, b)` holds when `b − tau − ABS_EPS` exceeds this.
    let need = ((r.nx_hi() + v1 + r.e()).max(0.0) * gap).sqrt() * (1.0 + 1e-15);
    // `lower_f64(v)` is `((√(nx_lo + v − e)·(1 − 1e-12) − tau − ABS_EPS)·DOWN)`
    // rounded to the nearest `f32`: at least that times `1 − 2⁻²³`, and
    // DOWN = 1 − 2⁻²³.
    let down = (1.0 - f64::from(f32::EPSILON)) * (1.0 - f64::from(f32::EPSILON));
    let s = ((need + tau + ABS_EPS) / down + tau + ABS_EPS) / (1.0 - 1e-12) * (1.0 + 1e-15);
    s * s * (1.0 + 1e-15) - r.nx_lo() + r.e()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::kernel::certify::FastBound;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Above the threshold, the certificate holds: what makes dropping
        /// those centres from the re-check safe.
        #[test]
        fn above_the_threshold_the_certificate_holds(
            d in 1usize..2000,
            cmax in 1e-3f64..1e6,
            nx in 0.0f32..1e12,
            e_rel in 0.0f64..1e-2,
            v1_rel in -1.0f64..1.0,
            step in 0.0f64..1.0,
        ) {
            let bound = FastBound::f32_fma(d, cmax);
            let nxs = bound.norm_hi(nx);
            let r = bound.row_with(nx, e_rel * (cmax * cmax + 2.0 * nxs * cmax));
            // A best estimate between −2‖x̃‖C and C².
            let v1 = v1_rel * 2.0 * nxs * cmax;
            let t = candidate_threshold(&r, v1);
            prop_assume!(t.is_finite());
            let v = t + step * (t.abs() + 1.0) * 1e-6 + f64::from(f32::MIN_POSITIVE);
            let v = if v > t { v } else { t.next_up() };
            prop_assert!(r.upper_below_f64(v1, r.lower_f64(v)), "v1 {} T {} v {}", v1, t, v);
        }
    }
}

//! Squared distances from many rows to a few centres at once, with the centres
//! spread across SIMD lanes: k-means++ needs, per pass, the distance of every
//! point to 1 + (2 + ⌊ln k⌋) centres, not an argmin, so the fused assignment
//! kernel does not fit; this does, at d subtract + fused-multiply-add vector
//! operations per row for up to eight centres.
//!
//! The differences are taken exactly ((x − c)², not ‖x‖² − 2x·c + ‖c‖²), so data
//! far from the origin keeps accurate distances. Every lane runs the same
//! arithmetic, so a centre's distances have the same bits whichever lane or
//! group it sits in: k-means++ relies on that when it compares a chunk's
//! potential from one pass with a rescan of the chunk.
//!
//! The same generic body is compiled twice: plain (the scalar path and the
//! oracle, `acc + t·t` rounded twice) and with AVX2 + FMA (`t.mul_add(t,
//! acc)`, rounded once), which every path that includes AVX2 runs. The two
//! differ in the last bits; each is within `(d + 2)·ε` (relative) of the
//! exact distance, all terms being positive (tested).

use crate::isa::Isa;

/// Centres per lane group.
pub const LANES: usize = 8;

/// Centres transposed into groups of [`LANES`]: group g holds, for each column
/// p, the p-th value of centres 8g..8g+8 (padding lanes repeat the last centre).
#[derive(Debug, Clone)]
pub struct LaneCenters {
    d: usize,
    m: usize,
    groups: Vec<f32>,
}

impl LaneCenters {
    /// Packs `centers` (each of `d` values).
    ///
    /// # Panics
    /// When `d == 0` or a centre holds fewer than `d` values.
    #[must_use]
    pub fn new(centers: &[&[f32]], d: usize) -> Self {
        assert!(d > 0, "LaneCenters: d must be at least 1");
        let m = centers.len();
        let n_groups = m.div_ceil(LANES);
        let mut groups = vec![0.0f32; n_groups * d * LANES];
        for g in 0..n_groups {
            for l in 0..LANES {
                let c = centers[(g * LANES + l).min(m - 1)];
                for p in 0..d {
                    groups[(g * d + p) * LANES + l] = c[p];
                }
            }
        }
        LaneCenters { d, m, groups }
    }

    /// Number of centres.
    #[must_use]
    pub fn len(&self) -> usize {
        self.m
    }

    /// Whether there is no centre.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.m == 0
    }
}

/// `out[i * m + j]` = ‖row_i − c_j‖² for the rows of `x` (row-major, `d` columns)
/// and the `m` centres.
///
/// # Panics
/// When `out` does not hold `m` values per row of `x`.
pub fn sq_dists(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    sq_dists_with(Isa::current(), x, centers, out);
}

/// [`sq_dists`] on the path `isa`.
///
/// # Panics
/// As [`sq_dists`]; also when this CPU cannot run `isa`.
pub fn sq_dists_with(isa: Isa, x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    let n = x.len() / centers.d.max(1);
    assert_eq!(
        out.len(),
        n * centers.m,
        "sq_dists: out must hold {} distances per row",
        centers.m
    );
    isa.assert_available();
    match isa.best_of(&[Isa::Avx2]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX2 and FMA.
        Isa::Avx2 => unsafe { sq_dists_avx2(x, centers, out) },
        _ => sq_dists_body::<false>(x, centers, out),
    }
}

/// [`sq_dists_body`] compiled with AVX2 + FMA.
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sq_dists_avx2(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    // The same body, compiled with AVX2 + FMA: the lane loops become ymm
    // operations and `mul_add` a single fused instruction.
    sq_dists_body::<true>(x, centers, out);
}

/// `min(current, fl₃₂(D(x, c)))` with `D` the reference distance
/// ([`super::reference`]), given `fast`, the value [`sq_dists`] computed for
/// `x` and `c` on any path: `D` is computed only when `fast` cannot prove
/// `D > current` (then the minimum is `current` whatever `D`'s bits).
///
/// The proof: `fast` is within `(d + 2)·ε` relative of the exact squared
/// distance (see the module documentation) and `D` within
/// `reference::rel_err(d)`; `fast·(1 − 2(d + 8)·ε) > current` leaves room
/// for both. So the result has the reference bits on every path, at the
/// cost of a reference distance only for the rows `c` comes nearer to (what
/// k-means++ potentials need).
#[must_use]
pub fn min_with_reference(fast: f32, current: f32, x: &[f32], c: &[f32]) -> f32 {
    let shrink = 1.0 - 2.0 * (x.len() as f64 + 8.0) * f64::from(f32::EPSILON);
    if f64::from(fast) * shrink > f64::from(current) {
        current
    } else {
        current.min(super::reference::dist_sq(x, c) as f32)
    }
}

/// Rows per block: independent accumulators to cover the FMA latency.
pub(super) const ROWS: usize = 4; // `group_sq_dists` is written out for four rows

/// Squared distances of [`ROWS`] rows (`d` values each) to the [`LANES`]
/// points of one lane group (`d · LANES` values, `d`-major): the inner loop
/// of [`sq_dists`] and of the silhouette kernel. Exact differences, then
/// `acc + t·t`, fused when `FMA`, in dimension order.
#[inline(always)]
pub(super) fn group_sq_dists<const FMA: bool>(
    group: &[f32],
    [x0, x1, x2, x3]: [&[f32]; ROWS],
) -> [[f32; LANES]; ROWS] {
    #[inline(always)]
    fn step<const FMA: bool>(acc: &mut [f32; LANES], xv: f32, c: &[f32; LANES]) {
        for l in 0..LANES {
            let t = xv - c[l];
            acc[l] = if FMA {
                t.mul_add(t, acc[l])
            } else {
                acc[l] + t * t
            };
        }
    }
    let mut acc = [[0.0f32; LANES]; ROWS];
    for ((((c, &a), &b), &e), &f) in group.chunks_exact(LANES).zip(x0).zip(x1).zip(x2).zip(x3) {
        let c: &[f32; LANES] = c.try_into().expect("LANES values");
        step::<FMA>(&mut acc[0], a, c);
        step::<FMA>(&mut acc[1], b, c);
        step::<FMA>(&mut acc[2], e, c);
        step::<FMA>(&mut acc[3], f, c);
    }
    acc
}

#[inline(always)]
fn sq_dists_body<const FMA: bool>(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    let (d, m) = (centers.d, centers.m);
    let n = x.len() / d.max(1);
    for (g, group) in centers.groups.chunks_exact(d * LANES).enumerate() {
        let lanes = LANES.min(m - g * LANES);
        let mut i = 0;
        while i < n {
            let rows = ROWS.min(n - i);
            // Rows past the end repeat the last row; their results are dropped.
            let row = |r: usize| &x[(i + r.min(rows - 1)) * d..][..d];
            let acc = group_sq_dists::<FMA>(group, [row(0), row(1), row(2), row(3)]);
            for (r, acc) in acc.iter().enumerate().take(rows) {
                let o = &mut out[(i + r) * m + g * LANES..][..lanes];
                o.copy_from_slice(&acc[..lanes]);
            }
            i += rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Exact `‖x − c‖²` of `f32` rows, in `f64`.
    fn exact(x: &[f32], c: &[f32]) -> f64 {
        x.iter()
            .zip(c)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum()
    }

    #[test]
    fn matches_direct_distances_and_lanes_agree() {
        let d = 13;
        let x: Vec<f32> = (0..7 * d)
            .map(|i| ((i * 31) % 17) as f32 * 0.5 - 4.0)
            .collect();
        let cs: Vec<Vec<f32>> = (0..11)
            .map(|j| {
                (0..d)
                    .map(|p| ((j * 7 + p * 3) % 11) as f32 - 5.0)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = cs.iter().map(Vec::as_slice).collect();
        let lanes = LaneCenters::new(&refs, d);
        let single = LaneCenters::new(&refs[9..10], d);
        for isa in Isa::paths_for_test("matches_direct_distances_and_lanes_agree") {
            let mut out = vec![0.0; 7 * 11];
            sq_dists_with(isa, &x, &lanes, &mut out);
            for i in 0..7 {
                for j in 0..11 {
                    let want = exact(&x[i * d..(i + 1) * d], &cs[j]);
                    assert!(
                        (f64::from(out[i * 11 + j]) - want).abs() < 1e-4 * want.max(1.0),
                        "{isa}"
                    );
                }
            }
            // Centre 9 alone gives the same bits as in lane 1 of group 1.
            let mut one = vec![0.0; 7];
            sq_dists_with(isa, &x, &single, &mut one);
            for i in 0..7 {
                assert_eq!(one[i].to_bits(), out[i * 11 + 9].to_bits(), "{isa}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every path against the scalar oracle and the exact distances:
        /// each within `(d + 2)·ε` relative of the exact value (all terms are
        /// positive), so within twice that of each other; and a centre's
        /// distances have the same bits on a path whichever lane or group it
        /// sits in (here: the centres in reverse order).
        #[test]
        fn every_path_is_near_the_oracle_and_lane_independent(
            (n, d, m, x, c) in (1usize..23, 1usize..40, 1usize..30).prop_flat_map(|(n, d, m)| (
                Just(n), Just(d), Just(m),
                proptest::collection::vec(-1e3f32..1e3, n * d),
                proptest::collection::vec(-1e3f32..1e3, m * d),
            ))
        ) {
            let refs: Vec<&[f32]> = c.chunks_exact(d).collect();
            let packed = LaneCenters::new(&refs, d);
            let rev: Vec<&[f32]> = refs.iter().rev().copied().collect();
            let packed_rev = LaneCenters::new(&rev, d);
            let mut oracle = vec![0.0f32; n * m];
            sq_dists_with(Isa::Scalar, &x, &packed, &mut oracle);
            let tol = (d as f64 + 2.0) * f64::from(f32::EPSILON);
            for isa in Isa::paths_for_test("every_path_is_near_the_oracle_and_lane_independent") {
                let mut got = vec![f32::NAN; n * m];
                sq_dists_with(isa, &x, &packed, &mut got);
                let mut got_rev = vec![f32::NAN; n * m];
                sq_dists_with(isa, &x, &packed_rev, &mut got_rev);
                for i in 0..n {
                    for j in 0..m {
                        let e = exact(&x[i * d..(i + 1) * d], refs[j]);
                        let (g, o) = (f64::from(got[i * m + j]), f64::from(oracle[i * m + j]));
                        prop_assert!((g - e).abs() <= tol * e, "{} row {} centre {}: {} vs {}", isa, i, j, g, e);
                        prop_assert!((g - o).abs() <= 2.0 * tol * e, "{} vs oracle", isa);
                        prop_assert_eq!(
                            got[i * m + j].to_bits(),
                            got_rev[i * m + (m - 1 - j)].to_bits(),
                            "{} row {} centre {}", isa, i, j
                        );
                    }
                }
            }
        }
    }
}

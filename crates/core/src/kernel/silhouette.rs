//! The silhouette's hot loop: Euclidean distances from a few rows to a tile of
//! points, summed per cluster.
//!
//! A tile's points are sorted by cluster and transposed into groups of
//! [`LANES`] (group g holds, for each column p, the p-th value of points
//! 8g..8g+8; padding lanes repeat the last point and are never summed). Four
//! rows at a time run against each group: d subtract + fused-multiply-add
//! vector operations for 32 distances, taken as exact differences
//! ((x − y)², not ‖x‖² − 2x·y + ‖y‖², which cancels for close points), then
//! one vector square root. Each cluster's points are a contiguous run of the
//! sorted tile, so its share of a row's distance sum is one contiguous f64
//! reduction, not a scatter by label.
//!
//! The same generic body is compiled twice, plain (the scalar path and the
//! oracle) and with AVX2 + FMA (`#[target_feature]` on a wrapper,
//! `#[inline(always)]` on the body), which every path that includes AVX2
//! runs, as in [`super::lanes`]. Every row's arithmetic is independent of
//! which other rows share its block, so results do not depend on block sizes
//! or thread counts (tested).

use crate::isa::Isa;

use super::lanes::{ROWS, group_sq_dists};

/// Points per lane group.
pub const LANES: usize = super::lanes::LANES;

/// A run of a sorted tile that belongs to one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The cluster's code: its column of the sums.
    pub code: u32,
    /// First point of the run, in the sorted tile.
    pub start: u32,
    /// One past the run's last point.
    pub end: u32,
}

/// The order that sorts a tile's points by cluster (`codes`, one per point;
/// a stable sort, so points of one cluster keep their order), and the runs of
/// one cluster each in that order.
#[must_use]
pub fn sort_by_cluster(codes: &[u32]) -> (Vec<u32>, Vec<Segment>) {
    let m = codes.len();
    let mut order: Vec<u32> = (0..m as u32).collect();
    order.sort_by_key(|&j| codes[j as usize]);
    let mut segments = Vec::new();
    let mut s = 0;
    while s < m {
        let c = codes[order[s] as usize];
        let mut e = s;
        while e < m && codes[order[e] as usize] == c {
            e += 1;
        }
        segments.push(Segment {
            code: c,
            start: s as u32,
            end: e as u32,
        });
        s = e;
    }
    (order, segments)
}

/// A tile ready for [`accumulate`]: its points packed by [`pack_tile`] and
/// their runs by cluster.
#[derive(Debug, Clone, Copy)]
pub struct Tile<'a> {
    /// The lane groups: `padded × d` values.
    pub packed: &'a [f32],
    /// The padded point count [`pack_tile`] returned.
    pub padded: usize,
    /// The runs of one cluster each, within the first `padded` points.
    pub segments: &'a [Segment],
}

/// Packs the tile's rows (`data`, row-major, `d` columns) in the order `order`
/// into lane groups; returns the padded point count.
///
/// # Panics
/// When an index of `order` is not a row of `data`.
pub fn pack_tile(data: &[f32], d: usize, order: &[u32], packed: &mut Vec<f32>) -> usize {
    let m = order.len();
    let groups = m.div_ceil(LANES);
    packed.clear();
    packed.resize(groups * d * LANES, 0.0);
    for g in 0..groups {
        for l in 0..LANES {
            let src = order[(g * LANES + l).min(m - 1)] as usize;
            let row = &data[src * d..(src + 1) * d];
            for (p, &v) in row.iter().enumerate() {
                packed[(g * d + p) * LANES + l] = v;
            }
        }
    }
    groups * LANES
}

/// Name of the kernel variant this process runs ("avx2+fma" or "scalar").
#[must_use]
pub fn silhouette_kernel_name() -> &'static str {
    kernel_name_with(Isa::current())
}

/// Name of the kernel variant the path `isa` runs.
#[must_use]
pub fn kernel_name_with(isa: Isa) -> &'static str {
    match isa.best_of(&[Isa::Avx2]) {
        Isa::Avx2 => "avx2+fma",
        _ => "scalar",
    }
}

/// The distance whose sums [`accumulate_distance_with`] adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PairDistance {
    /// ‖x − y‖.
    #[default]
    Euclidean,
    /// ½‖x − y‖²: on unit-length rows, the cosine distance 1 − cos(x, y)
    /// (scikit-learn's `metric="cosine"`), computed without the cancellation of
    /// 1 − x·y for nearly parallel rows.
    HalfSquared,
}

/// Adds, for every row of `rows` (row-major, `d` columns) and every segment
/// of `tile`, the sum of the row's Euclidean distances to the segment's points
/// to `sums[row * k + segment.code]`. `dist` is scratch of at least
/// `ROWS * tile.padded` values (resized here).
///
/// # Panics
/// When `tile.packed` is not `tile.padded` points of `d` values, a segment
/// lies outside them, a code is not below `k`, or `sums` holds fewer than `k`
/// values per row.
pub fn accumulate(
    rows: &[f32],
    d: usize,
    tile: Tile<'_>,
    k: usize,
    sums: &mut [f64],
    dist: &mut Vec<f32>,
) {
    accumulate_with(Isa::current(), rows, d, tile, k, sums, dist);
}

/// [`accumulate`] on the path `isa`.
///
/// # Panics
/// As [`accumulate`]; also when this CPU cannot run `isa`.
pub fn accumulate_with(
    isa: Isa,
    rows: &[f32],
    d: usize,
    tile: Tile<'_>,
    k: usize,
    sums: &mut [f64],
    dist: &mut Vec<f32>,
) {
    accumulate_distance_with(isa, PairDistance::Euclidean, rows, d, tile, k, sums, dist);
}

/// [`accumulate_with`] for the distance `what` (Euclidean, or ½‖x − y‖²: the
/// cosine distance of unit rows).
///
/// # Panics
/// As [`accumulate_with`].
#[allow(clippy::too_many_arguments)]
pub fn accumulate_distance_with(
    isa: Isa,
    what: PairDistance,
    rows: &[f32],
    d: usize,
    tile: Tile<'_>,
    k: usize,
    sums: &mut [f64],
    dist: &mut Vec<f32>,
) {
    let Tile {
        packed,
        padded,
        segments,
    } = tile;
    assert_eq!(
        packed.len(),
        padded * d,
        "accumulate: packed is not padded × d"
    );
    assert!(
        sums.len() >= rows.len() / d.max(1) * k,
        "accumulate: sums must hold k values per row"
    );
    assert!(
        segments
            .iter()
            .all(|s| s.start <= s.end && s.end as usize <= padded && (s.code as usize) < k),
        "accumulate: a segment lies outside the tile or its code is not below k"
    );
    dist.resize(ROWS * padded, 0.0);
    isa.assert_available();
    let half = what == PairDistance::HalfSquared;
    match (isa.best_of(&[Isa::Avx2]), half) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked: AVX2 and FMA.
        (Isa::Avx2, false) => unsafe { accumulate_avx2::<false>(rows, d, tile, k, sums, dist) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, true) => unsafe { accumulate_avx2::<true>(rows, d, tile, k, sums, dist) },
        (_, false) => accumulate_body::<false, false>(rows, d, tile, k, sums, dist),
        (_, true) => accumulate_body::<false, true>(rows, d, tile, k, sums, dist),
    }
}

/// [`accumulate_body`] compiled with AVX2 + FMA.
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_avx2<const HALF_SQ: bool>(
    rows: &[f32],
    d: usize,
    tile: Tile<'_>,
    k: usize,
    sums: &mut [f64],
    dist: &mut [f32],
) {
    // The same body, compiled with AVX2 + FMA: lane loops become ymm
    // operations, `mul_add` one fused instruction, `sqrt` one vsqrtps.
    accumulate_body::<true, HALF_SQ>(rows, d, tile, k, sums, dist);
}

/// Sum of `v` in f64 with four accumulators (a fixed order: same bits every run).
#[inline(always)]
fn sum_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = v.chunks_exact(4);
    for c in &mut chunks {
        for l in 0..4 {
            acc[l] += f64::from(c[l]);
        }
    }
    let mut tail = 0.0;
    for &x in chunks.remainder() {
        tail += f64::from(x);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[inline(always)]
fn accumulate_body<const FMA: bool, const HALF_SQ: bool>(
    rows: &[f32],
    d: usize,
    tile: Tile<'_>,
    k: usize,
    sums: &mut [f64],
    dist: &mut [f32],
) {
    let Tile {
        packed,
        padded,
        segments,
    } = tile;
    let n = rows.len() / d.max(1);
    let mut i = 0;
    while i < n {
        let nr = ROWS.min(n - i);
        // Rows past the end repeat the last row; their results are dropped.
        let row = |r: usize| &rows[(i + r.min(nr - 1)) * d..][..d];
        let x = [row(0), row(1), row(2), row(3)];
        for (g, group) in packed.chunks_exact(d * LANES).enumerate() {
            let acc = group_sq_dists::<FMA>(group, x);
            for (r, acc) in acc.iter().enumerate() {
                let o: &mut [f32; LANES] = (&mut dist[r * padded + g * LANES..][..LANES])
                    .try_into()
                    .expect("LANES values");
                for l in 0..LANES {
                    o[l] = if HALF_SQ { 0.5 * acc[l] } else { acc[l].sqrt() };
                }
            }
        }
        for r in 0..nr {
            let drow = &dist[r * padded..(r + 1) * padded];
            let srow = &mut sums[(i + r) * k..(i + r + 1) * k];
            for s in segments {
                srow[s.code as usize] += sum_f64(&drow[s.start as usize..s.end as usize]);
            }
        }
        i += nr;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Per row, per cluster: the exact sum of Euclidean distances, in `f64`.
    fn exact_sums(rows: &[f32], tile: &[f32], codes: &[u32], d: usize, k: usize) -> Vec<f64> {
        let mut want = vec![0.0f64; rows.len() / d * k];
        for (i, x) in rows.chunks_exact(d).enumerate() {
            for (y, &c) in tile.chunks_exact(d).zip(codes) {
                let dd: f64 = x
                    .iter()
                    .zip(y)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                want[i * k + c as usize] += dd.sqrt();
            }
        }
        want
    }

    /// `accumulate_with` on a fresh table of sums.
    fn sums_with(
        isa: Isa,
        rows: &[f32],
        d: usize,
        tile: &[f32],
        order: &[u32],
        segments: &[Segment],
        k: usize,
    ) -> Vec<f64> {
        let mut packed = Vec::new();
        let padded = pack_tile(tile, d, order, &mut packed);
        let mut sums = vec![0.0; rows.len() / d * k];
        let mut dist = Vec::new();
        let tile = Tile {
            packed: &packed,
            padded,
            segments,
        };
        accumulate_with(isa, rows, d, tile, k, &mut sums, &mut dist);
        sums
    }

    #[test]
    fn sums_match_direct_distances() {
        let (d, n_rows, m, k) = (5, 7, 13, 3);
        let rows: Vec<f32> = (0..n_rows * d)
            .map(|i| ((i * 37) % 11) as f32 * 0.3 - 1.0)
            .collect();
        let tile: Vec<f32> = (0..m * d)
            .map(|i| ((i * 29) % 13) as f32 * 0.2 - 1.5)
            .collect();
        let codes: Vec<u32> = (0..m).map(|j| (j % k) as u32).collect();
        let (order, segments) = sort_by_cluster(&codes);
        let want = exact_sums(&rows, &tile, &codes, d, k);
        let plain = sums_with(Isa::Scalar, &rows, d, &tile, &order, &segments, k);
        for isa in Isa::paths_for_test("sums_match_direct_distances") {
            let sums = sums_with(isa, &rows, d, &tile, &order, &segments, k);
            for (s, w) in sums.iter().zip(&want) {
                assert!((s - w).abs() < 1e-5 * w.max(1.0), "{isa}: {s} vs {w}");
            }
            // The scalar body gives the same sums up to rounding of the FMA.
            for (a, b) in plain.iter().zip(&sums) {
                assert!((a - b).abs() < 1e-5 * a.abs().max(1.0), "{isa}");
            }
        }
    }

    /// ½‖x − y‖² (the cosine distance of unit rows) on every path, against
    /// the exact value and against 1 − x·y of the normalised rows.
    #[test]
    fn half_squared_sums_are_cosine_distances_of_unit_rows() {
        let (d, n_rows, m, k) = (6, 9, 21, 4);
        let unit = |v: Vec<f32>| -> Vec<f32> {
            let mut v = v;
            for r in v.chunks_exact_mut(d) {
                crate::normalize::normalize_in_place(r);
            }
            v
        };
        let rows = unit(
            (0..n_rows * d)
                .map(|i| ((i * 37) % 11) as f32 * 0.3 - 1.4)
                .collect(),
        );
        let tile = unit(
            (0..m * d)
                .map(|i| ((i * 29) % 13) as f32 * 0.2 - 1.1)
                .collect(),
        );
        let codes: Vec<u32> = (0..m).map(|j| (j % k) as u32).collect();
        let (order, segments) = sort_by_cluster(&codes);
        let mut want = vec![0.0f64; n_rows * k];
        for (i, x) in rows.chunks_exact(d).enumerate() {
            for (y, &c) in tile.chunks_exact(d).zip(&codes) {
                let dot: f64 = x
                    .iter()
                    .zip(y)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                want[i * k + c as usize] += 1.0 - dot;
            }
        }
        for isa in Isa::paths_for_test("half_squared_sums_are_cosine_distances_of_unit_rows") {
            let mut packed = Vec::new();
            let padded = pack_tile(&tile, d, &order, &mut packed);
            let mut sums = vec![0.0; n_rows * k];
            let tile = Tile {
                packed: &packed,
                padded,
                segments: &segments,
            };
            let mut dist = Vec::new();
            let what = PairDistance::HalfSquared;
            accumulate_distance_with(isa, what, &rows, d, tile, k, &mut sums, &mut dist);
            for (s, w) in sums.iter().zip(&want) {
                assert!((s - w).abs() < 1e-5 * w.max(1.0), "{isa}: {s} vs {w}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every path against the exact sums and the scalar oracle: each
        /// distance is within `(d/2 + 2)·ε` (relative) of the exact one (a
        /// positive sum of `d` squares, then a square root; the `f64` sums
        /// add nothing at this scale), so each sum within `(d + 4)·ε` of
        /// the exact sum, and the paths within twice that of each other.
        /// And a row's sums have the same bits whether it is accumulated
        /// alone or with the others (blocks of four rows).
        #[test]
        fn every_path_is_near_the_oracle_and_block_independent(
            (_n, d, _m, k, rows, tile, codes) in (1usize..11, 1usize..24, 1usize..40, 1usize..5)
                .prop_flat_map(|(n, d, m, k)| (
                    Just(n), Just(d), Just(m), Just(k),
                    proptest::collection::vec(-100.0f32..100.0, n * d),
                    proptest::collection::vec(-100.0f32..100.0, m * d),
                    proptest::collection::vec(0u32..k as u32, m),
                ))
        ) {
            let (order, segments) = sort_by_cluster(&codes);
            let want = exact_sums(&rows, &tile, &codes, d, k);
            let oracle = sums_with(Isa::Scalar, &rows, d, &tile, &order, &segments, k);
            let tol = (d as f64 + 4.0) * f64::from(f32::EPSILON);
            for isa in Isa::paths_for_test("every_path_is_near_the_oracle_and_block_independent") {
                let sums = sums_with(isa, &rows, d, &tile, &order, &segments, k);
                for ((s, w), o) in sums.iter().zip(&want).zip(&oracle) {
                    prop_assert!((s - w).abs() <= tol * w, "{}: {} vs exact {}", isa, s, w);
                    prop_assert!((s - o).abs() <= 2.0 * tol * w, "{}: {} vs oracle {}", isa, s, o);
                }
                for (i, row) in rows.chunks_exact(d).enumerate() {
                    let alone = sums_with(isa, row, d, &tile, &order, &segments, k);
                    for c in 0..k {
                        prop_assert_eq!(alone[c].to_bits(), sums[i * k + c].to_bits(), "{} row {}", isa, i);
                    }
                }
            }
        }
    }
}

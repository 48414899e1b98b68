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
//! The same generic body is compiled twice, plain and with AVX2 + FMA
//! (`#[target_feature]` on a wrapper, `#[inline(always)]` on the body), and the
//! CPU picks one at run time, as in `mmclust-kmeans`'s `lanes.rs`. Every row's
//! arithmetic is independent of which other rows share its block, so results
//! do not depend on block sizes or thread counts.

use std::sync::OnceLock;

/// Points per lane group.
pub(crate) const LANES: usize = 8;
/// Rows per register block (the body below is written out for four).
const ROWS: usize = 4;

/// A run of a sorted tile that belongs to one cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub(crate) code: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Packs the tile's rows (`data`, row-major, `d` columns) in the order `order`
/// into lane groups; returns the padded point count.
pub(crate) fn pack_tile(data: &[f32], d: usize, order: &[u32], packed: &mut Vec<f32>) -> usize {
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

fn has_avx2_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Name of the kernel variant this CPU runs ("avx2+fma" or "scalar").
#[must_use]
pub fn silhouette_kernel_name() -> &'static str {
    if has_avx2_fma() { "avx2+fma" } else { "scalar" }
}

/// Adds, for every row of `rows` (row-major, `d` columns) and every segment,
/// the sum of the row's Euclidean distances to the segment's points to
/// `sums[row * k + segment.code]`. `dist` is scratch of at least
/// `ROWS * padded` values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate(
    rows: &[f32],
    d: usize,
    packed: &[f32],
    padded: usize,
    segments: &[Segment],
    k: usize,
    sums: &mut [f64],
    dist: &mut Vec<f32>,
) {
    dist.resize(ROWS * padded, 0.0);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time above).
        unsafe { accumulate_avx2(rows, d, packed, padded, segments, k, sums, dist) };
        return;
    }
    accumulate_body::<false>(rows, d, packed, padded, segments, k, sums, dist);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn accumulate_avx2(
    rows: &[f32],
    d: usize,
    packed: &[f32],
    padded: usize,
    segments: &[Segment],
    k: usize,
    sums: &mut [f64],
    dist: &mut [f32],
) {
    // The same body, compiled with AVX2 + FMA: lane loops become ymm
    // operations, `mul_add` one fused instruction, `sqrt` one vsqrtps.
    accumulate_body::<true>(rows, d, packed, padded, segments, k, sums, dist);
}

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
#[allow(clippy::too_many_arguments)]
fn accumulate_body<const FMA: bool>(
    rows: &[f32],
    d: usize,
    packed: &[f32],
    padded: usize,
    segments: &[Segment],
    k: usize,
    sums: &mut [f64],
    dist: &mut [f32],
) {
    let n = rows.len() / d.max(1);
    let mut i = 0;
    while i < n {
        let nr = ROWS.min(n - i);
        // Rows past the end repeat the last row; their results are dropped.
        let row = |r: usize| &rows[(i + r.min(nr - 1)) * d..][..d];
        let (x0, x1, x2, x3) = (row(0), row(1), row(2), row(3));
        for (g, group) in packed.chunks_exact(d * LANES).enumerate() {
            let mut acc = [[0.0f32; LANES]; ROWS];
            for ((((c, &a), &b), &e), &f) in
                group.chunks_exact(LANES).zip(x0).zip(x1).zip(x2).zip(x3)
            {
                let c: &[f32; LANES] = c.try_into().expect("LANES values");
                step::<FMA>(&mut acc[0], a, c);
                step::<FMA>(&mut acc[1], b, c);
                step::<FMA>(&mut acc[2], e, c);
                step::<FMA>(&mut acc[3], f, c);
            }
            for (r, acc) in acc.iter().enumerate() {
                let o: &mut [f32; LANES] = (&mut dist[r * padded + g * LANES..][..LANES])
                    .try_into()
                    .expect("LANES values");
                for l in 0..LANES {
                    o[l] = acc[l].sqrt();
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
    use super::*;

    #[test]
    fn sums_match_direct_distances() {
        let d = 5;
        let n_rows = 7;
        let m = 13;
        let rows: Vec<f32> = (0..n_rows * d)
            .map(|i| ((i * 37) % 11) as f32 * 0.3 - 1.0)
            .collect();
        let tile: Vec<f32> = (0..m * d)
            .map(|i| ((i * 29) % 13) as f32 * 0.2 - 1.5)
            .collect();
        let codes: Vec<u32> = (0..m).map(|j| (j % 3) as u32).collect();
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
        let mut packed = Vec::new();
        let padded = pack_tile(&tile, d, &order, &mut packed);
        let mut sums = vec![0.0; n_rows * 3];
        let mut dist = Vec::new();
        accumulate(
            &rows, d, &packed, padded, &segments, 3, &mut sums, &mut dist,
        );
        for i in 0..n_rows {
            let mut want = [0.0f64; 3];
            for j in 0..m {
                let dd: f64 = (0..d)
                    .map(|p| f64::from(rows[i * d + p] - tile[j * d + p]).powi(2))
                    .sum();
                want[codes[j] as usize] += dd.sqrt();
            }
            for c in 0..3 {
                assert!((sums[i * 3 + c] - want[c]).abs() < 1e-5 * want[c].max(1.0));
            }
        }
        // The scalar body gives the same sums up to rounding of the FMA.
        let mut plain = vec![0.0; n_rows * 3];
        dist.resize(ROWS * padded, 0.0);
        accumulate_body::<false>(
            &rows, d, &packed, padded, &segments, 3, &mut plain, &mut dist,
        );
        for (a, b) in plain.iter().zip(&sums) {
            assert!((a - b).abs() < 1e-5 * a.abs().max(1.0));
        }
    }
}

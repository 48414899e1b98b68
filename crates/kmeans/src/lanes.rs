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

use std::sync::OnceLock;

/// Centres per lane group.
pub(crate) const LANES: usize = 8;

/// Centres transposed into groups of [`LANES`]: group g holds, for each column
/// p, the p-th value of centres 8g..8g+8 (padding lanes repeat the last centre).
#[derive(Debug, Clone)]
pub(crate) struct LaneCenters {
    d: usize,
    m: usize,
    groups: Vec<f32>,
}

impl LaneCenters {
    /// Packs `centers` (each of `d` values).
    pub(crate) fn new(centers: &[&[f32]], d: usize) -> Self {
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
    pub(crate) fn len(&self) -> usize {
        self.m
    }
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

/// `out[i * m + j]` = ‖row_i − c_j‖² for the rows of `x` (row-major, `d` columns)
/// and the `m` centres.
pub(crate) fn sq_dists(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    let n = x.len() / centers.d.max(1);
    debug_assert_eq!(out.len(), n * centers.m);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time above).
        unsafe { sq_dists_avx2(x, centers, out) };
        return;
    }
    sq_dists_body::<false>(x, centers, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sq_dists_avx2(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    // The same body, compiled with AVX2 + FMA: the lane loops become ymm
    // operations and `mul_add` a single fused instruction.
    sq_dists_body::<true>(x, centers, out);
}

/// Rows per block: independent accumulators to cover the FMA latency.
const ROWS: usize = 4; // the body below is written out for four rows

#[inline(always)]
fn sq_dists_body<const FMA: bool>(x: &[f32], centers: &LaneCenters, out: &mut [f32]) {
    let (d, m) = (centers.d, centers.m);
    let n = x.len() / d.max(1);
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
    for (g, group) in centers.groups.chunks_exact(d * LANES).enumerate() {
        let lanes = LANES.min(m - g * LANES);
        let mut i = 0;
        while i < n {
            let rows = ROWS.min(n - i);
            // Rows past the end repeat the last row; their results are dropped.
            let row = |r: usize| &x[(i + r.min(rows - 1)) * d..][..d];
            let (x0, x1, x2, x3) = (row(0), row(1), row(2), row(3));
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
    use super::*;

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
        let mut out = vec![0.0; 7 * 11];
        sq_dists(&x, &lanes, &mut out);
        for i in 0..7 {
            for j in 0..11 {
                let want: f64 = (0..d)
                    .map(|p| f64::from(x[i * d + p] - cs[j][p]).powi(2))
                    .sum();
                assert!((f64::from(out[i * 11 + j]) - want).abs() < 1e-4 * want.max(1.0));
            }
        }
        // Centre 9 alone gives the same bits as in lane 1 of group 1.
        let single = LaneCenters::new(&refs[9..10], d);
        let mut one = vec![0.0; 7];
        sq_dists(&x, &single, &mut one);
        for i in 0..7 {
            assert_eq!(one[i].to_bits(), out[i * 11 + 9].to_bits());
        }
    }
}

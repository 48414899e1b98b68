//! Portable path: plain loops the compiler can vectorise for the baseline target
//! (SSE2 on x86-64, NEON on aarch64). Used where no wider SIMD is detected and on
//! other architectures.

use super::PackedCenters;

const LANES: usize = 8;

/// `Σ f(a_p, b_p)` over 8 independent lanes, summed pairwise at the end.
#[inline]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ah, at) = a.split_at(a.len() / LANES * LANES);
    let (bh, bt) = b.split_at(ah.len());
    for (ca, cb) in ah.chunks_exact(LANES).zip(bh.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += f(ca[l], cb[l]);
        }
    }
    for (l, (&u, &v)) in at.iter().zip(bt).enumerate() {
        acc[l] += f(u, v);
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// Squared distance of two rows in `f32`, 8 lanes.
#[inline]
pub(super) fn dist_sq(a: &[f32], b: &[f32]) -> f32 {
    lane_sum(a, b, |u, v| {
        let t = u - v;
        t * t
    })
}

pub(super) fn row_norms_sq(x: &[f32], d: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(d).zip(out) {
        *o = lane_sum(row, row, |u, _| u * u);
    }
}

pub(super) fn assign(x: &[f32], centers: &PackedCenters, labels: &mut [u32], dist: &mut [f32]) {
    let d = centers.d();
    let norms = centers.norms_sq();
    for ((row, label), out) in x
        .chunks_exact(d)
        .zip(labels.iter_mut())
        .zip(dist.iter_mut())
    {
        let mut best = f32::INFINITY;
        let mut idx = 0u32;
        for (j, c) in centers.centers().chunks_exact(d).enumerate() {
            let v = norms[j] - 2.0 * lane_sum(row, c, |u, v| u * v);
            if v < best {
                best = v;
                idx = j as u32;
            }
        }
        if !best.is_finite() {
            idx = super::reference::nearest(row, centers.centers(), centers.k()).0;
        }
        *label = idx;
        *out = dist_sq(row, centers.center(idx as usize));
    }
}

//! The plain scalar assignment: the test oracle of the fast kernels.
//!
//! Direct `Σ_p (x_p − c_p)²` for every centre, accumulated in `f64`, lowest index
//! among ties. Slow (no blocking, no SIMD) and as accurate as it gets.

/// For each row `i` of `x` (`n = labels.len()` rows of `d` values):
/// `labels[i] = argmin_j ‖x_i − c_j‖²` (lowest `j` among exact ties, computed in
/// `f64`), `dist_sq[i]` that squared distance rounded to `f32`.
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

/// Squared distance between two rows, accumulated in `f64`.
#[must_use]
pub fn dist_sq_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&u, &v)| {
            let t = f64::from(u) - f64::from(v);
            t * t
        })
        .sum()
}

/// Nearest of the `k` row-major `centers` to `row`: index (lowest among ties)
/// and squared distance in `f64`. A row whose distances are all NaN gets 0.
pub(crate) fn nearest(row: &[f32], centers: &[f32], k: usize) -> (u32, f64) {
    let d = row.len();
    let mut best = f64::INFINITY;
    let mut idx = 0u32;
    let mut found = false;
    for (j, c) in centers.chunks_exact(d).take(k).enumerate() {
        let dist = dist_sq_f64(row, c);
        if !found || dist < best {
            if dist.is_nan() {
                continue;
            }
            best = dist;
            idx = j as u32;
            found = true;
        }
    }
    if !found {
        best = f64::NAN;
    }
    (idx, best)
}

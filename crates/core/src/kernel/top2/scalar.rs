//! The portable references of the nearest-two kernels: plain loops, the
//! oracle the AVX-512 kernels are tested against (bit for bit), and the AVX2
//! path (the same body compiled with FMA).

use super::{SUB, SubPanels, Top2};

/// The reference of [`super::decay_bounds`].
pub(super) fn decay_bounds(state: &mut [u32], per_row: usize, drift: &[f32], least: &mut [f32]) {
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
pub(super) unsafe fn nearest_two_fma(
    x: &[f32],
    rows: &[u32],
    centers: &SubPanels,
    out: &mut [Top2],
) {
    nearest_two(x, rows, centers, out);
}

/// The reference: one FMA chain per centre, in order, strict `<`.
#[inline(always)]
pub(super) fn nearest_two(x: &[f32], rows: &[u32], centers: &SubPanels, out: &mut [Top2]) {
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

/// The reference of [`super::translate_rows`]: differences, then the norm
/// summed in row order.
pub(super) fn translate_rows(
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
        let mut acc = 0.0f32;
        for ((v, &a), &m) in o.iter_mut().zip(&x[r as usize * d..][..d]).zip(mu) {
            *v = a - m;
            acc += *v * *v;
        }
        *nr = acc;
    }
}

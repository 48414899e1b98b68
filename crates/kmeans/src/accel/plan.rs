//! The plan of one bounded pass: what every chunk reads (drifts since the
//! last pass, separations, translated and packed centres).

use mmclust_core::kernel::PackedCenters;
use mmclust_core::kernel::certify::{FastBound, translation};
use mmclust_core::kernel::top2::SubPanels;

use super::Bounds;
use super::bounds::{ABS_EPS, down, up};
use super::groups::Groups;
use mmclust_core::kernel::lanes::{LaneCenters, sq_dists};

/// What every chunk of a bounded pass reads.
pub(super) struct PassPlan<'a> {
    pub(super) kind: Bounds,
    pub(super) t: usize,
    pub(super) first: bool,
    pub(super) centers: &'a [f32],
    pub(super) packed: &'a PackedCenters,
    pub(super) d: usize,
    pub(super) k: usize,
    pub(super) rel: f64,
    /// `(1 + rel)²·(1 + 1e-12)`.
    pub(super) rel_sq: f64,
    /// Per centre: half the distance to its nearest other centre, deflated.
    pub(super) half_sep: Vec<f32>,
    /// Hamerly: the largest drift and its centre, and the second largest
    /// (rounded up to `f32`).
    pub(super) max_drift: (f32, usize, f32),
    /// Yinyang: the largest drift of each group (rounded up to `f32`).
    pub(super) group_drift: Vec<f32>,
    pub(super) group_of: &'a [u32],
    pub(super) members: &'a [Vec<u32>],
    /// The translation point: the mean of the centres (`f32`).
    pub(super) mu: Vec<f32>,
    /// The error model of the translated centres' fast values.
    pub(super) bound: FastBound,
    /// Translated centres, all of them (Hamerly) or each group's (Yinyang),
    /// packed for [`nearest_two`].
    pub(super) panels: Vec<SubPanels>,
}

impl Groups {
    /// The per-pass quantities: drifts since the last pass, centre separations,
    /// translated and packed centres.
    pub(super) fn plan<'a>(
        &'a self,
        packed: &'a PackedCenters,
        k: usize,
        d: usize,
    ) -> PassPlan<'a> {
        let centers = packed.centers();
        let drift: Vec<f64> = match &self.prev {
            Some(prev) => (0..k)
                .map(|j| {
                    let a = &prev[j * d..(j + 1) * d];
                    let b = &centers[j * d..(j + 1) * d];
                    let s: f64 = a
                        .iter()
                        .zip(b)
                        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                        .sum();
                    // f64 arithmetic on f32 inputs: far below the f32 slack.
                    s.sqrt() * (1.0 + 1e-12)
                })
                .collect(),
            None => vec![0.0; k],
        };
        let mut max_drift = (0.0f64, usize::MAX, 0.0f64);
        for (j, &m) in drift.iter().enumerate() {
            if m > max_drift.0 {
                max_drift = (m, j, max_drift.0);
            } else if m > max_drift.2 {
                max_drift.2 = m;
            }
        }
        let mut group_drift = vec![0.0f64; self.t];
        for (j, &m) in drift.iter().enumerate() {
            let g = &mut group_drift[self.group_of[j] as usize];
            *g = g.max(m);
        }
        let rows: Vec<&[f32]> = centers.chunks_exact(d).collect();
        let all = LaneCenters::new(&rows, d);
        let rel = self.rel;
        let half_sep = half_separations(centers, k, d, &all, rel);
        // Translate by the centres' mean, so that the fast values' error,
        // relative to the norms, stays small next to the distances even for
        // data far from the origin.
        let mut shifted = Vec::new();
        let (mu, cmax) = translation(centers, d, &mut shifted);
        let panels = match self.kind {
            Bounds::Hamerly => vec![SubPanels::new(shifted.chunks_exact(d), d)],
            Bounds::Yinyang => self
                .members
                .iter()
                .map(|m| {
                    SubPanels::new(
                        m.iter()
                            .map(|&j| &shifted[j as usize * d..(j as usize + 1) * d]),
                        d,
                    )
                })
                .collect(),
        };
        PassPlan {
            kind: self.kind,
            t: self.t,
            first: self.prev.is_none(),
            centers,
            packed,
            d,
            k,
            rel,
            rel_sq: (1.0 + rel) * (1.0 + rel) * (1.0 + 1e-12),
            half_sep,
            max_drift: (up(max_drift.0), max_drift.1, up(max_drift.2)),
            group_drift: group_drift.into_iter().map(up).collect(),
            group_of: &self.group_of,
            members: &self.members,
            mu,
            bound: FastBound::f32_fma(d, cmax),
            panels,
        }
    }
}

/// Half the distance from each centre to its nearest other centre, as a safe
/// lower bound (Hamerly's `s`): a point nearer than that to its own centre
/// cannot be nearer to another.
fn half_separations(centers: &[f32], k: usize, d: usize, all: &LaneCenters, rel: f64) -> Vec<f32> {
    let block = (16_384 / k.max(1)).clamp(4, 256);
    let mut out = vec![0.0f32; block * k];
    let mut half = vec![f32::INFINITY; k];
    for (b, xs) in centers.chunks(block * d).enumerate() {
        let m = xs.len() / d;
        sq_dists(xs, all, &mut out[..m * k]);
        for r in 0..m {
            let i = b * block + r;
            let min = out[r * k..(r + 1) * k]
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &v)| v)
                .fold(f32::INFINITY, f32::min);
            if min.is_finite() {
                half[i] = down(0.5 * (f64::from(min).sqrt() * (1.0 - rel) - ABS_EPS));
            }
        }
    }
    half
}

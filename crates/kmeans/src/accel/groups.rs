//! Yinyang's centre groups: which group each centre belongs to, and what a
//! bounded run keeps besides its per-row buffer.

use super::Bounds;
use crate::error::Result;
use crate::params::{Init, KMeansParams};
use mmclust_core::kernel::reference;

/// Groups the k centres for Yinyang: a small K-means on them (Yinyang's
/// grouping: five iterations from k-means++) gives the groups' centres, then
/// each centre joins the nearest group that has room, nearest pairs first, so
/// that no group holds more than [`GROUP_CAP`] centres (one 16-lane register
/// of the kernel, see [`yinyang_groups`]). Numbered 0..t with no empty group.
pub(super) fn group_centers(
    centers: &[f32],
    k: usize,
    d: usize,
    seed: u64,
    cluster: impl FnOnce(&KMeansParams, &[f32]) -> Result<Vec<f32>>,
) -> Result<Vec<u32>> {
    let t = yinyang_groups(k);
    if t <= 1 {
        return Ok(vec![0; k]);
    }
    let params = KMeansParams::new(t)
        .init(Init::KMeansPlusPlus)
        .seed(seed ^ 0xBB67_AE85_84CA_A73B)
        .max_iter(5)
        .tol(0.0);
    let gc = &cluster(&params, centers)?;
    let mut pairs: Vec<(f64, u32, u32)> = Vec::with_capacity(k * t);
    for (j, c) in centers.chunks_exact(d).enumerate() {
        for (g, m) in gc.chunks_exact(d).enumerate() {
            pairs.push((reference::dist_sq(c, m), j as u32, g as u32));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut room = vec![GROUP_CAP; t];
    let mut labels = vec![u32::MAX; k];
    for (_, j, g) in pairs {
        if labels[j as usize] == u32::MAX && room[g as usize] > 0 {
            labels[j as usize] = g;
            room[g as usize] -= 1;
        }
    }
    // Renumber in order of first appearance, dropping empty groups.
    let mut map = vec![u32::MAX; t];
    let mut next = 0;
    Ok(labels
        .iter()
        .map(|&g| {
            let m = &mut map[g as usize];
            if *m == u32::MAX {
                *m = next;
                next += 1;
            }
            *m
        })
        .collect())
}

/// Most centres in a Yinyang group: the lanes of one kernel register.
const GROUP_CAP: usize = 16;

/// Yinyang's number of groups for k centres: ⌈k/16⌉, as few as hold them in
/// groups of at most [`GROUP_CAP`], so that each group fills one register of
/// the kernel. (The paper's k/10 groups leave a third of the lanes empty on
/// average; measured at d = 32, k = 100 and d = 16, k = 1000, k/16 took 3 %
/// and 8 % less CPU time than k/12, k/12 10 % less than k/8.)
fn yinyang_groups(k: usize) -> usize {
    k.div_ceil(GROUP_CAP).max(1)
}

/// Everything of a [`BoundState`] but the per-row buffer.
pub(super) struct Groups {
    pub(super) kind: Bounds,
    /// Lower bounds per row (1, or the number of groups).
    pub(super) t: usize,
    /// The centres of the previous pass (none before the first).
    pub(super) prev: Option<Vec<f32>>,
    /// Group of each centre.
    pub(super) group_of: Vec<u32>,
    /// Centres of each group, ascending.
    pub(super) members: Vec<Vec<u32>>,
    /// Relative slack of a distance (sqrt space).
    pub(super) rel: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    use mmclust_core::ArraySource;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The grouping through the engine's in-memory entry gives the groups it
    /// got from the public fit, which it called before.
    #[test]
    fn grouping_matches_the_public_fit() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &(k, d) in &[(100, 8), (40, 3), (17, 1), (300, 20)] {
            let centers: Vec<f32> = (0..k * d).map(|_| rng.gen_range(-20.0..20.0)).collect();
            let internal = group_centers(&centers, k, d, 5, |p, pts| {
                Ok(crate::engine::fit_points(p, pts, d, None)?.centers)
            })
            .unwrap();
            let public = group_centers(&centers, k, d, 5, |p, pts| {
                Ok(p.fit(&ArraySource::from_slice(pts, k, d)?)?.centers)
            })
            .unwrap();
            assert_eq!(internal, public, "k={k} d={d}");
            assert!(internal.iter().all(|&g| (g as usize) < yinyang_groups(k)));
        }
    }
}

//! Initial centres: random rows, greedy k-means++, k-means‖, a sample, or given.
//!
//! Every random choice comes from the run's own seed: sequential draws on the
//! calling thread, or (k-means‖'s per-point coin flips) a counter-based hash of
//! (seed, round, row). Nothing depends on the thread count.

use mmclust_core::DataSource;
use mmclust_core::kernel::PackedCenters;
use mmclust_core::kernel::lanes::{LaneCenters, min_with_reference, sq_dists};
use mmclust_core::parallel::{
    Chunking, PassOptions, gather_rows, map_reduce_global, map_reduce_into_global, pass_chunks,
};
use mmclust_core::scratch::{RowBuffer, ScratchConfig};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{KMeansError, Result};
use crate::pass::{assign, read_row, with_workspace};

/// What the initialisations need to read the data.
pub(crate) struct Ctx<'a, S: ?Sized> {
    pub(crate) source: &'a S,
    pub(crate) chunking: Chunking,
    pub(crate) weights: Option<&'a [f32]>,
    pub(crate) scratch: &'a ScratchConfig,
}

impl<S: DataSource + ?Sized> Ctx<'_, S> {
    fn weight(&self, row: usize) -> f64 {
        self.weights.map_or(1.0, |w| f64::from(w[row]))
    }

    /// One row, chosen with probability proportional to its weight.
    fn weighted_row(&self, rng: &mut ChaCha8Rng) -> usize {
        let n = self.source.n_rows();
        match self.weights {
            None => rng.gen_range(0..n),
            Some(w) => {
                let total: f64 = w.iter().map(|&v| f64::from(v)).sum();
                let target = rng.r#gen::<f64>() * total;
                let mut acc = 0.0;
                let mut last_positive = 0;
                for (i, &v) in w.iter().enumerate() {
                    if v > 0.0 {
                        last_positive = i;
                        acc += f64::from(v);
                        if acc > target {
                            return i;
                        }
                    }
                }
                last_positive
            }
        }
    }

    /// The rows `rows`, on every process (collective over node-local
    /// shards: every process asks for the same rows).
    fn rows(&self, rows: &[usize]) -> Result<Vec<f32>> {
        Ok(gather_rows(self.source, rows)?)
    }
}

/// `k` distinct rows chosen uniformly (or, with weights, with probability
/// proportional to weight) without replacement.
pub(crate) fn random<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f32>> {
    let n = ctx.source.n_rows();
    let rows: Vec<usize> = match ctx.weights {
        None => rand::seq::index::sample(rng, n, k).into_vec(),
        Some(w) => {
            let positive = w.iter().filter(|&&v| v > 0.0).count();
            if positive < k {
                return Err(KMeansError::param(
                    "weights",
                    format!(
                        "only {positive} rows have a positive weight; k = {k} needs at least k"
                    ),
                ));
            }
            rand::seq::index::sample_weighted(rng, n, |i| f64::from(w[i]), k)
                .map_err(|e| KMeansError::param("weights", e.to_string()))?
                .into_vec()
        }
    };
    ctx.rows(&rows)
}

/// The most bytes (as f32) that [`Init::Sample`](crate::Init::Sample) holds in memory: 256 MiB.
pub const SAMPLE_MAX_BYTES: usize = 256 << 20;

/// The rows [`Init::Sample`](crate::Init::Sample) draws for n rows of d columns and k clusters:
/// `rows_per_centre · k`, at most [`SAMPLE_MAX_BYTES`] of f32 (but never
/// fewer than k), at most n.
#[must_use]
pub fn sample_size(n: usize, d: usize, k: usize, rows_per_centre: usize) -> usize {
    let cap = (SAMPLE_MAX_BYTES / (4 * d.max(1))).max(k);
    rows_per_centre.saturating_mul(k).min(cap).min(n)
}

/// [`Init::Sample`](crate::Init::Sample)'s rows: a uniform sample without
/// replacement of [`sample_size`] rows, read in row order
/// (random access, no pass), with their sample weights. Returns the rows
/// (m × d) and their weights (`None` without sample weights).
pub(crate) fn sample<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    k: usize,
    rows_per_centre: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    let (n, d) = (ctx.source.n_rows(), ctx.source.n_cols());
    let m = sample_size(n, d, k, rows_per_centre);
    let mut rows = rand::seq::index::sample(rng, n, m).into_vec();
    rows.sort_unstable();
    let points = if ctx.source.node_layout().is_some() {
        // Node-local shards: each process reads the rows it holds.
        let points = gather_rows(ctx.source, &rows)?;
        if let Some(pos) = points.iter().position(|v| !v.is_finite()) {
            return Err(mmclust_core::CoreError::NonFinite {
                source_name: ctx.source.name(),
                count: points.iter().filter(|v| !v.is_finite()).count() as u64,
                row: rows[pos / d.max(1)],
                col: pos % d.max(1),
            }
            .into());
        }
        points
    } else {
        mmclust_core::batches::read_rows(ctx.source, &rows)?
    };
    let weights = ctx.weights.map(|w| rows.iter().map(|&r| w[r]).collect());
    Ok((points, weights))
}

/// One pass of k-means++: folds `fold` (the centre chosen last) into the
/// distance store `d2`, then returns for each chunk its potential
/// Σ w·d2 (index 0) and for each trial centre t the potential Σ w·min(d2, ‖x−t‖²)
/// (index 1 + t).
fn plus_plus_pass<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    d2: &mut [f32],
    fold: &[f32],
    trials: &[Vec<f32>],
) -> Result<Vec<Vec<f64>>> {
    let mut all: Vec<&[f32]> = vec![fold];
    all.extend(trials.iter().map(Vec::as_slice));
    let lanes = LaneCenters::new(&all, ctx.source.n_cols());
    let m = lanes.len();
    let per_chunk = map_reduce_into_global(
        ctx.source,
        ctx.chunking,
        PassOptions::default(),
        d2,
        1,
        |chunk, d2| {
            let mut dist = vec![0.0f32; chunk.n_rows * m];
            sq_dists(chunk.data, &lanes, &mut dist);
            let mut pots = vec![0.0f64; m];
            let w = ctx
                .weights
                .map(|w| &w[chunk.start_row..chunk.start_row + chunk.n_rows]);
            for (i, (d2, dist)) in d2.iter_mut().zip(dist.chunks_exact(m)).enumerate() {
                let wi = w.map_or(1.0, |w| f64::from(w[i]));
                let x = chunk.row(i);
                let best = min_with_reference(dist[0], *d2, x, fold);
                *d2 = best;
                pots[0] += wi * f64::from(best);
                for ((pot, &dt), t) in pots[1..].iter_mut().zip(&dist[1..]).zip(trials) {
                    *pot += wi * f64::from(min_with_reference(dt, best, x, t));
                }
            }
            Ok(vec![pots])
        },
        |mut a, b| {
            a.extend(b);
            a
        },
    )?;
    Ok(per_chunk.unwrap_or_default())
}

/// Finds, for each of the sorted `targets` in [0, total potential), the row at
/// which the running sum of w·min(d2, ‖x − fold‖²) first exceeds it. `chunk_pot`
/// holds each chunk's total of that quantity, computed by [`plus_plus_pass`]
/// with the same distance arithmetic.
fn sample_rows<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    d2: &[f32],
    fold: &[f32],
    chunk_pot: &[f64],
    targets: &[f64],
) -> Result<Vec<usize>> {
    let lanes = LaneCenters::new(&[fold], ctx.source.n_cols());
    // In a distributed run `d2` holds only this process's rows: the process
    // that owns a target's chunk finds its row, and the picks are summed (each
    // target has exactly one non-zero contribution, so the sum is exact).
    // `chunk_pot` lists the pass's chunks in merge order (`pass_chunks`).
    let comm = ctx.source.comm();
    let (ranges, mine) = pass_chunks(ctx.source, ctx.chunking);
    let mut rows = Vec::with_capacity(targets.len());
    let mut scratch = Vec::new();
    let mut dist = Vec::new();
    let mut chunk = 0;
    let mut before = 0.0f64; // potential of chunks before `chunk`
    let mut loaded = usize::MAX;
    for &target in targets {
        while chunk + 1 < chunk_pot.len() && before + chunk_pot[chunk] <= target {
            before += chunk_pot[chunk];
            chunk += 1;
        }
        let range = ranges[chunk].clone();
        if !mine.contains(&chunk) {
            rows.push(0);
            continue;
        }
        if loaded != chunk {
            let data = ctx.source.rows(range.clone(), &mut scratch)?;
            dist.resize(range.len(), 0.0);
            sq_dists(data, &lanes, &mut dist);
            // Each row's potential share: min(d2, D(x, fold)).
            let d = ctx.source.n_cols();
            for ((v, x), &d2) in dist
                .iter_mut()
                .zip(data.chunks_exact(d))
                .zip(&d2[range.clone()])
            {
                *v = min_with_reference(*v, d2, x, fold);
            }
            loaded = chunk;
        }
        let mut acc = before;
        let mut pick = None;
        let mut last_positive = None;
        for (i, &dx) in dist.iter().enumerate() {
            let row = range.start + i;
            let p = ctx.weight(row) * f64::from(dx);
            if p > 0.0 {
                last_positive = Some(row);
                acc += p;
                if acc > target {
                    pick = Some(row);
                    break;
                }
            }
        }
        // Rounding can leave the target just past the chunk's last point.
        rows.push(pick.or(last_positive).unwrap_or(range.start));
    }
    if let Some(comm) = comm.filter(|c| c.size() > 1) {
        let mut buf: Vec<f64> = rows.iter().map(|&r| r as f64).collect();
        comm.sum_f64(&mut buf)?;
        rows = buf.iter().map(|&r| r as usize).collect();
    }
    Ok(rows)
}

/// Greedy k-means++ (scikit-learn's variant): each new centre is the best, by
/// the potential it leaves, of `2 + ⌊ln k⌋` candidates drawn with probability
/// proportional to w·D². Returns the centres and how many were chosen before
/// every point coincided with a chosen centre (fewer distinct points than k).
pub(crate) fn plus_plus<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, usize)> {
    let n = ctx.source.n_rows();
    let n_trials = 2 + (k as f64).ln().floor() as usize;
    let mut d2 = RowBuffer::<f32>::new(n, f32::INFINITY, ctx.scratch)?;
    let first = ctx.weighted_row(rng);
    let mut centers = read_row(ctx.source, first)?;
    let mut distinct = 1;
    // Folds the first centre in and gives the potentials per chunk.
    let mut chunk_pot: Vec<f64> = plus_plus_pass(ctx, d2.as_mut_slice(), &centers, &[])?
        .into_iter()
        .map(|p| p[0])
        .collect();
    // The centre chosen last. It is folded into `d2` by the next pass; until
    // then, sampling folds it on the fly. (Folding the first centre again is a
    // no-op: d2 is already at most its distance.)
    let mut last = centers.clone();
    for _ in 1..k {
        let total: f64 = chunk_pot.iter().sum();
        if total <= 0.0 {
            // Every point sits on a chosen centre: fill up with random rows.
            let row = rng.gen_range(0..n);
            centers.extend(read_row(ctx.source, row)?);
            continue;
        }
        let targets: Vec<f64> = (0..n_trials).map(|_| rng.r#gen::<f64>() * total).collect();
        let mut order: Vec<usize> = (0..n_trials).collect();
        order.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]));
        let sorted: Vec<f64> = order.iter().map(|&i| targets[i]).collect();
        let picked_sorted = sample_rows(ctx, d2.as_slice(), &last, &chunk_pot, &sorted)?;
        // Back to draw order: ties between candidates go to the earlier draw.
        let mut picked = vec![0; n_trials];
        for (slot, &i) in order.iter().enumerate() {
            picked[i] = picked_sorted[slot];
        }
        let trials: Vec<Vec<f32>> = picked
            .iter()
            .map(|&r| read_row(ctx.source, r))
            .collect::<Result<_>>()?;
        let per_chunk = plus_plus_pass(ctx, d2.as_mut_slice(), &last, &trials)?;
        let pots: Vec<f64> = (0..n_trials)
            .map(|t| per_chunk.iter().map(|c| c[1 + t]).sum())
            .collect();
        let best = (0..n_trials)
            .min_by(|&a, &b| pots[a].total_cmp(&pots[b]).then(a.cmp(&b)))
            .expect("at least two trials");
        chunk_pot = per_chunk.iter().map(|c| c[1 + best]).collect();
        last.clone_from(&trials[best]);
        centers.extend_from_slice(&last);
        distinct += 1;
    }
    Ok((centers, distinct))
}

/// A uniform number in [0, 1) from (seed, round, row): SplitMix64 finalisers,
/// so every point's coin is independent of which thread flips it.
fn coin(seed: u64, round: u64, row: u64) -> f64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let h = mix(mix(seed ^ round.wrapping_mul(0xD1B5_4A32_D192_ED03)) ^ row);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Folds new candidate centres into the distance store; returns Σ w·d2.
fn fold_candidates<S: DataSource + ?Sized>(
    ctx: &Ctx<'_, S>,
    d2: &mut [f32],
    candidates: &PackedCenters,
) -> Result<f64> {
    let phi = map_reduce_into_global(
        ctx.source,
        ctx.chunking,
        PassOptions::default(),
        d2,
        1,
        |chunk, d2| {
            Ok(with_workspace(|ws| {
                assign(&chunk, candidates, ws);
                let mut phi = 0.0;
                for (i, (d2, &dist)) in d2.iter_mut().zip(&ws.dist).enumerate() {
                    *d2 = d2.min(dist);
                    phi += ctx.weight(chunk.start_row + i) * f64::from(*d2);
                }
                phi
            }))
        },
        |a, b| a + b,
    )?;
    Ok(phi.unwrap_or(0.0))
}

/// k-means‖ (Bahmani et al. 2012): `rounds` passes each keep every point with
/// probability min(1, ℓ·w·D²/φ) (ℓ = `oversampling` × k), then the candidates,
/// weighted by the points nearest to them, are reduced to k centres by a
/// weighted k-means++ and Lloyd in memory (`reduce`).
pub(crate) fn parallel<S, F>(
    ctx: &Ctx<'_, S>,
    k: usize,
    rounds: usize,
    oversampling: f64,
    seed: u64,
    rng: &mut ChaCha8Rng,
    reduce: F,
) -> Result<Vec<f32>>
where
    S: DataSource + ?Sized,
    F: FnOnce(&[f32], &[f32]) -> Result<Vec<f32>>,
{
    let n = ctx.source.n_rows();
    let d = ctx.source.n_cols();
    let ell = oversampling * k as f64;
    let first = ctx.weighted_row(rng);
    let mut candidates = read_row(ctx.source, first)?;
    let mut chosen = vec![first];
    let mut d2 = RowBuffer::<f32>::new(n, f32::INFINITY, ctx.scratch)?;
    let mut phi = fold_candidates(
        ctx,
        d2.as_mut_slice(),
        &PackedCenters::new(&candidates, 1, d)?,
    )?;
    for round in 0..rounds {
        if phi <= 0.0 {
            break;
        }
        let store = d2.as_slice();
        let picked = map_reduce_global(
            ctx.source,
            ctx.chunking,
            PassOptions::default(),
            |chunk| {
                let mut rows = Vec::new();
                for i in 0..chunk.n_rows {
                    let row = chunk.start_row + i;
                    let p = ell * ctx.weight(row) * f64::from(store[row]) / phi;
                    if p > 0.0 && coin(seed, round as u64, row as u64) < p {
                        rows.push(row);
                    }
                }
                Ok(rows)
            },
            |mut a, b| {
                a.extend(b);
                a
            },
        )?
        .unwrap_or_default();
        if picked.is_empty() {
            continue;
        }
        let new = ctx.rows(&picked)?;
        chosen.extend_from_slice(&picked);
        candidates.extend_from_slice(&new);
        phi = fold_candidates(
            ctx,
            d2.as_mut_slice(),
            &PackedCenters::new(&new, picked.len(), d)?,
        )?;
    }
    drop(d2);
    let m = chosen.len();
    if m <= k {
        // Too few candidates (tiny or degenerate data): top up with random rows.
        let mut centers = candidates;
        while centers.len() < k * d {
            let row = rng.gen_range(0..n);
            centers.extend(read_row(ctx.source, row)?);
        }
        return Ok(centers);
    }
    // Weight of each candidate: the total weight of the points nearest to it.
    let packed = PackedCenters::new(&candidates, m, d)?;
    let cand_weight = map_reduce_global(
        ctx.source,
        ctx.chunking,
        PassOptions::default(),
        |chunk| {
            Ok(with_workspace(|ws| {
                assign(&chunk, &packed, ws);
                let mut w = vec![0.0f64; m];
                for i in 0..chunk.n_rows {
                    w[ws.labels[i] as usize] += ctx.weight(chunk.start_row + i);
                }
                w
            }))
        },
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        },
    )?
    .unwrap_or_default();
    let cand_weight: Vec<f32> = cand_weight.iter().map(|&w| w as f32).collect();
    reduce(&candidates, &cand_weight)
}

/// Checks given initial centres: k × d, finite.
pub(crate) fn given(centers: &[f32], k: usize, d: usize) -> Result<Vec<f32>> {
    if centers.len() != k * d {
        return Err(KMeansError::param(
            "init",
            format!(
                "given centres hold {} values; k = {k} centres of d = {d} columns need {}",
                centers.len(),
                k * d
            ),
        ));
    }
    if let Some(i) = centers.iter().position(|v| !v.is_finite()) {
        return Err(KMeansError::param(
            "init",
            format!(
                "given centre {} has a non-finite value in column {}",
                i / d,
                i % d
            ),
        ));
    }
    Ok(centers.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coins_are_uniform_enough_and_reproducible() {
        let mean: f64 = (0..100_000).map(|r| coin(7, 1, r)).sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert_eq!(coin(7, 1, 5).to_bits(), coin(7, 1, 5).to_bits());
        assert_ne!(coin(7, 1, 5).to_bits(), coin(7, 2, 5).to_bits());
    }
}

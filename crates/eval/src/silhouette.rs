//! The silhouette (Rousseeuw 1987), exact or estimated from a sample.
//!
//! For a row i of cluster A, a(i) is its mean distance to the other members of
//! A and b(i) the smallest mean distance to the members of another cluster;
//! s(i) = (b − a) / max(a, b), and 0 for a row alone in its cluster
//! (scikit-learn's `silhouette_samples`, Euclidean distances; with
//! [`Metric::Cosine`], its `metric="cosine"`: the distance 1 − cos(x, y),
//! computed as ½‖x̂ − ŷ‖² on rows normalised as they are read, a row of
//! zeros an error naming it).
//!
//! **Exact**: every row against every row, O(n²·d) work but O(n) memory: rows
//! go in blocks (sized from the `working_memory` budget, never n × n) through
//! fixed tiles of the data (sized from d alone); per block only a
//! block × k table of per-cluster distance sums is live. Blocks run in
//! parallel; each row's sums are accumulated in a fixed order (tile by tile,
//! cluster run by cluster run), so every value is bitwise the same whatever
//! the thread count or the budget.
//!
//! **Sampled** (`sample = Some(m)`): m rows drawn uniformly without
//! replacement, each scored exactly against *all* n rows, in O(m·n·d). The mean
//! of their values is an unbiased estimate of the full mean silhouette, with
//! standard error sd(s)/√m · √(1 − m/n). This differs from scikit-learn's
//! `sample_size`, which scores the sample against itself only (a biased
//! estimate for small samples).
//!
//! **Distributed** (a source shared between MPI processes,
//! [`DataSource::comm`]): the scored rows (all, or the sample) are split into
//! one contiguous range per process; each process scores its range against
//! every row of the shared file, and the values are gathered in row order on
//! every process. A value does not depend on which process computes it, and
//! the sums over values are then taken as in one process: the same bits.

use mmclust_core::isa::Isa;
use mmclust_core::kernel::silhouette::{
    PairDistance, Segment, Tile, accumulate_distance_with, pack_tile, sort_by_cluster,
};
use mmclust_core::normalize::Normalized;
use mmclust_core::parallel::{AllReduce, Chunking, PassOptions, map_reduce_into};
use mmclust_core::source::RowRange;
use mmclust_core::{ArraySource, DataSource};
use mmclust_kmeans::Metric;
use rand::SeedableRng;

use crate::error::{EvalError, Result};
use crate::labels::Labels;

/// Default working-memory budget of the exact silhouette (64 MiB).
pub const DEFAULT_WORKING_MEMORY: usize = 64 << 20;

/// Options of a silhouette computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilhouetteParams {
    /// Bytes of scratch all workers together may use (per-block tables and
    /// tiles; the O(n) labels and results are not counted). At least 1 MiB.
    pub working_memory: usize,
    /// Score only this many rows drawn at random (against all rows).
    pub sample: Option<usize>,
    /// Seed of the sample.
    pub seed: u64,
    /// Euclidean distances (default), or cosine distances 1 − cos.
    pub metric: Metric,
}

impl Default for SilhouetteParams {
    fn default() -> Self {
        SilhouetteParams {
            working_memory: DEFAULT_WORKING_MEMORY,
            sample: None,
            seed: 0,
            metric: Metric::Euclidean,
        }
    }
}

/// Silhouette values and their summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Silhouette {
    /// s(i) of every scored row (all rows, or the sample in row order).
    pub values: Vec<f64>,
    /// The scored rows' indices when sampled (`None`: all rows, in order).
    pub rows: Option<Vec<usize>>,
    /// Cluster code (see [`Labels`]) of every scored row.
    pub codes: Vec<u32>,
    /// Mean of `values`: the silhouette score (or its estimate).
    pub mean: f64,
    /// Standard error of `mean` as an estimate of the full score (sampled only).
    pub std_error: Option<f64>,
    /// Mean of the scored values of each cluster (NaN for a cluster with none scored).
    pub cluster_means: Vec<f64>,
    /// Scored rows per cluster.
    pub cluster_scored: Vec<u64>,
    /// Rows of the data.
    pub n_rows: usize,
}

/// Rows of a tile for `d` columns: about 64 KiB of packed points (stays in L2),
/// a multiple of the lane width, 64 to 2048. A function of d only: the order
/// of every row's additions depends on it.
fn tile_rows(d: usize) -> usize {
    ((64 * 1024) / (4 * d.max(1)) / 8 * 8).clamp(64, 2048)
}

/// Every tile's points sorted by cluster, as runs of one cluster each.
struct TilePlan {
    tile_rows: usize,
    order: Vec<u32>,
    segments: Vec<Vec<Segment>>,
}

impl TilePlan {
    fn new(codes: &[u32], tile_rows: usize) -> Self {
        let n = codes.len();
        let mut order = Vec::with_capacity(n);
        let mut segments = Vec::new();
        for start in (0..n).step_by(tile_rows) {
            let end = (start + tile_rows).min(n);
            let (local, segs) = sort_by_cluster(&codes[start..end]);
            order.extend_from_slice(&local);
            segments.push(segs);
        }
        TilePlan {
            tile_rows,
            order,
            segments,
        }
    }
}

/// The silhouette of `labels` on `source` (see the module docs).
///
/// # Errors
/// [`EvalError::Labels`] for a label count that is not the row count or fewer
/// than 2 or more than n − 1 clusters; [`EvalError::InvalidParameter`] for a
/// sample of 0 rows or a budget under 1 MiB; read errors of the source; an
/// invalid `MMCLUST_ISA` ([`mmclust_core::CoreError::Isa`]).
pub fn silhouette<S: DataSource + ?Sized>(
    source: &S,
    labels: &Labels,
    params: &SilhouetteParams,
    options: PassOptions<'_>,
) -> Result<Silhouette> {
    Isa::process_default()?;
    match params.metric {
        Metric::Euclidean => silhouette_of(source, labels, params, options),
        Metric::Cosine => silhouette_of(&Normalized::new(source), labels, params, options),
    }
}

/// [`silhouette`] on `source` as it is read (normalised already for cosine).
fn silhouette_of<S: DataSource + ?Sized>(
    source: &S,
    labels: &Labels,
    params: &SilhouetteParams,
    options: PassOptions<'_>,
) -> Result<Silhouette> {
    let (n, d, k) = (source.n_rows(), source.n_cols(), labels.k());
    labels.check_len(n, &source.name())?;
    labels.check_cluster_count()?;
    if params.working_memory < (1 << 20) {
        return Err(EvalError::param(
            "working_memory",
            format!(
                "{} bytes is too small; give at least 1 MiB",
                params.working_memory
            ),
        ));
    }
    let codes = labels.codes();
    let plan = TilePlan::new(codes, tile_rows(d));

    let sample = match params.sample {
        Some(0) => return Err(EvalError::param("sample", "must be at least 1 row")),
        Some(m) if m < n => Some(m),
        _ => None,
    };
    let comm = source.comm().filter(|c| c.size() > 1);
    let (values, rows) = match sample {
        None => {
            let mine = share(n, comm);
            let part = RowRange::new(source, mine.clone())?;
            let v = score_rows(&part, &codes[mine], source, labels, &plan, params, options)?;
            (gather(comm, v)?, None)
        }
        Some(m) => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
            let mut idx = rand::seq::index::sample(&mut rng, n, m).into_vec();
            idx.sort_unstable();
            let mine = &idx[share(m, comm)];
            let mut data = Vec::with_capacity(mine.len() * d);
            let mut scratch = Vec::new();
            for &i in mine {
                data.extend_from_slice(source.rows(i..i + 1, &mut scratch)?);
            }
            let sample_src = ArraySource::from_slice(&data, mine.len(), d)?;
            let sample_codes: Vec<u32> = mine.iter().map(|&i| codes[i]).collect();
            let v = score_rows(
                &sample_src,
                &sample_codes,
                source,
                labels,
                &plan,
                params,
                options,
            )?;
            (gather(comm, v)?, Some(idx))
        }
    };
    let scored_codes: Vec<u32> = match &rows {
        Some(idx) => idx.iter().map(|&i| codes[i]).collect(),
        None => codes.to_vec(),
    };
    let m = values.len() as f64;
    let mean = values.iter().sum::<f64>() / m;
    let std_error = rows.as_ref().map(|_| {
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0);
        (var / m * (1.0 - m / n as f64)).sqrt()
    });
    let mut cluster_sum = vec![0.0; k];
    let mut cluster_scored = vec![0u64; k];
    for (&v, &c) in values.iter().zip(&scored_codes) {
        cluster_sum[c as usize] += v;
        cluster_scored[c as usize] += 1;
    }
    let cluster_means = cluster_sum
        .iter()
        .zip(&cluster_scored)
        .map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect();
    Ok(Silhouette {
        values,
        rows,
        codes: scored_codes,
        mean,
        std_error,
        cluster_means,
        cluster_scored,
        n_rows: n,
    })
}

/// This process's share of `m` scored rows: a contiguous range, the ranges
/// of processes 0, 1, … tiling `0..m` in order (all of them in one process).
fn share(m: usize, comm: Option<&dyn AllReduce>) -> std::ops::Range<usize> {
    let Some(c) = comm else { return 0..m };
    let at = |r: usize| (m as u128 * r as u128 / c.size() as u128) as usize;
    at(c.rank())..at(c.rank() + 1)
}

/// Every process's values, in rank order (so in row order), on every process.
fn gather(comm: Option<&dyn AllReduce>, mine: Vec<f64>) -> Result<Vec<f64>> {
    match comm {
        None => Ok(mine),
        Some(c) => Ok(c.all_gather_f64(&mine)?.concat()),
    }
}

/// s(i) for every row of `rows_src` (cluster codes `row_codes`) against all
/// rows of `all` (labelled by `labels`, tiled by `plan`).
fn score_rows<R, S>(
    rows_src: &R,
    row_codes: &[u32],
    all: &S,
    labels: &Labels,
    plan: &TilePlan,
    params: &SilhouetteParams,
    options: PassOptions<'_>,
) -> Result<Vec<f64>>
where
    R: DataSource + ?Sized,
    S: DataSource + ?Sized,
{
    let (n, d, k) = (all.n_rows(), all.n_cols(), labels.k());
    let counts = labels.counts();
    let t = plan.tile_rows;
    // Per worker: the tile (read + packed), 4 distance rows, and per block row
    // its k sums and its d values.
    let workers = rayon::current_num_threads().max(1);
    let fixed = t * d * 4 * 2 + 4 * (t + 8) * 4;
    let per_worker = params.working_memory / workers;
    let per_row = k * 8 + d * 4 + 8;
    let block = (per_worker.saturating_sub(fixed) / per_row).clamp(4, 4096) / 4 * 4;
    let mut out = vec![0.0f64; rows_src.n_rows()];
    let isa = Isa::current();
    let what = match params.metric {
        Metric::Euclidean => PairDistance::Euclidean,
        Metric::Cosine => PairDistance::HalfSquared,
    };
    map_reduce_into(
        rows_src,
        Chunking::with_rows(block)?,
        options,
        &mut out,
        1,
        |chunk, out| {
            let b = chunk.n_rows;
            let mut sums = vec![0.0f64; b * k];
            let mut tile_scratch = Vec::new();
            let mut packed = Vec::new();
            let mut dist = Vec::new();
            for (ti, start) in (0..n).step_by(t).enumerate() {
                let end = (start + t).min(n);
                let data = all.rows(start..end, &mut tile_scratch)?;
                let padded = pack_tile(data, d, &plan.order[start..end], &mut packed);
                let tile = Tile {
                    packed: &packed,
                    padded,
                    segments: &plan.segments[ti],
                };
                accumulate_distance_with(isa, what, chunk.data, d, tile, k, &mut sums, &mut dist);
            }
            let codes = &row_codes[chunk.start_row..chunk.start_row + b];
            for (r, o) in out.iter_mut().enumerate() {
                *o = silhouette_value(&sums[r * k..(r + 1) * k], codes[r] as usize, counts);
            }
            Ok(())
        },
        |(), ()| (),
    )?;
    Ok(out)
}

/// s from a row's per-cluster distance sums (its own zero distance included).
fn silhouette_value(sums: &[f64], own: usize, counts: &[u64]) -> f64 {
    if counts[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (counts[own] - 1) as f64;
    let b = sums
        .iter()
        .zip(counts)
        .enumerate()
        .filter(|&(j, (_, &c))| j != own && c > 0)
        .map(|(_, (&s, &c))| s / c as f64)
        .fold(f64::INFINITY, f64::min);
    let denom = a.max(b);
    if denom > 0.0 && denom.is_finite() {
        (b - a) / denom
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmclust_core::parallel::with_threads;

    fn blobs(n: usize, d: usize, k: usize) -> (Vec<f32>, Vec<i32>) {
        let mut x = Vec::with_capacity(n * d);
        let mut l = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            for p in 0..d {
                let noise = (((i * 7919 + p * 104_729) % 1000) as f32 / 1000.0 - 0.5) * 3.0;
                x.push(c as f32 * 2.0 + p as f32 * 0.1 + noise);
            }
            l.push(c as i32);
        }
        (x, l)
    }

    fn labelled_blobs(n: usize, d: usize, k: usize) -> (Vec<f32>, Labels) {
        let (x, l) = blobs(n, d, k);
        (x, Labels::new(&l).unwrap())
    }

    fn naive(x: &[f32], d: usize, labels: &Labels) -> Vec<f64> {
        let n = labels.len();
        let codes = labels.codes();
        (0..n)
            .map(|i| {
                let mut sums = vec![0.0; labels.k()];
                for j in 0..n {
                    let dd: f64 = (0..d)
                        .map(|p| (f64::from(x[i * d + p]) - f64::from(x[j * d + p])).powi(2))
                        .sum();
                    sums[codes[j] as usize] += dd.sqrt();
                }
                silhouette_value(&sums, codes[i] as usize, labels.counts())
            })
            .collect()
    }

    #[test]
    fn exact_matches_naive_and_is_thread_independent() {
        let (n, d, k) = (3001, 3, 4);
        let (x, labels) = labelled_blobs(n, d, k);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let p = SilhouetteParams::default();
        let one = with_threads(Some(1), || {
            silhouette(&src, &labels, &p, PassOptions::default())
        })
        .unwrap()
        .unwrap();
        let two = with_threads(Some(2), || {
            let small = SilhouetteParams {
                working_memory: 1 << 20,
                ..p
            };
            silhouette(&src, &labels, &small, PassOptions::default())
        })
        .unwrap()
        .unwrap();
        let bits = |s: &Silhouette| s.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two));
        assert_eq!(one.mean.to_bits(), two.mean.to_bits());
        let want = naive(&x, d, &labels);
        for (a, b) in one.values.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn sample_estimates_the_mean_within_its_error() {
        let (n, d, k) = (4000, 2, 3);
        let (x, labels) = labelled_blobs(n, d, k);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let run = |p: &SilhouetteParams| silhouette(&src, &labels, p, PassOptions::default());
        let exact = run(&SilhouetteParams::default()).unwrap();
        let est = run(&SilhouetteParams {
            sample: Some(500),
            seed: 3,
            ..SilhouetteParams::default()
        })
        .unwrap();
        let se = est.std_error.unwrap();
        assert!(se > 0.0);
        assert!(
            (est.mean - exact.mean).abs() < 4.0 * se,
            "{} vs {} ± {se}",
            est.mean,
            exact.mean
        );
        // Sampled rows carry their exact values.
        for (&i, &v) in est.rows.as_ref().unwrap().iter().zip(&est.values) {
            assert_eq!(v.to_bits(), exact.values[i].to_bits());
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (x, l) = blobs(10, 2, 2);
        let src = ArraySource::from_slice(&x, 10, 2).unwrap();
        let p = SilhouetteParams::default();
        let short = Labels::new(&l[..9]).unwrap();
        assert!(silhouette(&src, &short, &p, PassOptions::default()).is_err());
        let one = Labels::new(&[0i32; 10]).unwrap();
        assert!(silhouette(&src, &one, &p, PassOptions::default()).is_err());
        let labels = Labels::new(&l).unwrap();
        let tiny = SilhouetteParams {
            working_memory: 10,
            ..p
        };
        assert!(silhouette(&src, &labels, &tiny, PassOptions::default()).is_err());
    }
}

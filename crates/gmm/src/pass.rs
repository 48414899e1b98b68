//! The passes over the data: one EM iteration (E-step, log-likelihood and
//! sufficient statistics in one pass), the initial passes (hard assignment to
//! given centres, random responsibilities), and the per-row passes of a fitted
//! model. Each is a `map_reduce` over fixed chunks merged by the fixed tree:
//! bitwise identical on any thread count. No n × k matrix is ever stored.

use mmclust_core::DataSource;
use mmclust_core::fitting::map_rows_ordered;
use mmclust_core::parallel::{Chunk, Chunking, PassOptions, map_reduce_global};

#[cfg(target_arch = "x86_64")]
use crate::block;
use crate::error::Result;
use crate::mixture::{BLOCK_ROWS, Mixture, Stats, Workspace, normalise_rows};
use crate::params::{CovarianceType, Precision};
use crate::simd;

fn blocks<'a>(chunk: &Chunk<'a>) -> impl Iterator<Item = (&'a [f32], usize)> + use<'a> {
    let d = chunk.n_cols;
    chunk
        .data
        .chunks(BLOCK_ROWS * d)
        .map(move |b| (b, b.len() / d))
}

/// The E-step of `mix` (scalar kernels) over `chunk`, block by block: each
/// block's rows and row count, its responsibilities (m × k, normalised in
/// place; each row's log-likelihood pushed to `lse` when given), their
/// summed log-likelihood and the workspace go to `per_block`.
fn e_steps(
    mix: &Mixture,
    chunk: &Chunk<'_>,
    mut lse: Option<&mut Vec<f64>>,
    mut per_block: impl FnMut(&[f32], usize, &[f64], f64, &mut Workspace),
) {
    let k = mix.k;
    let mut ws = Workspace::new(k, mix.d);
    for (x, m) in blocks(chunk) {
        let mut lp = std::mem::take(&mut ws.lp);
        mix.log_prob_block(x, m, &mut ws, &mut lp[..m * k]);
        let ll = normalise_rows(&mut lp[..m * k], k, lse.as_deref_mut());
        per_block(x, m, &lp[..m * k], ll, &mut ws);
        ws.lp = lp;
    }
}

/// The statistics `add` gathers from each chunk into `zero()`, merged over
/// the source by the fixed tree (`zero()` for an empty source).
fn stats_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    zero: impl Fn() -> Stats + Sync,
    add: impl Fn(&Chunk<'_>, &mut Stats) -> mmclust_core::Result<()> + Sync,
) -> Result<Stats> {
    let merged = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut st = zero();
            add(&chunk, &mut st)?;
            Ok(st)
        },
        Stats::merge,
    )?;
    Ok(merged.unwrap_or_else(zero))
}

/// One EM iteration's pass: the log-likelihood of `mix` (summed) and the
/// statistics of its responsibilities about `mix`'s means; in `f32` where
/// `precision` asks for it, the process's path runs the `f32` kernels
/// (AVX-512) and [`block::single::Single::new`] (diag, spherical) or
/// [`block::single_matrix::SingleMatrix::new`] (full, tied) accepts the
/// mixture, else in `f64`: by the block kernels where the path has a tier of
/// them ([`block::tier`]), else by the portable kernels.
pub(crate) fn em_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    mix: &Mixture,
    precision: Precision,
) -> Result<(Stats, Precision)> {
    let (k, d) = (mix.k, mix.d);
    let zero = || Stats::new(mix.cov_type, k, d);
    #[cfg(target_arch = "x86_64")]
    if block::tier().is_some() {
        if let Some(single) = (precision == Precision::F32 && block::single::available())
            .then(|| block::single::Single::new(mix))
            .flatten()
        {
            let stats = stats_pass(source, chunking, options, zero, |chunk, st| {
                let mut ws = block::single::SingleScratch::new(&single);
                for row in (0..chunk.n_rows).step_by(block::single::BLOCK_ROWS) {
                    let m = (chunk.n_rows - row).min(block::single::BLOCK_ROWS);
                    st.loglik +=
                        block::single::em_block(&single, &chunk.data[row * d..], m, &mut ws);
                }
                block::single::finish(&single, &mut ws, st);
                Ok(())
            })?;
            return Ok((stats, Precision::F32));
        }
        if let Some(single) = (precision == Precision::F32 && block::single::available())
            .then(|| block::single_matrix::SingleMatrix::new(mix))
            .flatten()
        {
            use block::single_matrix::{MatrixScratch, em_block, finish};
            let stats = stats_pass(source, chunking, options, zero, |chunk, st| {
                let mut ws = MatrixScratch::new(&single);
                for row in (0..chunk.n_rows).step_by(block::single::BLOCK_ROWS) {
                    let m = (chunk.n_rows - row).min(block::single::BLOCK_ROWS);
                    st.loglik += em_block(&single, &chunk.data[row * d..], m, &mut ws);
                }
                finish(&single, &mut ws, st);
                Ok(())
            })?;
            return Ok((stats, Precision::F32));
        }
        let prep = block::Prepared::new(mix);
        let stats = stats_pass(source, chunking, options, zero, |chunk, st| {
            let mut ws = block::Scratch::new(&prep);
            // Each block with the rest of the chunk after it, which the
            // kernel prefetches.
            let mut row = 0;
            for (_, m) in blocks(chunk) {
                let ll = block::em_block(&prep, &chunk.data[row * d..], m, &mut ws);
                st.loglik += ll;
                row += m;
            }
            block::finish_chunk(&prep, &mut ws, st);
            Ok(())
        })?;
        return Ok((stats, Precision::F64));
    }
    let stats = stats_pass(source, chunking, options, zero, |chunk, st| {
        e_steps(mix, chunk, None, |x, m, resp, ll, ws| {
            st.loglik += ll;
            st.accumulate_block(mix.cov_type, x, m, k, d, resp, &mix.means, ws);
        });
        Ok(())
    })?;
    Ok((stats, Precision::F64))
}

/// How an initial pass gives each row its responsibilities.
#[derive(Clone, Copy)]
pub(crate) enum Responsibilities<'a> {
    /// All to the nearest of the shifts (squared Euclidean in f64, ties to
    /// the lowest index): a hard assignment, with the shifts as centres.
    Nearest,
    /// Uniform per (row, component) from `seed`, normalised per row.
    Random { seed: u64 },
    /// Row i of an n × k matrix (checked finite and ≥ 0 as read).
    Given(&'a (dyn DataSource + 'a)),
}

impl Responsibilities<'_> {
    /// Writes the m × k responsibilities `resp` of the block `x` (m rows of
    /// d) whose first row is `first_row` of the source.
    fn fill(
        self,
        first_row: usize,
        x: &[f32],
        shifts: &[f64],
        (k, d): (usize, usize),
        resp: &mut [f64],
        scratch: &mut Vec<f32>,
    ) -> mmclust_core::Result<()> {
        match self {
            Responsibilities::Given(given) => {
                let m = resp.len() / k;
                let rows = given.rows(first_row..first_row + m, scratch)?;
                for (i, (out, &v)) in resp.iter_mut().zip(rows).enumerate() {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(mmclust_core::CoreError::InvalidParameter {
                            name: "init responsibilities",
                            message: format!(
                                "{}: row {}, column {} (0-based) is {v}; responsibilities must \
                                 be finite and ≥ 0",
                                given.name(),
                                first_row + i / k,
                                i % k
                            ),
                        });
                    }
                    *out = f64::from(v);
                }
            }
            Responsibilities::Nearest => {
                // One-hot rows (the initial pass itself takes the sparse
                // route, `accumulate_hard`, to the same sums).
                let m = resp.len() / k;
                let mut labels = vec![0; m];
                simd::nearest_rows(x, m, d, &transpose_shifts(shifts, k, d), k, &mut labels);
                resp.fill(0.0);
                for (i, &l) in labels.iter().enumerate() {
                    resp[i * k + l as usize] = 1.0;
                }
            }
            Responsibilities::Random { seed } => {
                for (i, r) in resp.chunks_exact_mut(k).enumerate() {
                    let row = (first_row + i) as u64;
                    for (c, v) in r.iter_mut().enumerate() {
                        *v = uniform(seed, row, c as u64);
                    }
                    let s: f64 = r.iter().sum();
                    r.iter_mut().for_each(|v| *v /= s);
                }
            }
        }
        Ok(())
    }
}

/// An initial pass: the statistics about `shifts` (k × d) of the
/// responsibilities `given` gives every row.
pub(crate) fn init_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    cov_type: CovarianceType,
    shifts: &[f64],
    k: usize,
    given: Responsibilities<'_>,
) -> Result<Stats> {
    let d = source.n_cols();
    let zero = || Stats::new(cov_type, k, d);
    if let Responsibilities::Nearest = given {
        // Hard labels: each row's statistics go to its one component only.
        let shifts_t = transpose_shifts(shifts, k, d);
        return stats_pass(source, chunking, options, zero, |chunk, st| {
            let mut ws = Workspace::new(k, d);
            let mut labels = vec![0u32; BLOCK_ROWS];
            for (x, m) in blocks(chunk) {
                let labels = &mut labels[..m];
                simd::nearest_rows(x, m, d, &shifts_t, k, labels);
                st.accumulate_hard(cov_type, x, k, d, labels, shifts, &mut ws);
            }
            Ok(())
        });
    }
    stats_pass(source, chunking, options, zero, |chunk, st| {
        let mut ws = Workspace::new(k, d);
        let mut resp = vec![0.0f64; BLOCK_ROWS * k];
        let mut scratch = Vec::new();
        let mut row0 = chunk.start_row;
        for (x, m) in blocks(chunk) {
            let resp = &mut resp[..m * k];
            given.fill(row0, x, shifts, (k, d), resp, &mut scratch)?;
            st.accumulate_block(cov_type, x, m, k, d, resp, shifts, &mut ws);
            row0 += m;
        }
        Ok(())
    })
}

/// The k × d row-major `shifts` as [`simd::nearest_rows`] takes them:
/// d × kp, `kp = k` rounded up to whole lanes, the padding zero.
fn transpose_shifts(shifts: &[f64], k: usize, d: usize) -> Vec<f64> {
    let kp = k.div_ceil(simd::LANES) * simd::LANES;
    let mut t = vec![0.0; d * kp];
    for (c, row) in shifts.chunks_exact(d).take(k).enumerate() {
        for (p, &v) in row.iter().enumerate() {
            t[p * kp + c] = v;
        }
    }
    t
}

/// The nearest of the row-major centres to `row` (ties: lowest index): the
/// scalar definition [`simd::nearest_rows`] is tested against.
#[cfg(test)]
pub(crate) fn nearest(row: &[f32], centers: &[f64], d: usize) -> usize {
    let mut best = (f64::INFINITY, 0);
    for (j, c) in centers.chunks_exact(d).enumerate() {
        let dist: f64 = row
            .iter()
            .zip(c)
            .map(|(&x, &m)| {
                let t = f64::from(x) - m;
                t * t
            })
            .sum();
        if dist < best.0 {
            best = (dist, j);
        }
    }
    best.1
}

/// SplitMix64's finaliser: a good 64-bit mixing function.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in (0, 1) from (seed, row, component): the random
/// initial responsibilities, recomputable anywhere without shared state.
pub(crate) fn uniform(seed: u64, row: u64, component: u64) -> f64 {
    let h = mix64(mix64(seed ^ mix64(row)) ^ component.wrapping_mul(0xD1B5_4A32_D192_ED03));
    ((h >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Total log-likelihood of the rows under `mix` (no statistics).
pub(crate) fn loglik_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    mix: &Mixture,
) -> Result<f64> {
    #[cfg(target_arch = "x86_64")]
    if block::tier().is_some() {
        let prep = block::Prepared::new(mix);
        let total = map_reduce_global(
            source,
            chunking,
            options,
            |chunk| {
                let mut ws = block::Scratch::new(&prep);
                Ok(blocks(&chunk)
                    .map(|(x, m)| block::e_step(&prep, x, m, &mut ws))
                    .sum::<f64>())
            },
            |a, b| a + b,
        )?;
        return Ok(total.unwrap_or(0.0));
    }
    let total = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut total = 0.0;
            e_steps(mix, &chunk, None, |_, _, _, ll, _| total += ll);
            Ok(total)
        },
        |a, b| a + b,
    )?;
    Ok(total.unwrap_or(0.0))
}

/// Per-row results of a fitted mixture, streamed in row order: each chunk's
/// responsibilities (m × k) and per-row log-likelihoods go to `sink`.
pub(crate) fn rows_pass<S, F>(
    source: &S,
    options: PassOptions<'_>,
    mix: &Mixture,
    mut sink: F,
) -> Result<()>
where
    S: DataSource + ?Sized,
    F: FnMut(&[f64], &[f64]) -> Result<()>,
{
    let k = mix.k;
    #[cfg(target_arch = "x86_64")]
    let prep = block::tier().is_some().then(|| block::Prepared::new(mix));
    map_rows_ordered(
        source,
        options,
        |chunk| {
            let mut resp = Vec::with_capacity(chunk.n_rows * k);
            let mut lse = Vec::with_capacity(chunk.n_rows);
            #[cfg(target_arch = "x86_64")]
            if let Some(prep) = &prep {
                let mut ws = block::Scratch::new(prep);
                for (x, m) in blocks(&chunk) {
                    block::e_step(prep, x, m, &mut ws);
                    let ms = block::Scratch::stride(m);
                    for i in 0..m {
                        resp.extend((0..k).map(|c| ws.lp[c * ms + i]));
                    }
                    lse.extend_from_slice(&ws.lse[..m]);
                }
                return Ok((resp, lse));
            }
            e_steps(mix, &chunk, Some(&mut lse), |_, _, r, _, _| {
                resp.extend_from_slice(r);
            });
            Ok((resp, lse))
        },
        |(resp, lse)| sink(&resp, &lse),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `n × d` values in [−2, 2) from `seed`, some of them copies of
    /// the shifts (exact ties) and some duplicated shifts.
    fn data(seed: u64, n: usize, d: usize) -> Vec<f32> {
        (0..n * d)
            .map(|i| (4.0 * uniform(seed, i as u64, 0) - 2.0) as f32)
            .collect()
    }

    fn shifts_from(x: &[f32], k: usize, d: usize) -> Vec<f64> {
        let mut s: Vec<f64> = x[..k * d].iter().map(|&v| f64::from(v)).collect();
        // Two equal shifts: every row nearer them than the rest ties.
        if k > 3 {
            let (a, b) = s.split_at_mut(3 * d);
            b[..d].copy_from_slice(&a[d..2 * d]);
        }
        s
    }

    #[test]
    fn nearest_rows_gives_the_scalar_labels() {
        for &(k, d, m) in &[
            (1, 1, 1),
            (3, 5, 7),
            (8, 16, 128),
            (13, 3, 130),
            (17, 33, 61),
        ] {
            let x = data(k as u64, m, d);
            let shifts = shifts_from(&x, k.min(m), d);
            let k = k.min(m);
            let mut labels = vec![u32::MAX; m];
            simd::nearest_rows(&x, m, d, &transpose_shifts(&shifts, k, d), k, &mut labels);
            for (i, row) in x.chunks_exact(d).enumerate() {
                assert_eq!(
                    labels[i] as usize,
                    nearest(row, &shifts, d),
                    "k {k} d {d} row {i}"
                );
            }
        }
    }

    #[test]
    fn hard_statistics_equal_the_one_hot_ones_bit_for_bit() {
        let types = [
            CovarianceType::Full,
            CovarianceType::Tied,
            CovarianceType::Diag,
            CovarianceType::Spherical,
        ];
        for &(k, d, m) in &[(1, 2, 5), (5, 3, 128), (9, 11, 100), (16, 8, 128)] {
            let x = data(7 + d as u64, m, d);
            let shifts = shifts_from(&data(99, k, d), k, d);
            let mut labels = vec![0; m];
            simd::nearest_rows(&x, m, d, &transpose_shifts(&shifts, k, d), k, &mut labels);
            let mut resp = vec![0.0; m * k];
            Responsibilities::Nearest
                .fill(0, &x, &shifts, (k, d), &mut resp, &mut Vec::new())
                .unwrap();
            for (i, &l) in labels.iter().enumerate() {
                assert_eq!(resp[i * k + l as usize], 1.0);
            }
            for cov in types {
                let mut ws = Workspace::new(k, d);
                let (mut dense, mut hard) = (Stats::new(cov, k, d), Stats::new(cov, k, d));
                // Two blocks into the same sums, as a chunk adds them.
                for _ in 0..2 {
                    dense.accumulate_block(cov, &x, m, k, d, &resp, &shifts, &mut ws);
                    hard.accumulate_hard(cov, &x, k, d, &labels, &shifts, &mut ws);
                }
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dense.nk), bits(&hard.nk), "{cov:?} k {k} d {d}");
                assert_eq!(bits(&dense.s1), bits(&hard.s1), "{cov:?} k {k} d {d}");
                assert_eq!(bits(&dense.s2), bits(&hard.s2), "{cov:?} k {k} d {d}");
                assert!(hard.nk.iter().sum::<f64>() == 2.0 * m as f64);
            }
        }
    }
}

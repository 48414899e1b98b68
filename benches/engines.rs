//! Throughput of whole iterations: a Lloyd, Hamerly and Yinyang iteration, a
//! mini-batch step, an EM iteration per covariance type, and an exact
//! silhouette (blocked pairwise distances), over a small grid of n, d, k.
//!
//! Every case runs the public library API on blobs generated in memory, all
//! threads. Iteration cases time themselves with the engine's own iteration
//! clock (`iter_seconds / n_iter` of the fitted model, through criterion's
//! `iter_custom`), so initialisation, validation and the final inertia pass
//! are not counted:
//! - **lloyd**: mean over 3 iterations from the same given centres;
//!   throughput n·k·d elements per iteration (×2 for FLOP of the assignment).
//! - **hamerly / yinyang**: mean over the first 12 iterations from the same
//!   given centres (the first is a full pass, the rest skip by bounds), so the
//!   figure depends on how fast the data settles; same n·k·d throughput as
//!   Lloyd, so the ratio to the lloyd line is the speed-up.
//! - **minibatch**: mean step time over one epoch of 8192-row batches
//!   (256-row blocks); throughput batch·k·d.
//! - **em**: mean over 3 EM iterations from the same given means, per
//!   covariance type; throughput n·k·d elements.
//! - **silhouette**: one exact silhouette (all pairs) of given labels;
//!   throughput n²·d elements. Timed whole by criterion.
//!
//! `MMCLUST_BENCH_QUICK=1` shrinks the grid and the sampling so that every case
//! runs once or twice in seconds (CI runs it that way). Filter as usual:
//! `cargo bench --bench engines -- lloyd/`.

mod common;

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use mmclust_core::parallel::PassOptions;
use mmclust_core::source::ArraySource;
use mmclust_eval::{Labels, SilhouetteParams, silhouette};
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmParams};
use mmclust_kmeans::{Algorithm, Init, KMeansModel, KMeansParams, MiniBatchOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use common::{Sampling, quick};

/// Criterion's sampling under `MMCLUST_BENCH_QUICK`, and otherwise.
const QUICK: Sampling = Sampling::new(10, Duration::from_millis(1), Duration::from_millis(50));
const FULL: Sampling = Sampling::new(10, Duration::from_millis(500), Duration::from_secs(5));

/// Overlapping blobs: `k_true` centres uniform in [−spread, spread]^d, unit
/// normal noise. Returns the data and its generating labels.
fn blobs(n: usize, d: usize, k_true: usize, spread: f32, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..k_true * d)
        .map(|_| rng.gen_range(-spread..spread))
        .collect();
    let mut x = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k_true;
        labels.push(c as u32);
        for j in 0..d {
            let z: f32 = rng.sample(StandardNormal);
            x.push(centres[c * d + j] + z);
        }
    }
    (x, labels)
}

/// k rows spread over the data, as given initial centres.
fn first_rows(x: &[f32], n: usize, d: usize, k: usize) -> Vec<f32> {
    let step = n / k;
    (0..k)
        .flat_map(|j| x[j * step * d..(j * step + 1) * d].iter().copied())
        .collect()
}

/// (n, d, k) of the K-means and EM cases.
fn kmeans_grid() -> Vec<(usize, usize, usize)> {
    if quick() {
        vec![(20_000, 16, 16)]
    } else {
        vec![
            (200_000, 2, 16),
            (200_000, 32, 100),
            (100_000, 16, 1000),
            (50_000, 128, 100),
        ]
    }
}

fn gmm_grid() -> Vec<(usize, usize, usize)> {
    if quick() {
        vec![(10_000, 8, 4)]
    } else {
        vec![(200_000, 16, 16), (100_000, 32, 32)]
    }
}

/// A fitted model's own iteration clock: the seconds its iterations took,
/// and how many it ran.
trait IterationClock {
    fn iteration_clock(&self) -> (f64, usize);
}

impl IterationClock for KMeansModel {
    fn iteration_clock(&self) -> (f64, usize) {
        (self.iter_seconds, self.n_iter)
    }
}

impl IterationClock for GaussianMixtureModel {
    fn iteration_clock(&self) -> (f64, usize) {
        (self.iter_seconds, self.n_iter)
    }
}

/// Benchmarks `id` by iteration time, `elements` per iteration: each of
/// criterion's `iters` calls of `fit` counts the mean iteration time of the
/// model it returns.
fn bench_per_iteration<M: IterationClock>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    elements: usize,
    mut fit: impl FnMut() -> M,
) {
    group.throughput(Throughput::Elements(elements as u64));
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = 0.0;
            for _ in 0..iters {
                let (seconds, n_iter) = fit().iteration_clock();
                assert!(n_iter > 0, "the fit ran no iteration");
                total += seconds / n_iter as f64;
            }
            Duration::from_secs_f64(total)
        });
    });
}

fn bench_kmeans(c: &mut Criterion) {
    let mut group = common::group(c, "kmeans", QUICK, FULL);
    for (n, d, k) in kmeans_grid() {
        let (x, _) = blobs(n, d, k, 4.0, 7);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let cases = [
            ("lloyd", Algorithm::Lloyd, 3),
            ("hamerly", Algorithm::Hamerly, 12),
            ("yinyang", Algorithm::Yinyang, 12),
        ];
        for (name, algorithm, max_iter) in cases {
            let params = KMeansParams::new(k)
                .init(Init::Given(first_rows(&x, n, d, k)))
                .algorithm(algorithm)
                .max_iter(max_iter)
                .tol(0.0);
            let id = BenchmarkId::new(name, format!("n{n}_d{d}_k{k}"));
            bench_per_iteration(&mut group, id, n * k * d, || {
                params.fit(&src).expect("kmeans fit")
            });
        }
        // Mini-batch: one epoch of steps, no early stop, no final pass.
        let opts = MiniBatchOptions {
            max_no_improvement: None,
            final_pass: false,
            ..MiniBatchOptions::default()
        };
        let batch = opts.batch_size.min(n);
        let params = KMeansParams::new(k)
            .init(Init::Given(first_rows(&x, n, d, k)))
            .algorithm(Algorithm::MiniBatch(Box::new(opts)))
            .max_iter(1)
            .tol(0.0);
        let id = BenchmarkId::new("minibatch_step", format!("n{n}_d{d}_k{k}_b{batch}"));
        bench_per_iteration(&mut group, id, batch * k * d, || {
            params.fit(&src).expect("mini-batch fit")
        });
    }
    group.finish();
}

fn bench_em(c: &mut Criterion) {
    let mut group = common::group(c, "em", QUICK, FULL);
    for (n, d, k) in gmm_grid() {
        let (x, _) = blobs(n, d, k, 3.0, 11);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        for cov in [
            CovarianceType::Full,
            CovarianceType::Diag,
            CovarianceType::Spherical,
            CovarianceType::Tied,
        ] {
            let params = GmmParams::new(k)
                .covariance(cov)
                .init(mmclust_gmm::Init::Means(first_rows(&x, n, d, k)))
                .max_iter(3)
                .tol(0.0);
            let id = BenchmarkId::new(cov.name(), format!("n{n}_d{d}_k{k}"));
            bench_per_iteration(&mut group, id, n * k * d, || {
                params.fit(&src).expect("gmm fit")
            });
        }
    }
    group.finish();
}

fn bench_silhouette(c: &mut Criterion) {
    let mut group = common::group(c, "silhouette", QUICK, FULL);
    let grid: &[(usize, usize, usize)] = if quick() {
        &[(2_000, 8, 4)]
    } else {
        &[(10_000, 2, 8), (10_000, 16, 8), (5_000, 128, 16)]
    };
    for &(n, d, k) in grid {
        let (x, raw) = blobs(n, d, k, 4.0, 13);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let labels = Labels::new(&raw).unwrap();
        let params = SilhouetteParams::default();
        group.throughput(Throughput::Elements((n * n * d) as u64));
        let id = BenchmarkId::new("exact", format!("n{n}_d{d}_k{k}"));
        group.bench_function(id, |b| {
            b.iter(|| {
                silhouette(&src, &labels, &params, PassOptions::default())
                    .expect("silhouette")
                    .mean
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_kmeans, bench_em, bench_silhouette);
criterion_main!(benches);

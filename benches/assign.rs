//! Throughput of the fused nearest-centre assignment (`mmclust_core::kernel`).
//!
//! Throughput is declared as `2·n·k·d` elements, so criterion's "elem/s" reads
//! as FLOP/s of the equivalent matrix product. Grid: d ∈ {2, 16, 32, 128} ×
//! k ∈ {2, 16, 100, 1000}, on one thread (a 1-thread rayon pool, one chunk
//! after another) and on all threads (the deterministic chunked pass of
//! `mmclust_core::parallel::map_reduce_into`, as a Lloyd iteration runs it).
//!
//! `MMCLUST_BENCH_QUICK=1` shrinks n, samples and warm-up so the whole grid
//! runs in well under a minute. Select cases with criterion's filter:
//! `cargo bench --bench assign -- d32_k100`.

mod common;

use std::cell::RefCell;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mmclust_core::kernel::{AssignScratch, PackedCenters, assign_chunk, dispatch_name};
use mmclust_core::parallel::{Chunking, PassOptions, map_reduce_into};
use mmclust_core::source::ArraySource;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::{Sampling, quick};

const DIMS: [usize; 4] = [2, 16, 32, 128];
const KS: [usize; 4] = [2, 16, 100, 1000];

/// Criterion's sampling under `MMCLUST_BENCH_QUICK`, and otherwise.
const QUICK: Sampling = Sampling::new(10, Duration::from_millis(50), Duration::from_millis(200));
const FULL: Sampling = Sampling::new(20, Duration::from_millis(500), Duration::from_secs(2));

/// Rows for a pass of roughly 20 ms at ~50 GFLOP/s, at most 100 000 (so the
/// data stays ≤ 51 MB) and at least one chunk's worth.
fn rows_for(d: usize, k: usize) -> usize {
    let target_flop = if quick() { 2e8 } else { 1e9 };
    let n = (target_flop / (2.0 * (k * d) as f64)) as usize;
    n.clamp(8 * 1024, if quick() { 20_000 } else { 100_000 })
}

fn data(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

thread_local! {
    static SCRATCH: RefCell<AssignScratch> = RefCell::new(AssignScratch::new());
}

/// One assignment pass over `x`, chunked as a Lloyd iteration is; returns the
/// inertia so that nothing is optimised away.
fn pass(src: &ArraySource<'_>, centers: &PackedCenters, labels: &mut [u32]) -> f64 {
    let chunking = Chunking::for_dim(centers.d());
    map_reduce_into(
        src,
        chunking,
        PassOptions::default(),
        labels,
        1,
        |chunk, out| {
            SCRATCH.with(|s| {
                let mut dist = vec![0.0f32; chunk.n_rows];
                assign_chunk(chunk.data, centers, out, &mut dist, &mut s.borrow_mut());
                Ok(dist.iter().map(|&v| f64::from(v)).sum::<f64>())
            })
        },
        |a, b| a + b,
    )
    .expect("assignment pass")
    .unwrap_or(0.0)
}

fn bench_assign(c: &mut Criterion) {
    let threads_all = std::thread::available_parallelism().map_or(1, usize::from);
    let pools = [
        (
            "1t",
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap(),
        ),
        (
            "all",
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads_all)
                .build()
                .unwrap(),
        ),
    ];
    eprintln!(
        "assign bench: dispatch = {}, all = {threads_all} threads",
        dispatch_name()
    );
    let mut group = common::group(c, "assign", QUICK, FULL);
    for &d in &DIMS {
        for &k in &KS {
            let n = rows_for(d, k);
            let x = data(n, d, 1);
            let centers = data(k, d, 2);
            let packed = PackedCenters::new(&centers, k, d).unwrap();
            let src = ArraySource::from_slice(&x, n, d).unwrap();
            let mut labels = vec![0u32; n];
            group.throughput(Throughput::Elements((2 * n * k * d) as u64));
            for (name, pool) in &pools {
                let id = BenchmarkId::new(format!("d{d}_k{k}"), format!("{name}_n{n}"));
                group.bench_function(id, |b| {
                    b.iter(|| pool.install(|| pass(&src, &packed, &mut labels)));
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_assign);
criterion_main!(benches);

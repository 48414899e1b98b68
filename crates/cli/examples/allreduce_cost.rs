//! The cost of combining one Lloyd iteration's partials across ranks: the
//! all-gather of each rank's subtree partials (k·d sums, k weights, k counts,
//! inertia, changes: k·(d+2)+2 values each) and the merge of the nodes that
//! straddle ranks, as `map_reduce_global` does it; and, for comparison, one
//! plain `MPI_Allreduce` of the same buffer (which would not be bitwise
//! reproducible across rank counts).
//!
//! `mpirun -n 2 --bind-to none target/ci/examples/allreduce_cost (built with cargo build --profile ci -p mmclust-cli --features mpi --example allreduce_cost) [N_ROWS]`
//! prints one line per (k, d) on rank 0: medians and minima over 15
//! repetitions (the slowest rank's); on a loaded machine the minimum is the
//! better estimate of the uncontended cost.

use std::time::Instant;

use mmclust_core::parallel::{AllReduce, Chunking, global_tree};
use mmclust_mpi::Mpi;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // As the binary: waiting ranks yield unless the user chose otherwise.
    // SAFETY: no other thread exists yet.
    unsafe {
        mmclust_mpi::apply_mca_defaults();
    }
    let mpi = Mpi::init().expect("MPI starts");
    mpi.install_panic_hook();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    if mpi.rank() == 0 {
        println!(
            "ranks {}, n = {n} rows (chunk grid as a Lloyd pass); medians of 15, milliseconds",
            mpi.size()
        );
        println!(
            "    k     d   partial_MB  gather+merge_ms (median, min)  plain_allreduce_ms (median, min)"
        );
    }
    for d in [32usize, 128] {
        for k in [100usize, 1000, 10_000] {
            let len = k * (d + 2) + 2;
            let n_chunks = Chunking::for_dim(d).n_chunks(n);
            let merge = |mut a: Vec<f64>, b: Vec<f64>| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                a
            };
            let (mut ours, mut plain) = (Vec::new(), Vec::new());
            for rep in 0..16 {
                // The partials of this rank's subtrees, built before the clock
                // starts: only the combining is timed.
                let mut ready: Vec<Vec<f64>> = (0..8)
                    .map(|i| vec![(mpi.rank() * 8 + i + rep) as f64 * 0.5; len])
                    .collect();
                mpi.barrier().expect("barrier");
                let t = Instant::now();
                let total = global_tree(
                    n_chunks,
                    &mpi,
                    |_node| Ok(ready.pop().unwrap_or_else(|| vec![1.0; len])),
                    &merge,
                )
                .expect("combine");
                let ms = t.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(&total);
                let mut buf = vec![1.0f64; len];
                mpi.barrier().expect("barrier");
                let t = Instant::now();
                mpi.sum_f64(&mut buf).expect("allreduce");
                let ms_plain = t.elapsed().as_secs_f64() * 1e3;
                if rep > 0 {
                    ours.push(ms);
                    plain.push(ms_plain);
                }
            }
            let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
            // The slowest rank's time is the iteration's.
            let mut worst = [min(&ours), min(&plain), median(ours), median(plain)];
            let mut all = mpi.all_gather_f64(&worst).expect("gather");
            for r in all.drain(..) {
                for (w, v) in worst.iter_mut().zip(&r) {
                    *w = w.max(*v);
                }
            }
            if mpi.rank() == 0 {
                println!(
                    "{k:>5} {d:>5} {:>12.2} {:>16.3} {:>9.3} {:>20.3} {:>9.3}",
                    len as f64 * 8.0 / 1e6,
                    worst[2],
                    worst[0],
                    worst[3],
                    worst[1]
                );
            }
        }
    }
    mpi.finalize();
}

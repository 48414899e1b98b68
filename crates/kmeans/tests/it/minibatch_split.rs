//! Distributed mini-batch with split reads: each process reads only its share
//! of every batch (the rows of its chunks), and still gives one process's fit
//! bit for bit, re-seeded centres included (a picked row outside a process's
//! share is read from the source). Processes are simulated by threads
//! (`ThreadGroup`), as in tests/distributed.rs.

use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::{Chunking, owned_rows};
use mmclust_core::source::Distributed;

use mmclust_kmeans::{Algorithm, KMeansParams, MiniBatchOptions, Sampling};

use crate::common;

use mmclust_core::testing::Counting;

#[test]
fn each_rank_reads_its_share_of_every_batch_and_the_fit_is_one_process_s() {
    // 8 chunks of 256 rows a batch: 4, 3 (or 2) and 2 of them on 2, 3 and 4 ranks.
    let (n, d, batch) = (6_000, 4, 2048);
    let mut next = common::noise(5);
    // 3 groups, 40 centres: most centres starve and are re-seeded.
    let x: Vec<f32> = (0..n * d)
        .map(|i| ((i / d) % 3) as f32 * 10.0 + next())
        .collect();
    // Rows of a batch: whole blocks of 50 rows (2,050), or single rows.
    for (sampling, rows) in [
        (Sampling::Rows, batch),
        (Sampling::Blocks { rows: 50 }, 2050),
    ] {
        let params = KMeansParams::new(40)
            .seed(3)
            .tol(0.0)
            .max_iter(30)
            .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
                batch_size: batch,
                sampling,
                max_no_improvement: None,
                reassignment_ratio: 0.8,
                refine: 0,
                final_pass: false,
                ..MiniBatchOptions::default()
            })));
        let src = Counting::new(&x, n, d);
        let one = params.fit(&src).unwrap();
        let single = src.rows_read();
        assert!(one.relocated > 0, "{sampling:?}: no centre was re-seeded");
        // The initialisation sample (3 batches, at most n rows) is read by
        // every process; one process then reads every row of every batch.
        let init = (3 * rows).min(n);
        let steps = (single - init) / rows;
        assert_eq!(init + steps * rows, single, "{sampling:?}");
        assert!(steps > 50, "{sampling:?}: {steps} steps");
        for ranks in 2..=4 {
            let reads = ThreadGroup::run(ranks, |comm| {
                let src = Counting::new(&x, n, d);
                let m = params.fit(&Distributed::new(&src, comm)).unwrap();
                (m, src.rows_read())
            });
            // The most rows of one batch a rank owns (whole 256-row chunks).
            let share = (0..ranks)
                .map(|r| owned_rows(rows, Chunking::with_rows(256).unwrap(), r, ranks).len())
                .max()
                .unwrap();
            assert!(share * ranks < rows * 3 / 2, "{ranks} ranks: {share}");
            let mut total = 0;
            for (m, read) in &reads {
                common::assert_same_fit(&one, m, &format!("{sampling:?}, {ranks} ranks"));
                // Its share of each batch, the initialisation sample, and
                // the re-seeded rows outside its share.
                assert!(
                    *read <= steps * share + init + one.relocated,
                    "{sampling:?}, {ranks} ranks: a rank read {read} rows; one process read {single}"
                );
                total += read - init;
            }
            // Together the ranks read each batch row once (plus the few
            // re-seeded rows read by every rank).
            assert!(
                total <= (single - init) + ranks * one.relocated,
                "{sampling:?}, {ranks} ranks: {total} rows in all, one process {single}"
            );
        }
    }
}

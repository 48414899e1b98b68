use super::*;
use crate::source::{ArraySource, DataSource};

fn data(n: usize, d: usize) -> Vec<f32> {
    (0..n * d)
        .map(|i| ((i as f32) * 0.618_034).sin() * 1e3 + 1e-3 * i as f32)
        .collect()
}

fn sum_pass(src: &ArraySource<'_>, chunking: Chunking) -> f64 {
    map_reduce(
        src,
        chunking,
        PassOptions::default(),
        |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
        |a, b| a + b,
    )
    .unwrap()
    .unwrap()
}

#[test]
fn chunking_covers_rows_exactly() {
    let c = Chunking::with_rows(7).unwrap();
    assert_eq!(c.n_chunks(0), 0);
    assert_eq!(c.n_chunks(7), 1);
    assert_eq!(c.n_chunks(15), 3);
    assert_eq!(c.range(2, 15), 14..15);
    assert!(Chunking::with_rows(0).is_err());
    assert_eq!(Chunking::for_dim(32).chunk_rows, 2048);
    assert_eq!(Chunking::for_dim(1).chunk_rows, 65_536);
    assert_eq!(Chunking::for_dim(100_000).chunk_rows, 64);
}

#[test]
fn sum_is_bitwise_identical_on_1_2_and_8_threads() {
    let (n, d) = (10_007, 3);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(97).unwrap();
    let results: Vec<u64> = [1, 2, 8]
        .iter()
        .map(|&t| {
            with_threads(Some(t), || sum_pass(&src, chunking))
                .unwrap()
                .to_bits()
        })
        .collect();
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

#[test]
fn merge_sees_chunks_in_index_order() {
    let (n, d) = (1000, 2);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(33).unwrap();
    let order = map_reduce(
        &src,
        chunking,
        PassOptions::default(),
        |c| Ok(vec![(c.index, c.start_row, c.n_rows)]),
        |mut a, b| {
            a.extend(b);
            a
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(order.len(), chunking.n_chunks(n));
    for (i, &(index, start, rows)) in order.iter().enumerate() {
        assert_eq!(index, i);
        assert_eq!(start, i * 33);
        assert_eq!(rows, chunking.range(i, n).len());
    }
}

#[test]
fn per_row_output_lands_in_its_rows() {
    let (n, d) = (1001, 2);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let mut out = vec![0usize; n * 2];
    let total = map_reduce_into(
        &src,
        Chunking::with_rows(64).unwrap(),
        PassOptions::default(),
        &mut out,
        2,
        |c, o| {
            for i in 0..c.n_rows {
                o[2 * i] = c.start_row + i;
                o[2 * i + 1] = c.index;
            }
            Ok(c.n_rows)
        },
        |a, b| a + b,
    )
    .unwrap()
    .unwrap();
    assert_eq!(total, n);
    for r in 0..n {
        assert_eq!(out[2 * r], r);
        assert_eq!(out[2 * r + 1], r / 64);
    }
    let mut short = vec![0usize; 3];
    assert!(
        map_reduce_into(
            &src,
            Chunking::with_rows(64).unwrap(),
            PassOptions::default(),
            &mut short,
            1,
            |_, _| Ok(()),
            |_, _| (),
        )
        .is_err()
    );
}

/// The sink's own error type comes back unchanged, not as a `CoreError`;
/// a chunk error converts into it.
#[test]
fn ordered_map_returns_the_sinks_own_error() {
    #[derive(Debug)]
    enum SinkError {
        Full(usize),
        Core(CoreError),
    }
    impl From<CoreError> for SinkError {
        fn from(e: CoreError) -> Self {
            SinkError::Core(e)
        }
    }
    let v = data(100, 2);
    let src = ArraySource::from_slice(&v, 100, 2).unwrap();
    let chunking = Chunking::with_rows(10).unwrap();
    let r = map_ordered(
        &src,
        chunking,
        PassOptions::default(),
        3,
        |c| Ok(c.index),
        |i| {
            if i == 4 {
                Err(SinkError::Full(i))
            } else {
                Ok(())
            }
        },
    );
    assert!(matches!(r, Err(SinkError::Full(4))), "{r:?}");
    let r = map_ordered(
        &src,
        chunking,
        PassOptions::default(),
        3,
        |c| {
            if c.index == 2 {
                Err(CoreError::internal("chunk 2"))
            } else {
                Ok(c.index)
            }
        },
        |_| Ok::<(), SinkError>(()),
    );
    assert!(
        matches!(&r, Err(SinkError::Core(CoreError::Internal { message })) if message == "chunk 2"),
        "{r:?}"
    );
}

#[test]
fn ordered_map_delivers_chunks_in_order() {
    let v = data(1000, 2);
    let src = ArraySource::from_slice(&v, 1000, 2).unwrap();
    let mut seen = Vec::new();
    map_ordered(
        &src,
        Chunking::with_rows(7).unwrap(),
        PassOptions::default(),
        5,
        |c| Ok((c.index, c.data.to_vec())),
        |(i, rows)| {
            seen.push(i);
            assert_eq!(rows, &v[i * 14..(i * 14 + 14).min(v.len())]);
            Ok::<(), CoreError>(())
        },
    )
    .unwrap();
    assert_eq!(seen, (0..143).collect::<Vec<_>>());
}

#[test]
fn ownership_tiles_the_chunks_and_follows_the_tree() {
    for c in [0usize, 1, 2, 3, 5, 7, 64, 100, 489, 1000] {
        for size in 1..=9 {
            let mut next = 0;
            for r in 0..size {
                let o = owned_chunks(c, r, size);
                assert_eq!(o.start, next, "c={c} size={size} r={r}");
                assert!(o.end >= o.start);
                next = o.end;
            }
            assert_eq!(next, c);
        }
        if c >= 2 {
            // Two ranks split at the root.
            assert_eq!(owned_chunks(c, 1, 2).start, c / 2);
        }
    }
    for size in 2..=16 {
        // Balanced within an eighth of a share, plus a chunk of rounding.
        let c = 1000;
        for r in 0..size {
            let len = owned_chunks(c, r, size).len() as f64;
            let ideal = c as f64 / size as f64;
            assert!(
                (len - ideal).abs() <= ideal / 4.0 + 2.0,
                "size={size} r={r} len={len}"
            );
        }
    }
}

#[test]
fn global_pass_is_bitwise_the_single_process_pass_on_any_rank_count() {
    use crate::group::ThreadGroup;
    use crate::source::Distributed;
    let (n, d) = (10_007, 3);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(97).unwrap();
    let one = sum_pass(&src, chunking).to_bits();
    let one_labels: Vec<u32> = (0..n as u32).map(|i| i * 3 % 7).collect();
    for ranks in 1..=5 {
        let results = ThreadGroup::run(ranks, |comm| {
            let dist = Distributed::new(&src, comm);
            let total = map_reduce_global(
                &dist,
                chunking,
                PassOptions::default(),
                |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
                |a, b| a + b,
            )
            .unwrap()
            .unwrap();
            let mut labels = vec![u32::MAX; n];
            let (rows, count) = map_reduce_into_global(
                &dist,
                chunking,
                PassOptions::default(),
                &mut labels,
                1,
                |c, out| {
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = (c.start_row + i) as u32 * 3 % 7;
                    }
                    Ok((c.n_rows as u64, vec![c.index]))
                },
                |a, b| (a.0 + b.0, [a.1, b.1].concat()),
            )
            .unwrap()
            .unwrap();
            assert_eq!(rows, n as u64);
            assert_eq!(count, (0..chunking.n_chunks(n)).collect::<Vec<_>>());
            let mine = owned_rows(n, chunking, comm.rank(), comm.size());
            for (i, &l) in labels.iter().enumerate() {
                if mine.contains(&i) {
                    assert_eq!(l, one_labels[i]);
                } else {
                    assert_eq!(l, u32::MAX, "row {i} is another rank's");
                }
            }
            total.to_bits()
        });
        assert!(results.iter().all(|&b| b == one), "{ranks} ranks");
    }
}

/// Per-row outputs that hold only a process's own rows get the values of
/// those rows, and the statistics of every row.
#[test]
fn local_outputs_hold_the_rows_of_their_process() {
    use crate::group::ThreadGroup;
    use crate::source::Distributed;
    let (n, d) = (5_003, 2);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(61).unwrap();
    let per_row = 2;
    let value = |i: usize| (i as u32 * 7 % 11, i as u32 + 1);
    for ranks in 1..=4 {
        let held = ThreadGroup::run(ranks, |comm| {
            let dist = Distributed::new(&src, comm);
            let mine = local_rows(&dist, chunking);
            assert_eq!(mine, owned_rows(n, chunking, comm.rank(), comm.size()));
            let mut out = vec![u32::MAX; mine.len() * per_row];
            // A buffer of every row is refused.
            let mut whole = vec![0u32; n * per_row];
            let pass = |out: &mut [u32]| {
                map_reduce_into_local(
                    &dist,
                    chunking,
                    PassOptions::default(),
                    out,
                    per_row,
                    |c, out| {
                        for (i, o) in out.chunks_exact_mut(per_row).enumerate() {
                            let (a, b) = value(c.start_row + i);
                            o.copy_from_slice(&[a, b]);
                        }
                        Ok(c.n_rows as u64)
                    },
                    |a, b| a + b,
                )
            };
            if ranks > 1 {
                assert!(pass(&mut whole).is_err());
            }
            assert_eq!(pass(&mut out).unwrap(), Some(n as u64));
            for (i, o) in mine.clone().zip(out.chunks_exact(per_row)) {
                let (a, b) = value(i);
                assert_eq!(o, [a, b], "row {i}");
            }
            mine
        });
        // The processes' rows tile 0..n in rank order.
        let mut next = 0;
        for r in held {
            assert_eq!(r.start, next);
            next = r.end;
        }
        assert_eq!(next, n, "{ranks} ranks");
    }
}

#[test]
fn errors_propagate() {
    let v = data(100, 1);
    let src = ArraySource::from_slice(&v, 100, 1).unwrap();
    let r: Result<Option<()>> = map_reduce(
        &src,
        Chunking::with_rows(10).unwrap(),
        PassOptions::default(),
        |c| {
            if c.index == 3 {
                Err(CoreError::param("x", "boom"))
            } else {
                Ok(())
            }
        },
        |_, _| (),
    );
    assert!(r.unwrap_err().to_string().contains("boom"));
}

/// A pass's value, its per-row output and the order its chunks were visited
/// in, walking in `direction` on `threads` threads.
fn walked(
    src: &ArraySource<'_>,
    chunking: Chunking,
    direction: Direction,
    threads: usize,
) -> (u64, Vec<f32>, Vec<usize>) {
    let visits = std::sync::Mutex::new(Vec::new());
    let mut out = vec![0.0f32; src.n_rows()];
    let options = PassOptions {
        direction,
        ..PassOptions::default()
    };
    let sum = with_threads(Some(threads), || {
        map_reduce_into(
            src,
            chunking,
            options,
            &mut out,
            1,
            |c, o| {
                visits.lock().unwrap().push(c.index);
                Ok(row_sums(c, o))
            },
            |a, b| a + b,
        )
    })
    .unwrap()
    .unwrap()
    .unwrap();
    (sum.to_bits(), out, visits.into_inner().unwrap())
}

/// The map of the direction tests: each row's sum into `out`, and a sum of
/// the chunk whose merges round, so any change of merge order shows.
fn row_sums(c: Chunk<'_>, out: &mut [f32]) -> f64 {
    for (x, row) in out.iter_mut().zip(c.rows()) {
        *x = row.iter().sum();
    }
    c.data.iter().map(|&v| f64::from(v) * 1.000_1).sum()
}

#[test]
fn walking_backward_changes_the_order_not_the_bits() {
    let (n, d) = (5_003, 3);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(41).unwrap();
    let n_chunks = chunking.n_chunks(n);
    let (fwd, fwd_out, fwd_order) = walked(&src, chunking, Direction::Forward, 1);
    let (bwd, bwd_out, bwd_order) = walked(&src, chunking, Direction::Backward, 1);
    assert_eq!(fwd_order, (0..n_chunks).collect::<Vec<_>>());
    assert_eq!(bwd_order, (0..n_chunks).rev().collect::<Vec<_>>());
    assert_eq!(fwd, bwd);
    assert_eq!(fwd_out, bwd_out);
    for threads in [2, 5] {
        for direction in [Direction::Forward, Direction::Backward, Direction::Auto] {
            let (bits, out, mut order) = walked(&src, chunking, direction, threads);
            assert_eq!(bits, fwd, "{direction:?} on {threads} threads");
            assert_eq!(out, fwd_out);
            order.sort_unstable();
            assert_eq!(order, (0..n_chunks).collect::<Vec<_>>());
        }
    }
}

#[test]
fn global_passes_walking_backward_keep_the_bits() {
    use crate::group::ThreadGroup;
    use crate::source::Distributed;
    let (n, d) = (3_001, 2);
    let v = data(n, d);
    let src = ArraySource::from_slice(&v, n, d).unwrap();
    let chunking = Chunking::with_rows(29).unwrap();
    let pass = |s: &dyn DataSource, direction: Direction| -> u64 {
        let options = PassOptions {
            direction,
            ..PassOptions::default()
        };
        let mut out = vec![0.0f32; local_rows(s, chunking).len()];
        map_reduce_into_local(
            s,
            chunking,
            options,
            &mut out,
            1,
            |c, o| Ok(row_sums(c, o)),
            |a, b| a + b,
        )
        .unwrap()
        .unwrap()
        .to_bits()
    };
    let want = pass(&src, Direction::Forward);
    for ranks in [2, 3] {
        let got = ThreadGroup::run(ranks, |comm| {
            let dist = Distributed::new(&src, comm);
            (
                pass(&dist, Direction::Backward),
                pass(&dist, Direction::Auto),
            )
        });
        for (b, a) in got {
            assert_eq!((b, a), (want, want), "{ranks} ranks");
        }
    }
}

/// Node-local shards: each process holds its own rows (some none); passes
/// merge each process's own chunk grid, then the processes in rank order,
/// the same bits on every process; per-row outputs, the pass's chunk list
/// and gathered rows all follow the (rank, row) order.
#[test]
fn node_local_passes_merge_each_process_grid_in_rank_order() {
    use crate::group::ThreadGroup;
    use crate::source::NodeLocal;
    let d = 3;
    let chunking = Chunking::with_rows(97).unwrap();
    for sizes in [
        vec![1234usize, 3001],
        vec![1234, 0, 3001, 777],
        vec![5, 96, 98],
    ] {
        let n: usize = sizes.iter().sum();
        let v = data(n, d);
        let mut starts = vec![0usize];
        for s in &sizes {
            starts.push(starts.last().unwrap() + s);
        }
        // The expected sum: each rank's own tree, then rank order.
        let mut want: Option<f64> = None;
        for w in starts.windows(2) {
            if w[0] == w[1] {
                continue;
            }
            let part = ArraySource::from_slice(&v[w[0] * d..w[1] * d], w[1] - w[0], d).unwrap();
            let s = sum_pass(&part, chunking);
            want = Some(want.map_or(s, |a| a + s));
        }
        let want = want.unwrap();
        let whole = ArraySource::from_slice(&v, n, d).unwrap();
        let one = sum_pass(&whole, chunking);
        assert!(
            (want - one).abs() <= 1e-9 * one.abs().max(1.0),
            "{want} vs {one}"
        );
        let results = ThreadGroup::run(sizes.len(), |comm| {
            let r = comm.rank();
            let mine = &v[starts[r] * d..starts[r + 1] * d];
            let src =
                NodeLocal::new(ArraySource::from_slice(mine, sizes[r], d).unwrap(), comm).unwrap();
            assert_eq!(src.n_rows(), n);
            assert_eq!(src.node_layout(), Some(starts.as_slice()));
            assert_eq!(local_rows(&src, chunking), starts[r]..starts[r + 1]);
            let total = map_reduce_global(
                &src,
                chunking,
                PassOptions::default(),
                |c| Ok(c.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
                |a, b| a + b,
            )
            .unwrap()
            .unwrap();
            // Per-row outputs of every row: this process writes its own.
            let mut labels = vec![u32::MAX; n];
            let (rows, chunks) = map_reduce_into_global(
                &src,
                chunking,
                PassOptions::default(),
                &mut labels,
                1,
                |c, out| {
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = (c.start_row + i) as u32;
                    }
                    // The chunk's rows are the global rows it says.
                    let first = &v[c.start_row * d..(c.start_row + 1) * d];
                    assert_eq!(c.row(0), first);
                    Ok((c.n_rows as u64, vec![(c.index, c.start_row, c.n_rows)]))
                },
                |a, b| (a.0 + b.0, [a.1, b.1].concat()),
            )
            .unwrap()
            .unwrap();
            assert_eq!(rows, n as u64);
            let (ranges, own) = pass_chunks(&src, chunking);
            let listed: Vec<(usize, usize, usize)> = ranges
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.start, c.len()))
                .collect();
            assert_eq!(chunks, listed, "chunks in merge order");
            for (i, &l) in labels.iter().enumerate() {
                let held = starts[r] <= i && i < starts[r + 1];
                assert_eq!(l, if held { i as u32 } else { u32::MAX }, "row {i}");
            }
            for c in &ranges[own] {
                assert!(starts[r] <= c.start && c.end <= starts[r + 1]);
            }
            // Rows of any process, on every process.
            let want_rows = [n - 1, 0, starts[1], n / 2, 0];
            let got = gather_rows(&src, &want_rows).unwrap();
            let expect: Vec<f32> = want_rows
                .iter()
                .flat_map(|&i| v[i * d..(i + 1) * d].to_vec())
                .collect();
            assert_eq!(got, expect);
            // Another process's rows cannot be read directly.
            let other = if starts[r] > 0 { 0 } else { n - 1 };
            let err = src.rows(other..other + 1, &mut Vec::new()).unwrap_err();
            assert!(err.to_string().contains("node-local"), "{err}");
            total.to_bits()
        });
        for got in results {
            assert_eq!(got, want.to_bits(), "{sizes:?}");
        }
    }
}

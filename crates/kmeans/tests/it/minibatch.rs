//! Mini-batch K-means: determinism, checkpoint/resume, quality against Lloyd,
//! and its input errors.

use std::sync::Mutex;

use mmclust_core::ArraySource;
use mmclust_core::parallel::with_threads;
use mmclust_kmeans::{
    Algorithm, FitHooks, KMeansError, KMeansParams, MiniBatchOptions, MiniBatchState, Sampling,
};

use crate::common;

/// Well-separated blobs: `k` centres on a line, `n` points.
fn blobs(n: usize, d: usize, k: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(n * d);
    let mut next = common::noise(12345);
    for i in 0..n {
        let c = (i * 7919) % k;
        for j in 0..d {
            x.push(c as f32 * 10.0 + (j as f32) + next());
        }
    }
    x
}

fn minibatch(opts: MiniBatchOptions) -> KMeansParams {
    KMeansParams::new(8)
        .seed(11)
        .max_iter(5)
        .tol(0.0)
        .algorithm(Algorithm::MiniBatch(Box::new(opts)))
}

fn small_batches() -> MiniBatchOptions {
    MiniBatchOptions {
        batch_size: 512,
        sampling: Sampling::Blocks { rows: 32 },
        max_no_improvement: None,
        ..MiniBatchOptions::default()
    }
}

#[test]
fn same_bits_on_1_and_2_threads_for_both_samplings() {
    let x = blobs(20_000, 4, 8);
    let src = ArraySource::from_slice(&x, 20_000, 4).unwrap();
    for sampling in [Sampling::Blocks { rows: 64 }, Sampling::Rows] {
        let p = minibatch(MiniBatchOptions {
            sampling,
            ..small_batches()
        });
        let a = with_threads(Some(1), || p.fit(&src)).unwrap().unwrap();
        let b = with_threads(Some(2), || p.fit(&src)).unwrap().unwrap();
        common::assert_same_fit(&a, &b, &format!("{sampling:?} on 1 and 2 threads"));
    }
}

#[test]
fn resuming_a_checkpoint_gives_the_uninterrupted_result_bit_for_bit() {
    let x = blobs(20_000, 4, 8);
    let src = ArraySource::from_slice(&x, 20_000, 4).unwrap();
    let full = minibatch(small_batches()).fit(&src).unwrap();
    // Run again, keeping the checkpoint of step 40 (of ~196).
    let saved: Mutex<Option<MiniBatchState>> = Mutex::new(None);
    let keep = |s: &MiniBatchState| -> mmclust_kmeans::Result<()> {
        if s.step == 40 {
            *saved.lock().unwrap() = Some(s.clone());
        }
        Ok(())
    };
    let with_checkpoints = minibatch(MiniBatchOptions {
        checkpoint_every: 20,
        ..small_batches()
    });
    let again = with_checkpoints
        .fit_with(
            &src,
            None,
            FitHooks {
                on_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap();
    assert_eq!(again.centers, full.centers, "checkpointing changes nothing");
    let state = saved.into_inner().unwrap().expect("checkpoint at step 40");
    // The state survives its JSON form exactly.
    let state: MiniBatchState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    let resumed = minibatch(MiniBatchOptions {
        resume: Some(state),
        ..small_batches()
    })
    .fit(&src)
    .unwrap();
    common::assert_same_fit(&resumed, &full, "resumed against uninterrupted");
}

#[test]
fn the_stop_flag_checkpoints_and_interrupts() {
    let x = blobs(20_000, 4, 8);
    let src = ArraySource::from_slice(&x, 20_000, 4).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(true);
    let saved: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let keep = |s: &MiniBatchState| -> mmclust_kmeans::Result<()> {
        saved.lock().unwrap().push(s.step);
        Ok(())
    };
    let e = minibatch(small_batches())
        .fit_with(
            &src,
            None,
            FitHooks {
                stop: Some(&stop),
                on_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap_err();
    assert!(matches!(e, KMeansError::Interrupted { step: 1 }), "{e}");
    assert_eq!(*saved.lock().unwrap(), vec![1]);
}

#[test]
fn reaches_nearly_the_lloyd_inertia() {
    let (n, d, k) = (50_000, 6, 8);
    let x = blobs(n, d, k);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let lloyd = KMeansParams::new(k).seed(3).fit(&src).unwrap();
    let mb = KMeansParams::new(k)
        .seed(3)
        .tol(0.0)
        .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
            batch_size: 2048,
            ..MiniBatchOptions::default()
        })))
        .fit(&src)
        .unwrap();
    assert!(mb.converged);
    assert!(
        mb.inertia <= 1.02 * lloyd.inertia,
        "mini-batch {} vs Lloyd {}",
        mb.inertia,
        lloyd.inertia
    );
    assert!(mb.epochs.unwrap() < 30.0);
}

#[test]
fn bad_data_and_options_are_named() {
    let mut x = blobs(5_000, 3, 4);
    x[3 * 4_000 + 2] = f32::NAN;
    let src = ArraySource::from_slice(&x, 5_000, 3).unwrap();
    let e = minibatch(MiniBatchOptions {
        sampling: Sampling::Rows,
        init_size: Some(100),
        ..small_batches()
    })
    .fit(&src)
    .unwrap_err();
    assert!(e.to_string().contains("row 4000, column 2"), "{e}");
    let clean = blobs(100, 3, 4);
    let src = ArraySource::from_slice(&clean, 100, 3).unwrap();
    let e = minibatch(MiniBatchOptions {
        batch_size: 0,
        ..small_batches()
    })
    .fit(&src)
    .unwrap_err();
    assert!(e.to_string().contains("batch_size"), "{e}");
    let other = KMeansParams::new(8).fit(&src).unwrap();
    let wrong = MiniBatchState {
        step: 1,
        counts: vec![1.0; 3],
        ..MiniBatchState::start(3, 3, 2, vec![0.0; 9], 0.0)
    };
    let e = minibatch(MiniBatchOptions {
        resume: Some(wrong),
        ..small_batches()
    })
    .fit(&src)
    .unwrap_err();
    assert!(e.to_string().contains("k = 3"), "{e}");
    assert_eq!(other.k, 8);
}

#[test]
fn refinement_runs_lloyd_from_the_minibatch_centres() {
    let (n, d, k) = (30_000, 5, 8);
    let x = blobs(n, d, k);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let opts = MiniBatchOptions {
        batch_size: 1024,
        ..MiniBatchOptions::default()
    };
    let plain = KMeansParams::new(k)
        .seed(4)
        .algorithm(Algorithm::MiniBatch(Box::new(opts.clone())))
        .fit(&src)
        .unwrap();
    let refined = KMeansParams::new(k)
        .seed(4)
        .algorithm(Algorithm::MiniBatch(Box::new(MiniBatchOptions {
            refine: 3,
            ..opts
        })))
        .fit(&src)
        .unwrap();
    assert!(refined.refined.unwrap() >= 1 && refined.refined.unwrap() <= 3);
    // Lloyd from the same centres never raises the inertia.
    assert!(
        refined.inertia <= plain.inertia * (1.0 + 1e-6),
        "{} > {}",
        refined.inertia,
        plain.inertia
    );
    // And it is what Lloyd from those centres gives.
    let lloyd = KMeansParams::new(k)
        .init(mmclust_kmeans::Init::Given(plain.centers.clone()))
        .max_iter(3)
        .fit(&src)
        .unwrap();
    assert_eq!(lloyd.centers, refined.centers);
}

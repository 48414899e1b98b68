//! Checkpoint and resume of exact runs (Lloyd, Hamerly, Yinyang): a run
//! stopped after any iteration and resumed from its checkpoint (through its
//! JSON form, as a file would hold it) gives the uninterrupted run's bits,
//! on any thread count; periodic checkpoints resume the same way.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use mmclust_core::ArraySource;
use mmclust_core::parallel::with_threads;
use mmclust_kmeans::{
    Algorithm, FitEvent, FitHooks, KMeansError, KMeansParams, LloydCheckpoints, LloydState, Metric,
};

use crate::common;

/// Overlapping blobs: enough iterations to stop in the middle.
fn blobs(n: usize, d: usize, k: usize) -> Vec<f32> {
    let mut x = Vec::with_capacity(n * d);
    let mut next = common::noise(777);
    for i in 0..n {
        let c = (i * 7919) % k;
        for j in 0..d {
            x.push(c as f32 * 1.5 + (j as f32 * 0.3) + 2.0 * next());
        }
    }
    x
}

fn params(algorithm: Algorithm, metric: Metric) -> KMeansParams {
    let mut p = KMeansParams::new(12)
        .seed(5)
        .max_iter(60)
        .tol(0.0)
        .algorithm(algorithm)
        .metric(metric);
    p.n_init = Some(1);
    p
}

/// Runs `p`, stopping after iteration `stop_after` (1-based); returns the
/// checkpoint handed over, through JSON.
fn stopped(p: &KMeansParams, src: &ArraySource<'_>, stop_after: usize) -> LloydState {
    let stop = AtomicBool::new(false);
    let saved: Mutex<Option<LloydState>> = Mutex::new(None);
    let on_event = |e: &FitEvent| {
        if let FitEvent::Iteration { iter, .. } = e
            && iter + 1 == stop_after
        {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let keep = |s: &LloydState| -> mmclust_kmeans::Result<()> {
        *saved.lock().unwrap() = Some(s.clone());
        Ok(())
    };
    let err = p
        .fit_with(
            src,
            None,
            FitHooks {
                on_event: Some(&on_event),
                stop: Some(&stop),
                on_lloyd_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, KMeansError::Interrupted { step } if step == stop_after as u64),
        "{err}"
    );
    let state = saved.into_inner().unwrap().expect("a checkpoint");
    assert_eq!(state.iter, stop_after);
    serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap()
}

fn resumed(p: &KMeansParams, state: LloydState) -> KMeansParams {
    let mut p = p.clone();
    p.checkpoints = LloydCheckpoints {
        resume: Some(Box::new(state)),
        ..LloydCheckpoints::default()
    };
    p
}

#[test]
fn a_stopped_run_resumed_gives_the_uninterrupted_bits() {
    let (n, d) = (6000, 5);
    let x = blobs(n, d, 12);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for algorithm in [Algorithm::Lloyd, Algorithm::Hamerly, Algorithm::Yinyang] {
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let p = params(algorithm.clone(), metric);
            let whole = p.fit(&src).unwrap();
            assert!(
                whole.n_iter > 4,
                "{algorithm:?}: {} iterations",
                whole.n_iter
            );
            // Stop after the first, a middle and the last-but-one iteration.
            for stop_after in [1, whole.n_iter / 2, whole.n_iter - 1] {
                let state = stopped(&p, &src, stop_after);
                let what = format!("{algorithm:?} {metric:?} resumed after {stop_after}");
                let again = with_threads(Some(2), || resumed(&p, state.clone()).fit(&src))
                    .unwrap()
                    .unwrap();
                common::assert_same_fit(&whole, &again, &what);
                assert_eq!(whole.converged, again.converged, "{what}");
            }
        }
    }
}

#[test]
fn periodic_checkpoints_resume_to_the_same_bits() {
    let (n, d) = (4000, 3);
    let x = blobs(n, d, 12);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut p = params(Algorithm::Yinyang, Metric::Euclidean);
    let whole = p.fit(&src).unwrap();
    p.checkpoints.every = 3;
    let all: Mutex<Vec<LloydState>> = Mutex::new(Vec::new());
    let keep = |s: &LloydState| -> mmclust_kmeans::Result<()> {
        all.lock().unwrap().push(s.clone());
        Ok(())
    };
    let with_saves = p
        .fit_with(
            &src,
            None,
            FitHooks {
                on_lloyd_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap();
    common::assert_same_fit(&whole, &with_saves, "checkpointing changes nothing");
    let all = all.into_inner().unwrap();
    assert!(!all.is_empty());
    assert!(all.iter().all(|s| s.iter % 3 == 0));
    p.checkpoints.every = 0;
    for s in all {
        let it = s.iter;
        let again = with_threads(Some(1), || resumed(&p, s).fit(&src))
            .unwrap()
            .unwrap();
        common::assert_same_fit(&whole, &again, &format!("from iteration {it}"));
    }
}

#[test]
fn checkpoints_need_one_run_and_a_matching_state() {
    let (n, d) = (500, 3);
    let x = blobs(n, d, 4);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut p = KMeansParams::new(4).init(mmclust_kmeans::Init::Random);
    p.checkpoints.every = 2;
    let e = p.fit(&src).unwrap_err().to_string();
    assert!(e.contains("n_init"), "{e}");
    let state = LloydState {
        k: 3,
        d: 3,
        iter: 1,
        centers: vec![0.0; 9],
        history: vec![1.0],
        relocated: 0,
        distinct_init: 3,
        init_seconds: 0.0,
        iter_seconds: 0.0,
        distance_evals: 0,
        distance_evals_lloyd: 0,
        rechecks: 0,
        assigned_rows: 0,
    };
    let p = resumed(&params(Algorithm::Lloyd, Metric::Euclidean), state.clone());
    let e = p.fit(&src).unwrap_err().to_string();
    assert!(e.contains("k = 3") && e.contains("k = 12"), "{e}");
    let bad = LloydState {
        history: vec![],
        ..state
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("history"), "{e}");
}

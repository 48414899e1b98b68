//! Checkpoint and resume of full-batch EM (maximum likelihood and
//! variational Bayes, every covariance type, f64 and f32 passes, several
//! runs): a fit stopped after any iteration of any run and resumed from its
//! checkpoint (through its JSON form, as a file holds it) gives the
//! uninterrupted fit's model bit for bit (timings aside), on any thread
//! count; periodic checkpoints change nothing and resume the same way.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use mmclust_core::ArraySource;
use mmclust_core::parallel::with_threads;
use mmclust_gmm::{
    BayesianPrior, CovarianceType, EmCheckpoints, EmState, FitEvent, FitHooks,
    GaussianMixtureModel, GmmError, GmmParams, Init, Precision,
};

/// Overlapping blobs in 3 columns around 4 centres: EM takes many
/// iterations to settle.
fn blobs(n: usize) -> (Vec<f32>, usize) {
    let d = 3;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut x = Vec::with_capacity(n * d);
    for i in 0..n {
        let c = (i * 7919) % 4;
        for j in 0..d {
            let centre = c as f64 * 1.2 + if j == c % d { 1.5 } else { 0.0 };
            x.push((centre + 2.5 * next() * (1.0 + 0.3 * j as f64)) as f32);
        }
    }
    (x, d)
}

/// The model as its file holds it, timings taken out.
fn file(m: &GaussianMixtureModel) -> String {
    let mut v = m.to_json(None);
    v.as_object_mut().unwrap().remove("seconds");
    serde_json::to_string(&v).unwrap()
}

fn assert_same_fit(whole: &GaussianMixtureModel, again: &GaussianMixtureModel, what: &str) {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&whole.history),
        bits(&again.history),
        "{what}: history"
    );
    assert_eq!(
        whole.log_likelihood.to_bits(),
        again.log_likelihood.to_bits(),
        "{what}: log-likelihood"
    );
    assert_eq!(bits(whole.means()), bits(again.means()), "{what}: means");
    assert_eq!(file(whole), file(again), "{what}: model file");
    assert_eq!(whole.converged, again.converged, "{what}: converged");
    assert_eq!(whole.best_run, again.best_run, "{what}: best run");
}

/// Fits with `p`, stopping after iteration `stop_after` (1-based) of run
/// `stop_run`; returns the checkpoint handed over, through JSON.
fn stopped(p: &GmmParams, src: &ArraySource<'_>, stop_run: usize, stop_after: usize) -> EmState {
    let stop = AtomicBool::new(false);
    let saved: Mutex<Option<EmState>> = Mutex::new(None);
    let on_event = |e: &FitEvent| {
        if let FitEvent::Iteration { run, iter, .. } = e
            && *run == stop_run
            && iter + 1 == stop_after
        {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let keep = |s: &EmState| -> mmclust_gmm::Result<()> {
        *saved.lock().unwrap() = Some(s.clone());
        Ok(())
    };
    let err = p
        .fit_with(
            src,
            FitHooks {
                on_event: Some(&on_event),
                stop: Some(&stop),
                on_em_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, GmmError::Interrupted { step } if step == stop_after as u64),
        "{err}"
    );
    let state = saved.into_inner().unwrap().expect("a checkpoint");
    assert_eq!((state.run, state.current.iter), (stop_run, stop_after));
    serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap()
}

fn resumed(p: &GmmParams, state: EmState) -> GmmParams {
    let mut p = p.clone();
    p.checkpoints = EmCheckpoints {
        resume: Some(Box::new(state)),
        ..EmCheckpoints::default()
    };
    p
}

/// Stops `p` after the first, a middle and the last-but-one iteration of
/// each run in `runs`, resumes on 2 threads, and compares with the
/// uninterrupted fit.
fn check_resumes(p: &GmmParams, src: &ArraySource<'_>, runs: &[usize], what: &str) {
    let whole = p.fit(src).unwrap();
    let run_iters: Vec<usize> = {
        // Iterations of each run: from the events of a second fit.
        let iters = Mutex::new(vec![0usize; p.n_init]);
        let on_event = |e: &FitEvent| {
            if let FitEvent::RunDone { run, n_iter, .. } = e {
                iters.lock().unwrap()[*run] = *n_iter;
            }
        };
        let again = p
            .fit_with(
                src,
                FitHooks {
                    on_event: Some(&on_event),
                    ..FitHooks::default()
                },
            )
            .unwrap();
        assert_same_fit(&whole, &again, &format!("{what}: a second fit"));
        iters.into_inner().unwrap()
    };
    for &run in runs {
        let n_iter = run_iters[run];
        assert!(n_iter > 4, "{what}: run {run} took {n_iter} iterations");
        for stop_after in [1, n_iter / 2, n_iter - 1] {
            let state = stopped(p, src, run, stop_after);
            assert_eq!(state.run_lower_bounds.len(), run);
            let again = with_threads(Some(2), || resumed(p, state).fit(src))
                .unwrap()
                .unwrap();
            assert_same_fit(
                &whole,
                &again,
                &format!("{what}: resumed after iteration {stop_after} of run {run}"),
            );
        }
    }
}

/// EM from random responsibilities (tied: random rows as means; random
/// responsibilities put its means together, where it stays), to
/// convergence (tol 1e-5 on the mean log-likelihood) within 300
/// iterations.
fn params(cov: CovarianceType) -> GmmParams {
    let init = if cov == CovarianceType::Tied {
        Init::RandomFromData
    } else {
        Init::Random
    };
    GmmParams::new(4)
        .covariance(cov)
        .init(init)
        .seed(11)
        .max_iter(300)
        .tol(1e-5)
}

/// Variational Bayes, its tol on the lower bound (a total over the rows).
fn bayesian(cov: CovarianceType) -> GmmParams {
    params(cov).bayesian(BayesianPrior::default()).tol(1e-2)
}

#[test]
fn a_stopped_em_fit_resumed_gives_the_uninterrupted_bits() {
    let (n, _) = (3000, 3);
    let (x, d) = blobs(n);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for cov in CovarianceType::ALL {
        check_resumes(&params(cov), &src, &[0], &format!("EM {cov}"));
        check_resumes(&bayesian(cov), &src, &[0], &format!("Bayesian {cov}"));
    }
}

#[test]
fn a_fit_of_several_runs_resumes_in_any_run() {
    let n = 2000;
    let (x, d) = blobs(n);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let p = params(CovarianceType::Diag).n_init(3);
    check_resumes(&p, &src, &[0, 1, 2], "EM diag, 3 runs");
    let p = bayesian(CovarianceType::Full).n_init(2).standardize(true);
    check_resumes(&p, &src, &[1], "Bayesian full, standardised, 2 runs");
}

#[test]
fn f32_passes_resume_to_the_same_bits() {
    let n = 3000;
    let (x, d) = blobs(n);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for cov in [CovarianceType::Diag, CovarianceType::Full] {
        let p = params(cov).precision(Precision::F32).init(Init::KMeans);
        if p.fit(&src).unwrap().f32_iterations == 0 {
            eprintln!("note: no f32 pass on this CPU (MMCLUST_ISA): {cov} tested in f64");
        }
        check_resumes(&p, &src, &[0], &format!("f32 {cov}"));
    }
}

#[test]
fn periodic_checkpoints_change_nothing_and_resume_to_the_same_bits() {
    let n = 2000;
    let (x, d) = blobs(n);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut p = params(CovarianceType::Tied).n_init(2);
    let whole = p.fit(&src).unwrap();
    p.checkpoints.every = 4;
    let all: Mutex<Vec<EmState>> = Mutex::new(Vec::new());
    let keep = |s: &EmState| -> mmclust_gmm::Result<()> {
        all.lock().unwrap().push(s.clone());
        Ok(())
    };
    let with_saves = p
        .fit_with(
            &src,
            FitHooks {
                on_em_checkpoint: Some(&keep),
                ..FitHooks::default()
            },
        )
        .unwrap();
    assert_same_fit(&whole, &with_saves, "checkpointing changes nothing");
    let all = all.into_inner().unwrap();
    assert!(all.iter().any(|s| s.run == 1), "checkpoints in both runs");
    assert!(all.iter().all(|s| s.current.iter % 4 == 0));
    p.checkpoints.every = 0;
    for s in all {
        let what = format!("from iteration {} of run {}", s.current.iter, s.run);
        let again = with_threads(Some(1), || resumed(&p, s).fit(&src))
            .unwrap()
            .unwrap();
        assert_same_fit(&whole, &again, &what);
    }
}

#[test]
fn a_state_of_another_fit_or_a_corrupt_one_is_refused() {
    let n = 1000;
    let (x, d) = blobs(n);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let p = params(CovarianceType::Diag).n_init(2);
    let state = stopped(&p, &src, 1, 2);
    let refused = |p: &GmmParams, state: EmState, want: &str| {
        let e = resumed(p, state).fit(&src).unwrap_err();
        assert!(
            matches!(e, GmmError::InvalidParameter { .. }) && e.to_string().contains(want),
            "{want}: {e}"
        );
    };
    let other_k = GmmParams { k: 5, ..p.clone() };
    refused(&other_k, state.clone(), "k = 5");
    refused(
        &params(CovarianceType::Full).n_init(2),
        state.clone(),
        "full",
    );
    refused(&p.clone().n_init(3), state.clone(), "3 runs");
    refused(
        &p.clone().bayesian(BayesianPrior::default()),
        state.clone(),
        "Bayesian",
    );
    let mut bad = state.clone();
    bad.current.means.pop();
    refused(&p, bad, "\"means\"");
    let mut bad = state.clone();
    bad.current.history.push(1.0);
    refused(&p, bad, "history");
    let mut bad = state.clone();
    bad.current.covariances[0] = f64::NAN;
    refused(&p, bad, "non-finite");
    let mut bad = state.clone();
    bad.best = None;
    refused(&p, bad, "best run");
    // Online fits take their own checkpoints.
    let mut online = p.clone().n_init(1);
    online.checkpoints.every = 1;
    let e = online
        .fit_online(
            &src,
            &mmclust_gmm::OnlineOptions::default(),
            mmclust_gmm::OnlineHooks::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("OnlineOptions"), "{e}");
}

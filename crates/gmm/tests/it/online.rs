//! Online (stepwise) EM against full EM on data drawn from a known mixture,
//! from the same initial parameters; its determinism on any thread count and
//! across a checkpoint and resume; `online_update` (Python's `partial_fit`).
//!
//! "Full EM" is EM run to convergence by its own (scikit-learn's) criterion,
//! `tol` 1e-3 on the mean log-likelihood per iteration; the improvement is
//! each fit's log-likelihood on all the data minus that of the initial
//! parameters.
//!
//! Closeness of parameters is measured against the maximum-likelihood
//! estimate (EM to a change below 1e-9), after matching each online component
//! to its component of nearest mean: the largest |Δ mean| over
//! components and columns, divided by the column's standard deviation in
//! the data; the largest |Δ weight|; the largest relative |Δ variance|
//! (diagonal of the covariances). Online EM must be as close as full EM's
//! answer is, within a factor 2.

use std::sync::Mutex;

use mmclust_core::ArraySource;
use mmclust_core::parallel::with_threads;
use mmclust_gmm::{
    CovarianceType, GaussianMixtureModel, GmmParams, Init, OnlineHooks, OnlineOptions, OnlineState,
    StopReason,
};

/// `n` rows drawn from a mixture of 4 components in 3 columns: means at the
/// origin and 4 along each axis, standard deviations about 0.7 to 1.1, so
/// neighbours overlap a little.
fn known_mixture(cov: CovarianceType, n: usize, seed: u64) -> (Vec<f32>, usize) {
    let (k, d) = (4, 3);
    let means = true_means();
    let covariances: Vec<f64> = match cov {
        CovarianceType::Full => (0..k)
            .flat_map(|c| {
                let s = 0.6 + 0.2 * c as f64;
                vec![s, 0.3 * s, 0.0, 0.3 * s, s, 0.1 * s, 0.0, 0.1 * s, 0.8 * s]
            })
            .collect(),
        CovarianceType::Diag => (0..k * d).map(|i| 0.5 + 0.1 * (i % 5) as f64).collect(),
        _ => unreachable!("the tests draw full and diag mixtures"),
    };
    let model =
        GaussianMixtureModel::from_parameters(cov, vec![0.4, 0.3, 0.2, 0.1], means, covariances)
            .unwrap();
    let (x, _) = model.sample(n, seed).unwrap();
    (x, d)
}

/// The means of [`known_mixture`]: the origin and 4 along each axis.
fn true_means() -> Vec<f64> {
    let (k, d) = (4, 3);
    (0..k * d)
        .map(|i| {
            if i >= d && i % d == i / d - 1 {
                4.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Initial parameters both fits start from, deliberately rough but in the
/// basin of the true mixture: equal weights, the true means moved by about
/// one standard deviation, covariances twice the identity.
fn initial(cov: CovarianceType, d: usize) -> Init {
    let k = 4;
    let means = true_means()
        .iter()
        .enumerate()
        .map(|(i, &m)| m + [0.9, -0.7, 0.6, -1.0, 0.8][i % 5])
        .collect();
    let covariances = match cov {
        CovarianceType::Full => (0..k)
            .flat_map(|_| (0..d * d).map(|i| if i % (d + 1) == 0 { 2.0 } else { 0.0 }))
            .collect(),
        _ => vec![2.0; cov.covariance_len(k, d)],
    };
    Init::Parameters {
        weights: vec![0.25; k],
        means,
        covariances,
    }
}

fn column_std(x: &[f32], d: usize) -> Vec<f64> {
    let n = (x.len() / d) as f64;
    (0..d)
        .map(|j| {
            let col = x.iter().skip(j).step_by(d).map(|&v| f64::from(v));
            let mean = col.clone().sum::<f64>() / n;
            (col.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
        })
        .collect()
}

/// (max |Δ mean| / column std, max |Δ weight|, max relative |Δ variance|).
fn distance(a: &GaussianMixtureModel, b: &GaussianMixtureModel, std: &[f64]) -> (f64, f64, f64) {
    let (k, d) = (a.k(), a.d());
    let var = |m: &GaussianMixtureModel, c: usize, j: usize| match m.covariance_type() {
        CovarianceType::Full => m.covariances()[c * d * d + j * d + j],
        _ => m.covariances()[c * d + j],
    };
    let (mut dm, mut dw, mut dv) = (0.0f64, 0.0f64, 0.0f64);
    for c in 0..k {
        let ma = &a.means()[c * d..(c + 1) * d];
        let nearest = (0..k)
            .min_by(|&p, &q| {
                let dist = |o: usize| -> f64 {
                    (0..d).map(|j| (ma[j] - b.means()[o * d + j]).powi(2)).sum()
                };
                dist(p).total_cmp(&dist(q))
            })
            .unwrap();
        for j in 0..d {
            dm = dm.max((ma[j] - b.means()[nearest * d + j]).abs() / std[j]);
            let (va, vb) = (var(a, c, j), var(b, nearest, j));
            dv = dv.max((va - vb).abs() / vb);
        }
        dw = dw.max((a.weights()[c] - b.weights()[nearest]).abs());
    }
    (dm, dw, dv)
}

#[test]
fn online_em_reaches_full_em_from_the_same_start() {
    for cov in [CovarianceType::Diag, CovarianceType::Full] {
        let n = 200_000;
        let (x, d) = known_mixture(cov, n, 11);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let init = initial(cov, d);
        let params = GmmParams::new(4).covariance(cov).init(init.clone()).seed(5);
        let start = match &init {
            Init::Parameters {
                weights,
                means,
                covariances,
            } => GaussianMixtureModel::from_parameters(
                cov,
                weights.clone(),
                means.clone(),
                covariances.clone(),
            )
            .unwrap(),
            _ => unreachable!(),
        };
        let ll0 = start.score(&src, Default::default()).unwrap();
        // Full EM to convergence by its own (scikit-learn's) criterion.
        let full = params.clone().max_iter(1000).fit(&src).unwrap();
        assert!(full.converged, "{cov}: full EM did not converge");
        let online = params
            .fit_online(&src, &OnlineOptions::default(), OnlineHooks::default())
            .unwrap();
        let o = online.online.as_ref().unwrap();
        assert_eq!(o.stop_reason, StopReason::NoImprovement, "{cov}: {o:?}");
        let gain = (online.log_likelihood - ll0) / (full.log_likelihood - ll0);
        // Parameters: against the maximum-likelihood estimate (EM run until
        // it changes by less than 1e-9 per iteration).
        let mle = params.clone().tol(1e-9).max_iter(10_000).fit(&src).unwrap();
        let std = column_std(&x, d);
        let (dm, dw, dv) = distance(&online, &mle, &std);
        let (fm, fw, fv) = distance(&full, &mle, &std);
        eprintln!(
            "{cov}: initial {ll0:.5}, full EM {:.5} ({} iterations), online {:.5} ({} steps, \
             {:.2} epochs): {:.4} of the improvement; max |Δ mean|/std {dm:.4}, \
             max |Δ weight| {dw:.4}, max relative |Δ variance| {dv:.4} from the MLE (full \
             EM's: {fm:.4}, {fw:.4}, {fv:.4})",
            full.log_likelihood, full.n_iter, online.log_likelihood, o.steps, o.epochs, gain
        );
        assert!(
            gain >= 0.99,
            "{cov}: online EM reached {gain:.4} of full EM's improvement"
        );
        // As close to the maximum-likelihood estimate as full EM's own
        // answer, within a factor 2 (or within 0.5 % of a standard deviation,
        // 0.002 of weight, 2 % of variance).
        assert!(
            dm <= (2.0 * fm).max(0.005),
            "{cov}: |Δ mean|/std {dm} vs {fm}"
        );
        assert!(
            dw <= (2.0 * fw).max(0.002),
            "{cov}: |Δ weight| {dw} vs {fw}"
        );
        assert!(
            dv <= (2.0 * fv).max(0.02),
            "{cov}: |Δ variance| {dv} vs {fv}"
        );
        assert!(o.epochs < f64::from(u32::try_from(full.n_iter).unwrap()));

        // A refining full iteration moves the log-likelihood towards full EM's.
        let refined = params
            .fit_online(
                &src,
                &OnlineOptions {
                    refine: 2,
                    ..OnlineOptions::default()
                },
                OnlineHooks::default(),
            )
            .unwrap();
        assert_eq!(refined.online.as_ref().unwrap().refine, 2);
        assert!(refined.log_likelihood >= online.log_likelihood - 1e-12);
    }
}

fn options() -> OnlineOptions {
    OnlineOptions {
        batch_size: 700,
        max_steps: Some(40),
        max_no_improvement: None,
        checkpoint_every: 7,
        ..OnlineOptions::default()
    }
}

fn fingerprint(m: &GaussianMixtureModel) -> Vec<u64> {
    m.weights()
        .iter()
        .chain(m.means())
        .chain(m.covariances())
        .chain(&m.history)
        .chain([&m.log_likelihood])
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn same_bits_on_any_thread_count_and_after_resume() {
    for (cov, init) in [
        (CovarianceType::Full, Init::KMeans),
        (CovarianceType::Diag, Init::KMeansPlusPlus),
        (CovarianceType::Spherical, Init::Random),
        (CovarianceType::Tied, Init::RandomFromData),
    ] {
        let n = 20_000;
        let (x, d) = known_mixture(CovarianceType::Full, n, 2);
        let src = ArraySource::from_slice(&x, n, d).unwrap();
        let params = GmmParams::new(4)
            .covariance(cov)
            .init(init)
            .seed(8)
            .standardize(cov == CovarianceType::Tied);
        let saved = Mutex::new(Vec::<OnlineState>::new());
        let save = |s: &OnlineState| {
            saved.lock().unwrap().push(s.clone());
            Ok(())
        };
        let hooks = OnlineHooks {
            on_checkpoint: Some(&save),
            ..OnlineHooks::default()
        };
        let fit = |threads, opts: &OnlineOptions, hooks| {
            with_threads(Some(threads), || {
                params.fit_online(&src, opts, hooks).unwrap()
            })
            .unwrap()
        };
        let one = fit(1, &options(), hooks);
        let three = fit(3, &options(), OnlineHooks::default());
        assert_eq!(
            fingerprint(&one),
            fingerprint(&three),
            "{cov}: 1 and 3 threads"
        );
        assert_eq!(one.online.as_ref().unwrap().steps, 40);
        assert_eq!(one.n_iter, 40);
        assert!(!one.converged);
        assert_eq!(one.standardizer.is_some(), cov == CovarianceType::Tied);

        // Checkpoints at steps 7, 14, ..., 35 and the end; resume from 14
        // after a trip through JSON, as a checkpoint file makes it.
        let states = saved.lock().unwrap().clone();
        let steps: Vec<u64> = states.iter().map(|s| s.step).collect();
        assert_eq!(steps, [7, 14, 21, 28, 35, 40], "{cov}");
        let text = serde_json::to_string(&states[1]).unwrap();
        let back: OnlineState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, states[1]);
        let resumed = fit(
            2,
            &OnlineOptions {
                resume: Some(back),
                ..options()
            },
            OnlineHooks::default(),
        );
        assert_eq!(fingerprint(&resumed), fingerprint(&one), "{cov}: resumed");

        // The model file keeps what the fit ran.
        let m = GaussianMixtureModel::from_json(&one.to_json(None).to_string()).unwrap();
        assert_eq!(m.online, one.online);
        assert_eq!(m.to_json(None)["online"]["steps"], 40);
    }
}

#[test]
fn online_update_takes_one_step_per_batch_and_learns() {
    let n = 30_000;
    let (x, d) = known_mixture(CovarianceType::Diag, n, 4);
    let params = GmmParams::new(4)
        .covariance(CovarianceType::Diag)
        .init(Init::KMeansPlusPlus)
        .seed(1);
    let piece = |i: usize| ArraySource::from_slice(&x[i * 1000 * d..(i + 1) * 1000 * d], 1000, d);
    let mut state = params.online_start(&piece(0).unwrap()).unwrap();
    assert_eq!(state.step, 0);
    let mut first = None;
    let mut last = 0.0;
    for i in 0..n / 1000 {
        last = params
            .online_update(&mut state, &piece(i).unwrap(), 0.6)
            .unwrap();
        first.get_or_insert(last);
    }
    assert_eq!(state.step, 30);
    assert!(last > first.unwrap(), "{last} after {first:?}");
    let model = state.model(&params, 0.6).unwrap();
    assert_eq!(model.n_iter, 30);
    let all = ArraySource::from_slice(&x, n, d).unwrap();
    let full = params.clone().fit(&all).unwrap();
    let got = model.score(&all, Default::default()).unwrap();
    assert!(
        (got - full.log_likelihood).abs() < 0.01,
        "{got} vs {}",
        full.log_likelihood
    );

    // Other columns, other decays, other parameters: errors naming them.
    let narrow = ArraySource::from_slice(&x[..1000 * 2], 1000, 2).unwrap();
    let e = params.online_update(&mut state, &narrow, 0.6).unwrap_err();
    assert!(e.to_string().contains("2 columns but 3"), "{e}");
    let e = params
        .online_update(&mut state, &piece(1).unwrap(), 0.4)
        .unwrap_err();
    assert!(e.to_string().contains("step_decay"), "{e}");
    let other = params.clone().covariance(CovarianceType::Full);
    let e = other
        .online_update(&mut state, &piece(1).unwrap(), 0.6)
        .unwrap_err();
    assert!(e.to_string().contains("diag"), "{e}");
    assert_eq!(state.step, 30);
}

#[test]
fn bad_options_and_unsupported_fits_are_refused_by_name() {
    let (x, d) = known_mixture(CovarianceType::Diag, 2000, 4);
    let src = ArraySource::from_slice(&x, 2000, d).unwrap();
    let p = GmmParams::new(4).covariance(CovarianceType::Diag);
    let fit = |p: &GmmParams, o: OnlineOptions| {
        p.fit_online(&src, &o, OnlineHooks::default())
            .unwrap_err()
            .to_string()
    };
    let e = fit(
        &p,
        OnlineOptions {
            step_decay: 0.5,
            ..OnlineOptions::default()
        },
    );
    assert!(e.contains("step_decay"), "{e}");
    let e = fit(
        &p,
        OnlineOptions {
            batch_size: 0,
            ..OnlineOptions::default()
        },
    );
    assert!(e.contains("batch_size"), "{e}");
    let e = fit(
        &p.clone().bayesian(Default::default()),
        OnlineOptions::default(),
    );
    assert!(e.contains("online"), "{e}");
    let e = fit(
        &p.clone().init(Init::Responsibilities("r.npy".into())),
        OnlineOptions::default(),
    );
    assert!(e.contains("init"), "{e}");
    // A state of another shape is refused on resume.
    let mut good = p
        .fit_online(
            &src,
            &OnlineOptions {
                max_steps: Some(2),
                ..OnlineOptions::default()
            },
            OnlineHooks::default(),
        )
        .map(|_| ())
        .and_then(|()| p.online_start(&src))
        .unwrap();
    good.s1.pop();
    let e = fit(
        &p,
        OnlineOptions {
            resume: Some(good),
            ..OnlineOptions::default()
        },
    );
    assert!(e.contains("resume") && e.contains("s1"), "{e}");
}

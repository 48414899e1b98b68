//! Scores over a source shared between processes (simulated by threads with
//! `ThreadGroup`) give the single-process result bit for bit, whatever the
//! number of processes: silhouette (exact and sampled), Calinski–Harabasz and
//! Davies–Bouldin, principal axes, and the elbow and BIC sweeps.
//! scripts/test_mpi.sh checks the same through `mpirun`.

use mmclust_core::ArraySource;
use mmclust_core::group::ThreadGroup;
use mmclust_core::parallel::PassOptions;
use mmclust_core::source::Distributed;
use mmclust_eval::{
    GmmSweepParams, Labels, SilhouetteParams, SweepParams, cluster_scores, elbow, gmm_sweep,
    principal_axes, silhouette,
};
use mmclust_gmm::CovarianceType;

/// Rows around 4 centres with a deterministic wobble, and a labelling that
/// is mostly but not exactly the generating one.
fn data(n: usize, d: usize) -> (Vec<f32>, Labels) {
    let mut x = Vec::with_capacity(n * d);
    let mut l = Vec::with_capacity(n);
    for i in 0..n {
        let c = i * 7 % 4;
        for p in 0..d {
            let w = ((i * 7919 + p * 104_729) % 1000) as f32 / 1000.0 - 0.5;
            x.push(c as f32 * 3.0 + p as f32 * 0.25 + 4.0 * w);
        }
        l.push(if i % 11 == 0 { (c + 1) % 4 } else { c } as i32);
    }
    (x, Labels::new(&l).unwrap())
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn silhouette_and_cluster_scores_match_one_process_on_1_to_4_ranks() {
    let (n, d) = (9_001, 3);
    let (x, labels) = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    for sample in [None, Some(1_001), Some(3)] {
        let p = SilhouetteParams {
            sample,
            seed: 5,
            ..SilhouetteParams::default()
        };
        let one = silhouette(&src, &labels, &p, PassOptions::default()).unwrap();
        for ranks in 1..=4 {
            let all = ThreadGroup::run(ranks, |comm| {
                silhouette(
                    &Distributed::new(&src, comm),
                    &labels,
                    &p,
                    PassOptions::default(),
                )
                .unwrap()
            });
            for s in &all {
                let what = format!("sample {sample:?}, {ranks} ranks");
                assert_eq!(bits(&s.values), bits(&one.values), "{what}");
                assert_eq!(s.mean.to_bits(), one.mean.to_bits(), "{what}");
                assert_eq!(s.rows, one.rows, "{what}");
                assert_eq!(
                    s.std_error.map(f64::to_bits),
                    one.std_error.map(f64::to_bits)
                );
            }
        }
    }
    let one = cluster_scores(&src, &labels, PassOptions::default()).unwrap();
    let axes = principal_axes(&src).unwrap();
    for ranks in 2..=4 {
        let all = ThreadGroup::run(ranks, |comm| {
            let dist = Distributed::new(&src, comm);
            (
                cluster_scores(&dist, &labels, PassOptions::default()).unwrap(),
                principal_axes(&dist).unwrap(),
            )
        });
        for (c, a) in &all {
            assert_eq!(
                c.calinski_harabasz.to_bits(),
                one.calinski_harabasz.to_bits()
            );
            assert_eq!(c.davies_bouldin.to_bits(), one.davies_bouldin.to_bits());
            assert_eq!(bits(&c.centroids), bits(&one.centroids));
            assert_eq!(bits(&a.axes), bits(&axes.axes), "{ranks} ranks");
        }
    }
}

#[test]
fn elbow_and_bic_sweeps_match_one_process_on_3_ranks() {
    let (n, d) = (6_000, 4);
    let (x, _) = data(n, d);
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let kp = SweepParams {
        n_init: 2,
        seed: 3,
        standardize: true,
    };
    let gp = GmmSweepParams {
        seed: 3,
        max_iter: 20,
        ..GmmSweepParams::default()
    };
    let covs = [CovarianceType::Full, CovarianceType::Diag];
    let e1 = elbow(&src, 1..=4, &kp, |_, _| {}).unwrap();
    let g1 = gmm_sweep(&src, 2..=3, &covs, &gp, |_| {}).unwrap();
    let all = ThreadGroup::run(3, |comm| {
        let dist = Distributed::new(&src, comm);
        (
            elbow(&dist, 1..=4, &kp, |_, _| {}).unwrap(),
            gmm_sweep(&dist, 2..=3, &covs, &gp, |_| {}).unwrap(),
        )
    });
    for (e, g) in &all {
        assert_eq!(bits(&e.sse), bits(&e1.sse));
        assert_eq!(e.knee, e1.knee);
        let bic = |c: &[mmclust_eval::GmmCandidate]| {
            c.iter()
                .map(|c| c.bic().map(f64::to_bits))
                .collect::<Vec<_>>()
        };
        assert_eq!(bic(g), bic(&g1));
    }
}

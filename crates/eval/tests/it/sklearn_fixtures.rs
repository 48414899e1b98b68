//! Scores against scikit-learn (fixtures from scripts/make_eval_fixtures.py).
//!
//! Tolerances: per-row silhouette values within 1e-6 absolute (they lie in
//! [−1, 1]; our distances are f32 exact differences, sklearn's f64); every
//! summary score within 1e-6 relative.

use std::path::PathBuf;

use mmclust_core::format::{NpyFile, read_npy_vector_i32};
use mmclust_core::parallel::PassOptions;
use mmclust_eval::{
    Labels, SilhouetteParams, adjusted_rand_index, cluster_scores, normalized_mutual_info,
    silhouette,
};
use mmclust_kmeans::Metric;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn close(name: &str, got: f64, want: f64) {
    let rel = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        rel <= 1e-6 || (got - want).abs() <= 1e-12,
        "{name}: got {got}, sklearn {want} (relative error {rel:.2e})"
    );
}

#[test]
fn scores_match_sklearn() {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("eval_fixtures.json")).unwrap(),
    )
    .unwrap();
    let cases = meta["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, want) in cases {
        let x = NpyFile::open(fixtures().join(format!("{name}_x.npy"))).unwrap();
        let raw = read_npy_vector_i32(fixtures().join(format!("{name}_labels.npy"))).unwrap();
        let labels = Labels::new(&raw).unwrap();

        let s = silhouette(
            &x,
            &labels,
            &SilhouetteParams::default(),
            PassOptions::default(),
        )
        .unwrap();
        let samples = want["silhouette_samples"].as_array().unwrap();
        assert_eq!(s.values.len(), samples.len());
        let worst = s
            .values
            .iter()
            .zip(samples)
            .map(|(a, b)| (a - b.as_f64().unwrap()).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-6,
            "{name}: silhouette samples differ by {worst:.2e}"
        );
        close(
            &format!("{name} silhouette"),
            s.mean,
            want["silhouette_score"].as_f64().unwrap(),
        );

        let c = cluster_scores(&x, &labels, PassOptions::default()).unwrap();
        close(
            &format!("{name} CH"),
            c.calinski_harabasz,
            want["calinski_harabasz"].as_f64().unwrap(),
        );
        close(
            &format!("{name} DB"),
            c.davies_bouldin,
            want["davies_bouldin"].as_f64().unwrap(),
        );

        if let Some(ari) = want.get("adjusted_rand") {
            let t = read_npy_vector_i32(fixtures().join(format!("{name}_truth.npy"))).unwrap();
            let truth = Labels::new(&t).unwrap();
            close(
                &format!("{name} ARI"),
                adjusted_rand_index(&truth, &labels).unwrap(),
                ari.as_f64().unwrap(),
            );
            close(
                &format!("{name} NMI"),
                normalized_mutual_info(&truth, &labels).unwrap(),
                want["nmi"].as_f64().unwrap(),
            );
        }
    }
}

#[test]
fn elbow_and_bic_pick_two_on_old_faithful() {
    let x = NpyFile::open(fixtures().join("faithful_x.npy")).unwrap();
    let e =
        mmclust_eval::elbow(&x, 1..=8, &mmclust_eval::SweepParams::default(), |_, _| {}).unwrap();
    assert_eq!(e.knee, Some(2), "SSE {:?}", e.sse);
    let c = mmclust_eval::gmm_sweep(
        &x,
        1..=4,
        &[mmclust_gmm::CovarianceType::Full],
        &mmclust_eval::GmmSweepParams::default(),
        |_| {},
    )
    .unwrap();
    let best = mmclust_eval::best_by_bic(&c).unwrap();
    assert_eq!(c[best].k, 2);
}

/// The cosine silhouette against scikit-learn's `metric="cosine"` (fixtures
/// from scripts/make_spherical_fixtures.py): per-row values within 1e-6
/// absolute, the score within 1e-6 relative; the sampled estimate scores
/// each sampled row exactly, so its values are the same rows' values.
#[test]
fn cosine_silhouette_matches_sklearn() {
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("cosine_silhouette.json")).unwrap(),
    )
    .unwrap();
    let x = NpyFile::open(fixtures().join("cosine_x.npy")).unwrap();
    let raw = read_npy_vector_i32(fixtures().join("cosine_labels.npy")).unwrap();
    let labels = Labels::new(&raw).unwrap();
    let params = SilhouetteParams {
        metric: Metric::Cosine,
        ..SilhouetteParams::default()
    };
    let s = silhouette(&x, &labels, &params, PassOptions::default()).unwrap();
    let samples: Vec<f64> = want["silhouette_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(s.values.len(), samples.len());
    for (i, (a, b)) in s.values.iter().zip(&samples).enumerate() {
        assert!((a - b).abs() < 1e-6, "row {i}: {a} against sklearn {b}");
    }
    close(
        "cosine silhouette",
        s.mean,
        want["silhouette_score"].as_f64().unwrap(),
    );
    // Not the Euclidean one (the rows have different lengths).
    let e = silhouette(
        &x,
        &labels,
        &SilhouetteParams::default(),
        PassOptions::default(),
    )
    .unwrap();
    assert!((e.mean - s.mean).abs() > 1e-3, "{} {}", e.mean, s.mean);
    let sampled = silhouette(
        &x,
        &labels,
        &SilhouetteParams {
            sample: Some(100),
            seed: 4,
            ..params
        },
        PassOptions::default(),
    )
    .unwrap();
    let rows = sampled.rows.unwrap();
    assert_eq!(rows.len(), 100);
    for (&r, v) in rows.iter().zip(&sampled.values) {
        assert!(
            (v - samples[r]).abs() < 1e-6,
            "sampled row {r}: {v} against {}",
            samples[r]
        );
    }
}

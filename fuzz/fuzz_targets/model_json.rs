//! The model loaders (`KMeansModel::from_json`, `GaussianMixtureModel::from_json`):
//! any text gives a model that predicts, scores and samples without panicking
//! and without NaN labels, or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmclust_core::ArraySource;
use mmclust_core::parallel::PassOptions;
use mmclust_gmm::GaussianMixtureModel;
use mmclust_kmeans::KMeansModel;

fn data(d: usize) -> Vec<f32> {
    (0..8 * d).map(|i| (i % 7) as f32 - 3.0).collect()
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(m) = KMeansModel::from_json(text) {
        if m.k * m.d <= 1 << 16 {
            let x = data(m.d);
            let src = ArraySource::from_slice(&x, 8, m.d).unwrap();
            if let Ok(labels) = m.predict(&src) {
                assert!(labels.iter().all(|&l| (l as usize) < m.k));
            }
            let _ = m.inertia_of(&src, None, PassOptions::default());
            let _ = m.to_json(None);
        }
    }
    if let Ok(m) = GaussianMixtureModel::from_json(text) {
        let (k, d) = (m.k(), m.d());
        if k * d * d <= 1 << 16 {
            let x = data(d);
            let src = ArraySource::from_slice(&x, 8, d).unwrap();
            if let Ok(labels) = m.predict(&src) {
                assert!(labels.iter().all(|&l| (l as usize) < k));
            }
            if let Ok(p) = m.predict_proba(&src) {
                assert!(p.iter().all(|v| v.is_finite()));
            }
            let _ = m.score(&src, PassOptions::default());
            let _ = m.sample(5, 1);
            let _ = m.to_json(None);
        }
    }
});

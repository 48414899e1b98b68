//! The mini-batch checkpoint loader: the JSON the CLI reads (`state` of a
//! `--checkpoint` file) is deserialised into a `MiniBatchState` exactly as
//! `mmclust kmeans --resume` does, and a run is resumed from it on a small
//! matrix of the state's shape: typed error or a finished fit, never a panic
//! or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmclust_core::ArraySource;
use mmclust_kmeans::{Algorithm, KMeansParams, MiniBatchOptions, MiniBatchState};

fuzz_target!(|bytes: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let state_json = v.get("state").cloned().unwrap_or(v);
    let Ok(state) = serde_json::from_value::<MiniBatchState>(state_json) else {
        return;
    };
    let (k, d) = (state.k, state.d);
    if k == 0 || d == 0 || k > 16 || d > 16 {
        return;
    }
    let n = 64;
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 37) % 11) as f32).collect();
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut params = KMeansParams::new(k);
    params.max_iter = 2;
    params.algorithm = Algorithm::MiniBatch(Box::new(MiniBatchOptions {
        batch_size: 16,
        resume: Some(state),
        ..MiniBatchOptions::default()
    }));
    if let Ok(model) = params.fit(&src) {
        assert!(model.centers.iter().all(|c| c.is_finite()));
    }
});

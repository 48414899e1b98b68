//! A mini-batch checkpoint goes through JSON (`mmclust kmeans --checkpoint`,
//! `--resume`); a resumed run must continue with the very bits it stopped
//! with, on any number of ranks. So every float of the state must come back
//! from its JSON text unchanged, which serde_json guarantees only with its
//! `float_roundtrip` feature (without it, its fast parser is off by one unit in
//! the last place for some values, e.g. 31.998304422606406 read back as
//! 31.99830442260641, which changed a resumed run's history).

use mmclust_kmeans::MiniBatchState;
use proptest::prelude::*;

fn state(values: &[f64], centers: Vec<f32>) -> MiniBatchState {
    let k = values.len().max(1);
    let d = centers.len() / k;
    let mut s = MiniBatchState::start(k, d, 1_000_000, centers, values[0].abs());
    s.counts = values.iter().map(|v| v.abs()).collect();
    s.ewa = Some(values[0]);
    s.ewa_min = Some(values[values.len() - 1]);
    s.history = values.to_vec();
    s.step = values.len() as u64;
    s.step_seconds = values[values.len() / 2].abs();
    s
}

fn round_trip(s: &MiniBatchState) -> MiniBatchState {
    let text = serde_json::to_string(&serde_json::json!({ "state": s })).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["state"].clone()).unwrap()
}

fn same_bits(a: &MiniBatchState, b: &MiniBatchState) {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.history), bits(&b.history), "history");
    assert_eq!(bits(&a.counts), bits(&b.counts), "counts");
    assert_eq!(a.ewa.map(f64::to_bits), b.ewa.map(f64::to_bits), "ewa");
    assert_eq!(
        a.ewa_min.map(f64::to_bits),
        b.ewa_min.map(f64::to_bits),
        "ewa_min"
    );
    let fbits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(fbits(&a.centers), fbits(&b.centers), "centers");
    assert_eq!(a, b);
}

#[test]
fn the_value_a_resumed_run_changed_comes_back_exactly() {
    let v = [
        31.998304422606406,
        40.21981175315521,
        1e-300,
        123_456_789.123_456_78,
    ];
    let s = state(&v, vec![0.1, -2.5e-7, 3.4e38, 1.0]);
    same_bits(&s, &round_trip(&s));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Smoothed inertias (the history, ewa) are positive doubles of every
    /// magnitude; 64 cases × 256 values.
    #[test]
    fn every_float_of_a_state_survives_json(
        exps in proptest::collection::vec(-30i32..30, 256),
        mant in proptest::collection::vec(1.0f64..2.0, 256),
        centers in proptest::collection::vec(-1e6f32..1e6, 256),
    ) {
        let v: Vec<f64> = exps.iter().zip(&mant).map(|(&e, &m)| m * 2f64.powi(e)).collect();
        let s = state(&v, centers);
        same_bits(&s, &round_trip(&s));
    }
}

//! What the scikit-learn fixture tests share: fixture paths, JSON numbers
//! flattened, and the relative error they compare with.

use std::path::PathBuf;

use mmclust_core::testing;
use serde_json::Value;

pub(crate) fn fixture(name: &str) -> PathBuf {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// Every number of a JSON value (nested arrays flattened in order).
pub(crate) fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Number(x) => vec![x.as_f64().unwrap()],
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        other => panic!("not numeric: {other}"),
    }
}

/// Largest |a − b| / max(|b|, 1).
pub(crate) fn max_rel(got: &[f64], want: &[f64], what: &str) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

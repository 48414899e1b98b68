//! The model loaders (`KMeansModel::from_json`, `GaussianMixtureModel::from_json`):
//! any text gives a model that predicts, scores and samples without panicking
//! and without NaN labels, or a typed error.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::model_json(data));

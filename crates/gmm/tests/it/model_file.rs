//! The GMM model file: every field required (a missing one is an error that
//! names it), files of earlier versions of the writer load, a newer version
//! is refused with the version it needs.

use mmclust_core::ArraySource;
use mmclust_gmm::{CovarianceType, GaussianMixtureModel, GmmParams, MODEL_VERSION, Precision};
use serde_json::Value;

fn fitted(cov: CovarianceType, standardize: bool) -> GaussianMixtureModel {
    let n = 200;
    let x: Vec<f32> = (0..n * 2)
        .map(|i| {
            let (r, j) = (i / 2, i % 2);
            let centre = if r % 3 == 0 { -4.0 } else { 3.0 };
            centre + (j as f32 + 1.0) * ((i as f32 * 0.618).sin())
        })
        .collect();
    let src = ArraySource::from_slice(&x, n, 2).unwrap();
    GmmParams::new(2)
        .covariance(cov)
        .standardize(standardize)
        .seed(3)
        .fit(&src)
        .unwrap()
}

fn message(text: &str) -> String {
    GaussianMixtureModel::from_json(text)
        .expect_err("the model file should be refused")
        .to_string()
}

/// Every field the writer writes is required: removing any one of them,
/// at the top level or among the parameters and timings, is an error that
/// names it (before, missing fields were filled with defaults). The two
/// fields added after version 1 (`precision`, `f32_iterations`) are the
/// exceptions, tested with the files of earlier writers below.
#[test]
fn a_missing_field_is_an_error_that_names_it() {
    let v = fitted(CovarianceType::Full, true).to_json(Some(serde_json::json!({"path": "x.npy"})));
    let Value::Object(top) = &v else {
        panic!("a model file is an object")
    };
    assert!(top.len() > 20, "{} fields", top.len());
    for field in top.keys() {
        let mut w = v.clone();
        w.as_object_mut().unwrap().remove(field);
        let e = message(&w.to_string());
        assert!(
            e.contains(&format!("`{field}`")) || e.contains(&format!("\"{field}\"")),
            "{field}: {e}"
        );
    }
    for (group, optional) in [
        ("parameters", &["precision", "f32_iterations"][..]),
        ("seconds", &[][..]),
    ] {
        for field in v[group].as_object().unwrap().keys() {
            let mut w = v.clone();
            w[group].as_object_mut().unwrap().remove(field);
            if optional.contains(&field.as_str()) {
                assert!(
                    GaussianMixtureModel::from_json(&w.to_string()).is_ok(),
                    "{field}"
                );
            } else {
                let e = message(&w.to_string());
                assert!(e.contains(&format!("`{field}`")), "{group}.{field}: {e}");
            }
        }
    }
    // A field written as null (no standardiser, a non-finite bound) is
    // present, not missing.
    let given = GaussianMixtureModel::from_parameters(
        CovarianceType::Spherical,
        vec![0.5, 0.5],
        vec![0.0, 0.0, 3.0, 3.0],
        vec![1.0, 2.0],
    )
    .unwrap();
    let w = given.to_json(None);
    assert!(w["standardizer"].is_null() && w["lower_bound"].is_null() && w["input"].is_null());
    let back = GaussianMixtureModel::from_json(&w.to_string()).unwrap();
    assert!(back.standardizer.is_none() && back.lower_bound.is_nan());
}

/// Models written by earlier builds (the fuzz seeds, version 1 files written
/// before `--precision` existed, one per covariance type) load: their
/// parameters, metadata and a prediction.
#[test]
fn files_of_earlier_versions_load() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/model_json");
    let mut seen = 0;
    for cov in ["full", "tied", "diag", "spherical"] {
        let path = format!("{root}/seed-gmm-{cov}");
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["parameters"].get("precision").is_none(), "{path}");
        let m = GaussianMixtureModel::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(m.covariance_type().name(), cov);
        assert_eq!((m.k(), m.d()), (2, 2));
        assert_eq!(m.precision, Precision::F64);
        assert_eq!(m.f32_iterations, 0);
        assert_eq!(m.n_rows as u64, v["n_rows"].as_u64().unwrap());
        assert_eq!(m.n_iter as u64, v["n_iter"].as_u64().unwrap());
        assert_eq!(m.lower_bound, v["lower_bound"].as_f64().unwrap());
        assert_eq!(m.tol, v["parameters"]["tol"].as_f64().unwrap());
        assert_eq!(m.init, v["parameters"]["init"].as_str().unwrap());
        assert_eq!(m.run_lower_bounds.len(), 1);
        let x = [2.0f32, 54.0, 4.2, 82.0];
        let labels = m
            .predict(&ArraySource::from_slice(&x, 2, 2).unwrap())
            .unwrap();
        assert_ne!(labels[0], labels[1], "{path}");
        seen += 1;
    }
    assert_eq!(seen, 4);
}

/// A file of a newer version is refused with the version it needs and the
/// versions this build reads; version 0 is not a version.
#[test]
fn a_newer_version_is_refused_with_the_version_it_needs() {
    let mut v = fitted(CovarianceType::Diag, false).to_json(None);
    assert_eq!(v["version"], MODEL_VERSION);
    v["version"] = (MODEL_VERSION + 1).into();
    let e = message(&v.to_string());
    let newer = format!("model version {} is newer", MODEL_VERSION + 1);
    assert!(e.contains(&newer), "{e}");
    assert!(e.contains(&format!("versions 1 to {MODEL_VERSION}")), "{e}");
    assert!(e.contains(env!("CARGO_PKG_VERSION")), "{e}");
    v["version"] = 0.into();
    assert!(message(&v.to_string()).contains("\"version\""));
}

/// Equal JSON values, numbers to within the last digit (serde_json's parser
/// may land one ulp from the written value).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * y.abs().max(1e-300)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Writing a loaded model gives the file back: every field survives the
/// round trip.
#[test]
fn a_loaded_model_writes_the_same_file() {
    for cov in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let m = fitted(cov, cov == CovarianceType::Diag);
        let v = m.to_json(Some(serde_json::json!({"rows": 200})));
        let back = GaussianMixtureModel::from_json(&v.to_string()).unwrap();
        let w = back.to_json(Some(serde_json::json!({"rows": 200})));
        let Value::Object(a) = &v else { unreachable!() };
        assert_eq!(a.len(), w.as_object().unwrap().len());
        for (key, value) in a {
            assert!(same(value, &w[key]), "{cov} {key}: {value} vs {}", w[key]);
        }
        assert_eq!(back.precision, m.precision);
    }
}

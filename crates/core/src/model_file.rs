//! What every model file shares, written once: the header a reader checks
//! before anything else (`"kind"`, then `"version"`), and the parts every
//! model writes the same way (the z-score transform, the timings of the fit).
//!
//! A model's own file struct holds these parts; its reader calls [`read`],
//! which turns every problem into a message for the model's invalid-model
//! error.
//!
//! ```
//! use mmclust_core::model_file::read;
//!
//! #[derive(serde::Deserialize)]
//! struct File {
//!     k: usize,
//! }
//!
//! let f: File = read(r#"{"kind": "toy", "version": 1, "k": 3}"#, "toy", 1).unwrap();
//! assert_eq!(f.k, 3);
//! let err = read::<File>(r#"{"kind": "gmm", "version": 1, "k": 3}"#, "toy", 1).err();
//! assert_eq!(err.unwrap(), "it is a \"gmm\" model, not a \"toy\" model");
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stats::Standardizer;

/// Reads a model file of kind `kind` whose format this build writes at
/// version `version`: the text must be JSON, its `"kind"` must be `kind`,
/// its `"version"` one from 1 to `version` (checked before the fields: a
/// newer file may lack fields this build needs), and its fields those of `T`.
///
/// # Errors
/// A message naming what is wrong: not JSON, another kind, a version this
/// build cannot read (a newer one with the version it needs), a missing or
/// malformed field by its name.
pub fn read<T: DeserializeOwned>(text: &str, kind: &str, version: u32) -> Result<T, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    match v.get("kind").and_then(Value::as_str) {
        Some(found) if found == kind => {}
        Some(other) => return Err(format!("it is a \"{other}\" model, not a \"{kind}\" model")),
        None => return Err("no \"kind\" field; not an mmclust model".into()),
    }
    match v.get("version").and_then(Value::as_u64) {
        Some(found) if found > u64::from(version) => {
            return Err(format!(
                "model version {found} is newer than this build of mmclust ({}) reads \
                 (versions 1 to {version}); read it with the mmclust that wrote it, \
                 or a later one",
                env!("CARGO_PKG_VERSION")
            ));
        }
        Some(0) | None => {
            return Err(format!(
                "\"version\" must be a model version from 1 to {version}"
            ));
        }
        Some(_) => {}
    }
    serde_json::from_value(v).map_err(|e| format!("missing or malformed field ({e})"))
}

/// A model's z-score transform as its file holds it.
#[derive(Debug, Serialize, Deserialize)]
pub struct StandardizerFile {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column scales.
    pub scale: Vec<f64>,
}

impl From<&Standardizer> for StandardizerFile {
    fn from(t: &Standardizer) -> Self {
        StandardizerFile {
            mean: t.mean.clone(),
            scale: t.scale.clone(),
        }
    }
}

impl StandardizerFile {
    /// The transform, checked against the `d` columns of the model's
    /// `parameters` (a noun for the message: "centres", "means").
    ///
    /// # Errors
    /// A message saying what does not fit.
    pub fn into_standardizer(self, d: usize, parameters: &str) -> Result<Standardizer, String> {
        if self.mean.len() != d {
            return Err(format!(
                "\"standardizer\" has {} columns, the {parameters} {d}",
                self.mean.len()
            ));
        }
        Standardizer::from_parts(self.mean, self.scale).map_err(|e| e.to_string())
    }
}

/// The timings of a fit, in seconds, as a model file holds them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Seconds {
    /// The statistics pass.
    pub stats: f64,
    /// The winning run's initialisation.
    pub init: f64,
    /// The winning run's iterations.
    pub iter: f64,
    /// The whole fit.
    pub fit: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        #[allow(dead_code)]
        k: usize,
    }

    #[test]
    fn the_header_is_checked_before_the_fields() {
        let read_toy = |text: &str| read::<File>(text, "toy", 2).map(|_| ()).unwrap_err();
        assert!(read_toy("{").starts_with("not valid JSON"));
        assert_eq!(read_toy("{}"), "no \"kind\" field; not an mmclust model");
        assert!(
            read_toy(r#"{"kind": "toy", "version": 3}"#).starts_with("model version 3 is newer")
        );
        assert_eq!(
            read_toy(r#"{"kind": "toy"}"#),
            "\"version\" must be a model version from 1 to 2"
        );
        assert!(read_toy(r#"{"kind": "toy", "version": 2}"#).contains("missing field `k`"));
        assert!(read::<File>(r#"{"kind": "toy", "version": 1, "k": 1}"#, "toy", 2).is_ok());
    }

    #[test]
    fn a_standardizer_must_match_the_columns() {
        let file = StandardizerFile {
            mean: vec![0.0, 1.0],
            scale: vec![1.0, 2.0],
        };
        let t = Standardizer::from_parts(file.mean.clone(), file.scale.clone()).unwrap();
        assert_eq!(StandardizerFile::from(&t).scale, file.scale);
        assert_eq!(
            file.into_standardizer(3, "means").unwrap_err(),
            "\"standardizer\" has 2 columns, the means 3"
        );
    }
}

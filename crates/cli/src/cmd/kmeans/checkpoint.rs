//! Checkpoint files of mini-batch and exact (Lloyd, Hamerly, Yinyang) runs:
//! the run's state plus what it belongs to (the input's fingerprint and the
//! options that shape the run), so a resume with other data or other options
//! is refused instead of silently diverging.

use std::path::Path;

use anyhow::Result;
use mmclust_kmeans::{KMeansError, LloydState, MiniBatchState};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::fail::usage;

const VERSION: u64 = 1;

/// A run state a checkpoint file holds.
pub(super) trait State: Serialize + DeserializeOwned {
    /// The file's `"kind"`.
    const KIND: &'static str;
    /// What the run is called in messages.
    const WHAT: &'static str;
    /// Whether a run could have written it.
    fn check(&self) -> mmclust_kmeans::Result<()>;
}

impl State for MiniBatchState {
    const KIND: &'static str = "mmclust-minibatch-checkpoint";
    const WHAT: &'static str = "mini-batch";
    fn check(&self) -> mmclust_kmeans::Result<()> {
        self.validate()
    }
}

impl State for LloydState {
    const KIND: &'static str = "mmclust-lloyd-checkpoint";
    const WHAT: &'static str = "exact (lloyd, hamerly, yinyang)";
    fn check(&self) -> mmclust_kmeans::Result<()> {
        self.validate()
    }
}

/// Writes a checkpoint atomically (temporary name, then rename).
pub(super) fn save<T: State>(
    path: &Path,
    inputs: &[&Path],
    input: &Value,
    params: &Value,
    state: &T,
) -> mmclust_kmeans::Result<()> {
    let v = json!({
        "kind": T::KIND,
        "version": VERSION,
        "input": input,
        "parameters": params,
        "state": state,
    });
    let text = serde_json::to_string(&v).expect("checkpoint serialises") + "\n";
    mmclust_core::output::write_atomic(path, inputs, text.as_bytes()).map_err(KMeansError::from)
}

/// Reads a checkpoint and checks it belongs to this input and these options.
pub(super) fn load<T: State>(path: &Path, input: &Value, params: &Value) -> Result<T> {
    let text = crate::input::read_text(
        path,
        "a checkpoint written by `mmclust kmeans --checkpoint`",
    )?;
    let bad = |what: String| usage(format!("{}: {what}", path.display()));
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not valid JSON ({e}); expected a checkpoint written by --checkpoint"
        ))
    })?;
    if v.get("kind").and_then(Value::as_str) != Some(T::KIND) {
        return Err(bad(format!(
            "not a checkpoint of an mmclust {} run (its kind is {}); resume with the algorithm \
             that wrote it",
            T::WHAT,
            v.get("kind").unwrap_or(&Value::Null)
        )));
    }
    if v.get("version").and_then(Value::as_u64) != Some(VERSION) {
        return Err(bad(format!(
            "checkpoint version {} is not {VERSION}",
            v["version"]
        )));
    }
    let saved_input = &v["input"];
    for key in ["rows", "cols", "dtype", "bytes"] {
        if saved_input.get(key) != input.get(key) {
            return Err(bad(format!(
                "it was written for another input ({} with {key} {}, this run's data has {}); resume with the same data file",
                saved_input["path"], saved_input[key], input[key]
            )));
        }
    }
    let saved_params = &v["parameters"];
    if let (Some(saved), Some(now)) = (saved_params.as_object(), params.as_object()) {
        for (key, value) in now {
            if saved.get(key) != Some(value) {
                return Err(bad(format!(
                    "it was written with {key} = {}, this run has {key} = {value}; resume with the same options",
                    saved.get(key).unwrap_or(&Value::Null)
                )));
            }
        }
    }
    let state: T = serde_json::from_value(v["state"].clone())
        .map_err(|e| bad(format!("malformed state ({e})")))?;
    if let Err(e) = state.check() {
        return Err(bad(format!("the checkpoint is corrupt: {e}")));
    }
    Ok(state)
}

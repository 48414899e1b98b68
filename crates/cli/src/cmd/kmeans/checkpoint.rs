//! Mini-batch checkpoint files: the run's state plus what it belongs to (the
//! input's fingerprint and the options that shape the run), so a resume with
//! other data or other options is refused instead of silently diverging.

use std::path::Path;

use anyhow::Result;
use mmclust_kmeans::{KMeansError, MiniBatchState};
use serde_json::{Value, json};

use crate::fail::usage;

const KIND: &str = "mmclust-minibatch-checkpoint";
const VERSION: u64 = 1;

/// Writes a checkpoint atomically (temporary name, then rename).
pub(super) fn save(
    path: &Path,
    inputs: &[&Path],
    input: &Value,
    params: &Value,
    state: &MiniBatchState,
) -> mmclust_kmeans::Result<()> {
    let v = json!({
        "kind": KIND,
        "version": VERSION,
        "input": input,
        "parameters": params,
        "state": state,
    });
    let text = serde_json::to_string(&v).expect("checkpoint serialises") + "\n";
    mmclust_core::output::write_atomic(path, inputs, text.as_bytes()).map_err(KMeansError::from)
}

/// Reads a checkpoint and checks it belongs to this input and these options.
pub(super) fn load(path: &Path, input: &Value, params: &Value) -> Result<MiniBatchState> {
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
    if v.get("kind").and_then(Value::as_str) != Some(KIND) {
        return Err(bad("not an mmclust mini-batch checkpoint".into()));
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
    let state: MiniBatchState = serde_json::from_value(v["state"].clone())
        .map_err(|e| bad(format!("malformed state ({e})")))?;
    if let Err(e) = state.validate() {
        return Err(bad(format!("the checkpoint is corrupt: {e}")));
    }
    Ok(state)
}

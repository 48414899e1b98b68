//! Checkpoint files of mini-batch K-means, exact K-means (Lloyd, Hamerly,
//! Yinyang), full-batch EM and online EM: the run's state plus what it belongs to (the input's
//! fingerprint and the options that shape the run), so a resume with other
//! data or other options is refused instead of silently diverging.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::fail::usage;

/// What kind of run a checkpoint belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// The file's `"kind"`.
    name: &'static str,
    /// What the file is, in messages.
    what: &'static str,
    /// The command line that writes it, in messages.
    writer: &'static str,
}

/// `mmclust kmeans --algorithm minibatch --checkpoint`.
pub(crate) const MINIBATCH: Kind = Kind {
    name: "mmclust-minibatch-checkpoint",
    what: "mini-batch",
    writer: "mmclust kmeans --checkpoint",
};

/// `mmclust kmeans --algorithm lloyd|hamerly|yinyang|auto --checkpoint`.
pub(crate) const LLOYD: Kind = Kind {
    name: "mmclust-lloyd-checkpoint",
    what: "exact K-means (lloyd, hamerly, yinyang)",
    writer: "mmclust kmeans --checkpoint",
};

/// `mmclust gmm --online --checkpoint`.
pub(crate) const ONLINE_GMM: Kind = Kind {
    name: "mmclust-online-gmm-checkpoint",
    what: "online GMM",
    writer: "mmclust gmm --online --checkpoint",
};

/// `mmclust gmm --checkpoint` (full-batch EM, maximum likelihood or
/// `--bayesian`).
pub(crate) const EM_GMM: Kind = Kind {
    name: "mmclust-gmm-checkpoint",
    what: "GMM (full-batch EM)",
    writer: "mmclust gmm --checkpoint",
};

const VERSION: u64 = 1;

/// Writes a checkpoint atomically (temporary name, then rename).
pub(crate) fn save<T: Serialize>(
    kind: Kind,
    path: &Path,
    inputs: &[&Path],
    input: &Value,
    params: &Value,
    state: &T,
) -> mmclust_core::Result<()> {
    let v = json!({
        "kind": kind.name,
        "version": VERSION,
        "input": input,
        "parameters": params,
        "state": state,
    });
    let text = serde_json::to_string(&v).expect("checkpoint serialises") + "\n";
    mmclust_core::output::write_atomic(path, inputs, text.as_bytes())
}

/// Reads a checkpoint and checks it belongs to this input and these options,
/// and that its state passes `validate`.
pub(crate) fn load<T: DeserializeOwned>(
    kind: Kind,
    path: &Path,
    input: &Value,
    params: &Value,
    validate: impl FnOnce(&T) -> std::result::Result<(), String>,
) -> Result<T> {
    let text =
        crate::input::read_text(path, &format!("a checkpoint written by `{}`", kind.writer))?;
    let bad = |what: String| usage(format!("{}: {what}", path.display()));
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not valid JSON ({e}); expected a checkpoint written by --checkpoint"
        ))
    })?;
    if v.get("kind").and_then(Value::as_str) != Some(kind.name) {
        return Err(bad(format!(
            "not an mmclust {} checkpoint (its kind is {}); resume with the command and \
             algorithm that wrote it",
            kind.what,
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
    if let Err(e) = validate(&state) {
        return Err(bad(format!("the checkpoint is corrupt: {e}")));
    }
    Ok(state)
}

/// The error of a run stopped by a signal after `step` steps (or
/// iterations: `unit`): where its state is and how to continue, or that it
/// is lost without `checkpoint`.
pub(crate) fn interrupted(step: u64, unit: &str, checkpoint: Option<&Path>) -> anyhow::Error {
    let message = match checkpoint {
        Some(p) => format!(
            "interrupted after {unit} {step}; the state is in {}: continue with --resume {}",
            p.display(),
            p.display()
        ),
        None => {
            format!(
                "interrupted after {unit} {step}; no --checkpoint was given, so the run is lost"
            )
        }
    };
    crate::fail::Interrupted(message).into()
}

//! The mini-batch checkpoint loader: the JSON the CLI reads (`state` of a
//! `--checkpoint` file) is deserialised into a `MiniBatchState` exactly as
//! `mmclust kmeans --resume` does, and a run is resumed from it on a small
//! matrix of the state's shape: typed error or a finished fit, never a panic
//! or a hang.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::checkpoint(data));

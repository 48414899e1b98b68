//! The kmeans crate's integration tests, one module per file, built as one
//! test binary (one link and one instantiation of the generic code instead of
//! one per file: most of the workspace test build's time). Run one file's
//! tests with `cargo test -p mmclust-kmeans --test it NAME::`.

mod accel;
mod checkpoint_json;
mod checkpoint_lloyd;
mod common;
mod distributed;
mod minibatch;
mod minibatch_split;
mod properties;
mod sample_init;
mod sklearn;
mod spherical;

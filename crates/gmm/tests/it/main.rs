//! The gmm crate's integration tests, one module per file, built as one
//! test binary (one link and one instantiation of the generic code instead of
//! one per file: most of the workspace test build's time). Run one file's
//! tests with `cargo test -p mmclust-gmm --test it NAME::`.

mod bayesian;
mod checkpoint_em;
mod common;
mod distributed;
mod init;
mod model_file;
mod online;
mod precision;
mod properties;
mod sklearn;

//! The eval crate's integration tests, one module per file, built as one
//! test binary (one link and one instantiation of the generic code instead of
//! one per file: most of the workspace test build's time). Run one file's
//! tests with `cargo test -p mmclust-eval --test it NAME::`.

mod distributed;
mod sklearn_fixtures;

//! The command line's integration tests, one binary (one build and one link
//! instead of one per file): each module runs `mmclust` as a user would.

mod common;

mod bad_input;
mod bayesian_cli;
mod cli;
mod determinism;
mod eval_cli;
mod faults;
mod gmm_cli;
mod isa;
mod kernel_cli;
mod large;
mod online_gmm_cli;
mod parquet_cli;
mod report_cli;
mod sparse_cli;
mod spherical_cli;

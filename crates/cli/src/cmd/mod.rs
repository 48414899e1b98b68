//! One module per command.

pub(crate) mod bench;
pub(crate) mod checkpoint;
pub(crate) mod convert;
pub(crate) mod eval;
pub(crate) mod fit;
pub(crate) mod generate;
pub(crate) mod gmm;
pub(crate) mod info;
pub(crate) mod kernel;
pub(crate) mod kmeans;
pub(crate) mod predict;
pub(crate) mod sample;
pub(crate) mod standardize;

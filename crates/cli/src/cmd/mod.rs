//! One module per command.

pub(crate) mod convert;
pub(crate) mod generate;
pub(crate) mod info;
pub(crate) mod standardize;

//! Gaussian mixture models fitted by EM over any [`mmclust_core::DataSource`].
//!
//! Empty for now: the covariance types and the streaming EM arrive with their
//! own issue, built on the chunked passes of `mmclust-core`.

//! K-means clustering over any [`mmclust_core::DataSource`].
//!
//! Empty for now: Lloyd, the bound-accelerated variants and mini-batch arrive
//! with their own issues, built on the chunked passes and the fused assignment
//! kernel of `mmclust-core`.

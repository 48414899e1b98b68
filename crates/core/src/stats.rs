//! Column statistics.

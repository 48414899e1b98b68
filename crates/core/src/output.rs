//! Atomic output files (temporary name in the target folder, renamed when complete).

//! Direct kernels for small problems (placeholder).

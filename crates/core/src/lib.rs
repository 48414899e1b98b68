//! mmclust-core: the ground every mmclust algorithm stands on.
//!
//! * [`source`]: the [`DataSource`] trait, one way to read rows whether they live
//!   in a memory-mapped `.npy`/`.fvecs`/`.bvecs` file or in an ndarray.
//! * [`mod@format`]: the file formats themselves (readers with typed errors that name
//!   the file, a streaming `.npy` writer) and [`output`], atomic output files.
//! * [`parallel`]: the one pattern of DESIGN.md — fixed-size chunks, a per-chunk
//!   kernel on rayon workers, partials merged by a fixed tree over chunk indices —
//!   so results are bitwise identical whatever the thread count; and the
//!   [`allreduce::AllReduce`] seam through which an MPI build sums partials across
//!   processes.
//! * [`isa`]: the instruction-set paths (scalar, AVX2, AVX-512), detected once,
//!   and the process default that `MMCLUST_ISA` sets.
//! * [`kernel`]: squared row norms, the fused nearest-centre assignment, and the
//!   other distance kernels (nearest two, centres in lanes, silhouette sums).
//! * [`stats`]: column statistics in one streaming pass (Chan's merge).

pub mod allreduce;
pub mod error;
pub mod format;
pub mod group;
pub mod isa;
pub mod kernel;
pub mod output;
pub mod parallel;
pub mod partial;
pub mod scratch;
pub mod sigbus;
pub mod source;
pub mod stats;

pub use error::{CoreError, Result};
pub use source::{ArraySource, DataSource, FiniteSource};

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
//! * [`normalize`]: rows L2-normalised on the fly, for cosine clustering.
//! * [`batches`]: mini-batches drawn by (seed, step) and read ahead, for
//!   mini-batch K-means and online EM.
//!
//! # Examples
//!
//! An in-memory array as a [`DataSource`], and one deterministic chunked pass
//! over it with [`parallel::map_reduce`]: each chunk maps to a partial, and
//! the partials merge in a fixed tree over chunk indices.
//!
//! ```
//! use mmclust_core::parallel::{Chunking, PassOptions, map_reduce};
//! use mmclust_core::{ArraySource, DataSource};
//!
//! // 5 rows × 2 columns, row-major.
//! let data = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0, 5.0, 50.0];
//! let x = ArraySource::from_slice(&data, 5, 2)?;
//! assert_eq!((x.n_rows(), x.n_cols()), (5, 2));
//! let mut scratch = Vec::new();
//! assert_eq!(x.rows(1..3, &mut scratch)?, &[2.0, 20.0, 3.0, 30.0]);
//!
//! // Chunks of 2 rows (0..2, 2..4, 4..5): the sum of each row's second value.
//! let sum = map_reduce(
//!     &x,
//!     Chunking::with_rows(2)?,
//!     PassOptions::default(),
//!     |chunk| Ok(chunk.rows().map(|row| f64::from(row[1])).sum::<f64>()),
//!     |left, right| left + right,
//! )?;
//! assert_eq!(sum, Some(150.0));
//! # Ok::<(), mmclust_core::CoreError>(())
//! ```
//!
//! A `.npy` file written by [`format::NpyWriter`] (atomically: it appears
//! under its name only when finished), opened by [`format::open_matrix`] as
//! a memory map, and its [`stats::ColumnStats`] in one streaming pass:
//!
//! ```
//! use mmclust_core::DataSource;
//! use mmclust_core::format::{NpyWriter, open_matrix};
//! use mmclust_core::parallel::{Chunking, PassOptions};
//! use mmclust_core::stats::ColumnStats;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("x.npy");
//! let mut w = NpyWriter::<f32>::create(&path, Some(2), &[])?; // 2 columns
//! w.write(&[1.0, 2.0, 3.0, 4.0])?; // rows (1, 2) and (3, 4)
//! w.write(&[5.0, 9.0])?; // and (5, 9)
//! w.finish()?;
//!
//! let m = open_matrix(&path)?;
//! assert_eq!((m.n_rows(), m.n_cols()), (3, 2));
//! let stats = ColumnStats::compute(&m, Chunking::for_dim(m.n_cols()), PassOptions::default())?;
//! assert_eq!(stats.mean, [3.0, 5.0]);
//! assert_eq!(stats.min, [1.0, 2.0]);
//! assert_eq!(stats.max, [5.0, 9.0]);
//! // Population variance (ddof = 0): ((1-3)² + 0 + (5-3)²) / 3 = 8/3.
//! assert!((stats.variance()[0] - 8.0 / 3.0).abs() < 1e-12);
//! assert_eq!(stats.non_finite(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The nearest centre of every row of a chunk ([`kernel::assign_chunk`], the
//! K-means assignment), and the nearest and second-nearest centre of selected
//! rows ([`kernel::top2::nearest_two`], the kernel of Hamerly and Yinyang):
//!
//! ```
//! use mmclust_core::kernel::top2::{SubPanels, Top2, nearest_two};
//! use mmclust_core::kernel::{AssignScratch, PackedCenters, assign_chunk};
//!
//! let centers = [1.0f32, 0.0, 3.0, 0.0, 0.0, 2.0]; // (1, 0), (3, 0), (0, 2)
//! let x = [1.0f32, 1.0, 3.0, 1.0]; // rows (1, 1) and (3, 1)
//!
//! let packed = PackedCenters::new(&centers, 3, 2)?;
//! let (mut labels, mut dist_sq) = ([0u32; 2], [0f32; 2]);
//! assign_chunk(&x, &packed, &mut labels, &mut dist_sq, &mut AssignScratch::new());
//! assert_eq!(labels, [0, 1]);
//! assert_eq!(dist_sq, [1.0, 1.0]); // ‖x − c‖², computed directly
//!
//! // Fast values v(c) = ‖c‖² − 2·x·c; ‖x‖² + v(c) is the squared distance.
//! let panels = SubPanels::new(centers.chunks_exact(2), 2);
//! let mut out = [Top2 { j: 0, v1: 0.0, v2: 0.0 }];
//! nearest_two(&x, &[0], &panels, &mut out); // row 0 only
//! assert_eq!(out[0], Top2 { j: 0, v1: -1.0, v2: 0.0 }); // centres 0 (1 − 2) and 2 (4 − 4)
//! # Ok::<(), mmclust_core::CoreError>(())
//! ```

pub mod allreduce;
pub mod batches;
pub mod error;
pub mod fitting;
pub mod format;
#[cfg(any(test, feature = "test-hooks"))]
pub mod group;
pub mod isa;
pub mod kernel;
pub mod model_file;
pub mod normalize;
pub mod output;
pub mod parallel;
pub mod partial;
pub mod scratch;
pub mod sigbus;
pub mod source;
pub mod sparse;
pub mod stats;
#[cfg(feature = "test-hooks")]
pub mod testing;

pub use error::{CoreError, Result};
pub use source::{ArraySource, DataSource, FiniteSource};

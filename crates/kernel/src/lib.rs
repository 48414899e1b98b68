//! Clusters that are not convex: kernel K-means and spectral clustering
//! through Nyström landmark features computed on the fly, over any
//! [`mmclust_core::DataSource`] (a memory-mapped file larger than RAM
//! included).
//!
//! * [`nystrom`]: the kernels (rbf, polynomial; scikit-learn's definitions),
//!   the landmarks (k-means++ or uniform, seeded), the map
//!   φ(x) = K(x, landmarks) · V Λ^(−1/2) and [`NystromFeatures`], a
//!   `DataSource` wrapper computing φ chunk by chunk: the n × M matrix never
//!   exists.
//! * [`kkmeans`]: kernel K-means, any K-means algorithm of `mmclust-kmeans`
//!   run on φ.
//! * [`spectral`]: normalised spectral clustering by the Nyström method
//!   (Fowlkes et al. 2004) in O(M²) memory.
//! * [`cache`]: the features computed once into a scratch buffer, so the
//!   K-means iterations read them back instead of recomputing them.
//! * [`eig`]: the symmetric eigensolver (cyclic Jacobi, `f64`).
//! * [`datasets`]: half-moons and rings, where plain K-means fails.
//! * [`model`]: the model files (JSON, large arrays in a sidecar `.npy`).
//!
//! Which to reach for: spectral clustering follows connectivity (the
//! normalised cut), so it separates both interleaved moons and concentric
//! rings. Kernel K-means minimises within-cluster spread in the feature
//! space; with a local rbf kernel it separates the moons, but on rings it is
//! nearly indifferent between splitting by ring and by half-plane.
//!
//! ```
//! use mmclust_core::ArraySource;
//! use mmclust_kernel::datasets::{Shape, generate};
//! use mmclust_kernel::nystrom::NystromParams;
//! use mmclust_kernel::spectral::fit_spectral;
//! use mmclust_kmeans::{FitHooks, KMeansParams};
//!
//! let (x, truth) = generate(Shape::Rings, 3000, 0.1, 1);
//! let data = ArraySource::from_slice(&x, 3000, 2)?;
//! // Too few landmarks make the local scale too wide: 200 here, 300 by default.
//! let nys = NystromParams { n_landmarks: 200, ..NystromParams::rbf() };
//! let model = fit_spectral(&nys, &KMeansParams::new(2), &data, FitHooks::default())?;
//! let labels = model.predict(&data)?;
//! // Every row of a ring gets its ring's label.
//! let agree = labels.iter().zip(&truth).filter(|(l, t)| **l as i32 == **t).count();
//! assert!(agree == 3000 || agree == 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocked;
pub mod cache;
pub mod datasets;
pub mod eig;
mod error;
pub mod kkmeans;
pub mod model;
pub mod nystrom;
pub mod spectral;

pub use error::{KernelError, Result};
pub use kkmeans::{
    KERNEL_KMEANS_N_INIT, KERNEL_KMEANS_SAMPLE_ROWS, KernelKMeansModel, fit_kernel_kmeans,
    fit_kernel_kmeans_then,
};
pub use nystrom::{
    Kernel, KernelKind, LANDMARK_SAMPLE_ROWS, LandmarkInit, NystromFeatures, NystromMap,
    NystromParams,
};
pub use spectral::{SpectralEmbedding, SpectralModel, fit_spectral};

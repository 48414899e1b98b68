//! Spectral clustering through the Nyström features (Fowlkes, Belongie,
//! Chung and Malik 2004, "Spectral grouping using the Nyström method"), in
//! O(M²) memory: never an n × n affinity, never an n × M matrix.
//!
//! With Φ the n × M' features, the affinity is approximated by A ≈ ΦΦᵀ.
//!
//! 1. One pass: s = Σ_j φ_j, so the degrees are d_i = φ_i·s. An approximate
//!    degree can come out ≤ 0 (or tiny): degrees below
//!    [`DEGREE_FLOOR`] × the mean degree (‖s‖²/n) are raised to that floor,
//!    and counted ([`SpectralModel::clamped`]).
//! 2. One pass: ψ_i = φ_i/√d_i and the M' × M' matrix C = Σ ψ_i ψ_iᵀ. The
//!    non-zero eigenvalues of C are those of the normalised affinity
//!    D^(−1/2) A D^(−1/2) = ΨΨᵀ, whose eigenvectors are Ψ V Λ^(−1/2).
//! 3. The top k eigenpairs (V_k, Λ_k) of C; eigenvalues below
//!    [`EIGEN_FLOOR`] × the largest are raised to that floor (an
//!    ill-conditioned landmark matrix gives near-zero ones).
//! 4. The embedding row of x: e = ψ(x) · V_k Λ_k^(−1/2), normalised to unit
//!    length (Ng, Jordan and Weiss), computed on the fly by
//!    [`SpectralEmbedding`]; K-means runs on it.
//!
//! A new row is embedded the same way (its degree from the stored s), so
//! `predict` extends the clustering through the landmarks.

use std::ops::Range;

use mmclust_core::parallel::{Chunking, PassOptions, map_reduce_global};
use mmclust_core::{DataSource, Result as CoreResult};
use mmclust_kmeans::{FitHooks, KMeansModel, KMeansParams};

use crate::eig::SymmetricEigen;
use crate::error::{KernelError, Result};
use crate::kkmeans::check_k;
use crate::nystrom::{NystromMap, NystromParams};

/// Degrees below this fraction of the mean degree are raised to it.
pub const DEGREE_FLOOR: f64 = 1e-6;

/// Eigenvalues of C below this fraction of the largest are raised to it.
pub const EIGEN_FLOOR: f64 = 1e-10;

/// Rows mapped at once inside a chunk (bounds the `f64` buffer to
/// `SUB_ROWS × M'` values).
const SUB_ROWS: usize = 256;

/// The spectral embedding of a fitted map: x ↦ normalised ψ(x)·P.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The Nyström map.
    pub map: NystromMap,
    /// s = Σ φ_j over the fitted rows (M').
    pub degree_vector: Vec<f64>,
    /// The smallest degree used (`DEGREE_FLOOR` × the mean degree).
    pub degree_floor: f64,
    /// P = V_k Λ_k^(−1/2), M' × k row-major.
    pub projection: Vec<f64>,
    /// k.
    pub k: usize,
}

/// A fitted spectral clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralModel {
    /// The embedding.
    pub embedding: Embedding,
    /// How the landmarks were picked.
    pub landmark_init: String,
    /// The top k eigenvalues of C (those of the normalised affinity), largest first.
    pub eigenvalues: Vec<f64>,
    /// Rows whose degree was raised to the floor (≤ 0 or tiny).
    pub clamped: u64,
    /// Of them, rows whose approximate degree was ≤ 0.
    pub non_positive: u64,
    /// Eigenvalues of the top k raised to the eigenvalue floor.
    pub floored_eigenvalues: usize,
    /// K-means on the embedding (centres k × k).
    pub kmeans: KMeansModel,
}

/// Runs `f` on φ (in `f64`) of the rows of `data` (`d` columns), `SUB_ROWS` at a time.
fn for_each_block(map: &NystromMap, data: &[f32], mut f: impl FnMut(&[f64], usize)) {
    let (d, mp) = (map.d, map.n_components);
    let n = data.len() / d;
    let mut buf = vec![0.0f64; SUB_ROWS.min(n) * mp];
    for start in (0..n).step_by(SUB_ROWS) {
        let nb = SUB_ROWS.min(n - start);
        let b = &mut buf[..nb * mp];
        map.map_rows_f64(&data[start * d..(start + nb) * d], b);
        f(b, nb);
    }
}

/// Fits the map, the embedding and K-means on it.
///
/// # Errors
/// Invalid parameters (γ ≤ 0, M > n, M < k, …), read errors, non-finite
/// data, an affinity with no positive eigenvalue, see [`KernelError`].
pub fn fit_spectral<S: DataSource + ?Sized>(
    nystrom: &NystromParams,
    params: &KMeansParams,
    source: &S,
    hooks: FitHooks<'_>,
) -> Result<SpectralModel> {
    let (n, d) = (source.n_rows(), source.n_cols());
    check_k(nystrom, params, n, d)?;
    let map = nystrom.fit(source)?;
    let mp = map.n_components;
    let k = params.k;
    if mp < k {
        return Err(KernelError::param(
            "landmarks",
            format!(
                "the landmark kernel matrix has only {mp} eigenvalues above the tolerance, \
                 fewer than k = {k}; use more distinct landmarks or another γ"
            ),
        ));
    }
    let chunking = Chunking::for_dim(mp.max(d));
    let options = PassOptions {
        progress: hooks.progress,
        ..PassOptions::default()
    };
    // Pass 1: s = Σ φ.
    let s = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut s = vec![0.0f64; mp];
            for_each_block(&map, chunk.data, |phi, _| {
                for row in phi.chunks_exact(mp) {
                    for (a, &b) in s.iter_mut().zip(row) {
                        *a += b;
                    }
                }
            });
            Ok(s)
        },
        mmclust_core::parallel::add_cells,
    )?
    .unwrap_or_else(|| vec![0.0; mp]);
    let total: f64 = s.iter().map(|v| v * v).sum();
    let mean_degree = total / n as f64;
    if !(mean_degree > 0.0 && mean_degree.is_finite()) {
        return Err(KernelError::Numerical {
            message: format!(
                "the mean approximate degree is {mean_degree}; the kernel is too narrow for \
                 the landmarks (raise γ's width: a smaller --gamma) or the data degenerate"
            ),
        });
    }
    let floor = DEGREE_FLOOR * mean_degree;
    // Pass 2: C = Σ ψψᵀ (upper triangle), with the clamp counts.
    let (c_upper, clamped, non_positive) = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            let mut c = vec![0.0f64; mp * mp];
            let (mut clamped, mut non_positive) = (0u64, 0u64);
            let mut psi = vec![0.0f64; mp];
            for_each_block(&map, chunk.data, |phi, _| {
                for row in phi.chunks_exact(mp) {
                    let deg = dot64(row, &s);
                    if deg < floor {
                        clamped += 1;
                        non_positive += u64::from(deg <= 0.0);
                    }
                    let inv = 1.0 / deg.max(floor).sqrt();
                    for (p, &v) in psi.iter_mut().zip(row) {
                        *p = v * inv;
                    }
                    for i in 0..mp {
                        let pi = psi[i];
                        let crow = &mut c[i * mp + i..(i + 1) * mp];
                        for (cv, &pj) in crow.iter_mut().zip(&psi[i..]) {
                            *cv += pi * pj;
                        }
                    }
                }
            });
            Ok((c, clamped, non_positive))
        },
        |(a, ca, na), (b, cb, nb)| (mmclust_core::parallel::add_cells(a, b), ca + cb, na + nb),
    )?
    .unwrap_or_else(|| (vec![0.0; mp * mp], 0, 0));
    let mut c = c_upper;
    for i in 0..mp {
        for j in 0..i {
            c[i * mp + j] = c[j * mp + i];
        }
    }
    let e = SymmetricEigen::new(&c, mp);
    let top = e.values[0];
    if !(top > 0.0 && top.is_finite()) {
        return Err(KernelError::Numerical {
            message: format!("the normalised affinity has no positive eigenvalue (largest {top})"),
        });
    }
    let mut eigenvalues = Vec::with_capacity(k);
    let mut floored = 0;
    for j in 0..k {
        let v = e.values[j];
        if v < EIGEN_FLOOR * top {
            floored += 1;
            eigenvalues.push(EIGEN_FLOOR * top);
        } else {
            eigenvalues.push(v);
        }
    }
    let mut projection = vec![0.0f64; mp * k];
    for i in 0..mp {
        for j in 0..k {
            projection[i * k + j] = e.vector(i, j) / eigenvalues[j].sqrt();
        }
    }
    let embedding = Embedding {
        map,
        degree_vector: s,
        degree_floor: floor,
        projection,
        k,
    };
    let kmeans = crate::cache::fit_cached(
        &SpectralEmbedding::new(source, &embedding)?,
        nystrom.cache_features,
        &params.scratch,
        |src| params.fit_with(src, None, hooks),
    )?;
    Ok(SpectralModel {
        embedding,
        landmark_init: nystrom.landmark_init.name().to_string(),
        eigenvalues: e.values[..k].to_vec(),
        clamped,
        non_positive,
        floored_eigenvalues: floored,
        kmeans,
    })
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Embedding {
    /// The embedding of row-major `rows` (d columns), appended to `out` (k per row).
    pub fn embed_rows(&self, rows: &[f32], out: &mut Vec<f32>) {
        let (mp, k) = (self.map.n_components, self.k);
        let mut psi = vec![0.0f64; mp];
        let mut e = vec![0.0f64; k];
        for_each_block(&self.map, rows, |phi, _| {
            for row in phi.chunks_exact(mp) {
                let deg = dot64(row, &self.degree_vector).max(self.degree_floor);
                let inv = 1.0 / deg.sqrt();
                for (p, &v) in psi.iter_mut().zip(row) {
                    *p = v * inv;
                }
                e.fill(0.0);
                for (i, &p) in psi.iter().enumerate() {
                    let prow = &self.projection[i * k..(i + 1) * k];
                    for (ev, &pv) in e.iter_mut().zip(prow) {
                        *ev += p * pv;
                    }
                }
                let norm = dot64(&e, &e).sqrt();
                let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                out.extend(e.iter().map(|&v| (v * scale) as f32));
            }
        });
    }
}

impl SpectralModel {
    /// The nearest centre of every row of `source` in the embedding.
    ///
    /// # Errors
    /// Read errors, `source` without the model's d columns.
    pub fn predict<S: DataSource>(&self, source: S) -> Result<Vec<u32>> {
        Ok(self
            .kmeans
            .predict(&SpectralEmbedding::new(source, &self.embedding)?)?)
    }
}

/// A [`DataSource`] whose rows are the spectral embedding (k columns, unit
/// length) of another source's rows, computed as chunks are read.
#[derive(Debug)]
pub struct SpectralEmbedding<'m, S> {
    inner: S,
    embedding: &'m Embedding,
}

impl<'m, S: DataSource> SpectralEmbedding<'m, S> {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`mmclust_core::CoreError::ShapeMismatch`] when `inner` does not have
    /// the map's d columns.
    pub fn new(inner: S, embedding: &'m Embedding) -> CoreResult<Self> {
        if inner.n_cols() != embedding.map.d {
            return Err(mmclust_core::CoreError::ShapeMismatch {
                what: inner.name(),
                message: format!(
                    "data has {} columns but the spectral model was fitted on {}",
                    inner.n_cols(),
                    embedding.map.d
                ),
            });
        }
        Ok(SpectralEmbedding { inner, embedding })
    }
}

impl<S: DataSource> DataSource for SpectralEmbedding<'_, S> {
    mmclust_core::forward_source!(inner => n_rows, name, advise_sequential, advise_random, hint, comm);

    fn n_cols(&self) -> usize {
        self.embedding.k
    }

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> CoreResult<&'a [f32]> {
        mmclust_core::source::with_inner_rows(&self.inner, range, |view| {
            scratch.clear();
            self.embedding.embed_rows(view, scratch);
        })?;
        Ok(&scratch[..])
    }
}

//! Model files of kernel K-means (`"kind": "kernel-kmeans"`) and spectral
//! clustering (`"kind": "spectral"`): JSON with the kernel, γ and how it was
//! chosen, the shapes and the K-means model on the features; the large arrays
//! (landmarks, the map W, and for spectral the degree vector and the
//! projection) in a sidecar `.npy`, one `float64` column, whose file name
//! (relative to the model's folder), length and layout the JSON records.
//!
//! Everything predict needs is stored in `f64` (landmarks exactly as their
//! `f32` values), so a model read back maps rows to the same bits as the
//! fitted one.

use std::path::Path;

use mmclust_core::format::{Dtype, NpyFile, NpyWriter};
use mmclust_core::model_file;
use mmclust_kmeans::KMeansModel;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{KernelError, Result};
use crate::kkmeans::KernelKMeansModel;
use crate::nystrom::{EIGEN_RTOL, Kernel, NystromMap};
use crate::spectral::{DEGREE_FLOOR, EIGEN_FLOOR, Embedding, SpectralModel};

/// `"kind"` of a kernel K-means model.
pub const KERNEL_KMEANS_KIND: &str = "kernel-kmeans";
/// `"kind"` of a spectral clustering model.
pub const SPECTRAL_KIND: &str = "spectral";
/// The format version this build writes.
pub const MODEL_VERSION: u32 = 1;

/// The map as the JSON records it (the arrays are in the sidecar).
#[derive(Debug, Serialize, Deserialize)]
struct MapFile {
    kernel: Kernel,
    /// How γ was chosen.
    gamma_rule: String,
    sigma: Option<f64>,
    scale_neighbour: Option<usize>,
    d: usize,
    n_landmarks: usize,
    n_components: usize,
    landmark_init: String,
    eigenvalues_dropped: usize,
    eigen_rtol: f64,
}

/// Where the sidecar's arrays lie.
#[derive(Debug, Serialize, Deserialize)]
struct ArraysFile {
    file: String,
    len: usize,
    /// (name, offset, length) in the column.
    layout: Vec<(String, usize, usize)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KernelKMeansFile {
    kind: String,
    version: u32,
    map: MapFile,
    arrays: ArraysFile,
    kmeans: Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct SpectralFile {
    kind: String,
    version: u32,
    map: MapFile,
    arrays: ArraysFile,
    k: usize,
    degree_floor: f64,
    degree_floor_rtol: f64,
    eigen_floor: f64,
    eigenvalues: Vec<f64>,
    clamped: u64,
    non_positive: u64,
    floored_eigenvalues: usize,
    kmeans: Value,
}

/// The `"kind"` of a model file's text, if it is a JSON object with one.
#[must_use]
pub fn kind_of(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("kind")?
        .as_str()
        .map(str::to_string)
}

fn map_file(map: &NystromMap, landmark_init: &str) -> MapFile {
    MapFile {
        kernel: map.kernel,
        gamma_rule: match map.sigma {
            Some((_, rank)) => format!(
                "local scale: 1/(2σ²), σ the median distance from a landmark to its \
                 nearest other landmark of rank {rank}"
            ),
            None => "given, or 1/d (polynomial default)".to_string(),
        },
        sigma: map.sigma.map(|s| s.0),
        scale_neighbour: map.sigma.map(|s| s.1),
        d: map.d,
        n_landmarks: map.n_landmarks(),
        n_components: map.n_components,
        landmark_init: landmark_init.to_string(),
        eigenvalues_dropped: map.dropped(),
        eigen_rtol: EIGEN_RTOL,
    }
}

/// Packs named arrays into one column with its layout.
fn pack(file: &str, parts: &[(&str, Vec<f64>)]) -> (ArraysFile, Vec<f64>) {
    let mut all = Vec::new();
    let mut layout = Vec::new();
    for (name, v) in parts {
        layout.push(((*name).to_string(), all.len(), v.len()));
        all.extend_from_slice(v);
    }
    (
        ArraysFile {
            file: file.to_string(),
            len: all.len(),
            layout,
        },
        all,
    )
}

fn bad(message: impl Into<String>) -> KernelError {
    KernelError::InvalidModel {
        message: message.into(),
    }
}

/// The array `name` of the sidecar, of length `len`.
fn part<'a>(arrays: &ArraysFile, values: &'a [f64], name: &str, len: usize) -> Result<&'a [f64]> {
    let Some((_, off, l)) = arrays.layout.iter().find(|(n, _, _)| n == name) else {
        return Err(bad(format!("the arrays' layout has no \"{name}\"")));
    };
    if *l != len || off + l > values.len() {
        return Err(bad(format!(
            "array \"{name}\" has {l} values at {off} in a sidecar of {}; {len} expected",
            values.len()
        )));
    }
    let v = &values[*off..off + l];
    if v.iter().any(|x| !x.is_finite()) {
        return Err(bad(format!("array \"{name}\" holds non-finite values")));
    }
    Ok(v)
}

fn map_from(f: &MapFile, arrays: &ArraysFile, values: &[f64]) -> Result<NystromMap> {
    if values.len() != arrays.len {
        return Err(bad(format!(
            "the sidecar {} has {} values but the model says {}; it belongs to another model",
            arrays.file,
            values.len(),
            arrays.len
        )));
    }
    let (m, d, mp) = (f.n_landmarks, f.d, f.n_components);
    let landmarks: Vec<f32> = part(arrays, values, "landmarks", m * d)?
        .iter()
        .map(|&v| v as f32)
        .collect();
    let w = part(arrays, values, "w", m * mp)?.to_vec();
    let mut map = NystromMap::from_parts(f.kernel, landmarks, d, w, mp)?;
    map.sigma = f.sigma.zip(f.scale_neighbour);
    Ok(map)
}

fn kmeans_from(v: &Value, d: usize) -> Result<KMeansModel> {
    let model = KMeansModel::from_json(&v.to_string())?;
    if model.d != d {
        return Err(bad(format!(
            "its K-means part has {} columns but the features have {d}",
            model.d
        )));
    }
    Ok(model)
}

fn landmarks_f64(map: &NystromMap) -> Vec<f64> {
    map.landmarks.iter().map(|&v| f64::from(v)).collect()
}

impl KernelKMeansModel {
    /// The model's JSON (`input`: the data's fingerprint) and the sidecar's
    /// values, the sidecar to be written as `arrays_file` beside the model.
    #[must_use]
    pub fn to_json(&self, arrays_file: &str, input: Option<Value>) -> (Value, Vec<f64>) {
        let (arrays, values) = pack(
            arrays_file,
            &[
                ("landmarks", landmarks_f64(&self.map)),
                ("w", self.map.w.clone()),
            ],
        );
        let file = KernelKMeansFile {
            kind: KERNEL_KMEANS_KIND.to_string(),
            version: MODEL_VERSION,
            map: map_file(&self.map, &self.landmark_init),
            arrays,
            kmeans: self.kmeans.to_json(input),
        };
        (
            serde_json::to_value(file).expect("model serialises"),
            values,
        )
    }

    /// The name of the sidecar a model's text refers to.
    ///
    /// # Errors
    /// Not a kernel K-means model of a version this build reads.
    pub fn arrays_file(text: &str) -> Result<String> {
        let f: KernelKMeansFile =
            model_file::read(text, KERNEL_KMEANS_KIND, MODEL_VERSION).map_err(bad)?;
        Ok(f.arrays.file)
    }

    /// Reads a model from its JSON and its sidecar's values.
    ///
    /// # Errors
    /// [`KernelError::InvalidModel`] naming what is inconsistent.
    pub fn from_json(text: &str, values: &[f64]) -> Result<Self> {
        let f: KernelKMeansFile =
            model_file::read(text, KERNEL_KMEANS_KIND, MODEL_VERSION).map_err(bad)?;
        let map = map_from(&f.map, &f.arrays, values)?;
        let kmeans = kmeans_from(&f.kmeans, map.n_components)?;
        Ok(KernelKMeansModel {
            map,
            landmark_init: f.map.landmark_init,
            kmeans,
        })
    }
}

impl SpectralModel {
    /// The model's JSON and the sidecar's values (see [`KernelKMeansModel::to_json`]).
    #[must_use]
    pub fn to_json(&self, arrays_file: &str, input: Option<Value>) -> (Value, Vec<f64>) {
        let e = &self.embedding;
        let (arrays, values) = pack(
            arrays_file,
            &[
                ("landmarks", landmarks_f64(&e.map)),
                ("w", e.map.w.clone()),
                ("degree_vector", e.degree_vector.clone()),
                ("projection", e.projection.clone()),
            ],
        );
        let file = SpectralFile {
            kind: SPECTRAL_KIND.to_string(),
            version: MODEL_VERSION,
            map: map_file(&e.map, &self.landmark_init),
            arrays,
            k: e.k,
            degree_floor: e.degree_floor,
            degree_floor_rtol: DEGREE_FLOOR,
            eigen_floor: EIGEN_FLOOR,
            eigenvalues: self.eigenvalues.clone(),
            clamped: self.clamped,
            non_positive: self.non_positive,
            floored_eigenvalues: self.floored_eigenvalues,
            kmeans: self.kmeans.to_json(input),
        };
        (
            serde_json::to_value(file).expect("model serialises"),
            values,
        )
    }

    /// The name of the sidecar a model's text refers to.
    ///
    /// # Errors
    /// Not a spectral model of a version this build reads.
    pub fn arrays_file(text: &str) -> Result<String> {
        let f: SpectralFile = model_file::read(text, SPECTRAL_KIND, MODEL_VERSION).map_err(bad)?;
        Ok(f.arrays.file)
    }

    /// Reads a model from its JSON and its sidecar's values.
    ///
    /// # Errors
    /// [`KernelError::InvalidModel`] naming what is inconsistent.
    pub fn from_json(text: &str, values: &[f64]) -> Result<Self> {
        let f: SpectralFile = model_file::read(text, SPECTRAL_KIND, MODEL_VERSION).map_err(bad)?;
        let map = map_from(&f.map, &f.arrays, values)?;
        let mp = map.n_components;
        if f.k == 0 || f.k > mp || !(f.degree_floor.is_finite() && f.degree_floor > 0.0) {
            return Err(bad(format!(
                "k = {} with {mp} components and degree floor {}",
                f.k, f.degree_floor
            )));
        }
        let degree_vector = part(&f.arrays, values, "degree_vector", mp)?.to_vec();
        let projection = part(&f.arrays, values, "projection", mp * f.k)?.to_vec();
        let kmeans = kmeans_from(&f.kmeans, f.k)?;
        Ok(SpectralModel {
            embedding: Embedding {
                map,
                degree_vector,
                degree_floor: f.degree_floor,
                projection,
                k: f.k,
            },
            landmark_init: f.map.landmark_init,
            eigenvalues: f.eigenvalues,
            clamped: f.clamped,
            non_positive: f.non_positive,
            floored_eigenvalues: f.floored_eigenvalues,
            kmeans,
        })
    }
}

/// Writes a sidecar (one `float64` column) atomically; `inputs` may not be replaced.
///
/// # Errors
/// I/O errors, an output that is an input.
pub fn write_arrays(path: &Path, values: &[f64], inputs: &[&Path]) -> Result<()> {
    let mut w = NpyWriter::<f64>::create(path, Some(1), inputs)?;
    w.write(values)?;
    w.finish()?;
    Ok(())
}

/// Reads a sidecar written by [`write_arrays`].
///
/// # Errors
/// Not a `.npy` of one `float64` column, I/O errors.
pub fn read_arrays(path: &Path) -> Result<Vec<f64>> {
    let f = NpyFile::open(path)?;
    if f.dtype() != Dtype::F64 || f.shape().1 != 1 {
        return Err(bad(format!(
            "{}: the model's arrays must be one float64 column, not {} of shape {:?}",
            path.display(),
            f.dtype(),
            f.shape()
        )));
    }
    let n = f.shape().0;
    let bytes = std::fs::read(path).map_err(|e| mmclust_core::CoreError::Io {
        path: path.to_path_buf(),
        action: "read".into(),
        source: e,
    })?;
    let data = bytes
        .get(f.data_offset()..f.data_offset() + 8 * n)
        .ok_or_else(|| bad(format!("{}: shorter than its header says", path.display())))?;
    Ok(data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

//! The checks of every fuzz target, shared by the targets (cargo-fuzz) and
//! by the regression test that replays every input the fuzzer ever found
//! (`tests/fuzz_regressions.rs` of the `mmclust` package): one function per
//! target, taking the raw input. Each must return normally for any input: a
//! typed error from the code under test is fine, a panic, hang or runaway
//! allocation is a finding.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::OnceLock;

use mmclust_core::format::{
    CsvOptions, CsvReader, NpyFile, NpyWriter, VecsFile, VecsKind, open_matrix,
    read_npy_vector_f32, read_npy_vector_i32,
};
use mmclust_core::parallel::PassOptions;
use mmclust_core::{ArraySource, DataSource};
use mmclust_gmm::GaussianMixtureModel;
use mmclust_kmeans::{Algorithm, KMeansModel, KMeansParams, MiniBatchOptions, MiniBatchState};
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("mmclust-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz scratch folder");
        d
    })
}

/// Writes `data` to `name` in the scratch folder and returns its path.
pub fn write_input(name: &str, data: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, data).expect("write fuzz input");
    p
}

/// Reads every row of `src` in a few chunkings. A read may fail with a typed
/// error (a `.fvecs` row's dimension is checked when the row is read), but
/// never panic; rows that read must agree bit for bit however they are cut.
pub fn read_all(src: &dyn DataSource) {
    let (n, d) = (src.n_rows(), src.n_cols());
    assert!(n > 0 && d > 0);
    let mut scratch = Vec::new();
    let all = src.rows(0..n, &mut scratch).map(<[f32]>::to_vec);
    let mut scratch = Vec::new();
    for start in (0..n).step_by(3) {
        let end = (start + 3).min(n);
        let Ok(part) = src.rows(start..end, &mut scratch) else {
            assert!(
                all.is_err(),
                "rows {start}..{end} fail alone but not in the full read"
            );
            continue;
        };
        assert_eq!(part.len(), (end - start) * d);
        if let Ok(all) = &all {
            let same = part
                .iter()
                .zip(&all[start * d..end * d])
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "rows {start}..{end} differ when read alone");
        }
    }
}

/// The `.npy` header parser and reader: any bytes must give a matrix whose
/// rows can all be read, or a typed error; never a panic, a hang or a read
/// past the file. The 1-D label and weight readers get the same bytes.
pub fn npy(data: &[u8]) {
    let path = write_input("input.npy", data);
    if let Ok(f) = NpyFile::open(&path) {
        let (n, d) = f.shape();
        let elems = (n as u64).checked_mul(d as u64).expect("shape fits");
        let bytes = elems * f.dtype().size() as u64;
        assert!(f.data_offset() as u64 + bytes <= f.file_len());
        // Bounded work: only small matrices are read in full.
        if bytes <= 1 << 20 {
            read_all(&f);
        }
    }
    let _ = read_npy_vector_i32(&path);
    let _ = read_npy_vector_f32(&path);
}

/// The `.fvecs` / `.bvecs` reader: any bytes give a readable matrix or a typed
/// error.
pub fn vecs(data: &[u8]) {
    for (name, kind) in [
        ("input.fvecs", VecsKind::Fvecs),
        ("input.bvecs", VecsKind::Bvecs),
    ] {
        let path = write_input(name, data);
        if let Ok(f) = VecsFile::open_as(&path, kind) {
            let (n, d) = f.shape();
            assert!((n as u64) * (d as u64) <= f.file_len());
            if n * d <= 1 << 18 {
                read_all(&f);
            }
        }
    }
}

/// The CSV converter's path: `CsvReader` (header detection, quoting, cells),
/// its rows streamed into an `NpyWriter`, and the `.npy` read back: every row
/// parsed must come back bit for bit, or the reader returns a typed error.
pub fn csv(data: &[u8]) {
    // First byte picks the options; the rest is the file.
    let Some((&opt, text)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b';', b'\t', b' ', b'"'][usize::from(opt & 7) % 5];
    let has_header = [None, Some(true), Some(false)][usize::from(opt >> 3) % 3];
    let path = write_input("input.csv", text);
    let out = path.with_file_name("converted.npy");
    let Ok(mut reader) = CsvReader::open(
        &path,
        CsvOptions {
            delimiter,
            has_header,
        },
    ) else {
        return;
    };
    let d = reader.n_cols();
    assert!(d > 0);
    let mut writer = NpyWriter::<f32>::create(&out, Some(d), &[path.as_path()]).expect("writer");
    let mut all = Vec::new();
    let mut rows = Vec::new();
    loop {
        rows.clear();
        match reader.next_rows(7, &mut rows) {
            Ok(0) => break,
            Ok(r) => {
                assert_eq!(rows.len(), r * d);
                writer.write(&rows).expect("write rows");
                all.extend_from_slice(&rows);
            }
            Err(_) => return, // the writer's temporary is dropped
        }
    }
    if all.is_empty() {
        return;
    }
    writer.finish().expect("finish");
    let back = NpyFile::open(&out).expect("reopen converted file");
    assert_eq!(back.shape(), (all.len() / d, d));
    let mut scratch = Vec::new();
    let got = back.rows(0..all.len() / d, &mut scratch).expect("rows");
    assert!(
        got.iter()
            .zip(&all)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // The in-memory path `open_matrix` takes for a .csv argument.
    if delimiter == b','
        && has_header.is_none()
        && let Ok(m) = open_matrix(&path)
    {
        read_all(&m);
    }
}

/// The model loaders (`KMeansModel::from_json`, `GaussianMixtureModel::from_json`):
/// any text gives a model that predicts, scores and samples without panicking
/// and without NaN labels, or a typed error.
/// Eight rows of `d` small values, to predict and score with.
fn sample_rows(d: usize) -> Vec<f32> {
    (0..8 * d).map(|i| (i % 7) as f32 - 3.0).collect()
}

pub fn model_json(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(m) = KMeansModel::from_json(text)
        && m.k * m.d <= 1 << 16
    {
        let x = sample_rows(m.d);
        let src = ArraySource::from_slice(&x, 8, m.d).unwrap();
        if let Ok(labels) = m.predict(&src) {
            assert!(labels.iter().all(|&l| (l as usize) < m.k));
        }
        let _ = m.inertia_of(&src, None, PassOptions::default());
        let _ = m.to_json(None);
    }
    if let Ok(m) = GaussianMixtureModel::from_json(text) {
        let (k, d) = (m.k(), m.d());
        if k * d * d <= 1 << 16 {
            let x = sample_rows(d);
            let src = ArraySource::from_slice(&x, 8, d).unwrap();
            if let Ok(labels) = m.predict(&src) {
                assert!(labels.iter().all(|&l| (l as usize) < k));
            }
            if let Ok(p) = m.predict_proba(&src) {
                assert!(p.iter().all(|v| v.is_finite()));
            }
            let _ = m.score(&src, PassOptions::default());
            let _ = m.sample(5, 1);
            let _ = m.to_json(None);
        }
    }
}

/// The mini-batch checkpoint loader: the JSON the CLI reads (`state` of a
/// `--checkpoint` file) is deserialised into a `MiniBatchState` exactly as
/// `mmclust kmeans --resume` does, and a run is resumed from it on a small
/// matrix of the state's shape: typed error or a finished fit, never a panic
/// or a hang.
pub fn checkpoint(bytes: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let state_json = v.get("state").cloned().unwrap_or(v);
    let Ok(state) = serde_json::from_value::<MiniBatchState>(state_json) else {
        return;
    };
    let (k, d) = (state.k, state.d);
    if k == 0 || d == 0 || k > 16 || d > 16 {
        return;
    }
    let n = 64;
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 37) % 11) as f32).collect();
    let src = ArraySource::from_slice(&x, n, d).unwrap();
    let mut params = KMeansParams::new(k);
    params.max_iter = 2;
    params.algorithm = Algorithm::MiniBatch(Box::new(MiniBatchOptions {
        batch_size: 16,
        resume: Some(state),
        ..MiniBatchOptions::default()
    }));
    if let Ok(model) = params.fit(&src) {
        assert!(model.centers.iter().all(|c| c.is_finite()));
    }
}

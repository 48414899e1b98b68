//! Opening inputs and describing them (the fingerprint stored in models and
//! summaries).

use std::path::{Path, PathBuf};

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{
    Columnar, DroppedRows, Matrix, MatrixOptions, NpyFile, open_matrix_with,
};
use mmclust_core::source::Concat;
use serde::Serialize;

/// What identifies an input file: path, shape, dtype, bytes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fingerprint {
    pub(crate) path: PathBuf,
    pub(crate) format: &'static str,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) dtype: String,
    pub(crate) bytes: u64,
    /// The columns read, by name (Parquet and Arrow inputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) columns: Option<Vec<String>>,
    /// With `--drop-null`: the file rows left out for a null (`rows` counts
    /// the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dropped_rows: Option<usize>,
}

/// How data inputs' columns are chosen (`--columns`), set once by `main`.
static OPTIONS: std::sync::OnceLock<MatrixOptions> = std::sync::OnceLock::new();

/// Sets the options every data input is opened with.
pub(crate) fn set_options(options: MatrixOptions) {
    let _ = OPTIONS.set(options);
}

/// Opens a matrix file as [`open`] does, but counting the nulls of a
/// Parquet or Arrow file instead of refusing them (`info`): its rows with a
/// null are left out of the matrix, as under `--drop-null`.
pub(crate) fn open_counting_nulls(path: &Path) -> Result<Matrix> {
    let mut options = OPTIONS.get_or_init(MatrixOptions::default).clone();
    options.drop_null = true;
    let m = open_matrix_with(path, &options)?;
    crate::progress::set_input_row_bytes(path, m.n_rows());
    Ok(m)
}

/// True under `--drop-null`.
pub(crate) fn drop_null() -> bool {
    OPTIONS.get().is_some_and(|o| o.drop_null)
}

/// The file rows `--drop-null` left out of `m` (none for formats without
/// nulls).
pub(crate) fn dropped_rows(m: &Matrix) -> DroppedRows {
    match m {
        Matrix::Columnar(c) => c.dropped_rows(),
        _ => DroppedRows::none(m.n_rows()),
    }
}

/// `summary` (a JSON object) with `"dropped_rows": count` under
/// `--drop-null`; as it is otherwise.
pub(crate) fn with_dropped(mut summary: serde_json::Value, count: usize) -> serde_json::Value {
    if drop_null()
        && let Some(object) = summary.as_object_mut()
    {
        object.insert("dropped_rows".into(), count.into());
    }
    summary
}

/// A per-row input read into memory (`--weights`, a labels file) for data
/// from which `--drop-null` left out rows: given one value per file row, the
/// values of the rows kept; otherwise as it is (its length is checked where
/// it is used).
pub(crate) fn keep_rows<T: Copy>(values: Vec<T>, dropped: &DroppedRows) -> Vec<T> {
    if dropped.count() > 0 && values.len() == dropped.file_rows() {
        dropped.keep(&values, "rows").unwrap_or(values)
    } else {
        values
    }
}

/// Opens a matrix file of any supported format (Parquet and Arrow files with
/// the `--columns` and `--drop-null` of the command line).
pub(crate) fn open(path: &Path) -> Result<Matrix> {
    let m = open_matrix_with(path, OPTIONS.get_or_init(MatrixOptions::default))?;
    crate::progress::set_input_row_bytes(path, m.n_rows());
    Ok(m)
}

/// The data of a clustering command: one file, or (`--shards`) the files a
/// pattern matches, in name order, read as one matrix.
pub(crate) struct Data {
    /// This process's rows: every row, or over node-local shards its own.
    pub(crate) source: Concat<Matrix>,
    pub(crate) fingerprint: Fingerprint,
    /// This process's files.
    pub(crate) paths: Vec<PathBuf>,
    /// The rows `--drop-null` left out, as rows of the shards one after the
    /// other.
    pub(crate) dropped: DroppedRows,
    /// Over node-local shards (`--node-local`, more than one process): the
    /// first global row of each rank's rows, then the total.
    pub(crate) layout: Option<Vec<usize>>,
}

impl Data {
    /// Rows of the whole matrix (every rank's, over node-local shards).
    pub(crate) fn n_rows(&self) -> usize {
        self.fingerprint.rows
    }
}

/// Opens `file`, or with `shards` every file matching the pattern `file`
/// (`*` and `?` in the file name; the folder is literal). Shards must agree
/// in columns and dtype: checked here, before any pass.
/// With `node_local` (`--shards --node-local`), each rank of a distributed
/// run expands the pattern on its own filesystem ([`open_node_local`]).
pub(crate) fn open_data(file: &Path, shards: bool, node_local: bool) -> Result<Data> {
    if let Some(comm) = crate::dist::comm().filter(|_| node_local) {
        return open_node_local(file, comm);
    }
    if !shards {
        let m = open(file)?;
        let fingerprint = fingerprint(file, &m);
        let dropped = dropped_rows(&m);
        return Ok(Data {
            source: Concat::new(vec![m])?,
            fingerprint,
            paths: vec![file.to_path_buf()],
            dropped,
            layout: None,
        });
    }
    let paths = expand_pattern(file)?;
    let mut parts = Vec::with_capacity(paths.len());
    let mut first: Option<Fingerprint> = None;
    let (mut rows, mut bytes) = (0usize, 0u64);
    let mut dropped = DroppedRows::none(0);
    for p in &paths {
        let m = open(p)?;
        dropped.append(&dropped_rows(&m));
        let fp = fingerprint(p, &m);
        if let Some(f) = first.as_ref().filter(|f| f.format != fp.format) {
            return Err(crate::fail::usage(format!(
                "--shards: {} is {} but {} is {}; a pattern must match files of one format",
                p.display(),
                fp.format,
                f.path.display(),
                f.format
            )));
        }
        if let Some(f) = &first
            && (f.cols != fp.cols
                || f.dtype != fp.dtype
                || f.format != fp.format
                || f.columns != fp.columns)
        {
            return Err(crate::fail::usage(format!(
                "--shards: {} is {} × {} {} ({}) but {} is {} × {} {} ({}); every shard needs the same columns, dtype and format",
                p.display(),
                fp.rows,
                fp.cols,
                fp.dtype,
                fp.format,
                f.path.display(),
                f.rows,
                f.cols,
                f.dtype,
                f.format
            )));
        }
        rows += fp.rows;
        bytes += fp.bytes;
        first.get_or_insert(fp);
        parts.push(m);
    }
    let first = first.expect("at least one shard");
    Ok(Data {
        source: Concat::new(parts)?,
        fingerprint: Fingerprint {
            path: file.to_path_buf(),
            format: first.format,
            rows,
            cols: first.cols,
            dtype: first.dtype,
            bytes,
            columns: first.columns,
            dropped_rows: first.dropped_rows.map(|_| dropped.count()),
        },
        paths,
        dropped,
        layout: None,
    })
}

/// `--shards PATTERN --node-local` under MPI: each rank expands `pattern` on
/// its own filesystem and opens its files (in name order); the ranks then
/// exchange every file's shape, dtype and format (one all-gather) and check
/// them together, before any pass: a rank without files, a file that cannot
/// be opened, or one that differs from rank 0's first file in columns, dtype,
/// format or column names is the same input error (exit 2) on every rank,
/// naming the rank and the file. The global matrix is rank 0's files, then
/// rank 1's, and so on.
fn open_node_local(pattern: &Path, comm: &dyn mmclust_core::parallel::AllReduce) -> Result<Data> {
    let rank = comm.rank();
    let local = node_local_pattern(pattern, rank);
    let opened = expand_pattern(&local).and_then(|paths| {
        paths
            .into_iter()
            .map(|p| {
                let m = open(&p)?;
                let fp = fingerprint(&p, &m);
                Ok((m, fp))
            })
            .collect::<Result<Vec<_>>>()
    });
    let mine = match &opened {
        Ok(files) => serde_json::json!({
            "files": files.iter().map(|(_, fp)| fp).collect::<Vec<_>>()
        }),
        Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
    };
    let all = crate::dist::all_gather_string(comm, &mine.to_string())?;
    let mut described: Vec<Vec<Described>> = Vec::with_capacity(all.len());
    for (r, text) in all.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("rank {r} sent a mangled file list: {e}"))?;
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            return Err(crate::fail::usage(format!(
                "--shards --node-local: rank {r} of {}: {err}",
                all.len()
            )));
        }
        let files: Vec<Described> = serde_json::from_value(v["files"].clone())
            .map_err(|e| anyhow::anyhow!("rank {r} sent a mangled file list: {e}"))?;
        described.push(files);
    }
    let first = &described[0][0];
    for (r, files) in described.iter().enumerate() {
        for f in files {
            if f.cols != first.cols
                || f.dtype != first.dtype
                || f.format != first.format
                || f.columns != first.columns
            {
                return Err(crate::fail::usage(format!(
                    "--shards --node-local: rank {r}'s {} is {} × {} {} ({}{}) but rank 0's {} is {} × {} {} ({}{}); \
                     every shard on every rank needs the same columns, dtype and format",
                    f.path.display(),
                    f.rows,
                    f.cols,
                    f.dtype,
                    f.format,
                    f.columns
                        .as_ref()
                        .map_or(String::new(), |c| format!(", columns {}", c.join(","))),
                    first.path.display(),
                    first.rows,
                    first.cols,
                    first.dtype,
                    first.format,
                    first
                        .columns
                        .as_ref()
                        .map_or(String::new(), |c| format!(", columns {}", c.join(","))),
                )));
            }
        }
    }
    let mut layout = Vec::with_capacity(described.len() + 1);
    let (mut rows, mut bytes) = (0usize, 0u64);
    for files in &described {
        layout.push(rows);
        rows += files.iter().map(|f| f.rows).sum::<usize>();
        bytes += files.iter().map(|f| f.bytes).sum::<u64>();
    }
    layout.push(rows);
    let (parts, fps): (Vec<Matrix>, Vec<Fingerprint>) = opened?.into_iter().unzip();
    // `--drop-null`: this rank's dropped rows (per-row outputs are refused
    // over node-local shards), every rank's in the count.
    let mut dropped = DroppedRows::none(0);
    for m in &parts {
        dropped.append(&dropped_rows(m));
    }
    let dropped_total = drop_null().then(|| {
        described
            .iter()
            .flatten()
            .map(|f| f.dropped_rows.unwrap_or(0))
            .sum::<usize>()
    });
    Ok(Data {
        source: Concat::new(parts)?,
        fingerprint: Fingerprint {
            path: pattern.to_path_buf(),
            format: fps[0].format,
            rows,
            cols: first.cols,
            dtype: first.dtype.clone(),
            bytes,
            columns: first.columns.clone(),
            dropped_rows: dropped_total,
        },
        paths: fps.into_iter().map(|f| f.path).collect(),
        dropped,
        layout: Some(layout),
    })
}

/// A file as another rank described it ([`Fingerprint`] read back).
#[derive(serde::Deserialize)]
struct Described {
    path: PathBuf,
    format: String,
    rows: usize,
    cols: usize,
    dtype: String,
    bytes: u64,
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default)]
    dropped_rows: Option<usize>,
}

/// The pattern a rank expands: `pattern` itself, or (test hook, cargo feature
/// `test-hooks`) with `MMCLUST_TEST_NODE_DIRS=DIR0:DIR1:...` set, the pattern's
/// file name in folder `DIR<rank>`: node-local disks simulated on one machine
/// (scripts/test_mpi.sh).
fn node_local_pattern(pattern: &Path, rank: usize) -> PathBuf {
    #[cfg(feature = "test-hooks")]
    if let Some(dirs) = std::env::var_os("MMCLUST_TEST_NODE_DIRS") {
        let dirs = dirs.to_string_lossy().into_owned();
        if let (Some(dir), Some(name)) = (dirs.split(':').nth(rank), pattern.file_name()) {
            return Path::new(dir).join(name);
        }
    }
    let _ = rank;
    pattern.to_path_buf()
}

/// The files matching `pattern` (`*`, `?` in the last component), sorted.
fn expand_pattern(pattern: &Path) -> Result<Vec<PathBuf>> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match pattern.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| mmclust_core::CoreError::io(&dir, "list the shards' folder", e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| wildcard_match(name.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
        .map(|e| dir.join(e.file_name()))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(crate::fail::usage(format!(
            "--shards: no file matches {}; quote the pattern so the shell does not expand it",
            pattern.display()
        )));
    }
    Ok(paths)
}

/// Shell-style match of `*` (any run) and `?` (one byte).
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            wildcard_match(rest, name) || (!name.is_empty() && wildcard_match(pattern, &name[1..]))
        }
        (Some((b'?', rest)), Some((_, tail))) => wildcard_match(rest, tail),
        (Some((p, rest)), Some((c, tail))) if p == c => wildcard_match(rest, tail),
        _ => false,
    }
}

/// Describes an opened matrix.
pub(crate) fn fingerprint(path: &Path, m: &Matrix) -> Fingerprint {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (format, dtype) = match m {
        Matrix::Npy(f) => ("npy", f.dtype().descr().to_string()),
        Matrix::Vecs(v) => (
            match v.kind() {
                mmclust_core::format::VecsKind::Fvecs => "fvecs",
                mmclust_core::format::VecsKind::Bvecs => "bvecs",
            },
            v.dtype().descr().to_string(),
        ),
        Matrix::Npz(s) => ("npz", s.dtypes().0.to_string()),
        Matrix::InMemory { .. } => ("csv", "<f4".to_string()),
        Matrix::Columnar(c) => (c.format(), columnar_dtype(c)),
    };
    let columns = match m {
        Matrix::Columnar(c) => Some(c.column_names()),
        _ => None,
    };
    Fingerprint {
        path: path.to_path_buf(),
        format,
        rows: m.n_rows(),
        cols: m.n_cols(),
        dtype,
        bytes,
        columns,
        dropped_rows: drop_null().then(|| dropped_rows(m).count()),
    }
}

/// The column types of a Parquet or Arrow input, each once, in order of
/// first appearance (`Float32`, `Int64,Decimal128(9, 2)`).
fn columnar_dtype(c: &Columnar) -> String {
    let mut types: Vec<String> = Vec::new();
    for t in c.column_types() {
        if !types.contains(&t) {
            types.push(t);
        }
    }
    types.join(",")
}

/// Prints `value` as the one JSON object of the run on stdout, with the key
/// `"isa"`: the instruction-set path the kernels ran (the process default,
/// which `MMCLUST_ISA` may lower).
pub(crate) fn emit_json(value: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        let isa = mmclust_core::isa::Isa::process_default()?;
        object.insert("isa".into(), isa.name().into());
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &value)?;
    writeln!(out)?;
    Ok(())
}

/// Reads the matrix of `--init PATH.npy` (small: `k` × `d`) into memory. Any
/// other shape is an input error that names both; `what` names the rows
/// ("centres", "means").
pub(crate) fn read_init_matrix(path: &str, k: usize, d: usize, what: &str) -> Result<Vec<f32>> {
    let f = NpyFile::open(path)?;
    let (rows, cols) = f.shape();
    if rows != k || cols != d {
        return Err(crate::fail::usage(format!(
            "--init {path}: holds {rows} × {cols} {what} but -k {k} on {d}-column data needs {k} × {d}"
        )));
    }
    let mut scratch = Vec::new();
    Ok(f.rows(0..rows, &mut scratch)?.to_vec())
}

/// The end of a command that writes files: with `--json`, `value` as the run's
/// JSON object (see [`emit_json`]); otherwise `line` as an info line on stderr
/// (not under `--quiet`).
pub(crate) fn emit_summary(
    g: &crate::Global,
    value: serde_json::Value,
    line: impl std::fmt::Display,
) -> Result<()> {
    if g.json {
        emit_json(&value)
    } else {
        g.info(line);
        Ok(())
    }
}

/// Reads a small text input (a model, a statistics file). A file that is not
/// UTF-8 text is an input error naming the file and `expected`.
pub(crate) fn read_text(path: &Path, expected: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| mmclust_core::CoreError::io(path, "read it", e))?;
    String::from_utf8(bytes).map_err(|_| {
        crate::fail::usage(format!(
            "{}: not valid JSON (not even text); expected {expected}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_like_the_shell() {
        assert!(wildcard_match(b"part-*.npy", b"part-00.npy"));
        assert!(wildcard_match(b"part-??.npy", b"part-07.npy"));
        assert!(!wildcard_match(b"part-??.npy", b"part-7.npy"));
        assert!(!wildcard_match(b"part-*.npy", b"part-1.npy.tmp"));
        assert!(wildcard_match(b"*", b"x"));
    }
}

//! `mmclust convert IN OUT`: csv ↔ npy, fvecs/bvecs/Parquet/Arrow → npy,
//! any matrix → Parquet, any dtype → float32, sparse `.npz` compressed ↔
//! uncompressed (and → dense `.npy`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{CsvOptions, CsvReader, NpyWriter};
use mmclust_core::output::AtomicOutput;
use serde_json::json;

use crate::Global;
use crate::fail::usage;
use crate::input::{dropped_rows, emit_summary, open};
use crate::progress::map_in_order;

/// Converts between matrix formats, streaming: CSV (with or without a header
/// line) → .npy; .npy of any supported dtype, .fvecs or .bvecs → float32 .npy;
/// .parquet, .arrow or .feather (numeric columns) → float32 .npy; any of those
/// → CSV or Parquet (float32 columns, snappy); a sparse CSR .npz → .npz,
/// uncompressed (memory-mapped when read) or with --compress deflated, or → a
/// dense float32 .npy, CSV or Parquet. The output format follows OUT's extension.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  mmclust convert data/faithful.csv faithful.npy\n  mmclust convert sift_base.fvecs sift.npy\n  mmclust convert small.npy small.csv\n  mmclust convert table.parquet table.npy --columns a,b,c\n  mmclust convert blobs.npy blobs.parquet\n  mmclust convert tfidf.npz tfidf-mapped.npz"
)]
pub(crate) struct Args {
    /// Input: .csv, .npy, .npz (sparse CSR), .fvecs, .bvecs, .parquet, .arrow or .feather.
    input: PathBuf,
    /// Output: .npy (float32), .csv, .parquet (float32 columns, snappy), or .npz (from an .npz).
    output: PathBuf,
    /// .npz → .npz: deflate the members (scipy's default); without it they are
    /// stored, the form that is memory-mapped instead of inflated on every run.
    #[arg(long)]
    compress: bool,
    /// Output dtype of a .npy (only float32, the engine's working type, is written).
    #[arg(long, value_enum, default_value_t = OutDtype::F32)]
    dtype: OutDtype,
    /// Whether the CSV input's first line is a header (default: detected: a first
    /// line with any non-numeric cell is a header).
    #[arg(long, value_enum, default_value_t = Header::Auto)]
    header: Header,
    /// CSV field delimiter (one ASCII character).
    #[arg(long, default_value = ",", value_name = "CHAR")]
    delimiter: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OutDtype {
    F32,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Header {
    Auto,
    Yes,
    No,
}

/// The inputs read as matrices (streamed, any size).
macro_rules! MATRIX_IN {
    () => {
        "npy" | "npz" | "fvecs" | "bvecs" | "parquet" | "arrow" | "feather"
    };
}

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let started = Instant::now();
    let delimiter = match a.delimiter.as_bytes() {
        [b] if b.is_ascii() => *b,
        _ => {
            return Err(usage(format!(
                "--delimiter '{}' must be a single ASCII character",
                a.delimiter
            )));
        }
    };
    let (inx, outx) = (extension(&a.input), extension(&a.output));
    if a.compress && (inx.as_str(), outx.as_str()) != ("npz", "npz") {
        return Err(usage(
            "--compress applies only to .npz → .npz (a sparse matrix rewritten deflated)",
        ));
    }
    let rows = match (inx.as_str(), outx.as_str()) {
        ("csv", "npy") => {
            let (n, d) = csv_to_npy(g, &a, delimiter)?;
            (n, d, 0)
        }
        ("npz", "npz") => {
            let m = mmclust_core::format::convert_npz(&a.input, &a.output, a.compress)?;
            let (n, d) = m.shape();
            (n, d, 0)
        }
        (MATRIX_IN!(), "npy") => matrix_to_npy(g, &a)?,
        (MATRIX_IN!(), "csv") => matrix_to_csv(g, &a)?,
        (MATRIX_IN!(), "parquet") => matrix_to_parquet(g, &a)?,
        _ => {
            return Err(usage(format!(
                "cannot convert {} to {}: supported are .csv → .npy, .npy/.npz/.fvecs/.bvecs/.parquet/.arrow/.feather → .npy, .csv or .parquet, .npz → .npz",
                a.input.display(),
                a.output.display()
            )));
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    emit_summary(
        g,
        crate::input::with_dropped(
            json!({
                "command": "convert",
                "input": a.input,
                "output": a.output,
                "rows": rows.0,
                "cols": rows.1,
                "seconds": seconds,
            }),
            rows.2,
        ),
        format_args!(
            "wrote {} ({} × {}{}) in {:.2} s",
            a.output.display(),
            rows.0,
            rows.1,
            if rows.2 > 0 {
                format!("; {} rows with nulls left out", rows.2)
            } else {
                String::new()
            },
            seconds
        ),
    )
}

fn csv_to_npy(g: &Global, a: &Args, delimiter: u8) -> Result<(usize, usize)> {
    let has_header = match a.header {
        Header::Auto => None,
        Header::Yes => Some(true),
        Header::No => Some(false),
    };
    let mut reader = CsvReader::open(
        &a.input,
        CsvOptions {
            has_header,
            delimiter,
        },
    )?;
    let d = reader.n_cols();
    let mut writer = NpyWriter::<f32>::create(&a.output, Some(d), &[a.input.as_path()])?;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        let got = reader.next_rows(65_536, &mut buf)?;
        if got == 0 {
            break;
        }
        writer.write(&buf)?;
        n += got;
    }
    if n == 0 {
        return Err(usage(format!(
            "{}: no data rows; nothing to convert",
            a.input.display()
        )));
    }
    writer.finish()?;
    if reader.header().is_some() {
        g.info("(first line read as a header)");
    }
    Ok((n, d))
}

fn matrix_to_npy(g: &Global, a: &Args) -> Result<(usize, usize, usize)> {
    let m = open(&a.input)?;
    let d = m.n_cols();
    let mut writer = NpyWriter::<f32>::create(&a.output, Some(d), &[a.input.as_path()])?;
    map_in_order(
        g,
        "convert",
        &m,
        |chunk| Ok(chunk.data.to_vec()),
        |rows| writer.write(&rows),
    )?;
    writer.finish()?;
    Ok((m.n_rows(), d, dropped_rows(&m).count()))
}

/// Rows per Parquet row group written: the parquet crate's default, as
/// pyarrow's (1 Mi rows).
const PARQUET_ROW_GROUP_ROWS: usize = 1 << 20;

/// Any matrix → Parquet: float32 columns `x0`, `x1`, … (or the input's
/// column names), snappy-compressed, plain-encoded (no dictionary), written
/// chunk by chunk in row order.
fn matrix_to_parquet(g: &Global, a: &Args) -> Result<(usize, usize, usize)> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let m = open(&a.input)?;
    let d = m.n_cols();
    let names = match &m {
        mmclust_core::format::Matrix::Columnar(c) => c.column_names(),
        _ => (0..d).map(|j| format!("x{j}")).collect(),
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Float32, false))
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        // Float data rarely repeats: a dictionary would only be dropped again.
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
        .build();
    let mut out = AtomicOutput::create(&a.output, &[a.input.as_path()])?;
    let output = a.output.clone();
    let parquet_err = |e: parquet::errors::ParquetError| {
        anyhow::anyhow!("{}: cannot write Parquet: {e}", output.display())
    };
    let mut writer =
        ArrowWriter::try_new(out.file(), schema.clone(), Some(props)).map_err(parquet_err)?;
    let mut failed = None;
    map_in_order(
        g,
        "convert",
        &m,
        |chunk| {
            // Transposed to columns per chunk: O(chunk) memory.
            let n = chunk.data.len() / d.max(1);
            let columns: Vec<ArrayRef> = (0..d)
                .map(|j| {
                    Arc::new(Float32Array::from_iter_values(
                        (0..n).map(|i| chunk.data[i * d + j]),
                    )) as ArrayRef
                })
                .collect();
            Ok(columns)
        },
        |columns| {
            if failed.is_none() {
                let batch = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|e| parquet::errors::ParquetError::General(e.to_string()))
                    .and_then(|b| writer.write(&b));
                if let Err(e) = batch {
                    failed = Some(e);
                }
            }
            Ok(())
        },
    )?;
    if let Some(e) = failed {
        return Err(parquet_err(e));
    }
    writer.close().map_err(parquet_err)?;
    out.commit()?;
    Ok((m.n_rows(), d, dropped_rows(&m).count()))
}

fn matrix_to_csv(g: &Global, a: &Args) -> Result<(usize, usize, usize)> {
    let m = open(&a.input)?;
    let d = m.n_cols();
    let mut out = AtomicOutput::create(&a.output, &[a.input.as_path()])?;
    let output = a.output.clone();
    map_in_order(
        g,
        "convert",
        &m,
        |chunk| {
            let mut text = Vec::with_capacity(chunk.data.len() * 10);
            write_csv_rows(&mut text, chunk.rows())
                .map_err(|e| mmclust_core::CoreError::io(&output, "write", e))?;
            Ok(text)
        },
        |text| {
            out.file()
                .write_all(&text)
                .map_err(|e| mmclust_core::CoreError::io(&output, "write", e))
        },
    )?;
    out.commit()?;
    Ok((m.n_rows(), d, dropped_rows(&m).count()))
}

/// Writes `rows` as CSV lines into `out`, each value formatted in place (no
/// `String` per value). Rust's `{}` for f32 prints the shortest text that
/// reads back to the same value. Chunks are formatted in parallel, each into
/// its own buffer, and written in order.
fn write_csv_rows<'a>(
    out: &mut impl Write,
    rows: impl Iterator<Item = &'a [f32]>,
) -> std::io::Result<()> {
    for row in rows {
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write!(out, "{v}")?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

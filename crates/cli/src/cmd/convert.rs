//! `mmclust convert IN OUT`: csv ↔ npy, fvecs/bvecs → npy, any dtype → float32,
//! sparse `.npz` compressed ↔ uncompressed (and → dense `.npy`).

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
use crate::input::{emit_summary, open};
use crate::progress::map_in_order;

/// Converts between matrix formats, streaming: CSV (with or without a header
/// line) → .npy; .npy of any supported dtype, .fvecs or .bvecs → float32 .npy;
/// .npy/.npz/.fvecs/.bvecs → CSV; a sparse CSR .npz → .npz, uncompressed (memory-mapped
/// when read) or with --compress deflated, or → a dense float32 .npy. The output
/// format follows OUT's extension.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  mmclust convert data/faithful.csv faithful.npy\n  mmclust convert sift_base.fvecs sift.npy\n  mmclust convert small.npy small.csv\n  mmclust convert tfidf.npz tfidf-mapped.npz"
)]
pub(crate) struct Args {
    /// Input: .csv, .npy, .npz (sparse CSR), .fvecs or .bvecs.
    input: PathBuf,
    /// Output: .npy (float32), .csv, or .npz (from an .npz).
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
        ("csv", "npy") => csv_to_npy(g, &a, delimiter)?,
        ("npz", "npz") => {
            let m = mmclust_core::format::convert_npz(&a.input, &a.output, a.compress)?;
            m.shape()
        }
        ("npy" | "npz" | "fvecs" | "bvecs", "npy") => matrix_to_npy(g, &a)?,
        ("npy" | "npz" | "fvecs" | "bvecs", "csv") => matrix_to_csv(g, &a)?,
        _ => {
            return Err(usage(format!(
                "cannot convert {} to {}: supported are .csv → .npy, .npy/.npz/.fvecs/.bvecs → .npy, .npy/.npz/.fvecs/.bvecs → .csv, .npz → .npz",
                a.input.display(),
                a.output.display()
            )));
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    emit_summary(
        g,
        json!({
            "command": "convert",
            "input": a.input,
            "output": a.output,
            "rows": rows.0,
            "cols": rows.1,
            "seconds": seconds,
        }),
        format_args!(
            "wrote {} ({} × {}) in {:.2} s",
            a.output.display(),
            rows.0,
            rows.1,
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

fn matrix_to_npy(g: &Global, a: &Args) -> Result<(usize, usize)> {
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
    Ok((m.n_rows(), d))
}

fn matrix_to_csv(g: &Global, a: &Args) -> Result<(usize, usize)> {
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
    Ok((m.n_rows(), d))
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

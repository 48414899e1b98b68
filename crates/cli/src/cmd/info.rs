//! `mmclust info FILE [--stats]`.

use std::path::PathBuf;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{Matrix, SparseCsr};
use mmclust_core::parallel::Chunking;
use mmclust_core::stats::ColumnStats;
use serde_json::json;

use crate::Global;
use crate::input::{emit_json, fingerprint, open_counting_nulls};
use crate::progress::with_progress;

/// Shape, dtype and size of a matrix file; `--stats` adds per-column count,
/// mean, std, min, max and NaN/inf counts from one streaming pass.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  mmclust info data/faithful.csv\n  mmclust info blobs.npy --stats --json"
)]
pub(crate) struct Args {
    /// Matrix file: .npy, .npz (sparse CSR), .fvecs, .bvecs or (small) .csv.
    file: PathBuf,
    /// Compute per-column statistics (one pass over the data).
    #[arg(long)]
    stats: bool,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let m = open_counting_nulls(&a.file)?;
    let mut fp = fingerprint(&a.file, &m);
    let nulls = match &m {
        Matrix::Columnar(c) => {
            let dropped = c.dropped_rows();
            // The file's rows: --stats reads those without a null.
            fp.rows = dropped.file_rows();
            fp.dropped_rows = None;
            Some(nulls_json(
                &c.column_names(),
                c.null_counts(),
                dropped.count(),
            ))
        }
        _ => None,
    };
    let stats = if a.stats {
        Some(with_progress(g, "statistics", m.n_rows(), |options| {
            Ok(ColumnStats::compute(
                &m,
                Chunking::for_dim(m.n_cols()),
                options,
            )?)
        })?)
    } else {
        None
    };
    let sparse = match &m {
        Matrix::Npz(s) => Some(sparse_json(s)),
        _ => None,
    };
    if g.json {
        let mut v = json!({ "command": "info", "file": fp });
        if let Some(s) = &sparse {
            v["sparse"] = s.clone();
        }
        if let Some(n) = &nulls {
            v["nulls"] = n.clone();
        }
        if let Some(s) = &stats {
            v["stats"] = stats_json(s);
        }
        return emit_json(&v);
    }
    println!("file    {}", fp.path.display());
    println!("format  {}", fp.format);
    println!("shape   {} rows × {} columns", fp.rows, fp.cols);
    println!("dtype   {}", fp.dtype);
    println!("bytes   {}", fp.bytes);
    if let Some(n) = &nulls {
        let rows = n["rows"].as_u64().unwrap_or(0);
        let per_column: Vec<String> = n["columns"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["nulls"].as_u64() != Some(0))
                    .map(|c| format!("{} {}", c["name"].as_str().unwrap_or("?"), c["nulls"]))
                    .collect()
            })
            .unwrap_or_default();
        if rows == 0 {
            println!("nulls   none");
        } else {
            println!(
                "nulls   {} ({rows} rows hold one: a null is an error unless --drop-null leaves them out{})",
                per_column.join(", "),
                if a.stats {
                    "; --stats reads the others"
                } else {
                    ""
                }
            );
        }
    }
    if let (Some(s), Matrix::Npz(csr)) = (&sparse, &m) {
        println!(
            "sparse  CSR, {} stored values (density {:.3e}), indices {}, {}",
            s["nnz"],
            s["density"].as_f64().unwrap_or(0.0),
            csr.dtypes().1,
            if csr.is_compressed() {
                "compressed (inflated to a scratch file when read; `mmclust convert` to an uncompressed .npz maps it in place)"
            } else {
                "uncompressed (memory-mapped)"
            }
        );
    }
    if let Some(s) = &stats {
        println!();
        println!(
            "{:>6} {:>12} {:>14} {:>14} {:>14} {:>14} {:>8} {:>8}",
            "column", "count", "mean", "std", "min", "max", "nan", "inf"
        );
        let std = s.std();
        // One line per column across eight parallel vectors: an index reads best.
        #[allow(clippy::needless_range_loop)]
        for j in 0..s.n_cols() {
            println!(
                "{:>6} {:>12} {:>14.6e} {:>14.6e} {:>14.6e} {:>14.6e} {:>8} {:>8}",
                j, s.count[j], s.mean[j], std[j], s.min[j], s.max[j], s.nan[j], s.inf[j]
            );
        }
        if let Some((row, col)) = s.first_non_finite {
            g.warn(format_args!(
                "{} non-finite value(s); the first at row {row}, column {col} (0-based)",
                s.non_finite()
            ));
        }
    }
    Ok(())
}

/// Nulls per chosen column (by name, in matrix order) and the rows holding
/// one.
fn nulls_json(names: &[String], counts: &[u64], rows: usize) -> serde_json::Value {
    let columns: Vec<_> = names
        .iter()
        .zip(counts)
        .map(|(name, &n)| json!({ "name": name, "nulls": n }))
        .collect();
    json!({ "rows": rows, "columns": columns })
}

/// What `info` says about a sparse matrix.
fn sparse_json(s: &SparseCsr) -> serde_json::Value {
    let (n, d) = s.shape();
    #[allow(clippy::cast_precision_loss)]
    let density = s.nnz() as f64 / (n as f64 * d as f64);
    json!({
        "format": "csr",
        "nnz": s.nnz(),
        "density": density,
        "indices_dtype": s.dtypes().1,
        "compressed": s.is_compressed(),
    })
}

/// Column statistics as JSON (non-finite numbers become null).
pub(crate) fn stats_json(s: &ColumnStats) -> serde_json::Value {
    let num = |v: f64| if v.is_finite() { json!(v) } else { json!(null) };
    let std = s.std();
    let columns: Vec<_> = (0..s.n_cols())
        .map(|j| {
            json!({
                "count": s.count[j],
                "mean": num(s.mean[j]),
                "std": num(std[j]),
                "min": num(s.min[j]),
                "max": num(s.max[j]),
                "nan": s.nan[j],
                "inf": s.inf[j],
            })
        })
        .collect();
    json!({
        "rows": s.n_rows,
        "non_finite": s.non_finite(),
        "first_non_finite": s.first_non_finite.map(|(r, c)| json!({"row": r, "column": c})),
        "columns": columns,
    })
}

//! The judging and choosing commands (`elbow`, `silhouette`, `gmm-select`,
//! `scores`, `report`, `demo`) over `mmclust-eval`, and their plots and report.

pub(crate) mod demo;
pub(crate) mod elbow;
pub(crate) mod gmm_select;
pub(crate) mod plot;
pub(crate) mod png;
pub(crate) mod report;
pub(crate) mod scores;
pub(crate) mod silhouette;

use std::ops::RangeInclusive;
use std::path::Path;

use anyhow::Result;
use mmclust_core::format::{CsvOptions, CsvReader};
use mmclust_core::parallel::{Chunking, PassOptions};
use mmclust_core::source::Distributed;
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
use mmclust_core::{DataSource, FiniteSource};
use mmclust_eval::{EvalError, PrincipalAxes, principal_axes, sample_rows};

use crate::fail::usage;

/// Points, centres, ellipses and axis labels of a 2-D view.
type View = (
    Vec<[f64; 2]>,
    Vec<[f64; 2]>,
    Vec<plot::Ellipse>,
    String,
    String,
);

/// Rows drawn for a scatter plot of a large data set.
pub(crate) const SCATTER_POINTS: usize = 5000;

/// Parses `A..=B` (or a single `K`) for `--k`.
pub(crate) fn parse_k_range(s: &str) -> Result<RangeInclusive<usize>> {
    let bad = || {
        usage(format!(
            "--k '{s}': expected a range like 2..=8 (inclusive) or a single number"
        ))
    };
    let (a, b) = match s.split_once("..=") {
        Some((a, b)) => (a.trim(), b.trim()),
        None if s.contains("..") => return Err(bad()),
        None => (s.trim(), s.trim()),
    };
    let a: usize = a.parse().map_err(|_| bad())?;
    let b: usize = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(usage(format!(
            "--k {s}: the range is empty (start above end); write A..=B with A ≤ B"
        )));
    }
    Ok(a..=b)
}

/// An evaluation error as the command line reports it: input errors exit 2.
pub(crate) fn eval_err(e: EvalError) -> anyhow::Error {
    if e.is_input_error() {
        usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

/// Runs `f` on the data, z-scored on the fly when `standardize`. Under MPI
/// the data is shared between the ranks ([`Distributed`]): every pass over it
/// (statistics, fits, scores, silhouette rows) is split between them with
/// one process's result, so every rank must run the same `f`.
pub(crate) fn with_source<M: DataSource, R>(
    m: &M,
    standardize: bool,
    f: impl FnOnce(&dyn DataSource) -> Result<R>,
) -> Result<R> {
    match crate::dist::comm() {
        Some(comm) => source_in(&Distributed::new(m, comm), standardize, f),
        None => source_in(m, standardize, f),
    }
}

/// Runs `f` on the data as it is (no finiteness check, no standardising),
/// shared between the ranks under MPI as [`with_source`] does.
pub(crate) fn with_raw_source<M: DataSource, R>(
    m: &M,
    f: impl FnOnce(&dyn DataSource) -> Result<R>,
) -> Result<R> {
    match crate::dist::comm() {
        Some(comm) => f(&Distributed::new(m, comm)),
        None => f(m),
    }
}

fn source_in<S: DataSource, R>(
    m: &S,
    standardize: bool,
    f: impl FnOnce(&dyn DataSource) -> Result<R>,
) -> Result<R> {
    if !standardize {
        // The standardising path's statistics refuse NaN and ±inf; without
        // it, every read is checked instead (no command here gives a
        // meaningful answer on such values).
        return f(&FiniteSource::new(m));
    }
    let stats = ColumnStats::compute(m, Chunking::for_dim(m.n_cols()), PassOptions::default())?;
    let t = Standardizer::from_stats(&stats, &m.name())?;
    let z = Standardized::new(m, t)?;
    f(&z)
}

/// Column names from a CSV header, or `column j`.
pub(crate) fn column_names(path: &Path, d: usize) -> Vec<String> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv
        && let Ok(r) = CsvReader::open(path, CsvOptions::default())
        && let Some(h) = r.header()
        && h.len() == d
    {
        return h.to_vec();
    }
    (0..d).map(|j| format!("column {j}")).collect()
}

/// Reads a labels file (.npy int32 vector).
pub(crate) fn read_labels(path: &Path) -> Result<Vec<i32>> {
    Ok(mmclust_core::format::read_npy_vector_i32(path)?)
}

/// A scatter of (a sample of) the data coloured by `codes`, with centres and
/// optional Gaussians (k × d means, d × d covariances), on the first two
/// columns when d = 2, else on the first two principal components. `None`
/// for one-column data.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scatter_svg(
    source: &dyn DataSource,
    codes: &[u32],
    centres: &[Vec<f64>],
    covariances: &[Vec<f64>],
    names: &[String],
    title: &str,
    unit_note: &str,
    seed: u64,
) -> Result<Option<String>> {
    let (n, d) = (source.n_rows(), source.n_cols());
    if d < 2 {
        return Ok(None);
    }
    let (idx, rows) = sample_rows(source, SCATTER_POINTS, seed).map_err(eval_err)?;
    let sub_codes: Vec<u32> = idx.iter().map(|&i| codes[i]).collect();
    let axes = if d == 2 {
        None
    } else {
        Some(principal_axes(source).map_err(eval_err)?)
    };
    let note = if idx.len() < n {
        format!("{} of {n} rows drawn at random (seed {seed})", idx.len())
    } else {
        String::new()
    };
    Ok(Some(scatter_of_rows(
        &rows,
        d,
        &sub_codes,
        centres,
        covariances,
        axes.as_ref(),
        names,
        unit_note,
        title,
        &note,
    )))
}

/// A scatter of `rows` (row-major, d ≥ 2 columns) coloured by `codes`, with
/// centres and optional Gaussians (k × d means, d × d covariances): on the
/// first two columns without `axes`, else projected on the two principal
/// axes (a covariance Σ becomes Pᵀ Σ P).
#[allow(clippy::too_many_arguments)]
pub(crate) fn scatter_of_rows(
    rows: &[f32],
    d: usize,
    codes: &[u32],
    centres: &[Vec<f64>],
    covariances: &[Vec<f64>],
    axes: Option<&PrincipalAxes>,
    names: &[String],
    unit_note: &str,
    title: &str,
    note: &str,
) -> String {
    let (pts, cs, ells, xl, yl): View = match axes {
        None => (
            rows.chunks_exact(d)
                .map(|r| [f64::from(r[0]), f64::from(r[1])])
                .collect(),
            centres.iter().map(|c| [c[0], c[1]]).collect(),
            centres
                .iter()
                .zip(covariances)
                .map(|(m, c)| plot::Ellipse {
                    mean: [m[0], m[1]],
                    cov: [c[0], c[1], c[d], c[d + 1]],
                })
                .collect(),
            format!("{}{unit_note}", names[0]),
            format!("{}{unit_note}", names[1]),
        ),
        Some(pa) => {
            let share = |v: f64| 100.0 * v / pa.total_variance.max(1e-300);
            (
                rows.chunks_exact(d)
                    .map(|r| {
                        let x: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
                        pa.project(&x)
                    })
                    .collect(),
                centres.iter().map(|c| pa.project(c)).collect(),
                centres
                    .iter()
                    .zip(covariances)
                    .map(|(m, c)| plot::Ellipse {
                        mean: pa.project(m),
                        cov: pa.project_cov(c),
                    })
                    .collect(),
                format!(
                    "principal component 1 ({:.0}% of variance)",
                    share(pa.variance[0])
                ),
                format!(
                    "principal component 2 ({:.0}% of variance)",
                    share(pa.variance[1])
                ),
            )
        }
    };
    plot::scatter(title, &xl, &yl, &pts, codes, &cs, &ells, note)
}

/// Writes a small text output atomically, refusing to overwrite `inputs`;
/// under MPI rank 0 alone writes it (every rank computed the same text).
pub(crate) fn write_text(path: &Path, inputs: &[&Path], text: &str) -> Result<()> {
    if crate::dist::is_root() {
        mmclust_core::output::write_atomic(path, inputs, text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_ranges() {
        assert_eq!(parse_k_range("2..=8").unwrap(), 2..=8);
        assert_eq!(parse_k_range("3").unwrap(), 3..=3);
        assert!(parse_k_range("5..=2").is_err());
        assert!(parse_k_range("2..8").is_err());
        assert!(parse_k_range("x").is_err());
    }
}

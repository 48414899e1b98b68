//! `mmclust scores FILE LABELS [--truth FILE]`: cluster-validity scores.

use std::path::PathBuf;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::parallel::PassOptions;
use mmclust_eval::{
    Labels, adjusted_rand_index, cluster_scores, normalized_mutual_info, silhouette,
};
use serde_json::json;

use super::png::{plot_path, write_plot};
use super::{column_names, eval_err, read_labels, scatter_svg, with_source};
use crate::Global;
use crate::fail::usage;
use crate::input::{dropped_rows, emit_json, fingerprint, keep_rows, open};

/// Up to this many rows the silhouette is exact; above, it is estimated from
/// [`SILHOUETTE_SAMPLE`] rows (each scored against all rows) unless --exact.
pub(crate) const EXACT_SILHOUETTE_MAX_ROWS: usize = 20_000;
/// Rows scored for the estimated silhouette.
pub(crate) const SILHOUETTE_SAMPLE: usize = 10_000;

/// Scores a labelling: silhouette (exact up to 20,000 rows, above that an
/// estimate from 10,000 random rows scored against all rows, with its
/// standard error; --exact or --sample N to choose), Calinski–Harabasz
/// (higher is better) and Davies–Bouldin (lower is better), both O(n·k) in two
/// streamed passes; with --truth, the adjusted Rand index and the normalised
/// mutual information (arithmetic mean of the entropies, scikit-learn's
/// default) against the true labels.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust scores blobs.npy labels.npy --truth truth.npy
  mmclust scores big.npy labels.npy --sample 50000 --json")]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv.
    file: PathBuf,
    /// Predicted labels: .npy int32 vector, one per row.
    labels: PathBuf,
    /// True labels: .npy int32 vector, one per row.
    #[arg(long, value_name = "FILE.npy")]
    truth: Option<PathBuf>,
    /// Estimate the silhouette from N random rows.
    #[arg(long, value_name = "N", conflicts_with = "exact")]
    sample: Option<usize>,
    /// Exact silhouette whatever the size (O(n²) time).
    #[arg(long)]
    exact: bool,
    /// Scratch memory for the silhouette, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    working_memory: usize,
    /// Z-score the columns first (applied on the fly).
    #[arg(long)]
    standardize: bool,
    /// Write a scatter plot of the data coloured by label (SVG or PNG, by the
    /// extension).
    #[arg(long, value_name = "FILE.svg|.png", value_parser = plot_path)]
    plot_out: Option<PathBuf>,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let m = open(&a.file)?;
    let fp = fingerprint(&a.file, &m);
    let n = m.n_rows();
    let name = a.file.display().to_string();
    // Labels written with --drop-null have -1 at the rows left out.
    let dropped = dropped_rows(&m);
    let labels_of = |path: &PathBuf| -> Result<Labels> {
        let raw = keep_rows(read_labels(path)?, &dropped);
        let l = Labels::new(&raw).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        l.check_len(n, &name)
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        Ok(l)
    };
    let labels = labels_of(&a.labels)?;
    labels
        .check_cluster_count()
        .map_err(|e| usage(format!("{}: {e}", a.labels.display())))?;
    let truth = a.truth.as_ref().map(labels_of).transpose()?;
    let sample = match (a.sample, a.exact) {
        (Some(s), _) => Some(s),
        (None, false) if n > EXACT_SILHOUETTE_MAX_ROWS => Some(SILHOUETTE_SAMPLE),
        _ => None,
    };
    let p = super::silhouette::params(g, sample, a.working_memory)?;
    let (s, c) = with_source(&m, a.standardize, |src| {
        let s = silhouette(src, &labels, &p, PassOptions::default()).map_err(eval_err)?;
        let c = cluster_scores(src, &labels, PassOptions::default()).map_err(eval_err)?;
        if let Some(path) = &a.plot_out {
            let d = src.n_cols();
            let centres: Vec<Vec<f64>> = c.centroids.chunks_exact(d).map(<[f64]>::to_vec).collect();
            let names = column_names(&a.file, d);
            let unit = if a.standardize { " (z-score)" } else { "" };
            match scatter_svg(
                src,
                labels.codes(),
                &centres,
                &[],
                &names,
                "Data by cluster (crosses: centroids)",
                unit,
                g.seed,
            )? {
                Some(svg) => write_plot(path, &[a.file.as_path(), a.labels.as_path()], &svg)?,
                None => g.warn("--plot-out: one-column data has no scatter plot; nothing written"),
            }
        }
        Ok((s, c))
    })?;
    let ari = truth
        .as_ref()
        .map(|t| adjusted_rand_index(t, &labels))
        .transpose()
        .map_err(eval_err)?;
    let nmi = truth
        .as_ref()
        .map(|t| normalized_mutual_info(t, &labels))
        .transpose()
        .map_err(eval_err)?;
    if g.json {
        let mut j = super::silhouette::summary(&s, &labels);
        j["command"] = json!("scores");
        j["n"] = json!(n);
        j["d"] = json!(m.n_cols());
        j["k"] = json!(labels.k());
        j["calinski_harabasz"] = json!(c.calinski_harabasz);
        j["davies_bouldin"] = json!(c.davies_bouldin);
        j["adjusted_rand"] = json!(ari);
        j["nmi"] = json!(nmi);
        j["standardized"] = json!(a.standardize);
        j["input"] = serde_json::to_value(&fp)?;
        emit_json(&j)?;
    } else {
        println!(
            "scores: n = {n}, d = {}, {} clusters",
            m.n_cols(),
            labels.k()
        );
        match s.std_error {
            Some(se) => println!(
                "silhouette         {:.6} ± {se:.6} (estimate from {} random rows, each against all rows)",
                s.mean,
                s.values.len()
            ),
            None => println!("silhouette         {:.6} (exact)", s.mean),
        }
        println!(
            "Calinski-Harabasz  {:.6} (higher is better)",
            c.calinski_harabasz
        );
        println!(
            "Davies-Bouldin     {:.6} (lower is better)",
            c.davies_bouldin
        );
        if let (Some(ari), Some(nmi)) = (ari, nmi) {
            println!("adjusted Rand      {ari:.6} (against --truth)");
            println!("NMI (arithmetic)   {nmi:.6}");
        }
    }
    Ok(())
}

//! `mmclust silhouette FILE LABELS` / `mmclust silhouette FILE --k A..=B`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::parallel::PassOptions;
use mmclust_eval::{
    Labels, Silhouette, SilhouetteParams, check_k_range, silhouette, silhouette_kernel_name,
};
use mmclust_kmeans::{Init, KMeansParams};
use serde_json::json;

use super::plot::{Series, curves};
use super::png::{plot_path, write_plot};
use super::{eval_err, parse_k_range, read_labels, with_source};
use crate::Global;
use crate::cmd::kmeans::{Metric, kmeans_metric};
use crate::fail::usage;
use crate::input::{dropped_rows, emit_json, fingerprint, keep_rows, open};
use crate::progress::{StatusLine, with_progress};

/// Silhouette scores: exact (every row against every row, in blocks whose
/// memory stays within --working-memory, never n × n), or, with --sample N,
/// N random rows each scored exactly against all rows: an unbiased estimate of
/// the mean with its standard error (scikit-learn's sample_size instead scores
/// the sample against itself). Euclidean distances, or with --metric cosine
/// the cosine distance 1 − cos (scikit-learn's metric="cosine"; rows
/// normalised as read, a row of zeros is an error), and with --k spherical
/// K-means.
///
/// With LABELS (.npy int32, one per row): the mean, per-cluster means, and the
/// silhouette plot. With --k A..=B: K-means for each k, and the k with the
/// highest mean silhouette.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust silhouette blobs.npy labels.npy --plot-out silhouette.svg
  mmclust silhouette big.npy labels.npy --sample 20000 --json
  mmclust silhouette data/faithful.csv --k 2..=8 --standardize
  mmclust silhouette embeddings.npy --k 2..=20 --metric cosine --sample 5000")]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv.
    file: PathBuf,
    /// Labels: .npy int32 vector, one per row (or use --k).
    labels: Option<PathBuf>,
    /// Fit K-means for each k of A..=B (k ≥ 2) instead of reading labels.
    #[arg(long = "k", short = 'k', value_name = "A..=B")]
    k: Option<String>,
    /// Score N random rows (against all rows) instead of every row.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Scratch memory for the exact computation, in MiB (all threads together).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    working_memory: usize,
    /// K-means++ runs per k (with --k).
    #[arg(long, default_value_t = 3, value_name = "N")]
    n_init: usize,
    /// Z-score the columns first (applied on the fly).
    #[arg(long)]
    standardize: bool,
    /// euclidean, or cosine: distances 1 − cos (and spherical K-means with
    /// --k). Not with --standardize.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Write the silhouette plot (or, with --k, the score by k) as SVG or PNG
    /// (by the extension).
    #[arg(long, value_name = "FILE.svg|.png", value_parser = plot_path)]
    plot_out: Option<PathBuf>,
    /// Write the per-row values (.npy float32; the sampled rows' with --sample).
    #[arg(long, value_name = "FILE.npy")]
    values_out: Option<PathBuf>,
}

pub(crate) fn params(
    g: &Global,
    sample: Option<usize>,
    working_memory_mib: usize,
) -> Result<SilhouetteParams> {
    if sample == Some(0) {
        return Err(usage("--sample must be at least 1 row"));
    }
    if working_memory_mib == 0 {
        return Err(usage("--working-memory must be at least 1 (MiB)"));
    }
    Ok(SilhouetteParams {
        working_memory: working_memory_mib.saturating_mul(1 << 20),
        sample,
        seed: g.seed,
        ..SilhouetteParams::default()
    })
}

/// JSON of one silhouette result.
pub(crate) fn summary(s: &Silhouette, labels: &Labels) -> serde_json::Value {
    json!({
        "silhouette": s.mean,
        "std_error": s.std_error,
        "scored_rows": s.values.len(),
        "sampled": s.rows.is_some(),
        "clusters": labels.values().iter().enumerate().map(|(j, v)| json!({
            "label": v,
            "size": labels.counts()[j],
            "scored": s.cluster_scored[j],
            "mean": if s.cluster_means[j].is_finite() { json!(s.cluster_means[j]) } else { json!(null) },
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let mut p = params(g, a.sample, a.working_memory)?;
    p.metric = kmeans_metric(a.metric);
    if a.standardize && a.metric == Metric::Cosine {
        return Err(usage(
            "--metric cosine normalises each row; it does not combine with --standardize",
        ));
    }
    match (&a.labels, &a.k) {
        (Some(_), Some(_)) => Err(usage("give either LABELS or --k A..=B, not both")),
        (None, None) => Err(usage(
            "give LABELS (a .npy int32 vector) or --k A..=B to fit K-means for each k",
        )),
        (Some(l), None) => run_labels(g, &a, l, &p),
        (None, Some(k)) => run_sweep(g, &a, k, &p),
    }
}

fn run_labels(g: &Global, a: &Args, labels_path: &Path, p: &SilhouetteParams) -> Result<()> {
    let m = open(&a.file)?;
    let fp = fingerprint(&a.file, &m);
    // Labels written with --drop-null have -1 at the rows left out.
    let dropped = dropped_rows(&m);
    let raw = keep_rows(read_labels(labels_path)?, &dropped);
    let labels = Labels::new(&raw).map_err(|e| usage(format!("{}: {e}", labels_path.display())))?;
    labels
        .check_len(m.n_rows(), &a.file.display().to_string())
        .map_err(|e| usage(format!("{}: {e}", labels_path.display())))?;
    let started = Instant::now();
    let rows = p.sample.unwrap_or(m.n_rows()).min(m.n_rows());
    let s = with_progress(g, "silhouette", rows, |options| {
        with_source(&m, a.standardize, |src| {
            silhouette(src, &labels, p, options).map_err(eval_err)
        })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let inputs = [a.file.as_path(), labels_path];
    if let Some(path) = &a.plot_out {
        let title = if s.rows.is_some() {
            format!(
                "Silhouette of {} clusters ({} sampled rows)",
                labels.k(),
                s.values.len()
            )
        } else {
            format!("Silhouette of {} clusters", labels.k())
        };
        let svg = super::plot::silhouette(&title, &s.values, &s.codes, labels.k(), s.mean);
        write_plot(path, &inputs, &svg)?;
    }
    // Every rank holds every value; rank 0 writes them.
    if let Some(path) = a.values_out.as_ref().filter(|_| crate::dist::is_root()) {
        let v: Vec<f32> = s.values.iter().map(|&x| x as f32).collect();
        let mut w = mmclust_core::format::NpyWriter::<f32>::create(path, None, &inputs)?;
        // Every row's value: NaN at the rows --drop-null left out.
        if s.rows.is_none() {
            w = w.fill_dropped(&dropped, f32::NAN);
        }
        w.write(&v)?;
        w.finish()?;
    }
    if g.json {
        let mut j = summary(&s, &labels);
        j["command"] = json!("silhouette");
        j["n"] = json!(m.n_rows());
        j["d"] = json!(m.n_cols());
        j["seconds"] = json!(seconds);
        j["kernel"] = json!(silhouette_kernel_name());
        j["threads"] = json!(rayon::current_num_threads());
        j["working_memory_mib"] = json!(a.working_memory);
        j["standardized"] = json!(a.standardize);
        j["metric"] = json!(p.metric.name());
        j["input"] = serde_json::to_value(&fp)?;
        emit_json(&j)?;
    } else {
        match s.std_error {
            Some(se) => println!(
                "silhouette ≈ {:.6} ± {se:.6} (standard error; {} of {} rows scored against all rows)",
                s.mean,
                s.values.len(),
                m.n_rows()
            ),
            None => println!("silhouette = {:.6} (exact, {} rows)", s.mean, m.n_rows()),
        }
        println!("{:>10}  {:>10}  {:>10}", "label", "size", "mean s");
        for (j, v) in labels.values().iter().enumerate() {
            println!(
                "{v:>10}  {:>10}  {:>10.6}",
                labels.counts()[j],
                s.cluster_means[j]
            );
        }
        g.info(format_args!(
            "{seconds:.3} s on {} thread(s), {} kernel",
            rayon::current_num_threads(),
            silhouette_kernel_name()
        ));
    }
    Ok(())
}

fn run_sweep(g: &Global, a: &Args, k: &str, p: &SilhouetteParams) -> Result<()> {
    let ks = parse_k_range(k)?;
    if a.n_init == 0 {
        return Err(usage("--n-init must be at least 1"));
    }
    let m = open(&a.file)?;
    let fp = fingerprint(&a.file, &m);
    check_k_range(&ks, 2, m.n_rows().saturating_sub(1)).map_err(eval_err)?;
    let status = StatusLine::new(g);
    let rows = with_source(&m, a.standardize, |src| {
        let mut rows = Vec::new();
        for k in ks.clone() {
            let model = KMeansParams::new(k)
                .metric(p.metric)
                .init(Init::KMeansPlusPlus)
                .n_init(a.n_init)
                .seed(g.seed)
                .fit(src)?;
            let pred = model.predict(src)?;
            let labels = Labels::new(&pred).map_err(eval_err)?;
            // K-means can leave a cluster empty on degenerate data: score what is there.
            let s = if labels.k() >= 2 {
                Some(silhouette(src, &labels, p, PassOptions::default()).map_err(eval_err)?)
            } else {
                None
            };
            status.set(format!(
                "k = {k}: silhouette {:?}",
                s.as_ref().map(|s| s.mean)
            ));
            rows.push((k, model.inertia, s));
        }
        Ok(rows)
    })?;
    status.finish();
    let best = rows
        .iter()
        .filter_map(|(k, _, s)| s.as_ref().map(|s| (*k, s.mean)))
        .fold(None::<(usize, f64)>, |b, (k, v)| match b {
            Some((_, bv)) if bv >= v => b,
            _ => Some((k, v)),
        });
    if let Some(path) = &a.plot_out {
        let xs: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
        let svg = curves(
            "Mean silhouette by k (K-means)",
            "number of clusters k",
            "mean silhouette",
            &xs,
            &[Series {
                name: "silhouette".into(),
                ys: rows.iter().map(|r| r.2.as_ref().map(|s| s.mean)).collect(),
                dashed: false,
                colour: 0,
            }],
            best.map(|(k, v)| (k as f64, v, format!("best: k = {k}"))),
        );
        write_plot(path, &[a.file.as_path()], &svg)?;
    }
    if g.json {
        emit_json(&json!({
            "command": "silhouette",
            "n": m.n_rows(),
            "d": m.n_cols(),
            "ks": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "silhouette": rows.iter().map(|r| r.2.as_ref().map(|s| s.mean)).collect::<Vec<_>>(),
            "std_error": rows.iter().map(|r| r.2.as_ref().and_then(|s| s.std_error)).collect::<Vec<_>>(),
            "sse": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "best_k": best.map(|b| b.0),
            "sampled": p.sample.is_some_and(|s| s < m.n_rows()),
            "standardized": a.standardize,
            "metric": p.metric.name(),
            "seed": g.seed,
            "input": fp,
        }))?;
    } else {
        println!("{:>5}  {:>12}  {:>10}", "k", "silhouette", "± s.e.");
        for (k, _, s) in &rows {
            match s {
                Some(s) => println!(
                    "{k:>5}  {:>12.6}  {:>10}",
                    s.mean,
                    s.std_error.map(|e| format!("{e:.6}")).unwrap_or_default()
                ),
                None => println!("{k:>5}  {:>12}", "(1 cluster)"),
            }
        }
        if let Some((k, v)) = best {
            println!("best k = {k} (highest mean silhouette, {v:.6})");
        }
    }
    Ok(())
}

//! `mmclust predict MODEL FILE -o OUT` and `mmclust score MODEL FILE`.
//!
//! Under MPI each rank streams the rows of its share of the chunk grid
//! ([`streamed_rows`]) into its rows of the one output file, and sums taken
//! chunk by chunk are added in chunk order across ranks ([`chunk_total`]): the
//! same bytes and the same totals as one process.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mmclust_core::format::{DroppedRows, NpyElement, NpyWriter};
use mmclust_core::source::{Distributed, RowRange};
use mmclust_core::{DataSource, FiniteSource};
use serde_json::json;

use crate::Global;
use crate::cmd::gmm::load_gmm;
use crate::cmd::kmeans::{as_i32, load_model};
use crate::dist::{RowsOut, chunk_total, streamed_rows};
use crate::fail::usage;
use crate::input::{dropped_rows, emit_json, emit_summary, open, read_text};
use crate::progress::with_progress;

/// A model file of either kind. One per command: the size of the larger
/// variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Model {
    KMeans(mmclust_kmeans::KMeansModel),
    Gmm(mmclust_gmm::GaussianMixtureModel),
}

impl Model {
    fn kind(&self) -> &'static str {
        match self {
            Model::KMeans(_) => "kmeans",
            Model::Gmm(_) => "gmm",
        }
    }
}

/// Reads a model file, dispatching on its `"kind"`; anything that is not a
/// Gaussian mixture goes through the K-means reader (and its messages).
fn load_any(path: &Path) -> Result<Model> {
    let text = read_text(
        path,
        "a model written by `mmclust kmeans --model-out` or `mmclust gmm --model-out`",
    )?;
    let is_gmm = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("gmm"));
    if is_gmm {
        Ok(Model::Gmm(load_gmm(path, &text)?))
    } else {
        Ok(Model::KMeans(load_model(path)?))
    }
}

/// Labels for new data from a fitted model, streamed to a .npy int32 vector;
/// --transform writes the Euclidean distance to every centre instead (n × k
/// float32, K-means; a cosine model: the cosine distance 1 − cos); --proba
/// the responsibilities (n × k float32, Gaussian mixtures). The model's
/// standardisation or (cosine) row normalisation is applied first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust predict model.json new.npy -o labels.npy
  mmclust predict model.json new.npy -o distances.npy --transform")]
pub(crate) struct PredictArgs {
    /// Model written by `mmclust kmeans --model-out` or `mmclust gmm --model-out`.
    model: PathBuf,
    /// Data with the model's number of columns.
    file: PathBuf,
    /// Output .npy.
    #[arg(short, long, value_name = "PATH.npy")]
    out: PathBuf,
    /// Write responsibilities (Gaussian mixture models only).
    #[arg(long, conflicts_with = "transform")]
    proba: bool,
    /// Write distances to every centre (n × k float32; cosine models: 1 − cos).
    #[arg(long)]
    transform: bool,
}

pub(crate) fn predict(g: &Global, a: PredictArgs) -> Result<()> {
    if let Some(m) = crate::cmd::kernel::load(&a.model)? {
        return crate::cmd::kernel::predict(
            g,
            &m,
            &a.model,
            &a.file,
            &a.out,
            a.proba || a.transform,
        );
    }
    let model = load_any(&a.model)?;
    let output = match (&model, a.proba, a.transform) {
        (Model::KMeans(_), true, _) => {
            return Err(usage(format!(
                "--proba: {} is a K-means model, which has no probabilities; use --transform for distances",
                a.model.display()
            )));
        }
        (Model::Gmm(_), _, true) => {
            return Err(usage(format!(
                "--transform: {} is a Gaussian mixture model; use --proba for responsibilities",
                a.model.display()
            )));
        }
        (Model::KMeans(_), _, true) => "distances",
        (Model::Gmm(_), true, _) => "responsibilities",
        _ => "labels",
    };
    let matrix = open(&a.file)?;
    let dropped = dropped_rows(&matrix);
    let data = FiniteSource::new(matrix);
    let inputs = [a.model.as_path(), a.file.as_path()];
    let out = &a.out;
    let (n, rows) = (data.n_rows(), streamed_rows(data.n_rows(), data.n_cols()));
    let part = RowRange::new(&data, rows.clone())?;
    let at = Rows {
        n,
        rows: &rows,
        dropped: &dropped,
    };
    let k = with_progress(g, "predict", rows.len(), |options| match &model {
        Model::KMeans(m) if a.transform => {
            stream_npy(out, Some(m.k), &inputs, &at, f32::NAN, |w| {
                m.transform_each(&part, options, |r| Ok(w.write(r)?))
            })?;
            Ok(m.k)
        }
        Model::KMeans(m) => {
            stream_npy(out, None, &inputs, &at, -1, |w| {
                m.predict_each(&part, options, |labels, _| Ok(w.write(&as_i32(labels))?))
            })?;
            Ok(m.k)
        }
        Model::Gmm(m) if a.proba => {
            stream_npy(out, Some(m.k()), &inputs, &at, f32::NAN, |w| {
                m.predict_proba_each(&part, options, |r| Ok(w.write(r)?))
            })?;
            Ok(m.k())
        }
        Model::Gmm(m) => {
            stream_npy(out, None, &inputs, &at, -1, |w| {
                m.predict_each(&part, options, |labels| Ok(w.write(&as_i32(labels))?))
            })?;
            Ok(m.k())
        }
    })?;
    emit_summary(
        g,
        crate::input::with_dropped(
            json!({
                "command": "predict",
                "kind": model.kind(),
                "model": a.model,
                "input": a.file,
                "out": a.out,
                "n": data.n_rows(),
                "k": k,
                "output": output,
            }),
            dropped.count(),
        ),
        format_args!("wrote {} for {} rows", a.out.display(), data.n_rows()),
    )
}

/// The rows of a per-row output: `n` rows of data, of which this process
/// writes `rows`, and the file rows `--drop-null` left out of the data.
struct Rows<'a> {
    n: usize,
    rows: &'a Range<usize>,
    dropped: &'a DroppedRows,
}

impl Rows<'_> {
    /// The writer of `path` (`cols` as in `NpyWriter::create`): `missing`
    /// at each file row left out, so that the output keeps the file's rows.
    fn writer<T: NpyElement>(
        &self,
        path: &Path,
        cols: Option<usize>,
        inputs: &[&Path],
        missing: T,
    ) -> Result<RowsOut<T>> {
        if crate::dist::comm().is_none() {
            let w = NpyWriter::create(path, cols, inputs)?.fill_dropped(self.dropped, missing);
            return Ok(RowsOut::One(w));
        }
        crate::cmd::fit::refuse_dropped_distributed(self.dropped, &path.display().to_string())?;
        RowsOut::<T>::create(path, inputs, self.n, cols, self.rows.clone())
    }
}

/// Creates `path` (an .npy of `at.n` rows of `cols` columns, or a vector;
/// `missing` at rows `--drop-null` left out) of which this process writes
/// `at.rows`, lets `fill` stream into it, and completes it (renamed into
/// place only then).
fn stream_npy<T, E>(
    path: &Path,
    cols: Option<usize>,
    inputs: &[&Path],
    at: &Rows<'_>,
    missing: T,
    fill: impl FnOnce(&mut RowsOut<T>) -> std::result::Result<(), E>,
) -> Result<()>
where
    T: NpyElement,
    anyhow::Error: From<E>,
{
    let mut w = at.writer(path, cols, inputs, missing)?;
    fill(&mut w)?;
    w.finish()
}

/// K-means inertia (sum of squared distances to the nearest centre) of data
/// under a fitted model; --per-sample-out writes each row's squared distance.
/// For a cosine model (`kmeans --metric cosine`): Σ(1 − cos) to the nearest
/// centre, and each row's 1 − cos.
/// For a Gaussian mixture: the mean per-row log-likelihood (scikit-learn's
/// `score`), BIC and AIC; --per-sample-out writes each row's log-likelihood.
/// For a model fitted with --standardize, densities are those of the
/// standardised data (as scikit-learn on standardised data reports them).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust score model.json data.npy
  mmclust score model.json data.npy --per-sample-out dist2.npy --json")]
pub(crate) struct ScoreArgs {
    /// Model written by `mmclust kmeans --model-out` or `mmclust gmm --model-out`.
    model: PathBuf,
    /// Data with the model's number of columns.
    file: PathBuf,
    /// Write each row's squared distance to its nearest centre, or its
    /// log-likelihood under a Gaussian mixture (.npy float32).
    #[arg(long, value_name = "PATH.npy")]
    per_sample_out: Option<PathBuf>,
}

pub(crate) fn score(g: &Global, a: ScoreArgs) -> Result<()> {
    if let Some(m) = crate::cmd::kernel::load(&a.model)? {
        return crate::cmd::kernel::score(g, &m, &a.model, &a.file, a.per_sample_out.as_ref());
    }
    let model = match load_any(&a.model)? {
        Model::KMeans(m) => m,
        Model::Gmm(m) => return score_gmm(g, a, &m),
    };
    let matrix = open(&a.file)?;
    let dropped = dropped_rows(&matrix);
    let data = FiniteSource::new(matrix);
    let inputs = [a.model.as_path(), a.file.as_path()];
    let (n, rows) = (data.n_rows(), streamed_rows(data.n_rows(), data.n_cols()));
    let at = Rows {
        n,
        rows: &rows,
        dropped: &dropped,
    };
    let inertia = with_progress(g, "score", rows.len(), |options| {
        Ok(match &a.per_sample_out {
            Some(p) => {
                let part = RowRange::new(&data, rows.clone())?;
                let mut sums = Vec::new();
                stream_npy(p, None, &inputs, &at, f32::NAN, |w| {
                    model.predict_each(&part, options, |_, dist| {
                        sums.push(dist.iter().map(|&v| f64::from(v)).sum::<f64>());
                        Ok(w.write(dist)?)
                    })
                })?;
                chunk_total(&sums)?
            }
            // The inertia pass over the global chunk grid: split between
            // ranks, merged by the one-process tree.
            None => match crate::dist::comm() {
                Some(comm) => model.inertia_of(&Distributed::new(&data, comm), None, options)?,
                None => model.inertia_of(&data, None, options)?,
            },
        })
    })?;
    if g.json {
        emit_json(&json!({
            "command": "score",
            "kind": "kmeans",
            "model": a.model,
            "input": a.file,
            "n": n,
            "inertia": inertia,
            "metric": model.metric.name(),
            "mean_squared_distance": inertia / n as f64,
            "per_sample_out": a.per_sample_out,
        }))?;
    } else {
        let what = match model.metric {
            mmclust_kmeans::Metric::Cosine => " Σ(1 − cos)",
            mmclust_kmeans::Metric::Euclidean => "",
        };
        println!(
            "inertia{what} {inertia:.9e} ({:.6e} per row, {n} rows)",
            inertia / n as f64
        );
    }
    Ok(())
}

fn score_gmm(g: &Global, a: ScoreArgs, model: &mmclust_gmm::GaussianMixtureModel) -> Result<()> {
    let matrix = open(&a.file)?;
    let dropped = dropped_rows(&matrix);
    let data = FiniteSource::new(matrix);
    let inputs = [a.model.as_path(), a.file.as_path()];
    let (n, rows) = (data.n_rows(), streamed_rows(data.n_rows(), data.n_cols()));
    let part = RowRange::new(&data, rows.clone())?;
    let at = Rows {
        n,
        rows: &rows,
        dropped: &dropped,
    };
    let total = with_progress(g, "score", rows.len(), |options| {
        let mut writer = match &a.per_sample_out {
            Some(p) => Some(at.writer::<f32>(p, None, &inputs, f32::NAN)?),
            None => None,
        };
        let mut sums = Vec::new();
        model.score_samples_each(&part, options, |ll| {
            sums.push(ll.iter().sum::<f64>());
            if let Some(w) = writer.as_mut() {
                let v: Vec<f32> = ll.iter().map(|&x| x as f32).collect();
                w.write(&v)?;
            }
            Ok(())
        })?;
        if let Some(w) = writer {
            w.finish()?;
        }
        chunk_total(&sums)
    })?;
    let mean = total / n as f64;
    let p = model.n_parameters() as f64;
    let bic = -2.0 * total + p * (n as f64).ln();
    let aic = -2.0 * total + 2.0 * p;
    if g.json {
        emit_json(&json!({
            "command": "score",
            "kind": "gmm",
            "model": a.model,
            "input": a.file,
            "n": n,
            "log_likelihood": mean,
            "total_log_likelihood": total,
            "bic": bic,
            "aic": aic,
            "per_sample_out": a.per_sample_out,
        }))?;
    } else {
        println!("log-likelihood {mean:.9} per row ({n} rows); BIC {bic:.6e}, AIC {aic:.6e}");
    }
    Ok(())
}

//! `mmclust predict MODEL FILE -o OUT` and `mmclust score MODEL FILE`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::NpyWriter;
use mmclust_core::parallel::PassOptions;
use serde_json::json;

use crate::Global;
use crate::cmd::kmeans::load_model;
use crate::fail::usage;
use crate::input::{emit_json, open};
use crate::progress::RowProgress;

/// Labels for new data from a fitted model, streamed to a .npy int32 vector;
/// --transform writes the Euclidean distance to every centre instead (n × k
/// float32). The model's standardisation, if any, is applied first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust predict model.json new.npy -o labels.npy
  mmclust predict model.json new.npy -o distances.npy --transform")]
pub(crate) struct PredictArgs {
    /// Model written by `mmclust kmeans --model-out`.
    model: PathBuf,
    /// Data with the model's number of columns.
    file: PathBuf,
    /// Output .npy.
    #[arg(short, long, value_name = "PATH.npy")]
    out: PathBuf,
    /// Write responsibilities (Gaussian mixture models only).
    #[arg(long, conflicts_with = "transform")]
    proba: bool,
    /// Write distances to every centre (n × k float32).
    #[arg(long)]
    transform: bool,
}

pub(crate) fn predict(g: &Global, a: PredictArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    if a.proba {
        return Err(usage(format!(
            "--proba: {} is a K-means model, which has no probabilities; use --transform for distances",
            a.model.display()
        )));
    }
    let m = open(&a.file)?;
    let inputs: Vec<&Path> = vec![a.model.as_path(), a.file.as_path()];
    let bar = RowProgress::new(g, "predict", m.n_rows() as u64);
    let tick = |r: usize| bar.tick(r);
    let options = PassOptions {
        progress: Some(&tick),
    };
    if a.transform {
        let mut w = NpyWriter::<f32>::create(&a.out, Some(model.k), &inputs)?;
        model.transform_each(&m, options, |rows| Ok(w.write(rows)?))?;
        w.finish()?;
    } else {
        let mut w = NpyWriter::<i32>::create(&a.out, None, &inputs)?;
        model.predict_each(&m, options, |labels, _| {
            let l: Vec<i32> = labels.iter().map(|&v| v as i32).collect();
            Ok(w.write(&l)?)
        })?;
        w.finish()?;
    }
    bar.finish();
    if g.json {
        emit_json(&json!({
            "command": "predict",
            "model": a.model,
            "input": a.file,
            "out": a.out,
            "n": m.n_rows(),
            "k": model.k,
            "output": if a.transform { "distances" } else { "labels" },
        }))?;
    } else {
        g.info(format_args!(
            "wrote {} for {} rows",
            a.out.display(),
            m.n_rows()
        ));
    }
    Ok(())
}

/// K-means inertia (sum of squared distances to the nearest centre) of data
/// under a fitted model; --per-sample-out writes each row's squared distance.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust score model.json data.npy
  mmclust score model.json data.npy --per-sample-out dist2.npy --json")]
pub(crate) struct ScoreArgs {
    /// Model written by `mmclust kmeans --model-out`.
    model: PathBuf,
    /// Data with the model's number of columns.
    file: PathBuf,
    /// Write each row's squared distance to its nearest centre (.npy float32).
    #[arg(long, value_name = "PATH.npy")]
    per_sample_out: Option<PathBuf>,
}

pub(crate) fn score(g: &Global, a: ScoreArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let m = open(&a.file)?;
    let inputs: Vec<&Path> = vec![a.model.as_path(), a.file.as_path()];
    let bar = RowProgress::new(g, "score", m.n_rows() as u64);
    let tick = |r: usize| bar.tick(r);
    let options = PassOptions {
        progress: Some(&tick),
    };
    let inertia = match &a.per_sample_out {
        Some(p) => {
            let mut w = NpyWriter::<f32>::create(p, None, &inputs)?;
            let mut total = 0.0f64;
            model.predict_each(&m, options, |_, dist| {
                total += dist.iter().map(|&v| f64::from(v)).sum::<f64>();
                Ok(w.write(dist)?)
            })?;
            w.finish()?;
            total
        }
        None => model.inertia_of(&m, None, options)?,
    };
    bar.finish();
    let n = m.n_rows();
    if g.json {
        emit_json(&json!({
            "command": "score",
            "kind": "kmeans",
            "model": a.model,
            "input": a.file,
            "n": n,
            "inertia": inertia,
            "mean_squared_distance": inertia / n as f64,
            "per_sample_out": a.per_sample_out,
        }))?;
    } else {
        println!(
            "inertia {inertia:.9e} ({:.6e} per row, {n} rows)",
            inertia / n as f64
        );
    }
    Ok(())
}

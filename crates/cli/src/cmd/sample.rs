//! `mmclust sample MODEL --n N -o OUT`: draw rows from a fitted Gaussian mixture.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::format::NpyWriter;
use serde_json::json;

use crate::Global;
use crate::cmd::fit::check_outputs;
use crate::cmd::gmm::load_gmm;
use crate::fail::usage;
use crate::input::{emit_summary, read_text};
use crate::progress::RowProgress;

/// Draws rows from a Gaussian mixture written by `mmclust gmm --model-out`,
/// streamed to a .npy float32 n × d file in the data's original units (the
/// model's standardisation is undone). Rows come in blocks of 4096, each from
/// its own random stream of --seed: the file is the same bit for bit whatever
/// the thread count. Each row's component is drawn independently (rows are
/// not grouped by component as scikit-learn's `sample` returns them).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust sample faithful_gmm.json --n 1000 -o draws.npy --seed 3
  mmclust sample model.json --n 10000000 -o big.npy --labels-out components.npy")]
pub(crate) struct Args {
    /// Model written by `mmclust gmm --model-out`.
    model: PathBuf,
    /// Number of rows to draw.
    #[arg(long)]
    n: usize,
    /// Output .npy (float32, n × d).
    #[arg(short, long, value_name = "PATH.npy")]
    out: PathBuf,
    /// Also write each row's component (.npy int32).
    #[arg(long, value_name = "PATH.npy")]
    labels_out: Option<PathBuf>,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    if a.n == 0 {
        return Err(usage("--n must be at least 1"));
    }
    check_outputs(&[Some(&a.out), a.labels_out.as_ref()])?;
    let started = Instant::now();
    let text = read_text(&a.model, "a model written by `mmclust gmm --model-out`")?;
    let kind = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string));
    if kind.as_deref() == Some("kmeans") {
        return Err(usage(format!(
            "{}: a K-means model has no distribution to sample from; fit one with `mmclust gmm --model-out`",
            a.model.display()
        )));
    }
    let model = load_gmm(&a.model, &text)?;
    let inputs: Vec<&Path> = vec![a.model.as_path()];
    let mut out = NpyWriter::<f32>::create(&a.out, Some(model.d()), &inputs)?;
    let mut labels = match &a.labels_out {
        Some(p) => Some(NpyWriter::<i32>::create(p, None, &inputs)?),
        None => None,
    };
    let bar = RowProgress::new(g, "sample", a.n as u64);
    model.sample_each(a.n, g.seed, |x, l| {
        out.write(x)?;
        if let Some(w) = labels.as_mut() {
            let l: Vec<i32> = l.iter().map(|&v| v as i32).collect();
            w.write(&l)?;
        }
        bar.tick(l.len());
        Ok(())
    })?;
    bar.finish();
    out.finish()?;
    if let Some(w) = labels {
        w.finish()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    emit_summary(
        g,
        json!({
            "command": "sample",
            "model": a.model,
            "out": a.out,
            "labels_out": a.labels_out,
            "n": a.n,
            "d": model.d(),
            "k": model.k(),
            "seed": g.seed,
            "seconds": seconds,
        }),
        format_args!(
            "wrote {} ({} × {} float32) in {seconds:.2} s",
            a.out.display(),
            a.n,
            model.d()
        ),
    )
}

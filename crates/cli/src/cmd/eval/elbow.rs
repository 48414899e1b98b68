//! `mmclust elbow FILE --k A..=B`: the K-means SSE curve and its knee.

use std::path::PathBuf;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_eval::{Elbow, SweepParams, elbow};
use serde_json::json;

use super::plot::{Series, curves};
use super::png::{plot_path, write_plot};
use super::{eval_err, parse_k_range, with_source};
use crate::Global;
use crate::input::{emit_json, fingerprint, open};
use crate::progress::StatusLine;

/// Fits K-means (k-means++ init, the best of --n-init runs) for every k of the
/// range and prints the SSE (inertia) of each, with a suggested k: the knee of
/// the curve, i.e. the point farthest below the straight line from the first
/// to the last point once both axes are scaled to [0, 1] (Kneedle, offline,
/// sensitivity 0). No knee is suggested for fewer than 3 values of k.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust elbow data/faithful.csv --k 1..=8 --standardize --plot-out elbow.svg
  mmclust elbow blobs.npy --k 2..=30 --n-init 1 --json")]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv.
    file: PathBuf,
    /// Values of k, as A..=B (inclusive).
    #[arg(long = "k", short = 'k', value_name = "A..=B")]
    k: String,
    /// K-means++ runs per k; the lowest SSE is kept.
    #[arg(long, default_value_t = 3, value_name = "N")]
    n_init: usize,
    /// Z-score the columns first (applied on the fly).
    #[arg(long)]
    standardize: bool,
    /// Write the curve with its knee as SVG or PNG (by the extension).
    #[arg(long, value_name = "FILE.svg|.png", value_parser = plot_path)]
    plot_out: Option<PathBuf>,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let ks = parse_k_range(&a.k)?;
    if a.n_init == 0 {
        return Err(crate::fail::usage("--n-init must be at least 1"));
    }
    let m = open(&a.file)?;
    let fp = fingerprint(&a.file, &m);
    let (n, d) = (m.n_rows(), m.n_cols());
    let params = SweepParams {
        n_init: a.n_init,
        seed: g.seed,
        standardize: false,
    };
    let status = StatusLine::new(g);
    let e = with_source(&m, a.standardize, |src| {
        elbow(src, ks.clone(), &params, |k, model| {
            status.set(format!("k = {k}: SSE {:.6e}", model.inertia));
        })
        .map_err(eval_err)
    })?;
    status.finish();
    if let Some(p) = &a.plot_out {
        let svg = elbow_svg(
            &e,
            if a.standardize {
                "SSE (inertia, standardised units)"
            } else {
                "SSE (inertia)"
            },
        );
        write_plot(p, &[a.file.as_path()], &svg)?;
    }
    if g.json {
        emit_json(&json!({
            "command": "elbow",
            "n": n,
            "d": d,
            "ks": e.ks,
            "sse": e.sse,
            "n_iter": e.models.iter().map(|m| m.n_iter).collect::<Vec<_>>(),
            "knee": e.knee,
            "knee_rule": "kneedle (offline, S = 0): farthest point below the chord of the [0,1]-scaled curve",
            "n_init": a.n_init,
            "standardized": a.standardize,
            "seed": g.seed,
            "input": fp,
            "plot_out": a.plot_out,
        }))?;
    } else {
        println!(
            "elbow: n = {n}, d = {d}, k-means++ with {} run(s) per k",
            a.n_init
        );
        println!("{:>5}  {:>16}  {:>10}", "k", "SSE", "drop");
        for (i, (&k, &s)) in e.ks.iter().zip(&e.sse).enumerate() {
            let drop = if i == 0 {
                String::new()
            } else {
                format!(
                    "{:.1}%",
                    100.0 * (e.sse[i - 1] - s) / e.sse[i - 1].max(1e-300)
                )
            };
            let star = if Some(k) == e.knee { "  <- knee" } else { "" };
            println!("{k:>5}  {s:>16.6e}  {drop:>10}{star}");
        }
        match e.knee {
            Some(k) => println!("suggested k = {k} (knee of the SSE curve, Kneedle rule)"),
            None => println!("no knee: the curve needs at least 3 values of k and a bend"),
        }
    }
    Ok(())
}

/// The SSE curve of an elbow sweep with its knee marked; `y_label` names the
/// units.
pub(crate) fn elbow_svg(e: &Elbow, y_label: &str) -> String {
    let xs: Vec<f64> = e.ks.iter().map(|&k| k as f64).collect();
    let mark = e.knee.map(|k| {
        let i = e.ks.iter().position(|&x| x == k).unwrap_or(0);
        (k as f64, e.sse[i], format!("knee: k = {k}"))
    });
    curves(
        "Elbow: K-means SSE by k",
        "number of clusters k",
        y_label,
        &xs,
        &[Series {
            name: "SSE".into(),
            ys: e.sse.iter().map(|&v| Some(v)).collect(),
            dashed: false,
            colour: 0,
        }],
        mark,
    )
}

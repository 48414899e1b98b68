//! `mmclust generate blobs`: synthetic Gaussian blobs streamed to disk.
//!
//! Rows are generated in fixed blocks of [`BLOCK_ROWS`] rows, each from its own
//! random stream (ChaCha8 seeded with `--seed`, stream = block index + 1), so the
//! file is the same bit for bit whatever the thread count. Blocks are generated
//! in parallel a batch at a time and written in order: memory stays a few MiB
//! whatever `--n`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use mmclust_core::format::NpyWriter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde_json::json;

use crate::Global;
use crate::cmd::fit::check_outputs;
use crate::fail::usage;
use crate::input::emit_summary;
use mmclust_kernel::datasets::{self, Shape};

/// Rows per random stream. Part of the output's definition: changing it changes
/// the data a seed gives.
const BLOCK_ROWS: usize = 4096;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Generate {
    Blobs(BlobsArgs),
    Moons(ShapeArgs),
    Rings(ShapeArgs),
}

/// Two-dimensional data on which plain K-means fails. moons: two interleaved
/// half-circles of radius 1 (scikit-learn's `make_moons`), noise 0.05 by
/// default; rings: circles of radius 1 and 3 about the origin, noise 0.1.
/// Each row's label is 0 or 1 with probability ½, its angle uniform, plus
/// Gaussian noise per coordinate. Streams any size with bounded memory; the
/// file is the same bit for bit whatever the thread count.
#[derive(Debug, clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:\n  mmclust generate moons --n 1000000 -o moons.npy --labels-out moons_truth.npy\n  mmclust generate rings --n 300000 -o rings.npy --noise 0.2 --seed 3"
)]
pub(crate) struct ShapeArgs {
    /// Output .npy file (float32, n × 2).
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
    /// Number of rows.
    #[arg(long)]
    n: usize,
    /// Standard deviation of the Gaussian noise per coordinate (default 0.05 moons, 0.1 rings).
    #[arg(long, value_name = "S")]
    noise: Option<f64>,
    /// Also write each row's true shape (.npy int32 vector).
    #[arg(long, value_name = "FILE")]
    labels_out: Option<PathBuf>,
}

/// Isotropic Gaussian blobs (as scikit-learn's `make_blobs`): k centres drawn
/// uniformly in [-box, box]^d, each row from a centre chosen uniformly at random
/// plus N(0, spread²) noise per coordinate. Streams any size with bounded memory.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  mmclust generate blobs -o blobs.npy --n 1000000 --d 32 --k 100 --labels-out truth.npy\n  mmclust generate blobs -o big.npy --n 32000000 --d 32 --k 100 --spread 4"
)]
pub(crate) struct BlobsArgs {
    /// Output .npy file (float32, n × d).
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
    /// Number of rows.
    #[arg(long)]
    n: usize,
    /// Number of columns.
    #[arg(long)]
    d: usize,
    /// Number of blobs.
    #[arg(long)]
    k: usize,
    /// Standard deviation of every blob, per coordinate.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    spread: f64,
    /// Half-width of the box the centres are drawn from.
    #[arg(long, default_value_t = 10.0, value_name = "B")]
    center_box: f64,
    /// Also write each row's true blob (.npy int32 vector).
    #[arg(long, value_name = "FILE")]
    labels_out: Option<PathBuf>,
    /// Also write the true centres (.npy float32 k × d).
    #[arg(long, value_name = "FILE")]
    centers_out: Option<PathBuf>,
}

pub(crate) fn run(g: &Global, cmd: Generate) -> Result<()> {
    match cmd {
        Generate::Blobs(a) => blobs(g, a),
        Generate::Moons(a) => shape(g, Shape::Moons, a),
        Generate::Rings(a) => shape(g, Shape::Rings, a),
    }
}

fn check(a: &BlobsArgs) -> Result<()> {
    if a.n == 0 {
        return Err(usage("--n must be at least 1"));
    }
    if a.d == 0 {
        return Err(usage("--d must be at least 1"));
    }
    if a.k == 0 {
        return Err(usage("--k must be at least 1"));
    }
    if a.k > a.n {
        return Err(usage(format!(
            "--k {} is more than --n {}: every blob needs a chance to get a row",
            a.k, a.n
        )));
    }
    if !(a.spread.is_finite() && a.spread >= 0.0) {
        return Err(usage(format!(
            "--spread {} must be a finite number ≥ 0",
            a.spread
        )));
    }
    if !(a.center_box.is_finite() && a.center_box >= 0.0) {
        return Err(usage(format!(
            "--center-box {} must be a finite number ≥ 0",
            a.center_box
        )));
    }
    check_outputs(&[Some(&a.out), a.labels_out.as_ref(), a.centers_out.as_ref()])
}

fn block(
    a: &BlobsArgs,
    seed: u64,
    centers: &[f64],
    index: usize,
    with_labels: bool,
) -> (Vec<f32>, Vec<i32>) {
    let start = index * BLOCK_ROWS;
    let rows = BLOCK_ROWS.min(a.n - start);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64 + 1);
    let mut data = Vec::with_capacity(rows * a.d);
    let mut labels = Vec::with_capacity(if with_labels { rows } else { 0 });
    for _ in 0..rows {
        let label = rng.gen_range(0..a.k);
        let c = &centers[label * a.d..(label + 1) * a.d];
        for &cj in c {
            let z: f64 = rng.sample(StandardNormal);
            data.push((cj + a.spread * z) as f32);
        }
        if with_labels {
            labels.push(label as i32);
        }
    }
    (data, labels)
}

fn blobs(g: &Global, a: BlobsArgs) -> Result<()> {
    check(&a)?;
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(g.seed);
    rng.set_stream(0);
    let centers: Vec<f64> = (0..a.k * a.d)
        .map(|_| rng.gen_range(-a.center_box..=a.center_box))
        .collect();

    let mut data_out = NpyWriter::<f32>::create(&a.out, Some(a.d), &[])?;
    let mut labels_out = match &a.labels_out {
        Some(p) => Some(NpyWriter::<i32>::create(p, None, &[])?),
        None => None,
    };
    let bar = crate::progress::RowProgress::new(g, "generate", a.n as u64);
    let n_blocks = a.n.div_ceil(BLOCK_ROWS);
    let batch = 4 * rayon::current_num_threads();
    let mut first = 0;
    while first < n_blocks {
        let last = (first + batch).min(n_blocks);
        let blocks: Vec<(Vec<f32>, Vec<i32>)> = (first..last)
            .into_par_iter()
            .map(|i| block(&a, g.seed, &centers, i, labels_out.is_some()))
            .collect();
        for (data, labels) in blocks {
            data_out.write(&data)?;
            if let Some(w) = labels_out.as_mut() {
                w.write(&labels)?;
            }
            bar.tick(data.len() / a.d);
        }
        first = last;
    }
    bar.finish();
    data_out.finish()?;
    if let Some(w) = labels_out {
        w.finish()?;
    }
    if let Some(p) = &a.centers_out {
        let c32: Vec<f32> = centers.iter().map(|&v| v as f32).collect();
        mmclust_core::format::write_npy_f32(p, &c32, a.k, a.d, &[])?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes = (a.n * a.d * 4) as f64;
    emit_summary(
        g,
        json!({
            "command": "generate blobs",
            "out": a.out,
            "n": a.n, "d": a.d, "k": a.k,
            "spread": a.spread, "center_box": a.center_box, "seed": g.seed,
            "labels_out": a.labels_out, "centers_out": a.centers_out,
            "seconds": seconds,
        }),
        format_args!(
            "wrote {} ({} × {} float32, {:.1} MiB) in {:.2} s ({:.0} MiB/s)",
            a.out.display(),
            a.n,
            a.d,
            bytes / 1048576.0,
            seconds,
            bytes / 1048576.0 / seconds.max(1e-9)
        ),
    )
}

fn shape(g: &Global, shape: Shape, a: ShapeArgs) -> Result<()> {
    if a.n == 0 {
        return Err(usage("--n must be at least 1"));
    }
    let noise = a.noise.unwrap_or(shape.default_noise());
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(usage(format!(
            "--noise {noise} must be a finite number ≥ 0"
        )));
    }
    check_outputs(&[Some(&a.out), a.labels_out.as_ref()])?;
    let started = Instant::now();
    let mut data_out = NpyWriter::<f32>::create(&a.out, Some(2), &[])?;
    let mut labels_out = match &a.labels_out {
        Some(p) => Some(NpyWriter::<i32>::create(p, None, &[])?),
        None => None,
    };
    let bar = crate::progress::RowProgress::new(g, "generate", a.n as u64);
    let n_blocks = a.n.div_ceil(datasets::BLOCK_ROWS);
    let batch = 4 * rayon::current_num_threads();
    for first in (0..n_blocks).step_by(batch) {
        let last = (first + batch).min(n_blocks);
        let blocks: Vec<(Vec<f32>, Vec<i32>)> = (first..last)
            .into_par_iter()
            .map(|i| datasets::block(shape, a.n, noise, g.seed, i))
            .collect();
        for (data, labels) in blocks {
            data_out.write(&data)?;
            if let Some(w) = labels_out.as_mut() {
                w.write(&labels)?;
            }
            bar.tick(labels.len());
        }
    }
    bar.finish();
    data_out.finish()?;
    if let Some(w) = labels_out {
        w.finish()?;
    }
    let name = match shape {
        Shape::Moons => "moons",
        Shape::Rings => "rings",
    };
    emit_summary(
        g,
        json!({
            "command": format!("generate {name}"),
            "out": a.out, "n": a.n, "d": 2, "noise": noise, "seed": g.seed,
            "labels_out": a.labels_out,
            "seconds": started.elapsed().as_secs_f64(),
        }),
        format_args!(
            "wrote {} ({} × 2 float32, {name}, noise {noise})",
            a.out.display(),
            a.n
        ),
    )
}

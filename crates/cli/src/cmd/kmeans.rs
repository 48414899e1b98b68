//! `mmclust kmeans FILE -k K`: fit K-means; `predict` and `score` use the model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{NpyWriter, read_npy_vector_f32, write_npy_f32};
use mmclust_core::parallel::{Chunking, PassOptions, owned_rows};
use mmclust_core::source::RowRange;
use mmclust_kmeans::{
    Algorithm as KMeansAlgorithm, FitEvent, FitHooks, Init, KMeansError, KMeansModel, KMeansParams,
    LloydCheckpoints, LloydState, Metric as KMeansMetric, MiniBatchOptions, MiniBatchState,
    Sampling,
};
use serde_json::json;

use crate::Global;
use crate::cmd::checkpoint;
use crate::cmd::fit::{FitInput, FitReport, converged_word, short_row, write_model};
use crate::dist::SharedNpy;
use crate::fail::usage;
use crate::input::{emit_json, keep_rows, read_init_matrix};
use crate::progress::{RowProgress, StatusLine, with_progress};

/// Fits K-means (Lloyd) to a matrix file: one streaming pass of column
/// statistics (NaN/inf check, tolerance scale, optional standardisation), the
/// initialisation, then Lloyd iterations over the memory-mapped data until no
/// label changes, the centre shift falls under the tolerance, or --max-iter.
///
/// --init auto picks k-means++ for data up to 1 GiB (n·d·4 bytes) or k ≤ 8, and
/// k-means-parallel (k-means‖: 5 passes sampling 2k candidates each) above,
/// where the k passes of k-means++ would cost more.
#[derive(Debug, clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  mmclust kmeans data/faithful.csv -k 2 --standardize --model-out faithful.json
  mmclust kmeans blobs.npy -k 100 --init k-means-parallel --labels-out labels.npy --json
  mmclust kmeans blobs.npy -k 100 --init c0.npy --max-iter 20 --tol 0
  mmclust kmeans moons.npy -k 2 --kernel rbf --landmarks 300 --model-out kk.json"
)]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv; with --shards, a pattern.
    file: PathBuf,
    /// FILE is a pattern ('part-*.npy', quoted) of shards read as one matrix,
    /// in name order; they must agree in columns and dtype.
    #[arg(long)]
    shards: bool,
    /// With --shards under MPI: each rank reads only the files the pattern
    /// matches on its own filesystem (node-local disks); the matrix is rank
    /// 0's files, then rank 1's, ... in name order. Results are reproducible
    /// bit for bit for one file-to-rank layout (docs/distributed.md).
    #[arg(long, requires = "shards")]
    node_local: bool,
    /// Number of clusters.
    #[arg(short = 'k', long = "k", value_name = "K")]
    k: usize,
    /// Algorithm. lloyd: full passes, every distance. hamerly, yinyang: Lloyd's
    /// answer (the exact nearest centre every pass; Lloyd's f32 arithmetic may
    /// break a near tie the other way, and a long run can then end in a
    /// neighbouring minimum) with triangle-inequality bounds that skip most
    /// distances; Hamerly keeps one
    /// bound per point (4 bytes), Yinyang one per group of at most 16 centres
    /// (4·⌈k/16⌉ bytes); both spill to --scratch-dir when large, and both run
    /// Lloyd's passes until one changes at most 0.5 % of the labels, then
    /// start the bounds. auto: lloyd when k < 32, d < 8 or k·d < 1024; else yinyang when its bounds take at most half a row's
    /// bytes (2·⌈k/16⌉ ≤ d) and the data at most 8 GiB (n·d·4), hamerly otherwise (times to convergence per
    /// shape: `scripts/bench_peers.sh --accel`, results in
    /// docs/benchmarks.md). minibatch: random batches, for data too
    /// large or too slow for full passes (not exact).
    #[arg(long, value_enum, default_value_t = Algorithm::Auto)]
    algorithm: Algorithm,
    /// Initialisation: auto, k-means++, k-means-parallel, random, or a .npy of k × d centres.
    #[arg(long, default_value = "auto", value_name = "INIT")]
    init: String,
    /// Runs from different initialisations, the lowest inertia kept
    /// (default: 10 for random and with --kernel, 1 otherwise; given centres run once).
    #[arg(long, value_name = "N")]
    n_init: Option<usize>,
    /// Maximum Lloyd iterations per run (minibatch: epochs, n rows' worth of batches).
    #[arg(long, default_value_t = 300, value_name = "N")]
    max_iter: usize,
    /// Stop when the total squared centre shift ≤ tol × mean column variance
    /// (0: run until no label changes or --max-iter). Default 1e-4 for lloyd,
    /// 0 for minibatch (scikit-learn's defaults; minibatch then stops on
    /// --max-no-improvement).
    #[arg(long, value_name = "T")]
    tol: Option<f64>,
    /// Per-row sample weights (.npy float vector of n values, ≥ 0).
    #[arg(long, value_name = "PATH.npy")]
    weights: Option<PathBuf>,
    /// Z-score the columns before clustering (applied on the fly; stored in the model).
    #[arg(long)]
    standardize: bool,
    /// euclidean, or cosine: spherical K-means (rows L2-normalised on the fly,
    /// a row of zeros is an error; each centre the normalised sum of its rows;
    /// inertia, score and history are Σ(1 − cos), half the squared distance of
    /// the unit vectors). Not with --standardize.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// With --standardize, write --centers-out in standardised units (default: original units).
    #[arg(long, requires = "standardize")]
    standardized_centers: bool,
    /// k-means-parallel sampling rounds.
    #[arg(long, default_value_t = 5, value_name = "N")]
    init_rounds: usize,
    /// Rows per centre of --init sample (k-means++ and Lloyd on a uniform
    /// sample of N·k rows, at most 256 MiB of them, read by random access).
    #[arg(long, default_value_t = mmclust_kmeans::DEFAULT_SAMPLE_ROWS_PER_CENTRE, value_name = "N")]
    init_sample_rows: usize,
    /// Minibatch: rows per batch (rounded up to whole blocks). Fixed rather
    /// than derived from the core count, so results do not depend on it; a batch
    /// is assigned in 256-row chunks, enough for 32 cores.
    #[arg(long, default_value_t = 8192, value_name = "B")]
    batch_size: usize,
    /// Minibatch: rows per contiguous block drawn from the file (pages are read
    /// in runs); 0 draws single random rows, as scikit-learn does.
    #[arg(long, default_value_t = 256, value_name = "R")]
    block_rows: usize,
    /// Minibatch: stop after this many steps without improvement of the smoothed
    /// batch inertia (0: never).
    #[arg(long, default_value_t = 10, value_name = "N")]
    max_no_improvement: usize,
    /// Minibatch: re-seed centres whose weight is below this fraction of the largest.
    #[arg(long, default_value_t = 0.01, value_name = "R")]
    reassignment_ratio: f64,
    /// Minibatch: full Lloyd iterations from the mini-batch centres at the end
    /// (each one pass over all the data, bringing the inertia closer to a full
    /// Lloyd fit's; `scripts/bench_peers.sh` compares them).
    #[arg(long, default_value_t = 0, value_name = "N")]
    refine: usize,
    /// Minibatch: rows sampled for the initialisation (default 3 × batch size).
    #[arg(long, value_name = "N")]
    init_size: Option<usize>,
    /// Write the run's state here (atomically) every --checkpoint-every
    /// steps (mini-batch) or iterations (lloyd, hamerly, yinyang, with
    /// --n-init 1), or --checkpoint-seconds, and on Ctrl-C/SIGTERM;
    /// mini-batch also at the end.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Steps (mini-batch) or iterations between checkpoints.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    checkpoint_every: u64,
    /// Seconds between checkpoints.
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    checkpoint_seconds: f64,
    /// Continue from a checkpoint (same data, k, seed, algorithm and
    /// options); the result is bit for bit that of an uninterrupted run.
    #[arg(long, value_name = "PATH")]
    resume: Option<PathBuf>,
    /// Folder for per-row scratch files when labels or bounds do not fit in
    /// memory; their space is reserved up front (default: the folder of the
    /// first output, else the input's, else the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    /// Write the model (JSON).
    #[arg(long, value_name = "PATH.json")]
    model_out: Option<PathBuf>,
    /// Write the centres (.npy float32 k × d).
    #[arg(long, value_name = "PATH.npy")]
    centers_out: Option<PathBuf>,
    /// Write each row's cluster (.npy int32; one more streaming pass).
    #[arg(long, value_name = "PATH.npy")]
    labels_out: Option<PathBuf>,
    #[command(flatten)]
    kernel: super::kernel::KernelArgs,
}

/// `--metric` of `kmeans` and `silhouette`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Metric {
    Euclidean,
    Cosine,
}

/// The library's metric for `--metric`.
pub(crate) fn kmeans_metric(m: Metric) -> KMeansMetric {
    match m {
        Metric::Euclidean => KMeansMetric::Euclidean,
        Metric::Cosine => KMeansMetric::Cosine,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Algorithm {
    Auto,
    Lloyd,
    Hamerly,
    Yinyang,
    Minibatch,
}

/// The fraction of Lloyd's point–centre distances the bounds skipped.
fn skipped_fraction(model: &KMeansModel) -> f64 {
    if model.distance_evals_lloyd == 0 {
        0.0
    } else {
        1.0 - model.distance_evals as f64 / model.distance_evals_lloyd as f64
    }
}

fn parse_init(spec: &str, k: usize, d: usize, rounds: usize, per_centre: usize) -> Result<Init> {
    Ok(match spec {
        "auto" => Init::Auto,
        "k-means++" | "kmeans++" => Init::KMeansPlusPlus,
        "k-means-parallel" | "k-means||" | "kmeans-parallel" => Init::KMeansParallel {
            rounds,
            oversampling: 2.0,
        },
        "random" => Init::Random,
        "sample" | "k-means-sample" => {
            if per_centre == 0 {
                return Err(usage("--init-sample-rows must be at least 1"));
            }
            Init::Sample {
                rows_per_centre: per_centre,
            }
        }
        path if path.ends_with(".npy") => Init::Given(read_init_matrix(path, k, d, "centres")?),
        other => {
            return Err(usage(format!(
                "--init '{other}' is not one of auto, k-means++, k-means-parallel, sample, random, or a path ending in .npy"
            )));
        }
    })
}

/// What `--node-local` cannot do (each rank reads only its own rows, and
/// only rank 0's files are written): refused before any file is opened, with
/// what to use instead.
fn refuse_node_local(a: &Args) -> Result<()> {
    if !a.node_local {
        return Ok(());
    }
    let refused = [
        (
            "--algorithm minibatch",
            a.algorithm == Algorithm::Minibatch,
            "its batches sample rows anywhere; use --algorithm lloyd, hamerly or yinyang",
        ),
        (
            "--kernel",
            a.kernel.any(),
            "kernel K-means needs every row against the landmarks of all ranks; use it on shared shards (--shards without --node-local)",
        ),
        (
            "--weights",
            a.weights.is_some(),
            "per-row weights are one file for the whole matrix; use shared shards",
        ),
        (
            "--labels-out",
            a.labels_out.is_some(),
            "rank 0 cannot write the other ranks' rows; write --model-out and run `mmclust predict MODEL FILE -o LABELS.npy` on each node for its own files",
        ),
        (
            "--checkpoint",
            a.checkpoint.is_some(),
            "rank 0 writes it where the other ranks may not read it; use shared shards",
        ),
        (
            "--resume",
            a.resume.is_some(),
            "rank 0 writes checkpoints where the other ranks may not read them; use shared shards",
        ),
    ];
    match refused.iter().find(|r| r.1) {
        Some((flag, _, instead)) => Err(usage(format!(
            "{flag} does not work with --node-local: {instead}"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let started = Instant::now();
    refuse_node_local(&a)?;
    let mut input = FitInput::open(
        &a.file,
        a.shards,
        a.node_local,
        &[
            a.model_out.as_ref(),
            a.centers_out.as_ref(),
            a.labels_out.as_ref(),
            a.checkpoint.as_ref(),
        ],
    )?;
    let setup = Setup::new(g, &a, &mut input)?;
    if a.kernel.any() {
        let out = super::kernel::Outputs {
            model_out: a.model_out.as_ref(),
            labels_out: a.labels_out.as_ref(),
            centers_out: a.centers_out.as_ref(),
        };
        let unsupported = [
            ("--metric cosine", a.metric == Metric::Cosine),
            ("--standardize", a.standardize),
            ("--weights", a.weights.is_some()),
            ("--checkpoint", a.checkpoint.is_some()),
            ("--resume", a.resume.is_some()),
        ];
        return super::kernel::kmeans(
            g,
            &a.kernel,
            &input,
            &setup.params,
            out,
            &unsupported,
            started,
        );
    }
    let mut model = fit(g, &a, &input, &setup)?;
    warn_about(g, &a, &model);
    write_outputs(g, &a, &input, &setup, &mut model)?;
    if !crate::dist::is_root() {
        // Rank 0 writes the model and prints the summary.
        return Ok(());
    }
    print_summary(g, &a, started, &input, &model)
}

/// The run's parameters, built from the arguments.
struct Setup {
    params: KMeansParams,
    weights: Option<Vec<f32>>,
    /// What a checkpoint records of the run, to refuse resuming another one.
    checkpoint_params: serde_json::Value,
}

impl Setup {
    fn new(g: &Global, a: &Args, input: &mut FitInput) -> Result<Self> {
        let d = input.source().n_cols();
        let init = parse_init(&a.init, a.k, d, a.init_rounds, a.init_sample_rows)?;
        if let Some(w) = &a.weights {
            input.read_also(w);
        }
        if a.init.ends_with(".npy") {
            input.read_also(Path::new(&a.init));
        }
        let weights = match &a.weights {
            Some(p) => Some(keep_rows(read_npy_vector_f32(p)?, &input.data.dropped)),
            None => None,
        };
        let minibatch = a.algorithm == Algorithm::Minibatch;
        let tol = a.tol.unwrap_or(if minibatch { 0.0 } else { 1e-4 });
        let mut params = KMeansParams::new(a.k)
            .init(init)
            .max_iter(a.max_iter)
            .tol(tol)
            .seed(g.seed)
            .standardize(a.standardize)
            .metric(kmeans_metric(a.metric));
        params.n_init = a.n_init;
        params.scratch = crate::scratch::config(
            g,
            a.scratch_dir.as_deref(),
            &[
                a.labels_out.as_deref(),
                a.model_out.as_deref(),
                a.centers_out.as_deref(),
            ],
            &a.file,
        );
        params = params.algorithm(match a.algorithm {
            Algorithm::Auto => KMeansAlgorithm::Auto,
            Algorithm::Lloyd => KMeansAlgorithm::Lloyd,
            Algorithm::Hamerly => KMeansAlgorithm::Hamerly,
            Algorithm::Yinyang => KMeansAlgorithm::Yinyang,
            // Replaced by the mini-batch options below.
            Algorithm::Minibatch => KMeansAlgorithm::Lloyd,
        });
        let checkpoint_params = json!({
            "k": a.k, "seed": g.seed, "init": a.init, "max_iter": a.max_iter, "tol": tol,
            "batch_size": a.batch_size, "block_rows": a.block_rows,
            "max_no_improvement": a.max_no_improvement, "reassignment_ratio": a.reassignment_ratio,
            "init_size": a.init_size, "standardize": a.standardize, "refine": a.refine,
            "weights": a.weights.as_ref().map(|p| p.display().to_string()),
        });
        let mut checkpoint_params = checkpoint_params;
        if a.metric == Metric::Cosine {
            // Only when cosine: Euclidean checkpoints stay as before.
            checkpoint_params["metric"] = json!("cosine");
        }
        if minibatch {
            let resume = match &a.resume {
                Some(p) => Some(checkpoint::load(
                    checkpoint::MINIBATCH,
                    p,
                    &input.fingerprint,
                    &checkpoint_params,
                    |s: &MiniBatchState| s.validate().map_err(|e| e.to_string()),
                )?),
                None => None,
            };
            params = params.algorithm(KMeansAlgorithm::MiniBatch(Box::new(minibatch_options(
                a, resume,
            ))));
            crate::signals::install();
        } else if a.checkpoint.is_some() || a.resume.is_some() {
            if params.runs() > 1 {
                return Err(usage(format!(
                    "--checkpoint and --resume follow one run; this fit makes {} (--init random \
                     defaults to 10): add --n-init 1",
                    params.runs()
                )));
            }
            checkpoint_params["algorithm"] = json!(format!("{:?}", a.algorithm).to_lowercase());
            params.checkpoints = LloydCheckpoints {
                every: if a.checkpoint.is_some() {
                    a.checkpoint_every
                } else {
                    0
                },
                seconds: if a.checkpoint.is_some() {
                    a.checkpoint_seconds
                } else {
                    0.0
                },
                resume: match &a.resume {
                    Some(p) => Some(Box::new(checkpoint::load(
                        checkpoint::LLOYD,
                        p,
                        &input.fingerprint,
                        &checkpoint_params,
                        |s: &LloydState| s.validate().map_err(|e| e.to_string()),
                    )?)),
                    None => None,
                },
            };
            if a.checkpoint.is_some() {
                crate::signals::install();
            }
        }
        // The checkpoint is written during the run: refuse one that would
        // replace an input now, not at the first checkpoint.
        if let Some(c) = &a.checkpoint {
            mmclust_core::output::check_not_input(c, &input.paths())?;
        }
        Ok(Self {
            params,
            weights,
            checkpoint_params,
        })
    }
}

fn minibatch_options(a: &Args, resume: Option<MiniBatchState>) -> MiniBatchOptions {
    let checkpoints = a.checkpoint.is_some();
    MiniBatchOptions {
        batch_size: a.batch_size,
        sampling: if a.block_rows == 0 {
            Sampling::Rows
        } else {
            Sampling::Blocks { rows: a.block_rows }
        },
        max_no_improvement: (a.max_no_improvement > 0).then_some(a.max_no_improvement),
        reassignment_ratio: a.reassignment_ratio,
        init_size: a.init_size,
        // With --labels-out the labels pass measures the exact inertia.
        final_pass: a.labels_out.is_none(),
        refine: a.refine,
        checkpoint_every: if checkpoints { a.checkpoint_every } else { 0 },
        checkpoint_seconds: if checkpoints {
            a.checkpoint_seconds
        } else {
            0.0
        },
        resume,
    }
}

/// The fit, with its progress lines, checkpoints and Ctrl-C.
fn fit(g: &Global, a: &Args, input: &FitInput, setup: &Setup) -> Result<KMeansModel> {
    let status = StatusLine::new(g);
    let bar = RowProgress::new(g, "rows read", 0);
    let started_steps = Instant::now();
    let on_event = |e: &FitEvent| {
        match e {
        FitEvent::InitDone { run, seconds } => {
            status.set(format!("run {run}: initialised in {seconds:.2} s"));
        }
        FitEvent::Iteration {
            run,
            iter,
            inertia,
            changed,
            ..
        } => status.set(format!(
            "run {run}: iteration {} inertia {inertia:.6e}, {changed} labels changed",
            iter + 1
        )),
        FitEvent::Step {
            step,
            total_steps,
            epoch,
            batch_inertia,
            ewa_inertia,
            rows,
        } => status.set(format!(
            "step {step}/{total_steps}, epoch {epoch:.2}, batch inertia {batch_inertia:.5e}, smoothed {}, {:.0} rows/s",
            ewa_inertia.map_or("-".to_string(), |v| format!("{v:.5e}")),
            *step as f64 * *rows as f64 / started_steps.elapsed().as_secs_f64().max(1e-9)
        )),
        _ => {}
    }
    };
    let tick = |r: usize| bar.tick(r);
    let data_inputs = input.paths();
    let save = |state: &MiniBatchState| -> mmclust_kmeans::Result<()> {
        // Every rank holds the same state; rank 0 writes it.
        if let Some(p) = a.checkpoint.as_ref().filter(|_| crate::dist::is_root()) {
            checkpoint::save(
                checkpoint::MINIBATCH,
                p,
                &data_inputs,
                &input.fingerprint,
                &setup.checkpoint_params,
                state,
            )
            .map_err(KMeansError::from)?;
        }
        Ok(())
    };
    let save_lloyd = |state: &LloydState| -> mmclust_kmeans::Result<()> {
        if let Some(p) = a.checkpoint.as_ref().filter(|_| crate::dist::is_root()) {
            checkpoint::save(
                checkpoint::LLOYD,
                p,
                &data_inputs,
                &input.fingerprint,
                &setup.checkpoint_params,
                state,
            )
            .map_err(KMeansError::from)?;
        }
        Ok(())
    };
    let fitted = input.with_source(|source| {
        setup.params.fit_with(
            source,
            setup.weights.as_deref(),
            FitHooks {
                on_event: Some(&on_event),
                progress: Some(&tick),
                // Under MPI, rank 0 alone acts on Ctrl-C/SIGTERM (which the
                // launcher sends to every rank): it writes the checkpoint of
                // the last step all ranks completed, then ends the job. Were
                // another rank to stop first, its abort would kill rank 0
                // before the checkpoint is written.
                stop: Some(&crate::signals::STOP).filter(|_| crate::dist::is_root()),
                on_checkpoint: Some(&save),
                on_lloyd_checkpoint: Some(&save_lloyd),
            },
        )
    });
    status.finish();
    bar.finish();
    match fitted {
        Err(KMeansError::Interrupted { step }) => {
            let unit = if a.algorithm == Algorithm::Minibatch {
                "step"
            } else {
                "iteration"
            };
            Err(checkpoint::interrupted(step, unit, a.checkpoint.as_deref()))
        }
        // The library does not know the weights' file: name it.
        Err(
            e @ KMeansError::InvalidParameter {
                name: "weights", ..
            },
        ) => {
            let path = a.weights.as_deref().unwrap_or(Path::new("--weights"));
            Err(anyhow::Error::new(e).context(path.display().to_string()))
        }
        other => Ok(other?),
    }
}

fn report<'m>(model: &'m KMeansModel) -> FitReport<'m> {
    FitReport {
        command: "kmeans",
        k: model.k,
        n_iter: model.n_iter,
        max_iter: model.max_iter,
        converged: model.converged,
        history: &model.history,
        stats_seconds: model.stats_seconds,
        init_seconds: model.init_seconds,
        iter_seconds: model.iter_seconds,
        fit_seconds: model.fit_seconds,
    }
}

fn warn_about(g: &Global, a: &Args, model: &KMeansModel) {
    if model.distinct_centers < model.k || model.distinct_init < model.k {
        g.warn(format_args!(
            "only {} distinct clusters found for k = {}: the data has fewer distinct points than k",
            model.distinct_centers.min(model.distinct_init),
            model.k
        ));
    }
    let minibatch = a.algorithm == Algorithm::Minibatch;
    report(model).warn_unconverged(g, if minibatch { "epochs" } else { "iterations" });
}

/// The weighted sum of a chunk's squared distances, in `f64`.
fn chunk_inertia(dist: &[f32], weights: Option<&[f32]>) -> f64 {
    match weights {
        Some(ws) => dist
            .iter()
            .zip(ws)
            .map(|(&d, &w)| f64::from(d) * f64::from(w))
            .sum(),
        None => dist.iter().map(|&d| f64::from(d)).sum(),
    }
}

/// Outputs: labels stream first (the longest, measuring the exact inertia
/// that mini-batch leaves to this pass), then rank 0 writes the small files.
fn write_outputs(
    g: &Global,
    a: &Args,
    input: &FitInput,
    setup: &Setup,
    model: &mut KMeansModel,
) -> Result<()> {
    let mut inputs = input.paths();
    inputs.extend(a.checkpoint.as_deref()); // outputs must not overwrite it
    let m = input.source();
    let (n, d) = (m.n_rows(), m.n_cols());
    let weights = setup.weights.as_deref();
    let dropped = &input.data.dropped;
    let inertia = if let (Some(p), Some(comm)) = (&a.labels_out, crate::dist::comm()) {
        crate::cmd::fit::refuse_dropped_distributed(dropped, "--labels-out")?;
        // Each rank labels its own rows, written at their offsets of one file;
        // the inertia is summed chunk by chunk in row order, as below.
        let rows = owned_rows(n, Chunking::for_dim(d), comm.rank(), comm.size());
        let part = RowRange::new(m, rows.clone())?;
        let mut inertias = Vec::new();
        let mut row = rows.start;
        let mut out = SharedNpy::<i32>::create(comm, p, &inputs, n, None, rows)?;
        model.predict_each(&part, PassOptions::default(), |labels, dist| {
            inertias.push(chunk_inertia(
                dist,
                weights.map(|w| &w[row..row + dist.len()]),
            ));
            row += dist.len();
            Ok(out.write(&as_i32(labels))?)
        })?;
        out.finish(comm)?;
        Some(crate::dist::ordered_sum(comm, &inertias)?)
    } else if let Some(p) = &a.labels_out {
        let mut w = NpyWriter::<i32>::create(p, None, &inputs)?.fill_dropped(dropped, -1);
        let mut row = 0;
        let mut inertia = 0.0f64;
        with_progress(g, "labels", n, |options| {
            Ok(model.predict_each(m, options, |labels, dist| {
                inertia += chunk_inertia(dist, weights.map(|w| &w[row..row + dist.len()]));
                row += dist.len();
                Ok(w.write(&as_i32(labels))?)
            })?)
        })?;
        w.finish()?;
        Some(inertia)
    } else {
        None
    };
    if let Some(inertia) = inertia.filter(|_| model.inertia.is_nan()) {
        // Mini-batch left the exact inertia to this pass.
        model.inertia = inertia;
        model.run_inertias = vec![inertia];
    }
    if !crate::dist::is_root() {
        return Ok(());
    }
    if let Some(p) = &a.centers_out {
        let c = if a.standardized_centers {
            model.centers.clone()
        } else {
            model.centers_original_units()
        };
        write_npy_f32(p, &c, model.k, d, &inputs)?;
    }
    let model_json = model.to_json(Some(input.fingerprint.clone()));
    write_model(a.model_out.as_ref(), &inputs, &model_json)
}

/// Labels as written to label files (.npy int32; k is at most `i32::MAX`).
pub(crate) fn as_i32(labels: &[u32]) -> Vec<i32> {
    labels.iter().map(|&v| v as i32).collect()
}

fn print_summary(
    g: &Global,
    a: &Args,
    started: Instant,
    input: &FitInput,
    model: &KMeansModel,
) -> Result<()> {
    let report = report(model);
    let summary = report.summary(
        g,
        started,
        input,
        json!({
            "algorithm": model.algorithm,
            "batch_size": model.batch_size,
            "epochs": model.epochs,
            "refined": model.refined,
            "init": model.init,
            "inertia": model.inertia,
            "n_init": model.run_inertias.len(),
            "best_run": model.best_run,
            "run_inertias": model.run_inertias,
            "relocated": model.relocated,
            "distinct_centers": model.distinct_centers,
            "distance_evals": model.distance_evals,
            "distance_evals_lloyd": model.distance_evals_lloyd,
            "skipped_fraction": skipped_fraction(model),
            "rechecks_per_row": model.rechecks_per_row(),
            "standardized": model.standardizer.is_some(),
            "metric": model.metric.name(),
            "model_out": a.model_out,
            "centers_out": a.centers_out,
            "labels_out": a.labels_out,
        }),
    );
    if g.json {
        return emit_json(&summary);
    }
    let (n, d) = (input.n_rows(), input.source().n_cols());
    println!(
        "k-means: k = {}, n = {n}, d = {d}, init = {}, {} run(s)",
        model.k,
        model.init,
        model.run_inertias.len()
    );
    println!(
        "inertia{} {:.9e} after {} iteration(s), {}",
        if model.metric == KMeansMetric::Cosine {
            " Σ(1 − cos)"
        } else {
            ""
        },
        model.inertia,
        model.n_iter,
        converged_word(model.converged)
    );
    report.print_timing();
    if model.k <= 20 {
        let c = model.centers_original_units();
        for (j, row) in c.chunks_exact(d).enumerate() {
            println!("centre {j}: {}", short_row(row));
        }
    }
    Ok(())
}

/// Reads a model file of either kind; only K-means is supported so far.
pub(crate) fn load_model(path: &Path) -> Result<KMeansModel> {
    let text = crate::input::read_text(path, "a model written by `mmclust kmeans --model-out`")?;
    KMeansModel::from_json(&text).map_err(|e| {
        usage(format!(
            "{}: {e}; expected a model written by `mmclust kmeans --model-out`",
            path.display()
        ))
    })
}

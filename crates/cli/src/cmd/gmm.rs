//! `mmclust gmm FILE -k K`: fit a Gaussian mixture by streaming EM.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::{DroppedRows, Matrix, NpyWriter};
use mmclust_core::parallel::{AllReduce, Chunking, PassOptions, owned_rows};
use mmclust_core::source::{Concat, RowRange};
use mmclust_gmm::{
    BayesianPrior, CovarianceType, EmCheckpoints, EmState, FitEvent, FitHooks,
    GaussianMixtureModel, GmmError, GmmParams, Init, Precision, WeightPrior,
};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::checkpoint;
use crate::cmd::fit::{FitInput, FitReport, converged_word, short_row, write_model};
use crate::dist::SharedNpy;
use crate::fail::usage;
use crate::input::{emit_json, read_init_matrix};
use crate::progress::{RowProgress, StatusLine, with_progress};

mod online;

/// Fits a Gaussian mixture (scikit-learn's GaussianMixture semantics) to a
/// matrix file: one streaming pass of column statistics (NaN/inf check,
/// optional standardisation), the initialisation, then EM iterations — each
/// ONE pass over the memory-mapped data — until the mean per-sample
/// log-likelihood changes by less than --tol, or --max-iter.
///
/// --init auto (default) is kmeans up to 8 GiB of data and kmeans-sample
/// above; kmeans runs K-means and assigns each row to its centre;
/// kmeans-sample runs K-means on 256 sampled rows per component instead;
/// k-means++ and random-from-data assign each row to the nearest of k seeds;
/// random draws random responsibilities; a .npy gives the k × d initial means.
#[derive(Debug, clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  mmclust gmm data/faithful.csv -k 2 --standardize --model-out faithful_gmm.json
  mmclust gmm blobs.npy -k 16 --covariance diag --n-init 3 --labels-out labels.npy --json
  mmclust gmm blobs.npy -k 16 --init means.npy --proba-out resp.npy
  mmclust gmm blobs.npy -k 16 --covariance diag --precision f32
  mmclust gmm blobs.npy -k 10 --bayesian --covariance full --json   # effective_components
  mmclust gmm big.npy -k 16 --covariance diag --checkpoint em.ck --model-out m.json
  mmclust gmm big.npy -k 16 --covariance diag --resume em.ck --checkpoint em.ck --model-out m.json
  mmclust gmm big.npy -k 32 --covariance diag --online --checkpoint run.ck --model-out m.json
  mmclust gmm big.npy -k 32 --covariance diag --init m0.json --online --refine 2"
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
    /// Number of components.
    #[arg(short = 'k', long = "k", value_name = "K")]
    k: usize,
    /// Covariance type: full, diag, spherical or tied.
    #[arg(long, default_value = "full", value_name = "TYPE")]
    covariance: String,
    /// Initialisation: auto (kmeans up to 8 GiB of data, kmeans-sample
    /// above), kmeans (K-means to convergence, scikit-learn's), kmeans-sample
    /// (K-means on 256 sampled rows per component, then one pass), k-means++,
    /// random, random-from-data, a .npy of k × d means, or a model .json (from
    /// --model-out, fitted without --standardize) whose weights, means and
    /// covariances start EM as they are.
    #[arg(long, default_value = "auto", value_name = "INIT")]
    init: String,
    /// Runs from different initialisations; the highest final lower bound wins.
    #[arg(long, default_value_t = 1, value_name = "N")]
    n_init: usize,
    /// Z-score the columns before fitting (applied on the fly; stored in the model).
    #[arg(long)]
    standardize: bool,
    /// Maximum EM iterations per run.
    #[arg(long, default_value_t = 100, value_name = "N")]
    max_iter: usize,
    /// Stop when the mean per-sample log-likelihood changes by less than this.
    #[arg(long, default_value_t = 1e-3, value_name = "T")]
    tol: f64,
    /// Added to every covariance diagonal.
    #[arg(long, default_value_t = 1e-6, value_name = "R")]
    reg_covar: f64,
    /// Arithmetic of the EM pass: f64 (default) or f32. f32 computes the
    /// per-row products 16 rows a vector on AVX-512, faster per
    /// iteration (scripts/bench_peers.sh --gmm, scripts/bench_gmm_f32.sh), as precise as
    /// scikit-learn on float32 data (about 1e-6 from the f64 answer); CPUs
    /// without AVX-512, means more than 16 standard deviations from the mean
    /// of the means and (full/tied) ill-conditioned covariances run in f64
    /// (`f32_iterations` in --json says how many ran in f32).
    #[arg(long, default_value = "f64", value_name = "P")]
    precision: String,
    /// Write the model (JSON).
    #[arg(long, value_name = "PATH.json")]
    model_out: Option<PathBuf>,
    /// Folder for the K-means initialisation's per-row scratch files (labels,
    /// distances) when they do not fit in memory; their space is reserved up
    /// front (default: the folder of the first output, else the input's, else
    /// the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    /// Write each row's most responsible component (.npy int32; one more pass).
    #[arg(long, value_name = "PATH.npy")]
    labels_out: Option<PathBuf>,
    /// Write each row's responsibilities (.npy float32 n × k; one more pass).
    #[arg(long, value_name = "PATH.npy")]
    proba_out: Option<PathBuf>,
    /// Initial responsibilities: an n × k .npy (row i for data row i, values
    /// ≥ 0, used as given), read block by block; replaces --init.
    #[arg(long, value_name = "PATH.npy")]
    init_resp: Option<PathBuf>,
    /// Variational Bayesian mixture (scikit-learn's BayesianGaussianMixture):
    /// priors on the weights, means and precisions; unneeded components get
    /// weights near 0, so k is an upper bound (`effective_components` in
    /// --json counts weights above 0.01). The lower bound and --tol are
    /// scikit-learn's variational bound, a total over rows.
    #[arg(long)]
    bayesian: bool,
    /// With --bayesian: dirichlet-process (default; components switch off in
    /// order) or dirichlet-distribution.
    #[arg(long, value_name = "PRIOR")]
    weight_prior: Option<String>,
    /// With --bayesian: the weight concentration prior (default 1/k; smaller
    /// favours fewer components).
    #[arg(long, value_name = "A")]
    weight_concentration: Option<f64>,
    /// With --bayesian: the precision prior of the means (default 1).
    #[arg(long, value_name = "B")]
    mean_precision: Option<f64>,
    /// With --bayesian: the degrees-of-freedom prior of the precisions
    /// (default d; must be > d − 1).
    #[arg(long, value_name = "N")]
    dof: Option<f64>,
    #[command(flatten)]
    online: online::OnlineArgs,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
}

/// The checkpoint flags of EM and online EM.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct CheckpointArgs {
    /// Write the fit's state here (atomically) every --checkpoint-every
    /// iterations (EM, counted in each run) or steps (--online), or
    /// --checkpoint-seconds, and on Ctrl-C/SIGTERM (then exit 130);
    /// --online also at the end of its steps.
    #[arg(long, value_name = "PATH")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Iterations (EM) or steps (--online) between checkpoints (default 1000).
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u64>,
    /// Seconds between checkpoints (default 60).
    #[arg(long, value_name = "S")]
    checkpoint_seconds: Option<f64>,
    /// Continue from a checkpoint of this command (same data, k, seed and
    /// options); the result is bit for bit that of an uninterrupted fit.
    #[arg(long, value_name = "PATH")]
    pub(crate) resume: Option<PathBuf>,
}

impl CheckpointArgs {
    fn check(&self) -> Result<()> {
        if self.checkpoint_every == Some(0) {
            return Err(usage("--checkpoint-every must be at least 1"));
        }
        if let Some(s) = self.checkpoint_seconds
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(usage(format!(
                "--checkpoint-seconds must be a finite number ≥ 0, not {s}"
            )));
        }
        Ok(())
    }

    /// Iterations or steps between checkpoints (0: no --checkpoint).
    pub(crate) fn every(&self) -> u64 {
        match self.checkpoint {
            Some(_) => self.checkpoint_every.unwrap_or(1000),
            None => 0,
        }
    }

    /// Seconds between checkpoints (0: no --checkpoint).
    pub(crate) fn seconds(&self) -> f64 {
        match self.checkpoint {
            Some(_) => self.checkpoint_seconds.unwrap_or(60.0),
            None => 0.0,
        }
    }

    /// The checkpoint is written during the run: refuse one that would
    /// replace an input now, not at the first checkpoint.
    pub(crate) fn check_not_input(&self, input: &FitInput) -> Result<()> {
        if let Some(c) = &self.checkpoint {
            mmclust_core::output::check_not_input(c, &input.paths())?;
        }
        Ok(())
    }
}

fn parse_init(spec: &str, k: usize, d: usize) -> Result<Init> {
    Ok(match spec {
        "auto" => Init::Auto,
        "kmeans" | "k-means" => Init::KMeans,
        "kmeans-sample" | "k-means-sample" => Init::KMeansSample,
        "k-means++" | "kmeans++" => Init::KMeansPlusPlus,
        "random" => Init::Random,
        "random-from-data" | "random_from_data" => Init::RandomFromData,
        path if path.ends_with(".npy") => {
            let means = read_init_matrix(path, k, d, "means")?;
            if means.iter().any(|v| !v.is_finite()) {
                return Err(usage(format!("--init {path}: holds a non-finite value")));
            }
            Init::Means(means)
        }
        other => {
            return Err(usage(format!(
                "--init '{other}' is not one of auto, kmeans, kmeans-sample, k-means++, random, random-from-data, or a path ending in .npy or .json"
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
            "--online",
            a.online.online,
            "its batches sample rows anywhere; use full EM (drop --online)",
        ),
        (
            "--labels-out",
            a.labels_out.is_some(),
            "rank 0 cannot write the other ranks' rows; write --model-out and run `mmclust predict MODEL FILE -o LABELS.npy` on each node for its own files",
        ),
        (
            "--proba-out",
            a.proba_out.is_some(),
            "rank 0 cannot write the other ranks' rows; write --model-out and run `mmclust predict MODEL FILE --proba -o PROBA.npy` on each node for its own files",
        ),
        (
            "--checkpoint",
            a.checkpoints.checkpoint.is_some(),
            "rank 0 writes it where the other ranks may not read it; use shared shards",
        ),
        (
            "--resume",
            a.checkpoints.resume.is_some(),
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
            a.labels_out.as_ref(),
            a.proba_out.as_ref(),
            a.checkpoints.checkpoint.as_ref(),
        ],
    )?;
    a.online.check()?;
    a.checkpoints.check()?;
    if a.online.online && a.n_init > 1 {
        return Err(usage(
            "--online makes one run (its initialisation is on a sample); drop --n-init",
        ));
    }
    let mut params = build_params(g, &a, &mut input)?;
    let model = if a.online.online {
        online::fit(g, &a.online, &a.checkpoints, &a.init, &input, &params)?
    } else {
        let checkpoint_params = checkpoint_params(&a, &params);
        params.checkpoints = em_checkpoints(&a, &input, &params, &checkpoint_params)?;
        fit(g, &a, &input, &params, &checkpoint_params)?
    };
    if a.online.online {
        online::warn_unconverged(g, &model);
    } else {
        report(&model).warn_unconverged(g, "iterations");
    }
    let inputs = input.paths();
    match crate::dist::comm() {
        Some(comm) => {
            if a.labels_out.is_some() || a.proba_out.is_some() {
                crate::cmd::fit::refuse_dropped_distributed(
                    &input.data.dropped,
                    "--labels-out and --proba-out",
                )?;
            }
            write_rows_shared(comm, &model, input.source(), &a, &inputs)?;
        }
        None => write_rows(g, &model, input.source(), &a, &inputs, &input.data.dropped)?,
    }
    if !crate::dist::is_root() {
        // Rank 0 writes the model and prints the summary.
        return Ok(());
    }
    let model_json = model.to_json(Some(input.fingerprint.clone()));
    write_model(a.model_out.as_ref(), &inputs, &model_json)?;
    print_summary(g, &a, started, &input, &model)
}

fn build_params(g: &Global, a: &Args, input: &mut FitInput) -> Result<GmmParams> {
    let covariance: CovarianceType = a
        .covariance
        .parse()
        .map_err(|e: String| usage(format!("--covariance: {e}")))?;
    let precision: Precision = a
        .precision
        .parse()
        .map_err(|e: String| usage(format!("--precision: {e}")))?;
    let init = match &a.init_resp {
        Some(path) => {
            if a.init != "auto" {
                return Err(usage("--init-resp replaces --init: give one of them"));
            }
            input.read_also(path);
            Init::Responsibilities(path.clone())
        }
        None if a.init.ends_with(".json") => {
            online::init_from_model(&a.init, a.k, input.source().n_cols(), covariance)?
        }
        None => parse_init(&a.init, a.k, input.source().n_cols())?,
    };
    if a.init.ends_with(".npy") || a.init.ends_with(".json") {
        input.read_also(Path::new(&a.init));
    }
    let bayesian = bayesian_prior(a)?;
    let mut params = GmmParams::new(a.k)
        .covariance(covariance)
        .init(init)
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .precision(precision)
        .seed(g.seed)
        .standardize(a.standardize);
    params.bayesian = bayesian;
    params.scratch = crate::scratch::config(
        g,
        a.scratch_dir.as_deref(),
        &[
            a.labels_out.as_deref(),
            a.proba_out.as_deref(),
            a.model_out.as_deref(),
        ],
        &a.file,
    );
    Ok(params)
}

/// The priors of --bayesian; a prior flag without --bayesian is an error.
fn bayesian_prior(a: &Args) -> Result<Option<BayesianPrior>> {
    if !a.bayesian {
        let given = [
            ("--weight-prior", a.weight_prior.is_some()),
            ("--weight-concentration", a.weight_concentration.is_some()),
            ("--mean-precision", a.mean_precision.is_some()),
            ("--dof", a.dof.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
            return Err(usage(format!(
                "{flag} is a prior of a variational Bayesian fit: add --bayesian"
            )));
        }
        return Ok(None);
    }
    let weight_prior: WeightPrior = match &a.weight_prior {
        Some(s) => s
            .parse()
            .map_err(|e: String| usage(format!("--weight-prior: {e}")))?,
        None => WeightPrior::default(),
    };
    let positive = |flag: &str, v: Option<f64>| -> Result<Option<f64>> {
        match v {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                Err(usage(format!("{flag} must be > 0 and finite, not {x}")))
            }
            _ => Ok(v),
        }
    };
    Ok(Some(BayesianPrior {
        weight_prior,
        weight_concentration: positive("--weight-concentration", a.weight_concentration)?,
        mean_precision: positive("--mean-precision", a.mean_precision)?,
        dof: a.dof,
        ..BayesianPrior::default()
    }))
}

/// What an EM checkpoint records of the fit, to refuse resuming another one.
fn checkpoint_params(a: &Args, params: &GmmParams) -> Value {
    json!({
        "k": params.k, "seed": params.seed, "init": a.init,
        "init_resp": a.init_resp.as_ref().map(|p| p.display().to_string()),
        "covariance": params.covariance.name(), "precision": params.precision.name(),
        "n_init": params.n_init, "max_iter": params.max_iter, "tol": params.tol,
        "reg_covar": params.reg_covar, "standardize": params.standardize,
        "bayesian": a.bayesian, "weight_prior": a.weight_prior,
        "weight_concentration": a.weight_concentration, "mean_precision": a.mean_precision,
        "dof": a.dof,
    })
}

/// The checkpoints of an EM fit: its schedule, and the state of --resume
/// (checked against this data and these options).
fn em_checkpoints(
    a: &Args,
    input: &FitInput,
    params: &GmmParams,
    checkpoint_params: &Value,
) -> Result<EmCheckpoints> {
    let saves = &a.checkpoints;
    saves.check_not_input(input)?;
    let resume = match &saves.resume {
        Some(p) => {
            let (cov, k, d) = (params.covariance, params.k, input.source().n_cols());
            let (bayesian, runs, max_iter) =
                (params.bayesian.is_some(), params.runs(), params.max_iter);
            let state: EmState = checkpoint::load(
                checkpoint::EM_GMM,
                p,
                &input.fingerprint,
                checkpoint_params,
                |s: &EmState| {
                    s.validate(cov, k, d, bayesian, runs, max_iter)
                        .map_err(|e| e.to_string())
                },
            )?;
            Some(Box::new(state))
        }
        None => None,
    };
    if saves.checkpoint.is_some() {
        crate::signals::install();
    }
    Ok(EmCheckpoints {
        every: saves.every(),
        seconds: saves.seconds(),
        resume,
    })
}

/// The fit, with its progress lines, checkpoints and Ctrl-C.
fn fit(
    g: &Global,
    a: &Args,
    input: &FitInput,
    params: &GmmParams,
    checkpoint_params: &Value,
) -> Result<GaussianMixtureModel> {
    let status = StatusLine::new(g);
    let bar = RowProgress::new(g, "pass", 0);
    let on_event = |e: &FitEvent| {
        match e {
        FitEvent::InitDone { run, seconds } => {
            status.set(format!("run {run}: initialised in {seconds:.2} s"));
        }
        FitEvent::Iteration {
            run,
            iter,
            lower_bound,
            change,
        } => status.set(if a.bayesian {
            format!(
                "run {run}: iteration {} lower bound {lower_bound:.6} (change {change:.2e})",
                iter + 1
            )
        } else {
            format!(
                "run {run}: iteration {} log-likelihood {lower_bound:.6} per row (change {change:.2e})",
                iter + 1
            )
        }),
        // With one run its error is the command's error: no second line.
        FitEvent::RunFailed { run, message } if a.n_init > 1 => {
            g.warn(format_args!("run {run} failed: {message}"));
        }
        _ => {}
    }
    };
    let tick = |r: usize| bar.tick(r);
    let data_inputs = input.paths();
    let save = |state: &EmState| -> mmclust_gmm::Result<()> {
        // Every rank holds the same state; rank 0 writes it.
        if let Some(p) = a
            .checkpoints
            .checkpoint
            .as_ref()
            .filter(|_| crate::dist::is_root())
        {
            checkpoint::save(
                checkpoint::EM_GMM,
                p,
                &data_inputs,
                &input.fingerprint,
                checkpoint_params,
                state,
            )
            .map_err(GmmError::from)?;
        }
        Ok(())
    };
    let fitted = input.with_source(|source| {
        params.fit_with(
            source,
            FitHooks {
                on_event: Some(&on_event),
                progress: Some(&tick),
                // As exact K-means: under MPI rank 0 alone acts on the
                // signal, after writing the checkpoint of the last iteration
                // all ranks completed.
                stop: Some(&crate::signals::STOP).filter(|_| crate::dist::is_root()),
                on_em_checkpoint: Some(&save),
            },
        )
    });
    status.finish();
    bar.finish();
    match fitted {
        Err(GmmError::Interrupted { step }) => Err(checkpoint::interrupted(
            step,
            "iteration",
            a.checkpoints.checkpoint.as_deref(),
        )),
        other => Ok(other?),
    }
}

fn report(model: &GaussianMixtureModel) -> FitReport<'_> {
    FitReport {
        command: "gmm",
        k: model.k(),
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

fn print_summary(
    g: &Global,
    a: &Args,
    started: Instant,
    input: &FitInput,
    model: &GaussianMixtureModel,
) -> Result<()> {
    let report = report(model);
    let summary = report.summary(
        g,
        started,
        input,
        json!({
            "covariance": model.covariance_type().name(),
            "precision": model.precision.name(),
            "f32_iterations": model.f32_iterations,
            "init": model.init,
            "log_likelihood": model.log_likelihood,
            "lower_bound": model.lower_bound,
            "n_init": model.run_lower_bounds.len(),
            "best_run": model.best_run,
            "run_lower_bounds": model.run_lower_bounds.iter().map(|v| if v.is_finite() { json!(v) } else { json!(null) }).collect::<Vec<_>>(),
            "bic": model.bic(),
            "aic": model.aic(),
            "n_parameters": model.n_parameters(),
            "weights": model.weights(),
            "bayesian": model.bayesian.as_ref().map(|p| json!({
                "weight_prior": p.prior.weight_prior.name(),
                "weight_concentration_prior": p.prior.weight_concentration,
                "mean_precision_prior": p.prior.mean_precision,
                "degrees_of_freedom_prior": p.prior.dof,
            })),
            "effective_components": model.effective_components(),
            "online": online::summary(model),
            "standardized": model.standardizer.is_some(),
            "model_out": a.model_out,
            "labels_out": a.labels_out,
            "proba_out": a.proba_out,
        }),
    );
    if g.json {
        return emit_json(&summary);
    }
    let (n, d) = (input.n_rows(), input.source().n_cols());
    println!(
        "gmm: k = {}, n = {n}, d = {d}, covariance = {}, init = {}, {} run(s)",
        a.k,
        model.covariance_type(),
        model.init,
        model.run_lower_bounds.len()
    );
    if model.bayesian.is_some() {
        println!(
            "variational lower bound {:.9} after {} iteration(s), {}; {} effective component(s) \
             (weight > 0.01) of {}; log-likelihood {:.9} per row (variational expectations)",
            model.lower_bound,
            model.n_iter,
            converged_word(model.converged),
            model.effective_components(),
            model.k(),
            model.log_likelihood,
        );
    } else {
        println!(
            "log-likelihood {:.9} per row after {} iteration(s), {}; BIC {:.6e}, AIC {:.6e}",
            model.log_likelihood,
            model.n_iter,
            converged_word(model.converged),
            model.bic(),
            model.aic()
        );
    }
    if let Some(o) = &model.online {
        println!(
            "online EM: {} step(s) of {} rows ({:.2} epochs), step decay {}, stopped: {}; {} \
             refining EM iteration(s)",
            o.steps,
            o.batch_size,
            o.epochs,
            o.step_decay,
            o.stop_reason.name(),
            o.refine
        );
    }
    report.print_timing();
    if a.k <= 20 {
        for (j, w) in model.weights().iter().enumerate() {
            let mean = short_row(&model.means()[j * d..(j + 1) * d]);
            println!("component {j}: weight {w:.4}, mean {mean}");
        }
    }
    Ok(())
}

/// Streams --labels-out and --proba-out in one pass.
fn write_rows<S: DataSource>(
    g: &Global,
    model: &GaussianMixtureModel,
    m: &S,
    a: &Args,
    inputs: &[&Path],
    dropped: &DroppedRows,
) -> Result<()> {
    if a.labels_out.is_none() && a.proba_out.is_none() {
        return Ok(());
    }
    let mut labels = match &a.labels_out {
        Some(p) => Some(NpyWriter::<i32>::create(p, None, inputs)?.fill_dropped(dropped, -1)),
        None => None,
    };
    let mut proba = match &a.proba_out {
        Some(p) => Some(
            NpyWriter::<f32>::create(p, Some(model.k()), inputs)?.fill_dropped(dropped, f32::NAN),
        ),
        None => None,
    };
    let k = model.k();
    with_progress(g, "outputs", m.n_rows(), |options| {
        Ok(model.rows_each(m, options, |resp, _| {
            if let Some(w) = labels.as_mut() {
                let l: Vec<i32> = resp.chunks_exact(k).map(|r| argmax(r) as i32).collect();
                w.write(&l)?;
            }
            if let Some(w) = proba.as_mut() {
                let r: Vec<f32> = resp.iter().map(|&v| v as f32).collect();
                w.write(&r)?;
            }
            Ok(())
        })?)
    })?;
    if let Some(w) = labels {
        w.finish()?;
    }
    if let Some(w) = proba {
        w.finish()?;
    }
    Ok(())
}

/// --labels-out and --proba-out in a distributed run: each rank computes its
/// own rows and writes them at their offsets (one pass per output).
fn write_rows_shared(
    comm: &dyn AllReduce,
    model: &GaussianMixtureModel,
    m: &Concat<Matrix>,
    a: &Args,
    inputs: &[&Path],
) -> Result<()> {
    let (n, k) = (m.n_rows(), model.k());
    let rows = owned_rows(n, Chunking::for_dim(m.n_cols()), comm.rank(), comm.size());
    let part = RowRange::new(m, rows.clone())?;
    if let Some(p) = &a.labels_out {
        let mut out = SharedNpy::<i32>::create(comm, p, inputs, n, None, rows.clone())?;
        model.rows_each(&part, PassOptions::default(), |resp, _| {
            let l: Vec<i32> = resp.chunks_exact(k).map(|r| argmax(r) as i32).collect();
            Ok(out.write(&l)?)
        })?;
        out.finish(comm)?;
    }
    if let Some(p) = &a.proba_out {
        let mut out = SharedNpy::<f32>::create(comm, p, inputs, n, Some(k), rows)?;
        model.rows_each(&part, PassOptions::default(), |resp, _| {
            let r: Vec<f32> = resp.iter().map(|&v| v as f32).collect();
            Ok(out.write(&r)?)
        })?;
        out.finish(comm)?;
    }
    Ok(())
}

/// Index of the largest value (ties: lowest), as `predict` does.
pub(crate) fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Reads a Gaussian-mixture model file.
pub(crate) fn load_gmm(path: &Path, text: &str) -> Result<GaussianMixtureModel> {
    GaussianMixtureModel::from_json(text).map_err(|e| {
        usage(format!(
            "{}: {e}; expected a model written by `mmclust gmm --model-out`",
            path.display()
        ))
    })
}

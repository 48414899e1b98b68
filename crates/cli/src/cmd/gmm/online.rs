//! `mmclust gmm --online`: online (stepwise) EM from mini-batches, with
//! checkpoints and resume; and `--init MODEL.json`, a complete initial
//! mixture (weights, means, covariances) from a model file.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::batches::Sampling;
use mmclust_gmm::{
    CovarianceType, FitEvent, FitHooks, GaussianMixtureModel, GmmError, GmmParams, Init,
    OnlineHooks, OnlineOptions, OnlineState,
};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::checkpoint;
use crate::cmd::fit::FitInput;
use crate::cmd::gmm::CheckpointArgs;
use crate::fail::usage;
use crate::progress::{RowProgress, StatusLine};

/// The flags of online EM.
#[derive(Debug, clap::Args)]
pub(crate) struct OnlineArgs {
    /// Online (stepwise) EM (Cappé and Moulines 2009): the mixture learns from
    /// random batches of rows (drawn as mini-batch K-means draws them) instead
    /// of one full pass per iteration, for data too large or too slow for
    /// full EM. The initialisation (--init) runs on one sample of
    /// --init-size rows; --standardize takes its transform from that
    /// sample; --max-iter counts epochs (n rows' worth of batches); the run
    /// stops when the smoothed batch log-likelihood has not risen by more
    /// than --tol for --max-no-improvement steps. One final pass measures the
    /// log-likelihood.
    #[arg(long)]
    pub(crate) online: bool,
    /// Online: rows per batch (default 4096, rounded up to whole blocks).
    #[arg(long, value_name = "B")]
    batch_size: Option<usize>,
    /// Online: rows per contiguous block drawn from the file (default 256);
    /// 0 draws single random rows.
    #[arg(long, value_name = "R")]
    block_rows: Option<usize>,
    /// Online: the step size of step t is (t + 2)^(−α); α in (0.5, 1]
    /// (default 0.6: large early steps forget the initialisation quickly).
    #[arg(long, value_name = "ALPHA")]
    step_decay: Option<f64>,
    /// Online: at most this many steps (default: --max-iter epochs).
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Online: stop after this many steps without a rise of the smoothed
    /// batch log-likelihood by more than --tol (default 10; 0: never).
    #[arg(long, value_name = "N")]
    max_no_improvement: Option<usize>,
    /// Online: rows sampled for the initialisation (default 3 × batch size).
    #[arg(long, value_name = "N")]
    init_size: Option<usize>,
    /// Online: full EM iterations from the online mixture at the end
    /// (default 0; each one pass over the data).
    #[arg(long, value_name = "N")]
    refine: Option<usize>,
}

impl OnlineArgs {
    /// A flag of online EM without --online is an error naming it.
    pub(crate) fn check(&self) -> Result<()> {
        if self.online {
            if let Some(a) = self.step_decay
                && !(a > 0.5 && a <= 1.0)
            {
                return Err(usage(format!(
                    "--step-decay {a} is outside (0.5, 1]: stepwise EM converges for step \
                     sizes (t + 2)^(−α) with 0.5 < α ≤ 1"
                )));
            }
            for (flag, v) in [
                ("--batch-size", self.batch_size.map(|v| v as u64)),
                ("--max-steps", self.max_steps),
                ("--init-size", self.init_size.map(|v| v as u64)),
            ] {
                if v == Some(0) {
                    return Err(usage(format!("{flag} must be at least 1")));
                }
            }
            return Ok(());
        }
        let given = [
            ("--batch-size", self.batch_size.is_some()),
            ("--block-rows", self.block_rows.is_some()),
            ("--step-decay", self.step_decay.is_some()),
            ("--max-steps", self.max_steps.is_some()),
            ("--max-no-improvement", self.max_no_improvement.is_some()),
            ("--init-size", self.init_size.is_some()),
            ("--refine", self.refine.is_some()),
        ];
        match given.iter().find(|(_, on)| *on) {
            Some((flag, _)) => Err(usage(format!("{flag} needs --online"))),
            None => Ok(()),
        }
    }

    fn options(&self, saves: &CheckpointArgs, resume: Option<OnlineState>) -> OnlineOptions {
        let d = OnlineOptions::default();
        OnlineOptions {
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            sampling: match self.block_rows {
                Some(0) => Sampling::Rows,
                Some(rows) => Sampling::Blocks { rows },
                None => d.sampling,
            },
            step_decay: self.step_decay.unwrap_or(d.step_decay),
            max_steps: self.max_steps,
            max_no_improvement: match self.max_no_improvement {
                Some(0) => None,
                Some(v) => Some(v),
                None => d.max_no_improvement,
            },
            init_size: self.init_size,
            refine: self.refine.unwrap_or(0),
            checkpoint_every: saves.every(),
            checkpoint_seconds: saves.seconds(),
            resume,
        }
    }

    /// What a checkpoint records of the run, to refuse resuming another one.
    fn checkpoint_params(&self, params: &GmmParams, init: &str) -> Value {
        let o = self.options(&CheckpointArgs::default(), None);
        json!({
            "k": params.k, "seed": params.seed, "init": init,
            "covariance": params.covariance.name(), "precision": params.precision.name(),
            "max_iter": params.max_iter, "max_steps": o.max_steps, "tol": params.tol,
            "reg_covar": params.reg_covar, "standardize": params.standardize,
            "batch_size": o.batch_size, "block_rows": self.block_rows.unwrap_or(256),
            "step_decay": o.step_decay, "max_no_improvement": o.max_no_improvement,
            "init_size": o.init_size, "refine": o.refine,
        })
    }
}

/// `--init MODEL.json`: the weights, means and covariances of a GMM model
/// file (fitted without --standardize, of this covariance type, k and d).
pub(crate) fn init_from_model(
    path: &str,
    k: usize,
    d: usize,
    covariance: CovarianceType,
) -> Result<Init> {
    let p = Path::new(path);
    let text = crate::input::read_text(p, "a model written by `mmclust gmm --model-out`")?;
    let model = super::load_gmm(p, &text)?;
    let bad = |m: String| usage(format!("--init {path}: {m}"));
    if model.bayesian.is_some() {
        return Err(bad(
            "a variational Bayesian model; give a model fitted by EM".into(),
        ));
    }
    if model.standardizer.is_some() {
        return Err(bad(
            "the model was fitted with --standardize (its parameters are in standardised \
             units); give a model fitted on the data as it is"
                .into(),
        ));
    }
    if model.k() != k || model.d() != d || model.covariance_type() != covariance {
        return Err(bad(format!(
            "the model has k = {}, d = {}, {} covariances; this fit has k = {k}, d = {d}, \
             --covariance {covariance}",
            model.k(),
            model.d(),
            model.covariance_type()
        )));
    }
    Ok(Init::Parameters {
        weights: model.weights().to_vec(),
        means: model.means().to_vec(),
        covariances: model.covariances().to_vec(),
    })
}

/// The online fit, with its progress lines, checkpoints and Ctrl-C.
pub(crate) fn fit(
    g: &Global,
    a: &OnlineArgs,
    saves: &CheckpointArgs,
    init: &str,
    input: &FitInput,
    params: &GmmParams,
) -> Result<GaussianMixtureModel> {
    let checkpoint_params = a.checkpoint_params(params, init);
    let resume = match &saves.resume {
        Some(p) => {
            let (cov, k, d) = (params.covariance, params.k, input.source().n_cols());
            Some(checkpoint::load(
                checkpoint::ONLINE_GMM,
                p,
                &input.fingerprint,
                &checkpoint_params,
                |s: &OnlineState| s.validate(cov, k, d).map_err(|e| e.to_string()),
            )?)
        }
        None => None,
    };
    // The checkpoint is written during the run: refuse one that would
    // replace an input now, not at the first checkpoint.
    saves.check_not_input(input)?;
    crate::signals::install();
    let opts = a.options(saves, resume);
    let status = StatusLine::new(g);
    let bar = RowProgress::new(g, "rows read", 0);
    let started_steps = Instant::now();
    let on_event = |e: &FitEvent| match e {
        FitEvent::InitDone { seconds, .. } => {
            status.set(format!("initialised in {seconds:.2} s"));
        }
        FitEvent::Step {
            step,
            total_steps,
            epoch,
            batch_log_likelihood,
            smoothed,
            rows,
            ..
        } => status.set(format!(
            "step {step}/{total_steps}, epoch {epoch:.2}, batch log-likelihood \
             {batch_log_likelihood:.6}, smoothed {}, {:.0} rows/s",
            smoothed.map_or("-".to_string(), |v| format!("{v:.6}")),
            *step as f64 * *rows as f64 / started_steps.elapsed().as_secs_f64().max(1e-9)
        )),
        FitEvent::Iteration {
            iter, lower_bound, ..
        } => status.set(format!(
            "refine: iteration {} log-likelihood {lower_bound:.6} per row",
            iter + 1
        )),
        _ => {}
    };
    let tick = |r: usize| bar.tick(r);
    let data_inputs = input.paths();
    let save = |state: &OnlineState| -> mmclust_gmm::Result<()> {
        // Every rank holds the same state; rank 0 writes it.
        if let Some(p) = saves.checkpoint.as_ref().filter(|_| crate::dist::is_root()) {
            checkpoint::save(
                checkpoint::ONLINE_GMM,
                p,
                &data_inputs,
                &input.fingerprint,
                &checkpoint_params,
                state,
            )
            .map_err(GmmError::from)?;
        }
        Ok(())
    };
    let fitted = input.with_source(|source| {
        params.fit_online(
            source,
            &opts,
            OnlineHooks {
                fit: FitHooks {
                    on_event: Some(&on_event),
                    progress: Some(&tick),
                    // As mini-batch K-means: under MPI rank 0 alone acts on
                    // the signal, after writing the checkpoint of the last
                    // step.
                    stop: Some(&crate::signals::STOP).filter(|_| crate::dist::is_root()),
                    on_em_checkpoint: None,
                },
                on_checkpoint: Some(&save),
            },
        )
    });
    status.finish();
    bar.finish();
    match fitted {
        Err(GmmError::Interrupted { step }) => Err(checkpoint::interrupted(
            step,
            "step",
            saves.checkpoint.as_deref(),
        )),
        other => Ok(other?),
    }
}

/// Warns when the online steps ended at their limit, not by the smoothed
/// log-likelihood settling.
pub(crate) fn warn_unconverged(g: &Global, model: &GaussianMixtureModel) {
    if let Some(o) = model.online.as_ref().filter(|_| !model.converged) {
        g.warn(format_args!(
            "online EM stopped at its step limit ({} steps, {:.2} epochs) before the smoothed \
             log-likelihood settled; raise --max-iter (epochs) or --max-steps, or --tol",
            o.steps, o.epochs
        ));
    }
}

/// The `"online"` object of the --json summary (null for EM).
pub(crate) fn summary(model: &GaussianMixtureModel) -> Value {
    match &model.online {
        Some(o) => json!({
            "steps": o.steps,
            "batch_size": o.batch_size,
            "step_decay": o.step_decay,
            "refine": o.refine,
            "stop_reason": o.stop_reason.name(),
            "epochs": o.epochs,
            "smoothed_log_likelihood": model.history.last(),
        }),
        None => Value::Null,
    }
}

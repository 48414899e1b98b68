//! `mmclust gmm-select FILE --k A..=B [--covariance LIST]`: BIC/AIC sweep;
//! with `--bayesian`, one variational Bayesian fit per covariance type at
//! the largest k, reporting its effective components.

use std::path::PathBuf;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_eval::{GmmSweepParams, best_by_bic, gmm_sweep};
use mmclust_gmm::{BayesianPrior, CovarianceType, EFFECTIVE_WEIGHT, GmmParams};
use serde_json::json;

use super::plot::{Series, curves};
use super::png::{plot_path, write_plot};
use super::{eval_err, parse_k_range, with_source};
use crate::Global;
use crate::fail::usage;
use crate::input::{emit_json, fingerprint, open};
use crate::progress::StatusLine;

/// Fits a Gaussian mixture for every k of the range and every covariance
/// type of the list, and prints BIC and AIC for each (lower is better); the
/// choice is the lowest BIC. A fit whose component collapses is reported and
/// skipped.
///
/// With --bayesian: one variational Bayesian fit (scikit-learn's
/// BayesianGaussianMixture, Dirichlet-process prior) per covariance type at
/// the largest k of the range, instead of one fit per k; it reports each
/// type's effective components (expected weight above 0.01) and lower bound,
/// and --plot-out draws the expected weights.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust gmm-select data/faithful.csv --k 1..=6 --standardize --plot-out bic.svg
  mmclust gmm-select blobs.npy --k 4..=12 --covariance full,diag --json
  mmclust gmm-select blobs.npy --k 20 --bayesian --plot-out weights.svg")]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv.
    file: PathBuf,
    /// Values of k, as A..=B (inclusive).
    #[arg(long = "k", short = 'k', value_name = "A..=B")]
    k: String,
    /// Covariance types, comma-separated: full, tied, diag, spherical.
    #[arg(long, default_value = "full,tied,diag,spherical", value_name = "LIST")]
    covariance: String,
    /// EM runs per candidate (k-means initialisation, different seeds).
    #[arg(long, default_value_t = 1, value_name = "N")]
    n_init: usize,
    /// Maximum EM iterations per run.
    #[arg(long, default_value_t = 100, value_name = "N")]
    max_iter: usize,
    /// Added to every covariance diagonal.
    #[arg(long, default_value_t = 1e-6, value_name = "R")]
    reg_covar: f64,
    /// Z-score the columns first (applied on the fly).
    #[arg(long)]
    standardize: bool,
    /// Write the BIC and AIC curves (--bayesian: the expected weights) as SVG
    /// or PNG (by the extension).
    #[arg(long, value_name = "FILE.svg|.png", value_parser = plot_path)]
    plot_out: Option<PathBuf>,
    /// One variational Bayesian fit per covariance type at the largest k.
    #[arg(long)]
    bayesian: bool,
}

pub(crate) fn parse_covariances(list: &str) -> Result<Vec<CovarianceType>> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let c: CovarianceType = part
            .parse()
            .map_err(|e: String| usage(format!("--covariance: {e}")))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(usage(
            "--covariance: give at least one of full, tied, diag, spherical",
        ));
    }
    Ok(out)
}

/// The BIC (solid) and AIC (dashed) curves of a sweep.
pub(crate) fn bic_svg(
    ks: &[usize],
    covs: &[CovarianceType],
    cands: &[mmclust_eval::GmmCandidate],
    best: Option<usize>,
) -> String {
    let xs: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let mut series = Vec::new();
    for (dashed, what) in [(false, "BIC"), (true, "AIC")] {
        for (i, &c) in covs.iter().enumerate() {
            series.push(Series {
                name: format!("{what} {}", c.name()),
                ys: ks
                    .iter()
                    .map(|&k| {
                        cands
                            .iter()
                            .find(|x| x.k == k && x.covariance == c)
                            .and_then(|x| if dashed { x.aic() } else { x.bic() })
                    })
                    .collect(),
                dashed,
                colour: i,
            });
        }
    }
    let mark = best.and_then(|b| {
        let c = &cands[b];
        c.bic().map(|v| {
            (
                c.k as f64,
                v,
                format!("lowest BIC: {} k = {}", c.covariance.name(), c.k),
            )
        })
    });
    curves(
        "Gaussian mixtures: BIC (solid) and AIC (dashed) by k",
        "number of components k",
        "criterion (lower is better)",
        &xs,
        &series,
        mark,
    )
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let ks = parse_k_range(&a.k)?;
    let covs = parse_covariances(&a.covariance)?;
    if a.n_init == 0 {
        return Err(usage("--n-init must be at least 1"));
    }
    let m = open(&a.file)?;
    let fp = fingerprint(&a.file, &m);
    if a.bayesian {
        return run_bayesian(g, &a, *ks.end(), &covs, &m, fp);
    }
    let params = GmmSweepParams {
        n_init: a.n_init,
        seed: g.seed,
        standardize: false,
        reg_covar: a.reg_covar,
        max_iter: a.max_iter,
    };
    let status = StatusLine::new(g);
    let cands = with_source(&m, a.standardize, |src| {
        gmm_sweep(src, ks.clone(), &covs, &params, |c| {
            status.set(format!(
                "{} k = {}: BIC {:?}",
                c.covariance.name(),
                c.k,
                c.bic()
            ));
        })
        .map_err(eval_err)
    })?;
    status.finish();
    let best = best_by_bic(&cands);
    let kv: Vec<usize> = ks.clone().collect();
    if let Some(p) = &a.plot_out {
        write_plot(p, &[a.file.as_path()], &bic_svg(&kv, &covs, &cands, best))?;
    }
    if g.json {
        emit_json(&json!({
            "command": "gmm-select",
            "n": m.n_rows(),
            "d": m.n_cols(),
            "candidates": candidates_json(&cands),
            "best": best.map(|b| json!({"k": cands[b].k, "covariance": cands[b].covariance.name(), "bic": cands[b].bic()})),
            "standardized": a.standardize,
            "seed": g.seed,
            "input": fp,
        }))?;
    } else {
        println!(
            "{:>10}  {:>4}  {:>16}  {:>16}",
            "covariance", "k", "BIC", "AIC"
        );
        for (i, c) in cands.iter().enumerate() {
            let star = if Some(i) == best {
                "  <- lowest BIC"
            } else {
                ""
            };
            match &c.fit {
                Ok(f) => println!(
                    "{:>10}  {:>4}  {:>16.6e}  {:>16.6e}{star}",
                    c.covariance.name(),
                    c.k,
                    f.bic(),
                    f.aic()
                ),
                Err(e) => println!("{:>10}  {:>4}  failed: {e}", c.covariance.name(), c.k),
            }
        }
        match best {
            Some(b) => println!(
                "lowest BIC: {} covariance, k = {}",
                cands[b].covariance.name(),
                cands[b].k
            ),
            None => println!("every fit failed"),
        }
    }
    Ok(())
}

/// `--bayesian`: one fit per covariance type at `k`.
fn run_bayesian(
    g: &Global,
    a: &Args,
    k: usize,
    covs: &[CovarianceType],
    m: &mmclust_core::format::Matrix,
    fp: crate::input::Fingerprint,
) -> Result<()> {
    let status = StatusLine::new(g);
    let fits = with_source(m, a.standardize, |src| {
        Ok(covs
            .iter()
            .map(|&c| {
                status.set(format!("{} k = {k}: variational Bayesian fit", c.name()));
                let p = GmmParams::new(k)
                    .covariance(c)
                    .bayesian(BayesianPrior::default())
                    .n_init(a.n_init)
                    .max_iter(a.max_iter)
                    .reg_covar(a.reg_covar)
                    .seed(g.seed);
                p.fit(src).map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>())
    })?;
    status.finish();
    if let Some(p) = &a.plot_out {
        let xs: Vec<f64> = (1..=k).map(|i| i as f64).collect();
        let series: Vec<Series> = covs
            .iter()
            .zip(&fits)
            .enumerate()
            .filter_map(|(i, (c, f))| {
                let f = f.as_ref().ok()?;
                let mut w = f.weights().to_vec();
                w.sort_by(|x, y| y.total_cmp(x));
                Some(Series {
                    name: format!("{} ({} effective)", c.name(), f.effective_components()),
                    ys: w.into_iter().map(Some).collect(),
                    dashed: false,
                    colour: i,
                })
            })
            .collect();
        let mut all = series;
        all.push(Series {
            name: format!("threshold {EFFECTIVE_WEIGHT}"),
            ys: vec![Some(EFFECTIVE_WEIGHT); k],
            dashed: true,
            colour: covs.len(),
        });
        let svg = curves(
            &format!("Variational Bayesian mixtures, k = {k}: expected weights, largest first"),
            "component (by weight)",
            "expected weight",
            &xs,
            &all,
            None,
        );
        write_plot(p, &[a.file.as_path()], &svg)?;
    }
    if g.json {
        return emit_json(&json!({
            "command": "gmm-select",
            "bayesian": true,
            "n": m.n_rows(),
            "d": m.n_cols(),
            "k": k,
            "fits": covs.iter().zip(&fits).map(|(c, f)| match f {
                Ok(f) => json!({
                    "covariance": c.name(),
                    "effective_components": f.effective_components(),
                    "lower_bound": f.lower_bound,
                    "log_likelihood": f.log_likelihood,
                    "converged": f.converged,
                    "n_iter": f.n_iter,
                    "weights": f.weights(),
                }),
                Err(e) => json!({"covariance": c.name(), "error": e}),
            }).collect::<Vec<_>>(),
            "standardized": a.standardize,
            "seed": g.seed,
            "input": fp,
        }));
    }
    println!(
        "{:>10}  {:>9}  {:>18}  {:>9}",
        "covariance", "effective", "lower bound", "converged"
    );
    for (c, f) in covs.iter().zip(&fits) {
        match f {
            Ok(f) => println!(
                "{:>10}  {:>9}  {:>18.6e}  {:>9}",
                c.name(),
                f.effective_components(),
                f.lower_bound,
                f.converged
            ),
            Err(e) => println!("{:>10}  failed: {e}", c.name()),
        }
    }
    println!(
        "effective components: expected weight above {EFFECTIVE_WEIGHT} of k = {k} (Dirichlet-process prior)"
    );
    Ok(())
}

/// The `--json` record of each fitted candidate (gmm-select's and the
/// report's `candidates`).
pub(crate) fn candidates_json(cands: &[mmclust_eval::GmmCandidate]) -> Vec<serde_json::Value> {
    cands
        .iter()
        .map(|c| {
            json!({
                "k": c.k,
                "covariance": c.covariance.name(),
                "bic": c.bic(),
                "aic": c.aic(),
                "log_likelihood": c.fit.as_ref().ok().map(|m| m.log_likelihood),
                "converged": c.fit.as_ref().ok().map(|m| m.converged),
                "error": c.fit.as_ref().err(),
            })
        })
        .collect()
}

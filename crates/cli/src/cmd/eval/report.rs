//! `mmclust report FILE`: the demo's page for any data set. One K-means
//! sweep feeds both the elbow and the silhouettes of every k; one
//! Gaussian-mixture sweep gives BIC and AIC by covariance type; a pass of
//! column statistics (the header's table, and the standardising) and, for
//! d > 2, one pass of the covariance (the principal axes of the scatter
//! plots). Everything streams: nothing holds the n × d data, only per-row
//! labels (n × 4 bytes) at a time.

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::ArraySource;
use mmclust_core::DataSource;
use mmclust_core::normalize::Normalized;
use mmclust_core::parallel::{Chunking, PassOptions};
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
use mmclust_eval::{
    ClusterScores, Elbow, GmmCandidate, GmmSweepParams, Labels, PrincipalAxes, Silhouette,
    SilhouetteParams, adjusted_rand_index, best_by_bic, check_k_range, cluster_scores, gmm_sweep,
    knee, principal_axes_about, sample_rows, silhouette,
};
use mmclust_gmm::{CovarianceType, GaussianMixtureModel};
use mmclust_kmeans::{Init, KMeansParams};
use serde_json::json;

use super::plot::{Series, curves};
use super::png::PlotFormat;
use super::{SCATTER_POINTS, column_names, eval_err, scatter_of_rows, with_raw_source};
use crate::Global;
use crate::cmd::kmeans::{Metric, kmeans_metric};
use crate::fail::usage;
use crate::input::{emit_json, open_data};
use crate::progress::StatusLine;

mod page;
use page::{html_escape, page};

/// Above this many rows the silhouettes are estimated from a sample (with
/// their standard error) unless --sample-above says otherwise.
pub(crate) const SAMPLE_ABOVE: usize = 100_000;

/// Columns shown in the header's statistics table.
pub(crate) const MAX_STAT_COLUMNS: usize = 20;

/// The choice rule, as the page, `--json` and docs/cli.md state it.
pub(crate) const CHOICE_RULE: &str = "the k named by at least two of the three criteria (knee of the elbow, best mean silhouette, lowest BIC over every covariance type); when all three differ, the best silhouette (it scores the partition itself); without silhouettes, the knee; then the lowest BIC; else the smallest k";

/// The page of the demo for any data set: column statistics, the elbow with
/// its knee, the mean silhouette by k and the silhouette plot, Gaussian
/// mixtures of every covariance type by BIC and AIC, scatter plots of K-means
/// and of the best mixture (with its ellipses) on the first two principal
/// components when d > 2, timings, and the command lines that reproduce every
/// model. Writes DIR/index.html (plots inline, and as .svg files beside it).
///
/// One K-means sweep (k-means++, the best of --n-init runs, Lloyd, as
/// `elbow` and `silhouette --k` fit) gives the SSE and, from the same models,
/// the silhouette of every k; above --sample-above rows the silhouettes score
/// --sample random rows against all rows (seeded; the page gives the
/// standard error) and the scatter plots draw 5000 random rows.
///
/// The chosen k: the k that at least two of knee, best silhouette and
/// lowest BIC name; when all three differ, the best silhouette.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust report data/faithful.csv --standardize --out faithful-report
  mmclust report blobs.npy -k 2..=10 --out blobs-report --json
  mmclust report embeddings.npy -k 2..=20 --metric cosine")]
pub(crate) struct Args {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv; with --shards, a pattern.
    file: PathBuf,
    /// FILE is a pattern ('part-*.npy', quoted) of shards read as one matrix.
    #[arg(long)]
    shards: bool,
    /// Values of k, as A..=B (inclusive), for K-means and the mixtures.
    #[arg(
        long = "k",
        short = 'k',
        default_value = "2..=10",
        value_name = "A..=B"
    )]
    k: String,
    /// Z-score the columns first (applied on the fly).
    #[arg(long)]
    standardize: bool,
    /// euclidean, or cosine: spherical K-means and cosine silhouettes (the
    /// Gaussian mixtures are then skipped). Not with --standardize.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Folder of the report (created if missing).
    #[arg(long, default_value = "report", value_name = "DIR")]
    out: PathBuf,
    /// Format of the plot files beside the page: svg, or png (rendered with
    /// the bundled font; the page holds its plots inline as SVG either way).
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg, value_name = "FORMAT")]
    format: PlotFormat,
    /// K-means++ runs per k; the lowest SSE is kept.
    #[arg(long, default_value_t = 3, value_name = "N")]
    n_init: usize,
    /// Maximum Lloyd iterations per K-means run.
    #[arg(long, default_value_t = 300, value_name = "N")]
    max_iter: usize,
    /// Covariance types of the mixtures, comma-separated, or "none".
    #[arg(long, default_value = "full,tied,diag,spherical", value_name = "LIST")]
    covariance: String,
    /// EM runs per mixture.
    #[arg(long, default_value_t = 1, value_name = "N")]
    gmm_n_init: usize,
    /// Maximum EM iterations per run.
    #[arg(long, default_value_t = 100, value_name = "N")]
    gmm_max_iter: usize,
    /// Added to every covariance diagonal.
    #[arg(long, default_value_t = 1e-6, value_name = "R")]
    reg_covar: f64,
    /// Silhouettes are exact up to this many rows, sampled above.
    #[arg(long, default_value_t = SAMPLE_ABOVE, value_name = "N")]
    sample_above: usize,
    /// Rows scored (against all rows) per silhouette when sampled.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    sample: usize,
    /// Scratch memory of an exact silhouette, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    working_memory: usize,
}

/// What a report runs: the sweeps' ranges and options.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) kmeans_ks: RangeInclusive<usize>,
    pub(crate) gmm_ks: RangeInclusive<usize>,
    pub(crate) n_init: usize,
    pub(crate) max_iter: usize,
    /// Empty: no mixtures.
    pub(crate) covariances: Vec<CovarianceType>,
    pub(crate) gmm_n_init: usize,
    pub(crate) gmm_max_iter: usize,
    pub(crate) reg_covar: f64,
    pub(crate) standardize: bool,
    pub(crate) metric: Metric,
    pub(crate) sample_above: usize,
    pub(crate) sample: usize,
    pub(crate) working_memory_mib: usize,
    /// The format of the plot files written beside the page (the page
    /// itself holds them inline as SVG).
    pub(crate) plot_format: PlotFormat,
}

/// The data a report is about, and how its page and command lines name it.
pub(crate) struct Subject<'a> {
    /// The data as read (not standardised).
    pub(crate) source: &'a dyn DataSource,
    pub(crate) names: Vec<String>,
    pub(crate) title: String,
    /// HTML: a paragraph about the data.
    pub(crate) intro: String,
    /// FILE as a command line gives it.
    pub(crate) file_arg: String,
    pub(crate) shards: bool,
    /// Appended to column names on the scatter plots' axes (" (minutes)").
    pub(crate) unit_note: String,
    /// The command that made the page, for its footer.
    pub(crate) made_by: String,
}

/// The three criteria for k and the choice.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) knee: Option<usize>,
    pub(crate) best_silhouette: Option<(usize, f64)>,
    /// (k, covariance, BIC).
    pub(crate) lowest_bic: Option<(usize, CovarianceType, f64)>,
    pub(crate) k: usize,
    /// Which criterion decided, in words.
    pub(crate) reason: String,
    pub(crate) agree: bool,
}

/// The scores of a partition of the data.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub(crate) silhouette: Option<f64>,
    pub(crate) std_error: Option<f64>,
    pub(crate) scores: Option<ClusterScores>,
    pub(crate) counts: Vec<u64>,
}

/// Everything the page shows.
pub(crate) struct Outcome {
    pub(crate) n: usize,
    pub(crate) d: usize,
    pub(crate) stats: ColumnStats,
    pub(crate) elbow: Elbow,
    /// Silhouette of each K-means fit (None: k < 2 or fewer than 2 clusters).
    pub(crate) silhouettes: Vec<Option<Silhouette>>,
    /// Rows scored per silhouette when sampled.
    pub(crate) sampled: Option<usize>,
    pub(crate) gmm_ks: Vec<usize>,
    pub(crate) candidates: Vec<GmmCandidate>,
    pub(crate) best_gmm: Option<usize>,
    pub(crate) per_type: Vec<(CovarianceType, usize, f64)>,
    pub(crate) choice: Choice,
    /// K-means at the chosen k, centres in original units.
    pub(crate) kmeans: Partition,
    pub(crate) kmeans_centres: Vec<Vec<f64>>,
    pub(crate) gmm: Option<Partition>,
    pub(crate) ari: Option<f64>,
    pub(crate) scatter_rows: usize,
    pub(crate) timings: Vec<(&'static str, f64)>,
    /// (what, command line).
    pub(crate) commands: Vec<(String, String)>,
    pub(crate) index: PathBuf,
}

impl Outcome {
    pub(crate) fn gmm_model(&self) -> Option<&GaussianMixtureModel> {
        self.best_gmm
            .and_then(|b| self.candidates[b].fit.as_ref().ok())
    }

    /// (k, mean silhouette) of every k of the K-means sweep with one.
    pub(crate) fn silhouette_by_k(&self) -> Vec<(usize, Option<f64>)> {
        self.elbow
            .ks
            .iter()
            .zip(&self.silhouettes)
            .map(|(&k, s)| (k, s.as_ref().map(|s| s.mean)))
            .collect()
    }
}

/// Picks k by [`CHOICE_RULE`].
pub(crate) fn choose_k(
    knee: Option<usize>,
    best_silhouette: Option<usize>,
    lowest_bic: Option<usize>,
    smallest: usize,
) -> (usize, &'static str) {
    let named = [knee, best_silhouette, lowest_bic];
    for (i, a) in named.iter().enumerate() {
        if let Some(a) = a
            && named[i + 1..].contains(&Some(*a))
        {
            return (*a, "named by at least two of the three criteria");
        }
    }
    if let Some(k) = best_silhouette {
        return (k, "the criteria differ; the best silhouette decides");
    }
    if let Some(k) = knee {
        return (k, "no silhouette; the knee of the elbow decides");
    }
    if let Some(k) = lowest_bic {
        return (k, "no silhouette and no knee; the lowest BIC decides");
    }
    (smallest, "no criterion named a k; the smallest k")
}

fn parse_covariance_list(list: &str) -> Result<Vec<CovarianceType>> {
    if list.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    super::gmm_select::parse_covariances(list)
}

/// `FILE` as a POSIX shell reads it back.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let ks = super::parse_k_range(&a.k)?;
    for (flag, v) in [
        ("--n-init", a.n_init),
        ("--gmm-n-init", a.gmm_n_init),
        ("--max-iter", a.max_iter),
        ("--gmm-max-iter", a.gmm_max_iter),
        ("--sample", a.sample),
        ("--working-memory", a.working_memory),
    ] {
        if v == 0 {
            return Err(usage(format!("{flag} must be at least 1")));
        }
    }
    if !(a.reg_covar >= 0.0 && a.reg_covar.is_finite()) {
        return Err(usage(format!(
            "--reg-covar {}: give a finite value ≥ 0",
            a.reg_covar
        )));
    }
    if a.standardize && a.metric == Metric::Cosine {
        return Err(usage(
            "--metric cosine normalises each row; it does not combine with --standardize",
        ));
    }
    let mut covariances = parse_covariance_list(&a.covariance)?;
    if a.metric == Metric::Cosine {
        covariances.clear();
    }
    let data = open_data(&a.file, a.shards, false)?;
    let plan = Plan {
        kmeans_ks: ks.clone(),
        gmm_ks: ks,
        n_init: a.n_init,
        max_iter: a.max_iter,
        covariances,
        gmm_n_init: a.gmm_n_init,
        gmm_max_iter: a.gmm_max_iter,
        reg_covar: a.reg_covar,
        standardize: a.standardize,
        metric: a.metric,
        sample_above: a.sample_above,
        sample: a.sample,
        working_memory_mib: a.working_memory,
        plot_format: a.format,
    };
    let d = data.source.n_cols();
    let names = column_names(&a.file, d);
    let file_arg = shell_quote(&a.file.display().to_string());
    let fp = data.fingerprint.clone();
    let o = with_raw_source(&data.source, |raw| {
        let subject = Subject {
            source: raw,
            names,
            title: format!("mmclust report: {}", a.file.display()),
            intro: format!(
                "<p><code>{}</code>: {} rows × {} columns ({}, {} bytes{}).</p>",
                html_escape(&a.file.display().to_string()),
                fp.rows,
                fp.cols,
                html_escape(&fp.dtype),
                fp.bytes,
                if a.shards {
                    format!(", {} shards", data.paths.len())
                } else {
                    String::new()
                }
            ),
            file_arg,
            shards: a.shards,
            unit_note: String::new(),
            made_by: format!(
                "mmclust report {}",
                shell_quote(&a.file.display().to_string())
            ),
        };
        build(g, &subject, &plan, &a.out)
    })?;
    if g.json {
        let mut j = outcome_json(&o, &plan, g.seed);
        j["command"] = json!("report");
        j["input"] = serde_json::to_value(&fp)?;
        emit_json(&j)?;
    } else {
        print_summary(&o);
    }
    Ok(())
}

/// The `--json` summary of a report (docs/cli.md lists the keys).
pub(crate) fn outcome_json(o: &Outcome, plan: &Plan, seed: u64) -> serde_json::Value {
    let c = &o.choice;
    json!({
        "n": o.n,
        "d": o.d,
        "standardized": plan.standardize,
        "metric": kmeans_metric(plan.metric).name(),
        "seed": seed,
        "ks": o.elbow.ks,
        "elbow": {
            "ks": o.elbow.ks,
            "sse": o.elbow.sse,
            "n_iter": o.elbow.models.iter().map(|m| m.n_iter).collect::<Vec<_>>(),
            "knee": o.elbow.knee,
            "n_init": plan.n_init,
        },
        "silhouette": {
            "ks": o.elbow.ks,
            "silhouette": o.silhouettes.iter().map(|s| s.as_ref().map(|s| s.mean)).collect::<Vec<_>>(),
            "std_error": o.silhouettes.iter().map(|s| s.as_ref().and_then(|s| s.std_error)).collect::<Vec<_>>(),
            "sampled": o.sampled.is_some(),
            "sample": o.sampled,
            "best_k": c.best_silhouette.map(|b| b.0),
        },
        "gmm_select": {
            "ks": o.gmm_ks,
            "covariances": plan.covariances.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "candidates": super::gmm_select::candidates_json(&o.candidates),
            "best": o.best_gmm.map(|b| json!({"k": o.candidates[b].k, "covariance": o.candidates[b].covariance.name(), "bic": o.candidates[b].bic()})),
            "best_per_covariance": o.per_type.iter().map(|(c, k, b)| json!({"covariance": c.name(), "k": k, "bic": b})).collect::<Vec<_>>(),
        },
        "choice": {
            "knee": c.knee,
            "best_silhouette": c.best_silhouette.map(|b| b.0),
            "lowest_bic": c.lowest_bic.map(|b| b.0),
            "chosen_k": c.k,
            "agree": c.agree,
            "reason": c.reason,
            "rule": CHOICE_RULE,
        },
        "chosen_k": c.k,
        "kmeans": {
            "k": c.k,
            "silhouette": o.kmeans.silhouette,
            "std_error": o.kmeans.std_error,
            "calinski_harabasz": o.kmeans.scores.as_ref().map(|s| s.calinski_harabasz),
            "davies_bouldin": o.kmeans.scores.as_ref().map(|s| s.davies_bouldin),
            "sizes": o.kmeans.counts,
            "centers": o.kmeans_centres,
        },
        "gmm": o.gmm_model().map(|m| json!({
            "k": m.k(),
            "covariance": m.covariance_type().name(),
            "bic": m.bic(),
            "aic": m.aic(),
            "weights": m.weights(),
            "silhouette": o.gmm.as_ref().and_then(|p| p.silhouette),
            "calinski_harabasz": o.gmm.as_ref().and_then(|p| p.scores.as_ref().map(|s| s.calinski_harabasz)),
            "davies_bouldin": o.gmm.as_ref().and_then(|p| p.scores.as_ref().map(|s| s.davies_bouldin)),
        })),
        "ari_kmeans_vs_gmm": o.ari,
        "scatter_rows": o.scatter_rows,
        "timings": o.timings.iter().map(|(s, t)| json!({"step": s, "seconds": t})).collect::<Vec<_>>(),
        "commands": o.commands.iter().map(|(w, c)| json!({"what": w, "command": c})).collect::<Vec<_>>(),
        "report": o.index,
    })
}

fn print_summary(o: &Outcome) {
    let c = &o.choice;
    println!("report: n = {}, d = {}", o.n, o.d);
    println!(
        "knee: {}; best silhouette: {}; lowest BIC: {}",
        c.knee.map_or("none".into(), |k| format!("k = {k}")),
        c.best_silhouette
            .map_or("none".into(), |(k, s)| format!("k = {k} ({s:.3})")),
        c.lowest_bic.map_or("none".into(), |(k, cv, b)| format!(
            "k = {k} ({} covariance, {b:.6e})",
            cv.name()
        ))
    );
    println!("chosen k = {} ({})", c.k, c.reason);
    for (step, t) in &o.timings {
        println!("  {step}: {t:.2} s");
    }
    println!("report: {}", o.index.display());
}

/// A component's full d × d covariance, whatever the covariance type.
pub(crate) fn component_cov(m: &GaussianMixtureModel, j: usize) -> Vec<f64> {
    let d = m.d();
    let c = m.covariances();
    let mut out = vec![0.0; d * d];
    match m.covariance_type() {
        CovarianceType::Full => out.copy_from_slice(&c[j * d * d..(j + 1) * d * d]),
        CovarianceType::Tied => out.copy_from_slice(&c[..d * d]),
        CovarianceType::Diag => (0..d).for_each(|p| out[p * d + p] = c[j * d + p]),
        CovarianceType::Spherical => (0..d).for_each(|p| out[p * d + p] = c[j]),
    }
    out
}

/// Step timer: the page's table of timings.
struct Steps {
    at: Instant,
    done: Vec<(&'static str, f64)>,
}

impl Steps {
    fn lap(&mut self, step: &'static str) {
        let now = Instant::now();
        self.done
            .push((step, now.duration_since(self.at).as_secs_f64()));
        self.at = now;
    }
}

/// Runs the sweeps on `subject`, writes the page and its plots into `out`.
#[allow(clippy::too_many_lines)]
pub(crate) fn build(g: &Global, subject: &Subject<'_>, plan: &Plan, out: &Path) -> Result<Outcome> {
    let raw = subject.source;
    let (n, d) = (raw.n_rows(), raw.n_cols());
    if n == 0 || d == 0 {
        return Err(usage(format!(
            "{}: the data has {n} rows × {d} columns; a report needs at least one of each",
            raw.name()
        )));
    }
    check_k_range(&plan.kmeans_ks, 1, n).map_err(eval_err)?;
    if !plan.covariances.is_empty() {
        check_k_range(&plan.gmm_ks, 1, n).map_err(eval_err)?;
    }
    let mut steps = Steps {
        at: Instant::now(),
        done: Vec::new(),
    };
    let status = StatusLine::new(g);

    // Column statistics: the header, the finiteness check, the standardising.
    status.set("column statistics".into());
    let stats = ColumnStats::compute(raw, Chunking::for_dim(d), PassOptions::default())?;
    stats.check_finite(&raw.name())?;
    let transform = if plan.standardize {
        Some(Standardizer::from_stats(&stats, &raw.name())?)
    } else {
        None
    };
    steps.lap("column statistics (1 pass)");
    match &transform {
        Some(t) => {
            let z = Standardized::new(raw, t.clone())?;
            sweeps(
                g,
                subject,
                plan,
                out,
                &z,
                transform.as_ref(),
                stats,
                steps,
                &status,
            )
        }
        None => sweeps(g, subject, plan, out, raw, None, stats, steps, &status),
    }
}

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn sweeps(
    g: &Global,
    subject: &Subject<'_>,
    plan: &Plan,
    out: &Path,
    src: &dyn DataSource,
    transform: Option<&Standardizer>,
    stats: ColumnStats,
    mut steps: Steps,
    status: &StatusLine,
) -> Result<Outcome> {
    let (n, d) = (src.n_rows(), src.n_cols());
    let metric = kmeans_metric(plan.metric);
    let sampled = (n > plan.sample_above && plan.sample < n).then_some(plan.sample);
    let sil_params = SilhouetteParams {
        working_memory: plan.working_memory_mib.saturating_mul(1 << 20),
        sample: sampled,
        seed: g.seed,
        metric,
    };

    // One K-means sweep: the elbow's SSE and every k's silhouette.
    let (mut models, mut sse, mut silhouettes) = (Vec::new(), Vec::new(), Vec::new());
    let mut sil_seconds = 0.0;
    for k in plan.kmeans_ks.clone() {
        status.set(format!("K-means, k = {k}"));
        let model = KMeansParams::new(k)
            .metric(metric)
            .init(Init::KMeansPlusPlus)
            .n_init(plan.n_init)
            .max_iter(plan.max_iter)
            .seed(g.seed)
            .fit(src)?;
        let t = Instant::now();
        let s = if k >= 2 && k < n {
            status.set(format!("silhouette, k = {k}"));
            let labels = Labels::new(&model.predict(src)?).map_err(eval_err)?;
            // K-means can leave a cluster empty on degenerate data: score what is there.
            if labels.k() >= 2 && labels.k() < n {
                Some(
                    silhouette(src, &labels, &sil_params, PassOptions::default())
                        .map_err(eval_err)?,
                )
            } else {
                None
            }
        } else {
            None
        };
        sil_seconds += t.elapsed().as_secs_f64();
        g.info(format_args!(
            "k = {k}: SSE {:.6e}, silhouette {}",
            model.inertia,
            s.as_ref()
                .map_or("–".to_string(), |s| format!("{:.4}", s.mean))
        ));
        sse.push(model.inertia);
        models.push(model);
        silhouettes.push(s);
    }
    let ks: Vec<usize> = plan.kmeans_ks.clone().collect();
    let xs: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let knee_k = knee(&xs, &sse).map(|i| ks[i]);
    let elbow = Elbow {
        ks: ks.clone(),
        sse,
        models,
        knee: knee_k,
    };
    let total = steps.at.elapsed().as_secs_f64();
    steps
        .done
        .push(("K-means sweep (fits)", total - sil_seconds));
    steps.done.push((
        if sampled.is_some() {
            "silhouettes (sampled, with their labelling passes)"
        } else {
            "silhouettes (exact, with their labelling passes)"
        },
        sil_seconds,
    ));
    steps.at = Instant::now();

    // Gaussian mixtures by BIC.
    let gmm_ks: Vec<usize> = plan.gmm_ks.clone().collect();
    let candidates = if plan.covariances.is_empty() {
        Vec::new()
    } else {
        let p = GmmSweepParams {
            n_init: plan.gmm_n_init,
            seed: g.seed,
            standardize: false,
            reg_covar: plan.reg_covar,
            max_iter: plan.gmm_max_iter,
        };
        gmm_sweep(src, plan.gmm_ks.clone(), &plan.covariances, &p, |c| {
            status.set(format!(
                "{} k = {}: BIC {:?}",
                c.covariance.name(),
                c.k,
                c.bic()
            ));
        })
        .map_err(eval_err)?
    };
    let best_gmm = best_by_bic(&candidates);
    let per_type: Vec<(CovarianceType, usize, f64)> = plan
        .covariances
        .iter()
        .filter_map(|&c| {
            let of_type: Vec<GmmCandidate> = candidates
                .iter()
                .filter(|x| x.covariance == c)
                .cloned()
                .collect();
            best_by_bic(&of_type).and_then(|i| of_type[i].bic().map(|b| (c, of_type[i].k, b)))
        })
        .collect();
    if !plan.covariances.is_empty() {
        steps.lap("Gaussian-mixture sweep");
    }

    // The choice.
    let best_sil = ks
        .iter()
        .zip(&silhouettes)
        .filter_map(|(&k, s)| s.as_ref().map(|s| (k, s.mean)))
        .fold(None::<(usize, f64)>, |b, (k, s)| match b {
            Some((_, bs)) if bs >= s => b,
            _ => Some((k, s)),
        });
    let lowest_bic = best_gmm.and_then(|b| {
        let c = &candidates[b];
        c.bic().map(|v| (c.k, c.covariance, v))
    });
    // BIC can only decide among the K-means sweep's k.
    let bic_k = lowest_bic.map(|b| b.0).filter(|k| ks.contains(k));
    let (k, reason) = choose_k(knee_k, best_sil.map(|b| b.0), bic_k, ks[0]);
    let named: Vec<usize> = [knee_k, best_sil.map(|b| b.0), lowest_bic.map(|b| b.0)]
        .into_iter()
        .flatten()
        .collect();
    let choice = Choice {
        knee: knee_k,
        best_silhouette: best_sil,
        lowest_bic,
        k,
        reason: reason.to_string(),
        agree: named.iter().all(|&x| x == k),
    };

    // Scores of K-means at the chosen k, and of the best mixture.
    status.set(format!("scores at k = {k}"));
    let ki = ks.iter().position(|&x| x == k).unwrap_or(0);
    let km = &elbow.models[ki];
    let km_labels = Labels::new(&km.predict(src)?).map_err(eval_err)?;
    let km_scores = if km_labels.k() >= 2 && km_labels.k() < n {
        Some(cluster_scores(src, &km_labels, PassOptions::default()).map_err(eval_err)?)
    } else {
        None
    };
    let kmeans = Partition {
        silhouette: silhouettes[ki].as_ref().map(|s| s.mean),
        std_error: silhouettes[ki].as_ref().and_then(|s| s.std_error),
        scores: km_scores,
        counts: km_labels.counts().to_vec(),
    };
    let gm = best_gmm.and_then(|b| candidates[b].fit.as_ref().ok());
    let (gmm, ari) = match gm {
        Some(gm) => {
            let gl = Labels::new(&gm.predict(src)?).map_err(eval_err)?;
            let (sil, scores) = if gl.k() >= 2 && gl.k() < n {
                let s =
                    silhouette(src, &gl, &sil_params, PassOptions::default()).map_err(eval_err)?;
                (
                    Some(s),
                    Some(cluster_scores(src, &gl, PassOptions::default()).map_err(eval_err)?),
                )
            } else {
                (None, None)
            };
            let ari = adjusted_rand_index(&km_labels, &gl).map_err(eval_err)?;
            (
                Some(Partition {
                    silhouette: sil.as_ref().map(|s| s.mean),
                    std_error: sil.as_ref().and_then(|s| s.std_error),
                    scores,
                    counts: gl.counts().to_vec(),
                }),
                Some(ari),
            )
        }
        None => (None, None),
    };
    drop(km_labels);
    steps.lap("scores at the chosen k (labelling passes, silhouette, CH and DB)");

    // Scatter plots: a seeded sample, on the two columns (original units
    // when standardised) or on the first two principal axes (one pass).
    status.set("plots".into());
    let to_orig = |zc: &[f64]| -> Vec<f64> {
        match transform {
            Some(t) if d == 2 => (0..d).map(|p| zc[p] * t.scale[p] + t.mean[p]).collect(),
            _ => zc.to_vec(),
        }
    };
    let cov_orig = |c: &[f64]| -> Vec<f64> {
        match transform {
            Some(t) if d == 2 => (0..d * d)
                .map(|ij| c[ij] * t.scale[ij / d] * t.scale[ij % d])
                .collect(),
            _ => c.to_vec(),
        }
    };
    let km_centres: Vec<Vec<f64>> = (0..km.k)
        .map(|j| {
            let c: Vec<f64> = km.center(j).iter().map(|&v| f64::from(v)).collect();
            match transform {
                Some(t) => (0..d).map(|p| c[p] * t.scale[p] + t.mean[p]).collect(),
                None => c,
            }
        })
        .collect();
    let mut plots: Vec<(&'static str, String)> = Vec::new();
    let mut scatter_rows = 0;
    let mut axes: Option<PrincipalAxes> = None;
    let (km_svg, gm_svg) = if d >= 2 {
        let normalized;
        let plane: &dyn DataSource = if plan.metric == Metric::Cosine {
            normalized = Normalized::new(src);
            &normalized
        } else {
            src
        };
        if d > 2 {
            // The shift: the clustering space's column means as known
            // (0 when standardised; cosine rows are bounded by 1).
            let shift: Vec<f64> = match (transform, plan.metric) {
                (Some(_), _) | (None, Metric::Cosine) => vec![0.0; d],
                (None, Metric::Euclidean) => stats.mean.clone(),
            };
            axes = Some(principal_axes_about(plane, &shift).map_err(eval_err)?);
            steps.lap("principal axes (1 pass)");
        }
        let (idx, rows) = sample_rows(plane, SCATTER_POINTS, g.seed).map_err(eval_err)?;
        scatter_rows = idx.len();
        let sample = ArraySource::from_slice(&rows, idx.len(), d)?;
        let km_codes = km.predict(&sample)?;
        // Drawn in original units when d = 2 and standardised.
        let mut drawn = rows.clone();
        if let Some(t) = transform
            && d == 2
        {
            t.invert_in_place(&mut drawn);
        }
        let note = if idx.len() < n {
            format!(
                "{} of {n} rows drawn at random (seed {})",
                idx.len(),
                g.seed
            )
        } else {
            String::new()
        };
        let plane_centres: Vec<Vec<f64>> = (0..km.k)
            .map(|j| {
                to_orig(
                    &km.center(j)
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let unit = if transform.is_some() && d > 2 {
            " (standardised)"
        } else {
            subject.unit_note.as_str()
        };
        let km_svg = scatter_of_rows(
            &drawn,
            d,
            &km_codes,
            &plane_centres,
            &[],
            axes.as_ref(),
            &subject.names,
            unit,
            &format!("K-means, k = {k} (crosses: centres)"),
            &note,
        );
        let gm_svg = gm.map(|gm| -> Result<String> {
            let codes = gm.predict(&sample)?;
            let means: Vec<Vec<f64>> = (0..gm.k())
                .map(|j| to_orig(&gm.means()[j * d..(j + 1) * d]))
                .collect();
            let covs: Vec<Vec<f64>> = (0..gm.k())
                .map(|j| cov_orig(&component_cov(gm, j)))
                .collect();
            Ok(scatter_of_rows(
                &drawn,
                d,
                &codes,
                &means,
                &covs,
                axes.as_ref(),
                &subject.names,
                unit,
                &format!(
                    "Gaussian mixture, {} covariance, k = {} (1σ solid, 2σ dashed)",
                    gm.covariance_type().name(),
                    gm.k()
                ),
                &note,
            ))
        });
        (Some(km_svg), gm_svg.transpose()?)
    } else {
        (None, None)
    };

    let sse_units = if transform.is_some() {
        "SSE (standardised units)"
    } else if plan.metric == Metric::Cosine {
        "Σ (1 − cos)"
    } else {
        "SSE (inertia)"
    };
    plots.push(("elbow.svg", super::elbow::elbow_svg(&elbow, sse_units)));
    let sil_by_k: Vec<(usize, Option<f64>)> = ks
        .iter()
        .zip(&silhouettes)
        .map(|(&k, s)| (k, s.as_ref().map(|s| s.mean)))
        .collect();
    let shown: Vec<&(usize, Option<f64>)> = sil_by_k.iter().filter(|(k, _)| *k >= 2).collect();
    plots.push((
        "silhouette_by_k.svg",
        curves(
            "Mean silhouette by k (K-means)",
            "number of clusters k",
            if sampled.is_some() {
                "mean silhouette (estimate)"
            } else {
                "mean silhouette"
            },
            &shown.iter().map(|s| s.0 as f64).collect::<Vec<_>>(),
            &[Series {
                name: "silhouette".into(),
                ys: shown.iter().map(|s| s.1).collect(),
                dashed: false,
                colour: 2,
            }],
            best_sil.map(|(k, s)| (k as f64, s, format!("best: k = {k}"))),
        ),
    ));
    if let Some(s) = &silhouettes[ki] {
        let title = match sampled {
            Some(m) => format!("Silhouette of K-means, k = {k} ({m} sampled rows)"),
            None => format!("Silhouette of K-means, k = {k}"),
        };
        let kk = s.cluster_means.len();
        plots.push((
            "silhouette.svg",
            super::plot::silhouette(&title, &s.values, &s.codes, kk, s.mean),
        ));
    }
    if !candidates.is_empty() {
        plots.push((
            "bic.svg",
            super::gmm_select::bic_svg(&gmm_ks, &plan.covariances, &candidates, best_gmm),
        ));
    }
    if let Some(svg) = km_svg {
        plots.push(("kmeans.svg", svg));
    }
    if let Some(svg) = gm_svg {
        plots.push(("gmm.svg", svg));
    }

    let commands = command_lines(subject, plan, g.seed, &ks, &gmm_ks, &candidates, sampled);
    let index = out.join("index.html");
    let mut o = Outcome {
        n,
        d,
        stats,
        elbow,
        silhouettes,
        sampled,
        gmm_ks,
        candidates,
        best_gmm,
        per_type,
        choice,
        kmeans,
        kmeans_centres: km_centres,
        gmm,
        ari,
        scatter_rows,
        timings: Vec::new(),
        commands,
        index: index.clone(),
    };
    write_plots(out, &plots, plan.plot_format)?;
    steps.lap("plots and page");
    o.timings = steps.done;
    status.finish();
    let html = page(subject, plan, &o, &plots, g.seed);
    super::write_text(&index, &[], &html)?;
    Ok(o)
}

/// Writes every plot of the page beside it. The one place plots reach the
/// disk: another format (PNG) goes here.
fn write_plots(out: &Path, plots: &[(&'static str, String)], format: PlotFormat) -> Result<()> {
    if crate::dist::is_root() {
        std::fs::create_dir_all(out)
            .map_err(|e| mmclust_core::CoreError::io(out, "create the report folder", e))?;
    }
    for (name, svg) in plots {
        let path = match format {
            PlotFormat::Svg => out.join(name),
            PlotFormat::Png => out.join(name).with_extension("png"),
        };
        super::png::write_plot(&path, &[], svg)?;
    }
    Ok(())
}

/// The command lines that reproduce every model and sweep of the page.
#[allow(clippy::too_many_arguments)]
fn command_lines(
    subject: &Subject<'_>,
    plan: &Plan,
    seed: u64,
    ks: &[usize],
    gmm_ks: &[usize],
    candidates: &[GmmCandidate],
    sampled: Option<usize>,
) -> Vec<(String, String)> {
    let file = &subject.file_arg;
    let mut common = String::new();
    if subject.shards {
        common.push_str(" --shards");
    }
    if plan.standardize {
        common.push_str(" --standardize");
    }
    let _ = write!(common, " --seed {seed}");
    let cosine = if plan.metric == Metric::Cosine {
        " --metric cosine"
    } else {
        ""
    };
    let mut out = Vec::new();
    for &k in ks {
        out.push((
            format!("K-means, k = {k}"),
            format!(
                "mmclust kmeans {file} -k {k} --algorithm lloyd --init k-means++ --n-init {} --max-iter {}{cosine}{common}",
                plan.n_init, plan.max_iter
            ),
        ));
    }
    for c in candidates {
        out.push((
            format!("Gaussian mixture, {} covariance, k = {}", c.covariance.name(), c.k),
            format!(
                "mmclust gmm {file} -k {} --covariance {} --n-init {} --max-iter {} --reg-covar {}{common}",
                c.k,
                c.covariance.name(),
                plan.gmm_n_init,
                plan.gmm_max_iter,
                plan.reg_covar
            ),
        ));
    }
    // The sweep commands take one file and K-means' default iterations.
    if !subject.shards && plan.max_iter == 300 {
        let (a, b) = (ks[0], ks[ks.len() - 1]);
        let std = if plan.standardize {
            " --standardize"
        } else {
            ""
        };
        if plan.metric == Metric::Euclidean {
            out.push((
                "elbow".into(),
                format!(
                    "mmclust elbow {file} --k {a}..={b} --n-init {}{std} --seed {seed}",
                    plan.n_init
                ),
            ));
        }
        if b >= 2 {
            let sample = sampled.map_or(String::new(), |m| format!(" --sample {m}"));
            out.push((
                "silhouettes".into(),
                format!(
                    "mmclust silhouette {file} --k {}..={b} --n-init {}{sample}{cosine}{std} --seed {seed}",
                    a.max(2),
                    plan.n_init
                ),
            ));
        }
        if !plan.covariances.is_empty() {
            out.push((
                "mixtures by BIC".into(),
                format!(
                    "mmclust gmm-select {file} --k {}..={} --covariance {} --n-init {} --max-iter {} --reg-covar {}{std} --seed {seed}",
                    gmm_ks[0],
                    gmm_ks[gmm_ks.len() - 1],
                    plan.covariances
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(","),
                    plan.gmm_n_init,
                    plan.gmm_max_iter,
                    plan.reg_covar
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_rule() {
        assert_eq!(choose_k(Some(2), Some(2), Some(3), 1).0, 2);
        assert_eq!(choose_k(Some(4), Some(2), Some(4), 1).0, 4);
        assert_eq!(choose_k(Some(4), Some(3), Some(3), 1).0, 3);
        assert_eq!(choose_k(Some(4), Some(3), Some(5), 1).0, 3);
        assert_eq!(choose_k(Some(4), None, Some(5), 1).0, 4);
        assert_eq!(choose_k(None, None, Some(5), 1).0, 5);
        assert_eq!(choose_k(None, None, None, 2).0, 2);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("data/x.npy"), "data/x.npy");
        assert_eq!(shell_quote("my data.npy"), "'my data.npy'");
        assert_eq!(shell_quote("it's.npy"), r"'it'\''s.npy'");
    }
}

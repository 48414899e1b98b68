//! Kernel K-means (`mmclust kmeans --kernel`) and spectral clustering
//! (`mmclust spectral`) through Nyström features computed on the fly
//! (`mmclust-kernel`): the options they share, the fit with its progress,
//! the outputs (labels, centres, the model and its `.npy` sidecar), and
//! `predict`/`score` for their model files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::format::{NpyWriter, write_npy_f32};
use mmclust_core::parallel::PassOptions;
use mmclust_core::{DataSource, FiniteSource};
use mmclust_kernel::model::{
    KERNEL_KMEANS_KIND, SPECTRAL_KIND, kind_of, read_arrays, write_arrays,
};
use mmclust_kernel::{
    KernelKMeansModel, KernelKind, LandmarkInit, NystromFeatures, NystromMap, NystromParams,
    SpectralEmbedding, SpectralModel, fit_kernel_kmeans_then, fit_spectral,
};
use mmclust_kmeans::{FitEvent, FitHooks, KMeansModel, KMeansParams};
use serde_json::json;

use crate::Global;
use crate::cmd::fit::{FitInput, converged_word, write_model};
use crate::cmd::kmeans::as_i32;
use crate::fail::usage;
use crate::input::{emit_json, read_text};
use crate::progress::{RowProgress, StatusLine, with_progress};

/// The kernel options of `kmeans` and `spectral`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KernelArgs {
    /// Kernel K-means through Nyström features φ(x) = K(x, landmarks)·K_MM^(−1/2),
    /// computed chunk by chunk (never stored): rbf exp(−γ‖x−y‖²) or polynomial
    /// (γ x·y + coef0)^degree. `spectral` uses rbf unless told otherwise.
    #[arg(long, value_enum, value_name = "KERNEL")]
    pub(crate) kernel: Option<KernelName>,
    /// Kernel γ > 0. Default for rbf: a local scale, 1/(2σ²) with σ the median
    /// distance from a landmark to its r-th nearest other landmark, r = 7 for
    /// spectral, max(7, ⌈M/12⌉) for kernel K-means, which needs a wider kernel
    /// (printed and stored in the model); for polynomial 1/d. Kernel K-means
    /// runs 10 starts by default (--n-init), the lowest inertia kept.
    #[arg(long, value_name = "G")]
    pub(crate) gamma: Option<f64>,
    /// Polynomial kernel degree ≥ 1 (default 3).
    #[arg(long, value_name = "D")]
    pub(crate) degree: Option<u32>,
    /// Polynomial kernel coef0 (default 1).
    #[arg(long, value_name = "C")]
    pub(crate) coef0: Option<f64>,
    /// Landmarks M (k ≤ M ≤ n; default 300): memory O(M²), time per pass O(n·M·(d + M)).
    #[arg(long, value_name = "M")]
    pub(crate) landmarks: Option<usize>,
    /// How the landmarks are picked: k-means++ (M passes, spread over the data) or uniform.
    #[arg(long, value_enum, value_name = "HOW")]
    pub(crate) landmark_init: Option<LandmarkHow>,
    /// Compute the features on every pass instead of once into a scratch buffer
    /// (n·M′·4 bytes: on the heap up to 256 MiB, a scratch file beside the output
    /// or input above). The same result either way; caching is faster.
    #[arg(long)]
    pub(crate) recompute_features: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KernelName {
    Rbf,
    Polynomial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LandmarkHow {
    #[value(name = "k-means++")]
    KMeansPlusPlus,
    Uniform,
}

impl KernelArgs {
    /// True when any kernel option was given.
    pub(crate) fn any(&self) -> bool {
        self.kernel.is_some()
            || self.gamma.is_some()
            || self.degree.is_some()
            || self.coef0.is_some()
            || self.landmarks.is_some()
            || self.landmark_init.is_some()
            || self.recompute_features
    }

    /// The map's parameters (`kernel`: the kernel when none was given).
    fn params(&self, g: &Global, kernel: KernelName) -> Result<NystromParams> {
        let kernel = self.kernel.unwrap_or(kernel);
        if kernel == KernelName::Rbf {
            for (flag, given) in [
                ("--degree", self.degree.is_some()),
                ("--coef0", self.coef0.is_some()),
            ] {
                if given {
                    return Err(usage(format!(
                        "{flag} is a polynomial kernel option; add --kernel polynomial"
                    )));
                }
            }
        }
        Ok(NystromParams {
            kernel: match kernel {
                KernelName::Rbf => KernelKind::Rbf,
                KernelName::Polynomial => KernelKind::Polynomial {
                    degree: self.degree.unwrap_or(3),
                    coef0: self.coef0.unwrap_or(1.0),
                },
            },
            gamma: self.gamma,
            n_landmarks: self
                .landmarks
                .unwrap_or(mmclust_kernel::nystrom::DEFAULT_LANDMARKS),
            landmark_init: match self.landmark_init {
                Some(LandmarkHow::Uniform) => LandmarkInit::Uniform,
                _ => LandmarkInit::KMeansPlusPlus,
            },
            seed: g.seed,
            scale_neighbour: None,
            cache_features: !self.recompute_features,
        })
    }
}

/// A fitted kernel model of either kind.
pub(crate) enum KernelModel {
    KMeans(KernelKMeansModel),
    Spectral(SpectralModel),
}

impl KernelModel {
    fn kind(&self) -> &'static str {
        match self {
            KernelModel::KMeans(_) => KERNEL_KMEANS_KIND,
            KernelModel::Spectral(_) => SPECTRAL_KIND,
        }
    }

    fn kmeans(&self) -> &KMeansModel {
        match self {
            KernelModel::KMeans(m) => &m.kmeans,
            KernelModel::Spectral(m) => &m.kmeans,
        }
    }

    fn map(&self) -> &NystromMap {
        match self {
            KernelModel::KMeans(m) => &m.map,
            KernelModel::Spectral(m) => &m.embedding.map,
        }
    }

    /// Runs `f` on `source` as the model's K-means sees it (φ or the embedding).
    fn with_space<R>(
        &self,
        source: &dyn DataSource,
        f: impl FnOnce(&dyn DataSource) -> mmclust_kmeans::Result<R>,
    ) -> Result<R> {
        Ok(match self {
            KernelModel::KMeans(m) => f(&NystromFeatures::new(source, &m.map)?)?,
            KernelModel::Spectral(m) => f(&SpectralEmbedding::new(source, &m.embedding)?)?,
        })
    }

    /// Streams labels and squared distances (in the model's space) of `source`.
    fn predict_each(
        &self,
        source: &dyn DataSource,
        options: PassOptions<'_>,
        sink: impl FnMut(&[u32], &[f32]) -> mmclust_kmeans::Result<()>,
    ) -> Result<()> {
        self.with_space(source, |s| self.kmeans().predict_each(s, options, sink))
    }
}

/// The sidecar of a model file: `NAME.arrays.npy` beside `NAME.json`.
fn sidecar_of(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    model.with_file_name(format!("{stem}.arrays.npy"))
}

/// What a kernel fit writes.
pub(crate) struct Outputs<'a> {
    pub(crate) model_out: Option<&'a PathBuf>,
    pub(crate) labels_out: Option<&'a PathBuf>,
    pub(crate) centers_out: Option<&'a PathBuf>,
}

/// Which fit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    KMeans,
    Spectral,
}

/// `mmclust kmeans --kernel …`: the fit, its outputs and summary.
pub(crate) fn kmeans(
    g: &Global,
    args: &KernelArgs,
    input: &FitInput,
    params: &KMeansParams,
    out: Outputs<'_>,
    unsupported: &[(&str, bool)],
    started: Instant,
) -> Result<()> {
    if args.kernel.is_none() {
        return Err(usage(
            "--gamma, --degree, --coef0, --landmarks and --landmark-init need --kernel rbf|polynomial",
        ));
    }
    if let Some((flag, _)) = unsupported.iter().find(|(_, given)| *given) {
        return Err(usage(format!("{flag} does not go with --kernel")));
    }
    let nys = args.params(g, KernelName::Rbf)?;
    run(g, Fit::KMeans, &nys, input, params, out, started)
}

fn run(
    g: &Global,
    fit: Fit,
    nys: &NystromParams,
    input: &FitInput,
    params: &KMeansParams,
    out: Outputs<'_>,
    started: Instant,
) -> Result<()> {
    if crate::dist::comm().is_some() {
        return Err(usage(
            "kernel K-means and spectral clustering do not run distributed (MPI) yet; run them on one machine",
        ));
    }
    let sidecar = out.model_out.map(|p| sidecar_of(p));
    crate::cmd::fit::check_outputs(&[
        out.model_out,
        out.labels_out,
        out.centers_out,
        sidecar.as_ref(),
    ])?;
    if let Some(s) = &sidecar {
        mmclust_core::output::check_not_input(s, &input.paths())?;
    }
    let source = FiniteSource::new(input.source());
    let status = StatusLine::new(g);
    let bar = RowProgress::new(g, "rows read", 0);
    let on_event = |e: &FitEvent| {
        if let FitEvent::Iteration {
            run,
            iter,
            inertia,
            changed,
            ..
        } = e
        {
            status.set(format!(
                "run {run}: iteration {} inertia {inertia:.6e}, {changed} labels changed",
                iter + 1
            ));
        }
    };
    let tick = |r: usize| bar.tick(r);
    let hooks = FitHooks {
        on_event: Some(&on_event),
        progress: Some(&tick),
        ..FitHooks::default()
    };
    let inputs = input.paths();
    let n = source.n_rows();
    // The labels and their inertia: one pass over `space` (φ or the
    // embedding) with the fitted K-means.
    let write_labels = |km: &KMeansModel, space: &dyn DataSource| -> Result<Option<f64>> {
        status.finish();
        bar.finish();
        let Some(p) = out.labels_out else {
            return Ok(None);
        };
        let mut w =
            NpyWriter::<i32>::create(p, None, &inputs)?.fill_dropped(&input.data.dropped, -1);
        let mut total = 0.0f64;
        with_progress(g, "labels", n, |options| {
            Ok(km.predict_each(space, options, |labels, dist| {
                total += dist.iter().map(|&v| f64::from(v)).sum::<f64>();
                Ok(w.write(&as_i32(labels))?)
            })?)
        })?;
        w.finish()?;
        Ok(Some(total))
    };
    let (model, inertia) = match fit {
        // Kernel K-means writes its labels from the features it was fitted
        // on (read back from the cache, not mapped once more).
        Fit::KMeans => {
            let (m, inertia) = fit_kernel_kmeans_then(nys, params, &source, hooks, |km, space| {
                write_labels(km, space)
            })?;
            (KernelModel::KMeans(m), inertia)
        }
        Fit::Spectral => {
            let fitted = fit_spectral(nys, params, &source, hooks);
            status.finish();
            bar.finish();
            let m = fitted?;
            let inertia = write_labels(&m.kmeans, &SpectralEmbedding::new(&source, &m.embedding)?)?;
            (KernelModel::Spectral(m), inertia)
        }
    };
    let map = model.map();
    g.info(format_args!(
        "kernel {}: γ = {:.6e}{}, M = {} landmarks ({}), M' = {} components ({} eigenvalues dropped)",
        map.kernel.name(),
        map.kernel.gamma(),
        map.sigma.map_or(String::new(), |(s, r)| format!(
            " (local scale σ = {s:.6e}, the median distance to the landmark neighbour of rank {r})"
        )),
        map.n_landmarks(),
        nys.landmark_init.name(),
        map.n_components,
        map.dropped()
    ));
    if let KernelModel::Spectral(m) = &model
        && m.clamped > 0
    {
        g.warn(format_args!(
            "{} approximate degree(s) below the floor were raised to it ({} of them ≤ 0)",
            m.clamped, m.non_positive
        ));
    }
    let km = model.kmeans();
    if let Some(p) = out.centers_out {
        write_npy_f32(p, &km.centers, km.k, km.d, &inputs)?;
    }
    if let (Some(p), Some(s)) = (out.model_out, &sidecar) {
        let name = s
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (json, values) = match &model {
            KernelModel::KMeans(m) => m.to_json(&name, Some(input.fingerprint.clone())),
            KernelModel::Spectral(m) => m.to_json(&name, Some(input.fingerprint.clone())),
        };
        write_arrays(s, &values, &inputs)?;
        write_model(Some(p), &inputs, &json)?;
    }
    let mut summary = json!({
        "command": if fit == Fit::KMeans { "kmeans" } else { "spectral" },
        "kind": model.kind(),
        "k": km.k,
        "n": n,
        "d": source.n_cols(),
        "kernel": map.kernel,
        "gamma": map.kernel.gamma(),
        "sigma": map.sigma.map(|s| s.0),
        "sigma_neighbour": map.sigma.map(|s| s.1),
        "landmarks": map.n_landmarks(),
        "landmark_init": nys.landmark_init.name(),
        "n_components": map.n_components,
        "eigenvalues_dropped": map.dropped(),
        "algorithm": km.algorithm,
        "init": km.init,
        "n_init": km.run_inertias.len(),
        "init_seconds": km.init_seconds,
        "iter_seconds": km.iter_seconds,
        "history": km.history,
        "distance_evals": km.distance_evals,
        "inertia": km.inertia,
        "labels_inertia": inertia,
        "n_iter": km.n_iter,
        "converged": km.converged,
        "seed": g.seed,
        "threads": rayon::current_num_threads(),
        "fit_seconds": km.fit_seconds,
        "total_seconds": started.elapsed().as_secs_f64(),
        "model_out": out.model_out,
        "model_arrays_out": sidecar.filter(|_| out.model_out.is_some()),
        "labels_out": out.labels_out,
        "centers_out": out.centers_out,
        "input": input.fingerprint,
    });
    if let (KernelModel::Spectral(m), Some(o)) = (&model, summary.as_object_mut()) {
        o.insert("eigenvalues".into(), json!(m.eigenvalues));
        o.insert("degrees_clamped".into(), json!(m.clamped));
        o.insert("degrees_non_positive".into(), json!(m.non_positive));
        o.insert("eigenvalues_floored".into(), json!(m.floored_eigenvalues));
    }
    if g.json {
        return emit_json(&summary);
    }
    let what = if fit == Fit::KMeans {
        "kernel k-means"
    } else {
        "spectral clustering"
    };
    println!(
        "{what}: k = {}, n = {n}, d = {}, kernel {} γ = {:.6e}, M = {}, M' = {}",
        km.k,
        source.n_cols(),
        map.kernel.name(),
        map.kernel.gamma(),
        map.n_landmarks(),
        map.n_components
    );
    println!(
        "inertia in the feature space {:.9e} after {} iteration(s), {}",
        km.inertia,
        km.n_iter,
        converged_word(km.converged)
    );
    if let KernelModel::Spectral(m) = &model {
        let ev: Vec<String> = m.eigenvalues.iter().map(|v| format!("{v:.6}")).collect();
        println!(
            "top eigenvalues of the normalised affinity: {}",
            ev.join(", ")
        );
    }
    println!("fit {:.3} s", km.fit_seconds);
    Ok(())
}

/// `mmclust spectral FILE -k K`.
///
/// Normalised spectral clustering (Ng–Jordan–Weiss) with the affinity
/// approximated through Nyström landmark features (Fowlkes et al. 2004):
/// one pass for the degrees d_i = φ_i·Σ_j φ_j (degrees below 1e-6 × the mean
/// are raised to it and counted), one for the M'×M' matrix Σ ψψᵀ with
/// ψ = φ/√d, its top k eigenvectors (eigenvalues below 1e-10 × the largest
/// raised to it), then K-means on the row-normalised embedding ψ·V_k·Λ_k^(−1/2),
/// computed on the fly. Memory O(M²), never O(n²) or O(n·M).
///
/// Which to reach for: spectral clustering follows connectivity, so it
/// separates interleaved moons and concentric rings with the default local
/// γ; kernel K-means (`mmclust kmeans --kernel rbf`) minimises spread in the
/// feature space: with its default γ it separates the moons (adjusted Rand
/// index 0.995 at n = 3·10⁵) but, with a local kernel, is nearly
/// indifferent between splitting rings by ring or by half-plane.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust generate moons --n 100000 -o moons.npy --labels-out truth.npy
  mmclust spectral moons.npy -k 2 --labels-out labels.npy --model-out moons.json
  mmclust scores moons.npy labels.npy --truth truth.npy
  mmclust predict moons.json new.npy -o new_labels.npy")]
pub(crate) struct SpectralArgs {
    /// Data: .npy, .fvecs, .bvecs or (small) .csv; with --shards, a pattern.
    file: PathBuf,
    /// FILE is a pattern ('part-*.npy', quoted) of shards read as one matrix.
    #[arg(long)]
    shards: bool,
    /// Number of clusters (and of eigenvectors).
    #[arg(short = 'k', long = "k", value_name = "K")]
    k: usize,
    #[command(flatten)]
    kernel: KernelArgs,
    /// K-means runs on the embedding from different k-means++ initialisations.
    #[arg(long, default_value_t = 1, value_name = "N")]
    n_init: usize,
    /// Maximum K-means iterations per run.
    #[arg(long, default_value_t = 300, value_name = "N")]
    max_iter: usize,
    /// Write the model (JSON; its arrays go to NAME.arrays.npy beside it).
    #[arg(long, value_name = "PATH.json")]
    model_out: Option<PathBuf>,
    /// Write each row's cluster (.npy int32; one more streaming pass).
    #[arg(long, value_name = "PATH.npy")]
    labels_out: Option<PathBuf>,
}

pub(crate) fn spectral(g: &Global, a: SpectralArgs) -> Result<()> {
    let started = Instant::now();
    let input = FitInput::open(
        &a.file,
        a.shards,
        false,
        &[a.model_out.as_ref(), a.labels_out.as_ref()],
    )?;
    let nys = a.kernel.params(g, KernelName::Rbf)?;
    let mut params = KMeansParams::new(a.k)
        .init(mmclust_kmeans::Init::KMeansPlusPlus)
        .n_init(a.n_init)
        .max_iter(a.max_iter)
        .seed(g.seed);
    params.scratch = crate::scratch::config(
        g,
        None,
        &[a.model_out.as_deref(), a.labels_out.as_deref()],
        &a.file,
    );
    let out = Outputs {
        model_out: a.model_out.as_ref(),
        labels_out: a.labels_out.as_ref(),
        centers_out: None,
    };
    run(g, Fit::Spectral, &nys, &input, &params, out, started)
}

/// Reads a kernel K-means or spectral model, or `None` for another kind.
pub(crate) fn load(path: &Path) -> Result<Option<KernelModel>> {
    let text = read_text(
        path,
        "a model written by an mmclust command with --model-out",
    )?;
    let kind = kind_of(&text);
    let bad = |e: mmclust_kernel::KernelError| usage(format!("{}: {e}", path.display()));
    let sidecar =
        |name: std::result::Result<String, mmclust_kernel::KernelError>| -> Result<Vec<f64>> {
            let name = name.map_err(bad)?;
            let p = path.with_file_name(&name);
            read_arrays(&p).map_err(|e| {
                usage(format!(
                    "{}: its arrays {}: {e}",
                    path.display(),
                    p.display()
                ))
            })
        };
    Ok(match kind.as_deref() {
        Some(KERNEL_KMEANS_KIND) => {
            let v = sidecar(KernelKMeansModel::arrays_file(&text))?;
            Some(KernelModel::KMeans(
                KernelKMeansModel::from_json(&text, &v).map_err(bad)?,
            ))
        }
        Some(SPECTRAL_KIND) => {
            let v = sidecar(SpectralModel::arrays_file(&text))?;
            Some(KernelModel::Spectral(
                SpectralModel::from_json(&text, &v).map_err(bad)?,
            ))
        }
        _ => None,
    })
}

/// `mmclust predict` for a kernel model: labels only.
pub(crate) fn predict(
    g: &Global,
    model: &KernelModel,
    model_path: &Path,
    file: &Path,
    out: &Path,
    extra: bool,
) -> Result<()> {
    if extra {
        return Err(usage(format!(
            "--transform/--proba: {} is a {} model, which predicts labels only",
            model_path.display(),
            model.kind()
        )));
    }
    let matrix = crate::input::open(file)?;
    let dropped = crate::input::dropped_rows(&matrix);
    let data = FiniteSource::new(matrix);
    let mut w =
        NpyWriter::<i32>::create(out, None, &[model_path, file])?.fill_dropped(&dropped, -1);
    with_progress(g, "predict", data.n_rows(), |options| {
        model.predict_each(&data, options, |labels, _| Ok(w.write(&as_i32(labels))?))
    })?;
    w.finish()?;
    crate::input::emit_summary(
        g,
        json!({
            "command": "predict", "kind": model.kind(), "model": model_path, "input": file,
            "out": out, "n": data.n_rows(), "k": model.kmeans().k, "output": "labels",
        }),
        format_args!("wrote {} for {} rows", out.display(), data.n_rows()),
    )
}

/// `mmclust score` for a kernel model: the K-means inertia in its space.
pub(crate) fn score(
    g: &Global,
    model: &KernelModel,
    model_path: &Path,
    file: &Path,
    per_sample_out: Option<&PathBuf>,
) -> Result<()> {
    let matrix = crate::input::open(file)?;
    let dropped = crate::input::dropped_rows(&matrix);
    let data = FiniteSource::new(matrix);
    let n = data.n_rows();
    let inertia = with_progress(g, "score", n, |options| {
        let mut writer = match per_sample_out {
            Some(p) => Some(
                NpyWriter::<f32>::create(p, None, &[model_path, file])?
                    .fill_dropped(&dropped, f32::NAN),
            ),
            None => None,
        };
        let mut total = 0.0f64;
        model.predict_each(&data, options, |_, dist| {
            total += dist.iter().map(|&v| f64::from(v)).sum::<f64>();
            if let Some(w) = writer.as_mut() {
                w.write(dist)?;
            }
            Ok(())
        })?;
        if let Some(w) = writer {
            w.finish()?;
        }
        Ok(total)
    })?;
    let space = match model {
        KernelModel::KMeans(_) => "the kernel feature space",
        KernelModel::Spectral(_) => "the spectral embedding",
    };
    if g.json {
        emit_json(&json!({
            "command": "score", "kind": model.kind(), "model": model_path, "input": file, "n": n,
            "inertia": inertia, "mean_squared_distance": inertia / n as f64,
            "space": space, "per_sample_out": per_sample_out,
        }))
    } else {
        println!(
            "inertia in {space} {inertia:.9e} ({:.6e} per row, {n} rows)",
            inertia / n as f64
        );
        Ok(())
    }
}

//! `mmclust standardize IN -o OUT [--stats-out JSON] [--apply JSON]`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use mmclust_core::format::NpyWriter;
use mmclust_core::parallel::Chunking;
use mmclust_core::stats::{ColumnStats, Standardized, Standardizer};
use mmclust_core::{CoreError, DataSource};
use serde_json::json;

use crate::Global;
use crate::fail::usage;
use crate::input::{emit_summary, fingerprint, open};
use crate::progress::{map_in_order, with_progress};

/// Z-scores every column: (x − mean) / std, with the population std (ddof = 0,
/// as scikit-learn's StandardScaler). Two streaming passes (statistics, then the
/// transformed rows); `--apply` reuses saved statistics in one pass, so new data
/// is transformed exactly like the data a model was fitted on. Constant columns
/// are centred and left unscaled, with a warning.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  mmclust standardize data/faithful.csv -o faithful_z.npy --stats-out faithful_z.json\n  mmclust standardize new.npy -o new_z.npy --apply faithful_z.json"
)]
pub(crate) struct Args {
    /// Input matrix (.npy, .fvecs, .bvecs or small .csv).
    input: PathBuf,
    /// Output .npy (float32).
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
    /// Write the means and scales used as JSON (for --apply later).
    #[arg(long, value_name = "JSON")]
    stats_out: Option<PathBuf>,
    /// Use the means and scales of a --stats-out file instead of computing them.
    #[arg(long, value_name = "JSON", conflicts_with = "stats_out")]
    apply: Option<PathBuf>,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let started = Instant::now();
    if a.stats_out.as_ref() == Some(&a.out) {
        return Err(usage(
            "--stats-out and -o name the same file; choose two paths",
        ));
    }
    let m = open(&a.input)?;
    let fp = fingerprint(&a.input, &m);
    let d = m.n_cols();

    let transform = match &a.apply {
        Some(p) => load_transform(p, d)?,
        None => {
            let stats = with_progress(g, "statistics", m.n_rows(), |options| {
                Ok(ColumnStats::compute(&m, Chunking::for_dim(d), options)?)
            })?;
            Standardizer::from_stats(&stats, &a.input.display().to_string())?
        }
    };
    for &j in &transform.constant_columns {
        g.warn(format_args!(
            "column {j} of {} is constant; it is centred but not scaled",
            a.input.display()
        ));
    }

    let inputs: Vec<&Path> = std::iter::once(a.input.as_path())
        .chain(a.apply.as_deref())
        .collect();
    let mut writer = NpyWriter::<f32>::create(&a.out, Some(d), &inputs)?;
    let name = a.input.display().to_string();
    let src = Standardized::new(&m, transform.clone())?;
    map_in_order(
        g,
        "standardize",
        &src,
        |chunk| {
            if let Some(pos) = chunk.data.iter().position(|v| !v.is_finite()) {
                let count = chunk.data.iter().filter(|v| !v.is_finite()).count();
                return Err(CoreError::NonFinite {
                    source_name: name.clone(),
                    count: count as u64,
                    row: chunk.start_row + pos / d,
                    col: pos % d,
                });
            }
            Ok(chunk.data.to_vec())
        },
        |rows| writer.write(&rows),
    )?;

    if let Some(p) = &a.stats_out {
        let v = transform_json(&transform, &fp);
        let text = serde_json::to_string_pretty(&v)? + "\n";
        mmclust_core::output::write_atomic(p, &inputs, text.as_bytes())?;
    }
    writer.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    emit_summary(
        g,
        json!({
            "command": "standardize",
            "input": fp,
            "out": a.out,
            "stats_out": a.stats_out,
            "applied": a.apply,
            "mean": transform.mean,
            "scale": transform.scale,
            "constant_columns": transform.constant_columns,
            "seconds": seconds,
        }),
        format_args!(
            "wrote {} ({} × {} float32, z-scored) in {:.2} s",
            a.out.display(),
            fp.rows,
            d,
            seconds
        ),
    )
}

/// The JSON form of a transform (`--stats-out`, read back by `--apply`).
pub(crate) fn transform_json(
    t: &Standardizer,
    fp: &crate::input::Fingerprint,
) -> serde_json::Value {
    json!({
        "kind": "standardizer",
        "version": 1,
        "n_cols": t.n_cols(),
        "mean": t.mean,
        "scale": t.scale,
        "constant_columns": t.constant_columns,
        "source": fp,
    })
}

/// Reads a `--stats-out` file and checks it fits data with `d` columns.
pub(crate) fn load_transform(path: &Path, d: usize) -> Result<Standardizer> {
    let text =
        crate::input::read_text(path, "a file written by `mmclust standardize --stats-out`")?;
    let bad = |what: &str| {
        usage(format!(
            "{}: {what}; expected a file written by `mmclust standardize --stats-out`",
            path.display()
        ))
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not valid JSON ({e})")))?;
    if v.get("kind").and_then(|k| k.as_str()) != Some("standardizer") {
        return Err(bad("no \"kind\": \"standardizer\" field"));
    }
    let floats = |key: &str| -> Result<Vec<f64>> {
        v.get(key)
            .and_then(|a| a.as_array())
            .and_then(|a| a.iter().map(serde_json::Value::as_f64).collect())
            .ok_or_else(|| bad(&format!("\"{key}\" is missing or not a list of numbers")))
    };
    let (mean, scale) = (floats("mean")?, floats("scale")?);
    if mean.len() != d {
        return Err(usage(format!(
            "{}: parameters are for {} columns but the data has {d}; standardise with statistics of data shaped like this",
            path.display(),
            mean.len()
        )));
    }
    Standardizer::from_parts(mean, scale)
        .with_context(|| format!("{}: unusable standardisation parameters", path.display()))
}

//! `mmclust demo [--out DIR]`: the walk-through on the bundled Old Faithful
//! data, which is `report` (see `report.rs`) on the embedded data with the
//! walk-through's ranges, and the demo's own summary.

use std::path::PathBuf;

use anyhow::Result;
use mmclust_core::ArraySource;
use mmclust_gmm::CovarianceType;
use serde_json::json;

use super::png::PlotFormat;
use super::report::{Plan, SAMPLE_ABOVE, Subject, build, outcome_json};
use crate::Global;
use crate::cmd::kmeans::Metric;
use crate::input::emit_json;

/// Old Faithful (Azzalini & Bowman 1990, via R's datasets): 272 eruptions,
/// duration and waiting time in minutes. Embedded so the demo runs anywhere.
const FAITHFUL_CSV: &str = include_str!("../../../../../data/faithful.csv");

/// The walk-through on the bundled Old Faithful geyser data (272 eruptions ×
/// eruption length and waiting time): standardise; elbow (k = 1..8) and
/// silhouette (k = 2..8); K-means at the chosen k; Gaussian mixtures of every
/// covariance type for k = 1..6, chosen by BIC. Writes DIR/index.html (plots
/// inline, also as .svg files beside it; no network needed to view it) and
/// prints a summary.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust demo
  mmclust demo --out /tmp/faithful-report --json")]
pub(crate) struct Args {
    /// Folder of the report (created if missing).
    #[arg(long, default_value = "report", value_name = "DIR")]
    out: PathBuf,
}

fn parse_faithful() -> (Vec<String>, Vec<f32>) {
    let mut lines = FAITHFUL_CSV.lines();
    let names = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let data = lines
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f32>().unwrap_or(f32::NAN))
        })
        .collect();
    (names, data)
}

/// The demo's sweeps: the walk-through's ranges, more restarts than the
/// report's defaults (the data is tiny).
fn plan() -> Plan {
    Plan {
        kmeans_ks: 1..=8,
        gmm_ks: 1..=6,
        n_init: 10,
        max_iter: 300,
        covariances: vec![
            CovarianceType::Full,
            CovarianceType::Tied,
            CovarianceType::Diag,
            CovarianceType::Spherical,
        ],
        gmm_n_init: 3,
        gmm_max_iter: 100,
        reg_covar: 1e-6,
        standardize: true,
        metric: Metric::Euclidean,
        sample_above: SAMPLE_ABOVE,
        sample: 10_000,
        plot_format: PlotFormat::Svg,
        working_memory_mib: 64,
    }
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let (names, data) = parse_faithful();
    let d = names.len();
    let n = data.len() / d;
    let raw = ArraySource::from_slice(&data, n, d)?;
    g.info(format_args!(
        "Old Faithful: {n} eruptions × {d} columns ({}), standardised",
        names.join(", ")
    ));
    let plan = plan();
    let subject = Subject {
        source: &raw,
        names: names.clone(),
        title: "mmclust demo: Old Faithful geyser".into(),
        intro: format!(
            "<p>{n} eruptions of the Old Faithful geyser (Azzalini &amp; Bowman 1990): eruption length and waiting time before it, in minutes. \
             The data is embedded in the binary; <code>data/faithful.csv</code> in the repository holds the same values (the command lines below read it). \
             The scatter plots show original units.</p>"
        ),
        file_arg: "data/faithful.csv".into(),
        shards: false,
        unit_note: " (minutes)".into(),
        made_by: "mmclust demo".into(),
    };
    let o = build(g, &subject, &plan, &a.out)?;
    let k = o.choice.k;
    let gm = o
        .gmm_model()
        .ok_or_else(|| anyhow::anyhow!("every Gaussian-mixture fit failed"))?;
    let per_type_text = o
        .per_type
        .iter()
        .map(|(c, k, b)| format!("{} k = {k} (BIC {b:.2})", c.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let sil: Vec<(usize, Option<f64>)> = o
        .silhouette_by_k()
        .into_iter()
        .filter(|(k, _)| *k >= 2)
        .collect();
    let km_sil = o.kmeans.silhouette.unwrap_or(f64::NAN);
    let (ch, db) = o.kmeans.scores.as_ref().map_or((f64::NAN, f64::NAN), |s| {
        (s.calinski_harabasz, s.davies_bouldin)
    });
    let ari = o.ari.unwrap_or(f64::NAN);
    if g.json {
        let mut j = outcome_json(&o, &plan, g.seed);
        // The demo's own keys (docs/cli.md), over the report's.
        j["command"] = json!("demo");
        j["elbow"] = json!({"ks": o.elbow.ks, "sse": o.elbow.sse, "knee": o.elbow.knee});
        j["silhouette_by_k"] = json!(
            sil.iter()
                .map(|(k, s)| json!({"k": k, "silhouette": s}))
                .collect::<Vec<_>>()
        );
        j["kmeans"] = json!({"k": k, "silhouette": km_sil, "calinski_harabasz": ch, "davies_bouldin": db, "centers": o.kmeans_centres});
        j["gmm"] = json!({"k": gm.k(), "covariance": gm.covariance_type().name(), "bic": gm.bic(), "aic": gm.aic(), "weights": gm.weights()});
        j["gmm_best_per_covariance"] = json!(
            o.per_type
                .iter()
                .map(|(c, k, b)| json!({"covariance": c.name(), "k": k, "bic": b}))
                .collect::<Vec<_>>()
        );
        emit_json(&j)?;
    } else {
        let best_sil = o.choice.best_silhouette;
        println!(
            "Old Faithful: {n} eruptions × {d} columns ({}), standardised",
            names.join(", ")
        );
        println!(
            "elbow (k = 1..8): knee at k = {}; best silhouette (k = 2..8): k = {} ({:.3})",
            o.elbow.knee.map_or("none".into(), |k| k.to_string()),
            best_sil.map_or(0, |b| b.0),
            best_sil.map_or(f64::NAN, |b| b.1)
        );
        println!(
            "K-means, k = {k}: silhouette {km_sil:.3}, Calinski-Harabasz {ch:.1}, Davies-Bouldin {db:.3}"
        );
        for (j, c) in o.kmeans_centres.iter().enumerate() {
            println!(
                "  cluster {j}: {} eruptions, {} {:.2}, {} {:.1}",
                o.kmeans.counts[j], names[0], c[0], names[1], c[1]
            );
        }
        println!(
            "Gaussian mixture by BIC (k = 1..6, 4 covariance types): {} covariance, k = {} (BIC {:.2}); agreement with K-means: ARI {ari:.3}",
            gm.covariance_type().name(),
            gm.k(),
            gm.bic(),
        );
        println!("lowest BIC per covariance type: {per_type_text}");
        println!(
            "chosen k = {k} ({}); report: {}",
            o.choice.reason,
            o.index.display()
        );
    }
    Ok(())
}

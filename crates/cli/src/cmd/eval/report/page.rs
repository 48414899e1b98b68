//! The report's HTML page: header, column statistics, the choice of k,
//! the figures and tables, timings and the command lines.

use std::fmt::Write as _;

use super::{CHOICE_RULE, MAX_STAT_COLUMNS, Outcome, Plan, Subject};
use crate::cmd::kmeans::Metric;

fn figure(html: &mut String, plots: &[(&'static str, String)], name: &str, caption: &str) {
    if let Some((_, svg)) = plots.iter().find(|(n, _)| *n == name) {
        let _ = writeln!(
            html,
            "<figure>{svg}<figcaption>{caption}</figcaption></figure>"
        );
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

#[allow(clippy::too_many_lines)]
pub(super) fn page(
    subject: &Subject<'_>,
    plan: &Plan,
    o: &Outcome,
    plots: &[(&'static str, String)],
    seed: u64,
) -> String {
    let (n, d) = (o.n, o.d);
    let c = &o.choice;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1340px;margin:24px auto;padding:0 16px;color:#222}}
figure{{display:inline-block;margin:8px;vertical-align:top}}figcaption{{font-size:13px;color:#555;max-width:640px}}
table{{border-collapse:collapse;margin:8px 0 16px}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}th{{background:#f3f3f3}}
td.l{{text-align:left}}code{{font-size:12px}}pre{{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}}</style></head><body>
<h1>{title}</h1>
{intro}
"#,
        title = html_escape(&subject.title),
        intro = subject.intro
    );
    let mut how = Vec::new();
    if plan.standardize {
        how.push("columns standardised (z-scores) before clustering".to_string());
    }
    if plan.metric == Metric::Cosine {
        how.push(
            "cosine distance (rows L2-normalised; spherical K-means; no Gaussian mixtures)"
                .to_string(),
        );
    }
    how.push(match o.sampled {
        Some(m) => format!(
            "silhouettes <b>estimated</b> from {m} rows drawn at random (seed {seed}), each scored against all {n} rows, with their standard error (the data has more than {} rows)",
            plan.sample_above
        ),
        None => format!("silhouettes exact (every row against every row; at most {} rows)", plan.sample_above),
    });
    if o.scatter_rows > 0 && o.scatter_rows < n {
        how.push(format!(
            "scatter plots drawn from {} rows drawn at random (seed {seed})",
            o.scatter_rows
        ));
    }
    if d > 2 {
        how.push("scatter plots on the first two principal components (from the covariance of all rows, one pass); ellipses projected as PᵀΣP".into());
    }
    let _ = writeln!(h, "<p>{n} rows × {d} columns; {}.</p>", how.join("; "));

    // Column statistics.
    let std = o.stats.std();
    let shown = d.min(MAX_STAT_COLUMNS);
    let _ = write!(
        h,
        "<h2>Columns</h2><table><tr><th>column</th><th>mean</th><th>std</th><th>min</th><th>max</th></tr>"
    );
    for (j, sd) in std.iter().enumerate().take(shown) {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td>{:.6}</td><td>{sd:.6}</td><td>{:.6}</td><td>{:.6}</td></tr>",
            html_escape(&subject.names[j]),
            o.stats.mean[j],
            o.stats.min[j],
            o.stats.max[j]
        );
    }
    h.push_str("</table>\n");
    if shown < d {
        let _ = writeln!(
            h,
            "<p>The first {shown} of {d} columns are shown (the table is capped at {MAX_STAT_COLUMNS}); <code>mmclust info FILE --stats --json</code> gives them all.</p>"
        );
    }

    // The choice.
    let _ = write!(
        h,
        "<h2>How many clusters?</h2><table><tr><th>criterion</th><th>k</th><th>value</th></tr>\
         <tr><td class=\"l\">knee of the elbow (Kneedle)</td><td>{}</td><td>–</td></tr>\
         <tr><td class=\"l\">best mean silhouette</td><td>{}</td><td>{}</td></tr>\
         <tr><td class=\"l\">lowest BIC (any covariance type)</td><td>{}</td><td>{}</td></tr></table>",
        c.knee.map_or_else(
            || {
                if o.elbow.ks.len() < 3 {
                    "none (needs 3 or more values of k)".to_string()
                } else {
                    "none (the curve has no knee)".to_string()
                }
            },
            |k| k.to_string()
        ),
        c.best_silhouette.map_or("none".into(), |b| b.0.to_string()),
        fmt_opt(c.best_silhouette.map(|b| b.1), 4),
        c.lowest_bic.map_or("none".into(), |b| b.0.to_string()),
        c.lowest_bic
            .map_or("–".into(), |b| format!("{:.2} ({})", b.2, b.1.name())),
    );
    if c.agree {
        let _ = writeln!(h, "<p>The criteria agree: <b>k = {}</b>.</p>", c.k);
    } else {
        let _ = writeln!(
            h,
            "<p>The criteria disagree. Chosen: <b>k = {}</b> ({}). The rule: {CHOICE_RULE}.</p>",
            c.k, c.reason
        );
    }
    let sil_what = if o.sampled.is_some() {
        "estimated from the sample, ± its standard error in the table below"
    } else {
        "exact"
    };
    figure(
        &mut h,
        plots,
        "elbow.svg",
        &format!(
            "K-means SSE (best of {} k-means++ runs) by k. The knee: the point farthest below the straight line from the first to the last point, both axes scaled to [0, 1] (Kneedle).",
            plan.n_init
        ),
    );
    figure(
        &mut h,
        plots,
        "silhouette_by_k.svg",
        &format!("Mean silhouette of each K-means fit ({sil_what}). Higher is better."),
    );
    let _ = write!(
        h,
        "<table><tr><th>k</th><th>SSE</th><th>Lloyd iterations</th><th>mean silhouette</th><th>± s.e.</th></tr>"
    );
    for (i, &k) in o.elbow.ks.iter().enumerate() {
        let s = o.silhouettes[i].as_ref();
        let b = if k == c.k {
            " style=\"font-weight:bold\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<tr{b}><td>{k}</td><td>{:.6e}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            o.elbow.sse[i],
            o.elbow.models[i].n_iter,
            fmt_opt(s.map(|s| s.mean), 4),
            fmt_opt(s.and_then(|s| s.std_error), 4)
        );
    }
    h.push_str("</table>\n");

    // K-means at the chosen k.
    let _ = write!(
        h,
        "<h2>K-means, k = {}</h2>\n<table><tr><th>score</th><th>K-means</th><th>Gaussian mixture</th></tr>",
        c.k
    );
    let g = o.gmm.as_ref();
    let rows: [(&str, Option<f64>, Option<f64>); 3] = [
        (
            "silhouette (higher is better)",
            o.kmeans.silhouette,
            g.and_then(|p| p.silhouette),
        ),
        (
            "Calinski–Harabasz (higher is better)",
            o.kmeans.scores.as_ref().map(|s| s.calinski_harabasz),
            g.and_then(|p| p.scores.as_ref().map(|s| s.calinski_harabasz)),
        ),
        (
            "Davies–Bouldin (lower is better)",
            o.kmeans.scores.as_ref().map(|s| s.davies_bouldin),
            g.and_then(|p| p.scores.as_ref().map(|s| s.davies_bouldin)),
        ),
    ];
    for (name, a, b) in rows {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{name}</td><td>{}</td><td>{}</td></tr>",
            fmt_opt(a, 4),
            fmt_opt(b, 4)
        );
    }
    if let Some(ari) = o.ari {
        let _ = write!(
            h,
            "<tr><td class=\"l\">adjusted Rand index, K-means vs mixture</td><td colspan=\"2\">{ari:.4}</td></tr>"
        );
    }
    let _ = writeln!(
        h,
        "<tr><td class=\"l\">cluster sizes</td><td colspan=\"2\">{}</td></tr></table>",
        o.kmeans
            .counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    figure(
        &mut h,
        plots,
        "silhouette.svg",
        "Silhouette plot: each cluster's values sorted as a band; the dashed line is the mean.",
    );
    figure(
        &mut h,
        plots,
        "kmeans.svg",
        "Rows coloured by K-means cluster; crosses are the centres.",
    );

    // Mixtures.
    if let Some(gm) = o.gmm_model() {
        let _ = write!(
            h,
            "<h2>Gaussian mixtures by BIC</h2><p>Lowest BIC: <b>{} covariance, k = {}</b> (BIC {:.2}).</p>",
            gm.covariance_type().name(),
            gm.k(),
            gm.bic()
        );
        let per = o
            .per_type
            .iter()
            .map(|(c, k, b)| format!("{} k = {k} (BIC {b:.2})", c.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            h,
            "<p>Lowest BIC per covariance type: {per}.{}</p>",
            if gm.k() == c.k {
                String::new()
            } else {
                format!(
                    " The lowest BIC has {} components, not the chosen {}: BIC weighs the fit of Gaussian shapes against their parameters, and each covariance type above shows what that family prefers.",
                    gm.k(),
                    c.k
                )
            }
        );
        figure(
            &mut h,
            plots,
            "bic.svg",
            &format!(
                "BIC (solid) and AIC (dashed) by covariance type (best of {} EM run(s) each, at most {} iterations; lower is better).",
                plan.gmm_n_init, plan.gmm_max_iter
            ),
        );
        figure(
            &mut h,
            plots,
            "gmm.svg",
            "Rows coloured by most likely component, with each component's 1σ (solid) and 2σ (dashed) ellipse.",
        );
        let _ = write!(
            h,
            "<h3>All mixtures</h3><table><tr><th>covariance</th><th>k</th><th>BIC</th><th>AIC</th></tr>"
        );
        for (i, cand) in o.candidates.iter().enumerate() {
            let fmt = |v: Option<f64>| v.map_or("failed".to_string(), |v| format!("{v:.2}"));
            let b = if Some(i) == o.best_gmm {
                " style=\"font-weight:bold\""
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr{b}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cand.covariance.name(),
                cand.k,
                fmt(cand.bic()),
                fmt(cand.aic())
            );
        }
        h.push_str("</table>\n");
    } else if plan.covariances.is_empty() {
        h.push_str("<h2>Gaussian mixtures</h2><p>Not fitted (no covariance type, or the cosine metric).</p>\n");
    } else {
        h.push_str("<h2>Gaussian mixtures</h2><p>Every mixture fit failed (see the JSON summary for the reasons).</p>\n");
    }

    // Timings and commands.
    h.push_str("<h2>Timings</h2><table><tr><th>step</th><th>seconds</th></tr>");
    for (step, t) in &o.timings {
        let _ = write!(h, "<tr><td class=\"l\">{step}</td><td>{t:.3}</td></tr>");
    }
    let total: f64 = o.timings.iter().map(|t| t.1).sum();
    let _ = write!(
        h,
        "<tr><td class=\"l\"><b>total</b></td><td><b>{total:.3}</b></td></tr></table>\n<h2>Reproduce</h2><p>Each model and sweep of this page, as one command (same seed, same numbers):</p><pre>"
    );
    for (what, cmd) in &o.commands {
        let _ = writeln!(h, "# {}\n{}", html_escape(what), html_escape(cmd));
    }
    let _ = write!(
        h,
        "</pre>\n<p style=\"color:#777;font-size:12px\">Generated by <code>{}</code> (seed {seed}). The plots are also saved beside this page as files (.svg, or .png with --format png).</p></body></html>\n",
        html_escape(&subject.made_by)
    );
    h
}

/// Text for HTML content and attribute values.
pub(super) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

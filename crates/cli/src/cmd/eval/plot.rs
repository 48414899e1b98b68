//! Plots as small hand-written SVG: no font files, no system libraries, text as
//! `<text>` elements the browser renders (a PNG is this SVG rendered with a
//! bundled font, see `png.rs`). (The `plotters` crate was the
//! alternative; for five kinds of chart, plain SVG is less code to trust and
//! builds nothing.)

use std::fmt::Write;

/// Colours of clusters and series (matplotlib's tab10).
pub(crate) const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

pub(crate) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// "Nice" tick positions covering [lo, hi]; whole numbers only with
/// `integer` (an axis of k: no tick at k = 2.5).
fn ticks(lo: f64, hi: f64, integer: bool) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-300);
    let raw = span / 6.0;
    let mut mag = 10f64.powf(raw.log10().floor());
    if integer {
        mag = mag.max(1.0);
    }
    let steps: &[f64] = if integer {
        &[1.0, 2.0, 5.0, 10.0]
    } else {
        &[1.0, 2.0, 2.5, 5.0, 10.0]
    };
    let step = steps
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 7.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }
}

/// Pads a data range by 5 % (and widens an empty one).
pub(crate) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// A chart being drawn: a frame with axes, ticks, labels and a title.
#[derive(Debug)]
pub(crate) struct Chart {
    body: String,
    legend: Vec<(String, String, bool)>,
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Chart {
    pub(crate) fn new(
        title: &str,
        xlabel: &str,
        ylabel: &str,
        x: (f64, f64),
        y: (f64, f64),
    ) -> Self {
        Chart::with_ticks(title, xlabel, ylabel, x, y, false)
    }

    /// [`Chart::new`], with ticks on whole numbers only along x when
    /// `integer_x`.
    pub(crate) fn with_ticks(
        title: &str,
        xlabel: &str,
        ylabel: &str,
        x: (f64, f64),
        y: (f64, f64),
        integer_x: bool,
    ) -> Self {
        let mut c = Chart {
            body: String::new(),
            legend: Vec::new(),
            w: 640.0,
            h: 420.0,
            left: 78.0,
            right: 20.0,
            top: 40.0,
            bottom: 56.0,
            x,
            y,
        };
        let (l, r, t, b) = (c.left, c.w - c.right, c.top, c.h - c.bottom);
        let _ = write!(
            c.body,
            r##"<rect x="0" y="0" width="{}" height="{}" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"##,
            c.w,
            c.h,
            c.w / 2.0,
            esc(title)
        );
        for tx in ticks(x.0, x.1, integer_x) {
            let px = c.px(tx);
            let _ = write!(
                c.body,
                r##"<line x1="{px:.1}" y1="{t}" x2="{px:.1}" y2="{b}" stroke="#e5e5e5"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"##,
                b + 15.0,
                fmt_tick(tx)
            );
        }
        for ty in ticks(y.0, y.1, false) {
            let py = c.py(ty);
            let _ = write!(
                c.body,
                r##"<line x1="{l}" y1="{py:.1}" x2="{r}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                l - 5.0,
                py + 4.0,
                fmt_tick(ty)
            );
        }
        let _ = write!(
            c.body,
            r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text><text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle" font-size="13">{}</text>"##,
            r - l,
            b - t,
            (l + r) / 2.0,
            c.h - 14.0,
            esc(xlabel),
            (t + b) / 2.0,
            esc(ylabel)
        );
        c
    }

    pub(crate) fn px(&self, x: f64) -> f64 {
        let (a, b) = self.x;
        self.left + (x - a) / (b - a) * (self.w - self.left - self.right)
    }

    pub(crate) fn py(&self, y: f64) -> f64 {
        let (a, b) = self.y;
        self.h - self.bottom - (y - a) / (b - a) * (self.h - self.top - self.bottom)
    }

    fn path_d(&self, pts: &[(f64, f64)]) -> String {
        let mut d = String::new();
        for (i, &(x, y)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                self.px(x),
                self.py(y)
            );
        }
        d
    }

    /// A line through `pts` (data coordinates).
    pub(crate) fn line(&mut self, pts: &[(f64, f64)], colour: &str, width: f64, dashed: bool) {
        let dash = if dashed {
            r#" stroke-dasharray="6,4""#
        } else {
            ""
        };
        let d = self.path_d(pts);
        let _ = write!(
            self.body,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}/>"#
        );
    }

    /// A filled polygon.
    pub(crate) fn polygon(&mut self, pts: &[(f64, f64)], colour: &str, opacity: f64) {
        let d = self.path_d(pts);
        let _ = write!(
            self.body,
            r#"<path d="{d}Z" fill="{colour}" fill-opacity="{opacity}" stroke="{colour}" stroke-width="0.5"/>"#
        );
    }

    /// Round markers.
    pub(crate) fn points(&mut self, pts: &[(f64, f64)], colour: &str, r: f64, opacity: f64) {
        let _ = write!(self.body, r#"<g fill="{colour}" fill-opacity="{opacity}">"#);
        for &(x, y) in pts {
            let _ = write!(
                self.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}"/>"#,
                self.px(x),
                self.py(y)
            );
        }
        self.body.push_str("</g>");
    }

    /// A cross marker with a white halo (cluster centres).
    pub(crate) fn cross(&mut self, x: f64, y: f64, colour: &str) {
        let (cx, cy) = (self.px(x), self.py(y));
        for (stroke, w) in [("white", 5.0), (colour, 2.5)] {
            let _ = write!(
                self.body,
                r#"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{stroke}" stroke-width="{w}"/>"#,
                cx - 7.0,
                cy - 7.0,
                cx + 7.0,
                cy + 7.0,
                cx - 7.0,
                cy + 7.0,
                cx + 7.0,
                cy - 7.0
            );
        }
    }

    /// A ring around a point, with a note beside it.
    pub(crate) fn mark(&mut self, x: f64, y: f64, note: &str) {
        let (cx, cy) = (self.px(x), self.py(y));
        let _ = write!(
            self.body,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="9" fill="none" stroke="#d62728" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#d62728">{}</text>"##,
            cx + 12.0,
            cy - 10.0,
            esc(note)
        );
    }

    /// Text at a data position.
    pub(crate) fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" font-size="11">{}</text>"#,
            self.px(x),
            self.py(y) + 4.0,
            esc(s)
        );
    }

    /// An entry of the legend (top right): a line or a dot.
    pub(crate) fn legend(&mut self, label: &str, colour: &str, dashed: bool) {
        self.legend
            .push((label.to_string(), colour.to_string(), dashed));
    }

    /// The SVG document.
    pub(crate) fn finish(mut self) -> String {
        if !self.legend.is_empty() {
            let width = 30.0
                + 7.0
                    * self
                        .legend
                        .iter()
                        .map(|l| l.0.chars().count())
                        .max()
                        .unwrap_or(0) as f64;
            let x0 = self.w - self.right - width - 8.0;
            let y0 = self.top + 8.0;
            let _ = write!(
                self.body,
                r##"<rect x="{x0:.1}" y="{y0:.1}" width="{width:.1}" height="{:.1}" fill="white" fill-opacity="0.85" stroke="#999"/>"##,
                8.0 + 18.0 * self.legend.len() as f64
            );
            for (i, (label, colour, dashed)) in self.legend.iter().enumerate() {
                let y = y0 + 16.0 + 18.0 * i as f64;
                let dash = if *dashed {
                    r#" stroke-dasharray="5,3""#
                } else {
                    ""
                };
                let _ = write!(
                    self.body,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
                    x0 + 6.0,
                    y - 4.0,
                    x0 + 22.0,
                    y - 4.0,
                    x0 + 27.0,
                    y,
                    esc(label)
                );
            }
        }
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">{}</svg>
"#,
            self.body,
            w = self.w,
            h = self.h
        )
    }
}

/// One named curve over x values; `None` where a value is missing (a failed fit).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) ys: Vec<Option<f64>>,
    pub(crate) dashed: bool,
    /// Index into [`PALETTE`].
    pub(crate) colour: usize,
}

/// Curves over k (elbow, BIC/AIC, silhouette by k), with an optional marked point.
pub(crate) fn curves(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    xs: &[f64],
    series: &[Series],
    mark: Option<(f64, f64, String)>,
) -> String {
    let vals = series.iter().flat_map(|s| s.ys.iter().flatten().copied());
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let xr = padded(
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    // Curves over k: ticks on whole numbers when every x is one.
    let integer_x = xs.iter().all(|x| x.fract() == 0.0);
    let mut c = Chart::with_ticks(title, xlabel, ylabel, xr, padded(lo, hi), integer_x);
    for s in series {
        let col = colour(s.colour);
        let pts: Vec<(f64, f64)> = xs
            .iter()
            .zip(&s.ys)
            .filter_map(|(&x, y)| y.map(|y| (x, y)))
            .collect();
        c.line(&pts, col, 2.0, s.dashed);
        c.points(&pts, col, 3.5, 1.0);
        if series.len() > 1 {
            c.legend(&s.name, col, s.dashed);
        }
    }
    if let Some((x, y, note)) = mark {
        c.mark(x, y, &note);
    }
    c.finish()
}

/// The classic silhouette plot: each cluster's values sorted as a band, the
/// mean as a dashed line.
pub(crate) fn silhouette(
    title: &str,
    values: &[f64],
    codes: &[u32],
    k: usize,
    mean: f64,
) -> String {
    let lo = values.iter().copied().fold(-0.1, f64::min);
    let gap = (values.len() as f64 * 0.02).max(2.0);
    let total = values.len() as f64 + gap * (k as f64 + 1.0);
    let mut c = Chart::new(
        title,
        "silhouette value",
        "rows, by cluster (sorted)",
        (lo - 0.1, 1.0),
        (0.0, total),
    );
    let mut y = gap;
    for j in 0..k {
        let mut v: Vec<f64> = values
            .iter()
            .zip(codes)
            .filter(|&(_, &c)| c as usize == j)
            .map(|(&v, _)| v)
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(|a, b| b.total_cmp(a));
        // At most 400 vertices per band: quantiles of the sorted values.
        let m = v.len();
        let step = m.div_ceil(400).max(1);
        let mut pts = vec![(0.0, y)];
        for (i, &s) in v.iter().enumerate().step_by(step) {
            pts.push((s, y + i as f64));
        }
        pts.push((v[m - 1], y + m as f64));
        pts.push((0.0, y + m as f64));
        c.polygon(&pts, colour(j), 0.75);
        c.text(lo - 0.05, y + m as f64 / 2.0, &j.to_string(), "middle");
        y += m as f64 + gap;
    }
    c.line(&[(mean, 0.0), (mean, total)], "#d62728", 1.5, true);
    c.line(&[(0.0, 0.0), (0.0, total)], "#333", 1.0, false);
    c.legend(&format!("mean {mean:.3}"), "#d62728", true);
    c.finish()
}

/// A Gaussian drawn as its 1σ and 2σ ellipses: mean and 2 × 2 covariance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ellipse {
    pub(crate) mean: [f64; 2],
    pub(crate) cov: [f64; 4],
}

fn ellipse_points(e: &Ellipse, radius: f64) -> Vec<(f64, f64)> {
    let [a, b, _, c] = e.cov;
    let half = (a + c) / 2.0;
    let disc = (((a - c) / 2.0).powi(2) + b * b).sqrt();
    let (l1, l2) = ((half + disc).max(0.0), (half - disc).max(0.0));
    let theta = 0.5 * (2.0 * b).atan2(a - c);
    let (ct, st) = (theta.cos(), theta.sin());
    (0..=72)
        .map(|i| {
            let t = i as f64 / 72.0 * std::f64::consts::TAU;
            let (u, v) = (radius * l1.sqrt() * t.cos(), radius * l2.sqrt() * t.sin());
            (e.mean[0] + u * ct - v * st, e.mean[1] + u * st + v * ct)
        })
        .collect()
}

/// Points coloured by cluster, centres as crosses, Gaussians as ellipses.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scatter(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    pts: &[[f64; 2]],
    codes: &[u32],
    centres: &[[f64; 2]],
    ellipses: &[Ellipse],
    note: &str,
) -> String {
    let mut xs: Vec<f64> = pts.iter().map(|p| p[0]).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p[1]).collect();
    for e in ellipses {
        for (x, y) in ellipse_points(e, 2.0) {
            xs.push(x);
            ys.push(y);
        }
    }
    let r = |v: &[f64]| {
        padded(
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let mut c = Chart::new(title, xlabel, ylabel, r(&xs), r(&ys));
    let k = centres
        .len()
        .max(ellipses.len())
        .max(codes.iter().map(|&c| c as usize + 1).max().unwrap_or(0));
    for j in 0..k {
        let p: Vec<(f64, f64)> = pts
            .iter()
            .zip(codes)
            .filter(|&(_, &c)| c as usize == j)
            .map(|(p, _)| (p[0], p[1]))
            .collect();
        c.points(&p, colour(j), 2.5, 0.6);
        c.legend(&format!("cluster {j}"), colour(j), false);
    }
    for (j, e) in ellipses.iter().enumerate() {
        c.line(&ellipse_points(e, 1.0), colour(j), 2.0, false);
        c.line(&ellipse_points(e, 2.0), colour(j), 1.5, true);
    }
    for (j, m) in centres.iter().enumerate() {
        c.cross(m[0], m[1], colour(j));
    }
    if !note.is_empty() {
        let (x0, y0) = (c.x.0, c.y.0);
        let _ = x0;
        let _ = y0;
        let _ = write!(
            c.body,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
            c.left + 6.0,
            c.h - c.bottom - 6.0,
            esc(note)
        );
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0, false);
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert_eq!(t.len(), want.len());
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        // An axis of k from 2 to 3, padded: whole numbers only.
        assert_eq!(ticks(1.95, 3.05, true), [2.0, 3.0]);
        assert_eq!(ticks(0.55, 10.45, true), [2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(1.95, 3.05, false).len(), 6);
        let svg = curves(
            "t <1>",
            "k",
            "SSE",
            &[1.0, 2.0],
            &[Series {
                name: "a".into(),
                ys: vec![Some(2.0), None],
                dashed: false,
                colour: 0,
            }],
            None,
        );
        assert!(svg.starts_with("<svg") && svg.contains("t &lt;1&gt;"));
    }
}

//! Plot files as SVG or PNG, chosen by the extension of `--plot-out`; the PNG
//! is our own SVG rasterised by `resvg`.
//!
//! A bare machine (a container, a CI runner) may have no font at all, so text
//! would vanish, and two machines with different fonts would give different
//! PNGs. The renderer therefore sees one font only: DejaVu Sans, compiled into
//! the binary (`crates/cli/assets/fonts/`, its licence beside it), never the
//! system's. Every family a plot can name (`DejaVu Sans, Helvetica, Arial,
//! sans-serif`) and every generic family resolve to it; titles asked in bold
//! are drawn with the regular face (resvg does not embolden). The same binary
//! gives the same PNG bytes on every machine.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

use crate::fail::usage;

/// Pixels per SVG unit in a PNG: a 640 × 420 plot becomes 1280 × 840 pixels,
/// sharp on high-density screens and in slides.
pub(crate) const PNG_SCALE: f32 = 2.0;

/// DejaVu Sans 2.37, as Debian's fonts-dejavu-core ships it.
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FONT_FAMILY: &str = "DejaVu Sans";

/// What `--plot-out` accepts, for messages.
const ACCEPTED: &str =
    "expected a file name ending in .svg or .png (the extension chooses the format)";

/// The format of a plot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// The format named by the extension of `path` (either case), or `None`.
    pub(crate) fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?;
        if ext.eq_ignore_ascii_case("svg") {
            Some(Self::Svg)
        } else if ext.eq_ignore_ascii_case("png") {
            Some(Self::Png)
        } else {
            None
        }
    }
}

/// The value parser of every `--plot-out`: a path ending in `.svg` or `.png`.
/// Any other extension is refused while the command line is parsed (clap
/// names the flag; exit 2), before any file is opened or any model fitted.
pub(crate) fn plot_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match PlotFormat::of(&path) {
        Some(_) => Ok(path),
        None => Err(ACCEPTED.to_string()),
    }
}

/// Writes a plot to `path` as SVG or PNG by its extension, atomically and
/// refusing to overwrite `inputs`; under MPI rank 0 alone renders and writes
/// it (every rank drew the same SVG).
pub(crate) fn write_plot(path: &Path, inputs: &[&Path], svg: &str) -> Result<()> {
    let format = PlotFormat::of(path)
        .ok_or_else(|| usage(format!("--plot-out {}: {ACCEPTED}", path.display())))?;
    if !crate::dist::is_root() {
        return Ok(());
    }
    let png;
    let bytes = match format {
        PlotFormat::Svg => svg.as_bytes(),
        PlotFormat::Png => {
            png = render_png(svg)
                .with_context(|| format!("--plot-out {}: rendering the PNG", path.display()))?;
            &png
        }
    };
    mmclust_core::output::write_atomic(path, inputs, bytes)?;
    Ok(())
}

/// Rasterises `svg` at [`PNG_SCALE`] pixels per unit on an opaque white
/// background, with the bundled font, and encodes it as PNG (8-bit RGBA).
pub(crate) fn render_png(svg: &str) -> Result<Vec<u8>> {
    let tree = usvg::Tree::from_str(svg, options()).context("parsing our own SVG")?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(PNG_SCALE)
        .ok_or_else(|| anyhow!("the plot has no area"))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| anyhow!("a {}×{} image is too large", size.width(), size.height()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap.encode_png()?)
}

/// The renderer's options, built once: a font database holding the bundled
/// font alone, every generic family mapped to it, and no `<image>` loading
/// (our plots have none; nothing is read from disk while rendering).
fn options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut opt = usvg::Options {
            font_family: FONT_FAMILY.to_string(),
            image_href_resolver: usvg::ImageHrefResolver {
                resolve_data: Box::new(|_, _, _| None),
                resolve_string: Box::new(|_, _| None),
            },
            ..usvg::Options::default()
        };
        let db = opt.fontdb_mut();
        db.load_font_source(fontdb::Source::Binary(std::sync::Arc::new(FONT)));
        db.set_serif_family(FONT_FAMILY);
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_cursive_family(FONT_FAMILY);
        db.set_fantasy_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        opt
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width, height and RGBA pixels of a PNG.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Rgba);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Pixels that are not the white background.
    fn inked(rgba: &[u8]) -> usize {
        rgba.chunks_exact(4)
            .filter(|p| p[..3] != [255, 255, 255])
            .count()
    }

    fn svg(family: &str, body: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 50" width="200" height="50" font-family="{family}">{body}</svg>"#
        )
    }

    const TEXT: &str = r#"<text x="10" y="30" font-size="16">k = 3 · 0.5</text>"#;

    #[test]
    fn png_signature_and_size_are_the_svg_scaled() {
        let bytes = render_png(&svg("sans-serif", TEXT)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // The first chunk is IHDR: width and height, big-endian.
        assert_eq!(&bytes[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 400);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 100);
        let (w, h, px) = decode(&bytes);
        assert_eq!((w, h), (400, 100));
        // Opaque: the background is painted white, not left transparent.
        assert!(px.chunks_exact(4).all(|p| p[3] == 255));
    }

    #[test]
    fn text_is_drawn_with_the_bundled_font() {
        let (_, _, with) = decode(&render_png(&svg("sans-serif", TEXT)).unwrap());
        let (_, _, without) = decode(&render_png(&svg("sans-serif", "")).unwrap());
        assert_eq!(inked(&without), 0, "an empty plot has no ink");
        assert!(
            inked(&with) > 200,
            "the text left {} inked pixels",
            inked(&with)
        );
    }

    #[test]
    fn every_family_resolves_to_the_bundled_font() {
        let reference = render_png(&svg(FONT_FAMILY, TEXT)).unwrap();
        assert!(inked(&decode(&reference).2) > 200);
        for family in [
            "DejaVu Sans, Helvetica, Arial, sans-serif",
            "Helvetica",
            "serif",
            "monospace",
            "cursive",
            "fantasy",
        ] {
            assert_eq!(
                render_png(&svg(family, TEXT)).unwrap(),
                reference,
                "font-family {family}"
            );
        }
        // No font-family at all: the default family is the bundled font too.
        let bare = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 50" width="200" height="50">"#;
        assert_eq!(
            render_png(&format!("{bare}{TEXT}</svg>")).unwrap(),
            reference
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let chart = super::super::plot::curves(
            "Elbow",
            "k",
            "SSE",
            &[1.0, 2.0, 3.0, 4.0],
            &[super::super::plot::Series {
                name: "SSE".into(),
                ys: vec![Some(10.0), Some(4.0), Some(3.0), Some(2.5)],
                dashed: false,
                colour: 0,
            }],
            Some((2.0, 4.0, "knee: k = 2".into())),
        );
        let a = render_png(&chart).unwrap();
        let b = render_png(&chart).unwrap();
        assert_eq!(a, b);
        let (w, h, px) = decode(&a);
        assert_eq!((w, h), (1280, 840));
        assert!(inked(&px) > 1000);
    }

    #[test]
    fn the_extension_chooses_the_format() {
        assert_eq!(PlotFormat::of(Path::new("a/b.svg")), Some(PlotFormat::Svg));
        assert_eq!(PlotFormat::of(Path::new("b.PNG")), Some(PlotFormat::Png));
        assert_eq!(PlotFormat::of(Path::new("b.jpg")), None);
        assert_eq!(PlotFormat::of(Path::new("png")), None);
        assert!(plot_path("x.png").is_ok());
        let e = plot_path("x.pdf").unwrap_err();
        assert!(e.contains(".svg") && e.contains(".png"), "{e}");
    }
}

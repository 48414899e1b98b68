//! The judging and choosing commands on real files: `demo`, `elbow`,
//! `silhouette`, `gmm-select`, `scores`; their outputs and their input errors.

mod common;

use std::path::PathBuf;

use common::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("crates/eval/tests/fixtures").join(name)
}

fn expected() -> serde_json::Value {
    read_json(&fixture("eval_fixtures.json"))
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-6 * want.abs(), "{got} vs {want}");
}

#[test]
fn demo_writes_a_report_from_any_folder_and_picks_two() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["demo", "--json", "--quiet"])
        .output()
        .unwrap();
    let j = json(&o);
    assert_eq!(j["chosen_k"], 2);
    assert_eq!(j["elbow"]["knee"], 2);
    let index = dir.path().join("report/index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("<svg") && html.contains("k = 2"));
    // Self-contained: no scripts, styles or images fetched from the network.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    for f in [
        "elbow.svg",
        "silhouette.svg",
        "silhouette_by_k.svg",
        "bic.svg",
        "kmeans.svg",
        "gmm.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join("report").join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
    }
    // Plain text: a short summary naming the chosen k.
    let o = bin()
        .current_dir(dir.path())
        .args(["demo", "--out", "r2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("chosen k = 2"));
}

#[test]
fn elbow_finds_the_knee_and_checks_its_range() {
    let (_dir, [plot]) = temp_paths(["elbow.svg"]);
    let j = json(&run_on_faithful_z(
        "elbow",
        &["--k", "1..=8", "--plot-out", s(&plot)],
    ));
    assert_eq!(j["knee"], 2);
    assert_eq!(j["sse"].as_array().unwrap().len(), 8);
    assert_file_contains(&plot, "knee: k = 2");
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "5..=2"]), "empty");
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "0..=3"]), "k ≥ 1");
    assert_input_error(
        &run(&["elbow", s(&faithful()), "--k", "1..=300"]),
        "272 rows",
    );
    assert_input_error(&run(&["elbow", s(&faithful()), "--k", "two"]), "--k");
}

#[test]
fn silhouette_matches_sklearn_on_any_thread_count() {
    let want = expected()["cases"]["blobs"]["silhouette_score"]
        .as_f64()
        .unwrap();
    let x = fixture("blobs_x.npy");
    let l = fixture("blobs_labels.npy");
    let one = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--threads",
        "1",
    ]));
    let two = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--threads",
        "2",
        "--working-memory",
        "1",
    ]));
    close(one["silhouette"].as_f64().unwrap(), want);
    assert_eq!(one["silhouette"], two["silhouette"]);
    assert_eq!(one["clusters"], two["clusters"]);
    let est = json(&run(&[
        "silhouette",
        s(&x),
        s(&l),
        "--json",
        "--sample",
        "200",
    ]));
    let se = est["std_error"].as_f64().unwrap();
    assert!((est["silhouette"].as_f64().unwrap() - want).abs() < 5.0 * se);

    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("s.svg");
    run_ok(&["silhouette", s(&x), s(&l), "--plot-out", s(&plot)]);
    assert_file_contains(&plot, "mean 0.526");

    let sweep = json(&run_on_faithful_z("silhouette", &["--k", "2..=4"]));
    assert_eq!(sweep["best_k"], 2);
}

#[test]
fn silhouette_input_errors_exit_2() {
    let x = fixture("blobs_x.npy");
    let short = fixture("faithful_labels.npy");
    assert_input_error(
        &run(&["silhouette", s(&x), s(&short)]),
        "272 labels for the 600 rows",
    );
    assert_input_error(&run(&["silhouette", s(&x)]), "LABELS");
    assert_input_error(
        &run(&["silhouette", s(&faithful()), "--k", "1..=3"]),
        "k ≥ 2",
    );
    assert_input_error(
        &run(&[
            "silhouette",
            s(&x),
            s(&fixture("blobs_labels.npy")),
            "--sample",
            "0",
        ]),
        "--sample",
    );
    assert_input_error(&run(&["silhouette", s(&x), s(&x)]), "1-D");
}

#[test]
fn scores_match_sklearn_with_truth() {
    let c = &expected()["cases"]["blobs"];
    let (x, labels) = (fixture("blobs_x.npy"), fixture("blobs_labels.npy"));
    let with_truth = |truth: &str, extra: &[&str]| {
        let truth = fixture(truth);
        run(&[
            &["scores", s(&x), s(&labels), "--truth", s(&truth)][..],
            extra,
        ]
        .concat())
    };
    let j = json(&with_truth("blobs_truth.npy", &["--json"]));
    for (ours, theirs) in [
        ("silhouette", "silhouette_score"),
        ("calinski_harabasz", "calinski_harabasz"),
        ("davies_bouldin", "davies_bouldin"),
        ("adjusted_rand", "adjusted_rand"),
        ("nmi", "nmi"),
    ] {
        close(j[ours].as_f64().unwrap(), c[theirs].as_f64().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.npy");
    std::fs::write(
        &one,
        npy_bytes("<i4", false, "(600,)", &i32_bytes(&[3; 600])),
    )
    .unwrap();
    assert_input_error(&run(&["scores", s(&x), s(&one)]), "1 distinct label");
    assert_input_error(
        &with_truth("odd_truth.npy", &[]),
        "300 labels for the 600 rows",
    );
}

#[test]
fn gmm_select_prefers_two_full_components_on_old_faithful() {
    let (_dir, [plot]) = temp_paths(["bic.svg"]);
    let j = json(&run_on_faithful_z(
        "gmm-select",
        &[
            "--k",
            "1..=4",
            "--covariance",
            "full",
            "--plot-out",
            s(&plot),
        ],
    ));
    assert_eq!(j["best"]["k"], 2);
    assert_eq!(j["candidates"].as_array().unwrap().len(), 4);
    assert_file_contains(&plot, "lowest BIC");
    assert_input_error(
        &run(&[
            "gmm-select",
            s(&faithful()),
            "--k",
            "1..=3",
            "--covariance",
            "full,round",
        ]),
        "round",
    );
    assert_input_error(
        &run(&["gmm-select", s(&faithful()), "--k", "3..=1"]),
        "empty",
    );
}

/// Width, height and RGBA pixels of a PNG file, checking its signature.
fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgba, png::BitDepth::Eight)
    );
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels of the box `[x0, x1) × [y0, y1)` that `keep` accepts.
fn count_pixels(
    (w, rgba): (u32, &[u8]),
    (x0, x1, y0, y1): (u32, u32, u32, u32),
    keep: impl Fn(&[u8]) -> bool,
) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| ((y * w + x) * 4) as usize))
        .filter(|&i| keep(&rgba[i..i + 4]))
        .count()
}

#[test]
fn elbow_plot_as_png_has_its_curve_and_its_text() {
    let (_dir, [a, b]) = temp_paths(["elbow.png", "again.PNG"]);
    for p in [&a, &b] {
        json(&run_on_faithful_z(
            "elbow",
            &["--k", "1..=8", "--plot-out", s(p)],
        ));
    }
    // The same bytes from two runs (and the same on any machine: one font,
    // the bundled one).
    assert_same_bytes(&a, &b);
    let (w, h, px) = read_png(&a);
    // The 640 × 420 chart at 2 pixels per unit.
    assert_eq!((w, h), (1280, 840));
    assert!(px.chunks_exact(4).all(|p| p[3] == 255), "opaque");
    // Inside the frame (units 78..620 × 40..364, less its border): the SSE
    // curve in the first palette colour (#1f77b4), not only grey grid lines.
    let blue = |p: &[u8]| p[2] > 150 && p[0] < 120 && p[2] as i32 - p[0] as i32 > 60;
    let curve = count_pixels((w, &px), (160, 1236, 84, 724), blue);
    assert!(curve > 1000, "{curve} curve pixels inside the plot area");
    // The title band above the frame holds text only: dark glyph pixels,
    // drawn with the bundled font (no font on the machine is needed).
    let dark = |p: &[u8]| p[0] < 128 && p[1] < 128 && p[2] < 128;
    let title = count_pixels((w, &px), (0, w, 0, 70), dark);
    assert!(title > 500, "{title} dark pixels in the title band");
}

#[test]
fn every_plot_out_takes_svg_or_png_and_refuses_other_extensions_before_work() {
    let (dir, [svg, png]) = temp_paths(["bic.svg", "bic.png"]);
    for p in [&svg, &png] {
        json(&run_on_faithful_z(
            "gmm-select",
            &["--k", "1..=2", "--covariance", "full", "--plot-out", s(p)],
        ));
    }
    assert_file_contains(&svg, "lowest BIC");
    assert_eq!(read_png(&png).0, 1280);
    // The data file does not exist: the extension is refused first, while
    // the command line is parsed, so nothing is opened or computed.
    let missing = dir.path().join("no-such-data.npy");
    let plot = dir.path().join("plot.jpg");
    let data = s(&missing);
    for cmd in [
        &["elbow", data, "--k", "1..=3"][..],
        &["silhouette", data, "--k", "2..=3"],
        &["gmm-select", data, "--k", "1..=3"],
        &["scores", data, data],
    ] {
        let o = run(&[cmd, &["--plot-out", s(&plot)][..]].concat());
        assert_input_error(&o, "--plot-out");
        let err = stderr(&o);
        assert!(err.contains(".svg") && err.contains(".png"), "{err}");
        assert!(!err.contains("no-such-data"), "{err}");
        assert!(!plot.exists());
    }
}

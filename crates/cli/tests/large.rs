//! Sizes past 32 bits: a matrix of more than 2³¹ elements, and a run where
//! n·k (distance evaluations per pass) is more than 2³¹.
//!
//! The first test is `#[ignore]`d (minutes); run it with `-- --ignored`.
//! The big file is sparse (`set_len` over a hole), so it costs no disk: all
//! zero except a few rows written at chosen offsets, one of them past row
//! 2³¹, and the expected counts and means follow from those rows alone.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use common::*;

/// One Lloyd iteration on `data` from `init` (a file or a method), writing
/// the centres to `centres` and, with `extra`, more; the `--json` summary.
fn one_lloyd_iteration(
    data: &Path,
    k: usize,
    init: &str,
    centres: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let k = k.to_string();
    let mut list = vec![
        "kmeans",
        s(data),
        "-k",
        &k,
        "--init",
        init,
        "--max-iter",
        "1",
    ];
    list.extend(["--algorithm", "lloyd", "--centers-out", s(centres)]);
    list.extend(extra);
    list.extend(["--json", "--quiet"]);
    json(&run(&list))
}

// About 3 minutes on the 2-core development VM (five passes over 2 GiB):
// over the suite's budget, so run on demand:
// `cargo test --profile ci -p mmclust-cli --test large -- --ignored`.
#[test]
#[ignore = "slow: five passes over 2^31 + 1000 rows; run with --ignored"]
fn a_matrix_of_more_than_2_pow_31_elements() {
    let n: u64 = (1 << 31) + 1000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse_u8.npy");
    let header = npy_bytes("|u1", false, &format!("({n}, 1)"), &[]);
    let offset = header.len() as u64;
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&header).unwrap();
    f.set_len(offset + n).unwrap();
    // (row, value): the first row, one past 2^31, the last.
    let marks: [(u64, u8); 3] = [(0, 10), ((1 << 31) + 7, 150), (n - 1, 200)];
    for (row, value) in marks {
        f.seek(SeekFrom::Start(offset + row)).unwrap();
        f.write_all(&[value]).unwrap();
    }
    drop(f);

    let info = json(&run(&["info", s(&path), "--stats", "--json", "--quiet"]));
    assert_eq!(info["file"]["rows"].as_u64(), Some(n), "{info}");
    let col = &info["stats"]["columns"][0];
    assert_eq!(col["count"].as_u64(), Some(n), "{col}");
    let mean = col["mean"].as_f64().unwrap();
    let want = 360.0 / n as f64;
    assert!(
        (mean - want).abs() <= 1e-9 * want,
        "mean {mean}, expected {want}"
    );
    assert_eq!(col["max"].as_f64(), Some(200.0));
    assert_eq!(col["min"].as_f64(), Some(0.0));

    // One Lloyd iteration from centres 0 and 200: {0 rows, 10} and {150, 200}.
    let init = dir.path().join("init.npy");
    write_f32_npy(&init, 2, 1, &[0.0, 200.0]);
    let centres = dir.path().join("centres.npy");
    let km = one_lloyd_iteration(&path, 2, s(&init), &centres, &[]);
    assert_eq!(km["n"].as_u64(), Some(n));
    let c = read_f32_npy(&centres);
    let low = (10.0 / (n - 2) as f64) as f32;
    assert_eq!(c.len(), 2);
    assert!((c[0] - low).abs() <= 1e-6 * low, "{c:?}");
    assert_eq!(c[1], 175.0, "{c:?}");
    // Inertia about the final centres: every row's squared distance.
    let lo = f64::from(c[0]);
    let inertia = (n - 3) as f64 * lo * lo + (10.0 - lo).powi(2) + 2.0 * 25.0f64.powi(2);
    let got = km["inertia"].as_f64().unwrap();
    assert!(
        (got - inertia).abs() <= 1e-6 * inertia,
        "inertia {got}, expected {inertia}"
    );
}

#[test]
fn a_run_with_n_times_k_over_2_pow_31() {
    let n: usize = 1 << 22;
    let k: usize = 600;
    assert!((n * k) as u64 > 1 << 31);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid_u8.npy");
    let mut bytes = npy_bytes("|u1", false, &format!("({n}, 2)"), &[]);
    for i in 0..n {
        bytes.push((i % 251) as u8);
        bytes.push(((i / 251) % 241) as u8);
    }
    std::fs::write(&path, &bytes).unwrap();
    let (centres, labels) = (dir.path().join("c.npy"), dir.path().join("l.npy"));
    let km = one_lloyd_iteration(&path, k, "random", &centres, &["--labels-out", s(&labels)]);
    let evals = km["distance_evals"].as_u64().unwrap();
    assert!(
        evals >= (n * k) as u64,
        "{evals} distance evaluations, fewer than one pass"
    );
    assert_eq!(evals % (n * k) as u64, 0, "{evals}");
    let c = read_f32_npy(&centres);
    assert_eq!(c.len(), k * 2);
    let lbytes = std::fs::read(&labels).unwrap();
    let start = 10 + u16::from_le_bytes([lbytes[8], lbytes[9]]) as usize;
    let l: Vec<i32> = lbytes[start..]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(l.len(), n);
    let header_len = bytes.len() - 2 * n;
    let point = |i: usize| {
        [
            f64::from(bytes[header_len + 2 * i]),
            f64::from(bytes[header_len + 2 * i + 1]),
        ]
    };
    let dist = |p: [f64; 2], j: usize| {
        (p[0] - f64::from(c[2 * j])).powi(2) + (p[1] - f64::from(c[2 * j + 1])).powi(2)
    };
    // Exact inertia from the labels, and every label a valid cluster.
    let mut inertia = 0.0;
    for (i, &lab) in l.iter().enumerate() {
        assert!((0..k as i32).contains(&lab), "row {i}: label {lab}");
        inertia += dist(point(i), lab as usize);
    }
    let got = km["inertia"].as_f64().unwrap();
    assert!(
        (got - inertia).abs() <= 1e-6 * inertia,
        "inertia {got}, labels give {inertia}"
    );
    // Rows spread over the whole range, last ones included, get their
    // nearest centre.
    for i in (0..n).step_by(4099).chain(n - 3..n) {
        let p = point(i);
        let best = (0..k).map(|j| dist(p, j)).fold(f64::INFINITY, f64::min);
        let mine = dist(p, l[i] as usize);
        assert!(
            mine <= best * (1.0 + 1e-5) + 1e-4,
            "row {i}: label {} at {mine}, best {best}",
            l[i]
        );
    }
}

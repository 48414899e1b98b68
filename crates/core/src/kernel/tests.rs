//! The fast paths against `reference::assign_chunk`, on every path this
//! machine can run.
//!
//! Tolerances, stated once:
//! * labels: equal to the reference's, except on near-ties, where the chosen
//!   centre's exact distance is within `TIE_TOL · (‖x‖² + ‖c_ref‖² + ‖c_chosen‖²)`
//!   of the best (the fast formula's rounding is relative to those norms);
//! * distances: `dist_sq[i]` within `DIST_TOL` (relative) of the `f64` direct
//!   distance to the chosen centre.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const TIE_TOL: f64 = 2e-5;
const DIST_TOL: f64 = 2e-6;

fn norm_sq(v: &[f32]) -> f64 {
    v.iter().map(|&a| f64::from(a) * f64::from(a)).sum()
}

/// Every path this machine can run, with each forced loop order on the paths
/// that have several; the others are reported as skipped by `test`.
fn variants(test: &str) -> Vec<(Isa, Order)> {
    let mut out = Vec::new();
    for &isa in Isa::test_paths() {
        if !isa.run_or_skip(test) {
            continue;
        }
        out.push((isa, Order::Auto));
        if isa == Isa::Avx512 {
            out.push((isa, Order::Streamed));
            out.push((isa, Order::Resident));
        }
    }
    out
}

fn run(
    (path, order): (Isa, Order),
    x: &[f32],
    packed: &PackedCenters,
    scratch: &mut AssignScratch,
) -> (Vec<u32>, Vec<f32>) {
    let n = x.len() / packed.d();
    let mut labels = vec![u32::MAX; n];
    let mut dist = vec![f32::NAN; n];
    assign_chunk_order(path, order, x, packed, &mut labels, &mut dist, scratch);
    (labels, dist)
}

/// Checks `path`'s answer on `x` against the reference; `Err` says where not.
fn check_path(
    variant: (Isa, Order),
    x: &[f32],
    centers: &[f32],
    k: usize,
    d: usize,
) -> Result<(), String> {
    let path = variant;
    let n = x.len() / d;
    let packed = PackedCenters::new(centers, k, d).unwrap();
    let (labels, dist) = run(variant, x, &packed, &mut AssignScratch::new());
    let mut ref_labels = vec![0u32; n];
    let mut ref_dist = vec![0f32; n];
    reference::assign_chunk(x, centers, k, d, &mut ref_labels, &mut ref_dist);
    for i in 0..n {
        let row = &x[i * d..(i + 1) * d];
        let (got, want) = (labels[i] as usize, ref_labels[i] as usize);
        if got >= k {
            return Err(format!(
                "{path:?} row {i}: label {got} out of range (k = {k})"
            ));
        }
        let c = |j: usize| &centers[j * d..(j + 1) * d];
        let exact_got = reference::dist_sq(row, c(got));
        let exact_want = reference::dist_sq(row, c(want));
        if got != want {
            let slack = TIE_TOL * (norm_sq(row) + norm_sq(c(got)) + norm_sq(c(want)));
            if exact_got > exact_want + slack {
                return Err(format!(
                    "{path:?} row {i}: label {got} (dist {exact_got}) but {want} is nearer \
                     ({exact_want}), beyond the near-tie slack {slack}"
                ));
            }
        }
        let err = (f64::from(dist[i]) - exact_got).abs();
        if err > DIST_TOL * exact_got + 1e-30 || dist[i] < 0.0 {
            return Err(format!(
                "{path:?} row {i}: dist_sq {} but the exact distance to centre {got} is {exact_got}",
                dist[i]
            ));
        }
    }
    Ok(())
}

fn check_all(test: &str, x: &[f32], centers: &[f32], k: usize, d: usize) -> Result<(), String> {
    for variant in variants(test) {
        check_path(variant, x, centers, k, d)?;
    }
    Ok(())
}

fn random(n: usize, d: usize, scale: f32, offset: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d)
        .map(|_| offset + scale * rng.gen_range(-1.0f32..1.0))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Both AVX-512 loop orders do the same arithmetic per centre: same
    /// labels, same distances, bit for bit (k up to 300 covers every kind of
    /// last panel: full, 17–31, 9–16 and 1–8 centres).
    #[test]
    fn avx512_orders_agree_bitwise(
        n in 1usize..100,
        d in 5usize..80,
        k in 5usize..300,
        dup in any::<bool>(),
        seed in any::<u64>(),
    ) {
        if Isa::Avx512.run_or_skip("avx512_orders_agree_bitwise") {
            let x = random(n, d, 1.0, 0.0, seed);
            let mut c = random(k, d, 1.0, 0.0, seed ^ 1);
            if dup {
                // Exact ties across panels and lanes: centre j repeats j % 7.
                for j in 7..k {
                    for p in 0..d {
                        c[j * d + p] = c[(j % 7) * d + p];
                    }
                }
            }
            let packed = PackedCenters::new(&c, k, d).unwrap();
            let mut s = AssignScratch::new();
            let a = run((Isa::Avx512, Order::Streamed), &x, &packed, &mut s);
            let b = run((Isa::Avx512, Order::Resident), &x, &packed, &mut s);
            prop_assert_eq!(&a.0, &b.0);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&a.1), bits(&b.1));
        }
        let _ = (n, d, k, dup, seed);
    }

    #[test]
    fn every_path_matches_the_reference(
        n in 1usize..300,
        d in 1usize..200,
        k in 1usize..70,
        scale_exp in -3i32..4,
        offset in prop_oneof![Just(0.0f32), -50.0f32..50.0],
        seed in any::<u64>(),
    ) {
        let scale = 10f32.powi(scale_exp);
        let x = random(n, d, scale, offset, seed);
        // Centres: some drawn near data rows, the others at random.
        let mut centers = random(k, d, scale, offset, seed ^ 0x9e37_79b9);
        for j in (0..k).step_by(3) {
            let i = (j * 7919) % n;
            for p in 0..d {
                centers[j * d + p] = x[i * d + p] + 0.01 * scale * ((p % 5) as f32 - 2.0);
            }
        }
        check_all("every_path_matches_the_reference", &x, &centers, k, d)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn duplicate_centres_pick_the_lowest_index() {
    for &(k, d) in &[
        (3usize, 1usize),
        (40, 7),
        (70, 33),
        (100, 2),
        (50, 32),
        (300, 20),
    ] {
        let x = random(257, d, 1.0, 0.0, 7);
        let base = random(k, d, 1.0, 0.0, 8);
        // Centres j and j + k are identical: every label must be < k.
        let mut centers = base.clone();
        centers.extend_from_slice(&base);
        let packed = PackedCenters::new(&centers, 2 * k, d).unwrap();
        for variant in variants("duplicate_centres_pick_the_lowest_index") {
            let (labels, _) = run(variant, &x, &packed, &mut AssignScratch::new());
            assert!(
                labels.iter().all(|&j| (j as usize) < k),
                "{variant:?} k={k} d={d}: {labels:?}"
            );
        }
        // All centres equal: label 0 everywhere.
        let same: Vec<f32> = (0..k).flat_map(|_| base[..d].iter().copied()).collect();
        let packed = PackedCenters::new(&same, k, d).unwrap();
        for variant in variants("duplicate_centres_pick_the_lowest_index") {
            let (labels, _) = run(variant, &x, &packed, &mut AssignScratch::new());
            assert!(labels.iter().all(|&j| j == 0), "{variant:?} k={k} d={d}");
        }
    }
}

#[test]
fn k_one_and_d_one() {
    let x = random(301, 1, 3.0, 1.0, 1);
    let t = "k_one_and_d_one";
    check_all(t, &x, &[0.25], 1, 1).unwrap();
    let c = random(5, 1, 3.0, 1.0, 2);
    check_all(t, &x, &c, 5, 1).unwrap();
    let x = random(33, 64, 1.0, 0.0, 3);
    check_all(t, &x, &random(1, 64, 1.0, 0.0, 4), 1, 64).unwrap();
}

#[test]
fn far_from_origin_distances_are_exact() {
    // Data around 1e4 with a spread of 1e-2: ‖x‖² ≈ 1e8·d, so the fast formula
    // has no correct digit left in the distances (~1e-4). The recomputed
    // distances must still be accurate; the labels may only differ on
    // near-ties at the 1e-5·‖x‖² level, which check_path allows.
    let (n, d, k) = (500, 24, 37);
    let x = random(n, d, 1e-2, 1e4, 11);
    let c = random(k, d, 1e-2, 1e4, 12);
    let t = "far_from_origin_distances_are_exact";
    check_all(t, &x, &c, k, d).unwrap();
    let packed = PackedCenters::new(&c, k, d).unwrap();
    for variant in variants(t) {
        let (labels, dist) = run(variant, &x, &packed, &mut AssignScratch::new());
        for i in 0..n {
            let exact =
                reference::dist_sq(&x[i * d..(i + 1) * d], packed.center(labels[i] as usize));
            assert!(dist[i] > 0.0);
            assert!(
                (f64::from(dist[i]) - exact).abs() <= 1e-6 * exact,
                "{variant:?} row {i}"
            );
        }
    }
}

#[test]
fn overflowing_fast_values_fall_back_to_the_exact_scan() {
    // ‖c‖² overflows f32 for these centres; the exact f64 scan still answers.
    let d = 3;
    let x = vec![1e19f32, 0.0, 0.0, -1e19, 0.0, 0.0];
    let c = vec![3e19f32, 0.0, 0.0, -2e19, 1e19, 0.0];
    let packed = PackedCenters::new(&c, 2, d).unwrap();
    for variant in variants("overflowing_fast_values_fall_back_to_the_exact_scan") {
        let (labels, _) = run(variant, &x, &packed, &mut AssignScratch::new());
        assert_eq!(labels, [0, 1], "{variant:?}");
    }
    // The same on the product kernels (d > 4, k > 4): 40 centres far out.
    let d = 8;
    let mut x = vec![0f32; 3 * d];
    x[0] = 1e19;
    x[d] = -1e19;
    let mut c = vec![0f32; 40 * d];
    for j in 0..40 {
        c[j * d] = 3e19 - j as f32 * 1e18;
        c[j * d + 1] = 2e19;
    }
    c[17 * d..18 * d].fill(0.0);
    c[17 * d] = 2e19;
    let packed = PackedCenters::new(&c, 40, d).unwrap();
    let mut want = vec![0u32; 3];
    reference::assign_chunk(&x, &c, 40, d, &mut want, &mut [0f32; 3]);
    for variant in variants("overflowing_fast_values_fall_back_to_the_exact_scan") {
        let (labels, _) = run(variant, &x, &packed, &mut AssignScratch::new());
        assert_eq!(labels, want, "{variant:?}");
    }
}

#[test]
fn packed_centers_validate_and_expose() {
    assert!(PackedCenters::new(&[], 0, 2).is_err());
    assert!(PackedCenters::new(&[1.0], 1, 0).is_err());
    assert!(PackedCenters::new(&[1.0, 2.0, 3.0], 2, 2).is_err());
    let p = PackedCenters::new(&[3.0, 4.0, 1.0, 0.0], 2, 2).unwrap();
    assert_eq!((p.k(), p.d()), (2, 2));
    assert_eq!(p.norms_sq(), &[25.0, 1.0]);
    assert_eq!(p.center(1), &[1.0, 0.0]);
}

#[test]
fn row_norms_on_every_path() {
    for d in [1usize, 7, 16, 31, 33, 200] {
        let x = random(19, d, 2.0, 0.5, d as u64);
        for &path in Isa::test_paths() {
            if !path.run_or_skip("row_norms_on_every_path") {
                continue;
            }
            let mut out = vec![0f32; 19];
            row_norms_sq_with(path, &x, d, &mut out);
            for (i, &o) in out.iter().enumerate() {
                let exact = norm_sq(&x[i * d..(i + 1) * d]);
                assert!(
                    (f64::from(o) - exact).abs() <= 1e-6 * exact,
                    "{path:?} d={d} row {i}"
                );
            }
        }
    }
}

#[test]
fn scratch_is_reused_across_shapes() {
    let mut scratch = AssignScratch::new();
    for &(n, d, k) in &[(1000usize, 3usize, 40usize), (10, 100, 5), (2000, 16, 70)] {
        let x = random(n, d, 1.0, 0.0, n as u64);
        let c = random(k, d, 1.0, 0.0, k as u64);
        let packed = PackedCenters::new(&c, k, d).unwrap();
        let mut ref_labels = vec![0u32; n];
        let mut ref_dist = vec![0f32; n];
        reference::assign_chunk(&x, &c, k, d, &mut ref_labels, &mut ref_dist);
        for variant in variants("scratch_is_reused_across_shapes") {
            let (labels, _) = run(variant, &x, &packed, &mut scratch);
            let agree = labels
                .iter()
                .zip(&ref_labels)
                .filter(|(a, b)| a == b)
                .count();
            assert!(agree >= n - 2, "{variant:?}: {agree} of {n}");
        }
    }
}

#[test]
fn dist_sq_to_labels_matches_the_reference_distances() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for &(n, d, k) in &[
        (1usize, 1usize, 1usize),
        (13, 7, 5),
        (64, 33, 40),
        (9, 100, 3),
    ] {
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-20.0..20.0)).collect();
        let c: Vec<f32> = (0..k * d).map(|_| rng.gen_range(-20.0..20.0)).collect();
        let packed = PackedCenters::new(&c, k, d).unwrap();
        let labels: Vec<u32> = (0..n).map(|_| rng.gen_range(0..k as u32)).collect();
        for &isa in Isa::test_paths() {
            if !isa.run_or_skip("dist_sq_to_labels_matches_the_reference_distances") {
                continue;
            }
            let mut dist = vec![f32::NAN; n];
            dist_sq_to_labels_with(isa, &x, &packed, &labels, &mut dist);
            for i in 0..n {
                let j = labels[i] as usize;
                let want = reference::dist_sq(&x[i * d..(i + 1) * d], &c[j * d..(j + 1) * d]);
                assert!(
                    (f64::from(dist[i]) - want).abs()
                        <= (d as f64 + 2.0) * f64::from(f32::EPSILON) * want.max(1e-30),
                    "{isa} n={n} d={d} k={k} row {i}: {} vs {want}",
                    dist[i]
                );
            }
        }
    }
}

/// Rows and centres with adversarial near ties: for each row `x`, pairs of
/// centres `x + v` and `x − v` (equidistant but for the rounding of the
/// sums), one of them nudged by an ulp in one coordinate; plus duplicates.
fn near_ties(rng: &mut ChaCha8Rng, n: usize, d: usize, offset: f32) -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = (0..n * d)
        .map(|_| rng.gen_range(-1.0f32..1.0) + offset)
        .collect();
    let mut c = Vec::new();
    for i in 0..n.min(6) {
        let row = &x[i * d..(i + 1) * d];
        let v: Vec<f32> = (0..d).map(|_| rng.gen_range(-0.5f32..0.5)).collect();
        let plus: Vec<f32> = row.iter().zip(&v).map(|(&a, &b)| a + b).collect();
        let mut minus: Vec<f32> = row.iter().zip(&v).map(|(&a, &b)| a - b).collect();
        if i % 2 == 1 {
            let p = rng.gen_range(0..d);
            minus[p] = minus[p].next_up();
        }
        c.extend_from_slice(&plus);
        c.extend_from_slice(&minus);
        if i % 3 == 0 {
            c.extend_from_slice(&plus); // an exact duplicate
        }
    }
    (x, c)
}

/// The exact assignment on `path` against the reference: the same labels
/// and the same distance bits.
fn check_exact(path: Isa, x: &[f32], c: &[f32], d: usize) -> std::result::Result<(), String> {
    let (n, k) = (x.len() / d, c.len() / d);
    let packed = PackedCenters::new(c, k, d).map_err(|e| e.to_string())?;
    let (mut want_l, mut want_d) = (vec![0u32; n], vec![0f32; n]);
    reference::assign_chunk(x, c, k, d, &mut want_l, &mut want_d);
    let (mut got_l, mut got_d) = (vec![u32::MAX; n], vec![f32::NAN; n]);
    assign_chunk_with(
        path,
        x,
        &packed,
        &mut got_l,
        &mut got_d,
        &mut AssignScratch::new(),
    );
    if got_l != want_l {
        return Err(format!("{}: labels {got_l:?} != {want_l:?}", path.name()));
    }
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    if bits(&got_d) != bits(&want_d) {
        return Err(format!(
            "{}: distances {got_d:?} != {want_d:?}",
            path.name()
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn exact_assignment_is_the_reference_on_every_path(
        seed in any::<u64>(),
        d in prop_oneof![1usize..40, Just(384usize), Just(1024usize)],
        n in 1usize..40,
        offset in prop_oneof![Just(0.0f32), Just(1e4f32), Just(-2.5e5f32)],
        random_k in 1usize..70,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (x, mut c) = near_ties(&mut rng, n, d, offset);
        // Plus random centres around the data.
        c.extend((0..random_k * d).map(|_| rng.gen_range(-2.0f32..2.0) + offset));
        for &path in Isa::test_paths() {
            if path.run_or_skip("exact_assignment_is_the_reference_on_every_path") {
                check_exact(path, &x, &c, d).map_err(TestCaseError::fail)?;
            }
        }
    }
}

#[test]
fn exact_assignment_counts_its_rechecks() {
    // Two identical centres: no row can be certified, every row is
    // re-checked and gets the first copy.
    let d = 3;
    let x = [0.5f32, 1.0, 2.0, -1.0, 0.0, 4.0];
    let c = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0];
    let packed = PackedCenters::new(&c, 2, d).unwrap();
    let mut scratch = AssignScratch::new();
    let (mut l, mut dist) = ([9u32; 2], [0f32; 2]);
    assign_chunk(&x, &packed, &mut l, &mut dist, &mut scratch);
    assert_eq!(l, [0, 0]);
    assert_eq!(scratch.take_rechecks(), 2);
    assert_eq!(scratch.take_rechecks(), 0);
    // Well-separated centres: nothing to re-check.
    let c = [0.0f32, 1.0, 2.0, -100.0, 0.0, 4.0];
    let packed = PackedCenters::new(&c, 2, d).unwrap();
    assign_chunk(&x, &packed, &mut l, &mut dist, &mut scratch);
    assert_eq!(l, [0, 0]);
    assert_eq!(scratch.take_rechecks(), 0);
}

/// Shapes in the bf16 pre-screen's range (AMX: `d ≥ 64`, `k ≥ 64`; AVX512-BF16: also
/// `k·d ≥ 32768`, here at d = 384 and 1024) and the
/// AVX2 lane pre-screen: every path gives the reference labels and bits,
/// near ties and data far from the origin included.
#[test]
fn exact_assignment_is_the_reference_in_the_bf16_range() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    for (d, offset) in [
        (64usize, 10.0f32),
        (128, 0.0),
        (384, 3e3),
        (200, -50.0),
        (1024, 1.0),
    ] {
        let (x, mut c) = near_ties(&mut rng, 60, d, offset);
        c.extend((0..80 * d).map(|_| rng.gen_range(-1.5f32..1.5) + offset));
        // Centres near each other and near the rows: many candidates.
        c.extend(
            x[..10 * d]
                .iter()
                .map(|&v| v + rng.gen_range(-1e-3f32..1e-3)),
        );
        for &path in Isa::test_paths() {
            if path.run_or_skip("exact_assignment_is_the_reference_in_the_bf16_range") {
                check_exact(path, &x, &c, d).unwrap();
            }
        }
    }
}

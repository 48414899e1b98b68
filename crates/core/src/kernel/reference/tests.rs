//! The reference distance: the same bits on every path, within its stated
//! error of the exact value.

use proptest::prelude::*;

use super::*;

/// `Σ (a_p − b_p)²` to within about one ulp: the differences and squares of
/// moderate `f32` values are exact in `f64` (at most 25 and 50 bits), and the
/// sum is compensated (Neumaier).
fn exact_enough(a: &[f32], b: &[f32]) -> f64 {
    let (mut s, mut comp) = (0.0f64, 0.0f64);
    for (&u, &v) in a.iter().zip(b) {
        let t = f64::from(u) - f64::from(v);
        let x = t * t;
        let n = s + x;
        comp += if s.abs() >= x.abs() {
            (s - n) + x
        } else {
            (x - n) + s
        };
        s = n;
    }
    s + comp
}

fn rows(max_d: usize) -> impl Strategy<Value = (usize, Vec<f32>, Vec<f32>)> {
    (
        1..=max_d,
        1usize..6,
        prop_oneof![Just(0.0f32), Just(1e4f32), Just(-3e6f32)],
    )
        .prop_flat_map(|(d, k, offset)| {
            (
                Just(d),
                prop::collection::vec(-8.0f32..8.0, d)
                    .prop_map(move |v| v.into_iter().map(|x| x + offset).collect::<Vec<_>>()),
                prop::collection::vec(-8.0f32..8.0, d * k)
                    .prop_map(move |v| v.into_iter().map(|x| x + offset).collect::<Vec<_>>()),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_path_gives_the_reference_bits((d, row, centers) in rows(70)) {
        let k = centers.len() / d;
        let want: Vec<u64> = centers.chunks_exact(d).map(|c| dist_sq(&row, c).to_bits()).collect();
        let x: Vec<f32> = row.iter().cycle().take(k * d).copied().collect();
        let labels: Vec<u32> = (0..k as u32).collect();
        for &isa in Isa::test_paths() {
            if !isa.run_or_skip("every_path_gives_the_reference_bits") {
                continue;
            }
            let mut got = vec![0.0f64; k];
            dists_with(isa, &row, &centers, &mut got);
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(&got, &want, "{} d={}", isa.name(), d);
            let mut by_label = vec![0.0f32; k];
            dists_to_labels_with(isa, &x, &centers, d, &labels, &mut by_label);
            for (j, &v) in by_label.iter().enumerate() {
                prop_assert_eq!(v.to_bits(), (f64::from_bits(want[j]) as f32).to_bits());
            }
        }
    }

    #[test]
    fn the_distance_is_within_its_stated_error((d, row, centers) in rows(1100)) {
        for c in centers.chunks_exact(d) {
            let exact = exact_enough(&row, c);
            let got = dist_sq(&row, c);
            // `exact_enough` is itself within about 2 ulp.
            let tol = rel_err(d) * exact + 4.0 * f64::EPSILON * exact;
            prop_assert!((got - exact).abs() <= tol, "d={} got {} exact {}", d, got, exact);
        }
    }
}

#[test]
fn ties_go_to_the_lowest_index_and_nan_rows_to_zero() {
    let row = [1.0f32, 2.0];
    let centers = [5.0f32, 5.0, 0.0, 2.0, 2.0, 2.0, 0.0, 2.0];
    assert_eq!(nearest(&row, &centers, 4), (1, 1.0));
    let mut work = Vec::new();
    for &isa in Isa::test_paths() {
        if isa.run_or_skip("ties_go_to_the_lowest_index_and_nan_rows_to_zero") {
            assert_eq!(nearest_with(isa, &row, &centers, 4, &mut work), (1, 1.0));
        }
    }
    let nan = [f32::NAN, 0.0];
    let (j, v) = nearest(&nan, &centers, 4);
    assert_eq!(j, 0);
    assert!(v.is_nan());
    // A NaN distance never wins over a number.
    let centers = [f32::NAN, 0.0, 3.0, 2.0];
    assert_eq!(nearest(&row, &centers, 2), (1, 4.0));
    assert_eq!(argmin(&[f64::NAN, 2.0, 1.0, 1.0]), (2, 1.0));
}

#[test]
fn the_sum_is_the_documented_tree_of_eight_accumulators() {
    // Terms chosen so that any other order of the additions rounds
    // differently: accumulator 0 gets 2⁶⁰ then 1 (lost), accumulator 1 gets 1.
    let big = 2f32.powi(30);
    let a = [big, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let b = [0.0f32; 9];
    let s0 = 2f64.powi(60) + 1.0; // = 2⁶⁰: the 1 is lost in accumulator 0
    let want = ((s0 + 1.0) + 0.0) + 0.0;
    assert_eq!(dist_sq(&a, &b).to_bits(), want.to_bits());
    let mut got = [0.0f64];
    for &isa in Isa::test_paths() {
        if isa.run_or_skip("the_sum_is_the_documented_tree_of_eight_accumulators") {
            dists_with(isa, &a, &b, &mut got);
            assert_eq!(got[0].to_bits(), want.to_bits(), "{}", isa.name());
        }
    }
}

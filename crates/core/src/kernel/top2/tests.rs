//! The nearest-two kernels on every path against the scalar reference.

use proptest::prelude::*;

use super::*;

fn packed(c: &[f32], d: usize) -> SubPanels {
    SubPanels::new(c.chunks_exact(d), d)
}

/// Exact `‖c‖² − 2x·c` in `f64` and its error bound `γ_{d+1}(‖c‖² + 2‖x‖‖c‖)`.
fn exact_value(x: &[f32], c: &[f32]) -> (f64, f64) {
    let nc: f64 = c.iter().map(|&v| f64::from(v).powi(2)).sum();
    let nx: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    let dot: f64 = x
        .iter()
        .zip(c)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    let m = (x.len() + 1) as f64 * f64::from(f32::EPSILON) / 2.0;
    (
        nc - 2.0 * dot,
        m / (1.0 - m) * (nc + 2.0 * nx.sqrt() * nc.sqrt()) * 1.0001,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every path gives the portable reference's bits, and the reference's
    /// values are within the stated error bound of the exact ones.
    #[test]
    fn paths_agree_and_values_are_within_the_bound(
        (_n, d, m, x, c, sel) in (1usize..40, 1usize..70, 1usize..70).prop_flat_map(|(n, d, m)| (
            Just(n), Just(d), Just(m),
            proptest::collection::vec(-50.0f32..50.0, n * d),
            proptest::collection::vec(-50.0f32..50.0, m * d),
            proptest::collection::vec(0u32..n as u32, 0..50),
        ))
    ) {
        // Some duplicate centres, to exercise ties.
        let mut c = c;
        if m > 2 {
            let (a, b) = c.split_at_mut(d);
            b[..d].copy_from_slice(a);
        }
        let panels = packed(&c, d);
        let mut want = vec![Top2 { j: 0, v1: 0.0, v2: 0.0 }; sel.len()];
        nearest_two_with(Isa::Scalar, &x, &sel, &panels, &mut want);
        for path in Isa::paths_for_test("paths_agree_and_values_are_within_the_bound") {
            let mut got = vec![Top2 { j: 9, v1: 1.0, v2: 1.0 }; sel.len()];
            nearest_two_with(path, &x, &sel, &panels, &mut got);
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.j, w.j, "{:?}", path);
                prop_assert_eq!(g.v1.to_bits(), w.v1.to_bits(), "{:?}", path);
                prop_assert_eq!(g.v2.to_bits(), w.v2.to_bits(), "{:?}", path);
            }
        }
        for (&r, w) in sel.iter().zip(&want) {
            let row = &x[r as usize * d..][..d];
            let mut vals: Vec<(f64, f64)> =
                c.chunks_exact(d).map(|cj| exact_value(row, cj)).collect();
            let (e1, err1) = vals[w.j as usize];
            prop_assert!((f64::from(w.v1) - e1).abs() <= err1);
            // No centre's exact value is below v1's interval; the second
            // is within the bound of the second least exact value.
            for &(e, err) in &vals {
                prop_assert!(e + err >= f64::from(w.v1) - err1 - 1e-9 * e1.abs());
            }
            if m > 1 {
                vals.sort_by(|a, b| a.0.total_cmp(&b.0));
                let (e2, err2) = vals[1];
                let maxerr = vals.iter().map(|v| v.1).fold(0.0, f64::max);
                prop_assert!((f64::from(w.v2) - e2).abs() <= maxerr.max(err2) * 2.0);
            } else {
                prop_assert_eq!(w.v2, f32::INFINITY);
            }
        }
    }
}

#[test]
fn decay_bounds_matches_the_reference_and_is_safe() {
    for (t, n) in [1usize, 3, 9, 15, 16, 17, 40]
        .into_iter()
        .flat_map(|t| [(t, 7), (t, 16), (t, 37)])
    {
        let per_row = 1 + t;
        let specials = [f32::INFINITY, 0.0, 1e-40, 3.0, f32::MAX, 1e-3];
        let state: Vec<u32> = (0..n * per_row)
            .map(|i| {
                if i % per_row == 0 {
                    (i * 31) as u32
                } else {
                    let v = specials[i % specials.len()] * (1.0 + (i % 5) as f32 * 0.37);
                    v.to_bits()
                }
            })
            .collect();
        let drift: Vec<f32> = (0..t).map(|g| [0.0, 1e-3, 2.5, 1e-41][g % 4]).collect();
        let mut want = state.clone();
        let mut wl = vec![0.0; n];
        scalar::decay_bounds(&mut want, per_row, &drift, &mut wl);
        let mut got = state.clone();
        let mut gl = vec![0.0; n];
        for path in Isa::paths_for_test("decay_bounds_matches_the_reference_and_is_safe") {
            got.copy_from_slice(&state);
            decay_bounds_with(path, &mut got, per_row, &drift, &mut gl);
            assert_eq!(got, want, "{path} t={t}");
            assert_eq!(
                gl.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                wl.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{path} t={t}"
            );
        }
        for r in 0..n {
            assert_eq!(got[r * per_row], state[r * per_row], "labels untouched");
            let mut least = f32::INFINITY;
            for g in 0..t {
                let (old, new) = (
                    f32::from_bits(state[r * per_row + 1 + g]),
                    f32::from_bits(got[r * per_row + 1 + g]),
                );
                // Safe: below the exact difference (or both infinite).
                let exact = f64::from(old) - f64::from(drift[g]);
                assert!(f64::from(new) <= exact.max(0.0), "t={t} {old} {new}");
                assert!(new >= 0.0);
                least = least.min(new);
            }
            assert_eq!(gl[r], least);
        }
    }
}

#[test]
fn translate_rows_matches_a_plain_loop() {
    for d in [1usize, 5, 16, 17, 33, 70] {
        let x: Vec<f32> = (0..9 * d)
            .map(|i| ((i * 37) % 23) as f32 * 0.75 - 8.0)
            .collect();
        let mu: Vec<f32> = (0..d).map(|p| p as f32 * 0.5 - 3.0).collect();
        let rows = [8u32, 0, 3, 3];
        for path in Isa::paths_for_test("translate_rows_matches_a_plain_loop") {
            let mut out = vec![f32::NAN; rows.len() * d];
            let mut norms = vec![f32::NAN; rows.len()];
            translate_rows_with(path, &x, d, &rows, &mu, &mut out, &mut norms);
            for (r, &i) in rows.iter().enumerate() {
                let want: Vec<f32> = (0..d).map(|p| x[i as usize * d + p] - mu[p]).collect();
                assert_eq!(&out[r * d..(r + 1) * d], &want[..], "{path} d={d}");
                let exact: f64 = want.iter().map(|&v| f64::from(v).powi(2)).sum();
                let tol = (d as f64 + 2.0) * f64::from(f32::EPSILON) * exact;
                assert!((f64::from(norms[r]) - exact).abs() <= tol, "{path} d={d}");
            }
        }
    }
}

/// The eight-row tournament against the reference, with the nearest
/// centre duplicated at every pair of lanes (ties met at each of its
/// four rounds), and with the second nearest at every lane.
#[test]
fn one_group_ties_and_seconds_at_every_lane_pair() {
    let d = 5;
    let far: Vec<f32> = (0..16 * d).map(|i| 40.0 + (i % 7) as f32).collect();
    let x: Vec<f32> = (0..11 * d).map(|i| (i % 5) as f32 * 0.25).collect();
    let rows: Vec<u32> = (0..11).collect();
    let near = [0.1f32, 0.2, 0.3, 0.4, 0.5];
    let second = [1.0f32, 1.5, 0.5, 0.0, 2.0];
    for a in 0..16 {
        for b in 0..16 {
            let mut c = far.clone();
            c[a * d..(a + 1) * d].copy_from_slice(&near);
            if b != a {
                c[b * d..(b + 1) * d].copy_from_slice(if b % 2 == 0 { &near } else { &second });
            }
            let panels = packed(&c, d);
            let mut want = vec![
                Top2 {
                    j: 0,
                    v1: 0.0,
                    v2: 0.0
                };
                rows.len()
            ];
            nearest_two_with(Isa::Scalar, &x, &rows, &panels, &mut want);
            for path in Isa::paths_for_test("one_group_ties_and_seconds_at_every_lane_pair") {
                let mut got = vec![
                    Top2 {
                        j: 99,
                        v1: 1.0,
                        v2: 1.0
                    };
                    rows.len()
                ];
                nearest_two_with(path, &x, &rows, &panels, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.j, w.j, "{path:?} lanes {a}, {b}");
                    assert_eq!(g.v1.to_bits(), w.v1.to_bits(), "{path:?} lanes {a}, {b}");
                    assert_eq!(g.v2.to_bits(), w.v2.to_bits(), "{path:?} lanes {a}, {b}");
                }
            }
            if b != a && b % 2 == 0 {
                assert_eq!(want[0].j as usize, a.min(b), "lanes {a}, {b}");
                assert_eq!(want[0].v1, want[0].v2);
            }
        }
    }
}

#[test]
fn ties_pick_the_lowest_index_and_report_an_equal_second() {
    let d = 3;
    let c = [1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 1.0, 2.0, 3.0];
    let x = [1.0f32, 2.0, 3.0];
    let panels = packed(&c, d);
    for path in Isa::paths_for_test("ties_pick_the_lowest_index_and_report_an_equal_second") {
        let mut out = [Top2 {
            j: 9,
            v1: 0.0,
            v2: 0.0,
        }];
        nearest_two_with(path, &x, &[0], &panels, &mut out);
        assert_eq!(out[0].j, 0, "{path:?}");
        assert_eq!(out[0].v1, out[0].v2, "{path:?}");
    }
}

//! The exact assignment of sparse rows against dense centres (issue 22:
//! spherical K-means of TF-IDF documents, `d` in 10⁴–10⁶ with about a
//! hundred non-zeros per row).
//!
//! [`assign_sparse`] gives every row the label [`super::assign_chunk`] gives
//! its dense copy (the reference label: `argmin_j D(x, c_j)` of
//! [`reference`](mod@super::reference), lowest index among equal values) and the same `D` rounded
//! to `f32`, bit for bit, while reading only the row's non-zeros:
//!
//! 1. The estimate, in `f64`: `E_j = (‖x‖² + ‖c_j‖²) − 2·x·c_j`, with `x·c_j`
//!    summed over the row's `m` non-zeros (a row of the centres transposed,
//!    [`SparseCenters`], per non-zero: `O(k·m)` per row, not `O(k·d)`) and
//!    `‖c_j‖²` once per pass.
//! 2. Its error: every product of two `f32` is exact in `f64` (48 bits of
//!    53, and no underflow: `2⁻²⁹⁸` is a normal `f64`), so the three sums
//!    carry `γ_{m−1}‖x‖²`, `γ_{d−1}‖c‖²` and `2γ_{m−1}‖x‖‖c‖`
//!    (Cauchy–Schwarz over the non-zeros), and the two last operations
//!    `u(‖x‖² + ‖c‖²)` and `u|E|` (`u = 2⁻⁵³`, `γ_n = nu/(1 − nu)`).
//!    With `M = max(m, d) + 4` that is at most `γ_M(‖x‖ + ‖c_j‖)²`, and
//!    `e_j = 2γ_M(√nx + √nc_j)²` (the factor 2 covers the computed
//!    norms being below the true ones by `γ`, the roundings of the square
//!    roots and of `e_j` itself) bounds `|E_j − δ_j|`, where `δ_j` is the
//!    exact `Σ_p (x_p − c_jp)²`.
//! 3. The reference distance is within `r = rel_err(d)` of `δ_j`, relative
//!    ([`reference`](mod@super::reference)). So `D_j ∈ [lo_j, hi_j]` with
//!    `lo_j = max(0, (E_j − e_j)(1 − r)(1 − 4u))` and
//!    `hi_j = (E_j + e_j)(1 + r)(1 + 4u)`, each computed in three rounded
//!    operations that the `1 ∓ 4u` factors put on the safe side.
//! 4. The candidates are the centres whose `lo_j` is at most the least
//!    `hi`. One candidate has a `D` below every other centre's, strictly: it
//!    is the reference label. Several (a near tie, duplicate centres) are
//!    settled by the reference distance on the densified row (`O(d)` for
//!    that row only) and counted ([`SparseScratch::take_rechecks`]).
//! 5. The reported distance is `D` of the label rounded to `f32`: rounding
//!    is monotonic, so when `lo` and `hi` round to the same `f32`, that is
//!    it; otherwise (`D` near the midpoint of two `f32`, about one row in a
//!    thousand at `d = 5·10⁴`) `D` itself on the densified row.
//!
//! A non-finite value anywhere (a row or centre beyond `f32`'s reach after
//! squaring is impossible in `f64`, so only NaN and ±inf inputs) sends the
//! row to the reference scan over every centre.

use super::{PackedCenters, reference};
use crate::isa::Isa;
use crate::sparse::SparseRows;

/// Unit roundoff of `f64`.
const U64: f64 = f64::EPSILON / 2.0;

/// The centres of one pass as [`assign_sparse`] reads them: transposed
/// (`d × k`: the `k` values of column `p` together, one contiguous read per
/// non-zero of a row), with their squared norms in `f64` and the square
/// roots of those.
#[derive(Debug, Clone)]
pub struct SparseCenters {
    k: usize,
    d: usize,
    /// `t[p·k + j] = c_j[p]`.
    t: Vec<f32>,
    /// `‖c_j‖²`, summed in `f64` in column order.
    norms: Vec<f64>,
    /// `√norms[j]`.
    roots: Vec<f64>,
    /// `rel_err(d)` of the reference distance.
    rel: f64,
}

impl SparseCenters {
    /// The centres of `centers`, transposed (`k·d` values: as much as the
    /// centres themselves).
    #[must_use]
    pub fn new(centers: &PackedCenters) -> Self {
        let (k, d) = (centers.k(), centers.d());
        let mut t = vec![0.0f32; k * d];
        let mut norms = Vec::with_capacity(k);
        for (j, c) in centers.centers().chunks_exact(d).enumerate() {
            let mut s = 0.0f64;
            for (p, &v) in c.iter().enumerate() {
                t[p * k + j] = v;
                s += f64::from(v) * f64::from(v);
            }
            norms.push(s);
        }
        let roots = norms.iter().map(|v| v.sqrt()).collect();
        SparseCenters {
            k,
            d,
            t,
            norms,
            roots,
            rel: reference::rel_err(d),
        }
    }

    /// Number of centres.
    #[must_use]
    pub fn k(&self) -> usize {
        self.k
    }
}

/// Per-worker buffers of [`assign_sparse`], reused across chunks.
#[derive(Debug, Clone, Default)]
pub struct SparseScratch {
    dots: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    cand: Vec<u32>,
    work: Vec<f64>,
    row: Vec<f32>,
    rechecks: u64,
    exact_dists: u64,
}

impl SparseScratch {
    /// An empty workspace.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows whose label the estimates could not settle (re-checked with the
    /// reference distance) since the last call; resets the count.
    pub fn take_rechecks(&mut self) -> u64 {
        std::mem::take(&mut self.rechecks)
    }

    /// Rows whose reported distance needed `D` on the densified row (the
    /// bounds straddled an `f32` rounding boundary) since the last call;
    /// resets the count.
    pub fn take_exact_dists(&mut self) -> u64 {
        std::mem::take(&mut self.exact_dists)
    }
}

/// What the estimates of one row say: `[lo_j, hi_j]` holds `D(x, c_j)`.
/// Exposed for the tests of the bound.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// `E_j`.
    pub value: f64,
    /// `e_j`: `|E_j − δ_j| ≤ e_j`.
    pub err: f64,
}

/// `γ_M` for a row of `m` non-zeros in dimension `d` (see the module
/// documentation).
fn gamma(m: usize, d: usize) -> f64 {
    let big = (m.max(d) + 4) as f64;
    big * U64 / (1.0 - big * U64)
}

/// The estimate of `δ = Σ_p (x_p − c_p)²` for the sparse row (`cols`
/// strictly increasing, `vals`) and the dense centre `c` (`d` values), and
/// its error bound: [`assign_sparse`]'s arithmetic for one centre, the
/// oracle-testable form.
///
/// # Panics
/// When a column is not below `c.len()`.
#[must_use]
pub fn estimate(cols: &[u32], vals: &[f32], c: &[f32]) -> Estimate {
    let nx = vals
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>();
    let nc = c
        .iter()
        .fold(0.0f64, |s, &v| s + f64::from(v) * f64::from(v));
    let dot = cols.iter().zip(vals).fold(0.0f64, |s, (&p, &v)| {
        s + f64::from(v) * f64::from(c[p as usize])
    });
    let g = gamma(cols.len(), c.len());
    let root = nx.sqrt() + nc.sqrt();
    Estimate {
        value: (nx + nc) - 2.0 * dot,
        err: 2.0 * g * root * root,
    }
}

/// `D` lies in `[lo, hi]` of the estimate `e` (see the module
/// documentation, step 3); `rel` is `reference::rel_err(d)`.
#[inline]
fn interval(value: f64, err: f64, rel: f64) -> (f64, f64) {
    let lo = ((value - err) * (1.0 - rel) * (1.0 - 4.0 * U64)).max(0.0);
    let hi = (value + err) * (1.0 + rel) * (1.0 + 4.0 * U64);
    (lo, hi)
}

/// `dots[j] += v · t[j]` for the `k` values of one column.
#[inline(always)]
fn axpy_body(dots: &mut [f64], v: f64, t: &[f32]) {
    for (s, &c) in dots.iter_mut().zip(t) {
        *s += v * f64::from(c);
    }
}

/// The products `dots[j] = x·c_j` of a sparse row, summed over the
/// non-zeros in order (one rounded addition of an exact product per term,
/// the same bits whatever width the loop is compiled for).
#[inline(always)]
fn dots_body(cols: &[u32], vals: &[f32], sc: &SparseCenters, dots: &mut [f64]) {
    let k = sc.k;
    dots.fill(0.0);
    for (&p, &v) in cols.iter().zip(vals) {
        let p = p as usize;
        axpy_body(dots, f64::from(v), &sc.t[p * k..(p + 1) * k]);
    }
}

/// [`dots_body`] compiled with AVX-512F.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dots_avx512(cols: &[u32], vals: &[f32], sc: &SparseCenters, dots: &mut [f64]) {
    dots_body(cols, vals, sc, dots);
}

/// [`dots_body`] compiled with AVX2.
///
/// # Safety
/// AVX2 must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots_avx2(cols: &[u32], vals: &[f32], sc: &SparseCenters, dots: &mut [f64]) {
    dots_body(cols, vals, sc, dots);
}

fn dots_with(isa: Isa, cols: &[u32], vals: &[f32], sc: &SparseCenters, dots: &mut [f64]) {
    match isa.best_of(&[Isa::Avx512, Isa::Avx2]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the process's path runs AVX-512F (`best_of` picks at or
        // below the path this CPU runs).
        Isa::Avx512 => unsafe { dots_avx512(cols, vals, sc, dots) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above: AVX2.
        Isa::Avx2 => unsafe { dots_avx2(cols, vals, sc, dots) },
        _ => dots_body(cols, vals, sc, dots),
    }
}

/// The reference label of every row of `rows` and `D` to it rounded to
/// `f32`: what [`super::assign_chunk`] gives the densified rows, bit for
/// bit, in `O(k·nnz)` per row (see the module documentation). `sc` holds
/// the same centres as `centers`.
///
/// # Panics
/// When `labels` or `dist_sq` do not hold one value per row, `sc` is not
/// the centres of `centers`, or a column is not below `centers.d()`.
pub fn assign_sparse(
    rows: &SparseRows,
    centers: &PackedCenters,
    sc: &SparseCenters,
    labels: &mut [u32],
    dist_sq: &mut [f32],
    s: &mut SparseScratch,
) {
    let n = rows.n_rows();
    let (k, d) = (centers.k(), centers.d());
    assert!(
        labels.len() == n && dist_sq.len() == n,
        "assign_sparse: one label and one distance per row"
    );
    assert!(
        sc.k == k && sc.d == d,
        "assign_sparse: the sparse centres are not those packed"
    );
    let isa = Isa::current();
    s.dots.resize(k, 0.0);
    s.lo.resize(k, 0.0);
    s.hi.resize(k, 0.0);
    let all = centers.centers();
    for i in 0..n {
        let (cols, vals) = rows.row(i);
        let nx = vals
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
        let fallback = |s: &mut SparseScratch| {
            s.rechecks += 1;
            rows.densify_row(i, d, &mut s.row);
            reference::nearest_with(isa, &s.row, all, k, &mut s.work)
        };
        if !nx.is_finite() {
            let (j, v) = fallback(s);
            (labels[i], dist_sq[i]) = (j, v as f32);
            continue;
        }
        dots_with(isa, cols, vals, sc, &mut s.dots);
        let g2 = 2.0 * gamma(cols.len(), d);
        let sx = nx.sqrt();
        let (mut best, mut best_hi, mut finite) = (0usize, f64::INFINITY, true);
        for j in 0..k {
            let value = (nx + sc.norms[j]) - 2.0 * s.dots[j];
            let root = sx + sc.roots[j];
            let (lo, hi) = interval(value, g2 * root * root, sc.rel);
            finite &= hi.is_finite() && lo.is_finite();
            (s.lo[j], s.hi[j]) = (lo, hi);
            if hi < best_hi {
                (best, best_hi) = (j, hi);
            }
        }
        if !finite {
            let (j, v) = fallback(s);
            (labels[i], dist_sq[i]) = (j, v as f32);
            continue;
        }
        s.cand.clear();
        s.cand
            .extend((0..k).filter(|&j| s.lo[j] <= best_hi).map(|j| j as u32));
        if s.cand.len() > 1 {
            s.rechecks += 1;
            rows.densify_row(i, d, &mut s.row);
            let (j, v) = reference::nearest_among_with(isa, &s.row, all, &s.cand, &mut s.work);
            (labels[i], dist_sq[i]) = (j, v as f32);
            continue;
        }
        labels[i] = best as u32;
        let (lo, hi) = (s.lo[best] as f32, s.hi[best] as f32);
        dist_sq[i] = if lo == hi {
            lo
        } else {
            s.exact_dists += 1;
            rows.densify_row(i, d, &mut s.row);
            reference::dist_sq(&s.row, &all[best * d..(best + 1) * d]) as f32
        };
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `a + b` exactly, as a double-double.
    fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }

    /// `Σ_p (x_p − c_p)²` of the dense row `x` and centre `c`, in
    /// double-double (about 10⁻³⁰ relative): the oracle of the bound.
    fn exact_delta(x: &[f32], c: &[f32]) -> f64 {
        let (mut hi, mut lo) = (0.0f64, 0.0f64);
        for (&a, &b) in x.iter().zip(c) {
            // The difference of two f32 exactly: a double-double.
            let (t, te) = two_sum(f64::from(a), -f64::from(b));
            // (t + te)² = t² + 2·t·te + te², t² exactly by an FMA.
            let sq = t * t;
            let sq_err = t.mul_add(t, -sq);
            for term in [sq, sq_err + 2.0 * t * te + te * te] {
                let (s, e) = two_sum(hi, term);
                hi = s;
                lo += e;
            }
        }
        hi + lo
    }

    fn dense(cols: &[u32], vals: &[f32], d: usize) -> Vec<f32> {
        let mut x = vec![0.0f32; d];
        for (&c, &v) in cols.iter().zip(vals) {
            x[c as usize] = v;
        }
        x
    }

    /// A sparse row of dimension `d`: distinct sorted columns and values
    /// from several scales.
    fn sparse_row(d: usize) -> impl Strategy<Value = (Vec<u32>, Vec<f32>)> {
        proptest::collection::btree_set(0..d as u32, 0..d.min(40)).prop_flat_map(|cols| {
            let m = cols.len();
            (
                Just(cols.into_iter().collect::<Vec<_>>()),
                proptest::collection::vec(
                    prop_oneof![-1.0f32..1.0, -1e6f32..1e6, -1e-6f32..1e-6, Just(0.0f32)],
                    m,
                ),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The estimate is within its bound of the exact squared distance,
        /// for centres anywhere and for centres next to the row (where the
        /// formula cancels).
        #[test]
        fn the_estimate_is_within_its_bound(
            (d, (cols, vals), c, near, scale) in (1usize..300).prop_flat_map(|d| (
                Just(d),
                sparse_row(d),
                proptest::collection::vec(
                    prop_oneof![-1.0f32..1.0, -1e5f32..1e5, Just(0.0f32)], d),
                any::<bool>(),
                prop_oneof![Just(0.0f32), 1e-7f32..1e-3],
            ))
        ) {
            let x = dense(&cols, &vals, d);
            // Near: the centre is the row, each value moved by `scale`
            // relative (0: the same point).
            let c: Vec<f32> = if near {
                x.iter().zip(&c).map(|(&a, &b)| a + a * scale * b.signum()).collect()
            } else {
                c
            };
            let e = estimate(&cols, &vals, &c);
            let delta = exact_delta(&x, &c);
            prop_assert!(
                (e.value - delta).abs() <= e.err + 1e-25 * delta,
                "E {} δ {} |E − δ| {:e} > e {:e}", e.value, delta, (e.value - delta).abs(), e.err
            );
            // The reference distance is inside the interval.
            let (lo, hi) = interval(e.value, e.err, reference::rel_err(d));
            let dd = reference::dist_sq(&x, &c);
            prop_assert!(lo <= dd && dd <= hi, "D {} not in [{}, {}]", dd, lo, hi);
        }

        /// The sparse assignment is the reference assignment of the dense
        /// rows, bit for bit: labels and distances, with ties (duplicate
        /// centres, small integers) among the cases.
        #[test]
        fn sparse_assignment_is_the_reference_bit_for_bit(
            (d, k, rows, centers) in (1usize..60, 1usize..12).prop_flat_map(|(d, k)| (
                Just(d),
                Just(k),
                proptest::collection::vec(sparse_row(d), 1..20),
                proptest::collection::vec(
                    prop_oneof![(-3i32..4).prop_map(|v| v as f32), -1.0f32..1.0], k * d),
            ))
        ) {
            let mut centers = centers;
            if k > 2 {
                // A duplicate centre.
                let (a, b) = centers.split_at_mut(d);
                b[d..2 * d].copy_from_slice(a);
            }
            let mut sr = SparseRows::default();
            sr.clear(0);
            let mut x = Vec::new();
            for (cols, vals) in &rows {
                // Small integers too, for exact ties.
                let vals: Vec<f32> = vals.iter().map(|v| if v.abs() > 10.0 { v.round() } else { *v }).collect();
                sr.cols.extend_from_slice(cols);
                sr.vals.extend_from_slice(&vals);
                sr.end_row();
                x.extend(dense(cols, &vals, d));
            }
            let n = rows.len();
            let packed = PackedCenters::new(&centers, k, d).unwrap();
            let sc = SparseCenters::new(&packed);
            let (mut labels, mut dist) = (vec![0u32; n], vec![0.0f32; n]);
            assign_sparse(&sr, &packed, &sc, &mut labels, &mut dist, &mut SparseScratch::new());
            let (mut want_l, mut want_d) = (vec![0u32; n], vec![0.0f32; n]);
            reference::assign_chunk(&x, &centers, k, d, &mut want_l, &mut want_d);
            prop_assert_eq!(&labels, &want_l);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&dist), bits(&want_d));
        }
    }

    /// Two centres at exactly the same distance from the row, and two whose
    /// distances differ by one rounding of `f32`: the estimates cannot
    /// separate them, the re-check does, and the label is the reference
    /// one (the lower index on the exact tie).
    #[test]
    fn near_ties_are_rechecked_and_settled_by_the_reference() {
        let d = 50_000;
        // An explicit zero among the stored values, too.
        let cols = [3u32, 17, 40_001, 40_002];
        let vals = [0.6f32, 0.6, 0.8, 0.0];
        let x = dense(&cols, &vals, d);
        // c0 and c1 mirror each other's weight on columns 3 and 17 (equal
        // distances up to the reference's own rounding); c2 is c0 with one
        // value one ulp farther from the row (D larger by about 3.7e-10, far
        // more than the estimates' error of about 7e-11 here: one ulp of a
        // centre's coordinate is no tie for this bound); c3 is far.
        let mut centers = vec![0.0f32; 4 * d];
        let base = 1.0 / (d as f32).sqrt();
        for j in 0..4 {
            for p in 0..d {
                centers[j * d + p] = if j == 3 { -base } else { base * 0.5 };
            }
        }
        centers[3] = 0.3;
        centers[17] = 0.1;
        centers[d + 3] = 0.1;
        centers[d + 17] = 0.3;
        centers.copy_within(0..d, 2 * d);
        centers[2 * d + 40_001] = f32::from_bits(centers[40_001].to_bits() - 1);
        let packed = PackedCenters::new(&centers, 4, d).unwrap();
        let sc = SparseCenters::new(&packed);
        let mut sr = SparseRows::default();
        sr.clear(0);
        sr.cols.extend_from_slice(&cols);
        sr.vals.extend_from_slice(&vals);
        sr.end_row();
        let (mut l, mut dist) = ([0u32], [0.0f32]);
        let mut s = SparseScratch::new();
        assign_sparse(&sr, &packed, &sc, &mut l, &mut dist, &mut s);
        let (mut want_l, mut want_d) = ([0u32], [0.0f32]);
        reference::assign_chunk(&x, &centers, 4, d, &mut want_l, &mut want_d);
        assert_eq!(l, want_l);
        assert_eq!(dist[0].to_bits(), want_d[0].to_bits());
        assert_eq!(s.take_rechecks(), 1, "the tie went to the reference");
        // Without c0's twin and neighbour (c3 far away), one candidate.
        let packed = PackedCenters::new(&centers[..d], 1, d).unwrap();
        let far = [&centers[..d], &centers[3 * d..]].concat();
        let packed2 = PackedCenters::new(&far, 2, d).unwrap();
        for p in [packed, packed2] {
            let sc = SparseCenters::new(&p);
            assign_sparse(&sr, &p, &sc, &mut l, &mut dist, &mut s);
            assert_eq!(l, [0]);
            assert_eq!(s.take_rechecks(), 0);
        }
    }
}

//! The symmetric eigendecomposition A = V Λ Vᵀ of a small dense matrix, in
//! `f64`.
//!
//! [`SymmetricEigen::new`] reduces A to tridiagonal form by Householder
//! reflections and diagonalises that by the implicit QL method with Wilkinson
//! shifts (the EISPACK `tred2`/`tql2` pair, as in JAMA): about 9·n³ flops in
//! all, eigenvalues accurate to a few ulps of ‖A‖. At the landmark counts of a
//! Nyström map (M = 300) it takes milliseconds, where the cyclic Jacobi
//! method ([`SymmetricEigen::jacobi`], kept as the test oracle) took seconds:
//! each Jacobi sweep costs 2·n³ in strided column updates, and it needs 6–12
//! sweeps. Jacobi is more accurate *relatively* for tiny eigenvalues of a
//! positive semidefinite matrix, but the Nyström map drops every eigenvalue
//! below 1e-10 × the largest, far above the QL error (~1e-15 × the largest),
//! as scikit-learn's SVD does. Both are serial and deterministic.

/// Eigenvalues in decreasing order and their unit eigenvectors.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Eigenvectors as the columns of an n × n row-major matrix: column j
    /// (`vectors[i * n + j]` for i in 0..n) belongs to `values[j]`.
    pub vectors: Vec<f64>,
    /// The matrix order n.
    pub n: usize,
}

impl SymmetricEigen {
    /// Decomposes the symmetric n × n row-major matrix `a` (only symmetry up
    /// to rounding is assumed: the mean of `a[i][j]` and `a[j][i]` is used)
    /// by Householder tridiagonalisation and implicit QL.
    ///
    /// # Panics
    /// When `a.len() != n * n`.
    #[must_use]
    pub fn new(a: &[f64], n: usize) -> Self {
        assert_eq!(a.len(), n * n, "SymmetricEigen::new: a is not n × n");
        if n == 0 {
            return SymmetricEigen {
                values: Vec::new(),
                vectors: Vec::new(),
                n,
            };
        }
        // v: the symmetric matrix, then the accumulated Householder
        // transformations (row-major, columns are vectors).
        let mut v = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                v[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
            }
        }
        let mut d = vec![0.0f64; n];
        let mut e = vec![0.0f64; n];
        tred2(&mut v, &mut d, &mut e, n);
        // QL rotates pairs of columns of v: hold it transposed so they are
        // contiguous rows.
        let mut vt = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                vt[j * n + i] = v[i * n + j];
            }
        }
        tql2(&mut vt, &mut d, &mut e, n);
        Self::sorted(&d, &vt, n)
    }

    /// The eigenvalues `diag` with the eigenvectors as the rows of `vt`,
    /// sorted largest first (ties by index).
    fn sorted(diag: &[f64], vt: &[f64], n: usize) -> Self {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| diag[b].total_cmp(&diag[a]).then(a.cmp(&b)));
        let values: Vec<f64> = order.iter().map(|&j| diag[j]).collect();
        let mut vectors = vec![0.0f64; n * n];
        for (new_j, &j) in order.iter().enumerate() {
            for i in 0..n {
                vectors[i * n + new_j] = vt[j * n + i];
            }
        }
        SymmetricEigen { values, vectors, n }
    }

    /// The same decomposition by the cyclic Jacobi method: slower (seconds at
    /// n = 300), accurate to high relative precision for the small
    /// eigenvalues of a positive semidefinite matrix. The tests' oracle.
    ///
    /// # Panics
    /// When `a.len() != n * n`.
    #[must_use]
    pub fn jacobi(a: &[f64], n: usize) -> Self {
        assert_eq!(a.len(), n * n, "SymmetricEigen::jacobi: a is not n × n");
        let mut m = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
            }
        }
        // V transposed (row j is eigenvector j), so a rotation updates two
        // contiguous rows of it instead of two strided columns.
        let mut vt = vec![0.0f64; n * n];
        for i in 0..n {
            vt[i * n + i] = 1.0;
        }
        let norm2: f64 = m.iter().map(|x| x * x).sum();
        let target = norm2 * 1e-30;
        for _sweep in 0..60 {
            let off: f64 = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| m[i * n + j] * m[i * n + j])
                .sum();
            if off <= target || off == 0.0 {
                break;
            }
            for p in 0..n {
                for q in p + 1..n {
                    rotate(&mut m, &mut vt, n, p, q);
                }
            }
        }
        let diag: Vec<f64> = (0..n).map(|j| m[j * n + j]).collect();
        Self::sorted(&diag, &vt, n)
    }

    /// Component `i` of eigenvector `j`.
    #[must_use]
    pub fn vector(&self, i: usize, j: usize) -> f64 {
        self.vectors[i * self.n + j]
    }
}

/// Householder reduction of the symmetric `v` (row-major n × n) to a
/// tridiagonal matrix: on return `d` holds its diagonal, `e[1..]` its
/// subdiagonal, and `v` the orthogonal transformation (EISPACK `tred2`).
#[allow(clippy::many_single_char_names)]
fn tred2(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
                v[j * n + i] = 0.0;
            }
        } else {
            for dk in &mut d[..i] {
                *dk /= scale;
                h += *dk * *dk;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                f = d[j];
                v[j * n + i] = f;
                g = e[j] + v[j * n + j] * f;
                for k in j + 1..i {
                    g += v[k * n + j] * d[k];
                    e[k] += v[k * n + j] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[k * n + j] -= f * e[k] + g * d[k];
                }
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[(n - 1) * n + i] = v[i * n + i];
        v[i * n + i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[k * n + i + 1] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[k * n + i + 1] * v[k * n + j];
                }
                for k in 0..=i {
                    v[k * n + j] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[k * n + i + 1] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
        v[(n - 1) * n + j] = 0.0;
    }
    v[(n - 1) * n + n - 1] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL with shifts on the tridiagonal (`d`, `e` from [`tred2`]):
/// `d` becomes the eigenvalues and the rows of `vt` (the transformation,
/// transposed) the eigenvectors (EISPACK `tql2`).
#[allow(clippy::many_single_char_names)]
fn tql2(vt: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n {
            if e[m].abs() <= eps * tst1 {
                break;
            }
            m += 1;
        }
        // e[n − 1] is 0, so m < n here.
        if m > l {
            // Converges in 1–3 iterations per eigenvalue; the cap only
            // guards against a non-finite input looping forever.
            for _iter in 0..64 {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in &mut d[l + 2..n] {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    // Rows i and i + 1 of vt (columns of V).
                    let (head, tail) = vt.split_at_mut((i + 1) * n);
                    for (vi, vi1) in head[i * n..].iter_mut().zip(&mut tail[..n]) {
                        let hv = *vi1;
                        *vi1 = s * *vi + c * hv;
                        *vi = c * *vi - s * hv;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if !matches!(
                    e[l].abs().partial_cmp(&(eps * tst1)),
                    Some(std::cmp::Ordering::Greater)
                ) {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

/// One Jacobi rotation in the (p, q) plane: m ← Jᵀ m J, v ← v J (held as
/// `vt` = vᵀ, so rows p and q of `vt` change), with J chosen so that m[p][q]
/// becomes 0 (Rutishauser's stable formulas).
fn rotate(m: &mut [f64], vt: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = m[p * n + q];
    if apq == 0.0 {
        return;
    }
    let (app, aqq) = (m[p * n + p], m[q * n + q]);
    let theta = (aqq - app) / (2.0 * apq);
    let t = if theta.is_finite() {
        theta.signum() / (theta.abs() + theta.hypot(1.0))
    } else {
        // |θ| overflowed: the pair is negligible against the diagonal gap.
        1.0 / (2.0 * theta)
    };
    let c = 1.0 / t.hypot(1.0);
    let s = t * c;
    // Columns p and q of m.
    for k in 0..n {
        let (akp, akq) = (m[k * n + p], m[k * n + q]);
        m[k * n + p] = c * akp - s * akq;
        m[k * n + q] = s * akp + c * akq;
    }
    // Columns p and q of v: rows p and q of vt, contiguous.
    let (head, tail) = vt.split_at_mut(q * n);
    for (vkp, vkq) in head[p * n..(p + 1) * n].iter_mut().zip(&mut tail[..n]) {
        let (a, b) = (*vkp, *vkq);
        *vkp = c * a - s * b;
        *vkq = s * a + c * b;
    }
    // Rows p and q of m.
    for k in 0..n {
        let (apk, aqk) = (m[p * n + k], m[q * n + k]);
        m[p * n + k] = c * apk - s * aqk;
        m[q * n + k] = s * apk + c * aqk;
    }
    // Exactly zero by construction; set it so rounding does not linger.
    m[p * n + q] = 0.0;
    m[q * n + p] = 0.0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reconstruct(e: &SymmetricEigen) -> Vec<f64> {
        let n = e.n;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n)
                    .map(|l| e.vector(i, l) * e.values[l] * e.vector(j, l))
                    .sum();
            }
        }
        a
    }

    #[test]
    fn known_two_by_two_and_diagonal() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, vectors (1, 1)/√2, (1, −1)/√2.
        let e = SymmetricEigen::new(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((e.values[0] - 3.0).abs() < 1e-14 && (e.values[1] - 1.0).abs() < 1e-14);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((e.vector(0, 0).abs() - h).abs() < 1e-14);
        assert!((e.vector(0, 0) - e.vector(1, 0)).abs() < 1e-14);
        assert!((e.vector(0, 1) + e.vector(1, 1)).abs() < 1e-14);
        // Diagonal: sorted, unit vectors.
        let e = SymmetricEigen::new(&[1.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, -2.0], 3);
        assert_eq!(e.values, vec![5.0, 1.0, -2.0]);
        assert_eq!(e.vector(1, 0).abs(), 1.0);
    }

    #[test]
    fn known_tridiagonal_spectrum() {
        // The n × n second-difference matrix tridiag(−1, 2, −1) has eigenvalues
        // 2 − 2cos(kπ/(n+1)), k = 1..n.
        let n = 12;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let e = SymmetricEigen::new(&a, n);
        let mut want: Vec<f64> = (1..=n)
            .map(|k| 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n + 1) as f64).cos())
            .collect();
        want.sort_by(|a, b| b.total_cmp(a));
        for (got, want) in e.values.iter().zip(&want) {
            assert!((got - want).abs() < 1e-13, "{got} vs {want}");
        }
    }

    #[test]
    fn hilbert_matrix_small_eigenvalues_to_relative_precision() {
        // The 6 × 6 Hilbert matrix: smallest eigenvalue 1.0827994845e-7.
        let n = 6;
        let a: Vec<f64> = (0..n * n)
            .map(|c| 1.0 / ((c / n + c % n + 1) as f64))
            .collect();
        let e = SymmetricEigen::new(&a, n);
        assert!((e.values[0] - 1.618_899_858_924_339).abs() < 1e-13);
        assert!((e.values[5] / 1.082_799_484_565_7e-7 - 1.0).abs() < 1e-7);
    }

    #[test]
    fn ql_matches_jacobi_on_an_rbf_gram_matrix() {
        // 120 points on a curve, rbf γ = 5: a positive semidefinite matrix
        // whose eigenvalues span 16 orders of magnitude, as K_MM does.
        let n = 120;
        let pts: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 * 0.05;
                (t.cos() * (1.0 + 0.1 * t), t.sin())
            })
            .collect();
        let a: Vec<f64> = (0..n * n)
            .map(|c| {
                let (p, q) = (pts[c / n], pts[c % n]);
                (-5.0 * ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2))).exp()
            })
            .collect();
        let (ql, jacobi) = (SymmetricEigen::new(&a, n), SymmetricEigen::jacobi(&a, n));
        let top = jacobi.values[0];
        for (j, (x, y)) in ql.values.iter().zip(&jacobi.values).enumerate() {
            assert!(
                (x - y).abs() < 1e-13 * top,
                "eigenvalue {j}: QL {x} vs Jacobi {y}"
            );
            // Eigenvectors of well-separated eigenvalues agree up to sign.
            if *y > 1e-6 * top {
                let dot: f64 = (0..n).map(|i| ql.vector(i, j) * jacobi.vector(i, j)).sum();
                assert!((dot.abs() - 1.0).abs() < 1e-8, "vector {j}: |cos| {dot}");
            }
        }
    }

    proptest! {
        #[test]
        fn reconstructs_and_is_orthonormal(n in 1usize..14, seed in any::<u64>()) {
            let mut s = seed | 1;
            let mut next = || {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            };
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    let x = next();
                    a[i * n + j] = x;
                    a[j * n + i] = x;
                }
            }
            let (ql, jacobi) = (SymmetricEigen::new(&a, n), SymmetricEigen::jacobi(&a, n));
            for e in [&ql, &jacobi] {
                let r = reconstruct(e);
                for (x, y) in a.iter().zip(&r) {
                    prop_assert!((x - y).abs() < 1e-12, "{x} vs {y}");
                }
                for p in 0..n {
                    for q in 0..n {
                        let dot: f64 = (0..n).map(|i| e.vector(i, p) * e.vector(i, q)).sum();
                        let want = if p == q { 1.0 } else { 0.0 };
                        prop_assert!((dot - want).abs() < 1e-12);
                    }
                }
                for w in e.values.windows(2) {
                    prop_assert!(w[0] >= w[1]);
                }
            }
            for (x, y) in ql.values.iter().zip(&jacobi.values) {
                prop_assert!((x - y).abs() < 1e-12, "QL {x} vs Jacobi {y}");
            }
        }
    }
}

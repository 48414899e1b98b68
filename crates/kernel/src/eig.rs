//! The symmetric eigendecomposition A = V Λ Vᵀ of a small dense matrix, in
//! `f64`, by the cyclic Jacobi method.
//!
//! Jacobi rotations zero one off-diagonal pair at a time; sweeps repeat until
//! the off-diagonal mass is below `1e-15 ×` the matrix's Frobenius norm (or 60
//! sweeps, far more than the 6–12 it takes in practice). It is slower than
//! Householder tridiagonalisation + QL by a constant factor, but simple, and
//! accurate to high *relative* precision for the small eigenvalues of a
//! positive semidefinite matrix, which is what the Nyström map's `Λ^(−1/2)`
//! needs. The matrices here are M × M with M the landmark count (hundreds, a
//! few thousand at most): O(M³) per sweep.

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
    /// to rounding is assumed: the mean of `a[i][j]` and `a[j][i]` is used).
    ///
    /// # Panics
    /// When `a.len() != n * n`.
    #[must_use]
    pub fn new(a: &[f64], n: usize) -> Self {
        assert_eq!(a.len(), n * n, "SymmetricEigen::new: a is not n × n");
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
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| m[b * n + b].total_cmp(&m[a * n + a]).then(a.cmp(&b)));
        let values: Vec<f64> = order.iter().map(|&j| m[j * n + j]).collect();
        let mut vectors = vec![0.0f64; n * n];
        for (new_j, &j) in order.iter().enumerate() {
            for i in 0..n {
                vectors[i * n + new_j] = vt[j * n + i];
            }
        }
        SymmetricEigen { values, vectors, n }
    }

    /// Component `i` of eigenvector `j`.
    #[must_use]
    pub fn vector(&self, i: usize, j: usize) -> f64 {
        self.vectors[i * self.n + j]
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
            let e = SymmetricEigen::new(&a, n);
            let r = reconstruct(&e);
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
    }
}

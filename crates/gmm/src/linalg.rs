//! The small dense linear algebra a mixture needs: Cholesky factors of d × d
//! covariances and the precision factor `U = L⁻ᵀ`, row-major `f64`.
//!
//! Matrices are k·d² at most, tiny next to a pass over the data, so these are
//! plain loops (no BLAS/LAPACK dependency).

/// Why a Cholesky factorisation failed: the pivot of `index` was `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NotPositiveDefinite {
    pub(crate) index: usize,
    pub(crate) value: f64,
}

/// Lower Cholesky factor `L` (row-major d × d, zeros above the diagonal) of the
/// symmetric matrix `a` (only its lower triangle is read), `a = L Lᵀ`.
pub(crate) fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>, NotPositiveDefinite> {
    let mut l = vec![0.0f64; d * d];
    for j in 0..d {
        let mut diag = a[j * d + j];
        for p in 0..j {
            diag -= l[j * d + p] * l[j * d + p];
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return Err(NotPositiveDefinite {
                index: j,
                value: diag,
            });
        }
        let ljj = diag.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for p in 0..j {
                s -= l[i * d + p] * l[j * d + p];
            }
            l[i * d + j] = s / ljj;
        }
    }
    Ok(l)
}

/// The upper-triangular precision factor `U = L⁻ᵀ` of a lower Cholesky factor
/// `L`, so that the precision matrix is `U Uᵀ` and the Mahalanobis distance of
/// `x` is ‖(x − μ) U‖² (scikit-learn's `precisions_cholesky_`). `L⁻¹` comes
/// from forward substitution on the identity: the inverse of the triangular
/// factor, never of the covariance.
pub(crate) fn precision_factor(l: &[f64], d: usize) -> Vec<f64> {
    // m = L⁻¹ (lower), column by column.
    let mut m = vec![0.0f64; d * d];
    for c in 0..d {
        for i in c..d {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for p in c..i {
                s -= l[i * d + p] * m[p * d + c];
            }
            m[i * d + c] = s / l[i * d + i];
        }
    }
    // U = mᵀ.
    let mut u = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..d {
            u[i * d + j] = m[j * d + i];
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_times_transpose_is_the_inverse() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let u = precision_factor(&l, 3);
        // a · (U Uᵀ) = I
        for i in 0..3 {
            for j in 0..3 {
                let mut s = 0.0;
                for p in 0..3 {
                    let mut prec = 0.0;
                    for q in 0..3 {
                        prec += u[p * 3 + q] * u[j * 3 + q];
                    }
                    s += a[i * 3 + p] * prec;
                }
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((s - want).abs() < 1e-12, "{i},{j}: {s}");
            }
        }
        assert!(
            u[3] == 0.0 && u[6] == 0.0 && u[7] == 0.0,
            "upper triangular"
        );
    }

    #[test]
    fn singular_matrix_names_the_pivot() {
        let a = [1.0, 1.0, 1.0, 1.0];
        let e = cholesky(&a, 2).unwrap_err();
        assert_eq!(e.index, 1);
    }
}

//! What a 2-D scatter plot needs from data of any size: a random sample of
//! rows, and the first two principal axes from a streamed covariance.

use mmclust_core::DataSource;
use mmclust_core::parallel::{Chunking, PassOptions, add_cells, map_reduce_global};
use rand::SeedableRng;

use crate::error::{EvalError, Result};

/// `m` rows drawn uniformly without replacement (all rows when m ≥ n), in
/// row order: their indices and their values, row-major.
///
/// # Errors
/// Read errors of the source.
pub fn sample_rows<S: DataSource + ?Sized>(
    source: &S,
    m: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let n = source.n_rows();
    let idx: Vec<usize> = if m >= n {
        (0..n).collect()
    } else {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v = rand::seq::index::sample(&mut rng, n, m).into_vec();
        v.sort_unstable();
        v
    };
    let mut data = Vec::with_capacity(idx.len() * source.n_cols());
    let mut scratch = Vec::new();
    if idx.len() == n {
        data.extend_from_slice(source.rows(0..n, &mut scratch)?);
    } else {
        for &i in &idx {
            data.extend_from_slice(source.rows(i..i + 1, &mut scratch)?);
        }
    }
    Ok((idx, data))
}

/// The two leading principal axes of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalAxes {
    /// Column means.
    pub mean: Vec<f64>,
    /// Two unit axes, row-major 2 × d.
    pub axes: Vec<f64>,
    /// Variance along each axis.
    pub variance: [f64; 2],
    /// Total variance (trace of the covariance).
    pub total_variance: f64,
}

impl PrincipalAxes {
    /// Coordinates of a point on the two axes.
    #[must_use]
    pub fn project(&self, x: &[f64]) -> [f64; 2] {
        let d = self.mean.len();
        let mut out = [0.0; 2];
        for (a, o) in out.iter_mut().enumerate() {
            *o = (0..d)
                .map(|p| (x[p] - self.mean[p]) * self.axes[a * d + p])
                .sum();
        }
        out
    }

    /// The 2 × 2 covariance, on the axes, of a d × d covariance (row-major).
    #[must_use]
    pub fn project_cov(&self, cov: &[f64]) -> [f64; 4] {
        let d = self.mean.len();
        let mut out = [0.0; 4];
        for a in 0..2 {
            for b in 0..2 {
                let mut s = 0.0;
                for i in 0..d {
                    for j in 0..d {
                        s += self.axes[a * d + i] * cov[i * d + j] * self.axes[b * d + j];
                    }
                }
                out[a * 2 + b] = s;
            }
        }
        out
    }
}

/// The two leading principal axes of `source` (d ≥ 2): two streamed passes
/// (means, then [`principal_axes_about`] them). The passes go over the
/// global chunk grid: a source shared between processes (MPI) splits them,
/// every process calling this, with the same result.
///
/// # Errors
/// [`EvalError::InvalidParameter`] for fewer than 2 columns; read errors.
pub fn principal_axes<S: DataSource + ?Sized>(source: &S) -> Result<PrincipalAxes> {
    let (n, d) = (source.n_rows(), source.n_cols());
    check_shape(n, d)?;
    let sums = map_reduce_global(
        source,
        Chunking::for_dim(d),
        PassOptions::default(),
        |c| {
            let mut s = vec![0.0; d];
            for row in c.rows() {
                for (a, &v) in s.iter_mut().zip(row) {
                    *a += f64::from(v);
                }
            }
            Ok(s)
        },
        add_cells,
    )?
    .unwrap_or_default();
    let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
    principal_axes_about(source, &mean)
}

fn check_shape(n: usize, d: usize) -> Result<()> {
    if d < 2 || n == 0 {
        return Err(EvalError::param(
            "data",
            "principal axes need at least 2 columns and 1 row",
        ));
    }
    Ok(())
}

/// The two leading principal axes of `source` (d ≥ 2) in **one** streamed
/// pass, given a point `shift` near the mean (the column means of a
/// statistics pass already made, or zeros for standardised data): the pass
/// sums x − shift and (x − shift)(x − shift)ᵀ in f64, and the covariance is
/// their second moment less δδᵀ, δ the mean of x − shift (small when the
/// shift is near the mean, so nothing cancels). Then power iteration with
/// deflation on the d × d matrix, from a fixed start (deterministic).
///
/// # Errors
/// [`EvalError::InvalidParameter`] for fewer than 2 columns or a shift of
/// the wrong length; read errors.
pub fn principal_axes_about<S: DataSource + ?Sized>(
    source: &S,
    shift: &[f64],
) -> Result<PrincipalAxes> {
    let (n, d) = (source.n_rows(), source.n_cols());
    check_shape(n, d)?;
    if shift.len() != d {
        return Err(EvalError::param(
            "shift",
            format!("{} values for {d} columns", shift.len()),
        ));
    }
    // Cells: d sums of x − shift, then the upper triangle of the d × d
    // second moment (row-major, full storage).
    let moments = map_reduce_global(
        source,
        Chunking::for_dim(d),
        PassOptions::default(),
        |c| {
            let mut s = vec![0.0; d + d * d];
            let mut z = vec![0.0; d];
            for row in c.rows() {
                for p in 0..d {
                    z[p] = f64::from(row[p]) - shift[p];
                    s[p] += z[p];
                }
                let m = &mut s[d..];
                for i in 0..d {
                    let zi = z[i];
                    for j in i..d {
                        m[i * d + j] += zi * z[j];
                    }
                }
            }
            Ok(s)
        },
        add_cells,
    )?
    .unwrap_or_default();
    let delta: Vec<f64> = moments[..d].iter().map(|s| s / n as f64).collect();
    let mean: Vec<f64> = shift.iter().zip(&delta).map(|(s, e)| s + e).collect();
    let mut cov = moments[d..].to_vec();
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] = cov[i * d + j] / n as f64 - delta[i] * delta[j];
            cov[j * d + i] = cov[i * d + j];
        }
    }
    let total_variance = (0..d).map(|i| cov[i * d + i]).sum();
    let mut axes = vec![0.0; 2 * d];
    let mut variance = [0.0; 2];
    let mut m = cov;
    for a in 0..2 {
        let mut v: Vec<f64> = (0..d)
            .map(|p| 1.0 + 0.1 * p as f64 + a as f64 * 0.01)
            .collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0; d];
            for i in 0..d {
                w[i] = (0..d).map(|j| m[i * d + j] * v[j]).sum();
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            for x in &mut w {
                *x /= norm;
            }
            let change: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if change < 1e-12 {
                break;
            }
        }
        if lambda == 0.0 {
            v = (0..d).map(|p| if p == a { 1.0 } else { 0.0 }).collect();
        }
        axes[a * d..(a + 1) * d].copy_from_slice(&v);
        variance[a] = lambda;
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] -= lambda * v[i] * v[j];
            }
        }
    }
    Ok(PrincipalAxes {
        mean,
        axes,
        variance,
        total_variance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmclust_core::ArraySource;

    #[test]
    fn finds_the_long_axis() {
        // Points spread along (1, 1, 0) with a little along (1, −1, 0).
        let mut x = Vec::new();
        for i in 0..200 {
            let t = i as f32 - 100.0;
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            x.extend_from_slice(&[t + s, t - s, 0.5]);
        }
        let src = ArraySource::from_slice(&x, 200, 3).unwrap();
        let pa = principal_axes(&src).unwrap();
        let a = &pa.axes[..3];
        assert!((a[0].abs() - 0.5f64.sqrt()).abs() < 1e-2 && (a[0] - a[1]).abs() < 1e-2);
        let b = &pa.axes[3..];
        assert!((b[0] + b[1]).abs() < 1e-2 && b[2].abs() < 1e-6);
        assert!(pa.variance[0] > pa.variance[1]);
        // One pass about a shift far from the mean gives the same axes.
        let far = principal_axes_about(&src, &[1e3, -2e3, 7.0]).unwrap();
        for (a, b) in far.axes.iter().zip(&pa.axes) {
            assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", far.axes, pa.axes);
        }
        for (a, b) in far.mean.iter().zip(&pa.mean) {
            assert!((a - b).abs() < 1e-9);
        }
        assert!((far.variance[0] - pa.variance[0]).abs() < 1e-6 * pa.variance[0]);
        assert!(principal_axes_about(&src, &[0.0; 2]).is_err());
        let (idx, rows) = sample_rows(&src, 10, 1).unwrap();
        assert_eq!(idx.len(), 10);
        assert_eq!(rows.len(), 30);
    }
}

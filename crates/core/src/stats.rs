//! Column statistics in one streaming pass, and the z-score transform.
//!
//! Each chunk computes its per-column count, mean and sum of squared deviations
//! (M2) exactly, in two passes over the chunk while it is in cache; chunks are
//! combined with Chan et al.'s parallel merge, in f64, through the deterministic
//! tree of [`crate::parallel::map_reduce`]. Non-finite values (NaN, ±inf) are
//! counted and left out of the moments, so one bad cell does not poison a column.

use std::ops::Range;

use crate::error::{CoreError, Result};
use crate::parallel::{Chunking, PassOptions, map_reduce_global};
use crate::source::DataSource;

/// Per-column statistics of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStats {
    /// Rows seen.
    pub n_rows: u64,
    /// Finite values per column.
    pub count: Vec<u64>,
    /// Mean of the finite values per column (NaN when a column has none).
    pub mean: Vec<f64>,
    /// Sum of squared deviations from the mean per column.
    pub m2: Vec<f64>,
    /// Smallest finite value per column (+inf when none).
    pub min: Vec<f64>,
    /// Largest finite value per column (−inf when none).
    pub max: Vec<f64>,
    /// NaN values per column.
    pub nan: Vec<u64>,
    /// ±inf values per column.
    pub inf: Vec<u64>,
    /// The first non-finite value in row order, as (row, column), if any.
    pub first_non_finite: Option<(usize, usize)>,
}

impl ColumnStats {
    fn empty(d: usize) -> Self {
        ColumnStats {
            n_rows: 0,
            count: vec![0; d],
            mean: vec![0.0; d],
            m2: vec![0.0; d],
            min: vec![f64::INFINITY; d],
            max: vec![f64::NEG_INFINITY; d],
            nan: vec![0; d],
            inf: vec![0; d],
            first_non_finite: None,
        }
    }

    /// Number of columns.
    #[must_use]
    pub fn n_cols(&self) -> usize {
        self.count.len()
    }

    /// Population variance (ddof = 0, as scikit-learn's `StandardScaler`) per column.
    #[must_use]
    pub fn variance(&self) -> Vec<f64> {
        self.m2
            .iter()
            .zip(&self.count)
            .map(|(&m2, &c)| if c == 0 { f64::NAN } else { m2 / c as f64 })
            .collect()
    }

    /// Population standard deviation per column.
    #[must_use]
    pub fn std(&self) -> Vec<f64> {
        self.variance().into_iter().map(f64::sqrt).collect()
    }

    /// Total non-finite values over all columns.
    #[must_use]
    pub fn non_finite(&self) -> u64 {
        self.nan.iter().sum::<u64>() + self.inf.iter().sum::<u64>()
    }

    /// Fails with [`CoreError::NonFinite`], naming the first NaN or infinite
    /// cell of `source_name` and how many there are, when these statistics saw
    /// any.
    ///
    /// # Errors
    /// [`CoreError::NonFinite`].
    pub fn check_finite(&self, source_name: &str) -> Result<()> {
        match self.first_non_finite {
            Some((row, col)) => Err(CoreError::NonFinite {
                source_name: source_name.to_string(),
                count: self.non_finite(),
                row,
                col,
            }),
            None => Ok(()),
        }
    }

    /// Statistics of one block of rows starting at `start_row`.
    fn of_block(data: &[f32], d: usize, start_row: usize) -> Self {
        // The common case, every value finite, runs branch-free loops the
        // compiler vectorises across columns; the general case checks each value.
        let all_finite = data.iter().fold(true, |ok, v| ok & v.is_finite());
        if all_finite {
            Self::of_finite_block(data, d)
        } else {
            Self::of_block_with_non_finite(data, d, start_row)
        }
    }

    fn of_finite_block(data: &[f32], d: usize) -> Self {
        let mut s = ColumnStats::empty(d);
        let rows = data.len() / d;
        s.n_rows = rows as u64;
        s.count.fill(rows as u64);
        let mut sum = vec![0.0f64; d];
        let mut min = vec![f32::INFINITY; d];
        let mut max = vec![f32::NEG_INFINITY; d];
        for row in data.chunks_exact(d) {
            for (((sum, min), max), &v) in sum.iter_mut().zip(&mut min).zip(&mut max).zip(row) {
                *sum += f64::from(v);
                *min = min.min(v);
                *max = max.max(v);
            }
        }
        for j in 0..d {
            s.mean[j] = sum[j] / rows as f64;
            s.min[j] = f64::from(min[j]);
            s.max[j] = f64::from(max[j]);
        }
        for row in data.chunks_exact(d) {
            for ((m2, &mean), &v) in s.m2.iter_mut().zip(&s.mean).zip(row) {
                let dv = f64::from(v) - mean;
                *m2 += dv * dv;
            }
        }
        s
    }

    fn of_block_with_non_finite(data: &[f32], d: usize, start_row: usize) -> Self {
        let mut s = ColumnStats::empty(d);
        s.n_rows = (data.len() / d) as u64;
        let mut sum = vec![0.0f64; d];
        for (i, row) in data.chunks_exact(d).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if v.is_finite() {
                    let v = f64::from(v);
                    sum[j] += v;
                    s.min[j] = s.min[j].min(v);
                    s.max[j] = s.max[j].max(v);
                    s.count[j] += 1;
                } else {
                    if v.is_nan() {
                        s.nan[j] += 1;
                    } else {
                        s.inf[j] += 1;
                    }
                    if s.first_non_finite.is_none() {
                        s.first_non_finite = Some((start_row + i, j));
                    }
                }
            }
        }
        for ((mean, &sum), &count) in s.mean.iter_mut().zip(&sum).zip(&s.count) {
            *mean = if count > 0 { sum / count as f64 } else { 0.0 };
        }
        for row in data.chunks_exact(d) {
            for (j, &v) in row.iter().enumerate() {
                if v.is_finite() {
                    let dv = f64::from(v) - s.mean[j];
                    s.m2[j] += dv * dv;
                }
            }
        }
        s
    }

    /// Chan's merge; `self` holds the rows before `other`'s.
    fn merge(mut self, other: Self) -> Self {
        for j in 0..self.n_cols() {
            let (na, nb) = (self.count[j] as f64, other.count[j] as f64);
            let n = na + nb;
            if nb > 0.0 {
                let delta = other.mean[j] - self.mean[j];
                self.mean[j] += delta * nb / n;
                self.m2[j] += other.m2[j] + delta * delta * na * nb / n;
            }
            self.count[j] += other.count[j];
            self.min[j] = self.min[j].min(other.min[j]);
            self.max[j] = self.max[j].max(other.max[j]);
            self.nan[j] += other.nan[j];
            self.inf[j] += other.inf[j];
        }
        self.n_rows += other.n_rows;
        self.first_non_finite = self.first_non_finite.or(other.first_non_finite);
        self
    }

    /// One streaming pass over `source`.
    ///
    /// # Errors
    /// Errors of the source; [`CoreError::InvalidParameter`] for a source with
    /// no rows or columns.
    pub fn compute<S: DataSource + ?Sized>(
        source: &S,
        chunking: Chunking,
        options: PassOptions<'_>,
    ) -> Result<ColumnStats> {
        let d = source.n_cols();
        if d == 0 || source.n_rows() == 0 {
            return Err(CoreError::param(
                "data",
                format!("{} has no rows or no columns", source.name()),
            ));
        }
        let mut stats = map_reduce_global(
            source,
            chunking,
            options,
            |chunk| Ok(ColumnStats::of_block(chunk.data, d, chunk.start_row)),
            ColumnStats::merge,
        )?
        .expect("source has rows");
        for j in 0..d {
            if stats.count[j] == 0 {
                stats.mean[j] = f64::NAN;
            }
        }
        Ok(stats)
    }
}

crate::partial_struct!(ColumnStats {
    n_rows,
    count,
    nan,
    inf,
    mean,
    m2,
    min,
    max,
    first_non_finite,
});

/// A z-score transform `(x − mean) / scale`, column by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column scales: the population standard deviation, or 1 for a constant
    /// column (which is then only centred, never divided by zero).
    pub scale: Vec<f64>,
    /// Columns whose standard deviation was zero (or not finite).
    pub constant_columns: Vec<usize>,
}

impl Standardizer {
    /// The transform that standardises data with these statistics.
    ///
    /// # Errors
    /// [`CoreError::NonFinite`] when the statistics saw NaN or ±inf values: a
    /// z-score of such data would be silently wrong.
    pub fn from_stats(stats: &ColumnStats, source_name: &str) -> Result<Self> {
        stats.check_finite(source_name)?;
        let mut constant_columns = Vec::new();
        let scale = stats
            .std()
            .into_iter()
            .enumerate()
            .map(|(j, s)| {
                if s > 0.0 && s.is_finite() {
                    s
                } else {
                    constant_columns.push(j);
                    1.0
                }
            })
            .collect();
        Ok(Standardizer {
            mean: stats.mean.clone(),
            scale,
            constant_columns,
        })
    }

    /// Builds a transform from stored parameters (`--apply`).
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] when lengths differ or a scale is not a
    /// positive finite number, or a mean is not finite.
    pub fn from_parts(mean: Vec<f64>, scale: Vec<f64>) -> Result<Self> {
        if mean.len() != scale.len() || mean.is_empty() {
            return Err(CoreError::param(
                "standardizer",
                format!(
                    "{} means and {} scales; both must have one value per column",
                    mean.len(),
                    scale.len()
                ),
            ));
        }
        if let Some(j) = mean.iter().position(|m| !m.is_finite()) {
            return Err(CoreError::param(
                "standardizer",
                format!("mean of column {j} is not finite"),
            ));
        }
        if let Some(j) = scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(CoreError::param(
                "standardizer",
                format!(
                    "scale of column {j} is {}; scales must be positive",
                    scale[j]
                ),
            ));
        }
        Ok(Standardizer {
            mean,
            scale,
            constant_columns: Vec::new(),
        })
    }

    /// Number of columns.
    #[must_use]
    pub fn n_cols(&self) -> usize {
        self.mean.len()
    }

    /// Standardises row-major `data` (rows of `n_cols()` values) in place.
    pub fn apply_in_place(&self, data: &mut [f32]) {
        let d = self.n_cols();
        let shift: Vec<f32> = self.mean.iter().map(|&m| m as f32).collect();
        let inv: Vec<f32> = self.scale.iter().map(|&s| (1.0 / s) as f32).collect();
        for row in data.chunks_exact_mut(d) {
            for ((v, &m), &r) in row.iter_mut().zip(&shift).zip(&inv) {
                *v = (*v - m) * r;
            }
        }
    }

    /// Maps standardised values back to original units, in place.
    pub fn invert_in_place(&self, data: &mut [f32]) {
        let d = self.n_cols();
        for row in data.chunks_exact_mut(d) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (f64::from(*v) * self.scale[j] + self.mean[j]) as f32;
            }
        }
    }
}

/// A [`DataSource`] that standardises another one chunk by chunk as it is read:
/// no standardised copy of the data is ever written.
#[derive(Debug)]
pub struct Standardized<S> {
    inner: S,
    transform: Standardizer,
}

impl<S: DataSource> Standardized<S> {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] when the transform's column count differs
    /// from the source's.
    pub fn new(inner: S, transform: Standardizer) -> Result<Self> {
        if transform.n_cols() != inner.n_cols() {
            return Err(CoreError::ShapeMismatch {
                what: inner.name(),
                message: format!(
                    "data has {} columns but the standardisation parameters have {}",
                    inner.n_cols(),
                    transform.n_cols()
                ),
            });
        }
        Ok(Standardized { inner, transform })
    }

    /// The transform applied.
    pub fn transform(&self) -> &Standardizer {
        &self.transform
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for Standardized<S> {
    crate::forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, hint, comm);
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        // The inner source may hand out a view of its own memory or of `own`;
        // either way the standardised rows are written into `scratch`.
        crate::source::with_inner_rows(&self.inner, range, |view| {
            scratch.clear();
            scratch.extend_from_slice(view);
        })?;
        self.transform.apply_in_place(scratch);
        Ok(&scratch[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::with_threads;
    use crate::source::ArraySource;

    fn naive(data: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
        let n = (data.len() / d) as f64;
        let mut mean = vec![0.0; d];
        for row in data.chunks_exact(d) {
            for j in 0..d {
                mean[j] += f64::from(row[j]) / n;
            }
        }
        let mut var = vec![0.0; d];
        for row in data.chunks_exact(d) {
            for j in 0..d {
                var[j] += (f64::from(row[j]) - mean[j]).powi(2) / n;
            }
        }
        (mean, var)
    }

    #[test]
    fn matches_two_pass_and_is_thread_count_independent() {
        let (n, d) = (5003, 3);
        let data: Vec<f32> = (0..n * d)
            .map(|i| 1e4 + ((i * 7919) % 1000) as f32 * 0.37 + (i % d) as f32 * 100.0)
            .collect();
        let src = ArraySource::from_slice(&data, n, d).unwrap();
        let chunking = Chunking::with_rows(61).unwrap();
        let one = with_threads(Some(1), || {
            ColumnStats::compute(&src, chunking, PassOptions::default())
        })
        .unwrap()
        .unwrap();
        let two = with_threads(Some(2), || {
            ColumnStats::compute(&src, chunking, PassOptions::default())
        })
        .unwrap()
        .unwrap();
        assert_eq!(one, two);
        let (mean, var) = naive(&data, d);
        for j in 0..d {
            assert!((one.mean[j] - mean[j]).abs() < 1e-9 * mean[j].abs());
            assert!((one.variance()[j] - var[j]).abs() < 1e-9 * var[j]);
        }
        assert_eq!(one.count, vec![n as u64; d]);
        assert_eq!(one.first_non_finite, None);
    }

    #[test]
    fn non_finite_values_are_counted_and_located() {
        let data = [1.0, 2.0, f32::NAN, 4.0, 5.0, f32::INFINITY, 7.0, 8.0];
        let src = ArraySource::from_slice(&data, 4, 2).unwrap();
        let s = ColumnStats::compute(
            &src,
            Chunking::with_rows(1).unwrap(),
            PassOptions::default(),
        )
        .unwrap();
        assert_eq!(s.nan, vec![1, 0]);
        assert_eq!(s.inf, vec![0, 1]);
        assert_eq!(s.count, vec![3, 3]);
        assert_eq!(s.first_non_finite, Some((1, 0)));
        assert!((s.mean[0] - 13.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.max[1], 8.0);
        let err = Standardizer::from_stats(&s, "x.npy").unwrap_err();
        assert!(err.to_string().contains("row 1, column 0"), "{err}");
    }

    #[test]
    fn constant_column_is_centred_not_divided() {
        let data = [3.0, 1.0, 3.0, 2.0, 3.0, 3.0];
        let src = ArraySource::from_slice(&data, 3, 2).unwrap();
        let s = ColumnStats::compute(&src, Chunking::for_dim(2), PassOptions::default()).unwrap();
        let t = Standardizer::from_stats(&s, "x").unwrap();
        assert_eq!(t.constant_columns, vec![0]);
        let std = Standardized::new(src, t.clone()).unwrap();
        let mut scratch = Vec::new();
        let out = std.rows(0..3, &mut scratch).unwrap().to_vec();
        assert_eq!(out[0], 0.0);
        let z1: Vec<f32> = out.iter().skip(1).step_by(2).copied().collect();
        let expect = 1.0 / (2.0f64 / 3.0).sqrt();
        assert!((f64::from(z1[0]) + expect).abs() < 1e-6);
        assert!((f64::from(z1[2]) - expect).abs() < 1e-6);
        let mut back = out.clone();
        t.invert_in_place(&mut back);
        for (a, b) in back.iter().zip(&data) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn from_parts_rejects_bad_scales() {
        assert!(Standardizer::from_parts(vec![0.0], vec![0.0]).is_err());
        assert!(Standardizer::from_parts(vec![0.0, 1.0], vec![1.0]).is_err());
        assert!(Standardizer::from_parts(vec![f64::NAN], vec![1.0]).is_err());
        assert!(Standardizer::from_parts(vec![0.0], vec![2.0]).is_ok());
    }
}

//! L2 normalisation of rows on the fly, for cosine (spherical) clustering.
//!
//! On unit-length vectors ‖x − c‖² = 2 − 2·cos(x, c), so the centre of largest
//! cosine is the centre of smallest squared Euclidean distance: every exact
//! Euclidean engine (its reference distance, certified pre-screens and ties to
//! the lowest index) decides cosine assignments when it reads rows through
//! [`Normalized`] and its centres are kept at unit length
//! ([`unit_from_sums`]). Like [`crate::stats::Standardized`], the wrapper
//! writes no normalised copy of the data: each chunk is normalised as it is
//! read.
//!
//! The arithmetic is fixed, so the same row gives the same bits on every
//! instruction set and thread count: the squared norm is summed in `f64` in
//! column order, and each value is divided by the norm in `f64` and rounded
//! once to `f32`.

use std::ops::Range;

use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// The Euclidean norm of `row`, summed in `f64` in column order.
#[must_use]
pub fn row_norm(row: &[f32]) -> f64 {
    row.iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

/// Divides `row` by its Euclidean norm ([`row_norm`]) in place. Returns the
/// norm; a row of norm 0 or a non-finite norm is left as it is (the caller
/// decides: [`Normalized`] refuses a zero row and passes non-finite values on
/// to the finiteness checks, which name the cell).
pub fn normalize_in_place(row: &mut [f32]) -> f64 {
    let norm = row_norm(row);
    if norm > 0.0 && norm.is_finite() {
        for v in row.iter_mut() {
            *v = (f64::from(*v) / norm) as f32;
        }
    }
    norm
}

/// Writes `sums / ‖sums‖` (a centre's direction from the `f64` sum of its
/// unit rows) into `out`, rounded once to `f32`. Returns false, leaving `out`
/// as it was, when the sum has norm 0 or is not finite: the rows cancel out
/// and the direction is undefined, so the centre stays where it was.
pub fn unit_from_sums(sums: &[f64], out: &mut [f32]) -> bool {
    debug_assert_eq!(sums.len(), out.len());
    let norm = sums.iter().map(|&s| s * s).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    for (o, &s) in out.iter_mut().zip(sums) {
        *o = (s / norm) as f32;
    }
    true
}

/// Normalises every row of a row-major `data` of `d` columns in place
/// ([`normalize_in_place`]).
///
/// # Errors
/// [`CoreError::ZeroRow`] naming the first row of norm 0 (`first_row` is the
/// index of `data`'s first row in `source_name`).
pub fn normalize_rows(data: &mut [f32], d: usize, first_row: usize, source_name: &str) -> Result<()> {
    for (i, row) in data.chunks_exact_mut(d.max(1)).enumerate() {
        if normalize_in_place(row) == 0.0 {
            return Err(CoreError::ZeroRow {
                source_name: source_name.to_string(),
                row: first_row + i,
            });
        }
    }
    Ok(())
}

thread_local! {
    static INNER_SCRATCH: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A [`DataSource`] that L2-normalises each row of another one as it is read.
/// A row of norm 0 is an error ([`CoreError::ZeroRow`]) naming the row; rows
/// holding NaN or ±inf are passed unchanged, so the finiteness checks name
/// the cell.
#[derive(Debug)]
pub struct Normalized<S> {
    inner: S,
}

impl<S: DataSource> Normalized<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Normalized { inner }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for Normalized<S> {
    crate::forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, will_need, comm);

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        // The inner source may hand out a view of its own memory or of `own`;
        // either way the normalised rows are written into `scratch`.
        let start = range.start;
        let mut own = INNER_SCRATCH.with(std::cell::Cell::take);
        let result = self.inner.rows(range, &mut own).map(|view| {
            scratch.clear();
            scratch.extend_from_slice(view);
        });
        INNER_SCRATCH.with(|s| s.set(own));
        result?;
        normalize_rows(scratch, self.inner.n_cols(), start, &self.inner.name())?;
        Ok(&scratch[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ArraySource;

    #[test]
    fn rows_come_out_at_unit_length_and_zero_rows_are_named() {
        let data = [3.0f32, 4.0, 0.0, -2.0, 1.0, 1.0];
        let src = ArraySource::from_slice(&data, 3, 2).unwrap();
        let n = Normalized::new(&src);
        let mut scratch = Vec::new();
        let rows = n.rows(0..3, &mut scratch).unwrap().to_vec();
        assert_eq!(&rows[..4], &[0.6, 0.8, 0.0, -1.0]);
        for r in rows.chunks_exact(2) {
            assert!((row_norm(r) - 1.0).abs() < 1e-7);
        }
        let zero = [1.0f32, 2.0, 0.0, 0.0, 1.0, 0.0];
        let src = ArraySource::from_slice(&zero, 3, 2).unwrap();
        let err = Normalized::new(&src).rows(1..3, &mut scratch).unwrap_err();
        assert!(matches!(err, CoreError::ZeroRow { row: 1, .. }), "{err}");
        assert!(err.to_string().contains("row 1"), "{err}");
        assert!(err.is_input_error());
    }

    #[test]
    fn non_finite_rows_pass_unchanged_and_sums_of_opposite_rows_have_no_direction() {
        let data = [f32::NAN, 1.0];
        let src = ArraySource::from_slice(&data, 1, 2).unwrap();
        let mut scratch = Vec::new();
        let unit = Normalized::new(&src);
        let rows = unit.rows(0..1, &mut scratch).unwrap();
        assert!(rows[0].is_nan() && rows[1] == 1.0);
        let mut out = [7.0f32, 7.0];
        assert!(!unit_from_sums(&[0.0, 0.0], &mut out));
        assert_eq!(out, [7.0, 7.0]);
        assert!(unit_from_sums(&[0.0, -2.0], &mut out));
        assert_eq!(out, [0.0, -1.0]);
    }
}

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
//! a fixed order ([`row_norm`]), and each value is multiplied by the norm's
//! `f64` reciprocal and rounded once to `f32`. The normalisation of a chunk
//! costs O(d) per row against the O(k·d) of its assignment; the wider
//! registers of AVX2 and AVX-512 run the same operations.

use std::ops::Range;

use crate::error::{CoreError, Result};
use crate::isa::Isa;
use crate::source::DataSource;

/// The squared Euclidean norm of `row` in `f64`, in a fixed order: eight
/// lanes (lane `l` adds columns `l`, `l + 8`, …), then the lanes in a fixed
/// tree. The order is in the code, not left to the compiler (which never
/// reorders `f64` additions), so every instruction set gives the same bits;
/// eight independent sums keep the loop from waiting on one addition chain.
#[inline(always)]
fn sq_norm(row: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            let v = f64::from(c[l]);
            acc[l] += v * v;
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        let v = f64::from(v);
        acc[l] += v * v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// The Euclidean norm of `row`, in `f64` (the sum of squares in the fixed
/// order of every instruction set).
#[must_use]
pub fn row_norm(row: &[f32]) -> f64 {
    sq_norm(row).sqrt()
}

/// Divides `row` by its Euclidean norm ([`row_norm`]) in place: each value
/// times the `f64` reciprocal of the norm, rounded once to `f32`. Returns the
/// norm; a row of norm 0 or a non-finite norm is left as it is (the caller
/// decides: [`Normalized`] refuses a zero row and passes non-finite values on
/// to the finiteness checks, which name the cell).
#[inline(always)]
pub fn normalize_in_place(row: &mut [f32]) -> f64 {
    let norm = row_norm(row);
    if norm > 0.0 && norm.is_finite() {
        let inv = 1.0 / norm;
        for v in row.iter_mut() {
            *v = (f64::from(*v) * inv) as f32;
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

/// Normalises the rows of `data` (`d` columns); the index of the first row
/// of norm 0, if any (rows after it are left as they are).
#[inline(always)]
fn normalize_rows_body(data: &mut [f32], d: usize) -> Option<usize> {
    for (i, row) in data.chunks_exact_mut(d).enumerate() {
        if normalize_in_place(row) == 0.0 {
            return Some(i);
        }
    }
    None
}

/// [`normalize_rows_body`] compiled with AVX2: the same operations in the
/// same order, on wider registers (the same bits).
///
/// # Safety
/// AVX2 must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normalize_rows_avx2(data: &mut [f32], d: usize) -> Option<usize> {
    normalize_rows_body(data, d)
}

/// [`normalize_rows_body`] compiled with AVX-512F (the same bits).
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn normalize_rows_avx512(data: &mut [f32], d: usize) -> Option<usize> {
    normalize_rows_body(data, d)
}

/// Normalises every row of a row-major `data` of `d` columns in place
/// ([`normalize_in_place`]), on the process's instruction-set path (every
/// path gives the same bits).
///
/// # Errors
/// [`CoreError::ZeroRow`] naming the first row of norm 0 (`first_row` is the
/// index of `data`'s first row in `source_name`).
pub fn normalize_rows(data: &mut [f32], d: usize, first_row: usize, source_name: &str) -> Result<()> {
    if d == 0 {
        return Ok(());
    }
    let isa = Isa::current();
    isa.assert_available();
    let zero = match isa.best_of(&[Isa::Avx2, Isa::Avx512]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked.
        Isa::Avx512 => unsafe { normalize_rows_avx512(data, d) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { normalize_rows_avx2(data, d) },
        _ => normalize_rows_body(data, d),
    };
    match zero {
        Some(i) => Err(CoreError::ZeroRow {
            source_name: source_name.to_string(),
            row: first_row + i,
        }),
        None => Ok(()),
    }
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

    /// Every path gives the bits of the portable body.
    #[test]
    fn every_path_normalises_to_the_same_bits() {
        let (n, d) = (37, 29);
        let x: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
            .collect();
        let mut want = x.clone();
        assert_eq!(normalize_rows_body(&mut want, d), None);
        for isa in Isa::paths_for_test("every_path_normalises_to_the_same_bits") {
            let mut got = x.clone();
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `paths_for_test` lists only paths this CPU runs.
            let zero = unsafe {
                match isa.best_of(&[Isa::Avx2, Isa::Avx512]) {
                    Isa::Avx512 => normalize_rows_avx512(&mut got, d),
                    Isa::Avx2 => normalize_rows_avx2(&mut got, d),
                    _ => normalize_rows_body(&mut got, d),
                }
            };
            #[cfg(not(target_arch = "x86_64"))]
            let zero = normalize_rows_body(&mut got, d);
            assert_eq!(zero, None);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{isa}");
        }
        for row in want.chunks_exact(d) {
            assert!((row_norm(row) - 1.0).abs() < 1e-6);
        }
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

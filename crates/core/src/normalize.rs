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
use crate::sparse::{SparseRows, SparseSource};

/// The squared Euclidean norm of `row` in `f64`, in a fixed order: eight
/// lanes (lane `l` adds the squares of columns `l`, `l + 8`, … as whole
/// chunks of eight allow, then those of the last partial chunk), then the
/// lanes in a fixed tree ([`lanes_total`]). Each square and each sum is one
/// rounded `f64` operation (no fused multiply-add), so the vector versions
/// ([`sq_norm_avx2`], [`sq_norm_avx512`]), which keep the same lanes in
/// registers, give the same bits; eight independent sums also keep the loop
/// from waiting on one addition chain.
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
    lanes_total(acc, chunks.remainder())
}

/// Adds the squares of the last partial chunk `rest` to the first lanes of
/// `acc`, then the lanes in a fixed tree.
#[inline(always)]
fn lanes_total(mut acc: [f64; 8], rest: &[f32]) -> f64 {
    for (l, &v) in rest.iter().enumerate() {
        let v = f64::from(v);
        acc[l] += v * v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// [`sq_norm`] with the eight lanes in one AVX-512 register.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sq_norm_avx512(row: &[f32]) -> f64 {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm512_add_pd, _mm512_cvtps_pd, _mm512_mul_pd, _mm512_setzero_pd,
        _mm512_storeu_pd,
    };
    let mut chunks = row.chunks_exact(8);
    let mut acc = _mm512_setzero_pd();
    for c in &mut chunks {
        // SAFETY: `c` holds 8 values; unaligned loads.
        let v = _mm512_cvtps_pd(unsafe { _mm256_loadu_ps(c.as_ptr()) });
        acc = _mm512_add_pd(acc, _mm512_mul_pd(v, v));
    }
    let mut lanes = [0.0f64; 8];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm512_storeu_pd(lanes.as_mut_ptr(), acc) };
    lanes_total(lanes, chunks.remainder())
}

/// [`sq_norm`] with lanes 0–3 and 4–7 in two AVX registers.
///
/// # Safety
/// AVX2 must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn sq_norm_avx2(row: &[f32]) -> f64 {
    use std::arch::x86_64::{
        _mm_loadu_ps, _mm256_add_pd, _mm256_cvtps_pd, _mm256_mul_pd, _mm256_setzero_pd,
        _mm256_storeu_pd,
    };
    let mut chunks = row.chunks_exact(8);
    let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for c in &mut chunks {
        // SAFETY: `c` holds 8 values; unaligned loads of 4 each.
        let (a, b) = unsafe {
            (
                _mm256_cvtps_pd(_mm_loadu_ps(c.as_ptr())),
                _mm256_cvtps_pd(_mm_loadu_ps(c.as_ptr().add(4))),
            )
        };
        lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
    }
    let mut lanes = [0.0f64; 8];
    // SAFETY: `lanes` holds 8 values, 4 from each store.
    unsafe {
        _mm256_storeu_pd(lanes.as_mut_ptr(), lo);
        _mm256_storeu_pd(lanes.as_mut_ptr().add(4), hi);
    }
    lanes_total(lanes, chunks.remainder())
}

/// The Euclidean norm of `row`, in `f64` (the sum of squares in the fixed
/// order of every instruction set).
#[must_use]
#[inline(always)]
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

/// Writes the rows of `src` (`d` columns), normalised, into `dst` (as long);
/// the index of the first row of norm 0, if any (rows from it on are not
/// written). A row whose norm is not finite is copied unchanged. `sq_norm` is
/// [`sq_norm`] or one of its vector versions (the same bits).
#[inline(always)]
fn normalize_rows_body(
    src: &[f32],
    dst: &mut [f32],
    d: usize,
    sq_norm: impl Fn(&[f32]) -> f64,
) -> Option<usize> {
    for (i, (x, out)) in src.chunks_exact(d).zip(dst.chunks_exact_mut(d)).enumerate() {
        let norm = sq_norm(x).sqrt();
        if norm == 0.0 {
            return Some(i);
        }
        if norm.is_finite() {
            let inv = 1.0 / norm;
            for (o, &v) in out.iter_mut().zip(x) {
                *o = (f64::from(v) * inv) as f32;
            }
        } else {
            out.copy_from_slice(x);
        }
    }
    None
}

/// [`normalize_rows_body`] compiled with AVX2 (the same bits).
///
/// # Safety
/// AVX2 must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normalize_rows_avx2(src: &[f32], dst: &mut [f32], d: usize) -> Option<usize> {
    // SAFETY: AVX2 is available (this function's contract).
    normalize_rows_body(src, dst, d, |x| unsafe { sq_norm_avx2(x) })
}

/// [`normalize_rows_body`] compiled with AVX-512F (the same bits).
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn normalize_rows_avx512(src: &[f32], dst: &mut [f32], d: usize) -> Option<usize> {
    // SAFETY: AVX-512F is available (this function's contract).
    normalize_rows_body(src, dst, d, |x| unsafe { sq_norm_avx512(x) })
}

/// [`normalize_rows_body`] on the process's path.
fn normalize_rows_into(src: &[f32], dst: &mut [f32], d: usize) -> Option<usize> {
    let isa = Isa::current();
    isa.assert_available();
    match isa.best_of(&[Isa::Avx2, Isa::Avx512]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence the path at or
        // below it that `best_of` picked.
        Isa::Avx512 => unsafe { normalize_rows_avx512(src, dst, d) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { normalize_rows_avx2(src, dst, d) },
        _ => normalize_rows_body(src, dst, d, sq_norm),
    }
}

fn zero_row(source_name: &str, row: usize) -> CoreError {
    CoreError::ZeroRow {
        source_name: source_name.to_string(),
        row,
    }
}

/// Extra `f32` values in the scratch, so that the rows can start at a
/// 64-byte boundary inside it.
const ALIGN_SLACK: usize = 16;

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
    crate::forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, hint, comm);

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        // The inner source may hand out a view of its own memory or of `own`;
        // either way its rows are read and normalised in one sweep into `scratch`.
        let start = range.start;
        let d = self.inner.n_cols();
        let (at, len, zero) = crate::source::with_inner_rows(&self.inner, range, |view| {
            // The rows start on a 64-byte boundary, as a mapped `.npy` file's
            // do, so that the assignment kernels' 64-byte loads straddle no
            // more cache lines than on the file itself (a precaution; its
            // effect was not measured on its own).
            let len = view.len();
            if scratch.len() < len + ALIGN_SLACK {
                scratch.resize(len + ALIGN_SLACK, 0.0);
            }
            let at = scratch.as_ptr().align_offset(64).min(ALIGN_SLACK);
            let zero = if d == 0 {
                None
            } else {
                normalize_rows_into(view, &mut scratch[at..at + len], d)
            };
            (at, len, zero)
        })?;
        if let Some(i) = zero {
            return Err(zero_row(&self.inner.name(), start + i));
        }
        Ok(&scratch[at..at + len])
    }

    fn sparse(&self) -> Option<&dyn SparseSource> {
        self.inner.sparse().map(|_| self as &dyn SparseSource)
    }
}

/// `sq_norm` of a canonical sparse row (strictly increasing `cols`): the
/// same bits as on the dense row, since the dense row's lane `l` adds the
/// squares of columns `l`, `l + 8`, … in increasing order (its last partial
/// chunk starts at a multiple of 8, so column `p` is in lane `p mod 8` there
/// too), and the squares of its zeros (`+0`) leave a lane as it was (a lane
/// is never `−0`: it starts at `+0` and adds squares).
#[must_use]
pub fn sparse_sq_norm(cols: &[u32], vals: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    for (&c, &v) in cols.iter().zip(vals) {
        let v = f64::from(v);
        acc[c as usize % 8] += v * v;
    }
    lanes_total(acc, &[])
}

impl<S: DataSource> SparseSource for Normalized<S> {
    /// The inner source's lists, each row scaled as [`DataSource::rows`]
    /// scales the dense row (same norm bits by [`sparse_sq_norm`], same
    /// product and rounding per value; the zeros stay `+0`): a row of norm
    /// 0 is the same error, a row of non-finite norm is passed unchanged.
    fn sparse_rows(&self, range: Range<usize>, out: &mut SparseRows) -> Result<()> {
        let inner = self
            .inner
            .sparse()
            .ok_or_else(|| CoreError::param("source", "the inner source has no sparse rows"))?;
        let start = range.start;
        inner.sparse_rows(range, out)?;
        for i in 0..out.n_rows() {
            let r = out.ptr[i]..out.ptr[i + 1];
            let norm = sparse_sq_norm(&out.cols[r.clone()], &out.vals[r.clone()]).sqrt();
            if norm == 0.0 {
                return Err(zero_row(&self.inner.name(), start + i));
            }
            if norm.is_finite() {
                let inv = 1.0 / norm;
                for v in &mut out.vals[r] {
                    *v = (f64::from(*v) * inv) as f32;
                }
            }
        }
        Ok(())
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
        for d in [1, 7, 8, 29, 64, 384] {
            let n = 37;
            let x: Vec<f32> = (0..n * d)
                .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
                .collect();
            let mut want = vec![0.0f32; x.len()];
            assert_eq!(normalize_rows_body(&x, &mut want, d, sq_norm), None);
            for isa in Isa::paths_for_test("every_path_normalises_to_the_same_bits") {
                let mut got = vec![0.0f32; x.len()];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `paths_for_test` lists only paths this CPU runs.
                let zero = unsafe {
                    match isa.best_of(&[Isa::Avx2, Isa::Avx512]) {
                        Isa::Avx512 => normalize_rows_avx512(&x, &mut got, d),
                        Isa::Avx2 => normalize_rows_avx2(&x, &mut got, d),
                        _ => normalize_rows_body(&x, &mut got, d, sq_norm),
                    }
                };
                #[cfg(not(target_arch = "x86_64"))]
                let zero = normalize_rows_body(&x, &mut got, d, sq_norm);
                assert_eq!(zero, None);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{isa}");
            }
            for row in want.chunks_exact(d) {
                assert!((row_norm(row) - 1.0).abs() < 1e-6);
            }
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

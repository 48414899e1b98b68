//! AVX512-BF16 path: rows converted to bf16 by blocks of [`ROW_BLOCK`], then
//! micro-tiles of [`MR`] rows × 32 centres (16 `zmm` accumulators), one
//! `vdpbf16ps` per row, panel and pair of dimensions, the row's pair
//! broadcast from the converted block, the centres' pair loaded from the
//! packed panel. The row conversion is also the AMX path's.
//!
//! Every function here requires AVX512-BF16, AVX-512F, BW and VL at run
//! time; `mod.rs` only calls them on a path this CPU runs that includes
//! `Isa::Avx512Bf16` (asserted there).

use std::arch::x86_64::*;
use std::mem::transmute;

use super::{Bf16Centers, Bf16Scratch, PANEL, ROW_BLOCK};

/// Rows per micro-tile.
const MR: usize = 8;

/// The low `n` bits set (`n ≤ 32`).
#[inline]
fn low_bits(n: usize) -> u32 {
    if n >= 32 { u32::MAX } else { (1u32 << n) - 1 }
}

/// Converts the `rows` rows of `x` (`d` values each) to bf16 (round to
/// nearest even, denormals to zero: `vcvtne2ps2bf16`) into `out`, rows of
/// `d_pad` values zero-padded, and zeroes the rows of `out` past `rows`.
/// When `split`, each row becomes `(x_hi, x_hi, x_lo)` (`3d ≤ d_pad` values,
/// `x_lo = bf16(x − x_hi)`).
///
/// # Safety
/// AVX512-BF16, AVX-512F, BW and VL must be available; `d ≤ d_pad` (`3d`
/// when split), `x.len() == rows·d`, `out.len()` a multiple of `d_pad`
/// holding at least `rows` rows (checked by assertions before any vector
/// code).
#[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
pub(super) unsafe fn convert_rows(
    x: &[f32],
    d: usize,
    split: bool,
    d_pad: usize,
    rows: usize,
    out: &mut [u16],
) {
    let width = if split { 3 * d } else { d };
    assert!(width <= d_pad && x.len() == rows * d && out.len() >= rows * d_pad);
    for (r, dst) in out.chunks_exact_mut(d_pad).enumerate() {
        if r >= rows {
            dst.fill(0);
            continue;
        }
        let src = x[r * d..(r + 1) * d].as_ptr();
        if split {
            for p in (0..d).step_by(16) {
                let mask = low_bits((d - p).min(16)) as u16;
                // SAFETY: the mask selects lanes `p .. min(p + 16, d)`:
                // inside the row for the load (masked-off lanes are not
                // read), and inside `dst` (`3d ≤ d_pad`) for the three
                // stores at `p`, `d + p` and `2d + p`.
                unsafe {
                    let v = _mm512_maskz_loadu_ps(mask, src.add(p));
                    let hi = _mm512_cvtneps_pbh(v);
                    let lo = _mm512_cvtneps_pbh(_mm512_sub_ps(v, _mm512_cvtpbh_ps(hi)));
                    let hi = transmute::<__m256bh, __m256i>(hi);
                    let lo = transmute::<__m256bh, __m256i>(lo);
                    let o = dst.as_mut_ptr().cast::<i16>();
                    _mm256_mask_storeu_epi16(o.add(p), mask, hi);
                    _mm256_mask_storeu_epi16(o.add(d + p), mask, hi);
                    _mm256_mask_storeu_epi16(o.add(2 * d + p), mask, lo);
                }
            }
            dst[3 * d..].fill(0);
            continue;
        }
        for p in (0..d_pad).step_by(32) {
            let n_in = d.saturating_sub(p).min(32);
            let lo_mask = low_bits(n_in.min(16)) as u16;
            let hi_mask = low_bits(n_in.saturating_sub(16)) as u16;
            let out_mask = low_bits((d_pad - p).min(32));
            // SAFETY: the masks select the lanes `p .. p + n_in` of the
            // row, which lie inside it (`n_in ≤ d − p`): masked-off lanes
            // are not accessed (no fault, no read); the addresses are
            // formed with `wrapping_add` since they may point past the row.
            // The store's mask selects `p .. min(p + 32, d_pad)` of `dst`.
            unsafe {
                let lo = _mm512_maskz_loadu_ps(lo_mask, src.wrapping_add(p));
                let hi = _mm512_maskz_loadu_ps(hi_mask, src.wrapping_add(p + 16));
                let v: __m512i = transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_mask_storeu_epi16(dst.as_mut_ptr().add(p).cast::<i16>(), out_mask, v);
            }
        }
    }
}

/// The AVX512-BF16 kernel of `super::dots_with` for `m` rows (shapes checked
/// there).
///
/// # Safety
/// AVX512-BF16, AVX-512F, BW and VL must be available; `x.len() == m·d`,
/// `out.len() == m·k`.
#[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
pub(super) unsafe fn dots(
    x: &[f32],
    m: usize,
    centers: &Bf16Centers,
    out: &mut [f32],
    scratch: &mut Bf16Scratch,
) {
    let (d, d_pad, k) = (centers.d, centers.d_pad, centers.k);
    assert!(x.len() == m * d && out.len() == m * k);
    let pairs = d_pad / 2;
    let n_panels = centers.k_pad / PANEL;
    assert_eq!(
        centers.panels.as_slice().len(),
        n_panels * pairs * 2 * PANEL
    );
    for i0 in (0..m).step_by(ROW_BLOCK) {
        let rows = (m - i0).min(ROW_BLOCK);
        let rows_pad = rows.next_multiple_of(MR);
        let block = scratch.rows(rows_pad * d_pad);
        // SAFETY: the features are available (this function's contract);
        // the shapes hold by construction.
        unsafe {
            convert_rows(
                &x[i0 * d..(i0 + rows) * d],
                d,
                centers.split,
                d_pad,
                rows,
                block,
            )
        };
        let mut s = 0;
        while s < n_panels {
            let two = n_panels - s >= 2;
            for g in (0..rows_pad).step_by(MR) {
                let tile = Tile {
                    a: block[g * d_pad..].as_ptr(),
                    lda: d_pad,
                    b: centers.panels.as_slice()[s * pairs * 2 * PANEL..].as_ptr(),
                    pairs,
                };
                let at = Out {
                    row0: i0 + g,
                    rows: rows - g,
                    col0: s * PANEL,
                    k,
                };
                // SAFETY: `a` starts `MR` rows of `d_pad` values in
                // `block` (`rows_pad` rows); `b` starts one or two panels of
                // `pairs · 32` values (`two` says two exist); `at` selects
                // rows below `m` and columns below `k` of `out` (m × k).
                unsafe {
                    if two {
                        tile.run::<2>(at, out);
                    } else {
                        tile.run::<1>(at, out);
                    }
                }
            }
            s += if two { 2 } else { 1 };
        }
    }
}

/// Where a micro-tile's results go: rows `row0 .. row0 + min(rows, MR)`,
/// columns `col0 ..` below `k`, of the row-major `m × k` output.
#[derive(Clone, Copy)]
struct Out {
    row0: usize,
    rows: usize,
    col0: usize,
    k: usize,
}

/// A micro-tile's operands: `MR` converted rows from `a` (stride `lda`),
/// and panels from `b` (`pairs · 32` values each).
struct Tile {
    a: *const u16,
    lda: usize,
    b: *const u16,
    pairs: usize,
}

impl Tile {
    /// `MR` rows × `NP` panels of products, stored (masked) into `out`.
    ///
    /// # Safety
    /// AVX512-BF16 and AVX-512F must be available; `a` must hold `MR` rows
    /// of `lda ≥ 2·pairs` values, `b` `NP` panels of `pairs · 32` values;
    /// the rows `row0 .. row0 + min(rows, MR)` of `out` must exist
    /// (`out.len() ≥ (row0 + min(rows, MR))·k`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn run<const NP: usize>(&self, at: Out, out: &mut [f32]) {
        let mut acc = [[_mm512_setzero_ps(); NP]; MR];
        for q in 0..self.pairs {
            // SAFETY: `q < pairs`: the loads stay inside the panels and the
            // rows (this function's contract).
            unsafe {
                let mut bv = [_mm512_setzero_si512(); NP];
                for (n, v) in bv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(
                        self.b
                            .add((n * self.pairs + q) * 2 * PANEL)
                            .cast::<__m512i>(),
                    );
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let pair = self
                        .a
                        .add(r * self.lda + 2 * q)
                        .cast::<i32>()
                        .read_unaligned();
                    let xa: __m512bh = transmute(_mm512_set1_epi32(pair));
                    for (acc_rn, &v) in acc_r.iter_mut().zip(&bv) {
                        *acc_rn = _mm512_dpbf16_ps(*acc_rn, xa, transmute::<__m512i, __m512bh>(v));
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate().take(at.rows.min(MR)) {
            let row = &mut out[(at.row0 + r) * at.k..(at.row0 + r + 1) * at.k];
            for (n, &v) in acc_r.iter().enumerate() {
                let j = at.col0 + n * PANEL;
                if j >= at.k {
                    break;
                }
                let mask = low_bits((at.k - j).min(PANEL)) as u16;
                // SAFETY: the mask selects columns `j .. min(j + 16, k)` of
                // this row of `out`.
                unsafe { _mm512_mask_storeu_ps(row.as_mut_ptr().add(j), mask, v) };
            }
        }
    }
}

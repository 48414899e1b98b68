//! AMX-BF16 path: the tile unit through `asm!` (the AMX intrinsics are not
//! stable). Palette 1, eight tiles of 16 rows × 64 bytes: C tiles `tmm0..3`
//! (16 rows × 16 centres of f32), A tiles `tmm4, tmm5` (16 rows × 32 bf16
//! dimensions of the converted rows), B tiles `tmm6, tmm7` (16 pairs of
//! dimensions × 16 centres, VNNI: one panel's pairs `16t .. 16t + 16`, 1 KiB
//! contiguous). Each step over 32 dimensions loads two A and two B tiles and
//! issues four `tdpbf16ps`: 32 rows × 32 centres per block, every tile loaded
//! used twice. Rows are converted by blocks of [`ROW_BLOCK`] with the
//! AVX512-BF16 conversion, padded to a multiple of 32 rows (padded rows are
//! zeros and their results dropped); a last single panel runs 32 × 16.
//!
//! `ldtilecfg` is executed on the calling thread at the start of each call,
//! `tilerelease` at its end by a guard's `Drop`, also if something panics
//! (nothing between them should).
//!
//! Every function here requires AMX-TILE, AMX-BF16 (with the tile data
//! granted by the OS: `crate::isa` asks) and AVX512-BF16, AVX-512F, BW and
//! VL; `mod.rs` only calls them on the `amx` path, asserted available.

use std::arch::asm;

use super::avx512bf16::convert_rows;
use super::{Bf16Centers, Bf16Scratch, PANEL, ROW_BLOCK, grown};

/// Rows per A tile, and rows of a block (two A tiles).
const TILE_ROWS: usize = 16;
const BLOCK_ROWS: usize = 2 * TILE_ROWS;

/// The tile configuration (palette 1): tiles 0..7 of 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn palette1() -> TileConfig {
        let mut c = [0u8; 64];
        c[0] = 1; // palette
        for t in 0..8 {
            c[16 + 2 * t] = 64; // bytes per row (u16, little-endian)
            c[48 + t] = TILE_ROWS as u8; // rows
        }
        TileConfig(c)
    }
}

/// The tile state, configured on this thread; released when dropped.
struct Tiles(());

impl Tiles {
    /// Loads the tile configuration on this thread.
    ///
    /// # Safety
    /// AMX-TILE must be available with the tile data granted to the process.
    unsafe fn configure() -> Tiles {
        let config = TileConfig::palette1();
        // SAFETY: AMX is usable (contract); the configuration is valid for
        // palette 1 (8 tiles of at most 16 rows × 64 bytes) and read only.
        unsafe {
            asm!(
                "ldtilecfg [{0}]",
                in(reg) config.0.as_ptr(),
                options(nostack, readonly, preserves_flags)
            );
        }
        Tiles(())
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: a `Tiles` exists only after `configure`, whose contract
        // is that AMX is usable; `tilerelease` touches no memory.
        unsafe { asm!("tilerelease", options(nostack, nomem, preserves_flags)) };
    }
}

/// The AMX kernel of `super::dots_with` for `m` rows (shapes checked
/// there).
///
/// # Safety
/// AMX-TILE and AMX-BF16 (granted), AVX512-BF16, AVX-512F, BW and VL must be
/// available; `x.len() == m·d`, `out.len() == m·k`; the centres packed for
/// AMX (`d_pad` a multiple of 32).
#[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
pub(super) unsafe fn dots(
    x: &[f32],
    m: usize,
    centers: &Bf16Centers,
    out: &mut [f32],
    scratch: &mut Bf16Scratch,
) {
    let (d, d_pad, k) = (centers.d, centers.d_pad, centers.k);
    assert!(x.len() == m * d && out.len() == m * k && d_pad.is_multiple_of(32));
    let pairs = d_pad / 2;
    let n_panels = centers.k_pad / PANEL;
    assert_eq!(
        centers.panels.as_slice().len(),
        n_panels * pairs * 2 * PANEL
    );
    let Bf16Scratch {
        rows: rows_buf,
        tile,
    } = scratch;
    let tile = grown(tile, TILE_ROWS * PANEL);
    let panel_len = pairs * 2 * PANEL;
    // SAFETY: AMX is usable (this function's contract).
    let _tiles = unsafe { Tiles::configure() };
    for i0 in (0..m).step_by(ROW_BLOCK) {
        let rows = (m - i0).min(ROW_BLOCK);
        let rows_pad = rows.next_multiple_of(BLOCK_ROWS);
        let block = rows_buf.grow(rows_pad * d_pad);
        // SAFETY: the vector features are available; shapes by construction.
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
        let block: &[u16] = block;
        // Row groups outer: a group's A rows (`32 · d_pad` bf16) stay in L1
        // while the panels stream from L2, one 2 KiB step at a time.
        for g in (0..rows_pad).step_by(BLOCK_ROWS) {
            let a = block[g * d_pad..(g + BLOCK_ROWS) * d_pad].as_ptr();
            let mut s = 0;
            while s < n_panels {
                let np = if n_panels - s >= 2 { 2 } else { 1 };
                let b = centers.panels.as_slice()[s * panel_len..(s + np) * panel_len].as_ptr();
                // SAFETY: `a` starts 32 rows of `d_pad` values, `b` `np`
                // panels of `pairs · 32` values (bounds checked by the
                // slicing above); the configured tiles are 16 × 64 bytes.
                unsafe { accumulate(a, d_pad, b, panel_len, d_pad / 32, np) };
                for (c, (ri, ci)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                    if ci >= np {
                        continue;
                    }
                    let at = (i0 + g + ri * TILE_ROWS, (s + ci) * PANEL);
                    // SAFETY: tile `c` holds a 16 × 16 f32 result; `store`
                    // writes inside `out` (m × k) only.
                    unsafe { store(c, at, m, k, out, tile) };
                }
                s += np;
            }
        }
    }
}

/// Zeroes C tiles `tmm0..3` and accumulates 32 rows from `a` (row stride
/// `lda` values) times `np` panels from `b` (`panel_len` values apart) over
/// `steps` steps of 32 dimensions: `tmm0`/`tmm1` rows 0..16 and 16..32 of
/// the first panel, `tmm2`/`tmm3` of the second.
///
/// # Safety
/// AMX-TILE and AMX-BF16 usable with the palette-1 16 × 64-byte
/// configuration loaded on this thread; `a` holds 32 rows of `lda ≥
/// 32·steps` bf16, `b` `np ∈ {1, 2}` panels of `panel_len ≥ 512·steps`.
#[inline]
unsafe fn accumulate(
    a: *const u16,
    lda: usize,
    b: *const u16,
    panel_len: usize,
    steps: usize,
    np: usize,
) {
    let lda_bytes = lda * 2;
    // SAFETY: tile registers only (contract: configured).
    unsafe {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem, preserves_flags)
        );
    }
    for t in 0..steps {
        // SAFETY: step `t < steps`: the A tiles read 16 rows × 64 bytes at
        // column `32t` of rows 0..16 and 16..32, the B tiles the 1 KiB of
        // pairs `16t .. 16t + 16` of each panel: all inside the buffers
        // (contract). The pointers are formed in bounds.
        unsafe {
            let a0 = a.add(t * 32);
            let a1 = a0.add(TILE_ROWS * lda);
            let b0 = b.add(t * 16 * 2 * PANEL);
            if np == 2 {
                let b1 = b0.add(panel_len);
                // Each product issued as soon as its tiles are loaded.
                asm!(
                    "tileloadd tmm4, [{a0} + {lda}*1]",
                    "tileloadd tmm6, [{b0} + {ldb}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tileloadd tmm5, [{a1} + {lda}*1]",
                    "tdpbf16ps tmm1, tmm5, tmm6",
                    "tileloadd tmm7, [{b1} + {ldb}*1]",
                    "tdpbf16ps tmm2, tmm4, tmm7",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a0 = in(reg) a0,
                    a1 = in(reg) a1,
                    b0 = in(reg) b0,
                    b1 = in(reg) b1,
                    lda = in(reg) lda_bytes,
                    ldb = in(reg) 2 * 2 * PANEL,
                    options(nostack, readonly, preserves_flags)
                );
            } else {
                asm!(
                    "tileloadd tmm4, [{a0} + {lda}*1]",
                    "tileloadd tmm5, [{a1} + {lda}*1]",
                    "tileloadd tmm6, [{b0} + {ldb}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm5, tmm6",
                    a0 = in(reg) a0,
                    a1 = in(reg) a1,
                    b0 = in(reg) b0,
                    lda = in(reg) lda_bytes,
                    ldb = in(reg) 2 * 2 * PANEL,
                    options(nostack, readonly, preserves_flags)
                );
            }
        }
    }
}

/// Stores C tile `c` (0..4), whose element `(r, l)` is the product of row
/// `at.0 + r` and centre `at.1 + l`, into the row-major `m × k` `out`:
/// straight from the tile when all 16 × 16 lie inside, else through `buf`
/// (256 values), the part inside copied.
///
/// # Safety
/// As [`accumulate`], after it; `buf.len() ≥ 256`, `out.len() == m·k`.
unsafe fn store(
    c: usize,
    at: (usize, usize),
    m: usize,
    k: usize,
    out: &mut [f32],
    buf: &mut [f32],
) {
    let (row0, col0) = at;
    if row0 >= m || col0 >= k {
        return;
    }
    let inside = row0 + TILE_ROWS <= m && col0 + PANEL <= k;
    let (ptr, stride) = if inside {
        (out[row0 * k + col0..].as_mut_ptr(), k * 4)
    } else {
        (buf[..TILE_ROWS * PANEL].as_mut_ptr(), PANEL * 4)
    };
    // SAFETY: AMX configured (contract); the tile writes 16 rows of 64 bytes
    // `stride` bytes apart from `ptr`: inside `out` when `inside` (rows
    // `row0 .. row0 + 16 ≤ m`, columns `col0 .. col0 + 16 ≤ k`), else the
    // 256 values of `buf`.
    unsafe {
        match c {
            0 => {
                asm!("tilestored [{0} + {1}*1], tmm0", in(reg) ptr, in(reg) stride, options(nostack, preserves_flags))
            }
            1 => {
                asm!("tilestored [{0} + {1}*1], tmm1", in(reg) ptr, in(reg) stride, options(nostack, preserves_flags))
            }
            2 => {
                asm!("tilestored [{0} + {1}*1], tmm2", in(reg) ptr, in(reg) stride, options(nostack, preserves_flags))
            }
            _ => {
                asm!("tilestored [{0} + {1}*1], tmm3", in(reg) ptr, in(reg) stride, options(nostack, preserves_flags))
            }
        }
    }
    if !inside {
        let (rows, cols) = ((m - row0).min(TILE_ROWS), (k - col0).min(PANEL));
        for r in 0..rows {
            out[(row0 + r) * k + col0..][..cols].copy_from_slice(&buf[r * PANEL..][..cols]);
        }
    }
}

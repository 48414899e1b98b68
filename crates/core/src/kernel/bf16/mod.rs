//! bf16 pre-screen products: `x·c` for every row of a chunk and every centre,
//! computed with bf16 inputs and f32 accumulation on the matrix units (AMX-BF16
//! tiles) or AVX512-BF16, with a rigorous bound on their error.
//!
//! These estimates decide nothing on their own: the caller keeps every centre
//! whose estimate lies within [`dot_error_bound`] (turned into a distance
//! bound) of the best one and re-checks those in the exact reference
//! arithmetic. The kernels here only have to be fast and *within the bound*.
//!
//! # What is computed
//!
//! For a row `x` and a centre `c` (f32, dimension `d`), every path computes
//!
//! ```text
//! out = Σ_p  bf16(x_p) · bf16(c_p)      products exact, sums in f32
//! ```
//!
//! where `bf16(v)` rounds to nearest even with denormal inputs flushed to
//! (signed) zero, as `vcvtne2ps2bf16` does; centres are converted once by
//! [`Bf16Centers::new`] (in software, the same function), rows per block of
//! [`ROW_BLOCK`] rows on the fly into [`Bf16Scratch`] (never a copy of the
//! whole chunk). The order of the f32 sums depends on the path:
//!
//! * emulation ([`dots_emulated`], the test oracle) and AVX512-BF16: one chain
//!   per centre over the pairs of dimensions `(2q, 2q+1)`, each pair as two
//!   FP32 FMAs, odd element first (`acc = fma(x₂q₊₁, c₂q₊₁, acc)`, then
//!   `fma(x₂q, c₂q, acc)`), round to nearest even, denormal inputs treated as
//!   zero and denormal results flushed to zero whatever MXCSR says: the
//!   `VDPBF16PS` pseudocode of Intel's SDM. The AVX512-BF16 kernel gives the
//!   emulation's bits (tested).
//! * AMX: `TDPBF16PS` adds 16 pairs per instruction. The SDM documents
//!   round to nearest even, DAZ and FTZ; its pseudocode for the order has
//!   changed between editions. The current one (per instruction, an FMA chain
//!   over the even elements of the 16 pairs and one over the odd elements,
//!   both from zero, then `acc + (even + odd)`) is what this project's
//!   Sapphire Rapids-class CPU computes, bit for bit, on every test input
//!   (the older single chain matches about 70 %): the AMX test asserts it.
//!   The bound below holds for *any* order, so it does not rest on that.
//!
//! # The error bound
//!
//! Let `s = Σ_p x_p c_p` (exact, real) and `ŝ` the computed `out`. With
//! `u = 2⁻⁸` the unit roundoff of bf16 (8 significant bits) and `‖·‖` the
//! Euclidean norms of the f32 vectors:
//!
//! 1. **Conversion.** For a normal f32 `v`, `bf16(v) = v(1+α)`, `|α| ≤ 2⁻⁸`
//!    (a normal input never rounds to a bf16 denormal: bf16 has f32's
//!    exponent range). So for a term with both inputs normal,
//!    `|x̂ĉ − xc| = |xc|·|(1+α)(1+β) − 1| ≤ (2⁻⁷ + 2⁻¹⁶)|x||c|`. A denormal input
//!    (`|v| < 2⁻¹²⁶`) becomes 0, the term 0, its error `|x||c| ≤
//!    2⁻¹²⁶ max(|x|, |c|)`. Summed with Cauchy–Schwarz
//!    (`Σ|x_p||c_p| ≤ ‖x‖‖c‖`, `Σ|x_p| ≤ √d‖x‖`):
//!
//!    `|Σ x̂ĉ − s| ≤ (2⁻⁷ + 2⁻¹⁶)‖x‖‖c‖ + 2⁻¹²⁶ √d (‖x‖ + ‖c‖)`.
//!
//! 2. **Accumulation, any order.** The terms `t_p = x̂_p ĉ_p` (each
//!    `|t_p| ≤ (1+2⁻⁸)²|x_p||c_p|`) and a zero accumulator are summed by some
//!    tree of f32 additions (an FMA is an addition of an exact product).
//!    Whatever the tree (AMX does not document its order), a term passes
//!    through at most `n = d + 1` roundings, each faithful (`|δ| ≤ u₃₂ = 2⁻²³`:
//!    we do not even assume round-to-nearest inside the unit, which would
//!    give 2⁻²⁴), so `|ŝ − Σ t_p| ≤ γ_n Σ|t_p|` with
//!    `γ_n = n·u₃₂ / (1 − n·u₃₂)`; zero-padded dimensions add exact zeros.
//! 3. **Flushing (DAZ/FTZ).** An addition whose result is below 2⁻¹²⁶ in
//!    magnitude returns ±0 instead: an absolute error `< 2⁻¹²⁶`, at most one
//!    per addition (`n`) and per product should the unit round products
//!    separately (`d`), each magnified by at most `(1+u₃₂)ⁿ ≤ 2` by the later
//!    roundings (`n·u₃₂ ≤ ½`): at most `4n·2⁻¹²⁶`. Accumulators never hold a
//!    denormal (outputs are flushed), and our bf16 inputs are never denormal
//!    (the conversion flushes them, counted in 1.), so DAZ changes nothing
//!    more.
//!
//! Together:
//!
//! ```text
//! |ŝ − s| ≤ B(d, ‖x‖, ‖c‖) =
//!     (1 + 2⁻²⁰) · [ (2⁻⁷ + 2⁻¹⁶ + γ_{d+1}·(1 + 2⁻⁸)²) · ‖x‖‖c‖
//!                   + 2⁻¹²⁶ · (√d·(‖x‖ + ‖c‖) + 4(d + 1)) ]
//! ```
//!
//! with `γ_{d+1} = (d+1)·2⁻²³ / (1 − (d+1)·2⁻²³)`. The factor `1 + 2⁻²⁰`
//! absorbs the rounding of the bound's own f64 evaluation and of norms
//! computed in f64 (relative error up to ~2⁻²² allowed); norms computed in
//! f32 are not accurate enough at large `d`: pass f64 norms, or upper bounds.
//! [`dot_error_bound`] returns `+∞` when `(d+1)·2⁻²³ > ½` (`d` beyond four
//! million: no useful bound). The bf16 term dominates: at `d = 1024`,
//! `γ_{d+1} ≈ 2⁻¹³` adds 1.6 % to `2⁻⁷`. The bound is attained up to about
//! 1 %: rows and centres whose every value sits just below the midpoint
//! between two bf16 numbers make every term's error add up (tested), while
//! for random data the observed error is one to two orders of magnitude
//! below (`√d` cancellation, recorded in the tests).
//!
//! **The hi/lo split** ([`Bf16Centers::new_split`], [`dot_error_bound_split`]).
//! Each value is split, `x_h = bf16(x)`, `r = x − x_h` (exact in f32),
//! `x_l = bf16(r)`: then `x = x_h + x_l + ε_x` with `|ε_x| ≤ 2⁻⁸|r| ≤
//! 2⁻¹⁶|x|` (plus `< 2⁻¹²⁶` where `x` or `r` is denormal and flushed), and
//! `|x_l| ≤ 2⁻⁸(1+2⁻⁸)|x|`. The three products add up to
//! `(x − ε_x)(c − ε_c) − x_l c_l`, so a term's error is at most
//! `(2⁻¹⁵ + 2⁻¹⁶(1+2⁻⁸)² + 2⁻³²)|x||c| ≤ (3·2⁻¹⁶ + 2⁻²²)|x||c|`, plus
//! `2⁻¹²⁶(1+2⁻¹⁶)(|x| + |c|)` for the flushes. The accumulation now sums
//! `3d` terms with `Σ|t| ≤ (1+2⁻⁸)²(1+2⁻⁷)‖x‖‖c‖`: `γ_{3d+1}` instead of
//! `γ_{d+1}`, which dominates the bound from `d ≈ 130` on.
//!
//! **Overflow.** A value at or beyond the largest bf16 (`≈ 3.39e38`) rounds
//! to ±∞, and a sum beyond `f32::MAX` overflows: the estimate is then ±∞ or
//! NaN (as it is for non-finite input), never a wrong finite number. The
//! caller must treat a non-finite estimate (or a non-finite bound) as "no
//! screening" and fall back to the exact computation for that row.
//!
//! # Layout
//!
//! [`Bf16Centers`] holds panels of [`PANEL`] (= 16) centres in VNNI pairs:
//! `panels[(s·pairs + q)·32 + 2l + e] = bf16(c[16s + l][2q + e])`, the
//! dimension padded with zeros to an even number (AVX512-BF16; one `zmm` per
//! pair and panel) or to a multiple of 32 (AMX: then a panel's pairs
//! `16t .. 16t + 16` are exactly one 16 × 64-byte B tile), centres padded with
//! zeros to a multiple of 16 (their estimates are computed and dropped).
//!
//! # Speed
//!
//! `measure_dots` (an ignored test: `cargo test --profile ci --workspace --lib
//! kernel::bf16::tests::measure_dots -- --ignored --nocapture`) prints
//! GFLOP/s, counted as `2·m·k·d` (also for the split, which does three times
//! that), one thread, row conversion included, next to the f32
//! `assign_chunk` on the same shape. On this project's "Intel(R) Xeon(R)
//! Processor" with AMX-BF16 and AVX512-BF16 (2 cores, a shared host: the
//! ranges are over three runs), `m = 4096`, `d = 384`:
//!
//! | k, rows per call | amx | amx split | avx512bf16 | avx512bf16 split | f32 assign_chunk |
//! |---|---|---|---|---|---|
//! | 100, 4096 | 136–255 | 72–111 | 46–48 | 17 | 57–59 |
//! | 1000, 4096 | 116–128 | 64–84 | 47–56 | 17–19 | 77–90 |
//! | 100, 256 | 205–459 | 81–199 | 46–48 | 17–19 | 59–62 |
//! | 1000, 256 | 234–238 | 83–90 | 55–58 | 18–19 | 76–81 |
//!
//! * AMX: 2.5–7 times the f32 kernel when the output stays in cache (256
//!   rows per call; one call of 4096 rows writes 16 MB at `k = 1000`, and
//!   that dominates). The tile loads, one 1 KiB tile per `tdpbf16ps` in the
//!   2 × 2 blocking (the most eight tiles allow), bound it far below the
//!   unit's peak; 64-byte aligned buffers doubled it.
//! * AVX512-BF16 is *slower* than the f32 FMA kernel on this Intel CPU
//!   (`vdpbf16ps` does not double the f32 rate here). On an AMD EPYC
//!   (Zen 4, 2026-12-04) it does: 221 GFLOP/s at k = 1000 and 182 at
//!   k = 100 (m = 4096, d = 384, 256 and 128 rows per call, one thread;
//!   split 75 and 60) against 96–102 and 80 for the f32 `assign_chunk`,
//!   of a measured `vdpbf16ps` peak of 235.
//! * The split costs 2–3 times the plain product: on AMX it is still
//!   1–3 times the f32 kernel, for a bound 42 times tighter.
//!
//! # Not used for the silhouette and GMM
//!
//! K-means needs the products only to *rank* centres, so any error with a
//! rigorous bound is fine: the candidates it leaves are settled exactly.
//! The silhouette and the GMM E-step *report sums* of the values (mean
//! distances; log-densities through Mahalanobis norms), which must agree
//! with scikit-learn within 1e-6 relative. A product here is off by up to
//! `2⁻⁷‖x‖‖c‖` (plain) or `3·2⁻¹⁶‖x‖‖c‖ ≈ 4.6e-5‖x‖‖c‖` (split), and a
//! distance `‖x‖² + ‖c‖² − 2x·c` between nearby points loses that much
//! relative to `‖x‖²`, not to the distance: tens to thousands of times 1e-6
//! on the data of the fixtures. Meeting 1e-6 would take a three-part split
//! (`x = x_h + x_m + x_l`, six products for `≈ 2⁻²⁴`), whose cost on AMX is
//! near the `f32` kernels' and on AVX512-BF16 (half the `f32` rate on the
//! Intel machine) far above it; and the `f32` accumulation would still need
//! its own analysis against the f64 sums GMM uses. So neither uses the
//! matrix units; they keep their `f32`/`f64` kernels.
//!
//! Files: this one holds the types, the entry points (shape checks and
//! dispatch) and the bound; `emul.rs` the scalar emulation; `avx512bf16.rs`
//! and `amx.rs` the kernels; `tests.rs` their tests.

use crate::error::{CoreError, Result};
use crate::isa::Isa;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx512bf16;
mod emul;
#[cfg(test)]
mod tests;

/// Centres per panel: one `zmm` of f32 accumulators, one AMX tile's columns.
pub const PANEL: usize = 16;

/// Rows converted to bf16 at a time (a multiple of the AMX kernel's 32 rows
/// and the AVX512-BF16 kernel's row group).
pub const ROW_BLOCK: usize = 128;

/// The kernel variants of [`dots_with`].
const VARIANTS: &[Isa] = &[Isa::Amx, Isa::Avx512Bf16];

/// `k` centres of dimension `d` converted to bf16 and packed for one path's
/// kernel (see the module documentation for the layout).
#[derive(Debug, Clone)]
pub struct Bf16Centers {
    isa: Isa,
    k: usize,
    d: usize,
    /// Whether the centres are split into high and low bf16 parts (see
    /// [`Bf16Centers::new_split`]).
    split: bool,
    /// The packed dimension (`d`, or `3d` when split) padded: to even, or to
    /// a multiple of 32 for AMX.
    d_pad: usize,
    /// `k` rounded up to a multiple of [`PANEL`].
    k_pad: usize,
    /// `k_pad / PANEL` panels of `d_pad / 2` pairs of 16 centres × 2 values.
    panels: AlignedBf16,
}

impl Bf16Centers {
    /// Converts the row-major `centers` (`k` rows of `d` values) to bf16 and
    /// packs them for the kernel of path `isa` (any path: one without a bf16
    /// kernel gets the AVX512-BF16 layout, which [`dots_emulated`] reads).
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] when `k == 0`, `d == 0`, or
    /// `centers.len() != k * d`.
    pub fn new(isa: Isa, centers: &[f32], k: usize, d: usize) -> Result<Self> {
        Bf16Centers::pack(isa, centers, k, d, false)
    }

    /// As [`Bf16Centers::new`], for the hi/lo split products: every value
    /// `v` is split into `hi = bf16(v)` and `lo = bf16(v − hi)`, and the
    /// products are `x_hi·c_hi + x_hi·c_lo + x_lo·c_hi`, three bf16 products
    /// per dimension (the rows are split the same way on the fly), within
    /// the far tighter [`dot_error_bound_split`]. Packed as one product of
    /// dimension `3d`: centres `(c_hi, c_lo, c_hi)` against rows
    /// `(x_hi, x_hi, x_lo)`, so the same kernels run it.
    ///
    /// # Errors
    /// As [`Bf16Centers::new`].
    pub fn new_split(isa: Isa, centers: &[f32], k: usize, d: usize) -> Result<Self> {
        Bf16Centers::pack(isa, centers, k, d, true)
    }

    fn pack(isa: Isa, centers: &[f32], k: usize, d: usize, split: bool) -> Result<Self> {
        if k == 0 {
            return Err(CoreError::param("k", "must be at least 1"));
        }
        if d == 0 {
            return Err(CoreError::param("d", "must be at least 1"));
        }
        if k.checked_mul(d) != Some(centers.len()) {
            return Err(CoreError::param(
                "centers",
                format!(
                    "{} values are not {k} centres × {d} dimensions",
                    centers.len()
                ),
            ));
        }
        let width = if split { 3 * d } else { d };
        let d_pad = if isa.best_of(VARIANTS) == Isa::Amx {
            width.next_multiple_of(32)
        } else {
            width.next_multiple_of(2)
        };
        let k_pad = k.next_multiple_of(PANEL);
        let pairs = d_pad / 2;
        let mut panels = AlignedBf16::default();
        let packed = panels.grow(k_pad * d_pad);
        let mut row = vec![0u16; width];
        for (j, c) in centers.chunks_exact(d).enumerate() {
            let (s, l) = (j / PANEL, j % PANEL);
            if split {
                for (p, &v) in c.iter().enumerate() {
                    let (hi, lo) = emul::split(v);
                    (row[p], row[d + p], row[2 * d + p]) = (hi, lo, hi);
                }
            } else {
                emul::convert_row(c, false, &mut row);
            }
            for (p, &h) in row.iter().enumerate() {
                let (q, e) = (p / 2, p % 2);
                packed[(s * pairs + q) * 2 * PANEL + 2 * l + e] = h;
            }
        }
        Ok(Bf16Centers {
            isa,
            k,
            d,
            split,
            d_pad,
            k_pad,
            panels,
        })
    }

    /// Whether these are split centres ([`Bf16Centers::new_split`]).
    #[must_use]
    pub fn is_split(&self) -> bool {
        self.split
    }

    /// The error bound of the products with these centres:
    /// [`dot_error_bound`], or [`dot_error_bound_split`] for split centres.
    #[must_use]
    pub fn error_bound(&self, norm_x: f64, norm_c: f64) -> f64 {
        if self.split {
            dot_error_bound_split(self.d, norm_x, norm_c)
        } else {
            dot_error_bound(self.d, norm_x, norm_c)
        }
    }

    /// Number of centres.
    #[must_use]
    pub fn k(&self) -> usize {
        self.k
    }

    /// Dimension of a centre.
    #[must_use]
    pub fn d(&self) -> usize {
        self.d
    }

    /// The path the centres were packed for.
    #[must_use]
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The bf16 value of dimension `p` of centre `j` (test and emulation
    /// access; `p < d_pad`, `j < k_pad`, zero in the padding).
    fn value(&self, j: usize, p: usize) -> u16 {
        let (s, l, q, e) = (j / PANEL, j % PANEL, p / 2, p % 2);
        self.panels.as_slice()[(s * (self.d_pad / 2) + q) * 2 * PANEL + 2 * l + e]
    }
}

/// Reusable per-worker buffers of [`dots_with`]: one block of rows in bf16,
/// and one output tile. Grows to the largest shape seen, then allocates no
/// more.
#[derive(Debug, Default, Clone)]
pub struct Bf16Scratch {
    rows: AlignedBf16,
    tile: Vec<f32>,
}

impl Bf16Scratch {
    /// The row block buffer, `len` values.
    fn rows(&mut self, len: usize) -> &mut [u16] {
        self.rows.grow(len)
    }
}

/// 64 bytes of bf16 values: a cache line, a tile row.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u16; 32]);

/// A buffer of bf16 values aligned on 64 bytes, so that with rows of a
/// multiple of 32 values every row of a tile (and every `zmm` load of a
/// panel) is one cache line: unaligned tile loads cost about a fifth more.
#[derive(Debug, Default, Clone)]
struct AlignedBf16 {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBf16 {
    /// The values.
    fn as_slice(&self) -> &[u16] {
        // SAFETY: `Line` is `repr(C)` over `[u16; 32]`, 64 bytes without
        // padding, so the lines are `32·lines.len()` contiguous, initialised
        // `u16`, of which `len` (checked by `grow`) are viewed.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u16>(), self.len) }
    }

    /// The first `len` values, grown (with zeros) to hold them.
    fn grow(&mut self, len: usize) -> &mut [u16] {
        let lines = len.div_ceil(32);
        if self.lines.len() < lines {
            self.lines.resize(lines, Line::default());
        }
        self.len = len;
        // SAFETY: as in `as_slice`, mutably: `len ≤ 32·lines.len()`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u16>(), len) }
    }
}

/// The first `len` values of `v`, grown (with zeros) to hold them.
fn grown<T: Copy + Default>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::default());
    }
    &mut v[..len]
}

/// Checks the shapes of a [`dots_with`] call; returns the number of rows.
fn rows_of(x: &[f32], centers: &Bf16Centers, out: &[f32]) -> usize {
    let d = centers.d;
    assert_eq!(x.len() % d, 0, "bf16 dots: x is not rows of {d} values");
    let m = x.len() / d;
    assert_eq!(
        out.len(),
        m * centers.k,
        "bf16 dots: out holds {} values, not {m} rows × {} centres",
        out.len(),
        centers.k
    );
    m
}

/// [`dots_with`] on the path the centres were packed for.
///
/// # Panics
/// As [`dots_with`].
pub fn dots(x: &[f32], centers: &Bf16Centers, out: &mut [f32], scratch: &mut Bf16Scratch) {
    dots_with(centers.isa, x, centers, out, scratch);
}

/// For the `m = x.len() / d` rows of the row-major `x`: `out[i·k + j]` = the
/// bf16 product of row `i` and centre `j` accumulated in f32 (see the module
/// documentation; within [`dot_error_bound`] of the exact product), on path
/// `isa` (`amx` or `avx512bf16`).
///
/// # Panics
/// When `x.len()` is not a multiple of `d`, when `out.len() != m·k`, when
/// `isa` has no bf16 kernel (below `avx512bf16`: use [`dots_emulated`]),
/// when this CPU cannot run `isa`, or when the centres were packed for
/// another kernel (`Bf16Centers::new(isa, …)` with the same path).
pub fn dots_with(
    isa: Isa,
    x: &[f32],
    centers: &Bf16Centers,
    out: &mut [f32],
    scratch: &mut Bf16Scratch,
) {
    let m = rows_of(x, centers, out);
    let kernel = isa.best_of(VARIANTS);
    assert!(
        kernel >= Isa::Avx512Bf16,
        "bf16 dots: path {isa} has no bf16 kernel (use dots_emulated)"
    );
    assert_eq!(
        kernel,
        centers.isa.best_of(VARIANTS),
        "bf16 dots: centres packed for path {}, not {isa}",
        centers.isa
    );
    isa.assert_available();
    if m == 0 {
        return;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: this CPU runs `isa` (asserted above), hence AMX-TILE,
        // AMX-BF16 with the tile data granted, and AVX512-BF16 (+F, BW, VL);
        // the shapes were checked by `rows_of` and the layout (`d_pad` a
        // multiple of 32) by the packing assertion.
        Isa::Amx => unsafe { amx::dots(x, m, centers, out, scratch) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above: AVX512-BF16, AVX-512F, BW and VL.
        Isa::Avx512Bf16 => unsafe { avx512bf16::dots(x, m, centers, out, scratch) },
        _ => unreachable!("bf16 dots: no kernel for {kernel} on this architecture"),
    }
}

/// [`dots_with`] by the scalar emulation of `VDPBF16PS` (the test oracle; the
/// AVX512-BF16 kernel gives its bits). Runs on every machine, with centres
/// packed for any path.
///
/// # Panics
/// When `x.len()` is not a multiple of `d` or `out.len() != m·k`.
pub fn dots_emulated(x: &[f32], centers: &Bf16Centers, out: &mut [f32], scratch: &mut Bf16Scratch) {
    let m = rows_of(x, centers, out);
    emul::dots(x, m, centers, out, scratch);
}

/// A rigorous bound on `|out − Σ_p x_p c_p|` for every estimate of every path
/// ([`dots_with`], [`dots_emulated`]), where `norm_x` and `norm_c` are the
/// Euclidean norms of the f32 row and centre (computed in f64, or upper
/// bounds): the formula `B` derived in the module documentation.
///
/// `+∞` when `d` is too large for a bound (over four million), and
/// non-finite when a norm is: the caller then screens nothing. The bound
/// says nothing about a non-finite estimate (overflow): see the module
/// documentation.
#[must_use]
pub fn dot_error_bound(d: usize, norm_x: f64, norm_c: f64) -> f64 {
    const TERM: f64 = 1.0 / 128.0 + 1.0 / 65_536.0; // 2⁻⁷ + 2⁻¹⁶
    let widen = (1.0 + 1.0 / 256.0) * (1.0 + 1.0 / 256.0); // (1 + 2⁻⁸)²
    bound(d + 1, TERM, widen, d, 1.0, norm_x, norm_c)
}

/// The bound of [`dot_error_bound`] for the hi/lo split products
/// ([`Bf16Centers::new_split`]), derived in the module documentation:
///
/// ```text
/// (1 + 2⁻²⁰) · [ (3·2⁻¹⁶ + 2⁻²² + γ_{3d+1}·(1 + 2⁻⁸)²(1 + 2⁻⁷)) · ‖x‖‖c‖
///               + 2⁻¹²⁶ · (2√d·(‖x‖ + ‖c‖) + 4(3d + 1)) ]
/// ```
///
/// 42 times tighter than the plain bound at `d = 384` (19 times at
/// `d = 1024`), where the f32 accumulation of the `3d` terms, not the bf16
/// rounding, dominates it.
#[must_use]
pub fn dot_error_bound_split(d: usize, norm_x: f64, norm_c: f64) -> f64 {
    const TERM: f64 = 3.0 / 65_536.0 + 1.0 / 4_194_304.0; // 3·2⁻¹⁶ + 2⁻²²
    let widen = (1.0 + 1.0 / 256.0) * (1.0 + 1.0 / 256.0) * (1.0 + 1.0 / 128.0);
    bound(3 * d + 1, TERM, widen, d, 2.0, norm_x, norm_c)
}

/// `(1 + 2⁻²⁰)·[(term + γ_n·widen)·‖x‖‖c‖ + 2⁻¹²⁶·(flush·√d·(‖x‖ + ‖c‖) +
/// 4n)]`, `γ_n = n·2⁻²³ / (1 − n·2⁻²³)`; `+∞` when `n·2⁻²³ > ½`.
fn bound(n: usize, term: f64, widen: f64, d: usize, flush: f64, norm_x: f64, norm_c: f64) -> f64 {
    const U32: f64 = 1.0 / 8_388_608.0; // 2⁻²³
    const TINY: f64 = f64::from_bits(0x3810_0000_0000_0000); // 2⁻¹²⁶
    const SLACK: f64 = 1.0 + 1.0 / 1_048_576.0; // 1 + 2⁻²⁰
    let n = n as f64;
    if n * U32 > 0.5 {
        return f64::INFINITY;
    }
    let gamma = n * U32 / (1.0 - n * U32);
    let relative = (term + gamma * widen) * (norm_x * norm_c);
    let absolute = TINY * (flush * (d as f64).sqrt() * (norm_x + norm_c) + 4.0 * n);
    SLACK * (relative + absolute)
}

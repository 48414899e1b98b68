//! The E-step and M-step block kernels, compiled three times from one source:
//! a portable body (`FMA = false`), and the same body inside
//! `#[target_feature]` wrappers for AVX2 + FMA and AVX-512 (`FMA = true`),
//! chosen once per process by [`isa`].
//!
//! The bodies are plain loops over fixed-size lane arrays (`[f64; LANES]`)
//! that the compiler turns into vector instructions; every lane runs the same
//! scalar arithmetic, so a row's results do not depend on where it sits in a
//! block or a chunk (bitwise identical on any thread count), and the AVX2 and
//! AVX-512 builds give the same bits (same operations, same order; only the
//! vector width differs). The portable build rounds the products separately,
//! so it may differ from the FMA builds in the last bits (deterministic per
//! machine).

pub(crate) use mmclust_core::isa::Isa;

/// Rows per tile of the Mahalanobis kernels: four AVX-512 vectors of `f64`
/// (four independent FMA chains, enough to cover the FMA latency).
pub(crate) const TILE: usize = 32;

/// Lanes of the row-major statistics kernels (one AVX-512 vector of `f64`).
pub(crate) const LANES: usize = 8;

/// Rows of `S2` accumulated together by [`second_moments_body`].
const P_ROWS: usize = 4;

/// The instruction-set path the kernels run with: the process's
/// ([`Isa::current`], detected once, or lowered by `MMCLUST_ISA`).
pub(crate) fn isa() -> Isa {
    Isa::current()
}

/// Defines `pub(crate) fn $name(args)` dispatching to `$body::<true>` compiled
/// with AVX-512 or AVX2 + FMA, or to the portable `$body::<false>`.
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident / $body:ident ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                /// The body compiled for AVX-512.
                ///
                /// # Safety
                /// The CPU supports AVX-512F, AVX2 and FMA.
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body::<true>($($arg),*)
                }
                /// The body compiled for AVX2 + FMA.
                ///
                /// # Safety
                /// The CPU supports AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body::<true>($($arg),*)
                }
                match isa().best_of(&[Isa::Avx512, Isa::Avx2]) {
                    // SAFETY: the CPU runs the path `isa` returns (core's
                    // detection), hence this one at or below it: AVX-512F,
                    // AVX2 and FMA.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above: AVX2 and FMA.
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    _ => {}
                }
            }
            $body::<false>($($arg),*)
        }
    };
}

/// `a · b + c`, fused when `FMA`.
#[inline(always)]
fn fmadd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `2^(j/16)` for `j = 0..16`, correctly rounded: the table of [`exp_nonpositive`].
pub(crate) const EXP2_SIXTEENTHS: [f64; 16] = [
    1.0,
    1.044_273_782_427_413_8,
    1.090_507_732_665_257_7,
    1.138_788_634_756_691_6,
    1.189_207_115_002_721,
    1.241_857_812_073_484,
    1.296_839_554_651_009_6,
    1.354_255_546_936_892_7,
    std::f64::consts::SQRT_2,
    1.476_826_145_939_499_3,
    1.542_210_825_407_940_7,
    1.610_490_331_949_254_3,
    1.681_792_830_507_429,
    1.756_252_160_373_299_5,
    1.834_008_086_409_342_4,
    1.915_206_561_397_147_4,
];

/// Constants of [`exp_nonpositive`] (shared with the vector version, which
/// performs the same operations).
pub(crate) mod exp_consts {
    /// `16 / ln 2`.
    pub(crate) const SIXTEEN_LOG2E: f64 = 16.0 * std::f64::consts::LOG2_E;
    /// `1.5 · 2^52`: adding it rounds to an integer, kept in the low bits.
    pub(crate) const SHIFT: f64 = 6_755_399_441_055_744.0;
    /// `ln 2 / 16` in two parts (the first with 21 trailing zero bits, so
    /// `n · HI` is exact for the `|n| < 2^14` that occur).
    pub(crate) const LN2_16_HI: f64 = 6.931_471_803_691_238e-1 / 16.0;
    pub(crate) const LN2_16_LO: f64 = 1.908_214_929_270_587_7e-10 / 16.0;
    /// Below this, `exp` is flushed to 0 (so `2^n` stays normal).
    pub(crate) const FLOOR: f64 = -708.0;
    /// `q(r) = Σ Q[i] r^(i+1) ≈ e^r − 1` on `|r| ≤ ln 2 / 32`: the degree-7
    /// Taylor polynomial economised to degree 6 by Chebyshev's `T7`
    /// (error below 8e-18 relative; `crates/gmm/scripts/exp_coefficients.py`
    /// computes these and the table).
    pub(crate) const Q: [f64; 6] = [
        1.000_000_000_000_002_2,
        0.5,
        0.166_666_666_628_447_65,
        0.041_666_666_666_666_664,
        0.008_333_496_247_359_863,
        0.001_388_888_888_888_889,
    ];
}

/// `exp(x)` for `x ≤ 0` (and −∞, NaN): `x = (16 e + j) ln 2 / 16 + r`
/// (Cody–Waite, `|r| ≤ ln 2 / 32`), `exp(x) = 2^e · T_j (1 + q(r))` with the
/// table `T_j = 2^(j/16)` and a degree-6 polynomial `q` (about 1 ulp in all).
/// Results below `e^-708` (where `2^e` would be subnormal) are flushed to 0.
/// Branch-free, so a loop of it vectorises; the AVX-512 kernel performs the
/// same operations (same bits).
#[inline(always)]
fn exp_nonpositive<const FMA: bool>(x: f64) -> f64 {
    use exp_consts::*;
    let xc = if x < FLOOR { FLOOR } else { x };
    let t = fmadd::<FMA>(xc, SIXTEEN_LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = fmadd::<FMA>(n, -LN2_16_HI, xc);
    let r = fmadd::<FMA>(n, -LN2_16_LO, r);
    let mut p = Q[5];
    for &c in Q[..5].iter().rev() {
        p = fmadd::<FMA>(p, r, c);
    }
    let q = p * r;
    // n = 16 e + j, j = n mod 16 ∈ [0, 16): the low bits of t hold n (two's
    // complement, on top of SHIFT's zero low bits).
    let tb = t.to_bits();
    let tj = EXP2_SIXTEENTHS[(tb & 15) as usize];
    let v = fmadd::<FMA>(tj, q, tj);
    // 2^e by adding e to the exponent field: (tb >> 4) << 52 is e << 52
    // (SHIFT's bits vanish); the result is normal (x ≥ −708).
    let scaled = f64::from_bits(v.to_bits().wrapping_add((tb >> 4) << 52));
    if x < FLOOR { 0.0 } else { scaled }
}

/// The FMA build of the scalar `exp` (the vector kernels' reference).
#[cfg(test)]
pub(crate) fn exp_nonpositive_for_tests(x: f64) -> f64 {
    exp_nonpositive::<true>(x)
}

dispatch! {
    /// Replaces each row of `lp` (rows of `k` log-densities) by its
    /// responsibilities and returns the sum of the per-row log-sum-exps (also
    /// pushed to `lse_out`).
    fn normalise_rows / normalise_rows_body(lp: &mut [f64], k: usize, lse_out: Option<&mut Vec<f64>>) -> f64
}

#[inline(always)]
fn normalise_rows_body<const FMA: bool>(
    lp: &mut [f64],
    k: usize,
    mut lse_out: Option<&mut Vec<f64>>,
) -> f64 {
    let mut total = 0.0;
    for row in lp.chunks_exact_mut(k) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = if max.is_finite() {
            for v in row.iter_mut() {
                *v = exp_nonpositive::<FMA>(*v - max);
            }
            let s: f64 = row.iter().sum();
            let inv = 1.0 / s;
            for v in row.iter_mut() {
                *v *= inv;
            }
            max + s.ln()
        } else {
            for v in row.iter_mut() {
                *v = (*v - max).exp();
            }
            max
        };
        total += lse;
        if let Some(v) = lse_out.as_deref_mut() {
            v.push(lse);
        }
    }
    total
}

dispatch! {
    /// `maha[i] = ‖(x_i − μ) U‖²` for the `ms` columns of the column-major
    /// differences `diff` (d × ms, `ms` a multiple of [`TILE`]) and the
    /// upper-triangular `U` (row-major d × d): `y_j = Σ_{p ≤ j} diff_p U[p][j]`,
    /// summed over `p` in increasing order, rows in SIMD lanes.
    fn mahalanobis_triangular / mahalanobis_triangular_body(diff: &[f64], ms: usize, d: usize, u: &[f64], maha: &mut [f64])
}

#[inline(always)]
fn mahalanobis_triangular_body<const FMA: bool>(
    diff: &[f64],
    ms: usize,
    d: usize,
    u: &[f64],
    maha: &mut [f64],
) {
    debug_assert_eq!(ms % TILE, 0);
    for i0 in (0..ms).step_by(TILE) {
        let mut total = [0.0f64; TILE];
        for j in 0..d {
            let mut acc = [0.0f64; TILE];
            for p in 0..=j {
                let upj = u[p * d + j];
                let col: &[f64; TILE] = diff[p * ms + i0..p * ms + i0 + TILE]
                    .try_into()
                    .expect("tile within the block");
                for l in 0..TILE {
                    acc[l] = fmadd::<FMA>(upj, col[l], acc[l]);
                }
            }
            for l in 0..TILE {
                total[l] = fmadd::<FMA>(acc[l], acc[l], total[l]);
            }
        }
        maha[i0..i0 + TILE].copy_from_slice(&total);
    }
}

dispatch! {
    /// `diff[j · ms + i] = xt[j · ms + i] − mu[j]` for the d columns.
    fn sub_columns / sub_columns_body(xt: &[f64], ms: usize, d: usize, mu: &[f64], diff: &mut [f64])
}

#[inline(always)]
fn sub_columns_body<const FMA: bool>(
    xt: &[f64],
    ms: usize,
    d: usize,
    mu: &[f64],
    diff: &mut [f64],
) {
    for ((dc, xc), &s) in diff
        .chunks_exact_mut(ms)
        .zip(xt.chunks_exact(ms))
        .zip(&mu[..d])
    {
        for (o, &v) in dc.iter_mut().zip(xc) {
            *o = v - s;
        }
    }
}

dispatch! {
    /// `maha[i] = Σ_j ((x_ij − μ_j) p_j)²` over the column-major block `xt`
    /// (d × ms); with `p` of length 1 the same scale for every column
    /// (spherical).
    fn mahalanobis_diag / mahalanobis_diag_body(xt: &[f64], ms: usize, d: usize, mu: &[f64], p: &[f64], maha: &mut [f64])
}

#[inline(always)]
fn mahalanobis_diag_body<const FMA: bool>(
    xt: &[f64],
    ms: usize,
    d: usize,
    mu: &[f64],
    p: &[f64],
    maha: &mut [f64],
) {
    debug_assert_eq!(ms % TILE, 0);
    for i0 in (0..ms).step_by(TILE) {
        let mut total = [0.0f64; TILE];
        for j in 0..d {
            let (m, s) = (mu[j], p[if p.len() == 1 { 0 } else { j }]);
            let col: &[f64; TILE] = xt[j * ms + i0..j * ms + i0 + TILE]
                .try_into()
                .expect("tile within the block");
            for l in 0..TILE {
                let t = (col[l] - m) * s;
                total[l] = fmadd::<FMA>(t, t, total[l]);
            }
        }
        maha[i0..i0 + TILE].copy_from_slice(&total);
    }
}

dispatch! {
    /// Adds one component's statistics over the `mm` compacted rows: `r`
    /// (responsibilities), `dr` the row-major differences about the shift and
    /// `wr = r · dr` (both mm × dp, zero-padded past `d`; `dp` a multiple of
    /// [`LANES`]). `nk += Σ r`, `s1 += Σ w`, and `s2` (packed lower triangle
    /// when `matrix`, else the d diagonal values) `+= Σ w dᵀ`. Each sum runs
    /// over the rows in order.
    fn component_stats / component_stats_body(
        r: &[f64], dr: &[f64], wr: &[f64], mm: usize, d: usize, dp: usize, matrix: bool,
        nk: &mut f64, s1: &mut [f64], s2: &mut [f64],
    )
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn component_stats_body<const FMA: bool>(
    r: &[f64],
    dr: &[f64],
    wr: &[f64],
    mm: usize,
    d: usize,
    dp: usize,
    matrix: bool,
    nk: &mut f64,
    s1: &mut [f64],
    s2: &mut [f64],
) {
    *nk += r[..mm].iter().sum::<f64>();
    for q0 in (0..dp).step_by(LANES) {
        let mut a1 = [0.0f64; LANES];
        let mut a2 = [0.0f64; LANES];
        for i in 0..mm {
            let w: &[f64; LANES] = wr[i * dp + q0..i * dp + q0 + LANES]
                .try_into()
                .expect("lanes within the row");
            let x: &[f64; LANES] = dr[i * dp + q0..i * dp + q0 + LANES]
                .try_into()
                .expect("lanes within the row");
            for l in 0..LANES {
                a1[l] += w[l];
                if !matrix {
                    a2[l] = fmadd::<FMA>(w[l], x[l], a2[l]);
                }
            }
        }
        for l in 0..LANES.min(d.saturating_sub(q0)) {
            s1[q0 + l] += a1[l];
            if !matrix {
                s2[q0 + l] += a2[l];
            }
        }
    }
    if matrix {
        second_moments_body::<FMA>(dr, wr, mm, d, dp, s2);
    }
}

/// `s2[p(p+1)/2 + q] += Σ_i w_ip d_iq` for q ≤ p: a small register-blocked
/// SYRK, [`P_ROWS`] rows of `S2` by [`LANES`] columns per tile (only tiles
/// meeting the lower triangle), rows `i` in the inner loop.
#[inline(always)]
fn second_moments_body<const FMA: bool>(
    dr: &[f64],
    wr: &[f64],
    mm: usize,
    d: usize,
    dp: usize,
    s2: &mut [f64],
) {
    #[inline(always)]
    fn axpy<const FMA: bool>(a: &mut [f64; LANES], w: f64, x: &[f64; LANES]) {
        for l in 0..LANES {
            a[l] = fmadd::<FMA>(w, x[l], a[l]);
        }
    }
    for p0 in (0..d).step_by(P_ROWS) {
        let pn = P_ROWS.min(d - p0);
        for q0 in (0..p0 + pn).step_by(LANES) {
            let (mut a0, mut a1, mut a2, mut a3) =
                ([0.0f64; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
            for (xrow, wrow) in dr.chunks_exact(dp).zip(wr.chunks_exact(dp)).take(mm) {
                let x: &[f64; LANES] = xrow[q0..q0 + LANES]
                    .try_into()
                    .expect("lanes within the row");
                // p0 + P_ROWS ≤ dp: p0 is a multiple of P_ROWS, which divides dp.
                let w: &[f64; P_ROWS] = wrow[p0..p0 + P_ROWS]
                    .try_into()
                    .expect("rows within the row");
                axpy::<FMA>(&mut a0, w[0], x);
                axpy::<FMA>(&mut a1, w[1], x);
                axpy::<FMA>(&mut a2, w[2], x);
                axpy::<FMA>(&mut a3, w[3], x);
            }
            for (pp, a) in [a0, a1, a2, a3].iter().enumerate().take(pn) {
                let p = p0 + pp;
                let row = p * (p + 1) / 2;
                for (l, &v) in a.iter().enumerate() {
                    let q = q0 + l;
                    if q <= p {
                        s2[row + q] += v;
                    }
                }
            }
        }
    }
}

dispatch! {
    /// Diagonal statistics of component `c` over the block `x` (m × d,
    /// row-major) with responsibilities `resp` (m × k): `nk += Σ r`,
    /// `s1 += Σ r t`, `s2 += Σ r t²` with `t = x − shift`, summed over rows in
    /// order. No compaction: a zero weight adds exactly nothing.
    fn diag_stats / diag_stats_body(
        x: &[f32], m: usize, d: usize, resp: &[f64], k: usize, c: usize, shift: &[f64],
        nk: &mut f64, s1: &mut [f64], s2: &mut [f64],
    )
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn diag_stats_body<const FMA: bool>(
    x: &[f32],
    m: usize,
    d: usize,
    resp: &[f64],
    k: usize,
    c: usize,
    shift: &[f64],
    nk: &mut f64,
    s1: &mut [f64],
    s2: &mut [f64],
) {
    let (s1, s2, shift) = (&mut s1[..d], &mut s2[..d], &shift[..d]);
    let rows = || x.chunks_exact(d).take(m).enumerate();
    for (i, _) in rows() {
        *nk += resp[i * k + c];
    }
    // Whole groups of LANES columns with the sums in registers, rows in the
    // inner loop; the remaining columns one by one. Each column's sums run
    // over the rows in order either way (the same bits).
    let full = d / LANES * LANES;
    for j0 in (0..full).step_by(LANES) {
        let sh: &[f64; LANES] = shift[j0..j0 + LANES].try_into().expect("lanes");
        let (mut a1, mut a2) = ([0.0f64; LANES], [0.0f64; LANES]);
        for (i, row) in rows() {
            let ri = resp[i * k + c];
            let v: &[f32; LANES] = row[j0..j0 + LANES].try_into().expect("lanes");
            for l in 0..LANES {
                let t = f64::from(v[l]) - sh[l];
                let w = ri * t;
                a1[l] += w;
                a2[l] = fmadd::<FMA>(w, t, a2[l]);
            }
        }
        for l in 0..LANES {
            s1[j0 + l] += a1[l];
            s2[j0 + l] += a2[l];
        }
    }
    for j in full..d {
        let (mut a1, mut a2) = (0.0f64, 0.0f64);
        for (i, row) in rows() {
            let ri = resp[i * k + c];
            let t = f64::from(row[j]) - shift[j];
            let w = ri * t;
            a1 += w;
            a2 = fmadd::<FMA>(w, t, a2);
        }
        s1[j] += a1;
        s2[j] += a2;
    }
}

dispatch! {
    /// Gathers the rows of the block `x` (m × d, row-major) whose
    /// responsibility for component `c` (column `c` of `resp`, m × k) is not
    /// exactly 0 — a zero weight adds exactly nothing to any sum — into `r`,
    /// `dr` (differences about `shift`, row stride `dp`) and `wr = r · dr`.
    /// Returns how many. Entries past `d` in each row are left as they are
    /// (zero).
    fn compact_rows / compact_rows_body(
        x: &[f32], m: usize, d: usize, dp: usize, resp: &[f64], k: usize, c: usize,
        shift: &[f64], r: &mut [f64], dr: &mut [f64], wr: &mut [f64],
    ) -> usize
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn compact_rows_body<const FMA: bool>(
    x: &[f32],
    m: usize,
    d: usize,
    dp: usize,
    resp: &[f64],
    k: usize,
    c: usize,
    shift: &[f64],
    r: &mut [f64],
    dr: &mut [f64],
    wr: &mut [f64],
) -> usize {
    // Branch-free: every row is written at `mm`, which only advances past
    // rows with a nonzero weight (a mispredicted branch per row and
    // component would cost more than the writes).
    let mut mm = 0;
    for i in 0..m {
        let ri = resp[i * k + c];
        r[mm] = ri;
        let row = &x[i * d..(i + 1) * d];
        let out_d = &mut dr[mm * dp..mm * dp + d];
        let out_w = &mut wr[mm * dp..mm * dp + d];
        for (((o, w), &v), &s) in out_d.iter_mut().zip(out_w.iter_mut()).zip(row).zip(shift) {
            let t = f64::from(v) - s;
            *o = t;
            *w = ri * t;
        }
        mm += usize::from(ri != 0.0);
    }
    mm
}

dispatch! {
    /// The nearest shift of each of the `m` rows of the block `x` (m × d,
    /// row-major), written to `labels`: `Σ_p (x_p − s_p)²` in `f64`, summed
    /// over `p` in order with separate products and sums, ties to the lowest
    /// index — the arithmetic of [`crate::pass::nearest`], bit for bit, with
    /// [`LANES`] shifts at a time. `shifts_t` holds the k shifts transposed,
    /// d × `kp` with `kp = k` rounded up to whole lanes (padding ignored).
    fn nearest_rows / nearest_rows_body(
        x: &[f32], m: usize, d: usize, shifts_t: &[f64], k: usize, labels: &mut [u32],
    )
}

/// Rows whose distances [`nearest_rows_body`] computes together (independent
/// sums that hide the addition latency).
const NEAREST_ROWS: usize = 4;

#[inline(always)]
fn nearest_rows_body<const FMA: bool>(
    x: &[f32],
    m: usize,
    d: usize,
    shifts_t: &[f64],
    k: usize,
    labels: &mut [u32],
) {
    let whole = m / NEAREST_ROWS * NEAREST_ROWS;
    for i in (0..whole).step_by(NEAREST_ROWS) {
        nearest_tile::<NEAREST_ROWS>(&x[i * d..], d, shifts_t, k, &mut labels[i..]);
    }
    for i in whole..m {
        nearest_tile::<1>(&x[i * d..], d, shifts_t, k, &mut labels[i..]);
    }
}

/// [`nearest_rows_body`] for the `R` rows at the start of `x`.
#[inline(always)]
fn nearest_tile<const R: usize>(
    x: &[f32],
    d: usize,
    shifts_t: &[f64],
    k: usize,
    labels: &mut [u32],
) {
    let kp = k.div_ceil(LANES) * LANES;
    let mut best = [(f64::INFINITY, 0u32); R];
    for g in (0..kp).step_by(LANES) {
        let mut acc = [[0.0f64; LANES]; R];
        for p in 0..d {
            let s: &[f64; LANES] = shifts_t[p * kp + g..p * kp + g + LANES]
                .try_into()
                .expect("lanes");
            for (r, a) in acc.iter_mut().enumerate() {
                let v = f64::from(x[r * d + p]);
                for l in 0..LANES {
                    let t = v - s[l];
                    a[l] += t * t;
                }
            }
        }
        // Centres in increasing index, a strict `<`: ties keep the lowest.
        for (b, a) in best.iter_mut().zip(&acc) {
            for (l, &dist) in a.iter().enumerate() {
                if g + l < k && dist < b.0 {
                    *b = (dist, (g + l) as u32);
                }
            }
        }
    }
    for (out, b) in labels.iter_mut().zip(best) {
        *out = b.1;
    }
}

dispatch! {
    /// [`diag_stats`] for hard responsibilities: the rows `rows` (indices into
    /// the block `x`, increasing) each with weight 1, every other row 0. The
    /// same sums bit for bit (a zero weight adds exactly nothing, and
    /// `1 · t = t`), in O(|rows| · d) instead of O(m · d).
    fn diag_stats_rows / diag_stats_rows_body(
        x: &[f32], d: usize, rows: &[u32], shift: &[f64],
        nk: &mut f64, s1: &mut [f64], s2: &mut [f64],
    )
}

#[inline(always)]
fn diag_stats_rows_body<const FMA: bool>(
    x: &[f32],
    d: usize,
    rows: &[u32],
    shift: &[f64],
    nk: &mut f64,
    s1: &mut [f64],
    s2: &mut [f64],
) {
    let (s1, s2, shift) = (&mut s1[..d], &mut s2[..d], &shift[..d]);
    let row = |i: u32| &x[i as usize * d..(i as usize + 1) * d];
    for _ in rows {
        *nk += 1.0;
    }
    let full = d / LANES * LANES;
    for j0 in (0..full).step_by(LANES) {
        let sh: &[f64; LANES] = shift[j0..j0 + LANES].try_into().expect("lanes");
        let (mut a1, mut a2) = ([0.0f64; LANES], [0.0f64; LANES]);
        for &i in rows {
            let v: &[f32; LANES] = row(i)[j0..j0 + LANES].try_into().expect("lanes");
            for l in 0..LANES {
                let t = f64::from(v[l]) - sh[l];
                a1[l] += t;
                a2[l] = fmadd::<FMA>(t, t, a2[l]);
            }
        }
        for l in 0..LANES {
            s1[j0 + l] += a1[l];
            s2[j0 + l] += a2[l];
        }
    }
    for j in full..d {
        let (mut a1, mut a2) = (0.0f64, 0.0f64);
        for &i in rows {
            let t = f64::from(row(i)[j]) - shift[j];
            a1 += t;
            a2 = fmadd::<FMA>(t, t, a2);
        }
        s1[j] += a1;
        s2[j] += a2;
    }
}

dispatch! {
    /// [`compact_rows`] for hard responsibilities: gathers the rows `rows`
    /// (indices into the block `x`, increasing), each with weight 1, into
    /// `r`, `dr` and `wr` exactly as [`compact_rows`] gathers them from their
    /// one-hot responsibilities. Returns how many.
    fn gather_rows / gather_rows_body(
        x: &[f32], d: usize, dp: usize, rows: &[u32], shift: &[f64],
        r: &mut [f64], dr: &mut [f64], wr: &mut [f64],
    ) -> usize
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gather_rows_body<const FMA: bool>(
    x: &[f32],
    d: usize,
    dp: usize,
    rows: &[u32],
    shift: &[f64],
    r: &mut [f64],
    dr: &mut [f64],
    wr: &mut [f64],
) -> usize {
    for (mm, &i) in rows.iter().enumerate() {
        r[mm] = 1.0;
        let row = &x[i as usize * d..(i as usize + 1) * d];
        let out_d = &mut dr[mm * dp..mm * dp + d];
        let out_w = &mut wr[mm * dp..mm * dp + d];
        for (((o, w), &v), &s) in out_d.iter_mut().zip(out_w.iter_mut()).zip(row).zip(shift) {
            let t = f64::from(v) - s;
            *o = t;
            *w = t;
        }
    }
    rows.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_and_flushes() {
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let x = -(i as f64) * 0.003_7;
            let (a, b) = (exp_nonpositive::<true>(x), x.exp());
            let c = exp_nonpositive::<false>(x);
            if b > 1e-300 {
                worst = worst.max(((a - b) / b).abs()).max(((c - b) / b).abs());
            }
        }
        assert!(worst < 1.5 * f64::EPSILON, "worst relative error {worst:e}");
        assert_eq!(exp_nonpositive::<true>(0.0), 1.0);
        assert_eq!(exp_nonpositive::<true>(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive::<true>(-800.0), 0.0);
        assert!(exp_nonpositive::<true>(f64::NAN).is_nan());
    }

    #[test]
    fn dispatched_kernels_match_the_portable_ones_closely() {
        let (d, mm) = (7, 37);
        let dp = 8;
        let mut dr = vec![0.0; mm * dp];
        let mut wr = vec![0.0; mm * dp];
        let r: Vec<f64> = (0..mm)
            .map(|i| 0.1 + (i as f64 * 0.3).sin().abs())
            .collect();
        for i in 0..mm {
            for j in 0..d {
                dr[i * dp + j] = ((i * 7 + j * 3) as f64 * 0.41).cos() * 2.0;
                wr[i * dp + j] = r[i] * dr[i * dp + j];
            }
        }
        let t = d * (d + 1) / 2;
        let (mut nk, mut s1, mut s2) = (0.0, vec![0.0; d], vec![0.0; t]);
        component_stats(&r, &dr, &wr, mm, d, dp, true, &mut nk, &mut s1, &mut s2);
        for p in 0..d {
            for q in 0..=p {
                let want: f64 = (0..mm).map(|i| wr[i * dp + p] * dr[i * dp + q]).sum();
                let got = s2[p * (p + 1) / 2 + q];
                assert!((got - want).abs() < 1e-12 * want.abs().max(1.0));
            }
            let want: f64 = (0..mm).map(|i| wr[i * dp + p]).sum();
            assert!((s1[p] - want).abs() < 1e-12 * want.abs().max(1.0));
        }
        assert!((nk - r.iter().sum::<f64>()).abs() < 1e-12);
        let (mut nk2, mut s1d, mut s2d) = (0.0, vec![0.0; d], vec![0.0; d]);
        component_stats(&r, &dr, &wr, mm, d, dp, false, &mut nk2, &mut s1d, &mut s2d);
        for p in 0..d {
            assert!((s2d[p] - s2[p * (p + 1) / 2 + p]).abs() < 1e-12 * s2d[p].abs().max(1.0));
        }
    }
}

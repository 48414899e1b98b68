//! Measured peaks: what this CPU's arithmetic units and memory deliver,
//! timed in this process, for `mmclust bench` to set its kernels against.
//!
//! A peak inferred from the advertised clock and an assumed number of FMA
//! pipes is wrong both ways (turbo clocks above the nominal one, one or two
//! 512-bit FMA units, AVX-512 frequency licences): it reported 117 % of
//! peak on this project's Intel machine. So every peak here comes from a
//! loop that does nothing but the instruction in question, in enough
//! independent chains to hide its latency, timed:
//!
//! * [`f32_fma_gflops_with`]: `vfmadd` on the widest `f32` vector the path's
//!   `f32` kernels use (AVX-512: 16 chains of `zmm`, 16 lanes; AVX2: 12
//!   chains of `ymm`, 8 lanes), 2 FLOP per lane. `None` on the scalar path:
//!   portable code has no fixed instruction mix to take a peak of (the
//!   compiler vectorises it for the baseline target as it can), so `bench`
//!   reports no peak and no percentage there.
//! * [`bf16_dot_gflops_with`]: `vdpbf16ps` (AVX512-BF16), 16 chains of
//!   `zmm`, 16 lanes × 2 pairs × 2 FLOP = 64 FLOP each. `None` below
//!   [`Isa::Avx512Bf16`].
//! * [`amx_gflops_with`]: `tdpbf16ps` (AMX-BF16) on register tiles: four
//!   accumulator tiles `tmm0..3` of 16 × 16 `f32`, operand tiles `tmm4..7`
//!   (16 rows × 32 bf16) loaded once, then only tile products, 16·16·32·2 =
//!   16 384 FLOP each. A kernel's own rate is bounded further by its tile
//!   loads and stores. `None` below [`Isa::Amx`].
//! * [`read_gbps_with`]: a streaming read (an integer sum of every word of
//!   a buffer that the caller sizes well beyond the last-level cache,
//!   [`read_buffer_bytes`]) — the bandwidth that bounds small-`d` shapes.
//!
//! Each runs on the calling thread ([`Threads::One`]) or on every thread of
//! the current rayon pool at once ([`Threads::All`], one `rayon::broadcast`:
//! the total work over the wall time of the slowest thread). Each is the
//! best of a few timed batches after a warm-up one (which also brings the
//! core to its AVX-512 or AMX licence clock), so a short `seconds` is
//! noisier but not biased upward.
//!
//! Which of these peaks bounds the exact assignment for a shape:
//! [`exact_assignment_arithmetic`].

use std::time::Instant;

use crate::isa::Isa;

/// On how many threads a peak is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread.
    One,
    /// Every thread of the current rayon pool, together.
    All,
}

/// The arithmetic whose peak bounds a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arithmetic {
    /// `f32` FMA of the path's vector width ([`f32_fma_gflops_with`]).
    F32Fma,
    /// bf16 dot products by AVX512-BF16 ([`bf16_dot_gflops_with`]).
    Avx512Bf16,
    /// bf16 tile products by AMX ([`amx_gflops_with`]).
    Amx,
}

impl Arithmetic {
    /// How `bench` names it: `"f32_fma"`, `"avx512bf16"`, `"amx"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Arithmetic::F32Fma => "f32_fma",
            Arithmetic::Avx512Bf16 => "avx512bf16",
            Arithmetic::Amx => "amx",
        }
    }
}

/// The products the exact assignment ([`super::assign_chunk_with`]) runs on
/// `isa` for `k` centres of dimension `d`: the bf16 pre-screen where the
/// path has it and the shape pays (`d ≥ 32`, `k ≥ 16` today; the rule is
/// the kernel's own), else the `f32` top-2 pre-screen.
#[must_use]
pub fn exact_assignment_arithmetic(isa: Isa, k: usize, d: usize) -> Arithmetic {
    if !super::exact::use_bf16(isa, k, d) {
        Arithmetic::F32Fma
    } else if isa >= Isa::Amx {
        Arithmetic::Amx
    } else {
        Arithmetic::Avx512Bf16
    }
}

/// Peak GFLOP/s of `arithmetic` on `isa` ([`f32_fma_gflops_with`] and
/// its siblings), `None` where the path lacks it.
///
/// # Panics
/// When this CPU cannot run `isa`, or `seconds` is not positive and finite.
#[must_use]
pub fn gflops_with(
    isa: Isa,
    arithmetic: Arithmetic,
    threads: Threads,
    seconds: f64,
) -> Option<f64> {
    match arithmetic {
        Arithmetic::F32Fma => f32_fma_gflops_with(isa, threads, seconds),
        Arithmetic::Avx512Bf16 => bf16_dot_gflops_with(isa, threads, seconds),
        Arithmetic::Amx => amx_gflops_with(isa, threads, seconds),
    }
}

/// [`f32_fma_gflops_with`] on the process's path ([`Isa::current`]).
#[must_use]
pub fn f32_fma_gflops(threads: Threads, seconds: f64) -> Option<f64> {
    f32_fma_gflops_with(Isa::current(), threads, seconds)
}

/// Peak `f32` FMA GFLOP/s on `isa`, over about `seconds`: AVX-512 (also on
/// the bf16 paths, whose `f32` kernels are AVX-512's) or AVX2; `None` on
/// the scalar path (see the module documentation).
///
/// # Panics
/// When this CPU cannot run `isa`, or `seconds` is not positive and finite.
#[must_use]
pub fn f32_fma_gflops_with(isa: Isa, threads: Threads, seconds: f64) -> Option<f64> {
    check(isa, seconds);
    #[cfg(target_arch = "x86_64")]
    match isa.best_of(&[Isa::Avx512, Isa::Avx2]) {
        Isa::Avx512 => {
            return Some(measure(threads, seconds, x86::FMA512_FLOP, |n| {
                // SAFETY: the path includes AVX-512F (checked above).
                unsafe { x86::fma512(n) }
            }));
        }
        Isa::Avx2 => {
            return Some(measure(threads, seconds, x86::FMA256_FLOP, |n| {
                // SAFETY: the path includes AVX2 and FMA (checked above).
                unsafe { x86::fma256(n) }
            }));
        }
        _ => {}
    }
    None
}

/// Peak bf16 dot-product GFLOP/s (`vdpbf16ps`) on `isa`, over about
/// `seconds`; `None` below [`Isa::Avx512Bf16`].
///
/// # Panics
/// When this CPU cannot run `isa`, or `seconds` is not positive and finite.
#[must_use]
pub fn bf16_dot_gflops_with(isa: Isa, threads: Threads, seconds: f64) -> Option<f64> {
    check(isa, seconds);
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx512Bf16 {
        return Some(measure(threads, seconds, x86::DP512_FLOP, |n| {
            // SAFETY: the path includes AVX512-BF16 and AVX-512F (checked).
            unsafe { x86::dpbf16(n) }
        }));
    }
    None
}

/// Peak AMX bf16 tile GFLOP/s (`tdpbf16ps`, operands in registers) on
/// `isa`, over about `seconds`; `None` below [`Isa::Amx`].
///
/// # Panics
/// When this CPU cannot run `isa`, or `seconds` is not positive and finite.
#[must_use]
pub fn amx_gflops_with(isa: Isa, threads: Threads, seconds: f64) -> Option<f64> {
    check(isa, seconds);
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Amx {
        return Some(measure(threads, seconds, x86::AMX_FLOP, |n| {
            // SAFETY: the path includes AMX with the tile data granted to
            // this process (detection asked for it; checked above).
            unsafe { x86::amx(n) }
        }));
    }
    None
}

/// The size of buffer a streaming-read measurement needs: at least four
/// times the last-level cache (as Linux reports it for CPU 0), at least
/// 512 MiB, at most 2 GiB; 512 MiB when the cache size is unknown.
#[must_use]
pub fn read_buffer_bytes() -> usize {
    const MIB: usize = 1 << 20;
    let llc = (0..8)
        .filter_map(|i| {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
            let level = std::fs::read_to_string(format!("{dir}/level")).ok()?;
            let size = std::fs::read_to_string(format!("{dir}/size")).ok()?;
            Some((level.trim().parse::<u32>().ok()?, parse_cache_size(&size)?))
        })
        .max()
        .map_or(0, |(_, bytes)| bytes);
    (4 * llc).clamp(512 * MIB, 2048 * MIB)
}

/// `"107520K"`, `"32M"`, `"1024"` (bytes) as Linux writes cache sizes.
fn parse_cache_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok().map(|v| v * unit)
}

/// [`read_gbps_with`] on the process's path.
#[must_use]
pub fn read_gbps(buf: &[u64], threads: Threads, reps: usize) -> f64 {
    read_gbps_with(Isa::current(), buf, threads, reps)
}

/// Streaming-read bandwidth in GB/s (10⁹ bytes): the best of `reps`
/// (at least 1) timed sums of every word of `buf`, on one thread or split
/// in equal contiguous parts over every thread of the current pool, after
/// one untimed sum (the caller should have written `buf` once already, so
/// that no page fault is timed). The sum runs the path's widest integer
/// adds (`isa`), which keep far ahead of memory.
///
/// # Panics
/// When this CPU cannot run `isa`, or `buf` is empty.
#[must_use]
pub fn read_gbps_with(isa: Isa, buf: &[u64], threads: Threads, reps: usize) -> f64 {
    isa.assert_available();
    assert!(!buf.is_empty(), "read_gbps: empty buffer");
    let sum = |part: &[u64]| -> u64 {
        #[cfg(target_arch = "x86_64")]
        match isa.best_of(&[Isa::Avx512, Isa::Avx2]) {
            // SAFETY: the path includes AVX-512F (asserted above).
            Isa::Avx512 => return unsafe { x86::sum512(part) },
            // SAFETY: the path includes AVX2 (asserted above).
            Isa::Avx2 => return unsafe { x86::sum256(part) },
            _ => {}
        }
        sum_words(part)
    };
    let pass = || -> f64 {
        let t = Instant::now();
        let total = match threads {
            Threads::One => sum(buf),
            Threads::All => rayon::broadcast(|ctx| {
                let per = buf.len().div_ceil(ctx.num_threads());
                let lo = (ctx.index() * per).min(buf.len());
                sum(&buf[lo..(lo + per).min(buf.len())])
            })
            .into_iter()
            .fold(0u64, u64::wrapping_add),
        };
        std::hint::black_box(total);
        t.elapsed().as_secs_f64()
    };
    pass();
    let best = (0..reps.max(1))
        .map(|_| pass())
        .fold(f64::INFINITY, f64::min);
    std::mem::size_of_val(buf) as f64 / best.max(1e-9) / 1e9
}

/// The wrapping sum of `words` (portable; vectorised by the compiler for
/// whatever target features its caller enables).
#[inline(always)]
fn sum_words(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let mut chunks = words.chunks_exact(8);
    for c in &mut chunks {
        for (a, &w) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(w);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0u64, |a, &w| a.wrapping_add(w));
    acc.iter().fold(tail, |a, &w| a.wrapping_add(w))
}

fn check(isa: Isa, seconds: f64) {
    isa.assert_available();
    assert!(
        seconds.is_finite() && seconds > 0.0,
        "peak: seconds must be positive and finite, not {seconds}"
    );
}

/// Timed batches per measurement, after the warm-up: the best is kept.
const BATCHES: usize = 3;

/// GFLOP/s of `kernel(n)`, which runs `n` iterations of `flop_per_iter`
/// FLOP, over about `seconds` on `threads`: a warm-up batch calibrates `n`
/// to a batch of `seconds / (BATCHES + 1)` on one thread, then the best of
/// [`BATCHES`] batches (on every thread at once for [`Threads::All`]: the
/// whole pool's FLOP over the wall time from the broadcast to the last
/// thread's end).
fn measure(
    threads: Threads,
    seconds: f64,
    flop_per_iter: f64,
    kernel: impl Fn(u64) -> f64 + Sync,
) -> f64 {
    let batch = seconds / (BATCHES + 1) as f64;
    // Calibrate: double the iterations until a run takes a tenth of a batch.
    let mut n: u64 = 1024;
    let per_iter = loop {
        let t = Instant::now();
        std::hint::black_box(kernel(std::hint::black_box(n)));
        let s = t.elapsed().as_secs_f64();
        if s >= batch / 10.0 || n >= 1 << 40 {
            break s / n as f64;
        }
        n *= 2;
    };
    let n = ((batch / per_iter.max(1e-12)) as u64).max(1);
    let run = || -> (f64, f64) {
        let t = Instant::now();
        let workers = match threads {
            Threads::One => {
                std::hint::black_box(kernel(std::hint::black_box(n)));
                1
            }
            Threads::All => {
                let done =
                    rayon::broadcast(|_| std::hint::black_box(kernel(std::hint::black_box(n))));
                std::hint::black_box(&done);
                done.len()
            }
        };
        (t.elapsed().as_secs_f64(), workers as f64)
    };
    run(); // warm-up on every thread measured
    (0..BATCHES)
        .map(|_| {
            let (s, workers) = run();
            workers * n as f64 * flop_per_iter / s.max(1e-12) / 1e9
        })
        .fold(0.0, f64::max)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The loops. Every one takes an iteration count and returns a value
    //! that depends on every chain, so that nothing is optimised away.

    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::mem::transmute;

    /// Independent `zmm` FMA chains: enough to cover a 4-cycle latency on
    /// two FMA units (8 in flight) twice over, with 16 registers to spare.
    const CHAINS512: usize = 16;
    /// FLOP per iteration of [`fma512`]: chains × 16 lanes × 2.
    pub(super) const FMA512_FLOP: f64 = (CHAINS512 * 16 * 2) as f64;
    /// `ymm` chains: 12 of the 16 registers (2 hold the operands).
    const CHAINS256: usize = 12;
    /// FLOP per iteration of [`fma256`].
    pub(super) const FMA256_FLOP: f64 = (CHAINS256 * 8 * 2) as f64;
    /// FLOP per iteration of [`dpbf16`]: chains × 16 lanes × 2 pairs × 2.
    pub(super) const DP512_FLOP: f64 = (CHAINS512 * 16 * 2 * 2) as f64;
    /// Tile products per iteration of [`amx`], and FLOP per product:
    /// 16 rows × 16 columns × 32 bf16 × 2.
    const AMX_PRODUCTS: usize = 8;
    pub(super) const AMX_FLOP: f64 = (AMX_PRODUCTS * 16 * 16 * 32 * 2) as f64;

    /// `n` iterations of 16 independent `acc = acc·½ + 1` chains (they
    /// converge to 2: no overflow, no denormal).
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fma512(n: u64) -> f64 {
        let (m, b) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0));
        let mut acc = [_mm512_setzero_ps(); CHAINS512];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = _mm512_set1_ps(i as f32);
        }
        for _ in 0..n {
            for a in &mut acc {
                *a = _mm512_fmadd_ps(*a, m, b);
            }
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
        f64::from(_mm512_reduce_add_ps(s))
    }

    /// As [`fma512`] with 12 `ymm` chains.
    ///
    /// # Safety
    /// AVX2 and FMA must be available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fma256(n: u64) -> f64 {
        let (m, b) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
        let mut acc = [_mm256_setzero_ps(); CHAINS256];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = _mm256_set1_ps(i as f32);
        }
        for _ in 0..n {
            for a in &mut acc {
                *a = _mm256_fmadd_ps(*a, m, b);
            }
        }
        let s = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds 8 f32; unaligned store.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
        lanes.iter().map(|&v| f64::from(v)).sum()
    }

    /// `n` iterations of 16 independent `acc += x·y` bf16 dot-product
    /// chains (`x = y = 2⁻⁶` in every bf16 element: each step adds 2⁻¹¹ per
    /// lane, exact, no overflow for any feasible `n`).
    ///
    /// # Safety
    /// AVX512-BF16 and AVX-512F must be available.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn dpbf16(n: u64) -> f64 {
        // bf16 2⁻⁶ = 0x3c80; two per 32-bit lane.
        // SAFETY: __m512i and __m512bh are both 64 bytes of plain bits.
        let x: __m512bh = unsafe { transmute(_mm512_set1_epi32(0x3c80_3c80)) };
        let mut acc = [_mm512_setzero_ps(); CHAINS512];
        for _ in 0..n {
            for a in &mut acc {
                *a = _mm512_dpbf16_ps(*a, x, x);
            }
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
        f64::from(_mm512_reduce_add_ps(s))
    }

    /// The palette-1 configuration: 8 tiles of 16 rows × 64 bytes.
    #[repr(C, align(64))]
    struct TileConfig([u8; 64]);

    /// `n` iterations of 8 `tdpbf16ps`: accumulators `tmm0..3`, each fed
    /// by two of the operand tiles `tmm4..7`, which are loaded once (bf16
    /// 2⁻⁶ everywhere); `ldtilecfg` first, `tilerelease` last. Returns an
    /// element of `tmm0`.
    ///
    /// # Safety
    /// AMX-TILE and AMX-BF16 must be available with the tile data granted
    /// to this process.
    pub(super) unsafe fn amx(n: u64) -> f64 {
        let mut config = TileConfig([0; 64]);
        config.0[0] = 1; // palette 1
        for t in 0..8 {
            config.0[16 + 2 * t] = 64; // bytes per row (u16, little-endian)
            config.0[48 + t] = 16; // rows
        }
        // 16 rows × 64 bytes, bf16 2⁻⁶ (0x3c80) everywhere.
        let operand = [0x3c80u16; 16 * 32];
        let mut out = [0f32; 16 * 16];
        let stride: usize = 64;
        // SAFETY: AMX usable (contract). The configuration is valid for
        // palette 1 and read only; the loads read 16 rows of 64 bytes
        // `stride` apart from `operand` (1 KiB, exactly its size); the store
        // writes 16 rows of 64 bytes into `out` (1 KiB). Accumulators grow
        // by 32·2⁻¹² per product: never overflow. `tilerelease` ends the
        // tile state before returning, on the only path out of the block.
        unsafe {
            asm!(
                "ldtilecfg [{cfg}]",
                "tileloadd tmm4, [{op} + {stride}*1]",
                "tileloadd tmm5, [{op} + {stride}*1]",
                "tileloadd tmm6, [{op} + {stride}*1]",
                "tileloadd tmm7, [{op} + {stride}*1]",
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "test {n}, {n}",
                "jz 3f",
                "2:",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm5, tmm6",
                "tdpbf16ps tmm2, tmm4, tmm7",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "tdpbf16ps tmm0, tmm5, tmm7",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm4, tmm6",
                "dec {n}",
                "jnz 2b",
                "3:",
                "tilestored [{out} + {stride}*1], tmm0",
                "tilerelease",
                cfg = in(reg) config.0.as_ptr(),
                op = in(reg) operand.as_ptr(),
                out = in(reg) out.as_mut_ptr(),
                stride = in(reg) stride,
                n = inout(reg) n => _,
                options(nostack)
            );
        }
        f64::from(out[0])
    }

    /// Wrapping sum of `words` with AVX-512 integer adds.
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum512(words: &[u64]) -> u64 {
        super::sum_words(words)
    }

    /// Wrapping sum of `words` with AVX2 integer adds.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum256(words: &[u64]) -> u64 {
        super::sum_words(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: f64 = 0.02;

    fn positive(v: Option<f64>, what: &str, isa: Isa) -> f64 {
        let v = v.unwrap_or_else(|| panic!("{what} on {isa}: no figure"));
        assert!(v.is_finite() && v > 0.0, "{what} on {isa}: {v}");
        v
    }

    /// Every peak is a positive finite number on the paths that have its
    /// instruction, `None` on the others; the pool's is at least about one
    /// thread's (a pool of one thread measures the same thing twice).
    #[test]
    fn peaks_are_positive_where_the_path_has_the_instruction() {
        let name = "peaks_are_positive_where_the_path_has_the_instruction";
        for isa in Isa::paths_for_test(name) {
            for (arith, has) in [
                (Arithmetic::F32Fma, isa >= Isa::Avx2),
                (Arithmetic::Avx512Bf16, isa >= Isa::Avx512Bf16),
                (Arithmetic::Amx, isa >= Isa::Amx),
            ] {
                let one = gflops_with(isa, arith, Threads::One, SECONDS);
                if !has {
                    assert_eq!(one, None, "{} on {isa}", arith.name());
                    continue;
                }
                let one = positive(one, arith.name(), isa);
                let all = positive(
                    gflops_with(isa, arith, Threads::All, SECONDS),
                    arith.name(),
                    isa,
                );
                eprintln!(
                    "{isa}: {} {one:.1} GFLOP/s on 1 thread, {all:.1} on all",
                    arith.name()
                );
            }
        }
    }

    #[test]
    fn the_read_bandwidth_is_positive_on_every_path() {
        let buf = vec![1u64; 1 << 20];
        for isa in Isa::paths_for_test("the_read_bandwidth_is_positive_on_every_path") {
            for threads in [Threads::One, Threads::All] {
                let gbps = read_gbps_with(isa, &buf, threads, 2);
                assert!(gbps.is_finite() && gbps > 0.0, "{isa} {threads:?}: {gbps}");
            }
        }
    }

    /// The sums every path runs agree (they are what keeps the read from
    /// being optimised away, and they must read every word).
    #[test]
    fn the_sums_read_every_word() {
        let words: Vec<u64> = (0..1003u64).map(|i| i * 0x9e37_79b9_7f4a_7c15).collect();
        let want = words.iter().fold(0u64, |a, &w| a.wrapping_add(w));
        assert_eq!(sum_words(&words), want);
        #[cfg(target_arch = "x86_64")]
        {
            if Isa::Avx512.run_or_skip("the_sums_read_every_word") {
                // SAFETY: AVX-512F available (just checked).
                assert_eq!(unsafe { x86::sum512(&words) }, want);
            }
            if Isa::Avx2.run_or_skip("the_sums_read_every_word") {
                // SAFETY: AVX2 available (just checked).
                assert_eq!(unsafe { x86::sum256(&words) }, want);
            }
        }
    }

    #[test]
    fn cache_sizes_parse_as_linux_writes_them() {
        assert_eq!(parse_cache_size("107520K\n"), Some(107_520 << 10));
        assert_eq!(parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("x"), None);
        let bytes = read_buffer_bytes();
        assert!((512 << 20..=2048 << 20).contains(&bytes), "{bytes}");
    }

    #[test]
    fn the_exact_assignment_names_its_arithmetic() {
        assert_eq!(
            exact_assignment_arithmetic(Isa::Avx512, 100, 32),
            Arithmetic::F32Fma
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Amx, 100, 384),
            Arithmetic::Amx
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Amx, 100, 32),
            Arithmetic::F32Fma
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Avx512Bf16, 100, 384),
            Arithmetic::Avx512Bf16
        );
        // Below k·d = 2¹⁵ the AVX512-BF16 estimates do not pay.
        assert_eq!(
            exact_assignment_arithmetic(Isa::Avx512Bf16, 100, 64),
            Arithmetic::F32Fma
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Amx, 100, 64),
            Arithmetic::Amx
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Amx, 100, 8),
            Arithmetic::F32Fma
        );
        assert_eq!(
            exact_assignment_arithmetic(Isa::Amx, 4, 64),
            Arithmetic::F32Fma
        );
    }

    /// The AMX loop's accumulators really hold the products: after `n`
    /// iterations `tmm0` gets 2 products per iteration, each adding
    /// 32 · 2⁻¹² to every element.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_tile_loop_computes_its_products() {
        if !Isa::Amx.run_or_skip("the_tile_loop_computes_its_products") {
            return;
        }
        // SAFETY: AMX available and granted (just checked).
        let v = unsafe { x86::amx(10) };
        assert_eq!(v, 10.0 * 2.0 * 32.0 / 4096.0);
        // SAFETY: AVX512-BF16 is below AMX.
        let v = unsafe { x86::dpbf16(3) };
        // 16 chains × 16 lanes × 3 steps × 2 pairs × 2⁻¹².
        assert_eq!(v, (16 * 16 * 3 * 2) as f64 / 4096.0);
    }

    /// Prints every peak this CPU has over half a second each (an ignored test:
    /// `cargo test --profile ci --workspace --lib kernel::peak::tests::measure_peaks --
    /// --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_peaks() {
        let isa = Isa::detected();
        for arith in [Arithmetic::F32Fma, Arithmetic::Avx512Bf16, Arithmetic::Amx] {
            for threads in [Threads::One, Threads::All] {
                let g = gflops_with(isa, arith, threads, 0.5);
                eprintln!("{isa} {} {threads:?}: {g:?} GFLOP/s", arith.name());
            }
        }
        let buf = vec![1u64; read_buffer_bytes() / 8];
        for threads in [Threads::One, Threads::All] {
            eprintln!(
                "read {threads:?}: {:.1} GB/s",
                read_gbps_with(isa, &buf, threads, 3)
            );
        }
    }
}

//! `mmclust bench`: what this machine does, next to what it could do.
//!
//! Measures, on data generated in memory (and optionally a file of yours):
//! this machine's peaks, timed in process ([`mmclust_core::kernel::peak`]:
//! the `f32` FMA peak of the path's vector width, the AVX512-BF16 and AMX
//! bf16 peaks where the path has them, each on one thread and on all); the
//! streaming-read bandwidth that bounds small-`d` shapes (a buffer of at
//! least four times the last-level cache, one thread and all); the
//! assignment kernels' throughput, exact ([`assign_chunk`], with its
//! re-checks per row) and the `f32` fast formula ([`assign_chunk_fast`]),
//! each as a share of the measured peak of the arithmetic it runs (the exact
//! kernel runs bf16 products on the `amx` path for `d ≥ 64`, `k ≥ 64`, on
//! the `avx512bf16` path when also `k·d ≥ 32768`, `f32` ones elsewhere); a Lloyd iteration; an EM iteration (diagonal and
//! full covariance); and a file's streaming read rate. The scalar path has
//! no measured peak (portable code has no fixed instruction mix), so no
//! percentages there.
//!
//! Earlier versions inferred the peak from the reported clock and an assumed
//! number of FMA pipes, which gave 117 % of "peak" on an Intel Xeon: turbo
//! clocks and the FMA unit count are not in `/proc/cpuinfo`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use mmclust_core::isa::Isa;
use mmclust_core::kernel::peak::{self, Arithmetic, Threads};
use mmclust_core::kernel::{
    AssignScratch, PackedCenters, assign_chunk, assign_chunk_fast, dispatch_name,
};
use mmclust_core::parallel::{Chunking, PassOptions, map_reduce, with_threads};
use mmclust_core::{ArraySource, DataSource};
use mmclust_gmm::{CovarianceType, GmmParams};
use mmclust_kmeans::{Init, KMeansParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::Global;
use crate::input::{emit_json, open};

/// This machine's throughput: measured peaks (f32 FMA, AVX512-BF16, AMX)
/// and memory bandwidth, the assignment kernels' GFLOP/s (exact and f32
/// fast formula, one thread and all, with the exact kernel's re-checks), a
/// Lloyd iteration, an EM iteration, and (with --file) a file's streaming
/// read rate.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust bench
  mmclust bench --quick --json
  mmclust bench --file big.npy --cold")]
pub(crate) struct Args {
    /// Smaller problems and shorter peak loops (a few seconds in all).
    #[arg(long)]
    quick: bool,
    /// Also measure the streaming read rate of this matrix file.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// With --file: also read it with a cold page cache (needs root to drop caches).
    #[arg(long, requires = "file")]
    cold: bool,
    /// Repetitions of each measurement (the median is reported; peaks and
    /// bandwidth: the best).
    #[arg(long, default_value_t = 5, value_name = "N")]
    reps: usize,
}

/// What we can tell about the CPU.
struct Machine {
    model: String,
    cores: usize,
    simd: &'static str,
    ghz: Option<f64>,
}

impl Machine {
    fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        };
        let max_khz =
            std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok());
        let ghz = max_khz.map(|k| k / 1e6).or_else(|| {
            field("cpu MHz")
                .and_then(|m| m.parse::<f64>().ok())
                .map(|m| m / 1e3)
        });
        Machine {
            model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
            cores: rayon::current_num_threads(),
            simd: dispatch_name(),
            ghz,
        }
    }
}

/// A figure on one thread and on every thread of the pool.
#[derive(Clone, Copy)]
struct PerThreads {
    one: f64,
    all: f64,
}

impl PerThreads {
    fn json(self) -> Value {
        json!({"1_thread": self.one, "all": self.all})
    }
}

/// The measured peaks (GFLOP/s) of the path's arithmetic; `None` where the
/// path lacks it.
struct Peaks {
    f32_fma: Option<PerThreads>,
    avx512bf16: Option<PerThreads>,
    amx: Option<PerThreads>,
}

impl Peaks {
    fn measure(isa: Isa, seconds: f64) -> Peaks {
        let both = |arith| {
            let one = peak::gflops_with(isa, arith, Threads::One, seconds)?;
            let all = peak::gflops_with(isa, arith, Threads::All, seconds)?;
            Some(PerThreads { one, all })
        };
        Peaks {
            f32_fma: both(Arithmetic::F32Fma),
            avx512bf16: both(Arithmetic::Avx512Bf16),
            amx: both(Arithmetic::Amx),
        }
    }

    fn of(&self, arith: Arithmetic) -> Option<PerThreads> {
        match arith {
            Arithmetic::F32Fma => self.f32_fma,
            Arithmetic::Avx512Bf16 => self.avx512bf16,
            Arithmetic::Amx => self.amx,
        }
    }

    fn json(&self) -> Value {
        let j = |p: Option<PerThreads>| p.map_or(Value::Null, PerThreads::json);
        json!({
            "f32_fma": j(self.f32_fma),
            "avx512bf16": j(self.avx512bf16),
            "amx": j(self.amx),
        })
    }
}

/// How the text output names an arithmetic.
fn arith_label(arith: Arithmetic) -> &'static str {
    match arith {
        Arithmetic::F32Fma => "f32 FMA",
        Arithmetic::Avx512Bf16 => "avx512bf16",
        Arithmetic::Amx => "amx",
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn random_data(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// An assignment kernel: `assign_chunk` or `assign_chunk_fast`.
type AssignKernel = fn(&[f32], &PackedCenters, &mut [u32], &mut [f32], &mut AssignScratch);

/// Seconds of one assignment pass over `src` with `centers` by `kernel`,
/// and the rows it re-checked ([`AssignScratch::take_rechecks`]).
fn assignment_pass(
    src: &ArraySource<'_>,
    packed: &PackedCenters,
    kernel: AssignKernel,
) -> Result<(f64, u64)> {
    let t = Instant::now();
    let (checksum, rechecks) = map_reduce(
        src,
        Chunking::for_dim(src.n_cols()),
        PassOptions::default(),
        |chunk| {
            let mut labels = vec![0u32; chunk.n_rows];
            let mut dist = vec![0f32; chunk.n_rows];
            let mut scratch = AssignScratch::new();
            kernel(chunk.data, packed, &mut labels, &mut dist, &mut scratch);
            let sum = labels.iter().map(|&l| u64::from(l)).sum::<u64>();
            Ok((sum, scratch.take_rechecks()))
        },
        |a, b| (a.0 + b.0, a.1 + b.1),
    )?
    .unwrap_or((0, 0));
    std::hint::black_box(checksum);
    Ok((t.elapsed().as_secs_f64(), rechecks))
}

/// The median seconds of `reps` passes of `kernel` (after one untimed) on
/// one thread and on all, and the rows one pass re-checks.
fn time_kernel(
    src: &ArraySource<'_>,
    packed: &PackedCenters,
    kernel: AssignKernel,
    reps: usize,
) -> Result<(PerThreads, u64)> {
    let passes = || -> Result<(f64, u64)> {
        let (_, rechecks) = assignment_pass(src, packed, kernel)?;
        let t: Result<Vec<f64>> = (0..reps)
            .map(|_| Ok(assignment_pass(src, packed, kernel)?.0))
            .collect();
        Ok((median(t?), rechecks))
    };
    let (one, _) = with_threads(Some(1), passes)??;
    let (all, rechecks) = passes()?;
    Ok((PerThreads { one, all }, rechecks))
}

/// Seconds of one iteration of a fit, where `fit(iters)` runs `iters`
/// iterations from the same start and returns the seconds they took: (time
/// of 6 − time of 1) / 5, which leaves out the set-up; the median of
/// `reps` (at most 3) tries.
fn per_iteration(reps: usize, fit: impl Fn(usize) -> Result<f64>) -> Result<f64> {
    let per_iter: Result<Vec<f64>> = (0..reps.min(3))
        .map(|_| Ok((fit(6)? - fit(1)?) / 5.0))
        .collect();
    Ok(median(per_iter?))
}

/// `x` as a percentage of `peak` (one decimal), null without a peak.
fn pct(x: f64, peak: Option<f64>) -> Value {
    peak.map_or(Value::Null, |p| {
        json!((100.0 * x / p * 10.0).round() / 10.0)
    })
}

/// `pct` for the text output: "12.3% of the amx peak", or "no measured
/// peak".
fn pct_text(x: f64, peak: Option<f64>, arith: Arithmetic) -> String {
    match pct(x, peak) {
        Value::Null => "no measured peak".into(),
        v => format!("{v}% of the {} peak", arith_label(arith)),
    }
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let m = Machine::detect();
    let isa = Isa::current();
    let reps = a.reps.max(1);
    let say = |line: String| {
        if !g.json {
            println!("{line}");
        }
    };
    say(format!(
        "machine: {} · {} threads · kernel path {} · clock {} (reported)",
        m.model,
        m.cores,
        m.simd,
        m.ghz.map_or("unknown".into(), |v| format!("{v:.2} GHz")),
    ));

    // 1. Peaks, measured: a loop of the instruction alone.
    let peaks = Peaks::measure(isa, if a.quick { 0.05 } else { 0.4 });
    let peak_text = |arith: Arithmetic| {
        peaks.of(arith).map_or("none on this path".into(), |p| {
            format!(
                "{:.0} GFLOP/s on 1 thread, {:.0} on {}",
                p.one, p.all, m.cores
            )
        })
    };
    say(format!(
        "peak (measured): f32 FMA {} · avx512bf16 {} · amx {}",
        peak_text(Arithmetic::F32Fma),
        peak_text(Arithmetic::Avx512Bf16),
        peak_text(Arithmetic::Amx),
    ));
    let mut report = json!({
        "command": "bench",
        "machine": {"cpu": m.model, "threads": m.cores, "simd": m.simd, "ghz": m.ghz},
        "peak_gflops": peaks.json(),
    });

    // 2. Memory bandwidth: a streaming read of a buffer well beyond the
    // last-level cache, written once before timing (no page fault timed).
    let bytes = peak::read_buffer_bytes();
    let buf = vec![1u64; bytes / 8];
    let bw_reps = reps.min(3);
    let bw = PerThreads {
        one: with_threads(Some(1), || {
            peak::read_gbps_with(isa, &buf, Threads::One, bw_reps)
        })?,
        all: peak::read_gbps_with(isa, &buf, Threads::All, bw_reps),
    };
    drop(buf);
    say(format!(
        "memory: streaming read of {} MiB: {:.1} GB/s on 1 thread, {:.1} GB/s on {}",
        bytes >> 20,
        bw.one,
        bw.all,
        m.cores
    ));
    report["memory_bandwidth"] = json!({"bytes": bytes, "read_gb_per_s": bw.json()});

    // 3. Assignment kernels, exact and f32 fast formula.
    // --quick shrinks the rows only.
    let (n, d, k) = (if a.quick { 50_000 } else { 200_000 }, 32, 100);
    let x = random_data(n, d, 1);
    let c = random_data(k, d, 2);
    let src = ArraySource::from_slice(&x, n, d)?;
    let packed = PackedCenters::new(&c, k, d)?;
    let flop = 2.0 * (n * k * d) as f64;
    let exact_arith = peak::exact_assignment_arithmetic(isa, k, d);
    let mut assignment = json!({"n": n, "d": d, "k": k});
    let kernels: [(&str, &str, AssignKernel, Arithmetic); 2] = [
        ("exact", "exact", assign_chunk, exact_arith),
        (
            "fast",
            "f32 fast formula",
            assign_chunk_fast,
            Arithmetic::F32Fma,
        ),
    ];
    for (key, label, kernel, arith) in kernels {
        let (t, rechecks) = time_kernel(&src, &packed, kernel, reps)?;
        let (g1, ga) = (flop / t.one / 1e9, flop / t.all / 1e9);
        let pk = peaks.of(arith);
        let (p1, pa) = (pk.map(|p| p.one), pk.map(|p| p.all));
        let products = match (key, arith) {
            ("exact", Arithmetic::F32Fma) => " (f32 products, re-checked)".to_string(),
            ("exact", _) => format!(
                " ({} bf16 products: d >= 64, k >= 64{} on this path; re-checked)",
                arith_label(arith),
                if arith == Arithmetic::Amx {
                    ""
                } else {
                    ", k*d >= 32768"
                }
            ),
            _ => String::new(),
        };
        let rechecks_per_row = rechecks as f64 / n as f64;
        say(format!(
            "assignment n={n} d={d} k={k}, {label}{products}: {g1:.1} GFLOP/s on 1 thread ({}), {ga:.1} GFLOP/s on {} ({}){}",
            pct_text(g1, p1, arith),
            m.cores,
            pct_text(ga, pa, arith),
            if key == "exact" {
                format!(", {rechecks_per_row:.4} re-checks per row")
            } else {
                String::new()
            }
        ));
        let mut j = json!({
            "arithmetic": arith.name(), "gflops_1_thread": g1, "gflops_all": ga,
            "percent_of_peak_1_thread": pct(g1, p1), "percent_of_peak_all": pct(ga, pa),
        });
        if key == "exact" {
            j["rechecks_per_row"] = json!(rechecks_per_row);
        }
        assignment[key] = j;
    }
    report["assignment"] = assignment;

    // 4. A Lloyd iteration (exact assignment): (time of 6 iterations − time
    // of 1) / 5, from the same centres.
    let (n, d, k) = (if a.quick { 100_000 } else { 1_000_000 }, 32, 100);
    let x = random_data(n, d, 3);
    let src = ArraySource::from_slice(&x, n, d)?;
    let c0: Vec<f32> = x[..k * d].to_vec();
    let per_iter = per_iteration(reps, |iters| {
        Ok(KMeansParams::new(k)
            .init(Init::Given(c0.clone()))
            .max_iter(iters)
            .tol(0.0)
            .fit(&src)?
            .iter_seconds)
    })?;
    let gf = 2.0 * (n * k * d) as f64 / per_iter / 1e9;
    let lloyd_arith = peak::exact_assignment_arithmetic(isa, k, d);
    let lloyd_peak = peaks.of(lloyd_arith).map(|p| p.all);
    say(format!(
        "Lloyd iteration n={n} d={d} k={k}: {:.1} ms ({gf:.1} GFLOP/s of distances, {})",
        per_iter * 1e3,
        pct_text(gf, lloyd_peak, lloyd_arith)
    ));
    report["lloyd_iteration"] = json!({
        "n": n, "d": d, "k": k, "seconds": per_iter, "gflops": gf,
        "arithmetic": lloyd_arith.name(), "percent_of_peak": pct(gf, lloyd_peak),
    });

    // 5. EM iterations, diagonal and full covariance.
    let (n, d, k) = (if a.quick { 50_000 } else { 200_000 }, 16, 16);
    let x = random_data(n, d, 4);
    let src = ArraySource::from_slice(&x, n, d)?;
    // Given means (the first k rows): one initial pass, no K-means to
    // convergence before every fit (only the iterations are timed; on the
    // scalar path the K-means initialisations took 23 of `--quick`'s 29 s).
    let means: Vec<f32> = x[..k * d].to_vec();
    let mut em = serde_json::Map::new();
    for cov in [CovarianceType::Diag, CovarianceType::Full] {
        let per_iter = per_iteration(reps, |iters| {
            Ok(GmmParams::new(k)
                .init(mmclust_gmm::Init::Means(means.clone()))
                .covariance(cov)
                .max_iter(iters)
                .tol(0.0)
                .seed(5)
                .fit(&src)?
                .iter_seconds)
        })?;
        say(format!(
            "EM iteration ({}) n={n} d={d} k={k}: {:.1} ms",
            cov.name(),
            per_iter * 1e3
        ));
        em.insert(
            cov.name().to_string(),
            json!({"n": n, "d": d, "k": k, "seconds": per_iter}),
        );
    }
    report["em_iteration"] = Value::Object(em);

    // 6. A file's streaming read rate.
    if let Some(path) = &a.file {
        let file = open(path)?;
        let bytes = (file.n_rows() * file.n_cols() * 4) as f64;
        let read = || -> Result<f64> {
            let t = Instant::now();
            let s = map_reduce(
                &file,
                Chunking::for_dim(file.n_cols()),
                PassOptions::default(),
                |chunk| Ok(chunk.data.iter().map(|&v| f64::from(v)).sum::<f64>()),
                |a, b| a + b,
            )?;
            std::hint::black_box(s);
            Ok(bytes / t.elapsed().as_secs_f64() / 1e9)
        };
        let mut out = json!({ "path": path, "bytes_as_f32": bytes });
        if a.cold {
            let dropped = std::process::Command::new("sh")
                .args(["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"])
                .status()
                .is_ok_and(|s| s.success());
            if dropped {
                let cold = read()?;
                say(format!("read {} cold: {cold:.2} GB/s", path.display()));
                out["cold_gb_per_s"] = json!(cold);
            } else {
                g.warn("cannot drop the page cache (needs root); cold read skipped");
                out["cold_gb_per_s"] = Value::Null;
            }
        }
        read()?;
        let warm = median((0..reps).map(|_| read()).collect::<Result<Vec<f64>>>()?);
        say(format!("read {} warm: {warm:.2} GB/s", path.display()));
        out["warm_gb_per_s"] = json!(warm);
        report["file_read"] = out;
    }
    if g.json {
        emit_json(&report)?;
    }
    Ok(())
}

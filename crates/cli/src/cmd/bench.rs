//! `mmclust bench`: what this machine does, next to what it could do.
//!
//! Measures, on data generated in memory (and optionally a file of yours):
//! the fused assignment kernel's throughput on one thread and on all, a Lloyd
//! iteration, an EM iteration (diagonal and full covariance) and a file's
//! streaming read rate. Each compute figure is set against the theoretical
//! single-precision peak this machine's description allows:
//! cores × FMA pipes × SIMD lanes × 2 FLOP × clock, assuming two FMA pipes of the
//! widest vector the kernel uses (true of AMD Zen 4 with AVX-512 executed as two
//! 256-bit halves, and of most recent x86 cores with AVX2; Intel server cores
//! with two 512-bit FMA units reach twice that). The clock is the one the
//! kernel reports (`cpufreq` maximum, else `/proc/cpuinfo`): nominal, not boost,
//! so a percentage above 100 means the cores boost above it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use mmclust_core::kernel::{AssignScratch, PackedCenters, assign_chunk, dispatch_name};
use mmclust_core::parallel::{Chunking, PassOptions, map_reduce, with_threads};
use mmclust_core::{ArraySource, DataSource};
use mmclust_gmm::{CovarianceType, GmmParams};
use mmclust_kmeans::{Init, KMeansParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::Global;
use crate::input::{emit_json, open};

/// This machine's throughput: assignment kernel GFLOP/s (one thread and all),
/// a Lloyd iteration, an EM iteration, and (with --file) a file's streaming read
/// rate, each next to the machine's theoretical peak where it can be inferred.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  mmclust bench
  mmclust bench --quick --json
  mmclust bench --file big.npy --cold")]
pub(crate) struct Args {
    /// Smaller problems (a few seconds in all).
    #[arg(long)]
    quick: bool,
    /// Also measure the streaming read rate of this matrix file.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// With --file: also read it with a cold page cache (needs root to drop caches).
    #[arg(long, requires = "file")]
    cold: bool,
    /// Repetitions of each measurement (the median is reported).
    #[arg(long, default_value_t = 5, value_name = "N")]
    reps: usize,
}

/// What we can tell about the CPU.
struct Machine {
    model: String,
    cores: usize,
    simd: &'static str,
    lanes: usize,
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
        let simd = dispatch_name();
        let lanes = match simd {
            // The f32 kernels run their AVX-512 variant on the bf16 paths.
            "avx512" | "avx512bf16" | "amx" => 16,
            "avx2" => 8,
            _ => 4,
        };
        Machine {
            model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
            cores: rayon::current_num_threads(),
            simd,
            lanes,
            ghz,
        }
    }

    /// Peak single-precision GFLOP/s of `threads` cores (see the module docs).
    fn peak(&self, threads: usize) -> Option<f64> {
        // Two FMA pipes of `lanes` floats, 2 FLOP each; an AVX-512 zmm FMA
        // occupies both 256-bit pipes of a Zen 4 core, hence 32 FLOP/cycle
        // for both AVX2 and AVX-512 here.
        let flop_per_cycle = if self.lanes == 16 {
            32.0
        } else {
            4.0 * self.lanes as f64
        };
        self.ghz.map(|g| g * flop_per_cycle * threads as f64)
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

/// Seconds of one assignment pass over `src` with `centers` (k × d).
fn assignment_pass(src: &ArraySource<'_>, packed: &PackedCenters) -> Result<f64> {
    let t = Instant::now();
    let checksum = map_reduce(
        src,
        Chunking::for_dim(src.n_cols()),
        PassOptions::default(),
        |chunk| {
            let mut labels = vec![0u32; chunk.n_rows];
            let mut dist = vec![0f32; chunk.n_rows];
            let mut scratch = AssignScratch::new();
            assign_chunk(chunk.data, packed, &mut labels, &mut dist, &mut scratch);
            Ok(labels.iter().map(|&l| u64::from(l)).sum::<u64>())
        },
        |a, b| a + b,
    )?;
    std::hint::black_box(checksum);
    Ok(t.elapsed().as_secs_f64())
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

fn pct(x: f64, peak: Option<f64>) -> Value {
    peak.map_or(Value::Null, |p| {
        json!((100.0 * x / p * 10.0).round() / 10.0)
    })
}

pub(crate) fn run(g: &Global, a: Args) -> Result<()> {
    let m = Machine::detect();
    let reps = a.reps.max(1);
    let mut report = json!({
        "command": "bench",
        "machine": {
            "cpu": m.model, "threads": m.cores, "simd": m.simd, "ghz": m.ghz,
            "peak_gflops_1_thread": m.peak(1), "peak_gflops_all": m.peak(m.cores),
            "peak_assumption": "2 FMA pipes x SIMD lanes x 2 FLOP x clock (AVX-512 on Zen 4 counted as 2 x 256-bit)",
        },
    });
    let say = |line: String| {
        if !g.json {
            println!("{line}");
        }
    };
    say(format!(
        "machine: {} · {} threads · kernel path {} · clock {} · peak {} GFLOP/s per thread",
        m.model,
        m.cores,
        m.simd,
        m.ghz.map_or("unknown".into(), |v| format!("{v:.2} GHz")),
        m.peak(1).map_or("unknown".into(), |v| format!("{v:.0}"))
    ));

    // 1. Assignment kernel.
    // --quick shrinks the rows only.
    let (n, d, k) = (if a.quick { 50_000 } else { 200_000 }, 32, 100);
    let x = random_data(n, d, 1);
    let c = random_data(k, d, 2);
    let src = ArraySource::from_slice(&x, n, d)?;
    let packed = PackedCenters::new(&c, k, d)?;
    let flop = 2.0 * (n * k * d) as f64;
    let one = with_threads(Some(1), || -> Result<f64> {
        assignment_pass(&src, &packed)?;
        let t: Result<Vec<f64>> = (0..reps).map(|_| assignment_pass(&src, &packed)).collect();
        Ok(median(t?))
    })??;
    assignment_pass(&src, &packed)?;
    let all: Result<Vec<f64>> = (0..reps).map(|_| assignment_pass(&src, &packed)).collect();
    let all = median(all?);
    let (g1, ga) = (flop / one / 1e9, flop / all / 1e9);
    say(format!(
        "assignment n={n} d={d} k={k}: {g1:.1} GFLOP/s on 1 thread ({}% of peak), {ga:.1} GFLOP/s on {} ({}% of peak)",
        pct(g1, m.peak(1)),
        m.cores,
        pct(ga, m.peak(m.cores))
    ));
    report["assignment"] = json!({
        "n": n, "d": d, "k": k, "gflops_1_thread": g1, "gflops_all": ga,
        "percent_of_peak_1_thread": pct(g1, m.peak(1)), "percent_of_peak_all": pct(ga, m.peak(m.cores)),
    });

    // 2. A Lloyd iteration: (time of 6 iterations − time of 1) / 5, from the same centres.
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
    say(format!(
        "Lloyd iteration n={n} d={d} k={k}: {:.1} ms ({gf:.1} GFLOP/s of distances, {}% of peak)",
        per_iter * 1e3,
        pct(gf, m.peak(m.cores))
    ));
    report["lloyd_iteration"] = json!({
        "n": n, "d": d, "k": k, "seconds": per_iter, "gflops": gf,
        "percent_of_peak": pct(gf, m.peak(m.cores)),
    });

    // 3. EM iterations, diagonal and full covariance.
    let (n, d, k) = (if a.quick { 50_000 } else { 200_000 }, 16, 16);
    let x = random_data(n, d, 4);
    let src = ArraySource::from_slice(&x, n, d)?;
    let mut em = serde_json::Map::new();
    for cov in [CovarianceType::Diag, CovarianceType::Full] {
        let per_iter = per_iteration(reps, |iters| {
            Ok(GmmParams::new(k)
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

    // 4. A file's streaming read rate.
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

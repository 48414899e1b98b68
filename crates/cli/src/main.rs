//! The `mmclust` command line. See `docs/cli.md` in the repository for the
//! contract: global options, exit codes (0 ok, 1 the run failed, 2 usage or
//! input error), atomic outputs, one JSON object on stdout with `--json`.

mod cmd;
mod dist;
mod fail;
mod input;
mod progress;
mod scratch;
mod signals;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Clusters data sets larger than RAM: K-means and Gaussian mixtures over
/// memory-mapped matrices, on every core.
#[derive(Debug, Parser)]
#[command(
    name = "mmclust",
    version,
    about,
    propagate_version = true,
    after_help = "Examples:\n  mmclust demo\n  mmclust report data/faithful.csv --standardize --out faithful-report\n  mmclust info data/faithful.csv --stats\n  mmclust generate blobs -o blobs.npy --n 1000000 --d 32 --k 100\n  mmclust standardize data/faithful.csv -o faithful_z.npy --stats-out faithful_z.json\n\nEnvironment:\n  MMCLUST_ISA=scalar|avx2|avx512|avx512bf16|amx\n                                  run the kernels on this instruction-set path, at most\n                                  what the CPU has (default: the best it has)\n  RAYON_NUM_THREADS=N             worker threads, as --threads"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Global {
    /// Worker threads (default: all cores; RAYON_NUM_THREADS is also honoured).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// No progress bars or info lines on stderr.
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
    /// Print exactly one JSON object on stdout: the run's summary.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seed of every random choice.
    #[arg(long, global = true, default_value_t = 0, value_name = "S")]
    pub(crate) seed: u64,
    /// Parquet and Arrow input: the columns to read, by name, in this order
    /// (default: every integer, float and decimal column).
    #[arg(long, global = true, value_name = "A,B,...", value_delimiter = ',')]
    pub(crate) columns: Option<Vec<String>>,
    /// Parquet and Arrow input: leave out the rows with a null in a chosen
    /// column (default: a null is an error). Per-row outputs keep every file
    /// row: label -1, NaN for floats, at the rows left out. Other formats
    /// hold no nulls and read as they are (NaN is a value, not a null).
    #[arg(long, global = true)]
    pub(crate) drop_null: bool,
}

impl Global {
    /// Prints an informational line on stderr unless `--quiet`.
    pub(crate) fn info(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Prints a warning on stderr (also under `--quiet`: warnings matter).
    pub(crate) fn warn(&self, line: impl std::fmt::Display) {
        if dist::is_root() {
            eprintln!("warning: {line}");
        }
    }
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    Bench(cmd::bench::Args),
    Info(cmd::info::Args),
    Convert(cmd::convert::Args),
    #[command(subcommand)]
    Generate(cmd::generate::Generate),
    Standardize(cmd::standardize::Args),
    Kmeans(cmd::kmeans::Args),
    Spectral(cmd::kernel::SpectralArgs),
    Gmm(cmd::gmm::Args),
    Sample(cmd::sample::Args),
    Predict(cmd::predict::PredictArgs),
    Score(cmd::predict::ScoreArgs),
    Elbow(cmd::eval::elbow::Args),
    Silhouette(cmd::eval::silhouette::Args),
    GmmSelect(cmd::eval::gmm_select::Args),
    Scores(cmd::eval::scores::Args),
    Report(cmd::eval::report::Args),
    Demo(cmd::eval::demo::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    input::set_options(mmclust_core::format::MatrixOptions {
        columns: g.columns.clone(),
        drop_null: g.drop_null,
        ..Default::default()
    });
    let result = run_command(g, cli.command);
    // Integer columns beyond 2^24 met while reading (warned once, at the end).
    for line in mmclust_core::format::take_precision_warnings() {
        g.warn(line);
    }
    result
}

fn run_command(g: &Global, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Bench(a) => cmd::bench::run(g, a),
        Command::Info(a) => cmd::info::run(g, a),
        Command::Convert(a) => cmd::convert::run(g, a),
        Command::Generate(a) => cmd::generate::run(g, a),
        Command::Standardize(a) => cmd::standardize::run(g, a),
        Command::Kmeans(a) => cmd::kmeans::run(g, a),
        Command::Spectral(a) => cmd::kernel::spectral(g, a),
        Command::Gmm(a) => cmd::gmm::run(g, a),
        Command::Sample(a) => cmd::sample::run(g, a),
        Command::Predict(a) => cmd::predict::predict(g, a),
        Command::Score(a) => cmd::predict::score(g, a),
        Command::Elbow(a) => cmd::eval::elbow::run(g, a),
        Command::Silhouette(a) => cmd::eval::silhouette::run(g, a),
        Command::GmmSelect(a) => cmd::eval::gmm_select::run(g, a),
        Command::Scores(a) => cmd::eval::scores::run(g, a),
        Command::Report(a) => cmd::eval::report::run(g, a),
        Command::Demo(a) => cmd::eval::demo::run(g, a),
    }
}

fn main() -> ExitCode {
    signals::install_fault_handlers();
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Err(e) = dist::start() {
        return fail::report(&e);
    }
    // One voice per job: only rank 0 of a distributed run shows progress.
    cli.global.quiet |= !dist::is_root();
    // An invalid MMCLUST_ISA is an input error (exit 2) before anything runs.
    let result = configure_threads(cli.global.threads)
        .and_then(|()| Ok(mmclust_core::isa::Isa::process_default()?))
        .and_then(|_| run(cli));
    match result {
        Ok(()) => {
            let _ = std::io::stdout().flush();
            dist::finish();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = fail::report(&e);
            dist::abort_if_distributed(fail::exit_code(&e));
            code
        }
    }
}

fn configure_threads(threads: Option<usize>) -> anyhow::Result<()> {
    let threads = match threads {
        Some(0) => return Err(fail::usage("--threads must be at least 1")),
        Some(t) => Some(t),
        None => None,
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        builder = builder.num_threads(t);
    }
    builder
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot start the thread pool: {e}"))
}

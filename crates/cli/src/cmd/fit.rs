//! The steps `kmeans` and `gmm` share around their fit: the inputs that no
//! output may replace, the data seen by one process or split between MPI
//! ranks, the model file, and the summary (the `--json` keys both carry, the
//! warnings and the timing line).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use mmclust_core::DataSource;
use mmclust_core::format::Matrix;
use mmclust_core::source::{Concat, Distributed, NodeLocal};
use serde_json::{Value, json};

use crate::Global;
use crate::fail::usage;
use crate::input::{Data, open_data};

/// Refuses per-row `outputs` of a distributed run when `--drop-null` left
/// rows out: ranks write their rows at their offsets, which would then not be
/// the file's rows.
pub(crate) fn refuse_dropped_distributed(
    dropped: &mmclust_core::format::DroppedRows,
    outputs: &str,
) -> Result<()> {
    if dropped.count() > 0 {
        return Err(usage(format!(
            "{outputs} under MPI with --drop-null: {} rows were left out for nulls and a distributed run cannot yet write per-row outputs around them; run on one machine, or fill the nulls",
            dropped.count()
        )));
    }
    Ok(())
}

/// Outputs must differ from each other (`None`: an output not asked for).
pub(crate) fn check_outputs(outputs: &[Option<&PathBuf>]) -> Result<()> {
    let outputs: Vec<&PathBuf> = outputs.iter().copied().flatten().collect();
    for (i, p) in outputs.iter().enumerate() {
        if outputs[..i].contains(p) {
            return Err(usage(format!(
                "{} is given as two different outputs; choose distinct paths",
                p.display()
            )));
        }
    }
    Ok(())
}

/// What a fit command reads: the data (one file or its shards), the other
/// input files (weights, initial centres), and the data's fingerprint as
/// stored in the model.
pub(crate) struct FitInput {
    pub(crate) data: Data,
    extra: Vec<PathBuf>,
    pub(crate) fingerprint: Value,
}

impl FitInput {
    /// Refuses outputs given twice, then opens the data.
    pub(crate) fn open(
        file: &Path,
        shards: bool,
        node_local: bool,
        outputs: &[Option<&PathBuf>],
    ) -> Result<Self> {
        check_outputs(outputs)?;
        let data = open_data(file, shards, node_local)?;
        let fingerprint = serde_json::to_value(&data.fingerprint)?;
        Ok(Self {
            data,
            extra: Vec::new(),
            fingerprint,
        })
    }

    /// Adds an input file besides the data (outputs must not replace it).
    pub(crate) fn read_also(&mut self, path: &Path) {
        self.extra.push(path.to_path_buf());
    }

    /// Every input file.
    pub(crate) fn paths(&self) -> Vec<&Path> {
        self.data
            .paths
            .iter()
            .chain(&self.extra)
            .map(PathBuf::as_path)
            .collect()
    }

    /// The data matrix as this process reads it (rows and columns): every
    /// row, or over node-local shards this rank's rows only; [`Self::n_rows`]
    /// is the whole matrix's row count.
    pub(crate) fn source(&self) -> &Concat<Matrix> {
        &self.data.source
    }

    /// Rows of the whole matrix (over node-local shards, every rank's).
    pub(crate) fn n_rows(&self) -> usize {
        self.data.n_rows()
    }

    /// Runs `f` over the data as this process sees it: the whole matrix, or
    /// under MPI every rank mapping the whole file while passes split the
    /// chunk grid between ranks (`crate::dist`), or over node-local shards
    /// each rank its own rows, with a chunk grid per rank.
    pub(crate) fn with_source<R>(&self, f: impl FnOnce(&dyn DataSource) -> R) -> R {
        match (crate::dist::comm(), &self.data.layout) {
            (Some(comm), Some(layout)) => {
                f(&NodeLocal::with_layout(self.source(), comm, layout.clone()))
            }
            (Some(comm), None) => f(&Distributed::new(self.source(), comm)),
            (None, _) => f(self.source()),
        }
    }
}

/// Writes a model file (pretty JSON) atomically; nothing when `path` is `None`.
pub(crate) fn write_model(path: Option<&PathBuf>, inputs: &[&Path], model: &Value) -> Result<()> {
    if let Some(p) = path {
        let text = serde_json::to_string_pretty(model)? + "\n";
        mmclust_core::output::write_atomic(p, inputs, text.as_bytes())?;
    }
    Ok(())
}

/// What both model kinds report of their fit.
pub(crate) struct FitReport<'a> {
    pub(crate) command: &'static str,
    pub(crate) k: usize,
    pub(crate) n_iter: usize,
    pub(crate) max_iter: usize,
    pub(crate) converged: bool,
    pub(crate) history: &'a [f64],
    pub(crate) stats_seconds: f64,
    pub(crate) init_seconds: f64,
    pub(crate) iter_seconds: f64,
    pub(crate) fit_seconds: f64,
}

impl FitReport<'_> {
    /// Warns when the fit stopped at its iteration limit (`unit`: what one
    /// of them is, "iterations" or "epochs").
    pub(crate) fn warn_unconverged(&self, g: &Global, unit: &str) {
        if !self.converged {
            g.warn(format_args!(
                "did not converge in {} {unit}; raise --max-iter or --tol",
                self.max_iter
            ));
        }
    }

    /// The summary: the keys every fit carries, then the command's own
    /// (`own`, a JSON object).
    pub(crate) fn summary(
        &self,
        g: &Global,
        started: Instant,
        input: &FitInput,
        own: Value,
    ) -> Value {
        let source = input.source();
        let v = json!({
            "command": self.command,
            "k": self.k,
            "n": input.n_rows(),
            "d": source.n_cols(),
            "n_iter": self.n_iter,
            "converged": self.converged,
            "seed": g.seed,
            "threads": rayon::current_num_threads(),
            "ranks": crate::dist::rank_size().1,
            "stats_seconds": self.stats_seconds,
            "init_seconds": self.init_seconds,
            "iter_seconds": self.iter_seconds,
            "fit_seconds": self.fit_seconds,
            "total_seconds": started.elapsed().as_secs_f64(),
            "history": self.history,
            "input": input.fingerprint,
        });
        let mut v = crate::input::with_dropped(v, input.data.dropped.count());
        if let (Some(all), Value::Object(own)) = (v.as_object_mut(), own) {
            all.extend(own);
        }
        v
    }

    /// Prints the timing line of the summary.
    pub(crate) fn print_timing(&self) {
        println!(
            "fit {:.3} s (statistics {:.3} s, init {:.3} s, iterations {:.3} s = {:.4} s/iteration)",
            self.fit_seconds,
            self.stats_seconds,
            self.init_seconds,
            self.iter_seconds,
            self.iter_seconds / self.n_iter.max(1) as f64
        );
    }
}

/// "converged" or "not converged", for the printed summary.
pub(crate) fn converged_word(converged: bool) -> &'static str {
    if converged {
        "converged"
    } else {
        "not converged"
    }
}

/// The first values of a row, for the printed summary (`[a, b, …]`).
pub(crate) fn short_row<T: std::fmt::Display>(row: &[T]) -> String {
    let shown: Vec<String> = row.iter().take(8).map(|v| format!("{v:.4}")).collect();
    let more = if row.len() > 8 { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

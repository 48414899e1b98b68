//! Distributed runs (cargo feature `mpi`): detecting the launcher, the
//! process-wide communicator, and the outputs that several processes write.
//!
//! Without the feature, or when not started by `mpirun`/`srun`, [`comm`] is
//! `None` and every command runs as one process. Under MPI with more than one
//! rank, every rank maps the whole input (on a shared filesystem) and passes
//! split the global chunk grid between ranks (`mmclust_core::parallel`); rank 0
//! alone prints and writes the model, and per-row outputs are written by each
//! rank into its own rows of one pre-sized file.
//! With `--shards --node-local` each rank opens only its own files
//! (`crate::input`), and passes run a chunk grid per rank
//! (`mmclust_core::source::NodeLocal`).

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use mmclust_core::CoreError;
use mmclust_core::format::{NpyElement, NpyWriter, npy_header_bytes};
use mmclust_core::output::AtomicOutput;
use mmclust_core::parallel::{AllReduce, Chunking, owned_rows};

static COMM: OnceLock<&'static dyn AllReduce> = OnceLock::new();

#[cfg(feature = "mpi")]
static MPI: OnceLock<&'static mmclust_mpi::Mpi> = OnceLock::new();

/// Initialises MPI when this process was started by an MPI launcher (and the
/// binary was built with the `mpi` feature). Non-root ranks then send stdout
/// to /dev/null: one summary per job, from rank 0. Before `MPI_Init` it sets
/// Open MPI's `mpi_yield_when_idle` to 1 where the user has not set it
/// (`mmclust_mpi::DEFAULT_MCA`), so call it before any other thread starts.
///
/// # Errors
/// MPI cannot be initialised.
pub(crate) fn start() -> Result<()> {
    #[cfg(feature = "mpi")]
    if mmclust_mpi::launched_by_mpi() {
        // Open MPI's defaults for mmclust (waiting ranks yield their core),
        // where the user has not set them: before MPI_Init, which reads them.
        // SAFETY: `main` calls `start` before any other thread exists (the
        // rayon pool is built after it).
        unsafe {
            mmclust_mpi::apply_mca_defaults();
        }
        let mpi: &'static mmclust_mpi::Mpi = Box::leak(Box::new(
            mmclust_mpi::Mpi::init().map_err(|e| anyhow::anyhow!("cannot start MPI: {e}"))?,
        ));
        mpi.install_panic_hook();
        let _ = MPI.set(mpi);
        let _ = COMM.set(mpi);
        if mpi.rank() != 0 {
            silence_stdout();
        }
        // For the fault tests (scripts/test_mpi.sh): this rank panics after
        // MPI is up, as a bug would; the job must still end within seconds.
        #[cfg(feature = "test-hooks")]
        if std::env::var("MMCLUST_TEST_PANIC_RANK").ok() == Some(mpi.rank().to_string()) {
            panic!(
                "MMCLUST_TEST_PANIC_RANK: rank {} panics on purpose",
                mpi.rank()
            );
        }
    }
    Ok(())
}

#[cfg(feature = "mpi")]
fn silence_stdout() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two open descriptors; stdout (1) is replaced
        // atomically and `null` stays open until after the call.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
}

/// The communicator of a distributed run with more than one process.
pub(crate) fn comm() -> Option<&'static dyn AllReduce> {
    COMM.get().copied().filter(|c| c.size() > 1)
}

/// Whether this process prints and writes the run's single outputs.
pub(crate) fn is_root() -> bool {
    comm().is_none_or(|c| c.rank() == 0)
}

/// `(rank, size)` for messages and summaries.
pub(crate) fn rank_size() -> (usize, usize) {
    comm().map_or((0, 1), |c| (c.rank(), c.size()))
}

/// Ends MPI after a successful run.
pub(crate) fn finish() {
    #[cfg(feature = "mpi")]
    if let Some(mpi) = MPI.get() {
        mpi.finalize();
    }
}

/// After an error was printed: in a distributed run, ends every rank now
/// (`MPI_Abort` with the exit code), so no rank waits forever in a collective.
pub(crate) fn abort_if_distributed(code: u8) {
    #[cfg(feature = "mpi")]
    if let Some(mpi) = MPI.get() {
        if mpi.size() > 1 {
            let (rank, size) = (mpi.rank(), mpi.size());
            eprintln!("mmclust: rank {rank} of {size} failed; aborting the job");
            mpi.abort(i32::from(code));
        }
        mpi.finalize();
    }
    let _ = code;
}

/// Rank 0's string (a path), on every rank.
fn broadcast_string(comm: &dyn AllReduce, s: &str) -> Result<String> {
    let mut len = [s.len() as f64];
    comm.broadcast_f64(&mut len)?;
    let mut buf: Vec<f64> = if comm.rank() == 0 {
        s.bytes().map(f64::from).collect()
    } else {
        vec![0.0; len[0] as usize]
    };
    comm.broadcast_f64(&mut buf)?;
    let bytes: Vec<u8> = buf.iter().map(|&b| b as u8).collect();
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("broadcast path is not UTF-8: {e}"))
}

/// Every rank's string, on every rank, in rank order (one all-gather).
pub(crate) fn all_gather_string(comm: &dyn AllReduce, s: &str) -> Result<Vec<String>> {
    let mine: Vec<f64> = s.bytes().map(f64::from).collect();
    comm.all_gather_f64(&mine)?
        .into_iter()
        .enumerate()
        .map(|(r, b)| {
            String::from_utf8(b.iter().map(|&v| v as u8).collect())
                .map_err(|e| anyhow::anyhow!("rank {r} sent a string that is not UTF-8: {e}"))
        })
        .collect()
}

/// A `.npy` output written by every rank of a distributed run, each its own
/// rows: rank 0 creates it under a temporary name, sized and with its final
/// header; each rank writes the values of its rows in order at their offset
/// and syncs; after a barrier rank 0 renames it into place. The bytes are
/// those of the single-process [`mmclust_core::format::NpyWriter`].
pub(crate) struct SharedNpy<T: NpyElement> {
    path: PathBuf,
    root: Option<AtomicOutput>,
    writer: BufWriter<std::fs::File>,
    expected: usize,
    written: usize,
    per_row: usize,
    bytes: Vec<u8>,
    _element: std::marker::PhantomData<T>,
}

impl<T: NpyElement> SharedNpy<T> {
    /// Opens the output for `n` rows (`cols` as in `NpyWriter::create`); this
    /// rank will write `rows`. Collective: every rank calls it, in the same order.
    pub(crate) fn create(
        comm: &dyn AllReduce,
        path: &Path,
        inputs: &[&Path],
        n: usize,
        cols: Option<usize>,
        rows: Range<usize>,
    ) -> Result<Self> {
        let per_row = cols.unwrap_or(1);
        let elem = std::mem::size_of::<T>();
        let header = npy_header_bytes::<T>(n as u64, cols)?;
        let mut root = None;
        let temp = if comm.rank() == 0 {
            let mut out = AtomicOutput::create(path, inputs)?;
            out.file().write_all(&header)?;
            out.file().flush()?;
            out.file()
                .get_ref()
                .set_len((header.len() + elem * per_row * n) as u64)
                .map_err(|e| CoreError::io(path, "size", e))?;
            let temp = out.temp_path().to_string_lossy().into_owned();
            root = Some(out);
            broadcast_string(comm, &temp)?
        } else {
            broadcast_string(comm, "")?
        };
        let temp = PathBuf::from(temp);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&temp)
            .map_err(|e| CoreError::io(&temp, "open the shared output", e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer.seek(SeekFrom::Start(
            (header.len() + elem * per_row * rows.start) as u64,
        ))?;
        Ok(SharedNpy {
            path: path.to_path_buf(),
            root,
            writer,
            expected: rows.len() * per_row,
            written: 0,
            per_row,
            bytes: Vec::new(),
            _element: std::marker::PhantomData,
        })
    }

    /// Appends values of this rank's next rows.
    pub(crate) fn write(&mut self, values: &[T]) -> mmclust_core::Result<()> {
        self.bytes.clear();
        T::extend_le_bytes(values, &mut self.bytes);
        self.written += values.len();
        self.writer
            .write_all(&self.bytes)
            .map_err(|e| CoreError::io(&self.path, "write", e))
    }

    /// Syncs this rank's part; after every rank has, rank 0 renames the file
    /// into place. Collective.
    pub(crate) fn finish(self, comm: &dyn AllReduce) -> Result<()> {
        if self.written != self.expected {
            anyhow::bail!(
                "{}: rank {} wrote {} rows, not its {}",
                self.path.display(),
                comm.rank(),
                self.written / self.per_row,
                self.expected / self.per_row
            );
        }
        let file = self
            .writer
            .into_inner()
            .map_err(|e| CoreError::io(&self.path, "write", e.into_error()))?;
        file.sync_all()
            .map_err(|e| CoreError::io(&self.path, "sync", e))?;
        drop(file);
        comm.barrier()?;
        if let Some(out) = self.root {
            out.commit()?;
        }
        Ok(())
    }
}

/// Sums per-chunk values of every rank in global chunk order, left to right,
/// as one process adding them as its chunks stream by: bitwise its result.
pub(crate) fn ordered_sum(comm: &dyn AllReduce, mine: &[f64]) -> Result<f64> {
    let all = comm.all_gather_f64(mine)?;
    let mut total = 0.0f64;
    for v in all.iter().flatten() {
        total += v;
    }
    Ok(total)
}

/// [`ordered_sum`], or in one process the same left-to-right sum of `mine`.
pub(crate) fn chunk_total(mine: &[f64]) -> Result<f64> {
    match comm() {
        Some(comm) => ordered_sum(comm, mine),
        None => Ok(mine.iter().fold(0.0, |t, v| t + v)),
    }
}

/// The rows of `n` (`d` columns) whose per-row outputs this process computes
/// in a streamed pass (chunks of `Chunking::for_dim(d)`, as the models'
/// streaming passes use): its share of the global chunk grid, all rows in
/// one process. Chunk boundaries stay where one process has them, so sums
/// taken chunk by chunk ([`chunk_total`]) keep their bits.
pub(crate) fn streamed_rows(n: usize, d: usize) -> Range<usize> {
    match comm() {
        Some(c) => owned_rows(n, Chunking::for_dim(d), c.rank(), c.size()),
        None => 0..n,
    }
}

/// A per-row `.npy` output: one process's streamed file, or in a distributed
/// run this rank's rows ([`streamed_rows`]) of one shared file.
pub(crate) enum RowsOut<T: NpyElement> {
    One(NpyWriter<T>),
    Shared(SharedNpy<T>, &'static dyn AllReduce),
}

impl<T: NpyElement> RowsOut<T> {
    /// Opens `path` for `n` rows (`cols` as in `NpyWriter::create`), of which
    /// this process writes `rows`. Collective in a distributed run.
    pub(crate) fn create(
        path: &Path,
        inputs: &[&Path],
        n: usize,
        cols: Option<usize>,
        rows: Range<usize>,
    ) -> Result<Self> {
        Ok(match comm() {
            Some(c) => RowsOut::Shared(SharedNpy::create(c, path, inputs, n, cols, rows)?, c),
            None => RowsOut::One(NpyWriter::create(path, cols, inputs)?),
        })
    }

    /// Appends the values of this process's next rows.
    pub(crate) fn write(&mut self, values: &[T]) -> mmclust_core::Result<()> {
        match self {
            RowsOut::One(w) => w.write(values),
            RowsOut::Shared(w, _) => w.write(values),
        }
    }

    /// Completes the file under its final name (collective in a distributed
    /// run: rank 0 renames it after every rank has written its rows).
    pub(crate) fn finish(self) -> Result<()> {
        match self {
            RowsOut::One(w) => w.finish()?,
            RowsOut::Shared(w, c) => w.finish(c)?,
        }
        Ok(())
    }
}

/// `crates/mpi`'s MCA defaults, tested here: `crates/mpi` is outside the
/// workspace, and testing it on its own would build its dependencies with
/// other features than the workspace's (scripts/test_mpi.sh builds this crate's
/// tests with the workspace's).
#[cfg(all(test, feature = "mpi"))]
mod mpi_tests {
    use std::ffi::OsString;

    use mmclust_mpi::missing_mca_defaults;

    #[test]
    fn yield_is_set_only_where_the_user_did_not_choose() {
        // Nothing set: mmclust's default.
        assert_eq!(
            missing_mca_defaults(|_| None),
            vec![("OMPI_MCA_mpi_yield_when_idle", "1")]
        );
        // Set by the user (to either value, or empty): left alone.
        for value in ["0", "1", ""] {
            let got = missing_mca_defaults(|v| {
                (v == "OMPI_MCA_mpi_yield_when_idle").then(|| OsString::from(value))
            });
            assert!(got.is_empty(), "{value:?}: {got:?}");
        }
        // Another variable set: still the default.
        let got =
            missing_mca_defaults(|v| (v == "OMPI_MCA_btl").then(|| OsString::from("tcp,self")));
        assert_eq!(got.len(), 1);
    }
}

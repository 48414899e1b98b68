//! mmclust-mpi: the [`AllReduce`] seam over MPI (rsmpi), for runs launched by
//! `mpirun` or `srun`.
//!
//! The algorithms never talk to MPI: a pass's partial statistics go through the
//! seam of `mmclust_core::parallel`, which this crate implements with
//! `MPI_Allgatherv` (the gather of subtree partials that keeps results bitwise
//! identical to one process), `MPI_Allreduce`, `MPI_Bcast` and `MPI_Barrier` on
//! `MPI_COMM_WORLD`.
//!
//! Faults: a rank that stops (error, panic) must not leave the others blocked in
//! a collective (rsmpi issue #197). [`Mpi::install_panic_hook`] makes a panic
//! call `MPI_Abort`, and the binary calls [`Mpi::abort`] on every error, so the
//! launcher tears the whole job down within seconds with a non-zero status.

use std::sync::Mutex;

use mmclust_core::CoreError;
use mmclust_core::parallel::AllReduce;
use mpi::Threading;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

/// Environment variables that launchers set in every rank: Open MPI's
/// `mpirun`, MPICH/Hydra and Slurm's PMI, Slurm's `srun`.
const LAUNCHER_VARS: [&str; 4] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMIX_RANK",
    "SLURM_NTASKS",
];

/// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`,
/// `srun`). A plain start runs single-process, without initialising MPI.
#[must_use]
pub fn launched_by_mpi() -> bool {
    // SLURM_NTASKS alone is also set inside `sbatch` scripts, outside `srun`;
    // SLURM_STEP_ID marks a job step, which is what `srun` starts.
    let slurm_step =
        std::env::var_os("SLURM_NTASKS").is_some() && std::env::var_os("SLURM_STEP_ID").is_some();
    LAUNCHER_VARS[..3]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
        || slurm_step
}

/// Open MPI settings that mmclust applies when the user has not chosen them:
/// `(environment variable, value)`. Each is set in the environment before
/// `MPI_Init`, which reads it there; a user's `export OMPI_MCA_...=...` or
/// `mpirun --mca NAME VALUE` (which `mpirun` passes to the ranks as the same
/// variable) wins.
///
/// * `mpi_yield_when_idle = 1`: a rank waiting in a collective calls
///   `sched_yield` between polls instead of spinning. Open MPI yields by itself
///   only when it knows the node is oversubscribed (more ranks than slots); it
///   cannot see that ranks × rayon threads exceed the cores, and a polling rank
///   then takes CPU time from the threads still computing (measured by
///   `scripts/bench_mpi.sh`, figures in docs/distributed.md). With a core per
///   thread, yielding with nothing else runnable returns at once.
pub const DEFAULT_MCA: [(&str, &str); 1] = [("OMPI_MCA_mpi_yield_when_idle", "1")];

/// The settings of [`DEFAULT_MCA`] that `get` (a lookup in the environment)
/// does not already give a value, empty values included.
pub fn missing_mca_defaults(
    get: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(&'static str, &'static str)> {
    DEFAULT_MCA
        .iter()
        .filter(|(var, _)| get(var).is_none())
        .copied()
        .collect()
}

/// Sets [`DEFAULT_MCA`]'s settings the environment lacks; returns them.
///
/// # Safety
/// No other thread of the process may be running (it writes the environment,
/// see [`std::env::set_var`]): call it first thing, before [`Mpi::init`].
pub unsafe fn apply_mca_defaults() -> Vec<(&'static str, &'static str)> {
    let missing = missing_mca_defaults(|v| std::env::var_os(v));
    for (var, value) in &missing {
        // SAFETY: the caller guarantees that this thread is the only one.
        unsafe { std::env::set_var(var, value) };
    }
    missing
}

/// `MPI_COMM_WORLD` of an initialised MPI library; finalises MPI when dropped.
pub struct Mpi {
    world: Mutex<World>,
    rank: usize,
    size: usize,
    /// Taken by [`Mpi::finalize`] (dropping it calls `MPI_Finalize`).
    universe: Mutex<Option<Universe>>,
}

/// The communicator, made sendable so the [`Mutex`] can be shared.
struct World(SimpleCommunicator);

// SAFETY: MPI is initialised with `MPI_THREAD_SERIALIZED` (checked in
// `Mpi::init`): any thread may call MPI as long as calls never overlap, and
// every call goes through the `Mutex` around this handle.
unsafe impl Send for World {}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl Mpi {
    /// Initialises MPI (`MPI_Init_thread`, serialized threading).
    ///
    /// # Errors
    /// A message when MPI was already initialised or cannot give serialized
    /// threading.
    pub fn init() -> Result<Mpi, String> {
        let (universe, provided) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| "MPI was already initialised in this process".to_string())?;
        if provided < Threading::Serialized {
            return Err(format!(
                "the MPI library gives threading level {provided:?}; mmclust needs at least Serialized"
            ));
        }
        let world = universe.world();
        let rank = usize::try_from(world.rank()).map_err(|e| e.to_string())?;
        let size = usize::try_from(world.size()).map_err(|e| e.to_string())?;
        Ok(Mpi {
            world: Mutex::new(World(world)),
            rank,
            size,
            universe: Mutex::new(Some(universe)),
        })
    }

    /// Makes a panic on any thread of this rank abort the whole job: the
    /// default message is printed first, then `MPI_Abort(MPI_COMM_WORLD, 1)`.
    pub fn install_panic_hook(&self) {
        let rank = self.rank;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("mmclust: rank {rank} panicked; aborting every rank of the job");
            abort_world(1);
        }));
    }

    /// Ends MPI cleanly (`MPI_Finalize`, after a barrier): call once, at the
    /// end of a successful run, after the last collective.
    pub fn finalize(&self) {
        let universe = self
            .universe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if universe.is_some() {
            self.world().0.barrier();
        }
        drop(universe);
    }

    /// Ends every rank of the job with `code` (`MPI_Abort`).
    pub fn abort(&self, code: i32) -> ! {
        abort_world(code)
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        // A poisoned lock means a panic, which already aborts the job.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn abort_world(code: i32) -> ! {
    // SAFETY: MPI is initialised (an `Mpi` exists, or existed, in this
    // process); MPI_Abort may be called from any thread and does not return.
    unsafe {
        mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, code);
    }
    std::process::abort()
}

fn count(n: usize) -> mmclust_core::Result<i32> {
    i32::try_from(n).map_err(|_| {
        CoreError::param(
            "mpi",
            format!(
                "a message of {n} values is over MPI's 2^31 limit; use fewer clusters or columns"
            ),
        )
    })
}

impl AllReduce for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum_f64(&self, buf: &mut [f64]) -> mmclust_core::Result<()> {
        let local = buf.to_vec();
        let w = self.world();
        w.0.all_reduce_into(&local[..], buf, mpi::collective::SystemOperation::sum());
        Ok(())
    }

    fn broadcast_f64(&self, buf: &mut [f64]) -> mmclust_core::Result<()> {
        let w = self.world();
        w.0.process_at_rank(0).broadcast_into(buf);
        Ok(())
    }

    fn all_gather_f64(&self, local: &[f64]) -> mmclust_core::Result<Vec<Vec<f64>>> {
        let w = self.world();
        let mine = count(local.len())?;
        let mut counts = vec![0i32; self.size];
        w.0.all_gather_into(&mine, &mut counts[..]);
        let mut displs = Vec::with_capacity(self.size);
        let mut total = 0usize;
        for &c in &counts {
            displs.push(count(total)?);
            total += usize::try_from(c).unwrap_or(0);
        }
        count(total)?;
        let mut all = vec![0.0f64; total];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            w.0.all_gather_varcount_into(local, &mut part);
        }
        let mut out = Vec::with_capacity(self.size);
        for (c, d) in counts.iter().zip(&displs) {
            let (c, d) = (*c as usize, *d as usize);
            out.push(all[d..d + c].to_vec());
        }
        Ok(out)
    }

    fn barrier(&self) -> mmclust_core::Result<()> {
        self.world().0.barrier();
        Ok(())
    }
}

//! The seam between processes: the [`AllReduce`] trait through which a pass's
//! merged partial statistics are combined across the processes of a
//! distributed run, and its single-process implementation.

use crate::error::Result;

/// The seam between processes: how a pass's merged partial statistics are
/// combined across the processes of a distributed run.
///
/// Every reduction an algorithm needs is expressed as a sum of `f64` buffers
/// or a broadcast from rank 0. [`SingleProcess`] is the identity; the MPI build
/// (crate `mmclust-mpi`) sums across ranks.
pub trait AllReduce: Sync + std::fmt::Debug {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum over processes.
    ///
    /// # Errors
    /// A communication failure.
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Replaces `buf` on every process by rank 0's `buf`.
    ///
    /// # Errors
    /// A communication failure.
    fn broadcast_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Gathers every process's `local` buffer (of any length) on every
    /// process: element `r` of the result is rank `r`'s buffer.
    ///
    /// # Errors
    /// A communication failure.
    fn all_gather_f64(&self, local: &[f64]) -> Result<Vec<Vec<f64>>>;
    /// Waits until every process has reached this call.
    ///
    /// # Errors
    /// A communication failure.
    fn barrier(&self) -> Result<()>;
}

/// The single-process [`AllReduce`]: every operation is a no-op.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl AllReduce for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn broadcast_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn all_gather_f64(&self, local: &[f64]) -> Result<Vec<Vec<f64>>> {
        Ok(vec![local.to_vec()])
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}

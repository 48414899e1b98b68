//! [`ThreadGroup`]: an in-process stand-in for a group of MPI processes, one
//! thread per simulated rank, so the distributed code paths (ownership of
//! chunks, the all-gather of subtree partials, the final merge) are tested by
//! `cargo test` on any machine, without an MPI library.

use std::sync::{Arc, Barrier, Mutex};

use crate::error::Result;
use crate::parallel::AllReduce;

/// State shared by the members of a [`ThreadGroup`].
#[derive(Debug)]
struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
}

/// One member (rank) of a group of threads that behave as processes.
#[derive(Debug, Clone)]
pub struct ThreadGroup {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

impl ThreadGroup {
    /// The `size` members of a new group; hand member `r` to thread `r`.
    /// Every member must take part in every collective call, as in MPI.
    #[must_use]
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                size,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    /// Runs `f(member)` on one thread per member and returns the results by rank.
    ///
    /// # Panics
    /// When a member's thread panics.
    pub fn run<T: Send>(size: usize, f: impl Fn(&ThreadGroup) -> T + Sync) -> Vec<T> {
        let members = ThreadGroup::new(size);
        std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(|| f(m))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a simulated rank panicked"))
                .collect()
        })
    }
}

impl AllReduce for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        let all = self.all_gather_f64(buf)?;
        buf.fill(0.0);
        for other in &all {
            for (b, v) in buf.iter_mut().zip(other) {
                *b += v;
            }
        }
        Ok(())
    }
    fn broadcast_f64(&self, buf: &mut [f64]) -> Result<()> {
        let all = self.all_gather_f64(buf)?;
        buf.copy_from_slice(&all[0]);
        Ok(())
    }
    fn all_gather_f64(&self, local: &[f64]) -> Result<Vec<Vec<f64>>> {
        self.shared.slots.lock().expect("no panics")[self.rank] = local.to_vec();
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().expect("no panics").clone();
        // Nobody writes the next round's slot before everyone has read this one.
        self.shared.barrier.wait();
        Ok(all)
    }
    fn barrier(&self) -> Result<()> {
        self.shared.barrier.wait();
        Ok(())
    }
}

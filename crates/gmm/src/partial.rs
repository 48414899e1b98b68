//! EM's sufficient statistics as a [`Partial`]: what crosses process
//! boundaries in a distributed (MPI) run, bit for bit.

use crate::mixture::Stats;

mmclust_core::partial_struct!(Stats { nk, s1, s2, loglik });

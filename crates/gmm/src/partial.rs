//! EM's sufficient statistics as a [`Partial`]: what crosses process
//! boundaries in a distributed (MPI) run, bit for bit.

use mmclust_core::partial::{Partial, PartialReader};

use crate::mixture::Stats;

impl Partial for Stats {
    fn encode(&self, out: &mut Vec<f64>) {
        self.nk.encode(out);
        self.s1.encode(out);
        self.s2.encode(out);
        self.loglik.encode(out);
    }
    fn decode(r: &mut PartialReader<'_>) -> mmclust_core::Result<Self> {
        Ok(Stats {
            nk: Partial::decode(r)?,
            s1: Partial::decode(r)?,
            s2: Partial::decode(r)?,
            loglik: Partial::decode(r)?,
        })
    }
}

//! What the benches share: the quick switch and the sampling of a group.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// `MMCLUST_BENCH_QUICK=1` (anything but `0`): a shrunken grid and sampling,
/// so that a whole bench runs in seconds (CI runs it that way).
pub(crate) fn quick() -> bool {
    std::env::var_os("MMCLUST_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// How criterion samples a group: the number of samples, the warm-up time
/// and the measurement time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sampling {
    samples: usize,
    warm_up: Duration,
    measurement: Duration,
}

impl Sampling {
    pub(crate) const fn new(samples: usize, warm_up: Duration, measurement: Duration) -> Self {
        Self {
            samples,
            warm_up,
            measurement,
        }
    }
}

/// The benchmark group `name`, sampled as `quick` says under
/// `MMCLUST_BENCH_QUICK`, as `full` says otherwise.
pub(crate) fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    quick: Sampling,
    full: Sampling,
) -> BenchmarkGroup<'a, WallTime> {
    let s = if self::quick() { quick } else { full };
    let mut group = c.benchmark_group(name);
    group
        .sample_size(s.samples)
        .warm_up_time(s.warm_up)
        .measurement_time(s.measurement);
    group
}

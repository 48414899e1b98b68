//! The passes over the data K-means makes, each in the one pattern of DESIGN.md:
//! fixed chunks, a kernel per chunk, partials merged by the fixed tree.

use std::cell::{Cell, RefCell};

// The sparse passes: a child of this module (they share its partials), so
// that the two are not a cycle of top-level modules.
#[path = "sparse_pass.rs"]
mod sparse_pass;

use mmclust_core::DataSource;
use mmclust_core::kernel::{AssignScratch, PackedCenters, assign_chunk};
use mmclust_core::parallel::{
    Chunk, Chunking, PassOptions, map_reduce_global, map_reduce_into_local,
};
use mmclust_core::partial::{Partial, PartialReader};

use crate::error::Result;

/// Per-worker buffers of the assignment kernel, reused across chunks.
#[derive(Default)]
pub(crate) struct Workspace {
    pub(crate) labels: Vec<u32>,
    pub(crate) dist: Vec<f32>,
    pub(crate) kernel: Option<AssignScratch>,
}

thread_local! {
    static WORKSPACE: Cell<Option<Box<Workspace>>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's workspace (taken out while in use, so a nested
/// or stolen task gets a fresh one instead of aliasing it).
pub(crate) fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    let mut ws = WORKSPACE.with(Cell::take).unwrap_or_default();
    let r = f(&mut ws);
    WORKSPACE.with(|c| c.set(Some(ws)));
    r
}

/// Assigns a chunk's rows to their nearest centres (the reference labels);
/// the results are in `ws.labels[..n]` and `ws.dist[..n]` (squared
/// distances). Returns how many rows the pre-screen could not certify.
pub(crate) fn assign(chunk: &Chunk<'_>, centers: &PackedCenters, ws: &mut Workspace) -> u64 {
    let n = chunk.n_rows;
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    let kernel = ws.kernel.get_or_insert_with(AssignScratch::new);
    assign_chunk(
        chunk.data,
        centers,
        &mut ws.labels[..n],
        &mut ws.dist[..n],
        kernel,
    );
    kernel.take_rechecks()
}

/// What one Lloyd pass yields: the M-step's sufficient statistics and the
/// E-step's inertia and label changes.
#[derive(Debug, Clone)]
pub(crate) struct LloydPartial {
    /// Weighted sums of the points of each cluster, k × d.
    pub(crate) sums: Vec<f64>,
    /// Total weight of each cluster.
    pub(crate) weight: Vec<f64>,
    /// Number of points of each cluster.
    pub(crate) count: Vec<u64>,
    /// Weighted sum of squared distances to the assigned centres.
    pub(crate) inertia: f64,
    /// Points whose label differs from the previous pass.
    pub(crate) changed: u64,
    /// Rows whose label the pre-screen could not certify: re-checked with
    /// the reference scan.
    pub(crate) rechecks: u64,
}

thread_local! {
    /// Spare `sums` buffers of merged partials, reused by [`LloydPartial::zeros`].
    /// A pass makes one partial per chunk; with large `k·d` (e.g. 300 KiB at
    /// k = 100, d = 384) fresh allocations come from `mmap` and cost a page
    /// fault per page, more than the chunk's kernel. Reuse changes no value.
    static SPARE_SUMS: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// Spare buffers kept per thread: enough for a merge tree's live partials.
const SPARE_MAX: usize = 8;

/// A zeroed buffer of `len`, reusing a spare one of this thread when it can.
fn zeroed_sums(len: usize) -> Vec<f64> {
    match SPARE_SUMS.with(|s| s.borrow_mut().pop()) {
        Some(mut v) => {
            v.clear();
            v.resize(len, 0.0);
            v
        }
        None => vec![0.0; len],
    }
}

/// Keeps `v` for a later [`zeroed_sums`] of this thread.
fn spare_sums(v: Vec<f64>) {
    SPARE_SUMS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_MAX {
            s.push(v);
        }
    });
}

impl LloydPartial {
    pub(crate) fn zeros(k: usize, d: usize) -> Self {
        LloydPartial {
            sums: zeroed_sums(k * d),
            weight: vec![0.0; k],
            count: vec![0; k],
            inertia: 0.0,
            changed: 0,
            rechecks: 0,
        }
    }

    pub(crate) fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.weight.iter_mut().zip(&other.weight) {
            *a += b;
        }
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
        self.rechecks += other.rechecks;
        spare_sums(other.sums);
        self
    }
}

impl Partial for LloydPartial {
    fn encode(&self, out: &mut Vec<f64>) {
        self.sums.encode(out);
        self.weight.encode(out);
        self.count.encode(out);
        self.inertia.encode(out);
        self.changed.encode(out);
        self.rechecks.encode(out);
    }
    fn decode(r: &mut PartialReader<'_>) -> mmclust_core::Result<Self> {
        Ok(LloydPartial {
            sums: Partial::decode(r)?,
            weight: Partial::decode(r)?,
            count: Partial::decode(r)?,
            inertia: Partial::decode(r)?,
            changed: Partial::decode(r)?,
            rechecks: Partial::decode(r)?,
        })
    }
}

/// One Lloyd pass: assigns every point, updates `labels` (the first of
/// `per_row` values per row: the bounded variants' warm-up keeps its bounds
/// after each label) and returns the statistics of the new partition. In a
/// distributed run (a source with a communicator) this process assigns and
/// labels only its own chunks, `labels` holds only its rows
/// ([`local_rows`](mmclust_core::parallel::local_rows)), and the statistics
/// are those of all rows, bitwise as in one process.
pub(crate) fn lloyd_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    centers: &PackedCenters,
    weights: Option<&[f32]>,
    labels: &mut [u32],
    per_row: usize,
) -> Result<LloydPartial> {
    if let Some(sp) = sparse_pass::sparse_of(source) {
        return sparse_pass::lloyd_pass(
            source, sp, chunking, options, centers, weights, labels, per_row,
        );
    }
    let (k, d) = (centers.k(), centers.d());
    let partial = map_reduce_into_local(
        source,
        chunking,
        options,
        labels,
        per_row,
        |chunk, old| {
            let mut p = LloydPartial::zeros(k, d);
            with_workspace(|ws| {
                p.rechecks = assign(&chunk, centers, ws);
                let n = chunk.n_rows;
                p.changed = relabel(old, per_row, &ws.labels[..n]);
                accumulate(&chunk, weights, &ws.labels[..n], &ws.dist[..n], &mut p);
            });
            Ok(p)
        },
        LloydPartial::merge,
    )?;
    Ok(partial.unwrap_or_else(|| LloydPartial::zeros(k, d)))
}

/// Writes `labels` into the first of every `per_row` values of `state`;
/// returns how many changed.
pub(crate) fn relabel(state: &mut [u32], per_row: usize, labels: &[u32]) -> u64 {
    let mut changed = 0;
    for (st, &l) in state.chunks_exact_mut(per_row).zip(labels) {
        if st[0] != l {
            changed += 1;
            st[0] = l;
        }
    }
    changed
}

/// The M-step statistics of one chunk, given each row's label and squared
/// distance: inertia, weights, counts and per-cluster sums, in row order.
/// Every exact variant (Lloyd, Hamerly, Yinyang) goes through this one loop,
/// so equal labels give bitwise equal sums, hence equal centres.
///
/// Each sum takes one `f64` addition per row, so the vector width the loop
/// is compiled for does not change a bit: with AVX-512F it runs the same
/// body compiled for it (8 sums per instruction instead of SSE2's 2).
pub(crate) fn accumulate(
    chunk: &Chunk<'_>,
    weights: Option<&[f32]>,
    labels: &[u32],
    dist: &[f32],
    p: &mut LloydPartial,
) {
    #[cfg(target_arch = "x86_64")]
    if mmclust_core::kernel::avx512_path() {
        // SAFETY: the CPU supports AVX-512F (the kernels' path detection).
        unsafe { accumulate_avx512(chunk, weights, labels, dist, p) };
        return;
    }
    accumulate_body(chunk, weights, labels, dist, p);
}

/// [`accumulate`]'s body compiled with AVX-512F.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn accumulate_avx512(
    chunk: &Chunk<'_>,
    weights: Option<&[f32]>,
    labels: &[u32],
    dist: &[f32],
    p: &mut LloydPartial,
) {
    accumulate_body(chunk, weights, labels, dist, p);
}

#[inline(always)]
fn accumulate_body(
    chunk: &Chunk<'_>,
    weights: Option<&[f32]>,
    labels: &[u32],
    dist: &[f32],
    p: &mut LloydPartial,
) {
    let d = chunk.n_cols;
    let w = weights.map(|w| &w[chunk.start_row..chunk.start_row + chunk.n_rows]);
    let mut inertia = 0.0f64;
    for (i, row) in chunk.rows().enumerate() {
        let li = labels[i] as usize;
        let wi = w.map_or(1.0, |w| f64::from(w[i]));
        inertia += wi * f64::from(dist[i]);
        p.weight[li] += wi;
        p.count[li] += 1;
        let sums = &mut p.sums[li * d..(li + 1) * d];
        if w.is_some() {
            for (s, &x) in sums.iter_mut().zip(row) {
                *s += wi * f64::from(x);
            }
        } else {
            for (s, &x) in sums.iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
    }
    p.inertia = inertia;
}

/// Weighted inertia of `centers` over the source (an E-step without labels).
pub(crate) fn inertia_pass<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
    centers: &PackedCenters,
    weights: Option<&[f32]>,
) -> Result<f64> {
    if let Some(sp) = sparse_pass::sparse_of(source) {
        return sparse_pass::inertia_pass(source, sp, chunking, options, centers, weights);
    }
    let total = map_reduce_global(
        source,
        chunking,
        options,
        |chunk| {
            Ok(with_workspace(|ws| {
                assign(&chunk, centers, ws);
                chunk_inertia(&ws.dist[..chunk.n_rows], weights, chunk.start_row)
            }))
        },
        |a, b| a + b,
    )?;
    Ok(total.unwrap_or(0.0))
}

/// A chunk's (weighted) inertia from its rows' squared distances `dist`,
/// the rows starting at `start_row` (`weights` indexed by row), in `f64`.
pub(crate) fn chunk_inertia(dist: &[f32], weights: Option<&[f32]>, start_row: usize) -> f64 {
    match weights {
        Some(w) => dist
            .iter()
            .zip(&w[start_row..start_row + dist.len()])
            .map(|(&d, &w)| f64::from(w) * f64::from(d))
            .sum::<f64>(),
        None => dist.iter().map(|&d| f64::from(d)).sum::<f64>(),
    }
}

/// The `want` points farthest from their assigned centre, as
/// (squared distance, row, label), farthest first (ties: lower row first).
pub(crate) fn farthest_points<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    centers: &PackedCenters,
    want: usize,
) -> Result<Vec<(f32, usize, u32)>> {
    let order =
        |a: &(f32, usize, u32), b: &(f32, usize, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let keep = |mut v: Vec<(f32, usize, u32)>| {
        if v.len() > want && want > 0 {
            v.select_nth_unstable_by(want - 1, order);
            v.truncate(want);
        }
        v.sort_by(order);
        v.truncate(want);
        v
    };
    if let Some(sp) = sparse_pass::sparse_of(source) {
        return sparse_pass::farthest_points(source, sp, chunking, centers, &keep);
    }
    let top = map_reduce_global(
        source,
        chunking,
        PassOptions::default(),
        |chunk| {
            Ok(with_workspace(|ws| {
                assign(&chunk, centers, ws);
                let v = (0..chunk.n_rows)
                    .map(|i| (ws.dist[i], chunk.start_row + i, ws.labels[i]))
                    .collect();
                keep(v)
            }))
        },
        |mut a, b| {
            a.extend(b);
            keep(a)
        },
    )?;
    Ok(top.unwrap_or_default())
}

/// Reads one row of the source into a new vector (collective over node-local
/// shards, [`gather_rows`]: every process asks for the same row).
pub(crate) fn read_row<S: DataSource + ?Sized>(source: &S, row: usize) -> Result<Vec<f32>> {
    Ok(mmclust_core::parallel::gather_rows(source, &[row])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// The M-step statistics the plain way: one row at a time, in row order,
    /// every sum a weight times a value (1 without weights).
    fn oracle(
        chunk: &Chunk<'_>,
        weights: Option<&[f32]>,
        labels: &[u32],
        dist: &[f32],
        k: usize,
    ) -> LloydPartial {
        let d = chunk.n_cols;
        let mut p = LloydPartial {
            sums: vec![0.0; k * d],
            weight: vec![0.0; k],
            count: vec![0; k],
            inertia: 0.0,
            changed: 0,
            rechecks: 0,
        };
        for i in 0..chunk.n_rows {
            let l = labels[i] as usize;
            let w = weights.map_or(1.0, |w| f64::from(w[chunk.start_row + i]));
            p.inertia += w * f64::from(dist[i]);
            p.weight[l] += w;
            p.count[l] += 1;
            for (j, &x) in chunk.row(i).iter().enumerate() {
                p.sums[l * d + j] += w * f64::from(x);
            }
        }
        p
    }

    fn assert_same_bits(got: &LloydPartial, want: &LloydPartial, path: &str) {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.sums), bits(&want.sums), "{path}: sums");
        assert_eq!(bits(&got.weight), bits(&want.weight), "{path}: weights");
        assert_eq!(got.count, want.count, "{path}: counts");
        assert_eq!(
            got.inertia.to_bits(),
            want.inertia.to_bits(),
            "{path}: inertia {} vs {}",
            got.inertia,
            want.inertia
        );
        assert_eq!(got.changed, 0, "{path}: accumulate does not count changes");
    }

    /// A chunk (rows `start..start + n` of a source) with its labels and
    /// squared distances, and weights for the whole source or none.
    type Case = (usize, usize, Vec<f32>, Vec<u32>, Vec<f32>, Option<Vec<f32>>);

    fn case() -> impl Strategy<Value = Case> {
        (1usize..7, 1usize..20, 1usize..70, 0usize..5).prop_flat_map(|(k, d, n, start)| {
            (
                Just(k),
                Just(start),
                proptest::collection::vec(
                    prop_oneof![-1e3f32..1e3, -1e30f32..1e30, Just(0.0f32)],
                    n * d,
                ),
                proptest::collection::vec(0..k as u32, n),
                proptest::collection::vec(0.0f32..1e6, n),
                proptest::option::of(proptest::collection::vec(
                    prop_oneof![0.0f32..10.0, Just(0.0f32)],
                    start + n + 3,
                )),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `accumulate` (on the path this CPU takes), its portable body and,
        /// where the CPU has it, its AVX-512 build give the oracle's bits:
        /// one `f64` addition per row and value, in row order.
        #[test]
        fn accumulate_matches_the_oracle(
            (k, start, data, labels, dist, weights) in case()
        ) {
            let d = data.len() / labels.len();
            let chunk = Chunk {
                index: 0,
                start_row: start,
                n_rows: labels.len(),
                n_cols: d,
                data: &data,
            };
            let w = weights.as_deref();
            let want = oracle(&chunk, w, &labels, &dist, k);

            let mut p = LloydPartial::zeros(k, d);
            accumulate(&chunk, w, &labels, &dist, &mut p);
            assert_same_bits(&p, &want, "dispatched");

            let mut p = LloydPartial::zeros(k, d);
            accumulate_body(&chunk, w, &labels, &dist, &mut p);
            assert_same_bits(&p, &want, "portable");

            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut p = LloydPartial::zeros(k, d);
                // SAFETY: the CPU has AVX-512F (checked just above).
                unsafe { accumulate_avx512(&chunk, w, &labels, &dist, &mut p) };
                assert_same_bits(&p, &want, "avx512");
            } else {
                static SKIP: std::sync::Once = std::sync::Once::new();
                SKIP.call_once(|| {
                    eprintln!("SKIP accumulate_matches_the_oracle: avx512 not on this CPU");
                });
            }
        }
    }
}

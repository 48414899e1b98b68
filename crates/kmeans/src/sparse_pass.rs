//! Lloyd's passes over sparse rows (a CSR `.npz`, L2-normalised for cosine):
//! the assignment reads only the non-zeros ([`assign_sparse`]) and the
//! centre sums add only the non-zeros, with the dense path's bits.
//!
//! Why the sums are the same bits: the dense pass ([`crate::pass`]) starts
//! each chunk's sums at `+0` and adds, row by row in order, one `f64` term
//! (`f64(x)` or `w·f64(x)`) per dimension; the merge tree adds two partials
//! element by element. A sum that starts at `+0` and adds terms is never
//! `−0` (an exact cancellation rounds to `+0`), so the `+0` terms of a row's
//! zeros (or `−0`, for `w·(+0)` with `w ≥ 0` it is `+0`) leave it as it was:
//! only the non-zeros change a sum, in the same row order. Here each chunk
//! lists `(cluster·d + column, term)` in row order, sorts the list stably
//! by key and folds each key's terms from `+0`: the same additions in the
//! same order. The partials stay sparse up the merge tree (an entry missing
//! on one side is the dense `x + 0 = x`) until they fill a quarter of the
//! `k × d` sums, then turn dense; the merge tree is the dense pass's
//! (same chunks, same splits), and IEEE addition is commutative, so where a
//! sparse and a dense partial meet, the order of the operands does not
//! matter. Tested against the dense pass bit for bit (`tests/sparse_*`).
//!
//! Memory: a chunk's partial holds at most its non-zeros; no row is
//! densified except to settle a near tie ([`assign_sparse`]).
//!
//! In a distributed run (a source with a communicator) the dense passes
//! run: their partials are what the all-reduce exchanges.

use std::cell::Cell;
use std::ops::Range;
use std::sync::OnceLock;

use mmclust_core::DataSource;
use mmclust_core::kernel::PackedCenters;
use mmclust_core::kernel::sparse::{SparseCenters, SparseScratch, assign_sparse};
use mmclust_core::parallel::{Chunk, Chunking, PassOptions, map_reduce, map_reduce_into};
use mmclust_core::sparse::{SparseRows, SparseSource};

use super::{LloydPartial, relabel};
use crate::error::Result;

/// The sparse lists of `source` when the sparse passes serve it: a sparse
/// source in one process, unless `MMCLUST_SPARSE=off` asks for the densified
/// passes (the benchmark's comparison; the results are the same bits).
pub(crate) fn sparse_of<S: DataSource + ?Sized>(source: &S) -> Option<&dyn SparseSource> {
    static OFF: OnceLock<bool> = OnceLock::new();
    let off = *OFF.get_or_init(|| {
        std::env::var("MMCLUST_SPARSE").is_ok_and(|v| matches!(v.as_str(), "off" | "0" | "dense"))
    });
    if off || source.comm().is_some_and(|c| c.size() > 1) {
        return None;
    }
    source.sparse()
}

/// A source whose passes read no values: the chunk grid, the walk's order
/// and the progress of `inner`, for passes that read the sparse rows
/// themselves (`Chunk::data` is empty).
struct RangesOnly<'a, S: ?Sized>(&'a S);

impl<S: DataSource + ?Sized> DataSource for RangesOnly<'_, S> {
    fn n_rows(&self) -> usize {
        self.0.n_rows()
    }
    fn n_cols(&self) -> usize {
        self.0.n_cols()
    }
    fn rows<'a>(
        &'a self,
        _range: Range<usize>,
        scratch: &'a mut Vec<f32>,
    ) -> mmclust_core::Result<&'a [f32]> {
        scratch.clear();
        Ok(&scratch[..])
    }
    fn name(&self) -> String {
        self.0.name()
    }
    fn advise_sequential(&self) {
        self.0.advise_sequential();
    }
    fn advise_random(&self) {
        self.0.advise_random();
    }
    fn hint(&self, range: Range<usize>, hint: mmclust_core::source::Hint) {
        self.0.hint(range, hint);
    }
}

/// Per-worker buffers of the sparse passes.
#[derive(Default)]
struct Workspace {
    rows: SparseRows,
    labels: Vec<u32>,
    dist: Vec<f32>,
    kernel: SparseScratch,
    keys: Vec<(u64, u32)>,
    terms: Vec<f64>,
}

thread_local! {
    static WORKSPACE: Cell<Option<Box<Workspace>>> = const { Cell::new(None) };
}

fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    let mut ws = WORKSPACE.with(Cell::take).unwrap_or_default();
    let r = f(&mut ws);
    WORKSPACE.with(|c| c.set(Some(ws)));
    r
}

/// Reads the chunk's sparse rows and assigns them: labels and distances in
/// `ws.labels[..n]`, `ws.dist[..n]`; returns the rows re-checked.
fn assign_chunk_sparse(
    sp: &dyn SparseSource,
    chunk: &Chunk<'_>,
    centers: &PackedCenters,
    sc: &SparseCenters,
    ws: &mut Workspace,
) -> mmclust_core::Result<u64> {
    let n = chunk.n_rows;
    sp.sparse_rows(chunk.start_row..chunk.start_row + n, &mut ws.rows)?;
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    assign_sparse(
        &ws.rows,
        centers,
        sc,
        &mut ws.labels[..n],
        &mut ws.dist[..n],
        &mut ws.kernel,
    );
    Ok(ws.kernel.take_rechecks())
}

/// Per-cluster sums, sparse (sorted `(cluster·d + column, sum)`, absent
/// entries `+0`) or dense (`k·d`).
#[derive(Debug)]
enum Sums {
    Sparse(Vec<(u64, f64)>),
    Dense(Vec<f64>),
}

/// [`LloydPartial`] with [`Sums`].
#[derive(Debug)]
struct SparsePartial {
    sums: Sums,
    weight: Vec<f64>,
    count: Vec<u64>,
    inertia: f64,
    changed: u64,
    rechecks: u64,
}

/// `a[key] += v` for the entries of `b` (IEEE addition is commutative, so
/// `a + b` and `b + a` are the same bits).
fn add_entries(a: &mut [f64], b: &[(u64, f64)]) {
    for &(key, v) in b {
        a[key as usize] += v;
    }
}

impl SparsePartial {
    /// `self + other` as the dense merge computes it; `len` is `k·d`.
    fn merge(mut self, other: Self, len: usize) -> Self {
        self.sums = match (self.sums, other.sums) {
            (Sums::Dense(mut a), Sums::Dense(b)) => {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                Sums::Dense(a)
            }
            (Sums::Dense(mut a), Sums::Sparse(b)) | (Sums::Sparse(b), Sums::Dense(mut a)) => {
                add_entries(&mut a, &b);
                Sums::Dense(a)
            }
            (Sums::Sparse(a), Sums::Sparse(b)) => {
                let mut out = Vec::with_capacity(a.len() + b.len());
                let (mut i, mut j) = (0, 0);
                while i < a.len() && j < b.len() {
                    if a[i].0 < b[j].0 {
                        out.push(a[i]);
                        i += 1;
                    } else if b[j].0 < a[i].0 {
                        out.push(b[j]);
                        j += 1;
                    } else {
                        out.push((a[i].0, a[i].1 + b[j].1));
                        i += 1;
                        j += 1;
                    }
                }
                out.extend_from_slice(&a[i..]);
                out.extend_from_slice(&b[j..]);
                if out.len() * 4 > len {
                    let mut dense = vec![0.0; len];
                    add_entries(&mut dense, &out);
                    Sums::Dense(dense)
                } else {
                    Sums::Sparse(out)
                }
            }
        };
        for (a, b) in self.weight.iter_mut().zip(&other.weight) {
            *a += b;
        }
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
        self.rechecks += other.rechecks;
        self
    }

    /// The dense partial the engine updates the centres from.
    fn into_dense(self, k: usize, d: usize) -> LloydPartial {
        let mut p = LloydPartial::zeros(k, d);
        match self.sums {
            Sums::Dense(v) => p.sums = v,
            Sums::Sparse(v) => add_entries(&mut p.sums, &v),
        }
        p.weight = self.weight;
        p.count = self.count;
        p.inertia = self.inertia;
        p.changed = self.changed;
        p.rechecks = self.rechecks;
        p
    }
}

/// The chunk's M-step statistics, as `crate::pass::accumulate` computes them
/// on the dense rows (see the module documentation).
fn accumulate_sparse(
    ws: &mut Workspace,
    start_row: usize,
    weights: Option<&[f32]>,
    k: usize,
    d: usize,
) -> SparsePartial {
    let n = ws.rows.n_rows();
    let w = weights.map(|w| &w[start_row..start_row + n]);
    let mut p = SparsePartial {
        sums: Sums::Sparse(Vec::new()),
        weight: vec![0.0; k],
        count: vec![0; k],
        inertia: 0.0,
        changed: 0,
        rechecks: 0,
    };
    let mut inertia = 0.0f64;
    ws.keys.clear();
    ws.terms.clear();
    for i in 0..n {
        let li = ws.labels[i] as usize;
        let wi = w.map_or(1.0, |w| f64::from(w[i]));
        inertia += wi * f64::from(ws.dist[i]);
        p.weight[li] += wi;
        p.count[li] += 1;
        let (cols, vals) = ws.rows.row(i);
        let base = (li * d) as u64;
        for (&c, &x) in cols.iter().zip(vals) {
            ws.keys.push((base + u64::from(c), ws.terms.len() as u32));
            ws.terms.push(if w.is_some() {
                wi * f64::from(x)
            } else {
                f64::from(x)
            });
        }
    }
    p.inertia = inertia;
    // (key, position): the positions are distinct, so this order is the
    // stable one, row order within a key.
    ws.keys.sort_unstable();
    let mut sums: Vec<(u64, f64)> = Vec::new();
    for &(key, at) in &ws.keys {
        let t = ws.terms[at as usize];
        match sums.last_mut() {
            Some(last) if last.0 == key => last.1 += t,
            _ => sums.push((key, 0.0 + t)),
        }
    }
    p.sums = Sums::Sparse(sums);
    p
}

/// [`crate::pass::lloyd_pass`] on sparse rows: the same labels and
/// statistics, bit for bit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lloyd_pass<S: DataSource + ?Sized>(
    source: &S,
    sp: &dyn SparseSource,
    chunking: Chunking,
    options: PassOptions<'_>,
    centers: &PackedCenters,
    weights: Option<&[f32]>,
    labels: &mut [u32],
    per_row: usize,
) -> Result<LloydPartial> {
    let (k, d) = (centers.k(), centers.d());
    let sc = SparseCenters::new(centers);
    let ranges = RangesOnly(source);
    let partial = map_reduce_into(
        &ranges,
        chunking,
        options,
        labels,
        per_row,
        |chunk, old| {
            with_workspace(|ws| {
                let rechecks = assign_chunk_sparse(sp, &chunk, centers, &sc, ws)?;
                let n = chunk.n_rows;
                let changed = relabel(old, per_row, &ws.labels[..n]);
                let mut p = accumulate_sparse(ws, chunk.start_row, weights, k, d);
                p.changed = changed;
                p.rechecks = rechecks;
                Ok(p)
            })
        },
        |a, b| a.merge(b, k * d),
    )?;
    Ok(partial.map_or_else(|| LloydPartial::zeros(k, d), |p| p.into_dense(k, d)))
}

/// [`crate::pass::inertia_pass`] on sparse rows.
pub(crate) fn inertia_pass<S: DataSource + ?Sized>(
    source: &S,
    sp: &dyn SparseSource,
    chunking: Chunking,
    options: PassOptions<'_>,
    centers: &PackedCenters,
    weights: Option<&[f32]>,
) -> Result<f64> {
    let sc = SparseCenters::new(centers);
    let total = map_reduce(
        &RangesOnly(source),
        chunking,
        options,
        |chunk| {
            with_workspace(|ws| {
                assign_chunk_sparse(sp, &chunk, centers, &sc, ws)?;
                Ok(super::chunk_inertia(
                    &ws.dist[..chunk.n_rows],
                    weights,
                    chunk.start_row,
                ))
            })
        },
        |a, b| a + b,
    )?;
    Ok(total.unwrap_or(0.0))
}

/// `(dist, row, label)` of the rows [`farthest_points`] keeps.
type Farthest = Vec<(f32, usize, u32)>;

/// Each row's label and distance on sparse rows, for
/// [`crate::pass::farthest_points`]: `(dist, row, label)` per row of the
/// chunk, reduced by `keep`.
pub(crate) fn farthest_points<S: DataSource + ?Sized>(
    source: &S,
    sp: &dyn SparseSource,
    chunking: Chunking,
    centers: &PackedCenters,
    keep: &(dyn Fn(Farthest) -> Farthest + Sync),
) -> Result<Farthest> {
    let sc = SparseCenters::new(centers);
    let top = map_reduce(
        &RangesOnly(source),
        chunking,
        PassOptions::default(),
        |chunk| {
            with_workspace(|ws| {
                assign_chunk_sparse(sp, &chunk, centers, &sc, ws)?;
                let v = (0..chunk.n_rows)
                    .map(|i| (ws.dist[i], chunk.start_row + i, ws.labels[i]))
                    .collect();
                Ok(keep(v))
            })
        },
        |mut a, b| {
            a.extend(b);
            keep(a)
        },
    )?;
    Ok(top.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    use mmclust_core::ArraySource;
    use mmclust_core::parallel::with_threads;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::model::KMeansModel;
    use crate::params::{Algorithm, Init, KMeansParams, Metric};

    /// A CSR matrix in memory, canonical, readable densely and sparsely.
    struct Csr {
        d: usize,
        ptr: Vec<usize>,
        cols: Vec<u32>,
        vals: Vec<f32>,
    }

    impl DataSource for Csr {
        fn n_rows(&self) -> usize {
            self.ptr.len() - 1
        }
        fn n_cols(&self) -> usize {
            self.d
        }
        fn rows<'a>(
            &'a self,
            range: Range<usize>,
            scratch: &'a mut Vec<f32>,
        ) -> mmclust_core::Result<&'a [f32]> {
            scratch.clear();
            scratch.resize(range.len() * self.d, 0.0);
            for (i, r) in range.enumerate() {
                for k in self.ptr[r]..self.ptr[r + 1] {
                    scratch[i * self.d + self.cols[k] as usize] = self.vals[k];
                }
            }
            Ok(&scratch[..])
        }
        fn name(&self) -> String {
            "csr".into()
        }
        fn sparse(&self) -> Option<&dyn SparseSource> {
            Some(self)
        }
    }

    impl SparseSource for Csr {
        fn sparse_rows(
            &self,
            range: Range<usize>,
            out: &mut SparseRows,
        ) -> mmclust_core::Result<()> {
            out.clear(range.start);
            for r in range {
                out.cols
                    .extend_from_slice(&self.cols[self.ptr[r]..self.ptr[r + 1]]);
                out.vals
                    .extend_from_slice(&self.vals[self.ptr[r]..self.ptr[r + 1]]);
                out.end_row();
            }
            Ok(())
        }
    }

    /// Documents: `topics` vocabularies of `d / topics` words, each row
    /// `per_row` words, most from its topic, TF-like counts times an
    /// IDF-like weight.
    fn documents(n: usize, d: usize, topics: usize, per_row: usize, seed: u64) -> Csr {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let vocab = d / topics;
        let (mut ptr, mut cols, mut vals) = (vec![0], Vec::new(), Vec::new());
        for _ in 0..n {
            let t = rng.gen_range(0..topics);
            let mut row: Vec<u32> = (0..per_row)
                .map(|_| {
                    if rng.gen_bool(0.7) {
                        (t * vocab + rng.gen_range(0..vocab)) as u32
                    } else {
                        rng.gen_range(0..d) as u32
                    }
                })
                .collect();
            row.sort_unstable();
            row.dedup();
            for c in row {
                cols.push(c);
                let tf = rng.gen_range(1..4) as f32;
                vals.push(tf * (1.0 + (c % 7) as f32 * 0.37));
            }
            ptr.push(cols.len());
        }
        Csr { d, ptr, cols, vals }
    }

    fn untimed(m: KMeansModel) -> KMeansModel {
        KMeansModel {
            stats_seconds: 0.0,
            init_seconds: 0.0,
            iter_seconds: 0.0,
            fit_seconds: 0.0,
            // The pre-screens differ, so do the rows they re-check.
            rechecks: 0,
            ..m
        }
    }

    /// Lloyd (and a bounded variant's warm-up passes) on the sparse rows
    /// gives the model of the dense copy bit for bit: cosine and Euclidean,
    /// k-means++, random and given centres, with and without weights, on 1
    /// and 2 threads; short chunks, so that sparse partials meet dense ones
    /// in the merge tree.
    #[test]
    fn sparse_passes_give_the_dense_model_bit_for_bit() {
        let (n, d, k) = (700, 3000, 8);
        let csr = documents(n, d, k, 24, 11);
        assert!(sparse_of(&csr).is_some());
        let mut scratch = Vec::new();
        let dense_rows = csr.rows(0..n, &mut scratch).unwrap().to_vec();
        let dense = ArraySource::from_slice(&dense_rows, n, d).unwrap();
        assert!(sparse_of(&dense).is_none());
        let weights: Vec<f32> = (0..n).map(|i| ((i * 7) % 5) as f32 * 0.5).collect();
        let given: Vec<f32> = (0..k)
            .flat_map(|j| dense_rows[j * 37 * d..(j * 37 + 1) * d].to_vec())
            .collect();
        let chunking = mmclust_core::parallel::Chunking::with_rows(16).unwrap();
        let mut checked = 0;
        for metric in [Metric::Cosine, Metric::Euclidean] {
            for init in [
                Init::KMeansPlusPlus,
                Init::Random,
                Init::Given(given.clone()),
            ] {
                for algorithm in [Algorithm::Lloyd, Algorithm::Hamerly] {
                    for w in [None, Some(&weights[..])] {
                        let params = KMeansParams::new(k)
                            .metric(metric)
                            .init(init.clone())
                            .algorithm(algorithm.clone())
                            .max_iter(12)
                            .seed(5)
                            .chunking(chunking);
                        let fit = |src: &dyn DataSource, threads| {
                            with_threads(Some(threads), || match w {
                                Some(w) => params.fit_weighted(src, w),
                                None => params.fit(src),
                            })
                            .unwrap()
                            .unwrap()
                        };
                        let want = untimed(fit(&dense, 1));
                        for threads in [1, 2] {
                            let got = untimed(fit(&csr, threads));
                            let what =
                                format!("{params:?} weights {} threads {threads}", w.is_some());
                            let bits =
                                |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                            assert_eq!(bits(&got.centers), bits(&want.centers), "{what}: centres");
                            assert_eq!(
                                got.inertia.to_bits(),
                                want.inertia.to_bits(),
                                "{what}: inertia"
                            );
                            assert_eq!(got, want, "{what}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 48);
    }

    /// The default algorithm and initialisation: the dense model too.
    #[test]
    fn default_parameters_give_the_dense_model() {
        let (n, d, k) = (300, 2000, 6);
        let csr = documents(n, d, k, 30, 3);
        let params = KMeansParams::new(k)
            .metric(Metric::Cosine)
            .max_iter(8)
            .seed(2);
        let model = params.fit(&csr).unwrap();
        let mut scratch = Vec::new();
        let dense_rows = csr.rows(0..n, &mut scratch).unwrap().to_vec();
        let dense = ArraySource::from_slice(&dense_rows, n, d).unwrap();
        let want = params.fit(&dense).unwrap();
        assert_eq!(untimed(model), untimed(want));
    }
}

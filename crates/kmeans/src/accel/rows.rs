//! What Hamerly and Yinyang share on a chunk: the per-worker scratch, the
//! gathering of the rows whose bounds fail, the exact scan, and the
//! distances of the rows whose label changed.

use std::cell::Cell;

use mmclust_core::kernel::dist_sq_to_labels;
use mmclust_core::kernel::top2::{Top2, translate_rows};
use mmclust_core::parallel::Chunk;

use mmclust_core::isa::Isa;
use mmclust_core::kernel::certify::RowErr;
use mmclust_core::kernel::reference;

use super::plan::PassPlan;
use super::yinyang::Best;

/// Per-worker buffers of a bounded pass.
#[derive(Default)]
pub(super) struct AccelScratch {
    pub(super) labels: Vec<u32>,
    pub(super) dist: Vec<f32>,
    /// Yinyang: running best of each failing row.
    pub(super) best: Vec<Best>,
    /// Rows of `xs` to run the kernel on.
    pub(super) sel: Vec<u32>,
    /// Rows (within the chunk) whose filters failed.
    pub(super) fail32: Vec<u32>,
    /// Translated failing rows, their norms, error terms and kernel results.
    pub(super) xs: Vec<f32>,
    pub(super) nx: Vec<f32>,
    pub(super) err: Vec<RowErr>,
    pub(super) top: Vec<Top2>,
    /// Yinyang: the failing rows (indices into `fail32`) each group scans
    /// (`cnt[g]` of them from `flat[g·nf]`), and where each group's results
    /// start in `top`.
    pub(super) flat: Vec<u32>,
    pub(super) cnt: Vec<usize>,
    pub(super) offs: Vec<usize>,
    /// Yinyang: each row's least bound after the drift update.
    pub(super) least: Vec<f32>,
    /// Rows whose label changed: gathered, their labels and distances.
    pub(super) cx: Vec<f32>,
    pub(super) cl: Vec<u32>,
    pub(super) cd: Vec<f32>,
    /// Exact `f64` distances of a row that needs the exact scan.
    pub(super) exact: Vec<f64>,
    /// Rows sent to the exact scan since the chunk began.
    pub(super) rechecks: u64,
}

thread_local! {
    static SCRATCH: Cell<Option<Box<AccelScratch>>> = const { Cell::new(None) };
}

pub(super) fn with_scratch<R>(f: impl FnOnce(&mut AccelScratch) -> R) -> R {
    let mut s = SCRATCH.with(Cell::take).unwrap_or_default();
    let r = f(&mut s);
    SCRATCH.with(|c| c.set(Some(s)));
    r
}

/// Gathers the chunk's rows `rows`, translated by the plan's `mu`, into
/// `ws.xs`, with their error terms in `ws.err`.
pub(super) fn gather(plan: &PassPlan<'_>, chunk: &Chunk<'_>, rows: &[u32], ws: &mut AccelScratch) {
    let (m, d) = (rows.len(), plan.d);
    ws.xs.resize(m * d, 0.0);
    ws.nx.resize(m, 0.0);
    translate_rows(chunk.data, d, rows, &plan.mu, &mut ws.xs, &mut ws.nx);
    ws.err.clear();
    ws.err.extend(ws.nx.iter().map(|&nx| plan.bound.row(nx)));
}

/// The reference distances `D` ([`reference`](mod@reference)) of `x` to every centre, into
/// `out`; returns the reference label (lowest index among equal values).
/// Counted in `rechecks`.
pub(super) fn exact_scan(
    plan: &PassPlan<'_>,
    x: &[f32],
    out: &mut Vec<f64>,
    rechecks: &mut u64,
) -> u32 {
    *rechecks += 1;
    reference::nearest_with(Isa::current(), x, plan.centers, plan.k, out).0
}

/// The labels of the chunk's rows before the pass, for [`dists_of_changed`]:
/// none (`u32::MAX`, so every distance is computed) on a first pass, whose
/// `ws.dist` holds no own-centre distances even where the state holds labels
/// (from the warm-up's Lloyd passes).
pub(super) fn old_labels<'s>(
    plan: &PassPlan<'_>,
    state: &'s [u32],
    per_row: usize,
) -> impl Iterator<Item = u32> + 's {
    let first = plan.first;
    state
        .iter()
        .step_by(per_row)
        .map(move |&l| if first { u32::MAX } else { l })
}

/// The squared distances of the chunk's rows to their new labels
/// (`ws.labels`) into `ws.dist`, with the arithmetic of Lloyd's kernel:
/// rows whose label is unchanged (`old[i]`) already hold theirs (the kernel
/// computes each row on its own, so the bits would be the same), the others
/// are gathered and computed.
pub(super) fn dists_of_changed(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    old: impl Iterator<Item = u32>,
    ws: &mut AccelScratch,
) {
    let n = chunk.n_rows;
    ws.sel.clear();
    ws.sel.extend(
        old.zip(&ws.labels[..n])
            .enumerate()
            .filter(|&(_, (o, &l))| o != l)
            .map(|(i, _)| i as u32),
    );
    if ws.sel.len() == n {
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        return;
    }
    let m = ws.sel.len();
    if m == 0 {
        return;
    }
    ws.cx.clear();
    ws.cl.clear();
    for &i in &ws.sel {
        ws.cx.extend_from_slice(chunk.row(i as usize));
        ws.cl.push(ws.labels[i as usize]);
    }
    ws.cd.resize(m, 0.0);
    dist_sq_to_labels(&ws.cx, plan.packed, &ws.cl, &mut ws.cd);
    for (&i, &v) in ws.sel.iter().zip(&ws.cd) {
        ws.dist[i as usize] = v;
    }
}

//! Hamerly's bounds on one chunk: one lower bound per row, on the distance to
//! the second-nearest centre.

use mmclust_core::kernel::dist_sq_to_labels;
use mmclust_core::kernel::top2::{Top2, nearest_two};
use mmclust_core::parallel::Chunk;

use super::bounds::{lower_f64, sub_down};
use super::plan::PassPlan;
use super::rows::{AccelScratch, dists_of_changed, exact_scan, gather, old_labels};

/// Rows gathered per kernel call of Hamerly.
const HAMERLY_BLOCK: usize = 64;

/// Hamerly on one chunk: labels and squared distances into `ws`, the lower
/// bounds updated in `state` (label, bound per row; the labels are updated by
/// the caller). Returns the distances computed.
///
/// The rows whose bounds fail are translated and gathered into blocks, and
/// their nearest and second-nearest centres come from [`nearest_two`]; a row
/// whose two nearest are too close for the fast values' error to separate
/// them is decided by the exact `f64` scan.
pub(super) fn hamerly_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, k) = (chunk.n_rows, plan.k);
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.fail32.clear();
    let mut evals = 0u64;
    if plan.first {
        ws.fail32.extend(0..n as u32);
    } else {
        for (l, st) in ws.labels.iter_mut().zip(state.chunks_exact(2)) {
            *l = st[0];
        }
        // Every row's exact distance to its own centre: the upper bound.
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        evals += n as u64;
        let (m1, j1, m2) = plan.max_drift;
        for (i, st) in state.chunks_exact_mut(2).enumerate() {
            let a = st[0] as usize;
            let drift = if a == j1 { m2 } else { m1 };
            let lb = sub_down(f32::from_bits(st[1]), drift);
            st[1] = lb.to_bits();
            if !plan.below(ws.dist[i], lb.max(plan.half_sep[a])) {
                ws.fail32.push(i as u32);
            }
        }
    }
    if ws.fail32.is_empty() {
        return evals;
    }
    let panels = &plan.panels[0];
    ws.sel.clear();
    ws.sel.extend(0..HAMERLY_BLOCK as u32);
    ws.top.resize(
        HAMERLY_BLOCK,
        Top2 {
            j: 0,
            v1: 0.0,
            v2: 0.0,
        },
    );
    let fail = std::mem::take(&mut ws.fail32);
    for rows in fail.chunks(HAMERLY_BLOCK) {
        gather(plan, chunk, rows, ws);
        let m = rows.len();
        nearest_two(&ws.xs, &ws.sel[..m], panels, &mut ws.top[..m]);
        evals += (m * k) as u64;
        for ((&i, t), &e) in rows.iter().zip(&ws.top[..m]).zip(&ws.err) {
            let i = i as usize;
            let lb2 = e.lower(t.v2);
            let (label, lb) = if e.upper_below(t.v1, lb2) {
                (t.j, lb2)
            } else {
                // Too close to call (or not finite): the exact scan.
                let j = exact_scan(plan, chunk.row(i), &mut ws.exact, &mut ws.rechecks);
                evals += k as u64;
                let second = ws
                    .exact
                    .iter()
                    .enumerate()
                    .filter(|&(l, _)| l != j as usize)
                    .map(|(_, &v)| v)
                    .fold(f64::INFINITY, f64::min);
                (j, lower_f64(second))
            };
            state[2 * i + 1] = lb.to_bits();
            ws.labels[i] = label;
        }
    }
    ws.fail32 = fail;
    // The inertia's shares, with the arithmetic of Lloyd's kernel.
    dists_of_changed(plan, chunk, old_labels(plan, state, 2), ws);
    evals
}

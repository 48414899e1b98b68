//! Yinyang's bounds on one chunk: one lower bound per row and centre group.

use mmclust_core::kernel::dist_sq_to_labels;
use mmclust_core::kernel::top2::{Top2, decay_bounds, nearest_two};
use mmclust_core::parallel::Chunk;

use super::bounds::lower_f64;
use super::plan::PassPlan;
use super::rows::{AccelScratch, dists_of_changed, exact_scan, gather, old_labels};

/// Yinyang's best candidate of a row whose global filter failed, and what
/// is known of the other centres examined.
#[derive(Debug, Clone, Copy)]
pub(super) struct Best {
    /// Estimated squared distance, index and group of the best candidate
    /// (`u32::MAX`: none yet).
    pub(super) est: f64,
    pub(super) j: u32,
    pub(super) g: u32,
    /// Its fast value and its group's second least (when it came from the
    /// kernel), and the lower bound from `v1` (`+inf` when it did not).
    pub(super) v1: f32,
    pub(super) v2: f32,
    pub(super) lb1: f32,
    /// The least new bound of the scanned groups.
    pub(super) others: f32,
    /// The row's label before the pass (`u32::MAX` on the first), a safe
    /// upper bound on its exact distance, and whether its group was scanned.
    pub(super) a: u32,
    pub(super) ua: f32,
    pub(super) a_scanned: bool,
    /// A fast value was not finite: decide by the exact scan.
    pub(super) bad: bool,
}

/// Yinyang on one chunk. State per row: label, then one lower bound per
/// group (on the distance to every centre of the group but the label).
///
/// 1. Global filter: every row's exact distance to its own centre `a`
///    (Lloyd's direct kernel) against the least of its group bounds, after
///    the drift update, and against half the separation of `a`.
/// 2. Group filter, once per failing row over its `t` contiguous bounds: the
///    groups whose bound is below the upper bound `u_a` on the own distance
///    are *scanned*; the row index goes to each scanned group's list.
/// 3. One kernel call per group over its list: each scanned group's nearest
///    two centres by fast value.
/// 4. Per row, the best candidate: the scanned groups' winners, and `a`
///    itself when its group was not scanned (by its exact distance). The new
///    bound of a scanned group is the lower bound of its second nearest for
///    the best's group, of its nearest for the others; `a`'s group, when not
///    scanned and the label moves, takes `a`'s lower bound in too.
///
/// The label is the best when its upper bound is below every scanned group's
/// new bound and, when `a`'s group was not scanned and the best is not `a`,
/// below `a`'s lower bound. A group not scanned has a bound at least `u_a`,
/// and the best is then no farther than `a` (certified, or it is `a`), so it
/// holds no nearer centre either (equality is an exact tie). Otherwise (a near
/// tie, a non-finite fast value) the exact `f64` scan decides.
///
/// No local filter (skipping single centres of a scanned group): a group's
/// centres sit in the lanes of one or two vector registers, so a skipped
/// centre saves no work.
pub(super) fn yinyang_chunk(
    plan: &PassPlan<'_>,
    chunk: &Chunk<'_>,
    state: &mut [u32],
    ws: &mut AccelScratch,
) -> u64 {
    let (n, t) = (chunk.n_rows, plan.t);
    let per_row = 1 + t;
    ws.labels.resize(n, 0);
    ws.dist.resize(n, 0.0);
    ws.best.clear();
    ws.cnt.clear();
    let mut evals = 0u64;
    let none = Best {
        est: f64::INFINITY,
        j: u32::MAX,
        g: u32::MAX,
        v1: f32::INFINITY,
        v2: f32::INFINITY,
        lb1: f32::INFINITY,
        others: f32::INFINITY,
        a: u32::MAX,
        ua: f32::INFINITY,
        a_scanned: true,
        bad: false,
    };
    // Group `g`'s list: `ws.flat[g·nf..][..ws.cnt[g]]` (written without
    // branches: every slot is written, the count moves when the test holds).
    let nf;
    if plan.first {
        nf = n;
        ws.fail32.clear();
        ws.fail32.extend(0..n as u32);
        ws.best.resize(n, none);
        ws.flat.clear();
        for _ in 0..t {
            ws.flat.extend(0..n as u32);
        }
        ws.cnt.resize(t, n);
    } else {
        for (l, st) in ws.labels.iter_mut().zip(state.chunks_exact(per_row)) {
            *l = st[0];
        }
        // Every row's exact distance to its own centre: the upper bound.
        dist_sq_to_labels(chunk.data, plan.packed, &ws.labels[..n], &mut ws.dist[..n]);
        evals += n as u64;
        ws.least.resize(n, 0.0);
        decay_bounds(state, per_row, &plan.group_drift, &mut ws.least[..n]);
        // Global filter.
        ws.fail32.resize(n, 0);
        let mut m = 0;
        for (i, ((&l, &sq), &least)) in ws.labels[..n]
            .iter()
            .zip(&ws.dist[..n])
            .zip(&ws.least[..n])
            .enumerate()
        {
            ws.fail32[m] = i as u32;
            m += usize::from(!plan.below(sq, least.max(plan.half_sep[l as usize])));
        }
        nf = m;
        ws.fail32.truncate(nf);
        // Group filter.
        ws.flat.resize(t * nf, 0);
        ws.cnt.resize(t, 0);
        for (c, &i) in ws.fail32.iter().enumerate() {
            let i = i as usize;
            let st = &state[i * per_row..][..per_row];
            let a = st[0] as usize;
            let sq = ws.dist[i];
            let ua = plan.upper(sq);
            for (g, (&b, cnt)) in st[1..].iter().zip(&mut ws.cnt).enumerate() {
                ws.flat[g * nf + *cnt] = c as u32;
                *cnt += usize::from(f32::from_bits(b) < ua);
            }
            let ga = plan.group_of[a] as usize;
            let a_scanned = f32::from_bits(st[1 + ga]) < ua;
            ws.best.push(Best {
                est: if a_scanned {
                    f64::INFINITY
                } else {
                    f64::from(sq)
                },
                j: if a_scanned { u32::MAX } else { a as u32 },
                g: if a_scanned { u32::MAX } else { ga as u32 },
                a: a as u32,
                ua,
                a_scanned,
                ..none
            });
        }
    }
    if nf == 0 {
        return evals;
    }
    let fail = std::mem::take(&mut ws.fail32);
    gather(plan, chunk, &fail, ws);
    // Kernel: each group over its list, results side by side.
    ws.offs.clear();
    let total: usize = ws.cnt.iter().sum();
    ws.top.resize(
        total,
        Top2 {
            j: 0,
            v1: 0.0,
            v2: 0.0,
        },
    );
    let mut at = 0;
    for (g, &s) in ws.cnt.iter().enumerate() {
        ws.offs.push(at);
        if s > 0 {
            let list = &ws.flat[g * nf..][..s];
            nearest_two(&ws.xs, list, &plan.panels[g], &mut ws.top[at..at + s]);
            evals += (s * plan.members[g].len()) as u64;
        }
        at += s;
    }
    ws.offs.push(at);
    // The best candidate of each row, and the scanned groups' new bounds
    // (in the same sweep): every scanned group first takes the lower bound
    // of its nearest; the least of these over the groups that are not the
    // best's goes to `others` (a group's enters when another overtakes it),
    // and the best's group takes the bound of its second nearest below.
    for g in 0..t {
        let members = &plan.members[g];
        let list = &ws.flat[g * nf..][..ws.cnt[g]];
        for (&c, top) in list.iter().zip(&ws.top[ws.offs[g]..ws.offs[g + 1]]) {
            let c = c as usize;
            let best = &mut ws.best[c];
            if !top.v1.is_finite() {
                // Decided by the exact scan, which rewrites every bound.
                best.bad = true;
                continue;
            }
            let lb = ws.err[c].lower(top.v1);
            state[fail[c] as usize * per_row + 1 + g] = lb.to_bits();
            let est = f64::from(ws.nx[c]) + f64::from(top.v1);
            if est < best.est {
                best.others = best.others.min(best.lb1);
                best.lb1 = lb;
                best.est = est;
                best.j = members[top.j as usize];
                best.g = g as u32;
                best.v1 = top.v1;
                best.v2 = top.v2;
            } else {
                best.others = best.others.min(lb);
            }
        }
    }
    for ((&i, best), &e) in fail.iter().zip(&ws.best).zip(&ws.err) {
        let i = i as usize;
        let row = &mut state[i * per_row..][..per_row];
        let mut others = best.others;
        if best.lb1 != f32::INFINITY {
            // The best came from a scanned group: its second nearest.
            let lb = e.lower(best.v2);
            row[1 + best.g as usize] = lb.to_bits();
            others = others.min(lb);
        }
        let moved = best.j != best.a;
        let ub = if moved { e.upper(best.v1) } else { best.ua };
        // The old label's lower bound, when its group was not scanned.
        let la = if moved && !best.a_scanned {
            plan.lower(ws.dist[i])
        } else {
            f32::INFINITY
        };
        others = others.min(la);
        let label = if !best.bad && best.j != u32::MAX && ub < others {
            if moved && !best.a_scanned {
                // The old label now counts in its group's bound.
                let slot = &mut row[1 + plan.group_of[best.a as usize] as usize];
                *slot = f32::from_bits(*slot).min(la).to_bits();
            }
            best.j
        } else {
            // Too close to call: the exact scan, and every group's bound
            // from it.
            let j = exact_scan(plan, chunk.row(i), &mut ws.exact, &mut ws.rechecks);
            evals += plan.k as u64;
            for (g, members) in plan.members.iter().enumerate() {
                let least = members
                    .iter()
                    .filter(|&&l| l != j)
                    .map(|&l| ws.exact[l as usize])
                    .fold(f64::INFINITY, f64::min);
                row[1 + g] = lower_f64(least).to_bits();
            }
            j
        };
        ws.labels[i] = label;
    }
    ws.fail32 = fail;
    // The inertia's shares, with the arithmetic of Lloyd's kernel (and of
    // Hamerly: equal labels give equal inertia).
    dists_of_changed(plan, chunk, old_labels(plan, state, per_row), ws);
    evals
}

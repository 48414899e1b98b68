#!/usr/bin/env python3
"""Kernel K-means and spectral clustering against scikit-learn, on moons and rings.

Run it through ``scripts/bench_kernel_peers.sh``. For each n (default 3e5 and 1e6) and
shape (moons, rings), with the data from ``mmclust generate``, it runs, each in its own
process under ``/usr/bin/time -v`` (wall time and peak RSS; the peak anonymous memory,
RssAnon + RssShmem, sampled every 20 ms beside it), ``--reps`` times:

* ``mmclust spectral FILE -k 2`` (defaults: rbf, local γ, M = 300 landmarks);
* ``mmclust kmeans FILE -k 2 --kernel rbf`` (its own default γ);
* ``mmclust kmeans FILE -k 2`` (plain K-means);
* scikit-learn ``Nystroem(kernel="rbf", gamma=γ, n_components=M)`` + ``KMeans(k,
  n_init=1)`` with the γ mmclust's kernel K-means chose (read from its ``--json``), and
  again with the γ of mmclust's spectral run.

It reports the adjusted Rand index against the generating labels (scikit-learn's
``adjusted_rand_score``), and the median wall time and peak RSS over the repetitions, as
a Markdown table on stdout (and ``--out``). ``--no-spectral`` leaves out the spectral
run and the peer with its γ (kernel K-means' targets only). Timings need a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def anon_kib(pid: int) -> int:
    """RssAnon + RssShmem of pid's children (the command under /usr/bin/time), in KiB."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for c in children:
            for line in Path(f"/proc/{c}/status").read_text().splitlines():
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def timed(cmd: list[str]) -> tuple[float, float, str, float]:
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS MiB, stdout, peak
    anonymous memory MiB). Peak RSS counts the pages of mapped files too (a scratch
    file's, the input's); the anonymous peak (RssAnon + RssShmem, sampled every 20 ms)
    counts the heap only."""
    p = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    peak = 0
    while p.poll() is None:
        peak = max(peak, anon_kib(p.pid))
        time.sleep(0.02)
    out, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return seconds, rss_kb / 1024.0, out, peak / 1024.0


def peer(args: argparse.Namespace) -> None:
    """The scikit-learn pipeline, in this process (called as a subprocess)."""
    from sklearn.cluster import KMeans
    from sklearn.kernel_approximation import Nystroem

    x = np.load(args.data)
    phi = Nystroem(kernel="rbf", gamma=args.gamma, n_components=args.m,
                   random_state=args.seed).fit_transform(x)
    labels = KMeans(n_clusters=args.k, n_init=1, random_state=args.seed).fit_predict(phi)
    np.save(args.labels_out, labels.astype(np.int32))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "target/release/mmclust"))
    ap.add_argument("--dir", default=str(REPO / "bench-out/kernel"))
    ap.add_argument("--n", default="300000,1000000")
    ap.add_argument("--shapes", default="moons,rings")
    ap.add_argument("--landmarks", type=int, default=300)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-spectral", action="store_true",
                    help="kernel K-means and its peer only (no spectral runs)")
    # The peer subprocess.
    ap.add_argument("--peer", action="store_true")
    ap.add_argument("--data")
    ap.add_argument("--gamma", type=float)
    ap.add_argument("--m", type=int)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--labels-out")
    args = ap.parse_args()
    if args.peer:
        peer(args)
        return

    from sklearn.metrics import adjusted_rand_score

    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    m = str(args.landmarks)
    rows = []
    for n in [int(float(v)) for v in args.n.split(",")]:
        for shape in args.shapes.split(","):
            x = d / f"{shape}_{n}.npy"
            t = d / f"{shape}_{n}_truth.npy"
            if not (x.exists() and t.exists()):
                subprocess.run([args.bin, "generate", shape, "--n", str(n), "-o", str(x),
                                "--labels-out", str(t), "--seed", "1", "-q"], check=True)
            truth = np.load(t)
            lab = d / "labels.npy"
            engines = {
                "mmclust spectral": [args.bin, "spectral", str(x), "-k", "2", "--landmarks", m,
                                     "--labels-out", str(lab), "--json", "-q"],
                "mmclust kernel k-means": [args.bin, "kmeans", str(x), "-k", "2", "--kernel",
                                           "rbf", "--landmarks", m, "--labels-out", str(lab),
                                           "--json", "-q"],
                "mmclust k-means": [args.bin, "kmeans", str(x), "-k", "2",
                                    "--labels-out", str(lab), "--json", "-q"],
            }
            if args.no_spectral:
                del engines["mmclust spectral"]
            gammas = {}
            for name, cmd in engines.items():
                runs = []
                for rep in range(args.reps):
                    wall, rss, out, anon = timed(cmd + ["--seed", str(args.seed)])
                    runs.append((wall, rss, anon))
                summary = json.loads(out)
                if "gamma" in summary:
                    gammas[name] = summary["gamma"]
                ari = adjusted_rand_score(truth, np.load(lab))
                rows.append((n, shape, name, summary.get("gamma"), ari, runs))
                print(f"{n} {shape} {name}: ARI {ari:.4f}, wall {runs}", file=sys.stderr, flush=True)
            for src in ["mmclust kernel k-means", "mmclust spectral"]:
                if src not in gammas:
                    continue
                g = gammas[src]
                cmd = [sys.executable, __file__, "--peer", "--data", str(x), "--gamma", repr(g),
                       "--m", m, "--k", "2", "--labels-out", str(lab), "--seed", str(args.seed)]
                runs = []
                for _ in range(args.reps):
                    wall, rss, _out, anon = timed(cmd)
                    runs.append((wall, rss, anon))
                ari = adjusted_rand_score(truth, np.load(lab))
                rows.append((n, shape, f"sklearn Nystroem+KMeans (γ of {src})", g, ari, runs))
                print(f"{n} {shape} sklearn (γ of {src}): ARI {ari:.4f}, wall {runs}",
                      file=sys.stderr, flush=True)
            print(f"done n = {n} {shape}", file=sys.stderr)
    lines = [f"Moons and rings, k = 2, M = {args.landmarks} landmarks, medians of {args.reps} runs.",
             "", "| n | data | engine | γ | ARI | wall s | peak RSS MiB | peak anon MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for n, shape, name, g, ari, runs in rows:
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        anon = statistics.median(r[2] for r in runs)
        gs = "-" if g is None else f"{g:.4g}"
        lines.append(f"| {n:,} | {shape} | {name} | {gs} | {ari:.4f} | {wall:.2f} | {rss:.0f} "
                     f"| {anon:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

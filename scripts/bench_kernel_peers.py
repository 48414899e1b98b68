#!/usr/bin/env python3
"""Kernel K-means and spectral clustering against scikit-learn, on moons and rings.

Run it through ``scripts/bench_kernel_peers.sh``. For each n (default 3e5 and 1e6) and
shape (moons, rings), with the data from ``mmclust generate``, it runs, each in its own
process under ``/usr/bin/time -v`` (wall time and peak RSS), ``--reps`` times:

* ``mmclust spectral FILE -k 2`` (defaults: rbf, local γ, M = 300 landmarks);
* ``mmclust kmeans FILE -k 2 --kernel rbf`` (its own default γ);
* ``mmclust kmeans FILE -k 2`` (plain K-means);
* scikit-learn ``Nystroem(kernel="rbf", gamma=γ, n_components=M)`` + ``KMeans(k,
  n_init=1)`` with the γ mmclust's kernel K-means chose (read from its ``--json``), and
  again with the γ of mmclust's spectral run.

It reports the adjusted Rand index against the generating labels (scikit-learn's
``adjusted_rand_score``), and the median wall time and peak RSS over the repetitions, as
a Markdown table on stdout (and ``--out``). Timings need a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS MiB, stdout)."""
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return seconds, rss_kb / 1024.0, p.stdout


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
            gammas = {}
            for name, cmd in engines.items():
                runs = []
                for rep in range(args.reps):
                    wall, rss, out = timed(cmd + ["--seed", str(args.seed)])
                    runs.append((wall, rss))
                summary = json.loads(out)
                if "gamma" in summary:
                    gammas[name] = summary["gamma"]
                ari = adjusted_rand_score(truth, np.load(lab))
                rows.append((n, shape, name, summary.get("gamma"), ari, runs))
                print(f"{n} {shape} {name}: ARI {ari:.4f}, wall {runs}", file=sys.stderr, flush=True)
            for src in ["mmclust kernel k-means", "mmclust spectral"]:
                g = gammas[src]
                cmd = [sys.executable, __file__, "--peer", "--data", str(x), "--gamma", repr(g),
                       "--m", m, "--k", "2", "--labels-out", str(lab), "--seed", str(args.seed)]
                runs = [timed(cmd)[:2] for _ in range(args.reps)]
                ari = adjusted_rand_score(truth, np.load(lab))
                rows.append((n, shape, f"sklearn Nystroem+KMeans (γ of {src})", g, ari, runs))
                print(f"{n} {shape} sklearn (γ of {src}): ARI {ari:.4f}, wall {runs}",
                      file=sys.stderr, flush=True)
            print(f"done n = {n} {shape}", file=sys.stderr)
    lines = [f"Moons and rings, k = 2, M = {args.landmarks} landmarks, medians of {args.reps} runs.",
             "", "| n | data | engine | γ | ARI | wall s | peak RSS MiB |", "|---|---|---|---|---|---|---|"]
    for n, shape, name, g, ari, runs in rows:
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        gs = "-" if g is None else f"{g:.4g}"
        lines.append(f"| {n:,} | {shape} | {name} | {gs} | {ari:.4f} | {wall:.2f} | {rss:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

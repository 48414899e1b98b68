#!/usr/bin/env python3
"""Lists import cycles between the top-level modules of each library crate.

A module is a top-level file or folder under crates/<crate>/src (`accel.rs` or
`accel/`, with everything below it); an edge M -> N is a `crate::N` path (or a
`super::N` path in a direct child of the crate root) in M's files, outside
`#[cfg(test)]` test modules. Prints each strongly connected component of two or
more modules; exits 1 when any crate named on the command line (default: every
crate) has one. Used by .ci/run for kmeans and gmm (issue 18: no module cycle).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates")


def modules(src):
    mods = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry in ("lib.rs", "main.rs"):
            continue
        if entry.endswith(".rs"):
            mods.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            for dirpath, _, files in os.walk(path):
                for f in files:
                    if f.endswith(".rs"):
                        mods.setdefault(entry, []).append(os.path.join(dirpath, f))
    return mods


def strip_tests(text):
    # Drop `#[cfg(test)] mod name { ... }` bodies (brace matching on the raw text).
    out, i = [], 0
    pat = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j


def edges(mods):
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            with open(f, encoding="utf-8") as fh:
                text = strip_tests(fh.read())
            text = re.sub(r"//[^\n]*", "", text)
            names = set(re.findall(r"\bcrate::(\w+)", text))
            for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
                names.update(re.findall(r"(?:^|,)\s*(\w+)", group))
            if os.path.dirname(f) == os.path.dirname(os.path.dirname(f) + "/x") and f.endswith(m + ".rs"):
                names.update(re.findall(r"\bsuper::(\w+)", text))
            for n in names:
                if n in graph and n != m:
                    graph[m].add(n)
    return graph


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    crates = sys.argv[1:] or sorted(os.listdir(ROOT))
    bad = False
    for c in crates:
        src = os.path.join(ROOT, c, "src")
        if not os.path.isdir(src):
            continue
        graph = edges(modules(src))
        found = sccs(graph)
        if found:
            bad = True
            for comp in found:
                inner = {m: sorted(graph[m] & set(comp)) for m in comp}
                print(f"{c}: cycle among {', '.join(comp)}: " + "; ".join(f"{m} -> {', '.join(v)}" for m, v in inner.items()))
        else:
            print(f"{c}: no module cycle")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

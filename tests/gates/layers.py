#!/usr/bin/env python3
"""tests/gates/layers.py - the layering gate (make lint, tests/gates.sh).

Reads every `#include "..."` under src/ and fails on either of:

  - an upward include: src/LAYERS lists the folders lowest first, and a
    file may include only headers of its own folder or of folders listed
    before it (cli/ may include manager/, never the other way round);
  - a cycle between files: a .c and its own .h are one node (fwd.c and
    fwd.h are "net/fwd"), an edge is an #include of another node's
    header, and any strongly connected component of more than one node
    is printed as a cycle, e.g. "ipc/ctl -> spec/hostdir -> ... -> ipc/ctl".

A file directly in src/ (the flat tree before issue 25) belongs to no
folder: that is reported too, and its cycles still are.

Usage: layers.py [ROOT]   (ROOT: the checkout, default: two levels up)
Exit status 1 with one line per finding; 0 and a summary otherwise.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    src = os.path.join(root, "src")
    layers_file = os.path.join(src, "LAYERS")
    layers = []
    if os.path.exists(layers_file):
        layers = [l.split("#")[0].strip() for l in open(layers_file)]
        layers = [l for l in layers if l]
    rank = {name: i for i, name in enumerate(layers)}

    files = []
    for dirpath, _, names in os.walk(src):
        for n in names:
            if n.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(dirpath, n), src))
    files.sort()
    known = set(files)

    problems = []
    if not layers:
        problems.append("src/LAYERS is missing: no folder order to check "
                        "(a flat src/?); cycles are still checked")
    edges = {}  # node -> set of nodes
    for f in files:
        node = f.rsplit(".", 1)[0]
        edges.setdefault(node, set())
        folder = os.path.dirname(f)
        if not layers:
            pass  # said once below
        elif folder not in rank:
            problems.append(f"src/{f}: folder '{folder or '.'}' is not in "
                            f"src/LAYERS ({' '.join(layers) or 'missing'})")
        text = open(os.path.join(src, f), errors="replace").read()
        for inc in INCLUDE.findall(text):
            # Quoted includes resolve against src/ (-Isrc), or beside the file.
            target = inc if inc in known else os.path.normpath(
                os.path.join(folder, inc))
            if target not in known:
                continue  # not ours (a system header included with quotes)
            tnode = target.rsplit(".", 1)[0]
            if tnode != node:
                edges[node].add(tnode)
            tfolder = os.path.dirname(target)
            if (folder in rank and tfolder in rank
                    and rank[tfolder] > rank[folder]):
                problems.append(
                    f"src/{f}: includes \"{inc}\", and {tfolder}/ is above "
                    f"{folder}/ (src/LAYERS: {' < '.join(layers)})")

    for cycle in cycles(edges):
        problems.append("include cycle: " + " -> ".join(cycle + [cycle[0]]))

    for p in problems:
        print(p)
    if problems:
        print(f"layers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    n_edges = sum(len(v) for v in edges.values())
    print(f"layers: {len(edges)} files in {len(layers)} folders "
          f"({' < '.join(layers)}), {n_edges} includes, none upward, no cycle")
    return 0


def cycles(edges):
    """One cycle per strongly connected component of more than one node
    (Tarjan), walked from its smallest node so the output is stable."""
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
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
                comps.append(set(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)

    out = []
    for comp in comps:
        start = min(comp)
        # Shortest path back to start inside the component (BFS).
        prev, queue, found = {start: None}, [start], None
        while queue and not found:
            v = queue.pop(0)
            for w in sorted(edges[v]):
                if w not in comp:
                    continue
                if w == start:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        path, v = [], found
        while v is not None:
            path.append(v)
            v = prev[v]
        out.append(list(reversed(path)))
    return sorted(out)


if __name__ == "__main__":
    sys.exit(main())

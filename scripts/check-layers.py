#!/usr/bin/env python3
"""check-layers.py: the engine's call graph, read from its object files, must
have no cycle between files and must respect the layer order.

Usage: scripts/check-layers.py BUILD "LAYER..." [OBJECT...]

BUILD is a build directory (build/release); LAYER... are engine/ folders,
bottom first, as engine/engine.mk declares them in ENGINE_LAYERS (`make
check-layers` passes them, with the objects of libengine.a and minillm).
Without OBJECTs, every object under BUILD/engine (tests aside) and
BUILD/tools is read. Each is read with nm: a file calls another when it
leaves undefined a global symbol that the other defines. A file belongs to the longest LAYER that is a prefix of its folder
(engine/kernels/ref/quant.c: kernels/ref); anything under tools/ stands above
every layer. Then:

  - a cycle of calls between files fails, naming the files around it;
  - a call from a file into a layer listed after its own fails, naming both;
  - an engine file in no listed layer fails.

Exit 0 when all holds, 1 otherwise (each problem on its own line), 2 on
usage errors or when nm fails.
"""
import os
import subprocess
import sys


def objects(build):
    """The (object path, source path) pairs of the engine and its tools."""
    found = []
    for top in ("engine", "tools"):
        root = os.path.join(build, top)
        for d, subdirs, files in os.walk(root):
            subdirs[:] = sorted(s for s in subdirs if s != "tests")
            for f in sorted(files):
                if f.endswith(".o"):
                    obj = os.path.join(d, f)
                    found.append((obj, os.path.relpath(obj, build)[:-2] + ".c"))
    return found


def symbols(obj):
    """(defined, undefined) global symbol sets of one object file."""
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check-layers: nm {obj}: {out.stderr.strip()}")
    defined, undefined = set(), set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCVWG":  # upper case: global (V, W: weak)
            defined.add(name)
    return defined, undefined


def call_graph(pairs):
    """file -> {file it calls: [symbols]} over the given objects."""
    defs, undefs = {}, {}
    owner = {}
    for obj, src in pairs:
        d, u = symbols(obj)
        defs[src], undefs[src] = d, u
        for s in d:
            owner.setdefault(s, src)
    graph = {src: {} for src in defs}
    for src, u in undefs.items():
        for s in sorted(u):
            dst = owner.get(s)
            if dst and dst != src:
                graph[src].setdefault(dst, []).append(s)
    return graph


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def loop_in(graph, comp):
    """One closed path through the component, starting at its first file."""
    members = set(comp)
    start = comp[0]
    path, seen = [start], {start}

    def walk(v):
        for w in sorted(graph[v]):
            if w == start and len(path) > 1:
                return True
            if w in members and w not in seen:
                seen.add(w)
                path.append(w)
                if walk(w):
                    return True
                path.pop()
        return False

    walk(start)
    return path + [start]


def layer_of(src, layers):
    """(rank, name) of a file's layer; tools/ stands above all; None: no layer."""
    if src.startswith("tools/"):
        return len(layers), "tools"
    folder = os.path.dirname(src)
    best = None
    for rank, name in enumerate(layers):
        prefix = "engine/" + name
        if folder == prefix or folder.startswith(prefix + "/"):
            if best is None or len(name) > len(best[1]):
                best = (rank, name)
    return best


def main(argv):
    if len(argv) < 3:
        print("usage: " + __doc__.strip().splitlines()[2].split(": ", 1)[1], file=sys.stderr)
        return 2
    build, layers = argv[1], argv[2].split()
    if argv[3:]:
        pairs = [(o, os.path.relpath(o, build)[:-2] + ".c") for o in argv[3:]]
    else:
        pairs = objects(build)
    if not pairs:
        print(f"check-layers: no object files under {build}/engine", file=sys.stderr)
        return 2
    graph = call_graph(pairs)
    problems = []

    for comp in cycles(graph):
        loop = loop_in(graph, comp)
        steps = []
        for a, b in zip(loop, loop[1:]):
            steps.append(f"{a} -> {b} ({', '.join(graph[a][b][:3])})")
        problems.append(f"call cycle between {loop[0]} and {loop[1]}: " + "; ".join(steps))

    for src in sorted(graph):
        mine = layer_of(src, layers)
        if mine is None:
            problems.append(f"{src} is in no layer of ENGINE_LAYERS ({' '.join(layers)})")
            continue
        for dst, syms in sorted(graph[src].items()):
            theirs = layer_of(dst, layers)
            if theirs is not None and theirs[0] > mine[0]:
                problems.append(f"layer {mine[1]} calls up into layer {theirs[1]}: {src} -> {dst} "
                                f"({', '.join(syms[:3])})")

    for p in problems:
        print("check-layers: " + p)
    n_edges = sum(len(v) for v in graph.values())
    if problems:
        print(f"check-layers: {len(problems)} problem(s) in {len(graph)} files, {n_edges} file-to-file calls")
        return 1
    print(f"check-layers: ok: {len(graph)} files, {n_edges} file-to-file calls, no cycle, "
          f"layers {' < '.join(layers)} < tools")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

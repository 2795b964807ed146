#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a cycle.

Usage: cargo modules dependencies ... | module-cycles.py SRC_DIR [--layers]

With --layers, also prints the graph of the crate's top-level modules (what uses what).

Reads the module graph `cargo modules dependencies` prints (Graphviz, "uses" edges) on
stdin. That graph has the edges of `use` declarations (resolved, re-exports and globs
included) but not of paths written inline (`crate::services::events::spawn(..)`), so those
are added from the sources under SRC_DIR. cargo-modules' own `--acyclic` judges the item
graph, where a type and its methods already form a cycle, so the judgement at module level
is made here:

* every module is a node; an edge A -> B means A's code uses something of B;
* an edge between a module and one of its own ancestors or descendants is structure (a
  parent re-exporting its children, a child using its parent's types), not layering, and is
  left out;
* what remains must be acyclic, at every depth: modules are also collapsed to their first
  DEPTH path segments below the crate, for DEPTH = 1, 2, ..., so `services::pbx` using
  `core` while `core` uses `services::events` is a cycle between `services` and `core`.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')


def related(a, b):
    return a == b or a.startswith(b + "::") or b.startswith(a + "::")


def cycle(nodes, edges):
    """One cycle of the graph, or None."""
    colour = {n: 0 for n in nodes}
    stack = []

    def visit(n):
        colour[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if colour[m] == 1:
                return stack[stack.index(m):] + [m]
            if colour[m] == 0:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(nodes):
        if colour[n] == 0:
            found = visit(n)
            if found:
                return found
    return None


INLINE = re.compile(r"\bcrate((?:::[a-z_][a-z0-9_]*)+)")


def module_of(crate, src, path):
    rel = path.relative_to(src).with_suffix("")
    return "::".join([crate, *(p for p in rel.parts if p not in ("lib", "main", "mod"))])


def inline_edges(crate, src, modules):
    """Edges of inline `crate::a::b` paths: from the file's module to the longest known
    module the path starts with."""
    found = set()
    for path in sorted(src.rglob("*.rs")):
        here = module_of(crate, src, path)
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("//"):
                continue
            for m in INLINE.finditer(line):
                segments = m.group(1).strip(":").split("::")
                for n in range(len(segments), 0, -1):
                    target = "::".join([crate, *segments[:n]])
                    if target in modules:
                        found.add((here, target))
                        break
    return found


def main():
    sys.setrecursionlimit(10_000)
    args = [a for a in sys.argv[1:] if a != "--layers"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    pairs = [m.groups() for m in map(EDGE.match, sys.stdin) if m]
    if not pairs:
        print("module-cycles: no module graph on stdin", file=sys.stderr)
        return 2
    crate = pairs[0][0].split("::")[0]
    src = Path(args[0])
    modules = {p for pair in pairs for p in pair}
    modules |= {module_of(crate, src, path) for path in src.rglob("*.rs")}
    pairs = sorted(set(pairs) | inline_edges(crate, src, modules))
    depth_max = max(len(p.split("::")) for pair in pairs for p in pair) - 1
    failed = False
    for depth in range(1, depth_max + 1):
        def cut(path):
            return "::".join(path.split("::")[: depth + 1])
        edges = defaultdict(set)
        nodes = set()
        for a, b in pairs:
            if related(a, b):
                continue
            a, b = cut(a), cut(b)
            if related(a, b):
                continue
            nodes.update((a, b))
            edges[a].add(b)
        if depth == 1 and "--layers" in sys.argv:
            for a in sorted(edges):
                print(f"  {a.removeprefix(crate + '::')} -> "
                      + ", ".join(b.removeprefix(crate + "::") for b in sorted(edges[a])))
        found = cycle(nodes, edges)
        if found:
            failed = True
            print(f"{crate}: import cycle between modules (depth {depth}): "
                  + " -> ".join(p.removeprefix(crate + "::") for p in found))
    if not failed:
        print(f"{crate}: {len(pairs)} module imports, no cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

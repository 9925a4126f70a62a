#!/usr/bin/env python3
"""Fails if any crate's top-level modules depend on each other in a cycle.

A file's module is its first path component under `src/` (`src/block/producer.rs` is
`block`); an edge a → b is a `crate::b` path in a file of module a (tests included:
a test that needs a higher room is still a dependency). `lib.rs`, `main.rs` and
`bin/` wire the rooms together and are left out.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
failed = False
for src in sorted(root.glob("*/src")):
    modules = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src)
        if rel.parts[0] in ("lib.rs", "main.rs", "bin"):
            continue
        modules.setdefault(rel.parts[0].removesuffix(".rs"), []).append(f)
    edges = {m: set() for m in modules}
    for m, files in modules.items():
        for f in files:
            # Code only: a doc comment may name another room without depending on it.
            code = "\n".join(
                line for line in f.read_text().splitlines()
                if not line.lstrip().startswith("//")
            )
            for other in re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", code):
                if other in modules and other != m:
                    edges[m].add(other)
    # Depth-first search for a back edge.
    state = {}
    stack = []

    def visit(m):
        global failed
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                print(f"{src.parent.name}: module cycle: {' -> '.join(cycle)}")
                failed = True
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    before = failed
    failed = False
    for m in sorted(modules):
        if m not in state:
            visit(m)
    if not failed:
        print(f"{src.parent.name}: {len(modules)} modules, no cycle")
    failed = failed or before
sys.exit(1 if failed else 0)

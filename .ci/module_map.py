#!/usr/bin/env python3
"""Fails if docs/architecture.md's module map and the source tree disagree.

Every source file of every crate (but lib.rs, main.rs, error.rs, tests.rs and bin/;
a folder's mod.rs counts as named with the folder) must be named in the map, and every
file the map names must exist.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
doc = (root / "docs/architecture.md").read_text()
block = doc.split("## Module map", 1)[1].split("```text", 1)[1].split("```", 1)[0]


def expand(token):
    m = re.search(r"\{([^}]*)\}", token)
    if not m:
        return [token]
    return [
        p
        for alt in m.group(1).split(",")
        for p in expand(token[: m.start()] + alt + token[m.end():])
    ]


named = set()
crate = None
for line in block.splitlines():
    head = re.match(r"^([\w-]+/src)/", line)
    if head:
        crate = head.group(1)
        continue
    if crate is None:
        continue
    for token in re.findall(r"[\w/{},]+\.rs", line.strip().split("   ")[0]):
        for p in expand(token):
            named.add(f"{crate}/{p}")

skip = {"lib.rs", "main.rs", "error.rs", "tests.rs"}
actual = {
    str(f.relative_to(root))
    for f in root.glob("*/src/**/*.rs")
    if f.name not in skip and "bin" not in f.relative_to(root).parts
}
# A folder's mod.rs (its chapter) is named with the folder.
folders = {n.rsplit("/", 1)[0] for n in named}
missing = sorted(
    f for f in actual - named if not (f.endswith("/mod.rs") and f.rsplit("/", 1)[0] in folders)
)
stale = sorted(named - actual)
for f in missing:
    print(f"module map: {f} is not in docs/architecture.md's map")
for f in stale:
    print(f"module map: {f} is in the map but not in the tree")
if not (missing or stale):
    print(f"module map: {len(actual)} files, all named")
sys.exit(1 if missing or stale else 0)

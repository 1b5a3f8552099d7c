#!/usr/bin/env python3
"""No two files of a crate import each other, directly or round a loop
(issue 13, "no import cycle between files"). A file's imports are its
`crate::NAME` and `super::NAME` paths outside its test modules (everything
from the first `#[cfg(test)]` on is left out). Crate-level cycles cannot
exist: cargo refuses them. Prints each cycle; exits 1 if there is any.

Usage: scripts/check-import-cycles.py [CRATES_DIR]
"""
import glob
import os
import re
import sys


def imports(text, modules, own):
    text = text.split("#[cfg(test)]")[0]
    found = set(re.findall(r"(?:crate|super)::([a-z_][a-z0-9_]*)", text))
    for group in re.findall(r"crate::\{([^}]*)\}", text, re.S):
        found |= set(re.findall(r"([a-z_][a-z0-9_]*)(?:::|\s*,|\s*$)", group))
    return {name for name in found if name in modules and name != own}


def cycles_of(source_dir):
    files = {}
    for path in glob.glob(os.path.join(source_dir, "**", "*.rs"), recursive=True):
        top = os.path.relpath(path, source_dir).split(os.sep)[0].removesuffix(".rs")
        files.setdefault(top, []).append(path)
    modules = set(files) - {"lib", "main"}
    graph = {
        name: imports("".join(open(p, encoding="utf-8").read() for p in paths), modules, name)
        for name, paths in files.items()
    }
    found = set()

    def walk(node, path):
        for next_node in graph.get(node, ()):
            if next_node in path:
                loop = path[path.index(next_node):]
                start = loop.index(min(loop))
                found.add(tuple(loop[start:] + loop[:start]))
            elif len(path) < len(graph):
                walk(next_node, path + [next_node])

    for node in graph:
        walk(node, [node])
    return sorted(found, key=len)


def main():
    crates_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "crates")
    failed = False
    for source_dir in sorted(glob.glob(os.path.join(crates_dir, "*", "src"))):
        crate = os.path.basename(os.path.dirname(source_dir))
        for loop in cycles_of(source_dir):
            failed = True
            print(f"{crate}: import cycle {' -> '.join(loop + (loop[0],))}")
    print("import cycles: " + ("found" if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

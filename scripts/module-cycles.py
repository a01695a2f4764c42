#!/usr/bin/env python3
"""Fails when a crate's top-level modules import each other in a circle.

Each crate's modules are meant to depend one way (docs/decisions.md, "Use
cases are service functions; surfaces are presenters" and "One module
owns the generation's lifecycle"): presenters over use cases, `batch` over
`lifecycle` over the queries. A circle slipped back in once unnoticed
(`app` and `wire`), so the suite checks it. An edge is a `crate::name`
path, or a name at the top of a `use crate::{...}` tree, in a module's
non-test code (comments, and everything from a `#[cfg(test)] mod`,
left out).

Usage: scripts/module-cycles.py [crates/NAME/src ...] (default: every crate)
"""

import pathlib
import re
import sys


def top_module(src: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return parts[0] if parts else ""


def imported(text: str) -> set[str]:
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s", text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    names = set(re.findall(r"\bcrate::(\w+)", text))
    for tree in re.findall(r"use crate::\{(.*?)\};", text, re.S):
        depth, item = 0, ""
        for ch in tree + ",":
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth == 0 and ch == ",":
                names.update(re.findall(r"^\s*(\w+)", item))
                item = ""
            else:
                item += ch
    return names


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while component[-1:] != [v]:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    roots = [pathlib.Path(a) for a in sys.argv[1:]] or sorted(pathlib.Path("crates").glob("*/src"))
    failed = False
    for src in roots:
        files = sorted(src.rglob("*.rs"))
        modules = {top_module(src, f) for f in files} - {""}
        edges: dict[str, set[str]] = {m: set() for m in modules}
        for f in files:
            m = top_module(src, f)
            if m:
                edges[m] |= (imported(f.read_text()) & modules) - {m}
        for circle in cycles(edges):
            failed = True
            print(f"{src}: modules import each other in a circle: {' <-> '.join(circle)}")
            for m in circle:
                print(f"  {m} imports {', '.join(sorted(edges[m] & set(circle)))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

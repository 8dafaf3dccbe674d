#!/usr/bin/env python3
"""Fails when the crate's top-level modules depend on each other in a circle.

A module is a file `src/NAME.rs` together with everything under `src/NAME/`.
It depends on another when its code (comments and doc links aside) names
`crate::OTHER` or `$crate::OTHER`, or an item the crate root re-exports from
OTHER (`crate::Identity` is a use of `identity`). The intended direction:
errors, key and hash, then store, then the authenticator, then the tower
layers, then the framework adapters.

    python3 scripts/module-graph.py [SRC]    # prints the modules in order, or the cycle
"""
import pathlib
import re
import sys

SRC = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "crates" / "core" / "src"


def code_of(path):
    """The file's code with comments and string literals blanked out."""
    text = path.read_text()
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def modules():
    found = {}
    for path in SRC.glob("*.rs"):
        if path.name != "lib.rs":
            found.setdefault(path.stem, []).append(path)
    for path in SRC.glob("*/**/*.rs"):
        top = path.relative_to(SRC).parts[0]
        found.setdefault(top, []).append(path)
    return found


def root_reexports(names):
    """Names the crate root re-exports, mapped to the module they come from."""
    lib = code_of(SRC / "lib.rs")
    owner = {}
    for module, body in re.findall(r"pub use (\w+)::(\{[^;]*\}|[^;]*);", lib):
        if module in names:
            for item in re.findall(r"(\w+)\s*(?:,|\}|$)", body):
                owner[item] = module
    return owner


def edges(names):
    owner = root_reexports(names)
    graph = {name: set() for name in names}
    for name, paths in names.items():
        for path in paths:
            for target in re.findall(r"\$?crate::(\w+)", code_of(path)):
                target = owner.get(target, target)
                if target in names and target != name:
                    graph[name].add(target)
            # `use crate::{a::X, b::Y}` groups
            for group in re.findall(r"crate::\{([^;]*?)\};", code_of(path), re.S):
                for target in re.findall(r"(?:^|[\s,{])(\w+)::", group):
                    target = owner.get(target, target)
                    if target in names and target != name:
                        graph[name].add(target)
                for target in re.findall(r"(?:^|[\s,{])(\w+)\s*[,}]", group + ","):
                    target = owner.get(target, target)
                    if target in names and target != name:
                        graph[name].add(target)
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def order(graph):
    done, out = set(), []
    while len(out) < len(graph):
        ready = sorted(n for n in graph if n not in done and graph[n] <= done)
        out.extend(ready)
        done.update(ready)
    return out


def main():
    graph = edges(modules())
    cycle = find_cycle(graph)
    if cycle:
        print("module cycle: " + " -> ".join(cycle), file=sys.stderr)
        for node in cycle[:-1]:
            print(f"  {node} uses {', '.join(sorted(graph[node]))}", file=sys.stderr)
        return 1
    print("modules, each using only those before it: " + ", ".join(order(graph)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

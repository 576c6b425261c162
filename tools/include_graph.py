#!/usr/bin/env python3
"""The project's include graph, by module, and what is wrong with it.

A module is a .c/.h pair (proxy/server.c + proxy/server.h is "proxy/server").
An edge A -> B means a file of A includes B's header. The graph must have no
cycle, and the layers must point down only: signer/ includes nothing of
ours, api/ includes only api/ and signer/check.h.

    tools/include_graph.py            print the edges, then any problem
    tools/include_graph.py --check    print only problems; exit 1 if any
    tools/include_graph.py --dot      Graphviz for a picture
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ("signer", "api", "proxy")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules():
    graph = {}
    for layer in LAYERS:
        for f in sorted((ROOT / layer).rglob("*.[ch]")):
            rel = f.relative_to(ROOT).as_posix()
            mod = rel[:-2]
            deps = graph.setdefault(mod, set())
            for inc in INCLUDE.findall(f.read_text(encoding="utf-8")):
                if inc.endswith(".h") and inc.split("/")[0] in LAYERS:
                    dep = inc[:-2]
                    if dep != mod:
                        deps.add(dep)
    return graph


def cycles(graph):
    """Every elementary cycle found by a DFS from each node (small graph)."""
    found = set()
    out = []

    def dfs(start, node, path, seen):
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                cyc = path[:]
                i = cyc.index(min(cyc))
                key = tuple(cyc[i:] + cyc[:i])
                if key not in found:
                    found.add(key)
                    out.append(list(key))
            elif nxt not in seen and nxt > start:
                seen.add(nxt)
                dfs(start, nxt, path + [nxt], seen)
                seen.discard(nxt)

    for n in sorted(graph):
        dfs(n, n, [n], {n})
    return out


def layer_problems(graph):
    bad = []
    for mod, deps in sorted(graph.items()):
        layer = mod.split("/")[0]
        for d in sorted(deps):
            dl = d.split("/")[0]
            if layer == "signer" and dl != "signer":
                bad.append("%s includes %s: signer/ must include nothing of ours" % (mod, d))
            if layer == "api" and dl == "proxy":
                bad.append("%s includes %s: api/ must not reach into proxy/" % (mod, d))
            if LAYERS.index(dl) > LAYERS.index(layer):
                if not (layer == "signer" and dl == "signer"):
                    bad.append("%s includes %s: includes point down" % (mod, d))
    return sorted(set(bad))


def main():
    graph = modules()
    problems = ["cycle: " + " -> ".join(c + [c[0]]) for c in cycles(graph)]
    problems += layer_problems(graph)
    if "--dot" in sys.argv:
        print("digraph includes {")
        for m, deps in sorted(graph.items()):
            for d in sorted(deps):
                print('  "%s" -> "%s";' % (m, d))
        print("}")
        return 0
    if "--check" not in sys.argv:
        for m, deps in sorted(graph.items()):
            print("%s -> %s" % (m, ", ".join(sorted(deps)) or "(nothing)"))
    for p in problems:
        print(p)
    if "--check" in sys.argv:
        if not problems:
            print("include graph: %d modules, no cycle, layers point down" % len(graph))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""check_layout.py: the include graph between folders, checked.

The house is built in floors, and each floor may use the floors below it,
never one above (README, "Reading the engine"):

    lessons/, cli/, gradcheck/    programs and the checker
    gpu/                          the CUDA backend: ops' CUDA kernels, device memory
    ops/                          every op: forward, vjp, jvp
    engine/fast/, teach/, train/  the fast path; teaching tools; optimizers and data
    engine/core/                  the core: tensors, nodes, both modes, the op interface

This script reads every `#include "..."` of the project's C, C++ and CUDA
sources, finds which folder each included header lives in, and fails
(exit 1) on:
  - an include from engine/ (any subfolder) into ops/, gpu/ or anything above;
  - an include from the core (engine/core) into engine/fast, teach or train;
  - an include of the core's private header (ad_internal.h) from outside engine/;
  - any cycle between folders (A includes B's headers and B, through any
    path, A's).
It prints the folder graph either way, so its output is the picture of the
floors. Usage: check_layout.py [SOURCE_ROOT]
"""
import os
import re
import sys

SOURCE_EXT = (".c", ".h", ".cu", ".cpp", ".in")
SKIP_DIRS = {".git", "tests", "build", "subprojects"}   # tests may include anything they test
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
# Headers meson writes into the build folder, and where their templates live.
GENERATED = {"ad_op_builtin.h": "ops", "ad_version.h": "engine/core"}


def folder_of(root, path):
    rel = os.path.relpath(os.path.dirname(path), root)
    return "." if rel == "." else rel.replace(os.sep, "/")


def sources(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
        for f in sorted(filenames):
            if f.endswith(SOURCE_EXT):
                yield os.path.join(dirpath, f)


def header_homes(root, files):
    """Header name -> the folder it lives in (names are unique in the project)."""
    homes = dict(GENERATED)
    for path in files:
        name = os.path.basename(path)
        if name.endswith(".h"):
            home = folder_of(root, path)
            if name in homes and homes[name] != home:
                sys.exit(f"check_layout: header {name} is in both {homes[name]}/ and {home}/")
            homes[name] = home
    return homes


def under(folder, top):
    return folder == top or folder.startswith(top + "/")


def rule_broken(src, dst, header):
    """Why an include from folder src of `header` (in folder dst) is not allowed, or None."""
    if under(src, "engine") and not under(dst, "engine"):
        return "the engine includes nothing above it"
    if src == "engine/core" and dst != "engine/core":
        return "the core includes nothing of the folders beside it (fast, teach, train)"
    if header == "ad_internal.h" and not under(src, "engine"):
        return "ad_internal.h is the engine's own"
    return None


def find_cycle(graph):
    """A cycle in the folder graph as a list of folders, or None (iterative DFS)."""
    colour = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1   # on the current path
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2   # done
                stack.pop()
                path.pop()
            elif colour.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not colour.get(child):
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = list(sources(root))
    homes = header_homes(root, files)
    graph = {}       # folder -> folders it includes from
    broken = []
    for path in files:
        src = folder_of(root, path)
        graph.setdefault(src, set())
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for header in INCLUDE.findall(text):
            name = os.path.basename(header)
            dst = homes.get(name)
            if dst is None:
                continue   # a system or third-party header quoted ("cuda_runtime.h" outside gpu/sim)
            why = rule_broken(src, dst, name)
            if why:
                broken.append(f"{os.path.relpath(path, root)} includes {name} ({dst}/): {why}")
            if dst != src:
                graph[src].add(dst)

    print("folders and the folders whose headers they include:")
    for folder in sorted(graph):
        print(f"  {folder + '/':<30} -> {', '.join(d + '/' for d in sorted(graph[folder])) or '(nothing of ours)'}")
    cycle = find_cycle(graph)
    for line in broken:
        print("check_layout: " + line)
    if cycle:
        print("check_layout: the folders include each other in a circle: " + " -> ".join(cycle))
    if broken or cycle:
        return 1
    print(f"check_layout: {len(files)} files, {len(graph)} folders: no floor includes one above it, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

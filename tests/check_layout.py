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
    path, A's);
  - a file of the core over CORE_FILE_MAX lines, or the reading path (the
    files engine/README.md has a student read, in order, for
    `z = x·w + x; ad_backward(ctx, z)`) over READING_PATH_MAX lines of code
    (lines with something besides comments and blanks: the reference core
    is meant to be read in one sitting).
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
# The reading path of engine/README.md ("The path of z = x·w + x"), without
# ad_graph.h (the API's list of declarations, read as a table of contents).
READING_PATH = ["ad_tensor.h", "ad_op.h", "ad_node.h", "apply.c", "nodes.c", "backward.c", "forward.c", "access.c"]
READING_PATH_MAX = 650
CORE_FILE_MAX = 300


def code_lines(text):
    """Lines holding code: not blank, not only comment (string and character
    literals are skipped over, so a "//" inside one is not a comment)."""
    out, i, n, line_has_code, count = [], 0, len(text), False, 0
    while i < n:
        c = text[i]
        if c == "\n":
            count += line_has_code
            line_has_code = False
            i += 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for ch in text[i:j]:
                if ch == "\n":
                    count += line_has_code
                    line_has_code = False
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            line_has_code = True
            i = j + 1
        else:
            if not c.isspace():
                line_has_code = True
            i += 1
    return count + line_has_code


def core_size(root):
    """Complaints about the core's size (CORE_FILE_MAX, READING_PATH_MAX)."""
    core = os.path.join(root, "engine", "core")
    out = []
    for name in sorted(os.listdir(core)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(core, name), encoding="utf-8") as f:
                lines = f.read().count("\n")
            if lines > CORE_FILE_MAX:
                out.append(f"engine/core/{name} has {lines} lines, over {CORE_FILE_MAX}")
    path_lines = {}
    for name in READING_PATH:
        with open(os.path.join(core, name), encoding="utf-8") as f:
            path_lines[name] = code_lines(f.read())
    total = sum(path_lines.values())
    print(f"reading path: {total} lines of code (at most {READING_PATH_MAX}): "
          + ", ".join(f"{k} {v}" for k, v in path_lines.items()))
    if total > READING_PATH_MAX:
        out.append(f"the reading path holds {total} lines of code, over {READING_PATH_MAX}: move what a first "
                   "reading can skip beside it (and say where in engine/README.md)")
    return out


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
    broken += core_size(root)
    for line in broken:
        print("check_layout: " + line)
    if cycle:
        print("check_layout: the folders include each other in a circle: " + " -> ".join(cycle))
    if broken or cycle:
        return 1
    print(f"check_layout: {len(files)} files, {len(graph)} folders: no floor includes one above it, no circle, "
          "the core within its size")
    return 0


if __name__ == "__main__":
    sys.exit(main())

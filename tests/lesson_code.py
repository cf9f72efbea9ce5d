#!/usr/bin/env python3
"""lesson_code.py: every lesson's "the code:" pointer lands in the engine.

Each lesson (a lessons/*.c whose `lesson` has a `.source`, the lecture it
reproduces) must say where the engine does what it shows (`.code`, printed
under the lecture line and in --help). This checks, from the sources:
  - every such lesson has a `.code`, and its first file is in engine/core/
    (the reading guide's core, engine/README.md);
  - every file it names exists;
  - every function it names in parentheses (backward_push, ad_apply_general...)
    is defined or declared in the file named just before it;
and, given built lessons as NAME=PATH arguments, that each prints the pointer
as the second line of its text output.

Usage: lesson_code.py SOURCE_ROOT [NAME=LESSON_PATH ...]
"""
import os
import re
import subprocess
import sys

STRING = r'"((?:[^"\\]|\\.)*)"'
FILE = re.compile(r"\b((?:engine|ops|gpu|gradcheck|lessons)/[\w/]+\.(?:cu|c|h|md))\b(?:\s*\(([^)]*)\))?")
FUNCTION = re.compile(r"\b((?:ad_|backward_)\w+)\b(?!\.)")   # (not a file's name: ad_optim_math.h)


def code_of(text):
    """The lesson's .source and .code strings (None where absent)."""
    source = re.search(r"\.source\s*=\s*" + STRING, text)
    code = re.search(r"\.code\s*=\s*" + STRING, text)
    unescape = lambda m: m.group(1).replace('\\"', '"').replace("\\\\", "\\") if m else None
    return unescape(source), unescape(code)


def check_sources(root):
    problems, lessons = [], {}
    for name in sorted(os.listdir(os.path.join(root, "lessons"))):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(root, "lessons", name), encoding="utf-8") as f:
            source, code = code_of(f.read())
        if source is None:
            continue
        lesson = name[:-2]
        if code is None:
            problems.append(f"{lesson}: no .code (where the engine does what it shows)")
            continue
        lessons[lesson] = code
        files = FILE.findall(code)
        if not files:
            problems.append(f"{lesson}: .code names no file: {code!r}")
            continue
        if not files[0][0].startswith("engine/core/"):
            problems.append(f"{lesson}: .code's first file {files[0][0]} is not in engine/core/")
        for path, inside in files:
            full = os.path.join(root, path)
            if not os.path.isfile(full):
                problems.append(f"{lesson}: .code names {path}, which does not exist")
                continue
            with open(full, encoding="utf-8") as f:
                body = f.read()
            for fn in FUNCTION.findall(inside or ""):
                if not re.search(r"\b" + re.escape(fn) + r"\s*\(", body):
                    problems.append(f"{lesson}: .code names {fn} in {path}, which has no such function")
    return problems, lessons


def check_output(lessons, runs):
    problems = []
    for arg in runs:
        name, _, exe = arg.partition("=")
        if name not in lessons:
            continue
        # the pointer is printed before any work: read two lines, then stop the lesson
        with subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            out = [proc.stdout.readline().rstrip("\n") for _ in range(2)]
            proc.kill()
        want = f"[the code: {lessons[name]}; the reading guide: engine/README.md]"
        if len(out) < 2 or out[1] != want:
            problems.append(f"{name}: line 2 of its output is {out[1] if len(out) > 1 else None!r}, not {want!r}")
    return problems


def main():
    root = sys.argv[1]
    problems, lessons = check_sources(root)
    problems += check_output(lessons, sys.argv[2:])
    for p in problems:
        print("lesson_code: " + p)
    if problems:
        return 1
    print(f"lesson_code: {len(lessons)} lessons, each pointing into engine/core/ first, "
          f"{len(sys.argv) - 2} of them run to see it printed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# make_bundle.sh: the zip to upload as a Gradescope autograder: the autodidact
# source as it is in this working tree (your edits to assignment.json and
# ad_student.h included, committed or not), with setup.sh and run_autograder
# at its root, and WITHOUT any reference solution: no solution.c and none of
# tests/autograde_corpus/ (every file there is a solution, right or wrong).
# A student's submission can include nothing of the bundle anyway (the
# compiler is sandboxed), but what is not shipped cannot leak.
#   gradcheck/autograde/example/make_bundle.sh [out.zip]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=$(realpath -m "${1:-autograder.zip}")
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  list() { git ls-files -z --cached --others --exclude-standard; }
else
  list() { find . -type f -not -path './build*' -not -path './.git/*' -printf '%P\0'; }
fi
list | python3 -c '
import os, stat, sys, zipfile
out, here = sys.argv[1], sys.argv[2]
names = sorted(set(n for n in sys.stdin.read().split("\0") if n))
def shipped(n):
    return (os.path.isfile(n) and not n.endswith("/solution.c") and n != "solution.c"
            and not n.startswith("tests/autograde_corpus/") and not n.startswith("build"))
def add(z, path, arcname):
    info = zipfile.ZipInfo.from_file(path, arcname)
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        z.writestr(info, f.read())
with zipfile.ZipFile(out + ".part", "w") as z:
    for n in filter(shipped, names):
        add(z, n, n)
    for n in ("setup.sh", "run_autograder"):
        add(z, os.path.join(here, n), n)
os.replace(out + ".part", out)
' "$out" "$here"
echo "wrote $out: upload it as the autograder of a Gradescope programming assignment (base image: Ubuntu 22.04 or 24.04)"

#!/usr/bin/env bash
# make_bundle.sh: the zip to upload as a Gradescope autograder: the autodidact
# source (from git) with setup.sh and run_autograder at its root.
#   gradcheck/autograde/example/make_bundle.sh [out.zip]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel)
out=$(realpath -m "${1:-autograder.zip}")
cd "$top"
git archive --format=zip -o "$out" \
  --add-file=gradcheck/autograde/example/setup.sh --add-file=gradcheck/autograde/example/run_autograder HEAD
echo "wrote $out: upload it as the autograder of a Gradescope programming assignment (base image: Ubuntu)"

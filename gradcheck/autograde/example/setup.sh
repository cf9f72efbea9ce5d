#!/usr/bin/env bash
# setup.sh: Gradescope runs this once, as root, when it builds the autograder
# image (Ubuntu 22.04 or 24.04). The bundle (make_bundle.sh) is unpacked in
# $AUTOGRADER_ROOT/source. It installs the build tools and libraries, builds
# and installs autodidact's grader, and makes the source (the assignment's
# hidden tests among it) readable by root only: submissions and the compiler
# run as the unprivileged user nobody (see the README's instructor section).
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
cd "$root/source"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  gcc libc6-dev pkg-config ninja-build python3 python3-venv \
  libgsl-dev libopenblas-dev zlib1g-dev libcjson-dev libseccomp-dev
# meson >= 1.0: Ubuntu 22.04's is 0.61, so take a current one from PyPI,
# in a virtual environment of its own (24.04 refuses pip outside one).
meson=meson
if ! command -v meson >/dev/null 2>&1 ||
   ! python3 -c 'import sys; v = tuple(int(x) for x in sys.argv[1].split(".")[:2]); sys.exit(v < (1, 0))' \
       "$(meson --version)"; then
  python3 -m venv /opt/autodidact-meson
  /opt/autodidact-meson/bin/pip install -q 'meson>=1.0,<2'
  meson=/opt/autodidact-meson/bin/meson
fi
# --libdir=lib: a directory the dynamic loader searches on Debian and Ubuntu
# (a meson from PyPI would pick lib64, which it does not).
"$meson" setup build-autograder -Dtests=disabled -Dcuda=disabled --buildtype=release --prefix="${PREFIX:-/usr/local}" \
  --libdir=lib
ninja -C build-autograder
ninja -C build-autograder install
ldconfig
id nobody >/dev/null   # the account submissions run as
chmod -R go-rwx "$root/source"

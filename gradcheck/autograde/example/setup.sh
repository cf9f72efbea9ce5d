#!/usr/bin/env bash
# setup.sh: Gradescope runs this once, as root, when it builds the autograder
# image. The bundle (make_bundle.sh) unpacks the autodidact source here.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  meson ninja-build pkg-config gcc libc6-dev libgsl-dev libopenblas-dev zlib1g-dev libcjson-dev libseccomp-dev
meson setup build-autograder -Dtests=disabled -Dcuda=disabled --buildtype=release --prefix="${PREFIX:-/usr/local}"
ninja -C build-autograder
ninja -C build-autograder install
ldconfig

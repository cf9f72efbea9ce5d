#!/usr/bin/env bash
# install-deps.sh: the Debian packages autodidact builds, tests and runs with.
# Run as root, or as a user with sudo. Safe to run again.
set -euo pipefail
packages=(
  meson ninja-build pkg-config gcc     # build
  g++                                  # tests: the headers from C++ (tests/test_cpp.cpp); gpu/sim (-Dgpu_sim=true)
  libgsl-dev libopenblas-dev zlib1g-dev libcjson-dev libseccomp-dev
  libcmocka-dev                        # tests
  graphviz                             # renders the --dot pictures
  dataset-fashion-mnist                # /usr/share/datasets/fashion-mnist
  valgrind libxml2-utils               # CI: valgrind over the lessons, xmllint for JUnit
  perl groff-base                      # tests: prove reads the TAP; groff checks the man pages
  clang                                # CI: the libFuzzer targets (.ci/fuzz)
  chromium chromium-driver python3-selenium   # tests: the --html pages in a real browser (tests/html_browser.py)
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

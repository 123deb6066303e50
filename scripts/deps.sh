#!/usr/bin/env bash
# deps.sh: installs unfold's build and test dependencies from Debian packages (Debian 12).
# Idempotent: does nothing when everything is already installed. Needs root (or sudo).
set -euo pipefail
# build + tests; bible-kjv and dict-gcide are the real English corpora of `unfold lm corpus` / `lm train --corpus kjv`;
# libcpp-httplib-dev is the HTTP server of `unfold serve`; libhnswlib-dev the decoder map's nearest neighbours
# (header-only); chromium, chromium-driver and python3-selenium run the feature browser's test in a real
# (headless) browser
PKGS=(build-essential cmake pkg-config libopenblas-dev libgtest-dev libbenchmark-dev zlib1g-dev libsqlite3-dev
      libcpp-httplib-dev libhnswlib-dev bible-kjv dict-gcide chromium chromium-driver python3-selenium)
# the Python module (python/: pybind11 over the same libraries) and its tests: Debian's Python 3 headers, numpy, pytest
PKGS+=(python3-dev python3-numpy python3-pytest pybind11-dev)
# data-parallel training under mpirun (src/dist/): Debian's OpenMPI
PKGS+=(libopenmpi-dev openmpi-bin)
# CI's sanitizer and fuzzing build (scripts/sanitize.sh): clang 14 with its sanitizer and libFuzzer runtimes,
# clang's OpenMP, and llvm-symbolizer for readable sanitizer reports
PKGS+=(clang libclang-rt-14-dev libomp-dev llvm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "unfold: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

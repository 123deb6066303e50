#!/usr/bin/env bash
# build.sh: configures and builds unfold (Release) into ./build; the binary is build/unfold.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$JOBS"

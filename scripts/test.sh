#!/usr/bin/env bash
# test.sh: the second command of the README. Installs missing dependencies, builds everything and runs
# every test with CTest. Exit code 0 means all tests passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # tests run in parallel: sleeping idle threads, no spinning
ctest --test-dir build --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 900

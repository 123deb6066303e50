#!/usr/bin/env bash
# test.sh: the second command of the README. Installs missing dependencies, builds everything and runs every
# test with CTest, twice:
#   1. as built for this machine (the best kernels this CPU has, OpenBLAS's own choice of kernel);
#   2. with unfold's portable kernels forced (UNFOLD_KERNELS=portable) and, on CPUs with AVX2, OpenBLAS's
#      AVX2 "Haswell" kernel (OPENBLAS_CORETYPE=Haswell: what AMD Zen 3 and other AVX2-only CPUs run), without
#      the kill -9 / resume tests and the browser test (their subject does not depend on the kernels),
# so the baseline code path and the other BLAS kernel are tested on any machine.
# Exit code 0 means every test passed in both passes. `scripts/test.sh --once` runs pass 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # tests run in parallel: sleeping idle threads, no spinning
run_ctest() { ctest --test-dir build --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 900 "$@"; }
# pass 2 leaves out the tests whose subject does not depend on the kernels: the kill -9 / --resume tests and the
# real-browser test (pass 1 runs them)
PASS2_SKIP='^(CrashResume\.|Serve\.Browser$)'
echo "== unfold tests, pass 1: native kernels" >&2
run_ctest
if [ "${1:-}" = "--once" ]; then exit 0; fi
coretype=""
if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then coretype=Haswell; fi
echo "== unfold tests, pass 2: UNFOLD_KERNELS=portable${coretype:+ OPENBLAS_CORETYPE=$coretype}" >&2
if [ -n "$coretype" ]; then
  UNFOLD_KERNELS=portable OPENBLAS_CORETYPE=$coretype run_ctest -E "$PASS2_SKIP"
else
  UNFOLD_KERNELS=portable run_ctest -E "$PASS2_SKIP"
fi

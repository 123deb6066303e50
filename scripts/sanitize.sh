#!/usr/bin/env bash
# sanitize.sh [FUZZ_SECONDS]: the reliability half of CI. Builds build-fuzz/ with clang, AddressSanitizer +
# UndefinedBehaviorSanitizer (every report fatal) and libFuzzer (-DUNFOLD_FUZZ=ON, which implies
# -DUNFOLD_SANITIZE=ON; benchmarks, the Python module and MPI left out: an instrumented extension would need the
# sanitizer runtime preloaded into the interpreter, and OpenMPI's own allocations would read as leaks; -O1 -g1), then
#   1. runs the unit tests under the sanitizers, together with Fuzz.Replay.*: every committed fuzz corpus and
#      crash reproducer (fuzz/corpus, fuzz/crashes) replayed through its target;
#   2. fuzzes each target for FUZZ_SECONDS (default 10) from its committed corpus (fuzz/run.sh).
# Prints how long each part took. Exit code 0: no test failed, no sanitizer report, no fuzz crash.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${1:-10}
JOBS=${JOBS:-$(nproc)}
scripts/deps.sh
t0=$(date +%s)
cmake -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DUNFOLD_FUZZ=ON -DUNFOLD_BUILD_BENCH=OFF -DUNFOLD_INSTALL=OFF -DUNFOLD_PYTHON=OFF -DUNFOLD_MPI=OFF >/dev/null
cmake --build build-fuzz -j"$JOBS"
t1=$(date +%s)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== unfold tests under ASan + UBSan, and the fuzz corpora replayed" >&2
# Build.IsaCopiesShareNoWeakSymbols checks the Release objects (test.sh runs it): UBSan's function-type checks
# add weak typeinfo symbols of the kernels' function types to every copy
# CrashResume.* (SIGKILL at random moments, then --resume) test the files a killed run leaves, which the
# sanitizers have nothing to add to; test.sh runs them
ctest --test-dir build-fuzz --output-on-failure -j"$JOBS" --timeout 1800 -E '^(Build\.IsaCopiesShareNoWeakSymbols|CrashResume\..*)$'

t2=$(date +%s)
echo "== each fuzz target for $FUZZ_SECONDS s" >&2
fuzz/run.sh -b build-fuzz -t "$FUZZ_SECONDS" -j "$JOBS"
t3=$(date +%s)
printf 'sanitize.sh: build %d s, tests + corpus replay %d s, fuzzing %d s\n' $((t1 - t0)) $((t2 - t1)) $((t3 - t2))

#!/usr/bin/env bash
# run.sh [-t SECONDS] [-b BUILD] [-j JOBS] [--merge] [TARGET...]: fuzzes each target (default: all of them) for
# SECONDS (default 60) with libFuzzer, starting from its committed corpus (fuzz/corpus/<target>, copied: the
# committed one is not changed unless --merge), JOBS targets at a time (default 1), and prints per target the
# executions, the rate, the corpus size and the crashes. A crash stops that target; its input is kept in
# BUILD/fuzz-out/<target>/ (crash-*, leak-*, timeout-*, oom-*) and the exit code is 1.
# BUILD (default build-fuzz) is a tree configured with -DUNFOLD_FUZZ=ON (clang); see fuzz/README.md.
# --merge adds the inputs that reached new coverage to fuzz/corpus/<target>/ (libFuzzer's -merge=1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=60 build=build-fuzz jobs=1 merge=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) secs=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do n=$(basename "$f" .cpp); targets+=("${n#fuzz_}"); done
fi
out=$build/fuzz-out
mkdir -p "$out"

one() {  # one TARGET: fuzz it, write $out/TARGET/summary
  local t=$1 bin=$build/fuzz/fuzz_$1 d=$out/$1
  rm -rf "$d"
  mkdir -p "$d/corpus" "$d/scratch"
  [ -x "$bin" ] || { echo "$t missing - - - 1 (no $bin)" > "$d/summary"; return; }
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$d/corpus/"
  local dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  UNFOLD_FUZZ_SCRATCH=$d/scratch "$bin" "$d/corpus" "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2560 \
    -malloc_limit_mb=2048 -timeout=30 -print_final_stats=1 -artifact_prefix="$d/" >"$d/log" 2>&1 || true
  local execs rate corpus crashes
  execs=$(grep -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$d/log" | tail -1 | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$d/log" | tail -1 | grep -o '[0-9]*$' || true)
  corpus=$(ls "$d/corpus" | wc -l)
  crashes=$(ls "$d" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
  local what=""
  [ "$crashes" -gt 0 ] && what=$(ls "$d" | grep -E '^(crash|leak|timeout|oom)-' | head -1)
  echo "$t ${execs:-?} ${rate:-?} $corpus $crashes $what" > "$d/summary"
  if [ "$merge" = 1 ] && [ "$crashes" -eq 0 ]; then
    mkdir -p "fuzz/corpus/$t"
    UNFOLD_FUZZ_SCRATCH=$d/scratch "$bin" -merge=1 "fuzz/corpus/$t" "$d/corpus" -rss_limit_mb=2560 \
      -malloc_limit_mb=2048 >"$d/merge.log" 2>&1 || true
  fi
  rm -rf "$d/scratch"
}

running=0
for t in "${targets[@]}"; do
  one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

printf '%-20s %12s %9s %7s %8s  %s\n' target execs execs/s corpus crashes input
fail=0 total=0
for t in "${targets[@]}"; do
  read -r name execs rate corpus crashes what < "$out/$t/summary" || true
  printf '%-20s %12s %9s %7s %8s  %s\n' "$name" "$execs" "$rate" "$corpus" "$crashes" "${what:+$out/$t/$what}"
  [ "$crashes" = 0 ] || fail=1
  [[ "$execs" =~ ^[0-9]+$ ]] && total=$((total + execs))
done
echo "total: $total executions, ${#targets[@]} targets x ${secs} s"
exit $fail

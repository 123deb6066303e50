#!/usr/bin/env bash
# replay.sh TARGET DIR...: runs the fuzz target TARGET once on every file under the DIRs (its committed corpus
# and crash reproducers; a missing DIR is skipped). Works with a libFuzzer binary (file arguments: each is run
# once, nothing is fuzzed or written) and with a replay_main.cpp build. Exit code 0: every input ran cleanly.
set -euo pipefail
target=$1
shift
files=()
for d in "$@"; do
  [ -d "$d" ] || continue
  while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$d" -type f ! -name '.*' ! -name '*.md' -print0 | sort -z)
done
if [ ${#files[@]} -eq 0 ]; then
  echo "replay: no inputs in $*" >&2
  exit 0
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/unfold_replay_XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export UNFOLD_FUZZ_SCRATCH=$scratch
# libFuzzer's limits apply when it is libFuzzer (replay_main ignores -flags); 200 files per run
set +e
printf '%s\0' "${files[@]}" | xargs -0 -n 200 "$target" -rss_limit_mb=2560 -malloc_limit_mb=2048 -timeout=60 \
  >"$scratch/log" 2>&1
status=$?
set -e
grep -v -E '^(Running: |Executed .* in [0-9]+ ms$|\*\*\*|replay: [0-9]+ inputs ran)' "$scratch/log" || true
[ "$status" -eq 0 ] || { echo "replay: $(basename "$target"): an input failed (exit $status)" >&2; exit 1; }
echo "replay: $(basename "$target"): ${#files[@]} inputs ran cleanly"

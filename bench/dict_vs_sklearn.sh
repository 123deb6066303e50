#!/usr/bin/env bash
# dict_vs_sklearn.sh: classical sparse coding, unfold vs its scikit-learn peer (bench/peers/sklearn_dict.py),
# side by side in one run.
#
# Both sides use the same recipe (d=64, 256 atoms, 128 planted features at p=0.03, 20k samples, alpha 0.1,
# batch 256, 2 epochs) and the same timing (fit for the epochs + encode all samples once;
# samples/s = samples * epochs / wall). Prints the machine line, both sides' JSON lines, then one line per
# unfold solver (FISTA, CD, OMP) with both figures and the ratio.
#
#   bench/dict_vs_sklearn.sh                      (the README's figures; BUILD=build THREADS=1)
#   bench/dict_vs_sklearn.sh --quick              (4000 samples: checks both sides run)
#   THREADS=2 BUILD=build-release bench/dict_vs_sklearn.sh --samples 40000
# Extra arguments go to both programs (same flag names: --d --atoms --true-features --p-active --samples
# --alpha --batch --epochs --seed). THREADS applies to unfold (OpenMP + OpenBLAS) and to numpy's BLAS.
# PEER=path overrides the peer script, PYTHON its interpreter; see bench/common.sh for the shared settings.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$BENCH_ROOT/bench/common.sh"
BUILD="${BUILD:-$BENCH_ROOT/build}"
THREADS="${THREADS:-1}"
BENCH="$BUILD/bench/bench_dict"
PEER="${PEER:-$BENCH_ROOT/bench/peers/sklearn_dict.py}"
bench_need dict_vs_sklearn.sh "$BENCH" "$PEER" sklearn
[ "$QUICK" = 1 ] && set -- --samples 4000 "$@"   # later flags win on both sides

bench_machine "$THREADS"
echo "# config: ${*:-the defaults (d 64, 256 atoms, 128 planted at p 0.03, 20000 samples, 2 epochs)}"
SK=$(bench_peer "$PEER" "$@")
echo "sklearn: $SK"
UF=$("$BENCH" --threads "$THREADS" --solver all "$@")
echo "$UF" | sed 's/^/unfold:  /'
"$PYTHON" - "$SK" "$UF" <<'PY'
import json, sys
sk = json.loads(sys.argv[1])
for line in sys.argv[2].splitlines():
    u = json.loads(line)
    print(f"{u['solver']:>5}: unfold {u['samples_per_s']:>10.1f} samples/s  MMCS {u['mmcs']:.4f}  FVU {u['fvu']:.4f}  L0 {u['l0']:.2f}"
          f"  |  sklearn {sk['samples_per_s']:.1f} samples/s  MMCS {sk['mmcs']:.4f}  FVU {sk['fvu']:.4f}  L0 {sk['l0']:.2f}"
          f"  |  ratio {u['samples_per_s'] / sk['samples_per_s']:.1f}x")
PY

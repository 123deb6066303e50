#!/usr/bin/env bash
# dict_vs_sklearn.sh: classical sparse coding, unfold vs scikit-learn, side by side in one run.
#
# Both sides use the same recipe (peers/sklearn_dict.py defaults: d=64, 256 atoms, 128 planted features at
# p=0.03, 20k samples, alpha 0.1, batch 256, 2 epochs) and the same timing (fit for 2 epochs + encode all
# samples; samples/s = samples * epochs / wall). Prints both JSON lines, then one summary line per solver.
#
#   bench/dict_vs_sklearn.sh                 # BUILD=build THREADS=1 PYTHON=/usr/bin/python3
#   THREADS=2 BUILD=build-release bench/dict_vs_sklearn.sh --samples 40000
# Extra arguments go to both programs (same flag names: --d --atoms --true-features --p-active --samples
# --alpha --batch --epochs --seed). THREADS applies to unfold (OpenMP + OpenBLAS) and to numpy's BLAS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
PYTHON="${PYTHON:-/usr/bin/python3}"
THREADS="${THREADS:-1}"
PEER="${PEER:-$ROOT/../shared/peers/sklearn_dict.py}"
BENCH="$BUILD/bench/bench_dict"
[ -x "$BENCH" ] || { echo "dict_vs_sklearn: $BENCH not built (cmake --build $BUILD --target bench_dict)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "dict_vs_sklearn: peer script $PEER not found (set PEER=...)" >&2; exit 1; }

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); unfold threads $THREADS" >&2
SK=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS "$PYTHON" "$PEER" "$@")
echo "$SK"
UF=$("$BENCH" --threads "$THREADS" --solver all "$@")
echo "$UF"
"$PYTHON" - "$SK" "$UF" <<'PY'
import json, sys
sk = json.loads(sys.argv[1])
for line in sys.argv[2].splitlines():
    u = json.loads(line)
    print(f"{u['solver']:>5}: unfold {u['samples_per_s']:>10.1f} samples/s  MMCS {u['mmcs']:.4f}  FVU {u['fvu']:.4f}  L0 {u['l0']:.2f}"
          f"  |  sklearn {sk['samples_per_s']:.1f} samples/s  MMCS {sk['mmcs']:.4f}  |  speed-up {u['samples_per_s'] / sk['samples_per_s']:.1f}x")
PY

#!/usr/bin/env bash
# sae_vs_torch.sh: unfold's SAE training vs the PyTorch peer (/work/shared/peers/torch_sae.py), side by side
# in one run, on the same recipe (planted dictionary: 1024 Gaussian unit features in d=256, p_active 0.01,
# U[0,1] magnitudes), same shapes (F=2048, k=16, batch 4096, Adam 4e-4, decoder rows renormalised every step)
# and the same number of steps. Prints each side's JSON line, then tokens/s ratios, FVU / MMCS side by side,
# and unfold's achieved GFLOP/s of the dense products against this machine's measured sgemm peak.
#
#   bench/sae_vs_torch.sh [BUILD_DIR=build] [STEPS=300] [THREADS=2]      (ARCHS="topk" to run one side only)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
steps="${2:-300}"
threads="${3:-2}"
peer="${UNFOLD_PEER:-$here/../../shared/peers/torch_sae.py}"
bench="$build/bench/bench_sae"
[ -x "$bench" ] || { echo "sae_vs_torch: $bench not built (cmake --build $build --target bench_sae)" >&2; exit 1; }
[ -f "$peer" ] || { echo "sae_vs_torch: peer script $peer not found (set UNFOLD_PEER)" >&2; exit 1; }
# OpenMP threads must not spin while OpenBLAS' own threads run the products (2 cores shared).
export OMP_WAIT_POLICY=passive
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}  # OpenBLAS workers sleep after a product (both sides link OpenBLAS; the CLI sets the same)
# OpenBLAS workers otherwise spin (sched_yield) for ~2^28 cycles after each product, stealing the cores the
# OpenMP loops between the products need.
export OPENBLAS_THREAD_TIMEOUT=4
for arch in ${ARCHS:-topk relu}; do
  p=$(/usr/bin/python3 "$peer" --arch "$arch" --steps "$steps" --threads "$threads")
  u=$("$bench" --arch "$arch" --steps "$steps" --threads "$threads" --peak)
  echo "peer:   $p"
  echo "unfold: $u"
  /usr/bin/python3 - "$p" "$u" <<'PY'
import json, sys
p, u = json.loads(sys.argv[1]), json.loads(sys.argv[2])
goal = 5.0 if p["arch"] == "topk" else 1.5
r = u["tokens_per_s"] / p["tokens_per_s"]
print(f"== {p['arch']}: unfold {u['tokens_per_s']:.0f} tokens/s vs torch {p['tokens_per_s']:.0f} -> {r:.2f}x "
      f"(goal >= {goal}x: {'met' if r >= goal else 'NOT met'})")
print(f"   after {p['steps']} steps: FVU unfold {u['fvu']} vs torch {p['fvu']};  MMCS unfold {u['mmcs']} vs torch {p['mmcs']};"
      f"  L0 {u['l0']} vs {p['l0']};  dead {u['dead_frac']} vs {p['dead_frac']}")
print(f"   dense products: {u['achieved_dense_gflop_s']} GFLOP/s over the whole step = {100*u['step_dense_frac_of_peak']:.0f}% "
      f"of the measured sgemm peak {u['sgemm_peak_gflop_s']} GFLOP/s (encoder product alone: "
      f"{100*u['encoder_frac_of_peak']:.0f}%)")
PY
done

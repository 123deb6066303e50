#!/usr/bin/env bash
# sae_vs_torch.sh: unfold's SAE training vs its PyTorch peer (bench/peers/torch_sae.py), side by side in one
# run, on the same recipe (planted dictionary: 1024 Gaussian unit features in d=256, p_active 0.01, U[0,1)
# magnitudes), the same shapes (F=2048, k=16, batch 4096, Adam 4e-4, decoder rows renormalised every step)
# and the same number of steps, for TopK and for ReLU+L1. Prints the machine line, each side's JSON line,
# then the tokens/s of each side and the ratio, FVU / MMCS / L0 / dead side by side, and unfold's achieved
# GFLOP/s of the dense products against this machine's measured sgemm peak.
#
#   bench/sae_vs_torch.sh [BUILD_DIR=build] [STEPS=300] [THREADS=2]   (the README's figures: 300 steps)
#   bench/sae_vs_torch.sh --quick                                      (10 steps: checks both sides run)
# ARCHS="topk" runs one architecture only; PEER=path overrides the peer script, PYTHON its interpreter;
# see bench/common.sh for the shared settings.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$BENCH_ROOT/bench/common.sh"
BUILD="${1:-$BENCH_ROOT/build}"
STEPS="${2:-$([ "$QUICK" = 1 ] && echo 10 || echo 300)}"
THREADS="${3:-2}"
BENCH="$BUILD/bench/bench_sae"
PEER="${PEER:-$BENCH_ROOT/bench/peers/torch_sae.py}"
bench_need sae_vs_torch.sh "$BENCH" "$PEER" torch

bench_machine "$THREADS"
echo "# config: d 256, 2048 latents, 1024 planted features at p 0.01, k 16, batch 4096, steps $STEPS"
for arch in ${ARCHS:-topk relu}; do
  P=$(bench_peer "$PEER" --arch "$arch" --steps "$STEPS" --threads "$THREADS")
  echo "peer:   $P"
  U=$("$BENCH" --arch "$arch" --steps "$STEPS" --threads "$THREADS" --peak)
  echo "unfold: $U"
  "$PYTHON" - "$P" "$U" <<'PY'
import json, sys
p, u = json.loads(sys.argv[1]), json.loads(sys.argv[2])
r = u["tokens_per_s"] / p["tokens_per_s"]
print(f"== {p['arch']}: unfold {u['tokens_per_s']:.0f} tokens/s   torch {p['tokens_per_s']:.0f} tokens/s   ratio {r:.2f}x")
print(f"   after {p['steps']} steps: FVU unfold {u['fvu']} vs torch {p['fvu']};  MMCS unfold {u['mmcs']} vs torch {p['mmcs']};"
      f"  L0 {u['l0']} vs {p['l0']};  dead {u['dead_frac']} vs {p['dead_frac']}")
print(f"   dense products: {u['achieved_dense_gflop_s']} GFLOP/s over the whole step = {100*u['step_dense_frac_of_peak']:.0f}% "
      f"of the measured sgemm peak {u['sgemm_peak_gflop_s']} GFLOP/s (encoder product alone: "
      f"{100*u['encoder_frac_of_peak']:.0f}%)")
PY
done

#!/usr/bin/env bash
# toy_vs_torch.sh: unfold vs its PyTorch peer (bench/peers/torch_toy.py) on the same toy-model configuration,
# in one run: ReLU output model 20 -> 5, 16 instances, batch 1024, feature probability 20^-linspace(0,1,16),
# importance 0.9^i, AdamW lr 1e-3, 2 threads each. Prints the machine line, both JSON lines, then
# instance-steps/s of each side and the ratio, and the mean final loss of each with the mean relative
# difference (the two sides draw different random batches, so losses agree only within batch noise).
#
#   bench/toy_vs_torch.sh [STEPS=2000] [BUILD_DIR=build]      (the README's figure: 2000 steps)
#   bench/toy_vs_torch.sh --quick                               (200 steps: checks both sides run)
# PEER=path overrides the peer script, PYTHON its interpreter; see bench/common.sh for the shared settings.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$BENCH_ROOT/bench/common.sh"
STEPS="${1:-$([ "$QUICK" = 1 ] && echo 200 || echo 2000)}"
BUILD="${2:-$BENCH_ROOT/build}"
THREADS=2
BENCH="$BUILD/bench/bench_toy"
PEER="${PEER:-$BENCH_ROOT/bench/peers/torch_toy.py}"
bench_need toy_vs_torch.sh "$BENCH" "$PEER" torch

bench_machine "$THREADS"
echo "# config: relu 20->5, 16 instances, batch 1024, steps $STEPS"
U=$("$BENCH" --steps "$STEPS" --threads "$THREADS")
echo "unfold: $U"
T=$(bench_peer "$PEER" --steps "$STEPS" --threads "$THREADS")
echo "torch:  $T"
"$PYTHON" - "$U" "$T" <<'PY'
import json, sys
u, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ru, rt = u["instance_steps_per_s"], t["instance_steps_per_s"]
lu, lt = u["final_loss"], t["final_loss"]
rel = sum(abs(a - b) / max(a, b) for a, b in zip(lu, lt)) / len(lu)
print(f"unfold {ru:,.0f} instance-steps/s   torch {rt:,.0f} instance-steps/s   ratio {ru / rt:.1f}x")
print(f"final loss per instance (mean over instances): unfold {sum(lu)/len(lu):.6f}  torch {sum(lt)/len(lt):.6f}  "
      f"mean relative difference {rel:.1%}")
PY

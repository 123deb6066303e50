#!/usr/bin/env bash
# toy_vs_torch.sh: unfold vs the PyTorch peer (../shared/peers/torch_toy.py) on the same toy-model config:
# ReLU output model 20 -> 5, 16 instances, batch 1024, p = 20^-linspace(0,1,16), importance 0.9^i,
# AdamW lr 1e-3, 2 threads each. Prints both JSON lines, then instance-steps/s of each, the ratio, and
# the mean |final loss difference| relative to the loss (the two use different random streams, so the
# losses agree only within batch noise).
#
# Usage: bench/toy_vs_torch.sh [STEPS] [BUILD_DIR]      (defaults: 2000, build)
set -euo pipefail
STEPS="${1:-2000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${2:-$ROOT/build}"
BENCH="$BUILD/bench/bench_toy"
PEER="$ROOT/../shared/peers/torch_toy.py"
PY="${PYTHON:-/usr/bin/python3}"
[ -x "$BENCH" ] || { echo "toy_vs_torch.sh: $BENCH not built (cmake --build $BUILD --target bench_toy)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "toy_vs_torch.sh: peer script $PEER not found" >&2; exit 1; }

echo "config: relu 20->5, 16 instances, batch 1024, steps $STEPS, 2 threads; $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
U=$("$BENCH" --steps "$STEPS" --threads 2)
T=$("$PY" "$PEER" --steps "$STEPS" --threads 2)
echo "unfold: $U"
echo "torch:  $T"
"$PY" - "$U" "$T" <<'PYEOF'
import json, sys
u, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ru, rt = u["instance_steps_per_s"], t["instance_steps_per_s"]
lu, lt = u["final_loss"], t["final_loss"]
rel = sum(abs(a - b) / max(a, b) for a, b in zip(lu, lt)) / len(lu)
print(f"unfold {ru:,.0f} instance-steps/s   torch {rt:,.0f} instance-steps/s   ratio {ru / rt:.1f}x")
print(f"final loss per instance (mean over instances): unfold {sum(lu)/len(lu):.6f}  torch {sum(lt)/len(lt):.6f}  "
      f"mean relative difference {rel:.1%}")
PYEOF

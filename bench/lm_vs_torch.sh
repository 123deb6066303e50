#!/bin/sh
# lm_vs_torch.sh: unfold's GPT-2 stack vs the plain-PyTorch peer (../shared/peers/torch_lm.py), same shape,
# same machine, same threads, alternating runs (unfold, torch, unfold, torch, ...) and the best of each side,
# so load from other processes biases neither. Usage: bench/lm_vs_torch.sh [BUILD_DIR] [THREADS] [ITERS] [REPEATS]
# Shape: 4 layers, d_model 768, 12 heads, vocab 50257, context 128, batch 8 (GPT-2-small-shaped stack).
set -e
BUILD=${1:-build}
THREADS=${2:-2}
ITERS=${3:-5}
REPEATS=${4:-2}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PEER=${PEER:-$HERE/../shared/peers/torch_lm.py}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}  # no spinning barriers on a shared machine (both sides)
export OMP_NUM_THREADS=$THREADS
ARGS="--layers 4 --d-model 768 --heads 12 --vocab 50257 --context 128 --batch 8 --iters $ITERS --threads $THREADS"
HAVE_TORCH=0
if [ -f "$PEER" ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then HAVE_TORCH=1; fi
OUT=""
i=0
while [ $i -lt "$REPEATS" ]; do
  U=$("$BUILD/bench/bench_lm" $ARGS); echo "$U"; OUT="$OUT$U
"
  if [ $HAVE_TORCH = 1 ]; then P=$(/usr/bin/python3 "$PEER" $ARGS); echo "$P"; OUT="$OUT$P
"; fi
  i=$((i + 1))
done
if [ $HAVE_TORCH = 1 ]; then
  printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
u = [r for r in rows if r.get("impl") == "unfold"]; p = [r for r in rows if "peer" in r]
for k in ("forward_tokens_per_s", "train_tokens_per_s"):
    bu, bp = max(r[k] for r in u), max(r[k] for r in p)
    print(f"{k}: unfold {bu:.1f}  torch {bp:.1f}  ratio {bu / bp:.2f}x  (best of {len(u)} alternating runs each)")
'
else
  echo "(PyTorch peer not available: install python3-torch to compare)"
fi

#!/bin/sh
# lm_vs_torch.sh: unfold's GPT-2 stack vs the plain-PyTorch peer (../shared/peers/torch_lm.py), same shape,
# same machine, same threads, alternating runs (unfold, torch, unfold, torch, ...) and the best of each side,
# so load from other processes biases neither. Usage: bench/lm_vs_torch.sh [BUILD_DIR] [THREADS] [ITERS] [REPEATS]
# Shape: 4 layers, d_model 768, 12 heads, vocab 50257, context 128, batch 8 (GPT-2-small-shaped stack).
# Each round runs four: unfold fp32 (forward + training), unfold bf16 (forward), the peer as written (fp32),
# and the same peer script with torch's default dtype set to bfloat16 (its forward then runs in bf16 too).
set -e
BUILD=${1:-build}
THREADS=${2:-2}
ITERS=${3:-5}
REPEATS=${4:-2}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PEER=${PEER:-$HERE/../shared/peers/torch_lm.py}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}  # no spinning barriers on a shared machine (both sides)
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}  # OpenBLAS workers sleep after a product (both sides link OpenBLAS; the CLI sets the same)
export OMP_NUM_THREADS=$THREADS
ARGS="--layers 4 --d-model 768 --heads 12 --vocab 50257 --context 128 --batch 8 --iters $ITERS --threads $THREADS"
HAVE_TORCH=0
if [ -f "$PEER" ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then HAVE_TORCH=1; fi
peer_bf16() {  # the peer unchanged, under torch.set_default_dtype(torch.bfloat16)
  /usr/bin/python3 -c "import sys, runpy, torch; torch.set_default_dtype(torch.bfloat16); sys.argv = sys.argv[1:]
r = runpy.run_path(sys.argv[0], run_name='__main__')" "$PEER" "$@" | sed 's/"peer": "pytorch-/"peer": "pytorch-bf16-/'
}
OUT=""
i=0
while [ $i -lt "$REPEATS" ]; do
  U=$("$BUILD/bench/bench_lm" $ARGS); echo "$U"; OUT="$OUT$U
"
  U=$("$BUILD/bench/bench_lm" $ARGS --dtype bf16 --only forward); echo "$U"; OUT="$OUT$U
"
  if [ $HAVE_TORCH = 1 ]; then
    P=$(/usr/bin/python3 "$PEER" $ARGS); echo "$P"; OUT="$OUT$P
"
    P=$(peer_bf16 $ARGS); echo "$P"; OUT="$OUT$P
"
  fi
  i=$((i + 1))
done
if [ $HAVE_TORCH = 1 ]; then
  printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
def best(key, pick): return max(r[key] for r in rows if pick(r))
u32 = lambda r: r.get("impl") == "unfold" and r.get("dtype") == "fp32"
u16 = lambda r: r.get("impl") == "unfold" and r.get("dtype") == "bf16"
t32 = lambda r: "peer" in r and "bf16" not in r["peer"]
t16 = lambda r: "peer" in r and "bf16" in r["peer"]
n = sum(1 for r in rows if u32(r))
for label, k, a, b in (("forward fp32 vs peer fp32", "forward_tokens_per_s", u32, t32),
                       ("forward bf16 vs peer fp32", "forward_tokens_per_s", u16, t32),
                       ("forward bf16 vs peer bf16", "forward_tokens_per_s", u16, t16),
                       ("training fp32 vs peer fp32", "train_tokens_per_s", u32, t32)):
    x, y = best(k, a), best(k, b)
    print(f"{label:28s} unfold {x:8.1f}  torch {y:8.1f} tokens/s  ratio {x / y:.2f}x")
print(f"(best of {n} alternating rounds each)")
'
else
  echo "(PyTorch peer not available: install python3-torch to compare)"
fi

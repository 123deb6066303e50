#!/usr/bin/env bash
# lm_vs_torch.sh: unfold's GPT-2 stack vs its plain-PyTorch peer (bench/peers/torch_lm.py), same shape, same
# machine, same threads, in one run. Rounds alternate the sides (unfold, torch, unfold, torch, ...) and each
# side's best round counts, so load from other processes biases neither.
# Shape: 4 layers, d_model 768, 12 heads, vocab 50257, context 128, batch 8 (a GPT-2-small-shaped stack).
# Each round runs four: unfold fp32 (forward + training), unfold bf16 (forward), the peer in fp32 and the
# peer with --dtype bf16 (the model created in bfloat16, so its forward runs in bf16 too). Prints the machine
# line, every JSON line, then per comparison both figures (tokens/s) and the ratio.
#
#   bench/lm_vs_torch.sh [BUILD_DIR=build] [THREADS=2] [ITERS=5] [REPEATS=2]   (the README: build 2 5 3)
#   bench/lm_vs_torch.sh --quick         (2 layers, d_model 256, vocab 8192, context 64, batch 4, 2 iters, 1 round)
# PEER=path overrides the peer script, PYTHON its interpreter; see bench/common.sh for the shared settings.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$BENCH_ROOT/bench/common.sh"
BUILD="${1:-$BENCH_ROOT/build}"
THREADS="${2:-2}"
if [ "$QUICK" = 1 ]; then
  SHAPE="--layers 2 --d-model 256 --heads 4 --vocab 8192 --context 64 --batch 4"
  ITERS="${3:-2}"; REPEATS="${4:-1}"
else
  SHAPE="--layers 4 --d-model 768 --heads 12 --vocab 50257 --context 128 --batch 8"
  ITERS="${3:-5}"; REPEATS="${4:-2}"
fi
BENCH="$BUILD/bench/bench_lm"
PEER="${PEER:-$BENCH_ROOT/bench/peers/torch_lm.py}"
bench_need lm_vs_torch.sh "$BENCH" "$PEER" torch
ARGS="$SHAPE --iters $ITERS --threads $THREADS"

bench_machine "$THREADS"
echo "# config: $SHAPE, $ITERS iterations, $REPEATS rounds"
OUT=""
for ((round = 0; round < REPEATS; round++)); do
  for side in "unfold" "unfold --dtype bf16 --only forward" "peer" "peer --dtype bf16"; do
    read -r who extra <<<"$side"
    if [ "$who" = unfold ]; then L=$("$BENCH" $ARGS $extra); else L=$(bench_peer "$PEER" $ARGS $extra); fi
    echo "$L"
    OUT+="$L"$'\n'
  done
done
printf '%s' "$OUT" | "$PYTHON" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
def best(key, pick): return max(r[key] for r in rows if pick(r))
u32 = lambda r: r.get("impl") == "unfold" and r.get("dtype") == "fp32"
u16 = lambda r: r.get("impl") == "unfold" and r.get("dtype") == "bf16"
t32 = lambda r: "peer" in r and "bf16" not in r["peer"]
t16 = lambda r: "peer" in r and "bf16" in r["peer"]
for label, k, a, b in (("forward fp32 vs peer fp32", "forward_tokens_per_s", u32, t32),
                       ("forward bf16 vs peer fp32", "forward_tokens_per_s", u16, t32),
                       ("forward bf16 vs peer bf16", "forward_tokens_per_s", u16, t16),
                       ("training fp32 vs peer fp32", "train_tokens_per_s", u32, t32)):
    x, y = best(k, a), best(k, b)
    print(f"{label:28s} unfold {x:8.1f}  torch {y:8.1f} tokens/s  ratio {x / y:.2f}x")
print(f"(best of {sum(1 for r in rows if u32(r))} alternating rounds each)")
'

#!/usr/bin/env bash
# features_vs_torch.sh: `unfold features build` vs its plain-PyTorch peer (bench/peers/torch_features.py) on the
# same model, SAE, corpus and token ids, same machine, same threads, in one run.
# Setup (not timed): the KJV corpus (`unfold lm corpus --source kjv`), stories260K's blocks.2.hook_resid_post
# cached over 200k tokens (`unfold lm cache`, which also writes the corpus's token ids as <corpus>.tok-*.npy,
# the ids the peer reads) and a TopK SAE trained on it (d_sae 2048, k 16, 300 steps of 1024 rows).
# Timed: both sides over TOKENS corpus tokens in windows of 64 (BOS + 63 tokens), 16 windows per forward pass:
# model forward to the hook, SAE encode, per-feature firing counts, histograms and running top-20 contexts
# (one per window). unfold also gathers interval samples, heavy-hitter tokens, co-firing and unigram counts
# and afterwards writes the SQLite database (logit effects, neighbours, labels); its figure is the one-pass
# rate it reports (rows / pass seconds), and its whole command's wall time is printed too. Rounds alternate
# the sides and each side's best round counts. Then unfold's peak RSS at SMALL and TOKENS tokens (memory is
# bounded by one batch and the per-feature statistics, not by --tokens), and the agreement of the two sides
# (firing counts, top-1 activation and window, histograms).
#
#   bench/features_vs_torch.sh [BUILD_DIR=build] [THREADS=2] [TOKENS=400000] [SMALL=100000] [REPEATS=2]
#   bench/features_vs_torch.sh --quick     (SAE of 50 steps, 20k / 10k tokens, 1 round)
# WORK=dir keeps the setup there (default BUILD_DIR/bench_features); PEER, PYTHON as in bench/common.sh.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$BENCH_ROOT/bench/common.sh"
BUILD="${1:-$BENCH_ROOT/build}"
THREADS="${2:-2}"
if [ "$QUICK" = 1 ]; then
  TOKENS="${3:-20000}"; SMALL="${4:-10000}"; REPEATS="${5:-1}"; STEPS=50; CACHE_TOKENS=50000
else
  TOKENS="${3:-400000}"; SMALL="${4:-100000}"; REPEATS="${5:-2}"; STEPS=300; CACHE_TOKENS=200000
fi
UNFOLD="$BUILD/unfold"
PEER="${PEER:-$BENCH_ROOT/bench/peers/torch_features.py}"
bench_need features_vs_torch.sh "$UNFOLD" "$PEER" torch
MODEL="$BENCH_ROOT/models/stories260K/stories260K.bin"
TOK="$BENCH_ROOT/models/stories260K/tok512.bin"
[ -f "$MODEL" ] && [ -f "$TOK" ] || { echo "features_vs_torch.sh: $MODEL / $TOK not found" >&2; exit 1; }
WORK="${WORK:-$BUILD/bench_features}"
mkdir -p "$WORK"
HOOK=blocks.2.hook_resid_post
CONTEXT=64
BATCH=16

# measure OUT CMD...: runs CMD (its stdout to OUT.stdout) and writes "peak_rss_kb wall_s" to OUT
if [ -x /usr/bin/time ]; then
  measure() {
    local out=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$out.time" "$@" >"$out.stdout"
    t1=$(date +%s.%N)
    echo "$(sed -n "s/.*Maximum resident set size (kbytes): //p" "$out.time") $(awk "BEGIN{print $t1 - $t0}")" >"$out"
  }
else
  measure() {  # no /usr/bin/time: getrusage(RUSAGE_CHILDREN) of a tiny Python wrapper
    local out=$1; shift
    "$PYTHON" -c '
import resource, subprocess, sys, time
t = time.time(); r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1] + ".stdout", "w"))
w = time.time() - t
open(sys.argv[1], "w").write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {w:.3f}\n")
sys.exit(r.returncode)' "$out" "$@"
  }
fi

bench_machine "$THREADS"
echo "# config: stories260K $HOOK, TopK SAE d_sae 2048 k 16 ($STEPS steps), KJV, context $CONTEXT," \
     "batch $BATCH windows, $TOKENS tokens timed, $REPEATS rounds; RSS at $SMALL and $TOKENS tokens"

# ---- setup (not timed)
Q=(--threads "$THREADS" --quiet)
"$UNFOLD" lm corpus --source kjv --out "$WORK/kjv.txt" >/dev/null
rm -rf "$WORK/acts" "$WORK/sae"
"$UNFOLD" lm cache --model "$MODEL" --tokenizer "$TOK" --hook "$HOOK" --corpus "$WORK/kjv.txt" \
  --tokens "$CACHE_TOKENS" --context "$CONTEXT" --out "$WORK/acts" "${Q[@]}" >/dev/null
"$UNFOLD" sae train --input "$WORK/acts" --arch topk --k 16 --latents 2048 --steps "$STEPS" --batch 1024 \
  --out "$WORK/sae" "${Q[@]}" >/dev/null
IDS=$(ls -t "$WORK"/kjv.txt.tok-*.npy | head -1)

unfold_build() {  # unfold_build TOKENS NAME
  measure "$WORK/$2" "$UNFOLD" features build --model "$MODEL" --tokenizer "$TOK" --sae "$WORK/sae" \
    --corpus "$WORK/kjv.txt" --tokens "$1" --context "$CONTEXT" --batch "$BATCH" --out "$WORK/$2.db" \
    --checkpoint-every 0 --json "${Q[@]}"
}
peer_build() {  # peer_build TOKENS NAME
  measure "$WORK/$2" env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" \
    "$PYTHON" "$PEER" --model "$MODEL" --sae "$WORK/sae" --ids "$IDS" --tokens "$1" --context "$CONTEXT" \
    --batch "$BATCH" --threads "$THREADS" --out "$WORK/$2.npz"
}

# ---- timed rounds, alternating
for ((round = 0; round < REPEATS; round++)); do
  unfold_build "$TOKENS" "unfold_r$round"
  peer_build "$TOKENS" "peer_r$round"
done
unfold_build "$SMALL" unfold_small

"$PYTHON" - "$WORK" "$REPEATS" "$TOKENS" "$SMALL" <<'EOF'
import json, sqlite3, sys
import numpy as np
work, repeats, tokens, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def side(name):
    rss, wall = open(f"{work}/{name}").read().split()
    return int(rss), float(wall), json.loads(open(f"{work}/{name}.stdout").read())
U = [side(f"unfold_r{r}") for r in range(repeats)]
P = [side(f"peer_r{r}") for r in range(repeats)]
for rss, wall, j in U:
    print(json.dumps({"impl": "unfold", "tokens": j["tokens"], "tokens_per_s": round(j["tokens_per_second"], 1),
                      "command_wall_s": round(wall, 2), "peak_rss_mb": round(rss / 1024, 1)}))
for rss, wall, j in P:
    print(json.dumps({**j, "command_wall_s": round(wall, 2), "peak_rss_mb": round(rss / 1024, 1)}))
bu = max(U, key=lambda x: x[2]["tokens_per_second"]); bp = max(P, key=lambda x: x[2]["tokens_per_s"])
u, p = bu[2]["tokens_per_second"], bp[2]["tokens_per_s"]
print(f"features pass ({bu[2]['tokens']} tokens)  unfold {u:9.1f}  torch {p:9.1f} tokens/s  ratio {u / p:.2f}x"
      f"  (best of {repeats} alternating rounds each)")
print(f"whole command wall         unfold {bu[1]:9.2f} s (with setup and the database)  torch {bp[1]:.2f} s")
rs, _, js = side("unfold_small")
print(f"unfold peak RSS            {rs / 1024:.1f} MB at {js['tokens']} tokens, {bu[0] / 1024:.1f} MB at "
      f"{bu[2]['tokens']} tokens (torch {bp[0] / 1024:.1f} MB)")

# agreement: the last round of each side
db, npz = f"{work}/unfold_r{repeats - 1}.db", np.load(f"{work}/peer_r{repeats - 1}.npz")
c = sqlite3.connect(db)
rows = c.execute("select id, fires, hist_hi, histogram from features order by id").fetchall()
n = len(rows)
fu = np.array([r[1] for r in rows]); hu = np.array([r[2] for r in rows])
Hu = np.array([json.loads(r[3]) for r in rows])
t1, w1 = np.zeros(n), np.full(n, -1)
for f, v, w in c.execute("select feature, value, window from contexts where kind = 'top' and rank = 0"):
    t1[f], w1[f] = v, w
fp, tp, wp = npz["fires"], npz["top_val"][0], npz["top_win"][0]
live = (fu > 0) | (fp > 0)
rel_f = np.abs(fu - fp) / np.maximum(1, np.maximum(fu, fp))
rel_t = np.abs(t1 - tp) / np.maximum(1e-30, np.maximum(np.abs(t1), np.abs(tp)))
d = np.abs(Hu - npz["hist"]).sum(1)
print(f"agreement: {n} features ({live.sum()} firing); firings unfold {fu.sum()} torch {fp.sum()}; "
      f"counts identical for {(fu == fp).mean() * 100:.1f}% of features, max relative difference {rel_f.max():.1e}")
print(f"agreement: top-1 activation max relative difference {rel_t[live].max():.1e} "
      f"({(rel_t[live] <= 1e-3).mean() * 100:.1f}% within 1e-3), same top-1 window {(w1 == wp)[live].mean() * 100:.1f}%; "
      f"histograms: same range {(hu == npz['hi'])[live].mean() * 100:.1f}%, identical {(d == 0)[live].mean() * 100:.1f}%, "
      f"{d.sum()} of {fu.sum()} firings in another bin")
EOF

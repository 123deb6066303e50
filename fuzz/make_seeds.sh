#!/usr/bin/env bash
# make_seeds.sh [UNFOLD_BINARY]: (re)creates the seed corpora fuzz/corpus/<target>/ from the committed fixtures
# (tests/fixtures, models/) and from small files unfold itself writes (a shard folder, a BPE tokenizer, a
# features database), plus a few hand-made files (a tiny llama2.c checkpoint, tokenizer.json). Seeds are named
# seed_*; inputs a fuzzing campaign adds (fuzz/run.sh --merge) keep libFuzzer's sha1 names. Needs python3 (stdlib
# only) and a built unfold (default build/unfold).
set -euo pipefail
cd "$(dirname "$0")/.."
U=${1:-build/unfold}
[ -x "$U" ] || { echo "make_seeds: $U not found (build first)" >&2; exit 1; }
C=fuzz/corpus
W=$(mktemp -d "${TMPDIR:-/tmp}/unfold_seeds_XXXXXX")
trap 'rm -rf "$W"' EXIT
seed() {  # seed TARGET FILE [NAME]: copies FILE as seed_<NAME or a name made from its path>
  local t=$1 f=$2 n=${3:-$(echo "$2" | sed 's|^tests/fixtures/||; s|[/.]|_|g')}
  mkdir -p "$C/$t"
  cp "$f" "$C/$t/seed_$n"
}
rm -f "$C"/*/seed_*

# JSON: every small JSON file of the fixtures and the shipped models
for f in $(find tests/fixtures models -name '*.json' -size -16k | sort); do seed json "$f"; done
# .npy, safetensors, npz
for f in tests/fixtures/io/*.npy; do seed npy "$f"; done
for f in $(find tests/fixtures -name '*.safetensors' -size -40k | sort); do seed safetensors "$f"; done
for f in tests/fixtures/io/*.npz $(find tests/fixtures/sae -name '*.npz' | sort); do seed npz "$f"; done
# HF config.json and SAE cfg.json
for f in tests/fixtures/lm/*/config.json models/stories260K/config.json; do seed hf_config "$f"; done
for f in $(find tests/fixtures/sae -name cfg.json | sort); do seed sae_cfg "$f"; done
# llama2.c tokenizer: the shipped one
seed tokenizer_llama2c models/stories260K/tok512.bin tok512_bin

# a shard folder the layout of fuzz_shard_index's (written by unfold), and variants of its index
"$U" data synth --d 3 --true-features 2 --tokens 6 --rows-per-shard 4 --quiet --out "$W/shards" >/dev/null
seed shard_index "$W/shards/index.json" synth_index_json
python3 - "$W/shards/index.json" "$C/shard_index" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["columns"] = ["token_id"]
for i, s in enumerate(j["shards"]):
    s["columns"] = {"token_id": "shard_%05d.token_id.npy" % i}
open(sys.argv[2] + "/seed_with_columns_json", "w").write(json.dumps(j))
j["complete"] = False; j["shards"] = j["shards"][:1]; j["rows"] = j["shards"][0]["rows"]; del j["ground_truth"]
open(sys.argv[2] + "/seed_one_shard_json", "w").write(json.dumps(j, indent=1))
PY

# GPT-2 BPE tokenizer written by unfold's trainer: vocab.json NUL merges.txt, and the same as tokenizer.json
printf 'the cat sat on the mat. The cat ate the rat, and then the cat sat again.\n%.0s' {1..20} > "$W/text.txt"
"$U" lm bpe --corpus "$W/text.txt" --vocab 280 --quiet --out "$W/bpe" >/dev/null
mkdir -p "$C/tokenizer_gpt2" "$C/tokenizer_json"
{ cat "$W/bpe/vocab.json"; printf '\0'; cat "$W/bpe/merges.txt"; } > "$C/tokenizer_gpt2/seed_bpe280"
python3 - "$W/bpe" "$C/tokenizer_json/seed_bpe280_tokenizer_json" <<'PY'
import json, sys
vocab = json.load(open(sys.argv[1] + "/vocab.json"))
merges = [l for l in open(sys.argv[1] + "/merges.txt", encoding="utf-8").read().split("\n")[1:] if l]
added = [{"id": v, "content": k, "special": True} for k, v in vocab.items() if k == "<|endoftext|>"]
tj = {"version": "1.0", "added_tokens": added, "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
open(sys.argv[2], "w").write(json.dumps(tj))
tj["model"]["merges"] = [m.split(" ") for m in merges]
open(sys.argv[2].replace("seed_bpe280", "seed_bpe280_pairs"), "w").write(json.dumps(tj))
PY

# llama2.c checkpoints: a tiny valid one (its rotary tables theta 10000), one with a separate classifier, and
# for the sized target headers + flag byte + payload
python3 - "$C" <<'PY'
import math, os, struct, sys
C = sys.argv[1]
def ckpt(dim, hidden, L, nh, kv, vocab, seq, val=0.01):
    hs = dim // nh; kvd = kv * hs; half = hs // 2; V = abs(vocab)
    n = V * dim + 2 * L * dim + 2 * L * dim * dim + 2 * L * kvd * dim + 3 * L * hidden * dim + dim
    w = [val * ((i % 7) - 3) for i in range(n)]
    cos = [math.cos(p * 10000.0 ** (-2.0 * i / hs)) for p in range(seq) for i in range(half)]
    sin = [math.sin(p * 10000.0 ** (-2.0 * i / hs)) for p in range(seq) for i in range(half)]
    tail = [val] * (V * dim) if vocab < 0 else []
    return struct.pack("<7i", dim, hidden, L, nh, kv, vocab, seq) + struct.pack("<%df" % (n + 2 * len(cos) + len(tail)), *(w + cos + sin + tail))
for t in ("llama2c", "llama2c_sized"):
    os.makedirs(C + "/" + t, exist_ok=True)
open(C + "/llama2c/seed_tiny_bin", "wb").write(ckpt(8, 16, 1, 2, 1, 16, 4))
open(C + "/llama2c/seed_tiny_classifier_bin", "wb").write(ckpt(8, 12, 2, 2, 2, -10, 3))
for name, h in (("tiny", (8, 16, 1, 2, 1, 16, 4)), ("classifier", (8, 12, 2, 2, 2, -10, 3)), ("gqa", (16, 8, 1, 4, 2, 6, 5))):
    payload = struct.pack("<4f", 0.01, -0.02, 0.5, 1.0)
    open(C + "/llama2c_sized/seed_%s_rope" % name, "wb").write(struct.pack("<7i", *h) + b"\x01" + payload)
    open(C + "/llama2c_sized/seed_%s_raw" % name, "wb").write(struct.pack("<7i", *h) + b"\x00" + payload)
PY
head -c 4096 models/stories260K/stories260K.bin > "$C/llama2c/seed_stories260K_head_bin"

# the features database: one written by `unfold features build` (stories260K, an SAE of 16 latents)
if [ -z "${SKIP_FEATURES:-}" ]; then
  M=models/stories260K
  "$U" lm cache --model $M/stories260K.bin --tokenizer $M/tok512.bin --hook blocks.0.hook_resid_post \
    --corpus "$W/text.txt" --tokens 2048 --context 32 --quiet --out "$W/acts" >/dev/null
  "$U" sae train --input "$W/acts" --arch topk --k 4 --latents 16 --steps 40 --batch 256 --eval-tokens 0 --quiet \
    --out "$W/sae" >/dev/null
  "$U" features build --model $M/stories260K.bin --tokenizer $M/tok512.bin --sae "$W/sae" --corpus "$W/text.txt" \
    --tokens 1024 --context 32 --top 2 --quiet --out "$W/f.db" >/dev/null
  seed feature_db "$W/f.db" stories260K_16_latents_db
fi
# hand-made edit lists for fuzz_feature_db_rows (column, row, kind, value): a huge position, a bad histogram,
# a context whose tokens and activations disagree, deleted features
mkdir -p "$C/feature_db_rows"
python3 - "$C/feature_db_rows" <<'PY'
import struct, sys
d = sys.argv[1]
def edit(col, row, kind, value=b""): return bytes([col, row, kind]) + value
open(d + "/seed_nothing", "wb").write(b"")
open(d + "/seed_pos_min", "wb").write(edit(21, 0, 1, struct.pack("<q", -2**63)) + edit(22, 0, 1, struct.pack("<q", 2**63 - 1)))
open(d + "/seed_histogram_text", "wb").write(edit(11, 1, 3, bytes([7]) + b"[1,2,x]"))
open(d + "/seed_tokens_text", "wb").write(edit(23, 0, 3, bytes([9]) + b"[1,2,3,9]"))
open(d + "/seed_delete_feature", "wb").write(edit(4, 1, 5))
open(d + "/seed_density_double", "wb").write(edit(6, 0, 2, struct.pack("<d", float("inf"))))
open(d + "/seed_meta_dsae", "wb").write(edit(0, 1, 3, bytes([2]) + b"-1"))
PY
# request targets for fuzz_serve_request: every route with typical, boundary and bad parameters
mkdir -p "$C/serve_request"
python3 - "$C/serve_request" <<'PY'
import sys
d = sys.argv[1]
targets = {
    "index": "/", "feature_page": "/feature/1", "live_page": "/live", "app_js": "/static/app.js",
    "api": "/api/", "info": "/api/info",
    "features": "/api/features?sort=density&order=desc&offset=0&limit=100",
    "features_search": "/api/features?q=cat&filter=alive&sort=label&order=asc",
    "features_range": "/api/features?min_density=0.001&max_density=0.5&dense=0.1&ids=0,2",
    "features_escaped": "/api/features?q=%20the+cat%E2%9C%93&sort=max",
    "features_bad": "/api/features?limit=-1&offset=99999999999999999999",
    "feature": "/api/feature/2", "feature_missing": "/api/feature/3", "feature_neg": "/api/feature/-1",
    "trace": "/api/trace?text=Once+upon+a+time&top=3",
    "trace_feature": "/api/trace?text=Lily+saw+a+cat&feature=1",
    "steer": "/api/steer?prompt=Once&steer=1=4.5,2=-1&steps=4&temperature=0&seed=3",
    "steer_ablate": "/api/steer?prompt=The+cat&ablate=0&scale=2=0.5&splice=1&steps=2",
    "bad_escape": "/api/features?q=%zz", "repeated": "/api/feature/1?x=1&x=2", "empty_name": "/api/info?=3",
}
for name, t in targets.items():
    open(d + "/seed_" + name, "w").write(t)
PY
for t in $(ls "$C"); do echo "$t: $(ls "$C/$t" | wc -l) files, $(du -sk "$C/$t" | cut -f1) KB"; done

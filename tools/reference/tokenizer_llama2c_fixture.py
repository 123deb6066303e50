#!/usr/bin/env python3
"""tokenizer_llama2c_fixture.py: reference llama2.c encodings for tests/lm/test_tokenizer_llama2c.cpp.

A direct Python port of the algorithm of llama2.c's run.c encode() (bos=0, eos=0): dummy-prefix " " for
non-empty text, one token per UTF-8 character with byte fallback (byte + 3), then the quadratic loop that
merges the adjacent pair whose concatenation has the highest score (first such pair on ties).
Reads stories260K's tok512.bin; writes tests/fixtures/lm/tok_llama2c_cases.json.
Usage: python3 tools/reference/tokenizer_llama2c_fixture.py [tok512.bin]
"""
import json
import os
import random
import struct
import sys

CASES = [
    "Once upon a time, there was a little girl named Lily.",
    "Hello world",
    "",
    " ",
    "  two leading spaces",
    "trailing  ",
    "Lily's mom said, \"Lily, let's go to the park.\"",
    "She didn't know what to do.\nThe end.\n",
    "tabs\tand\nnewlines\n\n",
    "numbers 0 1 42 2024 3.14",
    "café naïve ÅNGSTRÖM",
    "日本語 한국어 中文",
    "emoji 😀 👍🏽 ok",
    "UPPER lower MiXeD",
    "a",
    "\x01\x02 control",
    "The quick brown fox jumps over the lazy dog.",
]


def load(path):
    data = open(path, "rb").read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, pieces, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    return pieces, scores


def encode(text, pieces, scores):
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    raw = text.encode("utf-8")
    tokens = []
    if raw:
        tokens.append(lookup.get(b" ", ord(" ") + 3))
    buf = b""
    for i, c in enumerate(raw):
        if (c & 0xC0) != 0x80:
            buf = b""
        buf += bytes([c])
        if i + 1 < len(raw) and (raw[i + 1] & 0xC0) == 0x80 and len(buf) < 4:
            continue
        if buf in lookup:
            tokens.append(lookup[buf])
        else:
            tokens.extend(b + 3 for b in buf)
        buf = b""
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            cat = pieces[tokens[i]] + pieces[tokens[i + 1]]
            t = lookup.get(cat, -1)
            if t != -1 and scores[t] > best_score:
                best_score, best_id, best_idx = scores[t], t, i
        if best_idx == -1:
            break
        tokens[best_idx] = best_id
        del tokens[best_idx + 1]
    return tokens


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "models", "stories260K", "tok512.bin")
    pieces, scores = load(path)
    rng = random.Random(99)
    pool = list("abcdefghijklmnopqrstuvwxyz   ..,!?'\"\n") + list("LTSO") + ["é", "中", "😀", "\t", "\x00"]
    texts = CASES + ["".join(rng.choice(pool) for _ in range(rng.randint(1, 60))) for _ in range(40)]
    cases = [{"text": t, "ids": encode(t, pieces, scores)} for t in texts]
    out = os.path.join(root, "tests", "fixtures", "lm", "tok_llama2c_cases.json")
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"source": "tools/reference/tokenizer_llama2c_fixture.py (port of llama2.c encode) on tok512.bin",
                   "vocab_size": len(pieces), "cases": cases}, f, ensure_ascii=True, separators=(",", ":"))
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(cases)} cases, {sum(len(c['ids']) for c in cases)} ids, vocab {len(pieces)}")


if __name__ == "__main__":
    main()

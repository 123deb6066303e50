#!/usr/bin/env python3
"""tokenizer_gpt2_kjv.py: whole-corpus GPT-2 reference for tests/lm/test_tokenizer_gpt2.cpp (KjvCorpus).

Builds the KJV text exactly as corpus_kjv_text() documents it (`bible -f gen1:1-rev22:21`, verse references
stripped, a blank line between chapters), encodes it with the reference BPE of tokenizer_gpt2_fixture.py
and writes sizes + FNV-1a 64 hashes (text bytes; ids as little-endian int32) to
tests/fixtures/lm/tok_gpt2_kjv.json. Usage: python3 tools/reference/tokenizer_gpt2_kjv.py [gpt2-dir]
"""
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_gpt2_fixture as F  # noqa: E402


def fnv1a(data):
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def kjv_text():
    raw = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], capture_output=True, check=True).stdout.decode("utf-8")
    out, last = [], None
    for line in raw.split("\n"):
        if not line:
            continue
        ref, _, verse = line.partition(" ")
        chapter = ref[:ref.index(":")]
        if last is not None and chapter != last:
            out.append("\n")
        last = chapter
        out.append(verse.strip(" \t\r") + "\n")
    return "".join(out)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "models", "gpt2-tokenizer")
    vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(d, "merges.txt"), encoding="utf-8").read().split("\n")
    merges = [tuple(l.split(" ")) for l in lines[1:] if l]
    ranks = {m: i for i, m in enumerate(merges)}
    b2u = F.bytes_to_unicode()
    cache = {}

    def bpe(word):
        if word in cache:
            return cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = min((ranks.get((parts[i], parts[i + 1]), 1 << 60), i) for i in range(len(parts) - 1))[0]
            if best == 1 << 60:
                break
            a, b = merges[best]
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        cache[word] = parts
        return parts

    text = kjv_text()
    ids = []
    for piece in F.PAT.findall(text):
        ids.extend(vocab[t] for t in bpe("".join(b2u[b] for b in piece.encode("utf-8"))))
    tb = text.encode("utf-8")
    res = {"source": "tools/reference/tokenizer_gpt2_kjv.py (bible-kjv 4.38, GPT-2 vocab.json/merges.txt)",
           "text_bytes": len(tb), "text_fnv1a64": "%016x" % fnv1a(tb), "n_ids": len(ids),
           "ids_fnv1a64": "%016x" % fnv1a(struct.pack("<%di" % len(ids), *ids)), "first_ids": ids[:40]}
    out = os.path.join(root, "tests", "fixtures", "lm", "tok_gpt2_kjv.json")
    with open(out + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(out + ".tmp", out)
    print(out, res["text_bytes"], res["n_ids"])


if __name__ == "__main__":
    main()

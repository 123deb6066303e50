#!/usr/bin/env python3
"""tokenizer_gpt2_fixture.py: reference GPT-2 byte-level BPE encodings for tests/lm/test_tokenizer_gpt2.cpp.

A from-scratch reference (the `regex` module for the pre-tokenisation pattern, the textbook BPE loop:
repeatedly merge every occurrence of the lowest-ranked pair) run on GPT-2's released vocab.json/merges.txt.
Writes tests/fixtures/lm/tok_gpt2_cases.json: [{"text": str, "ids": [int]}].
Usage: python3 tools/reference/tokenizer_gpt2_fixture.py [gpt2-tokenizer-dir]
"""
import json
import os
import sys

import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"

CASES = [
    "Hello world",
    "Hello, world! How are you today?",
    "",
    " ",
    "  ",
    "   leading spaces",
    "trailing spaces   ",
    "multiple   spaces   between words",
    "a  b",
    "tab\tseparated\tvalues",
    "\t\tdouble tab",
    "line one\nline two\n\nline four\n",
    "\n\n\n",
    "windows\r\nline\r\nends",
    "mixed \t\n whitespace \n\t end",
    "I'm sure you're right, they've said we'll go; it's John's and I'd've DON'T.",
    "'s 't 're 've 'm 'll 'd",
    "don't won't can't shouldn't",
    "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1e10 2024-11-21",
    "Phone +1 (555) 123-4567, cost $1,234.56 or 99%!",
    "Punctuation!!! ??? ... --- *** ### @@@ ~~~ ((())) [[]] {{}}",
    "email@example.com https://example.org/path?q=1&x=y#frag",
    "café naïve résumé façade Ångström",
    "Über straße Ærøskøbing ŁÓDŹ",
    "Ελληνικά κείμενο και Русский текст",
    "日本語のテキストと中文文本",
    "한국어 텍스트",
    "emoji 😀🎉👍🏽 and 👨‍👩‍👧 family",
    "math ∑∫√∞ ≤ ≥ ≠ α β γ",
    "Arabic العربية and Hebrew עברית",
    "Hindi हिन्दी and Thai ภาษาไทย",
    "fullwidth ＡＢＣ１２３ and superscripts ²³ and ½ ⅓ Ⅻ",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "zero\u200bwidth joiner",
    "control\x01chars\x7f here",
    "Hello<|endoftext|>World",
    "<|endoftext|>",
    "a<|endoftext|><|endoftext|>b",
    " <|endoftext|> spaced <|endoftext|>\n",
    "<|endoftext",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "CamelCaseIdentifier snake_case_identifier kebab-case-identifier",
    "def f(x):\n    return x ** 2  # comment\n",
    "    indented code\n        more\n",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX.",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "                                        ",
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "1111111111111111111111111111111111111111",
    "Once upon a time, there was a little girl named Lily.",
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "models", "gpt2-tokenizer")
    with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(d, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(l.split(" ")) for l in lines[1:] if l]
    ranks = {m: i for i, m in enumerate(merges)}
    b2u = bytes_to_unicode()

    def bpe(word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(ranks.get((parts[i], parts[i + 1]), 1 << 60), i) for i in range(len(parts) - 1)]
            best = min(pairs)[0]
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
        return parts

    def encode_ordinary(text):
        ids = []
        for piece in PAT.findall(text):
            vis = "".join(b2u[b] for b in piece.encode("utf-8"))
            ids.extend(vocab[t] for t in bpe(vis))
        return ids

    def encode(text):
        ids = []
        chunks = text.split(EOT)
        for k, c in enumerate(chunks):
            if k:
                ids.append(vocab[EOT])
            ids.extend(encode_ordinary(c))
        return ids

    # random strings over a pool mixing every character class the pre-tokeniser distinguishes (ASCII
    # and non-ASCII letters/numbers/spaces, combining marks, controls, emoji, apostrophe + contraction letters)
    import random
    rng = random.Random(1234)
    pool = list("aAzZ09 '    ") + list("\n\t\r\x0b\x0c\x1c\x85\xa0\u2003\u3000") + list("stmdrevl") + \
        list("!?.,;:-_()[]{}<>|/\\\"#$%&*+=@^`~") + list("éßØωЖאع中ひ한") + list("²½Ⅻ٣") + \
        ["\u0301", "\u200b", "\x00", "\x7f", "😀", "👍🏽", "€", "™"]
    for k in range(120):
        CASES.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    cases = [{"text": t, "ids": encode(t)} for t in CASES]
    out = os.path.join(root, "tests", "fixtures", "lm", "tok_gpt2_cases.json")
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"unicode": "Python unicodedata " + __import__("unicodedata").unidata_version, "source": "tools/reference/tokenizer_gpt2_fixture.py on GPT-2 vocab.json/merges.txt "
                             f"(Python regex {regex.__version__})", "cases": cases}, f, ensure_ascii=True, separators=(",", ":"))
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(cases)} cases, {sum(len(c['ids']) for c in cases)} ids")


if __name__ == "__main__":
    main()

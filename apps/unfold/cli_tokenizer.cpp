// tokenizer_cli.cpp: the corpus / bpe / tokenize commands (a thin layer over corpus.h, bpe_train.h and
// tokenizer.h; see tokenizer_cli.h).
#include "cli_tokenizer.h"

#include <cmath>
#include <cstdio>

#include "args.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/bpe_train.h"
#include "unfold/lm/corpus.h"
#include "unfold/lm/tokenizer.h"

namespace unfold {

int cmd_lm_corpus(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm corpus",
        "Write a plain-text corpus from a package installed on this machine.",
        "unfold lm corpus --source kjv --out data/kjv.txt      # King James Bible, 31,102 verses (~4.1 MB)\n"
        "unfold lm corpus --source gcide --out data/gcide.txt  # GCIDE dictionary entries (~35 MB)",
        {{"source", "kjv", "kjv (Debian bible-kjv + bible-kjv-text) or gcide (dict-gcide)"},
         {"out", "", "output text file (written atomically)"}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    std::string out = a.str("out");
    size_t n = corpus_write_source(a.str("source"), out);
    printf("%s: %zu bytes (%s)\n", out.c_str(), n, a.str("source").c_str());
    return 0;
}

int cmd_lm_bpe(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm bpe",
        "Train a byte-level BPE tokenizer (GPT-2 layout: vocab.json + merges.txt) on a text corpus.",
        "unfold lm bpe --corpus data/kjv.txt --vocab 4096 --out runs/bpe_kjv",
        {{"corpus", "", "UTF-8 text file"},
         {"vocab", "4096", "vocabulary size including the 256 bytes and <|endoftext|>"},
         {"min-count", "2", "stop when the most frequent pair occurs fewer times than this"},
         {"out", "", "output folder for vocab.json and merges.txt"}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    std::string text = corpus_read_text(a.str("corpus"));
    BpeTrainConfig cfg;
    cfg.vocab_size = a.i32("vocab", 1);
    cfg.min_pair_count = a.i64("min-count");
    cfg.ctx = a.ctx;
    BpeTrainStats st;
    auto tok = bpe_train_save(text, cfg, a.str("out"), &st);
    std::vector<int32_t> ids = corpus_tokenize(*tok, text, a.ctx);
    printf("bpe: %lld words (%lld distinct) -> %d merges in %.2f s; vocab %d\n", (long long)st.n_words,
           (long long)st.n_unique_words, st.n_merges, st.seconds, tok->vocab_size());
    printf("corpus: %zu bytes -> %zu tokens (%.3f tokens/byte); unigram entropy %.3f bits/token\n", text.size(),
           ids.size(), (double)ids.size() / (double)text.size(), unigram_entropy_bits(ids, tok->vocab_size()));
    printf("%s\n%s\n", path_join(a.str("out"), "vocab.json").c_str(), path_join(a.str("out"), "merges.txt").c_str());
    return 0;
}

int cmd_lm_tokenize(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm tokenize",
        "Encode a text with a tokenizer (ids and pieces), or tokenize a corpus file and print its statistics.",
        "unfold lm tokenize --tokenizer models/gpt2-tokenizer --text \"Hello world\"\n"
        "unfold lm tokenize --tokenizer models/stories260K/tok512.bin --text \"Once upon a time\"\n"
        "unfold lm tokenize --tokenizer runs/bpe_kjv --corpus data/kjv.txt --val 0.05",
        {{"tokenizer", "", "vocab.json+merges.txt folder, tokenizer.json, or llama2.c tok*.bin"},
         {"text", "", "text to encode (prints id and piece per token)"},
         {"corpus", "", "text file: tokenize (cached as <file>.tok-<hash>.npy) and print statistics"},
         {"val", "0.05", "validation fraction (the end of the stream) for --corpus statistics"},
         {"no-cache", "", "do not read or write the token cache", true}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    auto tok = load_tokenizer(a.str("tokenizer"));
    printf("tokenizer: %s, vocab %d, bos %d, eos %d\n", tok->name().c_str(), tok->vocab_size(), tok->bos_id(),
           tok->eos_id());
    if (a.given("text")) {
        std::vector<int32_t> ids = tok->encode(a.str("text"));
        for (size_t i = 0; i < ids.size(); i++) {
            std::string p = tok->decode_piece(i ? ids[i - 1] : -1, ids[i]), shown;
            for (unsigned char c : p) shown += c == '\n' ? std::string("\\n") : c < 0x20 ? strformat("\\x%02X", c) : std::string(1, (char)c);
            printf("%d\t'%s'\n", ids[i], shown.c_str());
        }
        printf("%zu tokens\n", ids.size());
    }
    if (a.given("corpus")) {
        std::vector<int32_t> ids = corpus_load_tokens(a.str("corpus"), *tok, !a.flag("no-cache"), a.ctx);
        TokenSplit s = corpus_split(ids, a.f64("val"));
        double h = unigram_entropy_nats(ids, tok->vocab_size());
        double x = unigram_cross_entropy_nats(s.train, s.val, tok->vocab_size());
        printf("corpus: %zu tokens (train %zu, val %zu)\n", ids.size(), s.train.size(), s.val.size());
        printf("unigram entropy %.4f nats (%.4f bits) per token; val cross-entropy under train unigram %.4f nats\n",
               h, h / std::log(2.0), x);
    }
    UNFOLD_CHECK(a.given("text") || a.given("corpus"), "give --text or --corpus");
    return 0;
}

}  // namespace unfold

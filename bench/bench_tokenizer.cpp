// bench_tokenizer.cpp: tokenizer and BPE-trainer speed on the KJV Bible (bible-kjv package) or a text file.
//   bench_tokenizer [text.txt] [bpe_vocab=4096]
// Prints: GPT-2 load time; GPT-2 encode MB/s and tokens/s (cold and warm piece cache, and corpus_tokenize
// on all threads); llama2.c tok512 encode MB/s; bpe_train time at the given vocab size and the
// resulting tokens per byte; unigram entropies.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/bpe_train.h"
#include "unfold/lm/corpus.h"
#include "unfold/lm/tokenizer_gpt2.h"
#include "unfold/lm/tokenizer_llama2c.h"

using namespace unfold;

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
    try {
        std::string text = argc > 1 ? corpus_read_text(argv[1]) : corpus_kjv_text();
        int vocab = argc > 2 ? std::atoi(argv[2]) : 4096;
        const double mb = (double)text.size() / 1e6;
        printf("text: %s, %.2f MB\n", argc > 1 ? argv[1] : "KJV (bible -f)", mb);
        std::string g2 = std::string(UNFOLD_SOURCE_DIR) + "/models/gpt2-tokenizer";
        if (file_exists(g2 + "/vocab.json")) {
            double t0 = now();
            auto tok = load_gpt2_tokenizer(g2 + "/vocab.json", g2 + "/merges.txt");
            double t1 = now();
            auto ids = tok->encode(text);
            double t2 = now();
            auto ids2 = tok->encode(text);
            double t3 = now();
            tok->clear_cache();
            double t4 = now();
            auto ids3 = corpus_tokenize(*tok, text);
            double t5 = now();
            printf("gpt2: load %.3f s; encode cold %.3f s (%.1f MB/s, %.2f M tok/s), warm %.3f s (%.1f MB/s); "
                   "corpus_tokenize cold %.3f s (%.1f MB/s); %zu tokens (%.3f tokens/byte), same=%d\n",
                   t1 - t0, t2 - t1, mb / (t2 - t1), ids.size() / 1e6 / (t2 - t1), t3 - t2, mb / (t3 - t2), t5 - t4,
                   mb / (t5 - t4), ids.size(), (double)ids.size() / text.size(), (int)(ids == ids2 && ids == ids3));
            printf("gpt2: unigram entropy %.3f bits/token\n", unigram_entropy_bits(ids, tok->vocab_size()));
        }
        std::string l2 = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/tok512.bin";
        if (file_exists(l2)) {
            auto tok = load_llama2c_tokenizer(l2);
            double t0 = now();
            auto ids = tok->encode(text);
            double t1 = now();
            printf("llama2c tok512: encode %.3f s (%.1f MB/s); %zu tokens; decode round trip %s; unigram %.3f bits\n",
                   t1 - t0, mb / (t1 - t0), ids.size(), tok->decode(ids) == text ? "ok" : "MISMATCH",
                   unigram_entropy_bits(ids, tok->vocab_size()));
        }
        BpeTrainConfig cfg;
        cfg.vocab_size = vocab;
        BpeTrainStats st;
        std::string dir = "/tmp/bench_bpe_" + std::to_string(vocab);
        double t0 = now();
        auto tok = bpe_train_save(text, cfg, dir, &st);
        double t1 = now();
        auto ids = corpus_tokenize(*tok, text);
        double t2 = now();
        printf("bpe_train: vocab %d: %d merges in %.2f s (train+save+load %.2f s); %lld words, %lld unique; "
               "encode %.3f s; %zu tokens (%.3f tokens/byte); unigram %.3f bits; saved %s\n",
               vocab, st.n_merges, st.seconds, t1 - t0, (long long)st.n_words, (long long)st.n_unique_words, t2 - t1,
               ids.size(), (double)ids.size() / text.size(), unigram_entropy_bits(ids, tok->vocab_size()), dir.c_str());
    } catch (const Error& e) {
        fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
        return 1;
    }
    return 0;
}

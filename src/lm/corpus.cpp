// corpus.cpp: tokenising corpora (parallel and cached), train/validation split, unigram baselines and the
// deterministic batch sampler (see corpus.h). Text sources (KJV, GCIDE) are in corpus_sources.cpp.
//
// Parallel tokenising cuts the text after a newline that sits between two printable ASCII characters
// ("x\ny"): GPT-2's pre-tokeniser always ends a piece there (the "\n" is a piece of its own either way), so
// encoding the parts separately gives exactly tok.encode(text). Only byte-level BPE is split this way (the
// llama2.c tokenizer adds a dummy-prefix space per call, so it encodes the text in one go).
#include "unfold/lm/corpus.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"
#include "unfold/lm/tokenizer_gpt2.h"

namespace unfold {
namespace {

bool printable_ascii(unsigned char c) { return c > 0x20 && c < 0x7F; }

// chunk boundaries (including 0 and n) of about `target` bytes at safe cut points
std::vector<size_t> cut_points(const std::string& t, size_t target) {
    std::vector<size_t> cuts{0};
    size_t p = target;
    while (p < t.size()) {
        size_t q = p;
        while (q < t.size() && !(t[q - 1] == '\n' && q >= 2 && printable_ascii(t[q - 2]) && printable_ascii(t[q]))) q++;
        if (q >= t.size()) break;
        cuts.push_back(q);
        p = q + target;
    }
    cuts.push_back(t.size());
    return cuts;
}

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
    const auto* p = (const unsigned char*)data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

}  // namespace

std::string corpus_read_text(const std::string& path) {
    std::string text = read_file(path);
    UNFOLD_CHECK(!text.empty(), "%s: empty text file", path.c_str());
    size_t z = text.find('\0');
    UNFOLD_CHECK(z == std::string::npos, "%s: NUL byte at offset %zu (expected a text file)", path.c_str(), z);
    return text;
}

std::vector<int32_t> corpus_tokenize(const Tokenizer& tok, const std::string& text, const Context& ctx) {
    ThreadScope threads(ctx);
    const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tok);
    bool splittable = bpe != nullptr;
    if (bpe)
        for (int32_t id : bpe->model().specials)
            if (bpe->model().tokens[id].find('\n') != std::string::npos) splittable = false;
    if (!splittable || text.size() < (1u << 20)) return tok.encode(text);
    std::vector<size_t> cuts = cut_points(text, 1u << 18);
    const int64_t nc = (int64_t)cuts.size() - 1;
    std::vector<std::vector<int32_t>> parts((size_t)nc);
    Progress bar(ctx, "tokenising", (int64_t)text.size(), "B");
    std::atomic<int64_t> done{0};
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t c = 0; c < nc; c++) {
        parts[c] = tok.encode(text.substr(cuts[c], cuts[c + 1] - cuts[c]));
        int64_t d = done += (int64_t)(cuts[c + 1] - cuts[c]);
#pragma omp critical(corpus_progress)
        bar.update(d);
    }
    bar.finish();
    size_t total = 0;
    for (auto& p : parts) total += p.size();
    std::vector<int32_t> out;
    out.reserve(total);
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::string corpus_cache_path(const std::string& text_path, const std::string& text, const Tokenizer& tok) {
    uint64_t h = fnv1a(text.data(), text.size());
    std::string desc = tok.name() + "|" + std::to_string(tok.vocab_size()) + "|" + std::to_string(text.size());
    h = fnv1a(desc.data(), desc.size(), h);
    std::vector<int32_t> probe = tok.encode("Hello world! It's 2024: caf\xC3\xA9 \xE4\xB8\xAD\n\n  x<|endoftext|>y");
    h = fnv1a(probe.data(), probe.size() * sizeof(int32_t), h);
    return text_path + ".tok-" + strformat("%016llx", (unsigned long long)h) + ".npy";
}

std::vector<int32_t> corpus_load_tokens(const std::string& text_path, const Tokenizer& tok, bool cache, const Context& ctx) {
    std::string text = corpus_read_text(text_path);
    std::string cpath = cache ? corpus_cache_path(text_path, text, tok) : std::string();
    if (cache && file_exists(cpath)) {
        try {
            std::vector<int64_t> v = npy_load_int(cpath);
            std::vector<int32_t> out(v.size());
            bool ok = !v.empty();
            for (size_t i = 0; i < v.size() && ok; i++) {
                ok = v[i] >= 0 && v[i] < tok.vocab_size();
                out[i] = (int32_t)v[i];
            }
            if (ok) return out;
            ctx.info("%s: token ids out of range for %s; re-tokenising", cpath.c_str(), tok.name().c_str());
        } catch (const Error& e) {
            ctx.info("%s; re-tokenising", e.what());
        }
    }
    std::vector<int32_t> ids = corpus_tokenize(tok, text, ctx);
    UNFOLD_CHECK(!ids.empty(), "%s: the text gives no tokens", text_path.c_str());
    if (cache) {
        try {
            npy_save_int32(cpath, {(int64_t)ids.size()}, ids.data());
        } catch (const Error& e) {
            ctx.warn("token cache not written (%s)", e.what());
        }
    }
    return ids;
}

TokenSplit corpus_split(const std::vector<int32_t>& tokens, double val_frac) {
    UNFOLD_CHECK(val_frac > 0 && val_frac < 1, "corpus_split: val_frac %g must be in (0, 1)", val_frac);
    size_t n = tokens.size();
    size_t nv = (size_t)std::llround((double)n * val_frac);
    UNFOLD_CHECK(nv >= 1 && nv < n, "corpus_split: %zu tokens are too few for a validation fraction of %g", n, val_frac);
    TokenSplit s;
    s.train.assign(tokens.begin(), tokens.end() - (ptrdiff_t)nv);
    s.val.assign(tokens.end() - (ptrdiff_t)nv, tokens.end());
    return s;
}

static std::vector<int64_t> unigram_counts(const std::vector<int32_t>& tokens, int32_t vocab_size) {
    UNFOLD_CHECK(vocab_size > 0, "unigram: vocab_size must be positive");
    std::vector<int64_t> c((size_t)vocab_size, 0);
    for (size_t i = 0; i < tokens.size(); i++) {
        int32_t t = tokens[i];
        UNFOLD_CHECK(t >= 0 && t < vocab_size, "unigram: token %d at position %zu outside [0, %d)", t, i, vocab_size);
        c[t]++;
    }
    return c;
}

double unigram_entropy_nats(const std::vector<int32_t>& tokens, int32_t vocab_size) {
    UNFOLD_CHECK(!tokens.empty(), "unigram_entropy: empty token stream");
    std::vector<int64_t> c = unigram_counts(tokens, vocab_size);
    const double n = (double)tokens.size();
    double h = 0;
    for (int64_t k : c)
        if (k > 0) h -= (double)k / n * std::log((double)k / n);
    return h;
}

double unigram_entropy_bits(const std::vector<int32_t>& tokens, int32_t vocab_size) {
    return unigram_entropy_nats(tokens, vocab_size) / std::log(2.0);
}

double unigram_cross_entropy_nats(const std::vector<int32_t>& train, const std::vector<int32_t>& eval,
                                  int32_t vocab_size, double alpha) {
    UNFOLD_CHECK(!eval.empty(), "unigram_cross_entropy: empty evaluation stream");
    UNFOLD_CHECK(alpha > 0, "unigram_cross_entropy: alpha must be > 0");
    std::vector<int64_t> c = unigram_counts(train, vocab_size);
    std::vector<int64_t> e = unigram_counts(eval, vocab_size);
    const double denom = (double)train.size() + alpha * vocab_size;
    double h = 0;
    for (int32_t t = 0; t < vocab_size; t++)
        if (e[t] > 0) h -= (double)e[t] * std::log(((double)c[t] + alpha) / denom);
    return h / (double)eval.size();
}

void sample_batch(const int32_t* tokens, size_t n, int B, int T, uint64_t seed, uint64_t step, int32_t* out) {
    UNFOLD_CHECK(B > 0 && T > 0, "sample_batch: B=%d and T=%d must be positive", B, T);
    UNFOLD_CHECK(n >= (size_t)T + 1, "sample_batch: %zu tokens are fewer than one window of T+1 = %d", n, T + 1);
    Rng rng = Rng(seed, 0x6261746368ull).split(step);
    const uint64_t n_starts = (uint64_t)(n - (size_t)T);  // starts 0 .. n-T-1
    for (int b = 0; b < B; b++) {
        uint64_t s = rng.below(n_starts);
        std::memcpy(out + (size_t)b * (T + 1), tokens + s, sizeof(int32_t) * ((size_t)T + 1));
    }
}

std::vector<int32_t> sample_batch(const std::vector<int32_t>& tokens, int B, int T, uint64_t seed, uint64_t step) {
    UNFOLD_CHECK(B > 0 && T > 0, "sample_batch: B=%d and T=%d must be positive", B, T);
    std::vector<int32_t> out((size_t)B * ((size_t)T + 1));
    sample_batch(tokens.data(), tokens.size(), B, T, seed, step, out.data());
    return out;
}

std::vector<size_t> eval_window_starts(size_t n, int T, int max_windows) {
    UNFOLD_CHECK(T > 0, "eval_window_starts: T must be positive");
    const size_t w = (size_t)T + 1;
    size_t total = n / w;
    size_t k = max_windows > 0 ? std::min(total, (size_t)max_windows) : total;
    std::vector<size_t> starts;
    if (k == 0) return starts;
    if (k == 1) return {0};
    for (size_t i = 0; i < k; i++) starts.push_back((size_t)((unsigned __int128)i * (n - w) / (k - 1)));
    return starts;
}

}  // namespace unfold

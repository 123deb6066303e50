// bpe_train.cpp: byte-level BPE training with incremental pair counts (see bpe_train.h).
//
// State: the unique words as symbol-id sequences with their counts; pair -> total count; pair -> the words
// that contain it (append-only lists, checked on use); a max-heap of (count, pair) with lazy deletion (an
// entry whose count is no longer current is skipped). Merging pair (a, b) into x visits only the words
// listed for (a, b): their old pairs are subtracted, the word is rewritten left to right, the new pairs are
// added, and every pair whose count changed is pushed once more with its new count.
#include "unfold/lm/bpe_train.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "lm/tokenizer_pretok.h"
#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"

namespace unfold {
namespace {

inline uint64_t key_of(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

struct Entry {
    int64_t count;
    uint64_t key;
    bool operator<(const Entry& o) const { return count != o.count ? count < o.count : key > o.key; }
};

// Counts pre-tokenised words of text, skipping special tokens (they split the text).
std::unordered_map<std::string, int64_t> count_words(const std::string& text, const std::vector<std::string>& specials,
                                                     int64_t* n_words) {
    std::unordered_map<std::string, int64_t> counts;
    std::vector<TextPiece> pieces;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t stop = text.size(), len = 0;
        for (const std::string& s : specials) {
            size_t f = text.find(s, pos);
            if (f < stop || (f == stop && f != std::string::npos && s.size() > len)) stop = f, len = s.size();
        }
        pieces.clear();
        gpt2_pretokenize(text.data() + pos, stop - pos, pieces);
        for (const TextPiece& p : pieces) counts[text.substr(pos + p.offset, p.length)]++;
        *n_words += (int64_t)pieces.size();
        pos = stop + len;
    }
    return counts;
}

}  // namespace

BpeModel bpe_train(const std::string& text, const BpeTrainConfig& cfg, BpeTrainStats* stats) {
    ThreadScope threads(cfg.ctx);
    auto t0 = std::chrono::steady_clock::now();
    const int32_t n_special = (int32_t)cfg.specials.size();
    UNFOLD_CHECK(cfg.vocab_size >= 256 + n_special && cfg.vocab_size <= (1 << 24),
                 "bpe_train: vocab_size %d must be in [%d, 16777216] (256 bytes + %d special tokens)", cfg.vocab_size,
                 256 + n_special, n_special);
    UNFOLD_CHECK(cfg.min_pair_count >= 1, "bpe_train: min_pair_count must be >= 1");
    for (const std::string& s : cfg.specials) {
        // written verbatim into vocab.json, so it must read back unchanged in GPT-2's byte alphabet
        UNFOLD_CHECK(!s.empty() && gpt2_bytes_to_visible(s) == s,
                     "bpe_train: special token '%s' must be non-empty printable ASCII without spaces", s.c_str());
    }

    BpeModel m;
    for (int b = 0; b < 256; b++) m.tokens.push_back(std::string(1, (char)b));

    int64_t n_words = 0;
    auto counts = count_words(text, cfg.specials, &n_words);
    // unique words in sorted order, so the word numbering (and the lists below) never depend on hashing
    std::vector<std::pair<std::string, int64_t>> uw(counts.begin(), counts.end());
    counts.clear();
    std::sort(uw.begin(), uw.end());
    const size_t W = uw.size();
    std::vector<std::vector<int32_t>> word(W);
    std::vector<int64_t> freq(W);
    std::unordered_map<uint64_t, int64_t> pc;
    std::unordered_map<uint64_t, std::vector<int32_t>> where;
    for (size_t w = 0; w < W; w++) {
        freq[w] = uw[w].second;
        for (unsigned char c : uw[w].first) word[w].push_back(c);
        for (size_t i = 0; i + 1 < word[w].size(); i++) {
            uint64_t k = key_of(word[w][i], word[w][i + 1]);
            pc[k] += freq[w];
            auto& lst = where[k];
            if (lst.empty() || lst.back() != (int32_t)w) lst.push_back((int32_t)w);
        }
    }
    uw.clear();
    uw.shrink_to_fit();
    std::priority_queue<Entry> heap;
    for (auto& [k, c] : pc) heap.push({c, k});

    const int32_t target_merges = cfg.vocab_size - 256 - n_special;
    std::vector<int32_t> seen(W, -1);
    std::unordered_set<uint64_t> changed;
    std::vector<int32_t> rewritten;
    Progress bar(cfg.ctx, "bpe merges", target_merges, "merges");
    while ((int32_t)m.merges.size() < target_merges && !heap.empty()) {
        Entry e = heap.top();
        heap.pop();
        auto it = pc.find(e.key);
        if (it == pc.end() || it->second != e.count) continue;  // stale
        if (e.count < cfg.min_pair_count) break;
        const int32_t a = (int32_t)(e.key >> 32), b = (int32_t)(uint32_t)e.key;
        const int32_t x = (int32_t)m.tokens.size();
        const int32_t step = (int32_t)m.merges.size();
        m.tokens.push_back(m.tokens[a] + m.tokens[b]);
        m.merges.emplace_back(a, b);
        changed.clear();
        std::vector<int32_t> lst = std::move(where[e.key]);
        where.erase(e.key);
        for (int32_t w : lst) {
            if (seen[w] == step) continue;
            seen[w] = step;
            std::vector<int32_t>& s = word[w];
            bool has = false;
            for (size_t i = 0; i + 1 < s.size() && !has; i++) has = s[i] == a && s[i + 1] == b;
            if (!has) continue;
            const int64_t f = freq[w];
            for (size_t i = 0; i + 1 < s.size(); i++) {
                uint64_t k = key_of(s[i], s[i + 1]);
                pc[k] -= f;
                changed.insert(k);
            }
            rewritten.clear();
            for (size_t i = 0; i < s.size();) {
                if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
                    rewritten.push_back(x);
                    i += 2;
                } else {
                    rewritten.push_back(s[i++]);
                }
            }
            s.swap(rewritten);
            for (size_t i = 0; i + 1 < s.size(); i++) {
                uint64_t k = key_of(s[i], s[i + 1]);
                pc[k] += f;
                changed.insert(k);
                if (s[i] == x || s[i + 1] == x) {  // a pair that is new in this word
                    auto& l = where[k];
                    if (l.empty() || l.back() != w) l.push_back(w);
                }
            }
        }
        // push changed pairs in a fixed order (the heap's tie-break makes the order irrelevant anyway)
        std::vector<uint64_t> ks(changed.begin(), changed.end());
        std::sort(ks.begin(), ks.end());
        for (uint64_t k : ks) {
            auto jt = pc.find(k);
            if (jt->second <= 0) {
                UNFOLD_ASSERT(jt->second == 0);
                pc.erase(jt);
                where.erase(k);
            } else {
                heap.push({jt->second, k});
            }
        }
        bar.update((int64_t)m.merges.size());
    }
    bar.finish();
    for (const std::string& s : cfg.specials) {
        UNFOLD_CHECK(std::find(m.tokens.begin(), m.tokens.end(), s) == m.tokens.end(),
                     "bpe_train: special token '%s' equals a byte or a learned token", s.c_str());
        m.specials.push_back((int32_t)m.tokens.size());
        m.tokens.push_back(s);
    }
    m.present.assign(m.tokens.size(), 1);
    m.name = "bpe:trained";
    if (stats) {
        stats->n_words = n_words;
        stats->n_unique_words = (int64_t)W;
        stats->n_merges = (int32_t)m.merges.size();
        stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return m;
}

std::unique_ptr<BpeTokenizer> bpe_train_save(const std::string& text, const BpeTrainConfig& cfg,
                                             const std::string& dir, BpeTrainStats* stats) {
    BpeModel m = bpe_train(text, cfg, stats);
    save_gpt2_tokenizer(m, dir);
    return load_gpt2_tokenizer(path_join(dir, "vocab.json"), path_join(dir, "merges.txt"));
}

}  // namespace unfold

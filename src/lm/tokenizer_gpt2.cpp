// tokenizer_gpt2.cpp: byte-level BPE encode/decode (see tokenizer_gpt2.h).
//
// BPE of one piece: symbols start as the piece's bytes, kept in a doubly linked list; every adjacent pair
// that has a merge goes into a min-heap keyed (rank, left position). Popping an entry that is still valid
// (both symbols alive, adjacent and unchanged) merges them and pushes the two new neighbouring pairs.
// This gives the same result as GPT-2's reference loop (repeatedly merge all occurrences of the lowest
// ranked pair, left to right) whenever a merge's rank exceeds the ranks of the merges that built its parts,
// which holds for every trained BPE.
#include "unfold/lm/tokenizer_gpt2.h"

#include <algorithm>
#include <queue>

#include "lm/tokenizer_pretok.h"
#include "unfold/core/error.h"

namespace unfold {
namespace {
inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
constexpr size_t k_cache_max = 1u << 20;
}  // namespace

BpeTokenizer::BpeTokenizer(BpeModel model, const std::string& source) : m_(std::move(model)) {
    const size_t V = m_.tokens.size();
    UNFOLD_CHECK(V > 0 && m_.present.size() == V, "%s: empty vocabulary", source.c_str());
    by_bytes_.reserve(V * 2);
    for (size_t id = 0; id < V; id++) {
        if (!m_.present[id]) continue;
        by_bytes_.emplace(m_.tokens[id], (int32_t)id);  // a duplicate keeps the lowest id
    }
    for (int b = 0; b < 256; b++) {
        auto it = by_bytes_.find(std::string(1, (char)b));
        UNFOLD_CHECK(it != by_bytes_.end(), "%s: no token for byte 0x%02X (a byte-level BPE needs all 256 bytes)",
                     source.c_str(), b);
        byte_id_[b] = it->second;
    }
    merge_.reserve(m_.merges.size() * 2);
    for (size_t r = 0; r < m_.merges.size(); r++) {
        auto [a, b] = m_.merges[r];
        UNFOLD_CHECK(a >= 0 && (size_t)a < V && m_.present[a] && b >= 0 && (size_t)b < V && m_.present[b],
                     "%s: merge %zu refers to a token id that does not exist", source.c_str(), r);
        auto it = by_bytes_.find(m_.tokens[a] + m_.tokens[b]);
        UNFOLD_CHECK(it != by_bytes_.end(), "%s: merge %zu: result is not in the vocabulary", source.c_str(), r);
        merge_.emplace(pair_key(a, b), std::make_pair((int32_t)r, it->second));  // first rank wins
    }
    for (int32_t id : m_.specials) {
        UNFOLD_CHECK(id >= 0 && (size_t)id < V && m_.present[id] && !m_.tokens[id].empty(),
                     "%s: special token id %d is not a non-empty token", source.c_str(), id);
        special_text_.push_back(m_.tokens[id]);
        if (m_.tokens[id] == "<|endoftext|>") eot_ = id;
    }
    if (eot_ < 0) {
        auto it = by_bytes_.find("<|endoftext|>");
        if (it != by_bytes_.end()) eot_ = it->second;
    }
}

int32_t BpeTokenizer::token_id(const std::string& bytes) const {
    auto it = by_bytes_.find(bytes);
    return it == by_bytes_.end() ? -1 : it->second;
}

void BpeTokenizer::clear_cache() const {
    std::unique_lock<std::shared_mutex> lock(mu_);
    cache_.clear();
}

void BpeTokenizer::bpe(const char* s, size_t n, std::vector<int32_t>& out) const {
    const auto* u = (const unsigned char*)s;
    if (n == 1) {
        out.push_back(byte_id_[u[0]]);
        return;
    }
    std::vector<int32_t> id(n), nxt(n), prv(n);
    for (size_t i = 0; i < n; i++) {
        id[i] = byte_id_[u[i]];
        nxt[i] = (int32_t)i + 1;
        prv[i] = (int32_t)i - 1;
    }
    nxt[n - 1] = -1;
    struct Cand {
        int32_t rank, left, right, lid, rid;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push = [&](int32_t l) {
        if (l < 0) return;
        int32_t r = nxt[l];
        if (r < 0) return;
        auto it = merge_.find(pair_key(id[l], id[r]));
        if (it != merge_.end()) heap.push({it->second.first, l, r, id[l], id[r]});
    };
    for (size_t i = 0; i + 1 < n; i++) push((int32_t)i);
    while (!heap.empty()) {
        Cand c = heap.top();
        heap.pop();
        if (id[c.left] != c.lid || nxt[c.left] != c.right || id[c.right] != c.rid) continue;  // stale
        id[c.left] = merge_.find(pair_key(c.lid, c.rid))->second.second;
        int32_t after = nxt[c.right];
        nxt[c.left] = after;
        if (after >= 0) prv[after] = c.left;
        id[c.right] = -1;  // dead
        push(prv[c.left]);
        push(c.left);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i]) out.push_back(id[i]);
}

void BpeTokenizer::encode_piece(const char* s, size_t n, std::vector<int32_t>& out) const {
    if (n == 0) return;
    if (n == 1) {
        out.push_back(byte_id_[(unsigned char)s[0]]);
        return;
    }
    std::string key(s, n);
    {
        std::shared_lock<std::shared_mutex> lock(mu_);
        auto it = cache_.find(key);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    size_t before = out.size();
    bpe(s, n, out);
    std::vector<int32_t> ids(out.begin() + before, out.end());
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (cache_.size() >= k_cache_max) cache_.clear();
    cache_.emplace(std::move(key), std::move(ids));
}

void BpeTokenizer::encode_ordinary(const char* s, size_t n, std::vector<int32_t>& out) const {
    std::vector<TextPiece> pieces;
    gpt2_pretokenize(s, n, pieces);
    for (const TextPiece& p : pieces) encode_piece(s + p.offset, p.length, out);
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 16);
    size_t pos = 0;
    const size_t n = text.size();
    while (pos < n) {
        // earliest special token at or after pos (the longest one if several start there)
        size_t best = std::string::npos, best_len = 0;
        int32_t best_id = -1;
        for (size_t k = 0; k < special_text_.size(); k++) {
            size_t f = text.find(special_text_[k], pos);
            if (f == std::string::npos) continue;
            if (f < best || (f == best && special_text_[k].size() > best_len)) {
                best = f;
                best_len = special_text_[k].size();
                best_id = m_.specials[k];
            }
        }
        size_t stop = best == std::string::npos ? n : best;
        encode_ordinary(text.data() + pos, stop - pos, out);
        if (best == std::string::npos) break;
        out.push_back(best_id);
        pos = best + best_len;
    }
    return out;
}

std::string BpeTokenizer::decode_piece(int32_t prev, int32_t id) const {
    UNFOLD_CHECK(id >= 0 && (size_t)id < m_.tokens.size() && m_.present[id],
                 "%s: token id %d is not in the vocabulary (size %zu)", m_.name.c_str(), id, m_.tokens.size());
    return m_.tokens[id];
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) out += decode_piece(-1, id);
    return out;
}

}  // namespace unfold

// tokenizer_llama2c.cpp: llama2.c tokenizer files and encode/decode with llama2.c's exact semantics.
#include "unfold/lm/tokenizer_llama2c.h"

#include <cmath>
#include <cstring>
#include <queue>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold {
namespace {

constexpr float k_no_merge = -1e10f;  // llama2.c's initial best_score: pairs scoring <= this never merge

// "<0xXX>" -> XX, else -1 (llama2.c: sscanf(piece, "<0x%02hhX>", &byte))
int byte_token_value(const std::string& p) {
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                                   int32_t max_token_length, const std::string& name)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), max_token_length_(max_token_length), name_(name) {
    UNFOLD_CHECK(pieces_.size() == scores_.size(), "%s: %zu pieces but %zu scores", name.c_str(), pieces_.size(),
                 scores_.size());
    UNFOLD_CHECK(pieces_.size() >= 259, "%s: %zu tokens; need at least 259 (ids 3..258 are the byte tokens)",
                 name.c_str(), pieces_.size());
    for (int b = 0; b < 256; b++)
        UNFOLD_CHECK(byte_token_value(pieces_[(size_t)b + 3]) == b,
                     "%s: token %d is '%s', expected the byte token <0x%02X> (ids 3..258 are bytes 0x00..0xFF)",
                     name.c_str(), b + 3, pieces_[(size_t)b + 3].substr(0, 32).c_str(), b);
    // Text is matched against the text pieces only (ids 259 and up): a control piece (<unk>, BOS "\n<s>\n", EOS)
    // or a byte token's name ("<0x41>") that happens to appear in the text, or to be reachable by merges, is
    // not that token (sentencepiece's rule; llama2.c would emit it, and decode would then lose the text).
    lookup_.reserve(pieces_.size() * 2);
    for (size_t i = 259; i < pieces_.size(); i++) lookup_.emplace(pieces_[i], (int32_t)i);  // first id wins
    // segmentation mode of encode(): see there
    bool space_inside = false, nonspace_then_space = false, empty = false;
    for (const std::string& p : pieces_) {
        empty |= p.empty();
        space_inside |= p.find(' ', 1) != std::string::npos;
        for (size_t k = 1; k < p.size(); k++) nonspace_then_space |= p[k] == ' ' && p[k - 1] != ' ';
    }
    if (lookup_.count(" ") && !empty) segment_ = !space_inside ? 2 : !nonspace_then_space ? 1 : 0;
    // every id of each piece string that can stand in a sequence: byte tokens by their names, as llama2.c joins
    // them ("<0x41>" + next piece), and text pieces; the merge results are text pieces only (lookup_)
    std::unordered_map<std::string, std::vector<int32_t>> ids_of;
    for (size_t i = 3; i < pieces_.size(); i++) ids_of[pieces_[i]].push_back((int32_t)i);
    for (auto& [str, t] : lookup_) {  // t: the id a lookup of this string returns
        for (size_t k = 0; k <= str.size(); k++) {
            auto l = ids_of.find(str.substr(0, k));
            if (l == ids_of.end()) continue;
            auto r = ids_of.find(str.substr(k));
            if (r == ids_of.end()) continue;
            for (int32_t a : l->second)
                for (int32_t b : r->second) pair_.emplace(((uint64_t)(uint32_t)a << 32) | (uint32_t)b, t);
        }
    }
}

int32_t Llama2cTokenizer::piece_id(const std::string& s) const {
    auto it = lookup_.find(s);
    return it == lookup_.end() ? -1 : it->second;
}

// Merges within id[0, m) (llama2.c's loop, with a heap), appending the result to out.
void Llama2cTokenizer::merge_range(std::vector<int32_t>& id, std::vector<int32_t>& out) const {
    const int32_t m = (int32_t)id.size();
    if (m == 0) return;
    std::vector<int32_t> nxt(m), prv(m);
    for (int32_t i = 0; i < m; i++) nxt[i] = i + 1, prv[i] = i - 1;
    nxt[m - 1] = -1;
    struct Cand {
        float score;
        int32_t left, right, lid, rid, result;
        bool operator<(const Cand& o) const { return score != o.score ? score < o.score : left > o.left; }
    };
    std::priority_queue<Cand> heap;
    auto push = [&](int32_t l) {
        if (l < 0 || nxt[l] < 0) return;
        int32_t r = nxt[l];
        auto it = pair_.find(((uint64_t)(uint32_t)id[l] << 32) | (uint32_t)id[r]);
        if (it == pair_.end()) return;
        int32_t t = it->second;
        if (scores_[t] > k_no_merge) heap.push({scores_[t], l, r, id[l], id[r], t});
    };
    for (int32_t i = 0; i + 1 < m; i++) push(i);
    while (!heap.empty()) {
        Cand c = heap.top();
        heap.pop();
        if (id[c.left] != c.lid || nxt[c.left] != c.right || id[c.right] != c.rid) continue;  // stale
        id[c.left] = c.result;
        int32_t after = nxt[c.right];
        nxt[c.left] = after;
        if (after >= 0) prv[after] = c.left;
        id[c.right] = -1;
        push(prv[c.left]);
        push(c.left);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i]) out.push_back(id[i]);
}

std::vector<int32_t> Llama2cTokenizer::encode(const std::string& text) const {
    std::vector<int32_t> out;
    if (text.empty()) return out;
    out.reserve(text.size() / 2 + 1);
    // Segments. A merge joins the piece strings of two adjacent tokens; the token of a space character is
    // the piece " ". If no piece has a space after its first byte (segment_ 2, e.g. tok512), no merge
    // joins anything to a following space token, so the text can be merged segment by segment with a new
    // segment at every space. If no piece has a non-space byte followed by a space (segment_ 1, e.g.
    // Llama 2's "▁▁" pieces), the same holds at spaces that follow a non-space byte. The result equals
    // llama2.c's one global merge loop, with small heaps.
    std::vector<int32_t> seg;
    // dummy prefix (llama2.c would push id -1 if " " were not a piece; we then add none, which keeps
    // decode(encode(s)) == s)
    int32_t space = piece_id(" ");
    if (space >= 0) seg.push_back(space);
    // one token per UTF-8 character (a buffer of up to 4 bytes: a lead byte and its continuation bytes)
    const auto* s = (const unsigned char*)text.data();
    const size_t n = text.size();
    std::string buf;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) buf.clear();
        buf += (char)s[i];
        if (i + 1 < n && (s[i + 1] & 0xC0) == 0x80 && buf.size() < 4) continue;
        if (buf.size() == 1 && buf[0] == ' ' && (segment_ == 2 || (segment_ == 1 && i > 0 && s[i - 1] != ' '))) {
            merge_range(seg, out);
            seg.clear();
        }
        int32_t t = piece_id(buf);
        if (t >= 0) {
            seg.push_back(t);
        } else {
            for (unsigned char b : buf) seg.push_back((int32_t)b + 3);
        }
        buf.clear();
    }
    merge_range(seg, out);
    return out;
}

std::string Llama2cTokenizer::decode_piece(int32_t prev, int32_t id) const {
    UNFOLD_CHECK(id >= 0 && (size_t)id < pieces_.size(), "%s: token id %d out of range [0, %zu)", name_.c_str(), id,
                 pieces_.size());
    const std::string& p = pieces_[id];
    // after BOS, sentencepiece drops the leading space of the piece
    std::string piece = (prev == 1 && !p.empty() && p[0] == ' ') ? p.substr(1) : p;
    int b = byte_token_value(piece);
    if (b >= 0) return std::string(1, (char)b);
    return piece;
}

std::string Llama2cTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    int32_t prev = bos_id();
    for (int32_t id : ids) {
        if (id != bos_id() && id != eos_id()) out += decode_piece(prev, id);
        prev = id;
    }
    return out;
}

std::unique_ptr<Llama2cTokenizer> load_llama2c_tokenizer(const std::string& path, int32_t expected_vocab) {
    std::string data = read_file(path);
    const char* p = data.data();
    const size_t n = data.size();
    size_t off = 0;
    auto read_i32 = [&](const char* field) {
        UNFOLD_CHECK(off + 4 <= n, "%s: truncated at byte %zu reading %s (file has %zu bytes)", path.c_str(), off,
                     field, n);
        int32_t v;
        std::memcpy(&v, p + off, 4);
        off += 4;
        return v;
    };
    int32_t max_len = read_i32("max_token_length");
    UNFOLD_CHECK(max_len > 0 && max_len <= (1 << 16), "%s: max_token_length %d out of range [1, 65536]",
                 path.c_str(), max_len);
    std::vector<std::string> pieces;
    std::vector<float> scores;
    while (off < n) {
        size_t i = pieces.size();
        std::string field = "token " + std::to_string(i);
        int32_t sbits = read_i32((field + " score").c_str());
        float score;
        std::memcpy(&score, &sbits, 4);
        UNFOLD_CHECK(std::isfinite(score), "%s: %s: score is not finite", path.c_str(), field.c_str());
        int32_t len = read_i32((field + " length").c_str());
        UNFOLD_CHECK(len >= 0, "%s: %s: negative length %d", path.c_str(), field.c_str(), len);
        UNFOLD_CHECK(len <= max_len, "%s: %s: length %d exceeds max_token_length %d", path.c_str(), field.c_str(),
                     len, max_len);
        UNFOLD_CHECK(off + (size_t)len <= n, "%s: %s: truncated (%d bytes of text, %zu left in the file)",
                     path.c_str(), field.c_str(), len, n - off);
        pieces.emplace_back(p + off, (size_t)len);
        scores.push_back(score);
        off += (size_t)len;
        if (expected_vocab > 0) {
            UNFOLD_CHECK((int32_t)pieces.size() <= expected_vocab, "%s: more than the expected %d tokens",
                         path.c_str(), expected_vocab);
        }
    }
    if (expected_vocab > 0)
        UNFOLD_CHECK((int32_t)pieces.size() == expected_vocab, "%s: %zu tokens, expected %d (truncated file?)",
                     path.c_str(), pieces.size(), expected_vocab);
    UNFOLD_CHECK(pieces.size() >= 259, "%s: %zu tokens; a llama2.c tokenizer needs at least 259 (ids 3..258 = bytes)",
                 path.c_str(), pieces.size());
    std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    return std::make_unique<Llama2cTokenizer>(std::move(pieces), std::move(scores), max_len, "llama2c:" + base);
}

void save_llama2c_tokenizer(const Llama2cTokenizer& tok, const std::string& path) {
    std::string out;
    auto put = [&](const void* v, size_t k) { out.append((const char*)v, k); };
    int32_t max_len = tok.max_token_length();
    put(&max_len, 4);
    for (int32_t i = 0; i < tok.vocab_size(); i++) {
        float s = tok.score(i);
        int32_t len = (int32_t)tok.piece(i).size();
        put(&s, 4);
        put(&len, 4);
        put(tok.piece(i).data(), (size_t)len);
    }
    write_file_atomic(path, out);
}

}  // namespace unfold

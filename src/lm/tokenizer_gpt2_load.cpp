// tokenizer_gpt2_load.cpp: reading and writing byte-level BPE files (untrusted input).
//   vocab.json + merges.txt  (GPT-2 / Hugging Face "slow" layout)
//   tokenizer.json           (Hugging Face "fast" layout, model.type BPE; merges as "a b" or ["a","b"])
// Token strings in these files are in GPT-2's visible byte alphabet ("Ġ" = space); added/special tokens
// of a tokenizer.json are plain UTF-8. Errors name the file, the field (token, line, index) and the problem.
#include <algorithm>
#include <unordered_map>

#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/tokenizer_gpt2.h"

namespace unfold {
namespace {

constexpr int64_t k_max_vocab = 1 << 24;

std::string shown(const std::string& s) {  // a token for an error message: bounded, one line
    std::string out;
    for (unsigned char c : s.substr(0, 48)) out += (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    return s.size() > 48 ? out + "..." : out;
}

struct RawMerge {
    std::string a, b;
    std::string where;  // "line 7" / "merges[6]"
};

// vocab: (visible token, id); added: (plain content, id); merges in rank order.
BpeModel build_model(const std::vector<std::pair<std::string, int64_t>>& vocab,
                     const std::vector<std::pair<std::string, int64_t>>& added, const std::vector<RawMerge>& merges,
                     const std::string& vocab_src, const std::string& merges_src, bool eot_special) {
    BpeModel m;
    int64_t max_id = -1;
    for (auto& [tok, id] : vocab) max_id = std::max(max_id, id);
    for (auto& [tok, id] : added) max_id = std::max(max_id, id);
    UNFOLD_CHECK(max_id >= 0, "%s: the vocabulary is empty", vocab_src.c_str());
    m.tokens.assign((size_t)max_id + 1, std::string());
    m.present.assign((size_t)max_id + 1, 0);
    std::unordered_map<std::string, int64_t> added_ids;
    for (auto& [content, id] : added) added_ids.emplace(content, id);
    std::unordered_map<std::string, int32_t> by_visible;
    by_visible.reserve(vocab.size() * 2);
    for (auto& [tok, id] : vocab) {
        std::string bytes;
        if (!gpt2_visible_to_bytes(tok, &bytes)) {
            UNFOLD_CHECK(added_ids.count(tok), "%s: token '%s' (id %lld) has a character outside GPT-2's byte alphabet",
                         vocab_src.c_str(), shown(tok).c_str(), (long long)id);
            bytes = tok;
        }
        UNFOLD_CHECK(!tok.empty(), "%s: empty token string (id %lld)", vocab_src.c_str(), (long long)id);
        UNFOLD_CHECK(!m.present[id], "%s: id %lld is used by two tokens ('%s' and '%s')", vocab_src.c_str(),
                     (long long)id, shown(gpt2_bytes_to_visible(m.tokens[id])).c_str(), shown(tok).c_str());
        m.tokens[id] = bytes;
        m.present[id] = 1;
        by_visible.emplace(tok, (int32_t)id);
    }
    for (auto& [content, id] : added) {
        UNFOLD_CHECK(!content.empty(), "%s: added token %lld has empty content", vocab_src.c_str(), (long long)id);
        if (m.present[id]) {
            UNFOLD_CHECK(m.tokens[id] == content, "%s: added token '%s' has id %lld, which the vocabulary gives to another token",
                         vocab_src.c_str(), shown(content).c_str(), (long long)id);
        } else {
            m.tokens[id] = content;
            m.present[id] = 1;
        }
        m.specials.push_back((int32_t)id);
    }
    if (eot_special) {
        auto it = by_visible.find("<|endoftext|>");
        if (it != by_visible.end() && std::find(m.specials.begin(), m.specials.end(), it->second) == m.specials.end())
            m.specials.push_back(it->second);
    }
    m.merges.reserve(merges.size());
    for (const RawMerge& r : merges) {
        auto ia = by_visible.find(r.a);
        UNFOLD_CHECK(ia != by_visible.end(), "%s: %s: merge part '%s' is not a token of %s", merges_src.c_str(),
                     r.where.c_str(), shown(r.a).c_str(), vocab_src.c_str());
        auto ib = by_visible.find(r.b);
        UNFOLD_CHECK(ib != by_visible.end(), "%s: %s: merge part '%s' is not a token of %s", merges_src.c_str(),
                     r.where.c_str(), shown(r.b).c_str(), vocab_src.c_str());
        UNFOLD_CHECK(by_visible.count(r.a + r.b), "%s: %s: merge result '%s' is not a token of %s",
                     merges_src.c_str(), r.where.c_str(), shown(r.a + r.b).c_str(), vocab_src.c_str());
        m.merges.emplace_back(ia->second, ib->second);
    }
    return m;
}

int64_t token_id_field(const Json& v, const std::string& src, const std::string& tok) {
    std::string ctx = src + ": token '" + shown(tok) + "'";
    UNFOLD_CHECK(v.is_num(), "%s: id must be a number", ctx.c_str());
    int64_t id = v.as_int(ctx);
    UNFOLD_CHECK(id >= 0 && id < k_max_vocab, "%s: id %lld out of range [0, %lld)", ctx.c_str(), (long long)id,
                 (long long)k_max_vocab);
    return id;
}

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    size_t s = p.find_last_of('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(const std::string& path) {
    size_t s = path.find_last_of('/');
    return s == std::string::npos ? std::string(".") : path.substr(0, s);
}

}  // namespace

std::unique_ptr<BpeTokenizer> load_gpt2_tokenizer(const std::string& vocab_json, const std::string& merges_txt) {
    UNFOLD_CHECK(file_exists(vocab_json), "%s: missing file (a GPT-2 tokenizer needs vocab.json + merges.txt)",
                 vocab_json.c_str());
    UNFOLD_CHECK(file_exists(merges_txt), "%s: missing file (a GPT-2 tokenizer needs vocab.json + merges.txt)",
                 merges_txt.c_str());
    Json j = json_load(vocab_json);
    UNFOLD_CHECK(j.is_obj(), "%s: expected a JSON object {\"token\": id, ...}", vocab_json.c_str());
    std::vector<std::pair<std::string, int64_t>> vocab;
    vocab.reserve(j.obj.size());
    for (auto& [tok, v] : j.obj) vocab.emplace_back(tok, token_id_field(v, vocab_json, tok));

    std::string text = read_file(merges_txt);
    std::vector<RawMerge> merges;
    size_t pos = 0, line = 0;
    while (pos < text.size()) {
        size_t e = text.find('\n', pos);
        if (e == std::string::npos) e = text.size();
        std::string l = text.substr(pos, e - pos);
        pos = e + 1;
        line++;
        if (!l.empty() && l.back() == '\r') l.pop_back();
        if (line == 1 && l.rfind("#version", 0) == 0) continue;
        if (l.empty()) continue;
        size_t sp = l.find(' ');
        UNFOLD_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < l.size() && l.find(' ', sp + 1) == std::string::npos,
                     "%s: line %zu: expected two tokens separated by one space, got '%s'", merges_txt.c_str(), line,
                     shown(l).c_str());
        merges.push_back({l.substr(0, sp), l.substr(sp + 1), "line " + std::to_string(line)});
    }
    BpeModel m = build_model(vocab, {}, merges, vocab_json, merges_txt, true);
    m.name = "bpe:" + base_name(dir_name(vocab_json));
    return std::make_unique<BpeTokenizer>(std::move(m), vocab_json);
}

std::unique_ptr<BpeTokenizer> load_hf_tokenizer_json(const std::string& path) {
    Json j = json_load(path);
    UNFOLD_CHECK(j.is_obj(), "%s: expected a JSON object at the top level", path.c_str());
    const Json& model = j.at("model", path);
    UNFOLD_CHECK(model.is_obj(), "%s: field 'model' must be an object", path.c_str());
    std::string type = model.get_str("type", "BPE");
    UNFOLD_CHECK(type == "BPE", "%s: model.type is '%s'; only BPE tokenizers are supported", path.c_str(),
                 shown(type).c_str());
    const Json& vj = model.at("vocab", path + ": model");
    UNFOLD_CHECK(vj.is_obj(), "%s: model.vocab must be an object {\"token\": id}", path.c_str());
    std::vector<std::pair<std::string, int64_t>> vocab;
    vocab.reserve(vj.obj.size());
    for (auto& [tok, v] : vj.obj) vocab.emplace_back(tok, token_id_field(v, path + ": model.vocab", tok));

    std::vector<std::pair<std::string, int64_t>> added;
    if (const Json* aj = j.find("added_tokens"); aj && !aj->is_null()) {
        UNFOLD_CHECK(aj->is_arr(), "%s: added_tokens must be an array", path.c_str());
        for (size_t i = 0; i < aj->arr.size(); i++) {
            std::string ctx = path + ": added_tokens[" + std::to_string(i) + "]";
            const Json& t = aj->arr[i];
            UNFOLD_CHECK(t.is_obj(), "%s: expected an object", ctx.c_str());
            const std::string& content = t.at("content", ctx).as_str(ctx + ".content");
            added.emplace_back(content, token_id_field(t.at("id", ctx), ctx, content));
        }
    }
    const Json& mj = model.at("merges", path + ": model");
    UNFOLD_CHECK(mj.is_arr(), "%s: model.merges must be an array", path.c_str());
    std::vector<RawMerge> merges;
    merges.reserve(mj.arr.size());
    for (size_t i = 0; i < mj.arr.size(); i++) {
        std::string where = "model.merges[" + std::to_string(i) + "]";
        const Json& e = mj.arr[i];
        if (e.is_str()) {
            const std::string& l = e.str;
            size_t sp = l.find(' ');
            UNFOLD_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < l.size() && l.find(' ', sp + 1) == std::string::npos,
                         "%s: %s: expected \"a b\" (two tokens, one space), got '%s'", path.c_str(), where.c_str(),
                         shown(l).c_str());
            merges.push_back({l.substr(0, sp), l.substr(sp + 1), where});
        } else {
            UNFOLD_CHECK(e.is_arr() && e.arr.size() == 2 && e.arr[0].is_str() && e.arr[1].is_str(),
                         "%s: %s: expected \"a b\" or [\"a\", \"b\"]", path.c_str(), where.c_str());
            merges.push_back({e.arr[0].str, e.arr[1].str, where});
        }
    }
    BpeModel m = build_model(vocab, added, merges, path, path, true);
    m.name = "bpe:" + base_name(path);
    return std::make_unique<BpeTokenizer>(std::move(m), path);
}

void save_gpt2_tokenizer(const BpeModel& m, const std::string& dir) {
    make_dirs(dir);
    Json vocab = Json::object();
    for (size_t id = 0; id < m.tokens.size(); id++) {
        if (!m.present[id]) continue;
        bool special = std::find(m.specials.begin(), m.specials.end(), (int32_t)id) != m.specials.end();
        // appended directly: operator[] searches the keys, which is quadratic for a 50k vocabulary
        vocab.obj.emplace_back(special ? m.tokens[id] : gpt2_bytes_to_visible(m.tokens[id]), Json((int64_t)id));
    }
    std::string merges = "#version: 0.2\n";
    for (auto [a, b] : m.merges)
        merges += gpt2_bytes_to_visible(m.tokens[a]) + " " + gpt2_bytes_to_visible(m.tokens[b]) + "\n";
    json_save(path_join(dir, "vocab.json"), vocab);
    write_file_atomic(path_join(dir, "merges.txt"), merges);
}

}  // namespace unfold

// tokenizer_load.cpp: load_tokenizer(path) - detects the tokenizer kind from the file or folder.
//   folder with vocab.json + merges.txt -> GPT-2 byte-level BPE (also unfold's bpe_train output)
//   folder with tokenizer.json / a *.json file other than vocab.json -> Hugging Face tokenizer.json (BPE)
//   folder with tokenizer.bin or tok*.bin / a *.bin file -> llama2.c tokenizer
#include <string>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/lm/tokenizer_gpt2.h"
#include "unfold/lm/tokenizer_llama2c.h"

namespace unfold {
namespace {

bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string base_of(const std::string& p) {
    size_t s = p.find_last_of('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_of(const std::string& p) {
    size_t s = p.find_last_of('/');
    return s == std::string::npos ? std::string(".") : (s == 0 ? std::string("/") : p.substr(0, s));
}

std::unique_ptr<Tokenizer> load_file(const std::string& path) {
    std::string base = base_of(path);
    if (base == "vocab.json") return load_gpt2_tokenizer(path, path_join(dir_of(path), "merges.txt"));
    if (base == "merges.txt") return load_gpt2_tokenizer(path_join(dir_of(path), "vocab.json"), path);
    if (ends_with(base, ".json")) return load_hf_tokenizer_json(path);
    if (ends_with(base, ".bin")) return load_llama2c_tokenizer(path);
    // unknown extension: a JSON document starts with '{'
    std::string head = read_file(path).substr(0, 64);
    size_t k = head.find_first_not_of(" \t\r\n");
    if (k != std::string::npos && head[k] == '{') return load_hf_tokenizer_json(path);
    return load_llama2c_tokenizer(path);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
    UNFOLD_CHECK(!path.empty(), "load_tokenizer: empty path");
    UNFOLD_CHECK(file_exists(path), "%s: missing file or folder (expected a tokenizer: a folder with vocab.json + "
                 "merges.txt, a tokenizer.json or a tok*.bin)", path.c_str());
    if (!is_directory(path)) return load_file(path);
    std::string vocab = path_join(path, "vocab.json"), merges = path_join(path, "merges.txt");
    if (file_exists(vocab) || file_exists(merges)) return load_gpt2_tokenizer(vocab, merges);
    std::string hf = path_join(path, "tokenizer.json");
    if (file_exists(hf)) return load_hf_tokenizer_json(hf);
    std::string bin = path_join(path, "tokenizer.bin");
    if (file_exists(bin)) return load_llama2c_tokenizer(bin);
    for (const std::string& name : list_dir(path))
        if (name.rfind("tok", 0) == 0 && ends_with(name, ".bin")) return load_llama2c_tokenizer(path_join(path, name));
    fail("%s: no tokenizer in this folder (expected vocab.json + merges.txt, tokenizer.json, tokenizer.bin or "
         "tok*.bin)", path.c_str());
}

}  // namespace unfold

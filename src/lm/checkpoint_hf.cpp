// checkpoint_hf.cpp: Hugging Face-layout checkpoints (config.json + model.safetensors, or shards listed by
// model.safetensors.index.json) for GPT-2 and Llama, plus the format-detecting lm_load. Our own trained models are written in the same layout.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/checkpoint.h"

namespace unfold {

// HF permute(w) maps Meta row h*hs + 2i + p to HF row h*hs + p*hs/2 + i.
void rope_rows_hf_to_interleaved(float* w, int64_t nheads, int64_t hs, int64_t cols) {
    std::vector<float> tmp((size_t)(hs * cols));
    for (int64_t h = 0; h < nheads; h++) {
        float* blk = w + h * hs * cols;
        for (int64_t i = 0; i < hs / 2; i++)
            for (int64_t p = 0; p < 2; p++)
                std::memcpy(&tmp[(size_t)((2 * i + p) * cols)], blk + (p * hs / 2 + i) * cols,
                            (size_t)cols * sizeof(float));
        std::memcpy(blk, tmp.data(), tmp.size() * sizeof(float));
    }
}

void rope_rows_interleaved_to_hf(float* w, int64_t nheads, int64_t hs, int64_t cols) {
    std::vector<float> tmp((size_t)(hs * cols));
    for (int64_t h = 0; h < nheads; h++) {
        float* blk = w + h * hs * cols;
        for (int64_t i = 0; i < hs / 2; i++)
            for (int64_t p = 0; p < 2; p++)
                std::memcpy(&tmp[(size_t)((p * hs / 2 + i) * cols)], blk + (2 * i + p) * cols,
                            (size_t)cols * sizeof(float));
        std::memcpy(blk, tmp.data(), tmp.size() * sizeof(float));
    }
}

static bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

static std::string dir_of(const std::string& path) {
    size_t k = path.find_last_of('/');
    return k == std::string::npos ? "." : path.substr(0, k);
}

// Is `name` (without prefix) a tensor HF checkpoints carry that we do not use?
static bool ignorable(const std::string& name, const LmConfig& c) {
    if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias")) return c.arch == LmArch::GPT2;
    if (ends_with(name, "rotary_emb.inv_freq")) return true;
    if (name == "lm_head.weight") return c.tied;
    return false;
}

// The tensors of a checkpoint: one model.safetensors, or the shards a model.safetensors.index.json lists
// ({"weight_map": {tensor name: shard file}}, how Hugging Face stores large models).
struct HfTensors {
    std::string where;  // for messages: the file or the index
    std::vector<std::unique_ptr<SafeTensorsReader>> files;
    std::map<std::string, const SafeTensorsReader*> by_name;

    void add_file(const std::string& path) {
        files.push_back(std::make_unique<SafeTensorsReader>(path));
        for (const StEntry& e : files.back()->entries()) by_name[e.name] = files.back().get();
    }
    static HfTensors open_index(const std::string& dir, const std::string& index_path) {
        HfTensors t;
        t.where = index_path;
        Json ix = json_load(index_path);
        const Json* wm = ix.is_obj() ? ix.find("weight_map") : nullptr;
        UNFOLD_CHECK(wm && wm->is_obj() && wm->size() > 0, "%s: field 'weight_map': expected a non-empty object",
                     index_path.c_str());
        std::map<std::string, const SafeTensorsReader*> opened;
        for (const auto& [name, file] : wm->obj) {
            UNFOLD_CHECK(file.is_str() && !file.str.empty() && file.str.find('/') == std::string::npos &&
                             file.str.find("..") == std::string::npos,
                         "%s: weight_map['%s']: expected a file name in the same folder", index_path.c_str(),
                         name.c_str());
            auto it = opened.find(file.str);
            if (it == opened.end()) {
                const std::string fp = path_join(dir, file.str);
                UNFOLD_CHECK(file_exists(fp), "%s: weight_map['%s'] names %s, which does not exist",
                             index_path.c_str(), name.c_str(), fp.c_str());
                t.files.push_back(std::make_unique<SafeTensorsReader>(fp));
                it = opened.emplace(file.str, t.files.back().get()).first;
            }
            UNFOLD_CHECK(it->second->has(name), "%s: weight_map['%s'] names %s, which has no such tensor",
                         index_path.c_str(), name.c_str(), it->second->path().c_str());
            t.by_name[name] = it->second;
        }
        // every tensor of every shard must be in the map (a stale index would load the wrong weights)
        for (const auto& f : t.files)
            for (const StEntry& e : f->entries())
                UNFOLD_CHECK(t.by_name.count(e.name) && t.by_name[e.name] == f.get(),
                             "%s: %s holds tensor '%s', which weight_map does not assign to it", index_path.c_str(),
                             f->path().c_str(), e.name.c_str());
        return t;
    }
    bool has(const std::string& name) const { return by_name.count(name) > 0; }
};

void lm_load_hf(LmModel& m, const std::string& path) {
    std::string cfg_path;
    HfTensors st;
    if (is_directory(path)) {
        cfg_path = path_join(path, "config.json");
        const std::string single = path_join(path, "model.safetensors"),
                          index = path_join(path, "model.safetensors.index.json");
        if (file_exists(single)) {
            st.where = single;
            st.add_file(single);
        } else {
            UNFOLD_CHECK(file_exists(index), "%s: no model.safetensors or model.safetensors.index.json",
                         path.c_str());
            st = HfTensors::open_index(path, index);
        }
    } else {
        cfg_path = path_join(dir_of(path), "config.json");
        st.where = path;
        st.add_file(path);
    }
    UNFOLD_CHECK(file_exists(cfg_path), "%s: no config.json beside the weights (expected %s)", path.c_str(),
                 cfg_path.c_str());
    LmConfig cfg = lm_config_from_hf_json(json_load(cfg_path), cfg_path);
    // GPT-2 checkpoints may prefix every name with "transformer."
    std::string prefix;
    if (cfg.arch == LmArch::GPT2 && !st.has("wte.weight") && st.has("transformer.wte.weight")) prefix = "transformer.";
    // Every tensor the config implies must be in the files with its shape before anything is allocated: a
    // config.json that claims more than the weights hold is refused here, not by allocating what it claims.
    for (const ParamView& v : lm_param_layout(cfg)) {
        const std::string name = prefix + v.name;
        UNFOLD_CHECK(st.has(name), "%s: missing tensor '%s' (expected shape %s for %s)", st.where.c_str(),
                     name.c_str(), shape_str(v.shape).c_str(), cfg.describe().c_str());
        const StEntry& e = st.by_name.at(name)->entry(name);
        UNFOLD_CHECK(e.shape == v.shape, "%s: tensor '%s': expected shape %s for %s, found %s",
                     st.by_name.at(name)->path().c_str(), name.c_str(), shape_str(v.shape).c_str(),
                     cfg.describe().c_str(), shape_str(e.shape).c_str());
    }
    lm_build(m, cfg);
    for (const ParamView& v : m.params.views) {
        std::string name = prefix + v.name;
        Tensor t = st.by_name.at(name)->read_f32(name, v.shape);
        std::memcpy(m.params.data.data() + v.offset, t.ptr(), v.numel * sizeof(float));
    }
    for (const auto& [full, file] : st.by_name) {
        std::string n = full.compare(0, prefix.size(), prefix) == 0 ? full.substr(prefix.size()) : full;
        UNFOLD_CHECK(m.params.has(n) || ignorable(n, cfg), "%s: unexpected tensor '%s' for %s", file->path().c_str(),
                     full.c_str(), cfg.describe().c_str());
    }
    if (cfg.arch == LmArch::LLAMA)
        for (auto& L : m.layers) {
            rope_rows_hf_to_interleaved(m.p(L.qkv_w), cfg.n_heads, cfg.head_dim(), cfg.d_model);
            rope_rows_hf_to_interleaved(m.p(L.k_w), cfg.n_kv_heads, cfg.head_dim(), cfg.d_model);
        }
}

std::vector<StWriteTensor> lm_hf_tensors(const LmModel& m, bool grads, std::vector<std::vector<float>>& storage) {
    const LmConfig& c = m.cfg;
    const std::vector<float>& buf = grads ? m.params.grad : m.params.data;
    std::vector<StWriteTensor> out;
    storage.clear();
    storage.reserve(m.params.views.size());
    for (const ParamView& v : m.params.views) {
        const float* src = buf.data() + v.offset;
        bool is_q = ends_with(v.name, "self_attn.q_proj.weight"), is_k = ends_with(v.name, "self_attn.k_proj.weight");
        if (c.arch == LmArch::LLAMA && (is_q || is_k)) {
            storage.emplace_back(src, src + v.numel);
            rope_rows_interleaved_to_hf(storage.back().data(), is_q ? c.n_heads : c.n_kv_heads, c.head_dim(),
                                        c.d_model);
            src = storage.back().data();
        }
        out.push_back({v.name, v.shape, src, DType::F32});
    }
    return out;
}

void lm_save_hf(const LmModel& m, const std::string& dir, const std::map<std::string, std::string>& metadata) {
    make_dirs(dir);
    std::vector<std::vector<float>> storage;
    auto ts = lm_hf_tensors(m, false, storage);
    std::map<std::string, std::string> md = metadata;
    md["format"] = "pt";
    safetensors_write(path_join(dir, "model.safetensors"), ts, md);
    json_save(path_join(dir, "config.json"), lm_config_to_hf_json(m.cfg));
}

void lm_load(LmModel& m, const std::string& path) {
    UNFOLD_CHECK(file_exists(path) || is_directory(path), "%s: no such model file or folder", path.c_str());
    if (is_directory(path) || ends_with(path, ".safetensors")) return lm_load_hf(m, path);
    if (ends_with(path, ".bin")) return lm_load_llama2c(m, path);
    fail("%s: unknown model format (expected a llama2.c .bin, a .safetensors file, or a folder with config.json + "
         "model.safetensors)",
         path.c_str());
}

}  // namespace unfold

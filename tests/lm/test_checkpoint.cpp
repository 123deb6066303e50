// test_checkpoint.cpp: checkpoint round trips and rejection of corrupt inputs with one-line messages.
//   llama2.c .bin: truncated, extra bytes, too short for a header, bad header fields, altered rotary table;
//   HF layout: wrong tensor shape, missing tensor, unexpected tensor, NaN weights, invalid / wrong
//   config.json, missing files; save -> load round trips (GPT-2, Llama with HF q/k permutation) are
//   bit-identical; the optional "transformer." prefix of GPT-2 checkpoints is accepted.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include <cmath>
#include <cstring>
#include <unistd.h>

#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"
#include "unfold/lm/checkpoint.h"

using namespace unfold;

static const std::string kBin = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/stories260K.bin";
static const std::string kGpt2 = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/gpt2_tiny";

static struct TmpCleanup {
    ~TmpCleanup() { std::filesystem::remove_all("/tmp/unfold_test_lm_ckpt_" + std::to_string(getpid())); }
} tmp_cleanup;

static std::string tmp(const std::string& name) {
    std::string d = "/tmp/unfold_test_lm_ckpt_" + std::to_string(getpid());
    make_dirs(d);
    return path_join(d, name);
}

// Expects lm_load to throw a one-line error containing `needle`.
static void expect_reject(const std::string& path, const std::string& needle) {
    LmModel m;
    try {
        lm_load(m, path);
        ADD_FAILURE() << path << ": loaded, expected an error containing '" << needle << "'";
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
    }
}

TEST(Checkpoint, Llama2cCorruptFilesRejected) {
    std::string bin = read_file(kBin);
    auto put = [&](const std::string& name, const std::string& bytes) {
        std::string p = tmp(name);
        write_file_atomic(p, bytes);
        return p;
    };
    expect_reject(put("trunc.bin", bin.substr(0, bin.size() - 4)), "needs exactly 1056540");
    expect_reject(put("extra.bin", bin + "abcd"), "is 1056544 bytes");
    expect_reject(put("short.bin", bin.substr(0, 10)), "too short");
    std::string h = bin;
    int32_t seven = 7;
    std::memcpy(&h[12], &seven, 4);  // n_heads = 7 does not divide dim 64
    expect_reject(put("heads.bin", h), "n_heads 7");
    h = bin;
    int32_t neg = -64;
    std::memcpy(&h[0], &neg, 4);
    expect_reject(put("dim.bin", h), "'dim' = -64");
    h = bin;
    int32_t big = 100000;
    std::memcpy(&h[24], &big, 4);  // seq_len -> size mismatch
    expect_reject(put("seq.bin", h), "needs exactly");
    h = bin;
    // first freq_cos entry (position 0, must be cos 0 = 1) sits after all weights: 28 + 4 * 259968 floats...
    size_t cos_off = 28 + 4 * (size_t)(512 * 64 + 5 * 64 * 2 + 5 * 64 * 64 * 2 + 5 * 32 * 64 * 2 + 5 * 172 * 64 * 3 + 64);
    float two = 2.0f;
    std::memcpy(&h[cos_off], &two, 4);
    expect_reject(put("rope.bin", h), "freq_cos[0,0]");
    h = bin;
    float nan = NAN;
    std::memcpy(&h[28 + 40], &nan, 4);
    expect_reject(put("nan.bin", h), "NaN");
    expect_reject(tmp("does_not_exist.bin"), "no such model");
}

// Writes a copy of the GPT-2 fixture with `edit` applied to its tensor list / config.
static std::string gpt2_variant(const std::string& name,
                                const std::function<void(std::vector<StWriteTensor>&, std::vector<Tensor>&)>& edit,
                                const std::function<void(Json&)>& cfg_edit = nullptr) {
    SafeTensorsReader r(kGpt2 + "/model.safetensors");
    std::vector<Tensor> store;
    store.reserve(r.entries().size() + 4);
    std::vector<StWriteTensor> ts;
    for (const auto& e : r.entries()) {
        store.push_back(r.read_f32(e.name));
        ts.push_back({e.name, e.shape, store.back().ptr(), DType::F32});
    }
    edit(ts, store);
    std::string dir = tmp(name);
    make_dirs(dir);
    safetensors_write(path_join(dir, "model.safetensors"), ts);
    Json cfg = json_load(kGpt2 + "/config.json");
    if (cfg_edit) cfg_edit(cfg);
    json_save(path_join(dir, "config.json"), cfg);
    return dir;
}

TEST(Checkpoint, HfCorruptFilesRejected) {
    auto find = [](std::vector<StWriteTensor>& ts, const std::string& n) -> StWriteTensor& {
        for (auto& t : ts)
            if (t.name == n) return t;
        throw std::runtime_error("no " + n);
    };
    expect_reject(gpt2_variant("shape", [&](auto& ts, auto&) { find(ts, "wte.weight").shape = {16, 37}; }),
                  "expected shape [37,16]");
    expect_reject(gpt2_variant("missing",
                               [&](auto& ts, auto&) {
                                   ts.erase(std::remove_if(ts.begin(), ts.end(),
                                                           [](auto& t) { return t.name == "ln_f.bias"; }),
                                            ts.end());
                               }),
                  "missing tensor 'ln_f.bias'");
    expect_reject(gpt2_variant("extra",
                               [&](auto& ts, auto& store) {
                                   store.push_back(Tensor({3}, 1.0f));
                                   ts.push_back({"h.9.mystery", {3}, store.back().ptr(), DType::F32});
                               }),
                  "unexpected tensor 'h.9.mystery'");
    {  // a NaN weight (patched into the bytes: the writer itself refuses NaN)
        std::string dir = gpt2_variant("nan", [](auto&, auto&) {});
        std::string p = path_join(dir, "model.safetensors");
        uint64_t off;
        {
            SafeTensorsReader r(p);
            uint64_t hlen;
            std::string bytes = read_file(p);
            std::memcpy(&hlen, bytes.data(), 8);
            off = 8 + hlen + r.entry("ln_f.weight").begin + 4 * 3;
        }
        std::string bytes = read_file(p);
        float nan = NAN;
        std::memcpy(&bytes[off], &nan, 4);
        write_file_atomic(p, bytes);
        expect_reject(dir, "NaN");
    }
    expect_reject(gpt2_variant("type", [](auto&, auto&) {}, [](Json& c) { c["model_type"] = "bert"; }),
                  "field 'model_type' is 'bert'");
    expect_reject(gpt2_variant("heads", [](auto&, auto&) {}, [](Json& c) { c["n_head"] = 5; }), "n_heads 5");
    expect_reject(gpt2_variant("noembd", [](auto&, auto&) {},
                               [](Json& c) {
                                   Json o = Json::object();
                                   for (auto& kv : c.obj)
                                       if (kv.first != "n_embd") o[kv.first] = kv.second;
                                   c = o;
                               }),
                  "n_embd");
    expect_reject(gpt2_variant("act", [](auto&, auto&) {}, [](Json& c) { c["activation_function"] = "relu"; }),
                  "activation_function");
    // a config.json that claims far more than the weights hold (vocab 2^24 x d_model 2^16: 2^40 floats) is refused
    // by comparing it with the file, before anything is allocated (it used to allocate what it claimed and end in
    // std::bad_alloc, or in the OOM killer for a claim just under the machine's memory)
    expect_reject(gpt2_variant("huge", [](auto&, auto&) {},
                               [](Json& c) {
                                   c["vocab_size"] = 1 << 24;
                                   c["n_embd"] = 1 << 16;
                                   c["n_head"] = 1 << 10;
                               }),
                  "tensor 'wte.weight': expected shape [16777216,65536]");
    std::string bad_json = gpt2_variant("json", [](auto&, auto&) {});
    write_file_atomic(path_join(bad_json, "config.json"), "{\"model_type\": \"gpt2\",, }");
    expect_reject(bad_json, "config.json");
    std::string no_cfg = tmp("nocfg");
    make_dirs(no_cfg);
    write_file_atomic(path_join(no_cfg, "model.safetensors"), read_file(kGpt2 + "/model.safetensors"));
    expect_reject(no_cfg, "no config.json");
    std::string trunc = gpt2_variant("trunc", [](auto&, auto&) {});
    std::string st = read_file(path_join(trunc, "model.safetensors"));
    write_file_atomic(path_join(trunc, "model.safetensors"), st.substr(0, st.size() - 8));
    expect_reject(trunc, "model.safetensors");
}

TEST(Checkpoint, TransformerPrefixAccepted) {
    std::string dir = gpt2_variant("prefix", [](auto& ts, auto&) {
        for (auto& t : ts) t.name = "transformer." + t.name;
    });
    LmModel a, b;
    lm_load(a, dir);
    lm_load(b, kGpt2);
    EXPECT_EQ(a.params.data, b.params.data);
}

// A small model of either family (Llama with grouped-query heads; head size 4).
static LmConfig small_config(LmArch arch) {
    LmConfig c;
    c.arch = arch;
    c.vocab = 50;
    c.d_model = 24;
    c.n_layers = 2;
    c.n_heads = 6;
    c.n_kv_heads = arch == LmArch::LLAMA ? 3 : 6;
    c.d_mlp = 40;
    c.n_ctx = 16;
    c.tied = arch == LmArch::GPT2;
    return c;
}

TEST(Checkpoint, SaveLoadRoundTripsBothFamilies) {
    for (LmArch arch : {LmArch::GPT2, LmArch::LLAMA}) {
        const LmConfig c = small_config(arch);
        LmModel m;
        lm_build(m, c);
        lm_init_random(m, 9);
        std::string dir = tmp(std::string("rt_") + arch_name(arch));
        lm_save_hf(m, dir);
        LmModel r;
        lm_load(r, dir);
        EXPECT_EQ(r.params.data, m.params.data) << arch_name(arch);
        EXPECT_EQ(r.cfg.describe(), m.cfg.describe());
        if (arch == LmArch::LLAMA) {
            // the file holds q_proj in HF row order: row 1 of the file = interleaved row 2 (head 0, hs 4)
            SafeTensorsReader st(path_join(dir, "model.safetensors"));
            Tensor q = st.read_f32("model.layers.0.self_attn.q_proj.weight", {24, 24});
            const float* mine = m.p(m.layers[0].qkv_w);
            for (int j = 0; j < 24; j++) EXPECT_EQ(q[1 * 24 + j], mine[2 * 24 + j]);
        }
    }
}

// Splits a saved model.safetensors into two shard files plus model.safetensors.index.json (Hugging Face's
// layout for large models). `edit` may change the index before it is written.
static std::string shard_copy(const std::string& src_dir, const std::string& name,
                              const std::function<void(Json&)>& edit = nullptr) {
    std::string dir = tmp(name);
    make_dirs(dir);
    write_file_atomic(path_join(dir, "config.json"), read_file(path_join(src_dir, "config.json")));
    SafeTensorsReader r(path_join(src_dir, "model.safetensors"));
    std::vector<Tensor> data;
    std::vector<StWriteTensor> part[2];
    data.reserve(r.entries().size());
    Json wm = Json::object();
    size_t i = 0;
    for (const StEntry& e : r.entries()) {
        data.push_back(r.read_f32(e.name));
        const int s = (int)(i++ % 2);
        part[s].push_back({e.name, e.shape, data.back().ptr(), DType::F32});
        wm[e.name] = Json(std::string(s == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"));
    }
    safetensors_write(path_join(dir, "model-00001-of-00002.safetensors"), part[0]);
    safetensors_write(path_join(dir, "model-00002-of-00002.safetensors"), part[1]);
    Json ix = Json::object();
    ix["metadata"] = Json::object();
    ix["weight_map"] = wm;
    if (edit) edit(ix);
    json_save(path_join(dir, "model.safetensors.index.json"), ix);
    return dir;
}

TEST(Checkpoint, ShardedCheckpointsLoadLikeOneFile) {
    // both families (Llama exercises the q/k row permutation on tensors read from a shard)
    for (LmArch arch : {LmArch::GPT2, LmArch::LLAMA}) {
        LmModel m;
        lm_build(m, small_config(arch));
        lm_init_random(m, 5);
        std::string one = tmp(std::string("one_") + arch_name(arch));
        lm_save_hf(m, one);
        std::string sharded = shard_copy(one, std::string("sharded_") + arch_name(arch));
        LmModel a, b;
        lm_load(a, one);
        lm_load(b, sharded);
        EXPECT_EQ(a.params.data, b.params.data) << arch_name(arch);
        EXPECT_EQ(b.params.data, m.params.data) << arch_name(arch);
    }
}

TEST(Checkpoint, ShardIndexErrorsNameTheProblem) {
    std::string base = tmp("shard_base");
    {
        LmModel m;
        lm_load(m, kGpt2);
        lm_save_hf(m, base);
    }
    expect_reject(shard_copy(base, "ix_missing_file",
                             [](Json& ix) { ix["weight_map"]["wte.weight"] = Json(std::string("nope.safetensors")); }),
                  "weight_map['wte.weight'] names");
    expect_reject(shard_copy(base, "ix_path", [](Json& ix) {
                      ix["weight_map"]["wte.weight"] = Json(std::string("../model-00001-of-00002.safetensors"));
                  }),
                  "expected a file name in the same folder");
    expect_reject(shard_copy(base, "ix_wrong_shard",
                             [](Json& ix) {
                                 // wte sits in shard 1; claim it is in shard 2
                                 const std::string& f = ix["weight_map"]["wte.weight"].str;
                                 ix["weight_map"]["wte.weight"] = Json(std::string(
                                     f == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors"
                                                                             : "model-00001-of-00002.safetensors"));
                             }),
                  "which has no such tensor");
    expect_reject(shard_copy(base, "ix_stale",
                             [](Json& ix) {
                                 Json wm = Json::object();
                                 for (auto& [k, v] : ix["weight_map"].obj)
                                     if (k != "ln_f.bias") wm[k] = v;
                                 ix["weight_map"] = wm;
                             }),
                  "which weight_map does not assign to it");
    expect_reject(shard_copy(base, "ix_empty", [](Json& ix) { ix["weight_map"] = Json::object(); }),
                  "field 'weight_map': expected a non-empty object");
    std::string none = tmp("no_weights");
    make_dirs(none);
    write_file_atomic(path_join(none, "config.json"), read_file(path_join(base, "config.json")));
    expect_reject(none, "no model.safetensors or model.safetensors.index.json");
}

// Size fields are bounded before any arithmetic on them: n_embd 2^62 made 4 * n_embd (the default n_inner)
// overflow int64, and head_dim 2^62 its product with the head count (undefined behaviour the sanitizer build
// reports; reproducers in fuzz/crashes/hf_config). Token ids must fit an int32.
TEST(Checkpoint, HfConfigSizesAreBoundedBeforeArithmetic) {
    auto cfg_error = [](const std::function<void(Json&)>& edit, const char* family) {
        Json c = json_load(std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/" + family + "/config.json");
        edit(c);
        try {
            lm_config_from_hf_json(c, "config.json");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(cfg_error([](Json& c) { c["n_embd"] = (int64_t)1 << 62; c["n_inner"] = Json(); }, "gpt2_tiny"),
              "config.json: field 'n_embd' is 4611686018427387904, expected 1..1073741824");
    EXPECT_EQ(cfg_error([](Json& c) { c["head_dim"] = (int64_t)1 << 62; }, "llama_tiny"),
              "config.json: field 'head_dim' is 4611686018427387904, expected 1..1073741824");
    EXPECT_EQ(cfg_error([](Json& c) { c["num_key_value_heads"] = -2; }, "llama_tiny"),
              "config.json: field 'num_key_value_heads' is -2, expected 1..1073741824");
    EXPECT_EQ(cfg_error([](Json& c) { c["bos_token_id"] = (int64_t)1 << 40; }, "gpt2_tiny"),
              "config.json: field 'bos_token_id' is 1099511627776, expected a token id");
    EXPECT_EQ(cfg_error([](Json& c) { c["n_head"] = 5; }, "gpt2_tiny"),
              "config.json: n_heads 5 must be positive and divide d_model 16");
    EXPECT_EQ(cfg_error([](Json&) {}, "llama_tiny"), "accepted");
}

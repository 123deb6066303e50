// lm_config.cpp: model configuration checks and Hugging Face config.json reading / writing.
//   GPT-2 keys: model_type "gpt2", vocab_size, n_embd, n_layer, n_head, n_inner (null = 4*n_embd), n_positions,
//               layer_norm_epsilon, activation_function ("gelu_new"), tie_word_embeddings (must be true).
//   Llama keys: model_type "llama", vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
//               num_key_value_heads, intermediate_size, max_position_embeddings, rms_norm_eps, rope_theta,
//               tie_word_embeddings, hidden_act ("silu").
#include "unfold/lm/model.h"

#include "unfold/core/error.h"

namespace unfold {

const char* arch_name(LmArch a) { return a == LmArch::GPT2 ? "gpt2" : "llama"; }

void LmConfig::validate(const std::string& ctx) const {
    const char* c = ctx.c_str();
    UNFOLD_CHECK(vocab > 0 && vocab <= (1 << 24), "%s: vocab_size %lld must be in [1, 16777216]", c, (long long)vocab);
    UNFOLD_CHECK(d_model > 0 && d_model <= 65536, "%s: d_model %lld must be in [1, 65536]", c, (long long)d_model);
    UNFOLD_CHECK(n_layers > 0 && n_layers <= 1024, "%s: n_layers %lld must be in [1, 1024]", c, (long long)n_layers);
    UNFOLD_CHECK(n_heads > 0 && d_model % n_heads == 0, "%s: n_heads %lld must be positive and divide d_model %lld", c,
                 (long long)n_heads, (long long)d_model);
    UNFOLD_CHECK(n_kv_heads > 0 && n_heads % n_kv_heads == 0,
                 "%s: n_kv_heads %lld must be positive and divide n_heads %lld", c, (long long)n_kv_heads,
                 (long long)n_heads);
    UNFOLD_CHECK(arch == LmArch::LLAMA || n_kv_heads == n_heads, "%s: GPT-2 needs n_kv_heads == n_heads", c);
    UNFOLD_CHECK(arch == LmArch::GPT2 || head_dim() % 2 == 0, "%s: rotary needs an even head size, got %lld", c,
                 (long long)head_dim());
    UNFOLD_CHECK(d_mlp > 0 && d_mlp <= (1 << 20), "%s: d_mlp %lld must be in [1, 1048576]", c, (long long)d_mlp);
    UNFOLD_CHECK(n_ctx > 0 && n_ctx <= (1 << 20), "%s: context %lld must be in [1, 1048576]", c, (long long)n_ctx);
    UNFOLD_CHECK(norm_eps > 0 && norm_eps < 1, "%s: norm eps %g must be in (0, 1)", c, (double)norm_eps);
    UNFOLD_CHECK(rope_theta > 1, "%s: rope_theta %g must be > 1", c, (double)rope_theta);
    UNFOLD_CHECK(arch == LmArch::LLAMA || tied, "%s: GPT-2 models have a tied unembedding", c);
}

std::string LmConfig::describe() const {
    return strformat("%s: vocab %lld, d_model %lld, %lld layers, %lld heads (%lld kv), d_mlp %lld, context %lld%s",
                     arch_name(arch), (long long)vocab, (long long)d_model, (long long)n_layers, (long long)n_heads,
                     (long long)n_kv_heads, (long long)d_mlp, (long long)n_ctx, tied ? ", tied unembedding" : "");
}

Json lm_config_to_hf_json(const LmConfig& c) {
    Json j = Json::object();
    if (c.arch == LmArch::GPT2) {
        j["architectures"] = Json::array_of(std::vector<std::string>{"GPT2LMHeadModel"});
        j["model_type"] = "gpt2";
        j["vocab_size"] = c.vocab;
        j["n_embd"] = c.d_model;
        j["n_layer"] = c.n_layers;
        j["n_head"] = c.n_heads;
        j["n_inner"] = c.d_mlp;
        j["n_positions"] = c.n_ctx;
        j["n_ctx"] = c.n_ctx;
        j["layer_norm_epsilon"] = (double)c.norm_eps;
        j["activation_function"] = "gelu_new";
        j["tie_word_embeddings"] = true;
    } else {
        j["architectures"] = Json::array_of(std::vector<std::string>{"LlamaForCausalLM"});
        j["model_type"] = "llama";
        j["vocab_size"] = c.vocab;
        j["hidden_size"] = c.d_model;
        j["num_hidden_layers"] = c.n_layers;
        j["num_attention_heads"] = c.n_heads;
        j["num_key_value_heads"] = c.n_kv_heads;
        j["intermediate_size"] = c.d_mlp;
        j["max_position_embeddings"] = c.n_ctx;
        j["rms_norm_eps"] = (double)c.norm_eps;
        j["rope_theta"] = (double)c.rope_theta;
        j["tie_word_embeddings"] = c.tied;
        j["hidden_act"] = "silu";
    }
    if (c.bos_id >= 0) j["bos_token_id"] = c.bos_id;
    if (c.eos_id >= 0) j["eos_token_id"] = c.eos_id;
    j["torch_dtype"] = "float32";
    return j;
}

// A size field: an integer in [1, 2^30] (LmConfig::validate then applies the real limits), so the arithmetic on
// it below (4 * n_embd, head_dim * heads) cannot overflow.
static int64_t size_field(const Json& v, const char* key, const std::string& ctx) {
    const int64_t x = v.as_int(ctx + ": field '" + key + "'");
    UNFOLD_CHECK(x >= 1 && x <= (1 << 30), "%s: field '%s' is %lld, expected 1..1073741824", ctx.c_str(), key,
                 (long long)x);
    return x;
}
static int64_t req_size(const Json& j, const char* key, const std::string& ctx) {
    return size_field(j.at(key, ctx), key, ctx);
}

LmConfig lm_config_from_hf_json(const Json& j, const std::string& ctx) {
    UNFOLD_CHECK(j.is_obj(), "%s: expected a JSON object", ctx.c_str());
    std::string type = j.get_str("model_type", "");
    LmConfig c;
    if (type == "gpt2") {
        c.arch = LmArch::GPT2;
        c.vocab = req_size(j, "vocab_size", ctx);
        c.d_model = req_size(j, "n_embd", ctx);
        c.n_layers = req_size(j, "n_layer", ctx);
        c.n_heads = req_size(j, "n_head", ctx);
        c.n_kv_heads = c.n_heads;
        const Json* inner = j.find("n_inner");
        c.d_mlp = inner && !inner->is_null() ? size_field(*inner, "n_inner", ctx) : 4 * c.d_model;
        c.n_ctx = j.has("n_positions") ? req_size(j, "n_positions", ctx) : req_size(j, "n_ctx", ctx);
        c.norm_eps = (float)j.get_num("layer_norm_epsilon", 1e-5);
        std::string act = j.get_str("activation_function", "gelu_new");
        UNFOLD_CHECK(act == "gelu_new" || act == "gelu_pytorch_tanh",
                     "%s: field 'activation_function' is '%s', expected \"gelu_new\" (tanh GELU)", ctx.c_str(),
                     act.c_str());
        UNFOLD_CHECK(j.get_bool("tie_word_embeddings", true), "%s: field 'tie_word_embeddings' must be true for GPT-2",
                     ctx.c_str());
        c.tied = true;
    } else if (type == "llama") {
        c.arch = LmArch::LLAMA;
        c.vocab = req_size(j, "vocab_size", ctx);
        c.d_model = req_size(j, "hidden_size", ctx);
        c.n_layers = req_size(j, "num_hidden_layers", ctx);
        c.n_heads = req_size(j, "num_attention_heads", ctx);
        const Json* kvh = j.find("num_key_value_heads");
        c.n_kv_heads = kvh && !kvh->is_null() ? size_field(*kvh, "num_key_value_heads", ctx) : c.n_heads;
        c.d_mlp = req_size(j, "intermediate_size", ctx);
        c.n_ctx = req_size(j, "max_position_embeddings", ctx);
        c.norm_eps = (float)j.get_num("rms_norm_eps", 1e-6);
        c.rope_theta = (float)j.get_num("rope_theta", 10000.0);
        c.tied = j.get_bool("tie_word_embeddings", false);
        std::string act = j.get_str("hidden_act", "silu");
        UNFOLD_CHECK(act == "silu", "%s: field 'hidden_act' is '%s', expected \"silu\"", ctx.c_str(), act.c_str());
        UNFOLD_CHECK(!j.get_bool("attention_bias", false) && !j.get_bool("mlp_bias", false),
                     "%s: fields 'attention_bias' / 'mlp_bias' must be false (Llama without biases)", ctx.c_str());
        const Json* hd = j.find("head_dim");
        UNFOLD_CHECK(!hd || hd->is_null() || c.n_heads <= 0 ||
                         size_field(*hd, "head_dim", ctx) * c.n_heads == c.d_model,
                     "%s: field 'head_dim' must equal hidden_size / num_attention_heads", ctx.c_str());
        const Json* rs = j.find("rope_scaling");
        UNFOLD_CHECK(!rs || rs->is_null(), "%s: field 'rope_scaling' is not supported (expected null)", ctx.c_str());
    } else {
        fail("%s: field 'model_type' is '%s', expected \"gpt2\" or \"llama\"", ctx.c_str(), type.c_str());
    }
    const Json* b = j.find("bos_token_id");
    auto token_id = [&](const Json& v, const char* key) {
        const int64_t t = v.as_int(ctx + ": field '" + key + "'");
        UNFOLD_CHECK(t >= -1 && t <= INT32_MAX, "%s: field '%s' is %lld, expected a token id", ctx.c_str(), key,
                     (long long)t);
        return (int32_t)t;
    };
    if (b && b->is_num()) c.bos_id = token_id(*b, "bos_token_id");
    const Json* e = j.find("eos_token_id");
    if (e && e->is_num()) c.eos_id = token_id(*e, "eos_token_id");
    c.validate(ctx);
    return c;
}

}  // namespace unfold

// checkpoint_llama2c.cpp: reader for llama2.c's legacy (v0) .bin checkpoints, e.g. stories260K.bin.
//
// Layout after the 7-int32 header (dim C, hidden F, L, NH, KV, V, seq_len):
//   tok_embeddings[V,C], attention_norm[L,C], wq[L,C,C], wk[L,KVD,C], wv[L,KVD,C], wo[L,C,C], ffn_norm[L,C],
//   w1[L,F,C], w2[L,C,F], w3[L,F,C], norm[C], freq_cos[seq_len,hs/2], freq_sin[seq_len,hs/2],
//   and, only when V < 0 in the header, wcls[|V|,C]. Matrices are [out, in] row-major = our Llama layout,
//   with q/k rows in Meta's interleaved rotary order (no permutation needed).
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/layers.h"

namespace unfold {

void lm_load_llama2c(LmModel& m, const std::string& path) {
    MappedFile f(path);
    const char* p = path.c_str();
    UNFOLD_CHECK(f.size() >= 28, "%s: file is %llu bytes, too short for the 28-byte llama2.c header", p,
                 (unsigned long long)f.size());
    int32_t h[7];
    std::memcpy(h, f.data(), 28);
    const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        if (i != 5)
            UNFOLD_CHECK(h[i] > 0 && h[i] <= (1 << 20), "%s: header field '%s' = %d is out of range [1, 1048576]", p,
                         names[i], h[i]);
    UNFOLD_CHECK(h[5] != 0 && h[5] > -(1 << 24) && h[5] < (1 << 24), "%s: header field 'vocab_size' = %d is invalid",
                 p, h[5]);
    LmConfig c;
    c.arch = LmArch::LLAMA;
    c.d_model = h[0];
    c.d_mlp = h[1];
    c.n_layers = h[2];
    c.n_heads = h[3];
    c.n_kv_heads = h[4];
    c.tied = h[5] > 0;
    c.vocab = h[5] > 0 ? h[5] : -(int64_t)h[5];
    c.n_ctx = h[6];
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.bos_id = 1;
    c.eos_id = 2;
    c.validate(path + ": header");
    const uint64_t C = c.d_model, F = c.d_mlp, L = c.n_layers, V = c.vocab, KVD = c.kv_dim(),
                   half = c.head_dim() / 2, T = c.n_ctx;
    const char* ctx = "llama2.c checkpoint size";
    uint64_t floats = mul_checked(V, C, ctx);
    floats = add_checked(floats, mul_checked(L, C, ctx) * 2, ctx);                       // two norms
    floats = add_checked(floats, mul_checked(L, mul_checked(C, C, ctx), ctx) * 2, ctx);  // wq, wo
    floats = add_checked(floats, mul_checked(L, mul_checked(KVD, C, ctx), ctx) * 2, ctx);
    floats = add_checked(floats, mul_checked(L, mul_checked(F, C, ctx), ctx) * 3, ctx);
    floats = add_checked(floats, C, ctx);
    floats = add_checked(floats, mul_checked(T, half, ctx) * 2, ctx);
    if (!c.tied) floats = add_checked(floats, mul_checked(V, C, ctx), ctx);
    uint64_t expect = add_checked(28, mul_checked(floats, 4, ctx), ctx);
    UNFOLD_CHECK(f.size() == expect,
                 "%s: file is %llu bytes but the header (dim %d, hidden %d, %d layers, %d heads, %d kv heads, "
                 "vocab %d, seq_len %d) needs exactly %llu",
                 p, (unsigned long long)f.size(), h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                 (unsigned long long)expect);
    lm_build(m, c);
    const float* src = reinterpret_cast<const float*>(f.data() + 28);  // mmap is page aligned; 28 % 4 == 0
    auto take = [&](float* dst, uint64_t n) {
        std::memcpy(dst, src, n * sizeof(float));
        src += n;
    };
    take(m.p(m.wte), V * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].ln1_w), C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].qkv_w), C * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].k_w), KVD * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].v_w), KVD * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].proj_w), C * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].ln2_w), C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].fc_w), F * C);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].fcproj_w), C * F);
    for (uint64_t l = 0; l < L; l++) take(m.p(m.layers[l].up_w), F * C);
    take(m.p(m.lnf_w), C);
    // the stored rotary tables must be the ones our rope computes (theta 10000, interleaved pairs)
    std::vector<float> cs(T * half), sn(T * half);
    rope_tables(cs.data(), sn.data(), (int64_t)T, (int64_t)(2 * half), c.rope_theta);
    for (int k = 0; k < 2; k++) {
        const std::vector<float>& ref = k == 0 ? cs : sn;
        for (uint64_t i = 0; i < T * half; i++)
            UNFOLD_CHECK(std::fabs(src[i] - ref[i]) <= 1e-4f,
                         "%s: %s[%llu,%llu] = %g but rotary theta 10000 gives %g (unsupported rope variant)", p,
                         k == 0 ? "freq_cos" : "freq_sin", (unsigned long long)(i / half),
                         (unsigned long long)(i % half), (double)src[i], (double)ref[i]);
        src += T * half;
    }
    if (!c.tied) take(m.p(m.lm_head), V * C);
    for (const ParamView& v : m.params.views)
        for (size_t i = 0; i < v.numel; i++)
            UNFOLD_CHECK(std::isfinite(m.params.data[v.offset + i]), "%s: tensor '%s' has NaN/Inf at element %zu", p,
                         v.name.c_str(), i);
}

}  // namespace unfold

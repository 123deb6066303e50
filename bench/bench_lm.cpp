// bench_lm.cpp: forward and training throughput of unfold's GPT-2 stack, shaped like the PyTorch peer
// (bench/peers/torch_lm.py): random weights, random tokens, forward = logits over every position,
// training step = forward + cross-entropy + backward + AdamW. Prints one JSON line (tokens/s).
//   bench_lm [--layers 4] [--d-model 768] [--heads 12] [--vocab 50257] [--context 128] [--batch 8]
//            [--iters 5] [--threads 2] [--arch gpt2|llama] [--only forward]
//            [--dtype fp32|bf16]   (bf16: the forward runs on bf16 weights where that pays off, lm_uses_bf16: at
//                                   avx512-bf16 always, elsewhere only for <= 16 rows, so batch * context rows
//                                   run fp32 there; "products" in the output says which; training is always fp32)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/optim.h"
#include "unfold/core/rng.h"
#include "unfold/lm/model.h"

using namespace unfold;

int main(int argc, char** argv) {
    int64_t layers = 4, d = 768, heads = 12, vocab = 50257, ctx = 128, batch = 8, iters = 5, threads = 2;
    std::string arch = "gpt2", only = "both", dtype = "fp32";  // --only forward: skip the training measurement
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        int64_t v = std::atoll(argv[i + 1]);
        if (k == "--layers") layers = v;
        else if (k == "--d-model") d = v;
        else if (k == "--heads") heads = v;
        else if (k == "--vocab") vocab = v;
        else if (k == "--context") ctx = v;
        else if (k == "--batch") batch = v;
        else if (k == "--iters") iters = v;
        else if (k == "--threads") threads = v;
        else if (k == "--arch") arch = argv[i + 1];
        else if (k == "--only") only = argv[i + 1];
        else if (k == "--dtype") dtype = argv[i + 1];
        else {
            std::fprintf(stderr, "bench_lm: unknown flag %s\n", k.c_str());
            return 2;
        }
    }
    set_num_threads((int)threads);
    LmConfig c;
    c.arch = arch == "llama" ? LmArch::LLAMA : LmArch::GPT2;
    c.vocab = vocab;
    c.d_model = d;
    c.n_layers = layers;
    c.n_heads = heads;
    c.n_kv_heads = heads;
    c.d_mlp = 4 * d;
    c.n_ctx = ctx;
    LmModel m;
    lm_build(m, c);
    lm_init_random(m, 0);
    std::vector<int32_t> ids((size_t)(batch * ctx)), tgt((size_t)(batch * ctx));
    Rng r(1, 2);
    for (auto& x : ids) x = (int32_t)r.below((uint64_t)vocab);
    for (auto& x : tgt) x = (int32_t)r.below((uint64_t)vocab);
    lm_set_dtype(m, parse_lm_dtype(dtype, "bench_lm --dtype"));
    const char* products = lm_uses_bf16(m, batch * ctx) ? "bf16" : "fp32";  // what the forward runs
    LmActs a;
    using clk = std::chrono::steady_clock;
    lm_forward(m, a, ids.data(), batch, ctx);  // warm-up
    auto t0 = clk::now();
    for (int64_t i = 0; i < iters; i++) lm_forward(m, a, ids.data(), batch, ctx);
    double fwd = (double)(batch * ctx * iters) / std::chrono::duration<double>(clk::now() - t0).count();
    double trn = 0.0;
    if (only == "forward") iters = 0;
    lm_set_dtype(m, LmDtype::FP32);
    AdamState st;
    st.init(m.params.size());
    AdamConfig ac{3e-4f, 0.9f, 0.999f, 1e-8f, 0.01f};
    auto train_step = [&] {
        lm_forward(m, a, ids.data(), batch, ctx);
        lm_loss(a, c, tgt.data());
        m.params.zero_grad();
        lm_backward(m, a, ids.data(), tgt.data());
        adam_step(st, ac, ac.lr, m.params.data.data(), m.params.grad.data(), m.params.size());
    };
    if (iters > 0) train_step();  // warm-up
    t0 = clk::now();
    for (int64_t i = 0; i < iters; i++) train_step();
    if (iters > 0) trn = (double)(batch * ctx * iters) / std::chrono::duration<double>(clk::now() - t0).count();
    std::printf("{\"impl\": \"unfold\", \"arch\": \"%s\", \"dtype\": \"%s\", \"layers\": %lld, \"d_model\": %lld, \"context\": %lld, "
                "\"products\": \"%s\", \"batch\": %lld, \"threads\": %lld, \"forward_tokens_per_s\": %.1f, \"train_tokens_per_s\": %.1f}\n",
                arch.c_str(), dtype.c_str(), (long long)layers, (long long)d, (long long)ctx, products, (long long)batch, (long long)threads,
                fwd, trn);
    return 0;
}

// bench_sae.cpp: SAE training throughput and quality on the planted-dictionary recipe of
// bench/peers/torch_sae.py (G Gaussian rows normalised, each feature active w.p. p, magnitude U[0,1]),
// plus the achieved GFLOP/s of the dense products against the measured sgemm peak of this machine.
//
//   bench_sae [--arch topk|relu|batchtopk|jumprelu|gated] [--d 256] [--latents 2048] [--true-features 1024]
//             [--p-active 0.01] [--k 16] [--l1 5] [--batch 4096] [--steps 300] [--lr 4e-4] [--threads 2]
// Prints one JSON line in the peer's format (tokens_per_s counts training steps only, data generation
// excluded like the peer), with the final FVU / L0 / dead fraction / MMCS computed as the peer does.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "sae/sae_kernels.h"
#include "unfold/core/blas.h"
#include "unfold/core/context.h"
#include "unfold/core/optim.h"
#include "unfold/data/synth.h"
#include "unfold/io/json.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_eval.h"

using namespace unfold;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

static double sgemm_peak(int64_t M, int64_t N, int64_t K) {
    std::vector<float> A((size_t)(M * K), 0.5f), B((size_t)(K * N), 0.25f), C((size_t)(M * N));
    matmul(C.data(), A.data(), B.data(), M, K, N);
    double best = 0;
    for (int r = 0; r < 3; r++) {
        auto t = clk::now();
        matmul(C.data(), A.data(), B.data(), M, K, N);
        best = std::max(best, 2.0 * M * N * K / secs(t) / 1e9);
    }
    return best;
}

int main(int argc, char** argv) {
    static const CommandSpec spec = {"bench_sae", "SAE training speed + quality on the torch_sae.py recipe", "bench_sae --arch topk",
                                     {{"arch", "topk", "topk | relu | batchtopk | jumprelu | gated"},
                                      {"d", "256", ""},
                                      {"latents", "2048", ""},
                                      {"true-features", "1024", ""},
                                      {"p-active", "0.01", ""},
                                      {"noise", "0", ""},
                                      {"k", "16", ""},
                                      {"l1", "5", ""},
                                      {"l0", "0.02", ""},
                                      {"init-threshold", "0.01", ""},
                                      {"bandwidth", "0.05", ""},
                                      {"batch", "4096", ""},
                                      {"steps", "300", ""},
                                      {"lr", "4e-4", ""},
                                      {"peak", "", "measure sgemm peak too", true}}};
    Args a = parse_args(spec, argc - 1, argv + 1);
    if (a.help) return 0;
    if (!a.given("threads")) set_num_threads(2);
    PlantedConfig pc;
    pc.d = a.i64("d");
    pc.n_true = a.i64("true-features");
    pc.p_active = a.f64("p-active");
    pc.noise = (float)a.f64("noise");
    pc.seed = a.seed();
    Planted P = planted_make(pc);
    SaeConfig c;
    c.arch = parse_sae_arch(a.str("arch"));
    c.d_in = pc.d;
    c.d_sae = a.i64("latents");
    c.k = (int)a.i64("k");
    c.l1_coef = (float)a.f64("l1");
    c.l0_coef = (float)a.f64("l0");
    c.init_threshold = (float)a.f64("init-threshold");
    c.bandwidth = (float)a.f64("bandwidth");
    c.apply_b_dec_to_input = true;
    c.unit_norm_decoder = true;  // the peer renormalises decoder rows after every step
    Sae s = sae_init(c, a.seed() + 1, 1.0f);
    const int64_t B = a.i64("batch"), steps = a.i64("steps"), d = pc.d, F = c.d_sae;
    AdamState st;
    st.init(s.params.size());
    AdamConfig ac;
    ac.lr = (float)a.f64("lr");
    std::vector<float> x((size_t)(B * d));
    SaeWork w;
    std::vector<uint8_t> dead((size_t)F, 0);
    std::vector<int64_t> since((size_t)F, 0), fires((size_t)F);
    const bool sparse = c.arch == SaeArch::TOPK || c.arch == SaeArch::BATCHTOPK;
    double train_s = 0, data_s = 0, dense_flops = 0;
    double enc_flops = 2.0 * B * d * F;
    for (int64_t step = 0; step < steps; step++) {
        auto td = clk::now();
        planted_rows(P, step * B, B, x.data());
        data_s += secs(td);
        auto t = clk::now();
        int64_t nd = 0;
        for (int64_t i = 0; i < F; i++) nd += dead[i] = since[i] >= 10000000 / 4096 * B / B * 4096;
        std::fill(fires.begin(), fires.end(), 0);
        s.params.zero_grad();
        SaeLoss L = sae_forward_backward(s, x.data(), B, w, true, 1.0f, sparse && nd ? dead.data() : nullptr,
                                         fires.data());
        dense_flops += L.dense_products * enc_flops;
        sae_project_decoder_grad(s);
        adam_step(st, ac, ac.lr, s.params.data.data(), s.params.grad.data(), s.params.size());
        sae_normalize_decoder(s);
        if (c.arch == SaeArch::BATCHTOPK) s.threshold = step == 0 ? L.min_kept : 0.99f * s.threshold + 0.01f * L.min_kept;
        for (int64_t i = 0; i < F; i++) since[i] = fires[i] ? 0 : since[i] + B;
        train_s += secs(t);
        (void)L;
    }
    // final metrics the way the peer computes them (one fresh batch; dead over 5 batches)
    planted_rows(P, steps * B, B, x.data());
    SaeLoss L = sae_forward_backward(s, x.data(), B, w, false, 1.0f, nullptr, nullptr);
    std::vector<int64_t> f5((size_t)F, 0);
    for (int r = 0; r < 5; r++) {
        planted_rows(P, (steps + 1 + r) * B, B, x.data());
        sae_forward_backward(s, x.data(), B, w, false, 1.0f, nullptr, f5.data());
    }
    int64_t nd = 0;
    for (auto v : f5) nd += v == 0;
    Json gt = sae_ground_truth_metrics(s, P.G, 0.9, nullptr);
    // the dense products actually run (encoder always; ReLU also decoder + 2 backward products until its codes
    // turn sparse, then it switches to the sparse kernels like TopK)
    Json j = Json::object();
    j["impl"] = "unfold";
    j["arch"] = a.str("arch");
    j["d"] = d;
    j["latents"] = F;
    j["batch"] = B;
    j["steps"] = steps;
    j["threads"] = get_num_threads();
    j["train_wall_s"] = std::round(train_s * 1000) / 1000;
    j["data_s"] = std::round(data_s * 1000) / 1000;
    j["tokens_per_s"] = std::round(B * steps / train_s * 10) / 10;
    j["fvu"] = std::round(L.fvu * 1e4) / 1e4;
    j["l0"] = std::round(L.l0 * 100) / 100;
    j["dead_frac"] = std::round((double)nd / F * 1e4) / 1e4;
    j["mmcs"] = std::round(gt["mmcs"].num * 1e4) / 1e4;
    j["frac_recovered"] = gt["frac_recovered"].num;
    j["dense_gflop_total"] = std::round(dense_flops / 1e8) / 10;
    j["achieved_dense_gflop_s"] = std::round(dense_flops / train_s / 1e9 * 10) / 10;
    if (a.flag("peak")) {
        double pk = sgemm_peak(B, F, d);
        j["sgemm_peak_gflop_s"] = std::round(pk * 10) / 10;
        // time the encoder product alone, as used in training
        std::vector<float> pre((size_t)(B * F)), xc((size_t)(B * d));
        auto t = clk::now();
        for (int r = 0; r < 5; r++) sae_encoder_pre(s, x.data(), B, xc.data(), pre.data());
        double eg = 5 * enc_flops / secs(t) / 1e9;
        j["encoder_gflop_s"] = std::round(eg * 10) / 10;
        j["encoder_frac_of_peak"] = std::round(eg / pk * 1000) / 1000;
        j["step_dense_frac_of_peak"] = std::round(dense_flops / train_s / 1e9 / pk * 1000) / 1000;
    }
    std::printf("%s\n", j.dump(-1).c_str());
    return 0;
}

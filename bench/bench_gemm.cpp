// bench_gemm.cpp: the products of the transformer's forward pass, float32 sgemm (OpenBLAS) vs the bf16
// inference product (core/gemm_bf16.h), side by side on the same data and threads. Shapes are those of
// the GPT-2-small-shaped bench (1024 rows = batch 8 x context 128, d_model 768): qkv, attention output,
// MLP in, MLP out, unembedding. Prints one JSON line per shape with GFLOP/s of each and their ratio.
//   bench_gemm [--rows 1024] [--d-model 768] [--vocab 50257] [--threads 2] [--reps 5] [--portable 1]
// (--portable 1: the portable bf16 kernel, as on CPUs without AVX512-BF16)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "unfold/core/blas.h"
#include "unfold/core/context.h"
#include "unfold/core/gemm_bf16.h"
#include "unfold/core/rng.h"

using namespace unfold;
using clk = std::chrono::steady_clock;

template <class F>
static double best_seconds(int reps, F&& fn) {
    fn();  // warm-up (page faults, packing buffers)
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        auto t0 = clk::now();
        fn();
        best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
    }
    return best;
}

int main(int argc, char** argv) {
    int64_t rows = 1024, d = 768, vocab = 50257, threads = 2, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        int64_t v = std::atoll(argv[i + 1]);
        if (k == "--rows") rows = v;
        else if (k == "--d-model") d = v;
        else if (k == "--vocab") vocab = v;
        else if (k == "--threads") threads = v;
        else if (k == "--reps") reps = v;
        else if (k == "--portable") gemm_bf16_force_portable(v != 0);
        else {
            std::fprintf(stderr, "bench_gemm: unknown flag %s\n", k.c_str());
            return 2;
        }
    }
    set_num_threads((int)threads);
    struct Shape {
        const char* name;
        int64_t K, N;
    };
    const Shape shapes[] = {{"qkv", d, 3 * d}, {"attn_out", d, d}, {"mlp_in", d, 4 * d}, {"mlp_out", 4 * d, d},
                            {"unembed", d, vocab}};
    for (const Shape& s : shapes) {
        std::vector<float> A((size_t)(rows * s.K)), W((size_t)(s.K * s.N)), C((size_t)(rows * s.N));
        rng_fill_normal(A.data(), A.size(), 1, 1, 0, 0.0f, 1.0f);
        rng_fill_normal(W.data(), W.size(), 1, 2, 0, 0.0f, 0.02f);
        PackedBf16 P;
        pack_bf16(P, W.data(), s.K, s.N, false);
        int r = s.N > 10000 ? std::max<int64_t>(1, reps / 2) : (int)reps;
        // bf16 first: OpenBLAS's idle workers keep polling for a while after an sgemm and would take cores
        double t16 = best_seconds(r, [&] { gemm_bf16(C.data(), s.N, A.data(), s.K, rows, P); });
        double t32 = best_seconds(r, [&] { matmul(C.data(), A.data(), W.data(), rows, s.K, s.N); });
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let those workers go to sleep
        double flop = 2.0 * (double)rows * (double)s.K * (double)s.N;
        std::printf("{\"shape\": \"%s\", \"M\": %lld, \"K\": %lld, \"N\": %lld, \"threads\": %lld, \"kernel\": \"%s\", "
                    "\"sgemm_gflops\": %.1f, \"bf16_gflops\": %.1f, \"ratio\": %.2f}\n",
                    s.name, (long long)rows, (long long)s.K, (long long)s.N, (long long)threads,
                    gemm_bf16_kernel_name(), flop / t32 / 1e9, flop / t16 / 1e9, t32 / t16);
    }
    return 0;
}

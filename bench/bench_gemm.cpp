// bench_gemm.cpp: the products of the transformer's forward pass, float32 sgemm (OpenBLAS) vs the bf16
// inference product (core/gemm_bf16.h) at each kernel level this CPU runs, side by side on the same data and
// threads. Shapes are GPT-2 small's (d_model 768): qkv, attention output, MLP in, MLP out, unembedding; rows
// M = 1 and 4 (token-by-token generation: bound by the bytes of weights read) and 64, 512 (batches:
// bound by arithmetic). Prints one JSON line per (shape, M, level), then a table of ratios fp32 time / bf16
// time (above 1 = bf16 faster): gemm_bf16 itself, and what a bf16 model's forward runs for M rows (the bf16
// product where gemm_bf16_pays_off, else the fp32 product on the fp32 weights: ratio 1 by construction).
// Run bench_gemm --help for the flags and what to expect on which CPU.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "unfold/core/blas.h"
#include "unfold/core/context.h"
#include "unfold/core/cpu.h"
#include "unfold/core/gemm_bf16.h"
#include "unfold/core/rng.h"

using namespace unfold;
using clk = std::chrono::steady_clock;

static const char* kHelp =
    "bench_gemm: float32 sgemm (OpenBLAS) vs the bf16 product at each kernel level, GPT-2 small's shapes\n"
    "  --rows LIST     rows M (default 1,4,16,64,512)\n"
    "  --levels LIST   kernel levels (default: every level this CPU runs of portable,avx2,avx512-bf16;\n"
    "                  avx512 runs the same code as avx2)\n"
    "  --shapes LIST   of qkv,attn_out,mlp_in,mlp_out,unembed (default all)\n"
    "  --d-model D (768) --vocab V (50257) --threads T (2) --reps R (5: best of R, fewer past ~1 s)\n"
    "  --clock wall|cpu  wall time (default) or the process's CPU time (on a loaded machine with --threads 1:\n"
    "                  time other processes take from this one is not counted)\n"
    "What to expect (ratio = fp32 time / bf16 time, the same threads):\n"
    "  avx512-bf16 (AMD Zen 4, Intel Sapphire Rapids and later): ~2x at M 64 and 512 (VDPBF16PS does twice\n"
    "              the multiply-adds of a float32 FMA); at M 1-4 the bytes of weights read decide: up to 2x.\n"
    "  avx2 (any AVX2 CPU: AMD Zen 2/3, Intel Haswell to Ice Lake; also avx512 CPUs without BF16): at M <= 16\n"
    "              an AVX2 FMA kernel reading half the bytes: 1.5-2x (and more at M 1: OpenBLAS's sgemm is\n"
    "              slow on one row); above, gemm_bf16 widens the weights to float32 for sgemm: 0.90-0.99x at\n"
    "              M 512, 0.77-0.90x at M 64 (rounding A and widening W cost memory bandwidth).\n"
    "  portable    (any CPU): plain C++, well below fp32 at large M.\n"
    "The \"model\" columns are what a bf16 model's forward runs (lm_uses_bf16): gemm_bf16 where it pays off\n"
    "(avx512-bf16: every M; other levels: M <= 16), else the fp32 product itself (ratio 1.00, path fp32).\n"
    "Ratios move by ~10% between runs on a shared machine; compare levels within one run.\n";

static bool g_cpu_clock = false;  // --clock cpu

static double now_seconds() {
    if (!g_cpu_clock) return std::chrono::duration<double>(clk::now().time_since_epoch()).count();
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

template <class F>
static double best_seconds(int reps, F&& fn) {
    fn();  // warm-up (page faults, packing buffers)
    double best = 1e30, total = 0;
    for (int r = 0; r < reps && (r < 2 || total < 1.0); r++) {
        const double t0 = now_seconds();
        fn();
        const double t = now_seconds() - t0;
        best = std::min(best, t);
        total += t;
    }
    return best;
}

static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

int main(int argc, char** argv) {
    int64_t d = 768, vocab = 50257, threads = 2, reps = 5;
    std::string rows_s = "1,4,16,64,512", levels_s, shapes_s = "qkv,attn_out,mlp_in,mlp_out,unembed";
    for (int i = 1; i < argc; i++) {
        std::string k = argv[i];
        if (k == "--help" || k == "-h") {
            std::fputs(kHelp, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_gemm: %s needs a value (bench_gemm --help)\n", k.c_str());
            return 2;
        }
        std::string v = argv[++i];
        if (k == "--rows") rows_s = v;
        else if (k == "--levels") levels_s = v;
        else if (k == "--shapes") shapes_s = v;
        else if (k == "--d-model") d = std::atoll(v.c_str());
        else if (k == "--vocab") vocab = std::atoll(v.c_str());
        else if (k == "--threads") threads = std::atoll(v.c_str());
        else if (k == "--reps") reps = std::atoll(v.c_str());
        else if (k == "--clock" && (v == "wall" || v == "cpu")) g_cpu_clock = v == "cpu";
        else {
            std::fprintf(stderr, "bench_gemm: unknown flag %s (bench_gemm --help)\n", k.c_str());
            return 2;
        }
    }
    std::vector<KernelLevel> levels;
    if (levels_s.empty()) {
        for (KernelLevel l : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512_BF16})
            if (kernel_level_supported(l)) levels.push_back(l);
    } else {
        for (const std::string& s : split(levels_s)) {
            KernelLevel l = parse_kernel_level(s.c_str(), "bench_gemm --levels");
            if (!kernel_level_supported(l)) {
                std::fprintf(stderr, "bench_gemm: this CPU does not run level %s (best: %s)\n", s.c_str(),
                             kernel_level_name(cpu_kernel_level()));
                return 2;
            }
            levels.push_back(l);
        }
    }
    std::vector<int64_t> rows;
    for (const std::string& s : split(rows_s)) rows.push_back(std::atoll(s.c_str()));
    set_num_threads((int)threads);
    struct Shape {
        std::string name;
        int64_t K, N;
    };
    const Shape all[] = {{"qkv", d, 3 * d}, {"attn_out", d, d}, {"mlp_in", d, 4 * d}, {"mlp_out", 4 * d, d},
                         {"unembed", d, vocab}};
    std::vector<Shape> shapes;
    for (const std::string& s : split(shapes_s)) {
        bool found = false;
        for (const Shape& a : all)
            if (a.name == s) shapes.push_back(a), found = true;
        if (!found) {
            std::fprintf(stderr, "bench_gemm: unknown shape %s (bench_gemm --help)\n", s.c_str());
            return 2;
        }
    }
    std::printf("# cpu level %s, kernel_level() %s, %lld threads, %s time\n", kernel_level_name(cpu_kernel_level()),
                kernel_level_name(kernel_level()), (long long)threads, g_cpu_clock ? "cpu" : "wall");
    struct Row {
        std::string shape;
        int64_t M;
        std::vector<double> ratio, model;  // per level: gemm_bf16, what the model runs
    };
    std::vector<Row> table;
    for (const Shape& s : shapes) {
        std::vector<float> W((size_t)(s.K * s.N));
        rng_fill_normal(W.data(), W.size(), 1, 2, 0, 0.0f, 0.02f);
        PackedBf16 P;
        pack_bf16(P, W.data(), s.K, s.N, false);
        for (int64_t M : rows) {
            std::vector<float> A((size_t)(M * s.K)), C((size_t)(M * s.N));
            rng_fill_normal(A.data(), A.size(), 1, 1, 0, 0.0f, 1.0f);
            const double flop = 2.0 * (double)M * (double)s.K * (double)s.N;
            Row row{s.name, M, {}};
            // bf16 first: OpenBLAS's idle workers keep polling for a while after an sgemm and would take cores
            std::vector<double> t16;
            for (KernelLevel l : levels)
                t16.push_back(best_seconds((int)reps, [&] { gemm_bf16(C.data(), s.N, A.data(), s.K, M, P, nullptr, l); }));
            const double t32 = best_seconds((int)reps, [&] { matmul(C.data(), A.data(), W.data(), M, s.K, s.N); });
            std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let those workers go to sleep
            for (size_t li = 0; li < levels.size(); li++) {
                // what the model runs: gemm_bf16 where it pays off, else the same sgemm as t32
                const bool bf16_model = gemm_bf16_pays_off(M, levels[li]);
                const double model_ratio = bf16_model ? t32 / t16[li] : 1.0;
                std::printf("{\"shape\": \"%s\", \"M\": %lld, \"K\": %lld, \"N\": %lld, \"threads\": %lld, \"level\": \"%s\", "
                            "\"path\": \"%s\", \"sgemm_gflops\": %.1f, \"bf16_gflops\": %.1f, \"ratio\": %.2f, "
                            "\"model_path\": \"%s\", \"model_ratio\": %.2f}\n",
                            s.name.c_str(), (long long)M, (long long)s.K, (long long)s.N, (long long)threads,
                            kernel_level_name(levels[li]), gemm_bf16_path(M, levels[li]), flop / t32 / 1e9,
                            flop / t16[li] / 1e9, t32 / t16[li], bf16_model ? gemm_bf16_path(M, levels[li]) : "fp32",
                            model_ratio);
                row.ratio.push_back(t32 / t16[li]);
                row.model.push_back(model_ratio);
            }
            std::fflush(stdout);
            table.push_back(row);
        }
    }
    std::printf("# ratio fp32 sgemm time / bf16 time (above 1: bf16 faster); per level gemm_bf16, then what a bf16\n"
                "# model runs (its bf16 product where gemm_bf16_pays_off, else fp32 itself: 1.00)\n# %-9s %5s",
                "shape", "M");
    for (KernelLevel l : levels) std::printf(" %12s %12s", kernel_level_name(l), "model");
    std::printf("\n");
    double worst_model = 1e30;
    for (const Row& r : table) {
        std::printf("# %-9s %5lld", r.shape.c_str(), (long long)r.M);
        for (size_t li = 0; li < r.ratio.size(); li++) {
            std::printf(" %12.2f %12.2f", r.ratio[li], r.model[li]);
            worst_model = std::min(worst_model, r.model[li]);
        }
        std::printf("\n");
    }
    if (!table.empty() && !levels.empty()) std::printf("# lowest model ratio %.2f\n", worst_model);
    return 0;
}

// bench_dict.cpp: classical sparse coding speed and quality on the sklearn_dict.py peer's recipe.
//
// Same data recipe as bench/peers/sklearn_dict.py (planted dictionary of --true-features unit
// Gaussian rows in R^d, each active w.p. --p-active with magnitude U[0,1], --samples rows), written to a
// temporary .npy and read back through the normal source path (memory map + shuffle buffer). Timed like
// the peer: training for --epochs passes plus encoding all samples once; samples/s = samples * epochs / wall.
// Prints one JSON line per solver: wall seconds, samples/s, FVU, mean L0 and MMCS (mean over true features of
// the max |cos| with an atom).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "args.h"
#include "unfold/core/context.h"
#include "unfold/data/source.h"
#include "unfold/data/synth.h"
#include "unfold/dict/dict.h"
#include "unfold/io/npy.h"

using namespace unfold;

int main(int argc, char** argv) {
    static const CommandSpec spec = {
        "bench_dict", "Sparse coding (FISTA / CD / OMP + BCD dictionary update) on the sklearn_dict.py recipe.",
        "bench_dict --solver all --threads 2",
        {{"d", "64", "input dimension"},
         {"atoms", "256", "dictionary atoms"},
         {"true-features", "128", "planted features"},
         {"p-active", "0.03", "probability a planted feature is active"},
         {"samples", "20000", "training samples"},
         {"alpha", "0.1", "lasso penalty (fista, cd)"},
         {"k", "6", "OMP atoms per sample (at most)"},
         {"omp-tol", "0.02", "OMP stops when ||r||^2 <= omp-tol * ||x||^2"},
         {"tol", "1e-4", "FISTA / CD relative tolerance"},
         {"batch", "256", "mini-batch size"},
         {"epochs", "2", "passes over the samples"},
         {"solver", "all", "fista | cd | omp | all"}}};
    try {
        Args a = parse_args(spec, argc - 1, argv + 1);
        if (a.help) return 0;
        PlantedConfig pc;
        pc.d = a.i64("d");
        pc.n_true = a.i64("true-features");
        pc.p_active = a.f64("p-active");
        pc.seed = a.seed();
        Planted p = planted_make(pc);
        const int64_t n = a.i64("samples"), d = pc.d;
        std::vector<float> X((size_t)(n * d));
        planted_rows(p, 0, n, X.data());
        const std::string tmp =
            (std::filesystem::temp_directory_path() / ("bench_dict_" + std::to_string(getpid()) + ".npy")).string();
        npy_save(tmp, {n, d}, X.data());
        std::vector<std::string> solvers;
        if (a.str("solver") == "all") solvers = {"fista", "cd", "omp"};
        else solvers = {a.str("solver")};
        for (const auto& sname : solvers) {
            DictTrainConfig cfg;
            cfg.atoms = a.i64("atoms");
            cfg.batch = a.i64("batch");
            cfg.epochs = a.f64("epochs");
            cfg.seed = a.seed();
            cfg.ctx.quiet = true;
            cfg.code.solver = parse_dict_solver(sname);
            cfg.code.alpha = (float)a.f64("alpha");
            cfg.code.k = (int)a.i64("k");
            cfg.code.omp_tol = (float)a.f64("omp-tol");
            cfg.code.tol = (float)a.f64("tol");
            SourceOptions so;
            so.seed = a.seed();
            auto src = open_source(tmp, so);
            const auto t0 = std::chrono::steady_clock::now();
            DictResult r = dict_train(*src, cfg);
            std::vector<float> C((size_t)(n * cfg.atoms));
            sparse_encode(r.D.ptr(), cfg.atoms, d, X.data(), n, cfg.code, C.data());
            const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            DictEval ev = dict_evaluate(r.D.ptr(), cfg.atoms, d, X.data(), C.data(), n);
            const double mmcs = dict_mmcs(p.G.ptr(), pc.n_true, r.D.ptr(), cfg.atoms, d);
            std::printf("{\"impl\": \"unfold-dict\", \"solver\": \"%s\", \"d\": %lld, \"atoms\": %lld, \"samples\": %lld, "
                        "\"epochs\": %g, \"threads\": %d, \"wall_s\": %.3f, \"samples_per_s\": %.1f, \"fvu\": %.4f, "
                        "\"l0\": %.2f, \"mmcs\": %.4f, \"solver_iters\": %.1f}\n",
                        sname.c_str(), (long long)d, (long long)cfg.atoms, (long long)n, cfg.epochs,
                        get_num_threads(), wall, (double)n * cfg.epochs / wall, ev.fvu, ev.l0, mmcs, r.mean_iters);
            std::fflush(stdout);
        }
        std::filesystem::remove(tmp);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_dict: error: %s\n", e.what());
        return 1;
    }
    return 0;
}

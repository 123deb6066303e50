// cli_dict.cpp: `unfold dict` — classical sparse coding (FISTA / CD lasso or OMP codes + BCD dictionary update).
//   unfold dict train data/planted --atoms 2048 --solver fista --alpha 0.1 --out runs/dict1
//   unfold dict encode runs/dict1 acts.npy --out codes.npy
#include <algorithm>
#include <cstdio>
#include <vector>

#include "args.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/data/source.h"
#include "unfold/dict/dict.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"

namespace unfold {

namespace {

const std::vector<OptSpec>& source_opts() {
    static const std::vector<OptSpec> o = {
        {"tensor", "", "tensor name inside a .safetensors input (or write file.safetensors:NAME)"},
        {"from-toy", "", "use a trained toy model's hidden activations (run folder)"},
        {"instance", "0", "toy model instance (with --from-toy)"},
        {"buffer-rows", "0", "shuffle buffer rows (memory = rows * d * 4 bytes); 0 = auto: <= 262144 rows, <= 512 MiB"}};
    return o;
}

SourceOptions source_options(const Args& a) {
    SourceOptions so;
    so.seed = a.seed();
    so.tensor_name = a.str("tensor");
    so.from_toy = a.str("from-toy");
    so.toy_instance = a.i32("instance", 0);
    so.shuffle_buffer_rows = a.i64("buffer-rows");
    UNFOLD_CHECK(so.shuffle_buffer_rows >= 0, "--buffer-rows must be >= 0");
    return so;
}

CodeOptions code_options(const Args& a) {
    CodeOptions o;
    o.solver = parse_dict_solver(a.str("solver"));
    o.alpha = (float)a.f64("alpha");
    o.positive = a.flag("positive");
    o.max_iter = a.i32("max-iter", 1);
    o.tol = (float)a.f64("tol");
    o.k = a.i32("k", 1);
    o.omp_tol = (float)a.f64("omp-tol");
    UNFOLD_CHECK(o.alpha >= 0, "--alpha must be >= 0");
    UNFOLD_CHECK(o.max_iter >= 1, "--max-iter must be >= 1");
    UNFOLD_CHECK(o.tol >= 0 && o.omp_tol >= 0, "--tol and --omp-tol must be >= 0");
    UNFOLD_CHECK(o.k >= 1, "--k must be >= 1");
    return o;
}

const std::vector<OptSpec>& code_opts() {
    static const std::vector<OptSpec> o = {
        {"solver", "fista", "sparse coding solver: fista | cd (lasso) or omp (at most k atoms)"},
        {"alpha", "0.1", "lasso penalty: min 1/2||x - D^T c||^2 + alpha ||c||_1 (fista, cd)"},
        {"positive", "", "non-negative codes (fista, cd)", true},
        {"max-iter", "300", "FISTA iterations / CD sweeps per sample"},
        {"tol", "1e-4", "FISTA / CD stop: max code change <= tol * max(1, max |c|)"},
        {"k", "6", "OMP: at most k atoms per sample"},
        {"omp-tol", "0.02", "OMP: stop when ||residual||^2 <= omp-tol * ||x||^2"}};
    return o;
}

std::vector<OptSpec> concat(std::vector<OptSpec> a, const std::vector<OptSpec>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

int run_train(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold dict train",
        "Learn a dictionary by sparse coding (codes for a fixed dictionary, then a BCD dictionary update).",
        "unfold dict train SOURCE --atoms 256 --solver fista --alpha 0.1 --epochs 2 --out runs/dict1\n"
        "SOURCE: acts.npy [tokens, d] | file.safetensors:NAME | a shard folder (unfold data synth / lm cache)\n"
        "        | planted:d=64,features=128,p=0.03 | --from-toy RUN --instance K\n"
        "Writes OUT/cfg.json, OUT/sae_weights.safetensors (W_dec = dictionary [atoms, d], W_enc = W_dec^T),\n"
        "OUT/sparsity.safetensors (SAELens layout) and OUT/metrics.json.",
        concat(concat({{"atoms", "256", "dictionary size"},
                       {"batch", "256", "mini-batch rows"},
                       {"epochs", "1", "passes over a finite source"},
                       {"samples", "0", "total training rows (required for generated sources; overrides epochs)"},
                       {"bcd-sweeps", "1", "block-coordinate-descent passes per mini-batch"},
                       {"eval-rows", "8192", "rows for the final FVU / L0 evaluation"},
                       {"checkpoint-every", "0", "write OUT/checkpoint.safetensors every N mini-batches (0 = never)"},
                       {"resume", "", "continue from OUT/checkpoint.safetensors (bit-identical to no interruption)",
                        true},
                       {"out", "", "output folder (required)"}},
                      code_opts()),
               source_opts()),
        0, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    SourceOptions so = source_options(a);
    const std::string path = a.positional.empty() ? "" : a.positional[0];
    auto src = open_source(path, so);
    DictTrainConfig cfg;
    cfg.atoms = a.i64("atoms");
    cfg.batch = a.i64("batch");
    cfg.epochs = a.f64("epochs");
    cfg.samples = a.i64("samples");
    cfg.bcd_sweeps = a.i32("bcd-sweeps", 1);
    cfg.code = code_options(a);
    cfg.seed = a.seed();
    cfg.ctx = a.ctx;
    cfg.checkpoint = path_join(out, "checkpoint.safetensors");
    cfg.checkpoint_every = a.i64("checkpoint-every");
    cfg.resume = a.flag("resume");
    cfg.validate();
    if (cfg.checkpoint_every > 0 || cfg.resume) make_dirs(out);
    a.ctx.info("source: %s", src->describe().c_str());
    DictResult r = dict_train(*src, cfg);
    Json metrics = dict_save_run(out, r, cfg, *src, a.i64("eval-rows"));
    std::printf("%s\n", metrics.dump(-1).c_str());
    std::printf("wrote %s, %s, %s, %s\n", path_join(out, "cfg.json").c_str(),
                path_join(out, "sae_weights.safetensors").c_str(), path_join(out, "sparsity.safetensors").c_str(),
                path_join(out, "metrics.json").c_str());
    return 0;
}

int run_encode(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold dict encode", "Sparse codes for new data with a trained dictionary (rows in stored order).",
        "unfold dict encode runs/dict1 acts.npy --out codes.npy [--rows 10000]\n"
        "Writes codes [rows, atoms] float32 (.npy); solver options default to those saved with the dictionary.",
        concat({{"out", "", "output .npy (required)"},
                {"rows", "0", "rows to encode (0 = all of a finite source)"},
                {"solver", "", "override the saved solver"},
                {"alpha", "", "override the saved alpha"},
                {"k", "", "override the saved OMP k"},
                {"batch", "4096", "rows per encoding block"}},
               source_opts()),
        1, 2};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    CodeOptions code;
    Tensor D = dict_load(a.positional[0], &code);
    if (a.given("solver")) code.solver = parse_dict_solver(a.str("solver"));
    if (a.given("alpha")) code.alpha = (float)a.f64("alpha");
    if (a.given("k")) code.k = a.i32("k", 1);
    SourceOptions so = source_options(a);
    so.sequential = true;
    auto src = open_source(a.positional.size() > 1 ? a.positional[1] : "", so);
    const int64_t K = D.dim(0), d = D.dim(1);
    UNFOLD_CHECK(src->dim() == d, "%s: the dictionary has d = %lld, the source has d = %lld",
                 a.positional[0].c_str(), (long long)d, (long long)src->dim());
    int64_t n = a.i64("rows");
    if (n <= 0) {
        UNFOLD_CHECK(src->num_rows() > 0, "the source is unbounded: give --rows");
        n = src->num_rows();
    }
    UNFOLD_CHECK((uint64_t)n * (uint64_t)K <= (1ull << 31), "codes would be %lld x %lld floats; encode fewer --rows",
                 (long long)n, (long long)K);
    const int64_t bs = std::max<int64_t>(1, a.i64("batch"));
    std::vector<float> C((size_t)(n * K)), X((size_t)(bs * d));
    Progress bar(a.ctx, "encode", n, "rows");
    double nnz = 0;
    for (int64_t r = 0; r < n; r += bs) {
        const int64_t m = std::min(bs, n - r);
        src->next_batch(X.data(), m);
        sparse_encode(D.ptr(), K, d, X.data(), m, code, C.data() + r * K);
        bar.update(r + m);
    }
    bar.finish();
    for (float v : C) nnz += v != 0.0f;
    npy_save(out, {n, K}, C.data());
    std::printf("encoded %lld rows with %s (mean L0 %.2f) -> %s [%lld, %lld]\n", (long long)n,
                dict_solver_name(code.solver), nnz / (double)n, out.c_str(), (long long)n, (long long)K);
    return 0;
}

}  // namespace

int cmd_dict(int argc, char** argv) {
    return dispatch("dict", "Classical sparse coding / dictionary learning.",
                    {{"train", "learn a dictionary (FISTA / CD / OMP codes + BCD update)", run_train},
                     {"encode", "sparse codes for data with a trained dictionary", run_encode}},
                    argc, argv);
}

}  // namespace unfold

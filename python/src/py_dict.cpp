// py_dict.cpp: unfold.dictionary: sparse codes for a fixed dictionary (FISTA, CD, OMP) and dictionary learning,
// as `unfold dict encode` / `unfold dict train` run them.
#include <algorithm>

#include "py_common.h"
#include "unfold/data/source.h"
#include "unfold/data/source_shuffle.h"
#include "unfold/dict/dict.h"
#include "unfold/io/fileio.h"

namespace unfold::py {

namespace {

CodeOptions code_options(const std::string& solver, float alpha, bool positive, int max_iter, float tol, int k,
                         float omp_tol) {
    CodeOptions o;
    o.solver = parse_dict_solver(solver);
    o.alpha = alpha;
    o.positive = positive;
    o.max_iter = max_iter;
    o.tol = tol;
    o.k = k;
    o.omp_tol = omp_tol;
    if (alpha < 0) value_error("alpha must be >= 0");
    if (max_iter < 1) value_error("max_iter must be >= 1");
    if (tol < 0 || omp_tol < 0) value_error("tol and omp_tol must be >= 0");
    if (k < 1) value_error("k must be >= 1");
    return o;
}

pb::dict code_dict(const CodeOptions& o) {
    pb::dict d;
    d["solver"] = std::string(dict_solver_name(o.solver));
    d["alpha"] = o.alpha;
    d["positive"] = o.positive;
    d["max_iter"] = o.max_iter;
    d["tol"] = o.tol;
    d["k"] = o.k;
    d["omp_tol"] = o.omp_tol;
    return d;
}

}  // namespace

void bind_dictionary(pb::module_& m) {
    m.def(
        "encode",
        [](pb::object D, pb::object X, const std::string& solver, float alpha, bool positive, int max_iter, float tol,
           int k, float omp_tol, int64_t batch) {
            if (batch < 1) value_error("batch must be >= 1");
            FloatIn Din = float_input(D, "D", 2);
            const int64_t K = Din.shape[0], d = Din.shape[1];
            FloatIn Xin = float_input(X, "X", 2, d, true);
            const CodeOptions o = code_options(solver, alpha, positive, max_iter, tol, k, omp_tol);
            const int64_t n = Xin.shape[0];
            FloatArray C = new_float_array({n, K});
            float* c = C.mutable_data();
            nogil([&] {
                ThreadScope one(n <= 8 ? 1 : 0);  // a few rows: no worker wake-ups (each row is solved on its own)
                for (int64_t r = 0; r < n; r += batch) {
                    const int64_t mm = std::min(batch, n - r);
                    sparse_encode(Din.data, K, d, Xin.data + r * d, mm, o, c + r * K);
                }
            });
            return C;
        },
        pb::arg("D"), pb::arg("X"), pb::kw_only(), pb::arg("solver") = "fista", pb::arg("alpha") = 0.1f,
        pb::arg("positive") = false, pb::arg("max_iter") = 300, pb::arg("tol") = 1e-4f, pb::arg("k") = 6,
        pb::arg("omp_tol") = 0.02f, pb::arg("batch") = 4096,
        "Codes C [n, K] of X [n, d] for the dictionary D [K, d] (rows = atoms): solver fista | cd (lasso, penalty "
        "alpha, optionally positive) or omp (at most k atoms, stopping at ||r||^2 <= omp_tol ||x||^2). The same "
        "values as `unfold dict encode` (blocks of `batch` rows).");
    m.def(
        "train",
        [](pb::object source, int64_t atoms, int64_t batch, double epochs, int64_t samples, int bcd_sweeps,
           const std::string& solver, float alpha, bool positive, int max_iter, float tol, int k, float omp_tol,
           uint64_t seed, pb::object out, int64_t checkpoint_every, bool resume, int64_t eval_rows,
           int64_t shuffle_buffer, const std::string& tensor, int threads, pb::object progress) {
            if (shuffle_buffer < 0) value_error("shuffle_buffer must be >= 0 (0 = auto)");
            std::string name;
            auto src = open_source_arg(source, seed, shuffle_buffer, false, tensor, &name);
            DictTrainConfig cfg;
            cfg.atoms = atoms;
            cfg.batch = batch;
            cfg.epochs = epochs;
            cfg.samples = samples;
            cfg.bcd_sweeps = bcd_sweeps;
            cfg.code = code_options(solver, alpha, positive, max_iter, tol, k, omp_tol);
            cfg.seed = seed;
            cfg.ctx = make_context(progress, threads);
            const std::string dir = out.is_none() ? "" : pb::str(out).cast<std::string>();
            if (dir.empty() && (checkpoint_every > 0 || resume))
                value_error("checkpoint_every and resume need out= (the run folder)");
            if (!dir.empty()) cfg.checkpoint = path_join(dir, "checkpoint.safetensors");
            cfg.checkpoint_every = checkpoint_every;
            cfg.resume = resume;
            cfg.validate();
            Json metrics;
            DictResult r = nogil([&] {
                if (!dir.empty() && (cfg.checkpoint_every > 0 || cfg.resume)) make_dirs(dir);
                DictResult res = dict_train(*src, cfg);
                if (!dir.empty()) metrics = dict_save_run(dir, res, cfg, *src, eval_rows);
                return res;
            });
            pb::dict d;
            d["D"] = tensor_array(r.D);
            d["fires"] = pb::array_t<int64_t>((pb::ssize_t)r.fires.size(), r.fires.data());
            d["samples_seen"] = r.samples_seen;
            d["samples_run"] = r.samples_run;
            d["seconds"] = r.seconds;
            d["mean_iters"] = r.mean_iters;
            d["reseeded"] = r.reseeded;
            d["metrics"] = to_py(metrics);
            return d;
        },
        pb::arg("source"), pb::kw_only(), pb::arg("atoms") = 256, pb::arg("batch") = 256, pb::arg("epochs") = 1.0,
        pb::arg("samples") = 0, pb::arg("bcd_sweeps") = 1, pb::arg("solver") = "fista", pb::arg("alpha") = 0.1f,
        pb::arg("positive") = false, pb::arg("max_iter") = 300, pb::arg("tol") = 1e-4f, pb::arg("k") = 6,
        pb::arg("omp_tol") = 0.02f, pb::arg("seed") = 0, pb::arg("out") = pb::none(), pb::arg("checkpoint_every") = 0,
        pb::arg("resume") = false, pb::arg("eval_rows") = 8192, pb::arg("shuffle_buffer") = 0, pb::arg("tensor") = "",
        pb::arg("threads") = 0, pb::arg("progress") = pb::none(),
        "Learns a dictionary as `unfold dict train` does (same options, defaults and result for the same seed): "
        "source is a float32 array [rows, d], a path or a planted spec. Returns a dict {D [atoms, d] unit rows, "
        "fires, samples_seen, samples_run, seconds, mean_iters, reseeded, metrics}; with out=DIR the SAELens "
        "folder and metrics.json (fvu, l0, mse on the next eval_rows rows, mmcs with ground truth) go there.");
    m.def(
        "load",
        [](const std::string& dir) {
            CodeOptions o;
            Tensor D = nogil([&] { return dict_load(dir, &o); });
            return pb::make_tuple(tensor_array(D), code_dict(o));
        },
        pb::arg("dir"), "(D [atoms, d], the solver options saved with it) from a dictionary folder (or any SAELens folder).");
    m.def(
        "evaluate",
        [](pb::object D, pb::object X, pb::object C) {
            FloatIn Din = float_input(D, "D", 2);
            const int64_t K = Din.shape[0], d = Din.shape[1];
            FloatIn Xin = float_input(X, "X", 2, d, true);
            FloatIn Cin = float_input(C, "C", 2, K, true);
            if (Cin.shape[0] != Xin.shape[0])
                value_error(strformat("C has %lld rows, X %lld", (long long)Cin.shape[0], (long long)Xin.shape[0]));
            DictEval e = dict_evaluate(Din.data, K, d, Xin.data, Cin.data, Xin.shape[0]);
            pb::dict r;
            r["fvu"] = e.fvu;
            r["l0"] = e.l0;
            r["mse"] = e.mse;
            return r;
        },
        pb::arg("D"), pb::arg("X"), pb::arg("C"),
        "{fvu, l0, mse} of codes C [n, K] for X [n, d] with D [K, d]: fvu = sum ||x - C D||^2 / sum ||x - mean x||^2.");
    m.def(
        "mmcs",
        [](pb::object G, pb::object D) {
            FloatIn Gin = float_input(G, "G", 2);
            FloatIn Din = float_input(D, "D", 2, Gin.shape[1]);
            return dict_mmcs(Gin.data, Gin.shape[0], Din.data, Din.shape[0], Din.shape[1]);
        },
        pb::arg("G"), pb::arg("D"),
        "Mean over the rows of G [n_true, d] (unit ground-truth directions) of the max |cos| with a row of D.");
}

}  // namespace unfold::py

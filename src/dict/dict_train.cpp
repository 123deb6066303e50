// dict_train.cpp: online dictionary learning over an activation source (codes, statistics, BCD update per
// mini-batch), and the dictionary's SAELens-layout files (save / load).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"
#include "unfold/data/source.h"
#include "unfold/dict/dict.h"
#include "unfold/io/fileio.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"

namespace unfold {

namespace {
constexpr uint64_t kStreamReseed = 0xD1C7;

// Everything dict_train needs to continue exactly (see DictTrainConfig::checkpoint).
struct DictTrainState {
    int64_t seen = 0, nb = 0;
    double iters_sum = 0;
    uint64_t reseed_counter = 0;
};

void save_checkpoint(const std::string& path, const DictTrainConfig& cfg, const DictResult& res, const DictStats& st,
                     const std::vector<float>& v, const DictTrainState& ts, const ActivationSource& src) {
    const int64_t K = res.D.dim(0), d = res.D.dim(1);
    Json j = Json::object();
    j["format"] = "unfold-dict-checkpoint";
    j["version"] = 1;
    j["atoms"] = K;
    j["d"] = d;
    j["batch"] = cfg.batch;
    j["solver"] = dict_solver_name(cfg.code.solver);
    j["seed"] = cfg.seed;  // JSON integers, exact to 64 bits (version-1 files before them hold strings)
    j["seen"] = ts.seen;
    j["batches"] = ts.nb;
    j["stats_batches"] = st.batches;
    j["iters_sum"] = ts.iters_sum;
    j["reseed_counter"] = ts.reseed_counter;
    j["reseeded"] = res.reseeded;
    j["fires"] = Json::array_of(res.fires);
    j["source"] = src.state();
    safetensors_write(path,
                      {{"D", {K, d}, res.D.ptr(), DType::F32},
                       {"A", {K, K}, st.A.data(), DType::F32},
                       {"B", {K, d}, st.B.data(), DType::F32},
                       {"v", {K}, v.data(), DType::F32}},
                      {{"state", j.dump(-1)}});
}

void load_checkpoint(const std::string& path, const DictTrainConfig& cfg, DictResult& res, DictStats& st,
                     std::vector<float>& v, DictTrainState& ts, ActivationSource& src) {
    const int64_t K = res.D.dim(0), d = res.D.dim(1);
    SafeTensorsReader rd(path);
    auto it = rd.metadata().find("state");
    UNFOLD_CHECK(it != rd.metadata().end(), "%s: __metadata__: no 'state' (not a dictionary checkpoint)",
                 path.c_str());
    const Json j = json_parse(it->second, path + ": state");
    const std::string ctx = path + ": state";
    UNFOLD_CHECK(j.get_str("format", "") == "unfold-dict-checkpoint", "%s: not a dictionary checkpoint", ctx.c_str());
    UNFOLD_CHECK(j.at("atoms", ctx).as_int(ctx) == K && j.at("d", ctx).as_int(ctx) == d &&
                     j.at("batch", ctx).as_int(ctx) == cfg.batch &&
                     j.at("solver", ctx).as_str(ctx) == dict_solver_name(cfg.code.solver) &&
                     j.at("seed", ctx).as_u64(ctx + ": seed") == cfg.seed,
                 "%s: saved with other atoms / d / batch / solver / seed than this run", ctx.c_str());
    Tensor D = rd.read_f32("D", {K, d}), A = rd.read_f32("A", {K, K}), B = rd.read_f32("B", {K, d}),
           vv = rd.read_f32("v", {K});
    res.D = std::move(D);
    st.A = std::move(A.data);
    st.B = std::move(B.data);
    st.batches = j.at("stats_batches", ctx).as_int(ctx + ": stats_batches");
    v = std::move(vv.data);
    ts.seen = j.at("seen", ctx).as_int(ctx + ": seen");
    ts.nb = j.at("batches", ctx).as_int(ctx + ": batches");
    ts.iters_sum = j.at("iters_sum", ctx).as_num(ctx + ": iters_sum");
    ts.reseed_counter = j.at("reseed_counter", ctx).as_u64(ctx + ": reseed_counter");
    res.reseeded = j.at("reseeded", ctx).as_int(ctx + ": reseeded");
    const Json& f = j.at("fires", ctx);
    UNFOLD_CHECK(f.is_arr() && (int64_t)f.arr.size() == K, "%s: fires: expected %lld counts", ctx.c_str(),
                 (long long)K);
    for (int64_t k = 0; k < K; k++) res.fires[(size_t)k] = f.arr[(size_t)k].as_int(ctx + ": fires");
    src.restore(j.at("source", ctx));
}
}  // namespace

DictResult dict_train(ActivationSource& src, const DictTrainConfig& cfg) {
    ThreadScope threads(cfg.ctx);
    cfg.validate();
    const int64_t d = src.dim(), K = cfg.atoms, bs = cfg.batch;
    int64_t total = cfg.samples;
    if (total <= 0) {
        UNFOLD_CHECK(src.num_rows() > 0, "dict train: the source is unbounded (generated); give --samples");
        UNFOLD_CHECK(cfg.epochs > 0, "dict train: --epochs must be > 0");
        total = (int64_t)std::llround(cfg.epochs * (double)src.num_rows());
    }
    const auto t0 = std::chrono::steady_clock::now();
    DictResult res;
    res.D = Tensor({K, d});
    res.fires.assign((size_t)K, 0);
    DictStats st;
    st.K = K;
    st.d = d;
    std::vector<float> X((size_t)(bs * d)), G((size_t)(K * K)), Bc((size_t)(bs * K)), C((size_t)(bs * K)), xx;
    std::vector<float> v((size_t)K, 0.0f);  // warm start of the power iteration
    Rng reseed_rng(cfg.seed, kStreamReseed);
    DictTrainState ts;
    if (!cfg.checkpoint.empty()) remove_stale_temporaries({cfg.checkpoint});  // left by a run killed outright
    if (cfg.resume && !cfg.checkpoint.empty() && file_exists(cfg.checkpoint)) {
        load_checkpoint(cfg.checkpoint, cfg, res, st, v, ts, src);
        reseed_rng.counter = ts.reseed_counter;
        cfg.ctx.info("resumed from %s at %lld samples", cfg.checkpoint.c_str(), (long long)ts.seen);
    } else {
        // init: K rows of the source, normalised (zero rows become e_0 and are re-seeded once unused)
        src.next_batch(res.D.ptr(), K);
        dict_normalize_rows(res.D.ptr(), K, d);
    }
    const int64_t seen_at_start = ts.seen;
    Progress bar(cfg.ctx, "dict " + std::string(dict_solver_name(cfg.code.solver)), total, "samples");
    double& iters_sum = ts.iters_sum;
    int64_t& seen = ts.seen;
    int64_t& nb = ts.nb;
    while (seen < total) {
        const int64_t n = std::min(bs, total - seen);
        src.next_batch(X.data(), n);
        matmul_bt(G.data(), res.D.ptr(), res.D.ptr(), K, d, K);
        matmul_bt(Bc.data(), X.data(), res.D.ptr(), n, d, K);
        double it = 0;
        switch (cfg.code.solver) {
            case DictSolver::FISTA: {
                const float L = gram_max_eig(G.data(), K, nb == 0 ? 300 : 10, v.data()) * 1.05f;
                it = fista_codes(G.data(), Bc.data(), n, K, L, cfg.code, C.data());
                break;
            }
            case DictSolver::CD: it = cd_codes(G.data(), Bc.data(), n, K, cfg.code, C.data()); break;
            case DictSolver::OMP: {
                xx.resize((size_t)n);
                for (int64_t r = 0; r < n; r++) {
                    double s = 0;
                    for (int64_t j = 0; j < d; j++) s += (double)X[(size_t)(r * d + j)] * X[(size_t)(r * d + j)];
                    xx[(size_t)r] = (float)s;
                }
                it = omp_codes(G.data(), Bc.data(), xx.data(), n, K, cfg.code, C.data());
                break;
            }
        }
        iters_sum += it * (double)n;
        for (int64_t r = 0; r < n; r++)
            for (int64_t k = 0; k < K; k++) res.fires[(size_t)k] += C[(size_t)(r * K + k)] != 0.0f;
        dict_stats_update(st, C.data(), X.data(), n);
        std::vector<int64_t> unused = dict_bcd_update(res.D.ptr(), st, cfg.bcd_sweeps);
        // re-seed atoms that no code has used yet with a sample of this batch (deterministic in seed)
        for (int64_t j : unused) {
            const int64_t r = (int64_t)reseed_rng.below((uint64_t)n);
            std::memcpy(res.D.ptr() + j * d, X.data() + r * d, sizeof(float) * (size_t)d);
            dict_normalize_rows(res.D.ptr() + j * d, 1, d);
            res.reseeded++;
        }
        seen += n;
        nb++;
        bar.update(seen, strformat("iters %.1f", it));
        if (cfg.checkpoint_every > 0 && !cfg.checkpoint.empty() && nb % cfg.checkpoint_every == 0) {
            ts.reseed_counter = reseed_rng.counter;
            save_checkpoint(cfg.checkpoint, cfg, res, st, v, ts, src);
        }
    }
    bar.finish();
    res.samples_seen = seen;
    res.samples_run = seen - seen_at_start;
    res.mean_iters = seen ? iters_sum / (double)seen : 0.0;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

void DictTrainConfig::validate() const {
    UNFOLD_CHECK(atoms > 0 && batch > 0 && bcd_sweeps >= 1, "dict train: atoms, batch and bcd_sweeps must be > 0");
    UNFOLD_CHECK(checkpoint_every >= 0, "dict train: checkpoint_every must be >= 0");
    UNFOLD_CHECK(!resume || checkpoint.empty() || file_exists(checkpoint), "dict train: resume: %s not found",
                 checkpoint.c_str());
}

Json dict_save_run(const std::string& dir, const DictResult& r, const DictTrainConfig& cfg, ActivationSource& src,
                   int64_t eval_rows) {
    const int64_t d = src.dim(), K = r.D.dim(0);
    UNFOLD_CHECK(r.D.dim(1) == d, "dict: the dictionary has d = %lld, the source %lld", (long long)r.D.dim(1),
                 (long long)d);
    if (src.num_rows() > 0) eval_rows = std::min(eval_rows, src.num_rows());
    {  // temporaries a run killed outright (kill -9) left: ours, of dead processes
        std::vector<std::string> mine;
        for (const char* f : {"cfg.json", "sae_weights.safetensors", "sparsity.safetensors", "metrics.json"})
            mine.push_back(path_join(dir, f));
        remove_stale_temporaries(mine);
    }
    Json metrics = Json::object();
    metrics["source"] = src.describe();
    metrics["solver"] = dict_solver_name(cfg.code.solver);
    metrics["samples_seen"] = r.samples_seen;
    metrics["train_seconds"] = r.seconds;
    metrics["samples_per_s"] = r.seconds > 0 ? (double)r.samples_run / r.seconds : 0.0;
    metrics["solver_iters"] = r.mean_iters;
    metrics["reseeded_atoms"] = r.reseeded;
    if (eval_rows > 0) {
        std::vector<float> X((size_t)mul_checked((uint64_t)eval_rows, (uint64_t)d, "dict eval")),
            C((size_t)mul_checked((uint64_t)eval_rows, (uint64_t)K, "dict eval"));
        src.next_batch(X.data(), eval_rows);
        sparse_encode(r.D.ptr(), K, d, X.data(), eval_rows, cfg.code, C.data());
        DictEval ev = dict_evaluate(r.D.ptr(), K, d, X.data(), C.data(), eval_rows);
        metrics["eval_rows"] = eval_rows;
        metrics["fvu"] = ev.fvu;
        metrics["l0"] = ev.l0;
        metrics["mse"] = ev.mse;
    }
    if (const Tensor* gt = src.ground_truth()) {
        UNFOLD_CHECK(gt->dim(1) == d, "ground truth has d = %lld, the source %lld", (long long)gt->dim(1), (long long)d);
        metrics["mmcs"] = dict_mmcs(gt->ptr(), gt->dim(0), r.D.ptr(), K, d);
    }
    Json meta = Json::object();
    meta["unfold_source"] = src.describe();
    dict_save(dir, r, cfg, meta);
    json_save(path_join(dir, "metrics.json"), metrics);
    return metrics;
}

void dict_save(const std::string& dir, const DictResult& r, const DictTrainConfig& cfg, const Json& extra_meta) {
    const int64_t K = r.D.dim(0), d = r.D.dim(1);
    std::vector<float> W_enc((size_t)(d * K)), b_enc((size_t)K, 0.0f), b_dec((size_t)d, 0.0f), sparsity((size_t)K);
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < d; t++) W_enc[(size_t)(t * K + k)] = r.D[(size_t)(k * d + t)];
    for (int64_t k = 0; k < K; k++)
        sparsity[(size_t)k] =
            (float)std::log10((double)r.fires[(size_t)k] / (double)std::max<int64_t>(r.samples_seen, 1) + 1e-10);
    SaeLensExport e;
    e.architecture = "standard";
    e.d_in = d;
    e.d_sae = K;
    e.W_enc = W_enc.data();
    e.b_enc = b_enc.data();
    e.W_dec = r.D.ptr();
    e.b_dec = b_dec.data();
    e.sparsity = sparsity.data();
    e.apply_b_dec_to_input = false;
    Json m = extra_meta.is_obj() ? extra_meta : Json::object();
    m["unfold_model"] = "dictionary";
    m["unfold_solver"] = dict_solver_name(cfg.code.solver);
    m["unfold_alpha"] = std::stod(strformat("%g", (double)cfg.code.alpha));  // 0.1, not 0.10000000149
    m["unfold_positive"] = cfg.code.positive;
    m["unfold_omp_k"] = cfg.code.k;
    m["unfold_max_iter"] = cfg.code.max_iter;
    m["unfold_tol"] = std::stod(strformat("%g", (double)cfg.code.tol));
    m["unfold_omp_tol"] = std::stod(strformat("%g", (double)cfg.code.omp_tol));
    m["unfold_batch"] = cfg.batch;
    m["unfold_samples_seen"] = r.samples_seen;
    m["unfold_seed"] = cfg.seed;
    m["unfold_note"] = "W_dec is the dictionary (unit atoms); W_enc = W_dec^T is only an approximate encoder, "
                       "exact codes come from `unfold dict encode`";
    e.metadata = m;
    sae_save_saelens(dir, e);
}

Tensor dict_load(const std::string& dir, CodeOptions* code) {
    const std::string wpath = path_join(dir, "sae_weights.safetensors");
    SafeTensorsReader rd(wpath);
    UNFOLD_CHECK(rd.has("W_dec"), "%s: no tensor named 'W_dec'", wpath.c_str());
    Tensor D = rd.read_f32("W_dec");
    UNFOLD_CHECK(D.ndim() == 2 && D.dim(0) > 0 && D.dim(1) > 0, "%s: tensor 'W_dec': expected [atoms, d], found %s",
                 wpath.c_str(), shape_str(D.shape).c_str());
    if (code) {
        const std::string cpath = path_join(dir, "cfg.json");
        if (file_exists(cpath)) {
            Json cfg = json_load(cpath);
            if (const Json* m = cfg.find("metadata")) {
                if (m->has("unfold_solver")) code->solver = parse_dict_solver(m->get_str("unfold_solver", "fista"));
                code->alpha = (float)m->get_num("unfold_alpha", code->alpha);
                code->positive = m->get_bool("unfold_positive", code->positive);
                code->k = (int)m->get_int("unfold_omp_k", code->k);
                code->max_iter = (int)m->get_int("unfold_max_iter", code->max_iter);
                code->tol = (float)m->get_num("unfold_tol", code->tol);
                code->omp_tol = (float)m->get_num("unfold_omp_tol", code->omp_tol);
                UNFOLD_CHECK(code->alpha >= 0 && code->k >= 1 && code->max_iter >= 1 && code->tol >= 0,
                             "%s: metadata: bad solver options", cpath.c_str());
            }
        }
    }
    return D;
}

}  // namespace unfold

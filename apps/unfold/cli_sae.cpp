// cli_sae.cpp: the `unfold sae` command group (train, eval, encode, decode, report): a thin layer over
// sae_train / sae_eval / sae_io / sae_report.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "args.h"
#include "cli_features.h"
#include "cli_lm.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/memory.h"
#include "unfold/core/progress.h"
#include "unfold/data/source.h"
#include "unfold/features/faithfulness.h"
#include "unfold/features/hook_stream.h"
#include "unfold/lm/corpus.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/core/comm.h"
#include "unfold/io/npy.h"
#include "unfold/map/decoder_map.h"
#include "unfold/report/sae_report.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_eval.h"
#include "unfold/sae/sae_train.h"

namespace unfold {

static const std::vector<OptSpec> SOURCE_OPTS = {
    {"input", "", "activations: .npy [N,d], file.safetensors:NAME, a shard folder, or planted:d=..,features=..,p=.."},
    {"tensor", "", "tensor name inside a safetensors input"},
    {"from-toy", "", "use a trained toy model's hidden activations (toy run folder) instead of --input"},
    {"instance", "0", "toy model instance for --from-toy"},
    {"shuffle-buffer", "262144", "shuffle buffer rows (memory = rows * d * 4 bytes)"},
};

static std::vector<OptSpec> with_source(std::vector<OptSpec> o) {
    o.insert(o.begin(), SOURCE_OPTS.begin(), SOURCE_OPTS.end());
    return o;
}

static std::unique_ptr<ActivationSource> source_from_args(const Args& a, uint64_t seed, const Comm* comm = nullptr) {
    SourceOptions so;
    so.seed = seed;
    if (comm) {  // data-parallel: this rank's part of the data
        so.part = comm->rank();
        so.parts = comm->size();
    }
    so.shuffle_buffer_rows = a.i64("shuffle-buffer");
    so.tensor_name = a.str("tensor");
    so.from_toy = a.str("from-toy");
    so.toy_instance = a.i32("instance", 0);
    std::string in = a.str("input");
    UNFOLD_CHECK(!in.empty() || !so.from_toy.empty(), "give --input PATH or --from-toy DIR");
    return open_source(in, so);
}

static int sae_train_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae train", "Train a sparse autoencoder; writes a SAELens folder + metrics.json + checkpoint/.",
        "unfold sae train --input data/planted --arch topk --k 16 --latents 2048 --steps 3000 --batch 4096 "
        "--out runs/sae1\n  unfold sae train --from-toy runs/toy1 --instance 3 --arch relu --latents 64 --out runs/sae2"
        "\n"
        "  unfold sae train --input planted:d=64,features=256,p=0.02,seed=3 --arch gated --l1 1 --coef-warmup 100 \\\n"
        "      --latents 512 --steps 1500 --batch 1024 --lr 3e-3 --out runs/sae3",
        with_source({
            {"arch", "topk", "standard (relu + L1) | relu | topk | batchtopk | jumprelu | gated"},
            {"latents", "2048", "number of latents F (d_sae)"},
            {"k", "16", "active latents per row (topk, batchtopk)"},
            {"steps", "3000", "training steps"},
            {"batch", "4096", "rows per step"},
            {"lr", "4e-4", "Adam learning rate"},
            {"warmup", "0", "LR warm-up steps"},
            {"decay", "constant", "LR decay after warm-up: constant | linear | cosine"},
            {"final-lr-frac", "0.1", "final LR as a fraction of --lr (linear/cosine)"},
            {"l1", "5", "L1 coefficient (standard, gated; weighted by decoder row norms)"},
            {"l0", "0.02", "L0 coefficient (jumprelu)"},
            {"bandwidth", "0.05", "JumpReLU STE kernel width"},
            {"init-threshold", "0.01", "JumpReLU initial threshold"},
            {"coef-warmup", "0", "linear warm-up steps of the L1/L0 coefficient"},
            {"k-aux", "0", "AuxK latents (0 = d/2)"},
            {"aux-coef", "0.03125", "AuxK coefficient"},
            {"dead-tokens", "1000000", "a latent not firing for this many tokens is dead (AuxK / resampling)"},
            {"resample-every", "0", "standard, gated: resample dead latents every N steps (0 = off)"},
            {"decoder-norm", "auto", "unit (renormalise + project grads) | free | auto (unit for topk/batchtopk)"},
            {"clip", "1", "gradient-norm clip (0 = off)"},
            {"normalize", "", "scale inputs to unit mean squared norm (folded back on save)", true},
            {"no-geometric-median", "", "initialise b_dec to 0 instead of the geometric median", true},
            {"log-every", "50", "log metrics every N steps"},
            {"checkpoint-every", "500", "checkpoint every N steps (0 = only at the end)"},
            {"eval-tokens", "65536", "tokens for the final evaluation in metrics.json"},
            {"resume", "", "continue from OUT/checkpoint", true},
            {"out", "", "output folder (required)"},
        })};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    SaeTrainConfig c;
    c.sae.arch = parse_sae_arch(a.str("arch"));
    c.sae.d_sae = a.i64("latents");
    c.sae.k = a.i32("k", 1);
    c.sae.l1_coef = (float)a.f64("l1");
    c.sae.l0_coef = (float)a.f64("l0");
    c.sae.bandwidth = (float)a.f64("bandwidth");
    c.sae.init_threshold = (float)a.f64("init-threshold");
    c.sae.k_aux = a.i32("k-aux", 0);
    c.sae.aux_coef = (float)a.f64("aux-coef");
    std::string dn = a.str("decoder-norm");
    UNFOLD_CHECK(dn == "auto" || dn == "unit" || dn == "free", "--decoder-norm: expected auto|unit|free, got '%s'",
                 dn.c_str());
    c.sae.unit_norm_decoder =
        dn == "unit" || (dn == "auto" && (c.sae.arch == SaeArch::TOPK || c.sae.arch == SaeArch::BATCHTOPK));
    c.steps = a.i64("steps");
    c.batch = a.i64("batch");
    c.lr = (float)a.f64("lr");
    c.warmup_steps = a.i64("warmup");
    c.decay = a.str("decay");
    c.final_lr_frac = (float)a.f64("final-lr-frac");
    c.coef_warmup_steps = a.i64("coef-warmup");
    c.clip_grad = (float)a.f64("clip");
    c.normalize = a.flag("normalize");
    c.geometric_median = !a.flag("no-geometric-median");
    c.dead_tokens = a.i64("dead-tokens");
    c.resample_every = a.i64("resample-every");
    c.log_every = std::max<int64_t>(1, a.i64("log-every"));
    c.checkpoint_every = a.i64("checkpoint-every");
    c.seed = a.seed();
    // Sizes that cannot fit are refused before anything is opened or created: first for rows of any width, then
    // for the source's d_in.
    auto fits = [&](int64_t d_in, const std::string& rows) {
        check_memory_fits(sae_train_memory_bytes(c, d_in),
                          strformat("unfold sae train: --latents %lld with --batch %lld and %s", (long long)c.sae.d_sae,
                                    (long long)c.batch, rows.c_str()));
    };
    fits(1, "rows of any width");
    c.validate("unfold sae train");  // before the source is opened: --k, --latents, --steps, ... (d_in comes later)
    const Comm& world = world_comm();  // under mpirun: every rank, each reading its part of the data (sae_train
                                       // refuses a --batch that does not split evenly over the ranks)
    if (!world.is_root()) a.ctx.quiet = true;
    auto src = source_from_args(a, c.seed, &world);
    c.sae.d_in = src->dim();
    fits(c.sae.d_in, strformat("d_in %lld (%s)", (long long)c.sae.d_in, src->describe().c_str()));
    SaeTrainOptions o;
    o.out_dir = out;
    o.resume = a.flag("resume");
    o.ctx = a.ctx;
    o.metadata = saelens_metadata_from_cache_meta(src->meta());  // hook, model, context of an lm cache folder
    o.metadata["dataset_path"] = a.str("from-toy").empty() ? a.str("input") : a.str("from-toy");
    o.eval_tokens = a.i64("eval-tokens");
    o.comm = &world;
    make_dirs(out);
    a.ctx.info("training %s SAE: d=%lld F=%lld on %s%s", sae_arch_name(c.sae.arch), (long long)c.sae.d_in,
               (long long)c.sae.d_sae, src->describe().c_str(),
               world.size() > 1 ? strformat(", %d ranks (%s)", world.size(), world.name().c_str()).c_str() : "");
    SaeTrainResult r = sae_train(c, *src, o);
    if (!world.is_root()) return 0;
    std::printf("%s\n", (r.eval.is_null() ? r.metrics["train"] : r.eval).dump(-1).c_str());
    std::printf("wrote %s (cfg.json, sae_weights.safetensors, sparsity.safetensors, metrics.json, checkpoint/)\n",
                out.c_str());
    return 0;
}

static int sae_eval_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae eval",
        "Evaluate an SAE (unfold/SAELens, sparsify or Gemma Scope) on activations; prints JSON. With --model and "
        "--corpus it reads the activations from the model at the SAE's hook and adds the model's loss with the "
        "reconstruction spliced in: ce_loss_clean / spliced / zero_ablation, ce_loss_recovered = (zero - spliced) "
        "/ (zero - clean), kl_div_spliced (mean KL(clean || spliced) per token), over the same tokens.",
        "unfold sae eval runs/sae1 --input data/planted [--tokens 65536] [--out eval.json]\n"
        "unfold sae eval runs/sae1 --model runs/lm1 --corpus val.txt --tokens 32768",
        [] {
            std::vector<OptSpec> o = with_source({{"tokens", "65536", "rows (tokens) to evaluate"},
                                                  {"batch", "4096", "rows per batch"},
                                                  {"match-cos", "0.9", "cosine threshold for recovered / unmatched features"},
                                                  {"out", "", "also write the JSON here"},
                                                  {"model", "", "model whose activations the SAE reads (instead of --input)"},
                                                  {"tokenizer", "", "tokenizer (default: the model folder's tokenizer/)"},
                                                  {"corpus", "", "UTF-8 text for --model"},
                                                  {"hook", "", "hook (default: the SAE's recorded hook)"},
                                                  {"context", "", "window length (default: the SAE's context_size, else 128)"},
                                                  {"windows-batch", "8", "windows per forward pass with --model"},
                                                  kDtypeOpt});
            return o;
        }(),
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    std::string fmt;
    Sae s = sae_load(a.positional[0], &fmt);
    SaeEvalOptions eo;
    eo.tokens = a.i64("tokens");
    eo.batch = a.i64("batch");
    eo.match_cos = a.f64("match-cos");
    UNFOLD_CHECK(eo.tokens > 0 && eo.batch > 0, "--tokens and --batch must be positive");
    Json out = Json::object();
    out["sae"] = a.positional[0];
    out["format"] = fmt;
    out["architecture"] = sae_arch_name(s.cfg.arch);
    out["d_in"] = s.d();
    out["d_sae"] = s.F();
    if (!a.str("model").empty()) {
        UNFOLD_CHECK(a.str("input").empty() && a.str("from-toy").empty(), "give --model or --input, not both");
        UNFOLD_CHECK(!a.str("corpus").empty(), "--model needs --corpus TEXT");
        LmModel m;
        load_inference_model(m, a);
        auto tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
        const std::string hook = sae_hook_for(m, s, a.str("hook"));
        auto ids = tokenize_file(*tok, a.str("corpus"), a.ctx);
        const int64_t T = std::min<int64_t>(sae_context_from_args(a, s, 128), m.cfg.n_ctx);
        UNFOLD_CHECK(T >= 2, "--context must be >= 2");
        const int64_t windows = std::max<int64_t>(1, (eo.tokens + T - 1) / T);
        SpliceEvalOptions so;
        so.hook = hook;
        so.context = T;
        so.windows = windows;
        so.batch = a.i64("windows-batch");
        so.ctx = a.ctx;
        SpliceEval ce = sae_splice_eval(m, s, ids, so);
        // the reconstruction metrics over the same windows' activations
        HookStreamOptions ho;
        ho.hook = hook;
        ho.context = T;
        ho.batch = so.batch;
        ho.starts = eval_window_starts(ids.size(), (int)T, (int)windows);
        auto src = make_hook_source(m, ids, ho);
        eo.tokens = ce.tokens;
        Json j = sae_evaluate(s, *src, eo);
        out["model"] = a.str("model");
        out["hook"] = hook;
        out["context"] = T;
        for (auto& kv : j.obj) out[kv.first] = kv.second;
        for (auto& kv : ce.to_json().obj) out[kv.first] = kv.second;
    } else {
        auto src = source_from_args(a, a.seed());
        Json j = sae_evaluate(s, *src, eo);
        for (auto& kv : j.obj) out[kv.first] = kv.second;
    }
    std::printf("%s\n", out.dump(2).c_str());
    if (!a.str("out").empty()) {
        json_save(a.str("out"), out);
        a.ctx.info("wrote %s", a.str("out").c_str());
    }
    return 0;
}

static int sae_encode_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae encode", "Encode activations (rows in stored order) into sparse codes.",
        "unfold sae encode runs/sae1 --input acts.npy --out codes/\n"
        "unfold sae encode runs/sae1 --input acts/ --rows 100000 --out codes/   (a shard folder from lm cache)\n"
        "  writes codes/indices.npy (int32 [N, kmax], -1 = padding) and codes/values.npy (float32 [N, kmax])",
        {{"input", "", ".npy [N, d], file.safetensors:NAME, or a shard folder (unfold lm cache / data synth)"},
         {"rows", "0", "encode the first ROWS rows (0 = all)"},
         {"batch", "4096", "rows per batch"},
         {"out", "", "output folder"}},
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    Sae s = sae_load(a.positional[0]);
    std::string input = a.str("input"), out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    SourceOptions so;
    so.sequential = true;  // rows in stored order: row i of the codes is row i of the input
    auto src = open_source(input, so);
    UNFOLD_CHECK(src->dim() == s.d(), "%s: rows have %lld values, the SAE expects %lld", input.c_str(),
                 (long long)src->dim(), (long long)s.d());
    UNFOLD_CHECK(a.i64("rows") >= 0, "--rows must be >= 0");
    UNFOLD_CHECK(src->num_rows() > 0 || a.i64("rows") > 0, "%s is unbounded: give --rows", input.c_str());
    const int64_t N = src->num_rows() < 0 ? a.i64("rows")
                      : a.i64("rows") > 0 ? std::min(a.i64("rows"), src->num_rows())
                                          : src->num_rows();
    const int64_t B = std::max<int64_t>(1, a.i64("batch")), d = s.d();
    std::vector<int64_t> off(1, 0);
    std::vector<int32_t> idx;
    std::vector<float> val, x;
    SparseCodes c;
    Progress bar(a.ctx, "sae encode", N, "rows");
    for (int64_t r0 = 0; r0 < N; r0 += B) {
        int64_t n = std::min(B, N - r0);
        x.resize((size_t)(n * d));
        src->next_batch(x.data(), n);
        sae_encode(s, x.data(), n, c);
        for (int64_t b = 0; b < n; b++) off.push_back(off.back() + c.off[b + 1] - c.off[b]);
        idx.insert(idx.end(), c.idx.begin(), c.idx.end());
        val.insert(val.end(), c.val.begin(), c.val.end());
        bar.update(r0 + n);
    }
    bar.finish();
    int64_t kmax = 0;
    for (int64_t b = 0; b < N; b++) kmax = std::max(kmax, off[b + 1] - off[b]);
    std::vector<int32_t> I((size_t)(N * kmax), -1);
    std::vector<float> V((size_t)(N * kmax), 0.0f);
    for (int64_t b = 0; b < N; b++)
        for (int64_t p = off[b]; p < off[b + 1]; p++) {
            I[b * kmax + (p - off[b])] = idx[p];
            V[b * kmax + (p - off[b])] = val[p];
        }
    make_dirs(out);
    npy_save_int32(path_join(out, "indices.npy"), {N, kmax}, I.data());
    npy_save(path_join(out, "values.npy"), {N, kmax}, V.data());
    std::printf("wrote %s/indices.npy and %s/values.npy ([%lld, %lld], mean L0 %.3f)\n", out.c_str(), out.c_str(),
                (long long)N, (long long)kmax, N ? (double)off[N] / N : 0.0);
    return 0;
}

static int sae_decode_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae decode", "Decode sparse codes (indices.npy + values.npy) back into activations.",
        "unfold sae decode runs/sae1 --codes codes/ --out recon.npy",
        {{"codes", "", "folder with indices.npy and values.npy (from `unfold sae encode`)"},
         {"out", "", "output .npy [N, d]"}},
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    Sae s = sae_load(a.positional[0]);
    std::string cd = a.str("codes"), out = a.str("out");
    UNFOLD_CHECK(!cd.empty() && !out.empty(), "--codes and --out are required");
    const std::string ip = path_join(cd, "indices.npy"), vp = path_join(cd, "values.npy");
    std::vector<int64_t> I = npy_load_int(ip);
    Tensor V = npy_load(vp);
    UNFOLD_CHECK(V.ndim() == 2, "%s: expected a 2-D array [N, kmax], found %s", vp.c_str(), shape_str(V.shape).c_str());
    UNFOLD_CHECK((int64_t)I.size() == V.numel(), "%s: %zu indices but %s holds %lld values", ip.c_str(), I.size(),
                 vp.c_str(), (long long)V.numel());
    const int64_t N = V.dim(0), K = V.dim(1), d = s.d();
    SparseCodes c;
    c.rows = N;
    c.off.assign((size_t)N + 1, 0);
    for (int64_t b = 0; b < N; b++) {
        for (int64_t q = 0; q < K; q++) {
            int64_t i = I[b * K + q];
            if (i < 0) continue;
            UNFOLD_CHECK(i < s.F(), "%s: row %lld: latent index %lld out of range [0, %lld)", ip.c_str(), (long long)b,
                         (long long)i, (long long)s.F());
            c.idx.push_back((int32_t)i);
            c.val.push_back(V[b * K + q]);
        }
        c.off[b + 1] = (int64_t)c.idx.size();
    }
    std::vector<float> xh((size_t)(N * d));
    sae_decode(s, c, xh.data());
    npy_save(out, {N, d}, xh.data());
    std::printf("wrote %s ([%lld, %lld])\n", out.c_str(), (long long)N, (long long)d);
    return 0;
}

static int sae_report_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae report", "Self-contained HTML report of an SAE run (curves, densities, features vs truth, map).",
        "unfold sae report runs/sae1 [--input data/planted] [--out runs/sae1/report.html]",
        with_source({{"tokens", "32768", "rows for densities when --input is given"},
                     {"out", "", "HTML path (default RUN/report.html)"}}),
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string run = a.positional[0];
    std::string out = a.str("out").empty() ? path_join(run, "report.html") : a.str("out");
    std::unique_ptr<ActivationSource> src;
    if (!a.str("input").empty() || !a.str("from-toy").empty()) src = source_from_args(a, a.seed());
    SaeReportOptions ro;
    ro.tokens = a.i64("tokens");
    sae_write_report(run, src.get(), ro, out);
    std::printf("wrote %s\n", out.c_str());
    return 0;
}

static int sae_map_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold sae map",
        "Decoder map: UMAP of the decoder directions (cosine) of one or more SAEs, embedded jointly, with feature "
        "families; one self-contained HTML page and/or JSON.",
        "unfold sae map RUN [RUN2 ...] --out map.html [--json] [--db RUN=FEATURES.db[,RUN2=F2.db]]\n"
        "  unfold sae map runs/sae_512 runs/sae_4096 --out runs/map.html\n"
        "  unfold sae map runs/sae_kjv --db runs/sae_kjv=runs/kjv_features.db --link 'feature/{id}.html' --out map.html\n"
        "SAEs of several sizes trained on the same activations are overlaid in different colours. Families: for each\n"
        "feature of a smaller SAE, the --family-k features of the next larger SAE closest in decoder cosine (with the\n"
        "cosines), and for each feature of the larger one its closest parent. Densities come from --db or the run's\n"
        "sparsity.safetensors; labels from --db. Same --seed, same layout. --json prints the layout and the families.",
        {{"out", "", "HTML page to write (required unless --json)"},
         {"json", "", "print the map (layout, families, parameters) as JSON on stdout", true},
         {"db", "", "features databases: RUN=FEATURES.db[,RUN2=F2.db] (RUN as given, or its name): densities + labels"},
         {"link", "feature/{id}.html", "feature page link pattern ({id}, {sae}); '' = no links"},
         {"title", "Decoder map", "page title"},
         {"neighbors", "15", "UMAP: nearest neighbours per point"},
         {"min-dist", "0.1", "UMAP: minimum distance between points in the layout"},
         {"spread", "1", "UMAP: scale of the embedded points"},
         {"epochs", "0", "UMAP: SGD epochs (0 = 500 up to 10k points, 200 above)"},
         {"negative", "5", "UMAP: negative samples per positive one"},
         {"lr", "1", "UMAP: initial learning rate"},
         {"init", "spectral", "UMAP: initial layout: spectral | random"},
         {"knn", "auto", "nearest neighbours: auto | exact | hnsw (hnswlib)"},
         {"exact-max", "32768", "auto: exact kNN up to this many points, HNSW above"},
         {"family-k", "5", "family members per feature of a smaller SAE"},
         {"family-min-cos", "0", "the page draws family lines from this cosine up"}},
        1, 64};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    const bool json = a.flag("json");
    UNFOLD_CHECK(!out.empty() || json, "unfold sae map: give --out map.html and/or --json");
    std::vector<MapInput> in;
    for (const std::string& run : a.positional) in.push_back(map_input_load(run));
    if (!a.str("db").empty()) {
        for (const std::string& kv : split_list(a.str("db"), ',')) {
            const size_t eq = kv.find('=');
            UNFOLD_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < kv.size(),
                         "--db: expected RUN=FEATURES.db, found '%s'", kv.c_str());
            const std::string run = kv.substr(0, eq), db = kv.substr(eq + 1);
            MapInput* hit = nullptr;
            for (size_t i = 0; i < in.size(); i++)
                if (a.positional[i] == run || in[i].name == run || in[i].path == run) hit = &in[i];
            if (!hit) {
                std::string given;
                for (const std::string& r : a.positional) given += (given.empty() ? "" : ", ") + r;
                fail("--db: '%s' is none of the SAEs given (%s)", run.c_str(), given.c_str());
            }
            map_input_annotate_db(*hit, db);
        }
    }
    DecoderMapOptions o;
    o.umap.n_neighbors = (int)a.i64("neighbors");
    o.umap.min_dist = a.f64("min-dist");
    o.umap.spread = a.f64("spread");
    o.umap.n_epochs = (int)a.i64("epochs");
    o.umap.negative_samples = (int)a.i64("negative");
    o.umap.learning_rate = a.f64("lr");
    o.umap.init = a.str("init");
    o.umap.seed = a.seed();
    o.umap.knn.method = parse_knn_method(a.str("knn"));
    o.umap.knn.exact_max = a.i64("exact-max");
    o.family_k = (int)a.i64("family-k");
    o.ctx = a.ctx;
    const auto t0 = std::chrono::steady_clock::now();
    DecoderMap m = decoder_map(in, o);
    if (!out.empty()) {
        MapHtmlOptions ho;
        ho.title = a.str("title");
        ho.link = a.str("link");
        ho.family_min_cos = (float)a.f64("family-min-cos");
        write_file_atomic(out, decoder_map_html(m, ho));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json) {
        std::printf("%s\n", decoder_map_json(m).dump(-1).c_str());
    }
    int64_t points = 0;
    for (const MapSae& s : m.saes) points += (int64_t)s.feature.size();
    if (!out.empty())
        a.ctx.message(LogLevel::INFO, strformat("wrote %s (%lld points of %zu SAE%s, %zu famil%s, %s kNN, %.1f s)",
                                                out.c_str(), (long long)points, m.saes.size(),
                                                m.saes.size() == 1 ? "" : "s", m.families.size(),
                                                m.families.size() == 1 ? "y" : "ies", m.knn_exact ? "exact" : "HNSW",
                                                secs));
    if (!out.empty() && !json) std::printf("wrote %s\n", out.c_str());
    return 0;
}

int cmd_sae(int argc, char** argv) {
    return dispatch("sae", "sparse autoencoders: train, evaluate, encode/decode, report",
                    {{"train", "train an SAE (ReLU+L1, TopK, BatchTopK, JumpReLU, Gated)", sae_train_cmd},
                     {"eval", "evaluate an SAE (unfold/SAELens, sparsify, Gemma Scope) on activations", sae_eval_cmd},
                     {"encode", "activations -> sparse codes (indices.npy + values.npy)", sae_encode_cmd},
                     {"decode", "sparse codes -> activations", sae_decode_cmd},
                     {"report", "HTML report of a run", sae_report_cmd},
                     {"map", "decoder map (UMAP of decoder directions, several SAEs) + feature families", sae_map_cmd}},
                    argc, argv);
}

}  // namespace unfold

// sae_train.cpp: the SAE training loop (see sae_train.h): init (geometric median, input scale), Adam
// steps with schedules, clipping, unit-norm decoder, dead latents (AuxK mask / resampling), BatchTopK
// threshold, logging, progress bar, checkpoints and exact resume; the final SAELens folder.
#include "unfold/sae/sae_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/memory.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"
#include "unfold/core/schedule.h"
#include "unfold/io/fileio.h"
#include "unfold/sae/sae_checkpoint.h"
#include "unfold/sae/sae_eval.h"

namespace unfold {

Json SaeTrainConfig::to_json() const {
    Json j = Json::object();
    j["sae"] = sae.to_json();
    j["steps"] = steps;
    j["batch"] = batch;
    j["lr"] = lr;
    j["beta1"] = beta1;
    j["beta2"] = beta2;
    j["decay"] = decay;
    j["warmup_steps"] = warmup_steps;
    j["final_lr_frac"] = final_lr_frac;
    j["coef_warmup_steps"] = coef_warmup_steps;
    j["clip_grad"] = clip_grad;
    j["normalize"] = normalize;
    j["geometric_median"] = geometric_median;
    j["dec_init_norm"] = dec_init_norm;
    j["dead_tokens"] = dead_tokens;
    j["resample_every"] = resample_every;
    j["log_every"] = log_every;
    j["checkpoint_every"] = checkpoint_every;
    j["density_tokens"] = density_tokens;
    j["seed"] = seed;  // exact to 64 bits
    return j;
}

SaeTrainConfig SaeTrainConfig::from_json(const Json& j, const std::string& ctx) {
    SaeTrainConfig c;
    c.sae = SaeConfig::from_json(j.at("sae", ctx), ctx + ": sae");
    c.steps = j.get_int("steps", c.steps);
    c.batch = j.get_int("batch", c.batch);
    c.lr = (float)j.get_num("lr", c.lr);
    c.beta1 = (float)j.get_num("beta1", c.beta1);
    c.beta2 = (float)j.get_num("beta2", c.beta2);
    c.decay = j.get_str("decay", c.decay);
    c.warmup_steps = j.get_int("warmup_steps", c.warmup_steps);
    c.final_lr_frac = (float)j.get_num("final_lr_frac", c.final_lr_frac);
    c.coef_warmup_steps = j.get_int("coef_warmup_steps", c.coef_warmup_steps);
    c.clip_grad = (float)j.get_num("clip_grad", c.clip_grad);
    c.normalize = j.get_bool("normalize", c.normalize);
    c.geometric_median = j.get_bool("geometric_median", c.geometric_median);
    c.dec_init_norm = (float)j.get_num("dec_init_norm", c.dec_init_norm);
    c.dead_tokens = j.get_int("dead_tokens", c.dead_tokens);
    c.resample_every = j.get_int("resample_every", c.resample_every);
    c.log_every = j.get_int("log_every", c.log_every);
    c.checkpoint_every = j.get_int("checkpoint_every", c.checkpoint_every);
    c.density_tokens = j.get_int("density_tokens", c.density_tokens);
    if (const Json* s = j.find("seed")) c.seed = s->as_u64(ctx + ": seed");  // number, or a decimal string
    c.validate(ctx);
    return c;
}

void SaeTrainConfig::validate(const std::string& ctx) const {
    UNFOLD_CHECK(steps > 0 && batch > 0, "%s: steps and batch must be > 0", ctx.c_str());
    UNFOLD_CHECK(lr > 0 && std::isfinite(lr), "%s: lr must be > 0", ctx.c_str());
    parse_decay(decay);
    UNFOLD_CHECK(warmup_steps >= 0 && coef_warmup_steps >= 0 && resample_every >= 0 && checkpoint_every >= 0 &&
                     log_every > 0 && dead_tokens > 0 && density_tokens > 0,
                 "%s: warm-ups, resample_every and checkpoint_every must be >= 0; log_every, dead_tokens and "
                 "density_tokens > 0",
                 ctx.c_str());
    UNFOLD_CHECK(clip_grad >= 0 && std::isfinite(clip_grad), "%s: clip_grad must be >= 0", ctx.c_str());
    UNFOLD_CHECK(final_lr_frac >= 0 && final_lr_frac <= 1, "%s: final_lr_frac must be in [0, 1]", ctx.c_str());
    SaeConfig s = sae;
    if (s.d_in == 0) s.d_in = 1;  // taken from the source later
    s.validate(ctx + ": sae");
}

void geometric_median(const float* x, int64_t n, int64_t d, float* out, int iters, double tol) {
    std::vector<double> y((size_t)d, 0.0), num((size_t)d);
    for (int64_t b = 0; b < n; b++)
        for (int64_t j = 0; j < d; j++) y[j] += x[b * d + j] / (double)n;  // start at the mean
    for (int it = 0; it < iters; it++) {
        std::fill(num.begin(), num.end(), 0.0);
        double den = 0;
        for (int64_t b = 0; b < n; b++) {
            double dist2 = 0;
            for (int64_t j = 0; j < d; j++) {
                double t = x[b * d + j] - y[j];
                dist2 += t * t;
            }
            double w = 1.0 / std::max(std::sqrt(dist2), 1e-12);
            den += w;
            for (int64_t j = 0; j < d; j++) num[j] += w * x[b * d + j];
        }
        double move = 0;
        for (int64_t j = 0; j < d; j++) {
            double ny = num[j] / den;
            move += (ny - y[j]) * (ny - y[j]);
            y[j] = ny;
        }
        if (std::sqrt(move) < tol) break;
    }
    for (int64_t j = 0; j < d; j++) out[j] = (float)y[j];
}

void sae_fold_input_scale(Sae& sae, float s) {
    if (s == 1.0f) return;
    const int64_t d = sae.d(), F = sae.F();
    for (int64_t i = 0; i < d * F; i++) sae.W_enc()[i] *= s;
    for (int64_t i = 0; i < d * F; i++) sae.W_dec()[i] /= s;
    for (int64_t j = 0; j < d; j++) sae.b_dec()[j] /= s;
}

static void check_finite_batch(const float* x, int64_t B, int64_t d, int64_t step, const ActivationSource& src) {
    for (int64_t i = 0; i < B * d; i++)
        if (!std::isfinite(x[i]))
            fail("%s: non-finite activation (NaN/Inf) in batch %lld, row %lld, column %lld",
                 src.describe().c_str(), (long long)step, (long long)(i / d), (long long)(i % d));
}

// Anthropic-style resampling for ReLU+L1 and Gated: each dead latent gets the direction of a high-error input
// (Gated: b_gate = b_mag = r_mag = 0, so both paths restart as the same encoder column).
static void resample_dead(SaeTrainState& st, const float* x, const SaeWork& w, int64_t B, const SaeTrainConfig& cfg,
                          const std::vector<uint8_t>& dead) {
    Sae& s = st.sae;
    const int64_t d = s.d(), F = s.F();
    std::vector<double> cum((size_t)B);
    double tot = 0;
    for (int64_t b = 0; b < B; b++) {
        double e = 0;
        for (int64_t j = 0; j < d; j++) {
            double r = x[b * d + j] - w.xhat[b * d + j];
            e += r * r;
        }
        tot += e * e;
        cum[b] = tot;
    }
    if (tot <= 0) return;
    double enc_norm = 0;
    int64_t alive = 0;
    for (int64_t i = 0; i < F; i++) {
        if (dead[i]) continue;
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)s.W_enc()[j * F + i] * s.W_enc()[j * F + i];
        enc_norm += std::sqrt(n2);
        alive++;
    }
    enc_norm = alive ? enc_norm / alive : 1.0;
    Rng rng(cfg.seed, 0x5E5A + (uint64_t)st.step);
    for (int64_t i = 0; i < F; i++) {
        if (!dead[i]) continue;
        double u = rng.uniform_double() * tot;
        int64_t b = std::lower_bound(cum.begin(), cum.end(), u) - cum.begin();
        b = std::min(b, B - 1);
        std::vector<double> v((size_t)d);
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) {
            v[j] = x[b * d + j] - s.b_dec()[j];
            n2 += v[j] * v[j];
        }
        double inv = 1.0 / std::max(std::sqrt(n2), 1e-12);
        for (int64_t j = 0; j < d; j++) {
            s.W_dec()[i * d + j] = (float)(v[j] * inv);
            s.W_enc()[j * F + i] = (float)(0.2 * enc_norm * v[j] * inv);
        }
        s.b_enc()[i] = 0.0f;
        // reset the Adam moments of the touched parameters
        auto reset = [&](const char* name, int64_t off, int64_t stride, int64_t cnt) {
            size_t base = s.params.view(name).offset;
            for (int64_t q = 0; q < cnt; q++) st.adam.m[base + off + q * stride] = st.adam.v[base + off + q * stride] = 0;
        };
        reset("W_dec", i * d, 1, d);
        reset("W_enc", i, F, d);
        reset("b_enc", i, 1, 1);
        if (s.cfg.arch == SaeArch::GATED) {
            s.params.get("r_mag")[i] = s.params.get("b_mag")[i] = 0.0f;
            reset("r_mag", i, 1, 1);
            reset("b_mag", i, 1, 1);
        }
        st.since_fired[i] = 0;
    }
}

// FNV-1a of the parameters' bytes: the same on every rank after every step of data-parallel training
static uint64_t params_hash(const Sae& s) {
    uint64_t h = 1469598103934665603ULL;
    const unsigned char* p = (const unsigned char*)s.params.data.data();
    for (size_t i = 0; i < s.params.data.size() * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void check_replicas(const Comm& comm, const Sae& s, int64_t step) {
    if (comm.size() == 1) return;
    const uint64_t h = params_hash(s);
    std::vector<uint64_t> all((size_t)comm.size());
    comm.allgather(&h, sizeof h, all.data());
    for (int r = 1; r < comm.size(); r++)
        UNFOLD_CHECK(all[(size_t)r] == all[0], "sae train: after step %lld rank %d holds other weights than rank 0 "
                     "(the ranks must run the same binary, configuration and thread count)", (long long)step, r);
}

// Every rank calls it (the source positions are gathered); rank 0 writes.
static void save_checkpoint(const std::string& out, SaeTrainState& st, const ActivationSource& src, const Comm& comm) {
    if (out.empty()) return;
    check_replicas(comm, st.sae, st.step);
    if (comm.size() > 1) {
        const std::vector<std::string> states = comm.allgather_strings(src.state().dump(-1));
        Json j = Json::object();
        j["ranks"] = (int64_t)comm.size();
        j["parts"] = Json::array();
        for (const std::string& t : states) j["parts"].push(json_parse(t, "source state"));
        st.source_state = j;
    } else {
        st.source_state = src.state();
    }
    if (!comm.is_root()) return;
    make_dirs(path_join(out, "checkpoint"));
    sae_checkpoint_save(path_join(path_join(out, "checkpoint"), "state.bin"), st);
}

uint64_t sae_train_memory_bytes(const SaeTrainConfig& cfg, int64_t d_in) {
    const uint64_t d = (uint64_t)std::max<int64_t>(d_in, 1), F = (uint64_t)std::max<int64_t>(cfg.sae.d_sae, 1),
                   B = (uint64_t)std::max<int64_t>(cfg.batch, 1);
    uint64_t params = sat_add(sat_mul(sat_mul(2, d), F), sat_add(F, d));  // W_enc, W_dec, b_enc, b_dec
    if (cfg.sae.arch == SaeArch::JUMPRELU) params = sat_add(params, F);
    if (cfg.sae.arch == SaeArch::GATED) params = sat_add(params, sat_mul(2, F));
    const uint64_t per_bf = cfg.sae.arch == SaeArch::GATED                                             ? 5
                            : cfg.sae.arch == SaeArch::STANDARD || cfg.sae.arch == SaeArch::JUMPRELU ? 3
                                                                                                   : 1;
    uint64_t floats = sat_mul(4, params);
    floats = sat_add(floats, sat_mul(F, d));
    floats = sat_add(floats, sat_mul(6, sat_mul(B, d)));
    floats = sat_add(floats, sat_mul(per_bf, sat_mul(B, F)));
    return sat_mul(floats, sizeof(float));
}

SaeTrainResult sae_train(const SaeTrainConfig& cfg, ActivationSource& src, const SaeTrainOptions& opts) {
    ThreadScope threads(opts.ctx);
    const Comm& comm = opts.comm ? *opts.comm : local_comm();
    const int R = comm.size();
    const bool root = comm.is_root();
    SaeConfig sc = cfg.sae;
    UNFOLD_CHECK(src.dim() == sc.d_in || sc.d_in == 0, "SAE d_in %lld but the source has rows of %lld",
                 (long long)sc.d_in, (long long)src.dim());
    sc.d_in = src.dim();
    SaeTrainConfig tc = cfg;
    tc.sae = sc;
    tc.validate("sae train");
    const int64_t B = tc.batch, d = sc.d_in, F = sc.d_sae;
    UNFOLD_CHECK(B % R == 0, "sae train: --batch %lld does not split evenly over %d ranks", (long long)B, R);
    const int64_t Bl = B / R;  // this rank's rows of each batch
    SaeTrainConfig per_rank = tc;
    per_rank.batch = Bl;
    check_memory_fits(sae_train_memory_bytes(per_rank, d),
                      strformat("sae train: d_sae %lld x d_in %lld with batch %lld", (long long)F, (long long)d,
                                (long long)B));
    std::vector<float> x((size_t)(Bl * d));
    const std::string ck = opts.out_dir.empty() ? "" : path_join(path_join(opts.out_dir, "checkpoint"), "state.bin");
    if (!opts.out_dir.empty() && root) {  // temporaries a run killed outright (kill -9) left: ours, of dead processes
        std::vector<std::string> mine = {ck};
        for (const char* f : {"cfg.json", "sae_weights.safetensors", "sparsity.safetensors", "metrics.json"})
            mine.push_back(path_join(opts.out_dir, f));
        remove_stale_temporaries(mine);
    }

    SaeTrainState st;
    if (opts.resume && !ck.empty() && file_exists(ck)) {
        st = sae_checkpoint_load(ck);
        SaeTrainConfig stored = SaeTrainConfig::from_json(st.train_cfg, ck);
        // Everything but the step budget / checkpoint cadence must match.
        stored.steps = tc.steps;
        stored.checkpoint_every = tc.checkpoint_every;
        UNFOLD_CHECK(stored.to_json().dump(-1) == tc.to_json().dump(-1),
                     "%s: the checkpoint was made with a different configuration; use the same flags to resume",
                     ck.c_str());
        st.train_cfg = tc.to_json();
        const int64_t was = st.source_state.is_obj() ? st.source_state.get_int("ranks", 1) : 1;
        UNFOLD_CHECK(was == R, "%s: the checkpoint was written by a run on %lld rank%s; resume it with %s", ck.c_str(),
                     (long long)was, was == 1 ? "" : "s",
                     was == 1 ? "one process (no mpirun)" : strformat("mpirun -np %lld", (long long)was).c_str());
        if (R > 1) {
            const Json& parts = st.source_state.at("parts", ck + ": source state");
            UNFOLD_CHECK(parts.is_arr() && (int64_t)parts.arr.size() == R, "%s: source state: %d parts expected",
                         ck.c_str(), R);
            src.restore(parts.arr[(size_t)comm.rank()]);
        } else {
            src.restore(st.source_state);
        }
        opts.ctx.info("resuming %s from step %lld", opts.out_dir.c_str(), (long long)st.step);
    } else {
        st.sae = sae_init(sc, tc.seed, tc.dec_init_norm);
        st.adam.init(st.sae.params.size());
        st.since_fired.assign((size_t)F, 0);
        st.fire_window.assign((size_t)F, 0);
        st.train_cfg = tc.to_json();
        // first sample: input scale and geometric-median b_dec, from the whole first batch (every rank's part)
        src.next_batch(x.data(), Bl);
        check_finite_batch(x.data(), Bl, d, -1, src);
        if (R > 1) {
            std::vector<float> all((size_t)(B * d));
            comm.allgather(x.data(), Bl * d * (int64_t)sizeof(float), all.data());
            x.swap(all);
        }
        if (tc.normalize) {
            double ms = 0;
            for (int64_t i = 0; i < B * d; i++) ms += (double)x[i] * x[i];
            ms /= (double)B;
            UNFOLD_CHECK(ms > 0, "%s: activations are all zero", src.describe().c_str());
            st.scale = (float)(1.0 / std::sqrt(ms));
            for (auto& v : x) v *= st.scale;
        }
        if (tc.geometric_median) {
            int64_t n = std::min<int64_t>(B, 8192);
            geometric_median(x.data(), n, d, st.sae.b_dec());
        }
    }
    x.resize((size_t)(Bl * d));
    Sae& sae = st.sae;
    Schedule sched;
    sched.decay = parse_decay(tc.decay);
    sched.warmup_steps = tc.warmup_steps;
    sched.total_steps = tc.steps;
    sched.final_frac = tc.final_lr_frac;
    AdamConfig ac;
    ac.lr = tc.lr;
    ac.beta1 = tc.beta1;
    ac.beta2 = tc.beta2;
    const bool sparse = sc.arch == SaeArch::TOPK || sc.arch == SaeArch::BATCHTOPK;
    const int64_t window_start_tokens = tc.steps * B - tc.density_tokens;  // density over the final tokens
    SaeWork w;
    std::vector<uint8_t> dead((size_t)F, 0);
    std::vector<int64_t> fires((size_t)F);
    SaeTrainResult res;
    // with several ranks, rank 0 draws the progress; stopping (Ctrl-C reaches every rank at its own moment) is
    // agreed on once per step, so all ranks leave at the same step
    Context bar_ctx = root ? opts.ctx : Context::silent();
    if (R > 1) bar_ctx.should_stop = nullptr;
    Progress bar(bar_ctx, "sae train", tc.steps, "step");
    auto t0 = std::chrono::steady_clock::now();
    const int64_t start = st.step;
    while (st.step < tc.steps) {
        const int64_t step = st.step;
        src.next_batch(x.data(), Bl);
        check_finite_batch(x.data(), Bl, d, step, src);
        if (st.scale != 1.0f)
            for (auto& v : x) v *= st.scale;
        float cs = tc.coef_warmup_steps > 0 ? std::min(1.0f, (float)(step + 1) / (float)tc.coef_warmup_steps) : 1.0f;
        int64_t n_dead = 0;
        for (int64_t i = 0; i < F; i++) {
            dead[i] = st.since_fired[i] >= tc.dead_tokens;
            n_dead += dead[i];
        }
        std::fill(fires.begin(), fires.end(), 0);
        sae.params.zero_grad();
        SaeLoss L = sae_forward_backward(sae, x.data(), Bl, w, true, cs, sparse && n_dead ? dead.data() : nullptr,
                                         fires.data());
        if (R > 1) {  // the global batch's mean gradient, fires and metrics
            comm.allreduce_sum(sae.params.grad.data(), (int64_t)sae.params.size());
            const float inv = 1.0f / (float)R;
            for (float& g : sae.params.grad) g *= inv;
            comm.allreduce_sum(fires.data(), F);
            double m[6] = {L.loss, L.mse, L.sparsity, L.aux, L.l0, L.fvu};
            comm.allreduce_sum(m, 6);
            L.loss = m[0] / R, L.mse = m[1] / R, L.sparsity = m[2] / R, L.aux = m[3] / R, L.l0 = m[4] / R,
            L.fvu = m[5] / R;
            comm.allreduce_min(&L.min_kept, 1);
        }
        UNFOLD_CHECK(std::isfinite(L.loss), "training diverged at step %lld (loss %g); lower --lr",
                     (long long)step, L.loss);
        if (sc.unit_norm_decoder) sae_project_decoder_grad(sae);
        if (tc.clip_grad > 0) clip_grad_norm(sae.params.grad.data(), sae.params.size(), tc.clip_grad);
        const float lr = (float)(tc.lr * sched.factor(step));
        adam_step(st.adam, ac, lr, sae.params.data.data(), sae.params.grad.data(), sae.params.size());
        if (sc.unit_norm_decoder) sae_normalize_decoder(sae);
        for (int64_t i = 0; i < F; i++) st.since_fired[i] = fires[i] ? 0 : st.since_fired[i] + B;
        if (step * B >= window_start_tokens) {
            for (int64_t i = 0; i < F; i++) st.fire_window[i] += fires[i];
            st.window_tokens += B;
        }
        if (sc.arch == SaeArch::BATCHTOPK)
            sae.threshold = step == 0 ? L.min_kept : 0.99f * sae.threshold + 0.01f * L.min_kept;
        if ((sc.arch == SaeArch::STANDARD || sc.arch == SaeArch::GATED) && tc.resample_every > 0 && (step + 1) % tc.resample_every == 0 &&
            step + 1 < tc.steps && n_dead > 0)
        {
            if (root) resample_dead(st, x.data(), w, Bl, tc, dead);
            if (R > 1) {  // rank 0's resampled latents (and their reset moments) to every rank
                comm.broadcast(sae.params.data.data(), (int64_t)(sae.params.size() * sizeof(float)), 0);
                comm.broadcast(st.adam.m.data(), (int64_t)(st.adam.m.size() * sizeof(float)), 0);
                comm.broadcast(st.adam.v.data(), (int64_t)(st.adam.v.size() * sizeof(float)), 0);
                comm.broadcast(st.since_fired.data(), (int64_t)(st.since_fired.size() * sizeof(int64_t)), 0);
            }
        }
        st.step++;
        if (st.step % tc.log_every == 0 || st.step == tc.steps) {
            Json e = Json::object();
            e["step"] = st.step;
            e["loss"] = L.loss;
            e["mse"] = L.mse;
            e["fvu"] = L.fvu;
            e["l0"] = L.l0;
            e["dead_frac"] = (double)n_dead / (double)F;
            e["sparsity"] = L.sparsity;
            e["aux"] = L.aux;
            e["lr"] = lr;
            st.log.push(e);
        }
        if (bar.active())
            bar.update(st.step, strformat("loss %.4g  L0 %.1f  FVU %.4f  dead %.1f%%", L.loss, L.l0, L.fvu,
                                          100.0 * n_dead / F));
        else if (R == 1)
            opts.ctx.check_stop();
        if (R > 1) {
            int64_t want = opts.ctx.should_stop && opts.ctx.should_stop() ? 1 : 0;
            comm.allreduce_max(&want, 1);
            if (want) throw Cancelled("cancelled");
        }
        bool stop = opts.stop_at >= 0 && st.step >= opts.stop_at && st.step < tc.steps;
        if ((tc.checkpoint_every > 0 && st.step % tc.checkpoint_every == 0) || stop || st.step == tc.steps)
            save_checkpoint(opts.out_dir, st, src, comm);
        if (stop) break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.seconds = secs;
    res.tokens_per_s = secs > 0 ? (double)(st.step - start) * B / secs : 0;
    res.steps_done = st.step;
    res.finished = st.step >= tc.steps;
    res.log = st.log;
    bar.finish(res.finished ? "done" : "stopped");
    res.sae = st.sae;
    sae_fold_input_scale(res.sae, st.scale);
    res.log10_density.resize((size_t)F);
    for (int64_t i = 0; i < F; i++)
        res.log10_density[i] =
            (float)std::log10((double)st.fire_window[i] / (double)std::max<int64_t>(1, st.window_tokens) + 1e-10);
    check_replicas(comm, st.sae, st.step);
    if (!opts.out_dir.empty() && res.finished && root) {
        Json md = opts.metadata.is_obj() ? opts.metadata : Json::object();
        md["produced_by"] = "unfold sae train";
        md["source"] = src.describe();
        md["input_scale_folded"] = st.scale;
        sae_save(opts.out_dir, res.sae, res.log10_density.data(), md);
    }
    if (res.finished && opts.eval_tokens > 0 && root) {
        SaeEvalOptions eo;
        eo.tokens = opts.eval_tokens;
        eo.batch = std::min<int64_t>(B, opts.eval_batch);
        res.eval = sae_evaluate(res.sae, src, eo);
    }
    res.metrics = Json::object();
    res.metrics["config"] = tc.to_json();
    res.metrics["source"] = src.describe();
    res.metrics["train"] = Json::object();
    res.metrics["train"]["seconds"] = res.seconds;
    res.metrics["train"]["tokens_per_s"] = res.tokens_per_s;
    res.metrics["train"]["steps"] = res.steps_done;
    res.metrics["log"] = res.log;
    if (!res.eval.is_null()) res.metrics["eval"] = res.eval;
    if (R > 1) res.metrics["train"]["ranks"] = (int64_t)R;
    if (!opts.out_dir.empty() && res.finished && root) json_save(path_join(opts.out_dir, "metrics.json"), res.metrics);
    return res;
}

}  // namespace unfold

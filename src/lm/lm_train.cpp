// lm_train.cpp: the training loop (batches, AdamW + schedule + clipping, validation, checkpoints, resume).
#include "unfold/lm/lm_train.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/optim.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"
#include "unfold/core/schedule.h"
#include "unfold/core/strings.h"
#include "unfold/io/fileio.h"
#include "unfold/io/safetensors.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/corpus.h"

namespace unfold {

Json LmTrainConfig::to_json() const {
    Json j = Json::object();
    j["steps"] = steps;
    j["batch"] = batch;
    j["context"] = context;
    j["lr"] = (double)lr;
    j["min_lr_frac"] = (double)min_lr_frac;
    j["warmup"] = warmup;
    j["weight_decay"] = (double)weight_decay;
    j["beta1"] = (double)beta1;
    j["beta2"] = (double)beta2;
    j["grad_clip"] = (double)grad_clip;
    j["eval_every"] = eval_every;
    j["eval_windows"] = eval_windows;
    j["ckpt_every"] = ckpt_every;
    j["seed"] = seed;  // exact to 64 bits
    return j;
}

double unigram_entropy(const std::vector<int32_t>& tokens, int64_t vocab) {
    std::vector<int64_t> cnt((size_t)vocab, 0);
    for (int32_t t : tokens)
        if (t >= 0 && t < vocab) cnt[(size_t)t]++;
    double n = (double)tokens.size(), h = 0.0;
    for (int64_t c : cnt)
        if (c > 0) h -= (double)c / n * std::log((double)c / n);
    return h;
}

double lm_eval_loss(const LmModel& m, const std::vector<int32_t>& tokens, int64_t T, int64_t n_windows, int64_t batch,
                    const HookSet* hooks) {
    UNFOLD_CHECK((int64_t)tokens.size() > T + 1, "validation set has %zu tokens, needs more than context + 1 = %lld",
                 tokens.size(), (long long)(T + 1));
    // non-overlapping windows spread evenly over the stream (lm/corpus.h), fewer if the stream is short
    std::vector<size_t> starts = eval_window_starts(tokens.size(), (int)T, (int)n_windows);
    const int64_t nw = (int64_t)starts.size();
    LmActs a;
    std::vector<int32_t> in, tg;
    double tot = 0.0;
    int64_t done = 0;
    while (done < nw) {
        int64_t B = std::min(batch, nw - done);
        in.resize((size_t)(B * T));
        tg.resize((size_t)(B * T));
        for (int64_t b = 0; b < B; b++) {
            size_t start = starts[(size_t)(done + b)];
            std::memcpy(&in[(size_t)(b * T)], &tokens[start], (size_t)T * sizeof(int32_t));
            std::memcpy(&tg[(size_t)(b * T)], &tokens[start + 1], (size_t)T * sizeof(int32_t));
        }
        ForwardOptions fo;
        fo.hooks = hooks;
        lm_forward(m, a, in.data(), B, T, fo);
        tot += lm_loss(a, m.cfg, tg.data()) * (double)B;
        done += B;
    }
    return tot / (double)nw;
}

static void save_state(const LmModel& m, const AdamState& st, int64_t step, const std::string& dir) {
    const int64_t n = (int64_t)m.params.size();
    std::vector<StWriteTensor> ts = {{"params", {n}, m.params.data.data(), DType::F32},
                                     {"adam_m", {n}, st.m.data(), DType::F32},
                                     {"adam_v", {n}, st.v.data(), DType::F32}};
    safetensors_write(path_join(dir, "train_state.safetensors"), ts,
                      {{"step", std::to_string(step)}, {"adam_t", std::to_string(st.t)}});
    lm_save_hf(m, dir);
}

static int64_t load_state(LmModel& m, AdamState& st, const std::string& dir) {
    std::string p = path_join(dir, "train_state.safetensors");
    UNFOLD_CHECK(file_exists(p), "%s: no train_state.safetensors to resume from", dir.c_str());
    SafeTensorsReader r(p);
    const int64_t n = (int64_t)m.params.size();
    Tensor pr = r.read_f32("params", {n}), mm = r.read_f32("adam_m", {n}), vv = r.read_f32("adam_v", {n});
    auto md = r.metadata();
    UNFOLD_CHECK(md.count("step") && md.count("adam_t"), "%s: metadata needs 'step' and 'adam_t'", p.c_str());
    m.params.data = pr.data;
    st.m = mm.data;
    st.v = vv.data;
    st.t = parse_int(md["adam_t"], p + ": metadata 'adam_t'");
    return parse_int(md["step"], p + ": metadata 'step'");
}

LmTrainResult lm_train(LmModel& m, const std::vector<int32_t>& train, const std::vector<int32_t>& val,
                       const LmTrainConfig& tc, const std::string& out_dir, bool resume) {
    ThreadScope threads(tc.ctx);
    const int64_t B = tc.batch, T = tc.context;
    UNFOLD_CHECK(T <= m.cfg.n_ctx, "train: context %lld exceeds the model's %lld", (long long)T,
                 (long long)m.cfg.n_ctx);
    UNFOLD_CHECK((int64_t)train.size() > T + 1, "train: %zu training tokens, need more than context + 1 = %lld",
                 train.size(), (long long)(T + 1));
    UNFOLD_CHECK(tc.steps > 0 && B > 0 && T > 0, "train: steps, batch and context must be positive");
    make_dirs(out_dir);
    {  // temporaries a run killed outright (kill -9) left: ours, of dead processes
        std::vector<std::string> mine;
        for (const char* f : {"train_state.safetensors", "model.safetensors", "config.json", "train_config.json",
                              "metrics.jsonl"})
            mine.push_back(path_join(out_dir, f));
        remove_stale_temporaries(mine);
    }
    AdamState st;
    st.init(m.params.size());
    int64_t step0 = 0;
    if (resume) step0 = load_state(m, st, out_dir);
    UNFOLD_CHECK(step0 <= tc.steps, "train: the checkpoint is at step %lld, beyond --steps %lld", (long long)step0,
                 (long long)tc.steps);
    json_save(path_join(out_dir, "train_config.json"), tc.to_json());
    Schedule sched{DecayKind::COSINE, tc.warmup, tc.steps, tc.min_lr_frac};
    AdamConfig decay_cfg{tc.lr, tc.beta1, tc.beta2, 1e-8f, tc.weight_decay};
    AdamConfig plain_cfg = decay_cfg;
    plain_cfg.weight_decay = 0.0f;
    std::string metrics = resume && file_exists(path_join(out_dir, "metrics.jsonl"))
                              ? read_file(path_join(out_dir, "metrics.jsonl"))
                              : std::string();
    LmActs a;
    std::vector<int32_t> in((size_t)(B * T)), tg((size_t)(B * T)), win((size_t)(B * (T + 1)));
    LmTrainResult res;
    Progress bar(tc.ctx, "train", tc.steps, "step");
    auto t_start = std::chrono::steady_clock::now();
    double win_loss = 0.0;
    int64_t win_n = 0, tokens = 0;
    for (int64_t step = step0; step < tc.steps; step++) {
        tc.ctx.check_stop();
        sample_batch(train.data(), train.size(), (int)B, (int)T, tc.seed, (uint64_t)step, win.data());
        for (int64_t b = 0; b < B; b++) {
            std::memcpy(&in[(size_t)(b * T)], &win[(size_t)(b * (T + 1))], (size_t)T * sizeof(int32_t));
            std::memcpy(&tg[(size_t)(b * T)], &win[(size_t)(b * (T + 1)) + 1], (size_t)T * sizeof(int32_t));
        }
        lm_forward(m, a, in.data(), B, T);
        double loss = lm_loss(a, m.cfg, tg.data());
        UNFOLD_CHECK(std::isfinite(loss), "train: loss became %g at step %lld (lower --lr?)", loss, (long long)step);
        m.params.zero_grad();
        lm_backward(m, a, in.data(), tg.data());
        double gnorm = clip_grad_norm(m.params.grad.data(), m.params.size(), tc.grad_clip);
        float lr = tc.lr * (float)sched.factor(step);
        adam_begin_step(st);
        for (const ParamView& v : m.params.views)
            adam_update_range(st, v.shape.size() >= 2 ? decay_cfg : plain_cfg, lr, m.params.data.data(),
                              m.params.grad.data(), v.offset, v.offset + v.numel);
        if (step == step0) res.first_train_loss = loss;
        win_loss += loss;
        win_n++;
        tokens += B * T;
        bool last = step + 1 == tc.steps;
        bool do_eval = !val.empty() && ((tc.eval_every > 0 && (step + 1) % tc.eval_every == 0) || last);
        if ((step + 1) % std::max<int64_t>(tc.log_every, 1) == 0 || do_eval || last) {
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
            Json line = Json::object();
            line["step"] = step + 1;
            line["loss"] = win_loss / (double)win_n;
            line["lr"] = (double)lr;
            line["grad_norm"] = gnorm;
            line["tokens_per_s"] = secs > 0 ? (double)tokens / secs : 0.0;
            std::string extra = strformat("loss %.4f", win_loss / (double)win_n);
            if (do_eval) {
                res.val_loss = lm_eval_loss(m, val, T, tc.eval_windows, B);
                line["val_loss"] = res.val_loss;
                extra += strformat("  val %.4f", res.val_loss);
            }
            extra += strformat("  %.0f tok/s", secs > 0 ? (double)tokens / secs : 0.0);
            res.last_train_loss = win_loss / (double)win_n;
            win_loss = 0.0;
            win_n = 0;
            metrics += line.dump(-1) + "\n";
            if (!bar.active())
                tc.ctx.info("step %lld/%lld  %s  lr %.3g", (long long)(step + 1), (long long)tc.steps, extra.c_str(),
                         (double)lr);
            bar.update(step + 1, extra);
        }
        if ((tc.ckpt_every > 0 && (step + 1) % tc.ckpt_every == 0) || last) {
            save_state(m, st, step + 1, out_dir);
            write_file_atomic(path_join(out_dir, "metrics.jsonl"), metrics);
        }
        res.steps_done = step + 1;
        if (tc.stop_after > 0 && step + 1 >= tc.stop_after && !last) {  // an interrupted run (tests, time limits)
            save_state(m, st, step + 1, out_dir);
            write_file_atomic(path_join(out_dir, "metrics.jsonl"), metrics);
            break;
        }
    }
    bar.finish();
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    res.tokens_per_s = res.seconds > 0 ? (double)tokens / res.seconds : 0.0;
    if (step0 == tc.steps) {  // nothing to do: still report the validation loss
        if (!val.empty()) res.val_loss = lm_eval_loss(m, val, T, tc.eval_windows, B);
        res.steps_done = tc.steps;
    }
    return res;
}

}  // namespace unfold

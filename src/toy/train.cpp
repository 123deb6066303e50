// train.cpp: training loop for toy models: AdamW (torch semantics, core/optim), LR schedule, a fresh
// generated batch every step, progress bar with live loss, checkpoints and exact resume.
//
// Instances never interact (own parameters, own Adam moments), so training runs in segments of up to 64
// steps between synchronisation points (logging, progress, checkpoints). With at least as many instances
// as threads, each thread trains whole instances through a segment with no barrier at all (per-step
// barriers are ruinous on a loaded machine). With fewer instances, each step is parallel over units
// (instance, chunk of 256 samples). Either way an instance's step is: its units' gradient accumulators,
// a fixed-order reduction over chunks, AdamW on its parameter ranges, a re-layout for the kernel; nothing
// depends on which thread ran what, so every thread count gives bit-identical models.
#include <algorithm>
#include <cmath>

#include <omp.h>

#include "toy/toy_kernel.h"
#include "unfold/core/error.h"
#include "unfold/core/optim.h"
#include "unfold/core/progress.h"
#include "unfold/core/schedule.h"
#include "unfold/io/fileio.h"
#include "unfold/toy/toy.h"

namespace unfold {

int64_t toy_train_ex(ToyModel& model, const ToyTrainOptions& opt) {
    ThreadScope threads(opt.ctx);
    const ToyConfig& cfg = model.cfg;
    cfg.validate("toy_train");
    UNFOLD_CHECK(model.params.size() > 0, "toy_train: model has no parameters (use toy_init)");
    const int I = cfg.n_instances, n = cfg.n_features, m = cfg.n_hidden;
    const size_t mn = (size_t)m * n;

    AdamState st;
    st.init(model.params.size());
    int64_t step = 0;
    if (!opt.checkpoint_dir.empty())  // temporaries a run killed outright (kill -9) left: ours, of dead processes
        remove_stale_temporaries({path_join(opt.checkpoint_dir, "config.json"),
                                  path_join(opt.checkpoint_dir, "state.safetensors")});
    if (opt.resume && !opt.checkpoint_dir.empty()) {
        ToyCheckpoint ck;
        if (toy_load_checkpoint(model, opt.checkpoint_dir, &ck)) {
            UNFOLD_CHECK(ck.adam_t == ck.step, "%s: checkpoint adam_t %lld != step %lld", opt.checkpoint_dir.c_str(),
                         (long long)ck.adam_t, (long long)ck.step);
            model.params.data = ck.params;
            st.m = ck.adam_m;
            st.v = ck.adam_v;
            st.t = ck.adam_t;
            step = ck.step;
            opt.ctx.info("resuming from %s at step %lld", opt.checkpoint_dir.c_str(), (long long)step);
        }
    }

    toyk::Work w;
    w.init(model, cfg.batch);
    Schedule sched;
    sched.decay = parse_decay(cfg.schedule);
    sched.warmup_steps = cfg.warmup_steps;
    sched.total_steps = cfg.steps;
    AdamConfig ac;
    ac.lr = cfg.lr;
    ac.weight_decay = cfg.weight_decay;

    const bool tied = cfg.kind != ToyKind::ABS;
    const size_t off_W = model.params.view(tied ? "W" : "W1").offset;
    const size_t off_W2 = tied ? 0 : model.params.view("W2").offset;
    const size_t off_b = model.params.view("b").offset;
    float* P = model.params.data.data();
    const float* G = model.params.grad.data();

    auto save_ck = [&](int64_t s) {
        ToyCheckpoint ck;
        ck.step = s;
        ck.params = model.params.data;
        ck.adam_m = st.m;
        ck.adam_v = st.v;
        ck.adam_t = s;
        toy_save_checkpoint(model, ck, opt.checkpoint_dir);
    };
    // the per-instance tail of step s: reduce, AdamW, re-layout
    auto finish_instance = [&](int inst, int64_t s, double* loss) {
        toyk::work_reduce(w, model, inst, true, loss, nullptr);
        const float lr = (float)(cfg.lr * sched.factor(s));
        float* M = st.m.data();
        float* V = st.v.data();
        adam_update_span(ac, lr, s + 1, P, G, M, V, off_W + inst * mn, off_W + (inst + 1) * mn);
        if (!tied) adam_update_span(ac, lr, s + 1, P, G, M, V, off_W2 + inst * mn, off_W2 + (inst + 1) * mn);
        adam_update_span(ac, lr, s + 1, P, G, M, V, off_b + (size_t)inst * n, off_b + (size_t)(inst + 1) * n);
        w.sync_instance(model, inst);
    };

    Progress prog(opt.ctx, "toy train", cfg.steps, "step");
    int64_t end = cfg.steps;
    if (opt.stop_after > 0) end = std::min(end, step + opt.stop_after);
    const int64_t log_every = std::max<int64_t>(1, opt.callbacks.every);
    const int64_t ck_every = opt.checkpoint_dir.empty() ? 0 : opt.checkpoint_every;
    constexpr int64_t SEG = 64;
    std::vector<double> seg_loss((size_t)SEG * I, 0.0);  // [step in segment][instance]
    std::vector<float> lossf(I);
    double last_mean = 0;
    const bool by_instance = I >= omp_get_max_threads();
    auto next_multiple = [](int64_t s, int64_t k) { return k > 0 ? (s / k + 1) * k : INT64_MAX; };
    while (step < end) {
        int64_t seg_end = std::min({end, step + SEG, next_multiple(step, ck_every),
                                    opt.callbacks.on_log ? next_multiple(step, log_every) : INT64_MAX});
        const int64_t s0 = step;
        if (by_instance) {
#pragma omp parallel for schedule(dynamic, 1)
            for (int inst = 0; inst < I; inst++)
                for (int64_t s = s0; s < seg_end; s++) {
                    for (int c = 0; c < w.n_chunks; c++) toyk::work_unit(w, cfg, (uint64_t)s, nullptr, true, inst, c);
                    finish_instance(inst, s, &seg_loss[(size_t)(s - s0) * I + inst]);
                }
        } else {
            for (int64_t s = s0; s < seg_end; s++) {
#pragma omp parallel
                {
                    toyk::work_compute(w, cfg, (uint64_t)s, nullptr, true);
#pragma omp for schedule(static)
                    for (int inst = 0; inst < I; inst++) finish_instance(inst, s, &seg_loss[(size_t)(s - s0) * I + inst]);
                }
            }
        }
        for (int64_t s = s0; s < seg_end; s++) {
            const double* l = &seg_loss[(size_t)(s - s0) * I];
            double sum = 0;
            for (int i = 0; i < I; i++) {
                UNFOLD_CHECK(std::isfinite(l[i]), "toy_train: loss of instance %d is not finite at step %lld (lr too high?)",
                             i, (long long)s);
                sum += l[i];
            }
            last_mean = sum / I;
            if (opt.callbacks.on_log && (s + 1) % log_every == 0) {
                for (int i = 0; i < I; i++) lossf[i] = (float)l[i];
                opt.callbacks.on_log(s + 1, lossf);
            }
        }
        step = seg_end;
        st.t = step;
        if (prog.active())
            prog.update(step, strformat("loss %.6f", last_mean));
        else
            opt.ctx.check_stop();
        if (ck_every > 0 && step % ck_every == 0 && step < cfg.steps) save_ck(step);
    }
    if (!opt.checkpoint_dir.empty()) save_ck(step);
    prog.finish(strformat("loss %.6f", last_mean));
    return step;
}

void toy_train(ToyModel& model, const Context& ctx, const ToyTrainCallbacks& cb) {
    ToyTrainOptions opt;
    opt.ctx = ctx;
    opt.callbacks = cb;
    toy_train_ex(model, opt);
}

}  // namespace unfold

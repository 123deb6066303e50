// bench_toy.cpp: training throughput of the toy model of superposition, in the configuration of the
// PyTorch peer (bench/peers/torch_toy.py): ReLU output model 20 -> 5, 16 instances, batch 1024,
// feature probability 20^-linspace(0,1,16) (1 -> 0.05), importance 0.9^i, AdamW lr 1e-3.
//
// Usage: bench_toy [--steps N] [--threads T] [--seed S]
// Prints one JSON line: wall seconds, instance-steps per second (data generation included), the last
// training-batch loss per instance (what the peer prints) and the loss on a fresh 8192-example batch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "unfold/core/context.h"
#include "unfold/toy/toy.h"

using namespace unfold;

int main(int argc, char** argv) {
    int64_t steps = 2000;
    int threads = 2;
    uint64_t seed = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--steps")) steps = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
        else {
            std::fprintf(stderr, "usage: bench_toy [--steps N] [--threads T] [--seed S]\n");
            return 2;
        }
    }
    set_num_threads(threads);
    ToyConfig cfg;
    cfg.kind = ToyKind::RELU;
    cfg.n_features = 20;
    cfg.n_hidden = 5;
    cfg.n_instances = 16;
    cfg.batch = 1024;
    cfg.steps = steps;
    cfg.seed = seed;
    toy_set_density(cfg, toy_parse_density("1:0.05", cfg.n_instances));
    toy_set_importance(cfg, toy_parse_importance("0.9", cfg.n_features));
    ToyModel model = toy_init(cfg);
    std::vector<float> last;
    ToyTrainCallbacks cb;
    cb.every = steps;
    cb.on_log = [&](int64_t, const std::vector<float>& l) { last = l; };
    auto t0 = std::chrono::steady_clock::now();
    toy_train(model, Context::silent(), cb);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<float> ev = toy_eval_loss(model);
    std::printf("{\"impl\": \"unfold\", \"instances\": %d, \"features\": %d, \"hidden\": %d, \"batch\": %d, "
                "\"steps\": %lld, \"threads\": %d, \"wall_s\": %.3f, \"instance_steps_per_s\": %.1f, \"final_loss\": [",
                cfg.n_instances, cfg.n_features, cfg.n_hidden, cfg.batch, (long long)steps, threads, wall,
                cfg.n_instances * (double)steps / wall);
    for (size_t i = 0; i < last.size(); i++) std::printf("%s%.6f", i ? ", " : "", last[i]);
    std::printf("], \"eval_loss\": [");
    for (size_t i = 0; i < ev.size(); i++) std::printf("%s%.6f", i ? ", " : "", ev[i]);
    std::printf("]}\n");
    return 0;
}

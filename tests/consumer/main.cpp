// main.cpp: a tiny program outside the repository that uses unfold as a library (toy model training and an
// SAE round trip through the public headers only). Prints "consumer: ok" when every check holds.
#include <cmath>
#include <cstdio>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/data/synth.h"
#include "unfold/sae/sae.h"
#include "unfold/toy/toy.h"

int main() {
    using namespace unfold;
    Context ctx;
    ctx.quiet = true;
    ctx.threads = 1;

    ToyConfig cfg;
    cfg.n_features = 5;
    cfg.n_hidden = 2;
    cfg.n_instances = 2;
    cfg.steps = 300;
    cfg.batch = 256;
    toy_set_density(cfg, {0.1f, 0.1f});
    toy_set_importance(cfg, toy_parse_importance("0.9", cfg.n_features));
    ToyModel model = toy_init(cfg);
    std::vector<float> before = toy_eval_loss(model);
    ToyTrainOptions opt;
    opt.ctx = ctx;
    toy_train_ex(model, opt);
    std::vector<float> after = toy_eval_loss(model);
    for (int i = 0; i < cfg.n_instances; i++)
        if (!(after[i] < before[i])) {
            std::printf("consumer: toy loss did not fall (instance %d: %g -> %g)\n", i, before[i], after[i]);
            return 1;
        }

    SaeConfig sc;
    sc.d_in = 8;
    sc.d_sae = 16;
    sc.arch = SaeArch::TOPK;
    sc.k = 2;
    Sae sae = sae_init(sc, 3);
    std::vector<float> x(4 * 8, 0.5f), recon(4 * 8);
    SparseCodes codes;
    sae_encode(sae, x.data(), 4, codes);
    int active = (int)codes.idx.size();
    sae_decode(sae, codes, recon.data());
    if (active != 4 * 2 || !std::isfinite(recon[0])) {
        std::printf("consumer: SAE codes wrong (%d active)\n", active);
        return 1;
    }
    std::printf("consumer: ok (toy loss %.4f -> %.4f; %d active latents)\n", before[0], after[0], active);
    return 0;
}

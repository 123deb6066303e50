// decoder_geometry.h: what an SAE's decoder directions say without running the model.
//
//   logit effects: the tokens a feature's decoder direction u (one row of W_dec) promotes and suppresses
//     directly, through the path to the unembedding: for a residual-stream hook, logits = W_U norm(u) with the
//     final norm's scale folded in (GPT-2's LayerNorm also centres u first; the per-token rstd is left out, as
//     it only rescales); for mlp.hook_post, u is first mapped to the residual stream by the MLP's output
//     projection W_out. Hooks without a linear path to the logits (attention patterns, queries/keys, norm
//     scales) have none (has_logit_path false).
//   nearest decoder neighbours: the features whose decoder directions have the largest cosine with u.
//   neuron alignment (neuron-basis hooks, mlp.hook_post / hook_pre): the neuron with the largest |cos(u, e_i)|, that
//     cosine and the share u_i^2 / ||u||^2 of the direction's squared norm it holds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/lm/model.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct IdValue {
    int32_t id = 0;
    float value = 0;
};

bool has_logit_path(const LmConfig& cfg, const std::string& hook);
bool is_neuron_basis_hook(const std::string& hook);  // mlp.hook_post, mlp.hook_pre

// promoted[f] (k largest, descending), suppressed[f] (k smallest, ascending) for every feature.
// Blocked over features (memory: block * V floats). Throws for a hook without a logit path.
void feature_logit_effects(const LmModel& m, const Sae& sae, const std::string& hook, int k,
                           std::vector<std::vector<IdValue>>& promoted, std::vector<std::vector<IdValue>>& suppressed,
                           const Context& ctx = Context::silent());

// out[f]: the k other features with the largest cosine between decoder rows, descending (blocked W_dec W_dec^T).
void decoder_neighbours(const Sae& sae, int k, std::vector<std::vector<IdValue>>& out,
                        const Context& ctx = Context::silent());

struct NeuronAlignment {
    int32_t neuron = -1;
    float cos = 0;    // signed cosine with the basis vector
    float share = 0;  // u_i^2 / ||u||^2
};
std::vector<NeuronAlignment> neuron_alignment(const Sae& sae);

}  // namespace unfold

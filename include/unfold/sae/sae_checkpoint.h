// sae_checkpoint.h: the training state of an SAE run and its single-file checkpoint format.
//
// state.bin = "UNFSAECK" | u32 version (1) | u64 json length | JSON | f32 params | f32 adam.m | f32 adam.v |
//             i64 since_fired[F] | i64 fire_window[F]
// The JSON holds the step, Adam's step counter, BatchTopK threshold, input scale, tokens in the density
// window, the metrics log, the source state, the training config and the byte counts of every section
// (all validated on read). Written atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/optim.h"
#include "unfold/io/json.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct SaeTrainState {
    Sae sae;
    AdamState adam;
    int64_t step = 0;                   // steps done
    float scale = 1.0f;                 // input scale
    std::vector<int64_t> since_fired;   // [F] tokens since the latent last fired
    std::vector<int64_t> fire_window;   // [F] fires within the density window
    int64_t window_tokens = 0;
    Json log = Json::array();
    Json source_state;
    Json train_cfg;  // SaeTrainConfig::to_json()
};

void sae_checkpoint_save(const std::string& path, const SaeTrainState& st);
// Loads and validates; the SAE config comes from the stored training config.
SaeTrainState sae_checkpoint_load(const std::string& path);

}  // namespace unfold

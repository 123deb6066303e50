// map_tab.h: the decoder map as a tab of the feature browser (`unfold serve DB --map RUN[,RUN2...]`): the
// decoder directions of the given SAEs embedded jointly (map/decoder_map.h), served at /map as the map page,
// and a "Decoder map" tab in the nav bar. The SAE whose d_sae equals the database's feature count (the first
// such) is annotated with the database's densities and labels, and its points open /feature/F; a point of
// another SAE opens a short page saying that SAE has no pages here (/map/open?sae=NAME&id=F).
#pragma once
#include <string>
#include <vector>

#include "unfold/core/context.h"

namespace unfold {

class FeatureBrowser;

struct MapTabResult {
    std::string linked;   // name of the SAE whose points open feature pages ("" = none)
    int64_t points = 0;   // points on the map
};

// Computes the map (seeded, deterministic) and registers /map, /map/open and the tab. Errors (unreadable SAEs,
// different d_in) are one line and throw before anything is registered.
MapTabResult add_map_tab(FeatureBrowser& b, const std::vector<std::string>& sae_paths, uint64_t seed,
                         const Context& ctx = Context::silent());

}  // namespace unfold

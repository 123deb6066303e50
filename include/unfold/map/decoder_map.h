// decoder_map.h: the decoder map and feature splitting (Bricken et al. 2023, "Towards Monosemanticity",
// fig. 6): the decoder directions of one or more SAEs trained on the same activations, embedded jointly in
// 2-D by UMAP under the cosine metric (umap.h), and their feature families.
//
//   std::vector<MapInput> in = {map_input_load("runs/sae_512"), map_input_load("runs/sae_4096")};
//   map_input_annotate_db(in[1], "runs/features.db");        // optional: density + label per feature
//   DecoderMap m = decoder_map(in, opts);                    // layout + families
//   Json j = decoder_map_json(m);                            // what `unfold sae map --json` prints
//   std::string html = decoder_map_html(m, html_opts);      // one self-contained page (canvas + inline JS)
//
// Feature families (splitting): the SAEs are ordered by size (d_sae; ties keep the given order) and for each
// consecutive pair (smaller S, larger L) every feature f of S gets the family_k features of L whose decoder
// directions have the largest cosine with f's (descending, with the cosines), and every feature of L its
// parent, the feature of S it is closest to. When a feature splits, its family holds its children.
//
// Points: every decoder row that is not all zero (zero rows have no direction and are left out, counted in
// `skipped`). Density comes from a features database (map_input_annotate_db) or, without one, from the run's
// sparsity.safetensors (log10 firing frequency, as SAELens writes it) when present.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/io/json.h"
#include "unfold/map/umap.h"

namespace unfold {

struct Sae;

struct MapInput {
    std::string name;             // legend name and {sae} in links (default: the folder's base name)
    std::string path;             // where it came from (informational)
    std::string arch;             // informational
    int64_t d_in = 0, d_sae = 0;
    std::vector<float> W_dec;     // [d_sae, d_in], rows = decoder directions
    std::vector<double> density;  // [d_sae] firing density in [0, 1] (empty = unknown)
    std::vector<std::string> labels;  // [d_sae] (empty = none)
    std::string density_source;   // "sparsity.safetensors" | the database path | ""
};

MapInput map_input_from_sae(const Sae& sae, const std::string& name, const std::string& path = "");
// Loads an SAE folder / file (sae_load) and, when present beside it, sparsity.safetensors for the densities.
// name "" = the base name of path.
MapInput map_input_load(const std::string& path, const std::string& name = "");
// Densities and labels from a features database of this SAE (its d_sae must match the database's features).
void map_input_annotate_db(MapInput& in, const std::string& db_path);

struct DecoderMapOptions {
    UmapOptions umap;     // n_neighbors, min_dist, epochs, seed, knn method, ...
    int family_k = 5;     // family members per feature of a smaller SAE
    Context ctx = Context::silent();
};

struct MapFamilyMember {
    int32_t feature = 0;  // feature of the larger SAE
    float cosine = 0;
};

struct MapFamilies {
    int small = 0, large = 0;  // indices into DecoderMap::saes
    // members[f]: feature f of the small SAE -> its family_k closest features of the large one (empty when f
    // is not a point, i.e. a zero row)
    std::vector<std::vector<MapFamilyMember>> members;
    // parent[g]: feature g of the large SAE -> the closest feature of the small one (feature -1: not a point)
    std::vector<MapFamilyMember> parent;
};

struct MapSae {
    std::string name, path, arch, density_source;
    int64_t d_in = 0, d_sae = 0;
    int64_t skipped = 0;              // zero decoder rows left out
    std::vector<int32_t> feature;     // per point: the feature id
    std::vector<float> x, y;          // per point: the layout
    std::vector<double> density;      // per point (empty = unknown)
    std::vector<std::string> labels;  // per point (empty = none)
};

struct DecoderMap {
    std::vector<MapSae> saes;
    std::vector<MapFamilies> families;  // consecutive pairs by size
    int64_t d_in = 0;
    UmapOptions umap;  // what produced the layout (n_neighbors capped, epochs resolved)
    int family_k = 0;
    bool knn_exact = true;
    UmapTimings timings;
    double families_s = 0;
};

// Validates the inputs (at least one SAE, the same d_in, at least 2 points, finite weights; errors name the
// SAE, the row and the column) and computes the layout and the families. Deterministic in umap.seed.
DecoderMap decoder_map(const std::vector<MapInput>& in, const DecoderMapOptions& o);

// {"d_in", "saes": [{name, path, arch, d_in, d_sae, skipped, points: {feature: [...], x: [...], y: [...],
//  density: [...] | null, label: [...] | null}}], "families": [{small, large, small_name, large_name,
//  features: [{feature, members: [{feature, cosine}]}], parents: [{feature, parent, cosine}]}],
//  "umap": {...}, "timings_s": {...}}. include_points false leaves out the per-point arrays.
Json decoder_map_json(const DecoderMap& m, bool include_points = true);

struct MapHtmlOptions {
    std::string title = "Decoder map";
    // Link of a point to its feature page: {id} = the feature, {sae} = the SAE's name (URL-encoded).
    // "" = no links. E.g. "feature/{id}.html", "?feature={id}", "/feature/{id}?sae={sae}".
    std::string link = "feature/{id}.html";
    float family_min_cos = 0.0f;  // family lines drawn from this cosine up
};

// The map page: one self-contained HTML document (inline CSS, a canvas and inline JS; no external resources):
// points coloured by SAE, density or label, hover shows feature / SAE / label / density and the family,
// click opens the feature page, drag pans, the wheel zooms, legend entries toggle SAEs.
std::string decoder_map_html(const DecoderMap& m, const MapHtmlOptions& o);

// Expands a link pattern for one feature (the page's JS does the same).
std::string map_link(const std::string& pattern, const std::string& sae, int64_t id);

}  // namespace unfold

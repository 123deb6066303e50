// umap.h: UMAP (McInnes, Healy & Melville 2018, arXiv 1802.03426) for directions under the cosine metric, in
// three steps that can be called one by one:
//
//   1. knn_cosine: every point's k nearest other points, distance 1 - cos. Exact (blocked products) for
//      small sets, else hnswlib's HNSW graph (Debian's libhnswlib-dev), built on one thread in index order
//      and queried in parallel, so the neighbours are the same for every thread count; the returned
//      distances are recomputed in double either way.
//   2. fuzzy_simplicial_set: per point rho_i (distance to its nearest neighbour) and sigma_i (binary search
//      so that sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2 k), memberships w_ij = that exp, then the
//      fuzzy union W = A + A^T - A o A^T (a symmetric graph, weights in (0, 1]).
//   3. umap_optimize: the low-dimensional layout minimising the fuzzy-set cross-entropy with the curve
//      q(y) = 1 / (1 + a |y|^{2b}) (a, b fitted to min_dist / spread, umap_curve): stochastic gradient
//      descent over the graph's edges, edge e sampled every max_w / w_e epochs, `negative_samples`
//      repulsive samples per attractive one, learning rate decaying linearly to 0, gradients clipped to
//      +-4; initialised by a spectral embedding of the graph (subspace iteration on the normalised
//      adjacency), scaled to [0, 10]. The SGD runs sequentially on one counter-based random stream, so a
//      seed gives one layout, bit for bit, for any thread count (exact kNN uses BLAS products: the same
//      machine and thread count give the same bits).
//
// umap_layout runs the three. Memory: the points, k neighbours per point, about 2k edges per point.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"

namespace unfold {

enum class KnnMethod { AUTO, EXACT, HNSW };
KnnMethod parse_knn_method(const std::string& s);  // "auto" | "exact" | "hnsw"; throws on others
const char* knn_method_name(KnnMethod m);

struct KnnOptions {
    KnnMethod method = KnnMethod::AUTO;
    int64_t exact_max = 32768;    // AUTO: exact up to this many points (O(n^2 d) in BLAS products), HNSW above
    int hnsw_m = 16;              // HNSW graph degree
    int hnsw_ef_construction = 64;
    int hnsw_ef = 0;              // search breadth (0 = max(4k, 64))
    uint64_t seed = 0;            // HNSW level draws
};

// Rows of idx / dist [n, k]: point i's k nearest other points, ascending distance (ties: lower index first).
struct KnnGraph {
    int64_t n = 0;
    int k = 0;
    std::vector<int32_t> idx;
    std::vector<float> dist;  // 1 - cos, >= 0
    bool exact = true;        // false: approximate (HNSW)
};

// X [n, d] (any norms; zero rows have cosine 0 with everything). k < n. Throws on non-finite values.
KnnGraph knn_cosine(const float* X, int64_t n, int64_t d, int k, const KnnOptions& o,
                    const Context& ctx = Context::silent());

// Symmetric graph, each undirected edge listed in both directions, sorted by (head, tail).
struct FuzzyGraph {
    int64_t n = 0;
    std::vector<int32_t> head, tail;
    std::vector<float> weight;  // in (0, 1]
    std::vector<float> rho, sigma;  // [n] per-point local connectivity and bandwidth
};
FuzzyGraph fuzzy_simplicial_set(const KnnGraph& g);

// a, b of q(y) = 1 / (1 + a y^{2b}) fitted (least squares on [0, 3 spread]) to 1 for y < min_dist and
// exp(-(y - min_dist) / spread) above. min_dist 0.1, spread 1 give a 1.577, b 0.895.
void umap_curve(double min_dist, double spread, double* a, double* b);

struct UmapOptions {
    int n_neighbors = 15;          // k of the kNN graph (other points; capped at n - 1)
    double min_dist = 0.1;
    double spread = 1.0;
    int n_epochs = 0;              // 0 = 500 up to 10,000 points, 200 above (as umap-learn)
    int negative_samples = 5;
    double learning_rate = 1.0;
    std::string init = "spectral";  // "spectral" | "random"
    uint64_t seed = 0;
    KnnOptions knn;                // knn.seed is taken from seed
};

struct UmapTimings {
    double knn_s = 0, graph_s = 0, init_s = 0, sgd_s = 0;
};

// Initial layout [n, 2] of the graph (spectral or random), scaled to [0, 10] per axis.
std::vector<float> umap_init(const FuzzyGraph& g, const std::string& init, uint64_t seed);
// Optimises Y [n, 2] in place over g's edges.
void umap_optimize(const FuzzyGraph& g, std::vector<float>& Y, const UmapOptions& o, const Context& ctx = Context::silent());

// The whole UMAP of X [n, d] under the cosine metric: Y [n, 2]. timings / knn_out optional.
std::vector<float> umap_layout(const float* X, int64_t n, int64_t d, const UmapOptions& o,
                               const Context& ctx = Context::silent(), UmapTimings* timings = nullptr,
                               KnnGraph* knn_out = nullptr);

// Of each point's m nearest neighbours in Y [n, 2] (Euclidean, exact), the share with the same label as the
// point, averaged over points (labels < 0 are left out as points and as neighbours). Random placement gives
// about sum_c (n_c / n)^2.
double neighbour_preservation(const std::vector<float>& Y, const std::vector<int64_t>& labels, int m);

}  // namespace unfold

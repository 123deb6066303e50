// knn.cpp: cosine k-nearest-neighbour graphs: exact (blocked BLAS products) or hnswlib's HNSW index.
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <vector>

// hnswlib's hand-vectorised code prefetches one entry past the end of a full neighbour list (searchBaseLayer and
// searchBaseLayerST read datal[j + 1] at j = size - 1, Debian 12's hnswlib 0.6.2): harmless on hardware, a heap
// overflow under AddressSanitizer. It is compiled at the build's baseline ISA anyway, so it is switched off and the
// distance below is OpenBLAS's sdot, whose kernel is picked for the CPU at run time.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/map/umap.h"

namespace unfold {

KnnMethod parse_knn_method(const std::string& s) {
    if (s == "auto") return KnnMethod::AUTO;
    if (s == "exact") return KnnMethod::EXACT;
    if (s == "hnsw") return KnnMethod::HNSW;
    fail("unknown kNN method '%s' (expected auto, exact or hnsw)", s.c_str());
}

const char* knn_method_name(KnnMethod m) {
    switch (m) {
        case KnnMethod::AUTO: return "auto";
        case KnnMethod::EXACT: return "exact";
        case KnnMethod::HNSW: return "hnsw";
    }
    return "?";
}

namespace {

struct Cand {
    float dist;
    int32_t id;
    bool operator<(const Cand& o) const { return dist < o.dist || (dist == o.dist && id < o.id); }
};

// unit rows (zero rows stay zero); throws naming the first non-finite entry
std::vector<float> unit_rows(const float* X, int64_t n, int64_t d) {
    std::vector<float> U((size_t)(n * d));
    for (int64_t i = 0; i < n; i++) {
        const float* x = X + i * d;
        double s = 0;
        for (int64_t t = 0; t < d; t++) {
            UNFOLD_CHECK(std::isfinite(x[t]), "kNN: row %lld, column %lld is not finite (%g)", (long long)i,
                         (long long)t, (double)x[t]);
            s += (double)x[t] * x[t];
        }
        const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
        for (int64_t t = 0; t < d; t++) U[(size_t)(i * d + t)] = (float)(x[t] * inv);
    }
    return U;
}

float cos_dist(const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t t = 0; t < d; t++) s += (double)a[t] * b[t];
    return (float)std::max(0.0, 1.0 - s);
}

// the k smallest of cand (ties by id), ascending, with distances recomputed in double from U
void finish_row(std::vector<Cand>& cand, int64_t i, const float* U, int64_t d, int k, int32_t* idx, float* dist) {
    for (Cand& c : cand) c.dist = cos_dist(U + i * d, U + (int64_t)c.id * d, d);
    std::sort(cand.begin(), cand.end());
    for (int q = 0; q < k; q++) {
        idx[q] = cand[(size_t)q].id;
        dist[q] = cand[(size_t)q].dist;
    }
}

void knn_exact(const std::vector<float>& U, int64_t n, int64_t d, int k, KnnGraph& g, const Context& ctx) {
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(n, (int64_t)(64 << 20) / (4 * n)));
    std::vector<float> S((size_t)(block * n));
    Progress bar(ctx, "kNN (exact)", n, "point");
    const int keep = std::min<int64_t>(n - 1, (int64_t)k + 8);  // a few spare for the double re-ranking
    for (int64_t i0 = 0; i0 < n; i0 += block) {
        ctx.check_stop();
        const int64_t nb = std::min(block, n - i0);
        matmul_bt(S.data(), U.data() + i0 * d, U.data(), nb, d, n);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < nb; r++) {
            const int64_t i = i0 + r;
            const float* s = S.data() + r * n;
            // the `keep` largest cosines in one pass: a sorted array, entered only by values above its last
            std::vector<Cand> top;
            top.reserve((size_t)keep + 1);
            float worst = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < n; j++) {
                const float v = s[j];
                if (j == i || ((int)top.size() == keep && !(v > worst))) continue;
                Cand c{-v, (int32_t)j};
                top.insert(std::upper_bound(top.begin(), top.end(), c), c);
                if ((int)top.size() > keep) top.pop_back();
                if ((int)top.size() == keep) worst = -top.back().dist;
            }
            finish_row(top, i, U.data(), d, k, g.idx.data() + i * k, g.dist.data() + i * k);
        }
        bar.update(i0 + nb);
    }
    bar.finish();
}

// cosine distance of unit rows for hnswlib: 1 - <a, b>
class UnitCosineSpace final : public hnswlib::SpaceInterface<float> {
public:
    explicit UnitCosineSpace(size_t dim) : dim_(dim) {}
    size_t get_data_size() override { return dim_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
    void* get_dist_func_param() override { return &dim_; }

private:
    static float distance(const void* a, const void* b, const void* param) {
        return 1.0f - dot((const float*)a, (const float*)b, (int64_t) * (const size_t*)param);
    }
    size_t dim_;
};

void knn_hnsw(const std::vector<float>& U, int64_t n, int64_t d, int k, const KnnOptions& o, KnnGraph& g,
              const Context& ctx) {
    try {
        UnitCosineSpace space((size_t)d);
        hnswlib::HierarchicalNSW<float> index(&space, (size_t)n, (size_t)std::max(2, o.hnsw_m),
                                              (size_t)std::max(k + 1, o.hnsw_ef_construction), (size_t)o.seed);
        Progress bar(ctx, "kNN (HNSW index)", n, "point");
        // one thread, index order: the graph (and so every answer) is a function of the data and the seed
        for (int64_t i = 0; i < n; i++) {
            index.addPoint(U.data() + i * d, (hnswlib::labeltype)i);
            if ((i & 1023) == 1023) {
                ctx.check_stop();
                bar.update(i + 1);
            }
        }
        bar.finish();
        const int ef = o.hnsw_ef > 0 ? o.hnsw_ef : std::max(4 * k, 64);
        index.setEf((size_t)std::max(ef, k + 1));
        const size_t want = (size_t)std::min<int64_t>(n, (int64_t)k + 1);
        std::vector<int64_t> bad;  // rows HNSW answered with fewer than k others (tiny or degenerate sets)
#pragma omp parallel for schedule(dynamic, 64)
        for (int64_t i = 0; i < n; i++) {
            auto pq = index.searchKnn(U.data() + i * d, want);
            std::vector<Cand> cand;
            cand.reserve(pq.size());
            while (!pq.empty()) {
                if ((int64_t)pq.top().second != i) cand.push_back({pq.top().first, (int32_t)pq.top().second});
                pq.pop();
            }
            if ((int)cand.size() < k) {
#pragma omp critical
                bad.push_back(i);
                continue;
            }
            finish_row(cand, i, U.data(), d, k, g.idx.data() + i * k, g.dist.data() + i * k);
        }
        // fall back to an exact scan for those rows (deterministic: the set of such rows is)
        std::sort(bad.begin(), bad.end());
        for (int64_t i : bad) {
            std::vector<Cand> cand;
            for (int64_t j = 0; j < n; j++)
                if (j != i) cand.push_back({0.0f, (int32_t)j});
            finish_row(cand, i, U.data(), d, k, g.idx.data() + i * k, g.dist.data() + i * k);
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail("kNN (hnswlib): %s", e.what());
    }
}

}  // namespace

KnnGraph knn_cosine(const float* X, int64_t n, int64_t d, int k, const KnnOptions& o, const Context& ctx) {
    UNFOLD_CHECK(n >= 2, "kNN: need at least 2 points, got %lld", (long long)n);
    UNFOLD_CHECK(d >= 1, "kNN: points of dimension 0");
    UNFOLD_CHECK(k >= 1 && k < n, "kNN: k must be in 1..%lld (points - 1), got %d", (long long)(n - 1), k);
    UNFOLD_CHECK(n <= INT32_MAX, "kNN: at most 2^31 - 1 points, got %lld", (long long)n);
    ThreadScope threads(ctx);
    const std::vector<float> U = unit_rows(X, n, d);
    KnnGraph g;
    g.n = n;
    g.k = k;
    g.idx.assign((size_t)(n * k), 0);
    g.dist.assign((size_t)(n * k), 0.0f);
    const bool exact = o.method == KnnMethod::EXACT || (o.method == KnnMethod::AUTO && n <= o.exact_max);
    g.exact = exact;
    if (exact) knn_exact(U, n, d, k, g, ctx);
    else knn_hnsw(U, n, d, k, o, g, ctx);
    return g;
}

}  // namespace unfold

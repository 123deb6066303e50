// geometry.cpp: polytope classification from D_i and the |cos| interference graph (see geometry.h).
#include "unfold/toy/geometry.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "unfold/core/error.h"
#include "unfold/toy/analysis.h"

namespace unfold {

std::string polytope_name(int k, int d) {
    struct Entry {
        int k, d;
        const char* name;
    };
    static const Entry table[] = {{1, 1, "dedicated dimension"}, {2, 1, "antipodal pair"}, {3, 2, "triangle"},
                                  {4, 3, "tetrahedron"},         {4, 2, "square"},          {5, 2, "pentagon"},
                                  {5, 4, "4-simplex"},           {6, 2, "hexagon"},         {6, 3, "octahedron"},
                                  {6, 5, "5-simplex"},           {7, 2, "heptagon"},        {8, 3, "square antiprism"},
                                  {8, 2, "octagon"}};
    for (auto& e : table)
        if (e.k == k && e.d == d) return e.name;
    return "";
}

const std::vector<StickyFraction>& sticky_fractions() {
    static const std::vector<StickyFraction> f = {
        {1.0, "1 dedicated"},  {0.8, "4/5 4-simplex"}, {0.75, "3/4 tetrahedron"}, {2.0 / 3, "2/3 triangle"},
        {0.5, "1/2 antipodal"}, {0.4, "2/5 pentagon"}, {0.375, "3/8 antiprism"},  {1.0 / 3, "1/3 hexagon"},
        {0.25, "1/4"}};
    return f;
}

// union-find root with path halving
static int uf_find(std::vector<int>& parent, int x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

std::vector<Polytope> classify_geometry(const float* W, int m, int n, const GeometryOptions& opt) {
    ToyFeatureStats st = feature_stats(W, m, n);
    std::vector<double> C = cosine_matrix(W, m, n);
    std::vector<int> rep;
    for (int i = 0; i < n; i++)
        if (st.norm[i] > opt.norm_threshold) rep.push_back(i);
    std::vector<int> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    for (size_t a = 0; a < rep.size(); a++)
        for (size_t b = a + 1; b < rep.size(); b++)
            if (std::fabs(C[(size_t)rep[a] * n + rep[b]]) > opt.edge_threshold) {
                int ra = uf_find(parent, rep[a]), rb = uf_find(parent, rep[b]);
                if (ra != rb) parent[ra] = rb;
            }
    std::vector<Polytope> out;
    std::vector<int> slot(n, -1);
    for (int i : rep) {
        int r = uf_find(parent, i);
        if (slot[r] < 0) {
            slot[r] = (int)out.size();
            out.emplace_back();
        }
        out[slot[r]].features.push_back(i);
    }
    for (auto& p : out) {
        p.k = (int)p.features.size();
        double sum = 0;
        for (int i : p.features) sum += st.dimensionality[i];
        p.mean_dimensionality = sum / p.k;
        // Only represented features count in D_i's denominator in principle; the small unrepresented
        // columns contribute little, and sum D_i over a tight frame is its dimension.
        p.dims = std::max(1, (int)std::lround(sum));
        double target = (double)p.dims / p.k;
        p.tight = true;
        for (int i : p.features)
            if (std::fabs(st.dimensionality[i] - target) > opt.tight_tol) p.tight = false;
        std::string nm = polytope_name(p.k, p.dims);
        if (!nm.empty() && p.tight)
            p.name = nm;
        else if (p.k == 1)
            p.name = strformat("single feature (D = %.2f)", p.mean_dimensionality);
        else
            p.name = std::to_string(p.k) + " features in " + std::to_string(p.dims) + (p.dims == 1 ? " dim" : " dims") +
                     (p.tight ? "" : " (irregular)");
    }
    std::stable_sort(out.begin(), out.end(), [](const Polytope& a, const Polytope& b) { return a.k > b.k; });
    return out;
}

}  // namespace unfold

// geometry.h: which polytopes the represented features of a toy model form.
//
// Features with ||W_i|| > norm_threshold are "represented". Two represented features interfere strongly when
// |W^_i . W^_j| > edge_threshold; the connected components of that graph are the polytopes (features in
// orthogonal subspaces, a tegum product, fall into separate components). A component of k features is
// classified by k and its dimension d = round(sum of D_i over the component) (for a tight frame of k
// vectors spanning d dimensions every D_i = d/k and the sum is d):
//   (1,1) dedicated dimension   (2,1) antipodal pair    (3,2) triangle        (4,3) tetrahedron
//   (4,2) square*               (5,2) pentagon          (5,4) 4-simplex       (6,2) hexagon
//   (6,3) octahedron*           (8,3) square antiprism  (k,d) otherwise "k features in d dims"
//   (* shapes with antipodal pairs and orthogonal directions split into digons by the edge rule unless noisy)
// `tight` says whether every D_i of the component lies within tight_tol of d/k.
// Polytope labels and their D = d/k also drive the "sticky fractions" reference lines.
#pragma once
#include <string>
#include <vector>

namespace unfold {

struct Polytope {
    std::vector<int> features;  // sorted
    int k = 0;                  // number of features
    int dims = 0;               // d = round(sum D_i)
    double mean_dimensionality = 0;
    bool tight = false;
    std::string name;           // "pentagon", "antipodal pair", "5 features in 3 dims", ...
};

struct GeometryOptions {
    double norm_threshold = 0.5;
    double edge_threshold = 0.2;
    double tight_tol = 0.06;
};

// Components of strongly-interfering represented features of W [m, n], largest first.
std::vector<Polytope> classify_geometry(const float* W, int m, int n, const GeometryOptions& opt = {});

// Name of a tight (k, d) configuration ("" when unnamed).
std::string polytope_name(int k, int d);

// The sticky fractions d/k drawn as reference lines: value and label, e.g. {0.4, "2/5 pentagon"}.
struct StickyFraction {
    double value;
    std::string label;
};
const std::vector<StickyFraction>& sticky_fractions();

}  // namespace unfold

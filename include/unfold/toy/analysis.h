// analysis.h: geometry of a toy model's feature directions, in double precision.
//
// W is one instance's [m, n] weight matrix, row-major, column i = feature i's direction W_i in R^m
// (toy.h layout; for the abs model pass W1). Definitions follow Elhage et al. 2022 and its notebook:
//   norm_i            = ||W_i||
//   polysemanticity_i = sqrt( sum_{j != i} (W^_i . W_j)^2 )      (bar colour; W^_i = W_i / (1e-5 + ||W_i||))
//   D_i               = ||W_i||^2 / sum_j (W^_i . W_j)^2         (j = i included; 0 for an unused feature)
//   dims per feature  = m / ||W||_F^2
// Invariant: sum_i D_i <= m, with equality for tight frames (regular polytopes).
//
// Superposition test: the Gram matrix W^T W restricted to the represented features (||W_i|| > threshold)
// is invertible exactly when those features are linearly independent, i.e. when there is no superposition.
// Its numerical rank comes from a cyclic Jacobi eigen solver (jacobi_eigen) written here.
#pragma once
#include <string>
#include <vector>

namespace unfold {

struct ToyFeatureStats {
    int m = 0, n = 0;
    std::vector<double> norm;             // [n]
    std::vector<double> polysemanticity;  // [n]
    std::vector<double> dimensionality;   // [n] D_i
    double frob2 = 0;                     // ||W||_F^2 (about the number of features learned)
    double dims_per_feature = 0;          // m / ||W||_F^2
    double sum_dimensionality = 0;        // sum_i D_i  (<= m)
};
ToyFeatureStats feature_stats(const float* W, int m, int n);

std::vector<double> gram_matrix(const float* W, int m, int n);   // W^T W, [n, n]
std::vector<double> cosine_matrix(const float* W, int m, int n); // W^_i . W^_j, [n, n] (0 for zero columns)

// Symmetric eigen-decomposition A = V diag(e) V^T by cyclic Jacobi rotations (A [k, k] row-major, symmetric).
// Eigenvalues sorted descending; V (if given) gets the eigenvectors as columns, [k, k] row-major.
void jacobi_eigen(const std::vector<double>& A, int k, std::vector<double>& evals, std::vector<double>* evecs = nullptr,
                  int max_sweeps = 100);

struct SuperpositionTest {
    std::vector<int> represented;  // features with ||W_i|| > norm_threshold
    int rank = 0;                  // numerical rank of W_R^T W_R
    std::vector<double> eigenvalues;  // of W_R^T W_R, descending
    double condition = 0;          // lambda_max / lambda_min (inf when singular)
    bool invertible = false;       // rank == |R|
    bool superposition = false;    // !invertible (|R| > 0)
};
// rank counts eigenvalues > rel_tol * lambda_max
SuperpositionTest superposition_test(const float* W, int m, int n, double norm_threshold = 0.5,
                                     double rel_tol = 1e-3);

// Neuron view of a privileged-basis model: which features each hidden neuron j (row j of W) carries.
struct NeuronInfo {
    std::vector<int> features;  // |W_ji| >= share * max_i |W_ji|, strongest first
    double norm = 0;            // ||row j||
    bool dead = false;          // max_i |W_ji| < dead_threshold
    bool monosemantic = false;  // exactly one feature carried
};
std::vector<NeuronInfo> neuron_view(const float* W, int m, int n, double share = 0.3, double dead_threshold = 0.1);

// Top-2 principal directions of the columns of W (for drawing m > 2 models in the plane): P [2, m].
// For m == 2 this is the identity; for m == 1 it pads with a zero row.
std::vector<double> principal_plane(const float* W, int m, int n);

}  // namespace unfold

// dict.h: classical sparse coding / dictionary learning (the two-step method of Olshausen-Field, K-SVD and
// Mairal et al. 2010 "Online learning for matrix factorization and sparse coding").
//
// Notation: X [n, d] rows are samples, D [K, d] rows are unit-norm atoms (same layout as SAELens W_dec and
// sklearn's components_), codes C [n, K], reconstruction X^ = C D.
//
// Step 1, sparse codes for a fixed D. All solvers work in Gram form on G = D D^T [K, K] and the
// correlations Bc = X D^T [n, K] (both by BLAS), independently per sample (OpenMP over samples):
//   FISTA  lasso  min_c 1/2 ||x - D^T c||^2 + alpha ||c||_1 (optionally c >= 0): FISTA with adaptive restart on
//          a working set (support + worst KKT violators, dense G_WW, step 1/min(Gershgorin(G_WW), L) with L the
//          largest eigenvalue of G), grown until the full gradient satisfies the KKT conditions.
//   CD     the same lasso by cyclic coordinate descent with an active set (sklearn's 'cd' on the Gram).
//   OMP    orthogonal matching pursuit with at most k atoms: batch OMP (Rubinstein et al. 2008) with an
//          incrementally updated Cholesky factor of G_II; stops early when the residual energy falls below
//          tol * ||x||^2.
// Step 2, dictionary update on the sufficient statistics A = sum c c^T [K, K], B = sum c x^T [K, d]
//   (kept with Mairal's forgetting factor over mini-batches): block coordinate descent, one atom at a time,
//   u_j = D_j + (B_j - A_j D) / A_jj, then D_j = u_j / ||u_j|| (unit norm), blocked so that most of the work
//   is GEMM; A and B are updated from the codes' nonzeros only. Atoms that were never used (A_jj ~ 0) are
//   re-seeded from a sample of the current batch.
// Cost per mini-batch: O(K^2 d) for G and the update (BLAS) + the codes; for large K use --batch ~ K.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

class ActivationSource;

enum class DictSolver { FISTA, CD, OMP };
const char* dict_solver_name(DictSolver s);
DictSolver parse_dict_solver(const std::string& s);  // "fista" | "cd" | "omp"

struct CodeOptions {
    DictSolver solver = DictSolver::FISTA;
    float alpha = 0.1f;      // lasso penalty (FISTA, CD)
    bool positive = false;   // c >= 0 (FISTA, CD)
    int max_iter = 300;      // FISTA iterations / CD sweeps
    float tol = 1e-4f;       // FISTA/CD: stop when max |c_new - c_old| <= tol * max(1, max |c|)
    int k = 8;               // OMP: at most k atoms
    float omp_tol = 1e-6f;   // OMP: stop when ||r||^2 <= omp_tol * ||x||^2
};

// Gram-form solvers. G [K, K] = D D^T; Bc [n, K] = X D^T; C [n, K] receives the codes (overwritten).
// L = largest eigenvalue of G (FISTA step); xx [n] = ||x||^2 (OMP stopping; may be null = no early stop).
// Returns the mean number of iterations (FISTA / CD sweeps / OMP atoms) per sample.
double fista_codes(const float* G, const float* Bc, int64_t n, int64_t K, float L, const CodeOptions& o, float* C);
double cd_codes(const float* G, const float* Bc, int64_t n, int64_t K, const CodeOptions& o, float* C);
double omp_codes(const float* G, const float* Bc, const float* xx, int64_t n, int64_t K, const CodeOptions& o,
                 float* C);

// Largest eigenvalue of a symmetric PSD matrix G [K, K] by power iteration (deterministic start).
// v [K] (optional, in/out) warm-starts the iteration and receives the eigenvector.
float gram_max_eig(const float* G, int64_t K, int iters = 100, float* v = nullptr);

// Codes for X [n, d] with dictionary D [K, d] (computes G, Bc with BLAS). Returns mean iterations.
double sparse_encode(const float* D, int64_t K, int64_t d, const float* X, int64_t n, const CodeOptions& o, float* C);

// ---- dictionary update ------------------------------------------------------------------------------------
struct DictStats {
    int64_t K = 0, d = 0;
    std::vector<float> A;   // [K, K]
    std::vector<float> B;   // [K, d]
    int64_t batches = 0;    // mini-batches accumulated (for the forgetting factor)
};
// A = beta A + C^T C, B = beta B + C^T X for a mini-batch of n rows (beta = Mairal's forgetting factor).
void dict_stats_update(DictStats& s, const float* C, const float* X, int64_t n);
// One (or `sweeps`) block-coordinate-descent pass over the atoms of D [K, d]; keeps rows unit-norm.
// Returns the indices of atoms that had A_jj ~ 0 (left unchanged for the caller to re-seed).
std::vector<int64_t> dict_bcd_update(float* D, const DictStats& s, int sweeps = 1);
// Normalises every row of D [K, d] to unit norm (zero rows get e_0).
void dict_normalize_rows(float* D, int64_t K, int64_t d);

// ---- training ----------------------------------------------------------------------------------------------
struct DictTrainConfig {
    int64_t atoms = 256;
    int64_t batch = 256;
    double epochs = 2;          // passes over a finite source
    int64_t samples = 0;        // total samples for an unbounded source (or to override epochs)
    CodeOptions code;
    int bcd_sweeps = 1;
    uint64_t seed = 0;
    Context ctx;  // threads, messages, progress, cancellation
    // Checkpoints: every `checkpoint_every` mini-batches (0 = never) the full training state (dictionary, A, B,
    // power-iteration vector, counters, RNG and source positions) goes to `checkpoint` (one safetensors file,
    // written atomically). With resume = true and that file present, training continues from it exactly: the
    // result is bit-identical to an uninterrupted run.
    std::string checkpoint;
    int64_t checkpoint_every = 0;
    bool resume = false;
    // Throws naming the field: atoms, batch, bcd_sweeps > 0, checkpoint_every >= 0, a resume needs the file.
    void validate() const;
};

struct DictResult {
    Tensor D;                    // [K, d], unit rows
    int64_t samples_seen = 0;    // in total (including before a resume)
    int64_t samples_run = 0;     // in this call
    double seconds = 0;          // of this call
    double mean_iters = 0;       // of the solver, over training
    std::vector<int64_t> fires;  // [K] nonzero codes per atom over training
    int64_t reseeded = 0;        // atoms re-seeded from data (unused atoms)
};

// Online dictionary learning on mini-batches from `src` (init: the first K rows, normalised).
DictResult dict_train(ActivationSource& src, const DictTrainConfig& cfg);

// Quality on X [n, d]: fvu = sum ||x - C D||^2 / sum ||x - mean x||^2, l0 = mean nonzeros per row.
struct DictEval {
    double fvu = 0, l0 = 0, mse = 0;
};
DictEval dict_evaluate(const float* D, int64_t K, int64_t d, const float* X, const float* C, int64_t n);

// Mean over ground-truth rows G [n_true, d] (unit) of the max |cos| with a row of D [K, d].
double dict_mmcs(const float* G, int64_t n_true, const float* D, int64_t K, int64_t d);

// SAELens layout (cfg.json + sae_weights.safetensors + sparsity.safetensors): W_dec = D, W_enc = D^T,
// zero biases, architecture "standard"; the solver and its options go to cfg.json metadata.
void dict_save(const std::string& dir, const DictResult& r, const DictTrainConfig& cfg, const Json& extra_meta);
// A finished run as a folder: evaluates the dictionary on the next `eval_rows` rows of src (codes with
// cfg.code; fvu, l0, mse), its MMCS against src's ground truth when there is one, writes the folder with
// dict_save and metrics.json beside it, and returns the metrics.
Json dict_save_run(const std::string& dir, const DictResult& r, const DictTrainConfig& cfg, ActivationSource& src,
                   int64_t eval_rows);
// Loads W_dec [K, d] from a folder written by dict_save (or any SAELens folder); the solver options saved in
// its metadata are returned in *code when non-null.
Tensor dict_load(const std::string& dir, CodeOptions* code = nullptr);

}  // namespace unfold

// test_dict.cpp: classical sparse coding. FISTA and CD lasso codes against an independent double-precision
// coordinate-descent reference and the KKT conditions; OMP exact support recovery on noiseless k-sparse
// signals; unit-norm atoms after BCD updates; planted-dictionary recovery (MMCS); determinism; save/load.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "unfold/core/blas.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/data/source.h"
#include "unfold/data/synth.h"
#include "unfold/dict/dict.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {

std::vector<float> random_dict(int64_t K, int64_t d, uint64_t seed) {
    std::vector<float> D((size_t)(K * d));
    rng_fill_normal(D.data(), D.size(), seed, 7, 0, 0.0f, 1.0f);
    dict_normalize_rows(D.data(), K, d);
    return D;
}

// Independent reference: cyclic coordinate descent in double on the explicit residual, run to 1e-12.
std::vector<double> lasso_reference(const std::vector<float>& D, int64_t K, int64_t d, const float* x, double alpha,
                                    bool positive) {
    std::vector<double> c((size_t)K, 0.0), r(x, x + d);  // r = x - D^T c
    for (int sweep = 0; sweep < 100000; sweep++) {
        double maxd = 0;
        for (int64_t j = 0; j < K; j++) {
            const float* dj = D.data() + j * d;
            double nn = 0, rho = 0;
            for (int64_t t = 0; t < d; t++) nn += (double)dj[t] * dj[t], rho += (double)dj[t] * r[(size_t)t];
            rho += nn * c[(size_t)j];
            double nc = rho > alpha ? (rho - alpha) / nn : (!positive && rho < -alpha ? (rho + alpha) / nn : 0.0);
            double dl = nc - c[(size_t)j];
            if (dl != 0) {
                for (int64_t t = 0; t < d; t++) r[(size_t)t] -= dl * dj[t];
                c[(size_t)j] = nc;
                maxd = std::max(maxd, std::fabs(dl));
            }
        }
        if (maxd < 1e-13) break;
    }
    return c;
}

// max KKT violation of c for min 1/2||x - D^T c||^2 + alpha ||c||_1 (optionally c >= 0)
double kkt_violation(const std::vector<float>& D, int64_t K, int64_t d, const float* x, const float* c, double alpha,
                     bool positive) {
    std::vector<double> r(x, x + d);
    for (int64_t j = 0; j < K; j++)
        for (int64_t t = 0; t < d; t++) r[(size_t)t] -= (double)c[j] * D[(size_t)(j * d + t)];
    double worst = 0;
    for (int64_t j = 0; j < K; j++) {
        double g = 0;  // correlation of atom j with the residual = -(gradient of the smooth part)
        for (int64_t t = 0; t < d; t++) g += (double)D[(size_t)(j * d + t)] * r[(size_t)t];
        double v;
        if (c[j] > 0) v = std::fabs(g - alpha);
        else if (c[j] < 0) v = positive ? 1e9 : std::fabs(g + alpha);
        else v = positive ? std::max(0.0, g - alpha) : std::max(0.0, std::fabs(g) - alpha);
        worst = std::max(worst, v);
    }
    return worst;
}

void check_lasso_solver(DictSolver solver, bool positive) {
    const int64_t K = 24, d = 10, n = 20;
    auto D = random_dict(K, d, 1);
    std::vector<float> X((size_t)(n * d)), C((size_t)(n * K));
    rng_fill_normal(X.data(), X.size(), 2, 0, 0, 0.0f, 1.0f);
    CodeOptions o;
    o.solver = solver;
    o.alpha = 0.3f;
    o.positive = positive;
    o.max_iter = 20000;
    o.tol = 1e-7f;
    sparse_encode(D.data(), K, d, X.data(), n, o, C.data());
    int64_t nnz = 0;
    for (int64_t r = 0; r < n; r++) {
        auto ref = lasso_reference(D, K, d, X.data() + r * d, o.alpha, positive);
        for (int64_t j = 0; j < K; j++) {
            EXPECT_NEAR(C[(size_t)(r * K + j)], ref[(size_t)j], 2e-3) << "row " << r << " atom " << j;
            nnz += C[(size_t)(r * K + j)] != 0;
        }
        EXPECT_LT(kkt_violation(D, K, d, X.data() + r * d, C.data() + r * K, o.alpha, positive), 1e-3) << r;
    }
    EXPECT_GT(nnz, n);          // not trivially all-zero
    EXPECT_LT(nnz, n * K / 2);  // and sparse
}

}  // namespace

TEST(DictSolvers, FistaMatchesReferenceAndKKT) { check_lasso_solver(DictSolver::FISTA, false); }
TEST(DictSolvers, FistaPositiveMatchesReferenceAndKKT) { check_lasso_solver(DictSolver::FISTA, true); }
TEST(DictSolvers, CoordinateDescentMatchesReferenceAndKKT) { check_lasso_solver(DictSolver::CD, false); }

TEST(DictSolvers, GramMaxEigMatchesRayleigh) {
    const int64_t K = 40, d = 12;
    auto D = random_dict(K, d, 4);
    std::vector<float> G((size_t)(K * K));
    matmul_bt(G.data(), D.data(), D.data(), K, d, K);
    float L = gram_max_eig(G.data(), K, 2000);
    // no unit vector may give a larger Rayleigh quotient; the top eigenvalue of D D^T equals that of D^T D
    Rng rng(5);
    for (int t = 0; t < 200; t++) {
        std::vector<double> v((size_t)K);
        double nn = 0;
        for (auto& x : v) x = rng.normal(), nn += x * x;
        double q = 0;
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < K; j++) q += v[(size_t)i] * G[(size_t)(i * K + j)] * v[(size_t)j];
        EXPECT_LE(q / nn, L * (1 + 1e-4));
    }
    // trace bound: L <= trace = K (unit atoms), and L >= K/d (average eigenvalue over d nonzero ones)
    EXPECT_LE(L, (float)K);
    EXPECT_GE(L, (float)K / (float)d);
}

TEST(DictSolvers, OmpRecoversExactSupports) {
    const int64_t K = 128, d = 64, n = 300, k = 4;
    auto D = random_dict(K, d, 11);
    std::vector<float> X((size_t)(n * d), 0.0f), Ctrue((size_t)(n * K), 0.0f), C((size_t)(n * K));
    Rng rng(12);
    for (int64_t r = 0; r < n; r++) {
        int64_t placed = 0;
        while (placed < k) {
            int64_t j = (int64_t)rng.below(K);
            if (Ctrue[(size_t)(r * K + j)] != 0) continue;
            float mag = rng.uniform(0.5f, 1.5f) * (rng.uniform() < 0.5f ? -1.0f : 1.0f);
            Ctrue[(size_t)(r * K + j)] = mag;
            for (int64_t t = 0; t < d; t++) X[(size_t)(r * d + t)] += mag * D[(size_t)(j * d + t)];
            placed++;
        }
    }
    CodeOptions o;
    o.solver = DictSolver::OMP;
    o.k = (int)k;
    double atoms = sparse_encode(D.data(), K, d, X.data(), n, o, C.data());
    EXPECT_LE(atoms, (double)k);
    int64_t exact = 0;
    double max_err = 0;
    for (int64_t r = 0; r < n; r++) {
        bool same = true;
        for (int64_t j = 0; j < K; j++) {
            const float a = Ctrue[(size_t)(r * K + j)], b = C[(size_t)(r * K + j)];
            same &= (a != 0) == (b != 0);
            max_err = std::max(max_err, (double)std::fabs(a - b));
        }
        exact += same;
    }
    EXPECT_EQ(exact, n);
    EXPECT_LT(max_err, 1e-4);
}

TEST(DictSolvers, OmpStopsEarlyOnExactFit) {
    // a 1-sparse signal with k = 8: one atom explains it, the residual test stops OMP there
    const int64_t K = 32, d = 16;
    auto D = random_dict(K, d, 21);
    std::vector<float> x(D.begin() + 5 * d, D.begin() + 6 * d), c((size_t)K);
    for (auto& v : x) v *= 2.5f;
    CodeOptions o;
    o.solver = DictSolver::OMP;
    o.k = 8;
    double atoms = sparse_encode(D.data(), K, d, x.data(), 1, o, c.data());
    EXPECT_EQ(atoms, 1.0);
    EXPECT_NEAR(c[5], 2.5f, 1e-5);
}

TEST(DictUpdate, AtomsUnitNormAndSurrogateDecreases) {
    const int64_t K = 48, d = 16, n = 200;
    auto D = random_dict(K, d, 31);
    std::vector<float> X((size_t)(n * d)), C((size_t)(n * K));
    rng_fill_normal(X.data(), X.size(), 32, 0, 0, 0.0f, 1.0f);
    CodeOptions o;
    o.alpha = 0.2f;
    sparse_encode(D.data(), K, d, X.data(), n, o, C.data());
    DictStats st;
    st.K = K;
    st.d = d;
    dict_stats_update(st, C.data(), X.data(), n);
    // surrogate 1/2 tr(D^T A D) - tr(D^T B) over the atoms the update touches
    auto surrogate = [&](const std::vector<float>& Dm) {
        double f = 0;
        for (int64_t j = 0; j < K; j++)
            for (int64_t k = 0; k < K; k++) {
                double dot = 0;
                for (int64_t t = 0; t < d; t++) dot += (double)Dm[(size_t)(j * d + t)] * Dm[(size_t)(k * d + t)];
                f += 0.5 * st.A[(size_t)(j * K + k)] * dot;
            }
        for (int64_t j = 0; j < K; j++)
            for (int64_t t = 0; t < d; t++) f -= (double)st.B[(size_t)(j * d + t)] * Dm[(size_t)(j * d + t)];
        return f;
    };
    const double before = surrogate(D);
    auto unused = dict_bcd_update(D.data(), st, 3);
    const double after = surrogate(D);
    EXPECT_LT(after, before);
    for (int64_t j = 0; j < K; j++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)D[(size_t)(j * d + t)] * D[(size_t)(j * d + t)];
        EXPECT_NEAR(std::sqrt(s), 1.0, 1e-5) << j;
    }
    for (int64_t j : unused) EXPECT_LE(st.A[(size_t)(j * K + j)], 1e-10f);
}

TEST(DictUpdate, StatisticsSparseAndDensePathsMatchDefinition) {
    // A = C^T C / n and B = C^T X / n on the first batch (the forgetting factor scales the empty past)
    const int64_t K = 40, d = 6, n = 30;
    for (double density : {0.05, 0.6}) {  // sparse path (outer products) and dense path (GEMM)
        std::vector<float> C((size_t)(n * K)), X((size_t)(n * d));
        Rng rng(50);
        for (auto& c : C) c = rng.uniform() < density ? rng.uniform(-1.0f, 1.0f) : 0.0f;
        for (auto& x : X) x = rng.uniform(-1.0f, 1.0f);
        DictStats st;
        st.K = K;
        st.d = d;
        dict_stats_update(st, C.data(), X.data(), n);
        for (int64_t i = 0; i < K; i++) {
            for (int64_t j = 0; j < K; j++) {
                double a = 0;
                for (int64_t r = 0; r < n; r++) a += (double)C[(size_t)(r * K + i)] * C[(size_t)(r * K + j)];
                ASSERT_NEAR(st.A[(size_t)(i * K + j)], a / n, 1e-5) << density;
            }
            for (int64_t t = 0; t < d; t++) {
                double b = 0;
                for (int64_t r = 0; r < n; r++) b += (double)C[(size_t)(r * K + i)] * X[(size_t)(r * d + t)];
                ASSERT_NEAR(st.B[(size_t)(i * d + t)], b / n, 1e-5) << density;
            }
        }
    }
}

TEST(DictUpdate, BlockedBcdEqualsSequentialReference) {
    // K = 150 spans three blocks of the blocked update; the reference is the textbook sweep in double
    const int64_t K = 150, d = 20, n = 400;
    auto D = random_dict(K, d, 41);
    std::vector<float> X((size_t)(n * d)), C((size_t)(n * K));
    rng_fill_normal(X.data(), X.size(), 42, 0, 0, 0.0f, 1.0f);
    CodeOptions o;
    o.alpha = 0.15f;
    sparse_encode(D.data(), K, d, X.data(), n, o, C.data());
    DictStats st;
    st.K = K;
    st.d = d;
    dict_stats_update(st, C.data(), X.data(), n);
    std::vector<double> R(D.begin(), D.end());
    for (int sw = 0; sw < 2; sw++)
        for (int64_t j = 0; j < K; j++) {
            const double ajj = st.A[(size_t)(j * K + j)];
            if (!(ajj > 1e-10)) continue;
            std::vector<double> u((size_t)d);
            double nn = 0;
            for (int64_t t = 0; t < d; t++) {
                double v = st.B[(size_t)(j * d + t)];
                for (int64_t k = 0; k < K; k++) v -= (double)st.A[(size_t)(j * K + k)] * R[(size_t)(k * d + t)];
                u[(size_t)t] = R[(size_t)(j * d + t)] + v / ajj;
                nn += u[(size_t)t] * u[(size_t)t];
            }
            for (int64_t t = 0; t < d; t++) R[(size_t)(j * d + t)] = u[(size_t)t] / std::sqrt(nn);
        }
    dict_bcd_update(D.data(), st, 2);
    double worst = 0;
    for (size_t i = 0; i < D.size(); i++) worst = std::max(worst, std::fabs(D[i] - R[i]));
    EXPECT_LT(worst, 2e-4);
}

namespace {
DictResult train_planted(DictSolver solver, uint64_t seed, double* mmcs, DictEval* ev) {
    // one thread: these runs are small (128-row batches) and a loaded CI machine makes OpenMP barriers costly;
    // the solver tests above exercise the parallel paths.
    set_num_threads(1);
    SourceOptions so;
    so.seed = seed;
    auto src = open_source("planted:d=32,features=64,p=0.05", so);
    DictTrainConfig cfg;
    cfg.atoms = 128;
    cfg.batch = 128;
    cfg.samples = 24000;
    cfg.seed = seed;
    cfg.ctx.quiet = true;
    cfg.code.solver = solver;
    cfg.code.alpha = 0.05f;
    cfg.code.k = 6;
    DictResult r = dict_train(*src, cfg);
    const Tensor* gt = src->ground_truth();
    *mmcs = dict_mmcs(gt->ptr(), gt->dim(0), r.D.ptr(), r.D.dim(0), r.D.dim(1));
    // fresh evaluation rows
    std::vector<float> X(2000 * 32), C(2000 * 128);
    src->next_batch(X.data(), 2000);
    sparse_encode(r.D.ptr(), 128, 32, X.data(), 2000, cfg.code, C.data());
    *ev = dict_evaluate(r.D.ptr(), 128, 32, X.data(), C.data(), 2000);
    return r;
}
}  // namespace

TEST(DictTrain, PlantedDictionaryRecoveredFista) {
    double mmcs;
    DictEval ev;
    DictResult r = train_planted(DictSolver::FISTA, 1, &mmcs, &ev);
    EXPECT_GE(mmcs, 0.95);
    EXPECT_LT(ev.fvu, 0.1);
    EXPECT_GT(ev.l0, 1.0);
    EXPECT_LT(ev.l0, 12.0);
    for (int64_t j = 0; j < r.D.dim(0); j++) {
        double s = 0;
        for (int64_t t = 0; t < r.D.dim(1); t++) s += (double)r.D[(size_t)(j * 32 + t)] * r.D[(size_t)(j * 32 + t)];
        ASSERT_NEAR(s, 1.0, 1e-4);
    }
}

TEST(DictTrain, PlantedDictionaryRecoveredOmp) {
    double mmcs;
    DictEval ev;
    train_planted(DictSolver::OMP, 1, &mmcs, &ev);
    EXPECT_GE(mmcs, 0.95);
    EXPECT_LT(ev.fvu, 0.05);
}

TEST(DictTrain, DeterministicInSeed) {
    double m1, m2, m3;
    DictEval e;
    DictResult a = train_planted(DictSolver::FISTA, 5, &m1, &e);
    DictResult b = train_planted(DictSolver::FISTA, 5, &m2, &e);
    DictResult c = train_planted(DictSolver::FISTA, 6, &m3, &e);
    EXPECT_EQ(a.D.data, b.D.data);
    EXPECT_NE(a.D.data, c.D.data);
    EXPECT_GE(m1, 0.95);
}

TEST(DictTrain, SaveLoadSaeLensLayout) {
    double mmcs;
    DictEval ev;
    DictTrainConfig cfg;
    cfg.code.solver = DictSolver::OMP;
    cfg.code.k = 6;
    DictResult r = train_planted(DictSolver::OMP, 2, &mmcs, &ev);
    const std::string dir = (fs::temp_directory_path() / ("unfold_test_dict_" + std::to_string(getpid()))).string();
    fs::remove_all(dir);
    dict_save(dir, r, cfg, Json::object());
    CodeOptions back;
    Tensor D = dict_load(dir, &back);
    EXPECT_EQ(D.shape, r.D.shape);
    EXPECT_EQ(D.data, r.D.data);
    EXPECT_EQ(back.solver, DictSolver::OMP);
    EXPECT_EQ(back.k, 6);
    SafeTensorsReader rd(dir + "/sae_weights.safetensors");
    Tensor We = rd.read_f32("W_enc");
    ASSERT_EQ(We.shape, (Shape{32, 128}));
    EXPECT_EQ(We[(size_t)(3 * 128 + 7)], r.D[(size_t)(7 * 32 + 3)]);
    Json cfgj = json_load(dir + "/cfg.json");
    EXPECT_EQ(cfgj.at("d_sae", "cfg").as_int("d_sae"), 128);
    EXPECT_TRUE(fs::exists(dir + "/sparsity.safetensors"));
    fs::remove_all(dir);
}

TEST(DictTrain, CheckpointResumeIsBitIdentical) {
    set_num_threads(1);
    const std::string dir = (fs::temp_directory_path() / ("unfold_test_dict_ckpt_" + std::to_string(getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    // a finite .npy source read through the shuffle buffer (buffer < rows, so its state matters)
    PlantedConfig pc = parse_planted_spec("planted:d=16,features=32,p=0.1,seed=4");
    Planted p = planted_make(pc);
    std::vector<float> X(3000 * 16);
    planted_rows(p, 0, 3000, X.data());
    npy_save(dir + "/x.npy", {3000, 16}, X.data());
    SourceOptions so;
    so.seed = 8;
    so.shuffle_buffer_rows = 500;
    DictTrainConfig cfg;
    cfg.atoms = 48;
    cfg.batch = 128;
    cfg.samples = 6400;  // 50 batches, crossing two epochs
    cfg.ctx.quiet = true;
    cfg.seed = 8;
    cfg.code.alpha = 0.05f;
    auto s0 = open_source(dir + "/x.npy", so);
    DictResult straight = dict_train(*s0, cfg);

    DictTrainConfig c1 = cfg;
    c1.samples = 3200;  // "crash" after 25 batches, right after a checkpoint
    c1.checkpoint = dir + "/ckpt.safetensors";
    c1.checkpoint_every = 25;
    auto s1 = open_source(dir + "/x.npy", so);
    dict_train(*s1, c1);
    ASSERT_TRUE(fs::exists(c1.checkpoint));
    DictTrainConfig c2 = c1;
    c2.samples = 6400;
    c2.resume = true;
    auto s2 = open_source(dir + "/x.npy", so);
    DictResult resumed = dict_train(*s2, c2);
    EXPECT_EQ(resumed.samples_seen, 6400);
    EXPECT_EQ(resumed.D.data, straight.D.data);
    EXPECT_EQ(resumed.fires, straight.fires);
    // a checkpoint from another configuration is refused
    DictTrainConfig bad = c2;
    bad.atoms = 40;
    auto s3 = open_source(dir + "/x.npy", so);
    EXPECT_THROW(dict_train(*s3, bad), Error);
    fs::remove_all(dir);
}

// privileged.cpp: hidden-space rotations and the privileged-basis loss comparison (see privileged.h).
#include "unfold/toy/privileged.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"

namespace unfold {

std::vector<double> random_orthogonal(int m, uint64_t seed) {
    UNFOLD_CHECK(m >= 1, "random_orthogonal: m must be >= 1");
    Rng rng(seed, 0x0e7a);
    std::vector<double> Q((size_t)m * m);
    for (;;) {
        for (auto& q : Q) q = rng.normal();
        bool ok = true;
        // modified Gram-Schmidt over rows
        for (int r = 0; r < m && ok; r++) {
            double* qr = &Q[(size_t)r * m];
            for (int p = 0; p < r; p++) {
                const double* qp = &Q[(size_t)p * m];
                double d = 0;
                for (int a = 0; a < m; a++) d += qr[a] * qp[a];
                for (int a = 0; a < m; a++) qr[a] -= d * qp[a];
            }
            double s = 0;
            for (int a = 0; a < m; a++) s += qr[a] * qr[a];
            if (s < 1e-12) ok = false;
            s = std::sqrt(s);
            for (int a = 0; a < m; a++) qr[a] /= s;
        }
        if (ok) return Q;
    }
}

// Y[m, c] = Q[m, m] X[m, c] in place (float storage, double accumulation)
static void left_rotate(float* X, int m, int c, const std::vector<double>& Q) {
    std::vector<double> col(m);
    for (int j = 0; j < c; j++) {
        for (int a = 0; a < m; a++) col[a] = X[(size_t)a * c + j];
        for (int a = 0; a < m; a++) {
            double s = 0;
            for (int b = 0; b < m; b++) s += Q[(size_t)a * m + b] * col[b];
            X[(size_t)a * c + j] = (float)s;
        }
    }
}

// Y[r, m] = X[r, m] Q^T in place
static void right_rotate_t(float* X, int r, int m, const std::vector<double>& Q) {
    std::vector<double> row(m);
    for (int i = 0; i < r; i++) {
        for (int a = 0; a < m; a++) row[a] = X[(size_t)i * m + a];
        for (int a = 0; a < m; a++) {
            double s = 0;
            for (int b = 0; b < m; b++) s += row[b] * Q[(size_t)a * m + b];
            X[(size_t)i * m + a] = (float)s;
        }
    }
}

ToyModel rotate_hidden(const ToyModel& model, const std::vector<double>& Q) {
    const ToyConfig& c = model.cfg;
    int I = c.n_instances, m = c.n_hidden, n = c.n_features;
    UNFOLD_CHECK((int64_t)Q.size() == (int64_t)m * m, "rotate_hidden: Q must be [%d, %d]", m, m);
    ToyModel out = model;
    if (c.kind == ToyKind::ABS) {
        float* W1 = out.params.get("W1");
        float* W2 = out.params.get("W2");
        for (int i = 0; i < I; i++) {
            left_rotate(W1 + (size_t)i * m * n, m, n, Q);
            right_rotate_t(W2 + (size_t)i * n * m, n, m, Q);
        }
    } else {
        float* W = out.params.get("W");
        for (int i = 0; i < I; i++) left_rotate(W + (size_t)i * m * n, m, n, Q);
    }
    return out;
}

RotationResult rotation_test(const ToyModel& model, uint64_t seed, int B, uint64_t stream) {
    std::vector<double> Q = random_orthogonal(model.cfg.n_hidden, seed);
    ToyModel a = model;
    ToyModel b = rotate_hidden(model, Q);
    int I = model.cfg.n_instances;
    std::vector<float> la(I), lb(I);
    toy_loss_stream(a, stream, B, la.data(), false);
    toy_loss_stream(b, stream, B, lb.data(), false);
    RotationResult r;
    for (int i = 0; i < I; i++) {
        r.loss_before.push_back(la[i]);
        r.loss_after.push_back(lb[i]);
        r.mean_before += la[i] / (double)I;
        r.mean_after += lb[i] / (double)I;
        double rel = std::fabs((double)lb[i] - la[i]) / std::max(1e-30, (double)std::fabs(la[i]));
        r.max_rel_change = std::max(r.max_rel_change, rel);
    }
    return r;
}

}  // namespace unfold

// test_layers.cpp: finite-difference checks of every layer backward in lm/layers.h, on tiny shapes.
// Each check uses the scalar loss  sum(out * R)  for a fixed random R and compares the analytic gradient of
// every input and parameter with central differences (float math, step 1e-3, double accumulation of the
// loss); tolerance |fd - an| <= 2e-3 + 2e-2 |an|.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "unfold/core/rng.h"
#include "unfold/lm/layers.h"

using namespace unfold;

namespace {

std::vector<float> randv(size_t n, uint64_t stream, float scale = 1.0f) {
    std::vector<float> v(n);
    rng_fill_normal(v.data(), n, 1234, stream, 0, 0.0f, scale);
    return v;
}

double dotd(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0.0;
    for (size_t i = 0; i < a.size(); i++) s += (double)a[i] * b[i];
    return s;
}

// Compares analytic gradient `an` of loss() w.r.t. x with central differences.
void fd_check(const char* what, std::vector<float>& x, const std::vector<float>& an, const std::function<double()>& loss,
              float h = 1e-3f) {
    ASSERT_EQ(x.size(), an.size()) << what;
    double worst = 0.0;
    for (size_t i = 0; i < x.size(); i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = loss();
        x[i] = x0 - h;
        double lm = loss();
        x[i] = x0;
        double fd = (lp - lm) / (2.0 * (double)h);
        double err = std::fabs(fd - an[i]);
        worst = std::max(worst, err / (2e-3 + 2e-2 * std::fabs(an[i])));
        EXPECT_NEAR(fd, an[i], 2e-3 + 2e-2 * std::fabs(an[i])) << what << " index " << i;
    }
    EXPECT_LT(worst, 1.0) << what;
}

}  // namespace

TEST(Layers, LayerNormBackward) {
    const int64_t N = 5, C = 7;
    auto x = randv(N * C, 1), w = randv(C, 2), b = randv(C, 3), R = randv(N * C, 4);
    std::vector<float> out(N * C), mean(N), rstd(N);
    auto loss = [&] {
        layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, 1e-5f);
        return dotd(out, R);
    };
    loss();
    std::vector<float> dx(N * C, 0.f), dw(C, 0.f), db(C, 0.f);
    layernorm_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
    fd_check("ln dx", x, dx, loss);
    fd_check("ln dw", w, dw, loss);
    fd_check("ln db", b, db, loss);
    // normalised rows: mean 0 and variance 1 before the affine map
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), std::vector<float>(C, 1.f).data(),
                      std::vector<float>(C, 0.f).data(), N, C, 1e-5f);
    double s = 0, ss = 0;
    for (int64_t c = 0; c < C; c++) s += out[c], ss += out[c] * out[c];
    EXPECT_NEAR(s / C, 0.0, 1e-5);
    EXPECT_NEAR(ss / C, 1.0, 1e-3);
}

TEST(Layers, RmsNormBackward) {
    const int64_t N = 4, C = 6;
    auto x = randv(N * C, 5), w = randv(C, 6), R = randv(N * C, 7);
    std::vector<float> out(N * C), rstd(N);
    auto loss = [&] {
        rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
        return dotd(out, R);
    };
    loss();
    std::vector<float> dx(N * C, 0.f), dw(C, 0.f);
    rmsnorm_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
    fd_check("rms dx", x, dx, loss);
    fd_check("rms dw", w, dw, loss);
}

TEST(Layers, LinearBackwardBothLayouts) {
    const int64_t N = 3, IC = 5, OC = 4, LD = 6;  // output rows padded to LD to test strides
    for (WLayout lay : {WLayout::IN_OUT, WLayout::OUT_IN}) {
        auto x = randv(N * IC, 8), W = randv(IC * OC, 9), b = randv(OC, 10), R = randv(N * LD, 11);
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = OC; o < LD; o++) R[n * LD + o] = 0.f;  // padding is not part of the loss
        std::vector<float> out(N * LD, 0.f);
        auto loss = [&] {
            linear_forward(out.data(), LD, x.data(), W.data(), b.data(), N, IC, OC, lay);
            return dotd(out, R);
        };
        loss();
        // forward against a plain loop
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < OC; o++) {
                double s = b[o];
                for (int64_t i = 0; i < IC; i++)
                    s += (double)x[n * IC + i] * (lay == WLayout::IN_OUT ? W[i * OC + o] : W[o * IC + i]);
                EXPECT_NEAR(out[n * LD + o], s, 1e-5);
            }
        std::vector<float> dx(N * IC, 0.f), dW(IC * OC, 0.f), db(OC, 0.f);
        linear_backward(dx.data(), dW.data(), db.data(), R.data(), LD, x.data(), W.data(), N, IC, OC, lay);
        fd_check("linear dx", x, dx, loss);
        fd_check("linear dW", W, dW, loss);
        fd_check("linear db", b, db, loss);
    }
}

TEST(Layers, AttentionBackwardGqa) {
    // B=2, T=4, NH=4 query heads over KV=2 kv heads, hs=3; q|k|v packed in rows of QKVD
    const int64_t B = 2, T = 4, NH = 4, KV = 2, hs = 3, C = NH * hs, KVD = KV * hs, QKVD = C + 2 * KVD;
    auto qkv = randv(B * T * QKVD, 12), R = randv(B * T * C, 13);
    std::vector<float> att(B * NH * T * T), out(B * T * C);
    AttnDims d{B, T, T, 0, NH, KV, hs, QKVD, QKVD, T * QKVD};
    auto loss = [&] {
        attention_pattern_forward(att.data(), qkv.data(), qkv.data() + C, d);
        attention_values_forward(out.data(), att.data(), qkv.data() + C + KVD, d);
        return dotd(out, R);
    };
    loss();
    // rows of the pattern sum to 1 and the future is masked
    for (int64_t r = 0; r < B * NH * T; r++) {
        int64_t t = r % T;
        double s = 0;
        for (int64_t j = 0; j < T; j++) {
            s += att[r * T + j];
            if (j > t) {
                EXPECT_EQ(att[r * T + j], 0.0f);
            }
        }
        EXPECT_NEAR(s, 1.0, 1e-6);
    }
    std::vector<float> dqkv(B * T * QKVD, 0.f);
    attention_backward(dqkv.data(), dqkv.data() + C, dqkv.data() + C + KVD, R.data(), att.data(), qkv.data(),
                       qkv.data() + C, qkv.data() + C + KVD, d);
    fd_check("attention dqkv", qkv, dqkv, loss);
}

TEST(Layers, AttentionWithCacheMatchesFull) {
    // the last query row computed with keys from a "cache" (pos0 = T-1, S = T) equals the full computation
    const int64_t T = 5, NH = 2, KV = 1, hs = 4, C = NH * hs, KVD = KV * hs, QKVD = C + 2 * KVD;
    auto qkv = randv(T * QKVD, 14);
    std::vector<float> att(NH * T * T), out(T * C);
    AttnDims full{1, T, T, 0, NH, KV, hs, QKVD, QKVD, T * QKVD};
    attention_pattern_forward(att.data(), qkv.data(), qkv.data() + C, full);
    attention_values_forward(out.data(), att.data(), qkv.data() + C + KVD, full);
    std::vector<float> att1(NH * T), out1(C);
    AttnDims one{1, 1, T, T - 1, NH, KV, hs, QKVD, QKVD, T * QKVD};
    const float* qlast = qkv.data() + (T - 1) * QKVD;
    attention_pattern_forward(att1.data(), qlast, qkv.data() + C, one);
    attention_values_forward(out1.data(), att1.data(), qkv.data() + C + KVD, one);
    for (int64_t i = 0; i < C; i++) EXPECT_NEAR(out1[i], out[(T - 1) * C + i], 1e-6);
}

TEST(Layers, RopeBackwardAndTables) {
    const int64_t B = 2, T = 3, NH = 2, hs = 4, stride = 9;  // rows padded to 9 > NH*hs
    auto x = randv(B * T * stride, 15), R = randv(B * T * stride, 16);
    std::vector<float> y;
    auto loss = [&] {
        y = x;
        rope_forward(y.data(), stride, B, T, 2, NH, hs, 10000.f);
        return dotd(y, R);
    };
    loss();
    // padding column untouched, norms of pairs preserved
    for (int64_t n = 0; n < B * T; n++) {
        EXPECT_EQ(y[n * stride + 8], x[n * stride + 8]);
        for (int64_t p = 0; p < 4; p++) {
            double a = std::hypot(x[n * stride + 2 * p], x[n * stride + 2 * p + 1]);
            double b = std::hypot(y[n * stride + 2 * p], y[n * stride + 2 * p + 1]);
            EXPECT_NEAR(a, b, 1e-5);
        }
    }
    std::vector<float> dx = R;
    rope_backward(dx.data(), stride, B, T, 2, NH, hs, 10000.f);
    fd_check("rope dx", x, dx, loss);
    // tables: pair i at position t rotates by t * 10000^(-2i/hs)
    std::vector<float> cs(10 * 2), sn(10 * 2);
    rope_tables(cs.data(), sn.data(), 10, 4, 10000.f);
    EXPECT_NEAR(cs[7 * 2 + 1], std::cos(7.0 / 100.0), 1e-6);
    EXPECT_NEAR(sn[7 * 2 + 0], std::sin(7.0), 1e-6);
}

TEST(Layers, GeluAndSwigluBackward) {
    const int64_t n = 11;
    auto x = randv(n, 17, 2.0f), u = randv(n, 18), R = randv(n, 19);
    std::vector<float> out(n);
    auto lg = [&] {
        gelu_forward(out.data(), x.data(), n);
        return dotd(out, R);
    };
    lg();
    // tanh-GELU at 1.0 is 0.8411920
    float one = 1.0f, g1;
    gelu_forward(&g1, &one, 1);
    EXPECT_NEAR(g1, 0.841192f, 1e-6);
    std::vector<float> dx(n, 0.f);
    gelu_backward(dx.data(), x.data(), R.data(), n);
    fd_check("gelu", x, dx, lg);
    auto ls = [&] {
        swiglu_forward(out.data(), x.data(), u.data(), n);
        return dotd(out, R);
    };
    ls();
    std::vector<float> dg(n, 0.f), du(n, 0.f);
    swiglu_backward(dg.data(), du.data(), R.data(), x.data(), u.data(), n);
    fd_check("swiglu gate", x, dg, ls);
    fd_check("swiglu up", u, du, ls);
}

TEST(Layers, CrossEntropyForwardBackward) {
    const int64_t N = 4, V = 6;
    auto logits = randv(N * V, 20, 2.0f);
    std::vector<int32_t> tgt = {3, 0, -1, 5};
    std::vector<float> losses(N);
    auto loss = [&] { return crossentropy_forward(losses.data(), logits.data(), tgt.data(), N, V); };
    double mean = loss();
    // direct formula for row 0
    double s = 0;
    for (int64_t j = 0; j < V; j++) s += std::exp((double)logits[j]);
    EXPECT_NEAR(losses[0], std::log(s) - logits[3], 1e-5);
    EXPECT_EQ(losses[2], 0.0f);
    EXPECT_NEAR(mean, (losses[0] + losses[1] + losses[3]) / 3.0, 1e-6);
    std::vector<float> d(N * V);
    crossentropy_backward(d.data(), logits.data(), tgt.data(), N, V, 1.0f / 3.0f);
    fd_check("xent", logits, d, loss);
    // in-place (aliased) gives the same
    std::vector<float> alias = logits;
    crossentropy_backward(alias.data(), alias.data(), tgt.data(), N, V, 1.0f / 3.0f);
    for (size_t i = 0; i < d.size(); i++) EXPECT_FLOAT_EQ(alias[i], d[i]);
}

TEST(Layers, EmbeddingBackward) {
    const int64_t N = 5, C = 3, V = 4;
    auto table = randv(V * C, 21), R = randv(N * C, 22);
    std::vector<int32_t> ids = {1, 3, 1, 0, 1};
    std::vector<float> out(N * C);
    auto loss = [&] {
        embedding_forward(out.data(), ids.data(), table.data(), N, C);
        return dotd(out, R);
    };
    loss();
    std::vector<float> dt(V * C, 0.f);
    embedding_backward(dt.data(), R.data(), ids.data(), N, C);
    fd_check("embedding", table, dt, loss);
    for (int64_t c = 0; c < C; c++) EXPECT_EQ(dt[2 * C + c], 0.0f);  // unused row
}

TEST(Layers, FastExpPathsMatchDoublePrecision) {
    // GELU over [-12, 12] against the double formula; cross-entropy of wide-range logits against log-sum-exp
    std::vector<float> x, y;
    for (int i = -1200; i <= 1200; i++) x.push_back(i * 0.01f);
    y.resize(x.size());
    gelu_forward(y.data(), x.data(), (int64_t)x.size());
    for (size_t i = 0; i < x.size(); i++) {
        double v = x[i], ref = 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
        ASSERT_NEAR(y[i], ref, 1e-6 + 1e-6 * std::fabs(ref)) << "x = " << v;
    }
    const int64_t V = 1000;
    auto logits = randv(V, 30, 8.0f);
    int32_t tgt = 17;
    float loss;
    crossentropy_forward(&loss, logits.data(), &tgt, 1, V);
    double mx = -1e30, s = 0;
    for (float l : logits) mx = std::max(mx, (double)l);
    for (float l : logits) s += std::exp((double)l - mx);
    EXPECT_NEAR(loss, std::log(s) + mx - logits[17], 1e-5);
    std::vector<float> d(V);
    crossentropy_backward(d.data(), logits.data(), &tgt, 1, V, 1.0f);
    double sum = 0;
    for (int64_t j = 0; j < V; j++) {
        double p = std::exp((double)logits[j] - mx) / s;
        ASSERT_NEAR(d[j], p - (j == 17), 1e-6);
        sum += d[j];
    }
    EXPECT_NEAR(sum, 0.0, 1e-5);
}

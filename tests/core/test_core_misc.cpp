// test_core_misc.cpp: the smaller core pieces: gemm against the reference for every transpose combination
// and awkward sizes, learning-rate schedules, float16/bfloat16 conversions
// (exhaustive over all 65536 bit patterns), shapes / ParamSet and the checked-arithmetic helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../test_util.h"
#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/core/rng.h"
#include "unfold/core/schedule.h"
#include "unfold/core/tensor.h"

using namespace unfold;
using unfold_test::error_of;

// ------------------------------------------------------------------------------------------- gemm

TEST(Gemm, ReferenceOnAHandExample) {
    // [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50]
    float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4] = {1, 1, 1, 1};
    gemm_reference(false, false, 2, 2, 2, 2.0f, A, 2, B, 2, 0.5f, C, 2);
    EXPECT_EQ(std::vector<float>(C, C + 4), (std::vector<float>{38.5f, 44.5f, 86.5f, 100.5f}));
    float D[4];
    gemm_reference(true, true, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, D, 2);  // A^T B^T = (BA)^T
    EXPECT_EQ(std::vector<float>(D, D + 4), (std::vector<float>{23, 31, 34, 46}));
}

TEST(Gemm, MatchesReferenceAllTransposesOddSizes) {
    Rng rng(17);
    int cases = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int64_t M : {1, 3, 17, 70})
                for (int64_t N : {1, 5, 33})
                    for (int64_t K : {1, 7, 129}) {
                        // stored shapes: op(A) is MxK, op(B) is KxN; padded row strides
                        int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                        int64_t lda = ac + 3, ldb = bc + 1, ldc = N + 2;
                        std::vector<float> A(ar * lda), B(br * ldb), C0(M * ldc);
                        for (auto& x : A) x = (float)rng.normal();
                        for (auto& x : B) x = (float)rng.normal();
                        for (auto& x : C0) x = (float)rng.normal();
                        std::vector<float> C = C0, R = C0;
                        gemm(ta, tb, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, 0.3f, C.data(), ldc);
                        gemm_reference(ta, tb, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, 0.3f, R.data(), ldc);
                        double worst = 0;
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t j = 0; j < ldc; j++) {
                                size_t k = (size_t)(i * ldc + j);
                                if (j >= N) {
                                    ASSERT_EQ(C[k], C0[k]) << "padding column written";
                                } else {
                                    worst = std::max(worst, (double)std::fabs(C[k] - R[k]));
                                }
                            }
                        EXPECT_LT(worst, 2e-6 * std::sqrt((double)K) * 4)
                            << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K;
                        cases++;
                    }
    EXPECT_EQ(cases, 4 * 4 * 3 * 3);
}

TEST(Gemm, ContiguousHelpersAndBetaZeroIgnoresC) {
    const int64_t M = 9, K = 13, N = 6;
    std::vector<float> A(M * K), B(K * N), Bt(N * K), At(K * M);
    Rng rng(3);
    for (auto& x : A) x = (float)rng.normal();
    for (auto& x : B) x = (float)rng.normal();
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) Bt[j * K + k] = B[k * N + j];
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) At[k * M + i] = A[i * K + k];
    std::vector<float> R(M * N);
    gemm_reference(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, R.data(), N);
    std::vector<float> C1(M * N, NAN), C2(M * N, NAN), C3(M * N, NAN);  // beta 0: C must not be read
    matmul(C1.data(), A.data(), B.data(), M, K, N);
    matmul_bt(C2.data(), A.data(), Bt.data(), M, K, N);
    matmul_at(C3.data(), At.data(), B.data(), M, K, N);
    for (int64_t i = 0; i < M * N; i++) {
        EXPECT_NEAR(C1[i], R[i], 1e-5);
        EXPECT_NEAR(C2[i], R[i], 1e-5);
        EXPECT_NEAR(C3[i], R[i], 1e-5);
    }
    // beta 1 accumulates
    matmul(C1.data(), A.data(), B.data(), M, K, N, 1.0f);
    for (int64_t i = 0; i < M * N; i++) EXPECT_NEAR(C1[i], 2 * R[i], 2e-5);
}

// -------------------------------------------------------------------------------------- schedules

TEST(Schedule, WarmupLinearCosine) {
    Schedule s;
    s.decay = DecayKind::LINEAR;
    s.warmup_steps = 10;
    s.total_steps = 110;
    s.final_frac = 0.1f;
    EXPECT_DOUBLE_EQ(s.factor(0), 0.1);  // (step+1)/warmup
    EXPECT_DOUBLE_EQ(s.factor(4), 0.5);
    EXPECT_DOUBLE_EQ(s.factor(9), 1.0);
    EXPECT_DOUBLE_EQ(s.factor(10), 1.0);
    EXPECT_NEAR(s.factor(60), 1.0 - 0.9 * 0.5, 1e-7);
    EXPECT_NEAR(s.factor(35), 1.0 - 0.9 * 0.25, 1e-7);
    EXPECT_NEAR(s.factor(110), 0.1, 1e-7);
    EXPECT_NEAR(s.factor(500), 0.1, 1e-7);  // clamped past the end

    s.decay = DecayKind::COSINE;
    EXPECT_DOUBLE_EQ(s.factor(3), 0.4);
    EXPECT_NEAR(s.factor(10), 1.0, 1e-12);
    EXPECT_NEAR(s.factor(35), 0.1 + 0.9 * (1 + std::cos(M_PI / 4)) / 2, 1e-7);
    EXPECT_NEAR(s.factor(60), 0.55, 1e-7);
    EXPECT_NEAR(s.factor(110), 0.1, 1e-7);
    // monotone non-increasing after warm-up
    for (int64_t t = 10; t < 110; t++) EXPECT_LE(s.factor(t + 1), s.factor(t) + 1e-12);

    Schedule c;  // constant, no warm-up
    c.total_steps = 5;
    for (int64_t t = 0; t < 10; t++) EXPECT_EQ(c.factor(t), 1.0);
    c.warmup_steps = 4;
    EXPECT_DOUBLE_EQ(c.factor(1), 0.5);
    EXPECT_EQ(c.factor(7), 1.0);

    EXPECT_EQ(parse_decay("cosine"), DecayKind::COSINE);
    EXPECT_EQ(std::string(decay_name(DecayKind::LINEAR)), "linear");
    EXPECT_NE(error_of([] { parse_decay("exp"); }).find("unknown schedule 'exp'"), std::string::npos);
}

// ------------------------------------------------------------------------------------ half floats

// Independent decoding of a float16 bit pattern (sign, exponent, mantissa) in double.
static double f16_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? std::ldexp((double)m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
    if (e == 31) v = m ? NAN : INFINITY;
    return s ? -v : v;
}

TEST(Half, F16ExhaustiveRoundTrip) {
    int nans = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        double want = f16_value((uint16_t)h);
        if (std::isnan(want)) {
            ASSERT_TRUE(std::isnan(f)) << h;
            EXPECT_EQ(std::signbit(f), (h >> 15) != 0);
            uint16_t back = f32_to_f16(f);
            EXPECT_EQ(back & 0x7C00, 0x7C00);  // still a NaN after the round trip
            EXPECT_NE(back & 0x3FF, 0);
            nans++;
            continue;
        }
        ASSERT_EQ((double)f, want) << "decode of " << h;
        ASSERT_EQ(f32_to_f16(f), (uint16_t)h) << "round trip of " << h;  // includes -0, subnormals, inf
    }
    EXPECT_EQ(nans, 2 * 1023);
}

TEST(Half, F16RoundsToNearestEven) {
    // exhaustive check of nearest-even on random floats across the whole float16 range
    Rng rng(8);
    for (int i = 0; i < 200000; i++) {
        float x = (float)((rng.uniform_double() * 2 - 1) * std::ldexp(1.0, (int)rng.below(44) - 26));
        uint16_t h = f32_to_f16(x);
        double v = f16_value(h), err = std::fabs((double)x - v);
        if (std::isinf(v)) {
            ASSERT_GE(std::fabs(x), 65520.0f) << x;
            continue;
        }
        uint16_t up = (uint16_t)(h + 1), dn = (uint16_t)(h - 1);
        if ((up & 0x7C00) != 0x7C00) {
            ASSERT_LE(err, std::fabs((double)x - f16_value(up))) << x;
        }
        if ((h & 0x7FFF) != 0) {
            ASSERT_LE(err, std::fabs((double)x - f16_value(dn))) << x;
        }
    }
    // ties go to the even mantissa
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // halfway 1 and 1+2^-10 -> 1
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // halfway -> even (up)
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);             // halfway 0 and min subnormal -> 0
    EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
    EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 x min subnormal: tie -> even (2)
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
    EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // rounds to infinity
    EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
    EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

TEST(Half, BF16ExhaustiveAndRounding) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_f32((uint16_t)h);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        ASSERT_EQ(bits, h << 16);
        if (std::isnan(f)) {
            ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f))));
        } else {
            ASSERT_EQ(f32_to_bf16(f), (uint16_t)h) << h;
        }
    }
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even (down)
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);  // above tie
    EXPECT_EQ(f32_to_bf16(3.4028235e38f), 0x7F80);                                         // FLT_MAX -> inf
    // a NaN whose payload lives only in the low 16 bits stays a NaN (truncation would give inf)
    uint32_t nanbits = 0x7F800001;
    float qn;
    std::memcpy(&qn, &nanbits, 4);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(qn))));
    Rng rng(2);
    for (int i = 0; i < 100000; i++) {
        float x = (float)(rng.normal() * 1000.0);
        double v = bf16_to_f32(f32_to_bf16(x));
        ASSERT_LE(std::fabs(v - x), std::fabs(x) * std::ldexp(1.0, -8)) << x;  // half an ulp at 8 bits
    }
}

// -------------------------------------------------------------------------------- tensors, errors

TEST(CoreMisc, ShapesParamSetAndCheckedMath) {
    EXPECT_EQ(shape_numel({3, 4, 5}), 60);
    EXPECT_EQ(shape_numel({}), 1);
    EXPECT_EQ(shape_numel({3, 0}), 0);
    EXPECT_EQ(shape_str({3, 4}), "[3,4]");
    EXPECT_EQ(shape_str({}), "[]");
    Tensor t({2, 3}, 1.5f);
    EXPECT_EQ(t.numel(), 6);
    EXPECT_EQ(t.dim(-1), 3);
    EXPECT_EQ(t[5], 1.5f);

    ParamSet ps;
    ps.add("W", {4, 3});
    ps.add("b", {3});
    ps.finalize();
    EXPECT_EQ(ps.size(), 15u);
    EXPECT_EQ(ps.view("b").offset, 12u);
    ps.get("b")[1] = 2.0f;
    EXPECT_EQ(ps.data[13], 2.0f);
    ps.grad_of("W")[0] = 5.0f;
    EXPECT_EQ(ps.grad[0], 5.0f);
    ps.zero_grad();
    EXPECT_EQ(ps.grad[0], 0.0f);
    EXPECT_TRUE(ps.has("W"));
    EXPECT_FALSE(ps.has("V"));
    EXPECT_EQ(error_of([&] { ps.view("V"); }), "no parameter named 'V'");

    EXPECT_EQ(mul_checked(1ull << 31, 1ull << 31, "x"), 1ull << 62);
    EXPECT_EQ(error_of([] { mul_checked(1ull << 40, 1ull << 40, "f.bin: shape"); }).rfind("f.bin: shape: size overflow", 0),
              0u);
    EXPECT_NE(error_of([] { add_checked(~0ull, 1, "f.bin"); }).find("size overflow"), std::string::npos);
    EXPECT_EQ(strformat("%s=%d", "a", 3), "a=3");
    EXPECT_EQ(error_of([] { fail("x %d", 5); }), "x 5");
}

// test_gemm_bf16.cpp: the bf16 inference product against a double-precision reference on the same
// bf16-rounded inputs, for both kernels (AVX512-BF16 where the CPU has it, and the portable one), awkward
// shapes (row blocks of 12, panels of 32, odd K), biases, row strides, thread-count invariance, and the
// precision cost against float32.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../test_util.h"
#include "unfold/core/blas.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/core/gemm_bf16.h"
#include "unfold/core/half.h"
#include "unfold/core/rng.h"

using namespace unfold;

static std::vector<float> normal(int64_t n, uint64_t stream, float std = 1.0f) {
    std::vector<float> v((size_t)n);
    rng_fill_normal(v.data(), n, 7, stream, 0, 0.0f, std);
    return v;
}

static float bf(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// Restores the automatic kernel choice when a test ends.
struct KernelChoice {
    explicit KernelChoice(bool portable) { gemm_bf16_force_portable(portable); }
    ~KernelChoice() { gemm_bf16_force_portable(false); }
};

static std::vector<bool> kernels() {
    std::vector<bool> k = {true};  // portable always
    if (gemm_bf16_native_available()) k.push_back(false);
    return k;
}

TEST(GemmBf16, PackedLayoutHoldsEveryRoundedWeightAndZeroPadding) {
    const int64_t K = 7, N = 37;  // odd K (a half-empty last pair), two panels (one partial)
    for (bool nk : {false, true}) {
        auto W = normal(K * N, nk ? 2 : 1);
        PackedBf16 P;
        pack_bf16(P, W.data(), K, N, nk);
        EXPECT_EQ(P.kpairs, 4);
        EXPECT_EQ(P.panels, 2);
        ASSERT_EQ(P.data.size(), (size_t)(2 * 4 * 32 * 2));
        size_t nonzero = 0;
        for (uint16_t v : P.data) nonzero += (v & 0x7FFF) != 0;
        EXPECT_EQ(nonzero, (size_t)(K * N));  // padding is zero, nothing lost
        for (int64_t k = 0; k < K; k++)
            for (int64_t n = 0; n < N; n++)
                ASSERT_EQ(P.at(k, n), f32_to_bf16(nk ? W[n * K + k] : W[k * N + n])) << k << "," << n;
    }
}

TEST(GemmBf16, MatchesDoubleReferenceOnRoundedInputs) {
    struct Case {
        int64_t M, K, N;
    };
    const Case cases[] = {{1, 1, 1}, {1, 64, 100}, {5, 2, 31}, {12, 33, 32}, {13, 7, 33}, {25, 769, 65}, {100, 96, 130}};
    for (bool portable : kernels()) {
        KernelChoice kc(portable);
        for (const Case& cs : cases)
            for (bool nk : {false, true})
                for (bool with_bias : {false, true}) {
                    const int64_t M = cs.M, K = cs.K, N = cs.N, lda = K + 3, ldc = N + 5;
                    auto A = normal(M * lda, 10 + (uint64_t)K);
                    auto W = normal(K * N, 20 + (uint64_t)N, 0.5f);
                    auto bias = normal(N, 30);
                    PackedBf16 P;
                    pack_bf16(P, W.data(), K, N, nk);
                    std::vector<float> C((size_t)(M * ldc), 123.0f);
                    gemm_bf16(C.data(), ldc, A.data(), lda, M, P, with_bias ? bias.data() : nullptr);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < ldc; j++) {
                            float got = C[(size_t)(i * ldc + j)];
                            if (j >= N) {  // beyond N: untouched
                                ASSERT_EQ(got, 123.0f);
                                continue;
                            }
                            double ref = with_bias ? bias[(size_t)j] : 0.0, mag = std::fabs(ref);
                            for (int64_t k = 0; k < K; k++) {
                                double p = (double)bf(A[(size_t)(i * lda + k)]) *
                                           (double)bf(nk ? W[(size_t)(j * K + k)] : W[(size_t)(k * N + j)]);
                                ref += p;
                                mag += std::fabs(p);
                            }
                            // float32 accumulation of exact products: at most ~K roundings of 2^-24
                            double tol = (double)(K + 2) * 6e-8 * mag + 1e-30;
                            ASSERT_NEAR(got, ref, tol) << (portable ? "portable" : "native") << " M" << M << " K" << K
                                                       << " N" << N << " at " << i << "," << j;
                        }
                }
    }
}

TEST(GemmBf16, ResultDoesNotDependOnThreadCount) {
    const int64_t M = 97, K = 300, N = 200;
    auto A = normal(M * K, 40);
    auto W = normal(K * N, 41);
    PackedBf16 P;
    pack_bf16(P, W.data(), K, N, false);
    std::vector<float> c1((size_t)(M * N)), c2((size_t)(M * N));
    int before = get_num_threads();
    set_num_threads(1);
    gemm_bf16(c1.data(), N, A.data(), K, M, P);
    set_num_threads(2);
    gemm_bf16(c2.data(), N, A.data(), K, M, P);
    set_num_threads(before);
    EXPECT_EQ(c1, c2);
}

TEST(GemmBf16, CostsAboutBf16RoundingAgainstFloat32) {
    // Relative Frobenius error of a bf16 product against float32 sgemm on unit-normal data: the inputs'
    // rounding (2^-9 relative, half of it on average per factor) averaged over K, i.e. a few 1e-3.
    const int64_t M = 64, K = 512, N = 96;
    auto A = normal(M * K, 50);
    auto W = normal(K * N, 51);
    PackedBf16 P;
    pack_bf16(P, W.data(), K, N, false);
    std::vector<float> c((size_t)(M * N)), r((size_t)(M * N));
    gemm_bf16(c.data(), N, A.data(), K, M, P);
    matmul(r.data(), A.data(), W.data(), M, K, N);
    const double rel = unfold_test::rel_frobenius(c, r);
    EXPECT_LT(rel, 6e-3);
    EXPECT_GT(rel, 1e-4);  // it is a bf16 product, not a float32 one
}

TEST(GemmBf16, EmptyShapesAndBadStrides) {
    auto W = normal(6, 60);
    PackedBf16 P;
    pack_bf16(P, W.data(), 2, 3, false);
    float C[6] = {9, 9, 9, 9, 9, 9};
    float A[4] = {1, 2, 3, 4};
    gemm_bf16(C, 3, A, 2, 0, P);  // no rows: nothing written
    EXPECT_EQ(C[0], 9.0f);
    PackedBf16 P0;  // K = 0: C = bias
    pack_bf16(P0, W.data(), 0, 3, false);
    float bias[3] = {1.5f, -2.0f, 0.25f};
    gemm_bf16(C, 3, A, 0, 2, P0, bias);
    EXPECT_EQ(std::vector<float>(C, C + 6), (std::vector<float>{1.5f, -2.0f, 0.25f, 1.5f, -2.0f, 0.25f}));
    EXPECT_THROW(gemm_bf16(C, 2, A, 2, 2, P), Error);  // ldc < N
    EXPECT_THROW(gemm_bf16(C, 3, A, 1, 2, P), Error);  // lda < K
    EXPECT_THROW(P.at(2, 0), Error);
}

TEST(GemmBf16, NamesTheKernelInUse) {
    {
        KernelChoice kc(true);
        EXPECT_STREQ(gemm_bf16_kernel_name(), "portable");
    }
    EXPECT_STREQ(gemm_bf16_kernel_name(), gemm_bf16_native_available() ? "avx512-bf16" : "portable");
}

// test_gemm_bf16.cpp: the bf16 inference product against a double-precision reference on the same
// bf16-rounded inputs, at every kernel level this CPU runs (portable; avx2 / avx512 with the AVX2 kernel for
// M <= 16 and widened sgemm above; avx512-bf16), awkward shapes (row blocks of 12, panels of 32, odd K),
// biases, row strides; the levels against each other (same bits portable vs avx2, twice the stated bound
// otherwise), thread-count and batch invariance, and the precision cost against float32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
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

// Every kernel level this CPU runs (portable always); each test runs at all of them.
static std::vector<KernelLevel> levels() {
    std::vector<KernelLevel> v;
    for (KernelLevel l : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512, KernelLevel::AVX512_BF16})
        if (kernel_level_supported(l)) v.push_back(l);
    return v;
}

// The bound every path keeps against the exact sum of the rounded inputs (gemm_bf16.h): float32
// accumulation of exact products, at most ~K roundings of 2^-24 of the sum of magnitudes.
static double sum_bound(int64_t K, double mag) { return (double)(K + 2) * 6e-8 * mag + 1e-30; }

struct Problem {
    int64_t M, K, N;
    std::vector<float> A, W, bias;
    PackedBf16 P;
    Problem(int64_t M_, int64_t K_, int64_t N_, uint64_t seed) : M(M_), K(K_), N(N_) {
        A = normal(M * K, seed);
        W = normal(K * N, seed + 1, 0.5f);
        bias = normal(N, seed + 2);
        pack_bf16(P, W.data(), K, N, false);
    }
    std::vector<float> run(KernelLevel l, bool with_bias = true) const {
        std::vector<float> C((size_t)(M * N));
        gemm_bf16(C.data(), N, A.data(), K, M, P, with_bias ? bias.data() : nullptr, l);
        return C;
    }
    double magnitude(int64_t i, int64_t j) const {  // |bias| + sum_k |A_ik W_kj| on the rounded inputs
        double mag = std::fabs(bias[(size_t)j]);
        for (int64_t k = 0; k < K; k++) mag += std::fabs((double)bf(A[(size_t)(i * K + k)]) * bf(W[(size_t)(k * N + j)]));
        return mag;
    }
};

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
    // M <= 16 and above: the avx2 levels run their kernel on the first, widen to sgemm on the others
    const Case cases[] = {{1, 1, 1},   {1, 64, 100}, {5, 2, 31},    {12, 33, 32},   {13, 7, 33},
                          {16, 9, 40}, {17, 9, 40},  {25, 769, 65}, {100, 96, 130}, {40, 1, 3}};
    for (KernelLevel level : levels()) {
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
                    gemm_bf16(C.data(), ldc, A.data(), lda, M, P, with_bias ? bias.data() : nullptr, level);
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
                            ASSERT_NEAR(got, ref, sum_bound(K, mag))
                                << gemm_bf16_path(M, level) << " M" << M << " K" << K << " N" << N << " at " << i << ","
                                << j;
                        }
                }
    }
}

TEST(GemmBf16, ResultDoesNotDependOnThreadCount) {
    // the kernels (portable, avx2, avx512-bf16) exactly; the sgemm path is OpenBLAS's, within the bound
    for (int64_t M : {5, 97}) {
        const Problem pr(M, 300, 200, 40);
        for (KernelLevel level : levels()) {
            int before = get_num_threads();
            set_num_threads(1);
            auto c1 = pr.run(level);
            set_num_threads(2);
            auto c2 = pr.run(level);
            set_num_threads(before);
            const std::string path = gemm_bf16_path(M, level);
            if (path != "sgemm") {
                EXPECT_EQ(c1, c2) << path << " M" << M;
                continue;
            }
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < pr.N; j++)
                    ASSERT_NEAR(c1[(size_t)(i * pr.N + j)], c2[(size_t)(i * pr.N + j)], 2 * sum_bound(pr.K, pr.magnitude(i, j)))
                        << path << " at " << i << "," << j;
        }
    }
}

TEST(GemmBf16, PortableAndAvx2KernelGiveTheSameBits) {
    // both add acc + a_hi*b_hi + a_lo*b_lo per k-pair in k order, and every bf16 product is exact in float32
    if (!kernel_level_supported(KernelLevel::AVX2)) GTEST_SKIP() << "no AVX2 on this CPU";
    for (int64_t M = 1; M <= kGemmBf16SmallRows; M++) {
        const Problem pr(M, 257, 77, 100 + (uint64_t)M);  // odd K, a partial panel
        ASSERT_STREQ(gemm_bf16_path(M, KernelLevel::AVX2), "avx2");
        EXPECT_EQ(pr.run(KernelLevel::AVX2), pr.run(KernelLevel::PORTABLE)) << "M" << M;
    }
}

TEST(GemmBf16, LevelsAgreeWithinTwiceTheStatedBound) {
    // each level is within sum_bound of the exact sum, so two are within twice it; a level that summed
    // wrongly (a dropped k-pair, a misplaced column) would be off by O(1) of the magnitude
    for (int64_t M : {1, 4, 64}) {
        const Problem pr(M, 768, 96, 200 + (uint64_t)M);
        const auto ref = pr.run(KernelLevel::PORTABLE);
        for (KernelLevel level : levels()) {
            const auto got = pr.run(level);
            size_t same = 0;
            double worst = 0;  // in units of the bound
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < pr.N; j++) {
                    const size_t e = (size_t)(i * pr.N + j);
                    same += got[e] == ref[e];
                    worst = std::max(worst, std::fabs((double)got[e] - ref[e]) / sum_bound(pr.K, pr.magnitude(i, j)));
                }
            printf("M %3lld %-12s (%s): %zu of %zu elements equal the portable ones, worst difference %.3f of the bound\n",
                   (long long)M, kernel_level_name(level), gemm_bf16_path(M, level), same, got.size(), worst);
            EXPECT_LE(worst, 2.0) << kernel_level_name(level) << " M" << M;
        }
    }
}

TEST(GemmBf16, ARowGivesTheSameBitsAloneAndInABatch) {
    // kernel paths compute each row on its own; at the avx2 levels only batches of <= 16 rows stay on the kernel
    const Problem pr(kGemmBf16SmallRows, 200, 70, 300);
    const Problem one(1, 200, 70, 300);  // its A is the first row of pr's (same stream, same seed)
    ASSERT_TRUE(std::equal(one.A.begin(), one.A.end(), pr.A.begin()));
    for (KernelLevel level : levels()) {
        const auto batch = pr.run(level), alone = one.run(level);
        EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin())) << kernel_level_name(level);
    }
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
    matmul(r.data(), A.data(), W.data(), M, K, N);
    for (int64_t rows : {int64_t(4), M})  // the avx2 levels: their kernel, then sgemm on widened weights
        for (KernelLevel level : levels()) {
            gemm_bf16(c.data(), N, A.data(), K, rows, P, nullptr, level);
            std::vector<float> cr(c.begin(), c.begin() + rows * N), rr(r.begin(), r.begin() + rows * N);
            const double rel = unfold_test::rel_frobenius(cr, rr);
            EXPECT_LT(rel, 6e-3) << gemm_bf16_path(rows, level);
            EXPECT_GT(rel, 1e-4) << gemm_bf16_path(rows, level);  // it is a bf16 product, not a float32 one
        }
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

TEST(GemmBf16, NamesThePathOfEachLevelAndRowCount) {
    EXPECT_STREQ(gemm_bf16_path(1, KernelLevel::PORTABLE), "portable");
    EXPECT_STREQ(gemm_bf16_path(1000, KernelLevel::PORTABLE), "portable");
    for (KernelLevel l : {KernelLevel::AVX2, KernelLevel::AVX512}) {
        if (!kernel_level_supported(l)) continue;
        EXPECT_STREQ(gemm_bf16_path(1, l), "avx2");
        EXPECT_STREQ(gemm_bf16_path(kGemmBf16SmallRows, l), "avx2");
        EXPECT_STREQ(gemm_bf16_path(kGemmBf16SmallRows + 1, l), "sgemm");
    }
    if (kernel_level_supported(KernelLevel::AVX512_BF16)) {
        EXPECT_STREQ(gemm_bf16_path(1, KernelLevel::AVX512_BF16), "avx512-bf16");
        EXPECT_STREQ(gemm_bf16_path(1000, KernelLevel::AVX512_BF16), "avx512-bf16");
    }
    // a level above the CPU's runs as the CPU's best
    EXPECT_STREQ(gemm_bf16_path(1000, KernelLevel::AVX512_BF16), gemm_bf16_path(1000, cpu_kernel_level()));
    // the default is kernel_level() (UNFOLD_KERNELS caps it)
    EXPECT_STREQ(gemm_bf16_path(3), gemm_bf16_path(3, kernel_level()));
}

// bench_blas_rows.cpp: is this machine's sgemm row-invariant? For the product shapes of the stories260K
// forward, a matrix whose second half repeats its first half is multiplied once, and the program counts the
// output rows where the two copies differ, and how far. OpenBLAS chooses its kernel by CPU at load time
// (OPENBLAS_CORETYPE overrides it): its AVX2 "Haswell" kernel, which Zen 3 and every Haswell-class CPU run,
// gives equal rows different last bits depending on their position in its register tile; the AVX-512 kernels
// happen not to. This is why unfold's tests compare batched float32 rows within a bound (tests/lm/test_stories.cpp).
//
// Usage: OPENBLAS_CORETYPE=Haswell build/bench/bench_blas_rows     (one JSON line per shape)
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "unfold/core/rng.h"

int main() {
    unfold::Rng rng(1, 0);
    struct Shape {
        const char* name;
        int M, K, N;
        bool trans_b;
    };
    const Shape shapes[] = {{"qkv", 64, 64, 64, true}, {"w1", 64, 64, 172, true}, {"w2", 64, 172, 64, true},
                            {"unembed", 64, 64, 512, true}, {"conv1d", 64, 64, 192, false}};
    for (const Shape& s : shapes) {
        std::vector<float> A((size_t)2 * s.M * s.K), W((size_t)s.K * s.N), C((size_t)2 * s.M * s.N);
        for (auto& x : A) x = rng.normal();
        for (auto& x : W) x = rng.normal();
        std::memcpy(A.data() + (size_t)s.M * s.K, A.data(), sizeof(float) * s.M * s.K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, 2 * s.M, s.N, s.K, 1.0f,
                    A.data(), s.K, W.data(), s.trans_b ? s.K : s.N, 0.0f, C.data(), s.N);
        int rows = 0;
        double worst = 0, largest = 0;
        for (int r = 0; r < s.M; r++) {
            bool differs = false;
            for (int j = 0; j < s.N; j++) {
                float a = C[(size_t)r * s.N + j], b = C[(size_t)(s.M + r) * s.N + j];
                if (a != b) differs = true;
                worst = std::fmax(worst, std::fabs((double)a - b));
                largest = std::fmax(largest, std::fabs((double)a));
            }
            rows += differs;
        }
        std::printf("{\"shape\": \"%s\", \"M\": %d, \"K\": %d, \"N\": %d, \"rows_differing\": %d, "
                    "\"max_abs_diff\": %.3g, \"max_abs_value\": %.3g}\n",
                    s.name, 2 * s.M, s.K, s.N, rows, worst, largest);
    }
    return 0;
}

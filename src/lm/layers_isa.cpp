// layers_isa.cpp: forward and backward passes of the transformer layers declared in layers.h, except
// attention and rotary embeddings (attention.cpp). Loops are parallel over rows (or over columns for
// parameter-gradient sums), never with atomics, so every result is independent of the thread count. Big
// products go to BLAS (core/blas.h).
#include "unfold/lm/layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lm/layers_math.h"
#include "unfold/core/blas.h"
#include "unfold/core/error.h"

namespace unfold {
namespace UNFOLD_ISA {  // compiled once per kernel level (core/isa.h)

void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t n = 0; n < N; n++) std::memcpy(out + n * C, table + (int64_t)ids[n] * C, (size_t)C * sizeof(float));
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C) {
    // parallel over channel blocks: each thread owns a column range, rows visited in order
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
        int64_t c1 = c0 + 64 < C ? c0 + 64 : C;
        for (int64_t n = 0; n < N; n++) {
            float* d = dtable + (int64_t)ids[n] * C;
            const float* g = dout + n * C;
            for (int64_t c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

void position_forward(float* out, const float* wpe, int64_t B, int64_t T, int64_t pos0, int64_t C) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            std::memcpy(out + (b * T + t) * C, wpe + (pos0 + t) * C, (size_t)C * sizeof(float));
}

void position_backward(float* dwpe, const float* dout, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static) if(B * T * C >= kParallelWork)
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            const float* g = dout + (b * T + t) * C;
            float* d = dwpe + t * C;
            for (int64_t c = 0; c < C; c++) d[c] += g[c];
        }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b,
                       int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        double m = 0.0;
        for (int64_t c = 0; c < C; c++) m += x[c];
        m /= (double)C;
        double v = 0.0;
        for (int64_t c = 0; c < C; c++) v += ((double)x[c] - m) * ((double)x[c] - m);
        v /= (double)C;
        float s = (float)(1.0 / std::sqrt(v + (double)eps));
        float mf = (float)m;
        float* o = out + n * C;
        for (int64_t c = 0; c < C; c++) o[c] = (x[c] - mf) * s * w[c] + b[c];
        mean[n] = mf;
        rstd[n] = s;
    }
}

void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                        const float* mean, const float* rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        const float* g = dout + n * C;
        float m = mean[n], s = rstd[n];
        // dnorm = g * w; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
        double a = 0.0, bsum = 0.0;
        for (int64_t c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            float dn = g[c] * w[c];
            a += dn;
            bsum += (double)dn * norm;
        }
        float ma = (float)(a / (double)C), mb = (float)(bsum / (double)C);
        float* d = dinp + n * C;
        for (int64_t c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            d[c] += s * (g[c] * w[c] - ma - norm * mb);
        }
    }
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
        int64_t c1 = c0 + 32 < C ? c0 + 32 : C;
        for (int64_t n = 0; n < N; n++) {
            const float* x = inp + n * C;
            const float* g = dout + n * C;
            for (int64_t c = c0; c < c1; c++) {
                dw[c] += g[c] * (x[c] - mean[n]) * rstd[n];
                db[c] += g[c];
            }
        }
    }
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        double ss = 0.0;
        for (int64_t c = 0; c < C; c++) ss += (double)x[c] * x[c];
        float s = (float)(1.0 / std::sqrt(ss / (double)C + (double)eps));
        float* o = out + n * C;
        for (int64_t c = 0; c < C; c++) o[c] = x[c] * s * w[c];
        rstd[n] = s;
    }
}

void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w, const float* rstd,
                      int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = inp + n * C;
        const float* g = dout + n * C;
        float s = rstd[n];
        // y = x s w;  dx = s (g w) - x s^3 mean(g w x)
        double dot = 0.0;
        for (int64_t c = 0; c < C; c++) dot += (double)g[c] * w[c] * x[c];
        float k = (float)(dot / (double)C) * s * s * s;
        float* d = dinp + n * C;
        for (int64_t c = 0; c < C; c++) d[c] += s * g[c] * w[c] - x[c] * k;
    }
#pragma omp parallel for schedule(static) if(N * C >= kParallelWork)
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
        int64_t c1 = c0 + 32 < C ? c0 + 32 : C;
        for (int64_t n = 0; n < N; n++) {
            const float* x = inp + n * C;
            const float* g = dout + n * C;
            for (int64_t c = c0; c < c1; c++) dw[c] += g[c] * x[c] * rstd[n];
        }
    }
}

void linear_forward(float* out, int64_t ld_out, const float* inp, const float* W, const float* bias, int64_t N,
                    int64_t IC, int64_t OC, WLayout layout) {
    if (N == 1)  // one row (a generation step): a matrix-vector product, without gemm's packing of W
        gemv(layout == WLayout::IN_OUT, layout == WLayout::IN_OUT ? IC : OC, layout == WLayout::IN_OUT ? OC : IC, 1.0f,
             W, layout == WLayout::IN_OUT ? OC : IC, inp, 0.0f, out);
    else if (layout == WLayout::IN_OUT)
        gemm(false, false, N, OC, IC, 1.0f, inp, IC, W, OC, 0.0f, out, ld_out);
    else
        gemm(false, true, N, OC, IC, 1.0f, inp, IC, W, IC, 0.0f, out, ld_out);
    if (bias) {
#pragma omp parallel for schedule(static) if(N * OC >= kParallelWork)
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < OC; o++) out[n * ld_out + o] += bias[o];
    }
}

void linear_backward(float* dinp, float* dW, float* db, const float* dout, int64_t ld_out, const float* inp,
                     const float* W, int64_t N, int64_t IC, int64_t OC, WLayout layout) {
    if (layout == WLayout::IN_OUT) {
        if (dinp) gemm(false, true, N, IC, OC, 1.0f, dout, ld_out, W, OC, 1.0f, dinp, IC);  // dx += g W^T
        gemm(true, false, IC, OC, N, 1.0f, inp, IC, dout, ld_out, 1.0f, dW, OC);            // dW += x^T g
    } else {
        if (dinp) gemm(false, false, N, IC, OC, 1.0f, dout, ld_out, W, IC, 1.0f, dinp, IC);  // dx += g W
        gemm(true, false, OC, IC, N, 1.0f, dout, ld_out, inp, IC, 1.0f, dW, IC);             // dW += g^T x
    }
    if (db) {
#pragma omp parallel for schedule(static) if(N * OC >= kParallelWork)
        for (int64_t o0 = 0; o0 < OC; o0 += 32) {
            int64_t o1 = o0 + 32 < OC ? o0 + 32 : OC;
            for (int64_t n = 0; n < N; n++)
                for (int64_t o = o0; o < o1; o++) db[o] += dout[n * ld_out + o];
        }
    }
}

static const float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)

void gelu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if(n * 8 >= kParallelWork)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanh_fast(kGeluC * (x + 0.044715f * x * x * x)));
    }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
#pragma omp parallel for schedule(static) if(n * 8 >= kParallelWork)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = kGeluC * (x + 0.044715f * x * x * x);
        float th = tanh_fast(u);
        float sech2 = 1.0f - th * th;
        float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluC * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
}

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for simd schedule(static) if(n * 8 >= kParallelWork)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g * sigmoid_fast(g) * up[i];
    }
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static) if(n * 8 >= kParallelWork)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        float sig = sigmoid_fast(g);
        float silu = g * sig;
        dup[i] += dout[i] * silu;
        dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

double crossentropy_forward(float* losses, const float* logits, const int32_t* targets, int64_t N, int64_t V) {
#pragma omp parallel for schedule(static) if(N * V >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        if (targets[n] < 0) {
            losses[n] = 0.0f;
            continue;
        }
        const float* x = logits + n * V;
        float mx = -INFINITY;
        for (int64_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < V; j++) sum += exp_neg(x[j] - mx);
        losses[n] = (float)(std::log((double)sum) + mx - x[targets[n]]);
    }
    double tot = 0.0;
    int64_t cnt = 0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) {
            tot += losses[n];
            cnt++;
        }
    return cnt ? tot / (double)cnt : 0.0;
}

void crossentropy_backward(float* dlogits, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                           float scale) {
#pragma omp parallel for schedule(static) if(N * V >= kParallelWork)
    for (int64_t n = 0; n < N; n++) {
        const float* x = logits + n * V;
        float* d = dlogits + n * V;
        if (targets[n] < 0) {
            for (int64_t j = 0; j < V; j++) d[j] = 0.0f;
            continue;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < V; j++) {
            float e = exp_neg(x[j] - mx);
            d[j] = e;  // may overwrite x[j] when aliased: it is no longer read
            sum += e;
        }
        float inv = scale / sum;
        for (int64_t j = 0; j < V; j++) d[j] *= inv;
        d[targets[n]] -= scale;
    }
}

void residual_forward(float* out, const float* a, const float* b, int64_t n) {
#pragma omp parallel for schedule(static) if(n >= kParallelWork)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

}  // namespace UNFOLD_ISA
}  // namespace unfold

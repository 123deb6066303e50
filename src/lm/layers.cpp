// layers.cpp: forward and backward passes of the transformer layers declared in layers.h.
// Loops are parallel over rows (or over columns for parameter-gradient sums), never with atomics, so every
// result is independent of the thread count. Big products go to BLAS (core/blas.h).
#include "lm/layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/blas.h"
#include "core/error.h"

namespace unfold {

// Below this many scalar operations a loop runs on one thread: waking a team costs more than it saves,
// and far more on a loaded machine.
static const int64_t kParallelWork = 1 << 15;

// exp(x) for x <= 0 (softmax after subtracting the max), branch-free so loops over the vocabulary vectorise:
// x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor/Horner polynomial (relative error < 2e-7), times 2^n
// built in the exponent bits. Inputs below -87 flush to 0 (their share of a softmax is below 1e-38).
static inline float exp_neg(float x) {
    x = std::max(x, -87.0f);
    float n = std::floor(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 split in two parts for exact reduction
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// tanh from exp_neg: tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|); absolute error < 3e-7.
static inline float tanh_fast(float u) {
    float e = exp_neg(-2.0f * std::fabs(u));
    return std::copysign((1.0f - e) / (1.0f + e), u);  // branch-free, so the loops below vectorise
}

// logistic sigmoid from exp_neg on -|g| (never overflows), branch-free
static inline float sigmoid_fast(float g) {
    float e = exp_neg(-std::fabs(g));
    float r = 1.0f / (1.0f + e);
    return g >= 0.0f ? r : e * r;
}

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
    if (layout == WLayout::IN_OUT)
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

// Keys per block of the score loop and value dims per block of the mixing loop: 32 floats held in four
// 8-lane vectors (GCC vector extensions: AVX2 registers here, plain code elsewhere), so both inner loops
// run from registers.
static const int64_t kBlk = 32;
typedef float f32x8 __attribute__((vector_size(32)));
static inline f32x8 load8(const float* p) {
    f32x8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
// acc[0..32) += x * p[0..32)
struct Acc32 {
    f32x8 a0{}, a1{}, a2{}, a3{};
    void fma(float x, const float* p) {
        a0 += x * load8(p);
        a1 += x * load8(p + 8);
        a2 += x * load8(p + 16);
        a3 += x * load8(p + 24);
    }
    void store(float* out) const {  // all 32
        std::memcpy(out, &a0, 32);
        std::memcpy(out + 8, &a1, 32);
        std::memcpy(out + 16, &a2, 32);
        std::memcpy(out + 24, &a3, 32);
    }
};

void attention_pattern_forward(float* att, const float* q, const float* k, const AttnDims& d) {
    const float scale = 1.0f / std::sqrt((float)d.hs);
    const int64_t group = d.NH / d.KV;
    const int64_t nk = std::min(d.pos0 + d.T, d.S);       // keys any query of this call can see
    const int64_t Sp = (nk + kBlk - 1) / kBlk * kBlk;     // padded row length of the transposed keys
#pragma omp parallel if(d.B * d.NH * d.T * d.S * d.hs >= kParallelWork)
    {
        std::vector<float> kt((size_t)(d.hs * Sp), 0.0f);  // one head's keys transposed: [hs, Sp]
#pragma omp for collapse(2) schedule(static)
        for (int64_t b = 0; b < d.B; b++)
            for (int64_t h = 0; h < d.NH; h++) {
                const int64_t g = h / group;
                for (int64_t s = 0; s < nk; s++) {
                    const float* ks = k + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                    for (int64_t i = 0; i < d.hs; i++) kt[(size_t)(i * Sp + s)] = ks[i];
                }
                for (int64_t t = 0; t < d.T; t++) {
                    const float* qt = q + (b * d.T + t) * d.q_stride + h * d.hs;
                    float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                    const int64_t last = std::min(d.pos0 + t, d.S - 1);  // last visible key
                    // scores, kBlk keys at a time: sum_i q[i] kt[i, s] (kt past `last` is never stored)
                    for (int64_t s0 = 0; s0 <= last; s0 += kBlk) {
                        Acc32 a;
                        for (int64_t i = 0; i < d.hs; i++) a.fma(qt[i], kt.data() + i * Sp + s0);
                        float acc[kBlk];
                        a.store(acc);
                        const int64_t w = std::min(kBlk, last + 1 - s0);
                        for (int64_t j = 0; j < w; j++) row[s0 + j] = acc[j] * scale;
                    }
                    float mx = -INFINITY;
                    for (int64_t s = 0; s <= last; s++) mx = std::max(mx, row[s]);
                    for (int64_t s = 0; s <= last; s++) row[s] = exp_neg(row[s] - mx);
                    float sum = 0.0f;
                    for (int64_t s = 0; s <= last; s++) sum += row[s];
                    const float inv = 1.0f / sum;
                    for (int64_t s = 0; s <= last; s++) row[s] *= inv;
                    for (int64_t s = last + 1; s < d.S; s++) row[s] = 0.0f;
                }
            }
    }
}

void attention_values_forward(float* out, const float* att, const float* v, const AttnDims& d) {
    const int64_t group = d.NH / d.KV;
    const int64_t C = d.NH * d.hs;
#pragma omp parallel for collapse(2) schedule(static) if(d.B * d.NH * d.T * d.S * d.hs >= kParallelWork)
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.NH; h++) {
            const int64_t g = h / group;
            for (int64_t t = 0; t < d.T; t++) {
                const float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                float* o = out + (b * d.T + t) * C + h * d.hs;
                const int64_t last = std::min(d.pos0 + t, d.S - 1);
                const float* vb = v + b * d.kv_bstride + g * d.hs;
                // out[i] = sum_s att[s] v[s, i], kBlk dims at a time held in registers, s in order
                for (int64_t i0 = 0; i0 < d.hs; i0 += kBlk) {
                    if (i0 + kBlk <= d.hs) {
                        Acc32 a;
                        for (int64_t s = 0; s <= last; s++) a.fma(row[s], vb + s * d.kv_stride + i0);
                        a.store(o + i0);
                    } else {
                        float acc[kBlk] = {};
                        const int64_t w = d.hs - i0;
                        for (int64_t s = 0; s <= last; s++) {
                            const float p = row[s];
                            const float* vs = vb + s * d.kv_stride + i0;
                            for (int64_t j = 0; j < w; j++) acc[j] += p * vs[j];
                        }
                        for (int64_t j = 0; j < w; j++) o[i0 + j] = acc[j];
                    }
                }
            }
        }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q,
                        const float* k, const float* v, const AttnDims& d) {
    UNFOLD_ASSERT(d.pos0 == 0 && d.S == d.T);
    const float scale = 1.0f / std::sqrt((float)d.hs);
    const int64_t group = d.NH / d.KV;
    const int64_t C = d.NH * d.hs;
    // parallel over (batch, kv head): the query heads of a group write disjoint dq, and dk/dv of the
    // group are owned by this iteration alone.
#pragma omp parallel if(d.B * d.NH * d.T * d.T * d.hs >= kParallelWork)
    {
        std::vector<float> ds((size_t)d.T);
#pragma omp for collapse(2) schedule(static)
        for (int64_t b = 0; b < d.B; b++)
            for (int64_t g = 0; g < d.KV; g++)
                for (int64_t h = g * group; h < (g + 1) * group; h++)
                    for (int64_t t = 0; t < d.T; t++) {
                        const float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                        const float* go = dout + (b * d.T + t) * C + h * d.hs;
                        const float* qt = q + (b * d.T + t) * d.q_stride + h * d.hs;
                        float* dqt = dq + (b * d.T + t) * d.q_stride + h * d.hs;
                        // dp[s] = go . v[s];  dv[s] += p[s] go
                        float pdp = 0.0f;
                        for (int64_t s = 0; s <= t; s++) {
                            const float* vs = v + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float* dvs = dv + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float dp = 0.0f, p = row[s];
#pragma omp simd reduction(+ : dp)
                            for (int64_t i = 0; i < d.hs; i++) {
                                dp += go[i] * vs[i];
                                dvs[i] += p * go[i];
                            }
                            ds[s] = dp;
                            pdp += p * dp;
                        }
                        // softmax backward, then the score products
                        for (int64_t s = 0; s <= t; s++) {
                            float dsc = row[s] * (ds[s] - pdp) * scale;
                            const float* ks = k + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float* dks = dk + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            for (int64_t i = 0; i < d.hs; i++) {
                                dqt[i] += dsc * ks[i];
                                dks[i] += dsc * qt[i];
                            }
                        }
                    }
    }
}

static void rope_rotate(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                        float theta, float sign) {
    const int64_t half = hs / 2;
    std::vector<float> cs((size_t)(T * half)), sn((size_t)(T * half));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            // same arithmetic as llama2.c: freq in float, angle = pos * freq
            float freq = 1.0f / std::pow(theta, (float)(2 * i) / (float)hs);
            float ang = (float)(pos0 + t) * freq;
            cs[t * half + i] = std::cos(ang);
            sn[t * half + i] = sign * std::sin(ang);
        }
#pragma omp parallel for schedule(static) if(B * T * stride >= kParallelWork)
    for (int64_t n = 0; n < B * T; n++) {
        int64_t t = n % T;
        float* row = x + n * stride;
        for (int64_t h = 0; h < nheads; h++)
            for (int64_t i = 0; i < half; i++) {
                float c = cs[t * half + i], s = sn[t * half + i];
                float* p = row + h * hs + 2 * i;
                float a = p[0], b = p[1];
                p[0] = a * c - b * s;
                p[1] = a * s + b * c;
            }
    }
}

void rope_forward(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                  float theta) {
    rope_rotate(x, stride, B, T, pos0, nheads, hs, theta, 1.0f);
}

void rope_backward(float* dx, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                   float theta) {
    rope_rotate(dx, stride, B, T, pos0, nheads, hs, theta, -1.0f);
}

void rope_tables(float* cos_out, float* sin_out, int64_t n_pos, int64_t hs, float theta) {
    const int64_t half = hs / 2;
    for (int64_t t = 0; t < n_pos; t++)
        for (int64_t i = 0; i < half; i++) {
            float freq = 1.0f / std::pow(theta, (float)(2 * i) / (float)hs);
            float ang = (float)t * freq;
            cos_out[t * half + i] = std::cos(ang);
            sin_out[t * half + i] = std::sin(ang);
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

}  // namespace unfold

// sae_kernels.cpp: encoder product, per-row / per-batch top-k selection, sparse decoding and the sparse
// backward (only active latents are touched). See sae_kernels.h.
#include "sae/sae_kernels.h"

#include <algorithm>
#include <cstring>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"

namespace unfold {

void sae_encoder_pre(const Sae& sae, const float* x, int64_t B, float* xc, float* pre, bool add_bias) {
    const int64_t d = sae.d(), F = sae.F();
    const float* bd = sae.b_dec();
    const float* be = sae.b_enc();
    const bool sub = sae.cfg.apply_b_dec_to_input;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j = 0; j < d; j++) xc[b * d + j] = sub ? x[b * d + j] - bd[j] : x[b * d + j];
        if (add_bias) {
            float* p = pre + b * F;
            for (int64_t i = 0; i < F; i++) p[i] = be[i];
        }
    }
    matmul(pre, xc, sae.W_enc(), B, d, F, add_bias ? 1.0f : 0.0f);
}

// Selects the k largest of vals[0..n) (> 0 only), writing their positions sorted ascending.
static void select_row(const float* vals, int64_t n, int k, const int32_t* cand, int64_t ncand,
                       std::vector<std::pair<float, int32_t>>& heap, std::vector<int32_t>& out_idx) {
    heap.clear();
    out_idx.clear();
    if (k <= 0) return;
    auto consider = [&](int32_t i) {
        float v = vals[i];
        if (!(v > 0.0f)) return;
        if ((int)heap.size() < k) {
            heap.push_back({v, i});
            // keep sorted descending by value (insertion)
            for (size_t p = heap.size() - 1; p > 0 && heap[p].first > heap[p - 1].first; p--)
                std::swap(heap[p], heap[p - 1]);
        } else if (v > heap.back().first) {
            heap.back() = {v, i};
            for (size_t p = heap.size() - 1; p > 0 && heap[p].first > heap[p - 1].first; p--)
                std::swap(heap[p], heap[p - 1]);
        }
    };
    if (k <= 64) {
        if (cand) {
            for (int64_t c = 0; c < ncand; c++) consider(cand[c]);
        } else {
            // Blocks of 16: a vectorised max decides whether any value can enter the current top-k.
            int64_t i0 = 0;
            for (; i0 + 16 <= n; i0 += 16) {
                float m = vals[i0];
                for (int q = 1; q < 16; q++) m = std::max(m, vals[i0 + q]);
                const float thr = (int)heap.size() < k ? 0.0f : heap.back().first;
                if (m > thr)
                    for (int q = 0; q < 16; q++) consider((int32_t)(i0 + q));
            }
            for (; i0 < n; i0++) consider((int32_t)i0);
        }
    } else {
        int64_t m = cand ? ncand : n;
        for (int64_t c = 0; c < m; c++) {
            int32_t i = cand ? cand[c] : (int32_t)c;
            if (vals[i] > 0.0f) heap.push_back({vals[i], i});
        }
        if ((int64_t)heap.size() > k) {
            std::nth_element(heap.begin(), heap.begin() + (k - 1), heap.end(), [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            });
            heap.resize((size_t)k);
        }
    }
    for (auto& h : heap) out_idx.push_back(h.second);
    std::sort(out_idx.begin(), out_idx.end());
}

// Builds CSR codes from per-row index lists: val = pre[b, idx].
static void fill_codes(const float* pre, int64_t B, int64_t F, std::vector<std::vector<int32_t>>& rows,
                       SparseCodes& out) {
    out.rows = B;
    out.off.assign((size_t)B + 1, 0);
    for (int64_t b = 0; b < B; b++) out.off[b + 1] = out.off[b] + (int64_t)rows[b].size();
    out.idx.resize((size_t)out.off[B]);
    out.val.resize((size_t)out.off[B]);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        int64_t o = out.off[b];
        for (size_t p = 0; p < rows[b].size(); p++) {
            out.idx[o + p] = rows[b][p];
            out.val[o + p] = pre[b * F + rows[b][p]];
        }
    }
}

// Top-k of one row without a heap: the k-th largest of the 16-wide block maxima is a lower bound t on the
// row's k-th largest value (k blocks each hold a value >= t), so only values >= t can be selected; they
// are few, and an nth_element over them finishes the job. Two vectorisable passes over the row.
static void select_row_blocks(float* v, const float* bias, int64_t n, int k, std::vector<float>& bm, std::vector<float>& tmp,
                              std::vector<std::pair<float, int32_t>>& cand, std::vector<int32_t>& out) {
    const int64_t nb = n / 16;
    bm.resize((size_t)nb);
    for (int64_t b = 0; b < nb; b++) {  // bias add fused with the block maxima
        float* r = v + b * 16;
        if (bias)
            for (int q = 0; q < 16; q++) r[q] += bias[b * 16 + q];
        float m = r[0];
        for (int q = 1; q < 16; q++) m = std::max(m, r[q]);
        bm[b] = m;
    }
    if (bias)
        for (int64_t i = nb * 16; i < n; i++) v[i] += bias[i];
    tmp.assign(bm.begin(), bm.end());
    std::nth_element(tmp.begin(), tmp.begin() + (k - 1), tmp.end(), std::greater<float>());
    const float t = tmp[(size_t)(k - 1)];
    cand.clear();
    for (int64_t b = 0; b < nb; b++) {
        if (!(bm[b] >= t)) continue;
        for (int q = 0; q < 16; q++) {
            float x = v[b * 16 + q];
            if (x >= t && x > 0.0f) cand.push_back({x, (int32_t)(b * 16 + q)});
        }
    }
    for (int64_t i = nb * 16; i < n; i++)
        if (v[i] > 0.0f) cand.push_back({v[i], (int32_t)i});
    if ((int64_t)cand.size() > k) {
        std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), [](const auto& a, const auto& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        });
        cand.resize((size_t)k);
    }
    out.clear();
    for (auto& c : cand) out.push_back(c.second);
    std::sort(out.begin(), out.end());
}

// Top-k of one row in one pass (bias added in place): the k best so far stay sorted (value descending, ties:
// lower index first), and a 16-wide block is looked at element by element only when one of its values beats
// the current k-th (or 0 while fewer than k are positive) - after the first few blocks, almost never. Writes
// the selected positions ascending.
typedef float f32x4_sel __attribute__((vector_size(16)));  // SSE2 registers: this file is built for the baseline
typedef int32_t i32x4_sel __attribute__((vector_size(16)));
static void select_row_scan(float* v, const float* bias, int64_t n, int k, std::vector<std::pair<float, int32_t>>& top,
                            std::vector<int32_t>& out) {
    top.resize((size_t)k);
    int m = 0;
    float thr = 0.0f;
    auto insert = [&](float x, int32_t i) {
        int p = m < k ? m++ : k - 1;
        while (p > 0 && top[(size_t)p - 1].first < x) {
            top[(size_t)p] = top[(size_t)p - 1];
            p--;
        }
        top[(size_t)p] = {x, i};
        if (m == k) thr = top[(size_t)k - 1].first;
    };
    int64_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16) {
        float* r = v + i0;
        f32x4_sel x[4];
        std::memcpy(x, r, 64);
        if (bias) {
            f32x4_sel bb[4];
            std::memcpy(bb, bias + i0, 64);
            for (int q = 0; q < 4; q++) x[q] += bb[q];
            std::memcpy(r, x, 64);
        }
        const f32x4_sel t = {thr, thr, thr, thr};
        const i32x4_sel hit = (x[0] > t) | (x[1] > t) | (x[2] > t) | (x[3] > t);
        uint64_t u[2];
        std::memcpy(u, &hit, 16);
        if (!(u[0] | u[1])) continue;
        // the lanes that beat the threshold, as bits (the threshold may rise while they are inserted)
        uint32_t bits = 0;
        for (int q = 0; q < 4; q++) {
            const i32x4_sel h = x[q] > t;
            for (int l = 0; l < 4; l++) bits |= (uint32_t)(h[l] & 1) << (4 * q + l);
        }
        while (bits) {
            const int q = __builtin_ctz(bits);
            bits &= bits - 1;
            if (r[q] > thr) insert(r[q], (int32_t)(i0 + q));
        }
    }
    for (; i0 < n; i0++) {
        if (bias) v[i0] += bias[i0];
        if (v[i0] > thr) insert(v[i0], (int32_t)i0);
    }
    out.clear();
    for (int q = 0; q < m; q++) out.push_back(top[(size_t)q].second);
    std::sort(out.begin(), out.end());
}

void topk_rows(float* pre, int64_t B, int64_t F, int k, SparseCodes& out, const float* bias) {
    // each row writes at most k indices into its own slot, then one pass compacts them (no per-row vectors)
    std::vector<int32_t> slot((size_t)(B * std::max(k, 0)));
    std::vector<int64_t> cnt((size_t)B);
#pragma omp parallel
    {
        std::vector<std::pair<float, int32_t>> heap;
        std::vector<float> bm, tmp;
        std::vector<int32_t> idx;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            float* row = pre + b * F;
            if (k >= 1 && k <= 64) {
                select_row_scan(row, bias, F, k, heap, idx);
            } else if (k >= 1 && F / 16 >= k) {
                select_row_blocks(row, bias, F, k, bm, tmp, heap, idx);
            } else {
                if (bias)
                    for (int64_t i = 0; i < F; i++) row[i] += bias[i];
                select_row(row, F, k, nullptr, 0, heap, idx);
            }
            cnt[b] = (int64_t)idx.size();
            std::copy(idx.begin(), idx.end(), slot.begin() + b * k);
        }
    }
    out.rows = B;
    out.off.assign((size_t)B + 1, 0);
    for (int64_t b = 0; b < B; b++) out.off[b + 1] = out.off[b] + cnt[b];
    out.idx.resize((size_t)out.off[B]);
    out.val.resize((size_t)out.off[B]);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t q = 0; q < cnt[b]; q++) {
            const int32_t i = slot[b * k + q];
            out.idx[out.off[b] + q] = i;
            out.val[out.off[b] + q] = pre[b * F + i];
        }
}

void topk_rows_masked(const float* pre, int64_t B, int64_t F, int k, const uint8_t* dead, SparseCodes& out) {
    std::vector<int32_t> cand;
    for (int64_t i = 0; i < F; i++)
        if (dead[i]) cand.push_back((int32_t)i);
    std::vector<std::vector<int32_t>> rows((size_t)B);
#pragma omp parallel
    {
        std::vector<std::pair<float, int32_t>> heap;
        std::vector<int32_t> idx;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            select_row(pre + b * F, F, k, cand.data(), (int64_t)cand.size(), heap, idx);
            rows[b] = idx;
        }
    }
    fill_codes(pre, B, F, rows, out);
}

void threshold_rows(const float* pre, int64_t B, int64_t F, const float* th, float th_scalar, SparseCodes& out) {
    std::vector<std::vector<int32_t>> rows((size_t)B);
    const float ts = std::max(th_scalar, 0.0f);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const float* p = pre + b * F;
        auto& r = rows[b];
        for (int64_t i = 0; i < F; i++) {
            float t = th ? std::max(th[i], 0.0f) : ts;
            if (p[i] > t) r.push_back((int32_t)i);
        }
    }
    fill_codes(pre, B, F, rows, out);
}

static inline uint32_t fbits(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
}

float batch_topk(const float* pre, int64_t B, int64_t F, int64_t K, SparseCodes& out) {
    const int64_t N = B * F;
    // Positive floats order like their bit patterns: radix-select on the top 16 bits, then exactly within
    // the boundary bin.
    const int NB = 1 << 16;
    std::vector<int64_t> hist(NB, 0);
    int64_t npos = 0;
#pragma omp parallel
    {
        std::vector<int64_t> h(NB, 0);
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < N; i++) {
            float v = pre[i];
            if (v > 0.0f) h[fbits(v) >> 16]++;
        }
#pragma omp critical
        for (int i = 0; i < NB; i++) hist[i] += h[i];  // integer sums: order does not matter
    }
    for (int i = 0; i < NB; i++) npos += hist[i];
    uint32_t tbits = 1;  // keep everything > 0 by default
    if (npos > K && K > 0) {
        int64_t cum = 0;
        int bin = NB - 1;
        for (; bin >= 0; bin--) {
            if (cum + hist[bin] >= K) break;
            cum += hist[bin];
        }
        int64_t need = K - cum;  // how many to take from this bin (>= 1)
        std::vector<uint32_t> inbin;
        inbin.reserve((size_t)hist[bin]);
        for (int64_t i = 0; i < N; i++) {
            float v = pre[i];
            if (v > 0.0f && (int)(fbits(v) >> 16) == bin) inbin.push_back(fbits(v));
        }
        std::nth_element(inbin.begin(), inbin.begin() + (need - 1), inbin.end(), std::greater<uint32_t>());
        tbits = inbin[(size_t)(need - 1)];
    } else if (K <= 0) {
        tbits = 0xFFFFFFFFu;
    }
    std::vector<std::vector<int32_t>> rows((size_t)B);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const float* p = pre + b * F;
        for (int64_t i = 0; i < F; i++)
            if (p[i] > 0.0f && fbits(p[i]) >= tbits) rows[b].push_back((int32_t)i);
    }
    fill_codes(pre, B, F, rows, out);
    float mn = 0.0f;
    bool any = false;
    for (float v : out.val)
        if (!any || v < mn) {
            mn = v;
            any = true;
        }
    return mn;
}

void sparse_decode(const SparseCodes& c, const float* W_dec, const float* b_dec, int64_t d, float* xhat) {
    const int64_t B = c.rows;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float* o = xhat + b * d;
        if (b_dec)
            for (int64_t j = 0; j < d; j++) o[j] = b_dec[j];
        else
            for (int64_t j = 0; j < d; j++) o[j] = 0.0f;
        for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) {
            const float* w = W_dec + (int64_t)c.idx[p] * d;
            const float v = c.val[p];
            for (int64_t j = 0; j < d; j++) o[j] += v * w[j];
        }
    }
}

void sparse_backward(const SparseCodes& c, const float* dval, const float* dout, const float* xc, int64_t d,
                     int64_t F, float* dW_dec, float* Gt, double* colsum) {
    const int64_t B = c.rows;
    const int64_t nnz = c.off[B];
    // Group the entries by latent (counting sort, rows ascending within a latent: a fixed order).
    std::vector<int64_t> start((size_t)F + 1, 0);
    for (int64_t p = 0; p < nnz; p++) start[c.idx[p] + 1]++;
    for (int64_t i = 0; i < F; i++) start[i + 1] += start[i];
    std::vector<int64_t> pos(start.begin(), start.end() - 1);
    std::vector<int64_t> ent((size_t)nnz), row((size_t)nnz);
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) {
            int64_t q = pos[c.idx[p]]++;
            ent[q] = p;
            row[q] = b;
        }
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < F; i++) {
        if (start[i] == start[i + 1]) continue;
        float* gw = dW_dec + i * d;
        float* ge = Gt + i * d;
        double cs = 0;
        for (int64_t q = start[i]; q < start[i + 1]; q++) {
            const int64_t p = ent[q], b = row[q];
            const float v = c.val[p], dv = dval[p];
            const float* go = dout + b * d;
            const float* xr = xc + b * d;
            for (int64_t j = 0; j < d; j++) {
                gw[j] += v * go[j];
                ge[j] += dv * xr[j];
            }
            cs += dv;
        }
        colsum[i] += cs;
    }
}

}  // namespace unfold

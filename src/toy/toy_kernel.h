// toy_kernel.h: private to src/toy. The fused per-sample machinery shared by data.cpp and model.cpp:
// 8-lane float vectors (GCC vector extensions: AVX2 on x86-64-v3, portable elsewhere), the counter-based
// data hash, per-instance data tables, and the kernel workspace.
//
// Data draw for (seed, step_stream, inst, sample s, feature f):
//   key (64 bits) = Rng(seed, data stream of step_stream).split(inst).key  -> klo, khi (32 bits each)
//   c = s*n + f (32 bits);  u = hash32(c, klo, khi) (lowbias32-style mixer with the key folded in twice)
//   v = u >> 1 (31 bits);  present iff v <= thr_f, thr_f = floor(p_f 2^31) - 1 (p_f >= 1: always)
//   value = min(v / (thr_f + 1), 1 - 2^-24)  -- given presence, v is uniform on [0, thr_f], so the value is
//   U[0,1) and independent of presence: one hash gives both the Bernoulli(p) draw and the magnitude.
//   signed data: 2 value - 1.
#pragma once
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/isa.h"
#include "unfold/toy/toy.h"

namespace unfold {
namespace toyk {

// Explicitly 32-byte aligned: GCC otherwise aligns a vector type to at most the widest register of the
// target, 16 bytes for baseline x86-64 and 32 with AVX, and the baseline and AVX2 copies (core/isa.h) share
// these buffers.
typedef float v8f __attribute__((vector_size(32), aligned(32)));
typedef int32_t v8i __attribute__((vector_size(32), aligned(32)));
typedef uint32_t v8u __attribute__((vector_size(32), aligned(32)));
static_assert(alignof(v8f) == 32 && alignof(v8i) == 32 && alignof(v8u) == 32, "kernel vectors are 32-byte aligned");

// Buffers of vectors: GCC drops the alignment attribute of a typedef used as a template argument, so
// std::vector<v8f> would allocate 16-byte aligned storage in baseline code; this allocator always gives 32.
template <class T>
struct Align32Allocator {
    using value_type = T;
    Align32Allocator() = default;
    template <class U>
    Align32Allocator(const Align32Allocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(32))); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(32)); }
    template <class U>
    bool operator==(const Align32Allocator<U>&) const { return true; }
};
using VecBuf = std::vector<v8f, Align32Allocator<v8f>>;

constexpr int MAX_HIDDEN_VECS = 64;  // m <= 512
constexpr float ONE_MINUS = 0.99999994f;  // largest float below 1

// Inline helpers live in the per-level namespace (core/isa.h): each *_isa.cpp copy gets its own.
namespace UNFOLD_ISA {

inline int pad8(int x) { return (x + 7) / 8 * 8; }

inline v8f vzero() { return v8f{0, 0, 0, 0, 0, 0, 0, 0}; }
inline v8f vset1(float a) { return v8f{a, a, a, a, a, a, a, a}; }

// bit j set iff lane j of the mask (all-ones or zero lanes) is set
inline uint32_t movemask(v8i m) {
#if defined(__AVX__)
    return (uint32_t)_mm256_movemask_ps((__m256)m);
#else
    uint32_t r = 0;
    for (int j = 0; j < 8; j++) r |= (m[j] != 0 ? 1u : 0u) << j;
    return r;
#endif
}

// The mixer after the first multiply-add, for a scalar (uint32_t) or 8 lanes (v8u): u = mix(c * G + klo).
template <class T>
inline T hash32_mix(T v, uint32_t khi) {
    v ^= v >> 16;
    v *= 0x7FEB352Du;
    v ^= khi;
    v ^= v >> 15;
    v *= 0x846CA68Bu;
    v ^= v >> 16;
    return v;
}
constexpr uint32_t kHashMul = 0x9E3779B1u;
inline uint32_t hash32(uint32_t c, uint32_t klo, uint32_t khi) { return hash32_mix(c * kHashMul + klo, khi); }
inline v8u hash32v(v8u c, uint32_t klo, uint32_t khi) { return hash32_mix(c * kHashMul + klo, khi); }

// threshold and scale for presence probability p (see top of file)
inline int32_t density_threshold(float p) {
    if (!(p > 0.0f)) return -1;
    if (p >= 1.0f) return INT32_MAX;
    double t = (double)p * 2147483648.0;
    return (int32_t)t - 1;
}
inline float density_inv(int32_t thr) { return (float)(1.0 / ((double)thr + 1.0)); }
inline float value_of(uint32_t u, float inv) {
    float v = (float)(int32_t)(u >> 1) * inv;
    return v < ONE_MINUS ? v : ONE_MINUS;
}

}  // namespace UNFOLD_ISA
using namespace UNFOLD_ISA;

// 64-bit data key of (seed, step_stream, inst)
uint64_t data_key(uint64_t seed, uint64_t step_stream, int inst);

// Per-instance data tables (padded to n_pad = pad8(n) lanes; padded features never present).
struct InstData {
    std::vector<int32_t> thr;      // [n_pad]  presence threshold (thr of 2p for anticorrelated pair heads)
    std::vector<float> inv;        // [n_pad]
};

// Generates sample s of instance `inst` into xs[n_pad] (zero-padded) and the list of nonzero features
// into act (ascending); returns the count. vector path for UNIFORM/SIGNED without pairs.
struct DataGen {
    const ToyConfig* cfg = nullptr;
    int n = 0, n_pad = 0;
    bool vector_path = true;
    bool is_signed = false;
    std::vector<InstData> inst;  // [I]
    void init(const ToyConfig& c);
};

namespace UNFOLD_ISA {
// vector path (UNIFORM / SIGNED without pairs); NVT = n_pad / 8 when known at compile time, else 0
template <int NVT, bool WANT_ACT = true>
__attribute__((always_inline)) inline int gen_vec(const DataGen& g, int inst, uint32_t klo, uint32_t khi, uint32_t s,
                                                  float* xs, int* act) {
    const InstData& d = g.inst[inst];
    const int NV = NVT > 0 ? NVT : g.n_pad / 8;
    int na = 0;
    const v8u lane = v8u{0, 1, 2, 3, 4, 5, 6, 7};
    const uint32_t base = s * (uint32_t)g.n;
    for (int vb = 0; vb < NV; vb++) {
        v8u c = lane + (base + (uint32_t)(vb * 8));
        v8u u = hash32v(c, klo, khi);
        v8i vi = (v8i)(u >> 1);
        v8i thr;
        v8f inv;
        std::memcpy(&thr, &d.thr[vb * 8], 32);
        std::memcpy(&inv, &d.inv[vb * 8], 32);
        v8i present = vi <= thr;
        v8f val = __builtin_convertvector(vi, v8f) * inv;
        val = val < ONE_MINUS ? val : ONE_MINUS;
        if (g.is_signed) val = 2.0f * val - 1.0f;
        val = present ? val : vzero();
        std::memcpy(xs + vb * 8, &val, 32);
        if constexpr (!WANT_ACT) continue;
        uint32_t mk = movemask(present);
        while (mk) {
            int j = __builtin_ctz(mk);
            act[na++] = vb * 8 + j;
            mk &= mk - 1;
        }
    }
    return na;
}

}  // namespace UNFOLD_ISA

// generic scalar path: one-hot, correlated / anticorrelated pairs
int gen_generic(const DataGen& g, int inst, uint32_t klo, uint32_t khi, uint32_t s, float* xs, int* act);

namespace UNFOLD_ISA {
inline int gen_sample(const DataGen& g, int inst, uint32_t klo, uint32_t khi, uint32_t s, float* xs, int* act) {
    return g.vector_path ? gen_vec<0>(g, inst, klo, khi, s, xs, act) : gen_generic(g, inst, klo, khi, s, xs, act);
}
}  // namespace UNFOLD_ISA

}  // namespace toyk
}  // namespace unfold

namespace unfold {
namespace toyk {

constexpr int SUB = 32;  // samples per block (generation, then one outer-product gradient pass)

// Kernel workspace: the parameters re-laid out for the per-sample kernel, plus per-unit gradient
// accumulators. A unit is (instance, chunk of `chunk` samples); units are independent and are reduced
// in a fixed order, so results do not depend on the thread count.
//   E  [I][n][MV] : encoder column j (W[:, j], or W1[:, j]) padded to MV*8 lanes
//   D  [I][MV*8][NV] : decoder row k as a vector over outputs (W[k, :], or W2[:, k]); rows >= m are zero
//   Dt [I][n][MV] : decoder row i over hidden (abs only: W2[i, :]; tied models use E)
// accumulator of a unit: [0] loss lanes, [1] |h| lanes, db [NV], dD [m][NV], dE [n][MV]
struct Work {
    int I = 0, n = 0, m = 0, n_pad = 0, NV = 0, MV = 0;
    bool tied = true, out_relu = true, hid_relu = false, abs_target = false;
    float l1 = 0;
    int B = 0, chunk = 256, n_chunks = 1;
    size_t acc_vecs = 0, scratch_vecs = 0;
    DataGen gen;
    VecBuf E, D, Dt, bias, imp, impg;
    VecBuf acc;      // [I][n_chunks][acc_vecs]
    std::vector<char> dense;   // [I] use the samples-vectorised kernel (tied models with m <= 8, n <= 32)
    VecBuf scratch;  // [threads][scratch_vecs]
    std::vector<int> act;      // [threads][n_pad]
    size_t off_W = 0, off_W2 = 0, off_b = 0;  // offsets in the ParamSet
    KernelLevel level = KernelLevel::PORTABLE;  // which compiled copy of the kernels runs (kernel_level() at init)

    void init(const ToyModel& model, int batch);
    void set_batch(int batch);                   // chunking and the 2 I_i / (B n) gradient scale
    void sync_instance(const ToyModel& model, int inst);  // re-layout instance `inst` from model.params
    v8f* acc_of(int inst, int c) { return acc.data() + ((size_t)inst * n_chunks + c) * acc_vecs; }
};

// Call INSIDE an OpenMP parallel region (orphaned `omp for`, ends with a barrier): fills every unit's
// accumulators for the batch of `stream` (or the external x[B, I, n] when x != nullptr).
void work_compute(Work& w, const ToyConfig& cfg, uint64_t stream, const float* x, bool want_grad);
// The two kernels for one unit, compiled per level (kernel_sparse_isa.cpp, kernel_soa_isa.cpp; core/isa.h):
// the sparse kernel handles every model (skipping inactive features); the soa kernel takes tied models with
// m <= 8 and n <= 32, vectorised across samples (8 samples per vector), wherever it applies.
UNFOLD_ISA_DECLARE(
void run_sparse_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* x, bool want_grad,
                       v8f* acc, v8f* scr, int* act);
void run_soa_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* x, bool want_grad,
                    v8f* acc, int* act);
)
bool soa_kernel_applies(const Work& w);
// One unit (instance, chunk) on the calling thread (any thread; the scratch is per thread number).
void work_unit(Work& w, const ToyConfig& cfg, uint64_t stream, const float* x, bool want_grad, int inst, int c);
// Sums instance `inst`'s chunks (fixed order) into loss (with L1) and recon (without); gradients into
// model.params.grad when want_grad.
void work_reduce(Work& w, ToyModel& model, int inst, bool want_grad, double* loss, double* recon);

}  // namespace toyk
}  // namespace unfold

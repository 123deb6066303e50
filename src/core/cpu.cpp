// cpu.cpp: CPU feature detection (GCC/clang builtins on x86-64; nothing elsewhere) and UNFOLD_KERNELS.
#include "unfold/core/cpu.h"

#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

#include "unfold/core/error.h"

namespace unfold {

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = [] {
        CpuFeatures c;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        c.avx2 = __builtin_cpu_supports("avx2");
        c.fma = __builtin_cpu_supports("fma");
        // clang (14) has no "f16c" for __builtin_cpu_supports: CPUID leaf 1, ECX bit 29 (Intel SDM vol. 2A)
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        c.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && ((ecx >> 29) & 1u);
        c.avx512f = __builtin_cpu_supports("avx512f");
        c.avx512bw = __builtin_cpu_supports("avx512bw");
        c.avx512vl = __builtin_cpu_supports("avx512vl");
        c.avx512_bf16 = __builtin_cpu_supports("avx512bf16");
#endif
        return c;
    }();
    return f;
}

KernelLevel cpu_kernel_level() {
    const CpuFeatures& c = cpu_features();
    if (!(c.avx2 && c.fma && c.f16c)) return KernelLevel::PORTABLE;
    if (!(c.avx512f && c.avx512bw && c.avx512vl)) return KernelLevel::AVX2;
    return c.avx512_bf16 ? KernelLevel::AVX512_BF16 : KernelLevel::AVX512;
}

const char* kernel_level_name(KernelLevel l) {
    switch (l) {
        case KernelLevel::PORTABLE: return "portable";
        case KernelLevel::AVX2: return "avx2";
        case KernelLevel::AVX512: return "avx512";
        case KernelLevel::AVX512_BF16: return "avx512-bf16";
    }
    return "?";
}

KernelLevel parse_kernel_level(const char* s, const char* what) {
    if (!std::strcmp(s, "auto") || !*s) return cpu_kernel_level();
    for (KernelLevel l : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512, KernelLevel::AVX512_BF16})
        if (!std::strcmp(s, kernel_level_name(l))) return l;
    fail("%s: '%s' is not one of auto, portable, avx2, avx512, avx512-bf16", what, s);
}

bool kernel_level_supported(KernelLevel l) { return (int)l <= (int)cpu_kernel_level(); }

KernelLevel kernel_level() {
    static const KernelLevel cap = [] {
        const char* e = std::getenv("UNFOLD_KERNELS");
        return e ? parse_kernel_level(e, "UNFOLD_KERNELS") : KernelLevel::AVX512_BF16;
    }();
    KernelLevel c = cpu_kernel_level();
    return (int)cap < (int)c ? cap : c;
}

}  // namespace unfold

// cpu.h: what this CPU can run, and which kernels unfold runs on it.
//
// Kernels come in levels; a level runs on every CPU that has its instructions, and the portable level
// (plain C++, compiled for the build's baseline target) runs everywhere:
//   portable     no explicit vector instructions
//   avx2         AVX2 + FMA + F16C (Intel Haswell, AMD Zen and later)
//   avx512       AVX-512 F/BW/VL (Intel Skylake-SP, AMD Zen 4 and later)
//   avx512-bf16  AVX-512 with the BF16 dot product VDPBF16PS (Intel Cooper Lake / Sapphire Rapids, AMD Zen 4)
// kernel_level() is the best level the CPU has, capped by the environment variable UNFOLD_KERNELS
// (auto | portable | avx2 | avx512 | avx512-bf16), read once. CI runs the suite with UNFOLD_KERNELS=portable
// too, so the baseline path is tested on any machine. Functions with several kernels take the level as an
// explicit argument (defaulting to kernel_level()), so a program can pick one per call.
#pragma once

namespace unfold {

enum class KernelLevel { PORTABLE = 0, AVX2 = 1, AVX512 = 2, AVX512_BF16 = 3 };

struct CpuFeatures {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512_bf16 = false;
};
const CpuFeatures& cpu_features();  // detected once

KernelLevel cpu_kernel_level();  // the best level this CPU supports (ignores UNFOLD_KERNELS)
KernelLevel kernel_level();      // min(cpu_kernel_level(), UNFOLD_KERNELS); throws on a bad UNFOLD_KERNELS
bool kernel_level_supported(KernelLevel l);  // l <= cpu_kernel_level()
const char* kernel_level_name(KernelLevel l);  // "portable" | "avx2" | "avx512" | "avx512-bf16"
// "auto" | "portable" | "avx2" | "avx512" | "avx512-bf16" (auto = cpu_kernel_level()); throws naming `what`.
KernelLevel parse_kernel_level(const char* s, const char* what);

}  // namespace unfold

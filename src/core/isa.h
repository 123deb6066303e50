// isa.h: private. Kernels compiled once per CPU level.
//
// A source file named *_isa.cpp is compiled twice (CMakeLists.txt, unfold_module): with the build's baseline
// flags as namespace isa_portable, and with -march=x86-64-v3 (AVX2 + FMA + F16C) as namespace isa_avx2 (x86-64
// only; UNFOLD_HAVE_ISA_AVX2 says whether that copy exists). Everything such a file and the private headers it
// includes define lives in namespace UNFOLD_ISA, so the two copies never share a symbol: a helper compiled with
// AVX2 can never be picked by the linker for baseline code (tests/core/test_isa_objects checks the objects).
// Callers pick a copy at run time with use_isa_avx2(level) from core/cpu.h's kernel level. The build uses
// -ffp-contract=off, so both copies compute the same bits; AVX2 only makes them faster.
#pragma once
#include "unfold/core/cpu.h"

#ifndef UNFOLD_ISA
#define UNFOLD_ISA isa_portable  // every file not compiled per level sees the portable copy's declarations
#endif
#ifndef UNFOLD_HAVE_ISA_AVX2
#define UNFOLD_HAVE_ISA_AVX2 0
#endif

namespace unfold {

// Declares the same functions in both copies: UNFOLD_ISA_DECLARE(void f(int);)
#if UNFOLD_HAVE_ISA_AVX2
#define UNFOLD_ISA_DECLARE(...) \
    namespace isa_portable {    \
    __VA_ARGS__                 \
    }                           \
    namespace isa_avx2 {        \
    __VA_ARGS__                 \
    }
#else
#define UNFOLD_ISA_DECLARE(...) \
    namespace isa_portable {    \
    __VA_ARGS__                 \
    }
#endif

inline bool use_isa_avx2(KernelLevel level) { return UNFOLD_HAVE_ISA_AVX2 && (int)level >= (int)KernelLevel::AVX2; }

// Calls NS::fn(args...) of the copy the level selects: UNFOLD_ISA_CALL(level, layernorm_impl, out, ...).
#if UNFOLD_HAVE_ISA_AVX2
#define UNFOLD_ISA_CALL(level, fn, ...) \
    (::unfold::use_isa_avx2(level) ? isa_avx2::fn(__VA_ARGS__) : isa_portable::fn(__VA_ARGS__))
#else
#define UNFOLD_ISA_CALL(level, fn, ...) (isa_portable::fn(__VA_ARGS__))
#endif

}  // namespace unfold

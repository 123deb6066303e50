// error.h: the two tiers of failure in unfold.
//  - UNFOLD_CHECK(cond, fmt, ...) / fail(fmt, ...): user errors (bad input, bad flags, corrupt files).
//    They throw unfold::Error with a one-line message; the CLI prints it and exits with code 1.
//    Messages about files name the file, the field and what was expected:
//      "model.safetensors: tensor 'W': shape [3,4] x F32 needs 48 bytes, header says 40"
//  - UNFOLD_ASSERT(cond): internal invariants (programmer errors). Aborts with file:line.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace unfold {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// printf-style formatting into a std::string
std::string strformat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

// Overflow-checked size arithmetic for sizes read from untrusted files.
uint64_t mul_checked(uint64_t a, uint64_t b, const char* context);
uint64_t add_checked(uint64_t a, uint64_t b, const char* context);

}  // namespace unfold

#define UNFOLD_CHECK(cond, ...)            \
    do {                                   \
        if (!(cond)) ::unfold::fail(__VA_ARGS__); \
    } while (0)

#define UNFOLD_ASSERT(cond)                                            \
    do {                                                               \
        if (!(cond)) ::unfold::assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)

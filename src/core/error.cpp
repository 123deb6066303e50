// error.cpp: formatting helpers and the failure paths declared in error.h.
#include "unfold/core/error.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace unfold {

static std::string vformat(const char* fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = std::vsnprintf(nullptr, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return fmt;
    std::vector<char> buf((size_t)n + 1);
    std::vsnprintf(buf.data(), buf.size(), fmt, ap);
    return std::string(buf.data(), (size_t)n);
}

std::string strformat(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    throw Error(s);
}

void assert_fail(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "unfold: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    std::abort();
}

uint64_t mul_checked(uint64_t a, uint64_t b, const char* context) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail("%s: size overflow (%llu x %llu)", context, (unsigned long long)a, (unsigned long long)b);
    return r;
}

uint64_t add_checked(uint64_t a, uint64_t b, const char* context) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) fail("%s: size overflow (%llu + %llu)", context, (unsigned long long)a, (unsigned long long)b);
    return r;
}

}  // namespace unfold

// context.cpp: messages, cancellation and thread scopes of a Context.
#include "unfold/core/context.h"

#include <omp.h>

#include <cstdarg>
#include <cstdio>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);
// OpenBLAS internals it exports (driver/others: env reading, the thread server); weak: absent elsewhere
extern "C" void openblas_read_env(void) __attribute__((weak));
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace unfold {

const char* log_level_name(LogLevel l) { return l == LogLevel::WARN ? "warn" : "info"; }

static std::string vformat(const char* fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = std::vsnprintf(nullptr, 0, fmt, ap2);
    va_end(ap2);
    std::string s(n > 0 ? (size_t)n : 0, '\0');
    if (n > 0) std::vsnprintf(s.data(), (size_t)n + 1, fmt, ap);
    return s;
}

void Context::message(LogLevel level, const std::string& text) const {
    if (quiet && level == LogLevel::INFO) return;
    if (log) {
        log(level, text);
        return;
    }
    std::fprintf(stderr, "%s%s\n", level == LogLevel::WARN ? "unfold: warning: " : "", text.c_str());
}

void Context::info(const char* fmt, ...) const {
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    message(LogLevel::INFO, s);
}

void Context::warn(const char* fmt, ...) const {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    message(LogLevel::WARN, s);
}

void Context::check_stop() const {
    if (should_stop && should_stop()) throw Cancelled("cancelled");
}

int hardware_threads() {
    int n = omp_get_num_procs();
    if (n <= 0) n = (int)std::thread::hardware_concurrency();
    return n > 0 ? n : 1;
}

void set_num_threads(int n) {
    if (n <= 0) n = hardware_threads();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

ThreadScope::ThreadScope(int threads) : prev_omp_(0), prev_blas_(0) {
    if (threads <= 0) return;
    prev_omp_ = omp_get_max_threads();
    prev_blas_ = openblas_get_num_threads();
    omp_set_num_threads(threads);
    if (threads != prev_blas_) openblas_set_num_threads(threads);
}

ThreadScope::ThreadScope(const Context& ctx) : ThreadScope(ctx.threads) {}

ThreadScope::~ThreadScope() {
    if (prev_omp_ <= 0) return;
    omp_set_num_threads(prev_omp_);
    if (openblas_get_num_threads() != prev_blas_) openblas_set_num_threads(prev_blas_);
}

bool blas_reload_environment() {
    if (!openblas_read_env || !blas_thread_shutdown_) return false;
    const int n = openblas_get_num_threads();
    openblas_read_env();
    blas_thread_shutdown_();        // the workers exit; the next product starts them with the new settings
    openblas_set_num_threads(n);
    return true;
}

}  // namespace unfold

// test_util.h: helpers every module's tests share.
#pragma once
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "unfold/core/error.h"

namespace unfold_test {

// Runs fn, expects an unfold::Error, returns its message ("" and a test failure if none was thrown).
template <class F>
std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const unfold::Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected unfold::Error, nothing was thrown";
    return "";
}

// ||a - ref|| / ||ref|| (Frobenius, in double) over two equally long arrays.
inline double rel_frobenius(const std::vector<float>& a, const std::vector<float>& ref) {
    EXPECT_EQ(a.size(), ref.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size() && i < ref.size(); i++) {
        num += (double)(a[i] - ref[i]) * (a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return std::sqrt(num / den);
}

// Runs a shell command; returns its exit status, its stdout in *out (stderr folded in when merge_err, else
// dropped).
inline int run_shell(const std::string& cmd, std::string* out, bool merge_err = false) {
    FILE* p = popen((cmd + (merge_err ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace unfold_test

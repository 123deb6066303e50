// strings.cpp: number and list parsing (see strings.h).
#include "unfold/core/strings.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "unfold/core/error.h"

namespace unfold {

std::vector<std::string> split_list(const std::string& s, char sep) {
    std::vector<std::string> r;
    size_t pos = 0;
    while (true) {
        size_t e = s.find(sep, pos);
        if (e == std::string::npos) {
            r.push_back(s.substr(pos));
            break;
        }
        r.push_back(s.substr(pos, e - pos));
        pos = e + 1;
    }
    return r;
}

double parse_double(const std::string& s, const std::string& what) {
    if (s.empty()) fail("%s: a number is required", what.c_str());
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (errno != 0 || end == s.c_str() || *end != 0 || !std::isfinite(v))
        fail("%s: '%s' is not a finite number", what.c_str(), s.c_str());
    return v;
}

int64_t parse_int(const std::string& s, const std::string& what) {
    if (s.empty()) fail("%s: an integer is required", what.c_str());
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != 0) fail("%s: '%s' is not an integer", what.c_str(), s.c_str());
    if (errno == ERANGE) fail("%s: '%s' is out of range (64-bit integers)", what.c_str(), s.c_str());
    return v;
}

uint64_t parse_u64(const std::string& s, const std::string& what) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        fail("%s: '%s' is not a non-negative integer", what.c_str(), s.c_str());
    uint64_t v = 0;
    for (char c : s) {
        const uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            fail("%s: '%s' is out of range (at most 18446744073709551615)", what.c_str(), s.c_str());
        v = v * 10 + d;
    }
    return v;
}

bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = (unsigned char)s[i];
        const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (int k = 1; k < n; k++)
            if (((unsigned char)s[i + k] >> 6) != 2) return false;
        i += (size_t)n;
    }
    return true;
}

}  // namespace unfold

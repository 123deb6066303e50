// strings.h: parsing numbers and lists from text (flag values, spec strings such as "planted:d=64,p=0.01").
// Errors are unfold::Error with one line that starts with `what` (e.g. "unfold toy train: --density").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace unfold {

// split_list("0.5,0.25,1") -> {"0.5","0.25","1"}; split_list("a") -> {"a"}; split_list("") -> {""}
std::vector<std::string> split_list(const std::string& s, char sep = ',');
// A finite number; the whole string must be the number.
// Whether s is well-formed UTF-8 (lead bytes and continuation counts; no overlong / surrogate checks).
bool valid_utf8(const std::string& s);

double parse_double(const std::string& s, const std::string& what);
// A decimal integer that fits in int64; the whole string must be the integer.
int64_t parse_int(const std::string& s, const std::string& what);
uint64_t parse_u64(const std::string& s, const std::string& what);  // decimal digits only, 0 .. 2^64-1

}  // namespace unfold

// memory.h: how much memory this process may still use, so that sizes that cannot fit are refused up front
// (naming the sizes, the bytes needed and the bytes available) instead of failing with "out of memory" later.
#pragma once
#include <cstdint>
#include <string>

namespace unfold {

struct MemoryAvailable {
    uint64_t bytes = UINT64_MAX;  // UINT64_MAX: nothing known (no /proc, no limit)
    std::string source;           // what set it: "MemAvailable", "RLIMIT_AS", "cgroup memory.max", or ""
};

// The smallest of: the kernel's MemAvailable (/proc/meminfo: free memory plus what it can reclaim, no swap),
// the room left under RLIMIT_AS (ulimit -v) and under a cgroup v2 memory.max.
MemoryAvailable available_memory();

// "1.50 GiB", "512 B": binary units, three significant digits.
std::string format_bytes(uint64_t bytes);

// Throws "<what> needs at least N bytes (X GiB); M bytes (Y GiB) of memory are available (<source>)" when
// need > available. `what` names the flags or fields behind the size.
void check_memory_fits(uint64_t need, const std::string& what);

// a * b and a + b, saturating at UINT64_MAX (for size estimates that must not wrap)
inline uint64_t sat_mul(uint64_t a, uint64_t b) { return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b; }
inline uint64_t sat_add(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

}  // namespace unfold

// memory.cpp: available memory (see memory.h). Linux sources: /proc/meminfo (proc(5)), getrlimit(2) with the
// process's VmSize from /proc/self/status, and the cgroup v2 files memory.max / memory.current of the
// process's cgroup (/proc/self/cgroup, mounted at /sys/fs/cgroup).
#include "unfold/core/memory.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "unfold/core/error.h"

namespace unfold {

namespace {

// the number after "<key>:" in a "Key:   123 kB" file, in bytes (kB lines scaled); false if absent
bool read_kb_field(const char* file, const char* key, uint64_t* out) {
    std::ifstream f(file);
    std::string line;
    const size_t n = std::strlen(key);
    while (std::getline(f, line)) {
        if (line.compare(0, n, key) != 0 || line.size() <= n || line[n] != ':') continue;
        unsigned long long v = 0;
        if (std::sscanf(line.c_str() + n + 1, "%llu", &v) != 1) return false;
        *out = line.find("kB") != std::string::npos ? sat_mul(v, 1024) : v;
        return true;
    }
    return false;
}

bool read_u64_file(const std::string& path, uint64_t* out) {
    std::ifstream f(path);
    std::string s;
    if (!(f >> s) || s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19)
        return false;
    *out = std::strtoull(s.c_str(), nullptr, 10);
    return true;
}

// the cgroup v2 folder of this process ("0::/user.slice/..." in /proc/self/cgroup), "" if none
std::string cgroup_dir() {
    std::ifstream f("/proc/self/cgroup");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
    return "";
}

void take(MemoryAvailable& m, uint64_t bytes, const char* source) {
    if (bytes < m.bytes) {
        m.bytes = bytes;
        m.source = source;
    }
}

}  // namespace

MemoryAvailable available_memory() {
    MemoryAvailable m;
    uint64_t v = 0;
    if (read_kb_field("/proc/meminfo", "MemAvailable", &v)) take(m, v, "MemAvailable");
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t used = 0;
        read_kb_field("/proc/self/status", "VmSize", &used);
        take(m, (uint64_t)rl.rlim_cur > used ? (uint64_t)rl.rlim_cur - used : 0, "RLIMIT_AS");
    }
    const std::string cg = cgroup_dir();
    uint64_t max = 0, cur = 0;
    if (!cg.empty() && read_u64_file(cg + "/memory.max", &max) && read_u64_file(cg + "/memory.current", &cur))
        take(m, max > cur ? max - cur : 0, "cgroup memory.max");
    return m;
}

std::string format_bytes(uint64_t b) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (b < 1024) return strformat("%llu B", (unsigned long long)b);
    double v = (double)b;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    return strformat(v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
}

void check_memory_fits(uint64_t need, const std::string& what) {
    const MemoryAvailable m = available_memory();
    if (need <= m.bytes) return;
    if (need == UINT64_MAX)
        fail("%s needs more than 2^64 bytes; %llu bytes (%s) of memory are available (%s)", what.c_str(),
             (unsigned long long)m.bytes, format_bytes(m.bytes).c_str(), m.source.c_str());
    fail("%s needs at least %llu bytes (%s); %llu bytes (%s) of memory are available (%s)", what.c_str(),
         (unsigned long long)need, format_bytes(need).c_str(), (unsigned long long)m.bytes,
         format_bytes(m.bytes).c_str(), m.source.c_str());
}

}  // namespace unfold

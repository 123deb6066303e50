// fuzz_util.h: what every fuzz target shares. A target is LLVMFuzzerTestOneInput(data, size): it hands the
// bytes to one reader of untrusted input and accepts exactly one outcome besides success: an unfold::Error
// (the reader's one-line refusal). Anything else is a finding: a sanitizer report (memory error, undefined
// behaviour, leak), another exception escaping (std::out_of_range from a stray std::stoll, std::bad_alloc from
// a size taken on trust), an abort, a hang, or an allocation over libFuzzer's -malloc_limit_mb.
//
// Readers that take a path get the bytes through a scratch file in a private folder of this process (on
// /dev/shm when it exists, so no disk is touched; $UNFOLD_FUZZ_SCRATCH overrides it); fixed companion files (a valid weights file beside a fuzzed
// cfg.json, ...) are written there once.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold_fuzz {

// This process's scratch folder (created on first use, removed at exit).
inline const std::string& scratch_dir() {
    static const std::string dir = [] {
        const char* own = std::getenv("UNFOLD_FUZZ_SCRATCH");  // fuzz/run.sh: a folder it removes afterwards
        const char* t = std::getenv("TMPDIR");
        std::string base = own && *own                       ? own
                           : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                           : (t && *t ? t : "/tmp");
        std::string d = base + "/unfold_fuzz_" + std::to_string((long)getpid());
        unfold::make_dirs(d);
        static struct Cleanup {
            std::string d;
            ~Cleanup() {
                for (const auto& f : unfold::list_dir(d)) {
                    const std::string p = d + "/" + f;
                    if (unfold::is_directory(p)) {
                        for (const auto& g : unfold::list_dir(p)) std::remove((p + "/" + g).c_str());
                        rmdir(p.c_str());
                    } else {
                        std::remove(p.c_str());
                    }
                }
                rmdir(d.c_str());
            }
        } cleanup{d};
        return d;
    }();
    return dir;
}

// A sub-folder of the scratch folder.
inline std::string scratch_subdir(const std::string& name) {
    std::string d = scratch_dir() + "/" + name;
    unfold::make_dirs(d);
    return d;
}

// Writes the bytes to <scratch>/<name> (plainly: the reader under test must see exactly these bytes) and
// returns the path.
inline std::string put_file(const std::string& name, const uint8_t* data, size_t size,
                            const std::string& dir = scratch_dir()) {
    const std::string p = dir + "/" + name;
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return p;
}
inline std::string put_file(const std::string& name, const std::string& bytes, const std::string& dir = scratch_dir()) {
    return put_file(name, (const uint8_t*)bytes.data(), bytes.size(), dir);
}

// Runs fn; an unfold::Error (a reader's refusal) is the expected way to fail. Returns true on success.
template <class F>
bool accepts(F&& fn) {
    try {
        fn();
        return true;
    } catch (const unfold::Error&) {
        return false;
    }
}

}  // namespace unfold_fuzz

// io_test_util.h: helpers shared by the io tests (temporary folders, raw file writes, file-error checks;
// error_of comes from tests/test_util.h).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../test_util.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold_test {

// A fresh folder under $TMPDIR (or /tmp), removed with its files at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/unfold_io_test_XXXXXX";
        char* p = mkdtemp(tmpl.data());
        if (!p) std::abort();
        path = p;
    }
    ~TempDir() {
        for (const auto& n : unfold::list_dir(path)) std::remove((path + "/" + n).c_str());
        rmdir(path.c_str());
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
    size_t count() const { return unfold::list_dir(path).size(); }
};

// Writes bytes directly (not atomically): used to build corrupt files.
inline void write_raw(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

inline std::string fixture(const std::string& name) {
    return std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/io/" + name;
}

// The message names the file and the field, and is one line.
#define EXPECT_FILE_ERROR(stmt, path, field)                                                     \
    do {                                                                                         \
        std::string msg_ = ::unfold_test::error_of([&] { stmt; });                               \
        EXPECT_NE(msg_.find(path), std::string::npos) << "message lacks the file name: " << msg_; \
        EXPECT_NE(msg_.find(field), std::string::npos) << "message lacks '" << field << "': " << msg_; \
        EXPECT_EQ(msg_.find('\n'), std::string::npos) << "message spans lines: " << msg_;        \
    } while (0)

}  // namespace unfold_test

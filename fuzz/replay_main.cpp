// replay_main.cpp: a main() for the fuzz targets when they are built without libFuzzer (gcc, or clang without
// UNFOLD_FUZZ): runs LLVMFuzzerTestOneInput once on every file named on the command line, and on every file in
// the folders named, like libFuzzer's own main does with file arguments. The test suite uses it to replay the
// committed corpora and crash reproducers (fuzz/replay.sh) in every build, sanitized or not.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

static bool read_all(const std::string& path, std::string* out) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char buf[1 << 16];
    size_t n;
    out->clear();
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    std::fclose(f);
    return true;
}

static void collect(const std::string& path, std::vector<std::string>& files) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        std::fprintf(stderr, "replay: %s: cannot stat\n", path.c_str());
        std::exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        files.push_back(path);
        return;
    }
    DIR* d = opendir(path.c_str());
    if (!d) std::exit(2);
    std::vector<std::string> names;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) collect(path + "/" + n, files);
}

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-') collect(argv[i], files);  // libFuzzer-style -flags are ignored
    std::string bytes;
    for (const auto& f : files) {
        if (!read_all(f, &bytes)) {
            std::fprintf(stderr, "replay: %s: cannot read\n", f.c_str());
            return 2;
        }
        LLVMFuzzerTestOneInput((const uint8_t*)bytes.data(), bytes.size());
    }
    std::printf("replay: %zu inputs ran\n", files.size());
    return 0;
}

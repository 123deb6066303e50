// fileio.cpp: file reads, atomic writes, directories and memory maps.
#include "unfold/io/fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "unfold/core/error.h"

namespace unfold {

std::string read_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail("%s: cannot open (%s)", path.c_str(), std::strerror(errno));
    std::string s;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    bool err = std::ferror(f);
    std::fclose(f);
    if (err) fail("%s: read error", path.c_str());
    return s;
}

static std::atomic<uint64_t> g_tmp_counter{0};

std::string atomic_temp_path(const std::string& path) {
    return path + ".tmp." + std::to_string((long)getpid()) + "." + std::to_string(g_tmp_counter++);
}

// "<name>.tmp.<pid>.<n>" -> name and pid; false for any other file name.
static bool parse_temp_name(const std::string& f, std::string* name, long* pid) {
    const size_t dot_n = f.rfind('.');
    if (dot_n == std::string::npos || dot_n + 1 == f.size()) return false;
    const size_t dot_pid = dot_n == 0 ? std::string::npos : f.rfind('.', dot_n - 1);
    if (dot_pid == std::string::npos || dot_pid + 1 == dot_n || dot_pid < 4) return false;
    auto digits = [&](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            if (f[i] < '0' || f[i] > '9') return false;
        return e - b <= 18;
    };
    if (!digits(dot_n + 1, f.size()) || !digits(dot_pid + 1, dot_n)) return false;
    if (f.compare(dot_pid - 4, 4, ".tmp") != 0 || dot_pid - 4 == 0) return false;
    *name = f.substr(0, dot_pid - 4);
    *pid = std::stol(f.substr(dot_pid + 1, dot_n - dot_pid - 1));  // at most 18 digits: fits a long
    return true;
}

// kill(pid, 0): 0 = exists, EPERM = exists but belongs to someone else; only ESRCH means it is gone.
static bool process_exists(long pid) {
    if (pid <= 0 || pid > (long)INT32_MAX) return false;
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

int remove_stale_temporaries(const std::string& dir, const std::function<bool(const std::string& name)>& owns) {
    if (!is_directory(dir)) return 0;
    int removed = 0;
    for (const std::string& f : list_dir(dir)) {
        std::string name;
        long pid = 0;
        if (!parse_temp_name(f, &name, &pid) || !owns(name)) continue;
        if (pid == (long)getpid() || process_exists(pid)) continue;
        const std::string p = path_join(dir, f);
        struct stat st;
        if (lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (std::remove(p.c_str()) == 0) removed++;
    }
    return removed;
}

int remove_stale_temporaries(const std::vector<std::string>& paths) {
    int removed = 0;
    for (const std::string& p : paths) {
        const size_t slash = p.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
        const std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
        if (!base.empty()) removed += remove_stale_temporaries(dir, [&](const std::string& n) { return n == base; });
    }
    return removed;
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
    tmp_ = atomic_temp_path(path);
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail("%s: cannot create (%s)", tmp_.c_str(), std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
    UNFOLD_ASSERT(f_ != nullptr);
    if (n && std::fwrite(data, 1, n, f_) != n) fail("%s: write failed (%s)", path_.c_str(), std::strerror(errno));
}

void AtomicFile::commit(bool durable) {
    UNFOLD_ASSERT(f_ != nullptr);
    if (std::fflush(f_) != 0) fail("%s: write failed (%s)", path_.c_str(), std::strerror(errno));
    if (durable) fsync(fileno(f_));
    int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail("%s: close failed (%s)", path_.c_str(), std::strerror(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
        fail("%s: cannot rename temporary file into place (%s)", path_.c_str(), std::strerror(errno));
    committed_ = true;
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
    AtomicFile f(path);
    f.write(data, n);
    f.commit();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    write_file_atomic(path, bytes.data(), bytes.size());
}

void make_dirs(const std::string& path) {
    if (path.empty()) return;
    std::string cur;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t e = path.find('/', pos);
        if (e == std::string::npos) e = path.size();
        cur = path.substr(0, e);
        if (!cur.empty() && cur != ".") {
            if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
                fail("%s: cannot create folder (%s)", cur.c_str(), std::strerror(errno));
        }
        pos = e + 1;
    }
    if (!is_directory(path)) fail("%s: exists and is not a folder", path.c_str());
}

bool file_exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t file_size(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) fail("%s: cannot stat (%s)", path.c_str(), std::strerror(errno));
    return (uint64_t)st.st_size;
}

std::string path_join(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (!b.empty() && b[0] == '/') return b;
    return a.back() == '/' ? a + b : a + "/" + b;
}

std::vector<std::string> list_dir(const std::string& path) {
    DIR* d = opendir(path.c_str());
    if (!d) fail("%s: cannot list folder (%s)", path.c_str(), std::strerror(errno));
    std::vector<std::string> r;
    while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") r.push_back(n);
    }
    closedir(d);
    std::sort(r.begin(), r.end());
    return r;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) fail("%s: cannot open (%s)", path.c_str(), std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        fail("%s: cannot stat (%s)", path.c_str(), std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        fail("%s: not a regular file", path.c_str());
    }
    size_ = (uint64_t)st.st_size;
    if (size_ > 0) {
        void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            fail("%s: cannot map (%s)", path.c_str(), std::strerror(errno));
        }
        data_ = (const uint8_t*)p;
    }
    close(fd);
}

MappedFile::~MappedFile() {
    if (data_) munmap((void*)data_, size_);
}

}  // namespace unfold

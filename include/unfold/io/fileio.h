// fileio.h: whole-file reads, atomic writes and folder helpers.
//
// Every file unfold writes goes through AtomicFile (or write_file_atomic): the bytes go to
// "<path>.tmp.<pid>.<n>" (atomic_temp_path) and are renamed into place on commit(), so a crash never leaves a
// half file. If an AtomicFile is destroyed without commit(), its temporary file is removed; a process killed
// outright (kill -9, power loss) cannot, so writers call remove_stale_temporaries when they start.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace unfold {

std::string read_file(const std::string& path);  // throws "<path>: cannot open (...)"
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_file_atomic(const std::string& path, const void* data, size_t n);

class AtomicFile {
  public:
    explicit AtomicFile(const std::string& path);  // opens the temporary file for writing
    ~AtomicFile();                                 // removes the temporary file unless committed
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    void write(const void* data, size_t n);  // throws on short write (disk full)
    void write(const std::string& s) { write(s.data(), s.size()); }
    // flush, fsync, close, rename into place; durable = false skips the fsync (for the thousands of small files
    // of a folder a rerun simply rewrites, e.g. a static website: the rename still keeps each file whole)
    void commit(bool durable = true);
    const std::string& path() const { return path_; }

  private:
    std::string path_, tmp_;
    FILE* f_ = nullptr;
    bool committed_ = false;
};

// A fresh temporary name beside `path` for this process: "<path>.tmp.<pid>.<n>" (n counts up per process).
std::string atomic_temp_path(const std::string& path);

// Removes the temporaries that writers killed outright left in `dir`: files named "<name>.tmp.<pid>.<n>"
// (atomic_temp_path's form) for which owns(name) is true and whose process <pid> no longer exists. Files of a
// live process (another writer, or this one) and names the caller does not own are left alone, as are
// anything but regular files. Returns how many were removed; a missing folder removes nothing.
int remove_stale_temporaries(const std::string& dir, const std::function<bool(const std::string& name)>& owns);
// The same for the temporaries of these exact files (each in its own folder): what a writer calls at its start
// with the paths it writes.
int remove_stale_temporaries(const std::vector<std::string>& paths);

void make_dirs(const std::string& path);  // mkdir -p; throws on failure
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
uint64_t file_size(const std::string& path);  // throws if missing
std::string path_join(const std::string& a, const std::string& b);
std::vector<std::string> list_dir(const std::string& path);  // sorted names, no "." / ".."

// Read-only memory map of a whole file (for large .npy / safetensors / shards).
class MappedFile {
  public:
    explicit MappedFile(const std::string& path);  // throws "<path>: cannot open (...)"
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

}  // namespace unfold

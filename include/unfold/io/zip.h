// zip.h: a small, validating reader of .npz archives (zip files of .npy members), for Gemma Scope's
// params.npz. Members may be stored (np.savez) or deflated (np.savez_compressed); deflate is decoded by
// zlib's inflate and every member's CRC-32 (zlib's crc32) and size are checked. Zip64 records are supported.
// Everything read is untrusted: offsets, sizes and names are validated, errors name the file and member.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"

namespace unfold {

class MappedFile;

struct ZipMember {
    std::string name;
    uint16_t method = 0;  // 0 stored, 8 deflate
    uint64_t comp_size = 0, size = 0, local_offset = 0;
    uint32_t crc = 0;
};

class NpzArchive {
  public:
    explicit NpzArchive(const std::string& path);
    ~NpzArchive();
    const std::vector<ZipMember>& members() const { return members_; }
    bool has(const std::string& array_name) const;  // name without ".npy"
    // The member's bytes, decompressed and CRC-checked.
    std::string member_bytes(const std::string& member_name) const;
    // An array (float32/float16/float64) as float32; NaN/Inf rejected.
    Tensor read_f32(const std::string& array_name) const;

  private:
    std::string path_;
    std::unique_ptr<MappedFile> file_;
    std::vector<ZipMember> members_;
};

// Raw deflate (no zlib header) of in[0..n) into exactly `expect` bytes, by zlib. Throws (naming `ctx`)
// when the stream is corrupt or truncated, holds more or fewer bytes than `expect`, leaves compressed
// bytes unused, or when `expect` exceeds what deflate can expand n bytes to (checked before allocating).
std::string inflate_raw(const uint8_t* in, uint64_t n, uint64_t expect, const std::string& ctx);
uint32_t crc32_bytes(const uint8_t* p, uint64_t n);  // CRC-32 (zip/PNG polynomial), by zlib

}  // namespace unfold

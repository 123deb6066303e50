// safetensors.h: read and write the safetensors format (Hugging Face), treating input as untrusted.
//
// Layout: u64 little-endian N = header length; N bytes of JSON header
//   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the data section; offsets are relative to its start.
// Checks on read: N bounded (<= 100 MB) and within the file; header is valid UTF-8 JSON object; each
// tensor has a known dtype, non-negative integer shape, shape x dtype-size == end - begin; offsets
// lie within the data section; tensors are contiguous and non-overlapping (sorted by offset they
// cover [0, data size) exactly); no duplicate names; __metadata__ values are strings.
// Errors: "<path>: tensor 'W': shape [3,4] x F32 = 48 bytes but data_offsets span 40".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"

namespace unfold {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };
const char* dtype_name(DType d);  // "F32", ...
size_t dtype_size(DType d);
bool parse_dtype(const std::string& s, DType* out);

struct StEntry {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class MappedFile;

class SafeTensorsReader {
  public:
    explicit SafeTensorsReader(const std::string& path);  // maps + validates; throws unfold::Error
    ~SafeTensorsReader();
    const std::string& path() const { return path_; }
    const std::vector<StEntry>& entries() const { return entries_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    bool has(const std::string& name) const;
    const StEntry& entry(const std::string& name) const;  // throws "<path>: no tensor named 'x'"
    // Raw bytes of a tensor (valid while the reader lives).
    const uint8_t* raw(const std::string& name) const;
    // Any float dtype (F32/F16/BF16/F64) converted to float32. If `expect` is non-empty, the shape must
    // match exactly ("<path>: tensor 'W': expected shape [2,5], found [5,2]"). NaN/Inf are rejected.
    Tensor read_f32(const std::string& name, const Shape& expect = {}) const;
    std::vector<int64_t> read_i64(const std::string& name) const;  // I64/I32/I16/I8/U8 integer tensors

  private:
    std::string path_;
    std::unique_ptr<MappedFile> file_;
    uint64_t data_start_ = 0;
    std::vector<StEntry> entries_;                 // in header order
    std::map<std::string, size_t> index_;          // name -> position in entries_
    std::map<std::string, std::string> metadata_;
};

// A tensor to write: float32 data converted to `dtype` (F32, F16 or BF16) on write.
struct StWriteTensor {
    std::string name;
    Shape shape;
    const float* data = nullptr;
    DType dtype = DType::F32;
};

// Writes atomically (temp + rename). Tensors are laid out in the given order, 8-byte aligned header.
// Refuses (before creating any file) duplicate names, negative dimensions, NaN/Inf values and values
// that overflow F16. Compact header JSON, "__metadata__" first: the bytes match the Python package's.
void safetensors_write(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace unfold

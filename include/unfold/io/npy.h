// npy.h: NumPy .npy files (format versions 1.0, 2.0 and 3.0 headers), untrusted input.
//
// Supported dtypes: '<f4' (float32), '<f2' (float16), '<f8' (float64, read only), '<i4', '<i8' (read
// only, for token ids) and '|u1' (also spelled '<u1'). C order only (fortran_order: True is rejected,
// as are big-endian '>' dtypes). The header dict is parsed strictly (keys descr, fortran_order, shape,
// each once; header at most 1 MB); shape x itemsize must equal the bytes after the header exactly.
// Errors are one line naming the file and the field: "x.npy: descr: big-endian dtype '>f4' ...",
// "acts.npy: row 12: NaN/Inf in data (column 3)".
// Writing: the same bytes as numpy's np.save (format 1.0, or 2.0 when the header needs a u32 length;
// data start at a multiple of 64 bytes); NaN/Inf and float16 overflow are refused before any file exists.
// Reading large files: NpyMap memory-maps and exposes rows without loading the file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"

namespace unfold {

enum class NpyType { F32, F16, F64, I32, I64, U8 };

struct NpyHeader {
    NpyType type = NpyType::F32;
    Shape shape;
    uint64_t data_offset = 0;  // bytes from file start to the first element
    size_t itemsize() const;
};

// Parses and validates the header of an .npy file held in memory (file_size = total bytes).
NpyHeader npy_parse_header(const uint8_t* bytes, uint64_t file_size, const std::string& path);

Tensor npy_load(const std::string& path);                  // float types -> float32; NaN/Inf rejected
std::vector<int64_t> npy_load_int(const std::string& path);  // integer types -> int64 (flattened)

// Atomic writes. dtype F32 or F16 for floats.
void npy_save(const std::string& path, const Shape& shape, const float* data, bool as_f16 = false);
void npy_save_int32(const std::string& path, const Shape& shape, const int32_t* data);

class MappedFile;

// Memory-mapped 2-D (or 1-D) float array: rows are converted to float32 on request.
class NpyMap {
  public:
    explicit NpyMap(const std::string& path);
    ~NpyMap();
    const NpyHeader& header() const { return hdr_; }
    int64_t rows() const;  // shape[0]
    int64_t cols() const;  // product of the remaining dims (1 for 1-D)
    // Copy rows [r0, r0+n) into out[n, cols] as float32. NaN/Inf rejected naming file and row.
    void read_rows(int64_t r0, int64_t n, float* out) const;
    const std::string& path() const;

  private:
    std::unique_ptr<MappedFile> file_;
    NpyHeader hdr_;
};

}  // namespace unfold

// fuzz_npy.cpp: the .npy reader (io/npy.h): the header parser on the bytes in memory, then the file readers
// (npy_load, npy_load_int, NpyMap rows) on the same bytes as a file.
#include <vector>

#include "fuzz_util.h"
#include "unfold/io/npy.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    NpyHeader h;
    const bool header_ok = unfold_fuzz::accepts([&] { h = npy_parse_header(data, size, "fuzz.npy"); });
    const std::string path = unfold_fuzz::put_file("fuzz.npy", data, size);
    const bool loaded = unfold_fuzz::accepts([&] {
        Tensor t = npy_load(path);
        if (t.numel() != shape_numel(h.shape)) __builtin_trap();  // the loaded array is the header's shape
    });
    unfold_fuzz::accepts([&] { npy_load_int(path); });
    if (loaded && !header_ok) __builtin_trap();  // the file readers accept no more than the header parser
    unfold_fuzz::accepts([&] {
        NpyMap m(path);
        const int64_t rows = m.rows(), cols = m.cols();
        if (cols <= 0 || cols > (1 << 20)) return;
        std::vector<float> out((size_t)(2 * cols));
        for (int64_t r0 : {(int64_t)0, rows / 2, rows - 2, rows - 1, rows})
            for (int64_t n : {0, 1, 2})
                unfold_fuzz::accepts([&] { m.read_rows(r0, n, out.data()); });
    });
    return 0;
}

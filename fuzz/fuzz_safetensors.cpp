// fuzz_safetensors.cpp: the safetensors reader (io/safetensors.h): header validation, then every tensor read
// as float32 and as integers with the expected-shape check, and the raw bytes of each.
#include "fuzz_util.h"
#include "unfold/io/safetensors.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("fuzz.safetensors", data, size);
    unfold_fuzz::accepts([&] {
        SafeTensorsReader r(path);
        uint64_t sum = 0;
        for (const StEntry& e : r.entries()) {
            if (!r.has(e.name) || e.end < e.begin) __builtin_trap();
            const uint8_t* p = r.raw(e.name);
            if (e.end > e.begin) sum += p[0] + p[e.end - e.begin - 1];  // first and last byte are inside the map
            unfold_fuzz::accepts([&] {
                Tensor t = r.read_f32(e.name);
                if (t.shape != e.shape) __builtin_trap();
            });
            unfold_fuzz::accepts([&] { r.read_f32(e.name, {2, 3}); });
            unfold_fuzz::accepts([&] { r.read_i64(e.name); });
        }
        unfold_fuzz::accepts([&] { r.entry("no such tensor"); });
        for (const auto& kv : r.metadata()) sum += kv.first.size() + kv.second.size();
        (void)sum;
    });
    return 0;
}

// fuzz_npz.cpp: the zip/.npz reader (io/zip.h, Gemma Scope's params.npz): the central directory and local
// headers, every member's bytes (stored or deflated, CRC- and size-checked) and its array as float32.
#include "fuzz_util.h"
#include "unfold/io/zip.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("fuzz.npz", data, size);
    unfold_fuzz::accepts([&] {
        NpzArchive z(path);
        for (const ZipMember& m : z.members()) {
            const ZipMember* last = &m;  // a repeated name reads its last entry (as Python's zipfile)
            for (const ZipMember& q : z.members())
                if (q.name == m.name) last = &q;
            unfold_fuzz::accepts([&] {
                const std::string b = z.member_bytes(m.name);
                if (b.size() != last->size) __builtin_trap();
            });
            std::string array = m.name;
            if (array.size() > 4 && array.compare(array.size() - 4, 4, ".npy") == 0) array.resize(array.size() - 4);
            if (z.has(array)) unfold_fuzz::accepts([&] { z.read_f32(array); });
        }
        unfold_fuzz::accepts([&] { z.read_f32("W_enc"); });
    });
    return 0;
}

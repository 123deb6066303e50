// test_zip.cpp: the .npz reader on archives written by numpy (np.savez: stored members;
// np.savez_compressed: deflated members, decoded by zlib), read with the exact values numpy saved; and
// corrupt archives (bad CRC-32, truncated deflate stream, wrong declared sizes, truncated central
// directory, every truncation and every flipped deflate byte) rejected with one-line messages that name
// the file and the field. Fixtures: tools/reference/zip_fixtures.py.
#include <gtest/gtest.h>

#include <cstring>

#include "io_test_util.h"
#include "unfold/io/json.h"
#include "unfold/io/zip.h"

using namespace unfold;
using unfold_test::error_of;
using unfold_test::fixture;
using unfold_test::TempDir;
using unfold_test::write_raw;

namespace {

uint32_t get32(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--) v = (v << 8) | (uint8_t)s[at + (size_t)k];
    return v;
}
void put32(std::string& s, size_t at, uint32_t v) {
    for (int k = 0; k < 4; k++) s[at + (size_t)k] = (char)((v >> (8 * k)) & 0xFF);
}

// Offset of the central-directory file header of `name` (found by its signature and name).
size_t central_entry(const std::string& z, const std::string& name) {
    for (size_t p = 0; p + 46 <= z.size(); p++)
        if (get32(z, p) == 0x02014b50u && z.compare(p + 46, name.size(), name) == 0) return p;
    ADD_FAILURE() << "no central entry for " << name;
    return 0;
}
// Offset of the end-of-central-directory record.
size_t eocd_of(const std::string& z) {
    for (size_t p = z.size() - 22;; p--) {
        if (get32(z, p) == 0x06054b50u) return p;
        if (p == 0) break;
    }
    ADD_FAILURE() << "no end record";
    return 0;
}

constexpr size_t kCrc = 16, kCompSize = 20, kSize = 24, kLocalOffset = 42;  // central header fields

}  // namespace

TEST(Npz, NumpyArchivesReadExactly) {
    const Json ref = json_load(fixture("npz_values.json"));
    for (const char* f : {"npz_stored.npz", "npz_deflated.npz"}) {
        SCOPED_TRACE(f);
        NpzArchive z(fixture(f));
        ASSERT_EQ(z.members().size(), 4u);
        const bool deflated = std::strstr(f, "deflated") != nullptr;
        for (const auto& m : z.members()) EXPECT_EQ(m.method, deflated ? 8 : 0) << m.name;
        for (const char* a : {"W", "h", "d", "ramp"}) {
            ASSERT_TRUE(z.has(a)) << a;
            const Json& r = ref.at(a, "npz_values.json");
            Tensor t = z.read_f32(a);
            Shape want;
            for (const auto& d : r.at("shape", a).arr) want.push_back(d.as_int(a));
            EXPECT_EQ(t.shape, want) << a;
            const auto& v = r.at("values", a).arr;
            ASSERT_EQ(t.data.size(), v.size()) << a;
            size_t bad = 0;
            for (size_t i = 0; i < v.size(); i++) bad += t.data[i] != (float)v[i].num;
            EXPECT_EQ(bad, 0u) << a;
        }
        EXPECT_FALSE(z.has("W.npy"));  // array names are given without the suffix
        EXPECT_FILE_ERROR(z.read_f32("missing"), f, "missing");
    }
    // the ramp (2560 float32 with repeats) really was compressed: 10368 member bytes in far fewer
    NpzArchive zd(fixture("npz_deflated.npz"));
    for (const auto& m : zd.members())
        if (m.name == "ramp.npy") {
            EXPECT_EQ(m.size, 10368u);
            EXPECT_LT(m.comp_size, 1000u);
        }
    // both archives hold the same bytes, CRC-checked
    NpzArchive zs(fixture("npz_stored.npz"));
    for (const char* n : {"W.npy", "h.npy", "d.npy", "ramp.npy"})
        EXPECT_EQ(zs.member_bytes(n), zd.member_bytes(n)) << n;
    EXPECT_EQ(zs.member_bytes("ramp.npy").size(), 10368u);
    EXPECT_EQ(crc32_bytes((const uint8_t*)zs.member_bytes("W.npy").data(), 188), 0x7c6c37ebu);  // zipfile's value
}

TEST(Npz, Crc32KnownValues) {
    EXPECT_EQ(crc32_bytes((const uint8_t*)"123456789", 9), 0xCBF43926u);  // the CRC-32 check value
    EXPECT_EQ(crc32_bytes((const uint8_t*)"", 0), 0u);
    std::string a(1000, 'a');
    EXPECT_EQ(crc32_bytes((const uint8_t*)a.data(), a.size()), 0x9A38DA03u);  // Python's zlib.crc32
}

TEST(Npz, BadCrcIsRejected) {
    TempDir t;
    // a wrong CRC in the directory of the deflated archive, and a flipped data byte in the stored one
    std::string z = unfold::read_file(fixture("npz_deflated.npz"));
    const size_t c = central_entry(z, "W.npy");
    put32(z, c + kCrc, get32(z, c + kCrc) ^ 0x10u);
    write_raw(t.file("crc.npz"), z);
    NpzArchive a(t.file("crc.npz"));
    EXPECT_FILE_ERROR(a.read_f32("W"), "crc.npz", "CRC-32");
    EXPECT_FILE_ERROR(a.read_f32("W"), "crc.npz", "W.npy");
    EXPECT_EQ(a.read_f32("h").data[2], 65504.0f);  // the other members still read

    std::string s = unfold::read_file(fixture("npz_stored.npz"));
    s[200] ^= 0x01;  // inside the data of W.npy (offset 0, 188 bytes after a ~70-byte local header)
    write_raw(t.file("flip.npz"), s);
    EXPECT_FILE_ERROR(NpzArchive(t.file("flip.npz")).read_f32("W"), "flip.npz", "CRC-32");
}

TEST(Npz, TruncatedDeflateStreamIsRejected) {
    TempDir t;
    std::string z = unfold::read_file(fixture("npz_deflated.npz"));
    const size_t c = central_entry(z, "ramp.npy");
    const uint32_t comp = get32(z, c + kCompSize);
    ASSERT_GT(comp, 40u);
    put32(z, c + kCompSize, comp / 2);  // the stream is cut in the middle
    write_raw(t.file("cut.npz"), z);
    NpzArchive a(t.file("cut.npz"));
    EXPECT_FILE_ERROR(a.member_bytes("ramp.npy"), "cut.npz", "deflate stream truncated");
    EXPECT_FILE_ERROR(a.member_bytes("ramp.npy"), "cut.npz", "ramp.npy");

    // a compressed size past the stream's end leaves bytes unused: also rejected
    std::string z2 = unfold::read_file(fixture("npz_deflated.npz"));
    const size_t c2 = central_entry(z2, "W.npy");
    put32(z2, c2 + kCompSize, get32(z2, c2 + kCompSize) + 5);
    write_raw(t.file("long.npz"), z2);
    EXPECT_FILE_ERROR(NpzArchive(t.file("long.npz")).member_bytes("W.npy"), "long.npz", "compressed size");
}

TEST(Npz, WrongDeclaredSizeIsRejected) {
    TempDir t;
    const std::string orig = unfold::read_file(fixture("npz_deflated.npz"));
    const size_t c = central_entry(orig, "ramp.npy");
    const uint32_t size = get32(orig, c + kSize);
    ASSERT_EQ(size, 10368u);
    for (uint32_t declared : {size - 1, size + 1, size / 2, 0xFFFFFFF0u}) {
        SCOPED_TRACE(declared);
        std::string z = orig;
        put32(z, c + kSize, declared);
        write_raw(t.file("size.npz"), z);
        NpzArchive a(t.file("size.npz"));
        EXPECT_FILE_ERROR(a.member_bytes("ramp.npy"), "size.npz", "uncompressed size");
        EXPECT_FILE_ERROR(a.member_bytes("ramp.npy"), "size.npz", "ramp.npy");
    }
    // 0xFFFFFFF0 bytes from a 272-byte stream is more than deflate can produce: refused before inflating
    std::string z = orig;
    put32(z, c + kSize, 0xFFFFFFF0u);
    write_raw(t.file("huge.npz"), z);
    EXPECT_FILE_ERROR(NpzArchive(t.file("huge.npz")).member_bytes("ramp.npy"), "huge.npz", "at most 1032x");

    // a stored member whose sizes disagree is rejected when the directory is read
    std::string s = unfold::read_file(fixture("npz_stored.npz"));
    const size_t cs = central_entry(s, "h.npy");
    put32(s, cs + kSize, get32(s, cs + kSize) + 1);
    write_raw(t.file("stored.npz"), s);
    EXPECT_FILE_ERROR(NpzArchive a(t.file("stored.npz")), "stored.npz", "h.npy");
}

TEST(Npz, TruncatedOrCorruptCentralDirectoryIsRejected) {
    TempDir t;
    const std::string orig = unfold::read_file(fixture("npz_deflated.npz"));
    const size_t e = eocd_of(orig);
    const size_t cd_off = get32(orig, e + 16), cd_size = get32(orig, e + 12);
    ASSERT_EQ(cd_off + cd_size, e);
    // the directory's last 30 bytes lost, the end record kept: it points past itself
    std::string z = orig.substr(0, e - 30) + orig.substr(e);
    write_raw(t.file("cd.npz"), z);
    EXPECT_FILE_ERROR(NpzArchive a(t.file("cd.npz")), "cd.npz", "central directory");
    // an entry count larger than the directory holds
    z = orig;
    z[e + 10] = 9;  // total entries
    write_raw(t.file("count.npz"), z);
    EXPECT_FILE_ERROR(NpzArchive a(t.file("count.npz")), "count.npz", "central directory");
    // a local-header offset pointing at garbage
    z = orig;
    put32(z, central_entry(z, "d.npy") + kLocalOffset, 7);
    write_raw(t.file("local.npz"), z);
    EXPECT_FILE_ERROR(NpzArchive(t.file("local.npz")).member_bytes("d.npy"), "local.npz", "local header");
    // the end record cut off
    write_raw(t.file("eocd.npz"), orig.substr(0, e + 10));
    EXPECT_FILE_ERROR(NpzArchive a(t.file("eocd.npz")), "eocd.npz", "end-of-central-directory");
}

TEST(Npz, EveryTruncationAndEveryDeflateByteFlipFailsCleanly) {
    TempDir t;
    const std::string orig = unfold::read_file(fixture("npz_deflated.npz"));
    // every prefix of the file: an error naming the file (never a crash or a silent read)
    int rejected = 0;
    for (size_t n = 0; n < orig.size(); n++) {
        write_raw(t.file("p.npz"), orig.substr(0, n));
        std::string e = error_of([&] {
            NpzArchive a(t.file("p.npz"));
            for (const char* m : {"W", "h", "d", "ramp"}) a.read_f32(m);
        });
        rejected += !e.empty() && e.find("p.npz") != std::string::npos && e.find('\n') == std::string::npos;
    }
    EXPECT_EQ(rejected, (int)orig.size());
    // every byte of the ramp member's deflate data flipped: zlib or the CRC-32 rejects it
    const size_t c = central_entry(orig, "ramp.npy");
    const size_t local = get32(orig, c + kLocalOffset), comp = get32(orig, c + kCompSize);
    const size_t data = local + 30 + (uint8_t)orig[local + 26] + 256u * (uint8_t)orig[local + 27] +
                        (uint8_t)orig[local + 28] + 256u * (uint8_t)orig[local + 29];
    ASSERT_LE(data + comp, orig.size());
    int flips = 0;
    for (size_t i = data; i < data + comp; i++) {
        std::string z = orig;
        z[i] ^= 0x5A;
        write_raw(t.file("f.npz"), z);
        std::string e = error_of([&] { NpzArchive(t.file("f.npz")).read_f32("ramp"); });
        flips += !e.empty() && e.find("f.npz: member 'ramp.npy'") != std::string::npos;
    }
    EXPECT_EQ(flips, (int)comp);
}

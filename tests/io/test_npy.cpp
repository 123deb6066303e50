// test_npy.cpp: .npy reader/writer: files written by numpy (format 1.0, 2.0, 3.0; every supported dtype)
// read with exact values, our writer byte-identical to np.save, NpyMap row access, and every corrupt
// header rejected with a one-line message naming the file and the field.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io_test_util.h"
#include "unfold/core/half.h"
#include "unfold/core/rng.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"

using namespace unfold;
using unfold_test::fixture;
using unfold_test::TempDir;
using unfold_test::write_raw;

namespace {

Shape shape_of(const Json& j) {
    Shape s;
    for (const auto& d : j.arr) s.push_back((int64_t)d.num);
    return s;
}

// A v1.0 file with the given header dict (padded like numpy) and data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
    std::string h = dict;
    size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string s = std::string("\x93NUMPY", 6) + (char)major + '\0';
    s += (char)(h.size() & 0xff);
    s += (char)(h.size() >> 8);
    if (major != 1) s += std::string(2, '\0');
    return s + h + data;
}

}  // namespace

TEST(Npy, ReadsNumpyFilesExactly) {
    Json ref = json_load(fixture("npy_values.json"));
    int checked = 0;
    for (const auto& [name, r] : ref.obj) {
        if (name.rfind("npy_write_", 0) == 0) continue;
        SCOPED_TRACE(name);
        std::string path = fixture(name + ".npy");
        std::string descr = r.at("descr", "").str;
        Shape shape = shape_of(r.at("shape", ""));
        const Json& vals = r.at("values", "");
        // the header parser sees the version numpy wrote
        std::string bytes = read_file(path);
        NpyHeader h = npy_parse_header((const uint8_t*)bytes.data(), bytes.size(), path);
        EXPECT_EQ(h.shape, shape);
        EXPECT_EQ((int)(uint8_t)bytes[6], (int)r.at("version", "").arr[0].num);
        EXPECT_EQ(h.data_offset % 64, 0u);
        EXPECT_EQ(h.data_offset + shape_numel(shape) * h.itemsize(), bytes.size());
        if (descr[1] == 'f') {
            Tensor t = npy_load(path);
            EXPECT_EQ(t.shape, shape);
            ASSERT_EQ((size_t)t.numel(), vals.size());
            for (size_t i = 0; i < vals.size(); i++) EXPECT_EQ(t[i], (float)vals.arr[i].num) << i;
        } else {
            std::vector<int64_t> v = npy_load_int(path);
            ASSERT_EQ(v.size(), vals.size());
            for (size_t i = 0; i < vals.size(); i++) EXPECT_EQ(v[i], (int64_t)vals.arr[i].num) << i;
        }
        checked++;
    }
    EXPECT_EQ(checked, 10);
}

// np.save and npy_save / npy_save_int32 write the same bytes.
TEST(Npy, WriterMatchesNumpyBytes) {
    Json ref = json_load(fixture("npy_values.json"));
    TempDir dir;
    int checked = 0;
    for (const auto& [name, r] : ref.obj) {
        if (name.rfind("npy_write_", 0) != 0) continue;
        SCOPED_TRACE(name);
        Shape shape = shape_of(r.at("shape", ""));
        const Json& vals = r.at("values", "");
        std::string descr = r.at("descr", "").str;
        std::string out = dir.file(name + ".npy");
        if (descr == "<i4") {
            std::vector<int32_t> v;
            for (const auto& x : vals.arr) v.push_back((int32_t)x.num);
            npy_save_int32(out, shape, v.data());
        } else {
            std::vector<float> v;
            for (const auto& x : vals.arr) v.push_back((float)x.num);
            npy_save(out, shape, v.data(), descr == "<f2");
        }
        EXPECT_TRUE(read_file(out) == read_file(fixture(name + ".npy"))) << read_file(out).substr(0, 128);
        checked++;
    }
    EXPECT_EQ(checked, 6);
    EXPECT_EQ(dir.count(), 6u);  // no temporaries left
}

TEST(Npy, RoundTripAndLargeHeaderUsesVersion2) {
    TempDir dir;
    std::vector<float> x(30);
    Rng rng(3);
    for (auto& v : x) v = (float)rng.normal();
    std::string p32 = dir.file("a.npy"), p16 = dir.file("h.npy");
    npy_save(p32, {5, 6}, x.data());
    npy_save(p16, {30}, x.data(), true);
    Tensor a = npy_load(p32), h = npy_load(p16);
    EXPECT_EQ(a.shape, (Shape{5, 6}));
    EXPECT_EQ(a.data, x);
    for (int i = 0; i < 30; i++) EXPECT_EQ(h[i], f16_to_f32(f32_to_f16(x[i])));

    // 22000 dimensions of size 1: the header no longer fits a u16 length, so format 2.0 is used.
    Shape many(22000, 1);
    std::string pv2 = dir.file("v2.npy");
    float one = 4.5f;
    npy_save(pv2, many, &one);
    std::string bytes = read_file(pv2);
    EXPECT_EQ(bytes[6], 2);
    NpyHeader hd = npy_parse_header((const uint8_t*)bytes.data(), bytes.size(), pv2);
    EXPECT_EQ(hd.shape.size(), 22000u);
    EXPECT_EQ(hd.data_offset % 64, 0u);
    EXPECT_EQ(npy_load(pv2)[0], 4.5f);

    std::vector<int32_t> ids = {1, -2, 50256, 7};
    std::string pi = dir.file("ids.npy");
    npy_save_int32(pi, {2, 2}, ids.data());
    EXPECT_EQ(npy_load_int(pi), (std::vector<int64_t>{1, -2, 50256, 7}));
}

TEST(Npy, MapReadsRows) {
    TempDir dir;
    std::vector<float> x(7 * 5);
    for (size_t i = 0; i < x.size(); i++) x[i] = 0.25f * (float)i - 3.0f;
    std::string p = dir.file("act.npy"), p16 = dir.file("act16.npy");
    npy_save(p, {7, 5}, x.data());
    npy_save(p16, {7, 5}, x.data(), true);  // all values exact in float16
    for (const std::string& path : {p, p16}) {
        NpyMap m(path);
        EXPECT_EQ(m.rows(), 7);
        EXPECT_EQ(m.cols(), 5);
        EXPECT_EQ(m.path(), path);
        std::vector<float> out(3 * 5);
        m.read_rows(2, 3, out.data());
        for (int i = 0; i < 15; i++) EXPECT_EQ(out[i], x[10 + i]);
        m.read_rows(7, 0, out.data());  // empty read at the end is fine
        EXPECT_FILE_ERROR(m.read_rows(5, 3, out.data()), path, "rows [5, 8) requested, the array has 7 rows");
        EXPECT_FILE_ERROR(m.read_rows(-1, 1, out.data()), path, "rows");
    }
    // 3-D: cols is the product of the trailing dims; 1-D: one column
    std::string p3 = dir.file("a3.npy"), p1 = dir.file("a1.npy");
    npy_save(p3, {2, 3, 4}, x.data());
    npy_save(p1, {6}, x.data());
    EXPECT_EQ(NpyMap(p3).cols(), 12);
    EXPECT_EQ(NpyMap(p1).cols(), 1);
    EXPECT_EQ(NpyMap(p1).rows(), 6);
    // a scalar or an integer array cannot be mapped as activations
    std::string ps = dir.file("s.npy"), pi = dir.file("i.npy");
    npy_save(ps, {}, x.data());
    int32_t iv[2] = {1, 2};
    npy_save_int32(pi, {2}, iv);
    EXPECT_FILE_ERROR(NpyMap m(ps), ps, "shape");
    EXPECT_FILE_ERROR(NpyMap m(pi), pi, "descr");
}

TEST(Npy, NonFiniteRejectedNamingRow) {
    TempDir dir;
    std::vector<float> x(4 * 3, 1.0f);
    std::string p = dir.file("nan.npy");
    npy_save(p, {4, 3}, x.data());
    std::string bytes = read_file(p);
    float nan = NAN;
    std::memcpy(&bytes[bytes.size() - 12 + 4], &nan, 4);  // row 3, column 1
    write_raw(p, bytes);
    EXPECT_FILE_ERROR(npy_load(p), p, "NaN/Inf at flat index 10");
    NpyMap m(p);
    std::vector<float> out(12);
    m.read_rows(0, 3, out.data());  // rows before it are fine
    EXPECT_FILE_ERROR(m.read_rows(1, 3, out.data()), p, "row 3: NaN/Inf");
    // float16 infinity too
    std::string p16 = dir.file("inf16.npy");
    uint16_t h[2] = {0x3C00, 0xFC00};
    write_raw(p16, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", std::string((char*)h, 4)));
    EXPECT_FILE_ERROR(npy_load(p16), p16, "NaN/Inf at flat index 1");
}

TEST(Npy, WriterRefusesBadInputAndLeavesNothing) {
    TempDir dir;
    std::string p = dir.file("w.npy");
    std::vector<float> bad = {1.0f, INFINITY}, big = {1.0f, 1e5f};
    EXPECT_FILE_ERROR(npy_save(p, {2}, bad.data()), p, "NaN/Inf at flat index 1");
    EXPECT_FILE_ERROR(npy_save(p, {2}, big.data(), true), p, "overflows float16");
    EXPECT_FILE_ERROR(npy_save(p, {-2}, big.data()), p, "negative");
    EXPECT_EQ(dir.count(), 0u);
    EXPECT_THROW(npy_save(dir.file("missing/w.npy"), {2}, big.data()), Error);
    EXPECT_EQ(dir.count(), 0u);
}

TEST(Npy, TypeMismatchErrors) {
    EXPECT_FILE_ERROR(npy_load(fixture("npy_i64_v1.npy")), "npy_i64_v1.npy", "descr: '<i8' is an integer array");
    EXPECT_FILE_ERROR(npy_load_int(fixture("npy_f32_v1.npy")), "npy_f32_v1.npy", "descr: '<f4' is a float array");
    EXPECT_FILE_ERROR(npy_load("/nonexistent/x.npy"), "/nonexistent/x.npy", "cannot open");
}

TEST(Npy, RejectsEveryCorruptKind) {
    TempDir dir;
    const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const std::string d24(24, '\0');
    struct Case {
        const char* what;
        std::string bytes;
        std::string field;
    };
    std::string v1 = npy_bytes(good, d24);
    std::string short_len = v1;
    short_len[8] = (char)0xff;  // header length larger than the file
    short_len[9] = (char)0x7f;
    std::vector<Case> cases = {
        {"empty file", "", "magic"},
        {"bad magic", "\x93NUMPZ" + v1.substr(6), "magic"},
        {"not npy at all", "hello world, this is text", "magic"},
        {"unsupported version 4.0", v1.substr(0, 6) + "\x04" + v1.substr(7), "version: format 4.0"},
        {"unsupported version 1.1", v1.substr(0, 7) + "\x01" + v1.substr(8), "version: format 1.1"},
        {"header length beyond file", short_len, "header length: 32767 bytes"},
        {"v2 header cut", std::string("\x93NUMPY\x02\x00\x05\x00", 10), "header length: file truncated"},
        {"v1 header cut", std::string("\x93NUMPY\x01\x00\x05", 9), "header length: file truncated"},
        {"fortran order", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", d24),
         "fortran_order: True is not supported"},
        {"big-endian", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", d24),
         "descr: big-endian dtype '>f4'"},
        {"unsupported dtype", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", d24),
         "descr: unsupported dtype '<c8'"},
        {"structured dtype", npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", d24),
         "descr: structured"},
        {"truncated data", npy_bytes(good, d24.substr(0, 20)), "data: shape [2,3] x <f4 needs 24 bytes, file has 20 (truncated)"},
        {"trailing bytes", npy_bytes(good, d24 + "abcd"), "file has 28 (trailing bytes)"},
        {"missing key", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", d24), "header: missing key 'fortran_order'"},
        {"extra key", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }", d24),
         "header: unexpected key 'x'"},
        {"duplicate key", npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", d24),
         "header: duplicate key 'descr'"},
        {"no closing brace", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", d24), "header:"},
        {"not a dict", npy_bytes("['descr', '<f4']", d24), "header: expected '{'"},
        {"shape not a tuple", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", d24),
         "header: expected '('"},
        {"negative dimension", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", d24),
         "header: expected a non-negative integer"},
        {"1-tuple without comma", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", d24),
         "trailing comma"},
        {"fortran_order not bool", npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", d24),
         "header: expected True or False"},
        {"text after dict", npy_bytes(good + " junk", d24), "header: unexpected text after the dict"},
        {"shape overflow",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999, 999999999999), }", d24),
         "shape: size overflow"},
        {"huge dimension", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", d24),
         "dimension too large"},
    };
    int i = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        std::string path = dir.file("bad" + std::to_string(i++) + ".npy");
        write_raw(path, c.bytes);
        EXPECT_FILE_ERROR(npy_load(path), path, c.field);
        EXPECT_FILE_ERROR(NpyMap m(path), path, c.field);
    }
}

TEST(Npy, RandomCorruptionNeverCrashes) {
    TempDir dir;
    std::vector<float> x(24, 0.5f);
    std::string good = dir.file("good.npy");
    npy_save(good, {4, 6}, x.data());
    const std::string base = read_file(good);
    Rng rng(5);
    int errors = 0, reads = 0;
    for (int trial = 0; trial < 1500; trial++) {
        std::string m = base;
        if (rng.below(3) == 0) {
            m.resize((size_t)rng.below(m.size()));
        } else {
            int flips = 1 + (int)rng.below(3);
            // mostly in the header, where the parser works
            for (int f = 0; f < flips; f++) m[(size_t)rng.below(rng.below(2) ? 128 : m.size())] = (char)rng.below(256);
        }
        std::string path = dir.file("mut" + std::to_string(trial) + ".npy");
        write_raw(path, m);
        try {
            Tensor t = npy_load(path);
            NpyMap map(path);
            reads++;
        } catch (const Error& e) {
            errors++;
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
        std::remove(path.c_str());
    }
    EXPECT_GT(errors, 500);
    EXPECT_GT(reads, 0);
}

// 0-element arrays: the reader converts nothing and never hands memcpy the null buffer of an empty tensor
// (undefined behaviour that UBSan reports; the sanitizer build of the suite runs this test under it).
TEST(Npy, EmptyArraysLoadWithoutTouchingBuffers) {
    Tensor t = npy_load(fixture("npy_empty_v1.npy"));
    EXPECT_EQ(t.numel(), 0);
    EXPECT_EQ(shape_str(t.shape), shape_str(shape_of(json_load(fixture("npy_values.json")).at("npy_empty_v1", "").at("shape", ""))));
    NpyMap m(fixture("npy_empty_v1.npy"));
    m.read_rows(0, 0, nullptr);  // nothing to read, no buffer needed
    TempDir dir;
    for (bool f16 : {false, true}) {
        const std::string p = dir.file(f16 ? "e16.npy" : "e32.npy");
        npy_save(p, {0, 5}, nullptr, f16);
        Tensor e = npy_load(p);
        EXPECT_EQ(e.shape, (Shape{0, 5}));
        EXPECT_EQ(NpyMap(p).rows(), 0);
        EXPECT_EQ(NpyMap(p).cols(), 5);
    }
}

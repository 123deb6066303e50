// test_safetensors.cpp: safetensors reader/writer: interop with files from Python's `safetensors`
// package (tests/fixtures/io, written by tools/reference/io_fixtures.py), round trips of every written
// dtype, and rejection of every kind of corrupt header with a one-line message naming file and field.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "io_test_util.h"
#include "unfold/core/half.h"
#include "unfold/core/rng.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"

using namespace unfold;
using unfold_test::error_of;
using unfold_test::fixture;
using unfold_test::TempDir;
using unfold_test::write_raw;

namespace {

std::string u64le(uint64_t v) {
    std::string s(8, '\0');
    for (int k = 0; k < 8; k++) s[k] = (char)(v >> (8 * k));
    return s;
}

// A raw safetensors file: length + header + data (no padding, as a third-party writer might do).
std::string st_bytes(const std::string& header, const std::string& data) { return u64le(header.size()) + header + data; }

std::vector<float> floats_of(const Json& arr) {
    std::vector<float> v;
    for (const auto& x : arr.arr) v.push_back((float)x.num);
    return v;
}

}  // namespace

TEST(SafeTensors, DtypeNamesAndSizes) {
    DType d;
    EXPECT_TRUE(parse_dtype("BF16", &d));
    EXPECT_EQ(d, DType::BF16);
    EXPECT_EQ(std::string(dtype_name(DType::I16)), "I16");
    EXPECT_FALSE(parse_dtype("f32", &d));  // case matters
    EXPECT_FALSE(parse_dtype("F8_E4M3", &d));
    EXPECT_EQ(dtype_size(DType::F64), 8u);
    EXPECT_EQ(dtype_size(DType::BF16), 2u);
    EXPECT_EQ(dtype_size(DType::BOOL), 1u);
}

// Every dtype, written by safetensors.torch.save_file: shapes, dtypes, values and metadata exact.
TEST(SafeTensors, ReadsPythonFileEveryDtype) {
    Json ref = json_load(fixture("st_py_all.json"));
    SafeTensorsReader r(fixture("st_py_all.safetensors"));
    const Json& tensors = ref.at("tensors", "ref");
    EXPECT_EQ(r.entries().size(), tensors.size());
    for (const auto& [name, t] : tensors.obj) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(r.has(name));
        const StEntry& e = r.entry(name);
        EXPECT_EQ(std::string(dtype_name(e.dtype)), t.at("dtype", "").str);
        Shape shape;
        for (const auto& d : t.at("shape", "").arr) shape.push_back((int64_t)d.num);
        EXPECT_EQ(e.shape, shape);
        const Json& vals = t.at("values", "");
        if (e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16 || e.dtype == DType::F64) {
            Tensor x = r.read_f32(name, shape);
            EXPECT_EQ(x.shape, shape);
            ASSERT_EQ((size_t)x.numel(), vals.size());
            for (size_t i = 0; i < vals.size(); i++) EXPECT_EQ(x[i], (float)vals.arr[i].num) << "index " << i;
        } else if (e.dtype == DType::BOOL) {
            const uint8_t* p = r.raw(name);
            for (size_t i = 0; i < vals.size(); i++) EXPECT_EQ((int)p[i], (int)vals.arr[i].num);
        } else {
            std::vector<int64_t> x = r.read_i64(name);
            ASSERT_EQ(x.size(), vals.size());
            for (size_t i = 0; i < vals.size(); i++) EXPECT_EQ(x[i], (int64_t)vals.arr[i].num) << "index " << i;
        }
    }
    const Json& meta = ref.at("metadata", "ref");
    EXPECT_EQ(r.metadata().size(), meta.size());
    for (const auto& [k, v] : meta.obj) {
        ASSERT_TRUE(r.metadata().count(k)) << k;
        EXPECT_EQ(r.metadata().at(k), v.str);
    }
    EXPECT_EQ(r.metadata().at("note"), "unfold fixture \xc3\xa9");  // UTF-8 kept as is
}

// Our writer, given the tensors in the order the Python package lays them out, writes the same bytes.
TEST(SafeTensors, WriterMatchesPythonBytes) {
    Json ref = json_load(fixture("st_py_write.json"));
    std::vector<std::vector<float>> store;
    std::vector<StWriteTensor> ts;
    for (const auto& t : ref.at("tensors", "").arr) store.push_back(floats_of(t.at("values", "")));
    size_t k = 0;
    for (const auto& t : ref.at("tensors", "").arr) {
        StWriteTensor w;
        w.name = t.at("name", "").str;
        for (const auto& d : t.at("shape", "").arr) w.shape.push_back((int64_t)d.num);
        ASSERT_TRUE(parse_dtype(t.at("dtype", "").str, &w.dtype));
        w.data = store[k++].data();
        ts.push_back(w);
    }
    std::map<std::string, std::string> meta;
    for (const auto& [mk, mv] : ref.at("metadata", "").obj) meta[mk] = mv.str;
    TempDir dir;
    std::string out = dir.file("ours.safetensors");
    safetensors_write(out, ts, meta);
    std::string ours = read_file(out), theirs = read_file(fixture("st_py_write.safetensors"));
    EXPECT_EQ(ours.size(), theirs.size());
    EXPECT_TRUE(ours == theirs) << "header ours:   " << ours.substr(8, 200) << "\nheader theirs: " << theirs.substr(8, 200);
    EXPECT_EQ(dir.count(), 1u);  // no temporary left behind
}

TEST(SafeTensors, RoundTripEveryWrittenDtype) {
    TempDir dir;
    std::vector<float> a(6), b(7), c(5), s = {-3.25f};
    Rng rng(7);
    for (auto& x : a) x = (float)rng.normal();
    for (auto& x : b) x = (float)rng.normal() * 100.0f;
    for (auto& x : c) x = (float)rng.normal() * 1e-3f;
    c[0] = 6.0e-8f;  // float16 subnormal
    std::vector<StWriteTensor> ts = {{"layer.0.w", {2, 3}, a.data(), DType::F32},
                                     {"half", {7}, b.data(), DType::F16},
                                     {"brain", {5, 1}, c.data(), DType::BF16},
                                     {"scalar", {}, s.data(), DType::F32},
                                     {"empty", {0, 4}, nullptr, DType::F16}};
    std::string path = dir.file("rt.safetensors");
    safetensors_write(path, ts, {{"step", "120"}, {"model", "toy \"quoted\" \\ name"}});

    std::string bytes = read_file(path);
    uint64_t hlen = 0;
    std::memcpy(&hlen, bytes.data(), 8);
    EXPECT_EQ(hlen % 8, 0u);  // header padded so the data section is 8-aligned

    SafeTensorsReader r(path);
    ASSERT_EQ(r.entries().size(), 5u);
    EXPECT_EQ(r.entries()[0].name, "layer.0.w");  // header order = given order
    EXPECT_EQ(r.entries()[1].begin, 24u);         // data laid out in the given order
    EXPECT_EQ(r.metadata().at("step"), "120");
    EXPECT_EQ(r.metadata().at("model"), "toy \"quoted\" \\ name");
    Tensor ra = r.read_f32("layer.0.w", {2, 3});
    for (int i = 0; i < 6; i++) EXPECT_EQ(ra[i], a[i]);
    EXPECT_EQ(r.entry("half").dtype, DType::F16);
    Tensor rb = r.read_f32("half");
    for (int i = 0; i < 7; i++) {
        EXPECT_EQ(rb[i], f16_to_f32(f32_to_f16(b[i])));
        EXPECT_NEAR(rb[i], b[i], std::fabs(b[i]) * 1e-3);  // float16: 11 significant bits
    }
    Tensor rc = r.read_f32("brain", {5, 1});
    for (int i = 0; i < 5; i++) {
        EXPECT_EQ(rc[i], bf16_to_f32(f32_to_bf16(c[i])));
        EXPECT_NEAR(rc[i], c[i], std::fabs(c[i]) * 4e-3);  // bfloat16: 8 significant bits
    }
    Tensor rs = r.read_f32("scalar");
    EXPECT_TRUE(rs.shape.empty());
    EXPECT_EQ(rs.numel(), 1);
    EXPECT_EQ(rs[0], -3.25f);
    EXPECT_EQ(r.read_f32("empty").numel(), 0);
    EXPECT_EQ(r.entry("empty").begin, r.entry("empty").end);
}

TEST(SafeTensors, ReadErrorsForMisuse) {
    TempDir dir;
    std::vector<float> a = {1, 2, 3, 4, 5, 6};
    std::string path = dir.file("m.safetensors");
    safetensors_write(path, {{"W", {2, 3}, a.data(), DType::F32}});
    SafeTensorsReader r(path);
    EXPECT_FILE_ERROR(r.read_f32("W", {3, 2}), path, "tensor 'W': expected shape [3,2], found [2,3]");
    EXPECT_FILE_ERROR(r.read_f32("nope"), path, "no tensor named 'nope'");
    EXPECT_FILE_ERROR(r.read_i64("W"), path, "tensor 'W': dtype F32");
    EXPECT_FALSE(r.has("nope"));

    // An integer tensor read as float
    std::string ip = dir.file("i.safetensors");
    std::string data(16, '\0');
    data[0] = 5;
    write_raw(ip, st_bytes(R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", data));
    SafeTensorsReader ri(ip);
    EXPECT_FILE_ERROR(ri.read_f32("ids"), ip, "tensor 'ids': dtype I64");
    EXPECT_EQ(ri.read_i64("ids"), (std::vector<int64_t>{5, 0}));
}

TEST(SafeTensors, NonFiniteValuesRejectedWithIndex) {
    TempDir dir;
    for (const char* dt : {"F32", "F16", "BF16", "F64"}) {
        SCOPED_TRACE(dt);
        DType d;
        ASSERT_TRUE(parse_dtype(dt, &d));
        size_t es = dtype_size(d);
        std::string data(4 * es, '\0');
        // element 2 = +Inf or NaN in this dtype
        if (d == DType::F32) { float v = std::numeric_limits<float>::quiet_NaN(); std::memcpy(&data[2 * es], &v, 4); }
        if (d == DType::F64) { double v = INFINITY; std::memcpy(&data[2 * es], &v, 8); }
        if (d == DType::F16) { uint16_t v = 0x7C00; std::memcpy(&data[2 * es], &v, 2); }
        if (d == DType::BF16) { uint16_t v = 0xFFC1; std::memcpy(&data[2 * es], &v, 2); }
        std::string path = dir.file(std::string("nan_") + dt + ".safetensors");
        write_raw(path, st_bytes(strformat(R"({"act":{"dtype":"%s","shape":[2,2],"data_offsets":[0,%zu]}})", dt,
                                           4 * es),
                                 data));
        SafeTensorsReader r(path);
        EXPECT_FILE_ERROR(r.read_f32("act"), path, "tensor 'act': NaN/Inf at flat index 2");
    }
}

TEST(SafeTensors, WriterRefusesBadInputAndLeavesNothing) {
    TempDir dir;
    std::string path = dir.file("w.safetensors");
    std::vector<float> a = {1, 2, NAN, 4};
    std::vector<float> ok = {1, 2, 3, 4};
    std::vector<float> big = {1, 70000.0f};
    EXPECT_FILE_ERROR(safetensors_write(path, {{"x", {4}, a.data(), DType::F32}}), path, "NaN/Inf at flat index 2");
    EXPECT_FILE_ERROR(safetensors_write(path, {{"x", {4}, ok.data()}, {"x", {4}, ok.data()}}), path, "duplicate");
    EXPECT_FILE_ERROR(safetensors_write(path, {{"x", {2}, big.data(), DType::F16}}), path, "overflows F16");
    EXPECT_FILE_ERROR(safetensors_write(path, {{"x", {4}, ok.data(), DType::I32}}), path, "F32, F16 or BF16");
    EXPECT_FILE_ERROR(safetensors_write(path, {{"x", {-4}, ok.data()}}), path, "negative");
    EXPECT_FILE_ERROR(safetensors_write(path, {{"__metadata__", {4}, ok.data()}}), path, "invalid name");
    EXPECT_EQ(dir.count(), 0u);  // neither target nor temporary file
    // A folder that does not exist: fails on creating the temporary file, leaves nothing.
    std::string missing = dir.file("no/such/dir/w.safetensors");
    EXPECT_THROW(safetensors_write(missing, {{"x", {4}, ok.data()}}), Error);
    EXPECT_EQ(dir.count(), 0u);
    // Overwriting an existing file replaces it completely.
    safetensors_write(path, {{"x", {4}, ok.data()}});
    safetensors_write(path, {{"y", {1}, ok.data()}});
    SafeTensorsReader r(path);
    EXPECT_FALSE(r.has("x"));
    EXPECT_EQ(r.read_f32("y")[0], 1.0f);
    EXPECT_EQ(dir.count(), 1u);
}

// Each corrupt kind: the reader throws, naming the file and the field.
TEST(SafeTensors, RejectsEveryCorruptKind) {
    TempDir dir;
    const std::string d24(24, '\0'), d40(40, '\0');
    const std::string two = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                            R"("b":{"dtype":"F32","shape":[4],"data_offsets":[24,40]}})";
    struct Case {
        const char* what;
        std::string bytes;
        std::string field;
    };
    std::vector<Case> cases = {
        {"shorter than 8 bytes", std::string("\x10\x00\x00", 3), "header length"},
        {"header length beyond file", u64le(1000) + "{}", "header length: 1000 bytes but only 2"},
        {"header length absurd", u64le(1ull << 40) + "{}", "header length"},
        {"header length overflow", u64le(~0ull) + "{}", "header length"},
        {"header not JSON", st_bytes("{\"a\": [1,2", ""), "header: line 1 col"},
        {"header not an object", st_bytes("[1,2,3]", ""), "header: expected a JSON object"},
        {"header trailing garbage", st_bytes("{} x", ""), "header: line 1 col 4"},
        {"invalid UTF-8", st_bytes("{\"a\xff\":1}", ""), "header: invalid UTF-8 at byte 3"},
        {"truncated data", st_bytes(two, d40.substr(0, 33)), "tensor 'b': data_offsets: [24, 40] lie beyond"},
        {"unknown dtype", st_bytes(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", d24.substr(0, 8)),
         "tensor 'a': dtype: unknown dtype 'F31'"},
        {"dtype not a string", st_bytes(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", d24.substr(0, 8)),
         "tensor 'a': dtype"},
        {"shape/bytes mismatch",
         st_bytes(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", d24.substr(0, 20)),
         "tensor 'a': shape [2,3] x F32 = 24 bytes but data_offsets span 20"},
        {"offset beyond data",
         st_bytes(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}})", d24),
         "tensor 'a': data_offsets: [8, 32] lie beyond the data section (24 bytes"},
        {"gap between tensors",
         st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                  d24.substr(0, 20)),
         "tensor 'b': data_offsets: starts at 12, leaving a gap after byte 8"},
        {"gap at start", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", d24.substr(0, 12)),
         "tensor 'a': data_offsets: starts at 4"},
        {"overlap",
         st_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                  d24.substr(0, 16)),
         "overlapping tensor 'a'"},
        {"same range twice",
         st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  d24.substr(0, 8)),
         "overlapping"},
        {"trailing bytes", st_bytes(two, d40 + "xyz"), "data section: 43 bytes but the tensors cover only 40"},
        {"negative shape", st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,0]}})", ""),
         "tensor 'a': shape[0]: expected a non-negative integer"},
        {"fractional shape", st_bytes(R"({"a":{"dtype":"F32","shape":[2,1.5],"data_offsets":[0,12]}})", d24.substr(0, 12)),
         "tensor 'a': shape[1]"},
        {"shape not an array", st_bytes(R"({"a":{"dtype":"F32","shape":6,"data_offsets":[0,24]}})", d24),
         "tensor 'a': shape: expected an array"},
        {"shape overflow",
         st_bytes(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", d24.substr(0, 8)),
         "tensor 'a': shape: size overflow"},
        {"offsets wrong length", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", d24.substr(0, 8)),
         "tensor 'a': data_offsets: expected [begin, end]"},
        {"negative offset", st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[-8,-8]}})", ""),
         "tensor 'a': data_offsets[0]"},
        {"begin after end", st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d24.substr(0, 8)),
         "tensor 'a': data_offsets: begin 8 is after end 0"},
        {"missing dtype", st_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", d24.substr(0, 8)),
         "tensor 'a': missing field 'dtype'"},
        {"unknown field", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", d24.substr(0, 8)),
         "tensor 'a': unexpected field 'x'"},
        {"tensor entry not an object", st_bytes(R"({"a":[1]})", ""), "tensor 'a': expected an object"},
        {"duplicate tensor names",
         st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  d24.substr(0, 8)),
         "duplicate key 'a'"},
        {"metadata non-string", st_bytes(R"({"__metadata__":{"step":12}})", ""),
         "__metadata__: value of 'step' must be a string"},
        {"metadata not an object", st_bytes(R"({"__metadata__":"x"})", ""), "__metadata__: expected an object"},
    };
    int i = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        std::string path = dir.file("bad" + std::to_string(i++) + ".safetensors");
        write_raw(path, c.bytes);
        EXPECT_FILE_ERROR(SafeTensorsReader r(path), path, c.field);
    }
    EXPECT_FILE_ERROR(SafeTensorsReader r(dir.file("missing.safetensors")), "missing.safetensors", "cannot open");
}

// Unpadded headers and odd data offsets (third-party writers) still read correctly.
TEST(SafeTensors, ReadsUnalignedData) {
    TempDir dir;
    float v[3] = {1.5f, -2.0f, 3.25f};
    std::string data(1, '\x07');  // a U8 first, so the F32 data start at an odd address
    data.append((const char*)v, 12);
    std::string path = dir.file("odd.safetensors");
    write_raw(path, st_bytes(R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("f":{"dtype":"F32","shape":[3],"data_offsets":[1,13]}})",
                             data));
    SafeTensorsReader r(path);
    Tensor f = r.read_f32("f");
    EXPECT_EQ(f.data, std::vector<float>(v, v + 3));
    EXPECT_EQ(r.read_i64("u"), std::vector<int64_t>{7});
}

// Random corruption of a valid file: every outcome is either a clean read or an unfold::Error.
TEST(SafeTensors, RandomCorruptionNeverCrashes) {
    TempDir dir;
    std::vector<float> a(12, 0.5f), b(5, -1.0f);
    std::string good = dir.file("good.safetensors");
    safetensors_write(good, {{"a", {3, 4}, a.data(), DType::F32}, {"b", {5}, b.data(), DType::BF16}}, {{"k", "v"}});
    const std::string base = read_file(good);
    Rng rng(99);
    int errors = 0, reads = 0;
    for (int trial = 0; trial < 1500; trial++) {
        std::string m = base;
        int kind = (int)rng.below(3);
        if (kind == 0) {
            m.resize((size_t)rng.below(m.size()));
        } else {
            int flips = 1 + (int)rng.below(4);
            for (int f = 0; f < flips; f++) m[(size_t)rng.below(m.size())] = (char)rng.below(256);
        }
        // a fresh name each time (rewriting one file in place makes ext4 flush it to disk on close)
        std::string path = dir.file("mut" + std::to_string(trial) + ".safetensors");
        write_raw(path, m);
        try {
            SafeTensorsReader r(path);
            for (const auto& e : r.entries()) {
                if (e.dtype == DType::F32 || e.dtype == DType::BF16 || e.dtype == DType::F16 || e.dtype == DType::F64)
                    r.read_f32(e.name);
            }
            reads++;
        } catch (const Error& e) {
            errors++;
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
        std::remove(path.c_str());
    }
    EXPECT_GT(errors, 500);  // most mutations are detected
    EXPECT_GT(reads, 0);     // flips inside the data section are harmless
}

// The header may list tensors in any order; only their byte ranges must tile the data section.
TEST(SafeTensors, HeaderOrderIndependentOfOffsets) {
    TempDir dir;
    float v[4] = {1, 2, 3, 4};
    std::string path = dir.file("rev.safetensors");
    write_raw(path, st_bytes(R"({"second":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},)"
                             R"("first":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})",
                             std::string((const char*)v, 16)));
    SafeTensorsReader r(path);
    ASSERT_EQ(r.entries().size(), 2u);
    EXPECT_EQ(r.entries()[0].name, "second");  // header order kept
    EXPECT_EQ(r.read_f32("second").data, std::vector<float>{4});
    EXPECT_EQ(r.read_f32("first", {3}).data, (std::vector<float>{1, 2, 3}));
}

TEST(SafeTensors, NoTensorsOnlyMetadata) {
    TempDir dir;
    std::string path = dir.file("meta.safetensors");
    safetensors_write(path, {}, {{"a", "1"}});
    SafeTensorsReader r(path);
    EXPECT_TRUE(r.entries().empty());
    EXPECT_EQ(r.metadata().at("a"), "1");
    std::string empty = dir.file("empty.safetensors");
    safetensors_write(empty, {});
    EXPECT_EQ(read_file(empty), u64le(8) + "{}      ");
    EXPECT_TRUE(SafeTensorsReader(empty).entries().empty());
}

// 0-element tensors of every float dtype, alone in the file (empty data section, so even the source pointer
// is the end of the map) and beside others: read_f32 converts nothing and never hands memcpy a null buffer
// (undefined behaviour UBSan reports; the sanitizer build of the suite runs this under it).
TEST(SafeTensors, EmptyTensorsReadWithoutTouchingBuffers) {
    TempDir dir;
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        SCOPED_TRACE(dtype_name(dt));
        const std::string alone = dir.file(std::string("alone_") + dtype_name(dt) + ".safetensors");
        safetensors_write(alone, {{"e", {0, 3}, nullptr, dt}});
        SafeTensorsReader r(alone);
        Tensor t = r.read_f32("e", {0, 3});
        EXPECT_EQ(t.numel(), 0);
        EXPECT_EQ(t.shape, (Shape{0, 3}));
    }
    SafeTensorsReader py(fixture("st_py_all.safetensors"));  // written by the Python package: F32 [0, 3]
    EXPECT_EQ(py.entry("empty").dtype, DType::F32);
    EXPECT_EQ(py.read_f32("empty", {0, 3}).numel(), 0);
}

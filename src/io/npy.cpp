// npy.cpp: NumPy .npy reader (strict header parser, memory-mapped rows) and atomic writer.
//
// Format (numpy/lib/format.py, NEP 1): "\x93NUMPY", major, minor, then the header length (u16 LE for
// version 1.0, u32 LE for 2.0 and 3.0), then the header: a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes. The data follow
// in C order. The reader accepts exactly this grammar (keys in any order, each exactly once, optional
// trailing comma, single or double quotes); the writer produces the same bytes as numpy's np.save.
#include "unfold/io/npy.h"

#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/io/fileio.h"

namespace unfold {

static const uint64_t kMaxNpyHeader = 1 << 20;  // numpy itself refuses headers above 10 kB by default
static const int kGrowthAxisDigits = 21;        // numpy's spare room after the leading dimension

size_t NpyHeader::itemsize() const {
    switch (type) {
        case NpyType::F32:
        case NpyType::I32: return 4;
        case NpyType::F16: return 2;
        case NpyType::F64:
        case NpyType::I64: return 8;
        case NpyType::U8: return 1;
    }
    return 0;
}

static bool is_float(NpyType t) { return t == NpyType::F32 || t == NpyType::F16 || t == NpyType::F64; }

namespace {

// Parser for the header dict (a tiny subset of Python literal syntax).
struct DictParser {
    const std::string& s;
    const std::string& path;
    size_t i = 0;

    [[noreturn]] void error(const std::string& what) {
        fail("%s: header: %s at column %zu (header: %s)", path.c_str(), what.c_str(), i + 1, shown().c_str());
    }
    std::string shown() const {  // the header for the message, printable and one line
        std::string out;
        for (char c : s) {
            if (out.size() > 120) return out + "...";
            out += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        while (!out.empty() && (out.back() == ' ' || out.back() == '?')) out.pop_back();
        return out;
    }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) error(std::string("expected '") + c + "'");
        i++;
    }
    bool peek(char c) {
        ws();
        return i < s.size() && s[i] == c;
    }
    std::string str() {
        ws();
        if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) error("expected a quoted string");
        char q = s[i++];
        size_t st = i;
        while (i < s.size() && s[i] != q) {
            if (s[i] == '\\' || s[i] == '\n') error("unsupported character in string");
            i++;
        }
        if (i >= s.size()) error("unterminated string");
        return s.substr(st, i++ - st);
    }
    bool boolean() {
        ws();
        if (s.compare(i, 4, "True") == 0) return i += 4, true;
        if (s.compare(i, 5, "False") == 0) return i += 5, false;
        error("expected True or False");
    }
    int64_t integer() {
        ws();
        size_t st = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
        if (i == st) error("expected a non-negative integer");
        if (i - st > 18) error("dimension too large");
        int64_t v = 0;
        for (size_t k = st; k < i; k++) v = v * 10 + (s[k] - '0');
        if (i < s.size() && s[i] == 'L') i++;  // Python 2 longs
        return v;
    }
    Shape tuple() {
        expect('(');
        Shape sh;
        if (peek(')')) return i++, sh;
        while (true) {
            sh.push_back(integer());
            if (peek(')')) {
                if (sh.size() == 1) error("a 1-element tuple needs a trailing comma");
                i++;
                return sh;
            }
            expect(',');
            if (peek(')')) return i++, sh;
        }
    }
};

}  // namespace

static bool parse_descr(const std::string& d, NpyType* t) {
    if (d == "<f4") *t = NpyType::F32;
    else if (d == "<f2") *t = NpyType::F16;
    else if (d == "<f8") *t = NpyType::F64;
    else if (d == "<i4") *t = NpyType::I32;
    else if (d == "<i8") *t = NpyType::I64;
    else if (d == "|u1" || d == "<u1") *t = NpyType::U8;
    else return false;
    return true;
}

NpyHeader npy_parse_header(const uint8_t* b, uint64_t file_size, const std::string& path) {
    const char* P = path.c_str();
    UNFOLD_CHECK(file_size >= 6 && std::memcmp(b, "\x93NUMPY", 6) == 0,
                 "%s: magic: expected a .npy file starting with \\x93NUMPY", P);
    UNFOLD_CHECK(file_size >= 10, "%s: header length: file truncated (%llu bytes)", P, (unsigned long long)file_size);
    int major = b[6], minor = b[7];
    uint64_t hlen, prefix;
    if (major == 1 && minor == 0) {
        hlen = (uint64_t)b[8] | ((uint64_t)b[9] << 8);
        prefix = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        UNFOLD_CHECK(file_size >= 12, "%s: header length: file truncated (%llu bytes)", P,
                     (unsigned long long)file_size);
        hlen = (uint64_t)b[8] | ((uint64_t)b[9] << 8) | ((uint64_t)b[10] << 16) | ((uint64_t)b[11] << 24);
        prefix = 12;
    } else {
        fail("%s: version: format %d.%d, expected 1.0, 2.0 or 3.0", P, major, minor);
    }
    UNFOLD_CHECK(hlen <= kMaxNpyHeader, "%s: header length: %llu bytes, expected at most %llu", P,
                 (unsigned long long)hlen, (unsigned long long)kMaxNpyHeader);
    UNFOLD_CHECK(hlen <= file_size - prefix, "%s: header length: %llu bytes but the file has only %llu after it", P,
                 (unsigned long long)hlen, (unsigned long long)(file_size - prefix));
    std::string h((const char*)b + prefix, (size_t)hlen);
    // Strip the trailing newline/space padding.
    while (!h.empty() && (h.back() == '\n' || h.back() == ' ' || h.back() == '\r' || h.back() == '\0')) h.pop_back();

    DictParser ps{h, path};
    NpyHeader out;
    bool got_descr = false, got_fortran = false, got_shape = false, fortran = false;
    std::string descr;
    ps.expect('{');
    while (!ps.peek('}')) {
        std::string key = ps.str();
        ps.expect(':');
        if (key == "descr") {
            if (got_descr) ps.error("duplicate key 'descr'");
            got_descr = true;
            ps.ws();
            if (ps.i < h.size() && h[ps.i] == '[') fail("%s: descr: structured dtypes are not supported", P);
            descr = ps.str();
        } else if (key == "fortran_order") {
            if (got_fortran) ps.error("duplicate key 'fortran_order'");
            got_fortran = true;
            fortran = ps.boolean();
        } else if (key == "shape") {
            if (got_shape) ps.error("duplicate key 'shape'");
            got_shape = true;
            out.shape = ps.tuple();
        } else {
            ps.error("unexpected key '" + key + "' (expected descr, fortran_order, shape)");
        }
        if (ps.peek('}')) break;
        ps.expect(',');
    }
    ps.expect('}');
    ps.ws();
    if (ps.i != h.size()) ps.error("unexpected text after the dict");
    if (!got_descr || !got_fortran || !got_shape)
        fail("%s: header: missing key '%s'", P, !got_descr ? "descr" : !got_fortran ? "fortran_order" : "shape");
    UNFOLD_CHECK(descr.empty() || descr[0] != '>',
                 "%s: descr: big-endian dtype '%s' is not supported (save with arr.astype('<%s'))", P, descr.c_str(),
                 descr.substr(1).c_str());
    UNFOLD_CHECK(parse_descr(descr, &out.type),
                 "%s: descr: unsupported dtype '%s' (expected '<f4', '<f2', '<f8', '<i4', '<i8' or '|u1')", P,
                 descr.c_str());
    UNFOLD_CHECK(!fortran,
                 "%s: fortran_order: True is not supported, expected C order (save np.ascontiguousarray(arr))", P);

    out.data_offset = prefix + hlen;
    uint64_t numel = 1;
    for (int64_t d : out.shape) numel = mul_checked(numel, (uint64_t)d, (path + ": shape").c_str());
    uint64_t need = mul_checked(numel, out.itemsize(), (path + ": shape").c_str());
    uint64_t have = file_size - out.data_offset;
    UNFOLD_CHECK(have >= need, "%s: data: shape %s x %s needs %llu bytes, file has %llu (truncated)", P,
                 shape_str(out.shape).c_str(), descr.c_str(), (unsigned long long)need, (unsigned long long)have);
    UNFOLD_CHECK(have == need, "%s: data: shape %s x %s needs %llu bytes, file has %llu (trailing bytes)", P,
                 shape_str(out.shape).c_str(), descr.c_str(), (unsigned long long)need, (unsigned long long)have);
    return out;
}

static const char* type_descr(NpyType t) {
    switch (t) {
        case NpyType::F32: return "<f4";
        case NpyType::F16: return "<f2";
        case NpyType::F64: return "<f8";
        case NpyType::I32: return "<i4";
        case NpyType::I64: return "<i8";
        case NpyType::U8: return "|u1";
    }
    return "?";
}

// Float conversion of n elements (unaligned-safe); returns the index of the first NaN/Inf or -1.
// An empty array has no buffer (dst is null): memcpy with a null pointer is undefined even for 0 bytes.
static int64_t convert_float(NpyType t, const uint8_t* src, float* dst, int64_t n) {
    if (n == 0) return -1;
    switch (t) {
        case NpyType::F32: std::memcpy(dst, src, (size_t)n * 4); break;
        case NpyType::F16:
            for (int64_t i = 0; i < n; i++) {
                uint16_t h;
                std::memcpy(&h, src + 2 * i, 2);
                dst[i] = f16_to_f32(h);
            }
            break;
        case NpyType::F64:
            for (int64_t i = 0; i < n; i++) {
                double v;
                std::memcpy(&v, src + 8 * i, 8);
                dst[i] = (float)v;
            }
            break;
        default: UNFOLD_ASSERT(false);
    }
    for (int64_t i = 0; i < n; i++)
        if (!std::isfinite(dst[i])) return i;
    return -1;
}

Tensor npy_load(const std::string& path) {
    MappedFile f(path);
    NpyHeader h = npy_parse_header(f.data(), f.size(), path);
    UNFOLD_CHECK(is_float(h.type), "%s: descr: '%s' is an integer array, expected '<f4', '<f2' or '<f8'",
                 path.c_str(), type_descr(h.type));
    Tensor t(h.shape);
    int64_t bad = convert_float(h.type, f.data() + h.data_offset, t.ptr(), t.numel());
    UNFOLD_CHECK(bad < 0, "%s: data: NaN/Inf at flat index %lld", path.c_str(), (long long)bad);
    return t;
}

std::vector<int64_t> npy_load_int(const std::string& path) {
    MappedFile f(path);
    NpyHeader h = npy_parse_header(f.data(), f.size(), path);
    UNFOLD_CHECK(!is_float(h.type), "%s: descr: '%s' is a float array, expected '<i4', '<i8' or '|u1'",
                 path.c_str(), type_descr(h.type));
    int64_t n = shape_numel(h.shape);
    std::vector<int64_t> out((size_t)n);
    const uint8_t* p = f.data() + h.data_offset;
    for (int64_t i = 0; i < n; i++) {
        if (h.type == NpyType::U8) {
            out[i] = p[i];
        } else if (h.type == NpyType::I32) {
            int32_t v;
            std::memcpy(&v, p + 4 * i, 4);
            out[i] = v;
        } else {
            std::memcpy(&out[i], p + 8 * i, 8);
        }
    }
    return out;
}

// The header bytes numpy's np.save writes for this array (version 1.0 if it fits, else 2.0).
static std::string npy_header_bytes(NpyType t, const Shape& shape) {
    std::string d = std::string("{'descr': '") + type_descr(t) + "', 'fortran_order': False, 'shape': (";
    for (size_t k = 0; k < shape.size(); k++) {
        if (k) d += ", ";
        d += std::to_string(shape[k]);
    }
    if (shape.size() == 1) d += ",";
    d += "), }";
    if (!shape.empty()) d += std::string(kGrowthAxisDigits - std::to_string(shape[0]).size(), ' ');
    // Like numpy: version 1.0 unless the padded header overflows its u16 length; the padding (1..64 spaces,
    // then '\n') puts the data at a multiple of 64 bytes.
    size_t prefix = 10;
    if (d.size() + 1 + (64 - (prefix + d.size() + 1) % 64) > 65535) prefix = 12;
    size_t pad = 64 - (prefix + d.size() + 1) % 64;
    d += std::string(pad, ' ') + "\n";
    std::string pre;
    uint64_t hl = d.size();
    if (prefix == 10) {
        UNFOLD_ASSERT(hl <= 65535);
        pre = std::string("\x93NUMPY\x01\x00", 8);
        pre += (char)(hl & 0xff);
        pre += (char)(hl >> 8);
    } else {
        pre = std::string("\x93NUMPY\x02\x00", 8);
        for (int k = 0; k < 4; k++) pre += (char)((hl >> (8 * k)) & 0xff);
    }
    return pre + d;
}

static void check_shape(const std::string& path, const Shape& shape) {
    uint64_t n = 1;
    for (int64_t d : shape) {
        UNFOLD_CHECK(d >= 0, "%s: shape %s: negative dimension", path.c_str(), shape_str(shape).c_str());
        n = mul_checked(n, (uint64_t)d, path.c_str());
    }
}

void npy_save(const std::string& path, const Shape& shape, const float* data, bool as_f16) {
    check_shape(path, shape);
    int64_t n = shape_numel(shape);
    UNFOLD_CHECK(n == 0 || data != nullptr, "%s: no data", path.c_str());
    for (int64_t i = 0; i < n; i++) {
        UNFOLD_CHECK(std::isfinite(data[i]), "%s: NaN/Inf at flat index %lld, refusing to write", path.c_str(),
                     (long long)i);
        UNFOLD_CHECK(!as_f16 || std::fabs(data[i]) < 65520.0f,
                     "%s: value %g at flat index %lld overflows float16 (max 65504)", path.c_str(), (double)data[i],
                     (long long)i);
    }
    AtomicFile f(path);
    f.write(npy_header_bytes(as_f16 ? NpyType::F16 : NpyType::F32, shape));
    if (!as_f16) {
        f.write(data, (size_t)n * 4);
    } else {
        std::vector<uint16_t> buf;
        const int64_t chunk = 1 << 16;
        for (int64_t s = 0; s < n; s += chunk) {
            int64_t m = std::min(chunk, n - s);
            buf.resize((size_t)m);
            for (int64_t i = 0; i < m; i++) buf[i] = f32_to_f16(data[s + i]);
            f.write(buf.data(), (size_t)m * 2);
        }
    }
    f.commit();
}

void npy_save_int32(const std::string& path, const Shape& shape, const int32_t* data) {
    check_shape(path, shape);
    int64_t n = shape_numel(shape);
    UNFOLD_CHECK(n == 0 || data != nullptr, "%s: no data", path.c_str());
    AtomicFile f(path);
    f.write(npy_header_bytes(NpyType::I32, shape));
    f.write(data, (size_t)n * 4);
    f.commit();
}

// ---------------------------------------------------------------------------------------------- NpyMap

NpyMap::NpyMap(const std::string& path) {
    file_ = std::make_unique<MappedFile>(path);
    hdr_ = npy_parse_header(file_->data(), file_->size(), path);
    UNFOLD_CHECK(is_float(hdr_.type), "%s: descr: '%s' is an integer array, expected '<f4', '<f2' or '<f8'",
                 path.c_str(), type_descr(hdr_.type));
    UNFOLD_CHECK(!hdr_.shape.empty(), "%s: shape: expected at least 1 dimension, found a scalar", path.c_str());
}

NpyMap::~NpyMap() = default;

const std::string& NpyMap::path() const { return file_->path(); }

int64_t NpyMap::rows() const { return hdr_.shape[0]; }

int64_t NpyMap::cols() const {
    int64_t c = 1;
    for (size_t k = 1; k < hdr_.shape.size(); k++) c *= hdr_.shape[k];
    return c;
}

void NpyMap::read_rows(int64_t r0, int64_t n, float* out) const {
    UNFOLD_CHECK(r0 >= 0 && n >= 0 && r0 <= rows() && n <= rows() - r0,
                 "%s: rows [%lld, %lld) requested, the array has %lld rows", path().c_str(), (long long)r0,
                 (long long)(r0 + n), (long long)rows());
    const int64_t c = cols();
    const uint8_t* src = file_->data() + hdr_.data_offset + (uint64_t)r0 * (uint64_t)c * hdr_.itemsize();
    int64_t bad = convert_float(hdr_.type, src, out, n * c);
    if (bad >= 0)
        fail("%s: row %lld: NaN/Inf in data (column %lld)", path().c_str(), (long long)(r0 + bad / c),
             (long long)(bad % c));
}

}  // namespace unfold

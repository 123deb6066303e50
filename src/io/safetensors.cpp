// safetensors.cpp: reader (memory-mapped, every header field validated) and atomic writer for the
// safetensors format.
//
// File layout: [u64 LE header length N][N bytes of UTF-8 JSON][data section]. The JSON object maps tensor
// names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section) plus an
// optional "__metadata__" object of string -> string. The reader rejects anything the format does not
// allow: the tensors, sorted by offset, must tile the data section exactly (no gaps, no overlaps, no
// trailing bytes). The writer produces the same layout as the Python `safetensors` package: compact JSON,
// "__metadata__" first, header padded with spaces to a multiple of 8 bytes.
#include "unfold/io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"

namespace unfold {

static const uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

const char* dtype_name(DType d) {
    switch (d) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
        case DType::I32: return "I32";
        case DType::I16: return "I16";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
        case DType::BOOL: return "BOOL";
    }
    return "?";
}

size_t dtype_size(DType d) {
    switch (d) {
        case DType::F64:
        case DType::I64: return 8;
        case DType::F32:
        case DType::I32: return 4;
        case DType::F16:
        case DType::BF16:
        case DType::I16: return 2;
        case DType::I8:
        case DType::U8:
        case DType::BOOL: return 1;
    }
    return 0;
}

bool parse_dtype(const std::string& s, DType* out) {
    static const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                                DType::I32, DType::I16, DType::I8,   DType::U8,  DType::BOOL};
    for (DType d : all) {
        if (s == dtype_name(d)) {
            *out = d;
            return true;
        }
    }
    return false;
}

// Strict UTF-8 check (no overlongs, no surrogates, nothing above U+10FFFF). Returns the offset of the first
// bad byte or npos.
static size_t utf8_first_invalid(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return i;
        i += len;
    }
    return std::string::npos;
}

static uint64_t read_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

SafeTensorsReader::SafeTensorsReader(const std::string& path) : path_(path) {
    file_ = std::make_unique<MappedFile>(path);
    const char* P = path.c_str();
    const uint64_t fsize = file_->size();
    UNFOLD_CHECK(fsize >= 8, "%s: header length: file is %llu bytes, a safetensors file needs at least 8", P,
                 (unsigned long long)fsize);
    const uint8_t* base = file_->data();
    const uint64_t hlen = read_u64_le(base);
    UNFOLD_CHECK(hlen <= kMaxHeaderBytes, "%s: header length: %llu bytes, expected at most %llu (corrupt file?)", P,
                 (unsigned long long)hlen, (unsigned long long)kMaxHeaderBytes);
    UNFOLD_CHECK(hlen <= fsize - 8, "%s: header length: %llu bytes but only %llu bytes follow the length field", P,
                 (unsigned long long)hlen, (unsigned long long)(fsize - 8));
    UNFOLD_CHECK(hlen >= 2, "%s: header: %llu bytes, expected a JSON object", P, (unsigned long long)hlen);
    size_t bad = utf8_first_invalid(base + 8, (size_t)hlen);
    UNFOLD_CHECK(bad == std::string::npos, "%s: header: invalid UTF-8 at byte %zu", P, bad);
    data_start_ = 8 + hlen;
    const uint64_t data_size = fsize - data_start_;

    std::string text((const char*)base + 8, (size_t)hlen);
    Json h = json_parse(text, path + ": header");
    UNFOLD_CHECK(h.is_obj(), "%s: header: expected a JSON object", P);

    for (const auto& [name, val] : h.obj) {
        if (name == "__metadata__") {
            UNFOLD_CHECK(val.is_obj(), "%s: __metadata__: expected an object of strings", P);
            for (const auto& [k, v] : val.obj) {
                UNFOLD_CHECK(v.is_str(), "%s: __metadata__: value of '%s' must be a string", P, k.c_str());
                metadata_[k] = v.str;
            }
            continue;
        }
        const std::string ctx = strformat("%s: tensor '%s'", P, name.c_str());
        const char* C = ctx.c_str();
        UNFOLD_CHECK(val.is_obj(), "%s: expected an object with dtype, shape, data_offsets", C);
        for (const auto& kv : val.obj) {
            UNFOLD_CHECK(kv.first == "dtype" || kv.first == "shape" || kv.first == "data_offsets",
                         "%s: unexpected field '%s' (expected dtype, shape, data_offsets)", C, kv.first.c_str());
        }
        StEntry e;
        e.name = name;
        const std::string& ds = val.at("dtype", ctx).as_str(ctx + ": dtype");
        UNFOLD_CHECK(parse_dtype(ds, &e.dtype),
                     "%s: dtype: unknown dtype '%s' (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)", C,
                     ds.c_str());
        const Json& sh = val.at("shape", ctx);
        UNFOLD_CHECK(sh.is_arr(), "%s: shape: expected an array of non-negative integers", C);
        uint64_t numel = 1;
        for (size_t i = 0; i < sh.arr.size(); i++) {
            const Json& d = sh.arr[i];
            UNFOLD_CHECK(d.is_num() && d.num >= 0 && d.num == std::floor(d.num) && d.num <= 9.007199254740992e15,
                         "%s: shape[%zu]: expected a non-negative integer", C, i);
            e.shape.push_back((int64_t)d.num);
            numel = mul_checked(numel, (uint64_t)d.num, (ctx + ": shape").c_str());
        }
        const Json& off = val.at("data_offsets", ctx);
        UNFOLD_CHECK(off.is_arr() && off.arr.size() == 2, "%s: data_offsets: expected [begin, end]", C);
        for (int k = 0; k < 2; k++) {
            const Json& d = off.arr[k];
            UNFOLD_CHECK(d.is_num() && d.num >= 0 && d.num == std::floor(d.num) && d.num <= 9.007199254740992e15,
                         "%s: data_offsets[%d]: expected a non-negative integer", C, k);
        }
        e.begin = (uint64_t)off.arr[0].num;
        e.end = (uint64_t)off.arr[1].num;
        UNFOLD_CHECK(e.begin <= e.end, "%s: data_offsets: begin %llu is after end %llu", C,
                     (unsigned long long)e.begin, (unsigned long long)e.end);
        uint64_t nbytes = mul_checked(numel, dtype_size(e.dtype), (ctx + ": shape").c_str());
        UNFOLD_CHECK(nbytes == e.end - e.begin, "%s: shape %s x %s = %llu bytes but data_offsets span %llu", C,
                     shape_str(e.shape).c_str(), ds.c_str(), (unsigned long long)nbytes,
                     (unsigned long long)(e.end - e.begin));
        UNFOLD_CHECK(e.end <= data_size,
                     "%s: data_offsets: [%llu, %llu] lie beyond the data section (%llu bytes; file truncated?)", C,
                     (unsigned long long)e.begin, (unsigned long long)e.end, (unsigned long long)data_size);
        index_[name] = entries_.size();
        entries_.push_back(std::move(e));
    }

    // Sorted by offset, the tensors must cover [0, data_size) exactly.
    std::vector<const StEntry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(), [](const StEntry* a, const StEntry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    const StEntry* prev = nullptr;
    for (const StEntry* e : order) {
        if (e->begin > cursor) {
            fail("%s: tensor '%s': data_offsets: starts at %llu, leaving a gap after byte %llu%s%s%s", P,
                 e->name.c_str(), (unsigned long long)e->begin, (unsigned long long)cursor,
                 prev ? " (end of '" : "", prev ? prev->name.c_str() : "", prev ? "')" : "");
        }
        if (e->begin < cursor) {
            fail("%s: tensor '%s': data_offsets: starts at %llu, overlapping tensor '%s' which ends at %llu", P,
                 e->name.c_str(), (unsigned long long)e->begin, prev ? prev->name.c_str() : "?",
                 (unsigned long long)cursor);
        }
        cursor = e->end;
        prev = e;
    }
    UNFOLD_CHECK(cursor == data_size,
                 "%s: data section: %llu bytes but the tensors cover only %llu (trailing bytes)", P,
                 (unsigned long long)data_size, (unsigned long long)cursor);
}

SafeTensorsReader::~SafeTensorsReader() = default;

bool SafeTensorsReader::has(const std::string& name) const { return index_.count(name) > 0; }

const StEntry& SafeTensorsReader::entry(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) fail("%s: no tensor named '%s'", path_.c_str(), name.c_str());
    return entries_[it->second];
}

const uint8_t* SafeTensorsReader::raw(const std::string& name) const {
    const StEntry& e = entry(name);
    return file_->data() + data_start_ + e.begin;
}

template <class T>
static T load_le(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));  // little-endian host (x86-64 / aarch64)
    return v;
}

// Converts n elements of dtype d at src into float32 dst (unaligned-safe). An empty tensor has no buffer (dst
// is null, and so is src when the data section is empty): memcpy with a null pointer is undefined even for 0
// bytes.
static void convert_to_f32(DType d, const uint8_t* src, float* dst, int64_t n) {
    if (n == 0) return;
    switch (d) {
        case DType::F32: std::memcpy(dst, src, (size_t)n * 4); break;
        case DType::F16:
#pragma omp parallel for schedule(static) if (n > (1 << 18))
            for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(load_le<uint16_t>(src + 2 * i));
            break;
        case DType::BF16:
#pragma omp parallel for schedule(static) if (n > (1 << 18))
            for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(load_le<uint16_t>(src + 2 * i));
            break;
        case DType::F64:
#pragma omp parallel for schedule(static) if (n > (1 << 18))
            for (int64_t i = 0; i < n; i++) dst[i] = (float)load_le<double>(src + 8 * i);
            break;
        default: UNFOLD_ASSERT(false);
    }
}

// Index of the first non-finite value, or -1.
static int64_t first_non_finite(const float* x, int64_t n) {
    int64_t first = n;
#pragma omp parallel for schedule(static) reduction(min : first) if (n > (1 << 18))
    for (int64_t i = 0; i < n; i++) {
        if (!std::isfinite(x[i]) && i < first) first = i;
    }
    return first == n ? -1 : first;
}

Tensor SafeTensorsReader::read_f32(const std::string& name, const Shape& expect) const {
    const StEntry& e = entry(name);
    const char* P = path_.c_str();
    UNFOLD_CHECK(e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16 || e.dtype == DType::F64,
                 "%s: tensor '%s': dtype %s, expected a float type (F32, F16, BF16 or F64)", P, name.c_str(),
                 dtype_name(e.dtype));
    if (!expect.empty()) {
        UNFOLD_CHECK(e.shape == expect, "%s: tensor '%s': expected shape %s, found %s", P, name.c_str(),
                     shape_str(expect).c_str(), shape_str(e.shape).c_str());
    }
    Tensor t(e.shape);
    convert_to_f32(e.dtype, raw(name), t.ptr(), t.numel());
    int64_t bad = first_non_finite(t.ptr(), t.numel());
    UNFOLD_CHECK(bad < 0, "%s: tensor '%s': NaN/Inf at flat index %lld (value %g)", P, name.c_str(), (long long)bad,
                 bad >= 0 ? (double)t.data[(size_t)bad] : 0.0);
    return t;
}

std::vector<int64_t> SafeTensorsReader::read_i64(const std::string& name) const {
    const StEntry& e = entry(name);
    const uint8_t* p = raw(name);
    const uint64_t n = (e.end - e.begin) / dtype_size(e.dtype);
    std::vector<int64_t> out((size_t)n);
    switch (e.dtype) {
        case DType::I64: for (uint64_t i = 0; i < n; i++) out[i] = load_le<int64_t>(p + 8 * i); break;
        case DType::I32: for (uint64_t i = 0; i < n; i++) out[i] = load_le<int32_t>(p + 4 * i); break;
        case DType::I16: for (uint64_t i = 0; i < n; i++) out[i] = load_le<int16_t>(p + 2 * i); break;
        case DType::I8: for (uint64_t i = 0; i < n; i++) out[i] = (int8_t)p[i]; break;
        case DType::U8: for (uint64_t i = 0; i < n; i++) out[i] = p[i]; break;
        default:
            fail("%s: tensor '%s': dtype %s, expected an integer type (I64, I32, I16, I8 or U8)", path_.c_str(),
                 name.c_str(), dtype_name(e.dtype));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------- writer

static std::string json_str(const std::string& s) { return Json(s).dump(-1); }

void safetensors_write(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    const char* P = path.c_str();
    // Validate everything before creating the temporary file.
    std::map<std::string, int> seen;
    std::vector<uint64_t> nbytes(tensors.size());
    for (size_t i = 0; i < tensors.size(); i++) {
        const StWriteTensor& t = tensors[i];
        const char* N = t.name.c_str();
        UNFOLD_CHECK(!t.name.empty() && t.name != "__metadata__", "%s: tensor %zu: invalid name '%s'", P, i, N);
        UNFOLD_CHECK(seen.emplace(t.name, 1).second, "%s: tensor '%s': duplicate name", P, N);
        UNFOLD_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16,
                     "%s: tensor '%s': can only write F32, F16 or BF16, not %s", P, N, dtype_name(t.dtype));
        uint64_t numel = 1;
        for (int64_t d : t.shape) {
            UNFOLD_CHECK(d >= 0, "%s: tensor '%s': negative dimension in shape %s", P, N, shape_str(t.shape).c_str());
            numel = mul_checked(numel, (uint64_t)d, P);
        }
        UNFOLD_CHECK(numel == 0 || t.data != nullptr, "%s: tensor '%s': no data", P, N);
        int64_t bad = numel ? first_non_finite(t.data, (int64_t)numel) : -1;
        UNFOLD_CHECK(bad < 0, "%s: tensor '%s': NaN/Inf at flat index %lld, refusing to write", P, N, (long long)bad);
        if (t.dtype == DType::F16) {
            for (uint64_t k = 0; k < numel; k++) {
                UNFOLD_CHECK(std::fabs(t.data[k]) < 65520.0f,
                             "%s: tensor '%s': value %g at flat index %llu overflows F16 (max 65504)", P, N,
                             (double)t.data[k], (unsigned long long)k);
            }
        }
        nbytes[i] = mul_checked(numel, dtype_size(t.dtype), P);
    }

    // Header: compact JSON, metadata first, tensors in the given order.
    std::string h = "{";
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [k, v] : metadata) {
            if (!first) h += ",";
            first = false;
            h += json_str(k) + ":" + json_str(v);
        }
        h += "}";
    }
    uint64_t off = 0;
    for (size_t i = 0; i < tensors.size(); i++) {
        const StWriteTensor& t = tensors[i];
        if (h.size() > 1) h += ",";
        h += json_str(t.name) + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
        for (size_t k = 0; k < t.shape.size(); k++) {
            if (k) h += ',';
            h += std::to_string(t.shape[k]);
        }
        uint64_t end = add_checked(off, nbytes[i], P);
        h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(end) + "]}";
        off = end;
    }
    h += "}";
    while (h.size() % 8) h += ' ';
    UNFOLD_CHECK(h.size() <= kMaxHeaderBytes, "%s: header would be %zu bytes (too many tensors)", P, h.size());

    AtomicFile f(path);
    uint8_t len[8];
    uint64_t hl = h.size();
    for (int k = 0; k < 8; k++) len[k] = (uint8_t)(hl >> (8 * k));
    f.write(len, 8);
    f.write(h);
    std::vector<uint16_t> buf;
    const int64_t chunk = 1 << 16;
    for (const StWriteTensor& t : tensors) {
        int64_t n = shape_numel(t.shape);
        if (t.dtype == DType::F32) {
            f.write(t.data, (size_t)n * 4);
            continue;
        }
        for (int64_t s = 0; s < n; s += chunk) {
            int64_t m = std::min(chunk, n - s);
            buf.resize((size_t)m);
            for (int64_t i = 0; i < m; i++)
                buf[i] = t.dtype == DType::F16 ? f32_to_f16(t.data[s + i]) : f32_to_bf16(t.data[s + i]);
            f.write(buf.data(), (size_t)m * 2);
        }
    }
    f.commit();
}

}  // namespace unfold

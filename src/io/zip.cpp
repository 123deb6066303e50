// zip.cpp: zip central-directory parsing (incl. Zip64) for .npz archives; deflated members are
// decoded by zlib's inflate (raw deflate) and every member's size and CRC-32 (zlib's crc32) are checked.
#include "unfold/io/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"

namespace unfold {

namespace {
// zlib counts bytes in 32-bit uInt: longer buffers go in pieces of this size.
constexpr uint64_t kZChunk = 1u << 30;
// Deflate cannot expand by more than 1032x (a 258-byte match per ~2 bits); a declared size beyond that
// (plus slack for tiny streams) is a lie, and is rejected before any memory is reserved for it.
constexpr uint64_t kMaxDeflateRatio = 1032;
}  // namespace

uint32_t crc32_bytes(const uint8_t* p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        const uInt k = (uInt)std::min(n, kZChunk);
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

std::string inflate_raw(const uint8_t* in, uint64_t n, uint64_t expect, const std::string& ctx) {
    UNFOLD_CHECK(expect / kMaxDeflateRatio <= n + 64,
                 "%s: uncompressed size %llu: cannot come from %llu deflated bytes (deflate expands at most %llux)",
                 ctx.c_str(), (unsigned long long)expect, (unsigned long long)n, (unsigned long long)kMaxDeflateRatio);
    z_stream zs;
    std::memset(&zs, 0, sizeof zs);
    UNFOLD_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "%s: zlib inflateInit2 failed", ctx.c_str());
    struct End {
        z_stream* z;
        ~End() { inflateEnd(z); }
    } end{&zs};
    std::string out((size_t)expect, '\0');
    uint8_t* o = (uint8_t*)out.data();
    uint64_t in_left = n, out_left = expect;
    uint8_t spill[64];  // output past the declared size lands here, and is an error
    bool spilling = false;
    zs.next_in = (Bytef*)in;
    zs.next_out = o;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            zs.avail_in = (uInt)std::min(in_left, kZChunk);
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0) {
            if (out_left > 0) {
                zs.avail_out = (uInt)std::min(out_left, kZChunk);
                out_left -= zs.avail_out;
            } else {
                spilling = true;
                zs.next_out = spill;
                zs.avail_out = sizeof spill;
            }
        }
        const int rc = inflate(&zs, Z_NO_FLUSH);
        UNFOLD_CHECK(!(spilling && zs.avail_out < sizeof spill),
                     "%s: uncompressed size: the deflate stream holds more than the declared %llu bytes", ctx.c_str(),
                     (unsigned long long)expect);
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue;
        const uint64_t done = spilling ? expect : (uint64_t)(zs.next_out - o);
        UNFOLD_CHECK(!(rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0),
                     "%s: deflate stream truncated: its %llu compressed bytes end after %llu of the %llu "
                     "uncompressed bytes",
                     ctx.c_str(), (unsigned long long)n, (unsigned long long)done, (unsigned long long)expect);
        fail("%s: corrupt deflate stream after %llu bytes (zlib: %s)", ctx.c_str(), (unsigned long long)done,
             zs.msg ? zs.msg : "error");
    }
    const uint64_t got = spilling ? expect : (uint64_t)(zs.next_out - o);
    UNFOLD_CHECK(got == expect,
                 "%s: uncompressed size: the deflate stream holds %llu bytes, the zip directory says %llu", ctx.c_str(),
                 (unsigned long long)got, (unsigned long long)expect);
    const uint64_t unused = zs.avail_in + in_left;
    UNFOLD_CHECK(unused == 0, "%s: compressed size: %llu bytes, but the deflate stream ends after %llu", ctx.c_str(),
                 (unsigned long long)n, (unsigned long long)(n - unused));
    return out;
}

static uint16_t rd16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t* p) { return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16); }
static uint64_t rd64(const uint8_t* p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

NpzArchive::NpzArchive(const std::string& path) : path_(path), file_(std::make_unique<MappedFile>(path)) {
    const uint8_t* d = file_->data();
    const uint64_t n = file_->size();
    UNFOLD_CHECK(n >= 22, "%s: not a zip file (too short: %llu bytes)", path.c_str(), (unsigned long long)n);
    // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
    int64_t eocd = -1;
    for (int64_t i = (int64_t)n - 22; i >= 0 && i >= (int64_t)n - 22 - 65535; i--)
        if (rd32(d + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
    UNFOLD_CHECK(eocd >= 0, "%s: not a zip file (no end-of-central-directory record)", path.c_str());
    uint64_t count = rd16(d + eocd + 10), cd_size = rd32(d + eocd + 12), cd_off = rd32(d + eocd + 16);
    uint64_t cd_limit = (uint64_t)eocd;  // the directory lies before the end record (or the Zip64 one)
    if ((count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) && eocd >= 20 &&
        rd32(d + eocd - 20) == 0x07064b50u) {  // Zip64 locator
        const uint64_t z = rd64(d + eocd - 20 + 8);
        UNFOLD_CHECK(z <= (uint64_t)eocd - 20 && (uint64_t)eocd - 20 - z >= 56 && rd32(d + z) == 0x06064b50u,
                     "%s: Zip64 end record: expected its signature at offset %llu", path.c_str(),
                     (unsigned long long)z);
        count = rd64(d + z + 32);
        cd_size = rd64(d + z + 40);
        cd_off = rd64(d + z + 48);
        cd_limit = z;
    }
    UNFOLD_CHECK(cd_off <= cd_limit && cd_size <= cd_limit - cd_off,
                 "%s: central directory: offset %llu + size %llu runs past its end record at offset %llu (truncated "
                 "or corrupt)",
                 path.c_str(), (unsigned long long)cd_off, (unsigned long long)cd_size, (unsigned long long)cd_limit);
    UNFOLD_CHECK(count <= cd_size / 46, "%s: central directory: %llu entries cannot fit in %llu bytes", path.c_str(),
                 (unsigned long long)count, (unsigned long long)cd_size);
    uint64_t p = cd_off;
    const uint64_t end = cd_off + cd_size;
    for (uint64_t e = 0; e < count; e++) {
        UNFOLD_CHECK(p + 46 <= end && rd32(d + p) == 0x02014b50u,
                     "%s: central directory: entry %llu: expected a file header at offset %llu", path.c_str(),
                     (unsigned long long)e, (unsigned long long)p);
        ZipMember m;
        uint16_t flags = rd16(d + p + 8);
        m.method = rd16(d + p + 10);
        m.crc = rd32(d + p + 16);
        m.comp_size = rd32(d + p + 20);
        m.size = rd32(d + p + 24);
        uint16_t nlen = rd16(d + p + 28), xlen = rd16(d + p + 30), clen = rd16(d + p + 32);
        m.local_offset = rd32(d + p + 42);
        UNFOLD_CHECK(p + 46 + (uint64_t)nlen + xlen + clen <= end,
                     "%s: central directory: entry %llu: name/extra/comment lengths run past the directory",
                     path.c_str(), (unsigned long long)e);
        m.name.assign((const char*)d + p + 46, nlen);
        UNFOLD_CHECK(!(flags & 1), "%s: member '%s' is encrypted", path.c_str(), m.name.c_str());
        // Zip64 extra field: the 0xFFFFFFFF values follow in order size, comp_size, offset.
        const uint8_t* x = d + p + 46 + nlen;
        for (uint32_t q = 0; q + 4 <= xlen;) {
            uint16_t id = rd16(x + q), sz = rd16(x + q + 2);
            UNFOLD_CHECK(q + 4 + sz <= xlen, "%s: member '%s': bad extra field", path.c_str(), m.name.c_str());
            if (id == 0x0001) {
                uint32_t r = q + 4;
                auto take = [&](uint64_t& v) {
                    if (v != 0xFFFFFFFFu) return;
                    UNFOLD_CHECK(r + 8 <= q + 4u + sz, "%s: member '%s': short Zip64 field", path.c_str(),
                                 m.name.c_str());
                    v = rd64(x + r);
                    r += 8;
                };
                take(m.size);
                take(m.comp_size);
                take(m.local_offset);
            }
            q += 4 + sz;
        }
        UNFOLD_CHECK(m.method == 0 || m.method == 8, "%s: member '%s': compression method %u (expected 0 or 8)",
                     path.c_str(), m.name.c_str(), m.method);
        UNFOLD_CHECK(m.method != 0 || m.size == m.comp_size, "%s: member '%s': stored with size %llu != %llu",
                     path.c_str(), m.name.c_str(), (unsigned long long)m.size, (unsigned long long)m.comp_size);
        members_.push_back(m);
        p += 46 + (uint64_t)nlen + xlen + clen;
    }
}

NpzArchive::~NpzArchive() = default;

bool NpzArchive::has(const std::string& a) const {
    for (const auto& m : members_)
        if (m.name == a + ".npy") return true;
    return false;
}

std::string NpzArchive::member_bytes(const std::string& name) const {
    const ZipMember* m = nullptr;
    for (const auto& q : members_)
        if (q.name == name) m = &q;
    UNFOLD_CHECK(m, "%s: no member '%s'", path_.c_str(), name.c_str());
    // numpy writes each name once; a repeated one is ambiguous, so the last entry wins (as in Python's zipfile)
    const uint8_t* d = file_->data();
    const uint64_t n = file_->size();
    const std::string ctx = path_ + ": member '" + name + "'";
    UNFOLD_CHECK(m->local_offset <= n && n - m->local_offset >= 30 && rd32(d + m->local_offset) == 0x04034b50u,
                 "%s: local header: expected its signature at offset %llu", ctx.c_str(),
                 (unsigned long long)m->local_offset);
    uint64_t data = m->local_offset + 30 + rd16(d + m->local_offset + 26) + rd16(d + m->local_offset + 28);
    UNFOLD_CHECK(data <= n && m->comp_size <= n - data,
                 "%s: compressed size: %llu bytes from offset %llu run past the end of the file (%llu bytes)",
                 ctx.c_str(), (unsigned long long)m->comp_size, (unsigned long long)data, (unsigned long long)n);
    std::string out = m->method == 0 ? std::string((const char*)d + data, (size_t)m->comp_size)
                                     : inflate_raw(d + data, m->comp_size, m->size, ctx);
    uint32_t c = crc32_bytes((const uint8_t*)out.data(), out.size());
    UNFOLD_CHECK(c == m->crc, "%s: CRC-32: computed %08x, the zip directory says %08x (corrupt archive)", ctx.c_str(),
                 c, m->crc);
    return out;
}

Tensor NpzArchive::read_f32(const std::string& a) const {
    UNFOLD_CHECK(has(a), "%s: no array '%s' (expected member '%s.npy')", path_.c_str(), a.c_str(), a.c_str());
    const std::string mname = a + ".npy";
    std::string bytes = member_bytes(mname);
    const std::string ctx = path_ + ":" + mname;
    NpyHeader h = npy_parse_header((const uint8_t*)bytes.data(), bytes.size(), ctx);
    Tensor t(h.shape);
    const uint8_t* p = (const uint8_t*)bytes.data() + h.data_offset;
    const size_t cnt = t.data.size();
    for (size_t i = 0; i < cnt; i++) {
        float v;
        if (h.type == NpyType::F32) {
            std::memcpy(&v, p + 4 * i, 4);
        } else if (h.type == NpyType::F16) {
            uint16_t u;
            std::memcpy(&u, p + 2 * i, 2);
            v = f16_to_f32(u);
        } else if (h.type == NpyType::F64) {
            double dv;
            std::memcpy(&dv, p + 8 * i, 8);
            v = (float)dv;
        } else {
            fail("%s: expected a float array (<f4, <f2 or <f8)", ctx.c_str());
        }
        UNFOLD_CHECK(std::isfinite(v), "%s: element %zu is not finite", ctx.c_str(), i);
        t.data[i] = v;
    }
    return t;
}

}  // namespace unfold

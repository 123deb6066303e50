// sae_zip.cpp: zip central-directory parsing (incl. Zip64), a raw-deflate decoder (RFC 1951, canonical
// Huffman decoded bit by bit: simple and fast enough for parameter files) and CRC-32 (see sae_zip.h).
#include "unfold/io/zip.h"

#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"

namespace unfold {

uint32_t crc32_bytes(const uint8_t* p, uint64_t n) {
    static uint32_t table[256];
    static bool init = false;
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = true;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

namespace {

struct BitReader {
    const uint8_t* p;
    uint64_t n, pos = 0;  // pos in bits
    const std::string* ctx;
    uint32_t bit() {
        UNFOLD_CHECK((pos >> 3) < n, "%s: deflate stream ends early", ctx->c_str());
        uint32_t b = (p[pos >> 3] >> (pos & 7)) & 1;
        pos++;
        return b;
    }
    uint32_t bits(int k) {
        uint32_t v = 0;
        for (int i = 0; i < k; i++) v |= bit() << i;
        return v;
    }
};

struct Huff {
    uint16_t count[16] = {0};
    std::vector<uint16_t> sym;
    void build(const uint8_t* lens, int n, const std::string& ctx) {
        std::memset(count, 0, sizeof(count));
        for (int i = 0; i < n; i++) count[lens[i]]++;
        count[0] = 0;
        int left = 1;  // over-subscription check
        for (int l = 1; l < 16; l++) {
            left <<= 1;
            left -= count[l];
            UNFOLD_CHECK(left >= 0, "%s: deflate: over-subscribed Huffman code", ctx.c_str());
        }
        uint16_t offs[16] = {0};
        for (int l = 1; l < 15; l++) offs[l + 1] = offs[l] + count[l];
        sym.assign((size_t)n, 0);
        for (int i = 0; i < n; i++)
            if (lens[i]) sym[offs[lens[i]]++] = (uint16_t)i;
    }
    int decode(BitReader& br) const {
        int code = 0, first = 0, index = 0;
        for (int l = 1; l < 16; l++) {
            code |= (int)br.bit();
            int c = count[l];
            if (code - first < c) return sym[index + code - first];
            index += c;
            first += c;
            first <<= 1;
            code <<= 1;
        }
        fail("%s: deflate: invalid Huffman code", br.ctx->c_str());
    }
};

const uint16_t LBASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
                            163, 195, 227, 258};
const uint8_t LEXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
const uint16_t DBASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                            2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
const uint8_t DEXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

}  // namespace

std::string inflate_raw(const uint8_t* in, uint64_t n, uint64_t expect, const std::string& ctx) {
    std::string out;
    out.reserve((size_t)expect);
    BitReader br{in, n, 0, &ctx};
    bool last = false;
    while (!last) {
        last = br.bit();
        uint32_t type = br.bits(2);
        if (type == 0) {
            br.pos = (br.pos + 7) & ~(uint64_t)7;
            uint64_t at = br.pos >> 3;
            UNFOLD_CHECK(at + 4 <= n, "%s: deflate: truncated stored block", ctx.c_str());
            uint32_t len = in[at] | (in[at + 1] << 8), nlen = in[at + 2] | (in[at + 3] << 8);
            UNFOLD_CHECK((len ^ 0xFFFF) == nlen, "%s: deflate: stored block length check failed", ctx.c_str());
            UNFOLD_CHECK(at + 4 + len <= n, "%s: deflate: truncated stored block", ctx.c_str());
            UNFOLD_CHECK(out.size() + len <= expect, "%s: inflated data exceeds the declared size %llu", ctx.c_str(),
                         (unsigned long long)expect);
            out.append((const char*)in + at + 4, len);
            br.pos = (at + 4 + len) * 8;
            continue;
        }
        UNFOLD_CHECK(type != 3, "%s: deflate: invalid block type", ctx.c_str());
        Huff lit, dist;
        uint8_t lens[320];
        if (type == 1) {
            for (int i = 0; i < 288; i++) lens[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
            lit.build(lens, 288, ctx);
            for (int i = 0; i < 30; i++) lens[i] = 5;
            dist.build(lens, 30, ctx);
        } else {
            int hlit = (int)br.bits(5) + 257, hdist = (int)br.bits(5) + 1, hclen = (int)br.bits(4) + 4;
            UNFOLD_CHECK(hlit <= 286 && hdist <= 30, "%s: deflate: bad code counts", ctx.c_str());
            static const uint8_t ORD[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
            uint8_t cl[19] = {0};
            for (int i = 0; i < hclen; i++) cl[ORD[i]] = (uint8_t)br.bits(3);
            Huff clh;
            clh.build(cl, 19, ctx);
            int i = 0;
            while (i < hlit + hdist) {
                int s = clh.decode(br);
                if (s < 16) {
                    lens[i++] = (uint8_t)s;
                    continue;
                }
                int rep = 0;
                uint8_t v = 0;
                if (s == 16) {
                    UNFOLD_CHECK(i > 0, "%s: deflate: repeat with no previous length", ctx.c_str());
                    v = lens[i - 1];
                    rep = 3 + (int)br.bits(2);
                } else if (s == 17) {
                    rep = 3 + (int)br.bits(3);
                } else {
                    rep = 11 + (int)br.bits(7);
                }
                UNFOLD_CHECK(i + rep <= hlit + hdist, "%s: deflate: code lengths overflow", ctx.c_str());
                while (rep--) lens[i++] = v;
            }
            lit.build(lens, hlit, ctx);
            dist.build(lens + hlit, hdist, ctx);
        }
        for (;;) {
            int s = lit.decode(br);
            if (s < 256) {
                UNFOLD_CHECK(out.size() < expect, "%s: inflated data exceeds the declared size %llu", ctx.c_str(),
                             (unsigned long long)expect);
                out.push_back((char)s);
            } else if (s == 256) {
                break;
            } else {
                s -= 257;
                UNFOLD_CHECK(s < 29, "%s: deflate: bad length code", ctx.c_str());
                uint32_t len = LBASE[s] + br.bits(LEXTRA[s]);
                int ds = dist.decode(br);
                UNFOLD_CHECK(ds < 30, "%s: deflate: bad distance code", ctx.c_str());
                uint32_t dd = DBASE[ds] + br.bits(DEXTRA[ds]);
                UNFOLD_CHECK(dd <= out.size(), "%s: deflate: distance %u beyond the output", ctx.c_str(), dd);
                UNFOLD_CHECK(out.size() + len <= expect, "%s: inflated data exceeds the declared size %llu",
                             ctx.c_str(), (unsigned long long)expect);
                size_t from = out.size() - dd;
                for (uint32_t k = 0; k < len; k++) out.push_back(out[from + k]);
            }
        }
    }
    UNFOLD_CHECK(out.size() == expect, "%s: inflated %zu bytes, the zip directory says %llu", ctx.c_str(), out.size(),
                 (unsigned long long)expect);
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
    if ((count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) && eocd >= 20 &&
        rd32(d + eocd - 20) == 0x07064b50u) {  // Zip64 locator
        uint64_t z = rd64(d + eocd - 20 + 8);
        UNFOLD_CHECK(z + 56 <= n && rd32(d + z) == 0x06064b50u, "%s: bad Zip64 end record", path.c_str());
        count = rd64(d + z + 32);
        cd_size = rd64(d + z + 40);
        cd_off = rd64(d + z + 48);
    }
    UNFOLD_CHECK(cd_off <= n && cd_size <= n - cd_off, "%s: central directory (offset %llu, %llu bytes) outside the file",
                 path.c_str(), (unsigned long long)cd_off, (unsigned long long)cd_size);
    UNFOLD_CHECK(count <= cd_size / 46, "%s: central directory claims %llu entries in %llu bytes", path.c_str(),
                 (unsigned long long)count, (unsigned long long)cd_size);
    uint64_t p = cd_off;
    const uint64_t end = cd_off + cd_size;
    for (uint64_t e = 0; e < count; e++) {
        UNFOLD_CHECK(p + 46 <= end && rd32(d + p) == 0x02014b50u, "%s: central directory entry %llu is corrupt",
                     path.c_str(), (unsigned long long)e);
        ZipMember m;
        uint16_t flags = rd16(d + p + 8);
        m.method = rd16(d + p + 10);
        m.crc = rd32(d + p + 16);
        m.comp_size = rd32(d + p + 20);
        m.size = rd32(d + p + 24);
        uint16_t nlen = rd16(d + p + 28), xlen = rd16(d + p + 30), clen = rd16(d + p + 32);
        m.local_offset = rd32(d + p + 42);
        UNFOLD_CHECK(p + 46 + (uint64_t)nlen + xlen + clen <= end, "%s: central directory entry %llu overruns",
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
    const uint8_t* d = file_->data();
    const uint64_t n = file_->size();
    const std::string ctx = path_ + ": member '" + name + "'";
    UNFOLD_CHECK(m->local_offset <= n && n - m->local_offset >= 30 && rd32(d + m->local_offset) == 0x04034b50u,
                 "%s: local header missing at offset %llu", ctx.c_str(), (unsigned long long)m->local_offset);
    uint64_t data = m->local_offset + 30 + rd16(d + m->local_offset + 26) + rd16(d + m->local_offset + 28);
    UNFOLD_CHECK(data <= n && m->comp_size <= n - data, "%s: %llu data bytes run past the end of the file",
                 ctx.c_str(), (unsigned long long)m->comp_size);
    std::string out = m->method == 0 ? std::string((const char*)d + data, (size_t)m->comp_size)
                                     : inflate_raw(d + data, m->comp_size, m->size, ctx);
    uint32_t c = crc32_bytes((const uint8_t*)out.data(), out.size());
    UNFOLD_CHECK(c == m->crc, "%s: CRC-32 mismatch (data %08x, directory %08x): corrupt archive", ctx.c_str(), c,
                 m->crc);
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

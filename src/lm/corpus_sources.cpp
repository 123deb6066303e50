// corpus_sources.cpp: plain-text corpora from packages installed on the machine.
//   KJV Bible: the bible-kjv `bible` program prints verses with -f (pretty-printing off) as
//              "Ge1:1 In the beginning ..." one per line; we strip the reference and start a new paragraph
//              at each chapter.
//   GCIDE:     dictd's gcide.dict.dz (dictzip = gzip with random-access extras, so `gzip -dc` reads it) and
//              gcide.index ("headword \t base64 offset \t base64 length" per line). Entries are taken in
//              offset order (each once), indentation is removed and source tags like "[1913 Webster]" are
//              dropped, stray Windows-1252 bytes become UTF-8 (GCIDE's accent markup such as "[=a]" or "Ph[oe]nician" is kept as it is).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/corpus.h"

namespace unfold {
namespace {

// stdout of a shell command (arguments must already be quoted); fails on a non-zero exit status
std::string run_capture(const std::string& cmd, const std::string& what) {
    FILE* f = popen(cmd.c_str(), "r");
    UNFOLD_CHECK(f, "%s: cannot run '%s'", what.c_str(), cmd.c_str());
    std::string out;
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, k);
    int st = pclose(f);
    UNFOLD_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: '%s' failed (exit status %d)", what.c_str(),
                 cmd.c_str(), st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return out;
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// dictd's base64 number (most significant digit first)
bool b64_number(const std::string& s, uint64_t* v) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (s.empty() || s.size() > 10) return false;
    *v = 0;
    for (char c : s) {
        const char* p = c ? std::strchr(k, c) : nullptr;
        if (!p) return false;
        *v = *v * 64 + (uint64_t)(p - k);
    }
    return true;
}

// removes source tags such as "[1913 Webster]", "[WordNet 1.5 +PJC]" (anywhere in the line)
std::string strip_source_tags(std::string l) {
    size_t a = 0;
    while ((a = l.find('[', a)) != std::string::npos) {
        size_t b = l.find(']', a);
        if (b == std::string::npos) break;
        std::string in = l.substr(a, b - a);
        if (in.find("Webster") != std::string::npos || in.find("WordNet") != std::string::npos ||
            in.find("PJC") != std::string::npos) {
            size_t e = b + 1;
            while (e < l.size() && l[e] == ' ') e++;
            l.erase(a, e - a);
        } else {
            a = b + 1;
        }
    }
    return l;
}

// Invalid UTF-8 bytes (GCIDE has a few stray Windows-1252 bytes such as 0x92 for ’) are read as
// Windows-1252 (0x80-0x9F) or Latin-1 (0xA0-0xFF) and re-encoded as UTF-8, so the corpus is valid UTF-8.
std::string repair_utf8(const std::string& s) {
    static const uint16_t cp1252[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                        0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    std::string out;
    out.reserve(s.size());
    const auto* u = (const unsigned char*)s.data();
    for (size_t i = 0; i < s.size();) {
        int len;
        uint32_t cp = utf8_decode(u + i, s.size() - i, &len);
        if (cp != k_invalid_cp) {
            out.append(s, i, (size_t)len);
        } else {
            unsigned char b = u[i];
            utf8_append(out, b < 0x80 ? b : b < 0xA0 ? cp1252[b - 0x80] : b);
        }
        i += (size_t)len;
    }
    return out;
}

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace

std::string corpus_kjv_text(const std::string& bible_program) {
    std::string raw = run_capture(shell_quote(bible_program) + " -f gen1:1-rev22:21 2>/dev/null",
                                  bible_program + " (install Debian packages bible-kjv and bible-kjv-text)");
    std::string out;
    out.reserve(raw.size());
    std::string last_chapter;
    size_t pos = 0, verses = 0;
    while (pos < raw.size()) {
        size_t e = raw.find('\n', pos);
        if (e == std::string::npos) e = raw.size();
        std::string line = raw.substr(pos, e - pos);
        pos = e + 1;
        if (line.empty()) continue;
        size_t sp = line.find(' '), colon = line.find(':');
        UNFOLD_CHECK(sp != std::string::npos && colon != std::string::npos && colon < sp,
                     "%s: unexpected output line %zu: '%s' (expected 'Book1:1 text')", bible_program.c_str(),
                     verses + 1, line.substr(0, 60).c_str());
        std::string chapter = line.substr(0, colon);
        if (!last_chapter.empty() && chapter != last_chapter) out += '\n';
        last_chapter = chapter;
        out += trim(line.substr(sp + 1));
        out += '\n';
        verses++;
    }
    UNFOLD_CHECK(verses >= 31000, "%s: only %zu verses (expected 31,102; is bible-kjv-text installed?)",
                 bible_program.c_str(), verses);
    return out;
}

std::string corpus_gcide_text(const std::string& dict_dz, const std::string& index, size_t max_bytes) {
    UNFOLD_CHECK(file_exists(dict_dz), "%s: missing file (install the Debian package dict-gcide)", dict_dz.c_str());
    std::string idx = read_file(index);
    std::string data = run_capture("gzip -dc " + shell_quote(dict_dz), dict_dz);
    std::vector<std::pair<uint64_t, uint64_t>> entries;
    size_t pos = 0, line = 0;
    while (pos < idx.size()) {
        size_t e = idx.find('\n', pos);
        if (e == std::string::npos) e = idx.size();
        std::string l = idx.substr(pos, e - pos);
        pos = e + 1;
        line++;
        if (l.empty()) continue;
        size_t t1 = l.find('\t'), t2 = t1 == std::string::npos ? t1 : l.find('\t', t1 + 1);
        UNFOLD_CHECK(t2 != std::string::npos, "%s: line %zu: expected 'word<TAB>offset<TAB>length'", index.c_str(), line);
        if (l.compare(0, 2, "00") == 0) continue;  // 00-database-* metadata entries
        uint64_t off, len;
        std::string len_s = l.substr(t2 + 1);
        size_t t3 = len_s.find('\t');
        if (t3 != std::string::npos) len_s = len_s.substr(0, t3);
        UNFOLD_CHECK(b64_number(l.substr(t1 + 1, t2 - t1 - 1), &off) && b64_number(len_s, &len),
                     "%s: line %zu: bad base64 offset/length", index.c_str(), line);
        UNFOLD_CHECK(off <= data.size() && len <= data.size() - off,
                     "%s: line %zu: entry [%llu, +%llu) outside the %zu decompressed bytes of %s", index.c_str(),
                     line, (unsigned long long)off, (unsigned long long)len, data.size(), dict_dz.c_str());
        entries.emplace_back(off, len);
    }
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    UNFOLD_CHECK(!entries.empty(), "%s: no entries", index.c_str());
    std::string out;
    for (auto [off, len] : entries) {
        size_t p = (size_t)off, end = (size_t)(off + len);
        bool blank = true;
        while (p < end) {
            size_t e = data.find('\n', p);
            if (e == std::string::npos || e > end) e = end;
            std::string l = trim(strip_source_tags(data.substr(p, e - p)));
            p = e + 1;
            if (l.empty()) {
                if (!blank) out += '\n';
                blank = true;
                continue;
            }
            out += l;
            out += '\n';
            blank = false;
        }
        if (!blank) out += '\n';
        if (max_bytes && out.size() >= max_bytes) break;
    }
    return repair_utf8(out);
}

size_t corpus_write_source(const std::string& source, const std::string& out_path) {
    std::string text;
    if (source == "kjv") text = corpus_kjv_text();
    else if (source == "gcide") text = corpus_gcide_text();
    else fail("corpus source '%s' is not one of: kjv, gcide", source.c_str());
    write_file_atomic(out_path, text);
    return text.size();
}

}  // namespace unfold

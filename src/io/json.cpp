// json.cpp: strict JSON parser (with positions in errors) and writer.
#include "unfold/io/json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "core/utf8.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold {

Json& Json::operator[](const std::string& key) {
    if (type == NUL) type = OBJ;
    UNFOLD_ASSERT(type == OBJ);
    for (auto& kv : obj)
        if (kv.first == key) return kv.second;
    obj.emplace_back(key, Json());
    return obj.back().second;
}

const Json* Json::find(const std::string& key) const {
    if (type != OBJ) return nullptr;
    for (const auto& kv : obj)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Json::push(Json v) {
    if (type == NUL) type = ARR;
    UNFOLD_ASSERT(type == ARR);
    arr.push_back(std::move(v));
}

static const char* type_name(Json::Type t) {
    switch (t) {
        case Json::NUL: return "null";
        case Json::BOOL: return "a boolean";
        case Json::NUM: return "a number";
        case Json::STR: return "a string";
        case Json::ARR: return "an array";
        case Json::OBJ: return "an object";
    }
    return "?";
}

double Json::as_num(const std::string& ctx) const {
    if (type != NUM) fail("%s: expected a number, found %s", ctx.c_str(), type_name(type));
    return num;
}

int64_t Json::as_int(const std::string& ctx) const {
    double v = as_num(ctx);
    if (rep == INT) return ival;
    if (rep == UINT)
        fail("%s: expected an integer in the int64 range, found %llu", ctx.c_str(), (unsigned long long)uval);
    if (v != std::floor(v) || std::fabs(v) > 9.007199254740992e15) fail("%s: expected an integer, found %g", ctx.c_str(), v);
    return (int64_t)v;
}

uint64_t Json::as_u64(const std::string& ctx) const {
    if (type == STR) {  // "18446744073709551557": how seeds were stored before integers were kept exactly
        uint64_t v = 0;
        auto r = std::from_chars(str.data(), str.data() + str.size(), v);
        if (str.empty() || r.ptr != str.data() + str.size() || !std::isdigit((unsigned char)str[0]))
            fail("%s: expected a non-negative integer, found the string \"%.40s\"", ctx.c_str(), str.c_str());
        if (r.ec == std::errc::result_out_of_range) fail("%s: %.40s does not fit 64 bits", ctx.c_str(), str.c_str());
        return v;
    }
    if (type != NUM) fail("%s: expected a non-negative integer, found %s", ctx.c_str(), type_name(type));
    if (rep == UINT) return uval;
    if (rep == INT) {
        if (ival < 0) fail("%s: expected a non-negative integer, found %lld", ctx.c_str(), (long long)ival);
        return (uint64_t)ival;
    }
    if (num != std::floor(num) || num < 0 || num > 9.007199254740992e15)
        fail("%s: expected a non-negative integer (a written fraction or exponent must stay below 2^53), found %g",
             ctx.c_str(), num);
    return (uint64_t)num;
}

bool Json::as_bool(const std::string& ctx) const {
    if (type != BOOL) fail("%s: expected true or false, found %s", ctx.c_str(), type_name(type));
    return b;
}

const std::string& Json::as_str(const std::string& ctx) const {
    if (type != STR) fail("%s: expected a string, found %s", ctx.c_str(), type_name(type));
    return str;
}

const Json& Json::at(const std::string& key, const std::string& ctx) const {
    if (type != OBJ) fail("%s: expected an object, found %s", ctx.c_str(), type_name(type));
    const Json* j = find(key);
    if (!j) fail("%s: missing field '%s'", ctx.c_str(), key.c_str());
    return *j;
}

double Json::get_num(const std::string& key, double def) const {
    const Json* j = find(key);
    return j && j->type == NUM ? j->num : def;
}
int64_t Json::get_int(const std::string& key, int64_t def) const {
    const Json* j = find(key);
    if (!j || j->type != NUM || j->rep == UINT) return def;
    if (j->rep == INT) return j->ival;
    return std::isfinite(j->num) && std::fabs(j->num) < 9.2e18 ? (int64_t)j->num : def;
}
uint64_t Json::get_u64(const std::string& key, uint64_t def) const {
    const Json* j = find(key);
    if (!j) return def;
    try {
        return j->as_u64(key);
    } catch (const Error&) {
        return def;
    }
}
bool Json::get_bool(const std::string& key, bool def) const {
    const Json* j = find(key);
    return j && j->type == BOOL ? j->b : def;
}
std::string Json::get_str(const std::string& key, const std::string& def) const {
    const Json* j = find(key);
    return j && j->type == STR ? j->str : def;
}

// ---------------------------------------------------------------- writer

static void dump_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += (char)c;
                }
        }
    }
    out += '"';
}

static void dump_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%lld", (long long)v);
        out += buf;
        return;
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

static bool is_scalar_array(const Json& j) {
    for (const auto& e : j.arr)
        if (e.type == Json::ARR || e.type == Json::OBJ) return false;
    return true;
}

static void dump_rec(std::string& out, const Json& j, int indent, int depth) {
    auto nl = [&](int d) {
        if (indent < 0) return;
        out += '\n';
        out.append((size_t)(indent * d), ' ');
    };
    switch (j.type) {
        case Json::NUL: out += "null"; break;
        case Json::BOOL: out += j.b ? "true" : "false"; break;
        case Json::NUM:
            if (j.rep == Json::INT) {
                out += std::to_string(j.ival);
            } else if (j.rep == Json::UINT) {
                out += std::to_string(j.uval);
            } else {
                dump_number(out, j.num);
            }
            break;
        case Json::STR: dump_string(out, j.str); break;
        case Json::ARR: {
            if (j.arr.empty()) {
                out += "[]";
                break;
            }
            bool flat = indent < 0 || is_scalar_array(j);  // arrays of numbers stay on one line
            out += '[';
            for (size_t i = 0; i < j.arr.size(); i++) {
                if (i) out += flat && indent >= 0 ? ", " : ",";
                if (!flat) nl(depth + 1);
                dump_rec(out, j.arr[i], indent, depth + 1);
            }
            if (!flat) nl(depth);
            out += ']';
            break;
        }
        case Json::OBJ: {
            if (j.obj.empty()) {
                out += "{}";
                break;
            }
            out += '{';
            for (size_t i = 0; i < j.obj.size(); i++) {
                if (i) out += ',';
                nl(depth + 1);
                dump_string(out, j.obj[i].first);
                out += indent < 0 ? ":" : ": ";
                dump_rec(out, j.obj[i].second, indent, depth + 1);
            }
            nl(depth);
            out += '}';
            break;
        }
    }
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_rec(out, *this, indent, 0);
    return out;
}

// ---------------------------------------------------------------- parser

namespace {

struct Parser {
    const std::string& s;
    const std::string& src;
    size_t i = 0;

    [[noreturn]] void error(const char* what) {
        size_t line = 1, col = 1;
        for (size_t k = 0; k < i && k < s.size(); k++) {
            if (s[k] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        fail("%s: line %zu col %zu: %s", src.c_str(), line, col, what);
    }

    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    }

    bool lit(const char* w) {
        size_t n = std::strlen(w);
        if (s.compare(i, n, w) == 0) {
            i += n;
            return true;
        }
        return false;
    }

    uint32_t hex4() {
        if (i + 4 > s.size()) error("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
            else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
            else error("bad hex digit in \\u escape");
        }
        return v;
    }

    std::string string() {
        if (i >= s.size() || s[i] != '"') error("expected '\"'");
        i++;
        std::string out;
        while (true) {
            if (i >= s.size()) error("unterminated string");
            unsigned char c = (unsigned char)s[i];
            if (c == '"') {
                i++;
                return out;
            }
            if (c < 0x20) error("control character in string");
            if (c == '\\') {
                i++;
                if (i >= s.size()) error("unterminated escape");
                char e = s[i++];
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        uint32_t cp = hex4();
                        if (cp >= 0xD800 && cp < 0xDC00) {
                            if (!(i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u')) error("unpaired surrogate");
                            i += 2;
                            uint32_t lo = hex4();
                            if (lo < 0xDC00 || lo > 0xDFFF) error("bad low surrogate");
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else if (cp >= 0xDC00 && cp < 0xE000) {
                            error("unpaired surrogate");
                        }
                        utf8_append(out, cp);
                        break;
                    }
                    default: error("bad escape in string");
                }
            } else {
                out += (char)c;
                i++;
            }
        }
    }

    Json number() {
        size_t st = i;
        if (i < s.size() && s[i] == '-') i++;
        if (i >= s.size() || !std::isdigit((unsigned char)s[i])) error("expected a value");
        if (s[i] == '0') {
            i++;
        } else {
            while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
        }
        const bool integral = i >= s.size() || (s[i] != '.' && s[i] != 'e' && s[i] != 'E');
        if (integral && !(s[st] == '-' && i == st + 2 && s[st + 1] == '0')) {  // "-0" stays a double
            // an integer literal: kept exactly when it fits int64 (or uint64 if positive), else a double
            Json j;
            j.type = Json::NUM;
            int64_t iv = 0;
            uint64_t uv = 0;
            if (std::from_chars(s.data() + st, s.data() + i, iv).ec == std::errc()) {
                j.rep = Json::INT;
                j.ival = iv;
                j.num = (double)iv;
                return j;
            }
            if (s[st] != '-' && std::from_chars(s.data() + st, s.data() + i, uv).ec == std::errc()) {
                j.rep = Json::UINT;
                j.uval = uv;
                j.num = (double)uv;
                return j;
            }
        }
        if (i < s.size() && s[i] == '.') {
            i++;
            if (i >= s.size() || !std::isdigit((unsigned char)s[i])) error("expected digits after '.'");
            while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
            if (i >= s.size() || !std::isdigit((unsigned char)s[i])) error("expected exponent digits");
            while (i < s.size() && std::isdigit((unsigned char)s[i])) i++;
        }
        double v = 0;
        auto r = std::from_chars(s.data() + st, s.data() + i, v);
        if (r.ec == std::errc::result_out_of_range) error("number out of range");
        if (r.ec != std::errc()) error("bad number");
        return Json(v);
    }

    Json value(int depth) {
        if (depth > 256) error("nesting too deep");
        ws();
        if (i >= s.size()) error("unexpected end of input");
        char c = s[i];
        if (c == '{') {
            i++;
            Json j = Json::object();
            std::unordered_set<std::string> seen;  // duplicate-key check in O(1) per key
            ws();
            if (i < s.size() && s[i] == '}') {
                i++;
                return j;
            }
            while (true) {
                ws();
                std::string k = string();
                ws();
                if (i >= s.size() || s[i] != ':') error("expected ':'");
                i++;
                Json v = value(depth + 1);
                if (!seen.insert(k).second) error(("duplicate key '" + k + "'").c_str());
                j.obj.emplace_back(std::move(k), std::move(v));
                ws();
                if (i < s.size() && s[i] == ',') {
                    i++;
                    continue;
                }
                if (i < s.size() && s[i] == '}') {
                    i++;
                    return j;
                }
                error("expected ',' or '}'");
            }
        }
        if (c == '[') {
            i++;
            Json j = Json::array();
            ws();
            if (i < s.size() && s[i] == ']') {
                i++;
                return j;
            }
            while (true) {
                j.arr.push_back(value(depth + 1));
                ws();
                if (i < s.size() && s[i] == ',') {
                    i++;
                    continue;
                }
                if (i < s.size() && s[i] == ']') {
                    i++;
                    return j;
                }
                error("expected ',' or ']'");
            }
        }
        if (c == '"') return Json(string());
        if (lit("true")) return Json(true);
        if (lit("false")) return Json(false);
        if (lit("null")) return Json();
        return number();
    }
};

}  // namespace

Json json_parse(const std::string& text, const std::string& source_name) {
    Parser p{text, source_name};
    Json j = p.value(0);
    p.ws();
    if (p.i != text.size()) p.error("unexpected text after the JSON value");
    return j;
}

Json json_load(const std::string& path) { return json_parse(read_file(path), path); }

void json_save(const std::string& path, const Json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

}  // namespace unfold
